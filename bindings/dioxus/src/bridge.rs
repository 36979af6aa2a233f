//! futures-signals in, dioxus-signals out: each store view is followed by one task
//! spawned in the current scope (so Dioxus cancels it with the scope), writing a
//! signal owned by that scope, in place.

use ami_parking::futures_signals::signal_vec::{SignalVecExt, VecDiff};
use ami_parking::{Apply, Changes, LotKey, ParkedCall, ParkingStore, SignalValue};
use dioxus_core::spawn;
use dioxus_signals::{ReadSignal, Signal, WritableExt};
use futures_util::future::ready;
use futures_util::StreamExt;
use std::sync::Arc;

/// Dioxus's signals as a [`SignalFamily`](ami_parking::SignalFamily): what
/// [`UseAmiParking`](crate::UseAmiParking) derefs to is
/// `ParkingSignals<DioxusSignals>`.
#[derive(Debug, Clone, Copy)]
pub struct DioxusSignals;

impl ami_parking::SignalFamily for DioxusSignals {
    type Read<T: SignalValue> = ReadSignal<T>;

    fn follow_with<T: SignalValue, S: Changes>(
        now: T,
        changes: S,
        apply: impl Apply<T, S::Item>,
    ) -> ReadSignal<T> {
        let mut apply = apply;
        let mut out = Signal::new(now);
        spawn(changes.for_each(move |change| {
            out.with_mut(|v| apply(v, change));
            ready(())
        }));
        out.into()
    }
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
/// cells, numbered from the lot's first space (or by their calls while the range is
/// unknown: then the grid is the lot's calls).
pub(crate) fn follow_grid(store: &ParkingStore, lot: &LotKey) -> ReadSignal<Vec<GridCell>> {
    let start = {
        let (store, lot) = (store.clone(), lot.clone());
        move || store.lot_now(&lot).map(|l| l.start_space).unwrap_or(0)
    };
    let number = move |calls: &[Cell]| -> (Vec<Signal<Cell>>, Vec<GridCell>) {
        let signals: Vec<_> = calls.iter().map(|c| Signal::new(c.clone())).collect();
        // A cell holding a call is its call's space (the grid of a lot whose range is
        // unknown holds only calls, not one cell per space).
        let cells = signals
            .iter()
            .zip(calls)
            .zip(start()..)
            .map(|((s, c), space)| GridCell {
                space: c.as_ref().map_or(space, |c| c.parking_space),
                call: (*s).into(),
            })
            .collect();
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
