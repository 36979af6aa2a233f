//! The board killed (-9) in the middle of a script on the real Asterisk sandbox loses
//! no finished episode: each has its row in the history, closed (with what happened,
//! or as ended while not watching when the kill came between an event and its
//! write); the next board adopts the call parked across the kill, records its end,
//! and its History page counts all three.
//!
//! Run under the sandbox lock: `flock -o /var/tmp/ami-sandbox-tests.lock cargo test
//! -p parkboard --test history_kill`.

use ami_parking::{Action, ParkingClient, ParkingEvent, Request, Target};
use ami_parking_history::{Db, Outcome};
use ami_parking_tests::live::*;
use ami_parking_tests::process::AppProcess;
use ami_parking_tests::sandbox::PORT_A;
use std::time::Duration;

const URL: &str = "tcp://amiuser:amisecret@127.0.0.1:5038";

async fn board(db: &str) -> (AppProcess, String) {
    let args = ["--url", URL, "--listen", "127.0.0.1:0", "--history-db", db];
    let mut app = AppProcess::spawn(env!("CARGO_BIN_EXE_parkboard"), &args);
    let line = app
        .line("the board's address", Duration::from_secs(20), |l| l.contains("the board is on http://"))
        .await;
    let addr = line.rsplit("http://").next().expect("an address").trim().to_owned();
    (app, addr)
}

fn get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut all = String::new();
    s.read_to_string(&mut all).unwrap();
    all
}

async fn hang_up(c: &ami_parking_transport::Client, channel: &str) {
    let hang = Action::new("Hangup").header("Channel", channel);
    c.request(Request::Action(hang), Target::All).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_board_mid_script_loses_no_finished_episode() {
    let Some((_g, c)) = on_clean_pbx().await else { return };
    let dir = std::env::temp_dir().join(format!("parkboard-kill-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = format!("sqlite:{}", dir.join("h.db").display());
    let mut events = c.events();

    let (mut app, addr) = board(&db).await;
    // Logged in to Asterisk: /healthz says ok.
    let start = tokio::time::Instant::now();
    while !get(&addr, "/healthz").starts_with("HTTP/1.1 200") {
        assert!(start.elapsed() < Duration::from_secs(10), "the board did not log in");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    park_dialplan(&c, "5554001", "default").await;
    let s1 = next_event(&mut events, "parked", |e| parked_event_for(e, "5554001")).await.call().parking_space;
    park_dialplan(&c, "5554002", "default").await;
    let two = next_event(&mut events, "parked", |e| parked_event_for(e, "5554002")).await.call().clone();
    park_dialplan(&c, "5554003", "default").await;
    let three = next_event(&mut events, "parked", |e| parked_event_for(e, "5554003")).await.call().clone();
    c.retrieve_call(Some("default"), s1, "Local/s@hold").await.expect("retrieve");
    next_event(&mut events, "retrieved", |e| e.kind() == "retrieved").await;
    hang_up(&c, two.channel()).await;
    next_event(&mut events, "giveup", |e| e.kind() == "giveup").await;
    // Killed the moment the test's own client has seen those two end.
    app.signal("KILL");
    app.exit_within(Duration::from_secs(5)).await;

    let (mut app, addr) = board(&db).await;
    // The next board adopts 5554003 once it has its first list.
    if !app.seen.iter().any(|l| l.contains("history: resynced")) {
        app.line("the history's resync", Duration::from_secs(10), |l| l.contains("history: resynced")).await;
    }
    let history = Db::open(&db).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    hang_up(&c, three.channel()).await;
    next_event(
        &mut events,
        "giveup",
        |e| matches!(e, ParkingEvent::GaveUp { call } if call.caller_id_num() == "5554003"),
    )
    .await;
    let rows = loop {
        let rows = history.all_episodes().await.unwrap();
        if rows.iter().any(|e| e.caller_num == "5554003" && e.outcome == Outcome::HungUp) {
            break rows;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the second board did not record the hang-up: {rows:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let got: Vec<_> = rows.iter().map(|e| (e.caller_num.as_str(), e.outcome)).collect();
    println!("after the kill: {got:?}");
    let outcome = |caller: &str| -> Vec<Outcome> {
        rows.iter().filter(|e| e.caller_num == caller).map(|e| e.outcome).collect()
    };
    assert!(matches!(outcome("5554001")[..], [Outcome::Retrieved] | [Outcome::Unwatched]), "{got:?}");
    assert!(matches!(outcome("5554002")[..], [Outcome::HungUp] | [Outcome::Unwatched]), "{got:?}");
    assert_eq!(outcome("5554003"), [Outcome::HungUp], "one row for the call parked across the kill: {got:?}");
    assert_eq!(rows.len(), 3, "{got:?}");
    let page = get(&addr, "/history");
    assert!(page.contains("<b id=\"glance-parked\">3</b>"), "{page}");
    app.signal("TERM");
    app.exit_within(Duration::from_secs(5)).await;
    c.shutdown().await;
    clean(PORT_A).await;
    std::fs::remove_dir_all(&dir).ok();
}

/// `parkboard` with no setup (the demo PBX, no flags but an address) writes its
/// history into `parkboard-history.db` in its working directory, and its History page
/// shows the demo's traffic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_records_its_traffic_with_no_setup() {
    let dir = std::env::temp_dir().join(format!("parkboard-demo-history-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_parkboard"))
        .args(["--listen", &addr, "--demo-rate", "600"])
        .current_dir(&dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("parkboard runs");
    let _child = ami_parking_tests::process::Reaped(child);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let parked = loop {
        let page =
            if std::net::TcpStream::connect(&addr).is_ok() { get(&addr, "/history") } else { String::new() };
        let parked = page
            .split("<b id=\"glance-parked\">")
            .nth(1)
            .and_then(|t| t.split('<').next())
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(0);
        if parked > 0 {
            break parked;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the demo's History page never showed a park: {page}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    println!("the demo's History page counts {parked} parks");
    assert!(
        dir.join("parkboard-history.db").exists(),
        "the default database is a file in the working directory"
    );
    drop(_child);
    std::fs::remove_dir_all(&dir).ok();
}
