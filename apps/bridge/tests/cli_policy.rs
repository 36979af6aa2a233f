//! The bridge's binary end to end on its built-in demo PBX (no Asterisk needed): a
//! token file, `--no-auth`, and the per-client rate limit as a client meets them.

mod common;

use ami_parking_tests::process::Reaped;
use async_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};
use common::{until_reply, Ws};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The bridge's binary with `args` (and the demo PBX: no `--upstream`); the process,
/// its `ws://` address and the line saying so, once its server is logged in.
fn start(args: &[&str]) -> (Reaped, String, String) {
    let (child, addr, listening, _) = start_logged(args);
    (child, addr, listening)
}

/// [`start`], with the lines of its log after the login.
fn start_logged(args: &[&str]) -> (Reaped, String, String, std::sync::mpsc::Receiver<String>) {
    let mut child = Reaped(
        Command::new(env!("CARGO_BIN_EXE_ami-ws-bridge"))
            .args(["--listen", "127.0.0.1:0", "--demo-rate", "1"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the bridge starts"),
    );
    let (tx, rx) = std::sync::mpsc::channel();
    let lines = BufReader::new(child.stderr.take().unwrap()).lines();
    std::thread::spawn(move || {
        for l in lines.map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    // Where it listens, then its server logged in (before that, actions get errors).
    // Every line so far is kept for the failure's message (a run in CI once saw no
    // login within 20 s: what the bridge said is what tells why).
    let (mut addr, mut listening, mut said) = (None, String::new(), Vec::new());
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("the bridge listens and logs in ({e}); it said: {said:#?}"));
        said.push(line.clone());
        if let Some(rest) = line.split("listening on ").nth(1) {
            addr = Some(rest.split_whitespace().next().unwrap().to_owned());
            listening = line.clone();
        }
        if line.contains("server 1 (") && line.ends_with(") logged in") {
            let addr = addr.expect("it listens before its server logs in");
            return (child, addr, listening, rx);
        }
    }
}

async fn connect(url: String) -> Result<Ws, WsError> {
    async_tungstenite::tokio::connect_async(url).await.map(|(ws, _)| ws)
}

fn status(r: Result<Ws, WsError>) -> u16 {
    match r {
        Ok(_) => 101,
        Err(WsError::Http(resp)) => resp.status().as_u16(),
        Err(e) => panic!("neither an upgrade nor an HTTP refusal: {e}"),
    }
}

#[tokio::test]
async fn tokens_from_a_file_are_the_only_ones_accepted() {
    let file = std::env::temp_dir().join(format!("ami-ws-bridge-cli-{}.tokens", std::process::id()));
    // A comment and a blank line are no tokens; a token listed twice still works.
    std::fs::write(
        &file,
        "first-token-0123456789\n# a comment\n\nsecond-token-0123456789\nsecond-token-0123456789\n",
    )
    .unwrap();
    let (_bridge, addr, line) = start(&["--token-file", file.to_str().unwrap()]);
    assert!(line.ends_with("(3 token(s); 1 server(s))"), "{line}");
    assert_eq!(status(connect(format!("{addr}/?token=second-token-0123456789")).await), 101);
    assert_eq!(status(connect(format!("{addr}/?token=first-token-0123456789")).await), 101);
    assert_eq!(status(connect(format!("{addr}/?token=third-token-0123456789")).await), 401);
    // Same length and letters, two swapped: compared byte by byte, not as a bag.
    assert_eq!(status(connect(format!("{addr}/?token=esocnd-token-0123456789")).await), 401);
    assert_eq!(status(connect(format!("{addr}/")).await), 401);
    let _ = std::fs::remove_file(&file);
}

#[tokio::test]
async fn with_no_auth_a_client_without_a_token_is_served() {
    let (_bridge, addr, line) = start(&["--no-auth"]);
    assert!(line.ends_with("(no token required; 1 server(s))"), "{line}");
    let mut c = connect(format!("{addr}/")).await.expect("upgraded without a token");
    c.send(WsMessage::text(r#"{"Action":"Ping","ActionID":"p-1"}"#)).await.unwrap();
    let pong = until_reply(&mut c, "p-1").await.pop().unwrap();
    assert_eq!(
        (pong["data"]["Response"].as_str(), pong["data"]["Ping"].as_str()),
        (Some("Success"), Some("Pong"))
    );
}

#[tokio::test]
async fn past_its_rate_a_client_gets_errors_for_the_burst_only() {
    let (_bridge, addr, _) = start(&["--token", "rate-token-0123456789", "--rate", "2"]);
    let mut c = connect(format!("{addr}/?token=rate-token-0123456789")).await.expect("upgraded");
    // Ten Pings at once: a burst of 4 (twice the rate) goes through, the rest is refused.
    for i in 0..10 {
        c.send(WsMessage::text(format!(r#"{{"Action":"Ping","ActionID":"r-{i}"}}"#))).await.unwrap();
    }
    // The refusals come at once, the answers through the demo PBX: read until all ten.
    let mut got = std::collections::BTreeMap::new();
    while got.len() < 10 {
        let v = common::next_json(&mut c).await;
        if let Some(id) = v["data"]["ActionID"].as_str().filter(|id| id.starts_with("r-")) {
            got.insert(id.to_owned(), v.clone());
        }
    }
    let answers: Vec<String> =
        got.values().map(|v| v["data"]["Response"].as_str().unwrap_or_default().to_owned()).collect();
    assert_eq!(
        got["r-9"]["data"]["Message"], "rate limit: at most 2 actions a second (bursts of 4)",
        "the refusal says why"
    );
    let ok = answers.iter().filter(|a| *a == "Success").count();
    assert_eq!(answers[..4], ["Success", "Success", "Success", "Success"], "the burst: {answers:?}");
    assert!(ok <= 5, "at most the burst and what the rate refilled meanwhile: {answers:?}");
    assert_eq!(answers.last().map(String::as_str), Some("Error"), "{answers:?}");
}

#[test]
fn without_a_token_or_no_auth_the_bridge_refuses_to_serve() {
    let mut child = Reaped(
        Command::new(env!("CARGO_BIN_EXE_ami-ws-bridge"))
            .args(["--listen", "127.0.0.1:0", "--demo-rate", "1"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the bridge starts"),
    );
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let lines: Vec<String> = BufReader::new(stderr).lines().map_while(Result::ok).collect();
        let _ = tx.send(lines);
    });
    // Its output ends when it exits; a bridge that serves anyway is killed on drop.
    let lines = rx.recv_timeout(Duration::from_secs(20)).expect("the bridge exits instead of serving");
    let status = child.wait().unwrap();
    assert!(!status.success(), "{status:?}");
    assert!(
        lines.iter().any(|l| l.contains("no token configured: give --token-file (or --token), or --no-auth")),
        "{lines:?}"
    );
}

/// Found by the review: every refused upgrade wrote a log line (3,000 in 1.3 s from
/// one client without a token). Refusals are logged once every 5 s at most, with how
/// many were held back.
#[tokio::test]
async fn a_flood_of_refused_upgrades_writes_a_line_or_two_of_log() {
    let file = std::env::temp_dir().join(format!("ami-ws-bridge-cli-flood-{}.tokens", std::process::id()));
    std::fs::write(&file, "the-only-token-0123456789\n").unwrap();
    let (_bridge, addr, _, log) = start_logged(&["--token-file", file.to_str().unwrap()]);
    let good = format!("{addr}/?token=the-only-token-0123456789");
    // The good token connects first, so its address may still use it after the flood
    // of wrong ones (which lock wrong tokens out of the address).
    drop(connect(good.clone()).await.expect("the good token connects"));
    let t = std::time::Instant::now();
    for _ in 0..300 {
        let refused = status(connect(format!("{addr}/?token=wrong-token-0123456789")).await);
        assert!(refused == 401 || refused == 429, "{refused}");
    }
    let took = t.elapsed();
    // A connection after the flood logs a line: every line of the flood came before it.
    let _after = connect(good).await.expect("the good token connects after the flood");
    let mut lines = Vec::new();
    let mut connected = 0;
    while connected < 2 {
        let line = log.recv_timeout(Duration::from_secs(20)).expect("the second connection's log line");
        if line.contains("upgrade refused") {
            lines.push(line);
        } else if line.contains(") connected;") {
            connected += 1;
        }
    }
    let most = 1 + took.as_secs() as usize / 5 + 1;
    let first: Vec<&String> = lines.iter().take(3).collect();
    assert!(
        !lines.is_empty() && lines.len() <= most,
        "{} lines in {took:?}, the first: {first:?}",
        lines.len()
    );
    std::fs::remove_file(&file).unwrap();
}
