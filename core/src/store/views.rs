//! The global call list as a signal vec: the store sends each change once to every
//! subscriber, with the index the book computed (no shared `Vec` of all calls to
//! shift on each insert).

use crate::model::ParkedCall;
use futures_signals::signal_vec::{SignalVec, VecDiff};
use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

type Diff = VecDiff<Arc<ParkedCall>>;

/// One subscriber's diffs waiting to be taken, and who to wake for them.
#[derive(Default)]
struct Queue {
    diffs: VecDeque<Diff>,
    waker: Option<Waker>,
    /// The store is gone: no diff will come.
    closed: bool,
}

type Shared = Arc<Mutex<Queue>>;

fn lock(q: &Shared) -> MutexGuard<'_, Queue> {
    q.lock().unwrap_or_else(|e| e.into_inner())
}

/// The subscribers of the global call list: one queue each (a lock and a push per
/// change, no allocation once the queue has grown).
#[derive(Default)]
pub(super) struct Broadcast {
    subscribers: Vec<Shared>,
}

impl Broadcast {
    /// Sends the diff `make` builds to every subscriber (built only when there is one).
    pub(super) fn send(&mut self, make: impl FnOnce() -> Diff) {
        if self.subscribers.is_empty() {
            return;
        }
        let diff = make();
        // A subscriber that dropped its end holds no other reference to its queue.
        self.subscribers.retain(|q| Arc::strong_count(q) > 1);
        for q in &self.subscribers {
            let waker = {
                let mut q = lock(q);
                q.diffs.push_back(diff.clone());
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

    /// A new subscriber that starts from `now` (the list at this instant).
    pub(super) fn subscribe(&mut self, now: Vec<Arc<ParkedCall>>) -> ParkedCallsSignalVec {
        let q = Shared::default();
        self.subscribers.push(q.clone());
        ParkedCallsSignalVec { first: Some(now), queue: q }
    }
}

impl Drop for Broadcast {
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
pub struct ParkedCallsSignalVec {
    first: Option<Vec<Arc<ParkedCall>>>,
    queue: Shared,
}

impl fmt::Debug for ParkedCallsSignalVec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParkedCallsSignalVec").finish_non_exhaustive()
    }
}

impl SignalVec for ParkedCallsSignalVec {
    type Item = Arc<ParkedCall>;

    fn poll_vec_change(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Diff>> {
        if let Some(values) = self.first.take() {
            return Poll::Ready(Some(VecDiff::Replace { values }));
        }
        let mut q = lock(&self.queue);
        if let Some(d) = q.diffs.pop_front() {
            return Poll::Ready(Some(d));
        }
        if q.closed {
            return Poll::Ready(None);
        }
        if !q.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            q.waker = Some(cx.waker().clone());
        }
        Poll::Pending
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
/// assert_eq!(m.into_iter().collect::<Vec<_>>(), vec![(2, "b")]);
/// ```
pub fn apply_map_diff<K: Ord, V>(
    map: &mut std::collections::BTreeMap<K, V>,
    diff: futures_signals::signal_map::MapDiff<K, V>,
) {
    use futures_signals::signal_map::MapDiff;
    match diff {
        MapDiff::Replace { entries } => *map = entries.into_iter().collect(),
        MapDiff::Insert { key, value } | MapDiff::Update { key, value } => {
            map.insert(key, value);
        }
        MapDiff::Remove { key } => {
            map.remove(&key);
        }
        MapDiff::Clear {} => map.clear(),
    }
}
