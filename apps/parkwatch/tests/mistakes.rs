//! `parkwatch` when something is wrong on the user's side: a PBX that is down, a
//! `--server` the client does not have, a history report's bad day or missing
//! database. No Asterisk needed: the embedded demo PBX, or a port nothing listens on.

use ami_parking_tests::process::Reaped;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_parkwatch");

fn parkwatch(args: &[&str]) -> Output {
    Command::new(BIN).args(args).env_remove("AMI_SECRET").output().expect("run parkwatch")
}

/// A free loopback port nothing listens on (a PBX that is down).
fn down_url() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    format!("tcp://amiuser:x@127.0.0.1:{port}")
}

/// Starts parkwatch with `args`; the lines of its stdout (or stderr) arrive on the
/// receiver.
fn spawn(args: &[&str], stderr: bool) -> (Reaped, mpsc::Receiver<String>) {
    let mut cmd = Command::new(BIN);
    cmd.args(args).stdin(Stdio::null());
    if stderr {
        cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    } else {
        cmd.stdout(Stdio::piped()).stderr(Stdio::null());
    }
    let mut child = Reaped(cmd.spawn().unwrap());
    let out: Box<dyn std::io::Read + Send> =
        if stderr { Box::new(child.stderr.take().unwrap()) } else { Box::new(child.stdout.take().unwrap()) };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// The first line `pred` accepts, within 15 s.
fn line_where(rx: &mpsc::Receiver<String>, what: &str, pred: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx.recv_timeout(left).unwrap_or_else(|_| panic!("no {what} line in time"));
        if pred(&line) {
            return line;
        }
    }
}

#[test]
fn a_json_watcher_of_a_pbx_that_is_down_says_so_before_any_snapshot() {
    let (mut child, rx) = spawn(&["--url", &down_url(), "--json", "watch"], false);
    let first = line_where(&rx, "first", |_| true);
    let v: Value = serde_json::from_str(&first).unwrap_or_else(|e| panic!("not JSON ({e}): {first}"));
    assert_eq!(v["type"], "connection", "the first line tells the connection: {first}");
    let down = line_where(&rx, "reconnecting", |l| l.contains(r#""state":"reconnecting""#));
    let v: Value = serde_json::from_str(&down).unwrap();
    assert_eq!(v["server_id"], 1, "{down}");
    assert!(v["state"]["last_error"].as_str().is_some_and(|e| !e.is_empty()), "{down}");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_person_watching_reads_connection_changes_as_words_not_json() {
    let (mut child, rx) = spawn(&["--url", &down_url(), "watch"], true);
    let line = line_where(&rx, "disconnected", |l| l.contains(" connection server 1 disconnected: "));
    assert!(!line.contains('{') && line.contains("(retry 1)"), "{line}");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_server_the_client_does_not_have_is_an_error_in_every_command() {
    for args in [
        &["--demo", "--server", "5", "lots"][..],
        &["--demo", "--server", "5", "--json", "calls"],
        &["--demo", "--server", "5", "park", "PJSIP/1001-00000001"],
        &["--demo", "--server", "5", "retrieve", "701", "--to", "PJSIP/1002"],
    ] {
        let out = parkwatch(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("there is no server 5: the servers are 1"), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}: no table: {}", String::from_utf8_lossy(&out.stdout));
    }
    // The server it has still answers.
    let out = parkwatch(&["--demo", "--server", "1", "--json", "lots"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_lot_the_pbx_does_not_have_is_named_with_the_lots_it_has() {
    for args in
        [&["--demo", "calls", "--lot", "nosuch"][..], &["--demo", "park", "PJSIP/1001-1", "--lot", "nosuch"]]
    {
        let out = parkwatch(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains("there is no parking lot nosuch on server 1; its lots are: default, vip"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn a_history_report_checks_its_arguments_and_creates_no_database() {
    let dir = std::env::temp_dir().join(format!("parkwatch-mistakes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("h.db");
    let db = format!("sqlite:{}", file.display());
    for (args, says) in [
        (&["history", "--db", &db, "--day", "2026-13-01"][..], "is not a date"),
        (&["history", "--db", &db, "--days", "0"], "out of range"),
        (&["history", "--db", &db], "there is no history database at"),
        (&["history", "--db", &db, "--caller", "555"], "there is no history database at"),
        // Read as the database library reads it: `my%20db.db` is `my db.db`.
        (
            &["history", "--db", &format!("sqlite://{}/my%20db.db", dir.display())],
            "there is no history database at",
        ),
    ] {
        let out = parkwatch(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        let made: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert!(made.is_empty(), "{args:?} made {made:?}");
    }
    // Whether the database is there is SQLite's answer, not a parse of our own
    // (found by the reviews: `sqlite://my%20db.db` is `my db.db`, and a name holding
    // `:memory:` is a file; both made a report create a database).
    std::fs::write(dir.join("my%20db.db"), b"").unwrap();
    for url in
        [format!("sqlite://{}/my%20db.db", dir.display()), format!("sqlite:{}/x:memory:.db", dir.display())]
    {
        let out = parkwatch(&["history", "--db", &url]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{url}: {err}");
        assert!(err.contains("there is no history database at"), "{url}: {err}");
    }
    let made: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(made, ["my%20db.db"], "the report created a database");
    // A SQLite URI file name would open another file than the one the URL shows.
    let out = parkwatch(&["history", "--db", &format!("sqlite:file:{}/h.db", dir.display())]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.code() != Some(0) && err.contains("URI file names"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_demo_rate_the_demo_cannot_make_is_refused() {
    for rate in ["0", "2000000", "many"] {
        let out = parkwatch(&["--demo", "--demo-rate", rate, "lots"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{rate}: {err}");
        assert!(err.contains("--demo-rate"), "{rate}: {err}");
    }
}
