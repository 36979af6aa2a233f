//! `parkwatch record` and `parkwatch history` on the real Asterisk sandbox: the
//! recorder killed (-9) in the middle of a script loses no finished episode (each
//! has its row, closed), the next recorder adopts the call still parked, and the
//! report (`--json`) counts what happened.
//!
//! Run under the sandbox lock: `flock -o /var/tmp/ami-sandbox-tests.lock cargo test
//! -p parkwatch --test history`.

use ami_parking::{Action, ParkingClient, ParkingEvent, Request, Target};
use ami_parking_history::{Db, Outcome};
use ami_parking_tests::live::*;
use ami_parking_tests::process::AppProcess;
use ami_parking_tests::sandbox::PORT_A;
use std::time::Duration;

const URL: &str = "tcp://amiuser:amisecret@127.0.0.1:5038";
const BIN: &str = env!("CARGO_BIN_EXE_parkwatch");

async fn recorder(db: &str) -> AppProcess {
    let mut app = AppProcess::spawn(BIN, &["--url", URL, "--json", "record", "--db", db]);
    app.line("the recording line", Duration::from_secs(20), |l| l.contains(r#""type":"recording""#)).await;
    app
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_recorder_mid_script_loses_no_finished_episode() {
    let Some((_g, c)) = on_clean_pbx().await else { return };
    let dir = std::env::temp_dir().join(format!("parkwatch-history-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = format!("sqlite:{}", dir.join("h.db").display());
    let mut events = c.events();

    let mut app = recorder(&db).await;
    // A retrieve and a hang-up, then the recorder is killed the moment the test's
    // own client has seen them end; one call stays parked across the kill.
    park_dialplan(&c, "5552001", "default").await;
    let s1 = next_event(&mut events, "parked", |e| parked_event_for(e, "5552001")).await.call().parking_space;
    park_dialplan(&c, "5552002", "default").await;
    let two = next_event(&mut events, "parked", |e| parked_event_for(e, "5552002")).await.call().clone();
    park_dialplan(&c, "5552003", "default").await;
    let three = next_event(&mut events, "parked", |e| parked_event_for(e, "5552003")).await.call().clone();
    c.retrieve_call(Some("default"), s1, "Local/s@hold").await.expect("retrieve");
    next_event(&mut events, "retrieved", |e| e.kind() == "retrieved").await;
    let hang = Action::new("Hangup").header("Channel", two.channel());
    c.request(Request::Action(hang), Target::All).await.unwrap();
    next_event(&mut events, "giveup", |e| e.kind() == "giveup").await;
    app.signal("KILL");
    app.exit_within(Duration::from_secs(5)).await;

    // The next recorder: adopts 5552003, which then hangs up while it watches.
    let mut app = recorder(&db).await;
    let hang = Action::new("Hangup").header("Channel", three.channel());
    c.request(Request::Action(hang), Target::All).await.unwrap();
    next_event(
        &mut events,
        "giveup",
        |e| matches!(e, ParkingEvent::GaveUp { call } if call.caller_id_num() == "5552003"),
    )
    .await;
    // Written by the recorder: wait for the row with a deadline.
    let history = Db::open(&db).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let rows = loop {
        let rows = history.all_episodes().await.unwrap();
        if rows.iter().any(|e| e.caller_num == "5552003" && e.outcome == Outcome::HungUp) {
            break rows;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the second recorder did not record the hang-up: {rows:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    app.signal("TERM");
    app.exit_within(Duration::from_secs(5)).await;
    let got: Vec<_> = rows.iter().map(|e| (e.caller_num.as_str(), e.outcome)).collect();
    println!("after the kill: {got:?}");
    // Every finished episode has its row, closed: with what happened, or (when the kill
    // came between the event and its write) as ended while not watching. None is lost
    // and none is left open.
    let outcome = |caller: &str| -> Vec<Outcome> {
        rows.iter().filter(|e| e.caller_num == caller).map(|e| e.outcome).collect()
    };
    assert!(matches!(outcome("5552001")[..], [Outcome::Retrieved] | [Outcome::Unwatched]), "{got:?}");
    assert!(matches!(outcome("5552002")[..], [Outcome::HungUp] | [Outcome::Unwatched]), "{got:?}");
    assert_eq!(outcome("5552003"), [Outcome::HungUp], "the call parked across the kill is one row: {got:?}");
    assert_eq!(rows.len(), 3, "{got:?}");

    // The report, as JSON, from the same database.
    let out = std::process::Command::new(BIN).args(["--json", "history", "--db", &db]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(v["type"], "history_report");
    let rows = v["rows"].as_array().unwrap();
    let parked: i64 = rows.iter().map(|r| r["parked"].as_i64().unwrap()).sum();
    let hangups: i64 = rows.iter().map(|r| r["hangups"].as_i64().unwrap()).sum();
    assert_eq!(parked, 3, "{v}");
    assert!(hangups >= 1, "{v}");
    // The search by caller number.
    let out = std::process::Command::new(BIN)
        .args(["--json", "history", "--db", &db, "--caller", "2003"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(v["episodes"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["episodes"][0]["outcome"], "hangup");
    c.shutdown().await;
    clean(PORT_A).await;
    std::fs::remove_dir_all(&dir).ok();
}
