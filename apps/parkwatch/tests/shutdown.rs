//! Graceful shutdown: SIGTERM or ctrl-c (SIGINT) ends `parkwatch watch` with a Logoff
//! to the server and a successful exit within 2 s, even when the server does not
//! answer the Logoff.

use ami_parking_tests::process::AppProcess;
use ami_parking_tests::recorder::RecordingAmi;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(15);
const WITHIN: Duration = Duration::from_secs(2);

/// Watches `ami` until the snapshot is printed, sends `sig`, checks the Logoff and the exit.
async fn watch_stops_on(sig: &str, ami: RecordingAmi) {
    let url = ami.url();
    let mut app = AppProcess::spawn(env!("CARGO_BIN_EXE_parkwatch"), &["--url", &url, "--json", "watch"]);
    // The snapshot comes after the login and the first lists.
    app.line("the snapshot", DEADLINE, |l| l.contains(r#""type":"snapshot""#)).await;
    app.signal(sig);
    let (status, took) = app.exit_within(WITHIN).await;
    assert!(status.success(), "{status:?}; it printed {:#?}", app.seen);
    ami.wait_sent("Action: Logoff", Duration::from_secs(1)).await;
    println!("parkwatch watch: Logoff, exit 0 {took:?} after SIG{sig}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_watch_with_a_logoff_and_success_within_2_s() {
    watch_stops_on("TERM", RecordingAmi::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_ends_watch_the_same_way_even_if_the_server_ignores_the_logoff() {
    watch_stops_on("INT", RecordingAmi::start_ignoring_logoff().await).await;
}
