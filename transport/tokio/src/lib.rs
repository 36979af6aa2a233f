//! # ami-parking-transport
//!
//! Drives the sans-IO [`ami_parking`] core over real links: raw AMI over TCP
//! (`tcp://user[:secret]@host[:5038]`) or TLS (`tls://`, rustls), and amiws over
//! WebSocket (`ws://`, `wss://`: tungstenite's handshake, then a frame layer that
//! takes amiws's text frames as bytes, since amiws writes non-UTF-8 caller names
//! into them; the frame codec is sans-IO: [`ws_codec`]). One tokio task owns the socket
//! and the state machine; [`Client`] is a cloneable handle with the core's requests
//! as async methods and the store's signals. The task reconnects with capped
//! exponential backoff and jitter, resyncs after every (re)login, fails pending
//! requests as soon as the link drops, and logs off on shutdown.
//!
//! The secret may come from the URL, [`ClientOptions::secret`] or `AMI_SECRET`; it
//! never appears in Debug output, logs or errors.

#![doc(test(attr(deny(unused_imports, unused_variables))))]
#![forbid(unsafe_code)]

pub mod admission;
mod client;
mod clock;
mod command;
#[cfg(feature = "demo")]
pub mod demo;
mod driver;
mod endpoint;
mod link;
mod messages;
#[cfg(feature = "nats")]
pub mod nats;
#[cfg(feature = "nats")]
mod nats_url;
mod options;
mod shutdown;
mod stream;
mod ws;
pub mod ws_codec;

pub use ami_parking::AuthMethod;
pub use ami_parking::Backoff;
pub use ami_parking::ParkingClient;
pub use client::{Client, ServersError};
pub use clock::now;
pub use endpoint::{percent_decode, Endpoint, EndpointError, Scheme};
pub use link::connect_ami;
pub use messages::{CallsThrough, MessageStream, ServerMessage, MESSAGES_QUEUE, MESSAGES_QUEUE_MAX};
pub use options::ClientOptions;
pub use shutdown::{shutdown_signal, ShutdownSignal};
pub use stream::{BoxIo, Io};
