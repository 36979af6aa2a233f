//! [`SmallMap`] and [`SmallSet`]: ordered maps and sets as one sorted `VecDeque`, for
//! the connection's and store's tables of servers, requests in flight, timers and
//! windows (a handful of entries each, thousands of requests at most).
//!
//! Why not `BTreeMap`: each key and value type of a `BTreeMap` brings its own copy of
//! the tree's insert, remove and rebalancing code, 3-5 KB of wasm each; eleven such
//! tables (eight key and value types) were 38 KB of the browser client after
//! `wasm-opt` (issue 28, item 4). A sorted `VecDeque` is a binary search and a move of
//! the entries on the shorter side: the same order, the same answers, a few hundred
//! bytes a type. Requests are answered mostly in the order sent, so their tables
//! change at their ends; a request answered out of order moves the entries on its
//! shorter side (the requests are boxed, so a pointer each). Sent and answered, a
//! request costs 1.7-1.9 µs with 10,000 in flight, 2.7 µs to answer when answers
//! come shuffled (`cargo run --release -p ami-parking-perf --example in_flight`;
//! about 20 µs with the `BTreeMap`s). It still grows with the requests in flight,
//! slowly: the next deadline is found by a scan of the timers (5.7 µs a request at
//! 50,000). A table that may hold thousands with inserts anywhere (a sparse lot's
//! spaces, the public lots map) stays a `BTreeMap`; one keyed by text (ActionIDs) is
//! a hash map.

use std::borrow::Borrow;
use std::collections::{vec_deque, VecDeque};
use std::fmt;

/// An ordered map kept as a `VecDeque` of entries sorted by key: a lookup is a binary
/// search; an insert or remove moves the entries on its shorter side, so a table used
/// first in, first out (requests answered in the order sent) costs O(1) moves a change.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SmallMap<K, V> {
    entries: VecDeque<(K, V)>,
}

impl<K, V> Default for SmallMap<K, V> {
    fn default() -> Self {
        Self { entries: VecDeque::new() }
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for SmallMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.entries.iter().map(|(k, v)| (k, v))).finish()
    }
}

impl<K: Ord, V> SmallMap<K, V> {
    /// An empty map (no allocation).
    pub(crate) const fn new() -> Self {
        Self { entries: VecDeque::new() }
    }

    fn find<Q: Ord + ?Sized>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
    {
        self.entries.binary_search_by(|(k, _)| k.borrow().cmp(key))
    }

    /// The value of `key`.
    pub(crate) fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|i| &self.entries[i].1)
    }

    /// The value of `key`, to change.
    pub(crate) fn get_mut<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|i| &mut self.entries[i].1)
    }

    /// True when `key` has a value.
    pub(crate) fn contains_key<Q: Ord + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.find(key).is_ok()
    }

    /// Sets `key` to `value`; the value it replaced.
    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                self.entries.insert(i, (key, value));
                None
            }
        }
    }

    /// The value of `key`, made by `make` when there is none.
    pub(crate) fn entry_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        let i = match self.find(&key) {
            Ok(i) => i,
            Err(i) => {
                self.entries.insert(i, (key, make()));
                i
            }
        };
        &mut self.entries[i].1
    }

    /// Takes `key`'s value out.
    pub(crate) fn remove<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().and_then(|i| self.entries.remove(i)).map(|(_, v)| v)
    }

    /// The entries from `from` on, in key order.
    pub(crate) fn range_from<'a>(&'a self, from: &K) -> impl Iterator<Item = (&'a K, &'a V)> + 'a {
        let start = self.find(from).unwrap_or_else(|i| i);
        self.entries.range(start..).map(|(k, v)| (k, v))
    }
}

impl<K, V> SmallMap<K, V> {
    /// How many entries.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// True with no entry.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries in key order.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = (&K, &V)> + ExactSizeIterator {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// The keys in order.
    pub(crate) fn keys(&self) -> impl DoubleEndedIterator<Item = &K> + ExactSizeIterator {
        self.entries.iter().map(|(k, _)| k)
    }

    /// The values in key order.
    pub(crate) fn values(&self) -> impl DoubleEndedIterator<Item = &V> + ExactSizeIterator {
        self.entries.iter().map(|(_, v)| v)
    }

    /// The values in key order, to change.
    pub(crate) fn values_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut V> + ExactSizeIterator {
        self.entries.iter_mut().map(|(_, v)| v)
    }

    /// Keeps the entries `keep` says yes to.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        self.entries.retain_mut(|(k, v)| keep(k, v));
    }

    /// Removes every entry (keeps the allocation).
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }
}

/// An ordered set kept as a sorted `VecDeque` (a [`SmallMap`] of `()`).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SmallSet<T> {
    map: SmallMap<T, ()>,
}

impl<T> Default for SmallSet<T> {
    fn default() -> Self {
        Self { map: SmallMap::default() }
    }
}

impl<T: fmt::Debug> fmt::Debug for SmallSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.map.keys()).finish()
    }
}

impl<T: Ord> SmallSet<T> {
    /// An empty set (no allocation).
    pub(crate) const fn new() -> Self {
        Self { map: SmallMap::new() }
    }

    /// A set of one.
    pub(crate) fn one(item: T) -> Self {
        let mut map = SmallMap::new();
        map.entries.push_back((item, ()));
        Self { map }
    }

    /// Adds `item`; false when it was there.
    pub(crate) fn insert(&mut self, item: T) -> bool {
        self.map.insert(item, ()).is_none()
    }

    /// Takes `item` out; false when it was not there.
    pub(crate) fn remove<Q: Ord + ?Sized>(&mut self, item: &Q) -> bool
    where
        T: Borrow<Q>,
    {
        self.map.remove(item).is_some()
    }

    /// True when `item` is in.
    pub(crate) fn contains<Q: Ord + ?Sized>(&self, item: &Q) -> bool
    where
        T: Borrow<Q>,
    {
        self.map.contains_key(item)
    }
}

impl<T> SmallSet<T> {
    /// How many items.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// True with no item.
    pub(crate) fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The items in order.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + ExactSizeIterator {
        self.map.keys()
    }

    /// Removes every item.
    pub(crate) fn clear(&mut self) {
        self.map.clear();
    }
}

impl<T: Ord> FromIterator<T> for SmallSet<T> {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> Self {
        let mut set = SmallSet::new();
        for item in items {
            set.insert(item);
        }
        set
    }
}

impl<'a, T> IntoIterator for &'a SmallSet<T> {
    type Item = &'a T;
    type IntoIter = std::iter::Map<vec_deque::Iter<'a, (T, ())>, fn(&'a (T, ())) -> &'a T>;

    fn into_iter(self) -> Self::IntoIter {
        self.map.entries.iter().map(|(t, _)| t)
    }
}

impl<T> IntoIterator for SmallSet<T> {
    type Item = T;
    type IntoIter = std::iter::Map<vec_deque::IntoIter<(T, ())>, fn((T, ())) -> T>;

    fn into_iter(self) -> Self::IntoIter {
        self.map.entries.into_iter().map(|(t, _)| t)
    }
}

impl<'a, K, V> IntoIterator for &'a SmallMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = std::iter::Map<vec_deque::Iter<'a, (K, V)>, fn(&'a (K, V)) -> (&'a K, &'a V)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter().map(|(k, v)| (k, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    proptest! {
        /// Any sequence of inserts and removes leaves the same entries, in the same
        /// order, as a `BTreeMap`, and answers every lookup the same.
        #[test]
        fn follows_a_btree_map(ops in proptest::collection::vec((any::<bool>(), 0u8..24, any::<u16>()), 0..200)) {
            let mut small = SmallMap::new();
            let mut tree = BTreeMap::new();
            for (put, k, v) in ops {
                if put {
                    prop_assert_eq!(small.insert(k, v), tree.insert(k, v));
                } else {
                    prop_assert_eq!(small.remove(&k), tree.remove(&k));
                }
                prop_assert_eq!(small.len(), tree.len());
            }
            prop_assert!(small.iter().eq(tree.iter()));
            for k in 0u8..24 {
                prop_assert_eq!(small.get(&k), tree.get(&k));
                prop_assert!(small.range_from(&k).eq(tree.range(k..)));
            }
        }
    }

    #[test]
    fn a_set_keeps_one_of_each_in_order() {
        let mut set: SmallSet<u32> = [3, 1, 2, 3].into_iter().collect();
        assert!(!set.insert(2));
        assert!(set.iter().copied().eq([1, 2, 3]));
        assert!(set.remove(&1) && !set.remove(&1));
        assert_eq!(format!("{set:?}"), "{2, 3}");
        assert_eq!(SmallSet::one(7).len(), 1);
    }

    #[test]
    fn entry_or_insert_with_makes_once() {
        let mut map: SmallMap<u8, Vec<u8>> = SmallMap::new();
        map.entry_or_insert_with(2, Vec::new).push(1);
        map.entry_or_insert_with(2, || unreachable!()).push(2);
        map.entry_or_insert_with(1, Vec::new).push(3);
        assert_eq!(format!("{map:?}"), "{1: [3], 2: [1, 2]}");
        map.retain(|k, _| *k == 2);
        assert_eq!(map.iter().collect::<Vec<_>>(), vec![(&2, &vec![1, 2])]);
    }
}
