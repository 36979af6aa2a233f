//! A raw AMI capture replayed into a store: through a real [`Connection`] (the same
//! decoder, correlation and store a live link uses), in any chunking, on a test clock.

use crate::connection::{Connection, ConnectionConfig, Output};
use crate::error::ConnectionError;
use crate::model::event::ParkingEvent;
use crate::store::ParkingStore;
use crate::time::Timestamp;
use std::time::Duration;

/// How a capture's bytes are cut into reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunking {
    /// One read.
    Whole,
    /// One byte per read.
    Bytes,
    /// Reads of 1 to `max` bytes, drawn from `seed` (the same seed, the same cuts).
    Random {
        /// The seed of the cuts.
        seed: u64,
        /// The longest read.
        max: usize,
    },
    /// Reads ending at these byte offsets (and at the end).
    At(Vec<usize>),
}

impl Chunking {
    /// The offsets where the reads of `len` bytes end, ascending, the last one `len`.
    ///
    /// ```
    /// use ami_parking::testkit::Chunking;
    /// assert_eq!(Chunking::Whole.ends(5), vec![5]);
    /// assert_eq!(Chunking::Bytes.ends(3), vec![1, 2, 3]);
    /// assert_eq!(Chunking::At(vec![2, 9]).ends(4), vec![2, 4]);
    /// ```
    pub fn ends(&self, len: usize) -> Vec<usize> {
        let mut ends: Vec<usize> = match self {
            Chunking::Whole => Vec::new(),
            Chunking::Bytes => (1..len).collect(),
            Chunking::Random { seed, max } => {
                let mut x = seed | 1;
                let mut at = 0;
                let mut v = Vec::new();
                while at < len {
                    // xorshift64
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    at += 1 + (x % (*max).max(1) as u64) as usize;
                    v.push(at.min(len));
                }
                v
            }
            Chunking::At(cuts) => cuts.iter().copied().filter(|c| *c > 0 && *c < len).collect(),
        };
        ends.push(len);
        ends.sort_unstable();
        ends.dedup();
        ends
    }
}

/// What a replay left: the connection (its store is the one given) and the parking
/// events it reported, in order.
#[derive(Debug)]
pub struct Replayed {
    /// The connection the capture went through.
    pub conn: Connection,
    /// The parking events, in order.
    pub events: Vec<ParkingEvent>,
}

/// Replays `rx`, the bytes a client received from Asterisk (a banner first, or none),
/// into `store`: a raw AMI connection is opened at `clock(0)` and logged in (its login
/// is answered by the replay, so the capture's own login answer is a stranger's and
/// ignored), then the rest is read in the reads `chunking` makes, each at
/// `clock(offset of its end)`, with due timeouts handled in between. Live events
/// change the store as they would on a live link; answers to actions the capture's
/// client sent are not ours and change nothing.
///
/// The replay ends at `clock(rx.len())`, with the timeouts due by then handled.
///
/// The clock matters for the events of time: a give-up is held back for a quarter
/// of a second (a park of the same call right after it makes it a move), so on a
/// clock that never moves (`|_| t0`) it is never reported, though its space is
/// emptied; and a call is `near_timeout` at its own deadline less the threshold.
/// Each read happens at its end's clock, so the chunking decides when things happen:
/// with [`Chunking::Whole`] every event is read at `clock(rx.len())`, and a call is
/// never near its timeout by the end, while [`Chunking::Bytes`] reads each event at
/// its own offset's time. Tests of timing read in small chunks. Give a clock that
/// moves with the bytes (below: ten milliseconds a byte) or one read from the
/// capture's `.times` file.
///
/// ```
/// use ami_parking::testkit::{check_store, replay_ami, Chunking};
/// use ami_parking::{ParkingOptions, ParkingStore, Timestamp};
/// let rx = b"Asterisk Call Manager/11.0.0\r\n\
///     Event: ParkedCall\r\nPrivilege: call,all\r\nParkeeChannel: PJSIP/100-1\r\n\
///     ParkeeUniqueid: 1.1\r\nParkinglot: default\r\nParkingSpace: 701\r\n\
///     ParkingTimeout: 45\r\nParkingDuration: 0\r\n\r\n";
/// let store = ParkingStore::new(ParkingOptions::default().auto_refresh(false));
/// let t0 = Timestamp::from_unix_millis(1_800_000_000_000);
/// let replayed = replay_ami(&store, rx, &Chunking::Bytes, |_| t0).unwrap();
/// assert_eq!(replayed.events.len(), 1);
/// assert_eq!(store.total_parked_calls_now(), 1);
/// assert_eq!(check_store(&store), Ok(()));
///
/// // The call gives up: reported once the clock has moved past the hold-back.
/// let giveup = b"Event: ParkedCallGiveUp\r\nPrivilege: call,all\r\nParkeeChannel: PJSIP/100-1\r\n\
///     ParkeeUniqueid: 1.1\r\nParkinglot: default\r\nParkingSpace: 701\r\n\r\n";
/// let rx = [&rx[..], &giveup[..], b"Event: FullyBooted\r\nPrivilege: system,all\r\n\r\n"].concat();
/// let store = ParkingStore::new(ParkingOptions::default().auto_refresh(false));
/// let ten_ms = |at: usize| t0 + std::time::Duration::from_millis(10 * at as u64);
/// let replayed = replay_ami(&store, &rx, &Chunking::Bytes, ten_ms).unwrap();
/// let kinds: Vec<_> = replayed.events.iter().map(|e| e.kind()).collect();
/// assert_eq!(kinds, ["parked", "giveup"]);
/// assert_eq!(store.total_parked_calls_now(), 0);
/// ```
pub fn replay_ami(
    store: &ParkingStore,
    rx: &[u8],
    chunking: &Chunking,
    clock: impl Fn(usize) -> Timestamp,
) -> Result<Replayed, ConnectionError> {
    let mut cfg = ConnectionConfig::ami("replay", "replay");
    cfg.keepalive_interval = Duration::ZERO;
    cfg.request_timeout = Duration::from_secs(3600);
    let t0 = clock(0);
    let mut conn = Connection::with_store(cfg, store.clone(), t0);
    let mut events = Vec::new();
    conn.handle_connected(t0);
    // The banner line (the capture's, or one made up), then our login's answer.
    let banner_end = if rx.starts_with(b"Asterisk Call Manager") {
        rx.iter().position(|&b| b == b'\n').map_or(rx.len(), |i| i + 1)
    } else {
        conn.handle_input(t0, b"Asterisk Call Manager/11.0.0\r\n")?;
        0
    };
    conn.handle_input(t0, &rx[..banner_end])?;
    let login = login_action_id(&mut conn);
    conn.handle_input(
        t0,
        format!("Response: Success\r\nActionID: {login}\r\nMessage: Authentication accepted\r\n\r\n")
            .as_bytes(),
    )?;
    drain(&mut conn, &mut events);
    let rest = &rx[banner_end..];
    let mut pos = 0;
    for end in Chunking::ends(chunking, rest.len()) {
        let now = clock(banner_end + end);
        if conn.poll_timeout().is_some_and(|t| t <= now) {
            conn.handle_timeout(now)?;
        }
        conn.handle_input(now, &rest[pos..end])?;
        drain(&mut conn, &mut events);
        pos = end;
    }
    // What fell due by the end happens too (a give-up's hold-back after the last read).
    let end = clock(rx.len());
    if conn.poll_timeout().is_some_and(|t| t <= end) {
        conn.handle_timeout(end)?;
        drain(&mut conn, &mut events);
    }
    Ok(Replayed { conn, events })
}

/// The ActionID of the Login the connection sent (what else it sent is dropped: the
/// capture holds Asterisk's side only).
fn login_action_id(conn: &mut Connection) -> String {
    let mut id = String::new();
    while let Some(bytes) = conn.poll_transmit() {
        let text = String::from_utf8_lossy(&bytes);
        if text.starts_with("Action: Login") {
            if let Some(line) = text.lines().find_map(|l| l.strip_prefix("ActionID: ")) {
                id = line.trim().to_owned();
            }
        }
    }
    id
}

fn drain(conn: &mut Connection, events: &mut Vec<ParkingEvent>) {
    while conn.poll_transmit().is_some() {}
    while let Some(o) = conn.poll_output() {
        if let Output::Parking(e) = o {
            events.push(e);
        }
    }
}
