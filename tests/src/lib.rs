//! Shared helpers of the ami-parking test suite, one room each:
//! - `amiws_server`: WebSocket servers standing in for amiws, from its captures;
//! - `capture`: the real captures in `testdata/`, replayed through a connection;
//! - `wire`: [`Wire`], a connection driven by hand with capture-shaped text;
//! - `probe`: [`DiffProbe`], the diffs a signal vec sends; [`LotsProbe`], the lots
//!   map a UI builds from its diffs;
//! - `sandbox`: the real Asterisk sandbox, read and driven without the library;
//! - `live`: clients of the library on the sandbox (one test at a time);
//! - `measure`: polling with a deadline, a process's memory;
//! - `recorder`: the demo PBX behind a proxy recording what an app sends it;
//! - `postgres`: a private PostgreSQL started for a test;
//! - `process`: an app binary run as a child process, signalled, its exit timed;
//! - `skips`: the test ledger: which real-Asterisk, browser and NATS tests ran or skipped;
//! - `nats`: a real `nats-server` cluster on loopback ports, for the collector's tests;
//! - `pixel` (feature `browser`): Chromium noting when a page's cells show a park.

#![doc(test(attr(deny(unused_imports, unused_variables))))]
#![allow(missing_docs)]

pub mod ami_server;
pub mod amiws_server;
mod capture;
pub mod chromium;
pub mod live;
pub mod measure;
pub mod nats;
#[cfg(feature = "browser")]
pub mod pixel;
pub mod postgres;
mod probe;
pub mod process;
pub mod recorder;
pub mod sandbox;
pub mod skips;
mod wire;

pub use capture::*;
pub use probe::*;
pub use wire::*;

/// The README's Rust examples, compiled as doc tests so they stay true.
#[doc = include_str!("../../README.md")]
mod readme {}

/// The crates' own READMEs (their pages for users), compiled the same way.
#[doc = include_str!("../../core/README.md")]
mod readme_core {}
#[doc = include_str!("../../transport/tokio/README.md")]
mod readme_transport {}
#[doc = include_str!("../../transport/web/README.md")]
mod readme_web {}
#[doc = include_str!("../../bindings/leptos/README.md")]
mod readme_leptos {}
#[doc = include_str!("../../bindings/dioxus/README.md")]
mod readme_dioxus {}
