//! The WebSocket (amiws) transport against a WebSocket server in the test that
//! plays the real amiws captures: the client's actions are answered with the
//! capture's frames (its ActionIDs mapped to the client's own).

use ami_parking::ParkingClient;
use ami_parking::{ParkingOptions, ParkingStore, Request, Target};
use ami_parking_tests::amiws_server::serve_capture;
use ami_parking_tests::{load_amiws, request_for, AmiwsLine};
use ami_parking_transport::{Client, ClientOptions};
use async_tungstenite::tungstenite::Message as WsMessage;
use futures_util::StreamExt;
use std::time::Duration;
use tokio::net::TcpListener;

#[tokio::test]
async fn amiws_two_server_capture_over_a_real_websocket() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let capture = load_amiws("two-servers-lists-park-retrieve-timeout");
    let server = tokio::spawn(serve_capture(listener, capture.clone(), true));
    let o = ClientOptions::new(format!("ws://{addr}/").parse().unwrap());
    let client =
        Client::connect_with_store(o, ParkingStore::new(ParkingOptions::default().auto_refresh(false)));
    client.wait_logged_in(Duration::from_secs(5)).await.unwrap();
    let mut outcomes = Vec::new();
    for line in &capture {
        if let AmiwsLine::Sent(action, server_id) = line {
            let target = server_id.map(Target::Server).unwrap_or(Target::All);
            let r = tokio::time::timeout(Duration::from_secs(5), client.request(request_for(action), target))
                .await;
            outcomes.push((
                action.get_str("ActionID").unwrap().into_owned(),
                r.expect("answered in time").is_ok(),
            ));
        }
    }
    let failed: Vec<&str> = outcomes.iter().filter(|(_, ok)| !ok).map(|(a, _)| a.as_str()).collect();
    assert_eq!(failed, vec!["calls-3", "park-bad"], "exactly the two actions Asterisk refused");
    let calls: Vec<(u32, String, u32, String)> = client
        .store()
        .parked_calls_now()
        .iter()
        .map(|c| (c.server_id, c.parking_lot.to_string(), c.parking_space, c.caller_id_num().to_string()))
        .collect();
    assert_eq!(
        calls,
        vec![(1, "default".into(), 702, "5551001".into()), (2, "default".into(), 701, "6661002".into())]
    );
    assert_eq!(client.store().parking_lots_now().len(), 4);
    client.shutdown().await;
    server.abort();
}

#[tokio::test]
async fn amiws_restart_capture_over_a_real_websocket_resyncs_the_restarted_server() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let capture = load_amiws("park-action-giveup-utf8-restart");
    let server = tokio::spawn(serve_capture(listener, capture.clone(), false));
    let o = ClientOptions::new(format!("ws://{addr}").parse().unwrap());
    let client =
        Client::connect_with_store(o, ParkingStore::new(ParkingOptions::default().auto_refresh(false)));
    client.wait_logged_in(Duration::from_secs(5)).await.unwrap();
    let mut events = client.events();
    let mut answers = Vec::new();
    for line in &capture {
        if let AmiwsLine::Sent(action, server_id) = line {
            let target = server_id.map(Target::Server).unwrap_or(Target::All);
            let r = tokio::time::timeout(Duration::from_secs(5), client.request(request_for(action), target))
                .await
                .expect("answered");
            answers.push((action.get_str("ActionID").unwrap().into_owned(), reply_kind(&r)));
        }
    }
    let answers: Vec<(&str, &str)> = answers.iter().map(|(a, k)| (a.as_str(), k.as_str())).collect();
    assert_eq!(
        answers,
        [
            ("o-b1", "Response"),
            ("park-1", "Parked"),
            ("hup-1", "Response"),
            ("o-u1", "Response"),
            ("calls-after", "Calls")
        ],
        "each action answered as the capture's client was"
    );
    // The capture's six parking events, each waited for with a deadline (the store's
    // own near-timeout alerts follow the wall clock, not the capture).
    let mut kinds = Vec::new();
    while kinds.len() < 6 {
        let e = tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .unwrap_or_else(|_| panic!("only {kinds:?} came"))
            .expect("stream open");
        if e.kind() != "near_timeout" {
            kinds.push((e.call().server_id, e.kind()));
        }
    }
    // And nothing more had arrived.
    while let Some(Some(e)) = futures_util::FutureExt::now_or_never(events.next()) {
        if e.kind() != "near_timeout" {
            kinds.push((e.call().server_id, e.kind()));
        }
    }
    assert_eq!(
        kinds,
        vec![(1, "parked"), (1, "giveup"), (2, "parked"), (2, "giveup"), (2, "giveup"), (1, "timeout")]
    );
    assert!(client.store().parked_calls_now().is_empty());
    let _ = Request::ParkingLots;
    client.shutdown().await;
    server.abort();
}

/// amiws copies non-UTF-8 caller names raw into text frames (`ami-parking-wire.md`,
/// amiws: "non-UTF-8 bytes are copied raw (invalid UTF-8 inside a text frame)", seen
/// on the real amiws 2.2; the frame here is shaped like the captured ones). A strict WebSocket
/// library fails the connection on such a frame (and again on every resync, whose
/// list carries the same bytes). The client takes the frame as bytes: the call is
/// parked in the store with its name decoded lossily, and the link stays up.
#[tokio::test]
async fn a_text_frame_with_invalid_utf8_is_read_and_the_link_stays_up() {
    use tokio::io::AsyncWriteExt;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (sock, _) = listener.accept().await.unwrap();
        let mut ws = async_tungstenite::tokio::accept_async(sock).await.unwrap();
        // A raw text frame (FIN, opcode 1, unmasked) whose payload is not UTF-8.
        let mut payload = br#"{"type": 3, "server_id": 1, "server_name": "pbx-a", "ssl": false, "data": {"Event": "ParkedCall","Privilege": "call,all","ParkeeChannel": "PJSIP/1-1","ParkeeCallerIDName": "Zo"#.to_vec();
        payload.push(0xeb);
        payload.extend_from_slice(br#"","ParkeeUniqueid": "1.1","Parkinglot": "default","ParkingSpace": "701","ParkingTimeout": "45","ParkingDuration": "0"}}"#);
        let mut frame = vec![0x81, 126, (payload.len() >> 8) as u8, payload.len() as u8];
        frame.extend_from_slice(&payload);
        ws.get_mut().get_mut().write_all(&frame).await.unwrap();
        // Then a good frame on the same connection.
        let good = r#"{ "type": 3, "server_id": 1, "server_name": "pbx-a", "ssl": false, "data": {"Event": "ParkedCall","Privilege": "call,all","ParkeeChannel": "PJSIP/2-1","ParkeeCallerIDName": "Ok","ParkeeUniqueid": "2.2","Parkinglot": "default","ParkingSpace": "702","ParkingTimeout": "45","ParkingDuration": "0"}}"#;
        ws.send(WsMessage::text(good)).await.unwrap();
        while let Some(Ok(_)) = ws.next().await {}
    });
    let o = ClientOptions::new(format!("ws://{addr}").parse().unwrap());
    let client =
        Client::connect_with_store(o, ParkingStore::new(ParkingOptions::default().auto_refresh(false)));
    let mut events = client.events();
    client.wait_logged_in(Duration::from_secs(5)).await.unwrap();
    let mut spaces = Vec::new();
    while spaces.len() < 2 {
        let e =
            tokio::time::timeout(Duration::from_secs(5), events.next()).await.expect("both frames").unwrap();
        spaces.push(e.call().parking_space);
    }
    assert_eq!(spaces, vec![701, 702]);
    let zoe = client.store().parked_call_on_now(1, "default", 701).unwrap();
    assert_eq!(zoe.caller_id_name(), "Zo\u{fffd}");
    assert_eq!(client.connection_state_now(), ami_parking::ConnectionState::LoggedIn, "still connected");
    client.shutdown().await;
    server.abort();
}

/// A WebSocket that stays open but stops answering is found dead by the keep-alive
/// ping, and the client reconnects.
#[tokio::test]
async fn a_silent_amiws_is_detected_by_the_keep_alive_ping() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (sock, _) = listener.accept().await.unwrap();
        let ws = async_tungstenite::tokio::accept_async(sock).await.unwrap();
        // Hold the link open without ever reading (so no pong), until the test ends.
        std::future::pending::<()>().await;
        drop(ws);
    });
    let mut o = ClientOptions::new(format!("ws://{addr}").parse().unwrap());
    o.keepalive = Duration::from_millis(200);
    o.request_timeout = Duration::from_millis(300);
    let client =
        Client::connect_with_store(o, ParkingStore::new(ParkingOptions::default().auto_refresh(false)));
    client.wait_logged_in(Duration::from_secs(5)).await.unwrap();
    let mut states = ami_parking::futures_signals::signal::SignalExt::to_stream(client.connection_state());
    let reason = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(s) = states.next().await {
            if let ami_parking::ConnectionState::Reconnecting { last_error, .. } = s {
                return last_error;
            }
        }
        String::new()
    })
    .await
    .expect("the dead link is noticed");
    assert!(reason.contains("stopped answering"), "{reason}");
    client.shutdown().await;
    server.abort();
}

/// A reply's kind (its variant), or the error's.
fn reply_kind(r: &Result<ami_parking::Reply, ami_parking::ParkingError>) -> String {
    let text = match r {
        Ok(reply) => format!("{reply:?}"),
        Err(e) => format!("Err({e:?})"),
    };
    text.split(['(', ' ', '{']).next().unwrap_or_default().to_owned()
}
