//! `ParkingStore`: the one place parking state changes, read as futures-signals.
//!
//! # Rooms
//! - `book.rs`: what Asterisk holds, lot by lot, and the views made of it (each
//!   lot's grid and call list, the global list); one primitive changes a space.
//! - `views.rs`: the global call list as a signal vec.
//! - `live.rs`: live events; `reconcile.rs`: list answers; `clock.rs`: the clock and
//!   the near-timeout alert; `listeners.rs`: who hears the events.
//!
//! # What the store holds, and what it shows
//! The store mirrors Asterisk whatever the options say: every call, and each lot's
//! `occupied` count, are Asterisk's. `parked_call_filter` and `transform_parked_call`
//! shape what the *views* show ([`ParkingStore::parked_calls`], the lot grids and
//! lists, [`ParkingStore::total_parked_calls`], the `get_*` reads), the events and
//! the callbacks: a hidden call fires nothing and shows nowhere, yet it still counts
//! in its lot and can be retrieved. The transform may rewrite what a call shows, not
//! where it is: server, lot, space and unique id stay Asterisk's.
//!
//! # How the store changes
//! - A live `ParkedCall`, `UnParkedCall`, `ParkedCallTimeOut`, `ParkedCallGiveUp` or
//!   `ParkedCallSwap` changes each view with at most one diff (`InsertAt`, `UpdateAt`
//!   or `RemoveAt`; a grid of a known range only ever takes `UpdateAt`) and fires at most one
//!   [`ParkingEvent`]. A live `ParkedCall` for a call already known in that space
//!   (same unique id) fires nothing.
//! - A leave (`UnParkedCall`, `ParkedCallTimeOut`, `ParkedCallGiveUp`) is matched to
//!   its call by unique id. A leave for a call the store does not hold (parked before
//!   the first snapshot) still fires its event, built from the message, and changes
//!   nothing.
//!
//! # Orders Asterisk may reorder, and what the store does
//! Asterisk announces a park from the parked channel's thread and a leave from the
//! leaving one's, so two events about one space can arrive in either order:
//! - *A space's next park before its last occupant's leave* (seen under load, fixture
//!   `reuse-park-before-unpark`; any leave kind: a retrieve, a timeout or a give-up
//!   next to the park): the park replaces the occupant (one `Parked`); the occupant's
//!   leave, when it comes, fires once for the occupant and leaves the new call alone.
//! - *A swap's new parkee leaving before the swap arrives*: the leave fires (built
//!   from the message); the late `ParkedCallSwap` then empties the space instead of
//!   putting a call there that is gone, and fires nothing.
//! - A park and a leave of the *same* call come from one channel, in order; a repeat
//!   of a known park changes nothing.
//! - A `ParkedCalls` answer *reconciles* the scope it covered (one server, or one lot
//!   of it): calls it no longer lists are removed, listed calls are inserted or
//!   updated. A listed call the store has followed since its server's link came up
//!   (seen live or listed since) keeps its times: a list answer may be read seconds
//!   after Asterisk wrote it, and a re-park would have been seen live. A call not
//!   followed keeps its first-seen times unless they differ by more than a second:
//!   then Asterisk restarted its clock (e.g. a re-park while we were away). The
//!   first answer for a server since the store was created is the *initial snapshot* and fires no event. A later answer reports each difference
//!   once as [`ParkingEvent::Resync`] (to listeners and streams): it fires **no**
//!   `on_call_*` callback, because nobody knows whether a vanished call was
//!   retrieved, timed out or hung up. Calls touched by a live event while the list
//!   was being collected are left as the live event made them: the list was taken
//!   before that event, so it is stale for them (nothing is lost or applied twice).
//!   Asterisk answers a list as the action arrives but delivers its events later
//!   (measured on the sandbox under load: a call listed before its `ParkedCall`
//!   event, a retrieved call missing from a list before its `UnParkedCall`): so the
//!   differences a list finds for a server followed since its previous list are
//!   applied at once but reported only after [`RESYNC_SETTLE`](crate::RESYNC_SETTLE);
//!   a live event of the same call meanwhile cancels the finding and is reported as
//!   itself (the `ParkedCall` of a call the list brought in early is reported as
//!   `Parked`). Findings of the first list after a link came up are reported at once.
//!   Asterisk's list also keeps, for minutes at times, calls it announced as
//!   retrieved: a listed call the store saw leave live since the link came up (and
//!   not park again) is not brought back.
//! - An event for a lot the store does not know creates the lot (range unknown: its
//!   grid holds one cell per call, as its call list does); a later `Parkinglots`
//!   answer fills its range and replaces the grid (one `Replace`). A connection with
//!   `auto_refresh` asks for that answer when a park names a lot its server's last
//!   `Parkinglots` answer did not (a dynamic lot), or lands outside a lot's listed
//!   range. A lot that answer did not name is forgotten once it holds no call: at the
//!   next `Parkinglots` answer, or a `ParkedCalls` answer for its whole server (a
//!   dynamic lot lost in a crash).
//! - A call in a space outside its lot's listed range (a lot shrunk by a reload while
//!   calls were parked, or a server that lies) is held like any other, and the lot's
//!   range becomes unknown (`range_known` false, the grid one cell per call), so a
//!   grid never hides a call. A later `Parkinglots` answer whose range holds every call makes it
//!   known again. So is a range wider than `max_calls` spaces: no grid that big.
//! - What a server can make the store hold is capped: at most
//!   [`ParkingOptions::max_calls`] calls and [`ParkingOptions::max_lots`] lots. What
//!   would go past a cap is dropped, and [`ParkingStore::error`] says so with
//!   [`ParkingError::StoreFull`].
//! - A `ParkedCallGiveUp` is held back for a quarter of a second (or until the next
//!   parking event): when a `ParkedCall` for the same unique id follows, the pair is
//!   one [`ParkingEvent::Moved`] (Asterisk reports a `Park` of a parked call that
//!   way); otherwise it is reported as the give-up it was. The store itself changes at
//!   once.
//! - [`ParkingEvent::NearTimeout`] fires once per call and park, when the call's
//!   remaining time falls below `near_timeout_threshold` (at once when it is first
//!   seen below it), through [`crate::Connection::handle_timeout`]. A call a list
//!   finds with Asterisk's clock restarted (above) keeps its park: its alert moves
//!   with the new deadline, unless it fired already.

mod book;
mod clock;
mod connection_state;
mod left;
mod listeners;
mod live;
pub(crate) mod options;
mod reconcile;
mod sizes;
mod spaces;
mod views;

pub use connection_state::ConnectionState;
pub use listeners::{EventStream, Subscription};
pub use options::{
    CallCallback, CallFilter, CallTransform, MovedCallback, NearTimeoutCallback, ParkingOptions,
    RetrievedCallback, DEFAULT_RETRIEVE_RING,
};
pub(crate) use reconcile::WindowId;
pub use reconcile::RESYNC_SETTLE;
pub use sizes::StoreSizes;
pub use views::{apply_map_diff, ParkedCallsSignalVec, ParkingLotsSignalMap};

use crate::error::ParkingError;
use crate::model::{CompactString, LotKey, ParkedCall, ParkingLot, ServerId};
use crate::small_map::{SmallMap, SmallSet};
use crate::time::Timestamp;
use book::Book;
use clock::Clock;
use futures_signals::signal::{Mutable, Signal, SignalExt};
use futures_signals::signal_map::SignalMapExt;
use futures_signals::signal_vec::SignalVec;
use listeners::Listener;
use reconcile::Window;
use spaces::Slot;
use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex};

/// Everything that changes together, under one lock.
#[derive(Default)]
struct State {
    book: Book,
    clock: Clock,
    /// Calls a park replaced before their own leave came (the reorder under load).
    displaced: VecDeque<Slot>,
    /// Calls whose leave came for a call the store did not hold (a swap bringing one
    /// of them in later is stale).
    departed: VecDeque<(ServerId, CompactString)>,
    /// A give-up waiting to see whether it is half of a move.
    held: Option<live::Held>,
    /// Differences a list found for a server followed since its last list, held for
    /// [`reconcile::RESYNC_SETTLE`]: a live event of the same call cancels one.
    held_resyncs: VecDeque<reconcile::HeldResync>,
    /// Servers whose link stayed up since their last `ParkedCalls` answer.
    following: SmallSet<ServerId>,
    /// Calls seen leaving live since their server's link came up (a list that still
    /// names one is stale for it).
    left: left::LeftCalls,
    synced: SmallSet<ServerId>,
    /// Servers whose `Parkinglots` answer was applied: the store knows all their lots.
    lots_synced: SmallSet<ServerId>,
    windows: SmallMap<u64, Window>,
    next_window: u64,
    listeners: Vec<(u64, Listener)>,
    next_listener: u64,
    streams: Vec<listeners::StreamTx>,
}

struct Inner {
    /// The lots map (the book's; read here without the state's lock).
    lots: Arc<views::LotsMap>,
    total: Mutable<usize>,
    loading: Mutable<usize>,
    error: Mutable<Option<ParkingError>>,
    connection: Mutable<ConnectionState>,
    clock: Mutable<Timestamp>,
    options: ParkingOptions,
    state: Mutex<State>,
    /// Listeners and streams registered (kept under the lock, read without it): an
    /// event nobody listens to costs no second lock.
    audience: std::sync::atomic::AtomicUsize,
}

/// Parking state as read-only signals: lots, parked calls, lot grids, totals, a clock,
/// loading, error, connection state.
///
/// Cheap to clone (all clones share the state); `Send + Sync`. Read it from any
/// thread or UI; only the connection (or [`ParkingStore::apply_message`]) writes. See
/// the module docs for what each Asterisk message does to it.
///
/// ```
/// use ami_parking::{LotKey, Message, ParkingStore, ParkingOptions, Timestamp};
/// let store = ParkingStore::new(ParkingOptions::default());
/// let parked = Message::from_pairs([("Event", "ParkedCall"), ("Privilege", "call,all"),
///     ("ParkeeChannel", "PJSIP/100-1"), ("ParkeeUniqueid", "1.1"), ("Parkinglot", "default"),
///     ("ParkingSpace", "701"), ("ParkingTimeout", "45"), ("ParkingDuration", "0")]);
/// let events = store.apply_message(Timestamp::from_unix_millis(0), 1, &parked);
/// assert_eq!(events.len(), 1);
/// assert_eq!(store.total_parked_calls_now(), 1);
/// assert_eq!(store.parked_call_now(None, 701).unwrap().channel(), "PJSIP/100-1");
/// assert_eq!(store.lot_calls_now(&LotKey::new(1, "default")).len(), 1);
/// ```
#[derive(Clone)]
pub struct ParkingStore {
    inner: Arc<Inner>,
}

impl fmt::Debug for ParkingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParkingStore")
            .field("lots", &self.inner.lots.len())
            .field("calls", &self.inner.total.get())
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
    /// An empty store configured by `options` (the connections writing into it read
    /// their parking options from here too).
    pub fn new(options: ParkingOptions) -> Self {
        let state = State::default();
        Self {
            inner: Arc::new(Inner {
                lots: state.book.lots_map.clone(),
                total: Mutable::new(0),
                loading: Mutable::new(0),
                error: Mutable::new(None),
                connection: Mutable::new(ConnectionState::Disconnected),
                clock: Mutable::new(Timestamp::ZERO),
                options,
                state: Mutex::new(state),
                audience: std::sync::atomic::AtomicUsize::new(0),
            }),
        }
    }

    /// The options the store was made with.
    pub fn options(&self) -> &ParkingOptions {
        &self.inner.options
    }

    // ----- the global views -----

    /// The parked calls the views show, in (server, lot, space) order: a `Replace` with
    /// the calls now, then one diff per change.
    ///
    /// ```
    /// use ami_parking::ParkingStore;
    /// use ami_parking::futures_signals::signal_vec::SignalVecExt;
    /// let store = ParkingStore::default();
    /// let len = store.parked_calls().len(); // a Signal<Item = usize>
    /// # drop(len);
    /// ```
    pub fn parked_calls(&self) -> ParkedCallsSignalVec {
        let mut st = self.lock();
        let now = st.book.shown_calls();
        st.book.global.subscribe(now)
    }

    /// The calls the views show now, in (server, lot, space) order.
    pub fn parked_calls_now(&self) -> Vec<Arc<ParkedCall>> {
        self.lock().book.shown_calls()
    }

    /// The lots, keyed by (server, name), with Asterisk's occupancy.
    pub fn parking_lots(&self) -> ParkingLotsSignalMap {
        self.inner.lots.subscribe()
    }

    /// The lots now.
    pub fn parking_lots_now(&self) -> Vec<ParkingLot> {
        self.inner.lots.values()
    }

    /// The lots now, keyed by (server, name): what [`parking_lots`](Self::parking_lots)
    /// starts from (a UI's map before the first diff).
    pub fn parking_lots_map_now(&self) -> BTreeMap<LotKey, ParkingLot> {
        self.inner.lots.map()
    }

    /// Lot `key` now (`None` while unknown).
    pub fn lot_now(&self, key: &LotKey) -> Option<ParkingLot> {
        self.inner.lots.get(key)
    }

    /// One lot as a signal (`None` while unknown): occupied and free update live.
    pub fn lot(&self, key: LotKey) -> impl Signal<Item = Option<ParkingLot>> + Send + 'static {
        self.parking_lots().key_cloned(key)
    }

    // ----- one lot's views -----

    /// Lot `key` as a grid: one cell per space from its start to its end, `None` when
    /// free (or when the filter hides the call). A park or a leave changes exactly its
    /// cell (`UpdateAt`); a range change replaces the grid (`Replace`). While the lot's
    /// range is unknown (a lot seen only in events: a dynamic lot, or one seen before
    /// its `Parkinglots` answer; or a call outside the listed range) the grid is the
    /// lot's calls, one cell each (`Some`) in space order, as
    /// [`ParkingStore::lot_calls`] (a park inserts its cell, a leave removes it): a
    /// grid never hides a parked call. Number a cell by its call's space then.
    ///
    /// ```
    /// use ami_parking::{LotKey, ParkingStore};
    /// let store = ParkingStore::default();
    /// let _grid = store.lot_grid(&LotKey::new(1, "default"));
    /// assert!(store.lot_grid_now(&LotKey::new(1, "default")).is_empty()); // no lot, no call yet
    /// ```
    pub fn lot_grid(&self, key: &LotKey) -> impl SignalVec<Item = Option<Arc<ParkedCall>>> + Send + 'static {
        let mut st = self.lock();
        let i = st.book.lot_index(key);
        st.book.lot_mut(i).grid_signal()
    }

    /// Lot `key`'s grid now (see [`ParkingStore::lot_grid`]).
    pub fn lot_grid_now(&self, key: &LotKey) -> Vec<Option<Arc<ParkedCall>>> {
        self.lock().book.find(key).map(|l| l.cells()).unwrap_or_default()
    }

    /// The calls the views show in lot `key`, in space order (the seed's
    /// `getCallsForLot`, live).
    pub fn lot_calls(&self, key: &LotKey) -> impl SignalVec<Item = Arc<ParkedCall>> + Send + 'static {
        let mut st = self.lock();
        let i = st.book.lot_index(key);
        st.book.lot_mut(i).calls_signal()
    }

    /// Lot `key`'s calls now.
    pub fn lot_calls_now(&self, key: &LotKey) -> Vec<Arc<ParkedCall>> {
        self.lock().book.find(key).map(|l| l.shown_calls().cloned().collect()).unwrap_or_default()
    }

    // ----- totals, clock, status -----

    /// Number of parked calls the views show, as a signal.
    pub fn total_parked_calls(&self) -> impl Signal<Item = usize> + Send + Sync + 'static {
        self.inner.total.signal()
    }

    /// Number of parked calls the views show now.
    pub fn total_parked_calls_now(&self) -> usize {
        self.inner.total.get()
    }

    /// The clock: the connection advances it once a second while any call is parked
    /// (and not at all when none is), so durations and countdowns derived from it move
    /// on screen.
    ///
    /// ```
    /// use ami_parking::{ParkedCall, ParkingStore};
    /// use ami_parking::futures_signals::signal::SignalExt;
    /// use std::sync::Arc;
    /// let store = ParkingStore::default();
    /// let call = Arc::new(ParkedCall::default());
    /// let _waited = store.clock().map(move |now| call.duration(now).as_secs());
    /// ```
    pub fn clock(&self) -> impl Signal<Item = Timestamp> + Send + Sync + 'static {
        self.inner.clock.signal()
    }

    /// The clock's time now.
    pub fn clock_now(&self) -> Timestamp {
        self.inner.clock.get()
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
    pub fn error(&self) -> impl Signal<Item = Option<ParkingError>> + Send + Sync + 'static {
        self.inner.error.signal_cloned()
    }

    /// The last request failure now.
    pub fn error_now(&self) -> Option<ParkingError> {
        self.inner.error.get_cloned()
    }

    /// The connection state (the latest change of any connection writing here).
    pub fn connection_state(&self) -> impl Signal<Item = ConnectionState> + Send + Sync + 'static {
        self.inner.connection.signal_cloned()
    }

    /// The connection state now.
    pub fn connection_state_now(&self) -> ConnectionState {
        self.inner.connection.get_cloned()
    }

    // ----- lookups -----

    /// The call the views show in `space` of `lot` (the default lot when `None`), on
    /// any server.
    pub fn parked_call_now(&self, lot: Option<&str>, space: u32) -> Option<Arc<ParkedCall>> {
        let lot = lot.unwrap_or(&self.inner.options.default_parking_lot);
        let st = self.lock();
        let found = st
            .book
            .lots()
            .filter(|l| &*l.key.name == lot)
            .find_map(|l| l.spaces.get(space).and_then(|s| s.shown.clone()));
        found
    }

    /// The call the views show in `space` of `lot` on `server_id`.
    pub fn parked_call_on_now(&self, server_id: ServerId, lot: &str, space: u32) -> Option<Arc<ParkedCall>> {
        let st = self.lock();
        st.book.slot(&LotKey::new(server_id, lot), space).and_then(|s| s.shown.clone())
    }

    /// True when Asterisk holds `channel` parked on `server` (`None`: on any server),
    /// in any lot, shown or not (a view's filter does not hide it here). Channel names
    /// compare as Asterisk compares them, ignoring case; two servers may each have a
    /// channel of the same name, so ask about the server the `Park` goes to. What an
    /// app asks before it lets someone `Park` a channel: a parked channel parked again
    /// is moved, out of whatever lot it is in.
    ///
    /// ```
    /// use ami_parking::ParkingStore;
    /// let store = ParkingStore::default();
    /// assert!(!store.is_channel_parked_now(Some(1), "PJSIP/1001-00000001"));
    /// assert!(!store.is_channel_parked_now(None, "PJSIP/1001-00000001"));
    /// ```
    pub fn is_channel_parked_now(&self, server: Option<ServerId>, channel: &str) -> bool {
        let st = self.lock();
        let found = st
            .book
            .lots()
            .filter(|l| server.is_none_or(|s| l.key.server_id == s))
            .any(|l| l.spaces.values().any(|s| s.raw.channel().eq_ignore_ascii_case(channel)));
        found
    }

    /// The servers on which Asterisk holds a call in `space` of `lot`, shown or not (a
    /// view's filter does not hide it here): where a retrieve or a move of that space
    /// must go when the caller names no server. In server order.
    ///
    /// ```
    /// use ami_parking::ParkingStore;
    /// assert!(ParkingStore::default().servers_holding_now("default", 701).is_empty());
    /// ```
    pub fn servers_holding_now(&self, lot: &str, space: u32) -> Vec<ServerId> {
        let st = self.lock();
        let mut holders: Vec<ServerId> = st
            .book
            .lots()
            .filter(|l| &*l.key.name == lot && l.spaces.get(space).is_some())
            .map(|l| l.key.server_id)
            .collect();
        drop(st);
        holders.sort_unstable();
        holders.dedup();
        holders
    }

    /// The call Asterisk holds in that space, shown or not (requests use it).
    pub(crate) fn raw_call(&self, server_id: ServerId, lot: &str, space: u32) -> Option<Arc<ParkedCall>> {
        self.lock().book.slot(&LotKey::new(server_id, lot), space).map(|s| s.raw.clone())
    }

    /// True when Asterisk holds a call in that space, shown or not (requests use it).
    pub(crate) fn holds_call(&self, server_id: ServerId, lot: &str, space: u32) -> bool {
        self.lock().book.slot(&LotKey::new(server_id, lot), space).is_some()
    }

    /// True once a `ParkedCalls` answer for `server_id` has been applied: the store
    /// then knows which spaces are empty.
    pub fn is_synced(&self, server_id: ServerId) -> bool {
        self.lock().synced.contains(&server_id)
    }

    // ----- writing (the connection's side) -----

    /// Sets the connection state (the connection does, for itself and its transport).
    pub(crate) fn set_connection_state(&self, state: ConnectionState) {
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

    /// Writes a `Parkinglots` answer for `server_id`; returns the lots with their
    /// live occupancy, and whether the lots are to be listed again: the server's first
    /// answer did not name a lot holding calls, or gave a range a call lies outside.
    /// Parks and lists of calls read before it taught the store so, and it may have
    /// been taken before Asterisk made the lot (a dynamic lot) or changed its range;
    /// later answers have the live rule (`LotState::to_relist`).
    pub(crate) fn apply_lots(&self, server_id: ServerId, listed: Vec<ParkingLot>) -> (Vec<ParkingLot>, bool) {
        let mut st = self.lock();
        let first = st.lots_synced.insert(server_id);
        let (lots, full, to_learn) = st.book.apply_lots(server_id, listed, &self.inner.options);
        drop(st);
        if full {
            self.over_cap("lots", server_id, self.inner.options.max_lots);
        }
        (lots, first && to_learn)
    }

    /// Something from `server_id` was dropped at a cap: the error says so.
    fn over_cap(&self, what: &'static str, server_id: ServerId, limit: usize) {
        let e = ParkingError::StoreFull { what, server_id, limit };
        if self.inner.error.lock_ref().as_ref() != Some(&e) {
            self.inner.error.set(Some(e));
        }
    }

    /// [`ParkingStore::check_lot`] without the room: `UnknownLot` when the server's
    /// list of lots is in and does not name `lot` (a retrieve's or a move's typo).
    pub(crate) fn check_lot_named(&self, server_id: ServerId, lot: &str) -> Result<(), ParkingError> {
        match self.check_lot(server_id, lot) {
            Err(e @ ParkingError::UnknownLot { .. }) => Err(e),
            _ => Ok(()),
        }
    }

    /// Whether `lot` on `server_id` can take one more call, as far as the store knows:
    /// [`ParkingError::LotFull`] when its count has reached its size,
    /// [`ParkingError::UnknownLot`] when the server's lots are known and it is neither
    /// among them nor named in an event; `Ok` otherwise (also when the store cannot
    /// tell).
    pub(crate) fn check_lot(&self, server_id: ServerId, lot: &str) -> Result<(), ParkingError> {
        let st = self.lock();
        match st.book.find(&LotKey::new(server_id, lot)) {
            Some(l) if l.known && l.lot.range_known => {
                // A known range has at least one space (`fields.rs` reads it so).
                if l.lot.occupied >= l.lot.total_spaces {
                    Err(ParkingError::LotFull { lot: lot.into(), spaces: l.lot.total_spaces, server_id })
                } else {
                    Ok(())
                }
            }
            // Named by Asterisk in an event, not in its list (a dynamic lot, or one a
            // reload shrank under a call): it exists, its size is not known.
            Some(l) if l.known => Ok(()),
            _ if st.lots_synced.contains(&server_id) => {
                let known = st
                    .book
                    .lots()
                    .filter(|l| l.key.server_id == server_id && l.known)
                    .map(|l| l.key.name.to_string())
                    .collect();
                Err(ParkingError::UnknownLot { lot: lot.into(), server_id, known })
            }
            _ => Ok(()),
        }
    }

    /// The name of a lot the store holds, by its bytes (shared by the calls parsed
    /// for it).
    #[cfg(feature = "raw-ami")]
    pub(crate) fn lot_name(&self, server: ServerId, name: &[u8]) -> Option<Arc<str>> {
        self.lock().book.name(server, name)
    }

    /// A call as the store keeps it: the threshold is the store's.
    fn prepare(&self, mut call: ParkedCall) -> ParkedCall {
        call.set_near_timeout_threshold(self.inner.options.near_timeout_threshold);
        call
    }

    /// A slot for a new park of `raw`, tagged `tag` ([`book::Book::new_park`]).
    fn slot(&self, raw: Arc<ParkedCall>, tag: u16) -> Slot {
        let shown = book::shown(&self.inner.options, &raw);
        Slot::new(raw, shown, tag)
    }

    /// A slot for `raw` in the park of `old` (a refresh of the same call, or a swap).
    fn same_park(&self, old: &Slot, raw: Arc<ParkedCall>) -> Slot {
        let shown = book::shown(&self.inner.options, &raw);
        old.same_park(raw, shown)
    }

    /// The link to `server` (every server when `None`) was lost: what the store holds
    /// of it is no longer followed until seen again.
    pub(crate) fn link_lost(&self, server: Option<ServerId>) {
        let mut st = self.lock();
        st.book.unfollow(server);
        st.left.forget(server);
        match server {
            Some(s) => {
                st.following.remove(&s);
            }
            None => st.following.clear(),
        }
    }

    fn publish_total(&self, st: &State) {
        self.inner.total.set_neq(st.book.shown_total);
    }
}
