//! The calls seen leaving live since their server's link came up: a list answered
//! later must not bring them back. At most [`LEFT_MAX`], the oldest forgotten first.

use crate::model::{CompactString, ServerId};
// foldhash: seeded at random on native targets (a server cannot choose colliding ids;
// on wasm32-unknown-unknown its seeds are fixed, see `book.rs`).
use foldhash::HashSet;
use std::collections::VecDeque;

/// How many calls seen leaving are remembered (the oldest is forgotten first).
pub(super) const LEFT_MAX: usize = 4096;

/// Calls seen leaving live since their server's link came up, oldest first.
#[derive(Default)]
pub(super) struct LeftCalls {
    order: VecDeque<(ServerId, CompactString)>,
    set: HashSet<(ServerId, CompactString)>,
}

impl LeftCalls {
    /// `uid` left its space (a live leave).
    pub(super) fn note(&mut self, server: ServerId, uid: &str) {
        if uid.is_empty() || !self.set.insert((server, uid.into())) {
            return;
        }
        if self.order.len() == LEFT_MAX {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        self.order.push_back((server, uid.into()));
    }

    /// `uid` parked (again): a list may name it.
    pub(super) fn parked(&mut self, server: ServerId, uid: &str) {
        if !uid.is_empty() && self.set.remove(&(server, CompactString::from(uid))) {
            self.order.retain(|(s, u)| !(*s == server && u == uid));
        }
    }

    /// True when `server`'s `uid` left since its link came up.
    pub(super) fn contains(&self, server: ServerId, uid: &str) -> bool {
        !uid.is_empty() && self.set.contains(&(server, CompactString::from(uid)))
    }

    /// The link to `server` (every server when `None`) was lost: what left before it
    /// says nothing about the next list.
    pub(super) fn forget(&mut self, server: Option<ServerId>) {
        match server {
            None => *self = Self::default(),
            Some(s) => {
                self.order.retain(|(o, _)| *o != s);
                self.set.retain(|(o, _)| *o != s);
            }
        }
    }

    pub(super) fn len(&self) -> usize {
        self.order.len()
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
