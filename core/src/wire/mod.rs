//! The wire: what crosses the socket, and nothing else.
//!
//! - [`ami_codec`]: raw AMI framing (an incremental decoder, an action encoder);
//! - [`amiws`]: the JSON frames of the amiws proxy (a lenient decoder, an encoder);
//! - [`Message`] and [`Action`]: one AMI message or action as ordered headers;
//! - [`unescape_c`]: Asterisk's C-escaping of caller names undone;
//! - [`inbound`]: every message the core acts on, classified **once** into a typed
//!   [`Inbound`] (live parking events, list items and ends, responses). Nothing above
//!   this layer looks at a header name.
//! - the parsers of the parking blocks ([`ParkedCall::from_headers`](crate::ParkedCall::from_headers),
//!   [`ParkingLot::from_message`](crate::ParkingLot::from_message),
//!   [`Retriever::from_message`](crate::Retriever::from_message)) live in `fields.rs`,
//!   the perfect hash of their header names in `field_names.rs`; a raw message is cut
//!   into its header lines in `header_lines.rs`.
//!
//! This layer knows nothing of connections or stores.

pub(crate) mod action;
pub mod ami_codec;
pub mod amiws;
pub(crate) mod escape;
pub(crate) mod field_names;
pub(crate) mod fields;
mod header_lines;
pub mod inbound;
pub(crate) mod message;

pub use action::Action;
pub use escape::unescape_c;
pub use inbound::{Inbound, LiveEvent, LiveKind};
pub use message::Message;
