//! Graceful shutdown: on SIGTERM the bridge closes each client with 1001 (going
//! away), logs off its Asterisk and exits with success, all within 2 s.

mod common;

use ami_parking_tests::process::AppProcess;
use ami_parking_tests::recorder::RecordingAmi;
use async_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use async_tungstenite::tungstenite::Message as WsMessage;
use common::{next_json, ws, TOKEN};
use futures_util::StreamExt;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(15);
const WITHIN: Duration = Duration::from_secs(2);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_every_client_logs_off_upstream_and_exits_within_2_s() {
    let ami = RecordingAmi::start().await;
    let url = ami.url();
    let args = ["--upstream", &url, "--listen", "127.0.0.1:0", "--token", TOKEN];
    let mut app = AppProcess::spawn(env!("CARGO_BIN_EXE_ami-ws-bridge"), &args);
    let line = app.line("the listening address", DEADLINE, |l| l.contains("listening on ws://")).await;
    let addr = line.split("listening on ").nth(1).and_then(|r| r.split(' ').next()).expect("an address");
    let mut client = ws(addr).await;
    // The upstream's login reaches every client (at once, or when it happens).
    while next_json(&mut client).await["data"]["Message"] != "Authentication accepted" {}

    app.signal("TERM");
    let close = tokio::time::timeout(WITHIN, async {
        loop {
            match client.next().await {
                Some(Ok(WsMessage::Close(f))) => break f,
                Some(Ok(WsMessage::Text(t))) => {
                    assert!(!t.contains("Goodbye"), "the Logoff's answer is the bridge's: {t}")
                }
                Some(Ok(_)) => continue,
                other => panic!("no Close frame: {other:?}"),
            }
        }
    })
    .await
    .expect("a Close frame within 2 s of SIGTERM")
    .expect("a close code");
    // Reading on sends our Close back, as a browser does; then the socket ends.
    let ended = tokio::time::timeout(WITHIN, async { while let Some(Ok(_)) = client.next().await {} }).await;
    assert!(ended.is_ok(), "the socket stays open after the Close");
    assert_eq!(close.code, CloseCode::Away, "{close:?}");
    let (status, took) = app.exit_within(WITHIN).await;
    assert!(status.success(), "{status:?}; it printed {:#?}", app.seen);
    ami.wait_sent("Action: Logoff", Duration::from_secs(1)).await;
    println!("ami-ws-bridge: Close 1001, Logoff, exit 0 {took:?} after SIGTERM");
}
