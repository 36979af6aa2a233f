//! The real captures in `testdata/`: loading them, mapping their recorded actions to
//! core requests, and replaying them through a [`Connection`] with any chunking and
//! clock.

use ami_parking::ami_codec::{Decoded, Decoder};
use ami_parking::{
    Connection, ConnectionConfig, Message, Output, ParkingOptions, ParkingStore, Request, Target, Timestamp,
};
use std::path::PathBuf;
use std::time::Duration;

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
    /// The capture as our client would have had it: some recording clients sent
    /// `Login` without an ActionID (and Asterisk answered without one), which our
    /// client never does. This gives that Login and its answer the ActionID `login`;
    /// every other byte stays as captured.
    pub fn with_login_action_id(&self) -> TcpCapture {
        let mut c = TcpCapture {
            name: self.name.clone(),
            rx: self.rx.clone(),
            tx: self.tx.clone(),
            times: self.times.clone(),
        };
        let login_has_id =
            c.actions().first().is_some_and(|a| !a.is("Action", "Login") || a.get("ActionID").is_some());
        if login_has_id {
            return c;
        }
        let eol = if self.tx.windows(2).any(|w| w == b"\r\n") { &b"\r\n"[..] } else { &b"\n"[..] };
        let mut head = b"Action: Login".to_vec();
        head.extend_from_slice(eol);
        if let Some(i) = memfind(&c.tx, &head) {
            let at = i + head.len();
            let mut line = b"ActionID: login".to_vec();
            line.extend_from_slice(eol);
            c.tx.splice(at..at, line);
        }
        let answer = b"Response: Success\r\nMessage: Authentication accepted\r\n";
        if let Some(i) = memfind(&c.rx, answer) {
            let at = i + b"Response: Success\r\n".len();
            let id = b"ActionID: login\r\n";
            c.rx.splice(at..at, id.iter().copied());
            if let Some(times) = c.times.as_mut() {
                // Later chunks move by the inserted bytes.
                for t in times.iter_mut().filter(|t| t.1 > at) {
                    t.1 += id.len();
                }
            }
        }
        c
    }

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
        crate::wire::messages(&self.tx)
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
    let patched = cap.with_login_action_id();
    let cap = &patched;
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

fn memfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
