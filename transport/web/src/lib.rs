//! # ami-parking-web
//!
//! The browser transport: feeds the sans-IO core from the browser's `WebSocket`
//! (amiws, or `ami-ws-bridge`), with the same reconnect (backoff with jitter) and
//! resync as the tokio client, so a Leptos or Dioxus web app needs no server of its
//! own. `WebClient` implements [`ParkingClient`](ami_parking::ParkingClient), so the
//! bindings' `use_ami_parking` takes it as it is.
//!
//! Built for `wasm32-unknown-unknown`; on other targets this crate is empty (use
//! `ami-parking-transport` there).
//!
//! ```text
//! use ami_parking::ParkingStore;
//! use ami_parking_web::WebClient;
//! let client = WebClient::connect("ws://127.0.0.1:8088/?token=T", ParkingStore::default());
//! // then: ami_parking_leptos::use_ami_parking(client.clone())
//! ```
//!
//! Browser facts this crate is built around: a page cannot send WebSocket pings
//! (so there is no keep-alive of our own; the server's pings are answered by the
//! browser), and callbacks that hold `Rc`s or JS values belong in the bindings'
//! `on_parking_event` (run on the page's thread), not in the store's `Send + Sync`
//! option callbacks.

#![forbid(unsafe_code)]

#[cfg(target_arch = "wasm32")]
mod client;
#[cfg(target_arch = "wasm32")]
mod socket;

#[cfg(target_arch = "wasm32")]
pub use client::{WebClient, WebOptions};
