//! # ami-parking-leptos
//!
//! Asterisk call parking as Leptos signals: [`use_ami_parking`] binds any
//! [`ParkingClient`](ami_parking::ParkingClient) (the tokio `Client`, the browser
//! `WebClient`) to `reactive_graph` signals, the same ones Leptos 0.8 uses. Built on
//! `reactive_graph` and `any_spawner`, not on the whole `leptos` crate; the
//! components (feature `components`) pull `leptos`.
//!
//! Rooms: `bridge` (futures-signals to Leptos signals, one local task per view,
//! aborted with the owner), `hook` ([`use_ami_parking`] and [`UseAmiParking`]),
//! `components` (the seed's grid, dashboard and warning list).

#![forbid(unsafe_code)]

mod bridge;
#[cfg(feature = "components")]
pub mod components;
mod hook;

pub use bridge::{GridCell, LeptosSignals};
pub use hook::{use_ami_parking, UseAmiParking};
