//! [`Wire`]: a connection driven by hand with wire text shaped exactly like the
//! captures, and the builders of that text.

use ami_parking::ami_codec::{Decoded, Decoder};
use ami_parking::sim::{wire as sim_wire, Findslot, SimCall, SimLot};
use ami_parking::{Connection, ConnectionConfig, Message, Output, ParkingOptions, ParkingStore, Timestamp};
use std::time::Duration;

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

/// A whole `ParkedCalls` answer made of the given items (each from [`list_item`]),
/// for items whose times [`parked_calls_answer`] does not fix.
pub fn list_of(action_id: &str, items: &[String]) -> String {
    format!(
        "Response: Success\r\nActionID: {action_id}\r\nEventList: start\r\nMessage: Parked calls will follow\r\n\r\n{}Event: ParkedCallsComplete\r\nEventList: Complete\r\nListItems: {n}\r\nTotal: {n}\r\nActionID: {action_id}\r\n\r\n",
        items.concat(),
        n = items.len()
    )
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
        Self::ami_with(ConnectionConfig::ami("amiuser", "amisecret"), options)
    }

    /// Like [`Wire::ami`] with a configuration of the test's own (caps, timeouts).
    pub fn ami_with(cfg: ConnectionConfig, options: ParkingOptions) -> Self {
        let mut w = Self::unconnected(cfg, options);
        w.connect_and_log_in();
        w
    }

    /// A connection not linked yet, at the tests' fixed time.
    fn unconnected(cfg: ConnectionConfig, options: ParkingOptions) -> Self {
        let now = Timestamp::from_unix_millis(1_795_667_000_000);
        Wire { conn: Connection::with_store(cfg, ParkingStore::new(options), now), now, outputs: Vec::new() }
    }

    /// A raw AMI connection whose initial refresh was answered with `lots`
    /// `(name, start, stop, timeout)` and `calls` `(lot, space, unique id, caller)`.
    pub fn synced(
        options: ParkingOptions,
        lots: &[(&str, u32, u32, u32)],
        calls: &[(&str, u32, &str, &str)],
    ) -> Self {
        let mut w = Self::ami(options);
        w.answer_initial(lots, calls);
        w
    }

    /// Answers the initial `Parkinglots` and `ParkedCalls` (sent at login).
    pub fn answer_initial(&mut self, lots: &[(&str, u32, u32, u32)], calls: &[(&str, u32, &str, &str)]) {
        let sent = self.sent();
        let lots_aid = aid(sent.iter().find(|m| m.is("Action", "Parkinglots")).expect("Parkinglots sent"));
        let calls_aid = aid(sent.iter().find(|m| m.is("Action", "ParkedCalls")).expect("ParkedCalls sent"));
        self.feed(&parking_lots_answer(&lots_aid, lots));
        self.feed(&parked_calls_answer(&calls_aid, calls));
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

    /// The link drops and comes back (logged in again); each `ParkedCalls` list the
    /// connection then asks for is answered with the items `items` writes for its
    /// ActionID (e.g. [`list_item`]s).
    pub fn reconnect_and_list(&mut self, items: impl Fn(&str) -> Vec<String>) {
        self.conn.handle_disconnected(self.now);
        self.connect_and_log_in();
        for m in self.sent() {
            if m.is("Action", "ParkedCalls") {
                let a = aid(&m);
                self.feed(&list_of(&a, &items(&a)));
            }
        }
    }

    /// An amiws connection (open = logged in).
    pub fn amiws(options: ParkingOptions) -> Self {
        Self::amiws_with(ConnectionConfig::amiws(), options)
    }

    /// Like [`Wire::amiws`] with a configuration of the test's own.
    pub fn amiws_with(cfg: ConnectionConfig, options: ParkingOptions) -> Self {
        let mut w = Self::unconnected(cfg, options);
        w.conn.handle_connected(w.now);
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
        for m in messages(text.as_bytes()) {
            self.feed_frame(server, &m);
        }
        self.collect();
    }

    /// amiws: `server` announces itself (`FullyBooted`), so the connection knows it.
    pub fn announce(&mut self, server: u32) {
        self.frame(server, &[("Event", "FullyBooted"), ("Status", "Fully Booted")]);
    }

    /// amiws: `server` begins its answer to list `action_id` (`EventList: start`).
    pub fn list_begins(&mut self, server: u32, action_id: &str) {
        let start = [
            ("Response", "Success"),
            ("ActionID", action_id),
            ("EventList", "start"),
            ("Message", "Parked calls will follow"),
        ];
        self.frame(server, &start);
    }

    /// amiws: `server` ends its answer to list `action_id` after `n` items.
    pub fn list_ends(&mut self, server: u32, action_id: &str, n: usize) {
        let n = n.to_string();
        let end = [
            ("Event", "ParkedCallsComplete"),
            ("ActionID", action_id),
            ("EventList", "Complete"),
            ("ListItems", &n),
        ];
        self.frame(server, &end);
    }

    fn feed_frame(&mut self, server: u32, m: &Message) {
        let mut out = Vec::new();
        let kind = ami_parking::amiws::FrameType::of(m);
        ami_parking::amiws::write_frame(kind, server, &format!("pbx-{server}"), m, &mut out);
        self.conn.handle_frame(self.now, &out).expect("frame");
    }

    /// Answers the keep-alive `Ping`s sent so far, as Asterisk does (other actions
    /// sent meanwhile are dropped).
    pub fn answer_pings(&mut self) {
        for ping in self.sent().into_iter().filter(|m| m.is("Action", "Ping")) {
            self.feed(&format!("Response: Success\r\nActionID: {}\r\nPing: Pong\r\n\r\n", aid(&ping)));
        }
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
        sent_by(&mut self.conn)
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

/// The messages AMI bytes hold (no banner expected), decoded.
pub fn messages(bytes: &[u8]) -> Vec<Message> {
    let mut d = Decoder::new().without_banner();
    let mut out = Vec::new();
    d.decode(bytes, |i| {
        if let Decoded::Message(m) = i {
            out.push(m.to_message())
        }
    })
    .unwrap();
    out
}

/// Every action `conn` transmitted since the last call, decoded (an amiws frame's
/// server as its `AMIServerID` field).
pub fn sent_by(conn: &mut Connection) -> Vec<Message> {
    let mut out = Vec::new();
    while let Some(b) = conn.poll_transmit() {
        if conn.config().mode == ami_parking::Mode::Amiws {
            let (mut m, server) = ami_parking::amiws::decode_action_frame(&b).expect("sent frame");
            if let Some(s) = server {
                m.push(b"AMIServerID", s.to_string().as_bytes());
            }
            out.push(m);
        } else {
            out.extend(messages(&b));
        }
    }
    out
}

/// Actions as (name, `AMIServerID`), for exact asserts on what was sent.
pub fn actions(sent: &[Message]) -> Vec<(String, Option<String>)> {
    sent.iter()
        .map(|m| {
            let get = |k: &str| m.get_str(k).map(|v| v.into_owned());
            (get("Action").unwrap_or_default(), get("AMIServerID"))
        })
        .collect()
}

/// The ActionID of an action.
pub fn aid(m: &Message) -> String {
    m.get_str("ActionID").unwrap().into_owned()
}
