//! What every UI binding shows, written once: the seed's state as one struct of a
//! framework's read-only signals ([`ParkingSignals`]), built from a store by the
//! framework's way of following a futures-signals signal ([`SignalFamily`]).

use crate::error::ParkingError;
use crate::model::{LotKey, ParkedCall, ParkingEvent, ParkingLot};
use crate::store::{ConnectionState, ParkingStore};
use crate::time::Timestamp;
use futures_core::Stream;
use futures_signals::signal::{Signal, SignalExt};
use futures_signals::signal_map::{MapDiff, SignalMap};
use futures_signals::signal_vec::{SignalVec, SignalVecExt};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What a signal of the seed's state may hold (every field of [`ParkingSignals`]).
pub trait SignalValue: Clone + Send + Sync + 'static {}
impl<T: Clone + Send + Sync + 'static> SignalValue for T {}

/// How a change is applied in place to a signal's value.
pub trait Apply<T, C>: FnMut(&mut T, C) + 'static {}
impl<T, C, F: FnMut(&mut T, C) + 'static> Apply<T, C> for F {}

/// The changes of one view of the store, as a stream (of values, diffs, ...).
pub trait Changes: Stream + 'static {}
impl<S: Stream + 'static> Changes for S {}

/// A UI framework's read-only signal, and how it follows a futures-signals view of
/// the store (one task per view, ended with the framework's owner or scope). A
/// binding gives one method, [`follow_with`](Self::follow_with); the rest come with
/// the trait.
pub trait SignalFamily: 'static {
    /// The framework's read-only signal of a `T`.
    type Read<T: SignalValue>: Copy;

    /// A signal starting at `now`, changed in place by `apply` for each item of
    /// `changes`, for as long as the current owner (or scope) lives.
    fn follow_with<T: SignalValue, S: Changes>(
        now: T,
        changes: S,
        apply: impl Apply<T, S::Item>,
    ) -> Self::Read<T>;

    /// A signal starting at `now` that follows `source`.
    fn follow<T: SignalValue>(now: T, source: impl Signal<Item = T> + 'static) -> Self::Read<T> {
        Self::follow_with(now, source.to_stream(), |v, new| *v = new)
    }

    /// A `Vec` starting at `now` that follows `source`, each diff applied in place.
    fn follow_vec<T: SignalValue>(
        now: Vec<T>,
        source: impl SignalVec<Item = T> + 'static,
    ) -> Self::Read<Vec<T>> {
        Self::follow_with(now, source.to_stream(), |v, diff| diff.apply_to_vec(v))
    }

    /// A sorted map starting at `now` that follows `source`, key by key.
    fn follow_map<K, V>(
        now: BTreeMap<K, V>,
        source: impl SignalMap<Key = K, Value = V> + 'static,
    ) -> Self::Read<BTreeMap<K, V>>
    where
        K: Ord + SignalValue,
        V: SignalValue,
    {
        Self::follow_with(now, MapDiffs(Box::pin(source)), crate::store::apply_map_diff)
    }
}

/// The seed's state, each field a read-only signal of framework `F` that follows the
/// store (the bindings' `UseAmiParking` derefs to it).
pub struct ParkingSignals<F: SignalFamily> {
    /// Every lot of every server, in (server, name) order, with live occupied counts.
    pub parking_lots: F::Read<BTreeMap<LotKey, ParkingLot>>,
    /// Every shown parked call, in (server, lot, space) order, changed in place.
    pub parked_calls: F::Read<Vec<Arc<ParkedCall>>>,
    /// How many calls are shown.
    pub total_parked_calls: F::Read<usize>,
    /// True while a list requested by the connection is being read.
    pub is_loading: F::Read<bool>,
    /// The last request error the store recorded (`None` after a success).
    pub error: F::Read<Option<ParkingError>>,
    /// The link's state.
    pub connection_state: F::Read<ConnectionState>,
    /// The store's clock: moves once a second while a call is parked, so timers
    /// computed from it (`call.duration(clock)`) tick.
    pub clock: F::Read<Timestamp>,
    /// The most recent parking event.
    pub last_event: F::Read<Option<ParkingEvent>>,
}

impl<F: SignalFamily> ParkingSignals<F> {
    /// Follows `store`: every field starts at the store's value now, then changes with
    /// it. Call it where the framework's owner (or scope) is current.
    pub fn follow(store: &ParkingStore) -> Self {
        ParkingSignals {
            parking_lots: F::follow_map(store.parking_lots_map_now(), store.parking_lots()),
            parked_calls: F::follow_vec(store.parked_calls_now(), store.parked_calls()),
            total_parked_calls: F::follow(store.total_parked_calls_now(), store.total_parked_calls()),
            is_loading: F::follow(store.is_loading_now(), store.is_loading()),
            error: F::follow(store.error_now(), store.error()),
            connection_state: F::follow(
                store.connection_state_now(),
                store.connection_state().dedupe_cloned(),
            ),
            clock: F::follow(store.clock_now(), store.clock()),
            last_event: F::follow_with(None, store.events(), |last, e| *last = Some(e)),
        }
    }
}

impl<F: SignalFamily> Clone for ParkingSignals<F> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<F: SignalFamily> Copy for ParkingSignals<F> {}

impl<F: SignalFamily> std::fmt::Debug for ParkingSignals<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParkingSignals").finish_non_exhaustive()
    }
}

/// A signal map's diffs as a stream (futures-signals keeps its own private).
struct MapDiffs<M>(std::pin::Pin<Box<M>>);

impl<M: SignalMap> Stream for MapDiffs<M> {
    type Item = MapDiff<M::Key, M::Value>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.0.as_mut().poll_map_change(cx)
    }
}
