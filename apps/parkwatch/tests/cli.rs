//! `parkwatch` end to end: every command against the real Asterisk sandbox, in the
//! exact JSON forms the README documents, and the demo with no Asterisk at all.

use ami_parking_tests::ami_server;
use ami_parking_tests::process::Reaped;
use ami_parking_tests::sandbox::{self, park_dialplan, parked_truth, wait_truth, PORT_A};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

static LOCK: Mutex<()> = Mutex::new(());
const URL: &str = "tcp://amiuser:amisecret@127.0.0.1:5038";

fn parkwatch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_parkwatch")).args(args).output().expect("run parkwatch")
}

fn json_of(out: &Output) -> Value {
    assert!(out.status.success(), "parkwatch failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(text.lines().count(), 1, "one JSON document per line: {text}");
    serde_json::from_str(text.trim()).unwrap()
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

/// Takes the PBX for this test (one at a time), starts it if needed, hangs up every
/// channel. `None`: the sandbox cannot start and skipping is allowed.
fn on_a_clean_pbx() -> Option<std::sync::MutexGuard<'static, ()>> {
    let guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    sandbox::require("a")?;
    clean();
    Some(guard)
}

fn clean() {
    sandbox::cli("a", "channel request hangup all");
    wait_truth(PORT_A, |t| t.is_empty());
}

/// Starts parkwatch with `args`; its stdout lines arrive on the receiver (read on a thread).
fn spawn_parkwatch(args: &[&str]) -> (Reaped, mpsc::Receiver<String>) {
    let mut child = Reaped(
        Command::new(env!("CARGO_BIN_EXE_parkwatch"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let (tx, rx) = mpsc::channel();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// The next line of a watcher that reports a parking change (near-timeout alerts and
/// connection states are passed over): nothing may come between two expected ones.
fn next_change(rx: &mpsc::Receiver<String>, what: &str) -> Value {
    next_json(rx, what, |v| v["type"] != "near_timeout" && v["type"] != "connection")
}

fn next_json(rx: &mpsc::Receiver<String>, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx.recv_timeout(left).unwrap_or_else(|_| panic!("no {what} line in time"));
        let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        if pred(&v) {
            return v;
        }
    }
}

#[test]
fn lots_and_calls_print_the_documented_json() {
    let Some(_g) = on_a_clean_pbx() else { return };
    park_dialplan(PORT_A, "5551101", "default");
    wait_truth(PORT_A, |t| t.len() == 1);
    let lots = json_of(&parkwatch(&["--url", URL, "lots", "--json"]));
    let lots = lots.as_array().unwrap();
    assert_eq!(lots.len(), 3, "default, load, vip");
    assert_eq!(
        keys(&lots[0]),
        ["end_space", "name", "occupied", "server_id", "start_space", "timeout_secs", "total_spaces"]
    );
    assert_eq!(lots[0]["name"], "default");
    assert_eq!(
        (lots[0]["occupied"].as_u64(), lots[0]["total_spaces"].as_u64(), lots[0]["timeout_secs"].as_u64()),
        (Some(1), Some(20), Some(45))
    );
    let calls = json_of(&parkwatch(&["--url", URL, "--json", "calls"]));
    let calls = calls.as_array().unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        keys(&calls[0]),
        [
            "caller_id_name",
            "caller_id_num",
            "channel",
            "connected_line_name",
            "connected_line_num",
            "duration_secs",
            "linked_id",
            "parked_at",
            "parked_by",
            "parker_dial_string",
            "parking_lot",
            "parking_space",
            "remaining_secs",
            "server_id",
            "timeout_secs",
            "unique_id"
        ]
    );
    assert_eq!(calls[0]["caller_id_num"], "5551101");
    assert!(calls[0]["parked_at"].as_str().unwrap().ends_with('Z'), "RFC 3339");
    let truth = parked_truth(PORT_A);
    assert_eq!(calls[0]["unique_id"].as_str().unwrap(), truth[0].2);
    let vip = json_of(&parkwatch(&["--url", URL, "--json", "calls", "--lot", "vip"]));
    assert_eq!(vip.as_array().unwrap().len(), 0);
    // The tables too.
    let table = parkwatch(&["--url", URL, "calls"]);
    assert!(String::from_utf8_lossy(&table.stdout).contains("5551101"));
    clean();
}

#[test]
fn park_and_retrieve_from_the_command_line() {
    let Some(_g) = on_a_clean_pbx() else { return };
    let r = sandbox::send_action(PORT_A, "Action: Originate\nChannel: Local/s@hold\nContext: bridgeme\nExten: s\nPriority: 1\nVariable: CALLERNUM=5553101\nAsync: true\n");
    assert!(r.contains("successfully queued"));
    let start = Instant::now();
    let agent = loop {
        if let Some(c) =
            sandbox::channels("a").into_iter().find(|c| c.starts_with("Local/s@agent-") && c.ends_with(";1"))
        {
            break c;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "no bridged call");
    };
    let parked = json_of(&parkwatch(&["--url", URL, "--json", "park", &agent, "--timeout", "120"]));
    assert_eq!(keys(&parked), ["parking_lot", "parking_space", "server_id"]);
    let space = parked["parking_space"].as_u64().unwrap() as u32;
    let truth = parked_truth(PORT_A);
    assert_eq!(truth.iter().map(|t| (t.0.as_str(), t.1)).collect::<Vec<_>>(), vec![("default", space)]);
    let got = json_of(&parkwatch(&[
        "--url",
        URL,
        "--json",
        "retrieve",
        &space.to_string(),
        "--to",
        "Local/s@hold",
    ]));
    assert_eq!(keys(&got), ["parking_lot", "parking_space", "retriever", "server_id"]);
    assert_eq!(keys(&got["retriever"]), ["caller_id_name", "caller_id_num", "channel"]);
    wait_truth(PORT_A, |t| t.is_empty());
    // Errors: one line on stderr, non-zero exit, Asterisk's own message.
    let out = parkwatch(&["--url", URL, "park", "Local/nonexistent-9;1"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("exists on none") || err.contains("Channel does not exist"), "{err}");
    let out = parkwatch(&["--url", URL, "retrieve", "719", "--to", "Local/s@hold"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing is parked"));
    let out = parkwatch(&["--url", "tcp://amiuser:wrong@127.0.0.1:5038", "lots"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Authentication failed") && !err.contains("wrong"), "{err}");
    clean();
}

#[test]
fn watch_streams_a_snapshot_then_events_and_recovers_from_kill_9() {
    let Some(_g) = on_a_clean_pbx() else { return };
    park_dialplan(PORT_A, "5551201", "default");
    wait_truth(PORT_A, |t| t.len() == 1);
    let (mut child, rx) = spawn_parkwatch(&["--url", URL, "--json", "watch"]);
    let snap = next_json(&rx, "snapshot", |v| v["type"] == "snapshot");
    assert_eq!(snap["calls"].as_array().unwrap().len(), 1);
    assert_eq!(snap["lots"].as_array().unwrap().len(), 3);
    park_dialplan(PORT_A, "5551202", "vip");
    let parked = next_json(&rx, "parked", |v| v["type"] == "parked");
    assert_eq!(parked["call"]["caller_id_num"], "5551202");
    assert_eq!(parked["server_id"], 1);
    let timeout = next_json(&rx, "timeout", |v| v["type"] == "timeout");
    assert_eq!(timeout["call"]["parking_lot"], "vip");
    // kill -9: nothing is sent; after the restart the watcher resyncs.
    sandbox::run("a", &["crash"]).unwrap();
    next_json(&rx, "reconnecting", |v| v["type"] == "connection" && v["state"]["state"] == "reconnecting");
    sandbox::run("a", &["start"]).unwrap();
    let back = Instant::now();
    let gone = next_json(&rx, "resync", |v| v["type"] == "resync");
    assert_eq!(
        (gone["change"].as_str(), gone["call"]["caller_id_num"].as_str()),
        (Some("vanished"), Some("5551201"))
    );
    println!("resync {:?} after the restart", back.elapsed());
    // And a fresh `calls --json` equals Asterisk's truth: a call parked after the
    // restart (the crash left none to compare), and nothing else.
    park_dialplan(PORT_A, "5551203", "default");
    wait_truth(PORT_A, |t| t.len() == 1);
    let calls = json_of(&parkwatch(&["--url", URL, "--json", "calls"]));
    let listed: Vec<(String, u64)> = calls
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (c["caller_id_num"].as_str().unwrap_or("").to_string(), c["parking_space"].as_u64().unwrap_or(0))
        })
        .collect();
    let truth = parked_truth(PORT_A);
    assert_eq!(listed, vec![("5551203".to_string(), u64::from(truth[0].1))], "Asterisk: {truth:?}");
    let _ = child.kill();
    let _ = child.wait();
    clean();
}

#[test]
fn demo_watch_shows_live_traffic_without_asterisk() {
    let (mut child, rx) = spawn_parkwatch(&["--demo", "--demo-rate", "600", "--json", "watch"]);
    let snap = next_json(&rx, "snapshot", |v| v["type"] == "snapshot");
    assert!(!snap["calls"].as_array().unwrap().is_empty(), "the demo keeps calls parked");
    let mut kinds = std::collections::BTreeSet::new();
    while kinds.len() < 2 {
        let v = next_json(&rx, "event", |v| v["type"] != "connection");
        kinds.insert(v["type"].as_str().unwrap().to_owned());
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn several_urls_are_several_servers() {
    let Some(_g) = on_a_clean_pbx() else { return };
    let Some(()) = sandbox::require("b") else { return };
    let url_b = "tcp://amiuser:amisecret@127.0.0.1:5040";
    let lots = json_of(&parkwatch(&["--url", URL, "--url", url_b, "--json", "lots"]));
    let mut got: Vec<(u64, String, u64)> = lots
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["server_id"].as_u64().unwrap(),
                l["name"].as_str().unwrap().to_owned(),
                l["total_spaces"].as_u64().unwrap(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            (1, "default".into(), 20),
            (1, "load".into(), 999),
            (1, "vip".into(), 10),
            (2, "default".into(), 5),
            (2, "sales".into(), 3)
        ]
    );
    let only_b = json_of(&parkwatch(&["--url", URL, "--url", url_b, "--json", "--server", "2", "lots"]));
    assert!(only_b.as_array().unwrap().iter().all(|l| l["server_id"] == 2));
    // Space 701 is empty on both: retrieve refuses, naming why.
    let out = parkwatch(&["--url", URL, "--url", url_b, "retrieve", "701", "--to", "Local/s@hold"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing is parked"));
}

#[test]
fn watch_reports_a_real_swap_as_one_line_and_keeps_the_space() {
    let Some(_g) = on_a_clean_pbx() else { return };
    let (mut child, rx) = spawn_parkwatch(&["--url", URL, "--json", "watch"]);
    next_json(&rx, "snapshot", |v| v["type"] == "snapshot");
    let r = sandbox::send_action(
        PORT_A,
        "Action: Originate\nChannel: Local/s@swap-park\nContext: swap-dial\nExten: s\nPriority: 1\nAsync: true\n",
    );
    assert!(r.contains("Originate successfully queued"), "{r}");
    let parked = next_change(&rx, "parked");
    assert_eq!(parked["type"], "parked", "{parked}");
    let swap = next_change(&rx, "swap");
    assert_eq!(swap["type"], "swap", "one line for the swap, right after the park: {swap}");
    assert_eq!(swap["call"]["parking_space"], parked["call"]["parking_space"], "the same space");
    assert_eq!(swap["previous"]["channel"], parked["call"]["channel"]);
    let tone = swap["call"]["channel"].as_str().unwrap().to_string();
    assert!(tone.starts_with("Local/s@swap-tone-"), "{swap}");
    // Only one call is listed: no phantom of the channel swapped out.
    let calls = json_of(&parkwatch(&["--url", URL, "--json", "calls"]));
    assert_eq!(calls.as_array().unwrap().len(), 1, "{calls}");
    // Nor in the watcher: the next change it reports is the hang-up of the call in the
    // space (a phantom would come first).
    let r = sandbox::send_action(PORT_A, &format!("Action: Hangup\nChannel: {tone}\n"));
    assert!(r.contains("Success"), "{r}");
    let gone = next_change(&rx, "giveup");
    assert_eq!(
        (gone["type"].as_str(), gone["call"]["channel"].as_str()),
        (Some("giveup"), Some(tone.as_str())),
        "{gone}"
    );
    let _ = child.kill();
    let _ = child.wait();
    clean();
}

/// A free loopback port nothing listens on (a server that is down).
fn down_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn a_server_that_is_down_hides_neither_the_one_named_nor_the_others_in_watch() {
    let Some(_g) = on_a_clean_pbx() else { return };
    let down = format!("tcp://amiuser:x@127.0.0.1:{}", down_port());
    // A one-shot command on the server it names does not wait for the other.
    let lots = json_of(&parkwatch(&["--url", URL, "--url", &down, "--server", "1", "--json", "lots"]));
    let names: Vec<&str> = lots.as_array().unwrap().iter().map(|l| l["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["default", "load", "vip"], "{lots}");
    // Without --server it fails, naming why, with the exit status of a login failure.
    let all = parkwatch(&["--url", URL, "--url", &down, "--json", "lots"]);
    assert_eq!(all.status.code(), Some(2), "{}", String::from_utf8_lossy(&all.stderr));
    // `watch` shows the server that is up after --connect-timeout, and its events.
    let (mut child, rx) =
        spawn_parkwatch(&["--url", URL, "--url", &down, "--json", "--connect-timeout", "1", "watch"]);
    let snapshot = next_json(&rx, "snapshot", |v| v["type"] == "snapshot");
    let servers: Vec<u64> =
        snapshot["lots"].as_array().unwrap().iter().map(|l| l["server_id"].as_u64().unwrap()).collect();
    assert!(!servers.is_empty() && servers.iter().all(|s| *s == 1), "{snapshot}");
    park_dialplan(PORT_A, "5557001", "default");
    let parked = next_json(&rx, "parked", |v| v["type"] == "parked");
    assert_eq!(parked["call"]["caller_id_num"], "5557001", "{parked}");
    let _ = child.kill();
    let _ = child.wait();
    clean();
}

#[test]
fn move_takes_a_call_to_another_space_and_a_watcher_reports_one_moved_line() {
    let Some(_g) = on_a_clean_pbx() else { return };
    let (mut child, rx) = spawn_parkwatch(&["--url", URL, "--json", "watch"]);
    next_json(&rx, "snapshot", |v| v["type"] == "snapshot");
    park_dialplan(PORT_A, "5551301", "default");
    let parked = next_change(&rx, "parked");
    assert_eq!(parked["type"], "parked", "{parked}");
    let space = parked["call"]["parking_space"].as_u64().unwrap();
    assert_ne!(space, 715);
    let moved =
        json_of(&parkwatch(&["--url", URL, "--json", "move", &space.to_string(), "--to-space", "715"]));
    assert_eq!(keys(&moved), ["from", "parking_lot", "parking_space", "server_id"]);
    assert_eq!(
        (moved["parking_lot"].as_str(), moved["parking_space"].as_u64()),
        (Some("default"), Some(715))
    );
    assert_eq!(moved["from"]["parking_space"].as_u64(), Some(space));
    let truth = wait_truth(PORT_A, |t| t.iter().any(|c| c.1 == 715));
    assert_eq!(truth.iter().map(|c| (c.0.as_str(), c.1)).collect::<Vec<_>>(), vec![("default", 715)]);
    // Asterisk says give-up, then park: the watcher says one thing, right after the park.
    let line = next_change(&rx, "moved");
    assert_eq!(line["type"], "moved", "one line for the move: {line}");
    assert_eq!(
        (line["from"]["parking_space"].as_u64(), line["call"]["parking_space"].as_u64()),
        (Some(space), Some(715))
    );
    assert_eq!(line["call"]["caller_id_num"], "5551301");
    // A move to where nothing is parked fails with one line and a non-zero exit.
    let out = parkwatch(&["--url", URL, "move", "719", "--to-space", "716"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nothing is parked"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = child.kill();
    let _ = child.wait();
    clean();
}

#[test]
fn watch_poll_finds_a_call_no_live_event_announced() {
    let Some(_g) = on_a_clean_pbx() else { return };
    // This user's sessions never get `ParkedCall` (an event filter in the sandbox's
    // manager.conf): only the poll can see the park.
    let blind = "tcp://noparkedevent:noparkedeventsecret@127.0.0.1:5038";
    let (mut child, rx) = spawn_parkwatch(&["--url", blind, "--json", "watch", "--poll", "1"]);
    let snap = next_json(&rx, "snapshot", |v| v["type"] == "snapshot");
    assert_eq!(snap["calls"].as_array().unwrap().len(), 0);
    park_dialplan(PORT_A, "5551401", "default");
    let truth = wait_truth(PORT_A, |t| t.len() == 1);
    let found = next_change(&rx, "resync");
    assert_eq!(
        (found["type"].as_str(), found["change"].as_str(), found["call"]["caller_id_num"].as_str()),
        (Some("resync"), Some("appeared"), Some("5551401")),
        "{found}"
    );
    assert_eq!(found["call"]["parking_space"].as_u64(), Some(u64::from(truth[0].1)));
    // Without --poll the same user never sees it: the snapshot of a new watcher does,
    // its stream of changes does not (its next change is the hang-up).
    let (mut plain, rx2) = spawn_parkwatch(&["--url", blind, "--json", "watch"]);
    let snap = next_json(&rx2, "snapshot", |v| v["type"] == "snapshot");
    assert_eq!(snap["calls"].as_array().unwrap().len(), 1);
    clean();
    let gone = next_change(&rx2, "giveup");
    assert_eq!(
        (gone["type"].as_str(), gone["call"]["caller_id_num"].as_str()),
        (Some("giveup"), Some("5551401")),
        "{gone}"
    );
    for c in [&mut child, &mut plain] {
        let _ = c.kill();
        let _ = c.wait();
    }
}

#[test]
fn park_the_caller_of_a_phone_from_the_command_line() {
    let Some(_g) = on_a_clean_pbx() else { return };
    let caller = sandbox::call_desk(PORT_A, "5553201", "Bob Caller", "1801");
    let parked = json_of(&parkwatch(&[
        "--url",
        URL,
        "--json",
        "park",
        "--caller-of",
        "Local/1801@desk",
        "--lot",
        "vip",
        "--space",
        "802",
    ]));
    assert_eq!(
        keys(&parked),
        ["caller_id_name", "caller_id_num", "channel", "parking_lot", "parking_space", "phone", "server_id"]
    );
    assert_eq!(parked["channel"], caller.as_str(), "the caller, not the desk, is parked");
    assert_eq!(parked["caller_id_num"], "5553201");
    assert_eq!(parked["caller_id_name"], "Bob Caller");
    assert_eq!((parked["parking_lot"].as_str(), parked["parking_space"].as_u64()), (Some("vip"), Some(802)));
    let truth = parked_truth(PORT_A);
    assert_eq!(truth.iter().map(|t| (t.0.as_str(), t.1)).collect::<Vec<_>>(), vec![("vip", 802)]);
    // The desk phone's leg is gone: Asterisk hung it up once its caller was parked.
    sandbox::wait_status(PORT_A, "the desk free", |l| {
        !l.iter().any(|(c, _)| c.starts_with("Local/1801@desk-"))
    });

    // The text form, and the errors: one line on stderr, non-zero exit, what to do.
    sandbox::call_desk(PORT_A, "5553202", "Carol", "1802");
    let out = parkwatch(&["--url", URL, "park", "--caller-of", "Local/1802@desk"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        text.starts_with("parked the caller of Local/1802@desk (Carol 5553202, Local/5553202@callerline-"),
        "{text}"
    );
    let out = parkwatch(&["--url", URL, "park", "--caller-of", "Local/1809@desk"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("phone Local/1809@desk has no call on server 1"), "{err}");
    let out = parkwatch(&["--url", URL, "park", "--caller-of", "1809"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("e.g. PJSIP/1001"));
    let out = parkwatch(&["--url", URL, "park"]);
    assert_eq!(out.status.code(), Some(2), "clap: a CHANNEL or --caller-of is needed");
    clean();
}

/// Logs anyone in and refuses every other action, its message laced with a
/// title-change escape, a screen clear, a bell, a forged line and a bidi override.
fn refuse(action: &ami_parking::Message) -> String {
    let id = action.get_str("ActionID").unwrap_or_default().into_owned();
    match action.get_str("Action").unwrap_or_default().to_ascii_lowercase().as_str() {
        "challenge" | "login" => ami_server::standard_answer(action),
        _ => format!("Response: Error\r\nActionID: {id}\r\nMessage: nope\x1b]0;pwned\x07\x1b[2J\nSERVER forged line\u{202e}\r\n\r\n"),
    }
}

#[test]
fn a_servers_error_text_cannot_write_to_the_terminal() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ami = rt.block_on(ami_server::TestAmi::start_with(refuse));
    let url = format!("tcp://amiuser:amisecret@127.0.0.1:{}", ami.port);
    for args in [vec!["--url", &url, "lots"], vec!["--url", &url, "park", "PJSIP/1001-00000001"]] {
        let out = parkwatch(&args);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("nope"), "{args:?}: the server's own text is shown: {err:?}");
        assert!(
            !err.contains(['\x1b', '\x07', '\u{202e}']) && err.trim().lines().count() == 1,
            "{args:?}: no escape reaches the terminal and the error stays one line: {err:?}"
        );
    }
}
