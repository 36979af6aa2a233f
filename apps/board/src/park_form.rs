//! The park form (operators only): which channel, which of the user's lots, how long.

use crate::desk::Desk;
use ami_parking::{LotKey, Park};
use ami_parking_dioxus::components::TextField;
use ami_parking_dioxus::UseAmiParking;
use dioxus::prelude::*;
use std::time::Duration;

/// A timeout as typed: empty for the lot's, `never` (or 0), or seconds.
pub fn parse_timeout(t: &str) -> Result<Option<Option<Duration>>, String> {
    match t.trim() {
        "" => Ok(None),
        "never" | "0" => Ok(Some(None)),
        t => t
            .parse::<u64>()
            .ok()
            .filter(|s| *s <= 24 * 3600)
            .map(|s| Some(Some(Duration::from_secs(s))))
            .ok_or_else(|| format!("timeout {t:?}: seconds (up to a day), or never")),
    }
}

/// Park a channel into one of the user's lots.
#[component]
pub fn ParkForm(parking: UseAmiParking, desk: Desk) -> Element {
    let channel = use_signal(String::new);
    let mut lot = use_signal(String::new);
    let timeout = use_signal(String::new);
    let mut outcome: Signal<Option<Result<String, String>>> = use_signal(|| None);
    let lots: Vec<LotKey> =
        parking.parking_lots.read().keys().filter(|k| desk.sees(&k.name)).cloned().collect();
    let chosen = lot();
    let park = move |_| {
        let lots: Vec<LotKey> = parking.parking_lots.peek().keys().cloned().collect();
        let chosen = lot();
        let key = lots
            .iter()
            .find(|k| format!("{}/{}", k.server_id, k.name) == chosen)
            .or(lots.iter().find(|k| desk.sees(&k.name)));
        let Some(key) = key.cloned() else { return };
        let mut p = Park::default().lot(key.name.to_string());
        match parse_timeout(&timeout()) {
            Ok(None) => {}
            Ok(Some(None)) => p = p.no_timeout(),
            Ok(Some(Some(d))) => p = p.timeout(d),
            Err(e) => {
                outcome.set(Some(Err(e)));
                return;
            }
        }
        let (desk, ch) = (desk.clone(), channel());
        spawn(async move {
            outcome.set(Some(
                desk.park(key.server_id, &ch, p)
                    .await
                    .map(|at| format!("Parked in {} space {}", at.lot, at.space))
                    .map_err(|e| e.to_string()),
            ));
        });
    };
    rsx! {
        div { class: "panel park-panel",
            h2 { "Park a call by channel" }
            div { class: "hint", "For supervisors: the receptionist's way is Park my caller, at the top." }
            label { r#for: "park-channel", "Channel" }
            // The browser owns what is typed (see `TextField`).
            TextField { id: "park-channel", text: channel, placeholder: "PJSIP/1001-00000001" }
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
            TextField { id: "park-timeout", text: timeout }
            button { id: "park-button", onclick: park, "Park" }
            match outcome() {
                None => rsx! {},
                Some(Ok(text)) => rsx! { div { class: "parking-result ok", role: "status", "{text}" } },
                Some(Err(e)) => rsx! { div { class: "parking-result error", role: "alert", "{e}" } },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_timeout;
    use std::time::Duration;

    #[test]
    fn a_timeout_is_the_lots_never_or_seconds_up_to_a_day() {
        assert_eq!(parse_timeout(""), Ok(None));
        assert_eq!(parse_timeout("  "), Ok(None));
        assert_eq!(parse_timeout("never"), Ok(Some(None)));
        assert_eq!(parse_timeout("0"), Ok(Some(None)));
        assert_eq!(parse_timeout(" 90 "), Ok(Some(Some(Duration::from_secs(90)))));
        assert_eq!(parse_timeout("86400"), Ok(Some(Some(Duration::from_secs(86_400)))));
        for bad in ["86401", "-5", "1.5", "ten", "99999999999999999999999"] {
            let e = parse_timeout(bad).unwrap_err();
            assert_eq!(e, format!("timeout {bad:?}: seconds (up to a day), or never"));
        }
    }
}
