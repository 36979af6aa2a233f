//! The crate's one sort: stable, a natural merge sort of positions, then the slice
//! put in that order by swaps. Ours rather than std's `sort_by`, whose driftsort is
//! about 4 KB of wasm that a browser downloads (issue 28: 1.5 KB gzipped). Lists
//! come from Asterisk in space order, so the common case is one run: a pass of
//! comparisons and nothing moved. Runs that fall are turned round first (a reversed
//! list, which a server may send, is one pass too). At worst it is n log n
//! comparisons, like std's; on random input it is slower than std's (about 5x at
//! 100,000 items: 46 ms against 8 ms), which no list Asterisk sends is.

/// Sorts `items` so that no item comes after one that `is_less` puts after it, and
/// items `is_less` calls equal keep their order.
pub(crate) fn sort_stable<T>(items: &mut [T], is_less: impl Fn(&T, &T) -> bool) {
    let n = items.len();
    // Runs that fall (each item less than the one before) turned round in place: their
    // items all differ, so the order of equals is kept. None at all: sorted already.
    let mut sorted = true;
    // The falling run being read starts at `start`; it ends before `k` when `k` is
    // the end or no less than the item before it.
    let mut start = 0;
    for k in 1..=n {
        if k == n || !is_less(&items[k], &items[k - 1]) {
            if k - start > 1 {
                sorted = false;
                items[start..k].reverse();
            }
            start = k;
        }
    }
    if sorted {
        return;
    }
    let after = |a: usize, b: usize| is_less(&items[b], &items[a]);
    // The runs: each starts where an item is less than the one before it.
    let mut starts: Vec<usize> = (0..n).filter(|&i| i == 0 || after(i - 1, i)).collect();
    if starts.len() <= 1 {
        return;
    }
    starts.push(n);
    let mut order: Vec<usize> = (0..n).collect();
    let mut merged = order.clone();
    // Neighbouring runs merged in pairs until one is left (a lone last run is copied).
    while starts.len() > 2 {
        let mut next = Vec::with_capacity(starts.len() / 2 + 2);
        let mut k = 0;
        while k + 1 < starts.len() {
            let (lo, mid) = (starts[k], starts[k + 1]);
            let hi = starts.get(k + 2).copied().unwrap_or(mid);
            let (mut i, mut j, mut o) = (lo, mid, lo);
            while i < mid && j < hi {
                // Equal items: the left run's first (stable).
                if after(order[i], order[j]) {
                    merged[o] = order[j];
                    j += 1;
                } else {
                    merged[o] = order[i];
                    i += 1;
                }
                o += 1;
            }
            merged[o..o + mid - i].copy_from_slice(&order[i..mid]);
            merged[o + mid - i..hi].copy_from_slice(&order[j..hi]);
            next.push(lo);
            k += 2;
        }
        next.push(n);
        std::mem::swap(&mut order, &mut merged);
        starts = next;
    }
    // `order[k]` is the position of the item that belongs at k: follow each cycle,
    // marking a place done by pointing it at itself.
    for first in 0..n {
        let mut at = first;
        loop {
            let from = order[at];
            order[at] = at;
            if from == first {
                break;
            }
            items.swap(at, from);
            at = from;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Keyed items: the key, and the place the item started at.
    type Keyed<K> = Vec<(K, usize)>;

    /// `items` sorted by their keys (the first field) by ours and by std's stable sort.
    fn ours_and_std<K: Ord + Copy>(items: Keyed<K>) -> (Keyed<K>, Keyed<K>) {
        let (mut ours, mut std) = (items.clone(), items);
        sort_stable(&mut ours, |a, b| a.0 < b.0);
        std.sort_by_key(|x| x.0);
        (ours, std)
    }

    /// Sorts `v` and says how many comparisons it took.
    fn comparisons(v: &mut [u32]) -> usize {
        let count = std::cell::Cell::new(0usize);
        sort_stable(v, |a, b| {
            count.set(count.get() + 1);
            a < b
        });
        count.get()
    }

    proptest! {
        /// Any list comes out as std's stable sort puts it: keys in order, items of
        /// equal keys in their first order (the second field tells them apart).
        #[test]
        fn sorts_as_std_stable_sort_does(keys in proptest::collection::vec(0u8..12, 0..300)) {
            let (ours, std) = ours_and_std(keys.iter().copied().zip(0..).collect());
            prop_assert_eq!(ours, std);
        }

        /// Sorted runs (the lists Asterisk sends), with a few items out of place.
        #[test]
        fn sorts_runs_with_strays(len in 0usize..400, strays in proptest::collection::vec((0usize..400, any::<u16>()), 0..6)) {
            let mut items: Vec<(u16, usize)> = (0..len).map(|i| (i as u16, i)).collect();
            for (at, key) in strays {
                if let Some(x) = items.get_mut(at) {
                    x.0 = key;
                }
            }
            let (ours, std) = ours_and_std(items);
            prop_assert_eq!(ours, std);
        }
    }

    /// Falling runs of distinct keys among equal ones: turning a run round must not
    /// reorder equal items.
    #[test]
    fn falling_runs_keep_equal_items_in_order() {
        let keys = [5u8, 4, 3, 3, 2, 1, 1, 9, 8, 8, 7, 0, 0, 0];
        let (ours, std) = ours_and_std(keys.iter().copied().zip(0..).collect());
        assert_eq!(ours, std);
    }

    /// A sorted list (what Asterisk sends) is one pass of comparisons and no move.
    #[test]
    fn a_sorted_list_costs_one_pass_of_comparisons() {
        let mut v: Vec<u32> = (0..10_000).collect();
        assert_eq!(comparisons(&mut v), 10_000 - 1);
        assert!(v.iter().copied().eq(0..10_000));
    }

    /// Falling runs in rising order (`3 2 1 6 5 4 ...`): one pass turns them round,
    /// one more finds the list sorted; each neighbouring pair compared once a pass.
    #[test]
    fn falling_runs_in_rising_order_cost_two_passes_exactly() {
        let n = 9_999u32;
        let mut v: Vec<u32> = (0..n).map(|i| i - i % 3 + 2 - i % 3).collect();
        assert_eq!(comparisons(&mut v), 2 * (n as usize - 1));
        assert!(v.iter().copied().eq(0..n));
    }

    /// A reversed list is one pass of comparisons (and one of swaps), not a merge.
    #[test]
    fn a_reversed_list_costs_two_passes_of_comparisons_at_most() {
        let mut v: Vec<u32> = (0..10_000).rev().collect();
        let count = comparisons(&mut v);
        assert!(count < 2 * 10_000, "{count} comparisons");
        assert!(v.iter().copied().eq(0..10_000));
    }

    #[test]
    fn sorted_and_reversed_lists() {
        let mut sorted: Vec<u32> = (0..1000).collect();
        sort_stable(&mut sorted, |a, b| a < b);
        assert!(sorted.iter().copied().eq(0..1000));
        let mut reversed: Vec<u32> = (0..1000).rev().collect();
        sort_stable(&mut reversed, |a, b| a < b);
        assert!(reversed.iter().copied().eq(0..1000));
        let mut empty: Vec<u32> = Vec::new();
        sort_stable(&mut empty, |a, b| a < b);
        assert!(empty.is_empty());
    }
}
