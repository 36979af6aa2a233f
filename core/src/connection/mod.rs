//! The sans-IO AMI connection state machine.
//!
//! One [`Connection`] per link (a TCP socket to Asterisk, or a WebSocket to amiws).
//! It does no IO and reads no clock: `now` is passed to every call. The driver (the
//! transport crate, a test, a simulation) calls, in a loop:
//!
//! ```text
//! conn.handle_connected(now)                       once the link is open
//! conn.handle_input(now, &bytes)  /  conn.handle_frame(now, &frame)
//! while let Some(b) = conn.poll_transmit() { write b }   (amiws: one text frame each)
//! if conn.poll_ping() { send a WebSocket ping }          (amiws keep-alive)
//! while let Some(o) = conn.poll_output() { ... }         replies, parking events, state
//! conn.poll_timeout() -> wake at that time and call conn.handle_timeout(now)
//! conn.handle_disconnected(now)                    when the link drops
//! ```
//!
//! A request ([`Connection::request`] with a [`Request`] value: the seed's operations
//! are written once, as `Request`s, and typed by [`crate::ParkingClient`]) returns a
//! [`RequestId`] at once; the answer comes later as [`Output::Reply`]. A request is
//! always answered: by its reply, its list's completion, a disconnect, or its deadline.
//!
//! # Rooms
//! This file is the façade: the `handle_*` and `poll_*` methods. Each other file owns
//! one piece of state: `config.rs` (the configuration), `request.rs` (requests,
//! replies, outputs), `login.rs` (the login phase), `action_ids.rs` (ActionIDs and
//! correlation), `requests.rs` (starting requests), `pending.rs` (a request in flight,
//! one accumulator per kind), `target.rs` (which server a request goes to),
//! `input.rs` (routing what comes in), `lists.rs` (collecting answers), `fanout.rs`
//! (answering, merging servers' answers), `refresh.rs` (refresh, poll and retry),
//! `keepalive.rs` (finding a dead link), `forward.rs` (actions passed through for
//! someone else, and the traffic that is not ours), `forwarding.rs` (what a forwarded
//! action has collected) and `timers.rs` (the one table of deadlines); `sizes.rs` counts what each holds.

mod action_ids;
#[cfg(feature = "raw-ami")]
mod ami_login;
mod caller_of;
mod config;
mod fanout;
mod forward;
mod forwarding;
mod input;
mod keepalive;
mod lists;
mod login;
mod pending;
mod refresh;
mod request;
mod requests;
mod sizes;
mod target;
mod timers;

pub use caller_of::pick_caller;
pub use config::{AuthMethod, ConnectionConfig, Mode, Secret};
pub use request::{Output, Park, ParkTimeout, Reply, Request, RequestId, Target};
pub use sizes::ConnectionSizes;
pub use target::pick_server;

use crate::error::{ConnectionError, ParkingError};
use crate::model::ServerId;
use crate::small_map::{SmallMap, SmallSet};
use crate::store::{ConnectionState, ParkingStore};
use crate::time::Timestamp;
#[cfg(feature = "raw-ami")]
use crate::wire::ami_codec::{Decoded, Decoder};
use crate::wire::amiws;
use action_ids::ActionIds;
use keepalive::Keepalive;
use login::{Login, LoginPhase};
use pending::{Pending, RequestIds};
use refresh::Refresh;
use std::collections::VecDeque;
use std::fmt;
use timers::{Timer, TimerTable};

/// The AMI connection state machine. See the module docs for the call pattern.
pub struct Connection {
    cfg: ConnectionConfig,
    store: ParkingStore,
    #[cfg(feature = "raw-ami")]
    decoder: Decoder,
    /// The lot name the raw link read last, shared by the calls read of that lot: the
    /// store's own when it knew the lot then, else made here (a lot the store makes
    /// later may hold another copy of the name; the store gives each call it applies
    /// its own).
    #[cfg(feature = "raw-ami")]
    last_lot: Option<(ServerId, std::sync::Arc<str>)>,
    login: Login,
    ids: ActionIds,
    requests: RequestIds,
    /// Boxed: a request answered out of order moves the entries after it, a pointer
    /// each rather than the whole request.
    pending: SmallMap<RequestId, Box<Pending>>,
    known_servers: SmallSet<ServerId>,
    timers: TimerTable,
    keepalive: Keepalive,
    refreshing: Refresh,
    transmit: VecDeque<Vec<u8>>,
    outputs: VecDeque<Output>,
    state: ConnectionState,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("mode", &self.cfg.mode)
            .field("login", &self.login.phase)
            .field("pending", &self.pending.len())
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// A connection with a new store of default [`ParkingOptions`](crate::ParkingOptions).
    /// No IO happens here.
    pub fn new(cfg: ConnectionConfig, now: Timestamp) -> Self {
        Self::with_store(cfg, ParkingStore::default(), now)
    }

    /// A connection that writes into `store` and follows its options (default lot,
    /// auto refresh, poll, retrieve ring time, ...): one options value configures
    /// both. Also for a new `Connection` after reconnecting, so UIs keep their
    /// signals. `now` only seeds the ActionID prefix when the configuration names no
    /// instance.
    ///
    /// ```
    /// use ami_parking::{Connection, ConnectionConfig, ParkingOptions, ParkingStore, Timestamp};
    /// let store = ParkingStore::new(ParkingOptions::default().default_parking_lot("sales"));
    /// let conn = Connection::with_store(ConnectionConfig::amiws(), store, Timestamp::ZERO);
    /// assert_eq!(conn.store().options().default_parking_lot, "sales");
    /// ```
    pub fn with_store(cfg: ConnectionConfig, store: ParkingStore, now: Timestamp) -> Self {
        Self {
            ids: ActionIds::new(cfg.instance_id, now.as_unix_millis()),
            #[cfg(feature = "raw-ami")]
            decoder: Decoder::with_max_message_bytes(cfg.max_message_bytes),
            #[cfg(feature = "raw-ami")]
            last_lot: None,
            cfg,
            store,
            login: Login::new(),
            requests: RequestIds::default(),
            pending: SmallMap::new(),
            known_servers: SmallSet::new(),
            timers: TimerTable::default(),
            keepalive: Keepalive::default(),
            refreshing: Refresh::default(),
            transmit: VecDeque::new(),
            outputs: VecDeque::new(),
            state: ConnectionState::Disconnected,
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
        self.login.phase == LoginPhase::Up
    }

    /// Servers seen so far (raw AMI: the configured one).
    pub fn known_servers(&self) -> impl Iterator<Item = ServerId> + '_ {
        self.known_servers.iter().copied()
    }

    /// The prefix of this instance's ActionIDs.
    pub fn action_id_prefix(&self) -> &str {
        self.ids.prefix()
    }

    /// This connection's own state (the store's `connection_state` shows the latest
    /// change of any connection writing into it).
    pub fn state(&self) -> &ConnectionState {
        &self.state
    }

    fn set_state(&mut self, s: ConnectionState) {
        if self.state != s {
            self.state = s.clone();
            self.store.set_connection_state(s.clone());
            self.outputs.push_back(Output::State(s));
        }
    }

    // ----- what the driver asks -----

    /// Next bytes to write (raw AMI), or the next text frame (amiws).
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmit.pop_front()
    }

    /// True (once) when the driver should send a WebSocket ping now: behind amiws the
    /// link has been quiet for `keepalive_interval`. Anything that arrives afterwards
    /// counts as the answer ([`Connection::handle_frame`], [`Connection::handle_link_alive`]);
    /// nothing within `request_timeout` makes [`Connection::handle_timeout`] fail.
    pub fn poll_ping(&mut self) -> bool {
        std::mem::take(&mut self.keepalive.ws_ping)
    }

    /// Next output (replies, parking events, state changes).
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When [`Connection::handle_timeout`] should be called next: the soonest of the
    /// login deadline, request deadlines, the poll, the keep-alive, the refresh retry,
    /// the store's clock tick (once a second while calls are parked) and its next
    /// near-timeout alert.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.timers.next().into_iter().chain(self.store.next_wakeup()).min()
    }

    // ----- what the driver tells -----

    /// Like [`Connection::handle_connected`], with the ActionID the Login will carry.
    /// For replaying captures in tests.
    #[doc(hidden)]
    pub fn handle_connected_with_login_id(&mut self, now: Timestamp, login_action_id: &str) {
        self.login.forced_id = Some(login_action_id.to_owned());
        self.handle_connected(now);
    }

    /// The link is open. Raw AMI: wait for the banner, then log in. amiws: logged in now.
    pub fn handle_connected(&mut self, now: Timestamp) {
        match self.cfg.mode {
            #[cfg(feature = "raw-ami")]
            Mode::Ami => {
                self.decoder.reset();
                self.known_servers.insert(self.cfg.server_id);
                self.login.phase = LoginPhase::AwaitBanner;
                self.timers.set(Timer::Login, now + self.cfg.request_timeout);
                self.set_state(ConnectionState::LoggingIn);
            }
            Mode::Amiws => self.logged_in(now),
        }
    }

    /// The link dropped: every pending request fails with `Disconnected`.
    pub fn handle_disconnected(&mut self, now: Timestamp) {
        self.login.phase = LoginPhase::Down;
        self.timers.stop_link_timers();
        self.forget_refresh_retry();
        self.keepalive = Keepalive::default();
        self.transmit.clear();
        #[cfg(feature = "raw-ami")]
        self.decoder.reset();
        self.store.link_lost(None);
        let all: Vec<RequestId> = self.pending.keys().copied().collect();
        for id in all {
            let Some(action) = self.pending.get(&id).map(|p| p.req.name()) else { continue };
            self.finish(now, id, Err(ParkingError::Disconnected { action }));
        }
        self.set_state(ConnectionState::Disconnected);
    }

    /// A state of the link only the transport knows: `Connecting`, `Reconnecting`,
    /// `Stopped`. The connection shows it (its [`Connection::state`], the store's
    /// `connection_state`, an [`Output::State`]); the others it sets itself.
    pub fn handle_link_state(&mut self, state: ConnectionState) {
        self.set_state(state);
    }

    /// The link showed life without a message (a WebSocket ping or pong arrived).
    pub fn handle_link_alive(&mut self, now: Timestamp) {
        self.note_alive(now);
    }

    /// Time passed: advances the store's clock and fires due near-timeout alerts,
    /// fails requests past their deadline, sends keep-alives and polls. An `Err` means
    /// the link is dead (login or keep-alive unanswered): close it. Calling it early is
    /// harmless.
    pub fn handle_timeout(&mut self, now: Timestamp) -> Result<(), ConnectionError> {
        let events = self.store.tick(now);
        self.outputs.extend(events.into_iter().map(Output::Parking));
        self.refresh_timers(now);
        if self.timers.is_due(Timer::Login, now) {
            self.timers.stop(Timer::Login);
            return Err(ConnectionError::Unresponsive("login".into()));
        }
        for id in self.timers.due_requests(now) {
            if self.is_keepalive(id) {
                let err = ParkingError::Timeout { action: "Ping".into(), after: self.cfg.request_timeout };
                self.finish(now, id, Err(err));
                return Err(ConnectionError::Unresponsive("keep-alive Ping".into()));
            }
            self.expire(now, id);
        }
        self.keepalive_timers(now)
    }

    /// Bytes from the AMI socket. An `Err` means the link must be closed (then call
    /// [`Connection::handle_disconnected`]). Feature `raw-ami` (on by default).
    #[cfg(feature = "raw-ami")]
    pub fn handle_input(&mut self, now: Timestamp, bytes: &[u8]) -> Result<(), ConnectionError> {
        let mut dec = std::mem::take(&mut self.decoder);
        let mut fatal = None;
        let res = dec.decode(bytes, |item| {
            if fatal.is_some() {
                return;
            }
            let r = match item {
                Decoded::Banner(b) => self.on_banner_line(now, b.line),
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
        self.note_alive(now);
        match amiws::decode_frame(frame) {
            Ok(f) => self.on_frame_message(now, f.server_id.unwrap_or(self.cfg.server_id), &f.data),
            Err(e) => {
                self.outputs.push_back(Output::BadFrame(e));
                self.lost_event(now, None);
                Ok(())
            }
        }
    }
}
