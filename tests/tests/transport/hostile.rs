//! Hostile servers against the tokio client: each must end in a typed reason in the
//! connection state, within a deadline, with the client still answering its handles
//! (shutdown included). No panic, no hang.

use ami_parking::futures_signals::signal::SignalExt;
use ami_parking::ParkingClient;
use ami_parking::{ConnectionState, ParkingError, ParkingOptions, ParkingStore};
use ami_parking_transport::{Client, ClientOptions};
use futures_util::StreamExt;
use std::time::Duration;
use tokio::net::TcpListener;

/// A server that accepts every connection and never says a word (holds the sockets).
async fn silent_server() -> (String, tokio::task::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            held.push(s);
        }
    });
    (addr, task)
}

/// The first `Reconnecting` reason the client reports (within 10 s).
async fn first_failure(c: &Client) -> String {
    let mut states = c.connection_state().to_stream();
    tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(s) = states.next().await {
            if let ConnectionState::Reconnecting { last_error, .. } = s {
                return last_error;
            }
        }
        panic!("the state stream ended");
    })
    .await
    .expect("a failure reported within 10 s")
}

fn client(url: String, connect_timeout: Duration) -> Client {
    let mut o = ClientOptions::new(url.parse().unwrap());
    o.connect_timeout = connect_timeout;
    o.request_timeout = Duration::from_millis(500);
    Client::connect_with_store(o, ParkingStore::new(ParkingOptions::default()))
}

#[tokio::test]
async fn a_tls_handshake_or_websocket_upgrade_that_never_completes_times_out() {
    let (addr, _server) = silent_server().await;
    for url in [format!("tls://amiuser:secret@{addr}"), format!("ws://{addr}/"), format!("wss://{addr}/")] {
        let c = client(url.clone(), Duration::from_millis(300));
        let why = first_failure(&c).await;
        assert!(why.contains("within 300ms") && why.contains("stalled"), "{url}: {why}");
        tokio::time::timeout(Duration::from_secs(2), c.shutdown()).await.expect("shutdown does not hang");
        assert_eq!(c.connection_state_now(), ConnectionState::Stopped);
    }
}

#[tokio::test]
async fn requests_and_shutdown_are_answered_while_the_link_is_opening() {
    let (addr, _server) = silent_server().await;
    let c = client(format!("wss://{addr}/"), Duration::from_secs(60));
    // The handshake stalls for a minute; the handles do not.
    let r =
        tokio::time::timeout(Duration::from_secs(2), c.get_parking_lots()).await.expect("answered at once");
    assert!(matches!(r, Err(ParkingError::NotLoggedIn { .. })), "{r:?}");
    tokio::time::timeout(Duration::from_secs(2), c.shutdown())
        .await
        .expect("shutdown does not wait for the handshake");
}

#[tokio::test]
async fn a_banner_that_never_comes_ends_the_attempt() {
    let (addr, _server) = silent_server().await;
    let c = client(format!("tcp://amiuser:secret@{addr}"), Duration::from_secs(5));
    let why = first_failure(&c).await;
    assert!(why.contains("stopped answering"), "{why}");
    c.shutdown().await;
}

/// Answers the banner and the login, then never reads again.
async fn deaf_after_login() -> (String, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let task = tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        s.write_all(b"Asterisk Call Manager/11.0.0\r\n").await.unwrap();
        let mut buf = vec![0u8; 4096];
        let mut got = Vec::new();
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = s.read(&mut buf).await.unwrap();
            got.extend_from_slice(&buf[..n]);
        }
        let text = String::from_utf8_lossy(&got);
        let aid = text.lines().find_map(|l| l.strip_prefix("ActionID: ")).unwrap().to_owned();
        s.write_all(
            format!("Response: Success\r\nActionID: {aid}\r\nMessage: Authentication accepted\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
        std::future::pending::<()>().await;
        drop(s);
    });
    (addr, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_stops_reading_does_not_freeze_the_client() {
    let (addr, _server) = deaf_after_login().await;
    let mut o = ClientOptions::new(format!("tcp://amiuser:secret@{addr}").parse().unwrap());
    o.request_timeout = Duration::from_millis(500);
    let c = Client::connect_with_store(o, ParkingStore::new(ParkingOptions::default().auto_refresh(false)));
    c.wait_logged_in(Duration::from_secs(5)).await.unwrap();
    // Enough actions to fill the socket's buffers many times over.
    // 16 headers of 1000 bytes: 16 KB an action (Asterisk's line limit is 1024).
    let mut big = ami_parking::Action::new("Ping");
    for i in 0..16 {
        big.push(format!("X-Pad{i}"), "p".repeat(1000));
    }
    let mut pending = Vec::new();
    for _ in 0..1000 {
        let c = c.clone();
        let a = big.clone();
        pending.push(tokio::spawn(async move {
            c.request(ami_parking::Request::Action(a), ami_parking::Target::All).await
        }));
    }
    let why = first_failure(&c).await;
    assert!(why.contains("stopped reading"), "{why}");
    for p in pending {
        let r = tokio::time::timeout(Duration::from_secs(10), p).await.expect("no request hangs").unwrap();
        assert!(r.is_err(), "nothing was answered");
    }
    c.shutdown().await;
}
