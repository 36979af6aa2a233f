//! The sans-IO suites: the core fed bytes and a test clock, no socket, no runtime, no
//! Asterisk (they need nothing but the sources and `testdata/`). Replays of the real
//! captures, the pitfalls of the original, the store's and the connection's contracts,
//! the property suite against the reference model, hostile input, the fuzz target's
//! scripts, and the layering check of the sources. These are the suites that judge
//! the core's mutants (`scripts/mutants`).
//!
//! `cargo test -p ami-parking-tests --test sansio` (one module: `... --test sansio model::`).

mod answers;
mod caller_of;
mod connection;
mod deadlines;
mod display;
mod forward;
mod fuzz_scripts;
mod hostile_input;
mod layers;
mod live_events;
mod long_run;
mod model;
mod model_wire;
mod park;
mod parked_call;
mod pitfalls;
mod refresh;
mod replay;
mod requests;
mod store;
mod timed;
mod ui_store;
mod unlisted_lots;
mod wire_classes;
