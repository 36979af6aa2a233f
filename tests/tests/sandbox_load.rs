//! Load against the real Asterisk sandbox: a few hundred calls parked in the lot
//! `load` (findslot=first), then park, retrieve, retrieve-and-park-into-the-same-space
//! and hang-up at a steady rate for a minute, with the library watching. An
//! independent AMI connection records every parking event Asterisk sent; the library
//! must report each exactly once with the right call, and its store must end equal to
//! Asterisk's `ParkedCalls`.
//!
//! While the operations run, the library lists the lot every few seconds (a refresh
//! under live traffic). Each list is checked against the recorder: every call parked
//! before the list began and untouched until it ended is listed, and nothing is
//! listed that Asterisk never parked. Asterisk's list keeps, for minutes, calls it
//! already announced as retrieved: those entries are counted, and the store must not
//! bring them back (it ends equal to Asterisk's calls, without them).
//!
//! `AMI_PARKING_LOAD_SECS` (default 60), `AMI_PARKING_LOAD_CALLS` (default 200) and
//! `AMI_PARKING_LOAD_RATE` (operations a second, default 25) change the shape. The
//! figures of the run are printed (`--nocapture` shows them).

use ami_parking::ami_codec::{Decoded, Decoder};
use ami_parking::ParkingClient;
use ami_parking::{LotKey, ParkingEvent};
use ami_parking_tests::measure::knob;
use ami_parking_tests::sandbox::{self, parked_truth, PORT_A};
use ami_parking_transport::{Client, ClientOptions};
use futures_util::StreamExt;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;

const LOT: &str = "load";

/// One parking event as (kind, space, unique id).
type Ev = (&'static str, u32, String);

/// What the independent connection saw.
#[derive(Default)]
struct Recorder {
    events: Vec<Ev>,
    /// space -> (unique id, channel), as Asterisk's events say.
    live: BTreeMap<u32, (String, String)>,
    /// Parks announced while the space still held another call (the reorder).
    reorders: usize,
    /// Channels retrieved: hung up afterwards so bridges do not pile up.
    retrieved: Vec<String>,
    /// Each parked call's channel, by unique id.
    channels: BTreeMap<String, String>,
    /// `UserEvent` markers seen, with the number of events recorded before each.
    marks: BTreeMap<String, usize>,
}

impl Recorder {
    fn take(&mut self, m: &ami_parking::Message) {
        if m.is("Event", "UserEvent") {
            if let Some(mark) = m.get_str("UserEvent") {
                self.marks.insert(mark.into_owned(), self.events.len());
            }
            return;
        }
        if m.get("ActionID").is_some() || !m.is("Parkinglot", LOT) {
            return;
        }
        let kind = match m.get_str("Event").as_deref() {
            Some("ParkedCall") => "parked",
            Some("UnParkedCall") => "retrieved",
            Some("ParkedCallGiveUp") => "giveup",
            Some("ParkedCallTimeOut") => "timeout",
            Some("ParkedCallSwap") => "swap",
            _ => return,
        };
        let space: u32 = m.get_str("ParkingSpace").and_then(|s| s.parse().ok()).unwrap_or(0);
        let uid = m.get_str("ParkeeUniqueid").unwrap_or_default().into_owned();
        let chan = m.get_str("ParkeeChannel").unwrap_or_default().into_owned();
        match kind {
            "parked" | "swap" => {
                self.channels.insert(uid.clone(), chan.clone());
                if self.live.get(&space).is_some_and(|(u, _)| *u != uid) && kind == "parked" {
                    self.reorders += 1;
                }
                self.live.insert(space, (uid.clone(), chan));
            }
            _ => {
                if self.live.get(&space).is_some_and(|(u, _)| *u == uid) {
                    self.live.remove(&space);
                }
                if kind == "retrieved" {
                    self.retrieved.push(chan);
                }
            }
        }
        self.events.push((kind, space, uid));
    }
}

/// A plain AMI connection of the tests' scaffolding (the sandbox's `admin`, who may
/// send and read `UserEvent`s): logs in, then hands every message to `on_message`.
async fn ami(
    events: &str,
    on_message: impl FnMut(&ami_parking::Message) + Send + 'static,
) -> tokio::net::tcp::OwnedWriteHalf {
    let s = TcpStream::connect(("127.0.0.1", PORT_A)).await.expect("connect to Asterisk");
    let (mut r, mut w) = s.into_split();
    let login = format!("Action: Login\r\nActionID: login\r\nUsername: admin\r\nSecret: adminsecret\r\nEvents: {events}\r\n\r\n");
    w.write_all(login.as_bytes()).await.unwrap();
    let mut on_message = on_message;
    tokio::spawn(async move {
        let mut d = Decoder::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = match r.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let _ = d.decode(&buf[..n], |item| {
                if let Decoded::Message(raw) = item {
                    on_message(&raw.to_message());
                }
            });
        }
    });
    w
}

/// The sandbox's `status` when the test began.
static BEFORE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Fails the test for a link Asterisk closed, saying what became of Asterisk.
fn lost(what: &str, e: impl std::fmt::Debug) -> ! {
    let before = BEFORE.get().map_or("not known", String::as_str);
    panic!("{what}: {e:?}\n{}", sandbox::diagnosis("a", before))
}

fn originate_park(caller: u64) -> String {
    format!("Action: Originate\r\nChannel: Local/s@hold\r\nContext: caller\r\nExten: s\r\nPriority: 1\r\nVariable: CALLERNUM={caller}\r\nVariable: LOT={LOT}\r\nAsync: true\r\n\r\n")
}

fn originate_retrieve(space: u32) -> String {
    format!("Action: Originate\r\nChannel: Local/s@hold\r\nContext: retriever\r\nExten: s\r\nPriority: 1\r\nVariable: LOT={LOT}\r\nVariable: SPACE={space}\r\nAsync: true\r\n\r\n")
}

fn hangup(channel: &str) -> String {
    format!("Action: Hangup\r\nChannel: {channel}\r\n\r\n")
}

/// Waits until `done` holds, re-checking whenever `changed` fires (or every half
/// second), for at most `deadline`.
async fn wait_until(changed: &Notify, deadline: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > deadline {
            return false;
        }
        let _ = tokio::time::timeout(Duration::from_millis(500), changed.notified()).await;
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_load_every_event_is_reported_once_with_the_right_call() {
    let Some(()) = sandbox::require("a") else { return };
    // Asterisk as it ran when the test began: a link lost under load says whether it
    // restarted or crashed since (seen once in CI, 2026-12-07: both sessions closed).
    BEFORE.get_or_init(|| sandbox::run("a", &["status"]).unwrap_or_else(|e| e));
    let secs = knob("AMI_PARKING_LOAD_SECS", 60);
    let calls = knob("AMI_PARKING_LOAD_CALLS", 200);
    let rate = knob("AMI_PARKING_LOAD_RATE", 25).max(1);
    sandbox::cli("a", "channel request hangup all");
    sandbox::wait_truth(PORT_A, |t| t.is_empty());

    let changed = Arc::new(Notify::new());
    let rec = Arc::new(Mutex::new(Recorder::default()));
    let (r, n) = (rec.clone(), changed.clone());
    let _watch = ami("call,user", move |m| {
        r.lock().unwrap().take(m);
        n.notify_waiters();
    })
    .await;
    let mut act = ami("off", |_| {}).await;

    let o = ClientOptions::new(format!("tcp://amiuser:amisecret@127.0.0.1:{PORT_A}").parse().unwrap());
    let client = Client::connect(o);
    client.wait_logged_in(Duration::from_secs(10)).await.expect("login");
    client.get_parked_calls(None).await.expect("initial list");
    let heard: Arc<Mutex<Vec<ParkingEvent>>> = Arc::default();
    let (h, n) = (heard.clone(), changed.clone());
    let mut stream = client.events();
    tokio::spawn(async move {
        while let Some(e) = stream.next().await {
            h.lock().unwrap().push(e);
            n.notify_waiters();
        }
    });

    // A few hundred calls parked.
    let caller = park_initial(&mut act, &rec, &changed, calls).await;

    // A minute of operations at a steady rate, the library listing the lot meanwhile.
    let listing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let lister = tokio::spawn(list_meanwhile(client.clone(), rec.clone(), changed.clone(), listing.clone()));
    let ops = operate(&mut act, &rec, caller, calls, secs, rate).await;
    listing.store(false, std::sync::atomic::Ordering::Relaxed);
    let lists = lister.await.expect("the lister");
    let windows: Vec<(usize, usize)> = lists.iter().map(|l| (l.start, l.end)).collect();

    // Quiet: the recorder and the library agree (both have every event, the same).
    let lib_key = LotKey::new(1, LOT);
    let compare = || compare(&rec, &heard);
    let settled = wait_until(&changed, Duration::from_secs(60), || {
        let (diff, _, _, live, _) = compare();
        diff == 0 && client.store().lot_calls_now(&lib_key).len() == live
    })
    .await;
    let (mismatches, total, reported, _, unmatched) = compare();
    // After the quiet: the events that came after each list are in.
    let (violations, listed_stale, listed_ahead) = check_lists(&rec, &lists);
    let (reorders, resyncs) = {
        let h = heard.lock().unwrap();
        let r = rec.lock().unwrap();
        let resyncs: Vec<String> = h
            .iter()
            .filter_map(|e| match e {
                ParkingEvent::Resync { call, change } => {
                    let uid = call.unique_id();
                    let seen: Vec<(usize, &str, u32)> = r
                        .events
                        .iter()
                        .enumerate()
                        .filter(|(_, (_, _, u))| u == uid)
                        .map(|(i, (k, s, _))| (i, *k, *s))
                        .collect();
                    Some(format!(
                        "{change:?} space {} {uid}: the recorder saw (index, event, space) {seen:?}",
                        call.parking_space
                    ))
                }
                _ => None,
            })
            .collect();
        (r.reorders, resyncs)
    };
    let store: Vec<(u32, String)> = client
        .store()
        .lot_calls_now(&lib_key)
        .iter()
        .map(|c| (c.parking_space, c.unique_id().to_string()))
        .collect();
    let truth: Vec<(u32, String)> =
        parked_truth(PORT_A).into_iter().filter(|(l, _, _)| l == LOT).map(|(_, s, u)| (s, u)).collect();
    // Asterisk's list sometimes keeps a call it announced as retrieved: told apart, and
    // printed.
    let stale = stale_entries(&truth, &store, &rec);
    let truth_now: Vec<(u32, String)> = truth.iter().filter(|c| !stale.contains(c)).cloned().collect();
    println!(
        "load: {calls} calls parked first; {} operations in {:.1} s ({:.1}/s: {} retrieve+park into the same space, {} parks, {} retrieves, {} hang-ups); {total} parking events from Asterisk, {reorders} parks announced before the space's last leave; {reported} reported by the library; {mismatches} mismatches; {} resyncs; {} lists during the run ({listed_stale} entries listed after their retrieve was announced, {listed_ahead} calls left unlisted before their leave was announced); {} calls at the end; {} entries of Asterisk's list stale (announced retrieved, not in the parking bridge): {stale:?}",
        ops.total(),
        ops.elapsed.as_secs_f64(),
        ops.rate(),
        ops.reuses,
        ops.parks,
        ops.retrieves,
        ops.hangups,
        resyncs.len(),
        lists.len(),
        store.len(),
        stale.len()
    );
    client.shutdown().await;
    sandbox::cli("a", "channel request hangup all");
    assert!(
        settled,
        "the library did not catch up with Asterisk within a minute: only from Asterisk {:?}, only reported {:?}, resyncs {resyncs:#?} (lists between the recorder's events {windows:?})",
        unmatched.0, unmatched.1
    );
    assert!(ops.rate() >= 20.0 || rate < 20, "the rate held");
    // The case the run is for: a park announced before the space's last leave (seen
    // 13 to 43 times a run of 30 to 60 s at 25/s). A run that never met it proves little.
    assert!(
        reorders > 0 || ops.reuses < 100,
        "{} retrieve+park pairs and not one park announced before the space's last leave",
        ops.reuses
    );
    assert_eq!(
        mismatches, 0,
        "every event reported exactly once with the right call: only from Asterisk {:?}, only reported {:?}",
        unmatched.0, unmatched.1
    );
    assert!(
        lists.len() >= (secs / 4).max(1) as usize,
        "the library listed the lot {} times in {secs} s",
        lists.len()
    );
    assert!(violations.is_empty(), "lists taken under load disagree with the recorder: {violations:#?}");
    assert!(resyncs.is_empty(), "no list taken under load finds a difference with the store: {resyncs:#?} (lists between the recorder's events {windows:?})");
    assert_eq!(store, truth_now, "the store ends equal to Asterisk's ParkedCalls");
}

/// One list the library took: the recorder's event count when it began and when it
/// ended (markers both connections' events are ordered by), and what it listed.
struct Listed {
    start: usize,
    end: usize,
    calls: Vec<(u32, String)>,
}

/// Lists the lot through the library every three seconds while `running` holds.
/// Before and after each list a `UserEvent` marker goes through Asterisk and the
/// recorder is waited for: what it recorded before the first marker happened before
/// Asterisk built the list, what happened before the list ended reached it before the
/// second.
async fn list_meanwhile(
    client: Client,
    rec: Arc<Mutex<Recorder>>,
    changed: Arc<Notify>,
    running: Arc<std::sync::atomic::AtomicBool>,
) -> Vec<Listed> {
    let mut marker = ami("off", |_| {}).await;
    let mut lists = Vec::new();
    let mut every = tokio::time::interval(Duration::from_secs(3));
    every.tick().await;
    let mut n = 0;
    while running.load(std::sync::atomic::Ordering::Relaxed) {
        every.tick().await;
        let mut mark = async |name: String| {
            let action = format!("Action: UserEvent\r\nUserEvent: {name}\r\n\r\n");
            marker.write_all(action.as_bytes()).await.unwrap();
            let seen = wait_until(&changed, Duration::from_secs(20), || {
                rec.lock().unwrap().marks.contains_key(&name)
            })
            .await;
            assert!(seen, "the recorder never saw the marker {name}");
            rec.lock().unwrap().marks[&name]
        };
        n += 1;
        let start = mark(format!("mark-{n}-start")).await;
        let calls = client.get_parked_calls(Some(LOT)).await.unwrap_or_else(|e| lost("a list under load", e));
        let end = mark(format!("mark-{n}-end")).await;
        let calls = calls.iter().map(|c| (c.parking_space, c.unique_id().to_string())).collect();
        lists.push(Listed { start, end, calls });
    }
    lists
}

/// Checks each list against the recorder. Returns the violations, how many listed
/// entries Asterisk had announced as retrieved before the list began, and how many
/// calls a list left out that were parked before it and untouched while it ran, whose
/// next event is their leave: Asterisk's list runs ahead of its events as well as
/// behind them (the call had left the lot; its leave was announced after the list,
/// seen once in many runs).
fn check_lists(rec: &Mutex<Recorder>, lists: &[Listed]) -> (Vec<String>, usize, usize) {
    let events = rec.lock().unwrap().events.clone();
    let mut violations = Vec::new();
    let mut stale = 0;
    let mut ahead = 0;
    for (n, l) in lists.iter().enumerate() {
        // Who held each space when the list began.
        let mut live: BTreeMap<u32, String> = BTreeMap::new();
        let mut left: BTreeMap<&str, &str> = BTreeMap::new();
        for (kind, space, uid) in &events[..l.start] {
            match *kind {
                "parked" | "swap" => {
                    live.insert(*space, uid.clone());
                    left.remove(uid.as_str());
                }
                _ => {
                    if live.get(space) == Some(uid) {
                        live.remove(space);
                    }
                    left.insert(uid, kind);
                }
            }
        }
        let window = &events[l.start..l.end];
        let touched = |space: u32, uid: &str| window.iter().any(|(_, s, u)| *s == space || u == uid);
        for (space, uid) in &live {
            if !touched(*space, uid) && !l.calls.contains(&(*space, uid.clone())) {
                // What the recorder heard of the call next, after the list.
                let next = events[l.end..].iter().enumerate().find(|(_, (_, _, u))| u == uid);
                match next {
                    Some((_, (kind, s, _))) if s == space && !matches!(*kind, "parked" | "swap") => ahead += 1,
                    next => violations.push(format!(
                        "list {n}: space {space} ({uid}) parked before the list and untouched, not listed; next heard of it after the list (events later, event): {next:?}"
                    )),
                }
            }
        }
        for (space, uid) in &l.calls {
            if live.get(space) == Some(uid) || touched(*space, uid) {
                continue;
            }
            match left.get(uid.as_str()) {
                Some(&"retrieved") => stale += 1,
                Some(kind) => {
                    violations.push(format!("list {n}: space {space} ({uid}) listed after its {kind}"))
                }
                None => {
                    violations.push(format!("list {n}: space {space} ({uid}) listed, never parked there"))
                }
            }
        }
    }
    (violations, stale, ahead)
}

/// Parks `calls` calls in one write and waits until the recorder saw them all;
/// returns the last caller number used.
async fn park_initial(
    act: &mut tokio::net::tcp::OwnedWriteHalf,
    rec: &Mutex<Recorder>,
    changed: &Notify,
    calls: u64,
) -> u64 {
    let first = 8_000_000u64;
    let batch: String = (1..=calls).map(|i| originate_park(first + i)).collect();
    act.write_all(batch.as_bytes()).await.unwrap();
    assert!(
        wait_until(changed, Duration::from_secs(120), || rec.lock().unwrap().live.len() as u64 == calls)
            .await,
        "Asterisk parked {} of {calls} calls",
        rec.lock().unwrap().live.len()
    );
    first + calls
}

/// The operations a run made, and how long it took.
#[derive(Default)]
struct Ops {
    reuses: u64,
    parks: u64,
    retrieves: u64,
    hangups: u64,
    elapsed: Duration,
}

impl Ops {
    fn total(&self) -> u64 {
        self.reuses + self.parks + self.retrieves + self.hangups
    }

    fn rate(&self) -> f64 {
        self.total() as f64 / self.elapsed.as_secs_f64()
    }
}

/// `secs` of operations at `rate` a second on the calls the recorder sees: a retrieve
/// and a park into the same space at once (the reorder's recipe), parks, retrieves and
/// hang-ups, keeping at least half of `calls` parked. Retrieved calls are hung up so
/// bridges do not pile up.
async fn operate(
    act: &mut tokio::net::tcp::OwnedWriteHalf,
    rec: &Mutex<Recorder>,
    mut caller: u64,
    calls: u64,
    secs: u64,
    rate: u64,
) -> Ops {
    let mut ops = Ops::default();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(secs) {
        tick.tick().await;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let (spaces, done): (Vec<(u32, String)>, Vec<String>) = {
            let mut r = rec.lock().unwrap();
            (r.live.iter().map(|(s, (_, c))| (*s, c.clone())).collect(), std::mem::take(&mut r.retrieved))
        };
        let mut out: String = done.iter().map(|c| hangup(c)).collect();
        let pick = (!spaces.is_empty()).then(|| spaces[(x >> 8) as usize % spaces.len()].clone());
        let few = (spaces.len() as u64) < calls / 2;
        match (x % 100, pick) {
            (_, Some((space, _))) if x % 100 < 35 && !few => {
                caller += 1;
                out += &originate_retrieve(space);
                out += &originate_park(caller);
                ops.reuses += 1;
            }
            (60..=79, Some((space, _))) if !few => {
                out += &originate_retrieve(space);
                ops.retrieves += 1;
            }
            (80.., Some((_, chan))) if !few => {
                out += &hangup(&chan);
                ops.hangups += 1;
            }
            _ => {
                caller += 1;
                out += &originate_park(caller);
                ops.parks += 1;
            }
        }
        act.write_all(out.as_bytes()).await.unwrap_or_else(|e| lost("an operation under load", e));
    }
    ops.elapsed = start.elapsed();
    ops
}

/// (differences, events Asterisk sent, events the library reported, calls Asterisk
/// holds) between the recorder and the library now.
/// (mismatches, events from Asterisk, events reported, calls live, (only from Asterisk, only reported)).
fn compare(
    rec: &Mutex<Recorder>,
    heard: &Mutex<Vec<ParkingEvent>>,
) -> (usize, usize, usize, usize, (Vec<Ev>, Vec<Ev>)) {
    let (mut sent, live) = {
        let r = rec.lock().unwrap();
        (r.events.clone(), r.live.len())
    };
    let mut got: Vec<Ev> = heard
        .lock()
        .unwrap()
        .iter()
        .filter(|e| *e.call().parking_lot == *LOT && e.kind() != "near_timeout")
        .map(|e| (e.kind(), e.call().parking_space, e.call().unique_id().to_string()))
        .collect();
    sent.sort();
    got.sort();
    let (only_sent, only_got) = unshared(&sent, &got);
    (only_sent.len() + only_got.len(), sent.len(), got.len(), live, (only_sent, only_got))
}

/// Entries of Asterisk's list the store lacks whose channel Asterisk announced as
/// retrieved and is not in the lot's parking bridge. (Seen at the end of a run:
/// `UnParkedCall`, the channel left the parking bridge for the retriever's, yet
/// `ParkedCalls` listed it for minutes.)
fn stale_entries(
    truth: &[(u32, String)],
    store: &[(u32, String)],
    rec: &Mutex<Recorder>,
) -> Vec<(u32, String)> {
    let in_bridge = parking_bridge_channels(LOT);
    let channel_of = |uid: &str| rec.lock().unwrap().channels.get(uid).cloned();
    truth
        .iter()
        .filter(|c| !store.contains(c))
        .filter(|(_, uid)| channel_of(uid).is_some_and(|ch| !in_bridge.contains(&ch)))
        .cloned()
        .collect()
}

/// The entries of two sorted lists that only one of them has: (only in `a`, only in `b`).
fn unshared(a: &[Ev], b: &[Ev]) -> (Vec<Ev>, Vec<Ev>) {
    let (mut i, mut j) = (0, 0);
    let (mut only_a, mut only_b) = (Vec::new(), Vec::new());
    while i < a.len() || j < b.len() {
        match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x == y => {
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) if x < y => {
                only_a.push(x.clone());
                i += 1;
            }
            (Some(x), None) => {
                only_a.push(x.clone());
                i += 1;
            }
            (_, Some(y)) => {
                only_b.push(y.clone());
                j += 1;
            }
            (None, None) => break,
        }
    }
    (only_a, only_b)
}

/// The channels in lot `lot`'s parking bridge now (Asterisk's CLI).
fn parking_bridge_channels(lot: &str) -> Vec<String> {
    let all = sandbox::cli("a", "bridge show all");
    let Some(id) = all.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() > 3 && f[1] == lot && f[3] == "parking").then(|| f[0].to_string())
    }) else {
        return Vec::new();
    };
    sandbox::cli("a", &format!("bridge show {id}"))
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Channel: ").map(|c| c.trim().to_string()))
        .collect()
}
