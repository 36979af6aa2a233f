//! The page: a header with the user, the total and each server's connection; the
//! lots the user sees as grids of spaces; beside them the near-timeout warnings, where
//! retrieves ring, and the park form. A viewer's page has no controls at all (no
//! form, no clickable cell, so no handler a forged event could reach; its screens
//! share one render, which reads no browser's events: [`crate::shared_page`]); the
//! [`Desk`] checks every action again on the server.

use crate::desk::Desk;
use crate::grid::{LotGrid, Warnings};
use crate::my_desk::{MoveForm, MyDesk};
use crate::park_form::ParkForm;
use ami_parking::display::caller;
use ami_parking::{ConnectionState, LotKey, ParkingEvent, ServerId};
use ami_parking_dioxus::{use_ami_parking, use_futures_signal, use_parking_event, UseAmiParking};
use ami_parking_transport::Client;
use dioxus::prelude::*;
use std::collections::HashMap;

/// What the page is given.
#[derive(Clone)]
pub struct Props {
    /// The user at this page, and the one way to act.
    pub desk: Desk,
    /// Where retrieves ring by default on a board without logins.
    pub retrieve_to: String,
}

impl PartialEq for Props {
    fn eq(&self, other: &Self) -> bool {
        self.desk == other.desk && self.retrieve_to == other.retrieve_to
    }
}

/// The board.
pub fn board(props: Props) -> Element {
    let desk = props.desk.clone();
    let client = desk.client.clone();
    let parking = use_ami_parking(|| client.clone());
    let retrieve_to = use_signal(|| props.retrieve_to.clone());
    let mut beeps = use_signal(|| 0u64);
    // What a screen reader hears (a polite live region): parks, retrieves, moves,
    // near-timeouts of the user's lots.
    let mut announce = use_signal(String::new);
    let watcher = desk.clone();
    use_parking_event(parking, move |e| {
        let call = e.call();
        if !watcher.sees(&call.parking_lot) {
            return;
        }
        let (lot, space, who) = (&call.parking_lot, call.parking_space, caller(call));
        let said = match e {
            ParkingEvent::Parked { .. } => format!("{who} parked in {lot} space {space}"),
            ParkingEvent::Retrieved { retriever, .. } => {
                format!("{who} in {lot} space {space} retrieved by {}", retriever.channel)
            }
            ParkingEvent::NearTimeout { .. } => {
                // board.js beeps when this counter moves.
                *beeps.write() += 1;
                format!("{who} in {lot} space {space} is about to time out")
            }
            ParkingEvent::TimedOut { .. } => format!("{who} in {lot} space {space} timed out"),
            ParkingEvent::GaveUp { .. } => format!("{who} in {lot} space {space} hung up"),
            ParkingEvent::Moved { .. } => format!("{who} moved to {lot} space {space}"),
            _ => return,
        };
        announce.set(said);
    });
    // What the page itself reads changes rarely (the lots there are, the links): the
    // counts, the live region and the beeps are read by small components of their own,
    // so an event renders those and the lot it changed, not the whole page again (for
    // every viewer: `cargo bench -p parkboard --bench viewer_cost`).
    let lot_keys = use_memo({
        let desk = desk.clone();
        move || parking.parking_lots.read().keys().filter(|k| desk.sees(&k.name)).cloned().collect::<Vec<_>>()
    });
    let lots: Vec<LotKey> = lot_keys.read().clone();
    let links = desk.client.links_now().len();
    let states: Vec<ReadSignal<ConnectionState>> =
        (0..links).map(|link| use_link_state(desk.client.clone(), link)).collect();
    // When each link was last logged in, while it is not.
    let mut down_since: Signal<HashMap<usize, String>> = use_signal(HashMap::new);
    let watched = states.clone();
    use_effect(move || {
        for (link, state) in watched.iter().enumerate() {
            let up = *state.read() == ConnectionState::LoggedIn;
            let known = down_since.peek().contains_key(&link);
            if up && known {
                down_since.write().remove(&link);
            } else if !up && !known {
                let when = chrono::Local::now().format("%H:%M").to_string();
                down_since.write().insert(link, when);
            }
        }
    });
    let stale_of = |server: ServerId| -> Option<String> {
        let link = if links == 1 { 0 } else { (server as usize).saturating_sub(1) };
        down_since.read().get(&link).cloned()
    };
    let incomplete = !down_since.read().is_empty();
    let to = desk.destination(&retrieve_to());
    let logged_in = desk.logged_in();
    let area_class = if desk.acts() { "lots-area" } else { "lots-area view-only" };
    // "Park my caller" parks into the default lot when the user sees it, else their first.
    let my_lot = lots.iter().find(|k| &*k.name == "default").or(lots.first()).cloned();
    rsx! {
        header { class: "board-head",
            h1 { "Call parking" }
            ParkedTotal { parking, desk: desk.clone(), incomplete }
            for (link, state) in states.into_iter().enumerate() {
                ServerBadge { key: "{link}", client: desk.client.clone(), link, state }
            }
            if desk.history_link() {
                a { class: "history-link", id: "history-link", href: "/history", "History" }
            }
            if logged_in {
                span { class: "who",
                    span { class: "user", "{desk.who.name}" }
                    span { class: "role", "{desk.who.role.as_str()}" }
                    form { method: "post", action: "/logout", button { r#type: "submit", "Log out" } }
                }
            }
        }
        if desk.acts() {
            MyDesk { parking, desk: desk.clone(), lot: my_lot, typed_phone: retrieve_to }
        }
        LiveRegion { said: announce }
        main { class: "board-body",
            div { class: area_class,
                if lots.is_empty() {
                    p { class: "empty-board", "No parking lots yet: waiting for Asterisk's Parkinglots answer." }
                }
                for lot in lots {
                    LotGrid { key: "{lot.server_id}/{lot.name}", parking, desk: desk.clone(), lot: lot.clone(), retrieve_to: to.clone(), stale: stale_of(lot.server_id) }
                }
            }
            aside { class: "controls",
                Warnings { parking, desk: desk.clone() }
                if !desk.acts() {
                    div { class: "panel view-panel",
                        h2 { "View only" }
                        div { class: "hint", "You can watch the lots; parking and retrieving need an operator login." }
                    }
                }
                if desk.acts() {
                    MoveForm { parking, desk: desk.clone() }
                    if !desk.scoped() {
                        ParkForm { parking, desk: desk.clone() }
                    }
                }
            }
        }
        Beeps { beeps }
    }
}

/// The number of calls parked in the user's lots.
#[component]
fn ParkedTotal(parking: UseAmiParking, desk: Desk, incomplete: bool) -> Element {
    // A memo: an event in a lot the user does not see renders nothing.
    let total = use_memo(move || {
        if desk.who.lots.is_none() {
            parking.total_parked_calls.read().to_owned()
        } else {
            parking.parked_calls.read().iter().filter(|c| desk.sees(&c.parking_lot)).count()
        }
    });
    let total = total();
    rsx! {
        if incomplete {
            span { class: "total incomplete", title: "A server is down: its lots show what was last known", "{total} parked (incomplete)" }
        } else {
            span { class: "total", "{total} parked" }
        }
    }
}

/// What a screen reader hears (a polite live region).
#[component]
fn LiveRegion(said: Signal<String>) -> Element {
    rsx! { div { id: "announce", class: "sr-only", "aria-live": "polite", "{said}" } }
}

/// The near-timeout counter board.js beeps on.
#[component]
fn Beeps(beeps: Signal<u64>) -> Element {
    rsx! { div { id: "beeps", "data-beeps": "{beeps}" } }
}

/// Link `link`'s state, live.
fn use_link_state(client: Client, link: usize) -> ReadSignal<ConnectionState> {
    let c = client.clone();
    use_futures_signal(
        move || client.links_now().get(link).map_or(ConnectionState::Stopped, |(_, s)| s.clone()),
        move || match c.link_state(link) {
            Some(s) => Box::new(Box::pin(s)),
            None => Box::new(ami_parking::futures_signals::signal::always(ConnectionState::Stopped)),
        },
    )
}

/// One server's connection, always visible.
#[component]
fn ServerBadge(client: Client, link: usize, state: ReadSignal<ConnectionState>) -> Element {
    let endpoint = client.endpoints().nth(link).cloned();
    let (host, port) = endpoint.as_ref().map_or((String::new(), 0), |e| (e.host.clone(), e.port));
    // Host and port only: the AMI user's name is not the page's business.
    let shown = format!("{host}:{port}");
    let state = state();
    let class = match state {
        ConnectionState::LoggedIn => "server up",
        ConnectionState::Connecting | ConnectionState::LoggingIn => "server",
        ConnectionState::Disconnected | ConnectionState::Stopped | ConnectionState::Reconnecting { .. } => {
            "server down"
        }
    };
    let text = state.to_string();
    rsx! {
        span { class, "data-endpoint": "{shown}",
            span { class: "dot" }
            "{host}:{port} · {text}"
        }
    }
}
