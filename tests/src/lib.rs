//! Shared helpers of the ami-parking test suite: loading the real captures in
//! `testdata/`, mapping their recorded actions to core requests, and replaying them
//! through a [`Connection`] with any chunking and clock.

#![allow(missing_docs)]

use ami_parking::ami_codec::{Decoded, Decoder};
use ami_parking::sim::{wire as sim_wire, Findslot, SimCall, SimLot};
use ami_parking::{
    Connection, ConnectionConfig, Message, Output, ParkingOptions, ParkingStore, Request, Target, Timestamp,
};
use std::path::PathBuf;
use std::time::Duration;

pub mod sandbox;

/// The README's Rust examples, compiled as doc tests so they stay true.
#[doc = include_str!("../../README.md")]
mod readme {}

/// The repository's `testdata/` directory.
pub fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata")
}

/// The TCP captures, by name.
pub const TCP_CAPTURES: [&str; 4] =
    ["lists-park-retrieve-timeout", "park-action-errors-giveup", "dial-then-park", "timed-lists-and-timeout"];
/// The amiws captures, by name.
pub const AMIWS_CAPTURES: [&str; 2] =
    ["two-servers-lists-park-retrieve-timeout", "park-action-giveup-utf8-restart"];

/// A raw AMI capture: what the client received and sent.
pub struct TcpCapture {
    pub name: String,
    pub rx: Vec<u8>,
    pub tx: Vec<u8>,
    /// `(ms since connect, byte offset, byte count)` when a `.times` file exists.
    pub times: Option<Vec<(u64, usize, usize)>>,
}

impl TcpCapture {
    pub fn load(name: &str) -> Self {
        let dir = testdata().join("asterisk-22-tcp");
        let rx = std::fs::read(dir.join(format!("{name}.rx"))).expect("rx capture");
        let tx = std::fs::read(dir.join(format!("{name}.tx"))).expect("tx capture");
        let times = std::fs::read_to_string(dir.join(format!("{name}.times"))).ok().map(|t| {
            t.lines()
                .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
                .map(|l| {
                    let v: Vec<u64> = l.split_whitespace().map(|x| x.parse().unwrap()).collect();
                    (v[0], v[1] as usize, v[2] as usize)
                })
                .collect()
        });
        Self { name: name.into(), rx, tx, times }
    }

    /// The actions the client sent, in order.
    pub fn actions(&self) -> Vec<Message> {
        let mut d = Decoder::new().without_banner();
        let mut out = Vec::new();
        d.decode(&self.tx, |i| {
            if let Decoded::Message(m) = i {
                out.push(m.to_message())
            }
        })
        .unwrap();
        out
    }

    /// Byte offset of every message start in `rx`, with the message.
    pub fn message_offsets(&self) -> Vec<(usize, Message)> {
        let mut d = Decoder::new();
        let base = self.rx.as_ptr() as usize;
        let mut out = Vec::new();
        d.decode(&self.rx, |i| {
            if let Decoded::Message(m) = i {
                out.push((m.as_bytes().as_ptr() as usize - base, m.to_message()));
            }
        })
        .unwrap();
        out
    }
}

/// One line of an amiws capture.
#[derive(Debug, Clone)]
pub enum AmiwsLine {
    /// A frame the client sent, as the action's headers (arrays repeated), with the
    /// `AMIServerID` it named.
    Sent(Message, Option<u32>),
    /// A frame received, as bytes.
    Frame(Vec<u8>),
}

pub fn load_amiws(name: &str) -> Vec<AmiwsLine> {
    let path = testdata().join("amiws-2.2").join(format!("{name}.jsonl"));
    let bytes = std::fs::read(path).expect("amiws capture");
    bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| match l.strip_prefix(b">>> ") {
            Some(sent) => {
                let (m, server) = ami_parking::amiws::decode_action_frame(sent).expect("sent frame");
                AmiwsLine::Sent(m, server)
            }
            None => AmiwsLine::Frame(l.to_vec()),
        })
        .collect()
}

/// Maps a recorded action to the core request that sends the same thing.
pub fn request_for(action: &Message) -> Request {
    let name = action.get_str("Action").unwrap_or_default().to_ascii_lowercase();
    let get = |k: &str| action.get_str(k).map(|v| v.into_owned());
    match name.as_str() {
        "parkinglots" => Request::ParkingLots,
        "parkedcalls" => Request::ParkedCalls { lot: get("ParkingLot") },
        "park" => Request::Park {
            channel: get("Channel").unwrap_or_default(),
            park: ami_parking::Park {
                lot: get("Parkinglot"),
                space: get("ParkingSpace").and_then(|s| s.parse().ok()),
                timeout: match get("Timeout").and_then(|t| t.parse::<u64>().ok()) {
                    None => ami_parking::ParkTimeout::Lot,
                    Some(0) => ami_parking::ParkTimeout::Never,
                    Some(ms) => ami_parking::ParkTimeout::After(Duration::from_millis(ms)),
                },
            },
        },
        "originate" if action.is("Application", "ParkedCall") => {
            let data = get("Data").unwrap_or_default();
            let (lot, space) = data.split_once(',').unwrap_or(("default", &data));
            Request::Retrieve {
                space: space.parse().unwrap_or(0),
                to_channel: get("Channel").unwrap_or_default(),
                lot: Some(lot.to_owned()),
            }
        }
        "coreshowchannels" => Request::List {
            action: to_action(action),
            complete_event: Some("CoreShowChannelsComplete".into()),
        },
        _ => Request::Action(to_action(action)),
    }
}

fn to_action(m: &Message) -> ami_parking::Action {
    let mut a = ami_parking::Action::new(m.get_str("Action").unwrap_or_default());
    for (k, v) in m.iter() {
        if k.eq_ignore_ascii_case(b"Action") || k.eq_ignore_ascii_case(b"ActionID") {
            continue;
        }
        a.push(String::from_utf8_lossy(k), String::from_utf8_lossy(v));
    }
    a
}

/// Everything a replay produced.
#[derive(Debug, Default)]
pub struct Replay {
    pub outputs: Vec<Output>,
    /// `(ActionID, output)` for every reply, in order.
    pub replies: Vec<(String, Output)>,
}

impl Replay {
    pub fn parking_events(&self) -> Vec<&ami_parking::ParkingEvent> {
        self.outputs
            .iter()
            .filter_map(|o| match o {
                Output::Parking(e) => Some(e),
                _ => None,
            })
            .collect()
    }
    pub fn reply(&self, action_id: &str) -> &Output {
        &self
            .replies
            .iter()
            .find(|(a, _)| a == action_id)
            .unwrap_or_else(|| panic!("no reply for {action_id}"))
            .1
    }
}

/// Options for replays: no auto refresh (the capture's own actions are replayed).
pub fn replay_options() -> ParkingOptions {
    ParkingOptions::default().auto_refresh(false)
}

/// Replays a TCP capture. `cuts` are extra byte offsets where chunks end; the
/// clock gives the time at a byte offset.
pub fn replay_tcp(
    cap: &TcpCapture,
    cuts: &[usize],
    clock: &dyn Fn(usize) -> Timestamp,
) -> (Connection, Replay) {
    replay_tcp_with(cap, cuts, clock, &mut |_, _, _| {})
}

/// [`replay_tcp`] with a hook called for every output, with the connection and the
/// time it was produced at.
pub fn replay_tcp_with(
    cap: &TcpCapture,
    cuts: &[usize],
    clock: &dyn Fn(usize) -> Timestamp,
    hook: &mut dyn FnMut(&Connection, Timestamp, &Output),
) -> (Connection, Replay) {
    let mut cfg = ConnectionConfig::ami("amiuser", "amisecret");
    cfg.keepalive_interval = Duration::ZERO;
    cfg.request_timeout = Duration::from_secs(3600);
    let t0 = clock(0);
    let mut conn = Connection::with_store(cfg, ParkingStore::new(replay_options()), t0);
    let actions = cap.actions();
    let offsets = cap.message_offsets();
    // Each action is issued just before the first received message carrying its ActionID.
    let mut issue: Vec<(usize, Message)> = Vec::new();
    let mut login_id = None;
    for a in &actions {
        let aid = a.get_str("ActionID").unwrap().into_owned();
        if a.is("Action", "Login") {
            login_id = Some(aid);
            continue;
        }
        let at = offsets
            .iter()
            .find(|(_, m)| m.action_id() == Some(aid.as_bytes()))
            .map(|(o, _)| *o)
            .unwrap_or(cap.rx.len());
        issue.push((at, a.clone()));
    }
    conn.handle_connected_with_login_id(t0, login_id.as_deref().unwrap_or("1"));
    let mut bounds: Vec<usize> = cuts.iter().copied().chain(issue.iter().map(|(o, _)| *o)).collect();
    bounds.push(cap.rx.len());
    bounds.sort_unstable();
    bounds.dedup();
    let mut replay = Replay::default();
    let mut ids: Vec<(ami_parking::RequestId, String)> = Vec::new();
    let mut pos = 0;
    for end in bounds {
        for (at, a) in issue.iter().filter(|(at, _)| *at == pos) {
            let _ = at;
            let aid = a.get_str("ActionID").unwrap().into_owned();
            let id = conn
                .request_with_action_id(clock(pos), request_for(a), Target::All, &aid)
                .unwrap_or_else(|e| panic!("{}: request {aid} refused: {e}", cap.name));
            ids.push((id, aid));
        }
        if end > pos {
            conn.handle_input(clock(end), &cap.rx[pos..end]).expect("input");
        }
        let first = replay.outputs.len();
        drain(&mut conn, &ids, &mut replay);
        for o in &replay.outputs[first..] {
            hook(&conn, clock(end), o);
        }
        pos = end;
    }
    (conn, replay)
}

fn drain(conn: &mut Connection, ids: &[(ami_parking::RequestId, String)], replay: &mut Replay) {
    while conn.poll_transmit().is_some() {}
    while let Some(o) = conn.poll_output() {
        if let Output::Reply { id, .. } = &o {
            let aid = ids.iter().find(|(i, _)| i == id).map(|(_, a)| a.clone()).unwrap_or_default();
            replay.replies.push((aid, o.clone()));
        }
        replay.outputs.push(o);
    }
}

/// Replays an amiws capture frame by frame at time `now`.
pub fn replay_amiws(name: &str, now: Timestamp) -> (Connection, Replay) {
    let mut cfg = ConnectionConfig::amiws();
    cfg.request_timeout = Duration::from_secs(3600);
    let mut conn = Connection::with_store(cfg, ParkingStore::new(replay_options()), now);
    conn.handle_connected(now);
    let mut replay = Replay::default();
    let mut ids = Vec::new();
    for line in load_amiws(name) {
        match line {
            AmiwsLine::Sent(action, server) => {
                let aid = action.get_str("ActionID").unwrap().into_owned();
                let target = server.map(Target::Server).unwrap_or(Target::All);
                match conn.request_with_action_id(now, request_for(&action), target, &aid) {
                    Ok(id) => ids.push((id, aid)),
                    Err(e) => panic!("{name}: request {aid} refused: {e}"),
                }
            }
            AmiwsLine::Frame(f) => conn.handle_frame(now, &f).expect("frame"),
        }
        drain(&mut conn, &ids, &mut replay);
    }
    (conn, replay)
}

/// Random cut points (deterministic from `seed`) with chunks of 1..=max bytes.
pub fn random_cuts(len: usize, seed: u64, max: usize) -> Vec<usize> {
    let mut x = seed | 1;
    let mut cuts = Vec::new();
    let mut pos = 0;
    while pos < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        pos += 1 + (x as usize % max);
        cuts.push(pos.min(len));
    }
    cuts
}

/// Every byte its own chunk.
pub fn byte_cuts(len: usize) -> Vec<usize> {
    (1..=len).collect()
}

/// Splits `data` at `cuts` (for decoder-only tests).
pub fn chunks<'a>(data: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut pos = 0;
    for &c in cuts.iter().chain(std::iter::once(&data.len())) {
        if c > pos {
            out.push(&data[pos..c]);
            pos = c;
        }
    }
    out
}

/// Decodes `data` split at `cuts` into (banners, messages).
pub fn decode_chunked(data: &[u8], cuts: &[usize]) -> (Vec<Vec<u8>>, Vec<Message>) {
    let mut d = Decoder::new();
    let mut banners = Vec::new();
    let mut msgs = Vec::new();
    for c in chunks(data, cuts) {
        d.decode(c, |i| match i {
            Decoded::Banner(b) => banners.push(b.line.to_vec()),
            Decoded::Message(m) => msgs.push(m.to_message()),
        })
        .unwrap();
    }
    (banners, msgs)
}

/// A connection driven by hand with wire text shaped exactly like the captures.
pub struct Wire {
    pub conn: Connection,
    pub now: Timestamp,
    pub outputs: Vec<Output>,
}

/// A call as the hand-made tests describe it, parked `elapsed` seconds before
/// `now` with `remaining` seconds left.
fn call(
    lot: &str,
    space: u32,
    uid: &str,
    channel: &str,
    caller: &str,
    remaining: u64,
    elapsed: u64,
) -> (SimCall, Timestamp) {
    let now = Timestamp::from_unix_millis(1_000_000_000);
    let mut c = SimCall::example(lot, space, uid, caller, now.saturating_sub(Duration::from_secs(elapsed)));
    c.channel = channel.into();
    c.deadline = Some(now + Duration::from_secs(remaining));
    (c, now)
}

/// The parkee block and parking tail Asterisk 22 writes (the model's builders), as text.
pub fn parkee_block(
    lot: &str,
    space: u32,
    uid: &str,
    channel: &str,
    caller: &str,
    remaining: u64,
    elapsed: u64,
) -> String {
    let (c, now) = call(lot, space, uid, channel, caller, remaining, elapsed);
    let mut m = Message::new();
    sim_wire::parkee_block(&mut m, &c);
    sim_wire::parking_tail(&mut m, &c, now);
    sim_wire::to_text(&[m]).trim_end_matches("\r\n").to_string() + "\r\n"
}

/// A live parking event (`Privilege: call,all`, no ActionID), 45 s left.
pub fn live_event(event: &str, lot: &str, space: u32, uid: &str, caller: &str) -> String {
    let (c, now) = call(lot, space, uid, &format!("Local/s@hold-{uid};1"), caller, 45, 0);
    sim_wire::to_text(&[sim_wire::live_event(event, &c, now, None)])
}

/// A `ParkedCall` list item (no Privilege, ActionID last).
pub fn list_item(
    action_id: &str,
    lot: &str,
    space: u32,
    uid: &str,
    caller: &str,
    remaining: u64,
    elapsed: u64,
) -> String {
    let (c, now) = call(lot, space, uid, &format!("Local/s@hold-{uid};1"), caller, remaining, elapsed);
    sim_wire::to_text(&[sim_wire::list_item(Some(action_id), &c, now)])
}

/// A whole `ParkedCalls` answer; each call has 42 s left and was parked 3 s ago.
pub fn parked_calls_answer(action_id: &str, items: &[(&str, u32, &str, &str)]) -> String {
    let calls: Vec<(SimCall, Timestamp)> = items
        .iter()
        .map(|(lot, space, uid, caller)| {
            call(lot, *space, uid, &format!("Local/s@hold-{uid};1"), caller, 42, 3)
        })
        .collect();
    let now = calls.first().map(|c| c.1).unwrap_or_default();
    let calls: Vec<SimCall> = calls.into_iter().map(|c| c.0).collect();
    sim_wire::to_text(&sim_wire::parked_calls_answer(Some(action_id), &calls, now))
}

/// A whole `Parkinglots` answer for lots `(name, start, stop, timeout)`.
pub fn parking_lots_answer(action_id: &str, lots: &[(&str, u32, u32, u32)]) -> String {
    let lots: Vec<SimLot> =
        lots.iter().map(|(n, a, b, t)| SimLot::new(n, *a, *b, u64::from(*t), Findslot::Next)).collect();
    sim_wire::to_text(&sim_wire::parking_lots_answer(Some(action_id), &lots))
}

impl Wire {
    /// A raw AMI connection, logged in. With `auto_refresh` on, the initial
    /// Parkinglots and ParkedCalls are left unanswered for the test to answer.
    pub fn ami(options: ParkingOptions) -> Self {
        let now = Timestamp::from_unix_millis(1_795_667_000_000);
        let cfg = ConnectionConfig::ami("amiuser", "amisecret");
        let mut w = Wire {
            conn: Connection::with_store(cfg, ParkingStore::new(options), now),
            now,
            outputs: Vec::new(),
        };
        w.connect_and_log_in();
        w
    }

    /// Opens the link, reads the banner and answers the Login with success.
    pub fn connect_and_log_in(&mut self) {
        self.conn.handle_connected(self.now);
        self.feed("Asterisk Call Manager/11.0.0\r\n");
        let login = self.sent().pop().expect("login sent");
        assert!(login.is("Action", "Login"));
        let aid = login.get_str("ActionID").unwrap().into_owned();
        self.feed(&format!(
            "Response: Success\r\nActionID: {aid}\r\nMessage: Authentication accepted\r\n\r\n"
        ));
    }

    /// An amiws connection (open = logged in).
    pub fn amiws(options: ParkingOptions) -> Self {
        let now = Timestamp::from_unix_millis(1_795_667_000_000);
        let cfg = ConnectionConfig::amiws();
        let mut w = Wire {
            conn: Connection::with_store(cfg, ParkingStore::new(options), now),
            now,
            outputs: Vec::new(),
        };
        w.conn.handle_connected(now);
        w
    }

    /// Feeds raw AMI text.
    pub fn feed(&mut self, text: &str) {
        self.conn.handle_input(self.now, text.as_bytes()).expect("input");
        self.collect();
    }

    /// Feeds one amiws frame with `data` given as `(key, value)` pairs.
    pub fn frame(&mut self, server: u32, pairs: &[(&str, &str)]) {
        self.feed_frame(server, &Message::from_pairs(pairs.iter().copied()));
        self.collect();
    }

    /// Converts AMI text messages to amiws frames from `server` and feeds them.
    pub fn frame_text(&mut self, server: u32, text: &str) {
        let mut d = Decoder::new().without_banner();
        let mut msgs = Vec::new();
        d.decode(text.as_bytes(), |i| {
            if let Decoded::Message(m) = i {
                msgs.push(m.to_message())
            }
        })
        .unwrap();
        for m in msgs {
            self.feed_frame(server, &m);
        }
        self.collect();
    }

    fn feed_frame(&mut self, server: u32, m: &Message) {
        let mut out = Vec::new();
        let kind = ami_parking::amiws::FrameType::of(m);
        ami_parking::amiws::write_frame(kind, server, &format!("pbx-{server}"), m, &mut out);
        self.conn.handle_frame(self.now, &out).expect("frame");
    }

    /// Moves the clock and lets timers fire; the link must stay alive (a test that
    /// expects it to die calls `handle_timeout` itself).
    pub fn advance(&mut self, d: Duration) {
        self.now = self.now + d;
        if let Err(e) = self.conn.handle_timeout(self.now) {
            panic!("the link died at {:?}: {e}", self.now);
        }
        self.collect();
    }

    fn collect(&mut self) {
        while let Some(o) = self.conn.poll_output() {
            self.outputs.push(o);
        }
    }

    /// Every action transmitted since the last call, decoded.
    pub fn sent(&mut self) -> Vec<Message> {
        let mut out = Vec::new();
        while let Some(b) = self.conn.poll_transmit() {
            if self.conn.config().mode == ami_parking::Mode::Amiws {
                let (mut m, server) = ami_parking::amiws::decode_action_frame(&b).expect("sent frame");
                if let Some(s) = server {
                    m.push(b"AMIServerID", s.to_string().as_bytes());
                }
                out.push(m);
            } else {
                let mut d = Decoder::new().without_banner();
                d.decode(&b, |i| {
                    if let Decoded::Message(m) = i {
                        out.push(m.to_message())
                    }
                })
                .unwrap();
            }
        }
        out
    }

    /// Takes the outputs so far.
    pub fn take_outputs(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.outputs)
    }

    /// The parking events among the outputs so far (outputs are kept).
    pub fn events(&self) -> Vec<ami_parking::ParkingEvent> {
        self.outputs
            .iter()
            .filter_map(|o| match o {
                Output::Parking(e) => Some(e.clone()),
                _ => None,
            })
            .collect()
    }

    /// The reply to request `id`, if it came.
    pub fn reply(
        &self,
        id: ami_parking::RequestId,
    ) -> Option<&Result<ami_parking::Reply, ami_parking::ParkingError>> {
        self.outputs.iter().find_map(|o| match o {
            Output::Reply { id: i, result } if *i == id => Some(result),
            _ => None,
        })
    }
}

/// The ActionID of an action.
pub fn aid(m: &Message) -> String {
    m.get_str("ActionID").unwrap().into_owned()
}

/// Watches a signal vec (the store's calls by default) and reports each diff by
/// name (`replace`, `insert`, `update`, `remove`, ...) with its index, polled without
/// a runtime.
pub struct DiffProbe<T = std::sync::Arc<ami_parking::ParkedCall>> {
    sv: std::pin::Pin<Box<dyn futures_signals::signal_vec::SignalVec<Item = T> + Send>>,
    /// The vec as the diffs so far build it.
    pub mirror: Vec<T>,
}

impl DiffProbe {
    /// Watches the store's calls, past its initial `Replace`.
    pub fn new(store: &ami_parking::ParkingStore) -> Self {
        let mut p = Self::of(store.parked_calls());
        p.take();
        p
    }
}

impl<T: Clone> DiffProbe<T> {
    /// Watches `sv` (its first diff, usually a `Replace`, is kept for `take`).
    pub fn of(sv: impl futures_signals::signal_vec::SignalVec<Item = T> + Send + 'static) -> Self {
        Self { sv: Box::pin(sv), mirror: Vec::new() }
    }

    /// The diffs since the last call, with their index (`usize::MAX` for none).
    pub fn take_at(&mut self) -> Vec<(&'static str, usize)> {
        use futures_signals::signal_vec::VecDiff;
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let mut out = Vec::new();
        while let std::task::Poll::Ready(Some(d)) = self.sv.as_mut().poll_vec_change(&mut cx) {
            out.push(match d {
                VecDiff::Replace { values } => {
                    self.mirror = values;
                    ("replace", usize::MAX)
                }
                VecDiff::InsertAt { index, value } => {
                    self.mirror.insert(index, value);
                    ("insert", index)
                }
                VecDiff::UpdateAt { index, value } => {
                    self.mirror[index] = value;
                    ("update", index)
                }
                VecDiff::RemoveAt { index } => {
                    self.mirror.remove(index);
                    ("remove", index)
                }
                VecDiff::Move { old_index, new_index } => {
                    let v = self.mirror.remove(old_index);
                    self.mirror.insert(new_index, v);
                    ("move", new_index)
                }
                VecDiff::Push { value } => {
                    self.mirror.push(value);
                    ("push", usize::MAX)
                }
                VecDiff::Pop {} => {
                    self.mirror.pop();
                    ("pop", usize::MAX)
                }
                VecDiff::Clear {} => {
                    self.mirror.clear();
                    ("clear", usize::MAX)
                }
            });
        }
        out
    }

    /// The diffs since the last call, by name.
    pub fn take(&mut self) -> Vec<&'static str> {
        self.take_at().into_iter().map(|(n, _)| n).collect()
    }
}
