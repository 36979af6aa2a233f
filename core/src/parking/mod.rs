//! The parking domain: what a UI shows and what changes it.
//!
//! - [`model`]: lots, parked calls, retrievers (plain data; times as facts, with
//!   `duration`/`timeout_remaining` as functions of a `now` you pass);
//! - [`ParkingEvent`]: one event per real change;
//! - [`display`]: what a UI shows of a space at a `now` (texts, timers, classes);
//! - [`ParkingOptions`]: the seed's options (lot, refresh, poll, callbacks, filter);
//! - [`ParkingStore`]: the one writer of the state, read as futures-signals (its
//!   module docs list its rooms and what each message does to it).
//!
//! This layer reads typed messages from [`crate::wire::inbound`], never headers.

pub mod display;
pub(crate) mod event;
pub mod model;
pub(crate) mod options;
pub(crate) mod store;

pub use event::{ParkingEvent, ResyncChange};
pub use model::{CompactString, LotKey, ParkedCall, ParkingLot, Retriever, ServerId};
pub use options::{
    CallCallback, CallFilter, CallTransform, MovedCallback, NearTimeoutCallback, ParkingOptions,
    RetrievedCallback, DEFAULT_RETRIEVE_RING,
};
pub use store::{ConnectionState, EventStream, ParkedCallsSignalVec, ParkingStore, Subscription};
