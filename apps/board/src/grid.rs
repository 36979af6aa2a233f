//! A lot as a grid of spaces, and the near-timeout warnings, for one user: clickable
//! (a retrieve through the [`Desk`]) only for an operator; a viewer's cells carry no
//! handler at all.

use crate::desk::Desk;
use ami_parking::display::{caller, countdown, retriever, SpaceView};
use ami_parking::LotKey;
use ami_parking_dioxus::{use_lot_grid, GridCell, UseAmiParking};
use dioxus::prelude::*;

/// What the last retrieve from a grid did.
pub type Outcome = Option<Result<String, String>>;

/// One lot: its spaces, each free or with caller, time parked and time left.
#[component]
pub fn LotGrid(parking: UseAmiParking, desk: Desk, lot: LotKey, retrieve_to: String) -> Element {
    let grid = use_lot_grid(parking, lot.clone());
    let outcome = use_signal(|| None);
    let lots = parking.parking_lots.read();
    let count = lots.get(&lot).map(|l| format!("{} / {}", l.occupied, l.total_spaces)).unwrap_or_default();
    let server =
        lots.keys().any(|k| k.server_id != lot.server_id).then(|| format!("server {}", lot.server_id));
    rsx! {
        section { class: "parking-lot", "data-lot": "{lot.name}", "data-server": "{lot.server_id}",
            h3 {
                "{lot.name}"
                if let Some(s) = server { span { class: "server-name", " · {s}" } }
                span { class: "lot-count", "{count}" }
            }
            div { class: "parking-spaces",
                for cell in grid.read().iter().copied() {
                    SpaceCell { key: "{cell.space}", parking, desk: desk.clone(), cell, retrieve_to: retrieve_to.clone(), outcome }
                }
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
    retrieve_to: String,
    outcome: Signal<Outcome>,
) -> Element {
    let call = cell.call.read().clone();
    let now = if call.is_some() { parking.clock.read().to_owned() } else { Default::default() };
    let v = SpaceView::new(cell.space, call.as_deref(), now);
    let body = rsx! {
        span { class: "space-number", "{v.space}" }
        if v.occupied {
            span { class: "caller-name", "{v.caller_name}" }
            span { class: "caller-number", "{v.caller_number}" }
            span { class: "timer", "parked {v.timer}" }
            if let Some(left) = v.countdown {
                span { class: "countdown", "{left} left" }
            }
        } else {
            span { class: "empty", "Empty" }
        }
    };
    if !desk.acts() {
        return rsx! { div { class: v.class, "data-space": "{v.space}", {body} } };
    }
    let onclick = move |_| {
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
    rsx! { div { class: v.class, "data-space": "{v.space}", onclick, {body} } }
}

/// The calls near their timeout in the user's lots, soonest first.
#[component]
pub fn Warnings(parking: UseAmiParking, desk: Desk) -> Element {
    let now = *parking.clock.read();
    let mut near: Vec<_> = parking
        .parked_calls
        .read()
        .iter()
        .filter(|c| desk.sees(&c.parking_lot) && c.is_near_timeout(now))
        .cloned()
        .collect();
    near.sort_by_key(|c| c.timeout_remaining(now));
    let class = if near.is_empty() { "timeout-warnings empty" } else { "timeout-warnings" };
    rsx! {
        div { class, role: "alert",
            h4 { "Near timeout" }
            for c in near {
                div { class: "parked-call", key: "{c.unique_id}",
                    span { "{c.parking_lot} {c.parking_space}: {caller(&c)}" }
                    span { class: "countdown", {c.timeout_remaining(now).map(countdown).unwrap_or_default()} " left" }
                }
            }
        }
    }
}
