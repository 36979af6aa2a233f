//! # ami-parking
//!
//! A sans-IO core that turns Asterisk's call-parking traffic into reactive state.
//! AMI bytes (TCP) or amiws JSON frames go in; parking state comes out as
//! [futures-signals](futures_signals) (lots map, parked-call vec, totals), plus
//! [`ParkingEvent`]s and request answers. No sockets, no runtime, no clock: time is
//! always a parameter ([`Timestamp`]). It builds for `wasm32-unknown-unknown`.
//!
//! A raw AMI link (the feature `raw-ami`, on by default):
//!
//! ```
//! # #[cfg(feature = "raw-ami")] {
//! use ami_parking::{Connection, ConnectionConfig, Timestamp};
//! let t = Timestamp::from_unix_millis(1_000);
//! let mut conn = Connection::new(ConnectionConfig::ami("amiuser", "secret"), t);
//! conn.handle_connected(t);
//! conn.handle_input(t, b"Asterisk Call Manager/11.0.0\r\n").unwrap();
//! let login = conn.poll_transmit().unwrap();            // write this to the socket
//! assert!(login.starts_with(b"Action: Login\r\n"));
//! let id = std::str::from_utf8(&login).unwrap().lines().find_map(|l| l.strip_prefix("ActionID: ")).unwrap().to_owned();
//! let reply = format!("Response: Success\r\nActionID: {id}\r\nMessage: Authentication accepted\r\n\r\n");
//! conn.handle_input(t, reply.as_bytes()).unwrap();
//! assert!(conn.is_logged_in());
//! // auto_refresh asked for the lots and the calls:
//! assert!(conn.poll_transmit().unwrap().starts_with(b"Action: Parkinglots\r\n"));
//! assert!(conn.store().is_loading_now());
//! # }
//! ```
//!
//! # Rooms
//! Layers, each a folder, each knowing only the ones below it
//! (`time` < [`model`] < [`wire`] < `error` < `store` < `connection` < `client` < `sim`):
//! - [`model`]: plain data: lots, parked calls, retrievers, [`ParkingEvent`]s and
//!   [`display`] (what a UI shows of a space at a `now`);
//! - [`wire`]: bytes and frames to typed messages (AMI framing, amiws frames,
//!   messages and actions, C-escaping, and the classification of every message the
//!   core acts on: [`wire::inbound`]);
//! - `error`: [`ParkingError`] (what a caller matches on) and [`ConnectionError`];
//! - `store`: the [`ParkingStore`] that turns typed messages into signals, and its
//!   [`ParkingOptions`];
//! - `connection`: the [`Connection`] state machine, a façade of `handle_*` and
//!   `poll_*` methods over one file per piece of state (login, ActionIDs, requests,
//!   target, lists, fan-out, refresh, keep-alive, timers);
//! - `client`: [`ParkingClient`], the one request API every driver (tokio, the
//!   browser, the model) offers.
//!
//! Under them all, with `time` and `backoff`: `small_map`, the sorted-`VecDeque` maps
//! and sets of the store's and connection's small tables.
//!
//! Beside them, `sim` (feature `sim`) is the reference model of Asterisk's
//! res_parking: the PBX, one function per action, and the wire builders the tests use;
//! `testkit` (feature `testkit`) gives your tests what ours use: a capture replayed
//! into a store (`testkit::replay_ami`), property steps against the model, the
//! store's invariant checks.

#![doc(test(attr(deny(unused_imports, unused_variables))))]
#![forbid(unsafe_code)]

mod backoff;
mod client;
mod connection;
mod error;
pub mod model;
#[cfg(feature = "sim")]
pub mod sim;
mod small_map;
mod store;
#[cfg(feature = "testkit")]
pub mod testkit;
mod time;
pub mod wire;

pub use backoff::{Backoff, Reconnect, REFUSED_LOGIN, STABLE_LINK};
pub use client::{
    local_client, Answer, Apply, Changes, LocalClient, LocalFuture, MovedTo, ParkedAt, ParkedCaller,
    ParkingClient, ParkingSignals, RequestResult, RetrievedFrom, SendFuture, SignalFamily, SignalValue,
};
pub use connection::{
    pick_caller, pick_server, AuthMethod, Connection, ConnectionConfig, ConnectionSizes, Mode, Output, Park,
    ParkTimeout, Reply, Request, RequestId, Secret, Target,
};
pub use error::{ConnectionError, ParkingError};
pub use model::display;
pub use model::{
    ChannelStatus, CompactString, Events, EventsIntoIter, LotKey, ParkedCall, ParkingEvent, ParkingLot,
    ResyncChange, Retriever, ServerId,
};
pub use store::{
    apply_map_diff, CallCallback, CallFilter, CallTransform, ConnectionState, EventStream, MovedCallback,
    NearTimeoutCallback, ParkedCallsSignalVec, ParkingLotsSignalMap, ParkingOptions, ParkingStore,
    RetrievedCallback, StoreSizes, Subscription, DEFAULT_RETRIEVE_RING, RESYNC_SETTLE,
};
pub use time::Timestamp;
pub use wire::{ami_codec, amiws, unescape_c, Action, Message};

/// Re-export of futures-signals, so users name the same version.
pub use futures_signals;
