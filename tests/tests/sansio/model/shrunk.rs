//! Every failure the property suite found, kept as the shrunk sequence itself: a
//! recorded seed replays a case only while the strategies and the state's shape stay
//! as they were, so each one is written out here as the steps it shrank to, on its
//! wire, and replayed against the reference as the suite does (the reference steps
//! first, then the core, then the invariants).
//!
//! A new failure: add its shrunk steps here (proptest prints them), with the fix.

use super::reference::{Model, RefState};
use super::sut::Sut;
use super::Op::{self, *};
use ami_parking::sim::Wire;
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest};

/// Replays `ops` from the suite's initial state on `wire`, checking after each step.
fn replay(wire: Wire, ops: Vec<Op>) {
    let mut state = RefState::new(wire);
    let mut h = Sut::init_test(&state);
    Sut::check_invariants(&h, &state);
    for op in ops {
        state = Model::apply(state, &op);
        h = Sut::apply(h, &state, op);
        Sut::check_invariants(&h, &state);
    }
}

/// A park on server 2 moved by the client to another lot (amiws, two servers).
#[test]
fn a_client_move_on_the_second_server() {
    replay(
        Wire::Amiws,
        vec![
            Park { server: 2, lot: 0, preferred: None },
            ClientMove { server: 2, pick: 0, lot: 1, space: None },
        ],
    );
}

/// A held list for a server raw AMI does not have (shrunk to server 1), a park and a
/// crash while it is held.
#[test]
fn a_crash_while_a_list_answer_is_held() {
    replay(
        Wire::Ami,
        vec![
            HeldRefresh { server: 2, lot: None },
            Park { server: 2, lot: 0, preferred: None },
            Crash { server: 2 },
        ],
    );
}

/// A park, then a list whose answer is held past a wait and written whole.
#[test]
fn a_held_list_answer_written_after_a_wait() {
    replay(
        Wire::Ami,
        vec![
            Park { server: 1, lot: 0, preferred: None },
            HeldRefresh { server: 1, lot: None },
            Wait { secs: 2 },
            Deliver { half: false },
        ],
    );
}

/// The same after the link dropped and came back.
#[test]
fn a_held_list_answer_after_a_reconnect() {
    replay(
        Wire::Ami,
        vec![
            Park { server: 1, lot: 0, preferred: None },
            Disconnect,
            Reconnect,
            HeldRefresh { server: 1, lot: None },
            Wait { secs: 2 },
            Deliver { half: false },
        ],
    );
}
