//! A lot as a grid of spaces, and the near-timeout warnings, for one user: clickable
//! (a retrieve through the [`Desk`]) only for an operator; a viewer's cells carry no
//! handler at all.

use crate::desk::Desk;
use ami_parking::display::{caller, countdown, near_timeout, retriever, SpaceView};
use ami_parking::LotKey;
use ami_parking_dioxus::components::{LargeLot, LotCount};
use ami_parking_dioxus::{use_lot_grid, GridCell, UseAmiParking};
use dioxus::prelude::*;

/// What the last retrieve from a grid did.
pub type Outcome = Option<Result<String, String>>;

/// Lots with more spaces than this show their occupied spaces and a free count; the
/// full grid on demand.
pub const LARGE_LOT: u32 = 60;

/// One lot: its spaces, each free or with caller, time parked and time left. While
/// the lot's server is down (`stale`: when it was last known) the calls stay, marked
/// as last known, not as the truth.
#[component]
pub fn LotGrid(
    parking: UseAmiParking,
    desk: Desk,
    lot: LotKey,
    retrieve_to: String,
    stale: Option<String>,
) -> Element {
    let grid = use_lot_grid(parking, lot.clone());
    let outcome = use_signal(|| None);
    let show_all = use_signal(|| false);
    // This lot's figures and whether the board has several servers: memos, so that a
    // change in another lot does not render this one again (for every viewer). The
    // figures are read by the count and the large lot's footer, not here: a park
    // renders its cell and the count, not the lot and its list of cells again.
    let info = use_memo({
        let lot = lot.clone();
        move || parking.parking_lots.read().get(&lot).cloned()
    });
    let large = use_memo(move || info.read().as_ref().is_some_and(|l| l.total_spaces > LARGE_LOT));
    let several = use_memo({
        let server = lot.server_id;
        move || parking.parking_lots.read().keys().any(|k| k.server_id != server)
    });
    let server = several().then(|| format!("server {}", lot.server_id));
    let large = large();
    // A large lot shows its occupied spaces only: it follows every cell's call.
    let cells: Vec<GridCell> =
        grid.read().iter().copied().filter(|c| !large || show_all() || c.call.read().is_some()).collect();
    let class = if stale.is_some() { "parking-lot stale" } else { "parking-lot" };
    // Shared by the cells (each render of the lot hands it to every cell).
    let to: std::sync::Arc<str> = retrieve_to.into();
    rsx! {
        section { class, "data-lot": "{lot.name}", "data-server": "{lot.server_id}",
            h2 { class: "lot-name",
                "{lot.name}"
                if let Some(s) = server { span { class: "server-name", " · {s}" } }
                LotCount { info, stale: stale.is_some() }
            }
            if let Some(when) = stale.clone() {
                p { class: "stale-note", role: "status", "Server down: calls as last known at {when}; they may have changed." }
            }
            div { class: "parking-spaces",
                for cell in cells {
                    SpaceCell { key: "{cell.space}", parking, desk: desk.clone(), cell, retrieve_to: to.clone(), outcome, stale: stale.is_some() }
                }
            }
            if large {
                // A viewer's page takes no input (it may be shared by several screens):
                // no toggle there.
                LargeLot { info, show_all: desk.acts().then_some(show_all), stale: stale.is_some() }
            }
            match outcome() {
                None => rsx! {},
                Some(Ok(text)) => rsx! { div { class: "parking-result ok", role: "status", "{text}" } },
                Some(Err(e)) => rsx! { div { class: "parking-result error", role: "alert", "{e}" } },
            }
        }
    }
}

/// One space; re-renders alone when its call changes, and every tick while occupied.
#[component]
fn SpaceCell(
    parking: UseAmiParking,
    desk: Desk,
    cell: GridCell,
    retrieve_to: std::sync::Arc<str>,
    outcome: Signal<Outcome>,
    stale: bool,
) -> Element {
    let call = cell.call.read().clone();
    let now = if call.is_some() { parking.clock.read().to_owned() } else { Default::default() };
    let v = SpaceView::new(cell.space, call.as_deref(), now);
    // The spaces between the parts keep the visible text a part of the cell's name
    // (its aria-label says the same words), as assistive technology expects.
    let body = rsx! {
        span { class: "space-number", "{v.space}" }
        " "
        if v.occupied {
            span { class: "caller-name", "{v.caller_name}" }
            " "
            span { class: "caller-number", "{v.caller_number}" }
            " "
            span { class: "timer", "parked {v.timer}" }
            " "
            if let Some(left) = v.countdown.clone() {
                span { class: "countdown", "{left} left" }
                " "
            }
            if v.warning {
                // Said in words too, not by colour alone.
                span { class: "warn-text", "Timing out soon" }
            }
        } else if stale {
            // The server is down: a space that was free may not be any more.
            span { class: "empty unknown", "Not known" }
        } else {
            span { class: "empty", "Empty" }
        }
    };
    let label = if v.occupied {
        let left = v.countdown.as_ref().map(|l| format!(", {l} left")).unwrap_or_default();
        let soon = if v.warning { ", timing out soon" } else { "" };
        format!("Space {}, {}, {}, parked {}{left}{soon}", v.space, v.caller_name, v.caller_number, v.timer)
    } else if stale {
        format!("Space {}, not known while the server is down", v.space)
    } else {
        format!("Space {}, empty", v.space)
    };
    let label = if stale && v.occupied { format!("{label}, last known") } else { label };
    if !desk.acts() || !v.occupied {
        // An operator's empty space is where a dragged call can be dropped (board.js).
        let drop = if desk.acts() && !stale { "true" } else { "false" };
        return rsx! { div { class: v.class, "data-space": "{v.space}", "data-drop": drop, role: "group", "aria-label": "{label}", {body} } };
    }
    let retrieve = move || {
        let Some(c) = cell.call.peek().clone() else { return };
        let (desk, to, mut outcome) = (desk.clone(), retrieve_to.clone(), outcome);
        spawn(async move {
            let space = c.parking_space;
            outcome.set(Some(match desk.retrieve(&c, &to).await {
                Ok(who) => Ok(format!("Space {space} retrieved to {}", retriever(&who.retriever))),
                Err(e) => Err(e.to_string()),
            }));
        });
    };
    let on_key = retrieve.clone();
    let on_click = retrieve;
    // An operator's occupied cell is a button: Tab reaches it, Enter or Space retrieves.
    rsx! {
        div {
            class: v.class,
            "data-space": "{v.space}",
            role: "button",
            tabindex: "0",
            draggable: "true",
            "data-drop": "true",
            "aria-label": "Retrieve: {label}",
            onclick: move |_| on_click(),
            onkeydown: move |e: KeyboardEvent| {
                if matches!(e.key(), Key::Enter) || e.key() == Key::Character(" ".into()) {
                    on_key();
                }
            },
            {body}
        }
    }
}

/// The calls near their timeout in the user's lots, soonest first.
#[component]
pub fn Warnings(parking: UseAmiParking, desk: Desk) -> Element {
    // A memo: an event or a tick that leaves the list as it was (most of them, and
    // every one while no call is near its timeout) renders nothing, for every viewer.
    let near = use_memo(move || {
        let now = *parking.clock.read();
        near_timeout(parking.parked_calls.read().iter().filter(|c| desk.sees(&c.parking_lot)), now)
    });
    let near = near.read().clone();
    // The countdowns move with the clock: read only while there is one to show.
    let now = if near.is_empty() { Default::default() } else { *parking.clock.read() };
    let class = if near.is_empty() { "timeout-warnings empty" } else { "timeout-warnings" };
    rsx! {
        div { class, role: "alert",
            h2 { "Near timeout" }
            for c in near {
                div { class: "parked-call", key: "{c.unique_id()}",
                    span { "{c.parking_lot} {c.parking_space}: {caller(&c)}" }
                    span { class: "countdown", {c.timeout_remaining(now).map(countdown).unwrap_or_default()} " left" }
                }
            }
        }
    }
}
