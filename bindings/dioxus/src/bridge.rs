//! futures-signals in, dioxus-signals out: each store view is followed by one task
//! spawned in the current scope (so Dioxus cancels it with the scope), writing a
//! signal owned by that scope, in place.

use ami_parking::futures_signals::signal::{Signal as FsSignal, SignalExt};
use ami_parking::futures_signals::signal_map::{MapDiff, SignalMap, SignalMapExt};
use ami_parking::futures_signals::signal_vec::{SignalVec, SignalVecExt, VecDiff};
use ami_parking::{LotKey, ParkedCall, ParkingStore};
use dioxus_core::spawn;
use dioxus_signals::{ReadSignal, Signal, WritableExt};
use futures_util::future::ready;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A signal that follows `source`, starting at `now`.
pub(crate) fn follow<T: 'static>(now: T, source: impl FsSignal<Item = T> + 'static) -> ReadSignal<T> {
    let mut out = Signal::new(now);
    spawn(source.for_each(move |v| {
        out.set(v);
        ready(())
    }));
    out.into()
}

/// A `Vec` that follows `source`; each diff applied in place.
pub(crate) fn follow_vec<T: Clone + 'static>(
    now: Vec<T>,
    source: impl SignalVec<Item = T> + 'static,
) -> ReadSignal<Vec<T>> {
    let mut out = Signal::new(now);
    spawn(source.for_each(move |diff| {
        out.with_mut(|v| diff.apply_to_vec(v));
        ready(())
    }));
    out.into()
}

/// A sorted map that follows `source`, changed key by key.
pub(crate) fn follow_map<K: Ord + Clone + 'static, V: Clone + 'static>(
    now: BTreeMap<K, V>,
    source: impl SignalMap<Key = K, Value = V> + 'static,
) -> ReadSignal<BTreeMap<K, V>> {
    let mut out = Signal::new(now);
    spawn(source.for_each(move |diff| {
        out.with_mut(|m| match diff {
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
    out.into()
}

/// What one space holds.
type Cell = Option<Arc<ParkedCall>>;

/// One space of a lot's grid.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GridCell {
    /// The space number.
    pub space: u32,
    /// The call parked there, or `None`; set on its own when only this space changes.
    pub call: ReadSignal<Option<Arc<ParkedCall>>>,
}

/// A lot's grid that follows the store, one signal per cell: a park or a leave sets
/// that cell's signal only (only its view re-renders); a range change rebuilds the
/// cells, numbered from the lot's first space.
pub(crate) fn follow_grid(store: &ParkingStore, lot: &LotKey) -> ReadSignal<Vec<GridCell>> {
    let start = {
        let (store, lot) = (store.clone(), lot.clone());
        move || store.lot_now(&lot).map(|l| l.start_space).unwrap_or(0)
    };
    let number = move |calls: &[Cell]| -> (Vec<Signal<Cell>>, Vec<GridCell>) {
        let signals: Vec<_> = calls.iter().map(|c| Signal::new(c.clone())).collect();
        let cells =
            signals.iter().zip(start()..).map(|(s, space)| GridCell { space, call: (*s).into() }).collect();
        (signals, cells)
    };
    let mut values = store.lot_grid_now(lot);
    let (mut writers, cells) = number(&values);
    let mut out = Signal::new(cells);
    spawn(store.lot_grid(lot).for_each(move |diff| {
        match diff {
            VecDiff::UpdateAt { index, value } if index < writers.len() => {
                values[index] = value.clone();
                writers[index].set(value);
            }
            diff => {
                diff.apply_to_vec(&mut values);
                let (w, cells) = number(&values);
                writers = w;
                out.set(cells);
            }
        }
        ready(())
    }));
    out.into()
}
