//! A connection and its store over a long run: 10,000 keep-alives, 10,000 polls,
//! 1,000 UI subscriptions mounted and dropped, 100,000 parks (one in ten reordered,
//! its space's next park before its leave). Every container the connection and the
//! store keep ([`ami_parking::ConnectionSizes`]) must be back at its floor afterwards:
//! a leak of one entry per keep-alive, poll, page view or park shows here long before
//! it costs a process that runs for months any memory.

use ami_parking::futures_signals::signal_vec::SignalVecExt;
use ami_parking::sim::check_connection;
use ami_parking::{ConnectionConfig, ConnectionSizes, ParkingOptions};
use ami_parking_tests::*;
use futures_util::{FutureExt, StreamExt};
use std::time::Duration;

/// The calls parked all along (lot `default`), listed by every poll.
const STANDING: [(&str, u32, &str, &str); 3] =
    [("default", 701, "9.1", "Ann"), ("default", 702, "9.2", "Bob"), ("default", 703, "9.3", "Cy")];

/// Answers what the connection sent: Pings with a Pong, `ParkedCalls` polls with the
/// standing calls. Returns how many of each it answered.
fn serve(w: &mut Wire) -> (usize, usize) {
    let (mut pings, mut polls) = (0, 0);
    for m in w.sent() {
        if m.is("Action", "Ping") {
            w.feed(&format!("Response: Success\r\nActionID: {}\r\nPing: Pong\r\n\r\n", aid(&m)));
            pings += 1;
        } else if m.is("Action", "ParkedCalls") {
            w.feed(&parked_calls_answer(&aid(&m), &STANDING));
            polls += 1;
        } else {
            panic!("unexpected action {m:?}");
        }
    }
    (pings, polls)
}

/// The floor: nothing in flight, no window, nobody subscribed, nothing reordered
/// waiting, alerts within their limit; only the standing calls held.
fn assert_floor(s: &ConnectionSizes, standing: usize) {
    assert_eq!(s.pending_requests, 0, "requests in flight: {s:#?}");
    assert_eq!(s.bound_action_ids, 0, "ActionIDs still bound: {s:#?}");
    assert_eq!(s.request_deadlines, 0, "request deadlines left: {s:#?}");
    assert_eq!(s.collection_windows, 0, "{s:#?}");
    assert_eq!(s.store.collection_windows, 0, "collection windows left open: {s:#?}");
    assert_eq!(s.known_servers, 1, "{s:#?}");
    assert_eq!((s.transmit_queue, s.output_queue), (0, 0), "{s:#?}");
    let st = &s.store;
    assert_eq!(st.calls, standing, "{s:#?}");
    assert_eq!(st.lots, 2, "{s:#?}");
    assert_eq!(
        (st.listeners, st.event_streams, st.call_list_subscribers, st.lot_view_subscribers),
        (0, 0, 0, 0),
        "subscribers kept: {s:#?}"
    );
    assert_eq!((st.displaced, st.departed, st.held_give_ups), (0, 0, 0), "{s:#?}");
    assert!(st.alerts <= 2 * standing + 64, "ended parks' alerts kept: {s:#?}");
    assert_eq!((st.synced_servers, st.lots_synced_servers), (1, 1), "{s:#?}");
}

#[test]
fn every_size_returns_to_its_floor_after_keepalives_polls_subscriptions_and_parks() {
    let mut cfg = ConnectionConfig::ami("amiuser", "amisecret");
    cfg.keepalive_interval = Duration::from_secs(30);
    let options = ParkingOptions::default().poll_interval(Duration::from_secs(30));
    let mut w = Wire::ami_with(cfg, options);
    w.answer_initial(&[("default", 701, 720, 45), ("load", 1, 1000, 45)], &STANDING);
    let standing = STANDING.len();
    let store = w.conn.store().clone();
    let mut out = Vec::new();
    let mut drain = |w: &mut Wire| out.extend(w.take_outputs());

    // 10,000 keep-alives and as many polls, 30 s apart.
    let (mut pings, mut polls) = (0, 0);
    for step in 0..10_000 {
        w.advance(Duration::from_secs(30));
        let (p, q) = serve(&mut w);
        pings += p;
        polls += q;
        drain(&mut w);
        if step % 1_000 == 0 {
            check_connection(&w.conn).unwrap_or_else(|e| panic!("after {step} keep-alives: {e}"));
        }
    }
    assert_eq!((pings, polls), (10_000, 10_000));
    assert_floor(&w.conn.debug_sizes(), standing);

    // 1,000 UI subscriptions mounted (each sees one event) and dropped.
    let park = |uid: &str, space: u32| live_event("ParkedCall", "load", space, uid, "Sub");
    let unpark = |uid: &str, space: u32| live_event("UnParkedCall", "load", space, uid, "Sub");
    for i in 0..1_000u32 {
        let mut events = store.events();
        let calls = store.parked_calls().to_stream();
        let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = seen.clone();
        let listener = store.on_parking_event(move |_| {
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        });
        let mut calls = Box::pin(calls);
        calls.next().now_or_never().flatten().expect("the list's first value");
        let mut grid = Box::pin(store.lot_grid(&ami_parking::LotKey::new(1, "load")).to_stream());
        grid.next().now_or_never().flatten().expect("the grid's first value");
        let uid = format!("7.{i}");
        w.feed(&park(&uid, 1));
        w.feed(&unpark(&uid, 1));
        assert_eq!(seen.load(std::sync::atomic::Ordering::Relaxed), 2);
        assert!(events.next().now_or_never().flatten().is_some(), "the stream got the park");
        assert!(grid.next().now_or_never().flatten().is_some(), "the grid got the park");
        drop((events, calls, listener, grid));
        drain(&mut w);
    }
    // The last ones dropped go with the next change.
    w.feed(&park("7.x", 1));
    w.feed(&unpark("7.x", 1));
    // A second later the clock ticks: the ended parks' alerts are swept.
    w.advance(Duration::from_secs(1));
    serve(&mut w);
    drain(&mut w);
    assert_floor(&w.conn.debug_sizes(), standing);

    // 100,000 parks and their leaves, ten a millisecond (their near-timeout alerts
    // are all still ahead); one in ten is displaced by the space's next park before
    // its own leave comes. Pings and polls go on meanwhile. The events are the
    // model's text with the unique id and the space filled in.
    let template = |event: &str| live_event(event, "load", 999_999, "@U@", "Sub");
    let (park_t, unpark_t) = (template("ParkedCall"), template("UnParkedCall"));
    let fill = |t: &str, uid: &str, space: u32| t.replace("999999", &space.to_string()).replace("@U@", uid);
    let mut batch = String::new();
    for i in 0..100_000u32 {
        let space = i % 1_000 + 1;
        let uid = format!("8.{i}");
        batch += &fill(&park_t, &uid, space);
        if i % 10 == 0 {
            let next = format!("8.{i}b");
            batch += &fill(&park_t, &next, space);
            batch += &fill(&unpark_t, &uid, space);
            batch += &fill(&unpark_t, &next, space);
        } else {
            batch += &fill(&unpark_t, &uid, space);
        }
        if i % 10 == 9 {
            w.feed(&std::mem::take(&mut batch));
            w.advance(Duration::from_millis(1));
            serve(&mut w);
            drain(&mut w);
        }
        if i % 10_000 == 9 {
            check_connection(&w.conn).unwrap_or_else(|e| panic!("after {i} parks: {e}"));
        }
    }
    // One more second: the clock ticks (the sweep of ended parks' alerts runs).
    w.advance(Duration::from_secs(1));
    serve(&mut w);
    drain(&mut w);
    check_connection(&w.conn).unwrap_or_else(|e| panic!("at the end: {e}"));
    let sizes = w.conn.debug_sizes();
    println!("sizes after the long run: {sizes:#?}");
    assert_floor(&sizes, standing);
    let parked = out
        .iter()
        .filter(|o| matches!(o, ami_parking::Output::Parking(ami_parking::ParkingEvent::Parked { .. })))
        .count();
    assert_eq!(parked, 1_000 + 1 + 110_000, "every park seen once");
}

/// The quick form of two of the leaks above, for the mutation runs (which skip the
/// long run): a dropped event stream, list subscriber, lot grid or lot call list
/// subscriber or listener is let go at the next event.
#[test]
fn dropped_event_streams_list_subscribers_and_listeners_are_let_go_at_the_next_event() {
    let mut w = Wire::synced(ParkingOptions::default(), &[("default", 701, 720, 45)], &[]);
    let store = w.conn.store().clone();
    let kept = store.events();
    let lot = ami_parking::LotKey::new(1, "default");
    let subs: Vec<_> = (0..10)
        .map(|_| {
            let views = (store.lot_grid(&lot), store.lot_calls(&lot));
            (store.events(), store.parked_calls(), store.on_parking_event(|_| {}), views)
        })
        .collect();
    let s = store.debug_sizes();
    assert_eq!(
        (s.event_streams, s.call_list_subscribers, s.listeners, s.lot_view_subscribers),
        (11, 10, 10, 20)
    );
    drop(subs);
    let s = store.debug_sizes();
    assert_eq!((s.event_streams, s.event_streams_closed, s.listeners), (11, 10, 0), "listeners go at once");
    w.feed(&live_event("ParkedCall", "default", 701, "1.1", "Ann"));
    let s = store.debug_sizes();
    assert_eq!(
        (s.event_streams, s.event_streams_closed, s.call_list_subscribers, s.lot_view_subscribers),
        (1, 0, 0, 0),
        "{s:#?}"
    );
    drop(kept);
}

/// The quick form of the alert sweep: 200 parks that ended leave some of their alerts
/// in the heap (at most `2 × calls + 64`) until the next tick, which keeps only the
/// live parks' alerts.
#[test]
fn ended_parks_alerts_are_swept_at_the_next_tick() {
    let mut w = Wire::synced(
        ParkingOptions::default(),
        &[("default", 701, 720, 45)],
        &[("default", 720, "9.9", "Ann")],
    );
    for i in 0..200 {
        let uid = format!("1.{i}");
        w.feed(&live_event("ParkedCall", "default", 701, &uid, "Bob"));
        w.feed(&live_event("UnParkedCall", "default", 701, &uid, "Bob"));
    }
    let s = w.conn.store().debug_sizes();
    // Swept also whenever a park took them past 2 × calls + 64 (two calls then).
    assert!(s.calls == 1 && s.alerts > 1 && s.alerts <= 2 * 2 + 64, "{s:#?}");
    w.advance(Duration::from_secs(1));
    let s = w.conn.store().debug_sizes();
    assert_eq!(s.alerts, 1, "only the standing call's alert is left: {s:#?}");
    check_connection(&w.conn).unwrap();
}

/// A store fed with `apply_message` by a program's own AMI client (the collector's
/// mirror is one) is never ticked: 10,000 parks and leaves keep their alerts bounded
/// all the same (before, each park left its alert, and its call, for good: about
/// 140 bytes a park in the collector).
#[test]
fn a_store_never_ticked_keeps_its_alerts_bounded() {
    use ami_parking::{Message, ParkingStore, Timestamp};
    let store = ParkingStore::new(ParkingOptions::default().auto_refresh(false));
    let event = |name: &str, space: u32, uid: &str| {
        let space = space.to_string();
        Message::from_pairs([
            ("Event", name),
            ("ParkingLot", "default"),
            ("ParkingSpace", space.as_str()),
            ("ParkeeUniqueid", uid),
            ("ParkeeChannel", "PJSIP/1-1"),
            ("ParkingTimeout", "45"),
            ("ParkingDuration", "0"),
        ])
    };
    let now = Timestamp::from_unix_millis(1_800_000_000_000);
    store.apply_message(now, 1, &event("ParkedCall", 720, "9.9"));
    let mut most = 0;
    for i in 0..10_000 {
        let uid = format!("1.{i}");
        store.apply_message(now, 1, &event("ParkedCall", 701, &uid));
        store.apply_message(now, 1, &event("UnParkedCall", 701, &uid));
        let s = store.debug_sizes();
        most = most.max(s.alerts);
        assert!(s.alerts <= s.alert_limit, "{s:#?}");
    }
    let s = store.debug_sizes();
    assert_eq!(s.calls, 1, "{s:#?}");
    assert!(most <= 2 * 2 + 64, "at most 2 × calls + 64 alerts at any time, not {most}");
}

/// Found by the attacker's review of the alerts without a call: a call listed again
/// after each reconnect with Asterisk's clock going back and forth between two
/// deadlines (a hostile server's answers) moved its alert each time, under the same
/// park tag: every alert scheduled for the deadline current at a sweep matched the
/// park. Swept only at ticks, they piled up past `2 × calls + 64` (501 alerts for one
/// call after 500 turns). A moved alert takes a new tag now, so only the last one
/// matches, and the list's walk sweeps when they are too many. The attacker here
/// times the turns so that every sweep runs with the same deadline current: each
/// sweep must leave the one live alert.
#[test]
fn a_clock_going_back_and_forth_in_lists_keeps_the_alerts_bounded() {
    let mut w = Wire::synced(ParkingOptions::default(), &[("default", 701, 720, 45)], &[]);
    w.feed(&live_event("ParkedCall", "default", 702, "1.2", "5551002"));
    let relist = |w: &mut Wire, remaining: u64| {
        w.reconnect_and_list(|a| vec![list_item(a, "default", 702, "1.2", "5551002", remaining, 0)]);
    };
    let mut sweeps = 0;
    for k in 0..500 {
        // One call: a sweep runs when a 67th alert comes. The attacker makes it come
        // with the 45 s deadline current (the second list of a turn, an odd count):
        // a call that parks and leaves at once adds an alert when the count is even.
        let alerts = w.conn.store().debug_sizes().alerts;
        if alerts.is_multiple_of(2) && alerts >= 60 {
            let uid = format!("3.{k}");
            w.feed(&live_event("ParkedCall", "default", 710, &uid, "5551010"));
            w.feed(&live_event("UnParkedCall", "default", 710, &uid, "5551010"));
        }
        relist(&mut w, 600);
        relist(&mut w, 45);
        let s = w.conn.store().debug_sizes();
        assert!(s.alerts <= s.alert_limit, "{s:#?}");
        if s.alert_limit == 2 + 64 {
            // A sweep ran (it sets the limit to 2 × calls + 64): it kept the one live
            // alert, not every alert ever scheduled for the current deadline.
            assert_eq!(s.alerts, 1, "turn {k}: {s:#?}");
            sweeps += 1;
        }
    }
    assert!(sweeps > 10, "the sweep ran {sweeps} times");
    w.advance(Duration::from_secs(1));
    let s = w.conn.store().debug_sizes();
    assert!(s.calls == 1 && s.alerts <= 2 + 64, "{s:#?}");
    check_connection(&w.conn).unwrap();
}

/// The same behind amiws without a reconnect: the server says it logged in again (an
/// unsolicited `Authentication accepted`), and answers the refresh that follows with
/// its 20 calls' clocks moved, then moved back; the clock ticks between the turns.
#[test]
fn an_amiws_server_logging_in_again_and_again_keeps_the_alerts_bounded() {
    let lots = [("default", 701, 720, 45)];
    let mut w = Wire::amiws(ParkingOptions::default());
    let first = w.sent();
    w.announce(1);
    w.frame_text(1, &parking_lots_answer(&aid(&first[0]), &lots));
    w.frame_text(1, &parked_calls_answer(&aid(&first[1]), &[]));
    let calls: Vec<(u32, String)> = (0..20).map(|k| (701 + k, format!("1.{k}"))).collect();
    for (space, uid) in &calls {
        w.frame_text(1, &live_event("ParkedCall", "default", *space, uid, "5551002"));
    }
    let relist = |w: &mut Wire, remaining: u64| {
        w.frame(1, &[("Response", "Success"), ("Message", "Authentication accepted")]);
        let lists: Vec<_> = w.sent().into_iter().filter(|m| m.is("Action", "ParkedCalls")).collect();
        assert_eq!(lists.len(), 1, "one refresh per login");
        let a = aid(&lists[0]);
        let items: Vec<String> = calls
            .iter()
            .map(|(space, uid)| list_item(&a, "default", *space, uid, "5551002", remaining, 0))
            .collect();
        w.frame_text(1, &list_of(&a, &items));
    };
    for j in 0..10 {
        relist(&mut w, 600);
        relist(&mut w, 45 - j);
        w.advance(Duration::from_secs(1));
        w.answer_pings();
        let s = w.conn.store().debug_sizes();
        assert!(s.alerts <= s.alert_limit, "{s:#?}");
    }
    let s = w.conn.store().debug_sizes();
    assert!(s.calls == 20 && s.alerts <= 2 * 20 + 64, "{s:#?}");
    check_connection(&w.conn).unwrap();
}
