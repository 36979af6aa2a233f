//! The Leptos components mounted in a real headless Chromium (wasm-bindgen-test, run
//! by `tests/tests/browser.rs`), over the reference model: a click on an
//! occupied cell retrieves the call and the page says so; a failed retrieve shows
//! its error; the timer follows the clock; the dashboard's Retrieve button of a row
//! retrieves that row's call.
#![cfg(target_arch = "wasm32")]

use ami_parking::sim::SimClient;
use ami_parking::{LotKey, ParkingStore, Timestamp};
use ami_parking_leptos::components::{ParkingDashboard, ParkingLotGrid, ParkingStyles};
use ami_parking_leptos::use_ami_parking;
use leptos::prelude::*;
use std::time::Duration;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// Lets the page's tasks and effects run, then reads the DOM.
async fn settle() {
    for _ in 0..5 {
        any_spawner::Executor::tick().await;
    }
}

/// The reference model's client, and an element of the page (with the id `id`) for
/// a test to mount its components in.
fn start(id: &str) -> (SimClient, web_sys::HtmlElement) {
    let sim = SimClient::new(ParkingStore::default(), Timestamp::from_unix_millis(1_700_000_000_000));
    let root: web_sys::HtmlElement = document().create_element("div").unwrap().unchecked_into();
    root.set_id(id);
    document().body().unwrap().append_child(&root).unwrap();
    (sim, root)
}

fn cell(space: u32) -> web_sys::HtmlElement {
    document()
        .query_selector(&format!("[data-space=\"{space}\"]"))
        .unwrap()
        .expect("the cell is on the page")
        .unchecked_into()
}

fn text(selector: &str) -> Option<String> {
    document().query_selector(selector).unwrap().and_then(|e| e.text_content())
}

#[wasm_bindgen_test]
async fn clicking_a_cell_retrieves_and_errors_show() {
    let (sim, root) = start("cell-test");
    let s = sim.clone();
    let _mounted = leptos::mount::mount_to(root, move || {
        let parking = use_ami_parking(s);
        view! {
            <ParkingStyles />
            <ParkingLotGrid parking lot=LotKey::new(1, "default") retrieve_to="PJSIP/1002" />
        }
    });
    settle().await;
    assert_eq!(cell(701).class_name(), "parking-space");

    sim.with_pbx(|pbx, now| pbx.park(now, 1, "5551001", "Alice", "default", None).unwrap());
    sim.with_pbx(|pbx, now| pbx.park(now, 1, "5551002", "Bob", "default", None).unwrap());
    sim.advance(Duration::from_secs(3));
    settle().await;
    assert_eq!(cell(701).class_name(), "parking-space occupied");
    let shown = cell(701).text_content().unwrap();
    assert!(
        shown.contains("Alice") && shown.contains("parked 0:03") && shown.contains("0:42 left"),
        "{shown}"
    );

    cell(701).click();
    settle().await;
    let shown = text(".parking-result.ok").unwrap_or_default();
    assert!(shown.starts_with("Space 701 retrieved to PJSIP/1002-"), "{shown}");
    assert_eq!(cell(701).class_name(), "parking-space", "the cell emptied");
    assert_eq!(sim.with_pbx(|pbx, _| pbx.calls(1).len()), 1, "only Bob is left in Asterisk (the model)");

    sim.disconnect();
    cell(702).click();
    settle().await;
    assert_eq!(
        text(".parking-result.error").as_deref(),
        Some("Originate (retrieve) was not sent: not logged in to Asterisk yet")
    );
}

#[wasm_bindgen_test]
async fn the_dashboards_retrieve_button_retrieves_its_own_call() {
    let (sim, root) = start("dashboard-test");
    let s = sim.clone();
    let _mounted = leptos::mount::mount_to(root, move || {
        let parking = use_ami_parking(s);
        view! { <ParkingDashboard parking retrieve_to="PJSIP/1002" /> }
    });
    sim.with_pbx(|pbx, now| pbx.park(now, 1, "5551001", "Alice", "default", None).unwrap());
    sim.with_pbx(|pbx, now| pbx.park(now, 1, "5551002", "Bob", "default", None).unwrap());
    settle().await;
    let rows = || document().query_selector("#dashboard-test .lot-calls").unwrap().expect("the lot's calls");
    assert_eq!(rows().child_element_count(), 2, "one row per parked call");
    let bob = rows().first_element_child().and_then(|alice| alice.next_element_sibling()).unwrap();
    assert!(bob.text_content().unwrap().starts_with("702: Bob"), "the lot's calls by space");
    let button: web_sys::HtmlElement =
        bob.query_selector("button").unwrap().expect("each row has its Retrieve button").unchecked_into();
    button.click();
    settle().await;
    let left: Vec<String> =
        sim.with_pbx(|pbx, _| pbx.calls(1).iter().map(|c| c.caller_num.clone()).collect());
    assert_eq!(left, ["5551001"], "only Bob's call was retrieved");
    let shown = text("#dashboard-test .parking-result.ok").unwrap_or_default();
    assert!(shown.starts_with("Space 702 retrieved to PJSIP/1002-"), "{shown}");
    assert_eq!(rows().child_element_count(), 1, "Alice's row is left");
}

/// A park in another lot draws nothing in a lot's grid (the grid once read the lots
/// map, which every park changes, and drew all its cells again: most of the page's
/// time in `event_to_pixel_web`); a park in the lot draws its cell. A large lot's
/// "Show all" button stays the same element through parks (the keyboard's focus
/// stays on it).
#[wasm_bindgen_test]
async fn a_park_elsewhere_leaves_the_grid_as_it_is() {
    use web_sys::js_sys::Array;
    let (sim, root) = start("in-place-test");
    let s = sim.clone();
    let _mounted = leptos::mount::mount_to(root.clone(), move || {
        let parking = use_ami_parking(s);
        view! {
            <ParkingLotGrid parking lot=LotKey::new(1, "default") retrieve_to="PJSIP/1002" />
            <ParkingLotGrid parking lot=LotKey::new(1, "vip") retrieve_to="PJSIP/1002" large_lot=5 />
        }
    });
    sim.with_pbx(|pbx, now| pbx.park(now, 1, "5551001", "Alice", "default", None).unwrap());
    settle().await;
    let find = |selector: &str| root.query_selector(selector).unwrap();
    let grid = find("[data-lot=\"default\"] .parking-spaces").expect("the default lot's spaces");
    let show_all = find("[data-lot=\"vip\"] .show-all").expect("the large lot's button");
    // The changes in the default lot's grid, counted as the observer hears of them.
    let heard = std::rc::Rc::new(std::cell::Cell::new(0u32));
    let count = heard.clone();
    let on_change = wasm_bindgen::closure::Closure::<dyn FnMut(Array)>::new(move |records: Array| {
        count.set(count.get() + records.length());
    });
    let watch = Watch(web_sys::MutationObserver::new(on_change.as_ref().unchecked_ref()).unwrap());
    let all = web_sys::MutationObserverInit::new();
    all.set_child_list(true);
    all.set_subtree(true);
    all.set_attributes(true);
    all.set_character_data(true);
    watch.0.observe_with_options(&grid, &all).unwrap();
    let changes = || heard.replace(0) + watch.0.take_records().length();

    sim.with_pbx(|pbx, now| pbx.park(now, 1, "5551002", "Bob", "vip", None).unwrap());
    sim.with_pbx(|pbx, now| pbx.park(now, 1, "5551003", "Carol", "vip", None).unwrap());
    settle().await;
    let vip = find("[data-lot=\"vip\"]").and_then(|v| v.text_content()).unwrap_or_default();
    assert!(
        vip.contains("Bob") && vip.contains("Carol") && vip.contains("8 free spaces"),
        "the parks came: {vip}"
    );
    assert_eq!(changes(), 0, "parks in another lot changed nothing in the grid");
    assert!(show_all.is_connected(), "the large lot's button is not drawn again");

    sim.with_pbx(|pbx, now| pbx.park(now, 1, "5551004", "Dave", "default", None).unwrap());
    settle().await;
    assert!(changes() > 0, "a park in the lot draws its cell");
    let dave = find("[data-space=\"702\"]").and_then(|c| c.text_content());
    assert!(dave.as_deref().is_some_and(|t| t.contains("Dave")), "{dave:?}");
    assert!(show_all.is_connected(), "a park elsewhere leaves the button too");
}

/// Stops observing when dropped (also when an assertion fails first).
struct Watch(web_sys::MutationObserver);

impl Drop for Watch {
    fn drop(&mut self) {
        self.0.disconnect();
    }
}
