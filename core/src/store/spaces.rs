//! [`Spaces`]: one lot's occupied spaces and their calls ([`Slot`]s), by space number.
//!
//! Asterisk numbers a lot's spaces from one range (701-720), so a lot's calls sit in a
//! dense window of cells indexed by `space - base`: 24 bytes a space, one lookup, no
//! tree walk (a `BTreeMap` took 58 bytes a call at 100 calls a lot). A lot whose
//! calls would leave the window more than half empty (spaces far apart, as only a
//! hostile server sends) is kept in an ordered map instead, until it empties: memory
//! stays proportional to the calls held, and every change costs at most a logarithm
//! (amortized), whatever space numbers arrive.

use crate::model::ParkedCall;
use crate::time::Timestamp;
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
    /// Seen (live or listed) since its server's link last came up.
    followed: bool,
    /// This park's near-timeout alert fired (kept by a refresh of the same call and
    /// by a swap: the alert fires once per park).
    alerted: bool,
    /// Tells this park's alert from an ended park's in the same space due at the
    /// same time (a counter, wrapping). A slot is 24 bytes.
    tag: u16,
}

/// The largest alert time an [`AlertKey`] holds (about the year 10889); a later one
/// is read as this.
const LATEST_ALERT_MS: u64 = (1 << 48) - 1;

/// When a park's alert is due and which park it is, in one word: the time in
/// milliseconds (bits 16 to 63; ordered by it first) and the park's tag (bits 0 to 15).
pub(super) type AlertKey = u64;

/// The time an [`AlertKey`] is due.
pub(super) fn alert_time(key: AlertKey) -> Timestamp {
    Timestamp::from_unix_millis(key >> 16)
}

impl Slot {
    /// A slot for a new park of `raw` (tagged `tag`), shown as `shown`, followed.
    pub(super) fn new(raw: Arc<ParkedCall>, shown: Option<Arc<ParkedCall>>, tag: u16) -> Self {
        Slot { raw, shown, followed: true, alerted: false, tag }
    }

    /// The same park with `raw` (a refresh of the same call, or a swap), shown as
    /// `shown`, followed: whether its alert fired stays.
    pub(super) fn same_park(&self, raw: Arc<ParkedCall>, shown: Option<Arc<ParkedCall>>) -> Self {
        Slot { raw, shown, followed: true, alerted: self.alerted, tag: self.tag }
    }

    /// Seen (live or listed) since its server's link last came up: any re-park since
    /// would have been seen live, so a later list's times for it are only later
    /// (perhaps delayed) readings of the same clock.
    pub(super) fn followed(&self) -> bool {
        self.followed
    }

    pub(super) fn set_followed(&mut self, followed: bool) {
        self.followed = followed;
    }

    /// When this park's near-timeout alert is due, with its tag (`None`: no deadline,
    /// or it fired).
    pub(super) fn alert_key(&self) -> Option<AlertKey> {
        if self.alerted {
            return None;
        }
        let call = &self.raw;
        let at = call.deadline()?.saturating_sub(call.near_timeout_threshold());
        Some(at.as_unix_millis().min(LATEST_ALERT_MS) << 16 | u64::from(self.tag))
    }

    /// A new tag for this park (its alert moved): the alerts scheduled under the old
    /// one no longer match it.
    pub(super) fn retag(&mut self, tag: u16) {
        self.tag = tag;
    }

    /// The alert fired: not again for this park.
    pub(super) fn set_alerted(&mut self) {
        self.alerted = true;
    }
}

/// A window may span at most this many cells for `n` calls in it: half of it or more
/// is used, plus a little room for a lot that is filling up.
fn window_limit(n: usize) -> u64 {
    2 * n as u64 + 32
}

/// One lot's calls by space, in space order.
pub(super) enum Spaces {
    /// A window of cells: `cells[i]` holds space `base + i`; `len` calls in it.
    Dense { base: u32, cells: Vec<Option<Slot>>, len: usize },
    /// Spaces too far apart for a window (until the lot empties).
    Sparse(BTreeMap<u32, Slot>),
}

impl Default for Spaces {
    fn default() -> Self {
        Spaces::Dense { base: 0, cells: Vec::new(), len: 0 }
    }
}

/// The cell index of `space` in a window at `base` of `cells` cells.
fn index(base: u32, cells: usize, space: u32) -> Option<usize> {
    let i = space.checked_sub(base)? as usize;
    (i < cells).then_some(i)
}

impl Spaces {
    /// The call in `space`.
    pub(super) fn get(&self, space: u32) -> Option<&Slot> {
        match self {
            Spaces::Dense { base, cells, .. } => cells[index(*base, cells.len(), space)?].as_ref(),
            Spaces::Sparse(map) => map.get(&space),
        }
    }

    /// The call in `space`, to change.
    pub(super) fn get_mut(&mut self, space: u32) -> Option<&mut Slot> {
        match self {
            Spaces::Dense { base, cells, .. } => {
                let i = index(*base, cells.len(), space)?;
                cells[i].as_mut()
            }
            Spaces::Sparse(map) => map.get_mut(&space),
        }
    }

    /// True when a call is in `space`.
    pub(super) fn contains(&self, space: u32) -> bool {
        self.get(space).is_some()
    }

    /// Calls in the lot.
    pub(super) fn len(&self) -> usize {
        match self {
            Spaces::Dense { len, .. } => *len,
            Spaces::Sparse(map) => map.len(),
        }
    }

    /// True when no call is in the lot.
    pub(super) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Puts `slot` in `space`; the slot it replaces.
    pub(super) fn insert(&mut self, space: u32, slot: Slot) -> Option<Slot> {
        if let Spaces::Dense { base, cells, len } = self {
            if !widen_to(base, cells, *len, space) {
                self.make_sparse();
                return self.insert(space, slot);
            }
            let i = index(*base, cells.len(), space).expect("the window was widened to the space");
            let old = cells[i].replace(slot);
            *len += usize::from(old.is_none());
            return old;
        }
        let Spaces::Sparse(map) = self else { unreachable!("dense handled above") };
        map.insert(space, slot)
    }

    /// Empties `space`; the slot it held.
    pub(super) fn remove(&mut self, space: u32) -> Option<Slot> {
        let old = match self {
            Spaces::Dense { base, cells, len } => {
                let i = index(*base, cells.len(), space)?;
                let old = cells[i].take();
                *len -= usize::from(old.is_some());
                old
            }
            Spaces::Sparse(map) => map.remove(&space),
        };
        if old.is_some() {
            self.shrink();
        }
        old
    }

    /// After a call left: an empty lot keeps nothing (it may refill anywhere); a
    /// window less than a quarter used is cut to its first and last calls, and kept
    /// in an ordered map when that is still more than half empty.
    fn shrink(&mut self) {
        if self.is_empty() {
            *self = Spaces::default();
            return;
        }
        let Spaces::Dense { base, cells, len } = self else { return };
        if cells.len() <= 64 || *len * 4 >= cells.len() {
            return;
        }
        let first = cells.iter().position(Option::is_some).expect("a call is in the window");
        let last = cells.iter().rposition(Option::is_some).expect("a call is in the window");
        if (last - first + 1) as u64 > window_limit(*len) {
            self.make_sparse();
            return;
        }
        cells.truncate(last + 1);
        cells.drain(..first);
        cells.shrink_to(cells.len() + cells.len() / 4);
        *base += first as u32;
    }

    /// Moves the window's calls into an ordered map.
    fn make_sparse(&mut self) {
        if let Spaces::Dense { base, cells, .. } = self {
            let base = *base;
            // By insertion (`extend`): `collect` would sort first, and each sort is
            // code a browser downloads.
            let mut map = BTreeMap::new();
            map.extend(
                std::mem::take(cells)
                    .into_iter()
                    .enumerate()
                    .filter_map(|(i, c)| Some((base + i as u32, c?))),
            );
            *self = Spaces::Sparse(map);
        }
    }

    /// Every call with its space, in space order.
    pub(super) fn iter(&self) -> Box<dyn Iterator<Item = (u32, &Slot)> + '_> {
        match self {
            Spaces::Dense { base, cells, .. } => {
                Box::new(cells.iter().enumerate().filter_map(|(i, c)| Some((*base + i as u32, c.as_ref()?))))
            }
            Spaces::Sparse(map) => Box::new(map.iter().map(|(s, c)| (*s, c))),
        }
    }

    /// Every call, in space order.
    pub(super) fn values(&self) -> impl Iterator<Item = &Slot> {
        self.iter().map(|(_, slot)| slot)
    }

    /// Every call, to change (in no particular order).
    pub(super) fn values_mut(&mut self) -> Box<dyn Iterator<Item = &mut Slot> + '_> {
        match self {
            Spaces::Dense { cells, .. } => Box::new(cells.iter_mut().flatten()),
            Spaces::Sparse(map) => Box::new(map.values_mut()),
        }
    }

    /// Every occupied space, in order.
    pub(super) fn keys(&self) -> impl Iterator<Item = u32> + '_ {
        self.iter().map(|(space, _)| space)
    }
}

/// Widens the window (`len` calls in it) to hold `space` when it then spans at most
/// [`window_limit`] cells; false when it would not (the lot is then kept sparse). A
/// window widened downwards takes a quarter more room below, so parks in descending
/// order move the cells a logarithmic number of times, not at each park.
fn widen_to(base: &mut u32, cells: &mut Vec<Option<Slot>>, len: usize, space: u32) -> bool {
    if cells.is_empty() {
        *base = space;
        cells.push(None);
        return true;
    }
    let end = u64::from(*base) + cells.len() as u64;
    if u64::from(space) >= u64::from(*base) && u64::from(space) < end {
        return true;
    }
    let lo = u64::from((*base).min(space));
    let hi = end.max(u64::from(space) + 1);
    if hi - lo > window_limit(len + 1) {
        return false;
    }
    if u64::from(space) >= end {
        let span = (hi - lo) as usize;
        // Grown to a quarter more than needed (amortized constant still): doubling
        // left up to half the cells' memory unused.
        if cells.capacity() < span {
            cells.reserve_exact(span + span / 4 - cells.len());
        }
        cells.resize_with(span, || None);
    } else {
        let room = (u64::from(*base) - lo) + (hi - lo) / 4;
        let front = room.min(u64::from(*base)) as usize;
        cells.splice(0..0, std::iter::repeat_with(|| None).take(front));
        *base -= front as u32;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn slot(space: u32) -> Slot {
        let mut c = ParkedCall::default();
        c.parking_space = space;
        Slot::new(Arc::new(c), None, 0)
    }

    fn filled(spaces: impl IntoIterator<Item = u32>) -> Spaces {
        let mut s = Spaces::default();
        for space in spaces {
            s.insert(space, slot(space));
        }
        s
    }

    /// The window's cells, or `None` when the lot is sparse.
    fn window_cells(s: &Spaces) -> Option<usize> {
        match s {
            Spaces::Dense { cells, .. } => Some(cells.len()),
            Spaces::Sparse(_) => None,
        }
    }

    proptest! {
        /// Any sequence of puts and removes leaves the same calls, in the same order,
        /// as an ordered map, and a window's memory stays in proportion to its calls.
        #[test]
        fn spaces_are_an_ordered_map(ops in proptest::collection::vec((any::<bool>(), prop_oneof![
            690u32..760, 0u32..3, (u32::MAX - 3)..=u32::MAX, 5_000u32..5_050, 600u32..900,
        ]), 0..300)) {
            let mut s = Spaces::default();
            let mut m = BTreeMap::new();
            for (put, space) in ops {
                if put {
                    let old = s.insert(space, slot(space)).map(|o| u64::from(o.raw.parking_space));
                    prop_assert_eq!(old, m.insert(space, u64::from(space)));
                } else {
                    prop_assert_eq!(s.remove(space).map(|o| u64::from(o.raw.parking_space)), m.remove(&space));
                }
                prop_assert_eq!(s.len(), m.len());
                prop_assert_eq!(s.is_empty(), m.is_empty());
                let got: Vec<(u32, u64)> = s.iter().map(|(k, v)| (k, u64::from(v.raw.parking_space))).collect();
                let want: Vec<(u32, u64)> = m.iter().map(|(k, v)| (*k, *v)).collect();
                prop_assert_eq!(got, want);
                for k in [space, space.wrapping_add(1), space.wrapping_sub(1)] {
                    prop_assert_eq!(s.contains(k), m.contains_key(&k));
                    prop_assert_eq!(s.get(k).map(|v| u64::from(v.raw.parking_space)), m.get(&k).copied());
                }
                prop_assert_eq!(s.values_mut().count(), m.len());
                if let Some(n) = window_cells(&s) {
                    let most = if m.is_empty() { 0 } else { 64.max(4 * m.len() + 41) };
                    prop_assert!(n <= most, "{} cells for {} calls", n, m.len());
                }
            }
        }
    }

    #[test]
    fn a_window_spans_at_most_twice_its_calls_and_32_more() {
        assert_eq!(window_cells(&filled([0, 60])), None, "2 calls over 61 spaces: sparse");
        assert_eq!(window_cells(&filled((0..30).chain([80]))), Some(81), "31 calls over 81 spaces: a window");
        assert_eq!(window_cells(&filled((0..6).chain([45]))), Some(46), "7 calls over 46 spaces: 2 × 7 + 32");
        assert_eq!(window_cells(&filled((0..6).chain([46]))), None, "7 calls over 47 spaces: sparse");
        // The widest spread of space numbers (on 32-bit targets too).
        for pair in [[0, u32::MAX], [u32::MAX, 0]] {
            let s = filled(pair);
            assert_eq!((window_cells(&s), s.keys().collect::<Vec<_>>()), (None, vec![0, u32::MAX]));
        }
        let mut s = filled([u32::MAX]);
        assert_eq!(s.keys().collect::<Vec<_>>(), vec![u32::MAX]);
        s.insert(u32::MAX - 1, slot(u32::MAX - 1));
        assert_eq!(s.keys().collect::<Vec<_>>(), vec![u32::MAX - 1, u32::MAX], "a window ending at u32::MAX");
    }

    #[test]
    fn a_full_lot_costs_a_cell_a_call_and_a_stray_space_makes_it_sparse() {
        let mut s = filled(701..=800);
        let Spaces::Dense { cells: window, .. } = &s else { panic!("a full lot is a window") };
        // Grown to a quarter more than needed each time (from Vec's first 4 cells):
        // 5 → 6, 7 → 8, 9 → 11, 12 → 15, 16 → 20, 21 → 26, 27 → 33, 34 → 42, 43 → 53,
        // 54 → 67, 68 → 85, 86 → 107.
        assert_eq!((window.len(), window.capacity()), (100, 107));
        s.insert(9_000_000, slot(9_000_000));
        assert_eq!((window_cells(&s), s.len(), s.keys().last()), (None, 101, Some(9_000_000)));
        for space in (701..=800).chain([9_000_000]) {
            s.remove(space);
        }
        assert_eq!(window_cells(&s), Some(0), "an emptied lot is a window again");
        s.insert(5, slot(5));
        assert_eq!(window_cells(&s), Some(1));
    }

    #[test]
    fn parks_in_descending_order_take_room_below() {
        let s = filled((1..=1000).rev());
        let Spaces::Dense { base, cells, len } = &s else {
            panic!("1,000 calls in 1,000 spaces are a window")
        };
        assert_eq!(*len, 1000);
        assert!(*base <= 1 && cells.len() <= 1300, "base {base}, {} cells", cells.len());
        assert!(s.keys().eq(1..=1000));
        // One park below a window of 100 (spaces 100..=199): the window takes a quarter
        // of its new span (101 / 4 = 25) more below, so the next parks below land
        // without moving the cells again.
        let mut s = filled(100..200);
        s.insert(99, slot(99));
        let Spaces::Dense { base, cells, .. } = &s else { panic!("101 calls in 101 spaces are a window") };
        assert_eq!((*base, cells.len()), (74, 126), "room below");
        for space in (74..99).rev() {
            s.insert(space, slot(space));
            assert!(matches!(&s, Spaces::Dense { base: 74, .. }), "space {space} moved the window");
        }
    }

    #[test]
    fn a_window_is_cut_once_less_than_a_quarter_used_and_never_when_small() {
        // 100 cells: 25 calls left is a quarter, not less: kept; 24 is less: cut.
        let mut s = filled(0..100);
        for space in (25..100).rev() {
            s.remove(space);
        }
        assert_eq!(window_cells(&s), Some(100));
        s.remove(24);
        assert_eq!(window_cells(&s), Some(24));
        // A window of 64 cells or fewer is never cut.
        let mut s = filled(0..40);
        for space in 1..40 {
            s.remove(space);
        }
        assert_eq!(window_cells(&s), Some(40));
        // Cut to its calls when they span at most 2 × calls + 32 cells, else sparse:
        // 17 calls over 66 spaces (0 to 15, and 65) are a window, over 67 are not.
        for (last, kept) in [(65, Some(66)), (66, None)] {
            let mut s = filled(0..69);
            for space in (16..69).filter(|&sp| sp != last) {
                s.remove(space);
            }
            assert_eq!(window_cells(&s), kept, "calls 0 to 15 and {last}");
            assert!(s.keys().eq((0..16).chain([last])));
        }
    }

    #[test]
    fn a_window_left_mostly_empty_gives_its_memory_back() {
        // 200 calls two spaces apart (a window of 399 cells), then all but the first
        // leave: a window less than a quarter used is cut to its calls.
        let mut s = filled((0..200).map(|i| 2 * i));
        assert_eq!(window_cells(&s), Some(399));
        for i in (1..200).rev() {
            s.remove(2 * i);
        }
        let Spaces::Dense { cells, .. } = &s else { panic!("one call is a window") };
        assert!(
            cells.len() <= 64 && cells.capacity() <= 400,
            "{} cells, room for {}",
            cells.len(),
            cells.capacity()
        );
        // The same from the front: the calls left are at the end of the window.
        let mut s = filled((0..200).map(|i| 2 * i));
        for i in 0..199 {
            s.remove(2 * i);
        }
        assert!(window_cells(&s).is_some_and(|n| n <= 64), "{:?}", window_cells(&s));
        assert_eq!(s.keys().collect::<Vec<_>>(), vec![398]);
        // Two calls left at both ends: too far apart for a window.
        let mut s = filled((0..200).map(|i| 2 * i));
        for i in 1..199 {
            s.remove(2 * i);
        }
        assert_eq!((window_cells(&s), s.keys().collect::<Vec<_>>()), (None, vec![0, 398]));
    }
}
