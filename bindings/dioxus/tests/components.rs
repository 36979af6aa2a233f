//! The Dioxus hook and components in a `VirtualDom`, rendered by `dioxus-ssr`, driven
//! by the reference model (every byte through the AMI codec): what the user sees.

use ami_parking::sim::SimClient;
use ami_parking::{LotKey, ParkingStore, Timestamp};
use ami_parking_dioxus::components::{ParkingDashboard, ParkingLotGrid, TimeoutWarnings};
use ami_parking_dioxus::{use_ami_parking, use_parking_event};
use dioxus::prelude::*;
use dioxus_core::{ElementId, Mutation};
use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

#[derive(Clone)]
struct Root {
    sim: SimClient,
    seen: Rc<Cell<usize>>,
}

/// Runs every ready task and re-renders every dirty component (all synchronous: the
/// model answers at once), then renders the page.
fn settle(dom: &mut VirtualDom) -> String {
    settle_edits(dom);
    dioxus_ssr::render(dom)
}

/// [`settle`], keeping the edits the renders made instead of the page.
fn settle_edits(dom: &mut VirtualDom) -> Vec<Mutation> {
    let mut edits = Vec::new();
    for _ in 0..20 {
        dom.process_events();
        edits.extend(dom.render_immediate_to_vec().edits);
    }
    edits
}

fn board(root: Root) -> Element {
    let parking = use_ami_parking(|| root.sim.clone());
    let seen = root.seen.clone();
    use_parking_event(parking, move |_| seen.set(seen.get() + 1));
    rsx! {
        TimeoutWarnings { parking }
        ParkingLotGrid { parking, lot: LotKey::new(1, "default"), retrieve_to: "PJSIP/1002" }
        ParkingDashboard { parking, retrieve_to: "PJSIP/1002" }
    }
}

struct Ui {
    dom: VirtualDom,
    sim: SimClient,
    seen: Rc<Cell<usize>>,
    /// The grid's click listeners, space 701 first (the first ones the page registers).
    cells: Vec<ElementId>,
}

impl Ui {
    fn new() -> Self {
        let sim = SimClient::new(ParkingStore::default(), Timestamp::from_unix_millis(1_700_000_000_000));
        let seen = Rc::new(Cell::new(0));
        let mut dom = VirtualDom::new_with_props(board, Root { sim: sim.clone(), seen: seen.clone() });
        let cells = dom
            .rebuild_to_vec()
            .edits
            .into_iter()
            .filter_map(|m| match m {
                Mutation::NewEventListener { name, id } if name == "click" => Some(id),
                _ => None,
            })
            .take(20)
            .collect();
        dioxus_html::set_event_converter(Box::new(dioxus_html::SerializedHtmlEventConverter));
        let mut ui = Ui { dom, sim, seen, cells };
        ui.settle();
        ui
    }

    /// [`settle`] on the page.
    fn settle(&mut self) -> String {
        settle(&mut self.dom)
    }

    /// A click on a space of the default lot, as liveview delivers it.
    fn click(&mut self, space: u32) {
        let data = dioxus_html::EventData::Mouse(dioxus_html::SerializedMouseData::default());
        let event = dioxus_core::Event::new(data.into_any(), true);
        self.dom.runtime().handle_event("click", event, self.cells[(space - 701) as usize]);
    }

    /// The rendered element of one space.
    fn space(&mut self, space: u32) -> String {
        let html = self.settle();
        let at = html.find(&format!("data-space=\"{space}\"")).expect("the space is rendered");
        let start = html[..at].rfind("<div").unwrap();
        let end = start + html[start..].find("</div>").unwrap();
        html[start..end].to_owned()
    }
}

#[test]
fn a_parked_call_appears_in_its_cell_with_caller_and_timer() {
    let mut ui = Ui::new();
    let html = ui.settle();
    assert_eq!(html.matches("class=\"parking-space\"").count(), 20, "20 free spaces: {html}");
    assert!(html.contains("0 calls parked"));
    assert!(html.contains("<span class=\"lot-count\">0 / 20</span>"), "the grid's count: {html}");

    ui.sim.with_pbx(|pbx, now| pbx.park(now, 1, "5551001", "Alice", "default", None).unwrap());
    let cell = ui.space(701);
    assert!(cell.contains("class=\"parking-space occupied\""), "{cell}");
    assert!(cell.contains("Alice") && cell.contains("5551001") && cell.contains("0:00"), "{cell}");
    assert!(cell.contains("0:45 left"), "{cell}");
    let html = ui.settle();
    assert!(html.contains("1 calls parked"));
    assert!(html.contains("<div class=\"lot-stats\">1 / 20</div>"), "{html}");
    // The grid's count follows the park (it reads the lot's figures on its own).
    assert!(html.contains("<span class=\"lot-count\">1 / 20</span>"), "the grid's count: {html}");
    assert!(html.contains("701: Alice &#60;5551001&#62;"), "the dashboard lists the call: {html}");
    assert!(ui.space(702).contains("Empty"));
    assert_eq!(ui.seen.get(), 1);
}

#[test]
fn the_timer_moves_and_the_warning_comes_near_timeout() {
    let mut ui = Ui::new();
    ui.sim.with_pbx(|pbx, now| pbx.park(now, 1, "5551001", "Alice", "default", None).unwrap());
    ui.sim.advance(Duration::from_secs(7));
    let cell = ui.space(701);
    assert!(cell.contains("0:07") && cell.contains("0:38 left"), "{cell}");
    assert!(ui.settle().contains("class=\"timeout-warnings empty\""));

    ui.sim.advance(Duration::from_secs(9)); // 29 s left
    let cell = ui.space(701);
    assert!(cell.contains("class=\"parking-space occupied warning\""), "{cell}");
    let html = ui.settle();
    assert!(html.contains("<div class=\"timeout-warnings\" role=\"alert\">"), "{html}");
    assert!(html.contains("default 701: Alice &#60;5551001&#62;"), "{html}");
    // The dashboard's row of the call is marked too (not by colour alone: its class).
    assert!(
        html.contains(
            "<div class=\"parked-call warning\"><span>701: Alice &#60;5551001&#62; · 0:29 left</span>"
        ),
        "{html}"
    );
}

#[test]
fn the_dashboards_retrieve_button_retrieves_its_own_call() {
    let mut ui = Ui::new();
    ui.sim.with_pbx(|pbx, now| {
        pbx.park(now, 1, "5551001", "Alice", "default", None).unwrap();
        pbx.park(now, 1, "5551002", "Bob", "default", None).unwrap();
    });
    // The renders that show the calls register the listeners of the dashboard's two
    // buttons (after the grid's cells, whose listeners were there from the start).
    let new_clicks: Vec<ElementId> = settle_edits(&mut ui.dom)
        .into_iter()
        .filter_map(|m| match m {
            Mutation::NewEventListener { name, id } if name == "click" && !ui.cells.contains(&id) => Some(id),
            _ => None,
        })
        .collect();
    assert_eq!(new_clicks.len(), 2, "one Retrieve button per parked call: {new_clicks:?}");
    // Bob's row is the second (the dashboard lists a lot's calls by space).
    let data = dioxus_html::EventData::Mouse(dioxus_html::SerializedMouseData::default());
    ui.dom.runtime().handle_event("click", dioxus_core::Event::new(data.into_any(), true), new_clicks[1]);
    let html = ui.settle();
    let left: Vec<String> =
        ui.sim.with_pbx(|pbx, _| pbx.calls(1).iter().map(|c| c.caller_num.clone()).collect());
    assert_eq!(left, ["5551001"], "only Bob's call was retrieved");
    assert!(html.contains("Space 702 retrieved to PJSIP/1002-"), "{html}");
}

#[test]
fn clicking_an_occupied_cell_retrieves_the_call_and_shows_the_result() {
    let mut ui = Ui::new();
    ui.sim.with_pbx(|pbx, now| pbx.park(now, 1, "5551001", "Alice", "default", None).unwrap());
    ui.settle();
    ui.click(702); // free: nothing happens
    assert!(!ui.settle().contains("parking-result"));
    assert_eq!(ui.sim.with_pbx(|pbx, _| pbx.calls(1).len()), 1);

    ui.click(701);
    let html = ui.settle();
    assert_eq!(ui.sim.with_pbx(|pbx, _| pbx.calls(1).len()), 0, "Asterisk (the model) let the call go");
    assert!(
        html.contains("<div class=\"parking-result ok\" role=\"status\">Space 701 retrieved to PJSIP/1002-"),
        "{html}"
    );
    assert!(ui.space(701).contains("Empty"));
}

#[test]
fn a_retrieve_that_fails_shows_its_error() {
    let mut ui = Ui::new();
    ui.sim.with_pbx(|pbx, now| pbx.park(now, 1, "5551001", "Alice", "default", None).unwrap());
    ui.settle();
    ui.sim.disconnect(); // the store still shows the call; the link is down
    ui.click(701);
    let html = ui.settle();
    assert!(
        html.contains("<div class=\"parking-result error\" role=\"alert\">Originate (retrieve) was not sent: not logged in to Asterisk yet</div>"),
        "{html}"
    );
}

#[test]
fn a_retrieve_empties_the_cell() {
    let mut ui = Ui::new();
    ui.sim.with_pbx(|pbx, now| pbx.park(now, 1, "5551001", "Alice", "default", None).unwrap());
    assert!(ui.space(701).contains("Alice"));
    ui.sim.with_pbx(|pbx, now| pbx.retrieve(now, 1, "default", 701, "1002").unwrap());
    let cell = ui.space(701);
    assert!(cell.contains("class=\"parking-space\"") && cell.contains("Empty"), "{cell}");
    assert!(ui.settle().contains("0 calls parked"));
}

#[test]
fn dropping_the_dom_stops_every_task() {
    let mut ui = Ui::new();
    ui.sim.with_pbx(|pbx, now| pbx.park(now, 1, "5551001", "Alice", "default", None).unwrap());
    ui.settle();
    assert_eq!(ui.seen.get(), 1);
    assert!(Rc::strong_count(&ui.seen) > 2, "the root props and the listener's closure hold it");
    let (sim, seen) = (ui.sim.clone(), ui.seen.clone());
    drop(ui);
    assert_eq!(Rc::strong_count(&seen), 1, "the listener's task and the props went with their scope");
    sim.with_pbx(|pbx, now| pbx.park(now, 1, "5551002", "Bob", "default", None).unwrap());
    assert_eq!(seen.get(), 1);
}

/// The test kit's generated scripts (the core's own property suite draws from the same
/// strategies): after every step, each grid cell the page renders is occupied exactly
/// when the store holds a call in that space, and shows that call's caller number.
#[test]
fn the_rendered_grid_equals_the_store_after_every_step_of_generated_scripts() {
    use ami_parking::testkit::proptest::prelude::*;
    use ami_parking::testkit::{check_store, strategy, Driver};
    use ami_parking::ParkingClient;
    let mut runner =
        ami_parking::testkit::proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(16));
    let result = runner.run(&strategy::script(1, 1..30), |script| {
        let mut ui = Ui::new();
        let mut driver = Driver::on(ui.sim.clone());
        for step in &script {
            driver.step(step);
            let html = ui.settle();
            check_store(ui.sim.store()).map_err(TestCaseError::fail)?;
            let grid = ui.sim.store().lot_grid_now(&LotKey::new(1, "default"));
            for (i, call) in grid.iter().enumerate() {
                let space = 701 + i;
                let at = html.find(&format!("data-space=\"{space}\"")).expect("the space is rendered");
                let start = html[..at].rfind("<div").unwrap();
                let cell = &html[start..start + html[start..].find("</div>").unwrap()];
                prop_assert_eq!(
                    cell.contains("occupied"),
                    call.is_some(),
                    "space {} after {:?}: {}",
                    space,
                    step,
                    cell
                );
                if let Some(c) = call {
                    prop_assert!(
                        cell.contains(c.caller_id_num()),
                        "space {} shows its caller: {}",
                        space,
                        cell
                    );
                }
            }
        }
        Ok(())
    });
    result.unwrap();
}

fn desk(root: Root) -> Element {
    use ami_parking_dioxus::components::{ParkForm, ParkMyCaller};
    let parking = use_ami_parking(|| root.sim.clone());
    rsx! {
        ParkMyCaller { parking, phone: "PJSIP/1001", lot: Some("default".to_string()) }
        ParkForm { parking, lot: None }
    }
}

/// `ParkMyCaller` parks the caller on the line with the phone (the model answers
/// `Status` with the phone's bridged call) and shows the space big; with no call, the
/// typed error. `ParkForm` renders its channel field and the lots.
#[test]
fn park_my_caller_parks_the_callers_call_and_shows_the_space() {
    let sim = SimClient::new(ParkingStore::default(), Timestamp::from_unix_millis(1_700_000_000_000));
    let mut dom = VirtualDom::new_with_props(desk, Root { sim: sim.clone(), seen: Rc::new(Cell::new(0)) });
    let clicks: Vec<ElementId> = dom
        .rebuild_to_vec()
        .edits
        .into_iter()
        .filter_map(|m| match m {
            Mutation::NewEventListener { name, id } if name == "click" => Some(id),
            _ => None,
        })
        .collect();
    dioxus_html::set_event_converter(Box::new(dioxus_html::SerializedHtmlEventConverter));
    let html = settle(&mut dom);
    assert!(html.contains("Park my caller") && html.contains("park-form-channel"), "{html}");
    assert!(html.contains("<option value=\"default\""), "the form lists the lots: {html}");
    let click = |dom: &mut VirtualDom| {
        let data = dioxus_html::EventData::Mouse(dioxus_html::SerializedMouseData::default());
        dom.runtime().handle_event("click", dioxus_core::Event::new(data.into_any(), true), clicks[0]);
    };
    click(&mut dom);
    let html = settle(&mut dom);
    assert!(html.contains("parking-result error") && html.contains("phone PJSIP/1001 has no call"), "{html}");
    sim.with_pbx(|p, _| p.connect_caller(1, "PJSIP/1001", "5556001")).unwrap();
    click(&mut dom);
    let html = settle(&mut dom);
    let space = sim.with_pbx(|p, _| p.calls(1)).iter().find(|c| c.caller_num == "5556001").map(|c| c.space);
    let space = space.expect("the caller is parked in the model");
    assert!(html.contains(&format!("<span class=\"big-number\">{space}</span>")), "{html}");
    assert!(html.contains("Customer 5556001"), "{html}");
    assert!(!html.contains("parking-result error"), "the old error is gone: {html}");
}

fn park_form_only(root: Root) -> Element {
    use ami_parking_dioxus::components::ParkForm;
    let parking = use_ami_parking(|| root.sim.clone());
    rsx! {
        ParkForm { parking, lot: None }
    }
}

/// `ParkForm`'s channel field is the browser's: the server never writes its `value` (in
/// a live view a render lags the typing by a round trip, and wrote an older text over
/// a newer one), typing renders nothing, and what was typed is what the park sends.
#[test]
fn the_park_forms_channel_is_the_browsers_and_a_park_sends_what_was_typed() {
    let sim = SimClient::new(ParkingStore::default(), Timestamp::from_unix_millis(1_700_000_000_000));
    let mut dom =
        VirtualDom::new_with_props(park_form_only, Root { sim: sim.clone(), seen: Rc::new(Cell::new(0)) });
    let mut edits = dom.rebuild_to_vec().edits;
    dioxus_html::set_event_converter(Box::new(dioxus_html::SerializedHtmlEventConverter));
    edits.extend(settle_edits(&mut dom));
    let listener = |name: &str| {
        edits.iter().find_map(|m| match m {
            Mutation::NewEventListener { name: n, id } if n == name => Some(*id),
            _ => None,
        })
    };
    let (field, button) = (listener("input").expect("the channel field"), listener("click").expect("Park"));
    let writes_value = |edits: &[Mutation]| {
        edits.iter().any(|m| matches!(m, Mutation::SetAttribute { name: "value", id, .. } if *id == field))
    };
    assert!(!writes_value(&edits), "the server never sets the field's value: {edits:?}");
    let typed = "PJSIP/1001-00000042";
    let data = dioxus_html::EventData::Form(dioxus_html::SerializedFormData::new(typed.into(), Vec::new()));
    dom.runtime().handle_event("input", dioxus_core::Event::new(data.into_any(), true), field);
    dom.process_events();
    let after = dom.render_immediate_to_vec().edits;
    assert!(after.is_empty(), "typing renders nothing: {after:?}");
    let data = dioxus_html::EventData::Mouse(dioxus_html::SerializedMouseData::default());
    dom.runtime().handle_event("click", dioxus_core::Event::new(data.into_any(), true), button);
    let html = settle(&mut dom);
    assert!(
        html.contains("parking-result") && html.contains(typed),
        "the park sent the typed channel: {html}"
    );
}

fn stale_board(root: Root) -> Element {
    let parking = use_ami_parking(|| root.sim.clone());
    rsx! {
        ParkingLotGrid { parking, lot: LotKey::new(1, "default"), retrieve_to: "PJSIP/1002", stale: Some("10:42".to_string()) }
        ParkingLotGrid { parking, lot: LotKey::new(1, "vip"), retrieve_to: "PJSIP/1002", large_lot: Some(5) }
    }
}

/// A lot whose server is down keeps its calls as last known and says "Not known" for
/// its free spaces; a lot larger than `large_lot` shows its occupied spaces and a free count.
#[test]
fn a_stale_lot_is_not_shown_as_empty_and_a_large_lot_shows_its_calls_and_a_free_count() {
    let sim = SimClient::new(ParkingStore::default(), Timestamp::from_unix_millis(1_700_000_000_000));
    sim.with_pbx(|pbx, now| pbx.park(now, 1, "5551001", "Alice", "default", None).unwrap());
    sim.with_pbx(|pbx, now| pbx.park(now, 1, "5551002", "Bob", "vip", None).unwrap());
    let mut dom =
        VirtualDom::new_with_props(stale_board, Root { sim: sim.clone(), seen: Rc::new(Cell::new(0)) });
    dom.rebuild_in_place();
    let html = settle(&mut dom);
    let (default, large) = html.split_at(html.find("data-lot=\"vip\"").expect("the vip lot"));
    assert!(
        default.contains("class=\"parking-lot stale\"") && default.contains("calls as last known at 10:42"),
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

/// A live event of the lot `overflow`, which no list names (a dynamic lot).
fn overflow_event(name: &str, space: &str, uid: &str, caller: &str) -> ami_parking::Message {
    ami_parking::Message::from_pairs([
        ("Event", name),
        ("ParkeeChannel", &*format!("PJSIP/{uid}-1")),
        ("ParkeeUniqueid", uid),
        ("ParkeeCallerIDNum", "5551009"),
        ("ParkeeCallerIDName", caller),
        ("Parkinglot", "overflow"),
        ("ParkingSpace", space),
        ("ParkingTimeout", "45"),
        ("ParkingDuration", "0"),
    ])
}

fn overflow_board(root: Root) -> Element {
    let parking = use_ami_parking(|| root.sim.clone());
    rsx! {
        ParkingLotGrid { parking, lot: LotKey::new(1, "overflow"), retrieve_to: "PJSIP/1002" }
        ParkingDashboard { parking, retrieve_to: "PJSIP/1002" }
    }
}

/// A `ParkedCall` for a lot the server has not listed (a dynamic lot Asterisk made at
/// the `Park`): the store does not know its range, yet its grid shows the call in its
/// space, and its count says how many are parked (not "1 / 0").
#[test]
fn a_lot_of_unknown_range_shows_its_calls_in_their_spaces() {
    use ami_parking::ParkingClient;
    let sim = SimClient::new(ParkingStore::default(), Timestamp::from_unix_millis(1_700_000_000_000));
    let mut dom =
        VirtualDom::new_with_props(overflow_board, Root { sim: sim.clone(), seen: Rc::new(Cell::new(0)) });
    dom.rebuild_in_place();
    let now = sim.store().clock_now();
    sim.store().apply_message(now, 1, &overflow_event("ParkedCall", "907", "1.7", "Carol"));
    sim.store().apply_message(now, 1, &overflow_event("ParkedCall", "903", "1.3", "Dave"));
    let html = settle(&mut dom);
    let grid = &html[..html.find("parking-dashboard").expect("the dashboard")];
    assert_eq!(grid.matches("data-space=").count(), 2, "one cell per call: {grid}");
    let (dave, carol) = (grid.find("data-space=\"903\"").unwrap(), grid.find("data-space=\"907\"").unwrap());
    assert!(dave < carol, "in space order: {grid}");
    assert!(grid[dave..].contains("Dave") && grid[carol..].contains("Carol"), "{grid}");
    assert!(grid.contains("<span class=\"lot-count\">2 parked</span>"), "{grid}");
    assert!(html.contains("<div class=\"lot-stats\">2 parked</div>"), "the dashboard's count: {html}");
}

thread_local! {
    /// The grid `grid_only` follows, read from outside the page.
    static GRID: std::cell::RefCell<Option<ReadSignal<Vec<ami_parking_dioxus::GridCell>>>> = const { std::cell::RefCell::new(None) };
}

fn grid_only(root: Root) -> Element {
    let parking = use_ami_parking(|| root.sim.clone());
    let grid = ami_parking_dioxus::use_lot_grid(parking, LotKey::new(1, "overflow"));
    GRID.with(|g| *g.borrow_mut() = Some(grid));
    rsx! {}
}

/// In a lot of unknown range every park and leave renumbers the grid's cells: their
/// signals are reused, not made again (a Dioxus signal lives as long as its scope: one
/// made at each park piled up, 2 KB an event on a board left open).
#[test]
fn an_unknown_range_grid_reuses_its_cells_signals() {
    use ami_parking::ParkingClient;
    let sim = SimClient::new(ParkingStore::default(), Timestamp::from_unix_millis(1_700_000_000_000));
    let mut dom =
        VirtualDom::new_with_props(grid_only, Root { sim: sim.clone(), seen: Rc::new(Cell::new(0)) });
    dom.rebuild_in_place();
    let now = sim.store().clock_now();
    let cells = |dom: &mut VirtualDom| {
        settle(dom);
        dom.in_runtime(|| GRID.with(|g| g.borrow().expect("the page ran").peek().clone()))
    };
    sim.store().apply_message(now, 1, &overflow_event("ParkedCall", "903", "1.3", ""));
    sim.store().apply_message(now, 1, &overflow_event("ParkedCall", "907", "1.7", ""));
    let two = cells(&mut dom);
    assert_eq!(two.iter().map(|c| c.space).collect::<Vec<_>>(), [903, 907]);
    for k in 0..50 {
        let uid = format!("2.{k}");
        sim.store().apply_message(now, 1, &overflow_event("ParkedCall", "901", &uid, ""));
        let three = cells(&mut dom);
        assert_eq!(three.iter().map(|c| c.space).collect::<Vec<_>>(), [901, 903, 907]);
        sim.store().apply_message(now, 1, &overflow_event("UnParkedCall", "901", &uid, ""));
    }
    assert_eq!(cells(&mut dom), two, "the same cells: the same spaces, the same signals");
}
