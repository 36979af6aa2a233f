//! `ParkingStore`: the one place parking state changes, exposed as futures-signals.
//!
//! # How the store changes
//! - A live `ParkedCall`, `UnParkedCall`, `ParkedCallTimeOut`, `ParkedCallGiveUp` or
//!   `ParkedCallSwap` changes the calls vec with exactly one `InsertAt`, `UpdateAt` or
//!   `RemoveAt` diff and fires exactly one [`ParkingEvent`]. A live `ParkedCall` for a
//!   call already known in that space (same unique id) fires nothing. A call leaving a
//!   space the store did not know about (parked before the first snapshot) still fires
//!   its event, built from the message, and changes nothing.
//! - A `ParkedCalls` answer *reconciles* the scope it covered (one server, or one lot
//!   of it): calls it no longer lists are removed, listed calls are inserted or
//!   updated. The first answer for a server since the store was created is the
//!   *initial snapshot* and fires no event; a later answer reports each difference
//!   once as [`ParkingEvent::Resync`]. Calls touched by a live event while the list
//!   was being collected are left as the live event made them: the list was taken
//!   before that event, so it is stale for them (nothing is lost or applied twice).
//! - An event for a lot the store does not know creates the lot (range unknown); a
//!   later `Parkinglots` answer fills its range.

use crate::error::ParkingError;
use crate::event::{ParkingEvent, ResyncChange};
use crate::message::Message;
use crate::model::{LotKey, ParkedCall, ParkingLot, Retriever, ServerId};
use crate::options::ParkingOptions;
use crate::time::Timestamp;
use futures_channel::mpsc;
use futures_signals::signal::{Mutable, Signal, SignalExt};
use futures_signals::signal_map::{MutableBTreeMap, SignalMapExt};
use futures_signals::signal_vec::MutableVec;
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};

/// The state of the link to Asterisk, as the store shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ConnectionState {
    /// Not connected and not trying (initial state).
    #[default]
    Disconnected,
    /// Opening the link.
    Connecting,
    /// Link open, login in progress.
    LoggingIn,
    /// Logged in: events flow and requests can be sent.
    LoggedIn,
    /// The link dropped or login failed; the transport is waiting to try again.
    Reconnecting {
        /// Attempt number, from 1.
        attempt: u32,
        /// Why the last attempt failed.
        last_error: String,
    },
    /// Stopped for good (shut down, or given up).
    Stopped,
}

type Listener = Arc<dyn Fn(&ParkingEvent) + Send + Sync>;

#[derive(Default)]
struct Window {
    keys: HashSet<(ServerId, Arc<str>, u32)>,
    uids: HashSet<(ServerId, String)>,
}

#[derive(Default)]
struct State {
    synced: HashSet<ServerId>,
    windows: BTreeMap<u64, Window>,
    next_window: u64,
    listeners: Vec<(u64, Listener)>,
    next_listener: u64,
    streams: Vec<mpsc::UnboundedSender<ParkingEvent>>,
}

struct Inner {
    lots: MutableBTreeMap<LotKey, ParkingLot>,
    calls: MutableVec<Arc<ParkedCall>>,
    total: Mutable<usize>,
    loading: Mutable<usize>,
    error: Mutable<Option<ParkingError>>,
    connection: Mutable<ConnectionState>,
    options: ParkingOptions,
    state: Mutex<State>,
}

/// Parking state as signals: lots, parked calls, totals, loading, error, connection.
///
/// Cheap to clone (all clones share the state); `Send + Sync`. Read it from any
/// thread or UI; only the connection (or [`ParkingStore::apply_message`]) writes.
///
/// ```
/// use ami_parking::{Message, ParkingStore, ParkingOptions, Timestamp};
/// let store = ParkingStore::new(ParkingOptions::default());
/// let parked = Message::from_pairs([("Event", "ParkedCall"), ("Privilege", "call,all"),
///     ("ParkeeChannel", "PJSIP/100-1"), ("ParkeeUniqueid", "1.1"), ("Parkinglot", "default"),
///     ("ParkingSpace", "701"), ("ParkingTimeout", "45"), ("ParkingDuration", "0")]);
/// let events = store.apply_message(Timestamp::from_unix_millis(0), 1, &parked);
/// assert_eq!(events.len(), 1);
/// assert_eq!(store.total_parked_calls_now(), 1);
/// assert_eq!(store.get_parked_call_by_space(701, None).unwrap().channel, "PJSIP/100-1");
/// ```
#[derive(Clone)]
pub struct ParkingStore {
    inner: Arc<Inner>,
}

impl fmt::Debug for ParkingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParkingStore")
            .field("lots", &self.inner.lots.lock_ref().len())
            .field("calls", &self.inner.calls.lock_ref().len())
            .field("connection", &*self.inner.connection.lock_ref())
            .finish_non_exhaustive()
    }
}

/// Unsubscribes its listener when dropped (from [`ParkingStore::on_parking_event`]).
#[must_use = "the listener is removed when this guard is dropped"]
pub struct Subscription {
    store: Weak<Inner>,
    id: u64,
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription").field("id", &self.id).finish()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(inner) = self.store.upgrade() {
            if let Ok(mut st) = inner.state.lock() {
                st.listeners.retain(|(id, _)| *id != self.id);
            }
        }
    }
}

/// A `Stream` of parking events (from [`ParkingStore::events`]).
#[derive(Debug)]
pub struct EventStream {
    rx: mpsc::UnboundedReceiver<ParkingEvent>,
}

impl futures_core::Stream for EventStream {
    type Item = ParkingEvent;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<ParkingEvent>> {
        Pin::new(&mut self.rx).poll_next(cx)
    }
}

/// Identifies a collection window opened by a list request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WindowId(u64);

impl Default for ParkingStore {
    fn default() -> Self {
        Self::new(ParkingOptions::default())
    }
}

impl ParkingStore {
    /// An empty store.
    pub fn new(options: ParkingOptions) -> Self {
        Self {
            inner: Arc::new(Inner {
                lots: MutableBTreeMap::new(),
                calls: MutableVec::new(),
                total: Mutable::new(0),
                loading: Mutable::new(0),
                error: Mutable::new(None),
                connection: Mutable::new(ConnectionState::Disconnected),
                options,
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// The options the store was made with.
    pub fn options(&self) -> &ParkingOptions {
        &self.inner.options
    }

    // ----- reading -----

    /// The lots, keyed by (server, name). Use `signal_map_cloned()` / `entries_cloned()`
    /// for reactive views, `lock_ref()` for a look.
    pub fn parking_lots(&self) -> &MutableBTreeMap<LotKey, ParkingLot> {
        &self.inner.lots
    }

    /// The parked calls in (server, lot, space) order. Use `signal_vec_cloned()` for
    /// fine-grained diffs. Do not write to it: the store owns it.
    pub fn parked_calls(&self) -> &MutableVec<Arc<ParkedCall>> {
        &self.inner.calls
    }

    /// Number of parked calls, as a signal.
    pub fn total_parked_calls(&self) -> impl Signal<Item = usize> + Send + Sync + 'static {
        self.inner.total.signal()
    }

    /// Number of parked calls now.
    pub fn total_parked_calls_now(&self) -> usize {
        self.inner.total.get()
    }

    /// True while any list request is in flight (a count, not one shared flag).
    pub fn is_loading(&self) -> impl Signal<Item = bool> + Send + Sync + 'static {
        self.inner.loading.signal().map(|n| n > 0).dedupe()
    }

    /// True now while any list request is in flight.
    pub fn is_loading_now(&self) -> bool {
        self.inner.loading.get() > 0
    }

    /// The last request failure; cleared by the next success.
    pub fn error(&self) -> &Mutable<Option<ParkingError>> {
        &self.inner.error
    }

    /// The connection state.
    pub fn connection_state(&self) -> &Mutable<ConnectionState> {
        &self.inner.connection
    }

    /// One lot as a signal (`None` while unknown): occupied and free update live.
    pub fn lot_signal(&self, key: LotKey) -> impl Signal<Item = Option<ParkingLot>> + Send + 'static {
        self.inner.lots.signal_map_cloned().key_cloned(key)
    }

    /// The call in `space` of `lot` (the default lot when `None`), on any server.
    pub fn get_parked_call_by_space(&self, space: u32, lot: Option<&str>) -> Option<Arc<ParkedCall>> {
        let lot = lot.unwrap_or(&self.inner.options.default_parking_lot);
        self.inner
            .calls
            .lock_ref()
            .iter()
            .find(|c| c.parking_space == space && &*c.parking_lot == lot)
            .cloned()
    }

    /// The call in `space` of `lot` on `server_id`.
    pub fn get_parked_call(&self, server_id: ServerId, lot: &str, space: u32) -> Option<Arc<ParkedCall>> {
        let calls = self.inner.calls.lock_ref();
        position(&calls, (server_id, lot, space)).ok().map(|i| calls[i].clone())
    }

    /// A copy of the calls now.
    pub fn calls_snapshot(&self) -> Vec<Arc<ParkedCall>> {
        self.inner.calls.lock_ref().to_vec()
    }

    /// A copy of the lots now.
    pub fn lots_snapshot(&self) -> Vec<ParkingLot> {
        self.inner.lots.lock_ref().values().cloned().collect()
    }

    /// True once a `ParkedCalls` answer for `server_id` has been applied: the store
    /// then knows which spaces are empty.
    pub fn is_synced(&self, server_id: ServerId) -> bool {
        self.inner.state.lock().map(|s| s.synced.contains(&server_id)).unwrap_or(false)
    }

    // ----- events -----

    /// Calls `listener` for every event until the returned guard is dropped.
    pub fn on_parking_event(&self, listener: impl Fn(&ParkingEvent) + Send + Sync + 'static) -> Subscription {
        let mut st = self.lock();
        st.next_listener += 1;
        let id = st.next_listener;
        st.listeners.push((id, Arc::new(listener)));
        Subscription { store: Arc::downgrade(&self.inner), id }
    }

    /// A stream of every event from now on.
    pub fn events(&self) -> EventStream {
        let (tx, rx) = mpsc::unbounded();
        self.lock().streams.push(tx);
        EventStream { rx }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn dispatch(&self, events: &[ParkingEvent]) {
        if events.is_empty() {
            return;
        }
        let o = &self.inner.options;
        for e in events {
            match e {
                ParkingEvent::Parked { call } => o.on_call_parked.iter().for_each(|f| f(call)),
                ParkingEvent::Retrieved { call, retriever } => {
                    o.on_call_retrieved.iter().for_each(|f| f(call, retriever))
                }
                ParkingEvent::TimedOut { call } => o.on_call_timeout.iter().for_each(|f| f(call)),
                ParkingEvent::GaveUp { call } => o.on_call_give_up.iter().for_each(|f| f(call)),
                _ => {}
            }
        }
        let (listeners, has_streams) = {
            let st = self.lock();
            if st.listeners.is_empty() && st.streams.is_empty() {
                return;
            }
            (st.listeners.iter().map(|(_, l)| l.clone()).collect::<Vec<_>>(), !st.streams.is_empty())
        };
        for e in events {
            for l in &listeners {
                l(e);
            }
        }
        if has_streams {
            let mut st = self.lock();
            st.streams.retain(|tx| events.iter().all(|e| tx.unbounded_send(e.clone()).is_ok()));
        }
    }

    // ----- writing (the connection's side) -----

    /// Sets the connection state (the connection and transport call this).
    pub fn set_connection_state(&self, state: ConnectionState) {
        self.inner.connection.set_neq(state);
    }

    pub(crate) fn loading_begin(&self) {
        let mut l = self.inner.loading.lock_mut();
        *l += 1;
    }

    pub(crate) fn loading_end(&self) {
        let mut l = self.inner.loading.lock_mut();
        *l = l.saturating_sub(1);
    }

    pub(crate) fn set_result(&self, result: Result<(), &ParkingError>) {
        match result {
            Ok(()) => {
                if self.inner.error.lock_ref().is_some() {
                    self.inner.error.set(None);
                }
            }
            Err(e) => self.inner.error.set(Some(e.clone())),
        }
    }

    fn prepare(&self, call: ParkedCall) -> Option<ParkedCall> {
        let o = &self.inner.options;
        let mut call = match &o.transform_parked_call {
            Some(t) => t(call),
            None => call,
        };
        call.near_timeout_threshold = o.near_timeout_threshold;
        match &o.parked_call_filter {
            Some(f) if !f(&call) => None,
            _ => Some(call),
        }
    }

    fn mark_dirty(&self, server_id: ServerId, lot: &Arc<str>, space: u32, uid: &str) {
        let mut st = self.lock();
        for w in st.windows.values_mut() {
            w.keys.insert((server_id, lot.clone(), space));
            if !uid.is_empty() {
                w.uids.insert((server_id, uid.to_owned()));
            }
        }
    }

    fn adjust_lot(&self, server_id: ServerId, lot: &Arc<str>, delta: i64) {
        let key = LotKey { server_id, name: lot.clone() };
        let mut lots = self.inner.lots.lock_mut();
        let mut entry =
            lots.get(&key).cloned().unwrap_or_else(|| ParkingLot::unknown_range(server_id, lot.clone()));
        entry.occupied = (entry.occupied as i64 + delta).max(0) as u32;
        lots.insert_cloned(key, entry);
    }

    fn set_total(&self, n: usize) {
        self.inner.total.set_neq(n);
    }

    /// Applies one live AMI message from `server_id`, received at `now`.
    ///
    /// Parking events change the store and are returned (and dispatched to listeners);
    /// other messages are ignored. List items (with an `ActionID`, no `Privilege`) must
    /// not be passed here: the connection routes them to the list collector. Use this
    /// when you feed AMI messages from your own client instead of [`crate::Connection`].
    pub fn apply_message(&self, now: Timestamp, server_id: ServerId, msg: &Message) -> Vec<ParkingEvent> {
        let Some(name) = msg.get("Event") else {
            return Vec::new();
        };
        let kind = if name.eq_ignore_ascii_case(b"ParkedCall") {
            LiveKind::Parked
        } else if name.eq_ignore_ascii_case(b"UnParkedCall") {
            LiveKind::Retrieved
        } else if name.eq_ignore_ascii_case(b"ParkedCallTimeOut") {
            LiveKind::TimedOut
        } else if name.eq_ignore_ascii_case(b"ParkedCallGiveUp") {
            LiveKind::GaveUp
        } else if name.eq_ignore_ascii_case(b"ParkedCallSwap") {
            LiveKind::Swapped
        } else {
            return Vec::new();
        };
        let Some(call) = ParkedCall::from_message(server_id, msg, now) else {
            return Vec::new();
        };
        let retriever = matches!(kind, LiveKind::Retrieved).then(|| Retriever::from_message(msg));
        let events = self.apply_live(kind, call, retriever);
        self.dispatch(&events);
        events
    }

    fn apply_live(
        &self,
        kind: LiveKind,
        call: ParkedCall,
        retriever: Option<Retriever>,
    ) -> Vec<ParkingEvent> {
        let Some(call) = self.prepare(call) else { return Vec::new() };
        self.mark_dirty(call.server_id, &call.parking_lot, call.parking_space, &call.unique_id);
        let key = (call.server_id, &*call.parking_lot, call.parking_space);
        let mut calls = self.inner.calls.lock_mut();
        let pos = position(&calls, key);
        let mut events = Vec::with_capacity(1);
        match kind {
            LiveKind::Parked | LiveKind::Swapped => match pos {
                Ok(i) => {
                    let old = calls[i].clone();
                    if kind == LiveKind::Parked && old.same_parking(&call) {
                        // A repeat of what we know (e.g. seen in a list first): keep the
                        // first-seen times, take the rest.
                        let merged = ParkedCall {
                            parked_at: old.parked_at,
                            deadline: old.deadline,
                            timeout: old.timeout,
                            ..call
                        };
                        if *old != merged {
                            calls.set_cloned(i, Arc::new(merged));
                        }
                    } else {
                        let call = Arc::new(call);
                        calls.set_cloned(i, call.clone());
                        events.push(if kind == LiveKind::Swapped {
                            ParkingEvent::Swapped { call, previous: Some(old) }
                        } else {
                            ParkingEvent::Parked { call }
                        });
                    }
                }
                Err(i) => {
                    let call = Arc::new(call);
                    calls.insert_cloned(i, call.clone());
                    let n = calls.len();
                    drop(calls);
                    self.adjust_lot(call.server_id, &call.parking_lot, 1);
                    self.set_total(n);
                    events.push(if kind == LiveKind::Swapped {
                        ParkingEvent::Swapped { call, previous: None }
                    } else {
                        ParkingEvent::Parked { call }
                    });
                }
            },
            LiveKind::Retrieved | LiveKind::TimedOut | LiveKind::GaveUp => {
                // A call the store did not know (parked before we looked) still left its
                // space: the event fires with what the message says.
                let call = match pos {
                    Ok(i) => {
                        let old = calls.remove(i);
                        let n = calls.len();
                        drop(calls);
                        self.adjust_lot(old.server_id, &old.parking_lot, -1);
                        self.set_total(n);
                        old
                    }
                    Err(_) => Arc::new(call),
                };
                events.push(match kind {
                    LiveKind::Retrieved => {
                        ParkingEvent::Retrieved { call, retriever: retriever.unwrap_or_default() }
                    }
                    LiveKind::TimedOut => ParkingEvent::TimedOut { call },
                    _ => ParkingEvent::GaveUp { call },
                });
            }
        }
        events
    }

    /// Opens a collection window: live changes from now on are remembered so that a
    /// list answer collected meanwhile does not undo them.
    pub(crate) fn open_window(&self) -> WindowId {
        let mut st = self.lock();
        st.next_window += 1;
        let id = st.next_window;
        st.windows.insert(id, Window::default());
        WindowId(id)
    }

    /// Closes a window without applying anything (request failed).
    pub(crate) fn close_window(&self, id: WindowId) {
        self.lock().windows.remove(&id.0);
    }

    /// Reconciles the scope (`server_id`, or one `lot` of it) with a `ParkedCalls` answer.
    /// `window` (when still open) names the keys live events touched meanwhile.
    /// Returns the events and the listed calls (shared with the store where it kept them).
    pub(crate) fn reconcile(
        &self,
        window: Option<WindowId>,
        server_id: ServerId,
        lot: Option<&str>,
        listed: Vec<ParkedCall>,
    ) -> (Vec<ParkingEvent>, Vec<Arc<ParkedCall>>) {
        let (dirty, initial) = {
            let mut st = self.lock();
            let dirty = window.and_then(|w| st.windows.get(&w.0).map(|w| (w.keys.clone(), w.uids.clone())));
            let initial = st.synced.insert(server_id);
            (dirty.unwrap_or_default(), initial)
        };
        let any_dirty = !dirty.0.is_empty() || !dirty.1.is_empty();
        let is_dirty = |c: &ParkedCall| {
            any_dirty
                && (dirty.0.contains(&(c.server_id, c.parking_lot.clone(), c.parking_space))
                    || (!c.unique_id.is_empty() && dirty.1.contains(&(c.server_id, c.unique_id.clone()))))
        };
        let in_scope = |c: &ParkedCall| c.server_id == server_id && lot.is_none_or(|l| &*c.parking_lot == l);
        let mut answer: Vec<Arc<ParkedCall>> = Vec::with_capacity(listed.len());
        for c in listed {
            let Some(mut c) = self.prepare(c) else {
                continue;
            };
            c.server_id = server_id;
            if in_scope(&c) {
                answer.push(Arc::new(c));
            }
        }
        answer.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        answer.dedup_by(|a, b| a.sort_key() == b.sort_key());
        let mut events = Vec::new();
        let mut lot_delta: BTreeMap<Arc<str>, i64> = BTreeMap::new();
        let mut calls = self.inner.calls.lock_mut();
        // Walk the store's calls and the (sorted) answer side by side.
        let mut used = vec![false; answer.len()];
        let mut i = 0;
        while i < calls.len() {
            let c = calls[i].clone();
            if !in_scope(&c) || is_dirty(&c) {
                i += 1;
                continue;
            }
            let found = answer.binary_search_by(|a| a.sort_key().cmp(&c.sort_key()));
            match found {
                Ok(k) if is_dirty(&answer[k]) => {
                    used[k] = true;
                    i += 1;
                }
                Ok(k) if c.same_parking(&answer[k]) => {
                    used[k] = true;
                    if c.same_content(&answer[k]) {
                        // Nothing new: keep the store's call (and its first-seen times).
                        answer[k] = c.clone();
                    } else {
                        let merged = Arc::new(ParkedCall {
                            parked_at: c.parked_at,
                            deadline: c.deadline,
                            timeout: c.timeout,
                            ..(*answer[k]).clone()
                        });
                        calls.set_cloned(i, merged.clone());
                        answer[k] = merged;
                    }
                    i += 1;
                }
                Ok(k) => {
                    used[k] = true;
                    let new = answer[k].clone();
                    calls.set_cloned(i, new.clone());
                    if !initial {
                        events.push(ParkingEvent::Resync { call: c.clone(), change: ResyncChange::Vanished });
                        events.push(ParkingEvent::Resync { call: new, change: ResyncChange::Appeared });
                    }
                    i += 1;
                }
                Err(_) => {
                    calls.remove(i);
                    *lot_delta.entry(c.parking_lot.clone()).or_default() -= 1;
                    if !initial {
                        events.push(ParkingEvent::Resync { call: c, change: ResyncChange::Vanished });
                    }
                }
            }
        }
        // What the store did not match is new to it.
        for (k, c) in answer.iter().enumerate() {
            if used[k] || is_dirty(c) {
                continue;
            }
            if let Err(at) = position(&calls, c.sort_key()) {
                calls.insert_cloned(at, c.clone());
                *lot_delta.entry(c.parking_lot.clone()).or_default() += 1;
                if !initial {
                    events.push(ParkingEvent::Resync { call: c.clone(), change: ResyncChange::Appeared });
                }
            }
        }
        let n = calls.len();
        drop(calls);
        for (lot, d) in lot_delta {
            if d != 0 {
                self.adjust_lot(server_id, &lot, d);
            }
        }
        self.set_total(n);
        self.dispatch(&events);
        (events, answer)
    }

    /// Writes a `Parkinglots` answer for `server_id`: ranges and timeouts are filled,
    /// occupied counts kept; lots no longer listed and empty are removed.
    pub(crate) fn apply_lots(&self, server_id: ServerId, listed: Vec<ParkingLot>) {
        let mut lots = self.inner.lots.lock_mut();
        let listed_names: HashSet<Arc<str>> = listed.iter().map(|l| l.name.clone()).collect();
        let stale: Vec<LotKey> = lots
            .iter()
            .filter(|(k, l)| k.server_id == server_id && !listed_names.contains(&k.name) && l.occupied == 0)
            .map(|(k, _)| k.clone())
            .collect();
        for k in stale {
            lots.remove(&k);
        }
        for mut l in listed {
            let key = LotKey { server_id, name: l.name.clone() };
            l.server_id = server_id;
            l.occupied = lots.get(&key).map(|o| o.occupied).unwrap_or(0);
            if lots.get(&key) != Some(&l) {
                lots.insert_cloned(key, l);
            }
        }
    }

    /// Empties everything known about `server_id` without events (a server removed
    /// from the configuration).
    pub fn forget_server(&self, server_id: ServerId) {
        let mut calls = self.inner.calls.lock_mut();
        calls.retain(|c| c.server_id != server_id);
        let n = calls.len();
        drop(calls);
        let mut lots = self.inner.lots.lock_mut();
        let gone: Vec<LotKey> = lots.keys().filter(|k| k.server_id == server_id).cloned().collect();
        for k in gone {
            lots.remove(&k);
        }
        drop(lots);
        self.lock().synced.remove(&server_id);
        self.set_total(n);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LiveKind {
    Parked,
    Retrieved,
    TimedOut,
    GaveUp,
    Swapped,
}

fn position(calls: &[Arc<ParkedCall>], key: (ServerId, &str, u32)) -> Result<usize, usize> {
    calls.binary_search_by(|c| c.sort_key().cmp(&key))
}
