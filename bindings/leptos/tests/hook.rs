//! `use_ami_parking` driven by the reference model (every byte through the AMI codec),
//! headless: an owner, the futures executor polled by hand, what the user sees asserted.

use ami_parking::display::SpaceView;
use ami_parking::sim::SimClient;
use ami_parking::{ConnectionState, LotKey, ParkingError, ParkingStore, Timestamp};
use ami_parking_leptos::{use_ami_parking, UseAmiParking};
use any_spawner::Executor;
use reactive_graph::effect::Effect;
use reactive_graph::owner::Owner;
use reactive_graph::traits::{Get, GetUntracked};
use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn setup() -> (Owner, SimClient) {
    let _ = Executor::init_futures_executor();
    let owner = Owner::new();
    let sim = SimClient::new(ParkingStore::default(), Timestamp::from_unix_millis(1_700_000_000_000));
    (owner, sim)
}

/// Runs every ready local task (the binding's followers, effects, spawned requests).
fn settle() {
    Executor::poll_local();
}

fn default_lot() -> LotKey {
    LotKey::new(1, "default")
}

#[test]
fn a_parked_call_appears_in_its_cell_and_nowhere_else_changes() {
    let (owner, sim) = setup();
    owner.with(|| {
        let parking = use_ami_parking(sim.clone());
        let grid = parking.lot_grid(&default_lot());
        settle();
        let cells = grid.get_untracked();
        assert_eq!(cells.len(), 20, "701-720 is one cell per space");
        assert_eq!((cells[0].space, cells[19].space), (701, 720));
        // Count re-renders of the grid's structure and of two cells.
        let (outer, first, second) =
            (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        {
            let (o, c0, c1) = (outer.clone(), cells[0].call.clone(), cells[1].call.clone());
            let (f, s) = (first.clone(), second.clone());
            Effect::new(move |_| {
                grid.get();
                o.fetch_add(1, Ordering::SeqCst);
            });
            Effect::new(move |_| {
                c0.get();
                f.fetch_add(1, Ordering::SeqCst);
            });
            Effect::new(move |_| {
                c1.get();
                s.fetch_add(1, Ordering::SeqCst);
            });
        }
        settle();
        let before =
            (outer.load(Ordering::SeqCst), first.load(Ordering::SeqCst), second.load(Ordering::SeqCst));

        sim.with_pbx(|pbx, now| pbx.park(now, 1, "5551001", "Alice", "default", None).unwrap());
        settle();

        let call = cells[0].call.get_untracked().expect("701 holds the call");
        assert_eq!((call.caller_id_name(), call.parking_space), ("Alice", 701));
        assert_eq!(parking.parked_calls.get_untracked().len(), 1);
        assert_eq!(parking.total_parked_calls.get_untracked(), 1);
        assert_eq!(parking.parking_lots.get_untracked()[&default_lot()].occupied, 1);
        assert_eq!(parking.lot_calls(&default_lot()).get_untracked().len(), 1);
        assert_eq!(
            (outer.load(Ordering::SeqCst), first.load(Ordering::SeqCst), second.load(Ordering::SeqCst)),
            (before.0, before.1 + 1, before.2),
            "a park re-runs its own cell only: not the grid, not a neighbour"
        );
        assert_eq!(parking.last_event.get_untracked().map(|e| e.kind()), Some("parked"));
        assert_eq!(parking.connection_state.get_untracked(), ConnectionState::LoggedIn);
    });
}

#[test]
fn the_timer_moves_with_the_clock_and_the_warning_comes_near_timeout() {
    let (owner, sim) = setup();
    owner.with(|| {
        let parking = use_ami_parking(sim.clone());
        let grid = parking.lot_grid(&default_lot());
        sim.with_pbx(|pbx, now| pbx.park(now, 1, "5551001", "Alice", "default", None).unwrap());
        settle();
        let cell = grid.get_untracked()[0].clone();
        let view = || {
            SpaceView::new(cell.space, cell.call.get_untracked().as_deref(), parking.clock.get_untracked())
        };
        assert_eq!((view().timer.as_str(), view().class), ("0:00", "parking-space occupied"));

        sim.advance(Duration::from_secs(5));
        settle();
        assert_eq!(view().timer, "0:05", "the clock signal moved the timer");
        assert_eq!(view().countdown.as_deref(), Some("0:40"));

        sim.advance(Duration::from_secs(11)); // 29 s left: under the 30 s threshold
        settle();
        assert_eq!(view().class, "parking-space occupied warning");
        assert_eq!(parking.last_event.get_untracked().map(|e| e.kind()), Some("near_timeout"));
    });
}

/// Retrieves `space` to `PJSIP/1002` from a local task, as a component would; after
/// the tasks ran, the channel that took it or why not.
fn retrieve(parking: UseAmiParking, space: u32) -> Option<Result<String, ParkingError>> {
    let result = Rc::new(Cell::new(None));
    let r = result.clone();
    let fut = parking.client().retrieve_call(None, space, "PJSIP/1002");
    Executor::spawn_local(async move { r.set(Some(fut.await.map(|who| who.retriever.channel.to_string()))) });
    settle();
    result.take()
}

#[test]
fn a_retrieve_empties_the_cell_and_a_refused_one_shows_its_error() {
    let (owner, sim) = setup();
    owner.with(|| {
        let parking = use_ami_parking(sim.clone());
        let grid = parking.lot_grid(&default_lot());
        sim.with_pbx(|pbx, now| pbx.park(now, 1, "5551001", "Alice", "default", None).unwrap());
        settle();
        let result = retrieve(parking, 701);
        // The channel Asterisk made for the phone (its caller id is unknown: the
        // retrieve's Originate sends none).
        assert!(matches!(&result, Some(Ok(c)) if c.starts_with("PJSIP/1002-")), "{result:?}");
        assert_eq!(grid.get_untracked()[0].call.get_untracked(), None, "701 is empty again");
        assert_eq!(parking.last_event.get_untracked().map(|e| e.kind()), Some("retrieved"));

        let result = retrieve(parking, 705);
        match result {
            Some(Err(e @ ParkingError::SpaceEmpty { .. })) => {
                assert_eq!(e.to_string(), "nothing is parked in space 705 of lot default on server 1")
            }
            other => panic!("expected SpaceEmpty, got {other:?}"),
        }
    });
}

#[test]
fn disconnect_shows_and_reconnect_brings_the_truth_back() {
    let (owner, sim) = setup();
    owner.with(|| {
        let parking = use_ami_parking(sim.clone());
        sim.with_pbx(|pbx, now| pbx.park(now, 1, "5551001", "Alice", "default", None).unwrap());
        sim.disconnect();
        settle();
        assert_eq!(parking.connection_state.get_untracked(), ConnectionState::Disconnected);
        sim.with_pbx(|pbx, now| pbx.park(now, 1, "5551002", "Bob", "default", None).unwrap());
        sim.connect();
        settle();
        assert_eq!(parking.connection_state.get_untracked(), ConnectionState::LoggedIn);
        assert_eq!(
            parking.total_parked_calls.get_untracked(),
            2,
            "the resync found the call parked meanwhile"
        );
    });
}

#[test]
fn dropping_the_owner_stops_every_task() {
    let (owner, sim) = setup();
    let seen = Rc::new(Cell::new(0));
    let parking = owner.with(|| {
        let parking = use_ami_parking(sim.clone());
        let s = seen.clone();
        parking.on_parking_event(move |_| s.set(s.get() + 1));
        let _grid = parking.lot_grid(&default_lot());
        parking
    });
    sim.with_pbx(|pbx, now| pbx.park(now, 1, "5551001", "Alice", "default", None).unwrap());
    settle();
    assert_eq!(seen.get(), 1);
    assert_eq!(Rc::strong_count(&seen), 2, "the listener holds its closure");

    owner.cleanup();
    settle();
    assert_eq!(Rc::strong_count(&seen), 1, "the listener's task ended and dropped its closure");
    sim.with_pbx(|pbx, now| pbx.park(now, 1, "5551002", "Bob", "default", None).unwrap());
    settle();
    assert_eq!(seen.get(), 1, "no event handled after the owner is gone");
    assert_eq!(parking.total_parked_calls.try_get_untracked(), None, "the signals went with their owner");
}

/// The test kit's generated scripts (the core's own property suite draws from the same
/// strategies): after every step, the hook's grid shows in each cell exactly the call
/// the store holds in that space, and the store keeps its invariants.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn the_grid_equals_the_store_after_every_step_of_generated_scripts() {
    use ami_parking::testkit::proptest::prelude::*;
    use ami_parking::testkit::{check_store, strategy, Driver};
    use ami_parking::ParkingClient;
    let mut runner =
        ami_parking::testkit::proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(24));
    let result = runner.run(&strategy::script(1, 1..40), |script| {
        let (owner, sim) = setup();
        owner.with(|| {
            let parking = use_ami_parking(sim.clone());
            let grid = parking.lot_grid(&default_lot());
            let mut driver = Driver::on(sim.clone());
            for step in &script {
                driver.step(step);
                settle();
                check_store(sim.store()).map_err(TestCaseError::fail)?;
                let shown: Vec<_> = grid.get_untracked().iter().map(|c| c.call.get_untracked()).collect();
                prop_assert_eq!(shown, sim.store().lot_grid_now(&default_lot()), "after {:?}", step);
            }
            Ok(())
        })
    });
    result.unwrap();
}

/// A lot the server has not listed (a dynamic lot Asterisk made at a `Park`): its
/// range is unknown, and its grid's cells are its calls, each numbered by its space;
/// a park inserts a cell and a leave removes it.
#[test]
fn a_lot_of_unknown_range_has_a_cell_per_call_numbered_by_its_space() {
    use ami_parking::{Message, ParkingClient};
    let (owner, sim) = setup();
    owner.with(|| {
        let parking = use_ami_parking(sim.clone());
        let lot = LotKey::new(1, "overflow");
        let grid = parking.lot_grid(&lot);
        let event = |name: &str, space: &str, uid: &str| {
            Message::from_pairs([
                ("Event", name),
                ("ParkeeChannel", &*format!("PJSIP/{uid}-1")),
                ("ParkeeUniqueid", uid),
                ("Parkinglot", "overflow"),
                ("ParkingSpace", space),
                ("ParkingTimeout", "45"),
                ("ParkingDuration", "0"),
            ])
        };
        let store = sim.store();
        let now = store.clock_now();
        let cells = || -> Vec<(u32, Option<String>)> {
            settle();
            grid.get_untracked()
                .iter()
                .map(|c| (c.space, c.call.get_untracked().map(|c| c.unique_id().to_string())))
                .collect()
        };
        store.apply_message(now, 1, &event("ParkedCall", "907", "1.7"));
        store.apply_message(now, 1, &event("ParkedCall", "903", "1.3"));
        assert_eq!(cells(), [(903, Some("1.3".into())), (907, Some("1.7".into()))]);
        store.apply_message(now, 1, &event("UnParkedCall", "903", "1.3"));
        assert_eq!(cells(), [(907, Some("1.7".into()))]);
        assert!(!parking.parking_lots.get_untracked()[&lot].range_known);
    });
}
