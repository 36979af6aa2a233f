//! The Dioxus hook and components in a `VirtualDom`, rendered by `dioxus-ssr`, driven
//! by the reference model (every byte through the AMI codec): what the user sees.

use ami_parking::sim::SimClient;
use ami_parking::{LotKey, ParkingStore, Timestamp};
use ami_parking_dioxus::components::{ParkingDashboard, ParkingLotGrid, TimeoutWarnings};
use ami_parking_dioxus::{use_ami_parking, use_parking_event};
use dioxus::prelude::*;
use dioxus_core::NoOpMutations;
use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

#[derive(Clone)]
struct Root {
    sim: SimClient,
    seen: Rc<Cell<usize>>,
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
}

impl Ui {
    fn new() -> Self {
        let sim = SimClient::new(ParkingStore::default(), Timestamp::from_unix_millis(1_700_000_000_000));
        let seen = Rc::new(Cell::new(0));
        let mut dom = VirtualDom::new_with_props(board, Root { sim: sim.clone(), seen: seen.clone() });
        dom.rebuild_in_place();
        let mut ui = Ui { dom, sim, seen };
        ui.settle();
        ui
    }

    /// Runs every ready task and re-renders every dirty component (all synchronous:
    /// the model answers at once), then renders the page.
    fn settle(&mut self) -> String {
        for _ in 0..20 {
            self.dom.process_events();
            self.dom.render_immediate(&mut NoOpMutations);
        }
        dioxus_ssr::render(&self.dom)
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

    ui.sim.with_pbx(|pbx, now| pbx.park(now, 1, "5551001", "Alice", "default", None).unwrap());
    let cell = ui.space(701);
    assert!(cell.contains("class=\"parking-space occupied\""), "{cell}");
    assert!(cell.contains("Alice") && cell.contains("5551001") && cell.contains("0:00"), "{cell}");
    assert!(cell.contains("0:45 left"), "{cell}");
    let html = ui.settle();
    assert!(html.contains("1 calls parked"));
    assert!(html.contains("<div class=\"lot-stats\">1 / 20</div>"), "{html}");
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
