//! futures-signals in, reactive_graph out: each store view is followed by one local
//! task that writes the framework's signal in place, aborted when the owner cleans up.

use ami_parking::futures_signals::signal::{Signal, SignalExt};
use ami_parking::futures_signals::signal_map::{MapDiff, SignalMap, SignalMapExt};
use ami_parking::futures_signals::signal_vec::{SignalVec, SignalVecExt, VecDiff};
use ami_parking::{LotKey, ParkedCall, ParkingStore};
use any_spawner::Executor;
use futures_util::future::{abortable, ready};
use reactive_graph::owner::on_cleanup;
use reactive_graph::signal::{ArcRwSignal, ReadSignal, RwSignal};
use reactive_graph::traits::{Set, Update, WithUntracked};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

/// Runs `work` on the local executor until the current owner cleans up.
pub(crate) fn spawn_owned(work: impl Future<Output = ()> + 'static) {
    let (work, handle) = abortable(work);
    on_cleanup(move || handle.abort());
    Executor::spawn_local(async move {
        let _ = work.await;
    });
}

/// A signal that follows `source`, starting at `now`.
pub(crate) fn follow<T>(now: T, source: impl Signal<Item = T> + 'static) -> ReadSignal<T>
where
    T: Send + Sync + 'static,
{
    let out = RwSignal::new(now);
    spawn_owned(source.for_each(move |v| {
        out.try_set(v);
        ready(())
    }));
    out.read_only()
}

/// A `Vec` that follows `source`; each diff is applied in place (an `UpdateAt`
/// replaces one entry; nothing is re-cloned).
pub(crate) fn follow_vec<T>(now: Vec<T>, source: impl SignalVec<Item = T> + 'static) -> ReadSignal<Vec<T>>
where
    T: Clone + Send + Sync + 'static,
{
    let out = RwSignal::new(now);
    spawn_owned(source.for_each(move |diff| {
        out.try_update(|v| diff.apply_to_vec(v));
        ready(())
    }));
    out.read_only()
}

/// A sorted map that follows `source`, changed key by key.
pub(crate) fn follow_map<K, V>(
    now: BTreeMap<K, V>,
    source: impl SignalMap<Key = K, Value = V> + 'static,
) -> ReadSignal<BTreeMap<K, V>>
where
    K: Ord + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    let out = RwSignal::new(now);
    spawn_owned(source.for_each(move |diff| {
        out.try_update(|m| match diff {
            MapDiff::Replace { entries } => *m = entries.into_iter().collect(),
            MapDiff::Insert { key, value } | MapDiff::Update { key, value } => {
                m.insert(key, value);
            }
            MapDiff::Remove { key } => {
                m.remove(&key);
            }
            MapDiff::Clear {} => m.clear(),
        });
        ready(())
    }));
    out.read_only()
}

/// The cells of one lot: one per space from the lot's first to its last.
#[derive(Clone, Debug)]
pub struct GridCell {
    /// The space number.
    pub space: u32,
    /// The call parked there, or `None`; set on its own when only this space changes.
    pub call: ArcRwSignal<Option<Arc<ParkedCall>>>,
}

/// A lot's grid that follows the store, one signal per cell: an `UpdateAt` (a park
/// or a leave) sets that cell's signal only, so only its view re-renders; a range
/// change rebuilds the cells, numbered from the lot's first space.
pub(crate) fn follow_grid(store: &ParkingStore, lot: &LotKey) -> ReadSignal<Vec<GridCell>> {
    let start = {
        let (store, lot) = (store.clone(), lot.clone());
        move || store.lot_now(&lot).map(|l| l.start_space).unwrap_or(0)
    };
    let number = move |calls: &[Option<Arc<ParkedCall>>]| -> Vec<GridCell> {
        calls
            .iter()
            .zip(start()..)
            .map(|(c, space)| GridCell { space, call: ArcRwSignal::new(c.clone()) })
            .collect()
    };
    let mut values = store.lot_grid_now(lot);
    let cells = RwSignal::new(number(&values));
    spawn_owned(store.lot_grid(lot).for_each(move |diff| {
        match diff {
            VecDiff::UpdateAt { index, value } if index < values.len() => {
                values[index] = value.clone();
                cells.with_untracked(|c| {
                    if let Some(cell) = c.get(index) {
                        cell.call.set(value);
                    }
                });
            }
            diff => {
                diff.apply_to_vec(&mut values);
                cells.try_set(number(&values));
            }
        }
        ready(())
    }));
    cells.read_only()
}
