//! An Asterisk that accepts the login and then stops reading (the socket stays open,
//! nothing is read: a hung PBX, a full disk...). A test AMI server stands in for it:
//! this is the transport's behaviour, no Asterisk behaviour is claimed. The bridge's
//! own binary in front of it; N WebSocket clients send many Pings. Every action
//! must get an error frame within the request timeout (+ a margin), the server must
//! no longer be announced as logged in (a new client's action is refused at once),
//! and the bridge's memory must stay flat. Prints the RSS after the login and at the
//! end, and how the actions were answered.
//!
//! `AMI_PARKING_BRIDGE_BIN=/path/to/ami-ws-bridge` runs another build of the bridge
//! (how the figures of the bridge before its upstream moved onto the core were taken);
//! `AMI_PARKING_STALL_CLIENTS` and `AMI_PARKING_STALL_ACTIONS` (per client) size the run.

use ami_parking::ami_codec::{Decoded, Decoder};
use ami_parking_tests::measure::{knob, rss_kib};
use ami_parking_tests::process::Reaped;
use async_tungstenite::tungstenite::Message as WsMessage;
use futures_util::StreamExt;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex}; // std's: never held across an await
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

const TOKEN: &str = "stalled-upstream-token";
/// The bridge's request timeout (the transport's default).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Scheduling, a debug build, thousands of frames at once.
const MARGIN: Duration = Duration::from_secs(3);
/// The bridge's keep-alive period (the transport's default).
const KEEPALIVE: Duration = Duration::from_secs(30);

/// The test AMI server: answers the banner, the MD5 challenge and the login, then
/// reads nothing more. Its socket's receive buffer is small, so the bridge's writes
/// soon wait. Accepts one connection: later attempts are refused. Says whether the
/// login was MD5 (no secret on the wire); keeps the socket open until `hold` fires.
async fn stalling_ami() -> (u16, oneshot::Receiver<bool>, oneshot::Sender<()>) {
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    sock.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = sock.listen(1).unwrap();
    let port = listener.local_addr().unwrap().port();
    let (login_tx, login_rx) = oneshot::channel();
    let (hold_tx, hold_rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        drop(listener);
        s.write_all(b"Asterisk Call Manager/9.0.0\r\n").await.unwrap();
        let mut decoder = Decoder::new().without_banner();
        let mut buf = [0u8; 4096];
        let md5 = 'login: loop {
            let n = s.read(&mut buf).await.unwrap();
            assert!(n > 0, "the bridge closed before logging in");
            let mut actions = Vec::new();
            decoder
                .decode(&buf[..n], |d| {
                    if let Decoded::Message(m) = d {
                        actions.push(m.to_message())
                    }
                })
                .unwrap();
            for a in actions {
                let id = a.get_str("ActionID").unwrap_or_default().into_owned();
                if a.is("Action", "Challenge") {
                    let answer =
                        format!("Response: Success\r\nActionID: {id}\r\nChallenge: 123456789\r\n\r\n");
                    s.write_all(answer.as_bytes()).await.unwrap();
                } else if a.is("Action", "Login") {
                    let answer = format!(
                        "Response: Success\r\nActionID: {id}\r\nMessage: Authentication accepted\r\n\r\n"
                    );
                    s.write_all(answer.as_bytes()).await.unwrap();
                    break 'login a.is("AuthType", "MD5") && a.get("Secret").is_none();
                }
            }
        };
        let _ = login_tx.send(md5);
        // Nothing is read from now on.
        let _ = hold_rx.await;
        drop(s);
    });
    (port, login_rx, hold_tx)
}

/// The bridge's binary in front of `127.0.0.1:port` (secret and token not on its
/// command line); the process, its `ws://` address and its log lines.
fn start_bridge(port: u16) -> (Reaped, String, std::sync::mpsc::Receiver<String>) {
    let bin = std::env::var("AMI_PARKING_BRIDGE_BIN")
        .ok()
        .filter(|b| !b.is_empty())
        .unwrap_or(env!("CARGO_BIN_EXE_ami-ws-bridge").into());
    let tokens = std::env::temp_dir().join(format!("ami-ws-bridge-stall-{}.tokens", std::process::id()));
    std::fs::write(&tokens, TOKEN).unwrap();
    let mut child = Reaped(
        Command::new(bin)
            .args(["--listen", "127.0.0.1:0", "--upstream", &format!("tcp://amiuser@127.0.0.1:{port}")])
            .args(["--token-file", tokens.to_str().unwrap(), "--rate", "100000"])
            .env("AMI_SECRET", "amisecret")
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
    let addr = loop {
        let line = rx.recv_timeout(Duration::from_secs(10)).expect("the bridge says where it listens");
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    let _ = std::fs::remove_file(tokens);
    (child, addr, rx)
}

type Ws = async_tungstenite::WebSocketStream<async_tungstenite::tokio::ConnectStream>;

async fn ws(addr: &str) -> Ws {
    async_tungstenite::tokio::connect_async(format!("{addr}/?token={TOKEN}")).await.expect("upgrade").0
}

/// One action's answer: after how long, and its `Response` and `Message`.
#[derive(Debug, Clone)]
struct Answer {
    after: Duration,
    response: String,
    message: String,
}

/// Client `c` sends `n` Pings, `rate` a second, and reads their answers until every
/// one came or none came for the request timeout plus the margin.
async fn pinger(addr: String, c: usize, n: usize, rate: usize) -> Vec<Option<Answer>> {
    let (mut tx, mut rx) = ws(&addr).await.split();
    let sent: Arc<Mutex<Vec<Option<Instant>>>> = Arc::new(Mutex::new(vec![None; n]));
    let reader = {
        let sent = sent.clone();
        tokio::spawn(async move {
            let mut answers: Vec<Option<Answer>> = vec![None; n];
            let mut left = n;
            let quiet = REQUEST_TIMEOUT + MARGIN + MARGIN;
            while left > 0 {
                let Ok(Some(Ok(m))) = tokio::time::timeout(quiet, rx.next()).await else { break };
                let WsMessage::Text(t) = m else { continue };
                let v: serde_json::Value = serde_json::from_str(&t).expect("valid JSON");
                let id = v["data"]["ActionID"].as_str().unwrap_or("");
                let Some(i) = id.strip_prefix(&format!("c{c}-")).and_then(|i| i.parse::<usize>().ok()) else {
                    continue;
                };
                let Some(at) = sent.lock().unwrap()[i] else { panic!("an answer before its action: {t}") };
                if answers[i].is_none() {
                    left -= 1;
                }
                let text = |k: &str| v["data"][k].as_str().unwrap_or("").to_owned();
                answers[i] = Some(Answer {
                    after: at.elapsed(),
                    response: text("Response"),
                    message: text("Message"),
                });
            }
            answers
        })
    };
    // Paced in ticks of 10 ms (a steady load, not one burst).
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let per_tick = (rate / 100).max(1);
    for i in 0..n {
        if i % per_tick == 0 {
            tick.tick().await;
        }
        sent.lock().unwrap()[i] = Some(Instant::now());
        let frame = format!(r#"{{"Action":"Ping","ActionID":"c{c}-{i}"}}"#);
        if tx.send(WsMessage::text(frame)).await.is_err() {
            break;
        }
    }
    let answers = reader.await.unwrap();
    drop(tx);
    answers
}

/// Frames until the answer to `id` (that one included), within `within`.
async fn until_answer(ws: &mut Ws, id: &str, within: Duration) -> Option<Vec<serde_json::Value>> {
    let mut seen = Vec::new();
    tokio::time::timeout(within, async {
        loop {
            let Some(Ok(m)) = ws.next().await else { return None };
            let WsMessage::Text(t) = m else { continue };
            let v: serde_json::Value = serde_json::from_str(&t).expect("valid JSON");
            let done = v["data"]["ActionID"] == id;
            seen.push(v);
            if done {
                return Some(());
            }
        }
    })
    .await
    .ok()
    .flatten()
    .map(|()| seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_asterisk_that_stops_reading_gets_every_action_an_error_and_memory_stays_flat() {
    let clients = knob("AMI_PARKING_STALL_CLIENTS", 8) as usize;
    let per = knob("AMI_PARKING_STALL_ACTIONS", 3000) as usize;
    let rate = knob("AMI_PARKING_STALL_RATE", 1000) as usize;
    let (port, login, hold) = stalling_ami().await;
    let (mut bridge, addr, log) = start_bridge(port);
    let pid = bridge.id();
    let md5 =
        tokio::time::timeout(Duration::from_secs(20), login).await.expect("a login within 20 s").unwrap();
    // The login's answer reached the bridge once it announces it.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let line = log.recv_timeout(deadline.saturating_duration_since(Instant::now())).expect("logged in");
        if line.contains("logged in") {
            break;
        }
    }
    let rss_login = rss_kib(Some(pid));

    let peak = Arc::new(Mutex::new(rss_login));
    let sampler = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                let r = rss_kib(Some(pid));
                {
                    let mut p = peak.lock().unwrap();
                    *p = (*p).max(r);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients).map(|c| tokio::spawn(pinger(addr.clone(), c, per, rate))).collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.extend(t.await.unwrap());
    }
    let took = started.elapsed();

    // A new client: not told the server is up, and its action refused at once.
    let mut late = ws(&addr).await;
    let mut refused_at_once = None;
    let mut frames = Vec::new();
    // A stalled write ends the link within the request timeout; were the socket's
    // buffers to take every action, the unanswered keep-alive would (30 s + 10 s).
    let until = Instant::now() + KEEPALIVE + REQUEST_TIMEOUT + MARGIN;
    for k in 0.. {
        let id = format!("late-{k}");
        let asked = Instant::now();
        late.send(WsMessage::text(format!(r#"{{"Action":"Ping","ActionID":"{id}"}}"#))).await.unwrap();
        let seen = until_answer(&mut late, &id, Duration::from_secs(1)).await;
        let at_once = asked.elapsed();
        let last = seen.as_ref().and_then(|s| s.last().cloned());
        frames.extend(seen.unwrap_or_default());
        if let Some(v) =
            last.filter(|v| v["data"]["Message"].as_str().is_some_and(|m| m.contains("is not connected")))
        {
            refused_at_once = Some((at_once, v["data"]["Message"].as_str().unwrap().to_owned()));
            break;
        }
        if Instant::now() > until {
            break;
        }
    }
    let rss_end = rss_kib(Some(pid));
    sampler.abort();
    let rss_peak = *peak.lock().unwrap();
    let _ = bridge.kill();
    let _ = bridge.wait();
    drop(hold);
    let log: Vec<String> = log.try_iter().filter(|l| !l.contains(": client ")).collect();

    let answered: Vec<&Answer> = answers.iter().flatten().collect();
    let mut kinds = std::collections::BTreeMap::<String, usize>::new();
    for a in &answered {
        let kind = ["got no answer", "was lost", "already waiting", "is not connected"]
            .into_iter()
            .find(|k| a.message.contains(k))
            .unwrap_or(&a.message);
        *kinds.entry(format!("{}: {kind}", a.response)).or_default() += 1;
    }
    let slowest = answered.iter().map(|a| a.after).max().unwrap_or_default();
    println!(
        "stalled upstream: {} of {} actions ({clients} clients, {rate}/s each) answered in {took:?}, slowest after {slowest:?}; {kinds:?}",
        answered.len(),
        answers.len()
    );
    println!(
        "bridge RSS: {rss_login} KiB after the login, {rss_end} KiB at the end (+{} KiB), peak {rss_peak} KiB",
        rss_end as i64 - rss_login as i64
    );
    println!("new client: {refused_at_once:?}; bridge log: {log:?}");

    assert!(md5, "the bridge logs in with MD5 (no secret on the wire)");
    assert_eq!(answered.len(), answers.len(), "every action is answered");
    assert!(answered.iter().all(|a| a.response == "Error"), "every answer is an error: {kinds:?}");
    assert!(slowest <= REQUEST_TIMEOUT + MARGIN, "the slowest answer came after {slowest:?}");
    let (at_once, message) = refused_at_once.expect("a new client's action is refused: the server is down");
    assert!(at_once < Duration::from_secs(1), "refused after {at_once:?}");
    assert_eq!(message, format!("server 1 (127.0.0.1:{port}) is not connected"));
    assert!(
        frames.iter().all(|f| f["data"]["Message"] != "Authentication accepted"),
        "the new client is not told the server is up: {frames:?}"
    );
    assert!(
        rss_end.saturating_sub(rss_login) < 8 * 1024,
        "the bridge's memory grew: {rss_login} -> {rss_end} KiB"
    );
}
