//! The strategies the project's property suite draws its scripts from: the same
//! weights, the same ranges (lot 2 of server 1, a two-space lot in the suite's model,
//! half the time, so that lots fill).

use super::Step;
use proptest::prelude::*;
use std::ops::Range;

/// One step for a PBX of `servers` servers (1 on raw AMI, 2 behind amiws).
///
/// ```
/// use ami_parking::testkit::proptest::strategy::{Strategy, ValueTree};
/// use ami_parking::testkit::proptest::test_runner::TestRunner;
/// use ami_parking::testkit::{strategy, Step};
/// let mut runner = TestRunner::deterministic();
/// let step = strategy::step(1).new_tree(&mut runner).unwrap().current();
/// assert!(!matches!(step, Step::Park { server: 2, .. }), "one server: server 1 only");
/// ```
pub fn step(servers: u32) -> BoxedStrategy<Step> {
    let n = servers.max(1);
    let space = |p| prop::option::weighted(p, 0..10u32);
    prop_oneof![
        6 => (1..=n, prop_oneof![0..3usize, Just(2)], prop::option::weighted(0.3, 701u32..=725))
            .prop_map(|(server, lot, preferred)| Step::Park { server, lot, preferred }),
        1 => (1..=n, 0..super::DYNAMIC_LOTS.len()).prop_map(|(server, lot)| Step::DynamicPark { server, lot }),
        2 => (1..=n, any::<usize>()).prop_map(|(server, pick)| Step::Retrieve { server, pick }),
        2 => (1..=n, any::<usize>()).prop_map(|(server, pick)| Step::GiveUp { server, pick }),
        1 => (1..=n, any::<usize>()).prop_map(|(server, pick)| Step::Swap { server, pick }),
        2 => (1..=n, any::<usize>()).prop_map(|(server, pick)| Step::Reuse { server, pick }),
        1 => (1..=n, any::<usize>(), 0..3usize, space(0.5))
            .prop_map(|(server, pick, lot, space)| Step::Move { server, pick, lot, space }),
        1 => (1..=n, any::<usize>(), 0..3usize, space(0.5))
            .prop_map(|(server, pick, lot, space)| Step::ClientMove { server, pick, lot, space }),
        3 => (0u64..40).prop_map(|secs| Step::Wait { secs }),
        2 => prop::option::of(0..3usize).prop_map(|lot| Step::Refresh { lot }),
        3 => (1..=n, prop::option::weighted(0.3, 0..3usize))
            .prop_map(|(server, lot)| Step::HeldRefresh { server, lot }),
        4 => any::<bool>().prop_map(|half| Step::Deliver { half }),
        2 => (1..=n, prop_oneof![0..3usize, Just(2)], space(0.4), prop::bool::weighted(0.2))
            .prop_map(|(server, lot, space, never)| Step::ClientPark { server, lot, space, never }),
        2 => (1..=n, any::<usize>()).prop_map(|(server, pick)| Step::ClientRetrieve { server, pick }),
        1 => Just(Step::Disconnect),
        2 => Just(Step::Reconnect),
        1 => (1..=n).prop_map(|server| Step::CleanRestart { server }),
        1 => (1..=n).prop_map(|server| Step::Crash { server }),
        2 => any::<u64>().prop_map(|seed| Step::Rechunk { seed }),
    ]
    .boxed()
}

/// A script of `len` steps for a PBX of `servers` servers.
pub fn script(servers: u32, len: Range<usize>) -> BoxedStrategy<Vec<Step>> {
    prop::collection::vec(step(servers), len).boxed()
}

/// A chunking of a capture: whole, byte by byte, or random chunks of up to 1 to 64
/// bytes (the seed makes it repeatable).
pub fn chunking() -> BoxedStrategy<super::Chunking> {
    use super::Chunking;
    prop_oneof![
        Just(Chunking::Whole),
        Just(Chunking::Bytes),
        (any::<u64>(), 1usize..=64).prop_map(|(seed, max)| Chunking::Random { seed, max }),
    ]
    .boxed()
}
