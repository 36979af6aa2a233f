//! # parkboard
//!
//! The live parking board: every lot of every server as a grid of spaces with caller,
//! live countdown and the warning before timeout; the near-timeout alert (visible,
//! and audible where the browser allows); park (channel, lot, timeout) and retrieve
//! (click a call; it rings the extension in "Retrieve to") from the page, with the
//! result or the error; each server's connection always visible. Rendered on the
//! server with Dioxus liveview over axum (no wasm toolchain).
//!
//! Rooms: `ui` (the page), `web` (the HTTP routes and the liveview socket),
//! `shutdown` (stopping cleanly); the servers are one multi-server
//! [`ami_parking_transport::Client`].

#![forbid(unsafe_code)]

pub mod shutdown;
pub mod ui;
pub mod web;
