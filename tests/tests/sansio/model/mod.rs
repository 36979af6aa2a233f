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
mod reference;
mod shrunk;
mod sut;

use ami_parking::{ParkingEvent, ResyncChange};
use proptest::test_runner::Config;
use sut::Sut;

/// One step.
#[derive(Debug, Clone)]
pub enum Op {
    /// A call parks through the dialplan.
    Park { server: u32, lot: usize, preferred: Option<u32> },
    /// A parked call is picked up from a phone.
    Retrieve { server: u32, pick: usize },
    /// A parked caller hangs up.
    GiveUp { server: u32, pick: usize },
    /// Another channel takes a parkee's place.
    Swap { server: u32, pick: usize },
    /// A call is picked up and a new one takes its space at once; the new call's
    /// `ParkedCall` comes before the old call's `UnParkedCall` (as under load).
    Reuse { server: u32, pick: usize },
    /// Simulated time passes (timeouts fire, keep-alives go out).
    Wait { secs: u64 },
    /// The client refreshes (all lots or one).
    Refresh { lot: Option<usize> },
    /// The client lists `server`'s calls (all lots or one), and the PBX holds the
    /// answer: it comes in `Deliver` steps, overtaken by live events meanwhile.
    HeldRefresh { server: u32, lot: Option<usize> },
    /// The PBX writes its oldest held answer: whole, or (`half`) its first half.
    Deliver { half: bool },
    /// The client parks a call with `park_call` on `server`: in lot `lot`, preferably at the
    /// lot's `space`-th space, without timeout when `never`.
    ClientPark { server: u32, lot: usize, space: Option<u32>, never: bool },
    /// Someone parks a parked call again in lot `lot` (preferably at its `space`-th
    /// space): Asterisk's give-up then park, one move.
    Move { server: u32, pick: usize, lot: usize, space: Option<u32> },
    /// The client moves a call with `move_call`.
    ClientMove { server: u32, pick: usize, lot: usize, space: Option<u32> },
    /// The client retrieves with `retrieve_call`.
    ClientRetrieve { server: u32, pick: usize },
    /// The link drops.
    Disconnect,
    /// The link comes back (login, resync).
    Reconnect,
    /// Asterisk shuts down cleanly (GiveUp for every call, Shutdown), then starts again.
    CleanRestart { server: u32 },
    /// kill -9 and start again: nothing is sent.
    Crash { server: u32 },
    /// Deliver the PBX's bytes to the client in these random chunks.
    Rechunk { seed: u64 },
}

impl Op {
    /// The op as `wire` can take it: raw AMI has server 1 only (a shrunk case may keep
    /// steps made for two servers when its wire shrinks to raw AMI).
    pub fn for_wire(mut self, wire: ami_parking::sim::Wire) -> Op {
        if wire == ami_parking::sim::Wire::Ami {
            match &mut self {
                Op::Park { server, .. }
                | Op::Retrieve { server, .. }
                | Op::GiveUp { server, .. }
                | Op::Swap { server, .. }
                | Op::Reuse { server, .. }
                | Op::ClientPark { server, .. }
                | Op::Move { server, .. }
                | Op::ClientMove { server, .. }
                | Op::ClientRetrieve { server, .. }
                | Op::CleanRestart { server }
                | Op::Crash { server }
                | Op::HeldRefresh { server, .. } => *server = 1,
                Op::Wait { .. }
                | Op::Refresh { .. }
                | Op::Deliver { .. }
                | Op::Disconnect
                | Op::Reconnect
                | Op::Rechunk { .. } => {}
            }
        }
        self
    }
}

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
    (kind, c.server_id, c.parking_lot.to_string(), c.parking_space, c.unique_id.to_string())
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
/// run) and the coverage table is printed at the end (`--nocapture` shows it).
#[test]
fn the_store_follows_the_model() {
    use proptest::test_runner::{FileFailurePersistence, TestRunner};
    use proptest_state_machine::{ReferenceStateMachine, StateMachineTest};
    let config = Config {
        cases: cases(),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/sansio/model/regressions.txt",
        ))),
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
