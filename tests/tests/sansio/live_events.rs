//! How the store reads live events it cannot simply apply: a call displaced from its
//! space whose leave comes later, a call that leaves before it was seen and is
//! swapped in afterwards, a swap into an empty space, a give-up followed by another
//! call's park, the store fed messages directly, and listeners that come and go.
//! Events are shaped by the model's builders, as Asterisk 22 writes them (the wire doc,
//! "Live events").

use ami_parking::{Message, ParkingEvent, ParkingOptions, ParkingStore, Timestamp};
use ami_parking_tests::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const LOTS: [(&str, u32, u32, u32); 1] = [("default", 701, 720, 45)];

/// The unique id, space and parked-at time of each event's call, by kind.
fn seen(events: &[ParkingEvent]) -> Vec<(&'static str, String, u32, Timestamp)> {
    events
        .iter()
        .map(|e| {
            let c = e.call();
            (e.kind(), c.unique_id().to_string(), c.parking_space, c.parked_at)
        })
        .collect()
}

#[test]
fn a_displaced_calls_late_leave_reports_the_call_as_the_store_saw_it() {
    let mut w = Wire::synced(ParkingOptions::default(), &LOTS, &[]);
    let t0 = w.now;
    // Under load Asterisk announces a space's next park before its last leave: A, then
    // B and C into 701 before A's and B's leaves.
    w.feed(&live_event("ParkedCall", "default", 701, "1.1", "5551001"));
    w.now = t0 + Duration::from_secs(5);
    w.feed(&live_event("ParkedCall", "default", 701, "1.2", "5551002"));
    w.feed(&live_event("ParkedCall", "default", 701, "1.3", "5551003"));
    w.now = t0 + Duration::from_secs(10);
    w.take_outputs();
    // A call never seen leaves first: it matches no displaced call.
    for (uid, space) in [("1.9", 709), ("1.1", 701), ("1.2", 701)] {
        w.feed(&live_event("UnParkedCall", "default", space, uid, "5551000"));
    }
    let t5 = t0 + Duration::from_secs(5);
    assert_eq!(
        seen(&w.events()),
        vec![
            ("retrieved", "1.9".into(), 709, w.now),
            ("retrieved", "1.1".into(), 701, t0),
            ("retrieved", "1.2".into(), 701, t5),
        ],
        "each leave reports its own call, with the times the store first saw"
    );
    let left = w.conn.store().parked_call_on_now(1, "default", 701).unwrap();
    assert_eq!(left.unique_id(), "1.3");
}

#[test]
fn a_call_that_left_before_it_was_seen_is_not_kept_by_a_late_swap() {
    let mut w = Wire::synced(ParkingOptions::default(), &LOTS, &[("default", 701, "1.2", "5551002")]);
    // Two channels leave before the store saw them arrive.
    w.feed(&live_event("UnParkedCall", "default", 702, "3.1", "5553001"));
    w.feed(&live_event("UnParkedCall", "default", 703, "3.2", "5553002"));
    // A swap of another channel into 701 keeps it: only the channels that left go.
    w.feed(&live_event("ParkedCallSwap", "default", 701, "4.4", "5554004"));
    let held =
        |w: &Wire| w.conn.store().parked_call_on_now(1, "default", 701).map(|c| c.unique_id().to_string());
    assert_eq!(held(&w).as_deref(), Some("4.4"));
    // Then the first one's swap into 701 arrives: it already left, so 701 is empty.
    w.feed(&live_event("ParkedCallSwap", "default", 701, "3.1", "5553001"));
    assert_eq!(held(&w), None);
    assert_eq!(w.conn.store().lot_now(&ami_parking::LotKey::new(1, "default")).unwrap().occupied, 0);
}

#[test]
fn a_call_a_live_event_placed_is_not_placed_again_where_a_stale_list_has_it() {
    let mut w = Wire::synced(ParkingOptions::default(), &LOTS, &[]);
    let id = w
        .conn
        .request(w.now, ami_parking::Request::ParkedCalls { lot: None }, ami_parking::Target::All)
        .unwrap();
    let a = aid(&w.sent().pop().unwrap());
    // While the list is collected, 1.1 is seen parking in 705; the list has it in 703.
    w.feed(&live_event("ParkedCall", "default", 705, "1.1", "5551001"));
    w.feed(&list_of(&a, &[list_item(&a, "default", 703, "1.1", "5551001", 40, 5)]));
    assert!(matches!(w.reply(id), Some(Ok(_))));
    let places: Vec<(u32, String)> = w
        .conn
        .store()
        .parked_calls_now()
        .iter()
        .map(|c| (c.parking_space, c.unique_id().to_string()))
        .collect();
    assert_eq!(places, vec![(705, "1.1".to_string())], "the live event is the newer truth");
}

#[test]
fn a_swap_into_a_space_the_store_holds_empty_is_a_swap_with_no_previous_call() {
    let mut w = Wire::synced(ParkingOptions::default(), &LOTS, &[]);
    w.feed(&live_event("ParkedCallSwap", "default", 705, "4.1", "5554001"));
    match w.events().as_slice() {
        [ParkingEvent::Swapped { call, previous: None }] => assert_eq!(call.unique_id(), "4.1"),
        other => panic!("{other:?}"),
    }
    assert!(w.conn.store().parked_call_on_now(1, "default", 705).is_some());
}

#[test]
fn a_give_up_then_another_calls_park_is_a_give_up_and_a_park() {
    let calls = [("default", 701, "1.1", "5551001")];
    let mut w = Wire::synced(ParkingOptions::default(), &LOTS, &calls);
    w.feed(&live_event("ParkedCallGiveUp", "default", 701, "1.1", "5551001"));
    w.feed(&live_event("ParkedCall", "default", 702, "1.2", "5551002"));
    let kinds: Vec<(&str, String)> =
        w.events().iter().map(|e| (e.kind(), e.call().unique_id().to_string())).collect();
    assert_eq!(kinds, vec![("giveup", "1.1".into()), ("parked", "1.2".into())]);
}

/// The one message `text` holds, decoded.
fn message(text: &str) -> Message {
    let mut out = messages(text.as_bytes());
    assert_eq!(out.len(), 1);
    out.pop().unwrap()
}

const NOW: Timestamp = Timestamp::from_unix_millis(1_795_667_000_000);

#[test]
fn a_store_fed_messages_directly_applies_live_events_and_ignores_the_rest() {
    let store = ParkingStore::new(ParkingOptions::default());
    let parked = message(&live_event("ParkedCall", "default", 701, "1.1", "5551001"));
    let events = store.apply_message(NOW, 1, &parked);
    assert_eq!(seen(&events), vec![("parked", "1.1".into(), 701, NOW)]);
    assert!(store.parked_call_on_now(1, "default", 701).is_some());
    // A list item (it carries an ActionID) and other events change nothing.
    let item = message(&list_item("x-1", "default", 702, "1.2", "5551002", 40, 5));
    assert!(store.apply_message(NOW, 1, &item).is_empty());
    let other = message("Event: FullyBooted\r\nPrivilege: system,all\r\nStatus: Fully Booted\r\n\r\n");
    assert!(store.apply_message(NOW, 1, &other).is_empty());
    assert_eq!(store.parked_calls_now().len(), 1);
}

#[test]
fn dropping_one_listeners_guard_leaves_the_others_listening() {
    let store = ParkingStore::new(ParkingOptions::default());
    let heard: Arc<[AtomicUsize; 2]> = Arc::default();
    let (a, b) = (heard.clone(), heard.clone());
    let first = store.on_parking_event(move |_| {
        a[0].fetch_add(1, Ordering::SeqCst);
    });
    let second = store.on_parking_event(move |_| {
        b[1].fetch_add(1, Ordering::SeqCst);
    });
    drop(first);
    store.apply_message(NOW, 1, &message(&live_event("ParkedCall", "default", 701, "1.1", "a")));
    assert_eq!((heard[0].load(Ordering::SeqCst), heard[1].load(Ordering::SeqCst)), (0, 1));
    drop(second);
    store.apply_message(NOW, 1, &message(&live_event("ParkedCall", "default", 702, "1.2", "b")));
    assert_eq!(heard[1].load(Ordering::SeqCst), 1, "dropped: heard no more");
}
