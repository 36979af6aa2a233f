//! A reference model of Asterisk 22's res_parking, sans-IO (feature `sim`).
//!
//! [`SimPbx`] holds one or more simulated servers with lots, parked calls and
//! timeouts in simulated time. PBX operations (park, retrieve, give up, swap, time
//! passing, clean shutdown, crash, restart) and client actions (`Login`,
//! `Parkinglots`, `ParkedCalls`, `Park`, `Originate` of `ParkedCall`, `Ping`,
//! `Logoff`) produce the messages Asterisk 22 writes, in its field order:
//! `Privilege` on live events only, `ActionID` last on list items, `Park successful\n`
//! as the Park reply. [`SimPbx::take_output`] gives them as raw AMI bytes or as amiws
//! frames. It is the reference model of the property tests and the embedded demo PBX.
//!
//! ```
//! use ami_parking::sim::{SimPbx, SimLot, Findslot, Wire};
//! use ami_parking::Timestamp;
//! let t = Timestamp::from_unix_millis(0);
//! let mut pbx = SimPbx::new(Wire::Ami);
//! let s = pbx.add_server("pbx-a", vec![SimLot::new("default", 701, 720, 45, Findslot::Next)]);
//! pbx.connect_client(s);
//! pbx.handle_client_bytes(t, s, b"Action: Login\r\nUsername: amiuser\r\nSecret: amisecret\r\n\r\n");
//! let (lot, space) = pbx.park(t, s, "5551001", "Customer 5551001", "default", None).unwrap();
//! assert_eq!((lot.as_str(), space), ("default", 701));
//! let bytes = pbx.take_output(s);
//! assert!(String::from_utf8(bytes).unwrap().contains("Event: ParkedCall\r\nPrivilege: call,all\r\n"));
//! ```

use crate::ami_codec::write_server_message;
use crate::amiws::{write_frame, FrameType};
use crate::message::Message;
use crate::model::ServerId;
use crate::time::Timestamp;
use std::collections::BTreeMap;
use std::time::Duration;

/// How a lot picks a space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Findslot {
    /// The lowest free space.
    First,
    /// The space after the last one given, wrapping.
    Next,
}

/// A lot's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimLot {
    /// Name.
    pub name: String,
    /// First space.
    pub start: u32,
    /// Last space.
    pub end: u32,
    /// Parking time in seconds (0 = no limit).
    pub timeout_secs: u64,
    /// Space choice.
    pub findslot: Findslot,
    last: Option<u32>,
}

impl SimLot {
    /// A lot.
    pub fn new(name: &str, start: u32, end: u32, timeout_secs: u64, findslot: Findslot) -> Self {
        Self { name: name.into(), start, end, timeout_secs, findslot, last: None }
    }
}

/// The sandbox's first server: `default` 701-720 45 s (next), `vip` 801-810 5 s.
pub fn sandbox_lots() -> Vec<SimLot> {
    vec![
        SimLot::new("default", 701, 720, 45, Findslot::Next),
        SimLot::new("vip", 801, 810, 5, Findslot::Next),
    ]
}

/// The sandbox's second server: `default` 701-705 60 s (first), `sales` 901-903 90 s.
pub fn sandbox_lots_b() -> Vec<SimLot> {
    vec![
        SimLot::new("default", 701, 705, 60, Findslot::First),
        SimLot::new("sales", 901, 903, 90, Findslot::Next),
    ]
}

/// A call in a space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimCall {
    /// `ParkeeChannel`.
    pub channel: String,
    /// `ParkeeUniqueid` (= linked id).
    pub unique_id: String,
    /// Caller number.
    pub caller_num: String,
    /// Caller name.
    pub caller_name: String,
    /// Lot.
    pub lot: String,
    /// Space.
    pub space: u32,
    /// When it was parked.
    pub parked_at: Timestamp,
    /// When it times out.
    pub deadline: Option<Timestamp>,
}

/// Why a PBX operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    /// No such lot.
    #[error("no parking lot {0}")]
    NoLot(String),
    /// Every space is taken.
    #[error("parking lot {0} is full")]
    Full(String),
    /// Nothing in that space.
    #[error("nothing parked at {0},{1}")]
    Empty(String, u32),
    /// The server is down.
    #[error("server {0} is down")]
    Down(ServerId),
    /// No such server.
    #[error("no server {0}")]
    NoServer(ServerId),
}

/// How clients are attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// One raw AMI session per server.
    Ami,
    /// One amiws proxy in front of every server.
    Amiws,
}

/// What changed, as Asterisk saw it (the model's change log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimChange {
    /// `parked`, `retrieved`, `timeout`, `giveup`, `swap`.
    pub kind: &'static str,
    /// Server.
    pub server_id: ServerId,
    /// Lot.
    pub lot: String,
    /// Space.
    pub space: u32,
    /// The parkee's unique id (the new parkee for a swap).
    pub unique_id: String,
}

#[derive(Debug)]
struct Server {
    id: ServerId,
    name: String,
    lots: Vec<SimLot>,
    calls: BTreeMap<(String, u32), SimCall>,
    up: bool,
    client: bool,
    logged_in: bool,
    out: Vec<u8>,
    boot: Timestamp,
}

/// The simulated PBX: one or more servers.
#[derive(Debug)]
pub struct SimPbx {
    wire: Wire,
    servers: Vec<Server>,
    next_uid: u64,
    next_chan: u64,
    changes: Vec<SimChange>,
    /// amiws: the WebSocket client is connected to the proxy.
    ws_client: bool,
    /// amiws: frames for the client, in the order written (every server).
    ws_out: Vec<Vec<u8>>,
}

fn secs(d: Duration) -> u64 {
    d.as_secs()
}

impl SimPbx {
    /// An empty PBX whose clients speak `wire`.
    pub fn new(wire: Wire) -> Self {
        Self {
            wire,
            servers: Vec::new(),
            next_uid: 1,
            next_chan: 0,
            changes: Vec::new(),
            ws_client: false,
            ws_out: Vec::new(),
        }
    }

    /// The sandbox's PBX: one server (`pbx-a`), or two behind amiws.
    pub fn sandbox(wire: Wire) -> Self {
        let mut p = Self::new(wire);
        p.add_server("pbx-a", sandbox_lots());
        if wire == Wire::Amiws {
            p.add_server("pbx-b", sandbox_lots_b());
        }
        p
    }

    /// Adds a server (ids from 1, in order); it is up.
    pub fn add_server(&mut self, name: &str, lots: Vec<SimLot>) -> ServerId {
        let id = self.servers.len() as ServerId + 1;
        self.servers.push(Server {
            id,
            name: name.into(),
            lots,
            calls: BTreeMap::new(),
            up: true,
            client: false,
            logged_in: false,
            out: Vec::new(),
            boot: Timestamp::ZERO,
        });
        id
    }

    /// Server ids.
    pub fn server_ids(&self) -> Vec<ServerId> {
        self.servers.iter().map(|s| s.id).collect()
    }

    fn srv(&mut self, id: ServerId) -> Result<&mut Server, SimError> {
        self.servers.iter_mut().find(|s| s.id == id).ok_or(SimError::NoServer(id))
    }

    fn srv_ref(&self, id: ServerId) -> Option<&Server> {
        self.servers.iter().find(|s| s.id == id)
    }

    /// The calls parked on `server` now, in (lot, space) order.
    pub fn calls(&self, server: ServerId) -> Vec<SimCall> {
        self.srv_ref(server).map(|s| s.calls.values().cloned().collect()).unwrap_or_default()
    }

    /// The lots of `server`.
    pub fn lots(&self, server: ServerId) -> Vec<SimLot> {
        self.srv_ref(server).map(|s| s.lots.clone()).unwrap_or_default()
    }

    /// True while `server` runs.
    pub fn is_up(&self, server: ServerId) -> bool {
        self.srv_ref(server).is_some_and(|s| s.up)
    }

    /// The change log so far (every change Asterisk made, seen or not).
    pub fn changes(&self) -> &[SimChange] {
        &self.changes
    }

    /// The earliest pending timeout.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.servers.iter().filter(|s| s.up).flat_map(|s| s.calls.values().filter_map(|c| c.deadline)).min()
    }

    /// Everything written to the raw AMI client of `server` since the last call.
    pub fn take_output(&mut self, server: ServerId) -> Vec<u8> {
        match self.srv(server) {
            Ok(s) => std::mem::take(&mut s.out),
            Err(_) => Vec::new(),
        }
    }

    /// amiws: every server's frames in the order written, as separate frames.
    pub fn take_frames(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.ws_out)
    }

    /// A client connects to `server` (raw AMI: the banner is sent; amiws: the proxy's
    /// link is up and logged in).
    pub fn connect_client(&mut self, server: ServerId) {
        let wire = self.wire;
        if wire == Wire::Amiws {
            self.ws_client = true;
        }
        if let Ok(s) = self.srv(server) {
            if !s.up {
                return;
            }
            s.client = true;
            s.logged_in = wire == Wire::Amiws;
            if wire == Wire::Ami {
                s.out.extend_from_slice(b"Asterisk Call Manager/11.0.0\r\n");
            }
        }
    }

    /// The client's link to `server` dropped.
    pub fn disconnect_client(&mut self, server: ServerId) {
        if self.wire == Wire::Amiws {
            self.ws_client = false;
            self.ws_out.clear();
        }
        if let Ok(s) = self.srv(server) {
            s.client = false;
            s.logged_in = false;
            s.out.clear();
        }
    }

    /// Writes an event to the client of `server`, once it has logged in.
    fn emit(&mut self, server: ServerId, m: Message) {
        self.write(server, m, true);
    }

    /// Writes the answer to one of the client's actions (sent even before login).
    fn answer(&mut self, server: ServerId, m: Message) {
        self.write(server, m, false);
    }

    fn write(&mut self, server: ServerId, m: Message, needs_login: bool) {
        let wire = self.wire;
        let mut frame = Vec::new();
        if let Ok(s) = self.srv(server) {
            if !s.client || (needs_login && !s.logged_in) {
                return;
            }
            match wire {
                Wire::Ami => write_server_message(&m, &mut s.out),
                Wire::Amiws => {
                    write_frame(FrameType::of(&m), s.id, &s.name.clone(), &m, &mut frame);
                }
            }
        }
        if !frame.is_empty() {
            self.ws_out.push(frame);
        }
    }

    fn parkee_block(m: &mut Message, c: &SimCall) {
        let push = |m: &mut Message, k: &str, v: &str| m.push(k.as_bytes(), v.as_bytes());
        push(m, "ParkeeChannel", &c.channel);
        push(m, "ParkeeChannelState", "6");
        push(m, "ParkeeChannelStateDesc", "Up");
        push(m, "ParkeeCallerIDNum", &c.caller_num);
        push(m, "ParkeeCallerIDName", &escape_c(&c.caller_name));
        push(m, "ParkeeConnectedLineNum", &c.caller_num);
        push(m, "ParkeeConnectedLineName", &escape_c(&c.caller_name));
        push(m, "ParkeeLanguage", "en");
        push(m, "ParkeeAccountCode", "");
        push(m, "ParkeeContext", "caller");
        push(m, "ParkeeExten", "s");
        push(m, "ParkeePriority", "4");
        push(m, "ParkeeUniqueid", &c.unique_id);
        push(m, "ParkeeLinkedid", &c.unique_id);
    }

    fn tail(m: &mut Message, c: &SimCall, now: Timestamp) {
        let remaining = match c.deadline {
            Some(d) => secs(d.saturating_duration_since(now)),
            None => u64::MAX,
        };
        let elapsed = secs(now.saturating_duration_since(c.parked_at));
        m.push(b"ParkerDialString", b"Local/s@hold");
        m.push(b"Parkinglot", c.lot.as_bytes());
        m.push(b"ParkingSpace", c.space.to_string().as_bytes());
        m.push(b"ParkingTimeout", remaining.to_string().as_bytes());
        m.push(b"ParkingDuration", elapsed.to_string().as_bytes());
    }

    fn live(event: &str, c: &SimCall, now: Timestamp, retriever: Option<&SimCall>) -> Message {
        let mut m = Message::with_capacity(24, 700);
        m.push(b"Event", event.as_bytes());
        m.push(b"Privilege", b"call,all");
        Self::parkee_block(&mut m, c);
        if let Some(r) = retriever {
            for (k, v) in [
                ("RetrieverChannel", r.channel.as_str()),
                ("RetrieverChannelState", "6"),
                ("RetrieverChannelStateDesc", "Up"),
                ("RetrieverCallerIDNum", r.caller_num.as_str()),
                ("RetrieverCallerIDName", &escape_c(&r.caller_name)),
                ("RetrieverConnectedLineNum", r.caller_num.as_str()),
                ("RetrieverConnectedLineName", &escape_c(&r.caller_name)),
                ("RetrieverLanguage", "en"),
                ("RetrieverAccountCode", ""),
                ("RetrieverContext", "retriever"),
                ("RetrieverExten", "s"),
                ("RetrieverPriority", "2"),
                ("RetrieverUniqueid", r.unique_id.as_str()),
                ("RetrieverLinkedid", r.unique_id.as_str()),
            ] {
                m.push(k.as_bytes(), v.as_bytes());
            }
        }
        Self::tail(&mut m, c, now);
        m
    }

    fn new_call(
        &mut self,
        now: Timestamp,
        caller_num: &str,
        caller_name: &str,
        lot: &str,
        space: u32,
        timeout: Option<u64>,
    ) -> SimCall {
        let uid = format!("{}.{}", now.as_unix_millis() / 1000, self.next_uid);
        self.next_uid += 1;
        let chan = format!("Local/s@hold-{:08x};1", self.next_chan);
        self.next_chan += 1;
        SimCall {
            channel: chan,
            unique_id: uid,
            caller_num: caller_num.into(),
            caller_name: caller_name.into(),
            lot: lot.into(),
            space,
            parked_at: now,
            deadline: timeout.filter(|&t| t > 0).map(|t| now + Duration::from_secs(t)),
        }
    }

    /// Picks a space like res_parking: a preferred space if free, else the next free
    /// higher one, wrapping; `findslot` otherwise. `None` when the lot is full.
    fn pick(lot: &SimLot, calls: &BTreeMap<(String, u32), SimCall>, preferred: Option<u32>) -> Option<u32> {
        let free = |s: u32| !calls.contains_key(&(lot.name.clone(), s));
        let n = lot.end - lot.start + 1;
        let from = match preferred {
            Some(p) if (lot.start..=lot.end).contains(&p) => p,
            _ => match (lot.findslot, lot.last) {
                (Findslot::Next, Some(l)) if l < lot.end => l + 1,
                _ => lot.start,
            },
        };
        (0..n).map(|i| lot.start + (from - lot.start + i) % n).find(|&s| free(s))
    }

    /// A call from `caller_num` is parked in `lot` (through the dialplan: the live
    /// `ParkedCall` is the only message). Returns (lot, space).
    pub fn park(
        &mut self,
        now: Timestamp,
        server: ServerId,
        caller_num: &str,
        caller_name: &str,
        lot: &str,
        preferred: Option<u32>,
    ) -> Result<(String, u32), SimError> {
        let (space, timeout) = {
            let s = self.srv(server)?;
            if !s.up {
                return Err(SimError::Down(server));
            }
            let l = s.lots.iter().find(|l| l.name == lot).ok_or_else(|| SimError::NoLot(lot.into()))?;
            let space = Self::pick(l, &s.calls, preferred).ok_or_else(|| SimError::Full(lot.into()))?;
            (space, l.timeout_secs)
        };
        let call = self.new_call(now, caller_num, caller_name, lot, space, Some(timeout));
        self.place(now, server, call.clone());
        Ok((call.lot, space))
    }

    fn place(&mut self, now: Timestamp, server: ServerId, call: SimCall) {
        if let Ok(s) = self.srv(server) {
            if let Some(l) = s.lots.iter_mut().find(|l| l.name == call.lot) {
                l.last = Some(call.space);
            }
            s.calls.insert((call.lot.clone(), call.space), call.clone());
        }
        self.changes.push(SimChange {
            kind: "parked",
            server_id: server,
            lot: call.lot.clone(),
            space: call.space,
            unique_id: call.unique_id.clone(),
        });
        self.emit(server, Self::live("ParkedCall", &call, now, None));
    }

    fn take_call(&mut self, server: ServerId, lot: &str, space: u32) -> Result<SimCall, SimError> {
        let s = self.srv(server)?;
        if !s.up {
            return Err(SimError::Down(server));
        }
        s.calls.remove(&(lot.to_string(), space)).ok_or_else(|| SimError::Empty(lot.into(), space))
    }

    /// Someone picks up the call (`UnParkedCall` with a retriever block).
    pub fn retrieve(
        &mut self,
        now: Timestamp,
        server: ServerId,
        lot: &str,
        space: u32,
        retriever_num: &str,
    ) -> Result<SimCall, SimError> {
        let call = self.take_call(server, lot, space)?;
        let retriever = self.new_call(now, retriever_num, "Reception", lot, space, None);
        self.changes.push(SimChange {
            kind: "retrieved",
            server_id: server,
            lot: lot.into(),
            space,
            unique_id: call.unique_id.clone(),
        });
        self.emit(server, Self::live("UnParkedCall", &call, now, Some(&retriever)));
        Ok(call)
    }

    /// The caller hangs up (`ParkedCallGiveUp`).
    pub fn give_up(
        &mut self,
        now: Timestamp,
        server: ServerId,
        lot: &str,
        space: u32,
    ) -> Result<SimCall, SimError> {
        let call = self.take_call(server, lot, space)?;
        self.changes.push(SimChange {
            kind: "giveup",
            server_id: server,
            lot: lot.into(),
            space,
            unique_id: call.unique_id.clone(),
        });
        self.emit(server, Self::live("ParkedCallGiveUp", &call, now, None));
        Ok(call)
    }

    /// Another channel takes the parkee's place (`ParkedCallSwap`, new parkee block).
    pub fn swap(
        &mut self,
        now: Timestamp,
        server: ServerId,
        lot: &str,
        space: u32,
        caller_num: &str,
    ) -> Result<SimCall, SimError> {
        let old = self.take_call(server, lot, space)?;
        let mut new = self.new_call(now, caller_num, &format!("Customer {caller_num}"), lot, space, None);
        new.parked_at = old.parked_at;
        new.deadline = old.deadline;
        if let Ok(s) = self.srv(server) {
            s.calls.insert((lot.to_string(), space), new.clone());
        }
        self.changes.push(SimChange {
            kind: "swap",
            server_id: server,
            lot: lot.into(),
            space,
            unique_id: new.unique_id.clone(),
        });
        self.emit(server, Self::live("ParkedCallSwap", &new, now, None));
        Ok(new)
    }

    /// Time passes: every call past its deadline times out (`ParkedCallTimeOut`, in
    /// deadline order).
    pub fn advance(&mut self, now: Timestamp) {
        loop {
            let due = self
                .servers
                .iter()
                .filter(|s| s.up)
                .flat_map(|s| {
                    s.calls
                        .values()
                        .filter(|c| c.deadline.is_some_and(|d| d <= now))
                        .map(move |c| (c.deadline, s.id, c.lot.clone(), c.space))
                })
                .min();
            let Some((_, server, lot, space)) = due else { return };
            if let Ok(call) = self.take_call(server, &lot, space) {
                self.changes.push(SimChange {
                    kind: "timeout",
                    server_id: server,
                    lot: lot.clone(),
                    space,
                    unique_id: call.unique_id.clone(),
                });
                // Asterisk reports 0 left.
                let c = SimCall { deadline: Some(now), ..call };
                self.emit(server, Self::live("ParkedCallTimeOut", &c, now, None));
            }
        }
    }

    /// A clean shutdown: `ParkedCallGiveUp` for every call, then `Shutdown`; the
    /// client link closes.
    pub fn shutdown(&mut self, now: Timestamp, server: ServerId) {
        let calls: Vec<(String, u32)> = self.calls(server).iter().map(|c| (c.lot.clone(), c.space)).collect();
        for (lot, space) in calls {
            let _ = self.give_up(now, server, &lot, space);
        }
        let mut m = Message::new();
        m.push(b"Event", b"Shutdown");
        m.push(b"Privilege", b"system,all");
        m.push(b"Shutdown", b"Cleanly");
        m.push(b"Restart", b"False");
        self.emit(server, m);
        if let Ok(s) = self.srv(server) {
            s.up = false;
            s.client = false;
            s.logged_in = false;
        }
    }

    /// A crash (kill -9): nothing is sent, the calls are gone.
    pub fn crash(&mut self, server: ServerId) {
        if let Ok(s) = self.srv(server) {
            s.up = false;
            s.client = false;
            s.logged_in = false;
            s.calls.clear();
            for l in &mut s.lots {
                l.last = None;
            }
        }
    }

    /// The server runs again (empty). Behind amiws, the proxy logs in again at once:
    /// `Authentication accepted` without ActionID, then `FullyBooted`.
    pub fn restart(&mut self, now: Timestamp, server: ServerId) {
        let wire = self.wire;
        let was_client = wire == Wire::Amiws && self.ws_client;
        if let Ok(s) = self.srv(server) {
            s.up = true;
            s.calls.clear();
            s.boot = now;
            s.client = was_client;
            s.logged_in = was_client;
        }
        if was_client {
            let mut m = Message::new();
            m.push(b"Response", b"Success");
            m.push(b"Message", b"Authentication accepted");
            self.emit(server, m);
            let mut m = Message::new();
            m.push(b"Event", b"FullyBooted");
            m.push(b"Privilege", b"system,all");
            m.push(b"Uptime", b"0");
            m.push(b"LastReload", b"0");
            m.push(b"Status", b"Fully Booted");
            self.emit(server, m);
        }
    }

    fn respond(&mut self, server: ServerId, pairs: &[(&str, &str)]) {
        let m = Message::from_pairs(pairs.iter().copied());
        self.emit(server, m);
    }

    /// The client sent raw AMI bytes to `server` (complete actions).
    pub fn handle_client_bytes(&mut self, now: Timestamp, server: ServerId, bytes: &[u8]) {
        let mut d = crate::ami_codec::Decoder::new().without_banner();
        let mut actions = Vec::new();
        let _ = d.decode(bytes, |i| {
            if let crate::ami_codec::Decoded::Message(m) = i {
                actions.push(m.to_message());
            }
        });
        for a in actions {
            self.handle_action(now, server, &a);
        }
    }

    /// The client sent one amiws frame (a flat JSON object); `AMIServerID` picks the
    /// server, without it every server answers.
    pub fn handle_client_frame(&mut self, now: Timestamp, frame: &[u8]) {
        let mut wrapped = b"{\"data\": ".to_vec();
        wrapped.extend_from_slice(frame);
        wrapped.push(b'}');
        let Ok(f) = crate::amiws::decode_frame(&wrapped) else { return };
        let mut action = Message::new();
        let mut target = None;
        for (k, v) in f.data.iter() {
            if k.eq_ignore_ascii_case(b"AMIServerID") {
                target = std::str::from_utf8(v).ok().and_then(|v| v.parse::<ServerId>().ok());
            } else {
                action.push(k, v);
            }
        }
        let servers: Vec<ServerId> = match target {
            Some(t) => self.server_ids().into_iter().filter(|s| *s == t).collect(),
            None => self.server_ids(),
        };
        for s in servers {
            if self.is_up(s) {
                self.handle_action(now, s, &action);
            }
        }
    }

    /// One action from the client of `server`.
    pub fn handle_action(&mut self, now: Timestamp, server: ServerId, a: &Message) {
        let aid = a.get_str("ActionID").map(|v| v.into_owned());
        let aid = aid.as_deref();
        let name = a.get_str("Action").unwrap_or_default().to_ascii_lowercase();
        let with_id = |mut pairs: Vec<(String, String)>| {
            if let Some(id) = aid {
                pairs.insert(1, ("ActionID".into(), id.into()));
            }
            pairs
        };
        let send = |pbx: &mut SimPbx, pairs: Vec<(String, String)>| {
            let m = Message::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            pbx.answer(server, m);
        };
        let logged_in = self.srv_ref(server).is_some_and(|s| s.logged_in);
        if !logged_in && name != "login" {
            // Before login Asterisk answers only Login/Logoff/Challenge.
            send(
                self,
                with_id(vec![
                    ("Response".into(), "Error".into()),
                    ("Message".into(), "Permission denied".into()),
                ]),
            );
            return;
        }
        match name.as_str() {
            "login" => {
                let ok = a.is("Username", "amiuser") && a.get_str("Secret").as_deref() == Some("amisecret");
                if let Ok(s) = self.srv(server) {
                    s.logged_in = ok;
                }
                if ok {
                    send(
                        self,
                        with_id(vec![
                            ("Response".into(), "Success".into()),
                            ("Message".into(), "Authentication accepted".into()),
                        ]),
                    );
                    self.respond(
                        server,
                        &[
                            ("Event", "FullyBooted"),
                            ("Privilege", "system,all"),
                            ("Uptime", "1"),
                            ("LastReload", "1"),
                            ("Status", "Fully Booted"),
                        ],
                    );
                } else {
                    send(
                        self,
                        with_id(vec![
                            ("Response".into(), "Error".into()),
                            ("Message".into(), "Authentication failed".into()),
                        ]),
                    );
                }
            }
            "logoff" => {
                send(
                    self,
                    with_id(vec![
                        ("Response".into(), "Goodbye".into()),
                        ("Message".into(), "Thanks for all the fish.".into()),
                    ]),
                );
                self.disconnect_client(server);
            }
            "ping" => send(
                self,
                with_id(vec![
                    ("Response".into(), "Success".into()),
                    ("Ping".into(), "Pong".into()),
                    ("Timestamp".into(), format!("{}.000000", now.as_unix_millis() / 1000)),
                ]),
            ),
            "parkinglots" => {
                send(
                    self,
                    with_id(vec![
                        ("Response".into(), "Success".into()),
                        ("EventList".into(), "start".into()),
                        ("Message".into(), "Parking lots will follow".into()),
                    ]),
                );
                let lots = self.lots(server);
                for l in &lots {
                    send(
                        self,
                        with_id(vec![
                            ("Event".into(), "Parkinglot".into()),
                            ("Name".into(), l.name.clone()),
                            ("StartSpace".into(), l.start.to_string()),
                            ("StopSpace".into(), l.end.to_string()),
                            ("Timeout".into(), l.timeout_secs.to_string()),
                        ]),
                    );
                }
                send(
                    self,
                    with_id(vec![
                        ("Event".into(), "ParkinglotsComplete".into()),
                        ("EventList".into(), "Complete".into()),
                        ("ListItems".into(), lots.len().to_string()),
                    ]),
                );
            }
            "parkedcalls" => {
                let lot = a.get_str("ParkingLot").map(|v| v.into_owned());
                if let Some(l) = &lot {
                    if !self.lots(server).iter().any(|x| &x.name == l) {
                        send(
                            self,
                            with_id(vec![
                                ("Response".into(), "Error".into()),
                                ("Message".into(), "Requested parking lot could not be found.".into()),
                            ]),
                        );
                        return;
                    }
                }
                send(
                    self,
                    with_id(vec![
                        ("Response".into(), "Success".into()),
                        ("EventList".into(), "start".into()),
                        ("Message".into(), "Parked calls will follow".into()),
                    ]),
                );
                let calls: Vec<SimCall> = self
                    .calls(server)
                    .into_iter()
                    .filter(|c| lot.as_ref().is_none_or(|l| &c.lot == l))
                    .collect();
                for c in &calls {
                    let mut m = Message::with_capacity(24, 700);
                    m.push(b"Event", b"ParkedCall");
                    Self::parkee_block(&mut m, c);
                    Self::tail(&mut m, c, now);
                    if let Some(id) = aid {
                        m.push(b"ActionID", id.as_bytes());
                    }
                    self.emit(server, m);
                }
                let n = calls.len().to_string();
                send(
                    self,
                    with_id(vec![
                        ("Event".into(), "ParkedCallsComplete".into()),
                        ("EventList".into(), "Complete".into()),
                        ("ListItems".into(), n.clone()),
                        ("Total".into(), n),
                    ]),
                );
            }
            "park" => {
                let channel = a.get_str("Channel").map(|v| v.into_owned()).unwrap_or_default();
                let lot = a.get_str("Parkinglot").map(|v| v.into_owned()).unwrap_or_else(|| "default".into());
                let timeout_ms = a.get_str("Timeout").and_then(|t| t.parse::<u64>().ok());
                // Channels named `Local/caller-<num>...` exist (the demo's callers);
                // any other name does not.
                let Some(num) = channel
                    .strip_prefix("Local/caller-")
                    .map(|r| r.split(['@', ';', '-']).next().unwrap_or("").to_string())
                else {
                    send(
                        self,
                        with_id(vec![
                            ("Response".into(), "Error".into()),
                            ("Message".into(), format!("Channel does not exist: {channel}")),
                        ]),
                    );
                    return;
                };
                let pick = {
                    let s = match self.srv(server) {
                        Ok(s) => s,
                        Err(_) => return,
                    };
                    s.lots
                        .iter()
                        .find(|l| l.name == lot)
                        .map(|l| (Self::pick(l, &s.calls, None), l.timeout_secs))
                };
                match pick {
                    Some((Some(space), lot_timeout)) => {
                        send(
                            self,
                            with_id(vec![
                                ("Response".into(), "Success".into()),
                                ("Message".into(), "Park successful\n".into()),
                            ]),
                        );
                        let secs = timeout_ms.map(|ms| ms / 1000).unwrap_or(lot_timeout);
                        let mut call =
                            self.new_call(now, &num, &format!("Customer {num}"), &lot, space, Some(secs));
                        call.channel = channel;
                        self.place(now, server, call);
                    }
                    _ => send(
                        self,
                        with_id(vec![
                            ("Response".into(), "Error".into()),
                            ("Message".into(), "Park action failed\n".into()),
                        ]),
                    ),
                }
            }
            "originate" if a.is("Application", "ParkedCall") => {
                let data = a.get_str("Data").map(|v| v.into_owned()).unwrap_or_default();
                let (lot, space) = data
                    .split_once(',')
                    .map(|(l, s)| (l.to_string(), s.trim().parse::<u32>().unwrap_or(0)))
                    .unwrap_or(("default".into(), 0));
                let to = a.get_str("Channel").map(|v| v.into_owned()).unwrap_or_default();
                send(
                    self,
                    with_id(vec![
                        ("Response".into(), "Success".into()),
                        ("Message".into(), "Originate successfully queued".into()),
                    ]),
                );
                let ok = self.retrieve(now, server, &lot, space, "1002").is_ok();
                let mut m = Message::new();
                m.push(b"Event", b"OriginateResponse");
                m.push(b"Privilege", b"call,all");
                if let Some(id) = aid {
                    m.push(b"ActionID", id.as_bytes());
                }
                m.push(b"Response", if ok { b"Success" as &[u8] } else { b"Failure" });
                m.push(b"Channel", to.as_bytes());
                m.push(b"Application", b"ParkedCall");
                m.push(b"Data", data.as_bytes());
                m.push(b"Reason", if ok { b"4" as &[u8] } else { b"0" });
                self.emit(server, m);
            }
            _ => send(
                self,
                with_id(vec![
                    ("Response".into(), "Error".into()),
                    ("Message".into(), "Invalid/unknown command".into()),
                ]),
            ),
        }
    }
}

/// C-escapes a caller name as Asterisk 13.5+ does.
pub fn escape_c(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out
}
