//! A byte string read as a script of steps for a whole connection and its store: what
//! a server sends (raw bytes, well-formed events with hostile values, answers to the
//! client's own actions), the client's requests, clock steps (back ones too), link
//! drops. After every step [`check_connection`](super::check_connection) must hold.
//! The `connection` fuzz target runs it; so does a stable test over the seeds.

use super::wire::{list_end, list_item, list_start, live_event, response, to_text};
use super::SimCall;
use crate::connection::{Connection, ConnectionConfig, Park, Request, Target};
use crate::store::ParkingOptions;
use crate::store::ParkingStore;
use crate::time::Timestamp;
use crate::wire::amiws::{write_frame, FrameType};
use crate::wire::Message;
use std::time::Duration;

/// Lot names a script picks from: ordinary, long, and the characters that matter.
const LOTS: [&str; 8] = ["default", "vip", "tiny", "sales", "a,b", "x|y", "Zoë", "lot\u{202e}"];

/// The caps a script runs under: small, so that a short run reaches them.
pub fn script_caps() -> (ConnectionConfig, ConnectionConfig, ParkingOptions) {
    let mut ami = ConnectionConfig::ami("amiuser", "amisecret");
    let mut ws = ConnectionConfig::amiws();
    for c in [&mut ami, &mut ws] {
        c.max_list_items = 64;
        c.max_servers = 4;
        c.max_message_bytes = 64 * 1024;
        c.request_timeout = Duration::from_secs(5);
    }
    (ami, ws, ParkingOptions::default().caps(48, 6))
}

/// Reads bytes one at a time; past the end, zeros.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&mut self) -> u8 {
        let (b, rest) = self.0.split_first().map(|(b, r)| (*b, r)).unwrap_or((0, &[]));
        self.0 = rest;
        b
    }

    fn u16(&mut self) -> u16 {
        u16::from(self.u8()) << 8 | u16::from(self.u8())
    }

    fn take(&mut self, n: usize) -> &[u8] {
        let (a, b) = self.0.split_at(n.min(self.0.len()));
        self.0 = b;
        a
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The state of one run.
struct Run {
    conn: Connection,
    now: Timestamp,
    amiws: bool,
    /// ActionIDs the client sent, latest last (the last 8).
    sent: Vec<String>,
}

/// Runs `data` as a script; the first broken invariant is the error, else the
/// connection as the script left it. A panic inside the core is not caught: the
/// fuzzer reports it.
///
/// ```
/// // Raw AMI: the banner, the Login answered, one live ParkedCall in default 701.
/// let conn = ami_parking::sim::run_script(&[0, 6, 2, 0, 0, 0, 1, 0, 0, 2, 6, 1, 2, 40, 0, 0]).unwrap();
/// assert!(conn.is_logged_in());
/// assert_eq!(conn.store().parked_calls_now()[0].parking_space, 701);
/// ```
pub fn run_script(data: &[u8]) -> Result<Connection, String> {
    let mut b = Bytes(data);
    let head = b.u8();
    let amiws = head & 1 == 1;
    let (mut ami, ws, options) = script_caps();
    if head & 2 == 2 {
        ami.auth = crate::connection::AuthMethod::Md5;
    }
    let now = Timestamp::from_unix_millis(1_800_000_000_000);
    let cfg = if amiws { ws } else { ami };
    let mut run = Run {
        conn: Connection::with_store(cfg, ParkingStore::new(options), now),
        now,
        amiws,
        sent: Vec::new(),
    };
    run.conn.handle_connected(now);
    run.drain();
    let mut steps = 0;
    while !b.is_empty() && steps < 4096 {
        steps += 1;
        run.step(&mut b);
        run.drain();
        super::check_connection(&run.conn).map_err(|e| format!("after step {steps}: {e}"))?;
    }
    Ok(run.conn)
}

impl Run {
    fn step(&mut self, b: &mut Bytes<'_>) {
        match b.u8() % 8 {
            0 => {
                let n = usize::from(b.u8()) * 4;
                let raw = b.take(n).to_vec();
                self.feed_raw(&raw);
            }
            1 => {
                let m = self.event(b);
                let server = u32::from(b.u8() % 6);
                self.send(server, &m);
            }
            2 => {
                let ms = self.answer(b);
                let server = u32::from(b.u8() % 3);
                for m in ms {
                    self.send(server, &m);
                }
            }
            3 => self.request(b),
            4 => {
                let step = Duration::from_millis(u64::from(b.u16()) * 50);
                self.now =
                    if b.u8().is_multiple_of(8) { self.now.saturating_sub(step) } else { self.now + step };
                if self.conn.poll_timeout().is_some_and(|t| t <= self.now) {
                    let _ = self.conn.handle_timeout(self.now);
                }
            }
            5 => {
                self.conn.handle_disconnected(self.now);
                self.conn.handle_connected(self.now);
            }
            6 => self.feed_raw(b"Asterisk Call Manager/11.0.0\r\n"),
            _ => {
                // A message cut in the middle, then the rest of the stream.
                let m = self.event(b);
                let text = to_text(&[m]);
                let cut = usize::from(b.u8()) % text.len().max(1);
                self.feed_raw(&text.as_bytes()[..cut]);
            }
        }
    }

    fn feed_raw(&mut self, raw: &[u8]) {
        let _ = if self.amiws {
            self.conn.handle_frame(self.now, raw)
        } else {
            self.conn.handle_input(self.now, raw)
        };
    }

    /// One message from `server` (amiws; raw AMI has one server).
    fn send(&mut self, server: u32, m: &Message) {
        if self.amiws {
            let kind = if m.get("Response").is_some() { FrameType::Response } else { FrameType::Event };
            let mut f = Vec::new();
            write_frame(kind, server, "pbx", m, &mut f);
            let _ = self.conn.handle_frame(self.now, &f);
        } else {
            let _ = self.conn.handle_input(self.now, to_text(std::slice::from_ref(m)).as_bytes());
        }
    }

    /// A call with hostile-but-well-formed values.
    fn call(&self, b: &mut Bytes<'_>) -> SimCall {
        let lot = LOTS[usize::from(b.u8()) % LOTS.len()];
        let space = match b.u8() % 8 {
            0 => u32::MAX,
            1 => 0,
            _ => 695 + u32::from(b.u8() % 40),
        };
        let uid = format!("17.{}", b.u8() % 24);
        let mut c = SimCall::example(lot, space, &uid, "5551001", self.now);
        c.deadline = match b.u8() % 4 {
            0 => None,
            1 => Some(self.now.saturating_sub(Duration::from_secs(10))),
            _ => Some(self.now + Duration::from_secs(u64::from(b.u8()))),
        };
        c
    }

    fn event(&self, b: &mut Bytes<'_>) -> Message {
        let name = ["ParkedCall", "UnParkedCall", "ParkedCallTimeOut", "ParkedCallGiveUp", "ParkedCallSwap"]
            [usize::from(b.u8()) % 5];
        let c = self.call(b);
        let mut m = live_event(name, &c, self.now, (name == "UnParkedCall").then_some(&c));
        if b.u8() % 4 == 3 {
            // Numbers past every range: near 2^64, negative, not numbers.
            let v = ["18446744073709551615", "-1", "4294967997", "x"][usize::from(b.u8()) % 4];
            let key = ["ParkingSpace", "ParkingTimeout", "ParkingDuration"][usize::from(b.u8()) % 3];
            let mut out = Message::new();
            for (k, val) in m.iter() {
                out.push(k, if k == key.as_bytes() { v.as_bytes() } else { val });
            }
            m = out;
        }
        m
    }

    /// An answer to one of the client's recent actions (or to an unknown one).
    fn answer(&self, b: &mut Bytes<'_>) -> Vec<Message> {
        let pick = usize::from(b.u8());
        let id = match self.sent.len() {
            0 => "unknown-1".to_string(),
            n => self.sent[n - 1 - pick % n].clone(),
        };
        let id = Some(id.as_str());
        match b.u8() % 8 {
            0 => vec![response(id, &[("Response", "Success"), ("Message", "Authentication accepted")])],
            1 => vec![response(id, &[("Response", "Success"), ("Challenge", "840212345")])],
            2 => vec![response(id, &[("Response", "Error"), ("Message", "Park action failed")])],
            3 => vec![response(id, &[("Response", "Success"), ("Message", "Park successful\n")])],
            4 => {
                let n = usize::from(b.u8() % 80);
                let mut out = vec![list_start(id, "Parked calls will follow")];
                for _ in 0..n {
                    out.push(list_item(id, &self.call(b), self.now));
                }
                if !b.u8().is_multiple_of(4) {
                    out.push(list_end(id, "ParkedCallsComplete", n));
                }
                out
            }
            5 => {
                let mut out = vec![list_start(id, "Parking lots will follow")];
                for _ in 0..b.u8() % 10 {
                    let lot = LOTS[usize::from(b.u8()) % LOTS.len()];
                    let start = 690 + u32::from(b.u8() % 30);
                    let stop = match b.u8() % 6 {
                        0 => "4294967295".to_string(),
                        1 => "0".to_string(),
                        n => (start + u32::from(n) * 5).to_string(),
                    };
                    out.push(response(
                        id,
                        &[
                            ("Event", "Parkinglot"),
                            ("Name", lot),
                            ("StartSpace", &start.to_string()),
                            ("StopSpace", &stop),
                            ("Timeout", "45"),
                        ],
                    ));
                }
                out.push(list_end(id, "ParkinglotsComplete", 0));
                out
            }
            6 => vec![list_end(id, "ParkedCallsComplete", usize::from(b.u8()))],
            _ => vec![response(
                id,
                &[("Event", "OriginateResponse"), ("Response", "Failure"), ("Reason", "0")],
            )],
        }
    }

    fn request(&mut self, b: &mut Bytes<'_>) {
        let lot = LOTS[usize::from(b.u8()) % LOTS.len()];
        let target = match b.u8() % 4 {
            0 => Target::All,
            n => Target::Server(u32::from(n)),
        };
        let space = 695 + u32::from(b.u8() % 40);
        let park =
            Park { lot: Some(lot.into()), space: (space % 2 == 0).then_some(space), ..Park::default() };
        let now = self.now;
        let _ = match b.u8() % 6 {
            0 => self.conn.request(
                now,
                Request::ParkedCalls { lot: (space % 3 == 0).then_some(lot).map(Into::into) },
                target,
            ),
            1 => self.conn.request(now, Request::ParkingLots, target),
            2 => self.conn.request(now, Request::Park { channel: "Local/s@hold-1;1".into(), park }, target),
            3 => self.conn.request(
                now,
                Request::Retrieve { space, to_channel: "PJSIP/1002".into(), lot: Some(lot.into()) },
                target,
            ),
            4 => self.conn.request(now, Request::Move { space, lot: Some(lot.into()), to: park }, target),
            _ => self.conn.request(now, Request::ParkingLots, target),
        };
    }

    /// Takes what the client sends (remembering its ActionIDs) and its outputs.
    fn drain(&mut self) {
        while let Some(bytes) = self.conn.poll_transmit() {
            for id in action_ids(&bytes) {
                if self.sent.len() == 8 {
                    self.sent.remove(0);
                }
                self.sent.push(id);
            }
        }
        while self.conn.poll_output().is_some() {}
    }
}

/// The ActionIDs in what the client wrote (AMI text or amiws JSON).
fn action_ids(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let mut out = Vec::new();
    for part in text.split("ActionID").skip(1) {
        let v = part.trim_start_matches(['"', ':', ' ']);
        let end = v.find(['"', '\r', '\n']).unwrap_or(v.len());
        out.push(v[..end].to_string());
    }
    out
}
