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

mod listeners;
mod live;
mod reconcile;

pub use listeners::{EventStream, Subscription};
pub(crate) use reconcile::WindowId;

use crate::error::ParkingError;
use crate::parking::event::ParkingEvent;
use crate::parking::model::{LotKey, ParkedCall, ParkingLot, ServerId};
use crate::parking::options::ParkingOptions;
use futures_channel::mpsc;
use futures_signals::signal::{Mutable, Signal, SignalExt};
use futures_signals::signal_map::{MutableBTreeMap, SignalMapExt};
use futures_signals::signal_vec::MutableVec;
use listeners::Listener;
use reconcile::Window;
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex};

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
}

fn position(calls: &[Arc<ParkedCall>], key: (ServerId, &str, u32)) -> Result<usize, usize> {
    calls.binary_search_by(|c| c.sort_key().cmp(&key))
}
