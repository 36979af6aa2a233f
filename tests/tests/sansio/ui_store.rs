//! The store as a UI reads it: lot grids and lot lists, the clock and the
//! near-timeout alert on a simulated clock, the filter and the transform as views,
//! one vocabulary, live lot counts, a lot refresh with its range, the retrieve's
//! ring time, and one listing per connection behind amiws.

use ami_parking::Request;
use ami_parking::{
    LotKey, Output, ParkedCall, ParkingError, ParkingEvent, ParkingOptions, Reply, Retriever, Target,
    Timestamp,
};
use ami_parking_tests::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const LOTS: [(&str, u32, u32, u32); 2] = [("default", 701, 720, 45), ("vip", 801, 810, 5)];

fn default_lot() -> LotKey {
    LotKey::new(1, "default")
}

/// The unique id of a grid cell's call.
pub(crate) fn uid_of(cell: &Option<Arc<ParkedCall>>) -> Option<String> {
    cell.as_ref().map(|c| c.unique_id().to_string())
}

#[test]
fn a_park_fills_exactly_its_cell_and_a_range_change_replaces_the_grid() {
    let mut w = Wire::synced(ParkingOptions::default(), &LOTS, &[("default", 705, "0.5", "5550005")]);
    let store = w.conn.store().clone();
    let mut grid = DiffProbe::of(store.lot_grid(&default_lot()));
    let mut list = DiffProbe::of(store.lot_calls(&default_lot()));
    let mut vip_grid = DiffProbe::of(store.lot_grid(&LotKey::new(1, "vip")));
    assert_eq!(grid.take(), ["replace"]);
    assert_eq!(grid.mirror.len(), 20, "one cell per space, 701 to 720");
    assert_eq!(uid_of(&grid.mirror[4]), Some("0.5".into()), "705 is cell 4");
    assert_eq!(list.take(), ["replace"]);
    vip_grid.take();

    w.feed(&live_event("ParkedCall", "default", 703, "1.1", "5551001"));
    assert_eq!(grid.take_at(), [("update", 2)], "a park changes exactly its cell");
    assert_eq!(uid_of(&grid.mirror[2]), Some("1.1".into()));
    assert_eq!(list.take_at(), [("insert", 0)], "703 comes before 705 in the lot's list");
    assert!(vip_grid.take().is_empty(), "another lot's grid hears nothing");

    w.feed(&live_event("UnParkedCall", "default", 703, "1.1", "5551001"));
    assert_eq!(grid.take_at(), [("update", 2)]);
    assert_eq!(grid.mirror[2], None);
    assert_eq!(list.take_at(), [("remove", 0)]);
    assert_eq!(grid.mirror, store.lot_grid_now(&default_lot()));

    // The lot grows: a Parkinglots answer with a new range replaces the grid.
    let id = w.conn.request(w.now, Request::ParkingLots, Target::All).unwrap();
    let sent = w.sent();
    w.feed(&parking_lots_answer(&aid(&sent[0]), &[("default", 701, 730, 45), ("vip", 801, 810, 5)]));
    assert_eq!(grid.take(), ["replace"], "a range change is one Replace");
    assert_eq!(grid.mirror.len(), 30);
    assert_eq!(uid_of(&grid.mirror[4]), Some("0.5".into()), "the calls keep their cells");
    assert!(vip_grid.take().is_empty(), "an unchanged range is left alone");
    // get_parking_lots answers the live counts, not the list's zeros.
    match w.reply(id) {
        Some(Ok(Reply::Lots(lots))) => {
            let d = lots.iter().find(|l| &*l.name == "default").unwrap();
            assert_eq!((d.occupied, d.total_spaces, d.free()), (1, 30, 29));
        }
        r => panic!("{r:?}"),
    }
}

#[test]
fn grids_and_lot_lists_follow_a_real_capture_whole_and_byte_by_byte() {
    let cap = TcpCapture::load("lists-park-retrieve-timeout");
    for cuts in [Vec::new(), byte_cuts(cap.rx.len())] {
        let mut checked = 0;
        let mut probe: Option<DiffProbe<Option<Arc<ParkedCall>>>> = None;
        let mut hook = |conn: &ami_parking::Connection, _now: Timestamp, o: &Output| {
            let store = conn.store();
            probe.get_or_insert_with(|| DiffProbe::of(store.lot_grid(&default_lot()))).take();
            if let Output::Parking(e) = o {
                let key = e.call().lot_key();
                let lot = store.lot_now(&key).unwrap();
                let calls = store.lot_calls_now(&key);
                let all: Vec<_> =
                    store.parked_calls_now().into_iter().filter(|c| c.lot_key() == key).collect();
                assert_eq!(calls, all, "the lot's list is the global list's part");
                assert_eq!(lot.occupied as usize, calls.len());
                let grid = store.lot_grid_now(&key);
                assert_eq!(grid.len() as u32, lot.total_spaces);
                for (i, cell) in grid.iter().enumerate() {
                    let space = lot.start_space + i as u32;
                    let want = calls.iter().find(|c| c.parking_space == space);
                    assert_eq!(cell.as_ref(), want, "space {space}");
                }
                checked += 1;
            }
        };
        let (conn, _) =
            replay_tcp_with(&cap, &cuts, &|_| Timestamp::from_unix_millis(1_795_667_000_000), &mut hook);
        assert_eq!(checked, 5, "three parks, a retrieve, a timeout");
        let mut probe = probe.unwrap();
        probe.take();
        assert_eq!(probe.mirror, conn.store().lot_grid_now(&default_lot()), "the diffs build the grid");
    }
}

#[test]
fn the_clock_ticks_once_a_second_while_calls_are_parked_and_stops_when_none_is() {
    let mut w = Wire::synced(ParkingOptions::default(), &LOTS, &[]);
    let store = w.conn.store().clone();
    let idle = store.clock_now();
    w.advance(Duration::from_secs(3));
    assert_eq!(store.clock_now(), idle, "no call parked: the clock does not move");
    w.feed(&live_event("UnParkedCall", "default", 709, "0.9", "5551009"));
    assert_eq!(store.clock_now(), idle, "nor does a leave of a call never seen");
    let parked_at = w.now;
    w.feed(&live_event("ParkedCall", "default", 701, "1.1", "5551001"));
    assert_eq!(store.clock_now(), parked_at, "the first park starts the clock");
    assert_eq!(w.conn.poll_timeout(), Some(parked_at + Duration::from_secs(1)));
    w.now = parked_at + Duration::from_millis(500);
    w.feed(&live_event("ParkedCall", "default", 702, "1.2", "5551002"));
    assert_eq!(store.clock_now(), parked_at, "an event between ticks does not move the clock");
    for s in 1..=5 {
        let at = w.conn.poll_timeout().unwrap();
        w.now = at;
        w.advance(Duration::ZERO);
        assert_eq!(store.clock_now(), parked_at + Duration::from_secs(s));
    }
    let call = store.parked_call_now(None, 701).unwrap();
    assert_eq!(call.duration(store.clock_now()), Duration::from_secs(5), "a duration derived from the clock");
    w.feed(&live_event("UnParkedCall", "default", 701, "1.1", "5551001"));
    w.feed(&live_event("UnParkedCall", "default", 702, "1.2", "5551002"));
    let stopped = store.clock_now();
    w.advance(Duration::from_secs(10));
    assert_eq!(store.clock_now(), stopped, "no call left: the clock stops");
    assert!(
        w.conn.poll_timeout().is_none_or(|t| t > w.now + Duration::from_secs(5)),
        "nothing wakes every second"
    );
}

#[test]
fn near_timeout_fires_once_per_park_when_the_threshold_is_crossed() {
    let heard = Arc::new(Mutex::new(Vec::new()));
    let h = heard.clone();
    let opts = ParkingOptions::default().on_call_near_timeout(move |c, left| {
        h.lock().unwrap().push((c.parking_space, left));
    });
    let mut w = Wire::synced(opts, &LOTS, &[]);
    let parked_at = w.now;
    // 45 s to wait, threshold 30 s: the alert is due 15 s after the park.
    w.feed(&live_event("ParkedCall", "default", 701, "1.1", "5551001"));
    let mut alerts = Vec::new();
    while w.now < parked_at + Duration::from_secs(40) {
        w.now = w.conn.poll_timeout().unwrap();
        w.advance(Duration::ZERO);
        w.answer_pings();
        for e in w.take_outputs() {
            if let Output::Parking(ParkingEvent::NearTimeout { call, remaining }) = e {
                alerts.push((w.now, call.parking_space, remaining));
            }
        }
    }
    assert_eq!(
        alerts,
        [(parked_at + Duration::from_secs(15), 701, Duration::from_secs(30))],
        "once, on time"
    );
    assert_eq!(*heard.lock().unwrap(), [(701, Duration::from_secs(30))], "the callback heard it");
    // A call first seen below the threshold (vip: 5 s) is alerted at once, then never again.
    let short = live_event("ParkedCall", "vip", 801, "1.2", "5551002")
        .replace("ParkingTimeout: 45", "ParkingTimeout: 5");
    w.feed(&short);
    assert!(w.conn.poll_timeout().unwrap() <= w.now, "due now");
    w.advance(Duration::ZERO);
    w.advance(Duration::from_secs(1));
    let vip: Vec<_> = w
        .events()
        .into_iter()
        .filter(|e| e.kind() == "near_timeout" && e.call().parking_space == 801)
        .collect();
    assert_eq!(vip.len(), 1);
    // A new park in the same space is a new park: its own alert.
    w.feed(&live_event("ParkedCallTimeOut", "vip", 801, "1.2", "5551002"));
    w.feed(
        &live_event("ParkedCall", "vip", 801, "1.3", "5551003")
            .replace("ParkingTimeout: 45", "ParkingTimeout: 5"),
    );
    w.advance(Duration::ZERO);
    let again: Vec<_> = w
        .events()
        .into_iter()
        .filter(|e| e.kind() == "near_timeout" && e.call().unique_id() == "1.3")
        .collect();
    assert_eq!(again.len(), 1);
    // A call that left before its time is never alerted.
    w.feed(&live_event("ParkedCall", "default", 702, "1.4", "5551004"));
    w.feed(&live_event("UnParkedCall", "default", 702, "1.4", "5551004"));
    w.advance(Duration::from_secs(20));
    assert!(!w.events().iter().any(|e| e.kind() == "near_timeout" && e.call().unique_id() == "1.4"));
}

/// Parks that end before their alert leave it scheduled; a next park in the same
/// space, in the same millisecond with the same timeout, is due at the same time: the
/// new park is alerted once, as itself, and the ended parks' alerts are dropped
/// unfired. (That the sweep tells them apart, by their parks' tags, is
/// `long_run::ended_parks_alerts_are_swept_at_the_next_tick`'s.)
#[test]
fn a_new_park_due_when_an_ended_ones_alert_is_alerted_once() {
    let mut w = Wire::synced(ParkingOptions::default(), &LOTS, &[]);
    let parked_at = w.now;
    for i in 0..5 {
        let uid = format!("2.{i}");
        w.feed(&live_event("ParkedCall", "default", 705, &uid, "5551005"));
        w.feed(&live_event("UnParkedCall", "default", 705, &uid, "5551005"));
    }
    w.feed(&live_event("ParkedCall", "default", 705, "2.9", "5551009"));
    assert!(w.conn.store().debug_sizes().alerts >= 6, "the ended parks' alerts wait in the heap");
    // 45 s to wait, threshold 30 s: due 15 s after the park.
    w.advance(Duration::from_secs(15));
    w.advance(Duration::from_secs(1));
    let alerted: Vec<String> = w
        .events()
        .into_iter()
        .filter(|e| e.kind() == "near_timeout")
        .map(|e| e.call().unique_id().to_string())
        .collect();
    assert_eq!(alerted, ["2.9"], "once, for the call in the space now");
    assert_eq!(w.now, parked_at + Duration::from_secs(16));
    assert_eq!(w.conn.store().debug_sizes().alerts, 0, "no alert left once it fired");
}

/// A call not followed live (the link dropped) that a list shows parked again while
/// we were away keeps its space and its park, with Asterisk's new clock: its alert
/// moves with the deadline (before, it fired at the old deadline's time).
#[test]
fn a_re_park_seen_in_a_list_moves_the_alert_with_the_deadline() {
    let mut w = Wire::synced(ParkingOptions::default(), &LOTS, &[]);
    let parked_at = w.now;
    w.feed(&live_event("ParkedCall", "default", 702, "1.2", "5551002"));
    w.now = w.now + Duration::from_secs(3);
    // Parked again just now: 45 s left, none spent.
    w.reconnect_and_list(|a| vec![list_item(a, "default", 702, "1.2", "5551002", 45, 0)]);
    let relisted = w.conn.store().parked_call_on_now(1, "default", 702).unwrap();
    assert_eq!(relisted.deadline(), Some(parked_at + Duration::from_secs(48)), "Asterisk's new clock");
    let mut alerts = Vec::new();
    while w.now < parked_at + Duration::from_secs(30) {
        w.now = w.conn.poll_timeout().unwrap();
        w.advance(Duration::ZERO);
        w.answer_pings();
        for e in w.take_outputs() {
            if let Output::Parking(ParkingEvent::NearTimeout { call, remaining }) = e {
                alerts.push((w.now, call.unique_id().to_string(), remaining));
            }
        }
    }
    assert_eq!(
        alerts,
        [(parked_at + Duration::from_secs(18), "1.2".to_string(), Duration::from_secs(30))],
        "once, 30 s before the new deadline"
    );
}

/// The same re-park seen after the park's alert fired: the store keeps it as the same
/// park (no new `Parked`), so it is not alerted again.
#[test]
fn a_re_park_seen_in_a_list_after_the_alert_fired_is_not_alerted_again() {
    let mut w = Wire::synced(ParkingOptions::default(), &LOTS, &[]);
    let parked_at = w.now;
    w.feed(&live_event("ParkedCall", "default", 702, "1.2", "5551002"));
    w.advance(Duration::from_secs(16));
    let alerted = |w: &Wire| w.events().iter().filter(|e| e.kind() == "near_timeout").count();
    assert_eq!(alerted(&w), 1, "due 15 s after the park");
    // Parked again just now: 45 s left, none spent.
    w.reconnect_and_list(|a| vec![list_item(a, "default", 702, "1.2", "5551002", 45, 0)]);
    let relisted = w.conn.store().parked_call_on_now(1, "default", 702).unwrap();
    assert_eq!(relisted.deadline(), Some(parked_at + Duration::from_secs(61)), "Asterisk's new clock");
    while w.now < parked_at + Duration::from_secs(60) {
        w.now = w.conn.poll_timeout().unwrap();
        w.advance(Duration::ZERO);
        w.answer_pings();
    }
    assert_eq!(alerted(&w), 1, "once per park");
}

#[test]
fn the_filter_and_the_transform_shape_the_views_not_the_store() {
    let parked = Arc::new(AtomicUsize::new(0));
    let p = parked.clone();
    let opts = ParkingOptions::default()
        .parked_call_filter(|c| &*c.parking_lot == "default")
        .transform_parked_call(|mut c| {
            let upper = c.caller_id_name().to_uppercase();
            c.set_caller_id_name(upper);
            c.parking_space += 100; // cannot move a call: ignored
            c
        })
        .on_call_parked(move |_| {
            p.fetch_add(1, Ordering::SeqCst);
        });
    let mut w = Wire::synced(opts, &LOTS, &[("vip", 802, "0.2", "5550002")]);
    let store = w.conn.store().clone();
    w.feed(&live_event("ParkedCall", "vip", 801, "1.1", "5551001"));
    w.feed(&live_event("ParkedCall", "default", 701, "1.2", "5551002"));
    assert_eq!(parked.load(Ordering::SeqCst), 1, "the hidden vip call fires nothing");
    let kinds: Vec<&str> = w.events().iter().map(|e| e.kind()).collect();
    assert_eq!(kinds, ["parked"]);
    let shown = store.parked_calls_now();
    assert_eq!(shown.len(), 1);
    assert_eq!((shown[0].parking_space, shown[0].caller_id_name()), (701, "CUSTOMER 5551002"));
    assert_eq!(store.total_parked_calls_now(), 1);
    let vip = store.lot_now(&LotKey::new(1, "vip")).unwrap();
    assert_eq!(vip.occupied, 2, "lot counts stay Asterisk's");
    assert!(store.lot_calls_now(&LotKey::new(1, "vip")).is_empty());
    // A hidden call can be retrieved: the Originate goes out, the reply comes.
    let id = w
        .conn
        .request(
            w.now,
            Request::Retrieve { space: 801, to_channel: "PJSIP/1002".into(), lot: Some("vip".into()) },
            Target::All,
        )
        .unwrap();
    let orig = w.sent().pop().unwrap();
    assert!(orig.is("Data", "vip,801"));
    w.feed(&format!(
        "Response: Success\r\nActionID: {}\r\nMessage: Originate successfully queued\r\n\r\n",
        aid(&orig)
    ));
    w.feed(&live_event("UnParkedCall", "vip", 801, "1.1", "5551001"));
    assert!(matches!(w.reply(id), Some(Ok(Reply::Retrieved { space: 801, .. }))));
    assert_eq!(store.lot_now(&LotKey::new(1, "vip")).unwrap().occupied, 1);
    // A space the store knows empty is still refused without asking Asterisk.
    assert!(matches!(
        w.conn.request(
            w.now,
            Request::Retrieve { space: 805, to_channel: "PJSIP/1002".into(), lot: Some("vip".into()) },
            Target::All
        ),
        Err(ParkingError::SpaceEmpty { .. })
    ));
}

#[test]
fn every_event_serializes_under_its_kind() {
    let call = Arc::new(ParkedCall::default());
    let events = [
        ParkingEvent::Parked { call: call.clone() },
        ParkingEvent::Retrieved { call: call.clone(), retriever: Retriever::default() },
        ParkingEvent::TimedOut { call: call.clone() },
        ParkingEvent::GaveUp { call: call.clone() },
        ParkingEvent::Swapped { call: call.clone(), previous: None },
        ParkingEvent::NearTimeout { call: call.clone(), remaining: Duration::from_secs(30) },
        ParkingEvent::Resync { call, change: ami_parking::ResyncChange::Appeared },
    ];
    let mut kinds = Vec::new();
    for e in &events {
        let json = serde_json::to_value(e).unwrap();
        assert_eq!(json["type"], e.kind(), "{json}");
        kinds.push(e.kind());
    }
    assert_eq!(kinds, ["parked", "retrieved", "timeout", "giveup", "swap", "near_timeout", "resync"]);
}

#[test]
fn a_retrieve_lets_the_phone_ring_and_waits_for_it() {
    let opts = ParkingOptions::default().retrieve_ring_timeout(Duration::from_secs(30));
    let mut w = Wire::synced(opts, &LOTS, &[("default", 701, "1.1", "5551001")]);
    let id = w
        .conn
        .request(
            w.now,
            Request::Retrieve { space: 701, to_channel: "PJSIP/1002".into(), lot: None },
            Target::All,
        )
        .unwrap();
    let orig = w.sent().pop().unwrap();
    assert!(orig.is("Timeout", "30000"), "the Originate rings for the ring time: {orig:?}");
    w.feed(&format!(
        "Response: Success\r\nActionID: {}\r\nMessage: Originate successfully queued\r\n\r\n",
        aid(&orig)
    ));
    w.advance(Duration::from_secs(12));
    assert!(w.reply(id).is_none(), "12 s of ringing is no timeout");
    w.feed(&live_event("UnParkedCall", "default", 701, "1.1", "5551001"));
    assert!(matches!(w.reply(id), Some(Ok(Reply::Retrieved { .. }))));
}

#[test]
fn behind_amiws_connecting_lists_lots_and_calls_once() {
    let mut w = Wire::amiws(ParkingOptions::default());
    let first = w.sent();
    let actions: Vec<String> = first.iter().map(|m| m.get_str("Action").unwrap().into_owned()).collect();
    assert_eq!(actions, ["Parkinglots", "ParkedCalls"]);
    // amiws greets with each server's login: a new server and a re-login at once.
    for server in [1, 2] {
        w.frame(server, &[("Response", "Success"), ("Message", "Authentication accepted")]);
    }
    for server in [1, 2] {
        w.frame_text(server, &parking_lots_answer(&aid(&first[0]), &LOTS));
        w.frame_text(server, &parked_calls_answer(&aid(&first[1]), &[]));
    }
    w.advance(Duration::from_secs(11));
    let more: Vec<String> = w.sent().iter().map(|m| m.get_str("Action").unwrap().into_owned()).collect();
    assert!(more.is_empty(), "the refresh after login covered both servers: {more:?}");
    assert!(w.conn.store().is_synced(1) && w.conn.store().is_synced(2));
    // A server that did not answer it gets its own refresh.
    let mut w = Wire::amiws(ParkingOptions::default());
    let first = w.sent();
    w.frame(2, &[("Response", "Success"), ("Message", "Authentication accepted")]);
    w.frame_text(1, &parking_lots_answer(&aid(&first[0]), &LOTS));
    w.frame_text(1, &parked_calls_answer(&aid(&first[1]), &[]));
    assert!(w.sent().is_empty(), "server 2 may still answer the first refresh");
    w.advance(Duration::from_secs(11));
    let late = w.sent();
    let two = Some("2".to_string());
    assert_eq!(
        ami_parking_tests::actions(&late),
        vec![("Parkinglots".into(), two.clone()), ("ParkedCalls".into(), two)]
    );
}

#[test]
fn lots_that_appear_while_others_hold_calls_keep_the_calls_diffs_in_place() {
    // The global list places a call after every call of the lots before its own; a
    // new lot renumbers the lots, with calls parked in them.
    let lots = [("default", 701, 720, 45), ("sales", 801, 810, 45)];
    let calls = [("default", 701, "1.1", "a"), ("default", 702, "1.2", "b"), ("sales", 801, "1.3", "c")];
    let mut w = Wire::synced(ParkingOptions::default(), &lots, &calls);
    let mut probe = DiffProbe::new(w.conn.store());
    probe.mirror = w.conn.store().parked_calls_now();
    let steps = [
        ("ParkedCall", "aaa", 1, "1.4"),
        ("ParkedCall", "sales", 802, "1.5"),
        ("ParkedCall", "mmm", 5, "1.6"),
        ("ParkedCall", "default", 703, "1.7"),
        ("ParkedCall", "zzz", 9, "1.8"),
        ("ParkedCallGiveUp", "default", 701, "1.1"),
        ("ParkedCall", "sales", 803, "1.9"),
        ("ParkedCallTimeOut", "aaa", 1, "1.4"),
        ("ParkedCall", "mmm", 6, "1.10"),
        // The same call announced again with news: one update in place.
        ("ParkedCall", "sales", 802, "1.5"),
    ];
    for (n, (event, lot, space, uid)) in steps.into_iter().enumerate() {
        w.feed(&live_event(event, lot, space, uid, &format!("555100{n}")));
        w.advance(Duration::from_millis(250)); // a give-up waits a moment: is it a move?
        probe.take();
        let calls = w.conn.store().parked_calls_now();
        assert_eq!(probe.mirror, calls, "after {event} {lot} {space}");
    }
    let places: Vec<(String, u32)> =
        probe.mirror.iter().map(|c| (c.parking_lot.to_string(), c.parking_space)).collect();
    let want = [
        ("default", 702),
        ("default", 703),
        ("mmm", 5),
        ("mmm", 6),
        ("sales", 801),
        ("sales", 802),
        ("sales", 803),
        ("zzz", 9),
    ];
    assert_eq!(places, want.map(|(l, s)| (l.to_string(), s)));
}

#[test]
fn an_alert_survives_a_hundred_parks_that_ended_before_it() {
    let mut w = Wire::synced(ParkingOptions::default(), &LOTS, &[]);
    let parked_at = w.now;
    // 45 s to wait, threshold 30 s: due 15 s after the park.
    w.feed(&live_event("ParkedCall", "default", 701, "1.1", "5551001"));
    // Each short park leaves an alert behind in the schedule; the store sweeps them.
    for i in 0..100 {
        w.feed(&live_event("ParkedCall", "default", 702, &format!("2.{i}"), "5551002"));
        w.feed(&live_event("UnParkedCall", "default", 702, &format!("2.{i}"), "5551002"));
    }
    while w.now < parked_at + Duration::from_secs(16) {
        w.now = w.conn.poll_timeout().unwrap();
        w.advance(Duration::ZERO);
        w.answer_pings();
    }
    let alerts: Vec<u32> = w
        .events()
        .into_iter()
        .filter(|e| e.kind() == "near_timeout")
        .map(|e| e.call().parking_space)
        .collect();
    assert_eq!(alerts, vec![701]);
}

#[test]
fn a_list_that_brings_the_first_calls_starts_the_clock() {
    let mut w = Wire::ami(ParkingOptions::default());
    let store = w.conn.store().clone();
    let idle = store.clock_now();
    w.now = w.now + Duration::from_secs(3);
    w.answer_initial(&LOTS, &[("default", 701, "1.1", "5551001")]);
    assert_ne!(store.clock_now(), idle);
    assert_eq!(store.clock_now(), w.now, "the clock starts with the listed calls");
    assert_eq!(w.conn.poll_timeout(), Some(w.now + Duration::from_secs(1)));
}
