//! The seed's pictures as Leptos components (feature `components`): a lot as a grid
//! of spaces, a multi-lot dashboard and a timeout warning list. Texts, timers and CSS
//! classes come from [`ami_parking::display`]; restyle through the classes, starting
//! from [`DEFAULT_CSS`] (rendered by [`ParkingStyles`]).

use crate::{GridCell, UseAmiParking};
use ami_parking::display::{caller, countdown, lot_count, retriever, SpaceView};
use ami_parking::{LotKey, ParkedCall, ParkingClient, ParkingError, Timestamp};
use leptos::prelude::*;
use std::sync::Arc;

pub use ami_parking::display::DEFAULT_CSS;

/// Lots with more spaces than this show their occupied spaces and a free count in
/// [`ParkingLotGrid`]; the full grid on demand.
pub const LARGE_LOT: u32 = 60;

/// The default stylesheet as a `<style>` element.
#[component]
pub fn ParkingStyles() -> impl IntoView {
    view! { <style>{DEFAULT_CSS}</style> }
}

/// What the last retrieve from a component did.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Ok(String),
    Failed(ParkingError),
}

/// Retrieves `call` to `to`, writing the outcome where the component shows it.
fn retrieve(parking: UseAmiParking, call: &ParkedCall, to: &str, outcome: RwSignal<Option<Outcome>>) {
    let space = call.parking_space;
    let fut = parking.client().retrieve_parked_call(call, to);
    leptos::task::spawn_local(async move {
        outcome.try_set(Some(match fut.await {
            Ok(who) => Outcome::Ok(format!("Space {space} retrieved to {}", retriever(&who.retriever))),
            Err(e) => Outcome::Failed(e),
        }));
    });
}

#[component]
fn OutcomeLine(outcome: RwSignal<Option<Outcome>>) -> impl IntoView {
    move || match outcome.get() {
        None => None,
        Some(Outcome::Ok(text)) => {
            Some(view! { <div class="parking-result ok" role="status">{text}</div> }.into_any())
        }
        Some(Outcome::Failed(e)) => {
            Some(view! { <div class="parking-result error" role="alert">{e.to_string()}</div> }.into_any())
        }
    }
}

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
    /// The binding (from [`use_ami_parking`](crate::use_ami_parking)).
    parking: UseAmiParking,
    /// The lot to show.
    #[prop(into)]
    lot: LotKey,
    /// Where a click sends the call (a channel, e.g. `PJSIP/1002`).
    #[prop(into)]
    retrieve_to: String,
    /// The lot's server is down: when it was last known (e.g. `10:42`).
    #[prop(optional, into)]
    stale: Option<String>,
    /// Above this many spaces, only the occupied ones and a free count ([`LARGE_LOT`]).
    #[prop(optional)]
    large_lot: Option<u32>,
) -> impl IntoView {
    let grid = parking.lot_grid(&lot);
    let outcome = RwSignal::new(None);
    let show_all = RwSignal::new(false);
    let is_stale = stale.is_some();
    // Large or not, by the grid's own cells (one per space): not by the lots map,
    // which a park in any lot changes, so that a park draws only its own cell (a
    // large lot shows its occupied cells only: a park in it draws those again).
    let most = large_lot.unwrap_or(LARGE_LOT) as usize;
    let large = move || grid.with(|cells| cells.len() > most);
    let (name, data_lot) = (lot.name.to_string(), lot.name.to_string());
    let count = {
        let lot = lot.clone();
        move || {
            parking.parking_lots.with(|l| {
                l.get(&lot).map(|l| {
                    let c = lot_count(l);
                    if is_stale {
                        format!("last known {c}")
                    } else {
                        c
                    }
                })
            })
        }
    };
    let note = stale.map(|when| {
        view! { <p class="stale-note" role="status">{format!("Server down: calls as last known at {when}; they may have changed.")}</p> }
    });
    // As an `AnyView`: a concrete view type here costs the browser build 3 KB gzipped.
    let large_note = {
        let lot = lot.clone();
        move || {
            large().then(|| {
                view! { <LargeLotNote parking lot=lot.clone() grid show_all stale=is_stale /> }.into_any()
            })
        }
    };
    let to = Arc::<str>::from(retrieve_to);
    view! {
        <section class=if is_stale { "parking-lot stale" } else { "parking-lot" } data-lot=data_lot>
            <h3>{name}<span class="lot-count">{count}</span></h3>
            {note}
            <div class="parking-spaces">
                {move || {
                    let large = large();
                    grid.get()
                        .into_iter()
                        .filter(|c| !large || show_all.get() || c.call.with(|c| c.is_some()))
                        .map(|cell| view! { <SpaceCell parking cell retrieve_to=to.clone() outcome stale=is_stale /> }.into_any())
                        .collect_view()
                }}
            </div>
            {large_note}
            <OutcomeLine outcome />
        </section>
    }
}

/// A large lot's footer: its free spaces and the button that toggles `show_all`
/// (every space, or the occupied ones only). Drawn when the lot becomes large; its
/// count and label follow their signals in place (a park elsewhere leaves the button,
/// and the keyboard's focus on it, alone).
#[component]
fn LargeLotNote(
    parking: UseAmiParking,
    lot: LotKey,
    grid: ReadSignal<Vec<GridCell>>,
    show_all: RwSignal<bool>,
    stale: bool,
) -> impl IntoView {
    let lot_of_free = lot.clone();
    let free = move || {
        // A lot of unknown size (its grid is its calls) has no free count to give.
        match parking.parking_lots.with(|l| l.get(&lot_of_free).filter(|l| l.range_known).map(|l| l.free())) {
            None => String::new(),
            Some(free) if stale => format!("{free} free when last known"),
            Some(free) => format!("{free} free spaces"),
        }
    };
    let label = move || {
        // No label while the lot's size is unknown (its grid is its calls: no free
        // space to show or hide): the stylesheet hides an empty button. The label
        // changes in place, so a change elsewhere leaves the button and its focus.
        if !parking.parking_lots.with(|l| l.get(&lot).is_some_and(|l| l.range_known)) {
            String::new()
        } else if show_all.get() {
            "Show occupied only".to_string()
        } else {
            format!("Show all {} spaces", grid.with(Vec::len))
        }
    };
    view! {
        <div class="large-lot">
            <span class="free-count">{free}</span>
            <button class="show-all" type="button" on:click=move |_| show_all.update(|s| *s = !*s)>
                {label}
            </button>
        </div>
    }
}

/// One space; re-renders alone when its call changes, and every tick while occupied.
#[component]
fn SpaceCell(
    parking: UseAmiParking,
    cell: GridCell,
    retrieve_to: Arc<str>,
    outcome: RwSignal<Option<Outcome>>,
    stale: bool,
) -> impl IntoView {
    let GridCell { space, call } = cell;
    let view_now = {
        let call = call.clone();
        move || {
            let c = call.get();
            let now = if c.is_some() { parking.clock.get() } else { Timestamp::default() };
            SpaceView::new(space, c.as_deref(), now)
        }
    };
    let class = {
        let v = view_now.clone();
        move || v().class
    };
    let on_click = move |_| {
        if let Some(c) = call.get_untracked() {
            retrieve(parking, &c, &retrieve_to, outcome);
        }
    };
    view! {
        <div class=class data-space=space on:click=on_click>
            <span class="space-number">{space}</span>
            {move || {
                let v = view_now();
                if v.occupied {
                    let left = v.countdown.map(|l| view! { <span class="countdown">{format!("{l} left")}</span> });
                    let occupied = view! {
                        <span class="caller-name">{v.caller_name}</span>
                        <span class="caller-number">{v.caller_number}</span>
                        <span class="timer">{format!("parked {}", v.timer)}</span>
                        {left}
                    };
                    leptos::either::Either::Left(occupied)
                } else {
                    let (class, text) = if stale { ("empty unknown", "Not known") } else { ("empty", "Empty") };
                    leptos::either::Either::Right(view! { <span class=class>{text}</span> })
                }
            }}
        </div>
    }
}

/// Every lot of every server with occupied/total and its calls, each with a
/// Retrieve button (to `retrieve_to`).
#[component]
pub fn ParkingDashboard(
    /// The binding (from [`use_ami_parking`](crate::use_ami_parking)).
    parking: UseAmiParking,
    /// Where a Retrieve button sends the call (a channel, e.g. `PJSIP/1002`).
    #[prop(into)]
    retrieve_to: String,
) -> impl IntoView {
    let outcome = RwSignal::new(None);
    let to = Arc::<str>::from(retrieve_to);
    let lots = move || parking.parking_lots.with(|l| l.keys().cloned().collect::<Vec<_>>());
    view! {
        <div class="parking-dashboard">
            <div class="summary">
                <span class="total">{move || format!("{} calls parked", parking.total_parked_calls.get())}</span>
            </div>
            <OutcomeLine outcome />
            <div class="lots">
                {move || {
                    lots()
                        .into_iter()
                        .map(|key| view! { <LotCard parking lot=key retrieve_to=to.clone() outcome /> }.into_any())
                        .collect_view()
                }}
            </div>
        </div>
    }
}

#[component]
fn LotCard(
    parking: UseAmiParking,
    lot: LotKey,
    retrieve_to: Arc<str>,
    outcome: RwSignal<Option<Outcome>>,
) -> impl IntoView {
    let calls = parking.lot_calls(&lot);
    let stats = {
        let lot = lot.clone();
        move || parking.parking_lots.with(|l| l.get(&lot).map(lot_count))
    };
    view! {
        <div class="lot-card">
            <h4>{lot.name.to_string()}</h4>
            <div class="lot-stats">{stats}</div>
            <div class="lot-calls">
                {move || {
                    calls
                        .get()
                        .into_iter()
                        .map(|c| view! { <CallRow parking call=c retrieve_to=retrieve_to.clone() outcome /> }.into_any())
                        .collect_view()
                }}
            </div>
        </div>
    }
}

#[component]
fn CallRow(
    parking: UseAmiParking,
    call: Arc<ParkedCall>,
    retrieve_to: Arc<str>,
    outcome: RwSignal<Option<Outcome>>,
) -> impl IntoView {
    let line = {
        let call = call.clone();
        move || {
            let now = parking.clock.get();
            let left = call
                .timeout_remaining(now)
                .map(countdown)
                .map(|l| format!(" · {l} left"))
                .unwrap_or_default();
            format!("{}: {}{left}", call.parking_space, caller(&call))
        }
    };
    let class = {
        let call = call.clone();
        move || if call.is_near_timeout(parking.clock.get()) { "parked-call warning" } else { "parked-call" }
    };
    view! {
        <div class=class>
            <span>{line}</span>
            <button on:click=move |_| retrieve(parking, &call, &retrieve_to, outcome)>"Retrieve"</button>
        </div>
    }
}

/// The calls near their timeout, soonest first, with the time left; hidden (class
/// `empty`) when there are none.
#[component]
pub fn TimeoutWarnings(
    /// The binding (from [`use_ami_parking`](crate::use_ami_parking)).
    parking: UseAmiParking,
) -> impl IntoView {
    let near = move || {
        let now = parking.clock.get();
        (now, parking.parked_calls.with(|c| ami_parking::display::near_timeout(c, now)))
    };
    let class = move || if near().1.is_empty() { "timeout-warnings empty" } else { "timeout-warnings" };
    view! {
        <div class=class role="alert">
            <h4>"Near timeout"</h4>
            {move || {
                let (now, calls) = near();
                calls
                    .into_iter()
                    .map(|c| {
                        let left = c.timeout_remaining(now).map(countdown).unwrap_or_default();
                        view! {
                            <div class="parked-call">
                                <span>{format!("{} {}: {}", c.parking_lot, c.parking_space, caller(&c))}</span>
                                <span class="countdown">{format!("{left} left")}</span>
                            </div>
                        }
                        .into_any()
                    })
                    .collect_view()
            }}
        </div>
    }
}

/// What [`ParkMyCaller`] shows: the last park (lot, space, caller) or its error. Hold
/// one to park from elsewhere too (a keyboard shortcut): [`ParkMyCallerState::park`].
#[derive(Debug, Clone, Copy)]
pub struct ParkMyCallerState {
    parked: RwSignal<Option<(String, u32, String)>>,
    outcome: RwSignal<Option<Outcome>>,
}

impl Default for ParkMyCallerState {
    fn default() -> Self {
        Self::new()
    }
}

impl ParkMyCallerState {
    /// A state showing nothing yet (in the current reactive owner).
    pub fn new() -> Self {
        ParkMyCallerState { parked: RwSignal::new(None), outcome: RwSignal::new(None) }
    }

    /// Parks the caller on the line with `phone` into `lot` (the default lot when
    /// `None`); the component shows the space, or the error.
    pub fn park(&self, parking: UseAmiParking, phone: &str, lot: Option<&str>) {
        let mut p = ami_parking::Park::default();
        if let Some(l) = lot {
            p = p.lot(l);
        }
        let fut = parking.client().park_caller_of(phone, p);
        let (parked, outcome) = (self.parked, self.outcome);
        leptos::task::spawn_local(async move {
            match fut.await {
                Ok(at) => {
                    parked.try_set(Some((at.lot, at.space, caller(&at.call))));
                    outcome.try_set(None);
                }
                Err(e) => {
                    parked.try_set(None);
                    outcome.try_set(Some(Outcome::Failed(e)));
                }
            }
        });
    }
}

/// "Park my caller": parks the caller on the line with `phone` (`PJSIP/1001`) into
/// `lot` and shows the space big; the error says what to do (no call, not answered,
/// several calls).
#[component]
pub fn ParkMyCaller(
    /// The binding (from [`use_ami_parking`](crate::use_ami_parking)).
    parking: UseAmiParking,
    /// The user's phone (`PJSIP/1001`: its channels are `PJSIP/1001-...`).
    #[prop(into)]
    phone: String,
    /// The lot (the default lot when `None`).
    #[prop(optional, into)]
    lot: Option<String>,
    /// The state shown (to park from elsewhere too); a fresh one when not given.
    #[prop(optional)]
    state: Option<ParkMyCallerState>,
) -> impl IntoView {
    let state = state.unwrap_or_default();
    let on_click = move |_| state.park(parking, &phone, lot.as_deref());
    let big = move || {
        state.parked.get().map(|(lot, space, who)| {
            view! {
                <div class="big-space" role="status">
                    <span class="big-label">{format!("Parked in {lot}")}</span>
                    " "
                    <span class="big-number">{space}</span>
                    " "
                    <span class="big-who">{who}</span>
                </div>
            }
            .into_any()
        })
    };
    view! {
        <div class="park-my-caller">
            <button class="park-my-caller-button" type="button" on:click=on_click>"Park my caller"</button>
            {big}
            <OutcomeLine outcome=state.outcome />
        </div>
    }
}

/// Park a call by its channel (a supervisor's form): the channel, one of the known
/// lots, the result or the error under it.
#[component]
pub fn ParkForm(
    /// The binding (from [`use_ami_parking`](crate::use_ami_parking)).
    parking: UseAmiParking,
) -> impl IntoView {
    let channel = RwSignal::new(String::new());
    let chosen = RwSignal::new(String::new());
    let outcome = RwSignal::new(None);
    let lots =
        move || parking.parking_lots.with(|l| l.keys().map(|k| k.name.to_string()).collect::<Vec<_>>());
    let on_click = move |_| {
        let ch = channel.get_untracked().trim().to_string();
        if ch.is_empty() {
            outcome.set(Some(Outcome::Failed(ParkingError::InvalidArgument(
                "which channel? e.g. PJSIP/1001-00000001".into(),
            ))));
            return;
        }
        let mut p = ami_parking::Park::default();
        let lot = chosen.get_untracked();
        if !lot.is_empty() {
            p = p.lot(lot);
        }
        let fut = parking.client().park_call(&ch, p);
        leptos::task::spawn_local(async move {
            outcome.try_set(Some(match fut.await {
                Ok(at) => Outcome::Ok(format!("Parked in {} space {}", at.lot, at.space)),
                Err(e) => Outcome::Failed(e),
            }));
        });
    };
    view! {
        <div class="park-form">
            <label for="park-form-channel">"Channel"</label>
            <input
                id="park-form-channel"
                placeholder="PJSIP/1001-00000001"
                prop:value=move || channel.get()
                on:input=move |e| channel.set(event_target_value(&e))
            />
            <label for="park-form-lot">"Lot"</label>
            <select id="park-form-lot" on:change=move |e| chosen.set(event_target_value(&e))>
                <option value="">"The default lot"</option>
                {move || lots().into_iter().map(|l| view! { <option value=l.clone()>{l.clone()}</option> }.into_any()).collect_view()}
            </select>
            <button class="park-button" type="button" on:click=on_click>"Park"</button>
            <OutcomeLine outcome />
        </div>
    }
}
