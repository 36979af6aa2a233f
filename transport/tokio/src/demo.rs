//! The embedded demo PBX: the reference model of res_parking behind a loopback AMI
//! port, making lifelike traffic (calls parked, retrieved, hanging up, timing out).
//! Like Asterisk, it serves any number of AMI clients at once, each seeing the same
//! PBX: each gets the answers to its own actions, and every logged-in client gets
//! every parking event.
//!
//! ```no_run
//! # async fn demo() {
//! use ami_parking_transport::demo::DemoPbx;
//! let pbx = DemoPbx::start(30.0).await.unwrap();      // about 30 events a minute
//! println!("connect to {}", pbx.url());                // tcp://amiuser:amisecret@127.0.0.1:PORT
//! # }
//! ```

use ami_parking::ami_codec::{encode_message, Decoded, Decoder};
use ami_parking::sim::{self, SimPbx, Wire};
use ami_parking::Message;
use ami_parking::Timestamp;
use rand::Rng;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::broadcast;

/// A running demo PBX (stops when dropped: it stops listening, its traffic stops
/// and its clients' connections close, as when a PBX goes away).
#[derive(Debug)]
pub struct DemoPbx {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
    /// Dropped with the demo: every client's session then ends.
    _stop: tokio::sync::watch::Sender<()>,
    made: Arc<std::sync::atomic::AtomicU64>,
    paused: Arc<std::sync::atomic::AtomicBool>,
    pbx: Arc<Mutex<SimPbx>>,
}

impl Drop for DemoPbx {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn now() -> Timestamp {
    crate::now()
}

impl DemoPbx {
    /// Starts the demo on a free loopback port with the sandbox's lots (`default`
    /// 701-720 45 s, `vip` 801-810 5 s), about `events_per_minute` changes a minute, a
    /// few calls parked from the start.
    pub async fn start(events_per_minute: f64) -> std::io::Result<DemoPbx> {
        Self::start_with(events_per_minute, false).await
    }

    /// Like [`start`](DemoPbx::start); with `timestamps`, live parking events carry
    /// Asterisk's `Timestamp` header (`timestampevents = yes`), for delay measurements.
    pub async fn start_with(events_per_minute: f64, timestamps: bool) -> std::io::Result<DemoPbx> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let mut sim = SimPbx::sandbox(Wire::Ami);
        sim.set_timestamp_events(timestamps);
        // The model has one client per server: the demo is that client, logged in for
        // good, and shares out what the model writes (see `serve`).
        sim.connect_client(1);
        sim.handle_client_bytes(now(), 1, b"Action: Login\r\nUsername: amiuser\r\nSecret: amisecret\r\n\r\n");
        let _ = sim.take_output(1);
        let pbx = Arc::new(Mutex::new(sim));
        let (events, _) = broadcast::channel(EVENT_QUEUE);
        {
            let mut p = pbx.lock().unwrap_or_else(|e| e.into_inner());
            let t = now();
            for (i, num) in ["5551001", "5551002", "5551003"].iter().enumerate() {
                let t = t.saturating_sub(Duration::from_secs(5 * (3 - i as u64)));
                let _ = p.park(t, 1, num, &format!("Customer {num}"), "default", None);
            }
            seat_callers(&mut p);
        }
        // The calls parked before any client connects count as made now.
        let initial = pbx.lock().unwrap_or_else(|e| e.into_inner()).take_changes().len() as u64;
        let made = Arc::new(std::sync::atomic::AtomicU64::new(initial));
        let paused = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let _ = pbx.lock().unwrap_or_else(|e| e.into_inner()).take_output(1);
        let traffic = tokio::spawn(traffic(
            pbx.clone(),
            events.clone(),
            if events_per_minute.is_nan() { 1.0 } else { events_per_minute.clamp(1.0, MAX_RATE) },
            made.clone(),
            paused.clone(),
        ));
        let (stop, stopped) = tokio::sync::watch::channel(());
        let task = {
            let pbx = pbx.clone();
            tokio::spawn(async move {
                let _traffic = AbortOnDrop(traffic);
                let mut next_client = 0u64;
                loop {
                    match listener.accept().await {
                        Ok((sock, _)) => {
                            next_client += 1;
                            tokio::spawn(serve(
                                sock,
                                next_client,
                                pbx.clone(),
                                events.clone(),
                                stopped.clone(),
                            ));
                        }
                        // Out of descriptors or a reset before accept: wait, go on.
                        Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                    }
                }
            })
        };
        Ok(DemoPbx { addr, task, _stop: stop, made, paused, pbx })
    }

    /// The servers an app was given, or, when it was given none, the options of a
    /// demo PBX started here (about `events_per_minute` changes a minute), with the
    /// demo's handle: keep it for as long as the app runs. Every app's fallback.
    ///
    /// ```no_run
    /// # async fn demo() -> std::io::Result<()> {
    /// use ami_parking_transport::{demo::DemoPbx, Client};
    /// let (servers, demo) = DemoPbx::unless_servers(Vec::new(), 30.0).await?;
    /// assert!(demo.is_some());
    /// let client = Client::connect_all(servers, Default::default()).expect("one server");
    /// # drop(client); Ok(()) }
    /// ```
    pub async fn unless_servers(
        servers: Vec<crate::ClientOptions>,
        events_per_minute: f64,
    ) -> std::io::Result<(Vec<crate::ClientOptions>, Option<DemoPbx>)> {
        if !servers.is_empty() {
            return Ok((servers, None));
        }
        let pbx = DemoPbx::start(events_per_minute).await?;
        let endpoint = pbx.url().parse().map_err(|e| std::io::Error::other(format!("{e}")))?;
        Ok((vec![crate::ClientOptions::new(endpoint)], Some(pbx)))
    }

    /// The AMI URL of the demo (test-only credentials on loopback).
    pub fn url(&self) -> String {
        format!("tcp://amiuser:amisecret@{}", self.addr)
    }

    /// Parking changes the demo has made so far (each is one parking event a client
    /// hears: parked, retrieved, timed out, gave up).
    pub fn changes_made(&self) -> u64 {
        self.made.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Stops (`true`) or resumes the traffic; calls stay parked meanwhile. When
    /// `pause(true)` returns, no change is being made: a tick that had started has
    /// finished and is counted in [`changes_made`](Self::changes_made).
    pub fn pause(&self, paused: bool) {
        // The traffic reads the flag under the lock, so setting it under the lock
        // waits out a tick in progress.
        let _p = self.pbx.lock().unwrap_or_else(|e| e.into_inner());
        self.paused.store(paused, std::sync::atomic::Ordering::SeqCst);
    }

    /// What the demo holds now: (lot, space, unique id) of every parked call, sorted.
    pub fn truth(&self) -> Vec<(String, u32, String)> {
        let p = self.pbx.lock().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<_> = p.calls(1).into_iter().map(|c| (c.lot, c.space, c.unique_id)).collect();
        v.sort();
        v
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);
impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The most changes a minute the demo makes (a million: ample for load tests; an
/// absurd rate, even infinite, is held to this).
pub const MAX_RATE: f64 = 1_000_000.0;

/// A demo rate as a person gives it (`--demo-rate`, a config file): changes a minute,
/// 1 to [`MAX_RATE`]. Anything else is refused with what to write instead (the demo
/// itself would quietly take the nearest rate it can make).
///
/// ```
/// use ami_parking_transport::demo::parse_rate;
/// assert_eq!(parse_rate("30"), Ok(30.0));
/// assert!(parse_rate("0").unwrap_err().contains("1 to 1000000"));
/// ```
pub fn parse_rate(s: &str) -> Result<f64, String> {
    let rate: f64 = s.trim().parse().map_err(|_| format!("`{s}` is not a number of changes a minute"))?;
    check_rate(rate)
}

/// [`parse_rate`] of a number already read (a config file's).
pub fn check_rate(rate: f64) -> Result<f64, String> {
    if (1.0..=MAX_RATE).contains(&rate) {
        Ok(rate)
    } else {
        Err(format!("{rate} changes a minute is out of range: 1 to 1000000"))
    }
}

/// What the model wrote, queued for every client; a client this far behind is cut
/// off (as Asterisk drops a client that does not read).
const EVENT_QUEUE: usize = 4096;

/// What the model wrote for everyone: parking events (and, from the traffic, all of
/// its output), with the client whose action caused them (it has them already).
#[derive(Clone)]
struct Shared {
    from: Option<u64>,
    bytes: Arc<[u8]>,
}

/// The parking events every logged-in client hears; everything else the model writes
/// while handling one client's actions (answers, list items, `FullyBooted` after its
/// login) is that client's alone.
const EVERYONE: [&[u8]; 5] = [
    b"Event: ParkedCall\r\n",
    b"Event: UnParkedCall\r\n",
    b"Event: ParkedCallTimeOut\r\n",
    b"Event: ParkedCallGiveUp\r\n",
    b"Event: ParkedCallSwap\r\n",
];

/// Splits what the model wrote into (this client's, everyone's).
fn split_output(out: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let (mut mine, mut all) = (Vec::new(), Vec::new());
    let mut rest = out;
    while !rest.is_empty() {
        let end = rest.windows(4).position(|w| w == b"\r\n\r\n").map_or(rest.len(), |i| i + 4);
        let (block, tail) = rest.split_at(end);
        let shared = EVERYONE.iter().any(|e| block.starts_with(e))
            && !block.windows(10).any(|w| w.eq_ignore_ascii_case(b"\nActionID:"));
        if shared {
            all.extend_from_slice(block)
        } else {
            mine.extend_from_slice(block)
        }
        rest = tail;
    }
    (mine, all)
}

/// An AMI action the demo takes from one client: 64 KiB (no parking action is near).
const MAX_ACTION: usize = 64 * 1024;

/// One client's session: its own login (the model's client is the demo, logged in for
/// good), so one client's wrong secret or Logoff touches no other.
#[derive(Default)]
struct Session {
    logged_in: bool,
    bye: bool,
}

impl Session {
    /// Takes one action: a session action (Challenge, Login, Logoff) is answered here
    /// into `mine`; before a login anything else is refused; after it, the action goes
    /// to the model (`to_model`).
    fn take(&mut self, a: &Message, mine: &mut Vec<u8>, to_model: &mut Vec<u8>) {
        let aid = a.get_str("ActionID").map(|v| v.into_owned());
        let aid = aid.as_deref();
        let name = a.get_str("Action").unwrap_or_default().to_ascii_lowercase();
        let answer = |pairs: &[(&str, &str)], mine: &mut Vec<u8>| {
            let _ = encode_message(&sim::wire::response(aid, pairs), mine);
        };
        match name.as_str() {
            "challenge" => answer(&[("Response", "Success"), ("Challenge", sim::CHALLENGE)], mine),
            "login" if sim::login_accepted(a) => {
                self.logged_in = true;
                answer(&[("Response", "Success"), ("Message", "Authentication accepted")], mine);
                let _ = encode_message(&sim::fully_booted(), mine);
            }
            "login" => {
                self.logged_in = false;
                answer(&[("Response", "Error"), ("Message", "Authentication failed")], mine);
            }
            "logoff" => {
                self.bye = true;
                answer(&[("Response", "Goodbye"), ("Message", "Thanks for all the fish.")], mine);
            }
            _ if !self.logged_in => answer(&[("Response", "Error"), ("Message", "Permission denied")], mine),
            _ => {
                let _ = encode_message(a, to_model);
            }
        }
    }
}

/// Queues what the model wrote for every client (`from`: the client whose actions
/// caused it, which has it already); nothing when there is nothing.
fn publish(events: &broadcast::Sender<Shared>, from: Option<u64>, bytes: &[u8]) {
    if !bytes.is_empty() {
        let _ = events.send(Shared { from, bytes: bytes.into() });
    }
}

/// Client `me`'s actions through the model: (its answers, everyone's events they
/// caused). What the traffic wrote before them is queued for everyone first.
fn through_model(
    pbx: &Mutex<SimPbx>,
    events: &broadcast::Sender<Shared>,
    me: u64,
    actions: &[u8],
) -> (Vec<u8>, Vec<u8>) {
    let mut p = pbx.lock().unwrap_or_else(|e| e.into_inner());
    publish(events, None, &p.take_output(1));
    p.handle_client_bytes(now(), 1, actions);
    let (answers, shared) = split_output(&p.take_output(1));
    publish(events, Some(me), &shared);
    (answers, shared)
}

impl Session {
    /// What of `shared` client `me` is sent: events once it is logged in, except those
    /// its own actions caused (it got them with its answers).
    fn hears<'a>(&self, shared: &'a Shared, me: u64) -> Option<&'a [u8]> {
        (self.logged_in && shared.from != Some(me)).then_some(&*shared.bytes)
    }
}

/// One AMI client, beside any others.
async fn serve(
    mut sock: tokio::net::TcpStream,
    me: u64,
    pbx: Arc<Mutex<SimPbx>>,
    events: broadcast::Sender<Shared>,
    mut stopped: tokio::sync::watch::Receiver<()>,
) {
    let mut heard = events.subscribe();
    if sock.write_all(b"Asterisk Call Manager/11.0.0\r\n").await.is_err() {
        return;
    }
    let mut session = Session::default();
    let mut decoder = Decoder::with_max_message_bytes(MAX_ACTION).without_banner();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        tokio::select! {
            n = sock.read(&mut buf) => match n {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    // Whole actions only; one too long or not AMI ends the client.
                    let mut actions = Vec::new();
                    let read = decoder.decode(&buf[..n], |d| {
                        if let Decoded::Message(m) = d {
                            actions.push(m.to_message());
                        }
                    });
                    if read.is_err() {
                        return;
                    }
                    if actions.is_empty() {
                        continue;
                    }
                    let (mut mine, mut to_model) = (Vec::new(), Vec::new());
                    for a in &actions {
                        if !session.bye {
                            session.take(a, &mut mine, &mut to_model);
                        }
                    }
                    let mut all = Vec::new();
                    if !to_model.is_empty() {
                        let (answers, shared) = through_model(&pbx, &events, me, &to_model);
                        mine.extend_from_slice(&answers);
                        all = shared;
                    }
                    // Events queued before these actions were handled go out first.
                    loop {
                        match heard.try_recv() {
                            Ok(shared) => {
                                if let Some(bytes) = session.hears(&shared, me) {
                                    if sock.write_all(bytes).await.is_err() {
                                        return;
                                    }
                                }
                            }
                            Err(broadcast::error::TryRecvError::Empty) => break,
                            Err(_) => return,
                        }
                    }
                    // In the order written: this client's answers, then everyone's events.
                    mine.extend_from_slice(&all);
                    if sock.write_all(&mine).await.is_err() || session.bye {
                        return;
                    }
                }
            },
            got = heard.recv() => match got {
                Ok(shared) => {
                    if let Some(bytes) = session.hears(&shared, me) {
                        if sock.write_all(bytes).await.is_err() {
                            return;
                        }
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) | Err(broadcast::error::RecvError::Closed) => return,
            },
            // The demo was dropped: its clients see the PBX go away (found by a
            // review: they stayed logged in, and answered, after the drop).
            _ = stopped.changed() => return,
        }
    }
}

/// Makes about `per_minute` changes a minute: at low rates one at a jittered gap; at
/// high rates (load tests: 60,000 a minute) in batches every few milliseconds, as many
/// as the elapsed time owes, so the rate holds whatever the timer's resolution.
async fn traffic(
    pbx: Arc<Mutex<SimPbx>>,
    events: broadcast::Sender<Shared>,
    per_minute: f64,
    made: Arc<std::sync::atomic::AtomicU64>,
    paused: Arc<std::sync::atomic::AtomicBool>,
) {
    let mut next_caller = 5552000u32;
    let start = std::time::Instant::now();
    let mut done = 0u64;
    loop {
        let gap = (60.0 / per_minute * rand::thread_rng().gen_range(0.5..1.5)).max(0.005);
        let deadline = pbx.lock().unwrap_or_else(|e| e.into_inner()).next_deadline();
        let until_deadline =
            deadline.map(|d| d.saturating_duration_since(now()).as_secs_f64()).unwrap_or(f64::MAX);
        tokio::time::sleep(Duration::from_secs_f64(gap.min(until_deadline + 0.05))).await;
        {
            let mut p = pbx.lock().unwrap_or_else(|e| e.into_inner());
            if paused.load(std::sync::atomic::Ordering::SeqCst) {
                // Owe nothing for the paused time.
                done = (start.elapsed().as_secs_f64() * per_minute / 60.0) as u64;
                continue;
            }
            let t = now();
            p.advance(t);
            let due = (start.elapsed().as_secs_f64() * per_minute / 60.0) as u64;
            for _ in done..due {
                change(&mut p, t, &mut next_caller);
            }
            done = done.max(due);
            seat_callers(&mut p);
            // The log is drained, so a demo running for days does not grow.
            let n = p.take_changes().len() as u64;
            made.fetch_add(n, std::sync::atomic::Ordering::SeqCst);
            publish(&events, None, &p.take_output(1));
        }
    }
}

/// The phones the demo keeps a caller on the line with, so that parking "my caller"
/// (the board's button, `parkwatch park --caller-of`) has one to park.
pub const DESK_PHONES: [&str; 2] = ["PJSIP/1001", "PJSIP/1002"];

/// A new caller on the line with each of [`DESK_PHONES`] that has none (the last was
/// parked): numbers 5553001 and up.
fn seat_callers(p: &mut SimPbx) {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(5553001);
    let on_line = p.desk_calls(1);
    for phone in DESK_PHONES {
        if !on_line.iter().any(|(ph, _)| ph == phone) {
            let num = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let _ = p.connect_caller(1, phone, &num.to_string());
        }
    }
}

/// One lifelike change: a new call parked, or one retrieved, or one hanging up.
fn change(p: &mut SimPbx, t: Timestamp, next_caller: &mut u32) {
    let calls = p.calls(1);
    let mut rng = rand::thread_rng();
    let r: f64 = rng.gen();
    if calls.len() < 4 || (calls.len() < 12 && r < 0.45) {
        *next_caller += 1;
        let lot = if rng.gen_bool(0.2) { "vip" } else { "default" };
        let num = next_caller.to_string();
        let _ = p.park(t, 1, &num, &format!("Customer {num}"), lot, None);
    } else if let Some(c) = calls.get(rng.gen_range(0..calls.len().max(1))) {
        if r < 0.85 {
            let _ = p.retrieve(t, 1, &c.lot, c.space, "1002");
        } else {
            let _ = p.give_up(t, 1, &c.lot, c.space);
        }
    }
}
