//! The seed's pictures as Dioxus components (feature `components`): a lot as a grid
//! of spaces, a multi-lot dashboard and a timeout warning list; forms to park, and
//! [`TextField`], a text field that stays right in a live view. Texts, timers and CSS
//! classes come from [`ami_parking::display`]; restyle through the classes, starting
//! from [`DEFAULT_CSS`] (rendered by [`ParkingStyles`]).

use crate::hook::{use_lot_calls, use_lot_grid, UseAmiParking};
use crate::GridCell;
use ami_parking::display::{caller, countdown, lot_count, retriever, SpaceView};
use ami_parking::{LotKey, ParkedCall, ParkingClient, ParkingError, ParkingLot};
use dioxus::prelude::*;
use std::sync::Arc;

pub use ami_parking::display::DEFAULT_CSS;

/// The default stylesheet as a `<style>` element.
#[component]
pub fn ParkingStyles() -> Element {
    rsx! { style { {DEFAULT_CSS} } }
}

/// A text field whose text belongs to the browser, safe in a live view: it shows
/// `text`'s value when it is created (read without subscribing, so typing renders
/// nothing) and sets `text` at each `input` and `change` (a script's change and a
/// WebDriver clear fire only `change`). The server never writes its value afterwards:
/// in a live view a render lags the typing by a round trip, and a `value` written then
/// cuts the text back to what the server last heard, so the next keystroke follows
/// the cut. To reset the field, re-create it (give it a new `key`).
///
/// ```
/// use ami_parking_dioxus::components::TextField;
/// use dioxus::prelude::*;
///
/// fn phone() -> Element {
///     let typed = use_signal(|| "PJSIP/1001".to_string());
///     rsx! {
///         label { r#for: "phone", "Phone" }
///         TextField { id: "phone", text: typed, placeholder: "e.g. PJSIP/1001" }
///     }
/// }
/// # let mut dom = VirtualDom::new(phone);
/// # dom.rebuild_in_place();
/// # assert!(dioxus_ssr::render(&dom).contains("id=\"phone\""));
/// ```
#[component]
pub fn TextField(
    /// The element's id (for its `label`).
    id: String,
    /// The text: its value when the field is created, then what is typed.
    text: Signal<String>,
    /// Shown while the field is empty.
    #[props(default)]
    placeholder: String,
    /// The keyboard a phone shows (`numeric`, ...); none when empty.
    #[props(default)]
    inputmode: String,
    /// The browser's autocomplete (`off`, ...); none when empty.
    #[props(default)]
    autocomplete: String,
) -> Element {
    let mut text = text;
    let attr = |v: &String| (!v.is_empty()).then(|| v.clone());
    rsx! {
        input {
            id: "{id}",
            placeholder: attr(&placeholder),
            inputmode: attr(&inputmode),
            autocomplete: attr(&autocomplete),
            initial_value: text.peek().clone(),
            oninput: move |e| text.set(e.value()),
            onchange: move |e| text.set(e.value()),
        }
    }
}

/// What the last retrieve (or park) from a component did.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Ok(String),
    Failed(ParkingError),
}

/// Retrieves `call` to `to`, writing the outcome where the component shows it.
fn retrieve(parking: UseAmiParking, call: &ParkedCall, to: String, mut outcome: Signal<Option<Outcome>>) {
    let space = call.parking_space;
    let fut = parking.client().retrieve_parked_call(call, &to);
    // Not the clicked row's task: the retrieve removes the row (a dashboard's row is
    // its call), which would cancel the task before its answer is shown. The answer
    // goes to `outcome` while the component that shows it still lives.
    dioxus_core::spawn_forever(async move {
        let shown = match fut.await {
            Ok(who) => Outcome::Ok(format!("Space {space} retrieved to {}", retriever(&who.retriever))),
            Err(e) => Outcome::Failed(e),
        };
        if let Ok(mut o) = outcome.try_write() {
            *o = Some(shown);
        }
    });
}

#[component]
fn OutcomeLine(outcome: Signal<Option<Outcome>>) -> Element {
    match outcome() {
        None => rsx! {},
        Some(Outcome::Ok(text)) => rsx! { div { class: "parking-result ok", role: "status", "{text}" } },
        Some(Outcome::Failed(e)) => rsx! { div { class: "parking-result error", role: "alert", "{e}" } },
    }
}

/// Lots with more spaces than this show their occupied spaces and a free count in
/// [`ParkingLotGrid`]; the full grid on demand.
pub const LARGE_LOT: u32 = 60;

/// One lot as a grid of spaces: free, or occupied with caller name and number, time
/// parked and time left; `warning` under the near-timeout threshold. Clicking an
/// occupied space retrieves the call to `retrieve_to` (a channel, e.g. `PJSIP/1002`),
/// and the result or the error shows under the grid.
///
/// `stale` (when the app knows the lot's server is down: since when) marks the calls
/// as last known and the free spaces as not known, never as a confident "Empty". A lot
/// of more than `large_lot` spaces ([`LARGE_LOT`] when not given) shows its occupied
/// spaces and a free count, with a button for the full grid.
#[component]
pub fn ParkingLotGrid(
    parking: UseAmiParking,
    lot: LotKey,
    retrieve_to: String,
    stale: Option<String>,
    large_lot: Option<u32>,
) -> Element {
    let grid = use_lot_grid(parking, lot.clone());
    let outcome = use_signal(|| None);
    let show_all = use_signal(|| false);
    // The lot's figures and whether there are several servers are memos, read by the
    // count and the footer, not here: a park renders its cell and the count, not every
    // lot with its list of cells again.
    let info = use_memo({
        let lot = lot.clone();
        move || parking.parking_lots.read().get(&lot).cloned()
    });
    let large = use_memo(move || {
        info.read().as_ref().is_some_and(|l| l.total_spaces > large_lot.unwrap_or(LARGE_LOT))
    });
    let several = use_memo({
        let server = lot.server_id;
        move || parking.parking_lots.read().keys().any(|k| k.server_id != server)
    });
    let large = large();
    let cells: Vec<GridCell> =
        grid.read().iter().copied().filter(|c| !large || show_all() || c.call.read().is_some()).collect();
    let is_stale = stale.is_some();
    // Several servers: say which one the lot is on.
    let server = several().then(|| format!("server {}", lot.server_id));
    rsx! {
        section { class: if is_stale { "parking-lot stale" } else { "parking-lot" }, "data-lot": "{lot.name}", "data-server": "{lot.server_id}",
            h3 {
                "{lot.name}"
                if let Some(s) = server { span { class: "server-name", " · {s}" } }
                LotCount { info, stale: is_stale }
            }
            if let Some(when) = stale.clone() {
                p { class: "stale-note", role: "status", "Server down: calls as last known at {when}; they may have changed." }
            }
            div { class: "parking-spaces",
                for cell in cells {
                    SpaceCell { key: "{cell.space}", parking, cell, retrieve_to: retrieve_to.clone(), outcome, stale: is_stale }
                }
            }
            if large {
                LargeLot { info, show_all: Some(show_all), stale: is_stale }
            }
            OutcomeLine { outcome }
        }
    }
}

/// A lot's count of occupied spaces, `occupied / total` (`last known` while its
/// server is down: `stale`), from a memo of the lot's figures such as
/// [`ParkingLotGrid`] keeps, so that a park renders the count and not the whole grid.
#[component]
pub fn LotCount(info: Memo<Option<ParkingLot>>, stale: bool) -> Element {
    let count = info.read().as_ref().map(lot_count).unwrap_or_default();
    let count = if stale { format!("last known {count}") } else { count };
    rsx! { span { class: "lot-count", "{count}" } }
}

/// A large lot's footer: its free spaces, and the button that toggles `show_all`
/// (every space, or the occupied ones only), from a memo of the lot's figures. With
/// no `show_all` there is no button: a page that takes no input (a board's page shared
/// by several screens) shows the occupied spaces and the free count only.
#[component]
pub fn LargeLot(info: Memo<Option<ParkingLot>>, show_all: Option<Signal<bool>>, stale: bool) -> Element {
    let (free, total) = info.read().as_ref().map_or((0, 0), |l| (l.free(), l.total_spaces));
    rsx! {
        div { class: "large-lot",
            span { class: "free-count",
                if stale { "{free} free when last known" } else { "{free} free spaces" }
            }
            if let Some(mut show_all) = show_all {
                button { class: "show-all", r#type: "button", onclick: move |_| show_all.toggle(),
                    if show_all() { "Show occupied only" } else { "Show all {total} spaces" }
                }
            }
        }
    }
}

/// One space; re-renders alone when its call changes, and every tick while occupied.
#[component]
fn SpaceCell(
    parking: UseAmiParking,
    cell: GridCell,
    retrieve_to: String,
    outcome: Signal<Option<Outcome>>,
    stale: bool,
) -> Element {
    let call = cell.call.read().clone();
    let now = if call.is_some() { parking.clock.read().to_owned() } else { Default::default() };
    let v = SpaceView::new(cell.space, call.as_deref(), now);
    let onclick = move |_| {
        if let Some(c) = cell.call.peek().as_ref() {
            retrieve(parking, c, retrieve_to.clone(), outcome);
        }
    };
    rsx! {
        div { class: v.class, "data-space": "{v.space}", onclick,
            span { class: "space-number", "{v.space}" }
            if v.occupied {
                span { class: "caller-name", "{v.caller_name}" }
                span { class: "caller-number", "{v.caller_number}" }
                span { class: "timer", "parked {v.timer}" }
                if let Some(left) = v.countdown {
                    span { class: "countdown", "{left} left" }
                }
            } else if stale {
                span { class: "empty unknown", "Not known" }
            } else {
                span { class: "empty", "Empty" }
            }
        }
    }
}

/// Every lot of every server with occupied/total and its calls, each with a
/// Retrieve button (to `retrieve_to`).
#[component]
pub fn ParkingDashboard(parking: UseAmiParking, retrieve_to: String) -> Element {
    let outcome = use_signal(|| None);
    let total = parking.total_parked_calls;
    let lots: Vec<_> = parking.parking_lots.read().values().map(|l| (lot_count(l), l.clone())).collect();
    rsx! {
        div { class: "parking-dashboard",
            div { class: "summary", span { class: "total", "{total} calls parked" } }
            OutcomeLine { outcome }
            div { class: "lots",
                for (count, l) in lots {
                    div { class: "lot-card", key: "{l.server_id}/{l.name}",
                        h4 { "{l.name}" }
                        div { class: "lot-stats", "{count}" }
                        LotCalls { parking, lot: LotKey::new(l.server_id, l.name.clone()), retrieve_to: retrieve_to.clone(), outcome }
                    }
                }
            }
        }
    }
}

#[component]
fn LotCalls(
    parking: UseAmiParking,
    lot: LotKey,
    retrieve_to: String,
    outcome: Signal<Option<Outcome>>,
) -> Element {
    let calls = use_lot_calls(parking, lot);
    rsx! {
        div { class: "lot-calls",
            for c in calls.read().iter().cloned() {
                CallRow { key: "{c.unique_id()}", parking, call: c, retrieve_to: retrieve_to.clone(), outcome }
            }
        }
    }
}

#[component]
fn CallRow(
    parking: UseAmiParking,
    call: Arc<ParkedCall>,
    retrieve_to: String,
    outcome: Signal<Option<Outcome>>,
) -> Element {
    let now = *parking.clock.read();
    let class = if call.is_near_timeout(now) { "parked-call warning" } else { "parked-call" };
    let who = caller(&call);
    let left = call.timeout_remaining(now).map(countdown).map(|l| format!(" · {l} left")).unwrap_or_default();
    let c = call.clone();
    rsx! {
        div { class,
            span { "{call.parking_space}: {who}{left}" }
            button { onclick: move |_| retrieve(parking, &c, retrieve_to.clone(), outcome), "Retrieve" }
        }
    }
}

/// The calls near their timeout, soonest first, with the time left; hidden (class
/// `empty`) when there are none.
#[component]
pub fn TimeoutWarnings(parking: UseAmiParking) -> Element {
    let now = *parking.clock.read();
    let near = ami_parking::display::near_timeout(parking.parked_calls.read().iter(), now);
    let class = if near.is_empty() { "timeout-warnings empty" } else { "timeout-warnings" };
    rsx! {
        div { class, role: "alert",
            h4 { "Near timeout" }
            for c in near {
                div { class: "parked-call", key: "{c.unique_id()}",
                    span { "{c.parking_lot} {c.parking_space}: {caller(&c)}" }
                    span { class: "countdown", {c.timeout_remaining(now).map(countdown).unwrap_or_default()} " left" }
                }
            }
        }
    }
}

/// Park a call by its channel (a supervisor's form): the channel, one of the known
/// lots (`lot` first when given), the result or the error under it.
#[component]
pub fn ParkForm(parking: UseAmiParking, lot: Option<String>) -> Element {
    let channel = use_signal(String::new);
    let mut chosen = use_signal(|| lot.clone().unwrap_or_default());
    let mut outcome = use_signal(|| None);
    let lots: Vec<LotKey> = parking.parking_lots.read().keys().cloned().collect();
    let park = move |_| {
        let ch = channel().trim().to_string();
        if ch.is_empty() {
            outcome.set(Some(Outcome::Failed(ParkingError::InvalidArgument(
                "which channel? e.g. PJSIP/1001-00000001".into(),
            ))));
            return;
        }
        let mut p = ami_parking::Park::default();
        if !chosen().is_empty() {
            p = p.lot(chosen());
        }
        let fut = parking.client().park_call(&ch, p);
        spawn(async move {
            outcome.set(Some(match fut.await {
                Ok(at) => Outcome::Ok(format!("Parked in {} space {}", at.lot, at.space)),
                Err(e) => Outcome::Failed(e),
            }));
        });
    };
    rsx! {
        div { class: "park-form",
            label { r#for: "park-form-channel", "Channel" }
            // The browser owns what is typed (see `TextField`).
            TextField { id: "park-form-channel", text: channel, placeholder: "PJSIP/1001-00000001" }
            label { r#for: "park-form-lot", "Lot" }
            select { id: "park-form-lot", value: "{chosen}", onchange: move |e| chosen.set(e.value()),
                option { value: "", "The default lot" }
                for k in lots {
                    option { value: "{k.name}", selected: chosen() == *k.name, "{k.name}" }
                }
            }
            button { class: "park-button", r#type: "button", onclick: park, "Park" }
            OutcomeLine { outcome }
        }
    }
}

/// "Park my caller": parks the caller on the line with `phone` (`PJSIP/1001`) into
/// `lot` (the default lot when `None`) and shows the space big; the error says what
/// to do (no call, not answered, several calls).
#[component]
pub fn ParkMyCaller(parking: UseAmiParking, phone: String, lot: Option<String>) -> Element {
    let mut parked: Signal<Option<(String, u32, String)>> = use_signal(|| None);
    let mut outcome = use_signal(|| None);
    let park = move |_| {
        let mut p = ami_parking::Park::default();
        if let Some(l) = &lot {
            p = p.lot(l.clone());
        }
        let fut = parking.client().park_caller_of(&phone, p);
        spawn(async move {
            match fut.await {
                Ok(at) => {
                    parked.set(Some((at.lot, at.space, caller(&at.call))));
                    outcome.set(None);
                }
                Err(e) => {
                    parked.set(None);
                    outcome.set(Some(Outcome::Failed(e)));
                }
            }
        });
    };
    rsx! {
        div { class: "park-my-caller",
            button { class: "park-my-caller-button", r#type: "button", onclick: park, "Park my caller" }
            if let Some((lot, space, who)) = parked() {
                div { class: "big-space", role: "status",
                    span { class: "big-label", "Parked in {lot}" }
                    " "
                    span { class: "big-number", "{space}" }
                    " "
                    span { class: "big-who", "{who}" }
                }
            }
            OutcomeLine { outcome }
        }
    }
}
