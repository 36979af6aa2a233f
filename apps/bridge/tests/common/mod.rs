//! A bridge started in the test process (or its binary, `binary`), a test AMI server
//! (`ami_parking_tests::ami_server`), and raw WebSocket clients of it.
#![allow(dead_code)]

pub mod binary;

pub use ami_parking_tests::measure::poll;
use ami_ws_bridge::{serve, start_upstreams, Config, Hub, Tokens};
use async_tungstenite::tokio::ConnectStream;
use async_tungstenite::tungstenite::Message as WsMessage;
use async_tungstenite::WebSocketStream;
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::Duration;

pub const TOKEN: &str = "t0k3n-for-the-tests";

/// A running bridge: its hub and its `ws://` address.
pub struct Bridge {
    pub hub: Arc<Hub>,
    pub addr: String,
}

/// Starts a bridge in front of `upstreams` with `TOKEN`, changed by `tune`, and waits
/// until every upstream is logged in.
pub async fn bridge(upstreams: Vec<String>, tune: impl FnOnce(&mut Config)) -> Bridge {
    let mut cfg =
        Config::new(upstreams.iter().map(|u| u.parse().unwrap()).collect(), Tokens::new([TOKEN.to_string()]));
    tune(&mut cfg);
    let hub = start_upstreams(&cfg).expect("the upstreams are one client");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = format!("ws://{}", listener.local_addr().unwrap());
    let n = cfg.upstreams.len() as u32;
    tokio::spawn(serve(listener, hub.clone(), cfg));
    let h = hub.clone();
    poll("the upstreams to log in", Duration::from_secs(10), || {
        let h = h.clone();
        async move { (1..=n).all(|s| h.is_logged_in(s)).then_some(()) }
    })
    .await;
    Bridge { hub, addr }
}

pub type Ws = WebSocketStream<ConnectStream>;

/// A raw WebSocket client with the token in the query.
pub async fn ws(addr: &str) -> Ws {
    ws_with(addr, TOKEN).await
}

/// A raw WebSocket client with `token` in the query.
pub async fn ws_with(addr: &str, token: &str) -> Ws {
    async_tungstenite::tokio::connect_async(format!("{addr}/?token={token}")).await.expect("upgrade").0
}

/// Sends one text frame.
pub async fn send(ws: &mut Ws, text: &str) {
    ws.send(WsMessage::text(text)).await.expect("the bridge takes the frame");
}

/// Sends `frame` and returns the frame that answers `action_id` (the last one).
pub async fn ask(ws: &mut Ws, frame: &str, action_id: &str) -> serde_json::Value {
    send(ws, frame).await;
    until_reply(ws, action_id).await.pop().unwrap()
}

/// The next text frame as it was written (within 10 s).
pub async fn next_text(ws: &mut Ws) -> String {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match ws.next().await {
                Some(Ok(WsMessage::Text(t))) => return t.to_string(),
                Some(Ok(_)) => continue,
                other => panic!("the bridge closed: {other:?}"),
            }
        }
    })
    .await
    .expect("a frame within 10 s")
}

/// The next text frame as JSON (within 10 s).
pub async fn next_json(ws: &mut Ws) -> serde_json::Value {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match ws.next().await {
                Some(Ok(WsMessage::Text(t))) => return serde_json::from_str(&t).expect("valid JSON"),
                Some(Ok(_)) => continue,
                other => panic!("the bridge closed: {other:?}"),
            }
        }
    })
    .await
    .expect("a frame within 10 s")
}

/// Frames until the one answering `action_id` (that one included).
pub async fn until_reply(ws: &mut Ws, action_id: &str) -> Vec<serde_json::Value> {
    let mut seen = Vec::new();
    loop {
        let v = next_json(ws).await;
        let done = v["data"]["ActionID"] == action_id && v["type"] == 4;
        seen.push(v);
        if done {
            return seen;
        }
    }
}
