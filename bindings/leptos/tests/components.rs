//! The Leptos components rendered to HTML under an owner, driven by the reference
//! model through the binding: what the user sees, and that it follows the store.
//! Needs the feature `components` (declared in Cargo.toml: `required-features`).

use ami_parking::sim::SimClient;
use ami_parking::{LotKey, ParkingStore, Timestamp};
use ami_parking_leptos::components::{ParkingDashboard, ParkingLotGrid, TimeoutWarnings};
use ami_parking_leptos::{use_ami_parking, UseAmiParking};
use any_spawner::Executor;
use leptos::prelude::*;
use std::time::Duration;

fn setup() -> (Owner, SimClient, UseAmiParking) {
    let _ = Executor::init_futures_executor();
    let owner = Owner::new();
    let sim = SimClient::new(ParkingStore::default(), Timestamp::from_unix_millis(1_700_000_000_000));
    let parking = owner.with(|| use_ami_parking(sim.clone()));
    (owner, sim, parking)
}

/// Renders the page as it is after every ready task ran.
fn page(owner: &Owner, parking: UseAmiParking) -> String {
    Executor::poll_local();
    owner.with(|| {
        view! {
            <TimeoutWarnings parking />
            <ParkingLotGrid parking lot=LotKey::new(1, "default") retrieve_to="PJSIP/1002" />
            <ParkingDashboard parking retrieve_to="PJSIP/1002" />
        }
        .to_html()
    })
}

fn space(html: &str, space: u32) -> String {
    let at = html.find(&format!("data-space=\"{space}\"")).expect("the space is rendered");
    let start = html[..at].rfind("<div").unwrap();
    let end = start + html[start..].find("</div>").unwrap();
    html[start..end].to_owned()
}

#[test]
fn the_grid_shows_a_parked_call_its_timer_and_the_warning() {
    let (owner, sim, parking) = setup();
    let html = page(&owner, parking);
    assert_eq!(html.matches("class=\"parking-space\"").count(), 20, "{html}");
    assert!(html.contains("0 calls parked"), "{html}");

    sim.with_pbx(|pbx, now| pbx.park(now, 1, "5551001", "Alice", "default", None).unwrap());
    let html = page(&owner, parking);
    let cell = space(&html, 701);
    assert!(cell.contains("class=\"parking-space occupied\""), "{cell}");
    assert!(cell.contains("Alice") && cell.contains("5551001") && cell.contains("0:00"), "{cell}");
    assert!(html.contains("701: Alice &lt;5551001&gt; · 0:45 left"), "the dashboard lists it: {html}");

    sim.advance(Duration::from_secs(16)); // 29 s left
    let html = page(&owner, parking);
    let cell = space(&html, 701);
    assert!(cell.contains("class=\"parking-space occupied warning\"") && cell.contains("0:16"), "{cell}");
    assert!(html.contains("class=\"timeout-warnings\""), "{html}");
    assert!(html.contains("default 701: Alice &lt;5551001&gt;"), "{html}");

    sim.with_pbx(|pbx, now| pbx.retrieve(now, 1, "default", 701, "1002").unwrap());
    let html = page(&owner, parking);
    assert!(space(&html, 701).contains("Empty"), "{html}");
    assert!(html.contains("class=\"timeout-warnings empty\""), "{html}");
}
