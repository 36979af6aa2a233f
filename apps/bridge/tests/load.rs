//! Load: the bridge's own binary in front of the demo PBX (every live parking event
//! stamped with Asterisk's `Timestamp`), N WebSocket clients, R events a second, S
//! seconds. Every client must receive every event of the measured window, in the
//! same order; the bridge's memory must stay flat. Prints events/s delivered, the
//! p50/p99/max delay (client arrival minus the event's Timestamp) and the bridge's RSS.
//!
//! CI runs a short window (debug build). The documented run:
//! `AMI_PARKING_BRIDGE_LOAD_SECS=60 AMI_PARKING_BRIDGE_LOAD_CLIENTS=200 AMI_PARKING_BRIDGE_LOAD_RATE=1000 cargo test --release -p ami-ws-bridge --test load -- --nocapture`

use ami_parking_tests::measure::knob;
use ami_parking_tests::measure::rss_kib;
use ami_parking_tests::process::Reaped;
use ami_parking_transport::demo::DemoPbx;
use async_tungstenite::tungstenite::Message as WsMessage;
use futures_util::StreamExt;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn wall_micros() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as u64
}

/// `"Timestamp": "1700000000.123000"` in a frame, as micros.
fn stamp_of(frame: &str) -> Option<u64> {
    let at = frame.find("\"Timestamp\": \"")? + 14;
    let end = at + frame[at..].find('"')?;
    let (s, us) = frame[at..end].split_once('.')?;
    Some(s.parse::<u64>().ok()? * 1_000_000 + us.parse::<u64>().ok()?)
}

/// Delays in 250 µs buckets up to 5 s (the last bucket: more).
struct Histogram(Vec<AtomicU32>);

impl Histogram {
    fn new() -> Self {
        Histogram((0..20_001).map(|_| AtomicU32::new(0)).collect())
    }
    fn add(&self, micros: u64) {
        self.0[((micros / 250) as usize).min(20_000)].fetch_add(1, Ordering::Relaxed);
    }
    fn quantile(&self, q: f64) -> f64 {
        let counts: Vec<u64> = self.0.iter().map(|c| c.load(Ordering::Relaxed) as u64).collect();
        let total: u64 = counts.iter().sum();
        let mut seen = 0;
        for (i, c) in counts.iter().enumerate() {
            seen += c;
            if seen as f64 >= q * total as f64 {
                return (i as f64 + 1.0) * 0.25;
            }
        }
        0.0
    }
}

/// One client's frames stamped within [`t0`, `t1`): their number and an order hash;
/// each delay goes into `hist`.
async fn read_window(
    mut ws: async_tungstenite::WebSocketStream<async_tungstenite::tokio::ConnectStream>,
    t0: u64,
    t1: u64,
    hist: Arc<Histogram>,
    delivered: Arc<AtomicU64>,
) -> (u64, u64) {
    let (mut n, mut order) = (0u64, 0u64);
    while let Some(Ok(msg)) = ws.next().await {
        let WsMessage::Text(t) = msg else {
            if let WsMessage::Close(c) = msg {
                panic!("a client was cut off: {c:?}");
            }
            continue;
        };
        let Some(stamp) = stamp_of(&t) else { continue };
        if stamp >= t1 {
            break;
        }
        if stamp < t0 {
            continue;
        }
        hist.add(wall_micros().saturating_sub(stamp));
        delivered.fetch_add(1, Ordering::Relaxed);
        n += 1;
        order = order.wrapping_mul(0x100000001b3).wrapping_add(t.len() as u64 ^ stamp);
    }
    (n, order)
}

/// The bridge's own binary in front of `upstream`; the process and its `ws://` address.
fn start_bridge(upstream: &str) -> (Reaped, String) {
    let mut bridge = Reaped(
        Command::new(env!("CARGO_BIN_EXE_ami-ws-bridge"))
            .args(["--listen", "127.0.0.1:0", "--upstream", upstream, "--token", "load-token-0123456789"])
            // Every client holds the one token: its cap is lifted.
            .args(["--max-clients-per-token", "1000"])
            .stderr(Stdio::piped())
            .spawn()
            .expect("the bridge starts"),
    );
    let mut lines = BufReader::new(bridge.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("the bridge says where it listens").unwrap();
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (bridge, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_client_gets_every_event_in_order_and_memory_stays_flat() {
    let debug = cfg!(debug_assertions);
    let secs = knob("AMI_PARKING_BRIDGE_LOAD_SECS", 6);
    let clients = knob("AMI_PARKING_BRIDGE_LOAD_CLIENTS", if debug { 50 } else { 200 }) as usize;
    let rate = knob("AMI_PARKING_BRIDGE_LOAD_RATE", if debug { 200 } else { 1000 });
    let demo = DemoPbx::start_with(rate as f64 * 60.0, true).await.unwrap();
    let (mut bridge, addr) = start_bridge(&demo.url());
    let pid = bridge.id();

    // Connect everyone, then measure a window that starts after the last connect.
    let hist = Arc::new(Histogram::new());
    let delivered = Arc::new(AtomicU64::new(0));
    let mut sockets = Vec::new();
    for _ in 0..clients {
        let (ws, _) = async_tungstenite::tokio::connect_async(format!("{addr}/?token=load-token-0123456789"))
            .await
            .unwrap();
        sockets.push(ws);
    }
    let t0 = wall_micros() + 1_000_000;
    let t1 = t0 + secs * 1_000_000;
    let mut tasks = Vec::new();
    for ws in sockets {
        let (hist, delivered) = (hist.clone(), delivered.clone());
        tasks.push(tokio::spawn(read_window(ws, t0, t1, hist, delivered)));
    }
    let mut rss = Vec::new();
    while wall_micros() < t1 + 500_000 {
        rss.push(rss_kib(Some(pid)));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(
            tokio::time::timeout(Duration::from_secs(30), t)
                .await
                .expect("every client reaches the window's end")
                .unwrap(),
        );
    }
    let _ = bridge.kill();
    let _ = bridge.wait();

    let (n, order) = results[0];
    assert!(n as f64 >= rate as f64 * secs as f64 * 0.8, "the demo made {n} events in {secs} s at {rate}/s");
    let differing = results.iter().filter(|r| **r != (n, order)).count();
    assert_eq!(
        differing, 0,
        "{differing} of {clients} clients did not get the same {n} events in the same order"
    );
    let total = delivered.load(Ordering::Relaxed);
    let third = rss.len() / 3;
    let mid = *rss[third..2 * third].iter().max().unwrap();
    let last = *rss[2 * third..].iter().max().unwrap();
    println!(
        "bridge load: {clients} clients, {rate} events/s for {secs} s ({} build): {n} events each, {:.0} frames/s delivered; delay p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; bridge RSS {} KiB (first third max {} KiB, middle {mid} KiB, last {last} KiB)",
        if debug { "debug" } else { "release" },
        total as f64 / secs as f64,
        hist.quantile(0.5),
        hist.quantile(0.99),
        hist.quantile(1.0),
        rss.last().unwrap(),
        rss[..third.max(1)].iter().max().unwrap(),
    );
    assert!(last <= mid + mid / 4 + 4096, "the bridge's memory grew: {rss:?}");
}
