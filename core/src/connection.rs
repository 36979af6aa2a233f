//! The sans-IO AMI connection state machine.
//!
//! One [`Connection`] per link (a TCP socket to Asterisk, or a WebSocket to amiws).
//! It does no IO and reads no clock. The driver (the transport crate, a test, a
//! simulation) calls, in a loop:
//!
//! ```text
//! conn.handle_connected(now)                       once the link is open
//! conn.handle_input(now, &bytes)  /  conn.handle_frame(now, &frame)
//! while let Some(b) = conn.poll_transmit() { write b }   (amiws: one text frame each)
//! while let Some(o) = conn.poll_output() { ... }         replies, parking events, state
//! conn.poll_timeout() -> wake at that time and call conn.handle_timeout(now)
//! conn.handle_disconnected(now)                    when the link drops
//! ```
//!
//! Requests ([`Connection::get_parking_lots`], [`Connection::park_call`], ...) return a
//! [`RequestId`] at once; the answer comes later as [`Output::Reply`]. A request is
//! always answered: by its reply, its list's completion, a disconnect, or its deadline.

use crate::action::Action;
use crate::ami_codec::{self, Decoded, Decoder, RawMessage};
use crate::amiws::{self, FrameError};
use crate::error::{ConnectionError, ParkingError};
use crate::event::ParkingEvent;
use crate::message::Message;
use crate::model::{ParkedCall, ParkingLot, Retriever, ServerId};
use crate::options::ParkingOptions;
use crate::store::{ConnectionState, ParkingStore, WindowId};
use crate::time::Timestamp;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What the link carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Raw AMI bytes (TCP or TLS to Asterisk).
    Ami,
    /// amiws JSON text frames (WebSocket to an amiws proxy, possibly several servers).
    Amiws,
}

/// How to log in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMethod {
    /// `Secret:` in the Login action.
    #[default]
    Plain,
    /// `Action: Challenge` then `Key: md5(challenge + secret)`: the secret never crosses the wire.
    Md5,
}

/// A secret that never shows in Debug or Display output.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    /// The secret itself (only for sending it).
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// True when no secret was given.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Configuration of one connection.
///
/// ```
/// use ami_parking::{ConnectionConfig, Mode};
/// let cfg = ConnectionConfig::ami("amiuser", "amisecret");
/// assert!(!format!("{cfg:?}").contains("amisecret"));
/// assert_eq!(ConnectionConfig::amiws().mode, Mode::Amiws);
/// ```
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    /// Raw AMI or amiws.
    pub mode: Mode,
    /// AMI user (raw AMI only; amiws logs in itself).
    pub username: String,
    /// AMI secret.
    pub secret: Secret,
    /// Plain or MD5 challenge login.
    pub auth: AuthMethod,
    /// `Events:` sent with Login (e.g. `call,system`); `None` sends none (all the user may read).
    pub events: Option<String>,
    /// Server id given to a raw AMI connection's server (default 1).
    pub server_id: ServerId,
    /// Deadline of every request (default 10 s).
    pub request_timeout: Duration,
    /// Send a Ping when idle this long (raw AMI only; zero = off; default 30 s).
    pub keepalive_interval: Duration,
    /// Cap on one server message (default 1 MiB).
    pub max_message_bytes: usize,
    /// Distinguishes this client's ActionIDs from other clients' behind one amiws.
    /// `None` derives one from the time and a process-wide counter; the transport sets
    /// a random one.
    pub instance_id: Option<u64>,
    /// The parking options (lot, auto refresh, poll interval, callbacks, filter).
    pub parking: ParkingOptions,
}

impl ConnectionConfig {
    /// Raw AMI with a plain login.
    pub fn ami(username: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            mode: Mode::Ami,
            username: username.into(),
            secret: Secret::new(secret),
            auth: AuthMethod::Plain,
            events: None,
            server_id: 1,
            request_timeout: Duration::from_secs(10),
            keepalive_interval: Duration::from_secs(30),
            max_message_bytes: ami_codec::DEFAULT_MAX_MESSAGE_BYTES,
            instance_id: None,
            parking: ParkingOptions::default(),
        }
    }

    /// amiws (no login of our own).
    pub fn amiws() -> Self {
        Self { mode: Mode::Amiws, keepalive_interval: Duration::ZERO, ..Self::ami("", "") }
    }
}

/// Which server(s) a request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Target {
    /// Raw AMI: the one server. amiws: every server (no `AMIServerID`), answers merged.
    #[default]
    All,
    /// One server (`AMIServerID` behind amiws).
    Server(ServerId),
}

/// Identifies a request; its answer comes as [`Output::Reply`] with the same id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// A request to start on the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `Parkinglots`; the answer is also written into the store.
    ParkingLots,
    /// `ParkedCalls` (one lot or all); the store is reconciled with the answer.
    ParkedCalls {
        /// Only this lot.
        lot: Option<String>,
    },
    /// `Park`; answered with the space Asterisk assigned.
    Park {
        /// The channel to park.
        channel: String,
        /// The lot (the default lot when `None`).
        lot: Option<String>,
        /// Parking time for this call (sent in milliseconds).
        timeout: Option<Duration>,
    },
    /// `Originate` to `ParkedCall(lot,space)`; answered on the `UnParkedCall`.
    Retrieve {
        /// The space.
        space: u32,
        /// Where the call goes.
        to_channel: String,
        /// The lot (the default lot when `None`).
        lot: Option<String>,
    },
    /// Any action; answered with its response.
    Action(Action),
    /// Any list action; answered with its items. `complete_event` closes lists of
    /// Asterisk versions that send no `EventList: Complete`.
    List {
        /// The action.
        action: Action,
        /// e.g. `CoreShowChannelsComplete`.
        complete_event: Option<String>,
    },
}

impl Request {
    fn name(&self) -> String {
        match self {
            Request::ParkingLots => "Parkinglots".into(),
            Request::ParkedCalls { .. } => "ParkedCalls".into(),
            Request::Park { .. } => "Park".into(),
            Request::Retrieve { .. } => "Originate (retrieve)".into(),
            Request::Action(a) | Request::List { action: a, .. } => a.name().into(),
        }
    }
    fn is_list(&self) -> bool {
        matches!(self, Request::ParkingLots | Request::ParkedCalls { .. } | Request::List { .. })
    }
}

/// A successful answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// Lots of every server that answered.
    Lots(Vec<ParkingLot>),
    /// Calls of every server that answered (in (server, lot, space) order), shared
    /// with the store.
    Calls(Vec<Arc<ParkedCall>>),
    /// The call was parked in this space.
    Parked {
        /// Server.
        server_id: ServerId,
        /// Lot.
        lot: String,
        /// Space Asterisk chose.
        space: u32,
        /// The call as parked.
        call: Box<ParkedCall>,
    },
    /// The call was picked up.
    Retrieved {
        /// Server.
        server_id: ServerId,
        /// Lot.
        lot: String,
        /// Space.
        space: u32,
        /// Who took it.
        retriever: Retriever,
    },
    /// The response to a plain action (of the first server that answered).
    Response(Message),
    /// The items of a generic list (every server's, in arrival order).
    List(Vec<Message>),
}

/// Something the connection reports.
#[allow(clippy::large_enum_variant)] // parking events are the common case; boxing them costs more
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// The answer to a request.
    Reply {
        /// The request.
        id: RequestId,
        /// Its outcome.
        result: Result<Reply, ParkingError>,
    },
    /// A parking change (also dispatched through the store's listeners and stream).
    Parking(ParkingEvent),
    /// The connection state changed.
    State(ConnectionState),
    /// A server behind amiws logged in again (`Authentication accepted` without
    /// ActionID); the connection resyncs it when `auto_refresh` is on.
    ServerLoggedIn(ServerId),
    /// A server announced a clean shutdown (`Event: Shutdown`).
    ServerShutdown(ServerId),
    /// One amiws frame could not be read; the connection goes on.
    BadFrame(FrameError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    Down,
    AwaitBanner,
    AwaitChallenge,
    AwaitLogin,
    Up,
}

#[derive(Debug, Default)]
struct ServerList {
    started: bool,
    items: Vec<Message>,
    /// `ParkedCalls` items, parsed as they arrive.
    calls: Vec<ParkedCall>,
}

#[derive(Debug)]
struct Pending {
    id: RequestId,
    req: Request,
    internal: bool,
    action_id: String,
    expected: Option<BTreeSet<ServerId>>,
    lists: BTreeMap<ServerId, ServerList>,
    done: BTreeMap<ServerId, Result<(), ParkingError>>,
    deadline: Timestamp,
    replied: bool,
    window: Option<WindowId>,
    park_accepted: bool,
    lots: Vec<ParkingLot>,
    calls: Vec<Arc<ParkedCall>>,
    response: Option<Message>,
    target: Target,
}

static INSTANCE_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The AMI connection state machine. See the module docs for the call pattern.
pub struct Connection {
    cfg: ConnectionConfig,
    store: ParkingStore,
    decoder: Decoder,
    link: Link,
    prefix: String,
    counter: u64,
    next_request: u64,
    transmit: VecDeque<Vec<u8>>,
    outputs: VecDeque<Output>,
    pending: BTreeMap<RequestId, Pending>,
    by_action: HashMap<String, RequestId>,
    known_servers: BTreeSet<ServerId>,
    login_deadline: Option<Timestamp>,
    login_action: Option<String>,
    next_poll: Option<Timestamp>,
    next_ping: Option<Timestamp>,
    ping: Option<RequestId>,
    forced_login_id: Option<String>,
    state: ConnectionState,
    /// When to try the automatic refresh again (it failed, e.g. Asterisk still booting).
    refresh_retry: Option<(Timestamp, Target)>,
    /// Automatic refreshes refused in a row (the retry delay doubles, up to a minute).
    refresh_failures: u32,
    /// The latest time the driver gave us.
    now: Timestamp,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("mode", &self.cfg.mode)
            .field("link", &self.link)
            .field("pending", &self.pending.len())
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Connection {
    /// A connection with a new store. No IO happens here.
    pub fn new(cfg: ConnectionConfig, now: Timestamp) -> Self {
        let store = ParkingStore::new(cfg.parking.clone());
        Self::with_store(cfg, store, now)
    }

    /// A connection that writes into an existing store (e.g. after reconnecting with a
    /// new `Connection`, so UIs keep their signals).
    pub fn with_store(cfg: ConnectionConfig, store: ParkingStore, now: Timestamp) -> Self {
        let instance = cfg.instance_id.unwrap_or_else(|| {
            let n = INSTANCE_COUNTER.fetch_add(1, Ordering::Relaxed);
            (now.as_unix_millis().wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ n.wrapping_mul(0xBF58_476D_1CE4_E5B9))
                .rotate_left(17)
        });
        let decoder = Decoder::with_max_message_bytes(cfg.max_message_bytes);
        Self {
            prefix: format!("{:08x}", instance as u32 ^ (instance >> 32) as u32),
            cfg,
            store,
            decoder,
            link: Link::Down,
            counter: 0,
            next_request: 0,
            transmit: VecDeque::new(),
            outputs: VecDeque::new(),
            pending: BTreeMap::new(),
            by_action: HashMap::new(),
            known_servers: BTreeSet::new(),
            login_deadline: None,
            login_action: None,
            next_poll: None,
            next_ping: None,
            ping: None,
            forced_login_id: None,
            state: ConnectionState::Disconnected,
            refresh_retry: None,
            refresh_failures: 0,
            now,
        }
    }

    /// The store this connection writes into (clone it freely).
    pub fn store(&self) -> &ParkingStore {
        &self.store
    }

    /// The configuration.
    pub fn config(&self) -> &ConnectionConfig {
        &self.cfg
    }

    /// True once logged in (amiws: once the link is open).
    pub fn is_logged_in(&self) -> bool {
        self.link == Link::Up
    }

    /// Servers seen so far (raw AMI: the configured one).
    pub fn known_servers(&self) -> impl Iterator<Item = ServerId> + '_ {
        self.known_servers.iter().copied()
    }

    /// The prefix of this instance's ActionIDs.
    pub fn action_id_prefix(&self) -> &str {
        &self.prefix
    }

    fn set_state(&mut self, s: ConnectionState) {
        if self.state != s {
            self.state = s.clone();
            self.store.set_connection_state(s.clone());
            self.outputs.push_back(Output::State(s));
        }
    }

    /// This connection's own state (the store's `connection_state` shows the latest
    /// change of any connection writing into it).
    pub fn state(&self) -> &ConnectionState {
        &self.state
    }

    fn new_action_id(&mut self) -> String {
        self.counter += 1;
        format!("{}-{}", self.prefix, self.counter)
    }

    /// Next bytes to write (raw AMI), or the next text frame (amiws).
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmit.pop_front()
    }

    /// Next output (replies, parking events, state changes).
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When [`Connection::handle_timeout`] should be called next.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        let reqs = self.pending.values().map(|p| p.deadline);
        reqs.chain(self.login_deadline)
            .chain(self.next_poll)
            .chain(self.next_ping)
            .chain(self.refresh_retry.map(|(t, _)| t))
            .min()
    }

    // ----- link events -----

    /// Like [`Connection::handle_connected`], with the ActionID the Login will carry.
    /// For replaying captures in tests.
    #[doc(hidden)]
    pub fn handle_connected_with_login_id(&mut self, now: Timestamp, login_action_id: &str) {
        self.forced_login_id = Some(login_action_id.to_owned());
        self.handle_connected(now);
    }

    /// The link is open. Raw AMI: wait for the banner, then log in. amiws: logged in now.
    pub fn handle_connected(&mut self, now: Timestamp) {
        self.now = now;
        self.decoder.reset();
        match self.cfg.mode {
            Mode::Ami => {
                self.known_servers.insert(self.cfg.server_id);
                self.link = Link::AwaitBanner;
                self.login_deadline = Some(now + self.cfg.request_timeout);
                self.set_state(ConnectionState::LoggingIn);
            }
            Mode::Amiws => self.logged_in(now),
        }
    }

    /// The link dropped: every pending request fails with `Disconnected`.
    pub fn handle_disconnected(&mut self, now: Timestamp) {
        self.now = now;
        self.link = Link::Down;
        self.refresh_retry = None;
        self.login_deadline = None;
        self.next_poll = None;
        self.next_ping = None;
        self.ping = None;
        self.transmit.clear();
        self.decoder.reset();
        let all: Vec<RequestId> = self.pending.keys().copied().collect();
        for id in all {
            let action = self.pending[&id].req.name();
            self.finish(id, Err(ParkingError::Disconnected { action }));
        }
        self.set_state(ConnectionState::Disconnected);
    }

    fn logged_in(&mut self, now: Timestamp) {
        self.link = Link::Up;
        self.login_deadline = None;
        self.set_state(ConnectionState::LoggedIn);
        if self.cfg.parking.auto_refresh {
            self.refresh_internal(now, Target::All);
        }
        self.schedule_poll(now);
        self.schedule_ping(now);
    }

    fn schedule_poll(&mut self, now: Timestamp) {
        let every = self.cfg.parking.poll_interval;
        self.next_poll = (!every.is_zero() && self.link == Link::Up).then(|| now + every);
    }

    fn schedule_ping(&mut self, now: Timestamp) {
        let every = self.cfg.keepalive_interval;
        self.next_ping =
            (!every.is_zero() && self.cfg.mode == Mode::Ami && self.link == Link::Up).then(|| now + every);
    }

    fn refresh_internal(&mut self, now: Timestamp, target: Target) {
        let _ = self.start(now, Request::ParkingLots, target, None, true);
        let _ = self.start(now, Request::ParkedCalls { lot: None }, target, None, true);
    }

    /// Time passed: fails requests past their deadline, sends keep-alives and polls.
    pub fn handle_timeout(&mut self, now: Timestamp) -> Result<(), ConnectionError> {
        self.now = now;
        if let Some((at, target)) = self.refresh_retry {
            if at <= now {
                self.refresh_retry = None;
                if self.link == Link::Up {
                    self.refresh_internal(now, target);
                }
            }
        }
        if let Some(d) = self.login_deadline {
            if now >= d {
                self.login_deadline = None;
                return Err(ConnectionError::Unresponsive("login".into()));
            }
        }
        let expired: Vec<RequestId> =
            self.pending.values().filter(|p| p.deadline <= now).map(|p| p.id).collect();
        for id in expired {
            if Some(id) == self.ping {
                self.ping = None;
                self.finish(
                    id,
                    Err(ParkingError::Timeout { action: "Ping".into(), after: self.cfg.request_timeout }),
                );
                return Err(ConnectionError::Unresponsive("keep-alive Ping".into()));
            }
            self.expire(id);
        }
        if self.next_poll.is_some_and(|t| t <= now) {
            let _ = self.start(now, Request::ParkedCalls { lot: None }, Target::All, None, true);
            self.schedule_poll(now);
        }
        if self.next_ping.is_some_and(|t| t <= now) {
            if self.ping.is_none() {
                self.ping =
                    self.start(now, Request::Action(Action::new("Ping")), Target::All, None, true).ok();
            }
            self.schedule_ping(now);
        }
        Ok(())
    }

    fn expire(&mut self, id: RequestId) {
        let Some(p) = self.pending.get(&id) else {
            return;
        };
        if p.replied {
            // A fan-out request that lingered for late servers.
            self.remove(id);
            return;
        }
        let after = self.cfg.request_timeout;
        // Partial fan-out answers are still answers (lists and plain actions; park and
        // retrieve complete only on their events).
        let partial_ok = p.req.is_list() || matches!(p.req, Request::Action(_));
        if partial_ok && p.done.values().any(|r| r.is_ok()) {
            self.complete_ok(id);
            return;
        }
        let err = match &p.req {
            Request::Park { channel, .. } if p.park_accepted => {
                ParkingError::NoParkedCallEvent { channel: channel.clone(), after }
            }
            r => ParkingError::Timeout { action: r.name(), after },
        };
        self.finish(id, Err(err));
    }

    // ----- input -----

    /// Bytes from the AMI socket. An `Err` means the link must be closed (then call
    /// [`Connection::handle_disconnected`]).
    pub fn handle_input(&mut self, now: Timestamp, bytes: &[u8]) -> Result<(), ConnectionError> {
        self.now = now;
        let mut dec = std::mem::take(&mut self.decoder);
        let mut fatal = None;
        let res = dec.decode(bytes, |item| {
            if fatal.is_some() {
                return;
            }
            let r = match item {
                Decoded::Banner(_) => self.on_banner(now),
                Decoded::Message(raw) => self.on_raw(now, raw),
            };
            if let Err(e) = r {
                fatal = Some(e);
            }
        });
        self.decoder = dec;
        if let Some(e) = fatal {
            return Err(e);
        }
        res.map_err(ConnectionError::from)
    }

    /// One amiws text frame (as bytes: amiws may send invalid UTF-8). A frame that
    /// cannot be read is reported as [`Output::BadFrame`] and skipped.
    pub fn handle_frame(&mut self, now: Timestamp, frame: &[u8]) -> Result<(), ConnectionError> {
        self.now = now;
        match amiws::decode_frame(frame) {
            Ok(f) => {
                let server = f.server_id.unwrap_or(self.cfg.server_id);
                self.on_message(now, server, f.data)
            }
            Err(e) => {
                self.outputs.push_back(Output::BadFrame(e));
                Ok(())
            }
        }
    }

    fn on_banner(&mut self, now: Timestamp) -> Result<(), ConnectionError> {
        if self.link != Link::AwaitBanner {
            return Ok(());
        }
        let id = self.forced_login_id.take().unwrap_or_else(|| self.new_action_id());
        let action = match self.cfg.auth {
            AuthMethod::Md5 => {
                self.link = Link::AwaitChallenge;
                Action::new("Challenge").header("AuthType", "MD5")
            }
            AuthMethod::Plain => {
                self.link = Link::AwaitLogin;
                Action::new("Login")
                    .header("Username", &self.cfg.username)
                    .header("Secret", self.cfg.secret.expose())
            }
        };
        let action = if self.cfg.auth == AuthMethod::Plain {
            action.header_opt("Events", self.cfg.events.as_deref())
        } else {
            action
        };
        self.login_action = Some(id.clone());
        self.login_deadline = Some(now + self.cfg.request_timeout);
        self.send_raw(&action, &id, None).map_err(|e| ConnectionError::Protocol(e.to_string()))
    }

    /// Decides cheaply whether a raw message matters before building its header list:
    /// events other than parking and connection events, without an ActionID of ours,
    /// are passed over.
    fn on_raw(&mut self, now: Timestamp, raw: RawMessage<'_>) -> Result<(), ConnectionError> {
        if self.link == Link::AwaitBanner {
            // No banner (e.g. a proxy): log in now, then handle the message.
            self.on_banner(now)?;
        }
        if let Some(name) = raw.event_name() {
            // A `ParkedCalls` list item of ours: parse it straight from the raw bytes.
            if name.eq_ignore_ascii_case(b"ParkedCall") && !self.by_action.is_empty() {
                if let Some(aid) = raw.get("ActionID") {
                    let server = self.cfg.server_id;
                    let id = std::str::from_utf8(aid).ok().and_then(|a| self.by_action.get(a)).copied();
                    if let Some(p) = id.and_then(|id| self.pending.get_mut(&id)) {
                        if matches!(p.req, Request::ParkedCalls { .. }) {
                            if let Some(call) = ParkedCall::from_headers(server, raw.headers(), now) {
                                p.lists.entry(server).or_default().calls.push(call);
                            }
                        }
                    }
                    // Never a live event; another client's item is not ours either.
                    return Ok(());
                }
            }
            if !is_interesting_event(name) {
                if self.by_action.is_empty() {
                    return Ok(());
                }
                match raw.get("ActionID") {
                    Some(id) if std::str::from_utf8(id).is_ok_and(|id| self.by_action.contains_key(id)) => {}
                    _ => return Ok(()),
                }
            }
        }
        let server = self.cfg.server_id;
        self.on_message(now, server, raw.to_message())
    }

    fn on_message(&mut self, now: Timestamp, server: ServerId, msg: Message) -> Result<(), ConnectionError> {
        if self.cfg.mode == Mode::Amiws
            && self.known_servers.insert(server)
            && self.link == Link::Up
            && self.cfg.parking.auto_refresh
        {
            // A server we had not heard of: sync it on its own.
            if !self.store.is_synced(server) {
                self.refresh_internal(now, Target::Server(server));
            }
        }
        let action_id = msg.action_id().map(|a| String::from_utf8_lossy(a).into_owned());
        if msg.get("Event").is_none() {
            return self.on_response(now, server, action_id, msg);
        }
        if let Some(aid) = action_id {
            if let Some(&id) = self.by_action.get(&aid) {
                self.on_list_event(now, server, id, msg);
            }
            // An ActionID we do not own: another client's answer (amiws). Never live.
            return Ok(());
        }
        self.on_live_event(now, server, msg);
        Ok(())
    }

    fn on_response(
        &mut self,
        now: Timestamp,
        server: ServerId,
        action_id: Option<String>,
        msg: Message,
    ) -> Result<(), ConnectionError> {
        let Some(aid) = action_id else {
            if self.cfg.mode == Mode::Amiws && msg.is("Message", "Authentication accepted") {
                self.outputs.push_back(Output::ServerLoggedIn(server));
                if self.link == Link::Up && self.cfg.parking.auto_refresh {
                    self.refresh_internal(now, Target::Server(server));
                }
            }
            return Ok(());
        };
        if self.login_action.as_deref() == Some(aid.as_str()) {
            return self.on_login_response(now, msg);
        }
        let Some(&id) = self.by_action.get(&aid) else {
            return Ok(());
        };
        let Some(p) = self.pending.get_mut(&id) else {
            return Ok(());
        };
        if p.target != Target::All && p.target != Target::Server(server) && self.cfg.mode == Mode::Amiws {
            return Ok(());
        }
        let ok =
            msg.is("Response", "Success") || msg.is("Response", "Follows") || msg.is("Response", "Goodbye");
        if !ok {
            let message = msg
                .get_str("Message")
                .map(|m| m.trim_end().to_string())
                .unwrap_or_else(|| "(no message)".into());
            let err = ParkingError::Asterisk { action: p.req.name(), message, server_id: server };
            self.server_done(id, server, Err(err));
            return Ok(());
        }
        match &p.req {
            Request::ParkingLots | Request::ParkedCalls { .. } | Request::List { .. } => {
                p.lists.entry(server).or_default().started = true;
            }
            Request::Park { .. } => p.park_accepted = true,
            Request::Retrieve { .. } => {}
            Request::Action(_) => {
                p.response.get_or_insert(msg);
                self.server_done(id, server, Ok(()));
            }
        }
        Ok(())
    }

    fn on_login_response(&mut self, now: Timestamp, msg: Message) -> Result<(), ConnectionError> {
        self.login_action = None;
        let ok = msg.is("Response", "Success");
        match self.link {
            Link::AwaitChallenge if ok => {
                let challenge = msg.get("Challenge").unwrap_or_default();
                use md5::{Digest, Md5};
                let mut h = Md5::new();
                h.update(challenge);
                h.update(self.cfg.secret.expose().as_bytes());
                let key = hex(&h.finalize());
                let id = self.new_action_id();
                let action = Action::new("Login")
                    .header("AuthType", "MD5")
                    .header("Username", &self.cfg.username)
                    .header("Key", key)
                    .header_opt("Events", self.cfg.events.as_deref());
                self.link = Link::AwaitLogin;
                self.login_action = Some(id.clone());
                self.login_deadline = Some(now + self.cfg.request_timeout);
                self.send_raw(&action, &id, None).map_err(|e| ConnectionError::Protocol(e.to_string()))
            }
            Link::AwaitLogin if ok => {
                self.logged_in(now);
                Ok(())
            }
            _ => {
                let message = msg
                    .get_str("Message")
                    .map(|m| m.trim_end().to_string())
                    .unwrap_or_else(|| "login failed".into());
                self.login_deadline = None;
                self.link = Link::Down;
                Err(ConnectionError::LoginRejected { username: self.cfg.username.clone(), message })
            }
        }
    }

    fn on_list_event(&mut self, now: Timestamp, server: ServerId, id: RequestId, msg: Message) {
        let Some(p) = self.pending.get_mut(&id) else {
            return;
        };
        if self.cfg.mode == Mode::Amiws && p.target != Target::All && p.target != Target::Server(server) {
            return;
        }
        if let Request::Retrieve { lot, space, to_channel } = &p.req {
            if msg.is("Event", "OriginateResponse") && !msg.is("Response", "Success") {
                let reason =
                    msg.get_str("Reason").map(|r| r.into_owned()).unwrap_or_else(|| "failure".into());
                let err = ParkingError::OriginateFailed {
                    lot: lot.clone().unwrap_or_else(|| self.cfg.parking.default_parking_lot.clone()),
                    space: *space,
                    channel: to_channel.clone(),
                    reason: format!(
                        "Response: {}, Reason: {reason}",
                        msg.get_str("Response").unwrap_or_default()
                    ),
                };
                self.server_done(id, server, Err(err));
            }
            return;
        }
        if !p.req.is_list() {
            return;
        }
        let complete = msg.is("EventList", "Complete")
            || match (&p.req, msg.event_name()) {
                (Request::ParkingLots, Some(n)) => n.eq_ignore_ascii_case("ParkinglotsComplete"),
                (Request::ParkedCalls { .. }, Some(n)) => n.eq_ignore_ascii_case("ParkedCallsComplete"),
                (Request::List { complete_event: Some(c), .. }, Some(n)) => n.eq_ignore_ascii_case(c),
                _ => false,
            };
        let list = p.lists.entry(server).or_default();
        if !complete {
            if matches!(p.req, Request::ParkedCalls { .. }) {
                if msg.is("Event", "ParkedCall") {
                    if let Some(call) = ParkedCall::from_message(server, &msg, now) {
                        list.calls.push(call);
                    }
                }
            } else {
                list.items.push(msg);
            }
            return;
        }
        let items = std::mem::take(&mut list.items);
        let calls = std::mem::take(&mut list.calls);
        self.list_complete(id, server, items, calls);
    }

    fn list_complete(
        &mut self,
        id: RequestId,
        server: ServerId,
        items: Vec<Message>,
        calls: Vec<ParkedCall>,
    ) {
        let Some(p) = self.pending.get_mut(&id) else {
            return;
        };
        match &p.req {
            Request::ParkingLots => {
                let lots: Vec<ParkingLot> =
                    items.iter().filter_map(|m| ParkingLot::from_message(server, m)).collect();
                self.store.apply_lots(server, lots.clone());
                p.lots.extend(lots);
            }
            Request::ParkedCalls { lot } => {
                let lot = lot.clone();
                let window = p.window;
                let (events, listed) = self.store.reconcile(window, server, lot.as_deref(), calls);
                if let Some(p) = self.pending.get_mut(&id) {
                    p.calls.extend(listed);
                }
                self.outputs.extend(events.into_iter().map(Output::Parking));
            }
            Request::List { .. } => {
                p.lists.entry(server).or_default().items = items;
            }
            _ => {}
        }
        self.server_done(id, server, Ok(()));
    }

    fn on_live_event(&mut self, now: Timestamp, server: ServerId, msg: Message) {
        let Some(name) = msg.event_name() else { return };
        if name.eq_ignore_ascii_case("Shutdown") {
            self.outputs.push_back(Output::ServerShutdown(server));
            return;
        }
        let is_parked = name.eq_ignore_ascii_case("ParkedCall");
        let is_unparked = name.eq_ignore_ascii_case("UnParkedCall");
        let events = self.store.apply_message(now, server, &msg);
        // Park and retrieve requests waiting for this event.
        if is_parked || is_unparked {
            if let Some(call) = ParkedCall::from_message(server, &msg, now) {
                let waiting: Vec<RequestId> = self
                    .pending
                    .values()
                    .filter(|p| !p.replied && (p.target == Target::All || p.target == Target::Server(server)))
                    .filter(|p| match &p.req {
                        Request::Park { channel, .. } => is_parked && call.channel == *channel,
                        Request::Retrieve { space, lot, .. } => {
                            is_unparked
                                && call.parking_space == *space
                                && *call.parking_lot
                                    == *lot.as_deref().unwrap_or(&self.cfg.parking.default_parking_lot)
                        }
                        _ => false,
                    })
                    .map(|p| p.id)
                    .collect();
                for id in waiting {
                    let reply = if is_parked {
                        Reply::Parked {
                            server_id: server,
                            lot: call.parking_lot.to_string(),
                            space: call.parking_space,
                            call: Box::new(call.clone()),
                        }
                    } else {
                        Reply::Retrieved {
                            server_id: server,
                            lot: call.parking_lot.to_string(),
                            space: call.parking_space,
                            retriever: Retriever::from_message(&msg),
                        }
                    };
                    self.finish(id, Ok(reply));
                }
            }
        }
        self.outputs.extend(events.into_iter().map(Output::Parking));
    }

    // ----- requests -----

    /// Starts a request on `target`; the answer comes as [`Output::Reply`].
    ///
    /// Fails at once (nothing sent) when not logged in, when the action cannot be
    /// encoded, or (retrieve) when the store knows the space is empty.
    pub fn request(
        &mut self,
        now: Timestamp,
        req: Request,
        target: Target,
    ) -> Result<RequestId, ParkingError> {
        self.start(now, req, target, None, false)
    }

    /// Like [`Connection::request`] with a caller-chosen ActionID. For replaying
    /// captures in tests; normal callers let the connection choose unique ids.
    #[doc(hidden)]
    pub fn request_with_action_id(
        &mut self,
        now: Timestamp,
        req: Request,
        target: Target,
        action_id: &str,
    ) -> Result<RequestId, ParkingError> {
        self.start(now, req, target, Some(action_id.to_owned()), false)
    }

    /// `Parkinglots` (also writes the lots into the store).
    pub fn get_parking_lots(&mut self, now: Timestamp, target: Target) -> Result<RequestId, ParkingError> {
        self.request(now, Request::ParkingLots, target)
    }

    /// `ParkedCalls` for one lot or all; reconciles the store with the answer.
    pub fn get_parked_calls(
        &mut self,
        now: Timestamp,
        lot: Option<&str>,
        target: Target,
    ) -> Result<RequestId, ParkingError> {
        self.request(now, Request::ParkedCalls { lot: lot.map(str::to_owned) }, target)
    }

    /// Resyncs one lot (the seed's `refreshParkingLot`).
    pub fn refresh_parking_lot(
        &mut self,
        now: Timestamp,
        lot: &str,
        target: Target,
    ) -> Result<RequestId, ParkingError> {
        self.get_parked_calls(now, Some(lot), target)
    }

    /// Parks `channel`; answered with the space Asterisk assigned (from the live
    /// `ParkedCall` for that channel). `timeout` is sent in milliseconds.
    pub fn park_call(
        &mut self,
        now: Timestamp,
        channel: &str,
        lot: Option<&str>,
        timeout: Option<Duration>,
        target: Target,
    ) -> Result<RequestId, ParkingError> {
        self.request(
            now,
            Request::Park { channel: channel.into(), lot: lot.map(Into::into), timeout },
            target,
        )
    }

    /// Retrieves the call in `space` to `to_channel` (Originate `ParkedCall(lot,space)`);
    /// answered on the `UnParkedCall`.
    pub fn retrieve_call(
        &mut self,
        now: Timestamp,
        space: u32,
        to_channel: &str,
        lot: Option<&str>,
        target: Target,
    ) -> Result<RequestId, ParkingError> {
        self.request(
            now,
            Request::Retrieve { space, to_channel: to_channel.into(), lot: lot.map(Into::into) },
            target,
        )
    }

    fn start(
        &mut self,
        now: Timestamp,
        req: Request,
        target: Target,
        action_id: Option<String>,
        internal: bool,
    ) -> Result<RequestId, ParkingError> {
        if self.link != Link::Up {
            return Err(ParkingError::NotLoggedIn { action: req.name() });
        }
        let target = if self.cfg.mode == Mode::Ami { Target::All } else { target };
        let default_lot = self.cfg.parking.default_parking_lot.clone();
        let action = match &req {
            Request::ParkingLots => Action::new("Parkinglots"),
            Request::ParkedCalls { lot } => {
                Action::new("ParkedCalls").header_opt("ParkingLot", lot.as_deref())
            }
            Request::Park { channel, lot, timeout } => {
                let ms = match timeout {
                    Some(t) => {
                        let ms = t.as_millis();
                        if ms > i32::MAX as u128 {
                            return Err(ParkingError::InvalidArgument(format!(
                                "park timeout {t:?} is longer than Asterisk accepts"
                            )));
                        }
                        Some(ms.to_string())
                    }
                    None => None,
                };
                Action::new("Park")
                    .header("Channel", channel)
                    .header("Parkinglot", lot.as_deref().unwrap_or(&default_lot))
                    .header_opt("Timeout", ms)
            }
            Request::Retrieve { space, to_channel, lot } => {
                let lot = lot.as_deref().unwrap_or(&default_lot);
                let server = match target {
                    Target::Server(s) => Some(s),
                    Target::All => (self.known_servers.len() == 1)
                        .then(|| *self.known_servers.iter().next().unwrap_or(&self.cfg.server_id)),
                };
                if let Some(s) = server {
                    if self.store.is_synced(s) && self.store.get_parked_call(s, lot, *space).is_none() {
                        return Err(ParkingError::SpaceEmpty {
                            lot: lot.into(),
                            space: *space,
                            server_id: s,
                        });
                    }
                } else if self.known_servers.iter().all(|s| self.store.is_synced(*s))
                    && !self
                        .known_servers
                        .iter()
                        .any(|s| self.store.get_parked_call(*s, lot, *space).is_some())
                {
                    return Err(ParkingError::SpaceEmpty { lot: lot.into(), space: *space, server_id: 0 });
                }
                Action::new("Originate")
                    .header("Channel", to_channel)
                    .header("Application", "ParkedCall")
                    .header("Data", format!("{lot},{space}"))
                    .header("Async", "true")
            }
            Request::Action(a) | Request::List { action: a, .. } => a.clone(),
        };
        // Retrieve in amiws mode without a server: the one that has the call.
        let target = match (&req, target) {
            (Request::Retrieve { space, lot, .. }, Target::All) if self.cfg.mode == Mode::Amiws => {
                let lot = lot.as_deref().unwrap_or(&default_lot);
                let having: Vec<ServerId> = self
                    .known_servers
                    .iter()
                    .copied()
                    .filter(|s| self.store.get_parked_call(*s, lot, *space).is_some())
                    .collect();
                match having.as_slice() {
                    _ if self.known_servers.is_empty() => {
                        return Err(ParkingError::NoServerYet { action: req.name() })
                    }
                    [one] => Target::Server(*one),
                    [] if self.known_servers.len() == 1 => {
                        Target::Server(*self.known_servers.iter().next().unwrap_or(&1))
                    }
                    _ => {
                        let servers = if having.is_empty() {
                            self.known_servers.iter().copied().collect()
                        } else {
                            having
                        };
                        return Err(ParkingError::AmbiguousServer { action: req.name(), servers });
                    }
                }
            }
            (Request::Park { .. }, Target::All) if self.cfg.mode == Mode::Amiws => {
                match self.known_servers.len() {
                    0 => return Err(ParkingError::NoServerYet { action: req.name() }),
                    1 => Target::Server(*self.known_servers.iter().next().unwrap_or(&1)),
                    _ => {
                        return Err(ParkingError::AmbiguousServer {
                            action: req.name(),
                            servers: self.known_servers.iter().copied().collect(),
                        })
                    }
                }
            }
            (_, t) => t,
        };
        let aid = action_id.unwrap_or_else(|| self.new_action_id());
        let server_header = match target {
            Target::Server(s) if self.cfg.mode == Mode::Amiws => Some(s),
            _ => None,
        };
        self.send_raw(&action, &aid, server_header)?;
        self.next_request += 1;
        let id = RequestId(self.next_request);
        let expected = match (self.cfg.mode, target) {
            (Mode::Ami, _) => Some(BTreeSet::from([self.cfg.server_id])),
            (Mode::Amiws, Target::Server(s)) => Some(BTreeSet::from([s])),
            (Mode::Amiws, Target::All) if self.known_servers.is_empty() => None,
            (Mode::Amiws, Target::All) => Some(self.known_servers.clone()),
        };
        let window = matches!(req, Request::ParkedCalls { .. }).then(|| self.store.open_window());
        if req.is_list() {
            self.store.loading_begin();
        }
        self.by_action.insert(aid.clone(), id);
        self.pending.insert(
            id,
            Pending {
                id,
                req,
                internal,
                action_id: aid,
                expected,
                lists: BTreeMap::new(),
                done: BTreeMap::new(),
                deadline: now + self.cfg.request_timeout,
                replied: false,
                window,
                park_accepted: false,
                lots: Vec::new(),
                calls: Vec::new(),
                response: None,
                target,
            },
        );
        Ok(id)
    }

    fn send_raw(
        &mut self,
        action: &Action,
        action_id: &str,
        server: Option<ServerId>,
    ) -> Result<(), ParkingError> {
        let mut m = action.as_message().clone();
        m.push(b"ActionID", action_id.as_bytes());
        let mut out = Vec::with_capacity(128);
        match self.cfg.mode {
            Mode::Ami => ami_codec::encode_message(&m, &mut out)?,
            Mode::Amiws => amiws::encode_message(&m, server, &mut out)?,
        }
        self.transmit.push_back(out);
        Ok(())
    }

    /// One server finished its part of request `id`.
    fn server_done(&mut self, id: RequestId, server: ServerId, result: Result<(), ParkingError>) {
        let Some(p) = self.pending.get_mut(&id) else {
            return;
        };
        if p.replied {
            // A late server of a fan-out: its list was applied to the store already.
            p.done.insert(server, result);
            return;
        }
        let single = matches!(p.req, Request::Park { .. } | Request::Retrieve { .. });
        if let (true, Err(e)) = (single, &result) {
            let e = e.clone();
            self.finish(id, Err(e));
            return;
        }
        p.done.insert(server, result);
        let all_done = match &p.expected {
            Some(exp) => exp.iter().all(|s| p.done.contains_key(s)),
            None => true,
        };
        if !all_done {
            return;
        }
        if p.done.values().any(|r| r.is_ok()) {
            self.complete_ok(id);
        } else {
            let err = p
                .done
                .values()
                .find_map(|r| r.clone().err())
                .unwrap_or(ParkingError::Disconnected { action: p.req.name() });
            self.finish(id, Err(err));
        }
    }

    fn complete_ok(&mut self, id: RequestId) {
        let Some(p) = self.pending.get_mut(&id) else {
            return;
        };
        let reply = match &p.req {
            Request::ParkingLots => Reply::Lots(std::mem::take(&mut p.lots)),
            Request::ParkedCalls { .. } => {
                let mut calls = std::mem::take(&mut p.calls);
                calls.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
                Reply::Calls(calls)
            }
            Request::List { .. } => {
                Reply::List(p.lists.values_mut().flat_map(|l| std::mem::take(&mut l.items)).collect())
            }
            Request::Action(_) => Reply::Response(p.response.take().unwrap_or_default()),
            // Park and retrieve complete on their events, not here.
            Request::Park { .. } | Request::Retrieve { .. } => return,
        };
        self.finish(id, Ok(reply));
    }

    /// Answers request `id`. A fan-out list lingers until its deadline so that servers
    /// answering late still update the store.
    fn finish(&mut self, id: RequestId, result: Result<Reply, ParkingError>) {
        let Some(p) = self.pending.get_mut(&id) else {
            return;
        };
        if p.replied {
            self.remove(id);
            return;
        }
        p.replied = true;
        let internal = p.internal;
        if p.req.is_list() {
            self.store.loading_end();
        }
        let linger = result.is_ok() && p.expected.is_none() && p.req.is_list();
        // An automatic refresh that Asterisk refused (e.g. modules still loading right
        // after a restart) is tried again shortly, so the store does not stay stale.
        if internal
            && result.is_err()
            && self.link == Link::Up
            && matches!(p.req, Request::ParkingLots | Request::ParkedCalls { .. })
            && self.refresh_retry.is_none()
        {
            let delay = REFRESH_RETRY * 2u32.saturating_pow(self.refresh_failures.min(6));
            self.refresh_retry = Some((self.now + delay.min(Duration::from_secs(60)), p.target));
            self.refresh_failures += 1;
        } else if internal && result.is_ok() {
            self.refresh_failures = 0;
        }
        if !internal || result.is_err() {
            self.store.set_result(result.as_ref().map(|_| ()));
        }
        if !internal {
            self.outputs.push_back(Output::Reply { id, result });
        }
        if !linger {
            self.remove(id);
        }
    }

    fn remove(&mut self, id: RequestId) {
        if let Some(p) = self.pending.remove(&id) {
            self.by_action.remove(&p.action_id);
            if let Some(w) = p.window {
                self.store.close_window(w);
            }
            if self.ping == Some(id) {
                self.ping = None;
            }
        }
    }

    /// Sends Logoff (a graceful goodbye); the transport closes the link after writing it.
    pub fn logoff(&mut self) {
        if self.cfg.mode == Mode::Ami && self.link != Link::Down {
            let id = self.new_action_id();
            let _ = self.send_raw(&Action::new("Logoff"), &id, None);
        }
    }
}

/// Delay before an automatic refresh that failed is tried again (doubling after each
/// failure in a row, up to a minute).
const REFRESH_RETRY: Duration = Duration::from_secs(1);

fn is_interesting_event(name: &[u8]) -> bool {
    const NAMES: [&[u8]; 7] = [
        b"ParkedCall",
        b"UnParkedCall",
        b"ParkedCallTimeOut",
        b"ParkedCallGiveUp",
        b"ParkedCallSwap",
        b"Shutdown",
        b"FullyBooted",
    ];
    NAMES.iter().any(|n| n.eq_ignore_ascii_case(name))
}
