//! [`Spaces`]: one lot's occupied spaces and their calls ([`Slot`]s), by space number.
//!
//! Asterisk numbers a lot's spaces from one range (701-720), so most calls sit in a
//! dense window of cells indexed by `space - base`: 24 bytes a space, one lookup,
//! no tree walk (a `BTreeMap` took 58 bytes a call at 100 calls a lot). A space that
//! would leave the window more than half empty (a call far outside the others) goes
//! to a small ordered map beside it instead, so a stray space number never costs
//! memory in proportion to its distance.

use crate::model::ParkedCall;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One occupied space: Asterisk's call and what the views show of it.
#[derive(Debug, Clone)]
pub(super) struct Slot {
    /// The call as Asterisk reported it.
    pub(super) raw: Arc<ParkedCall>,
    /// The call as the views show it (`transform_parked_call` applied), `None` when
    /// `parked_call_filter` hides it.
    pub(super) shown: Option<Arc<ParkedCall>>,
    /// The park id (bits 0 to 62) and the followed flag (bit 63), in one word: a
    /// slot is 24 bytes.
    park_followed: u64,
}

const FOLLOWED: u64 = 1 << 63;

impl Slot {
    /// A slot for `raw` shown as `shown`, in park `park`, followed.
    pub(super) fn new(raw: Arc<ParkedCall>, shown: Option<Arc<ParkedCall>>, park: u64) -> Self {
        Slot { raw, shown, park_followed: (park & !FOLLOWED) | FOLLOWED }
    }

    /// Identifies one parking of one call (kept by a refresh of the same call and by
    /// a swap): the near-timeout alert fires once per park.
    pub(super) fn park(&self) -> u64 {
        self.park_followed & !FOLLOWED
    }

    /// Seen (live or listed) since its server's link last came up: any re-park since
    /// would have been seen live, so a later list's times for it are only later
    /// (perhaps delayed) readings of the same clock.
    pub(super) fn followed(&self) -> bool {
        self.park_followed & FOLLOWED != 0
    }

    pub(super) fn set_followed(&mut self, followed: bool) {
        self.park_followed = self.park() | if followed { FOLLOWED } else { 0 };
    }
}

/// A window may span at most this many cells for `n` calls in it: half of it or more
/// is used, plus a little room for a lot that is filling up.
fn window_limit(n: usize) -> usize {
    2 * n + 32
}

/// One lot's calls by space: a dense window of cells and the few spaces outside it,
/// in space order.
#[derive(Default)]
pub(super) struct Spaces {
    /// The space of `cells[0]`.
    base: u32,
    /// `cells[i]` holds space `base + i`.
    cells: Vec<Option<Slot>>,
    /// Calls in `cells`.
    in_cells: usize,
    /// Spaces outside the window (never one inside it).
    far: BTreeMap<u32, Slot>,
}

impl Spaces {
    /// The cell index of `space`, when the window holds it.
    fn index(&self, space: u32) -> Option<usize> {
        let i = space.checked_sub(self.base)? as usize;
        (i < self.cells.len()).then_some(i)
    }

    /// The call in `space`.
    pub(super) fn get(&self, space: u32) -> Option<&Slot> {
        match self.index(space) {
            Some(i) => self.cells[i].as_ref(),
            None => self.far.get(&space),
        }
    }

    /// The call in `space`, to change.
    pub(super) fn get_mut(&mut self, space: u32) -> Option<&mut Slot> {
        match self.index(space) {
            Some(i) => self.cells[i].as_mut(),
            None => self.far.get_mut(&space),
        }
    }

    /// True when a call is in `space`.
    pub(super) fn contains(&self, space: u32) -> bool {
        self.get(space).is_some()
    }

    /// Calls in the lot.
    pub(super) fn len(&self) -> usize {
        self.in_cells + self.far.len()
    }

    /// True when no call is in the lot.
    pub(super) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Puts `slot` in `space`; the slot it replaces.
    pub(super) fn insert(&mut self, space: u32, slot: Slot) -> Option<Slot> {
        if self.index(space).is_none() && !self.widen_to(space) {
            return self.far.insert(space, slot);
        }
        let i = self.index(space).expect("the window holds the space");
        let old = self.cells[i].replace(slot);
        self.in_cells += usize::from(old.is_none());
        old
    }

    /// Empties `space`; the slot it held.
    pub(super) fn remove(&mut self, space: u32) -> Option<Slot> {
        let Some(i) = self.index(space) else {
            return self.far.remove(&space);
        };
        let old = self.cells[i].take();
        if old.is_some() {
            self.in_cells -= 1;
            if self.in_cells == 0 {
                // An empty lot keeps no window (it may be refilled anywhere).
                self.cells = Vec::new();
            }
        }
        old
    }

    /// Widens the window to hold `space` when it stays at most [`window_limit`] cells
    /// for the calls it would hold; moves the far calls it then covers into it.
    fn widen_to(&mut self, space: u32) -> bool {
        if self.cells.is_empty() {
            self.base = space;
            self.cells.push(None);
            self.take_far_in_window();
            return true;
        }
        let lo = self.base.min(space);
        let hi = (u64::from(self.base) + self.cells.len() as u64).max(u64::from(space) + 1);
        let span = (hi - u64::from(lo)) as usize;
        let covered = self.far.range(lo..).take_while(|(s, _)| u64::from(**s) < hi).count();
        if span > window_limit(self.in_cells + covered + 1) {
            return false;
        }
        let front = (self.base - lo) as usize;
        let back = span - front - self.cells.len();
        // Grown to a quarter more than needed (amortized constant still): doubling
        // left up to half the cells' memory unused.
        if self.cells.capacity() < span {
            self.cells.reserve_exact(span + span / 4 - self.cells.len());
        }
        self.cells.extend(std::iter::repeat_with(|| None).take(back));
        // Cells for the spaces below the window (none when it widens upwards: then
        // nothing moves).
        self.cells.splice(0..0, std::iter::repeat_with(|| None).take(front));
        self.base = lo;
        self.take_far_in_window();
        true
    }

    /// Moves the far calls the window covers into its cells.
    fn take_far_in_window(&mut self) {
        let end = u64::from(self.base) + self.cells.len() as u64;
        let inside: Vec<u32> =
            self.far.range(self.base..).map(|(s, _)| *s).take_while(|s| u64::from(*s) < end).collect();
        for s in inside {
            let slot = self.far.remove(&s).expect("listed just now");
            let i = (s - self.base) as usize;
            self.cells[i] = Some(slot);
            self.in_cells += 1;
        }
    }

    /// Every call with its space, in space order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (u32, &Slot)> {
        let end = u64::from(self.base) + self.cells.len() as u64;
        let below = self.far.range(..self.base);
        let above = self.far.iter().filter(move |(s, _)| u64::from(**s) >= end);
        let cells =
            self.cells.iter().enumerate().filter_map(|(i, c)| Some((self.base + i as u32, c.as_ref()?)));
        below.map(|(s, c)| (*s, c)).chain(cells).chain(above.map(|(s, c)| (*s, c)))
    }

    /// Every call, in space order.
    pub(super) fn values(&self) -> impl Iterator<Item = &Slot> {
        self.iter().map(|(_, slot)| slot)
    }

    /// Every call, to change (in no particular order).
    pub(super) fn values_mut(&mut self) -> impl Iterator<Item = &mut Slot> {
        self.cells.iter_mut().flatten().chain(self.far.values_mut())
    }

    /// Every occupied space, in order.
    pub(super) fn keys(&self) -> impl Iterator<Item = u32> + '_ {
        self.iter().map(|(space, _)| space)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn slot(space: u32) -> Slot {
        let mut c = ParkedCall::default();
        c.parking_space = space;
        Slot::new(Arc::new(c), None, u64::from(space))
    }

    proptest! {
        /// Any sequence of puts and removes leaves the same calls, in the same order,
        /// as an ordered map, and the window never more than about half empty.
        #[test]
        fn spaces_are_an_ordered_map(ops in proptest::collection::vec((any::<bool>(), prop_oneof![
            690u32..760, 0u32..3, (u32::MAX - 3)..=u32::MAX, 5_000u32..5_050,
        ]), 0..200)) {
            let mut s = Spaces::default();
            let mut m = BTreeMap::new();
            for (put, space) in ops {
                if put {
                    let old = s.insert(space, slot(space)).map(|o| o.park());
                    prop_assert_eq!(old, m.insert(space, u64::from(space)));
                } else {
                    prop_assert_eq!(s.remove(space).map(|o| o.park()), m.remove(&space));
                }
                prop_assert_eq!(s.len(), m.len());
                prop_assert_eq!(s.is_empty(), m.is_empty());
                let got: Vec<(u32, u64)> = s.iter().map(|(k, v)| (k, v.park())).collect();
                let want: Vec<(u32, u64)> = m.iter().map(|(k, v)| (*k, *v)).collect();
                prop_assert_eq!(got, want);
                for k in [space, space.wrapping_add(1), space.wrapping_sub(1)] {
                    prop_assert_eq!(s.contains(k), m.contains_key(&k));
                    prop_assert_eq!(s.get(k).map(|v| v.park()), m.get(&k).copied());
                }
                prop_assert!(s.far.keys().all(|k| s.index(*k).is_none()), "a far space inside the window");
                prop_assert_eq!(s.values_mut().count(), m.len());
            }
        }
    }

    #[test]
    fn the_window_widens_only_while_half_of_it_or_more_is_used() {
        let mut s = Spaces::default();
        s.insert(0, slot(0));
        s.insert(60, slot(60));
        assert_eq!((s.cells.len(), s.far.len()), (1, 1), "2 calls over 61 spaces: the second is far");
        // The far calls a widening would cover count: 7 calls over 46 spaces is
        // exactly 2 × 7 + 32.
        let mut s = Spaces::default();
        for space in [0, 40, 41, 42, 43, 44] {
            s.insert(space, slot(space));
        }
        assert_eq!((s.cells.len(), s.far.len()), (1, 5), "6 calls over 45 spaces: more than 2 × 6 + 32");
        s.insert(45, slot(45));
        assert_eq!((s.cells.len(), s.far.len()), (46, 0), "the far calls moved into the window");
        // A far call just past the widened window is not counted.
        let mut s = Spaces::default();
        for space in [0, 45, 40, 41, 42, 43, 44] {
            s.insert(space, slot(space));
        }
        assert_eq!(
            (s.cells.len(), s.far.len()),
            (1, 6),
            "44 would make 6 calls over 45 spaces; 45 is past them"
        );
        let mut s = Spaces::default();
        for space in 0..30 {
            s.insert(space, slot(space));
        }
        s.insert(80, slot(80));
        assert_eq!(
            (s.cells.len(), s.far.len()),
            (81, 0),
            "31 calls over 81 spaces: at most 2 × 31 + 32 cells"
        );
    }

    #[test]
    fn a_full_lot_costs_a_cell_a_call_and_a_stray_space_stays_out_of_the_window() {
        let mut s = Spaces::default();
        for space in 701..=800 {
            s.insert(space, slot(space));
        }
        assert_eq!((s.cells.len(), s.far.len()), (100, 0));
        // Grown to a quarter more than needed each time (from Vec's first 4 cells):
        // 5 → 6, 7 → 8, 9 → 11, 12 → 15, 16 → 20, 21 → 26, 27 → 33, 34 → 42, 43 → 53,
        // 54 → 67, 68 → 85, 86 → 107.
        assert_eq!(s.cells.capacity(), 107);
        s.insert(9_000_000, slot(9_000_000));
        assert_eq!((s.cells.len(), s.far.len()), (100, 1), "the stray space is far");
        s.insert(700, slot(700));
        assert_eq!((s.base, s.cells.len()), (700, 101), "widened at the front");
        assert_eq!(s.keys().last(), Some(9_000_000));
    }
}
