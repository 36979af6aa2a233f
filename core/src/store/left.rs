//! The calls seen leaving live since their server's link came up: a list answered
//! later must not bring them back. At most [`LEFT_MAX`], the oldest forgotten first.

use crate::model::{CompactString, ServerId};
use std::collections::VecDeque;
use std::hash::BuildHasher;

/// How many calls seen leaving are remembered (the oldest is forgotten first).
pub(super) const LEFT_MAX: usize = 4096;

/// Calls seen leaving live since their server's link came up, oldest first.
///
/// Every park asks whether its call is here, and nearly never is: that answer costs
/// a probe or two of a table of fingerprints (a 32-bit hash of the server and id, 4
/// bytes a slot, 32 KiB in all), not a hash set of the ids (whose lookups and code
/// cost a park and a leave ~110 ns between them at 10k calls, `apply_profile`). A
/// fingerprint found is confirmed in `order`, so two calls sharing one are still
/// told apart (it then costs a walk of `order`: 1 park in ~10^6 by chance).
#[derive(Default)]
pub(super) struct LeftCalls {
    /// The calls, oldest first (the type of the store's other lists of calls: one
    /// copy of `VecDeque`'s code in a browser build).
    order: VecDeque<(ServerId, CompactString)>,
    prints: Prints,
    /// foldhash, seeded at random on native targets (a server cannot choose ids that
    /// share fingerprints; on wasm32-unknown-unknown its seeds are fixed, see
    /// `book.rs`, and such ids only make their parks walk `order`).
    seed: foldhash::fast::RandomState,
}

impl LeftCalls {
    /// `uid` left its space (a live leave).
    pub(super) fn note(&mut self, server: ServerId, uid: &str) {
        let p = self.print(server, uid);
        if uid.is_empty() || self.find(p, server, uid).is_some() {
            return;
        }
        if self.order.len() == LEFT_MAX {
            if let Some((s, u)) = self.order.pop_front() {
                let old = self.print(s, &u);
                self.prints.remove(old);
            }
        }
        self.prints.insert(p);
        self.order.push_back((server, uid.into()));
    }

    /// `uid` parked (again): a list may name it.
    pub(super) fn parked(&mut self, server: ServerId, uid: &str) {
        let p = self.print(server, uid);
        if let Some(at) = self.find(p, server, uid) {
            self.order.remove(at);
            self.prints.remove(p);
        }
    }

    /// True when `server`'s `uid` left since its link came up.
    pub(super) fn contains(&self, server: ServerId, uid: &str) -> bool {
        self.find(self.print(server, uid), server, uid).is_some()
    }

    /// Where `server`'s `uid` (fingerprint `p`) is in `order` (never for an empty id).
    fn find(&self, p: u32, server: ServerId, uid: &str) -> Option<usize> {
        if uid.is_empty() || !self.prints.contains(p) {
            return None;
        }
        self.order.iter().position(|(s, u)| *s == server && u == uid)
    }

    /// The fingerprint of `server`'s `uid` (never 0: an empty slot).
    fn print(&self, server: ServerId, uid: &str) -> u32 {
        (self.seed.hash_one((server, uid)) as u32).max(1)
    }

    /// The link to `server` (every server when `None`) was lost: what left before it
    /// says nothing about the next list.
    pub(super) fn forget(&mut self, server: Option<ServerId>) {
        self.order.retain(|(o, _)| server.is_some_and(|s| *o != s));
        let mut prints = Prints::default();
        for (s, u) in &self.order {
            prints.insert(self.print(*s, u));
        }
        self.prints = prints;
    }

    pub(super) fn len(&self) -> usize {
        self.order.len()
    }
}

/// A multiset of fingerprints: open addressing with linear probing in twice
/// [`LEFT_MAX`] slots (at most half full), 0 for an empty slot, deletion by shifting
/// back (no tombstones). A few lines of code, so a park's path stays small in the
/// instruction cache.
#[derive(Default)]
struct Prints(Vec<u32>);

/// The slots of [`Prints`] (a power of two).
const SLOTS: usize = 2 * LEFT_MAX;

fn home(p: u32) -> usize {
    p as usize & (SLOTS - 1)
}

impl Prints {
    fn contains(&self, p: u32) -> bool {
        let mut i = home(p);
        while let Some(&v) = self.0.get(i) {
            if v == p {
                return true;
            }
            if v == 0 {
                return false;
            }
            i = (i + 1) & (SLOTS - 1);
        }
        false
    }

    /// Adds `p` (at most [`LEFT_MAX`] are held: an empty slot is always found).
    fn insert(&mut self, p: u32) {
        if self.0.is_empty() {
            self.0 = vec![0; SLOTS];
        }
        let mut i = home(p);
        while self.0[i] != 0 {
            i = (i + 1) & (SLOTS - 1);
        }
        self.0[i] = p;
    }

    /// Takes one `p` away (when held): the slots after it that probed past it move
    /// back, so every held print stays reachable from its home.
    fn remove(&mut self, p: u32) {
        let mut i = home(p);
        loop {
            match self.0.get(i) {
                Some(&v) if v == p => break,
                Some(&v) if v != 0 => i = (i + 1) & (SLOTS - 1),
                _ => return,
            }
        }
        let mut j = i;
        loop {
            j = (j + 1) & (SLOTS - 1);
            let v = self.0[j];
            if v == 0 {
                break;
            }
            // `v` stays when its home lies cyclically in (i, j].
            let h = home(v);
            let stays = if i <= j { i < h && h <= j } else { i < h || h <= j };
            if !stays {
                self.0[i] = v;
                i = j;
            }
        }
        self.0[i] = 0;
    }

    #[cfg(test)]
    fn held(&self) -> usize {
        self.0.iter().filter(|&&v| v != 0).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::VecDeque;

    /// The plain model: calls in the order they left, each once.
    #[derive(Default)]
    struct Model(VecDeque<(ServerId, String)>);

    impl Model {
        fn note(&mut self, s: ServerId, u: &str) {
            if u.is_empty() || self.contains(s, u) {
                return;
            }
            if self.0.len() == LEFT_MAX {
                self.0.pop_front();
            }
            self.0.push_back((s, u.to_string()));
        }
        fn parked(&mut self, s: ServerId, u: &str) {
            self.0.retain(|(o, x)| !(*o == s && x == u));
        }
        fn contains(&self, s: ServerId, u: &str) -> bool {
            !u.is_empty() && self.0.iter().any(|(o, x)| *o == s && x == u)
        }
        fn forget(&mut self, s: Option<ServerId>) {
            self.0.retain(|(o, _)| s.is_some_and(|s| *o != s));
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Note(ServerId, u16),
        Parked(ServerId, u16),
        Forget(Option<ServerId>),
    }

    fn op(ids: u16) -> impl Strategy<Value = Op> {
        prop_oneof![
            8 => (1u32..3, 0..ids).prop_map(|(s, u)| Op::Note(s, u)),
            6 => (1u32..3, 0..ids).prop_map(|(s, u)| Op::Parked(s, u)),
            1 => proptest::option::of(1u32..3).prop_map(Op::Forget),
        ]
    }

    fn uid(u: u16) -> String {
        // Id 0 is empty (Asterisk 11 leaves may name none).
        if u == 0 {
            String::new()
        } else {
            format!("1700000000.{u}")
        }
    }

    fn check(ops: &[Op], probes: u16) {
        let (mut left, mut model) = (LeftCalls::default(), Model::default());
        for o in ops {
            match *o {
                Op::Note(s, u) => {
                    left.note(s, &uid(u));
                    model.note(s, &uid(u));
                }
                Op::Parked(s, u) => {
                    left.parked(s, &uid(u));
                    model.parked(s, &uid(u));
                }
                Op::Forget(s) => {
                    left.forget(s);
                    model.forget(s);
                }
            }
            assert_eq!(left.len(), model.0.len(), "after {o:?}");
            assert!(left.order.len() <= LEFT_MAX, "bounded: {}", left.order.len());
            assert_eq!(
                left.prints.held(),
                left.order.len(),
                "each call's fingerprint held once, after {o:?}"
            );
            assert!(
                left.order.iter().all(|(s, u)| left.prints.contains(left.print(*s, u))),
                "reachable, after {o:?}"
            );
        }
        for s in 1..3 {
            for u in 0..probes {
                assert_eq!(left.contains(s, &uid(u)), model.contains(s, &uid(u)), "server {s}, id {u}");
            }
        }
    }

    proptest! {
        /// Any notes, parks and forgets of a few ids (most calls park again)
        /// remember what the plain model does.
        #[test]
        fn the_calls_seen_leaving_are_what_the_model_remembers(ops in proptest::collection::vec(op(12), 0..200)) {
            check(&ops, 12);
        }
    }

    /// Past the cap, with parks again and forgets of one server mixed in: 12,000
    /// steps over 6,000 ids of two servers (a fixed pseudo-random sequence), checked
    /// against the model after each step's count and, at the end, id by id.
    #[test]
    fn past_the_cap_with_parks_and_forgets_the_model_still_holds() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let ops: Vec<Op> = (0..12_000)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let (s, u) = (1 + (x % 2) as u32, ((x >> 8) % 6_000) as u16);
                match (i, (x >> 40) % 4) {
                    (3_000 | 11_000, _) => Op::Forget(Some(s)),
                    (_, 0) => Op::Parked(s, u),
                    _ => Op::Note(s, u),
                }
            })
            .collect();
        let mut left = LeftCalls::default();
        let mut most = 0;
        for o in &ops {
            match *o {
                Op::Note(s, u) => left.note(s, &uid(u)),
                Op::Parked(s, u) => left.parked(s, &uid(u)),
                Op::Forget(s) => left.forget(s),
            }
            most = most.max(left.len());
        }
        assert_eq!(most, LEFT_MAX, "the cap was reached");
        check(&ops, 6_000);
    }

    fn run(ops: &[Op]) -> LeftCalls {
        let mut left = LeftCalls::default();
        for o in ops {
            match *o {
                Op::Note(s, u) => left.note(s, &uid(u)),
                Op::Parked(s, u) => left.parked(s, &uid(u)),
                Op::Forget(s) => left.forget(s),
            }
        }
        left
    }

    /// A call whose fingerprint another call has is not taken for it: it is not
    /// held, its park takes nothing away, and its leave is kept beside the other.
    #[test]
    fn a_shared_fingerprint_is_confirmed_by_the_id() {
        let mut left = LeftCalls::default();
        left.note(1, "1700000000.1");
        let other = left.print(1, "1700000000.2");
        assert!(!left.contains(1, "1700000000.2"));
        // The second id's fingerprint held (as it would be for 1 id in ~2^32 by
        // chance): found, then told apart from the held call by its id.
        left.prints.insert(other);
        assert!(!left.contains(1, "1700000000.2"), "a fingerprint found is confirmed by the id");
        left.parked(1, "1700000000.2");
        assert!(left.contains(1, "1700000000.1"), "the park of another call takes nothing away");
        assert_eq!((left.len(), left.prints.held()), (1, 2));
    }

    /// The table of fingerprints holds what a plain multiset holds, through inserts
    /// and removes of prints that share homes and wrap past the last slot.
    #[test]
    fn the_fingerprint_table_is_a_multiset() {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut prints = Prints::default();
        let mut model: Vec<u32> = Vec::new();
        for step in 0..40_000 {
            let r = next();
            // Few homes, near the end of the table: long runs that wrap.
            let p =
                (SLOTS as u32 - 40 + (r % 80) as u32) % SLOTS as u32 + (((r >> 8) % 3) as u32 * SLOTS as u32);
            let p = p.max(1);
            if r >> 40 & 1 == 0 && model.len() < LEFT_MAX {
                prints.insert(p);
                model.push(p);
            } else {
                prints.remove(p);
                if let Some(at) = model.iter().position(|&m| m == p) {
                    model.swap_remove(at);
                }
            }
            if step % 500 == 0 {
                assert_eq!(prints.held(), model.len());
            }
        }
        assert_eq!(prints.held(), model.len());
        for p in 1..(3 * SLOTS as u32) {
            assert_eq!(prints.contains(p), model.contains(&p), "{p}");
        }
    }

    /// Past [`LEFT_MAX`] the oldest are forgotten.
    #[test]
    fn past_the_cap_the_oldest_are_forgotten() {
        let ops: Vec<Op> = (1..=LEFT_MAX as u16 + 10).map(|u| Op::Note(1, u)).collect();
        check(&ops, LEFT_MAX as u16 + 20);
        let left = run(&ops);
        assert!(!left.contains(1, &uid(10)) && left.contains(1, &uid(11)), "the first ten were forgotten");
        assert_eq!(left.len(), LEFT_MAX);
    }

    /// Calls that leave and park again, many times, behind old ones: the old ones
    /// stay remembered, and only the calls still gone are counted.
    #[test]
    fn calls_parking_again_behind_old_ones_keep_the_old_ones() {
        let mut ops: Vec<Op> = (1..=100).map(|u| Op::Note(1, u)).collect();
        ops.push(Op::Note(2, 1));
        for u in 0..(3 * LEFT_MAX as u16) {
            ops.push(Op::Note(1, 20_000 + u % 7_000));
            ops.push(Op::Parked(1, 20_000 + u % 7_000));
        }
        check(&ops, 120);
        let left = run(&ops);
        assert!(left.contains(1, &uid(1)) && left.contains(2, &uid(1)), "the old calls are remembered");
        assert_eq!(left.len(), 101);
    }
}
