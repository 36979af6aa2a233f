//! futures-signals in, dioxus-signals out: each store view is followed by one task
//! spawned in the current scope (so Dioxus cancels it with the scope), writing a
//! signal owned by that scope, in place.

use ami_parking::futures_signals::signal_vec::{SignalVecExt, VecDiff};
use ami_parking::{Apply, Changes, LotKey, ParkedCall, ParkingStore, SignalValue};
use dioxus_core::spawn;
use dioxus_signals::{ReadSignal, ReadableExt, Signal, WritableExt};
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

/// One space of a lot's grid (while the lot's range is unknown, one call: the grid is
/// then the lot's calls).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GridCell {
    /// The space number.
    pub space: u32,
    /// The call parked there, or `None`; set on its own when only this space changes.
    pub call: ReadSignal<Option<Arc<ParkedCall>>>,
}

/// A lot's grid that follows the store, one signal per cell. In a lot of known range
/// (one cell per space) a park or a leave sets that cell's signal only (only its view
/// re-renders); a range change renumbers the cells from the lot's first space. While
/// the range is unknown the grid is the lot's calls, numbered by their spaces: a park
/// or a leave there renumbers the cells.
///
/// The cells' signals are kept and reused, not made again at each renumbering: a
/// Dioxus signal lives as long as its scope, so one made at each park would pile up
/// for as long as the grid is shown. There are never more than the most cells the
/// grid has had.
pub(crate) fn follow_grid(store: &ParkingStore, lot: &LotKey) -> ReadSignal<Vec<GridCell>> {
    let start = {
        let (store, lot) = (store.clone(), lot.clone());
        move || store.lot_now(&lot).map(|l| l.start_space).unwrap_or(0)
    };
    let mut values = store.lot_grid_now(lot);
    let mut signals = Vec::new();
    let mut out = Signal::new(number(&mut signals, start(), &values));
    spawn(store.lot_grid(lot).for_each(move |diff| {
        match diff {
            VecDiff::UpdateAt { index, value } if index < values.len() => {
                values[index] = value.clone();
                signals[index].0.set(value);
            }
            diff => {
                diff.apply_to_vec(&mut values);
                out.set(number(&mut signals, start(), &values));
            }
        }
        ready(())
    }));
    out.into()
}

/// The cells of `calls`: a cell holding a call is its call's space, an empty one its
/// place from `first`. Each takes the signal of its place in `signals` (made when
/// there is none yet, with its read-only view: a conversion is an allocation in the
/// scope too), set only when its call changed.
fn number(signals: &mut Vec<(Signal<Cell>, ReadSignal<Cell>)>, first: u32, calls: &[Cell]) -> Vec<GridCell> {
    let same = |a: &Cell, b: &Cell| match (a, b) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        (a, b) => a.is_none() && b.is_none(),
    };
    calls
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let (mut signal, read) = match signals.get(i) {
                Some(s) => *s,
                None => {
                    let s = Signal::new(c.clone());
                    signals.push((s, s.into()));
                    signals[i]
                }
            };
            if !same(&signal.peek(), c) {
                signal.set(c.clone());
            }
            // An empty cell is in a known range, which fits a u32; no sum overflows.
            let space = c.as_ref().map_or(first.saturating_add(i as u32), |c| c.parking_space);
            GridCell { space, call: read }
        })
        .collect()
}
