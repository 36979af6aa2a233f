//! The global call list as a signal vec: the store sends each change once to every
//! subscriber, with the index the book computed (no shared `Vec` of all calls to
//! shift on each insert).

use crate::model::ParkedCall;
use futures_channel::mpsc;
use futures_signals::signal_vec::{SignalVec, VecDiff};
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

type Diff = VecDiff<Arc<ParkedCall>>;

/// The subscribers of the global call list.
#[derive(Default)]
pub(super) struct Broadcast {
    senders: Vec<mpsc::UnboundedSender<Diff>>,
}

impl Broadcast {
    /// Sends the diff `make` builds to every subscriber (built only when there is one).
    pub(super) fn send(&mut self, make: impl FnOnce() -> Diff) {
        if self.senders.is_empty() {
            return;
        }
        let diff = make();
        self.senders.retain(|tx| tx.unbounded_send(diff.clone()).is_ok());
    }

    /// Subscribers kept (a dropped one goes at the next send).
    pub(super) fn len(&self) -> usize {
        self.senders.len()
    }

    /// A new subscriber that starts from `now` (the list at this instant).
    pub(super) fn subscribe(&mut self, now: Vec<Arc<ParkedCall>>) -> ParkedCallsSignalVec {
        let (tx, rx) = mpsc::unbounded();
        self.senders.push(tx);
        ParkedCallsSignalVec { first: Some(now), rx }
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
    rx: mpsc::UnboundedReceiver<Diff>,
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
        futures_core::Stream::poll_next(Pin::new(&mut self.rx), cx)
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
