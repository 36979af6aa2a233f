//! # ami-parking-dioxus
//!
//! Asterisk call parking as Dioxus signals: [`use_ami_parking`] binds any
//! [`ParkingClient`](ami_parking::ParkingClient) (the tokio `Client`, the browser
//! `WebClient`) to `dioxus-signals`, with tasks spawned in the component's scope and
//! cancelled with it. Built on `dioxus-core` and `dioxus-signals` (its hooks are `dioxus-core`'s `use_hook`);
//! the components (feature `components`) pull dioxus's `rsx!` and html.
//!
//! Rooms: `bridge` (futures-signals to Dioxus signals, one scoped task per view),
//! `hook` ([`use_ami_parking`], [`use_lot_grid`], [`use_lot_calls`],
//! [`use_parking_event`]), `components` (the seed's grid, dashboard and
//! warning list; the park forms; `TextField`, a text field safe in a live view).

#![forbid(unsafe_code)]

mod bridge;
#[cfg(feature = "components")]
pub mod components;
mod hook;

pub use bridge::{DioxusSignals, GridCell};
pub use hook::{
    use_ami_parking, use_futures_signal, use_lot_calls, use_lot_grid, use_parking_event, UseAmiParking,
};
