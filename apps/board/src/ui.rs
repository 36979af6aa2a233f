//! The page: a header with each server's connection, the near-timeout warnings (with
//! a sound where the browser allows), a park form, the extension retrieves ring, and
//! every lot of every server as a grid of spaces.

use ami_parking::{ConnectionState, LotKey, Park, ParkingClient, ParkingError, ParkingEvent, Target};
use ami_parking_dioxus::components::{ParkingLotGrid, ParkingStyles, TimeoutWarnings};
use ami_parking_dioxus::{use_ami_parking, use_futures_signal, use_parking_event, UseAmiParking};
use ami_parking_transport::Client;
use dioxus::prelude::*;
use std::time::Duration;

/// What the page is given.
#[derive(Clone)]
pub struct Props {
    /// The client of every server the board shows.
    pub client: Client,
    /// Where retrieves ring by default.
    pub retrieve_to: String,
}

const BOARD_CSS: &str = r#"
body { margin: 0; background: #f3f5f8; font-family: system-ui, sans-serif; color: #1d2733; }
header.board-head { display: flex; flex-wrap: wrap; gap: .75rem 1.5rem; align-items: center; padding: .7rem 1.2rem; background: #1d2733; color: #fff; }
header.board-head h1 { font-size: 1.25rem; margin: 0; }
header.board-head .total { font-size: 1.05rem; }
.server { display: inline-flex; gap: .4rem; align-items: center; padding: .2rem .6rem; border-radius: 999px; background: #2e3b4a; font-size: .85rem; }
.server .dot { width: .65rem; height: .65rem; border-radius: 50%; background: #9aa5b1; }
.server.up .dot { background: #3ccf6e; }
.server.down { background: #8c1d18; }
.server.down .dot { background: #ffb4ab; }
main.board-body { display: grid; grid-template-columns: minmax(0, 1fr) 20rem; gap: 1.2rem; padding: 1rem 1.2rem; }
aside.controls { display: flex; flex-direction: column; gap: 1rem; }
.panel { background: #fff; border: 1px solid #cfd6dd; border-radius: 8px; padding: .7rem .9rem; }
.panel h2 { font-size: 1rem; margin: 0 0 .5rem; }
.panel label { display: block; font-size: .85rem; margin: .35rem 0 .15rem; color: #444; }
.panel input, .panel select { width: 100%; box-sizing: border-box; padding: .35rem .4rem; font-size: .95rem; }
.panel button { margin-top: .6rem; padding: .4rem .9rem; font-size: .95rem; cursor: pointer; }
.panel .hint { font-size: .8rem; color: #666; margin-top: .3rem; }
.lots-area .parking-lot { background: #fff; border: 1px solid #cfd6dd; border-radius: 8px; padding: .7rem .9rem; }
.lots-area .server-name { font-weight: normal; color: #555; font-size: .9rem; }
.empty-board { color: #666; }
"#;

/// The board.
pub fn board(props: Props) -> Element {
    let client = props.client.clone();
    let parking = use_ami_parking(|| client.clone());
    let mut retrieve_to = use_signal(|| props.retrieve_to.clone());
    use_parking_event(parking, move |e| {
        if let ParkingEvent::NearTimeout { .. } = e {
            // Audible where the browser allows it (after a first click on the page).
            let _ = document::eval(BEEP);
        }
    });
    let lots: Vec<LotKey> = parking.parking_lots.read().keys().cloned().collect();
    let links = props.client.links_now().len();
    let total = parking.total_parked_calls;
    let to = retrieve_to();
    rsx! {
        ParkingStyles {}
        style { {BOARD_CSS} }
        header { class: "board-head",
            h1 { "Call parking" }
            span { class: "total", "{total} parked" }
            for link in 0..links {
                ServerBadge { key: "{link}", client: props.client.clone(), link }
            }
        }
        main { class: "board-body",
            div { class: "lots-area",
                if lots.is_empty() {
                    p { class: "empty-board", "No parking lots yet: waiting for Asterisk's Parkinglots answer." }
                }
                for lot in lots {
                    ParkingLotGrid { key: "{lot.server_id}/{lot.name}", parking, lot: lot.clone(), retrieve_to: to.clone() }
                }
            }
            aside { class: "controls",
                TimeoutWarnings { parking }
                div { class: "panel retrieve-panel",
                    h2 { "Retrieve to" }
                    input { id: "retrieve-to", value: "{retrieve_to}", oninput: move |e| retrieve_to.set(e.value()) }
                    div { class: "hint", "Click a parked call to ring it to this channel." }
                }
                ParkForm { parking }
            }
        }
    }
}

/// One server's connection, always visible.
#[component]
fn ServerBadge(client: Client, link: usize) -> Element {
    let c = client.clone();
    let state = use_futures_signal(
        || client.links_now().get(link).map_or(ConnectionState::Stopped, |(_, s)| s.clone()),
        move || match c.link_state(link) {
            Some(s) => Box::new(Box::pin(s)),
            None => Box::new(ami_parking::futures_signals::signal::always(ConnectionState::Stopped)),
        },
    );
    let endpoint = client.endpoints().nth(link).cloned();
    let (host, port) = endpoint.as_ref().map_or((String::new(), 0), |e| (e.host.clone(), e.port));
    let shown = endpoint.map(|e| e.to_string()).unwrap_or_default();
    let (class, text) = match state() {
        ConnectionState::LoggedIn => ("server up", "connected".to_string()),
        ConnectionState::Connecting => ("server", "connecting".into()),
        ConnectionState::LoggingIn => ("server", "logging in".into()),
        ConnectionState::Disconnected => ("server down", "disconnected".into()),
        ConnectionState::Stopped => ("server down", "stopped".into()),
        ConnectionState::Reconnecting { attempt, last_error } => {
            ("server down", format!("disconnected: {last_error} (retry {attempt})"))
        }
    };
    rsx! {
        span { class, "data-endpoint": "{shown}",
            span { class: "dot" }
            "{host}:{port} · {text}"
        }
    }
}

impl PartialEq for Props {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// Park a channel: which channel, which lot, how long.
#[component]
fn ParkForm(parking: UseAmiParking) -> Element {
    let mut channel = use_signal(String::new);
    let mut lot = use_signal(String::new);
    let mut timeout = use_signal(String::new);
    let mut outcome: Signal<Option<Result<String, ParkingError>>> = use_signal(|| None);
    let lots: Vec<LotKey> = parking.parking_lots.read().keys().cloned().collect();
    let chosen = lot();
    let park = move |_| {
        // The lot chosen, or the first one (what the select shows when none was chosen).
        let lots = lots_of(parking);
        let chosen = lot();
        let key = lots.iter().find(|k| format!("{}/{}", k.server_id, k.name) == chosen).or(lots.first());
        let Some(key) = key.cloned() else { return };
        let mut p = Park::default().lot(key.name.to_string());
        match timeout().trim() {
            "" => {}
            "never" | "0" => p = p.no_timeout(),
            t => match t.parse::<u64>() {
                Ok(s) => p = p.timeout(Duration::from_secs(s)),
                Err(_) => {
                    outcome.set(Some(Err(ParkingError::InvalidArgument(format!(
                        "timeout {t:?}: seconds, or never"
                    )))));
                    return;
                }
            },
        }
        let fut = parking.client().park_call_on(Target::Server(key.server_id), channel().trim(), p);
        spawn(async move {
            outcome.set(Some(fut.await.map(|at| format!("Parked in {} space {}", at.lot, at.space))));
        });
    };
    rsx! {
        div { class: "panel park-panel",
            h2 { "Park a call" }
            label { r#for: "park-channel", "Channel" }
            input { id: "park-channel", placeholder: "PJSIP/1001-00000001", value: "{channel}", oninput: move |e| channel.set(e.value()) }
            label { r#for: "park-lot", "Lot" }
            select { id: "park-lot", value: "{chosen}", onchange: move |e| lot.set(e.value()),
                for (i, k) in lots.into_iter().enumerate() {
                    option {
                        value: "{k.server_id}/{k.name}",
                        selected: chosen == format!("{}/{}", k.server_id, k.name) || (chosen.is_empty() && i == 0),
                        "{k.name} (server {k.server_id})"
                    }
                }
            }
            label { r#for: "park-timeout", "Timeout (seconds; empty: the lot's; never)" }
            input { id: "park-timeout", value: "{timeout}", oninput: move |e| timeout.set(e.value()) }
            button { id: "park-button", onclick: park, "Park" }
            match outcome() {
                None => rsx! {},
                Some(Ok(text)) => rsx! { div { class: "parking-result ok", role: "status", "{text}" } },
                Some(Err(e)) => rsx! { div { class: "parking-result error", role: "alert", "{e}" } },
            }
        }
    }
}

fn lots_of(parking: UseAmiParking) -> Vec<LotKey> {
    parking.parking_lots.peek().keys().cloned().collect()
}

/// A short two-tone beep through WebAudio (silent where the browser blocks audio).
const BEEP: &str = r#"
try {
  const ctx = window.__parkAudio || (window.__parkAudio = new AudioContext());
  [0, 0.25].forEach((t, i) => {
    const o = ctx.createOscillator(), g = ctx.createGain();
    o.frequency.value = i ? 660 : 880; g.gain.value = 0.08;
    o.connect(g); g.connect(ctx.destination);
    o.start(ctx.currentTime + t); o.stop(ctx.currentTime + t + 0.18);
  });
} catch (e) {}
"#;
