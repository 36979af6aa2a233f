//! Workloads shared by the `perf` report and the Criterion benchmarks: the real
//! captures repeated into a firehose, stores filled with many parked calls, and the
//! peers run on the same bytes.

use ami_parking::ami_codec::{Decoded, Decoder};
use ami_parking::futures_signals::signal_vec::SignalVec;
use ami_parking::{Connection, ConnectionConfig, Message, ParkingOptions, ParkingStore, Target, Timestamp};
use std::path::PathBuf;

/// Read size used to feed decoders, like a socket read.
pub const READ: usize = 64 * 1024;

/// A fixed time for the workloads.
pub const NOW: Timestamp = Timestamp::from_unix_millis(1_800_000_000_000);

fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata")
}

/// The four TCP captures (the full event firehose: Newexten, VarSet, ...), without
/// their banners, concatenated and repeated to at least `bytes`, behind one banner.
pub fn tcp_corpus(bytes: usize) -> Vec<u8> {
    let mut one = Vec::new();
    for name in [
        "lists-park-retrieve-timeout",
        "park-action-errors-giveup",
        "dial-then-park",
        "timed-lists-and-timeout",
    ] {
        let rx =
            std::fs::read(testdata().join("asterisk-22-tcp").join(format!("{name}.rx"))).expect("capture");
        let nl = rx.iter().position(|&b| b == b'\n').expect("banner") + 1;
        one.extend_from_slice(&rx[nl..]);
    }
    let mut out = b"Asterisk Call Manager/11.0.0\r\n".to_vec();
    while out.len() < bytes {
        out.extend_from_slice(&one);
    }
    out
}

/// The amiws captures' received frames, repeated to at least `bytes` in all.
pub fn amiws_corpus(bytes: usize) -> Vec<Vec<u8>> {
    let mut one = Vec::new();
    for name in ["two-servers-lists-park-retrieve-timeout", "park-action-giveup-utf8-restart"] {
        let all = std::fs::read(testdata().join("amiws-2.2").join(format!("{name}.jsonl"))).expect("capture");
        one.extend(
            all.split(|&b| b == b'\n')
                .filter(|l| !l.is_empty() && !l.starts_with(b">>> "))
                .map(|l| l.to_vec()),
        );
    }
    let mut out = Vec::new();
    let mut n = 0;
    while n < bytes {
        for f in &one {
            n += f.len();
            out.push(f.clone());
        }
    }
    out
}

/// Our decoder, fed in socket-sized reads, looking at each message's event name
/// (what the connection does before deciding to build a header list). Returns the
/// number of messages.
pub fn decode_ours(data: &[u8]) -> usize {
    let mut d = Decoder::new();
    let mut n = 0;
    for chunk in data.chunks(READ) {
        d.decode(chunk, |i| {
            if let Decoded::Message(m) = i {
                std::hint::black_box(m.event_name());
                n += 1;
            }
        })
        .expect("decode");
    }
    n
}

/// Our decoder building the full header list of every message.
pub fn decode_ours_full(data: &[u8]) -> usize {
    let mut d = Decoder::new();
    let mut n = 0;
    for chunk in data.chunks(READ) {
        d.decode(chunk, |i| {
            if let Decoded::Message(m) = i {
                std::hint::black_box(m.to_message());
                n += 1;
            }
        })
        .expect("decode");
    }
    n
}

/// The whole core: a logged-in connection taking the firehose (parking events applied
/// to the store, other events passed over).
pub fn connection_ours(data: &[u8]) -> usize {
    let cfg = ConnectionConfig::ami("amiuser", "amisecret");
    let mut c =
        Connection::with_store(cfg, ParkingStore::new(ParkingOptions::default().auto_refresh(false)), NOW);
    c.handle_connected_with_login_id(NOW, "1");
    for chunk in data.chunks(READ) {
        c.handle_input(NOW, chunk).expect("input");
        while c.poll_output().is_some() {}
        while c.poll_transmit().is_some() {}
    }
    c.store().total_parked_calls_now()
}

/// amiws frames through an amiws connection.
pub fn amiws_ours(frames: &[Vec<u8>]) -> usize {
    let cfg = ConnectionConfig::amiws();
    let mut c =
        Connection::with_store(cfg, ParkingStore::new(ParkingOptions::default().auto_refresh(false)), NOW);
    c.handle_connected(NOW);
    for f in frames {
        c.handle_frame(NOW, f).expect("frame");
        while c.poll_output().is_some() {}
    }
    c.store().total_parked_calls_now()
}

/// Baseline: a memchr scan for `\r\n\r\n` over the same bytes.
pub fn memchr_scan(data: &[u8]) -> usize {
    memchr::memmem::find_iter(data, b"\r\n\r\n").count()
}

/// The peer: asterisk-rs-ami's tokio-util codec, fed the same reads.
pub fn peer_asterisk_rs_ami(data: &[u8]) -> usize {
    use tokio_util::codec::Decoder as _;
    let mut codec = asterisk_rs_ami::AmiCodec::new();
    let mut buf = bytes::BytesMut::with_capacity(2 * READ);
    let mut n = 0;
    for chunk in data.chunks(READ) {
        buf.extend_from_slice(chunk);
        while let Some(m) = codec.decode(&mut buf).expect("peer decode") {
            n += m.headers.len().min(1);
        }
    }
    n
}

/// A live parking event as Asterisk 22 writes it.
pub fn live(event: &str, lot: &str, space: u32, uid: &str) -> Message {
    let chan = format!("PJSIP/{uid}-0001");
    let pairs: Vec<(&str, String)> = vec![
        ("Event", event.into()),
        ("Privilege", "call,all".into()),
        ("ParkeeChannel", chan),
        ("ParkeeChannelState", "6".into()),
        ("ParkeeChannelStateDesc", "Up".into()),
        ("ParkeeCallerIDNum", "5551001".into()),
        ("ParkeeCallerIDName", "Customer 5551001".into()),
        ("ParkeeConnectedLineNum", "5551001".into()),
        ("ParkeeConnectedLineName", "Cust 5551001".into()),
        ("ParkeeLanguage", "en".into()),
        ("ParkeeAccountCode", "".into()),
        ("ParkeeContext", "caller".into()),
        ("ParkeeExten", "s".into()),
        ("ParkeePriority", "4".into()),
        ("ParkeeUniqueid", uid.into()),
        ("ParkeeLinkedid", uid.into()),
        ("ParkerDialString", "Local/s@hold".into()),
        ("Parkinglot", lot.into()),
        ("ParkingSpace", space.to_string()),
        ("ParkingTimeout", "45".into()),
        ("ParkingDuration", "0".into()),
    ];
    Message::from_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())))
}

/// Where the i-th call of a big installation parks: lots of 100 spaces.
pub fn place(i: usize) -> (String, u32) {
    (format!("lot{:04}", i / 100), 1000 + (i % 100) as u32)
}

/// A store holding `n` parked calls.
pub fn store_with(n: usize) -> ParkingStore {
    let store = ParkingStore::default();
    for i in 0..n {
        let (lot, space) = place(i);
        store.apply_message(NOW, 1, &live("ParkedCall", &lot, space, &format!("1800000000.{i}")));
    }
    store
}

/// `pairs` (retrieve one call, park another in its space) spread over `n` calls:
/// the store keeps `n` calls, every event is a real change (a remove and an insert).
/// Each leave names the unique id of the call it retrieves, as Asterisk's does.
pub fn churn(n: usize, pairs: usize) -> Vec<Message> {
    let mut out = Vec::with_capacity(2 * pairs);
    let mut uids: Vec<String> = (0..n).map(|i| format!("1800000000.{i}")).collect();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for k in 0..pairs {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let i = (x % n as u64) as usize;
        let (lot, space) = place(i);
        out.push(live("UnParkedCall", &lot, space, &uids[i]));
        uids[i] = format!("1800000001.{k}");
        out.push(live("ParkedCall", &lot, space, &uids[i]));
    }
    out
}

/// [`churn`] as Asterisk writes it: the events' bytes, back to back.
pub fn churn_bytes(n: usize, pairs: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for m in churn(n, pairs) {
        ami_parking::ami_codec::write_server_message(&m, &mut out);
    }
    out
}

/// Feeds `bytes` to `conn` in socket-sized reads, taking its outputs and the UI's
/// diffs after each read (as a client's loop does).
pub fn feed_reads(conn: &mut Connection, ui: &mut Watchers, bytes: &[u8]) {
    for chunk in bytes.chunks(READ) {
        conn.handle_input(NOW, chunk).unwrap();
        while let Some(o) = conn.poll_output() {
            std::hint::black_box(o);
        }
        std::hint::black_box(ui.drain());
    }
}

/// A UI watching `store`: a subscriber on the global calls view and one on the grid
/// of the first lot (its range known). [`Watchers::drain`] takes their diffs.
pub struct Watchers {
    global: std::pin::Pin<Box<dyn SignalVec<Item = std::sync::Arc<ami_parking::ParkedCall>> + Send>>,
    grid: std::pin::Pin<Box<dyn SignalVec<Item = Option<std::sync::Arc<ami_parking::ParkedCall>>> + Send>>,
}

impl Watchers {
    /// Subscribes to `store` (after giving its first lot a range).
    pub fn new(store: &ParkingStore, conn: &mut Connection) -> Self {
        let (lot, _) = place(0);
        let lots = format!("Response: Success\r\nActionID: L\r\nEventList: start\r\nMessage: Parking lots will follow\r\n\r\nEvent: Parkinglot\r\nActionID: L\r\nName: {lot}\r\nStartSpace: 1000\r\nStopSpace: 1099\r\nTimeout: 45\r\n\r\nEvent: ParkinglotsComplete\r\nActionID: L\r\nEventList: Complete\r\nListItems: 1\r\n\r\n");
        conn.request_with_action_id(NOW, ami_parking::Request::ParkingLots, Target::All, "L").unwrap();
        conn.handle_input(NOW, lots.as_bytes()).unwrap();
        while conn.poll_output().is_some() {}
        let mut w = Watchers {
            global: Box::pin(store.parked_calls()),
            grid: Box::pin(store.lot_grid(&ami_parking::LotKey::new(1, lot))),
        };
        w.drain();
        w
    }

    /// Takes every diff waiting; returns how many.
    pub fn drain(&mut self) -> usize {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let mut n = 0;
        while let std::task::Poll::Ready(Some(_)) = self.global.as_mut().poll_vec_change(&mut cx) {
            n += 1;
        }
        while let std::task::Poll::Ready(Some(_)) = self.grid.as_mut().poll_vec_change(&mut cx) {
            n += 1;
        }
        n
    }
}

/// A logged-in connection (no automatic refresh) holding `n` parked calls.
pub fn connection_with(n: usize) -> Connection {
    let cfg = ConnectionConfig::ami("amiuser", "amisecret");
    let mut c =
        Connection::with_store(cfg, ParkingStore::new(ParkingOptions::default().auto_refresh(false)), NOW);
    c.handle_connected_with_login_id(NOW, "1");
    c.handle_input(NOW, b"Asterisk Call Manager/11.0.0\r\nResponse: Success\r\nActionID: 1\r\nMessage: Authentication accepted\r\n\r\n").unwrap();
    for i in 0..n {
        let (lot, space) = place(i);
        c.store().apply_message(NOW, 1, &live("ParkedCall", &lot, space, &format!("1800000000.{i}")));
    }
    while c.poll_output().is_some() {}
    while c.poll_transmit().is_some() {}
    c
}

/// A `ParkedCalls` answer of `n` items (as bytes) for ActionID `aid`.
pub fn parked_calls_answer(aid: &str, n: usize) -> Vec<u8> {
    let mut out = format!("Response: Success\r\nActionID: {aid}\r\nEventList: start\r\nMessage: Parked calls will follow\r\n\r\n").into_bytes();
    for i in 0..n {
        let (lot, space) = place(i);
        let mut m = live("ParkedCall", &lot, space, &format!("1800000000.{i}"));
        // A list item: no Privilege, ActionID last.
        let mut item = Message::new();
        for (k, v) in m.iter() {
            if k != b"Privilege" {
                item.push(k, v);
            }
        }
        item.push(b"ActionID", aid.as_bytes());
        m = item;
        ami_parking::ami_codec::write_server_message(&m, &mut out);
    }
    out.extend_from_slice(format!("Event: ParkedCallsComplete\r\nActionID: {aid}\r\nEventList: Complete\r\nListItems: {n}\r\nTotal: {n}\r\n\r\n").as_bytes());
    out
}

/// A logged-in connection, and the bytes answering its next `ParkedCalls` with `n` calls.
pub fn resync_setup(n: usize) -> (Connection, Vec<u8>) {
    let cfg = ConnectionConfig::ami("amiuser", "amisecret");
    let mut c =
        Connection::with_store(cfg, ParkingStore::new(ParkingOptions::default().auto_refresh(false)), NOW);
    c.handle_connected_with_login_id(NOW, "1");
    c.handle_input(NOW, b"Asterisk Call Manager/11.0.0\r\nResponse: Success\r\nActionID: 1\r\nMessage: Authentication accepted\r\n\r\n").unwrap();
    c.request_with_action_id(NOW, ami_parking::Request::ParkedCalls { lot: None }, Target::All, "r1")
        .unwrap();
    while c.poll_transmit().is_some() {}
    (c, parked_calls_answer("r1", n))
}

/// Runs a resync: feeds the answer in socket-sized reads. Never inlined, so a profiler
/// can count it alone (`--toggle-collect='*resync_run*'`).
#[inline(never)]
pub fn resync_run(c: &mut Connection, answer: &[u8]) {
    for chunk in answer.chunks(READ) {
        c.handle_input(NOW, chunk).unwrap();
    }
    while c.poll_output().is_some() {}
}
