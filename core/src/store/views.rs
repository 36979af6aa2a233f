//! What the views' subscribers read, under one lock of its own (the outbox): the
//! lots map, the total, and each subscriber's waiting diffs (the global call list,
//! each lot's grid and call list, the lots map, the total). The book writes it under
//! the store's lock, taking this one once per change of a space: a park or a leave
//! costs two locks whatever the views watching it (each subscriber had a queue with
//! its own lock, and the total a lock of its own: four or five locks a park). The
//! store sends each change once to every subscriber's queue, with the index or key the
//! book computed (no shared `Vec` of all calls to shift on each insert).
//!
//! Subscribers, and readers of the lots (a `parked_call_filter` or
//! `transform_parked_call`, which run under the store's lock, may read them), take
//! only this lock: it is never held while the store's is taken.

use crate::model::{LotKey, ParkedCall, ParkingLot};
use futures_signals::signal::Signal;
use futures_signals::signal_map::{MapDiff, SignalMap};
use futures_signals::signal_vec::{SignalVec, VecDiff};
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

type Diff = VecDiff<Arc<ParkedCall>>;
type CellDiff = VecDiff<Option<Arc<ParkedCall>>>;
type LotDiff = MapDiff<LotKey, ParkingLot>;

/// The outbox: see the module docs.
#[derive(Default)]
pub(super) struct Outbox(Mutex<Out>);

/// What the outbox holds.
#[derive(Default)]
pub(super) struct Out {
    /// Each lot of the book, by the book's ordinal (so in key order), with its
    /// published facts (`None`: not in the map): a change is published by ordinal.
    lots: Vec<(LotKey, Option<ParkingLot>)>,
    /// The calls the views show.
    total: usize,
    calls: Queues<Diff>,
    cells: Queues<CellDiff>,
    map: Queues<LotDiff>,
    /// A `()` for each change of the total (a `Vec<()>` never allocates).
    totals: Queues<()>,
    map_view: Broadcast<LotDiff>,
    total_view: Broadcast<()>,
    /// The store is gone: no diff will come.
    closed: bool,
    /// Subscribers to wake once the lock is let go.
    woken: Vec<Waker>,
    #[cfg(test)]
    numbers: Queues<u32>,
}

/// One subscriber's diffs waiting to be taken, and who to wake for them.
struct Queue<D> {
    diffs: Vec<D>,
    waker: Option<Waker>,
    /// Its subscriber is gone: the broadcast lets the queue go at its next send.
    dropped: bool,
}

impl<D> Default for Queue<D> {
    fn default() -> Self {
        Self { diffs: Vec::new(), waker: None, dropped: false }
    }
}

/// The queues of one kind of diff: a slab (a dropped subscriber's place is reused).
pub(super) struct Queues<D> {
    slots: Vec<Queue<D>>,
    free: Vec<u32>,
}

impl<D> Default for Queues<D> {
    fn default() -> Self {
        Self { slots: Vec::new(), free: Vec::new() }
    }
}

impl<D> Queues<D> {
    fn add(&mut self) -> u32 {
        match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Queue::default();
                i
            }
            None => {
                self.slots.push(Queue::default());
                (self.slots.len() - 1) as u32
            }
        }
    }

    fn remove(&mut self, id: u32) {
        if let Some(q) = self.slots.get_mut(id as usize) {
            *q = Queue::default();
            self.free.push(id);
        }
    }

    fn get(&mut self, id: u32) -> Option<&mut Queue<D>> {
        self.slots.get_mut(id as usize)
    }

    fn dropped(&self, id: u32) -> bool {
        self.slots.get(id as usize).is_none_or(|q| q.dropped)
    }
}

/// A kind of diff, and where its queues are in the outbox.
pub(super) trait Queued: Sized {
    fn queues(out: &mut Out) -> (&mut Queues<Self>, &mut Vec<Waker>);
}

impl Queued for Diff {
    fn queues(out: &mut Out) -> (&mut Queues<Self>, &mut Vec<Waker>) {
        (&mut out.calls, &mut out.woken)
    }
}

impl Queued for CellDiff {
    fn queues(out: &mut Out) -> (&mut Queues<Self>, &mut Vec<Waker>) {
        (&mut out.cells, &mut out.woken)
    }
}

impl Queued for LotDiff {
    fn queues(out: &mut Out) -> (&mut Queues<Self>, &mut Vec<Waker>) {
        (&mut out.map, &mut out.woken)
    }
}

impl Queued for () {
    fn queues(out: &mut Out) -> (&mut Queues<Self>, &mut Vec<Waker>) {
        (&mut out.totals, &mut out.woken)
    }
}

#[cfg(test)]
impl Queued for u32 {
    fn queues(out: &mut Out) -> (&mut Queues<Self>, &mut Vec<Waker>) {
        (&mut out.numbers, &mut out.woken)
    }
}

/// The subscribers of a view: their queues' places in the outbox (a push per
/// subscriber and change, under the lock the change holds already; no allocation
/// once the queue and its subscriber's buffer have grown).
pub(super) struct Broadcast<D = Diff> {
    ids: Vec<u32>,
    _kind: std::marker::PhantomData<fn() -> D>,
}

impl<D> Default for Broadcast<D> {
    fn default() -> Self {
        Self { ids: Vec::new(), _kind: std::marker::PhantomData }
    }
}

impl<D: Clone> Broadcast<D> {
    /// Sends the diff `make` builds to every subscriber (built only when there is
    /// one); the subscribers waiting are woken when the outbox is let go.
    pub(super) fn send(&mut self, queues: &mut Queues<D>, woken: &mut Vec<Waker>, make: impl FnOnce() -> D) {
        if self.ids.is_empty() {
            return;
        }
        // A subscriber that left has its queue let go (looked for first: `retain`
        // costs more than the look when nobody left).
        if self.ids.iter().any(|&id| queues.dropped(id)) {
            self.ids.retain(|&id| {
                let gone = queues.dropped(id);
                if gone {
                    queues.remove(id);
                }
                !gone
            });
        }
        let diff = make();
        for &id in &self.ids {
            if let Some(q) = queues.get(id) {
                q.diffs.push(diff.clone());
                woken.extend(q.waker.take());
            }
        }
    }

    /// Subscribers kept (a dropped one goes at the next send).
    pub(super) fn len(&self) -> usize {
        self.ids.len()
    }
}

impl<D: Queued + Clone> Broadcast<D> {
    /// [`Broadcast::send`] into `out`.
    pub(super) fn send_to(&mut self, out: &mut Out, make: impl FnOnce() -> D) {
        let (queues, woken) = D::queues(out);
        self.send(queues, woken, make);
    }

    /// A new subscriber's queue.
    fn receiver(&mut self, outbox: &Arc<Outbox>, out: &mut Out) -> Receiver<D> {
        let id = D::queues(out).0.add();
        self.ids.push(id);
        Receiver { taken: Vec::new(), outbox: outbox.clone(), id }
    }
}

impl<T: Clone> Broadcast<VecDiff<T>>
where
    VecDiff<T>: Queued,
{
    /// A new subscriber that starts from `now` (the vec at this instant): its first
    /// change is a `Replace` with it.
    fn subscription(&mut self, outbox: &Arc<Outbox>, now: Vec<T>) -> Subscription<T> {
        let mut out = outbox.lock();
        Subscription { first: Some(now), queue: self.receiver(outbox, &mut out) }
    }

    /// A new subscriber of a lot's view (its grid, its call list) that starts from
    /// `now`: like a futures-signals `MutableVec`, a `Replace` first only when `now`
    /// is not empty.
    pub(super) fn subscribe_lot(&mut self, outbox: &Arc<Outbox>, now: Vec<T>) -> Subscription<T> {
        let mut s = self.subscription(outbox, now);
        s.first = s.first.filter(|v| !v.is_empty());
        s
    }
}

impl Broadcast<Diff> {
    /// A new subscriber that starts from `now` (the list at this instant).
    pub(super) fn subscribe(
        &mut self,
        outbox: &Arc<Outbox>,
        now: Vec<Arc<ParkedCall>>,
    ) -> ParkedCallsSignalVec {
        ParkedCallsSignalVec(self.subscription(outbox, now))
    }
}

/// One subscriber of a vec view: the vec at subscription time (its first change), then
/// the store's diffs, from its own queue. A lot's grid and call list are these; the
/// global list is one behind [`ParkedCallsSignalVec`].
#[must_use = "a signal vec does nothing unless polled"]
pub(super) struct Subscription<T>
where
    VecDiff<T>: Queued,
{
    first: Option<Vec<T>>,
    queue: Receiver<VecDiff<T>>,
}

// Never pinned in place: it holds its diffs by value and polls nothing pinned.
impl<T> Unpin for Subscription<T> where VecDiff<T>: Queued {}

impl<T> SignalVec for Subscription<T>
where
    VecDiff<T>: Queued,
{
    type Item = T;

    fn poll_vec_change(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<VecDiff<T>>> {
        let first = self.first.take().map(|values| VecDiff::Replace { values });
        poll_queue(first, &mut self.queue, cx)
    }
}

impl Outbox {
    pub(super) fn lock(&self) -> MutexGuard<'_, Out> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on the outbox, then wakes the subscribers it sent diffs to once the
    /// lock is let go.
    pub(super) fn write<R>(&self, f: impl FnOnce(&mut Out) -> R) -> R {
        let mut out = self.lock();
        let r = f(&mut out);
        let woken = std::mem::take(&mut out.woken);
        drop(out);
        woken.into_iter().for_each(Waker::wake);
        r
    }

    /// The store is gone: every subscriber takes what waits, then the end.
    pub(super) fn close(&self) {
        self.write(|out| {
            out.closed = true;
            let Out { calls, cells, map, totals, woken, .. } = out;
            woken.extend(calls.slots.iter_mut().filter_map(|q| q.waker.take()));
            woken.extend(cells.slots.iter_mut().filter_map(|q| q.waker.take()));
            woken.extend(map.slots.iter_mut().filter_map(|q| q.waker.take()));
            woken.extend(totals.slots.iter_mut().filter_map(|q| q.waker.take()));
            #[cfg(test)]
            woken.extend(out.numbers.slots.iter_mut().filter_map(|q| q.waker.take()));
        });
    }

    /// The lots now, in key order.
    pub(super) fn values(&self) -> Vec<ParkingLot> {
        self.lock().lots.iter().filter_map(|(_, v)| v.clone()).collect()
    }

    /// The map now.
    pub(super) fn map(&self) -> std::collections::BTreeMap<LotKey, ParkingLot> {
        // By insertion: `collect` would sort first (code a browser downloads).
        let mut map = std::collections::BTreeMap::new();
        map.extend(self.lock().published());
        map
    }

    /// Lot `key` now.
    pub(super) fn get(&self, key: &LotKey) -> Option<ParkingLot> {
        let out = self.lock();
        let i = out.lots.binary_search_by(|(k, _)| k.cmp(key)).ok()?;
        out.lots[i].1.clone()
    }

    /// Lots in the map now.
    pub(super) fn len(&self) -> usize {
        self.lock().lots.iter().filter(|(_, v)| v.is_some()).count()
    }

    /// The calls the views show now.
    pub(super) fn total(&self) -> usize {
        self.lock().total
    }

    /// A new subscriber of the lots map, starting from the map now: a `Replace`
    /// first unless it is empty.
    pub(super) fn subscribe_map(self: &Arc<Self>) -> ParkingLotsSignalMap {
        let mut out = self.lock();
        let now: Vec<(LotKey, ParkingLot)> = out.published().collect();
        let first = (!now.is_empty()).then_some(now);
        let mut view = std::mem::take(&mut out.map_view);
        let queue = view.receiver(self, &mut out);
        out.map_view = view;
        ParkingLotsSignalMap { first, queue }
    }

    /// A new subscriber of the total: the total now first, then the total after
    /// each change (the latest one when several came between two polls).
    pub(super) fn subscribe_total(self: &Arc<Self>) -> TotalSignal {
        let mut out = self.lock();
        let mut view = std::mem::take(&mut out.total_view);
        let queue = view.receiver(self, &mut out);
        out.total_view = view;
        TotalSignal { first: true, queue }
    }

    /// Subscribers of the lots map kept (a dropped one goes at the next change).
    pub(super) fn map_subscribers(&self) -> usize {
        self.lock().map_view.len()
    }
}

impl Out {
    /// The lots in the map, in key order.
    fn published(&self) -> impl Iterator<Item = (LotKey, ParkingLot)> + '_ {
        self.lots.iter().filter_map(|(k, v)| Some((k.clone(), v.clone()?)))
    }

    /// The book made lot `key` at ordinal `i` (not in the map until published).
    pub(super) fn insert_lot(&mut self, i: usize, key: LotKey) {
        self.lots.insert(i, (key, None));
    }

    /// Lot `i`'s facts reach the map (an `Insert` or an `Update` to subscribers; the
    /// diff is built only when there is one).
    pub(super) fn publish(&mut self, i: usize, lot: &ParkingLot) {
        let Some((key, slot)) = self.lots.get_mut(i) else { return };
        let was = match slot {
            Some(held) if Arc::ptr_eq(&held.name, &lot.name) => {
                copy_facts(held, lot);
                true
            }
            _ => slot.replace(lot.clone()).is_some(),
        };
        self.map_view.send(&mut self.map, &mut self.woken, || {
            let (key, value) = (key.clone(), lot.clone());
            if was {
                MapDiff::Update { key, value }
            } else {
                MapDiff::Insert { key, value }
            }
        });
    }

    /// Lot `i` leaves the map (a `Remove`, when it was there).
    pub(super) fn unpublish(&mut self, i: usize) {
        let Some((key, slot)) = self.lots.get_mut(i) else { return };
        if slot.take().is_some() {
            self.map_view.send(&mut self.map, &mut self.woken, || MapDiff::Remove { key: key.clone() });
        }
    }

    /// The total is `n` (its subscribers hear of a change).
    pub(super) fn set_total(&mut self, n: usize) {
        if self.total != n {
            self.total = n;
            self.total_view.send(&mut self.totals, &mut self.woken, || ());
        }
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

/// A subscriber's end of its queue: the diffs it took, and where its queue is.
struct Receiver<D: Queued> {
    /// Diffs taken from the queue, not yet polled: the next one last.
    taken: Vec<D>,
    outbox: Arc<Outbox>,
    id: u32,
}

impl<D: Queued> Drop for Receiver<D> {
    fn drop(&mut self) {
        let mut out = self.outbox.lock();
        // Its diffs and waker go now (dropped once the lock is let go: a waker's drop
        // may drop a task holding another subscriber); its place at the broadcast's
        // next send.
        let gone = D::queues(&mut out)
            .0
            .get(self.id)
            .map(|q| std::mem::replace(q, Queue { dropped: true, ..Queue::default() }));
        drop(out);
        drop(gone);
    }
}

/// The largest buffer of diffs a subscriber keeps once it has taken them all: one
/// grown by a burst is let go.
const KEPT_DIFFS: usize = 1024;

/// Takes the next diff of a subscriber: its first one, else its queue's. All the
/// diffs waiting are taken under one lock (the two buffers swap: no allocation), not
/// one lock each; they are put in order (reversed, to be popped from the end) after
/// the lock is let go, so a long backlog does not hold up the store's sends.
fn poll_queue<D: Queued>(first: Option<D>, r: &mut Receiver<D>, cx: &mut Context<'_>) -> Poll<Option<D>> {
    if let Some(d) = first.or_else(|| r.taken.pop()) {
        return Poll::Ready(Some(d));
    }
    if r.taken.capacity() > KEPT_DIFFS {
        r.taken = Vec::new();
    }
    let mut out = r.outbox.lock();
    let closed = out.closed;
    let Some(q) = D::queues(&mut out).0.get(r.id) else {
        return Poll::Ready(None);
    };
    std::mem::swap(&mut q.diffs, &mut r.taken);
    if r.taken.is_empty() {
        if closed {
            return Poll::Ready(None);
        }
        let old = wait(&mut q.waker, cx);
        drop(out);
        drop(old);
        return Poll::Pending;
    }
    drop(out);
    r.taken.reverse();
    Poll::Ready(r.taken.pop())
}

/// The number of parked calls the views show, as a signal (from
/// [`ParkingStore::total_parked_calls`](super::ParkingStore::total_parked_calls)):
/// the total now, then the total after each change (the latest when several came
/// between two polls). It ends when the store is dropped.
#[must_use = "a signal does nothing unless polled"]
pub(super) struct TotalSignal {
    first: bool,
    queue: Receiver<()>,
}

impl Unpin for TotalSignal {}

impl Signal for TotalSignal {
    type Item = usize;

    fn poll_change(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<usize>> {
        let first = std::mem::take(&mut self.first);
        let id = self.queue.id;
        let mut out = self.queue.outbox.lock();
        let (total, closed) = (out.total, out.closed);
        let Some(q) = out.totals.get(id) else {
            return Poll::Ready(None);
        };
        let changed = first || !q.diffs.is_empty();
        q.diffs.clear();
        if changed {
            return Poll::Ready(Some(total));
        }
        if closed {
            return Poll::Ready(None);
        }
        let old = wait(&mut q.waker, cx);
        drop(out);
        drop(old);
        Poll::Pending
    }
}

/// Keeps `cx`'s waker as the one to wake; returns the one it replaces (dropped by the
/// caller once the outbox is let go).
fn wait(waker: &mut Option<Waker>, cx: &Context<'_>) -> Option<Waker> {
    if waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
        return None;
    }
    waker.replace(cx.waker().clone())
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

    fn poll<D: Queued>(r: &mut Receiver<D>) -> Poll<Option<D>> {
        poll_queue(None, r, &mut Context::from_waker(Waker::noop()))
    }

    /// An outbox and a broadcast of numbers in it.
    fn numbers() -> (Arc<Outbox>, Broadcast<u32>) {
        (Arc::default(), Broadcast::default())
    }

    fn receiver(o: &Arc<Outbox>, b: &mut Broadcast<u32>) -> Receiver<u32> {
        let mut out = o.lock();
        b.receiver(o, &mut out)
    }

    fn send(o: &Outbox, b: &mut Broadcast<u32>, d: u32) {
        o.write(|out| b.send_to(out, || d));
    }

    #[test]
    fn every_subscriber_gets_every_diff_in_order_then_the_end() {
        let (o, mut b) = numbers();
        let (mut first, mut last) = (receiver(&o, &mut b), receiver(&o, &mut b));
        for d in 1..=3 {
            send(&o, &mut b, d);
        }
        // The first poll takes the three waiting diffs at once; a diff sent after it
        // comes after them.
        assert_eq!(poll(&mut first), Poll::Ready(Some(1)));
        send(&o, &mut b, 4);
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
        send(&o, &mut b, 5);
        o.close();
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
        let (o, mut b) = numbers();
        let mut r = receiver(&o, &mut b);
        let count = Arc::new(Count(0.into()));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let wakes = || count.0.load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!(poll_queue(None, &mut r, &mut cx), Poll::Pending);
        send(&o, &mut b, 1);
        assert_eq!(wakes(), 1, "the diff woke the subscriber");
        assert_eq!(poll_queue(None, &mut r, &mut cx), Poll::Ready(Some(1)));
        assert_eq!(poll_queue(None, &mut r, &mut cx), Poll::Pending);
        o.close();
        assert_eq!(wakes(), 2, "the end woke the subscriber");
        assert_eq!(poll_queue(None, &mut r, &mut cx), Poll::Ready(None));
    }

    #[test]
    fn diffs_taken_before_the_end_still_come_before_it() {
        let (o, mut b) = numbers();
        let mut r = receiver(&o, &mut b);
        send(&o, &mut b, 5);
        send(&o, &mut b, 6);
        assert_eq!(poll(&mut r), Poll::Ready(Some(5)), "6 is taken with it");
        o.close();
        assert_eq!(poll(&mut r), Poll::Ready(Some(6)));
        assert_eq!(poll(&mut r), Poll::Ready(None));
    }

    #[test]
    fn a_buffer_grown_by_a_burst_is_let_go_once_drained() {
        let (o, mut b) = numbers();
        let mut r = receiver(&o, &mut b);
        for d in 0..5000 {
            send(&o, &mut b, d);
        }
        for d in 0..5000 {
            assert_eq!(poll(&mut r), Poll::Ready(Some(d)));
        }
        assert_eq!(poll(&mut r), Poll::Pending);
        assert!(r.taken.capacity() <= KEPT_DIFFS, "the subscriber's buffer: {}", r.taken.capacity());
        let id = r.id;
        assert!(o.lock().numbers.get(id).unwrap().diffs.capacity() <= KEPT_DIFFS, "the queue's buffer");
    }

    #[test]
    fn a_new_subscriber_gets_the_list_first_then_the_changes() {
        let (o, mut b): (Arc<Outbox>, Broadcast) = (Arc::default(), Broadcast::default());
        let mut calls = b.subscribe(&o, Vec::new());
        o.write(|out| b.send_to(out, || VecDiff::RemoveAt { index: 0 }));
        let mut cx = Context::from_waker(Waker::noop());
        let mut next = || Pin::new(&mut calls).poll_vec_change(&mut cx);
        assert!(matches!(next(), Poll::Ready(Some(VecDiff::Replace { values })) if values.is_empty()));
        assert!(matches!(next(), Poll::Ready(Some(VecDiff::RemoveAt { index: 0 }))));
        assert!(next().is_pending());
    }

    #[test]
    fn a_subscriber_that_left_is_dropped_at_the_next_diff() {
        let (o, mut b) = numbers();
        let mut kept = receiver(&o, &mut b);
        drop(receiver(&o, &mut b));
        assert_eq!(b.len(), 2);
        send(&o, &mut b, 7);
        assert_eq!(b.len(), 1);
        assert_eq!(poll(&mut kept), Poll::Ready(Some(7)));
    }

    #[test]
    fn the_total_comes_first_then_the_latest_after_changes_then_the_end() {
        let o: Arc<Outbox> = Arc::default();
        let mut total = o.subscribe_total();
        let count = Arc::new(Count(0.into()));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let mut next = |t: &mut TotalSignal| Pin::new(t).poll_change(&mut cx);
        assert_eq!(next(&mut total), Poll::Ready(Some(0)), "the total now, first");
        assert_eq!(next(&mut total), Poll::Pending);
        o.write(|out| out.set_total(0));
        assert_eq!(count.0.load(std::sync::atomic::Ordering::SeqCst), 0, "no change, no wake");
        o.write(|out| {
            out.set_total(3);
            out.set_total(2);
        });
        assert_eq!(count.0.load(std::sync::atomic::Ordering::SeqCst), 1, "a change woke it");
        assert_eq!(next(&mut total), Poll::Ready(Some(2)), "the latest total");
        assert_eq!(next(&mut total), Poll::Pending);
        assert_eq!(o.lock().total_view.len(), 1);
        let late = o.subscribe_total();
        drop(late);
        o.write(|out| out.set_total(5));
        assert_eq!(o.lock().total_view.len(), 1, "a dropped subscriber went at the change");
        o.close();
        assert_eq!(next(&mut total), Poll::Ready(Some(5)), "a change before the end still comes");
        assert_eq!(next(&mut total), Poll::Ready(None));
    }
}
