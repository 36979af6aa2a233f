//! Graceful shutdown: on SIGTERM the board closes each browser's socket with 1001
//! (going away), logs off its Asterisk and exits with success, all within 2 s.

use ami_parking_tests::process::AppProcess;
use ami_parking_tests::recorder::RecordingAmi;
use async_tungstenite::tungstenite::client::IntoClientRequest;
use async_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use async_tungstenite::tungstenite::Message as WsMessage;
use futures_util::StreamExt;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(15);
const WITHIN: Duration = Duration::from_secs(2);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_every_browser_logs_off_and_exits_within_2_s() {
    let ami = RecordingAmi::start().await;
    let url = ami.url();
    // The history in memory: nothing written into the source tree.
    let args = ["--url", &url, "--listen", "127.0.0.1:0", "--history-db", "sqlite::memory:"];
    let mut app = AppProcess::spawn(env!("CARGO_BIN_EXE_parkboard"), &args);
    let line = app.line("the board's address", DEADLINE, |l| l.contains("the board is on http://")).await;
    let addr = line.rsplit("http://").next().expect("an address").to_owned();
    // Logged in: the resync that follows the login has been sent.
    ami.wait_sent("Action: Parkinglots", DEADLINE).await;
    let mut request = format!("ws://{addr}/ws").into_client_request().unwrap();
    // As a browser on the board's page sends it (the board refuses other origins).
    request.headers_mut().insert("Origin", format!("http://{addr}").parse().unwrap());
    let (mut browser, _) =
        async_tungstenite::tokio::connect_async(request).await.expect("the liveview socket");
    // The first render: the page is live.
    let first = tokio::time::timeout(DEADLINE, browser.next()).await.expect("a first render in time");
    assert!(matches!(first, Some(Ok(WsMessage::Binary(_)))), "{first:?}");

    app.signal("TERM");
    let close = tokio::time::timeout(WITHIN, async {
        loop {
            match browser.next().await {
                Some(Ok(WsMessage::Close(f))) => break f,
                Some(Ok(_)) => continue,
                other => panic!("no Close frame: {other:?}"),
            }
        }
    })
    .await
    .expect("a Close frame within 2 s of SIGTERM")
    .expect("a close code");
    // Reading on sends our Close back, as a browser does; then the socket ends.
    let ended = tokio::time::timeout(WITHIN, async { while let Some(Ok(_)) = browser.next().await {} }).await;
    assert!(ended.is_ok(), "the socket stays open after the Close");
    assert_eq!(close.code, CloseCode::Away, "{close:?}");
    let (status, took) = app.exit_within(WITHIN).await;
    assert!(status.success(), "{status:?}; it printed {:#?}", app.seen);
    ami.wait_sent("Action: Logoff", Duration::from_secs(1)).await;
    println!("parkboard: Close 1001, Logoff, exit 0 {took:?} after SIGTERM");
}
