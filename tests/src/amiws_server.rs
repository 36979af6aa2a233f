//! WebSocket servers that stand in for amiws in tests, speaking only what the real
//! amiws 2.2 captures in `testdata/amiws-2.2` show.

use crate::capture::AmiwsLine;
use async_tungstenite::tungstenite::Message as WsMessage;
use futures_util::StreamExt;
use std::collections::HashMap;
use tokio::net::TcpListener;

/// Plays `capture` to the first client: frames in order; at each line the recording
/// client sent, waits for the client's next frame and maps the ActionIDs.
pub async fn serve_capture(listener: TcpListener, capture: Vec<AmiwsLine>, garbage_first: bool) {
    let (sock, _) = listener.accept().await.unwrap();
    let ws = async_tungstenite::tokio::accept_async(sock).await.unwrap();
    let (mut tx, mut rx) = ws.split();
    if garbage_first {
        tx.send(WsMessage::text("{\"type\": 3, \"data\": {\"Event\": ")).await.unwrap();
    }
    let mut map: Vec<(String, String)> = Vec::new();
    for line in capture {
        match line {
            AmiwsLine::Sent(action, _) => {
                let theirs = action.get_str("ActionID").unwrap().into_owned();
                let frame = loop {
                    match rx.next().await {
                        Some(Ok(WsMessage::Text(t))) => break t.to_string(),
                        Some(Ok(_)) => continue,
                        _ => return,
                    }
                };
                let v: serde_json::Value = serde_json::from_str(&frame).unwrap();
                assert_eq!(
                    v["Action"],
                    action.get_str("Action").unwrap().as_ref(),
                    "actions in capture order"
                );
                map.push((theirs, v["ActionID"].as_str().unwrap().to_owned()));
            }
            AmiwsLine::Frame(f) => {
                let mut text = String::from_utf8(f).unwrap();
                for (theirs, ours) in &map {
                    text = text.replace(
                        &format!("\"ActionID\": \"{theirs}\""),
                        &format!("\"ActionID\": \"{ours}\""),
                    );
                }
                if tx.send(WsMessage::text(text)).await.is_err() {
                    return;
                }
            }
        }
    }
    // Keep the link open until the client leaves.
    while let Some(Ok(_)) = rx.next().await {}
}

/// The frames that answer each action of `capture` (the first action of each name),
/// with the capture's ActionID to replace by the client's.
pub fn capture_answers(capture: &[AmiwsLine]) -> HashMap<String, (String, Vec<String>)> {
    let mut answers: HashMap<String, (String, Vec<String>)> = HashMap::new();
    let mut current: Option<(String, String)> = None;
    for line in capture {
        match line {
            AmiwsLine::Sent(action, _) => {
                let name = action.get_str("Action").unwrap().into_owned();
                let id = action.get_str("ActionID").unwrap().into_owned();
                current = (!answers.contains_key(&name)).then(|| (name.clone(), id.clone()));
                if let Some((name, id)) = &current {
                    answers.insert(name.clone(), (id.clone(), Vec::new()));
                }
            }
            AmiwsLine::Frame(f) => {
                let text = String::from_utf8_lossy(f).into_owned();
                if let Some((name, id)) = &current {
                    if text.contains(&format!("\"ActionID\": \"{id}\"")) {
                        answers.get_mut(name).unwrap().1.push(text);
                    }
                }
            }
        }
    }
    answers
}

/// An amiws stand-in that answers every action by its name with the capture's answer
/// to the first action of that name (ActionIDs mapped to the client's). The first
/// connection is closed (code 1001, as amiws going away) right after it answered a
/// `Park`; later connections stay open. Returns when `connections` links have ended.
pub async fn serve_answers(listener: TcpListener, capture: Vec<AmiwsLine>, connections: usize) {
    let answers = capture_answers(&capture);
    for n in 0..connections {
        let Ok((sock, _)) = listener.accept().await else { return };
        let Ok(ws) = async_tungstenite::tokio::accept_async(sock).await else { continue };
        let (mut tx, mut rx) = ws.split();
        while let Some(Ok(msg)) = rx.next().await {
            let WsMessage::Text(t) = msg else { continue };
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&t) else { continue };
            let (Some(action), Some(ours)) = (v["Action"].as_str(), v["ActionID"].as_str()) else { continue };
            if let Some((theirs, frames)) = answers.get(action) {
                for f in frames {
                    let f = f.replace(
                        &format!("\"ActionID\": \"{theirs}\""),
                        &format!("\"ActionID\": \"{ours}\""),
                    );
                    if tx.send(WsMessage::text(f)).await.is_err() {
                        break;
                    }
                }
            }
            if action == "Park" && n == 0 {
                let close = async_tungstenite::tungstenite::protocol::CloseFrame {
                    code: async_tungstenite::tungstenite::protocol::frame::coding::CloseCode::Away,
                    reason: "amiws restarting".into(),
                };
                let _ = tx.send(WsMessage::Close(Some(close))).await;
                break;
            }
        }
    }
}
