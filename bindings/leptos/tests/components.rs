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
    // The dashboard's row of the call is marked too (not by colour alone: its class).
    assert!(
        html.contains("<div class=\"lot-calls\"><div class=\"parked-call warning\"><span>701: Alice"),
        "{html}"
    );

    sim.with_pbx(|pbx, now| pbx.retrieve(now, 1, "default", 701, "1002").unwrap());
    let html = page(&owner, parking);
    assert!(space(&html, 701).contains("Empty"), "{html}");
    assert!(html.contains("class=\"timeout-warnings empty\""), "{html}");
}

/// `ParkMyCaller` shows the space big once its state parked the caller on the line
/// with the phone (the model answers `Status` with the phone's bridged call), and the
/// typed error when the phone has no call; `ParkForm` lists the lots.
#[test]
fn park_my_caller_shows_the_space_big_or_the_error() {
    use ami_parking_leptos::components::{ParkForm, ParkMyCaller, ParkMyCallerState};
    let (owner, sim, parking) = setup();
    let state = owner.with(ParkMyCallerState::new);
    let render = || {
        Executor::poll_local();
        owner.with(|| {
            view! {
                <ParkMyCaller parking phone="PJSIP/1001" lot="default" state />
                <ParkForm parking />
            }
            .to_html()
        })
    };
    let html = render();
    assert!(html.contains("Park my caller") && html.contains("park-form-channel"), "{html}");
    assert!(html.contains("<option value=\"default\">"), "the form lists the lots: {html}");
    owner.with(|| state.park(parking, "PJSIP/1001", Some("default")));
    let html = render();
    assert!(html.contains("parking-result error") && html.contains("phone PJSIP/1001 has no call"), "{html}");
    sim.with_pbx(|p, _| p.connect_caller(1, "PJSIP/1001", "5556101")).unwrap();
    owner.with(|| state.park(parking, "PJSIP/1001", Some("default")));
    let html = render();
    let space = sim.with_pbx(|p, _| p.calls(1)).iter().find(|c| c.caller_num == "5556101").map(|c| c.space);
    let space = space.expect("the caller is parked in the model");
    assert!(html.contains(&format!("<span class=\"big-number\">{space}</span>")), "{html}");
    assert!(html.contains("Customer 5556101") && !html.contains("parking-result error"), "{html}");
}

/// A lot whose server is down keeps its calls as last known and says "Not known" for
/// its free spaces; a lot larger than `large_lot` shows its occupied spaces and a free
/// count.
#[test]
fn a_stale_lot_is_not_shown_as_empty_and_a_large_lot_shows_its_calls_and_a_free_count() {
    let (owner, sim, parking) = setup();
    sim.with_pbx(|pbx, now| pbx.park(now, 1, "5551001", "Alice", "default", None).unwrap());
    sim.with_pbx(|pbx, now| pbx.park(now, 1, "5551002", "Bob", "vip", None).unwrap());
    Executor::poll_local();
    let html = owner.with(|| {
        view! {
            <ParkingLotGrid parking lot=LotKey::new(1, "default") retrieve_to="PJSIP/1002" stale="10:42" />
            <ParkingLotGrid parking lot=LotKey::new(1, "vip") retrieve_to="PJSIP/1002" large_lot=5 />
        }
        .to_html()
    });
    let (default, large) = html.split_at(html.find("data-lot=\"vip\"").expect("the vip lot"));
    assert!(
        default.contains("parking-lot stale") && default.contains("calls as last known at 10:42"),
        "{default}"
    );
    assert!(default.contains("last known 1 / 20") && default.contains("Alice"), "{default}");
    assert_eq!(default.matches(">Not known<").count(), 19, "{default}");
    assert!(!default.contains(">Empty<"), "no confident Empty: {default}");
    assert_eq!(large.matches("data-space=").count(), 1, "only the occupied space: {large}");
    assert!(
        large.contains("Bob") && large.contains("9 free spaces") && large.contains("Show all 10 spaces"),
        "{large}"
    );
}

/// A lot of unknown range (a dynamic lot no list has named yet) with more calls than
/// `large_lot`: its grid is its calls, all shown; it has no free count, and the
/// button that would show its free spaces has no label, which the stylesheet hides
/// (the button would do nothing).
#[test]
fn a_large_lot_of_unknown_range_shows_its_calls_and_hides_the_show_all_button() {
    use ami_parking::{Message, ParkingClient};
    let (owner, sim, parking) = setup();
    let store = sim.store();
    let now = store.clock_now();
    for (space, uid) in [("901", "1.1"), ("902", "1.2"), ("903", "1.3")] {
        let m = Message::from_pairs([
            ("Event", "ParkedCall"),
            ("ParkeeChannel", &*format!("PJSIP/{uid}-1")),
            ("ParkeeUniqueid", uid),
            ("ParkeeCallerIDNum", "5551001"),
            ("Parkinglot", "overflow"),
            ("ParkingSpace", space),
            ("ParkingTimeout", "45"),
            ("ParkingDuration", "0"),
        ]);
        store.apply_message(now, 1, &m);
    }
    Executor::poll_local();
    let html = owner.with(|| {
        view! { <ParkingLotGrid parking lot=LotKey::new(1, "overflow") retrieve_to="PJSIP/1002" large_lot=2 /> }
            .to_html()
    });
    assert_eq!(html.matches("data-space=").count(), 3, "every call: {html}");
    assert!(html.contains("3 parked") && !html.contains("free spaces"), "{html}");
    let button = &html[html.find("<button").expect("the button is in the page")..];
    let button = &button[..button.find("</button>").unwrap()];
    let label = button[button.find('>').unwrap() + 1..].replace("<!>", "");
    assert_eq!(label.trim(), "", "no label while the lot's size is unknown: {button}");
    assert!(ami_parking::display::DEFAULT_CSS.contains(".show-all:empty { display: none; }"));
}
