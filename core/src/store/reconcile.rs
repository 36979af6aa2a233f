//! `ParkedCalls` answers applied to the store: the scope they cover is reconciled,
//! with the collection windows that protect what live events changed meanwhile.

use super::{ParkingStore, State};
use crate::model::event::{ParkingEvent, ResyncChange};
use crate::model::{sort_calls, CompactString, LotKey, ParkedCall, ServerId};
use crate::time::Timestamp;
// foldhash: seeded at random on native targets (a server cannot choose colliding ids;
// on wasm32-unknown-unknown its seeds are fixed, see `book.rs`) and several times
// faster than the standard SipHash on short keys like unique ids.
use foldhash::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// How long a difference found by a list of a followed server waits before it is
/// reported as [`ParkingEvent::Resync`]: Asterisk answers a list at once but delivers
/// the events of the same moment later, so a call may be listed before its
/// `ParkedCall` event arrives, or be missing before its `UnParkedCall` does. A live
/// event of the call within this time cancels the finding (the event is reported as
/// itself); the store's content follows the list at once either way.
pub const RESYNC_SETTLE: Duration = Duration::from_secs(1);

/// The most findings held at once; past it the oldest is reported at once.
pub(super) const HELD_RESYNCS_MAX: usize = 4096;

/// A difference a list found, held for [`RESYNC_SETTLE`].
pub(crate) struct HeldResync {
    server: ServerId,
    uid: CompactString,
    change: ResyncChange,
    event: ParkingEvent,
    until: Timestamp,
}

/// Live changes seen while a list was being collected.
#[derive(Default)]
pub(super) struct Window {
    pub(super) keys: HashSet<(ServerId, Arc<str>, u32)>,
    pub(super) uids: HashSet<(ServerId, CompactString)>,
}

/// Identifies a collection window opened by a list request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WindowId(u64);

impl ParkingStore {
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

    /// Replaces what the store holds of `server_id` with a snapshot taken elsewhere
    /// (another process's store, e.g. a NATS collector's): `lots` (when given) as a
    /// `Parkinglots` answer, then `calls` as a `ParkedCalls` answer of every lot. The
    /// first snapshot of a server fires no event; a later one fires a
    /// [`ParkingEvent::Resync`] for each call that appeared or vanished, and nothing
    /// for the calls that stayed. Each call's `server_id` is set to `server_id`.
    ///
    /// ```
    /// use ami_parking::{ParkedCall, ParkingStore, Timestamp};
    /// let store = ParkingStore::default();
    /// let mut call = ParkedCall::default();
    /// call.parking_lot = "default".into();
    /// call.parking_space = 701;
    /// call.set_unique_id("1.1");
    /// let now = Timestamp::from_unix_millis(1_000);
    /// assert!(store.apply_snapshot(now, 7, None, vec![call]).is_empty(), "the first snapshot is silent");
    /// assert_eq!(store.parked_call_on_now(7, "default", 701).unwrap().unique_id(), "1.1");
    /// let events = store.apply_snapshot(now, 7, None, vec![]);
    /// assert_eq!(events[0].kind(), "resync");
    /// assert_eq!(store.total_parked_calls_now(), 0);
    /// ```
    pub fn apply_snapshot(
        &self,
        now: Timestamp,
        server_id: ServerId,
        lots: Option<Vec<crate::model::ParkingLot>>,
        calls: Vec<ParkedCall>,
    ) -> Vec<ParkingEvent> {
        if let Some(mut lots) = lots {
            for l in &mut lots {
                l.server_id = server_id;
            }
            let _ = self.apply_lots(server_id, lots);
        }
        // A snapshot is exact at its sequence number: nothing in it lags or is stale.
        self.reconcile_as(now, None, server_id, None, calls, Reading::Exact).events
    }

    /// Reconciles the scope (`server_id`, or one `lot` of it) with a `ParkedCalls`
    /// answer received at `now`. `window` (when still open) names what live events
    /// touched meanwhile. Returns the events, the listed calls as the views show them,
    /// and whether the lots are to be listed again ([`Reconciled::unlisted`]).
    pub(crate) fn reconcile(
        &self,
        now: Timestamp,
        window: Option<WindowId>,
        server_id: ServerId,
        lot: Option<&str>,
        listed: Vec<ParkedCall>,
    ) -> Reconciled {
        self.reconcile_as(now, window, server_id, lot, listed, Reading::AsteriskList)
    }

    fn reconcile_as(
        &self,
        now: Timestamp,
        window: Option<WindowId>,
        server_id: ServerId,
        lot: Option<&str>,
        listed: Vec<ParkedCall>,
        reading: Reading,
    ) -> Reconciled {
        let mut calls = Vec::with_capacity(listed.len());
        for mut c in listed {
            c.server_id = server_id;
            if lot.is_none_or(|l| &*c.parking_lot == l) {
                let c = self.prepare(c);
                calls.push(Arc::new(c));
            }
        }
        let answer = Listed::new(calls);
        let full;
        let (events, shown, unlisted) = {
            let mut st = self.lock();
            // A held give-up and held findings are reported before what the list finds.
            let mut held: Vec<ParkingEvent> = st.release_held().into_iter().collect();
            held.extend(st.held_resyncs.drain(..).map(|h| h.event));
            let hold = reading == Reading::AsteriskList && st.following.contains(&server_id);
            let dirty = window.and_then(|w| st.windows.get(&w.0)).map(|w| (w.keys.clone(), w.uids.clone()));
            let (keys, uids) = dirty.unwrap_or_default();
            let initial = st.synced.insert(server_id);
            let mut walk = Walk {
                scope: Scope { server_id, keys, uids },
                initial,
                events: held,
                full: None,
                reading,
                lots_to_learn: false,
            };
            let was_idle = st.book.raw_total == 0;
            st.book.batch_lots();
            walk.remove_unlisted(&mut st, lot, &answer);
            let shown = walk.write_listed(self, &mut st, answer);
            // Once the server's lots were listed, what the answer taught is news.
            let unlisted = walk.lots_to_learn && st.lots_synced.contains(&server_id);
            if lot.is_none() && st.lots_synced.contains(&server_id) {
                // A lot the server's list of lots did not name, emptied by this list.
                st.book.forget_unlisted(server_id);
            }
            st.book.publish_lots();
            full = walk.full;
            // A list of the whole server that was applied: its link is followed from
            // here on. (A lot's list leaves that as it was.)
            if lot.is_none() {
                st.following.insert(server_id);
            }
            if hold {
                walk.events = st.hold_resyncs(std::mem::take(&mut walk.events), now + RESYNC_SETTLE);
            }
            self.wake_clock(&mut st, was_idle, now);
            self.publish_total(&st);
            (walk.events, shown, unlisted)
        };
        if let Some((what, limit)) = full {
            self.over_cap(what, server_id, limit);
        }
        self.dispatch(&events);
        Reconciled { events, shown, unlisted }
    }
}

/// What a `ParkedCalls` answer did to the store.
pub(crate) struct Reconciled {
    /// The events it brings (none for a server's first answer).
    pub(crate) events: Vec<ParkingEvent>,
    /// The listed calls, as the views show them.
    pub(crate) shown: Vec<Arc<ParkedCall>>,
    /// It made known a lot the server's last `Parkinglots` answer did not list, or
    /// put a call outside a lot's listed range: the lots are to be listed again.
    pub(crate) unlisted: bool,
}

/// The calls of one answer by lot and space, sorted; of a space listed twice the
/// first is kept. (Asterisk lists a lot's calls in order: the sort is one pass, where
/// a map paid a search of lot names for each call. It is the calls' one sort, so a
/// browser downloads one copy of the sort's code.)
struct Listed(Vec<Arc<ParkedCall>>);

/// A listed call's lot and space.
fn listed_key(c: &ParkedCall) -> (&str, u32) {
    (&c.parking_lot, c.parking_space)
}

impl Listed {
    fn new(mut calls: Vec<Arc<ParkedCall>>) -> Self {
        sort_calls(&mut calls, |a, b| listed_key(a).cmp(&listed_key(b)));
        calls.dedup_by(|later, first| listed_key(later) == listed_key(first));
        Listed(calls)
    }

    fn contains(&self, lot: &str, space: u32) -> bool {
        self.0.binary_search_by(|c| listed_key(c).cmp(&(lot, space))).is_ok()
    }
}

/// What one `ParkedCalls` answer covers, and what live events changed meanwhile.
struct Scope {
    server_id: ServerId,
    keys: HashSet<(ServerId, Arc<str>, u32)>,
    uids: HashSet<(ServerId, CompactString)>,
}

impl Scope {
    /// True when a live event touched the call's space or the call while the list was
    /// collected: the list is stale for it.
    fn is_dirty(&self, c: &ParkedCall) -> bool {
        self.keys.contains(&(c.server_id, c.parking_lot.clone(), c.parking_space))
            || (!c.unique_id().is_empty() && self.uids.contains(&(c.server_id, c.unique_id().into())))
    }
}

/// One reconciliation: the scope and the events it found.
/// What a list is: Asterisk's own answer (ahead of its events, at times stale), or a
/// snapshot exact at its sequence number (a collector's over NATS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reading {
    AsteriskList,
    Exact,
}

struct Walk {
    /// What the list is.
    reading: Reading,
    scope: Scope,
    /// The first answer for this server: the initial snapshot fires no event.
    initial: bool,
    events: Vec<ParkingEvent>,
    /// The cap (`calls` or `lots`) that dropped listed calls.
    full: Option<(&'static str, usize)>,
    /// A call the walk wrote made known a lot no list of lots named (Asterisk made it
    /// since), or lies outside its lot's listed range (a reload changed it): as after
    /// a live park, the lots are to be listed again. A call the walk dropped (a cap, a
    /// stale call) makes nothing known, so there is nothing to learn: a lot sets this
    /// once, until it is forgotten (empty, and not named by the lists of lots).
    lots_to_learn: bool,
}

impl Walk {
    fn resync(&mut self, call: Option<Arc<ParkedCall>>, change: ResyncChange) {
        if let (false, Some(call)) = (self.initial, call) {
            self.events.push(ParkingEvent::Resync { call, change });
        }
    }

    /// Removes the calls in scope the answer no longer lists.
    fn remove_unlisted(&mut self, st: &mut State, lot: Option<&str>, answer: &Listed) {
        for i in st.book.lot_indices(self.scope.server_id, lot) {
            let l = st.book.lot(i);
            let gone: Vec<u32> = l
                .spaces
                .iter()
                .filter(|(space, slot)| {
                    !answer.contains(&l.key.name, *space) && !self.scope.is_dirty(&slot.raw)
                })
                .map(|(space, _)| space)
                .collect();
            for space in gone {
                let old = st.book.put(i, space, None).old;
                self.resync(old.and_then(|s| s.shown), ResyncChange::Vanished);
            }
        }
    }

    /// Inserts or updates the listed calls; returns them as the views show them.
    fn write_listed(&mut self, store: &ParkingStore, st: &mut State, answer: Listed) -> Vec<Arc<ParkedCall>> {
        let mut shown = Vec::with_capacity(answer.0.len());
        let options = &store.inner.options;
        for c in answer.0 {
            let (name, space) = (c.parking_lot.clone(), c.parking_space);
            let key = LotKey { server_id: self.scope.server_id, name };
            let Some(i) = st.book.lot_index_within(&key, options.max_lots) else {
                self.full = Some(("lots", options.max_lots));
                continue;
            };
            let old = st.book.lot(i).spaces.get(space).cloned();
            if old.is_none() && st.book.raw_total >= options.max_calls {
                self.full = Some(("calls", options.max_calls));
                continue;
            }
            // The lot's name is shared by all its calls (one allocation per lot).
            let c = Arc::new({
                let mut c = Arc::unwrap_or_clone(c);
                c.parking_lot = st.book.lot(i).key.name.clone();
                c
            });
            if self.scope.is_dirty(&c) {
                // A live event changed it while the list was collected: the live
                // event's version stands.
                shown.extend(old.and_then(|s| s.shown).or_else(|| store.slot(c, 0).shown));
                continue;
            }
            if self.reading == Reading::AsteriskList
                && st.left.contains(self.scope.server_id, c.unique_id())
                && old.as_ref().is_none_or(|o| !o.raw.same_call(&c))
            {
                // Asterisk still lists a call it announced as gone: stale.
                shown.extend(old.and_then(|s| s.shown));
                continue;
            }
            match old {
                Some(old) if old.raw.same_parking(&c) => {
                    // Followed since the link came up: the list's times are only a
                    // later (perhaps delayed) reading of the same clock. Otherwise a
                    // clock that moved means Asterisk parked it again while we were away.
                    let merged = if old.followed() {
                        (*c).clone().with_times_of(&old.raw)
                    } else {
                        old.raw.with_first_seen_times((*c).clone())
                    };
                    if *old.raw == merged {
                        // Nothing new: keep the store's call, followed from now on.
                        st.book.follow(i, space);
                        shown.extend(old.shown);
                    } else {
                        let mut slot = store.same_park(&old, Arc::new(merged));
                        // Asterisk's clock for it moved (parked again while we were
                        // away): its alert moves too, under a new tag, so that the
                        // alerts scheduled for its earlier deadlines no longer match
                        // (a clock going back and forth between two deadlines would
                        // otherwise keep two of them valid, and more at each turn).
                        shown.extend(slot.shown.clone());
                        if slot.alert_key() != old.alert_key() {
                            slot.retag(st.book.new_park());
                            st.put_alerted(i, space, slot);
                        } else {
                            st.book.put(i, space, Some(slot));
                        }
                    }
                }
                old => {
                    let tag = st.book.new_park();
                    let slot = store.slot(c, tag);
                    shown.extend(slot.shown.clone());
                    let new = slot.shown.clone();
                    let before = st.book.lot(i).listing();
                    st.put_alerted(i, space, slot);
                    self.lots_to_learn |= st.book.lot(i).to_relist(before);
                    if let Some(old) = old {
                        self.resync(old.shown, ResyncChange::Vanished);
                    }
                    self.resync(new, ResyncChange::Appeared);
                }
            }
        }
        shown
    }
}

impl State {
    /// Holds the findings among `events` (those of a call with a unique id) until
    /// `until`; returns what is reported now.
    fn hold_resyncs(&mut self, events: Vec<ParkingEvent>, until: Timestamp) -> Vec<ParkingEvent> {
        let mut now = Vec::new();
        for event in events {
            let ParkingEvent::Resync { call, change } = &event else {
                now.push(event);
                continue;
            };
            if call.unique_id().is_empty() {
                now.push(event);
                continue;
            }
            if self.held_resyncs.len() == HELD_RESYNCS_MAX {
                now.extend(self.held_resyncs.pop_front().map(|h| h.event));
            }
            let (server, uid, change) = (call.server_id, call.unique_id().into(), *change);
            self.held_resyncs.push_back(HeldResync { server, uid, change, event, until });
        }
        now
    }

    /// A live event of `uid` on `server` came: the findings held for it are dropped.
    /// Returns the change of the last one (none when none was held).
    pub(super) fn cancel_held_resyncs(&mut self, server: ServerId, uid: &str) -> Option<ResyncChange> {
        if uid.is_empty() || self.held_resyncs.is_empty() {
            return None;
        }
        let mut last = None;
        self.held_resyncs.retain(|h| {
            let same = h.server == server && h.uid == uid;
            if same {
                last = Some(h.change);
            }
            !same
        });
        last
    }

    /// The findings whose time is up at `now`, in the order found.
    pub(super) fn release_held_resyncs(&mut self, now: Timestamp) -> Vec<ParkingEvent> {
        let (due, kept): (Vec<HeldResync>, Vec<HeldResync>) =
            std::mem::take(&mut self.held_resyncs).into_iter().partition(|h| h.until <= now);
        self.held_resyncs = kept.into();
        due.into_iter().map(|h| h.event).collect()
    }

    /// When the first held finding is due.
    pub(super) fn next_held_resync(&self) -> Option<Timestamp> {
        self.held_resyncs.iter().map(|h| h.until).min()
    }
}
