//! The crate's one sort: stable, a natural merge sort of positions, then the slice
//! put in that order by swaps. Ours rather than std's `sort_by`, whose driftsort is
//! about 4 KB of wasm that a browser downloads (issue 28: 1.5 KB gzipped). Lists
//! come from Asterisk in space order, so the common case is one run: a pass of
//! comparisons and nothing moved. At worst it is n log n comparisons, like std's.

/// Sorts `items` so that no item comes after one that `is_less` puts after it, and
/// items `is_less` calls equal keep their order.
pub(crate) fn sort_stable<T>(items: &mut [T], is_less: impl Fn(&T, &T) -> bool) {
    let n = items.len();
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

    proptest! {
        /// Any list comes out as std's stable sort puts it: keys in order, items of
        /// equal keys in their first order (the second field tells them apart).
        #[test]
        fn sorts_as_std_stable_sort_does(keys in proptest::collection::vec(0u8..12, 0..300)) {
            let mut ours: Vec<(u8, usize)> = keys.iter().copied().zip(0..).collect();
            let mut std = ours.clone();
            sort_stable(&mut ours, |a, b| a.0 < b.0);
            std.sort_by_key(|x| x.0);
            prop_assert_eq!(ours, std);
        }

        /// Sorted runs (the lists Asterisk sends), with a few items out of place.
        #[test]
        fn sorts_runs_with_strays(len in 0usize..400, strays in proptest::collection::vec((0usize..400, any::<u16>()), 0..6)) {
            let mut ours: Vec<(u16, usize)> = (0..len).map(|i| (i as u16, i)).collect();
            for (at, key) in strays {
                if let Some(x) = ours.get_mut(at) {
                    x.0 = key;
                }
            }
            let mut std = ours.clone();
            sort_stable(&mut ours, |a, b| a.0 < b.0);
            std.sort_by_key(|x| x.0);
            prop_assert_eq!(ours, std);
        }
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
