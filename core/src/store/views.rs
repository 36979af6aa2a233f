//! The store's global views as signals: the call list (a signal vec) and the lots
//! map (a signal map). The store sends each change once to every subscriber's queue,
//! with the index or key the book computed (no shared `Vec` of all calls to shift on
//! each insert, no second copy of the lots to search on each occupancy change).

use crate::model::{LotKey, ParkedCall, ParkingLot};
use futures_signals::signal_map::{MapDiff, SignalMap};
use futures_signals::signal_vec::{SignalVec, VecDiff};
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

type Diff = VecDiff<Arc<ParkedCall>>;
type LotDiff = MapDiff<LotKey, ParkingLot>;

/// One subscriber's diffs waiting to be taken, and who to wake for them.
struct Queue<D> {
    diffs: Vec<D>,
    waker: Option<Waker>,
    /// The store is gone: no diff will come.
    closed: bool,
}

impl<D> Default for Queue<D> {
    fn default() -> Self {
        Self { diffs: Vec::new(), waker: None, closed: false }
    }
}

type Shared<D> = Arc<Mutex<Queue<D>>>;

fn lock<D>(q: &Shared<D>) -> MutexGuard<'_, Queue<D>> {
    q.lock().unwrap_or_else(|e| e.into_inner())
}

/// The subscribers of a view: one queue each (a lock and a push per change, no
/// allocation once the queue and its subscriber's buffer have grown).
pub(super) struct Broadcast<D = Diff> {
    subscribers: Vec<Shared<D>>,
}

impl<D> Default for Broadcast<D> {
    fn default() -> Self {
        Self { subscribers: Vec::new() }
    }
}

impl<D: Clone> Broadcast<D> {
    /// Sends the diff `make` builds to every subscriber (built only when there is one).
    pub(super) fn send(&mut self, make: impl FnOnce() -> D) {
        if self.subscribers.is_empty() {
            return;
        }
        // A subscriber that dropped its end holds no other reference to its queue
        // (looked for first: `retain` costs more than the look when nobody left).
        if self.subscribers.iter().any(|q| Arc::strong_count(q) == 1) {
            self.subscribers.retain(|q| Arc::strong_count(q) > 1);
        }
        let diff = make();
        for q in &self.subscribers {
            let waker = {
                let mut q = lock(q);
                q.diffs.push(diff.clone());
                q.waker.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
        }
    }

    /// Subscribers kept (a dropped one goes at the next send).
    pub(super) fn len(&self) -> usize {
        self.subscribers.len()
    }

    /// A new subscriber's queue.
    fn queue(&mut self) -> Shared<D> {
        let q = Shared::default();
        self.subscribers.push(q.clone());
        q
    }
}

impl<T: Clone> Broadcast<VecDiff<T>> {
    /// A new subscriber that starts from `now` (the vec at this instant): its first
    /// change is a `Replace` with it.
    fn subscription(&mut self, now: Vec<T>) -> Subscription<T> {
        Subscription { first: Some(now), queue: Receiver::new(self.queue()) }
    }

    /// A new subscriber of a lot's view (its grid, its call list) that starts from
    /// `now`: like a futures-signals `MutableVec`, a `Replace` first only when `now`
    /// is not empty.
    pub(super) fn subscribe_lot(&mut self, now: Vec<T>) -> Subscription<T> {
        let mut s = self.subscription(now);
        s.first = s.first.filter(|v| !v.is_empty());
        s
    }
}

impl Broadcast<Diff> {
    /// A new subscriber that starts from `now` (the list at this instant).
    pub(super) fn subscribe(&mut self, now: Vec<Arc<ParkedCall>>) -> ParkedCallsSignalVec {
        ParkedCallsSignalVec(self.subscription(now))
    }
}

/// One subscriber of a vec view: the vec at subscription time (its first change), then
/// the store's diffs, from its own queue. A lot's grid and call list are these; the
/// global list is one behind [`ParkedCallsSignalVec`].
#[must_use = "a signal vec does nothing unless polled"]
pub(super) struct Subscription<T> {
    first: Option<Vec<T>>,
    queue: Receiver<VecDiff<T>>,
}

// Never pinned in place: it holds its diffs by value and polls nothing pinned.
impl<T> Unpin for Subscription<T> {}

impl<T> SignalVec for Subscription<T> {
    type Item = T;

    fn poll_vec_change(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<VecDiff<T>>> {
        let first = self.first.take().map(|values| VecDiff::Replace { values });
        poll_queue(first, &mut self.queue, cx)
    }
}

/// The lots map as its subscribers know it, under a lock of its own: read without the
/// store's lock (a `parked_call_filter` or `transform_parked_call`, which run under
/// it, may read the lots), changed by the book under both. Each lot of the book is an
/// entry, by the book's ordinal (so in key order), with its published facts (`None`:
/// not in the map): a change is published by ordinal, with no search.
#[derive(Default)]
pub(super) struct LotsMap(Mutex<LotsMapState>);

#[derive(Default)]
struct LotsMapState {
    entries: Vec<(LotKey, Option<ParkingLot>)>,
    view: Broadcast<LotDiff>,
}

impl LotsMapState {
    /// The lots in the map, in key order.
    fn published(&self) -> impl Iterator<Item = (LotKey, ParkingLot)> + '_ {
        self.entries.iter().filter_map(|(k, v)| Some((k.clone(), v.clone()?)))
    }
}

/// `from`'s facts written over `to`'s, its name (the same shared name) kept: no
/// reference count changes hands.
fn copy_facts(to: &mut ParkingLot, from: &ParkingLot) {
    let ParkingLot {
        name: _,
        start_space,
        end_space,
        total_spaces,
        timeout,
        server_id,
        occupied,
        range_known,
    } = *from;
    (to.start_space, to.end_space, to.total_spaces, to.timeout) =
        (start_space, end_space, total_spaces, timeout);
    (to.server_id, to.occupied, to.range_known) = (server_id, occupied, range_known);
}

impl LotsMap {
    fn state(&self) -> MutexGuard<'_, LotsMapState> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The book made lot `key` at ordinal `i` (not in the map until published).
    pub(super) fn insert_lot(&self, i: usize, key: LotKey) {
        self.state().entries.insert(i, (key, None));
    }

    /// Lot `i`'s facts reach the map (an `Insert` or an `Update` to subscribers; the
    /// diff is built only when there is one).
    pub(super) fn publish(&self, i: usize, lot: &ParkingLot) {
        let mut st = self.state();
        let LotsMapState { entries, view } = &mut *st;
        let (key, slot) = &mut entries[i];
        let was = match slot {
            Some(held) if Arc::ptr_eq(&held.name, &lot.name) => {
                copy_facts(held, lot);
                true
            }
            _ => slot.replace(lot.clone()).is_some(),
        };
        view.send(|| {
            let (key, value) = (key.clone(), lot.clone());
            if was {
                MapDiff::Update { key, value }
            } else {
                MapDiff::Insert { key, value }
            }
        });
    }

    /// Lot `i` leaves the map (a `Remove`, when it was there).
    pub(super) fn unpublish(&self, i: usize) {
        let mut st = self.state();
        let LotsMapState { entries, view } = &mut *st;
        let (key, slot) = &mut entries[i];
        if slot.take().is_some() {
            view.send(|| MapDiff::Remove { key: key.clone() });
        }
    }

    /// The lots now, in key order.
    pub(super) fn values(&self) -> Vec<ParkingLot> {
        self.state().entries.iter().filter_map(|(_, v)| v.clone()).collect()
    }

    /// The map now.
    pub(super) fn map(&self) -> std::collections::BTreeMap<LotKey, ParkingLot> {
        // By insertion: `collect` would sort first (code a browser downloads).
        let mut map = std::collections::BTreeMap::new();
        map.extend(self.state().published());
        map
    }

    /// Lot `key` now.
    pub(super) fn get(&self, key: &LotKey) -> Option<ParkingLot> {
        let st = self.state();
        let i = st.entries.binary_search_by(|(k, _)| k.cmp(key)).ok()?;
        st.entries[i].1.clone()
    }

    /// Lots in the map now.
    pub(super) fn len(&self) -> usize {
        self.state().entries.iter().filter(|(_, v)| v.is_some()).count()
    }

    /// A new subscriber, starting from the map now: a `Replace` first unless it is
    /// empty.
    pub(super) fn subscribe(&self) -> ParkingLotsSignalMap {
        let mut st = self.state();
        let now: Vec<(LotKey, ParkingLot)> = st.published().collect();
        let first = (!now.is_empty()).then_some(now);
        ParkingLotsSignalMap { first, queue: Receiver::new(st.view.queue()) }
    }

    /// Subscribers kept (a dropped one goes at the next change).
    pub(super) fn subscribers(&self) -> usize {
        self.state().view.len()
    }
}

/// A subscriber's end of its queue: the diffs it took, and the queue.
struct Receiver<D> {
    /// Diffs taken from the queue, not yet polled: the next one last.
    taken: Vec<D>,
    queue: Shared<D>,
}

impl<D> Receiver<D> {
    fn new(queue: Shared<D>) -> Self {
        Self { taken: Vec::new(), queue }
    }
}

/// The largest buffer of diffs a subscriber keeps once it has taken them all: one
/// grown by a burst is let go.
const KEPT_DIFFS: usize = 1024;

/// Takes the next diff of a subscriber: its first one, else its queue's. All the
/// diffs waiting are taken under one lock (the two buffers swap: no allocation), not
/// one lock each; they are put in order (reversed, to be popped from the end) after
/// the lock is let go, so a long backlog does not hold up the store's sends.
fn poll_queue<D>(first: Option<D>, r: &mut Receiver<D>, cx: &mut Context<'_>) -> Poll<Option<D>> {
    if let Some(d) = first.or_else(|| r.taken.pop()) {
        return Poll::Ready(Some(d));
    }
    if r.taken.capacity() > KEPT_DIFFS {
        r.taken = Vec::new();
    }
    let mut q = lock(&r.queue);
    std::mem::swap(&mut q.diffs, &mut r.taken);
    if r.taken.is_empty() {
        if q.closed {
            return Poll::Ready(None);
        }
        if !q.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            q.waker = Some(cx.waker().clone());
        }
        return Poll::Pending;
    }
    drop(q);
    r.taken.reverse();
    Poll::Ready(r.taken.pop())
}

impl<D> Drop for Broadcast<D> {
    fn drop(&mut self) {
        for q in &self.subscribers {
            let waker = {
                let mut q = lock(q);
                q.closed = true;
                q.waker.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
        }
    }
}

/// The parked calls the views show, in (server, lot, space) order, as a signal vec
/// (from [`ParkingStore::parked_calls`](super::ParkingStore::parked_calls)).
///
/// Its first change is a `Replace` with the list at subscription time; then one
/// `InsertAt`, `UpdateAt` or `RemoveAt` per change. It ends when the store is dropped.
#[must_use = "a signal vec does nothing unless polled"]
pub struct ParkedCallsSignalVec(Subscription<Arc<ParkedCall>>);

impl fmt::Debug for ParkedCallsSignalVec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParkedCallsSignalVec").finish_non_exhaustive()
    }
}

impl SignalVec for ParkedCallsSignalVec {
    type Item = Arc<ParkedCall>;

    fn poll_vec_change(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Diff>> {
        Pin::new(&mut self.0).poll_vec_change(cx)
    }
}

/// The lots, keyed by (server, name), with Asterisk's occupancy, as a signal map (from
/// [`ParkingStore::parking_lots`](super::ParkingStore::parking_lots)).
///
/// Its first change is a `Replace` with the lots at subscription time (none when
/// there are none); then an `Insert` when a lot appears, an `Update` when its facts
/// or occupancy change, a `Remove` when it is forgotten. It ends when the store is
/// dropped.
#[must_use = "a signal map does nothing unless polled"]
pub struct ParkingLotsSignalMap {
    first: Option<Vec<(LotKey, ParkingLot)>>,
    queue: Receiver<LotDiff>,
}

impl fmt::Debug for ParkingLotsSignalMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParkingLotsSignalMap").finish_non_exhaustive()
    }
}

impl SignalMap for ParkingLotsSignalMap {
    type Key = LotKey;
    type Value = ParkingLot;

    fn poll_map_change(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<LotDiff>> {
        let first = self.first.take().map(|entries| MapDiff::Replace { entries });
        poll_queue(first, &mut self.queue, cx)
    }
}

/// Applies one diff of a signal map (such as [`ParkingStore::parking_lots`](crate::ParkingStore::parking_lots)) to a
/// UI's copy of the map: what every binding does with each diff.
///
/// ```
/// use ami_parking::apply_map_diff;
/// use ami_parking::futures_signals::signal_map::MapDiff;
/// let mut m = std::collections::BTreeMap::from([(1, "a")]);
/// apply_map_diff(&mut m, MapDiff::Insert { key: 2, value: "b" });
/// apply_map_diff(&mut m, MapDiff::Remove { key: 1 });
/// assert_eq!(m.iter().collect::<Vec<_>>(), vec![(&2, &"b")]);
/// apply_map_diff(&mut m, MapDiff::Replace { entries: vec![(4, "d"), (3, "c")] });
/// assert_eq!(m.into_iter().collect::<Vec<_>>(), vec![(3, "c"), (4, "d")]);
/// ```
pub fn apply_map_diff<K: Ord, V>(
    map: &mut std::collections::BTreeMap<K, V>,
    diff: futures_signals::signal_map::MapDiff<K, V>,
) {
    use futures_signals::signal_map::MapDiff;
    match diff {
        MapDiff::Replace { entries } => {
            // By insertion: `collect` would sort first (code a browser downloads).
            map.clear();
            map.extend(entries);
        }
        MapDiff::Insert { key, value } | MapDiff::Update { key, value } => {
            map.insert(key, value);
        }
        MapDiff::Remove { key } => {
            map.remove(&key);
        }
        MapDiff::Clear {} => map.clear(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poll<D>(r: &mut Receiver<D>) -> Poll<Option<D>> {
        poll_queue(None, r, &mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn every_subscriber_gets_every_diff_in_order_then_the_end() {
        let mut b: Broadcast<u32> = Broadcast::default();
        let (mut first, mut last) = (Receiver::new(b.queue()), Receiver::new(b.queue()));
        for d in 1..=3 {
            b.send(|| d);
        }
        // The first poll takes the three waiting diffs at once; a diff sent after it
        // comes after them.
        assert_eq!(poll(&mut first), Poll::Ready(Some(1)));
        b.send(|| 4);
        let got: Vec<_> = std::iter::from_fn(|| match poll(&mut first) {
            Poll::Ready(Some(d)) => Some(d),
            _ => None,
        })
        .collect();
        assert_eq!(got, [2, 3, 4]);
        assert_eq!(poll(&mut first), Poll::Pending, "nothing waits");
        // The other subscriber, which has not polled yet, gets the same.
        for d in 1..=4 {
            assert_eq!(poll(&mut last), Poll::Ready(Some(d)));
        }
        b.send(|| 5);
        drop(b);
        assert_eq!(poll(&mut first), Poll::Ready(Some(5)), "a diff sent before the end still comes");
        assert_eq!(poll(&mut first), Poll::Ready(None));
        assert_eq!(poll(&mut last), Poll::Ready(Some(5)));
        assert_eq!(poll(&mut last), Poll::Ready(None));
    }

    /// A waker that counts its wakes.
    struct Count(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[test]
    fn a_waiting_subscriber_is_woken_by_the_next_diff_and_by_the_end() {
        let mut b: Broadcast<u32> = Broadcast::default();
        let mut r = Receiver::new(b.queue());
        let count = Arc::new(Count(0.into()));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let wakes = || count.0.load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!(poll_queue(None, &mut r, &mut cx), Poll::Pending);
        b.send(|| 1);
        assert_eq!(wakes(), 1, "the diff woke the subscriber");
        assert_eq!(poll_queue(None, &mut r, &mut cx), Poll::Ready(Some(1)));
        assert_eq!(poll_queue(None, &mut r, &mut cx), Poll::Pending);
        drop(b);
        assert_eq!(wakes(), 2, "the end woke the subscriber");
        assert_eq!(poll_queue(None, &mut r, &mut cx), Poll::Ready(None));
    }

    #[test]
    fn diffs_taken_before_the_end_still_come_before_it() {
        let mut b: Broadcast<u32> = Broadcast::default();
        let mut r = Receiver::new(b.queue());
        b.send(|| 5);
        b.send(|| 6);
        assert_eq!(poll(&mut r), Poll::Ready(Some(5)), "6 is taken with it");
        drop(b);
        assert_eq!(poll(&mut r), Poll::Ready(Some(6)));
        assert_eq!(poll(&mut r), Poll::Ready(None));
    }

    #[test]
    fn a_buffer_grown_by_a_burst_is_let_go_once_drained() {
        let mut b: Broadcast<u32> = Broadcast::default();
        let mut r = Receiver::new(b.queue());
        for d in 0..5000 {
            b.send(|| d);
        }
        for d in 0..5000 {
            assert_eq!(poll(&mut r), Poll::Ready(Some(d)));
        }
        assert_eq!(poll(&mut r), Poll::Pending);
        assert!(r.taken.capacity() <= KEPT_DIFFS, "the subscriber's buffer: {}", r.taken.capacity());
        assert!(lock(&r.queue).diffs.capacity() <= KEPT_DIFFS, "the queue's buffer");
    }

    #[test]
    fn a_new_subscriber_gets_the_list_first_then_the_changes() {
        let mut b: Broadcast = Broadcast::default();
        let mut calls = b.subscribe(Vec::new());
        b.send(|| VecDiff::RemoveAt { index: 0 });
        let mut cx = Context::from_waker(Waker::noop());
        let mut next = || Pin::new(&mut calls).poll_vec_change(&mut cx);
        assert!(matches!(next(), Poll::Ready(Some(VecDiff::Replace { values })) if values.is_empty()));
        assert!(matches!(next(), Poll::Ready(Some(VecDiff::RemoveAt { index: 0 }))));
        assert!(next().is_pending());
    }

    #[test]
    fn a_subscriber_that_left_is_dropped_at_the_next_diff() {
        let mut b: Broadcast<u32> = Broadcast::default();
        let mut kept = Receiver::new(b.queue());
        drop(Receiver::new(b.queue()));
        assert_eq!(b.len(), 2);
        b.send(|| 7);
        assert_eq!(b.len(), 1);
        assert_eq!(poll(&mut kept), Poll::Ready(Some(7)));
    }
}
