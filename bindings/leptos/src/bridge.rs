//! futures-signals in, reactive_graph out: each store view is followed by one local
//! task that writes the framework's signal in place, aborted when the owner cleans up.

use ami_parking::futures_signals::signal_vec::{SignalVecExt, VecDiff};
use ami_parking::{Apply, Changes, LotKey, ParkedCall, ParkingStore, SignalValue};
use any_spawner::Executor;
use futures_util::future::{abortable, ready, FutureExt};
use futures_util::StreamExt;
use reactive_graph::owner::on_cleanup;
use reactive_graph::signal::{ArcRwSignal, ReadSignal};
use reactive_graph::traits::{Set, Update, WithUntracked};
use std::future::Future;
use std::sync::Arc;

/// Runs `work` on the local executor until the current owner cleans up.
pub(crate) fn spawn_owned(work: impl Future<Output = ()> + 'static) {
    let (work, handle) = abortable(work);
    on_cleanup(move || handle.abort());
    Executor::spawn_local(work.map(drop));
}

/// Leptos's signals as a [`SignalFamily`](ami_parking::SignalFamily): what
/// [`UseAmiParking`](crate::UseAmiParking) derefs to is
/// `ParkingSignals<LeptosSignals>`.
#[derive(Debug, Clone, Copy)]
pub struct LeptosSignals;

impl ami_parking::SignalFamily for LeptosSignals {
    type Read<T: SignalValue> = ReadSignal<T>;

    fn follow_with<T: SignalValue, S: Changes>(
        now: T,
        changes: S,
        apply: impl Apply<T, S::Item>,
    ) -> ReadSignal<T> {
        let mut apply = apply;
        let out = ArcRwSignal::new(now);
        let read = ReadSignal::from(out.read_only());
        spawn_owned(changes.for_each(move |change| {
            out.update(|v| apply(v, change));
            ready(())
        }));
        read
    }
}

/// One cell of a lot's grid: a space of its range (while the lot's range is unknown,
/// one call: the grid is then the lot's calls).
#[derive(Clone, Debug)]
pub struct GridCell {
    /// The space number.
    pub space: u32,
    /// The call parked there, or `None`; set on its own when only this space changes.
    pub call: ArcRwSignal<Option<Arc<ParkedCall>>>,
}

/// A lot's grid that follows the store, one signal per cell: an `UpdateAt` (a park
/// or a leave) sets that cell's signal only, so only its view re-renders; a range
/// change rebuilds the cells, numbered from the lot's first space. While the range is
/// unknown the grid is the lot's calls, numbered by their spaces, and a park or a
/// leave rebuilds the cells (the signals let go are freed with their last reader).
pub(crate) fn follow_grid(store: &ParkingStore, lot: &LotKey) -> ReadSignal<Vec<GridCell>> {
    let (shown, key) = (store.clone(), lot.clone());
    let number = move |calls: &[Option<Arc<ParkedCall>>]| -> Vec<GridCell> {
        let first = shown.lot_now(&key).map_or(0, |l| l.start_space);
        calls
            .iter()
            .enumerate()
            // A cell holding a call is its call's space (the grid of a lot whose range
            // is unknown holds only calls, not one cell per space); an empty one is in
            // a known range, which fits a u32.
            .map(|(i, c)| GridCell {
                space: c.as_ref().map_or(first.saturating_add(i as u32), |c| c.parking_space),
                call: ArcRwSignal::new(c.clone()),
            })
            .collect()
    };
    let mut values = store.lot_grid_now(lot);
    let cells = ArcRwSignal::new(number(&values));
    let read = ReadSignal::from(cells.read_only());
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
                cells.set(number(&values));
            }
        }
        ready(())
    }));
    read
}
