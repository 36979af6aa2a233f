//! The whole connection and its store, driven by a script read from the input (see
//! `ami_parking::sim::run_script`): server messages, hostile values, answers to the
//! client's actions, requests, clock steps and link drops. After every step: no
//! panic, never two calls in one space, a call inside its lot's known range, lot
//! counts equal to the calls, and no more calls, lots or servers than the caps.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = ami_parking::sim::run_script(data) {
        panic!("invariant broken: {e}");
    }
});
