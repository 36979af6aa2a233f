//! # ami-parking
//!
//! A sans-IO core that turns Asterisk's call-parking traffic into reactive state.
//! AMI bytes (TCP) or amiws JSON frames go in; parking state comes out as
//! [futures-signals](futures_signals) (lots map, parked-call vec, totals), plus
//! [`ParkingEvent`]s and request answers. No sockets, no runtime, no clock: time is
//! always a parameter ([`Timestamp`]). It builds for `wasm32-unknown-unknown`.
//!
//! ```
//! use ami_parking::{Connection, ConnectionConfig, Output, Timestamp};
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
//! ```
//!
//! Crate map: [`ami_codec`] (raw AMI framing), [`amiws`] (amiws frames),
//! [`Connection`] (the state machine), [`ParkingStore`] (the signals), [`model`]
//! (lots and calls), [`ParkingEvent`], [`ParkingOptions`].

#![forbid(unsafe_code)]

mod action;
pub mod ami_codec;
pub mod amiws;
mod connection;
mod error;
mod escape;
mod event;
mod message;
pub mod model;
mod options;
#[cfg(feature = "sim")]
pub mod sim;
mod store;
mod time;

pub use action::Action;
pub use connection::{
    AuthMethod, Connection, ConnectionConfig, Mode, Output, Reply, Request, RequestId, Secret, Target,
};
pub use error::{ConnectionError, ParkingError};
pub use escape::unescape_c;
pub use event::{ParkingEvent, ResyncChange};
pub use message::Message;
pub use model::{LotKey, ParkedCall, ParkingLot, Retriever, ServerId};
pub use options::{CallCallback, CallFilter, CallTransform, ParkingOptions, RetrievedCallback};
pub use store::{ConnectionState, EventStream, ParkingStore, Subscription};
pub use time::Timestamp;

/// Re-export of futures-signals, so users name the same version.
pub use futures_signals;
