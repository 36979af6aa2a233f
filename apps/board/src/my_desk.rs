//! The receptionist's bar (operators only): "Park my caller" (the caller on the line
//! with the user's phone goes to a space, shown big), "Retrieve the longest waiting"
//! to the user's phone, each with a keyboard shortcut (`board.js`: P and R); and the
//! move form a drag of a parked call onto another space fills and sends.

use crate::desk::Desk;
use ami_parking::display::caller;
use ami_parking::{LotKey, Park};
use ami_parking_dioxus::components::TextField;
use ami_parking_dioxus::UseAmiParking;
use dioxus::prelude::*;

/// What the last action of the bar did: a headline (the space, big) and a line.
#[derive(Debug, Clone, PartialEq)]
enum Done {
    Parked { lot: String, space: u32, who: String },
    Retrieved(String),
    Failed(String),
}

/// The bar: the user's phone (from the profile, or typed once and remembered by the
/// browser where there is no login), the two actions, the outcome.
#[component]
pub fn MyDesk(
    parking: UseAmiParking,
    desk: Desk,
    lot: Option<LotKey>,
    typed_phone: Signal<String>,
) -> Element {
    let mut done: Signal<Option<Done>> = use_signal(|| None);
    let mut busy = use_signal(|| false);
    let profile_phone = desk.who.phone.clone();
    let park_desk = desk.clone();
    let park_lot = lot.clone();
    let park = move |_| {
        if busy() {
            return;
        }
        let Some(key) = park_lot.clone() else {
            done.set(Some(Done::Failed("no parking lot to park into yet".into())));
            return;
        };
        let (desk, typed) = (park_desk.clone(), typed_phone());
        busy.set(true);
        spawn(async move {
            let p = Park::default().lot(key.name.to_string());
            done.set(Some(match desk.park_caller_of(key.server_id, &typed, p).await {
                Ok(at) => Done::Parked { lot: at.lot, space: at.space, who: caller(&at.call) },
                Err(e) => Done::Failed(e.to_string()),
            }));
            busy.set(false);
        });
    };
    let retrieve_desk = desk.clone();
    let retrieve = move |_| {
        let desk = retrieve_desk.clone();
        let longest = parking
            .parked_calls
            .peek()
            .iter()
            .filter(|c| desk.sees(&c.parking_lot))
            // The earliest park (the clock's last tick may be older than the newest call).
            .min_by_key(|c| (c.parked_at, c.parking_space))
            .cloned();
        let Some(call) = longest else {
            done.set(Some(Done::Failed("no call is waiting".into())));
            return;
        };
        let typed = typed_phone();
        spawn(async move {
            let phone = desk.destination(&typed);
            done.set(Some(match desk.retrieve(&call, &typed).await {
                Ok(r) => Done::Retrieved(format!(
                    "{} from space {} is ringing your phone ({phone})",
                    caller(&call),
                    r.space
                )),
                Err(e) => Done::Failed(e.to_string()),
            }));
        });
    };
    let into = lot.as_ref().map(|l| l.name.to_string()).unwrap_or_default();
    rsx! {
        section { class: "my-desk", "aria-label": "My phone",
            div { class: "my-phone",
                if let Some(phone) = profile_phone {
                    span { class: "label", "My phone" }
                    span { class: "phone", id: "my-phone", "{phone}" }
                } else {
                    label { r#for: "my-phone-input", class: "label", "My phone" }
                    // The browser owns what is typed (see `TextField`).
                    TextField { id: "my-phone-input", text: typed_phone, placeholder: "e.g. PJSIP/1001", autocomplete: "off" }
                }
            }
            div { class: "my-actions",
                button {
                    id: "park-my-caller",
                    class: "primary",
                    r#type: "button",
                    "aria-keyshortcuts": "p",
                    disabled: busy(),
                    onclick: park,
                    "Park my caller"
                    span { class: "key", "aria-hidden": "true", "P" }
                }
                button {
                    id: "retrieve-longest",
                    r#type: "button",
                    "aria-keyshortcuts": "r",
                    onclick: retrieve,
                    "Retrieve longest waiting"
                    span { class: "key", "aria-hidden": "true", "R" }
                }
                span { class: "hint", "Parks into {into}. Click a parked call (or Tab to it, Enter) to ring it to this phone. Keys: P park, R retrieve." }
            }
            div { class: "my-outcome", role: "status",
                match done() {
                    None => rsx! {},
                    Some(Done::Parked { lot, space, who }) => rsx! {
                        div { class: "big-space", id: "parked-space",
                            span { class: "big-label", "Parked in {lot}" }
                            span { class: "big-number", "{space}" }
                            span { class: "big-who", "{who}" }
                        }
                    },
                    Some(Done::Retrieved(text)) => rsx! { div { class: "parking-result ok", "{text}" } },
                    Some(Done::Failed(text)) => rsx! { div { class: "parking-result error", "{text}" } },
                }
            }
        }
    }
}

/// Move a parked call to another space or lot: the form a keyboard user fills, and
/// the one a drag of a call onto another space fills and sends (`board.js`).
#[component]
pub fn MoveForm(parking: UseAmiParking, desk: Desk) -> Element {
    let mut from = use_signal(String::new);
    let mut to_lot = use_signal(String::new);
    let to_space = use_signal(String::new);
    let mut outcome: Signal<Option<Result<String, String>>> = use_signal(|| None);
    let calls: Vec<_> =
        parking.parked_calls.read().iter().filter(|c| desk.sees(&c.parking_lot)).cloned().collect();
    let lots: Vec<LotKey> =
        parking.parking_lots.read().keys().filter(|k| desk.sees(&k.name)).cloned().collect();
    let go = move |_| {
        let chosen = from();
        let call = parking
            .parked_calls
            .peek()
            .iter()
            .find(|c| format!("{}/{}/{}", c.server_id, c.parking_lot, c.parking_space) == chosen)
            .cloned();
        let Some(call) = call else {
            outcome.set(Some(Err("choose a parked call to move".into())));
            return;
        };
        let lot = match to_lot() {
            l if l.is_empty() => call.parking_lot.to_string(),
            l => l,
        };
        let mut to = Park::default().lot(lot);
        match to_space().trim() {
            "" => {}
            s => match s.parse::<u32>() {
                Ok(n) => to = to.space(n),
                Err(_) => {
                    outcome.set(Some(Err(format!("space {s:?}: a number, e.g. 805"))));
                    return;
                }
            },
        }
        let desk = desk.clone();
        spawn(async move {
            let from = call.parking_space;
            outcome.set(Some(match desk.move_call(&call, to).await {
                Ok(m) => Ok(format!("Moved {} from {from} to {} {}", caller(&call), m.lot, m.space)),
                Err(e) => Err(e.to_string()),
            }));
        });
    };
    rsx! {
        div { class: "panel move-panel",
            h2 { "Move a call" }
            div { class: "hint", "Or drag a parked call onto another space." }
            label { r#for: "move-from", "Call" }
            select { id: "move-from", value: "{from}", onchange: move |e| from.set(e.value()),
                option { value: "", "Choose a parked call" }
                for c in calls {
                    option {
                        value: "{c.server_id}/{c.parking_lot}/{c.parking_space}",
                        selected: from() == format!("{}/{}/{}", c.server_id, c.parking_lot, c.parking_space),
                        "{c.parking_lot} {c.parking_space}: {caller(&c)}"
                    }
                }
            }
            label { r#for: "move-lot", "To lot" }
            select { id: "move-lot", value: "{to_lot}", onchange: move |e| to_lot.set(e.value()),
                option { value: "", "The same lot" }
                for k in lots {
                    option { value: "{k.name}", selected: to_lot() == *k.name, "{k.name}" }
                }
            }
            label { r#for: "move-space", "To space (empty: the first free)" }
            // The browser owns what is typed (see `TextField`).
            TextField { id: "move-space", text: to_space, inputmode: "numeric" }
            button { id: "move-button", r#type: "button", onclick: go, "Move" }
            match outcome() {
                None => rsx! {},
                Some(Ok(text)) => rsx! { div { class: "parking-result ok", role: "status", "{text}" } },
                Some(Err(e)) => rsx! { div { class: "parking-result error", role: "alert", "{e}" } },
            }
        }
    }
}
