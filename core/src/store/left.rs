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
/// a probe or two of a table of fingerprints (a 32-bit hash of the server and id,
/// with the call's place in `order`; 64 KiB in all), not a hash set of the ids
/// (whose lookups and code cost a park and a leave ~110 ns between them at 10k
/// calls, `apply_profile`). A fingerprint found is confirmed by the id at its place
/// in `order`, so two calls sharing one are still told apart, each found at once.
#[derive(Default)]
pub(super) struct LeftCalls {
    /// The calls in the order they left, oldest first (the type of the store's other
    /// lists of calls: one copy of `VecDeque`'s code in a browser build). A call that
    /// parked again leaves a hole, an empty id, until the front passes it or the list
    /// is compacted (at twice [`LEFT_MAX`] places).
    order: VecDeque<(ServerId, CompactString)>,
    /// The place number of `order`'s front: each call noted takes the next one.
    front: u32,
    /// Calls held: `order` less its holes.
    live: usize,
    prints: Prints,
    /// foldhash, seeded at random on native targets (a server cannot choose ids that
    /// share fingerprints; on wasm32-unknown-unknown its seeds are fixed, see
    /// `book.rs`, and such ids only lengthen their probes).
    seed: foldhash::fast::RandomState,
}

impl LeftCalls {
    /// `uid` left its space (a live leave).
    pub(super) fn note(&mut self, server: ServerId, uid: &str) {
        let p = self.print(server, uid);
        if uid.is_empty() || self.find(p, server, uid).is_some() {
            return;
        }
        if self.live == LEFT_MAX {
            self.forget_oldest();
        }
        if self.order.len() >= 2 * LEFT_MAX {
            self.compact(None);
        }
        let place = self.front.wrapping_add(self.order.len() as u32);
        self.order.push_back((server, uid.into()));
        self.prints.insert(p, place);
        self.live += 1;
    }

    /// `uid` parked (again): a list may name it.
    pub(super) fn parked(&mut self, server: ServerId, uid: &str) {
        let p = self.print(server, uid);
        let Some(place) = self.find(p, server, uid) else { return };
        if let Some(hole) = self.order.get_mut(place.wrapping_sub(self.front) as usize) {
            hole.1 = CompactString::default();
        }
        self.prints.remove(p, place);
        self.live -= 1;
        self.drop_front_holes();
    }

    /// Holes at the front go at once: the front is always a call held.
    fn drop_front_holes(&mut self) {
        while self.order.front().is_some_and(|(_, u)| u.is_empty()) {
            self.order.pop_front();
            self.front = self.front.wrapping_add(1);
        }
    }

    /// True when `server`'s `uid` left since its link came up.
    pub(super) fn contains(&self, server: ServerId, uid: &str) -> bool {
        self.find(self.print(server, uid), server, uid).is_some()
    }

    /// The place of `server`'s `uid` (fingerprint `p`) in `order` (never for an
    /// empty id).
    fn find(&self, p: u32, server: ServerId, uid: &str) -> Option<u32> {
        if uid.is_empty() {
            return None;
        }
        self.prints.find(p, |place| {
            let at = place.wrapping_sub(self.front) as usize;
            self.order.get(at).is_some_and(|(s, u)| *s == server && u == uid)
        })
    }

    /// The fingerprint of `server`'s `uid` (never 0: an empty slot).
    fn print(&self, server: ServerId, uid: &str) -> u32 {
        (self.seed.hash_one((server, uid)) as u32).max(1)
    }

    /// The oldest call held (the front) is forgotten, and the holes after it.
    fn forget_oldest(&mut self) {
        if let Some((s, u)) = self.order.pop_front() {
            debug_assert!(!u.is_empty(), "the front is a call held");
            let place = self.front;
            self.front = self.front.wrapping_add(1);
            let p = self.print(s, &u);
            self.prints.remove(p, place);
            self.live -= 1;
        }
        self.drop_front_holes();
    }

    /// `order` without its holes (and without `server`'s calls, when named), its
    /// places numbered again from 0 and the table made anew.
    fn compact(&mut self, server: Option<ServerId>) {
        self.order.retain(|(o, u)| !u.is_empty() && server != Some(*o));
        self.front = 0;
        // The table's slots emptied in place (no new 64 KiB).
        let mut prints = std::mem::take(&mut self.prints);
        prints.0.fill(0);
        for (place, (s, u)) in self.order.iter().enumerate() {
            prints.insert(self.print(*s, u), place as u32);
        }
        self.prints = prints;
        self.live = self.order.len();
    }

    /// The link to `server` (every server when `None`) was lost: what left before it
    /// says nothing about the next list.
    pub(super) fn forget(&mut self, server: Option<ServerId>) {
        match server {
            None => *self = Self::default(),
            // A link lost again and again (a hostile amiws can send logins) costs a
            // walk of the list, not a new table, when the server holds nothing here.
            Some(s) if !self.order.iter().any(|(o, _)| *o == s) => {}
            Some(_) => self.compact(server),
        }
    }

    /// Calls held.
    pub(super) fn len(&self) -> usize {
        self.live
    }
}

/// The fingerprints of the calls held, each with its call's place in `order`:
/// open addressing with linear probing in twice [`LEFT_MAX`] slots (at most half
/// full), a slot the fingerprint in its high half and the place in its low half (0:
/// empty), deletion by shifting back (no tombstones). A few lines of code, so a
/// park's path stays small in the instruction cache.
#[derive(Default)]
struct Prints(Vec<u64>);

/// The slots of [`Prints`] (a power of two).
const SLOTS: usize = 2 * LEFT_MAX;

fn home(p: u32) -> usize {
    p as usize & (SLOTS - 1)
}

impl Prints {
    /// The first place with fingerprint `p` that `is` accepts.
    fn find(&self, p: u32, mut is: impl FnMut(u32) -> bool) -> Option<u32> {
        let mut i = home(p);
        loop {
            let v = *self.0.get(i)?;
            if v == 0 {
                return None;
            }
            if (v >> 32) as u32 == p && is(v as u32) {
                return Some(v as u32);
            }
            i = (i + 1) & (SLOTS - 1);
        }
    }

    /// Adds fingerprint `p` (never 0) at `place` (at most [`LEFT_MAX`] are held: an
    /// empty slot is always found).
    fn insert(&mut self, p: u32, place: u32) {
        if self.0.is_empty() {
            self.0 = vec![0; SLOTS];
        }
        let mut i = home(p);
        while self.0[i] != 0 {
            i = (i + 1) & (SLOTS - 1);
        }
        self.0[i] = u64::from(p) << 32 | u64::from(place);
    }

    /// Takes `p` at `place` away (when held): the slots after it that probed past it
    /// move back, so every held print stays reachable from its home.
    fn remove(&mut self, p: u32, place: u32) {
        let want = u64::from(p) << 32 | u64::from(place);
        let mut i = home(p);
        loop {
            match self.0.get(i) {
                Some(&v) if v == want => break,
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
            let h = home((v >> 32) as u32);
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
        for (n, o) in ops.iter().enumerate() {
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
            assert!(left.order.len() <= 2 * LEFT_MAX, "bounded: {}", left.order.len());
            if left.order.len() > 64 && n % 101 != 0 {
                continue; // the walks below, in a long run, now and then
            }
            assert_eq!(left.prints.held(), left.len(), "each call's fingerprint held once, after {o:?}");
            let held = left.order.iter().filter(|(_, u)| !u.is_empty()).count();
            assert_eq!(held, left.len(), "the calls held are the list less its holes, after {o:?}");
            for (k, (s, u)) in left.order.iter().enumerate() {
                let place = left.front.wrapping_add(k as u32);
                if !u.is_empty() {
                    let found = left.prints.find(left.print(*s, u), |p| p == place);
                    assert_eq!(found, Some(place), "reachable at its place, after {o:?}");
                }
            }
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
        left.note(1, "1700000000.3");
        let other = left.print(1, "1700000000.2");
        assert!(!left.contains(1, "1700000000.2"));
        // The second id's fingerprint held at the first call's place (as a shared
        // fingerprint would be, for 1 id in ~2^32 by chance): found, then told apart
        // by the id at that place.
        left.prints.insert(other, left.front);
        assert!(!left.contains(1, "1700000000.2"), "a fingerprint found is confirmed by the id");
        left.parked(1, "1700000000.2");
        assert!(left.contains(1, "1700000000.1"), "the park of another call takes nothing away");
        assert_eq!((left.len(), left.prints.held()), (2, 3));
        // The two real calls are each found at their own place.
        left.parked(1, "1700000000.3");
        assert!(left.contains(1, "1700000000.1") && !left.contains(1, "1700000000.3"));
    }

    /// A call noted again, and the calls a list names, are found at their place in
    /// the list, whatever its length: the fingerprint's place is checked, the list is
    /// not walked (a walk from the front made each such answer cost microseconds).
    #[test]
    fn a_held_call_is_found_at_its_place() {
        let mut left = LeftCalls::default();
        for u in 1..=LEFT_MAX as u16 {
            left.note(1, &uid(u));
        }
        let newest = uid(LEFT_MAX as u16);
        let p = left.print(1, &newest);
        let mut asked = 0;
        let last = left.front.wrapping_add(LEFT_MAX as u32 - 1);
        let found = left.prints.find(p, |place| {
            asked += 1;
            place == last
        });
        assert_eq!((found, asked), (Some(last), 1), "one place looked at");
        left.note(1, &newest);
        assert_eq!(left.len(), LEFT_MAX, "a call noted again is held once");
    }

    /// Calls that park again leave holes; the list is compacted before it passes
    /// twice the cap, and the calls still held are found after it.
    #[test]
    fn holes_are_compacted_and_the_rest_is_found() {
        let mut left = LeftCalls::default();
        left.note(1, &uid(1));
        // Three calls in four park again: the holes pass the cap, the calls held do not.
        let mut most = 0;
        for u in 2..16_000 {
            left.note(1, &uid(u));
            if u % 4 != 0 {
                left.parked(1, &uid(u));
            }
            most = most.max(left.order.len());
            assert!(left.order.len() <= 2 * LEFT_MAX);
        }
        assert_eq!((most, left.len()), (2 * LEFT_MAX, 1 + 15_999 / 4), "compacted at twice the cap");
        assert!(left.contains(1, &uid(1)), "the first call, behind every hole");
        assert!(left.contains(1, &uid(15_996)) && !left.contains(1, &uid(15_997)));
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
        let mut model: Vec<(u32, u32)> = Vec::new();
        for step in 0..40_000 {
            let r = next();
            // Few homes, near the end of the table: long runs that wrap; few places,
            // so a fingerprint is held at several.
            let p =
                (SLOTS as u32 - 40 + (r % 80) as u32) % SLOTS as u32 + (((r >> 8) % 3) as u32 * SLOTS as u32);
            let (p, place) = (p.max(1), ((r >> 20) % 4) as u32);
            if r >> 40 & 1 == 0 && model.len() < LEFT_MAX {
                prints.insert(p, place);
                model.push((p, place));
            } else {
                prints.remove(p, place);
                if let Some(at) = model.iter().position(|&m| m == (p, place)) {
                    model.swap_remove(at);
                }
            }
            if step % 500 == 0 {
                assert_eq!(prints.held(), model.len());
            }
        }
        assert_eq!(prints.held(), model.len());
        for p in 1..(3 * SLOTS as u32) {
            for place in 0..4 {
                let held = prints.find(p, |q| q == place).is_some();
                assert_eq!(held, model.contains(&(p, place)), "{p} at {place}");
            }
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
