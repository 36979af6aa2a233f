//! Property tests: random sequences of PBX operations, client operations, time jumps
//! and re-chunked bytes, replayed against the reference model of res_parking
//! (`ami_parking::sim`) and the real core fed the model's bytes. After every step
//! the store equals what the client should believe (the PBX's state while connected,
//! the last state seen while not) and the event log equals the model's change log:
//! every change seen live exactly once, and what happened while away reported once
//! by the resync.
//!
//! `PROPTEST_CASES` (default 256) sets how many sequences run; each has up to 50 steps.

//!
//! The expected state lives in the reference (`reference.rs`: its own model of
//! Asterisk, what the client should believe and hear); the system under test
//! (`sut.rs`: the real core on the wire of a second model PBX) is compared with it.

#![allow(missing_docs)] // a test module

mod coverage;
mod held;
mod lot_checks;
mod reference;
mod shrunk;
mod sut;

use ami_parking::{ParkingEvent, ResyncChange};
use proptest::test_runner::Config;
use sut::Sut;

/// One step: the test kit's (`ami_parking::testkit::Step`), which users' own
/// property tests draw from the same strategies.
pub use ami_parking::testkit::Step as Op;

/// Server 1's lots: the sandbox's, and `tiny` (2 spaces) so that lots fill.
const LOTS_A: [&str; 3] = ["default", "vip", "tiny"];
const LOTS_B: [&str; 2] = ["default", "sales"];

/// An expected event, normalised: kind, server, lot, space, unique id.
pub type Ev = (&'static str, u32, String, u32, String);

pub fn ev(e: &ParkingEvent) -> Ev {
    let c = e.call();
    let kind = match e {
        ParkingEvent::Resync { change: ResyncChange::Appeared, .. } => "appeared",
        ParkingEvent::Resync { change: ResyncChange::Vanished, .. } => "vanished",
        e => e.kind(),
    };
    (kind, c.server_id, c.parking_lot.to_string(), c.parking_space, c.unique_id().to_string())
}

/// Resync findings come in the store's order; compare them as sets within a run.
pub fn normalise(evs: &[Ev]) -> Vec<Ev> {
    let mut out: Vec<Ev> = Vec::new();
    let mut run: Vec<Ev> = Vec::new();
    for e in evs {
        if e.0 == "appeared" || e.0 == "vanished" {
            run.push(e.clone());
        } else {
            run.sort();
            out.append(&mut run);
            out.push(e.clone());
        }
    }
    run.sort();
    out.append(&mut run);
    out
}

fn cases() -> u32 {
    ami_parking_tests::measure::knob("PROPTEST_CASES", 256) as u32
}

/// The seed every run uses unless `AMI_PARKING_PROPTEST_SEED` names another (a
/// number, or `random` for a fresh one): a gating run is the same run every time.
const FIXED_SEED: u64 = 0x5EED_0000_A5A5_2027;

/// The RNG seed of this run, printed so that a failure can be replayed
/// (`AMI_PARKING_PROPTEST_SEED=<seed>`).
fn seed() -> u64 {
    let seed = match std::env::var("AMI_PARKING_PROPTEST_SEED").as_deref() {
        Err(_) | Ok("") => FIXED_SEED,
        Ok("random") => {
            use std::hash::{BuildHasher, Hasher};
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u128(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_nanos(),
            );
            h.finish()
        }
        Ok(v) => v.parse().unwrap_or_else(|_| panic!("AMI_PARKING_PROPTEST_SEED={v}: a number or `random`")),
    };
    eprintln!("property suite seed: {seed} (replay with AMI_PARKING_PROPTEST_SEED={seed})");
    seed
}

/// The suite, run by hand rather than by `prop_state_machine!` so that failing seeds
/// are kept in the repository (`tests/sansio/model/regressions.txt`, replayed first on every
/// run) and the coverage table is printed at the end (`--nocapture` shows it). Under
/// mutation testing (`AMI_PARKING_MUTANTS`, set by `scripts/mutants`) a failure is a
/// mutant caught, not a seed to keep: nothing is written.
#[test]
fn the_store_follows_the_model() {
    use proptest::test_runner::{FileFailurePersistence, TestRunner};
    use proptest_state_machine::{ReferenceStateMachine, StateMachineTest};
    let persistence = if std::env::var_os("AMI_PARKING_MUTANTS").is_some() {
        FileFailurePersistence::Off
    } else {
        FileFailurePersistence::Direct("tests/sansio/model/regressions.txt")
    };
    let config = Config {
        cases: cases(),
        failure_persistence: Some(Box::new(persistence)),
        source_file: Some(file!()),
        ..Config::default()
    };
    let seed = seed();
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let rng = proptest::test_runner::TestRng::from_seed(proptest::test_runner::RngAlgorithm::ChaCha, &bytes);
    let mut runner = TestRunner::new_with_rng(config.clone(), rng);
    let result = runner.run(&reference::Model::sequential_strategy(1..50), |(initial, transitions, seen)| {
        coverage::new_case();
        Sut::test_sequential(config.clone(), initial, transitions, seen);
        Ok(())
    });
    let table = coverage::table();
    println!("{table}");
    if let Err(e) = result {
        panic!("seed {seed}: {e}");
    }
    if let Err(short) = coverage::check_minimums() {
        panic!("seed {seed}: the suite reached too little ({short}):\n{table}");
    }
}
