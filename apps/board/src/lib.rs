//! # parkboard
//!
//! The live parking board: every lot of every server as a grid of spaces with caller,
//! live countdown and the warning before timeout; the near-timeout alert (visible,
//! and audible where the browser allows); park (channel, lot, timeout) and retrieve
//! (click a call; it rings the user's phone) from the page, with the result or the
//! error; each server's connection always visible. Rendered on the server with
//! Dioxus liveview over axum (no wasm toolchain).
//!
//! Deployable in an office: users with argon2id passwords and roles (viewers watch,
//! operators park into their lots and retrieve to their own phone), lot scopes,
//! same-origin only, TLS, an audit trail, `/healthz` and Prometheus metrics. Without
//! users it serves loopback only, without a login (the demo).
//!
//! Rooms: `config` (the file and flags, checked before anything listens), `users`
//! (who, roles, password hashes), `sessions` (logins kept in memory, the throttle),
//! `guard` (Host, Origin, security headers), `login` (the login routes), `desk` (the
//! one way a page acts: checks and audit), `audit`, `metrics` and `metrics_http`,
//! `ui`, `grid`, `page_socket` (the page's end of a liveview socket), `shared_page`
//! (one render for a viewer's screens), `history_page` (the History page and its
//! CSV), `my_desk` (park my caller, retrieve the longest waiting, move) and
//! `park_form` (the page), `assets` (static parts), `state` (what the routes share),
//! `web` (the routes), `tls` (https), `limits` (caps on connections), `peer` (the
//! client's address), `shutdown` (serving and closing the sockets, stopping cleanly).

#![forbid(unsafe_code)]

pub mod assets;
pub mod audit;
pub mod config;
pub mod desk;
pub mod grid;
pub mod guard;
pub mod history_page;
pub mod limits;
pub mod login;
pub mod metrics;
pub mod metrics_http;
pub mod my_desk;
pub mod page_socket;
pub mod park_form;
pub mod peer;
pub mod sessions;
pub mod shared_page;
pub mod shutdown;
pub mod state;
pub mod tls;
pub mod ui;
pub mod users;
pub mod verifier;
pub mod web;
