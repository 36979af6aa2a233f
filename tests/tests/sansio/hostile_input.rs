//! Hostile input to the sans-IO core: whatever a server sends, the state it makes
//! the connection hold is bounded by the configured caps, the answer is a typed
//! error, and the link goes on.

use ami_parking::amiws::FrameError;
use ami_parking::{ConnectionConfig, Output, ParkingError, ParkingOptions, Request, Target};
use ami_parking_tests::*;
use futures_util::FutureExt;

#[test]
fn a_list_past_max_list_items_fails_for_that_server_and_keeps_nothing() {
    let mut cfg = ami_parking::ConnectionConfig::ami("amiuser", "amisecret");
    cfg.max_list_items = 2;
    let mut w = Wire::ami_with(cfg, ParkingOptions::default().auto_refresh(false));
    let id = w.conn.request(w.now, Request::ParkedCalls { lot: None }, Target::All).unwrap();
    let first = aid(&w.sent().pop().unwrap());
    let calls = [
        ("default", 701, "1.1", "5551001"),
        ("default", 702, "1.2", "5551002"),
        ("default", 703, "1.3", "5551003"),
    ];
    w.feed(&parked_calls_answer(&first, &calls));
    match w.reply(id) {
        Some(Err(e @ ParkingError::ListTooLong { limit: 2, server_id: 1, .. })) => assert_eq!(
            e.to_string(),
            "ParkedCalls on server 1 answered more than 2 items; the rest was dropped (raise max_list_items if this PBX is that big)"
        ),
        other => panic!("expected ListTooLong, got {other:?}"),
    }
    assert!(w.conn.store().parked_calls_now().is_empty(), "nothing of the overlong list was kept");
    // The link goes on: a list within the cap works.
    let id = w.conn.request(w.now, Request::ParkedCalls { lot: None }, Target::All).unwrap();
    let second = aid(&w.sent().pop().unwrap());
    w.feed(&parked_calls_answer(&second, &calls[..2]));
    assert!(matches!(w.reply(id), Some(Ok(_))));
    assert_eq!(w.conn.store().parked_calls_now().len(), 2);
}

#[test]
fn endless_new_amiws_server_ids_are_not_followed_past_the_cap() {
    let mut cfg = ConnectionConfig::amiws();
    cfg.max_servers = 3;
    let mut w = Wire::amiws_with(cfg, ParkingOptions::default());
    let before = w.sent().len();
    for server in 1..=1000 {
        w.frame(server, &[("Event", "FullyBooted"), ("Privilege", "system,all"), ("Status", "Fully Booted")]);
    }
    assert_eq!(w.conn.known_servers().count(), 3);
    let resyncs = w.sent().len() + before;
    assert!(resyncs <= 3 * 2, "two list actions per followed server at most: {resyncs}");
}

#[test]
fn a_frame_that_would_blow_up_is_refused_and_the_link_goes_on() {
    let mut w = Wire::amiws(ParkingOptions::default().auto_refresh(false));
    let key = "K".repeat(1024);
    let mut f = format!("{{\"type\": 3, \"server_id\": 1, \"data\": {{\"Event\": \"X\", \"{key}\": [");
    f.push_str(&"1,".repeat(100_000));
    f.push_str("1]}}");
    w.conn.handle_frame(w.now, f.as_bytes()).expect("the link survives one bad frame");
    let outs: Vec<Output> = std::iter::from_fn(|| w.conn.poll_output()).collect();
    assert!(outs.iter().any(|o| matches!(o, Output::BadFrame(FrameError::TooBig { .. }))), "{outs:?}");
    w.frame_text(1, &live_event("ParkedCall", "default", 701, "1.1", "5551001"));
    assert_eq!(w.conn.store().parked_calls_now().len(), 1, "the next frame is read");
}

#[test]
fn an_event_stream_nobody_reads_holds_at_most_its_buffer() {
    let mut w = Wire::synced(ParkingOptions::default().event_buffer(5), &[("default", 701, 720, 45)], &[]);
    let mut stream = w.conn.store().events();
    for i in 0..20u32 {
        w.feed(&live_event("ParkedCall", "default", 701 + (i % 20), &format!("1.{i}"), "5551001"));
    }
    let mut held = 0u64;
    while let Ok(Some(_)) = futures_util::StreamExt::next(&mut stream).now_or_never().ok_or(()) {
        held += 1;
    }
    assert!(held <= 6, "the buffer (5, plus the channel's one slot per sender): {held}");
    assert_eq!(held + stream.missed(), 20, "every event either held or counted as missed");
}

#[test]
fn an_unreadable_leave_makes_the_connection_list_the_calls_again() {
    let mut w = Wire::synced(
        ParkingOptions::default(),
        &[("default", 701, 720, 45)],
        &[("default", 701, "1.1", "5551001")],
    );
    assert_eq!(w.conn.store().parked_calls_now().len(), 1);
    // An UnParkedCall whose space cannot be read: which call left is unknown.
    w.feed("Event: UnParkedCall\r\nPrivilege: call,all\r\nParkeeUniqueid: 1.1\r\nParkingLot: default\r\nParkingSpace: 4294967997\r\n\r\n");
    let sent = w.sent();
    let list = sent.iter().find(|m| m.is("Action", "ParkedCalls")).expect("the calls are listed again");
    w.feed(&parked_calls_answer(&aid(list), &[]));
    assert!(w.conn.store().parked_calls_now().is_empty(), "no phantom call left");
}

#[test]
fn an_unreadable_amiws_frame_makes_the_connection_list_the_calls_again() {
    let mut w = Wire::amiws(ParkingOptions::default());
    let sent = w.sent();
    let lots = aid(sent.iter().find(|m| m.is("Action", "Parkinglots")).unwrap());
    let calls = aid(sent.iter().find(|m| m.is("Action", "ParkedCalls")).unwrap());
    w.frame_text(1, &parking_lots_answer(&lots, &[("default", 701, 720, 45)]));
    w.frame_text(1, &parked_calls_answer(&calls, &[("default", 701, "1.1", "5551001")]));
    assert!(w.sent().is_empty(), "synced: nothing more to ask");
    w.conn
        .handle_frame(w.now, b"{\"type\": 3, \"server_id\": 1, \"data\": {\"Event\": \"UnParkedCall\"")
        .unwrap();
    // A bad frame may have been a leave: every known server (here 1) is listed again.
    let one = Some("1".to_string());
    assert_eq!(actions(&w.sent()), vec![("Parkinglots".into(), one.clone()), ("ParkedCalls".into(), one)]);
}

/// Behind amiws right after connecting, which servers exist is not known; amiws
/// forwards one server's whole answer, then the next's (as its captures show). A
/// one-shot list must hold every server's calls, not the first server's alone.
#[test]
fn a_one_shot_list_behind_amiws_waits_for_every_server_that_answers() {
    use ami_parking::Reply;
    use std::time::Duration;
    let mut w = Wire::amiws(ParkingOptions::default().auto_refresh(false));
    let id = w.conn.request(w.now, Request::ParkedCalls { lot: None }, Target::All).unwrap();
    let a = aid(&w.sent().pop().unwrap());
    w.frame_text(2, &parked_calls_answer(&a, &[("default", 701, "2.1", "6661001")]));
    w.advance(Duration::from_millis(50));
    assert!(w.reply(id).is_none(), "another server may still begin to answer");
    w.frame_text(1, &parked_calls_answer(&a, &[("default", 702, "1.1", "5551001")]));
    w.advance(Duration::from_millis(250));
    match w.reply(id) {
        Some(Ok(Reply::Calls(calls))) => {
            let servers: Vec<u32> = calls.iter().map(|c| c.server_id).collect();
            assert_eq!(servers, vec![1, 2], "both servers' calls in the one answer");
        }
        other => panic!("expected both servers' calls, got {other:?}"),
    }
}

#[test]
fn an_array_under_a_long_key_cannot_blow_a_frame_up() {
    use ami_parking::amiws::{decode_frame, MAX_FRAME_HEADERS};
    // 1 MiB of frame: a 1 KiB key over ~500k one-digit elements would be 500 MB of
    // headers (and past 4 GiB the message's u32 offsets would wrap).
    let key = "K".repeat(1024);
    let mut f = format!("{{\"type\": 3, \"server_id\": 1, \"data\": {{\"Event\": \"X\", \"{key}\": [");
    f.push_str(&"1,".repeat(500_000));
    f.push_str("1]}}");
    match decode_frame(f.as_bytes()) {
        Err(FrameError::TooBig { frame, limit, headers }) => {
            assert_eq!((frame, limit, headers), (f.len(), 2 * f.len(), MAX_FRAME_HEADERS))
        }
        other => panic!("expected TooBig, got {:?}", other.map(|m| m.data.len())),
    }
    // An ordinary array still reads.
    let ok =
        decode_frame(br#"{"type": 4, "data": {"Response": "Follows", "Output": ["a", "b", "c"]}}"#).unwrap();
    assert_eq!(ok.data.get_all("Output").count(), 3);
}

/// A line that never ends, and 100k headers in one message: both run into the
/// message cap (1 MiB by default) and end the link with a typed error instead of
/// growing; nothing half-read reaches the store.
#[test]
fn a_line_that_never_ends_and_a_hundred_thousand_headers_hit_the_cap() {
    use ami_parking::ConnectionError;
    let endless = "X".repeat(64 * 1024);
    let mut w = Wire::synced(ParkingOptions::default(), &[("default", 701, 720, 45)], &[]);
    let mut failed = None;
    for _ in 0..40 {
        if let Err(e) = w.conn.handle_input(w.now, endless.as_bytes()) {
            failed = Some(e);
            break;
        }
    }
    assert!(matches!(failed, Some(ConnectionError::Decode(_))), "{failed:?}");
    assert!(failed.unwrap().to_string().contains("1048576"), "the cap is named");

    let mut w = Wire::synced(ParkingOptions::default(), &[("default", 701, 720, 45)], &[]);
    let mut many = String::from("Event: ParkedCall\r\nPrivilege: call,all\r\n");
    for i in 0..100_000 {
        many += &format!("X-{i}: y\r\n");
    }
    many += "\r\n";
    let r = w.conn.handle_input(w.now, many.as_bytes());
    assert!(matches!(r, Err(ConnectionError::Decode(_))), "{r:?}");
    assert!(w.conn.store().parked_calls_now().is_empty());
}

/// The link closing in the middle of a message: the half message is dropped with the
/// link, the next link starts clean, and the store is listed again.
#[test]
fn a_close_in_the_middle_of_a_message_leaves_nothing_half_read() {
    let mut w = Wire::synced(ParkingOptions::default(), &[("default", 701, 720, 45)], &[]);
    let event = live_event("ParkedCall", "default", 701, "1.1", "5551001");
    let half = &event[..event.len() / 2];
    w.conn.handle_input(w.now, half.as_bytes()).unwrap();
    w.conn.handle_disconnected(w.now);
    assert!(w.conn.store().parked_calls_now().is_empty(), "half an event is no event");
    // A new link: banner, login, lists; the rest of the old message never comes.
    w.connect_and_log_in();
    let sent = w.sent();
    let calls =
        sent.iter().find(|m| m.is("Action", "ParkedCalls")).expect("listed again after the new login");
    w.feed(&parked_calls_answer(&aid(calls), &[("default", 702, "1.2", "5551002")]));
    let spaces: Vec<u32> = w.conn.store().parked_calls_now().iter().map(|c| c.parking_space).collect();
    assert_eq!(spaces, vec![702]);
}

#[test]
fn live_events_cannot_make_the_store_hold_more_calls_or_lots_than_its_caps() {
    let mut w = Wire::synced(ParkingOptions::default().caps(10, 3), &[("default", 701, 720, 45)], &[]);
    // 1,000 parks in lots never seen: two more lots, then no more.
    for i in 0..1000u32 {
        w.feed(&live_event("ParkedCall", &format!("lot-{i}"), 701, &format!("3.{i}"), "5551001"));
    }
    let store = w.conn.store();
    assert_eq!(store.parking_lots_now().len(), 3, "lots stop at max_lots");
    assert_eq!(
        store.error_now().map(|e| e.to_string()).as_deref(),
        Some("server 1 announced more lots than the store holds (3); the rest is not shown (raise ParkingOptions::max_lots if this PBX is that big)")
    );
    // 1,000 parks in new spaces of one lot: calls stop at max_calls.
    for i in 0..1000u32 {
        w.feed(&live_event("ParkedCall", "default", 1000 + i, &format!("1.{i}"), "5551001"));
    }
    assert_eq!(w.conn.store().parked_calls_now().len(), 10, "calls stop at max_calls");
    // 1,000 leaves from lots never seen make no lot (none fills the book unseen).
    for i in 0..1000u32 {
        w.feed(&live_event("UnParkedCall", &format!("other-{i}"), 701, &format!("2.{i}"), "5551001"));
    }
    let store = w.conn.store();
    assert_eq!(store.parking_lots_now().len(), 3);
    ami_parking::sim::check_store(store).unwrap();
    // The link goes on: a leave of a held call still lands.
    w.feed(&live_event("UnParkedCall", "default", 1000, "1.0", "5551001"));
    assert_eq!(w.conn.store().parked_calls_now().len(), 9);
}

#[test]
fn a_call_outside_its_lots_range_makes_the_range_unknown_and_no_grid_hides_it() {
    let mut w = Wire::synced(ParkingOptions::default(), &[("default", 701, 720, 45)], &[]);
    let key = ami_parking::LotKey::new(1, "default");
    w.feed(&live_event("ParkedCall", "default", 701, "1.1", "5551001"));
    w.feed(&live_event("ParkedCall", "default", 9999, "1.2", "5551002"));
    let store = w.conn.store();
    let lot = store.lot_now(&key).unwrap();
    assert!(!lot.range_known, "a range that does not hold the lot's calls is not known");
    // Its size is unknown too (a display must not take it for a large empty lot).
    assert_eq!((lot.total_spaces, lot.free()), (0, 0));
    // The grid is the lot's calls, one cell each: it hides neither space 9999 nor 701.
    let spaces = |g: Vec<Option<std::sync::Arc<ami_parking::ParkedCall>>>| {
        g.iter().map(|c| c.as_ref().map(|c| c.parking_space)).collect::<Vec<_>>()
    };
    assert_eq!(spaces(store.lot_grid_now(&key)), [Some(701), Some(9999)]);
    assert_eq!((lot.occupied, store.lot_calls_now(&key).len()), (2, 2));
    ami_parking::sim::check_store(store).unwrap();
    // Once the stray call has left, a Parkinglots answer that fits makes it known again.
    w.feed(&live_event("UnParkedCall", "default", 9999, "1.2", "5551002"));
    let id = w.conn.request(w.now, Request::ParkingLots, Target::All).unwrap();
    let a = aid(&w.sent().pop().unwrap());
    w.feed(&parking_lots_answer(&a, &[("default", 701, 720, 45)]));
    assert!(matches!(w.reply(id), Some(Ok(_))));
    let lot = w.conn.store().lot_now(&key).unwrap();
    assert_eq!((lot.range_known, lot.total_spaces), (true, 20));
    assert_eq!(w.conn.store().lot_grid_now(&key).len(), 20);
}

#[test]
fn a_lot_four_billion_spaces_wide_gets_no_grid() {
    // Before: the grid was built with one cell per space (32 GB).
    let mut w = Wire::ami(ParkingOptions::default());
    w.answer_initial(&[("default", 701, 4_000_000_000, 45)], &[("default", 701, "1.1", "5551001")]);
    let key = ami_parking::LotKey::new(1, "default");
    let lot = w.conn.store().lot_now(&key).unwrap();
    assert!(!lot.range_known, "a range wider than max_calls is not made a grid");
    assert_eq!(lot.total_spaces, 0, "nor a size: the range is not known");
    assert_eq!(w.conn.store().lot_grid_now(&key).len(), 1, "one cell: the call's");
    assert_eq!(lot.occupied, 1);
}

/// Found by the property suite with held answers: a list answer delivered 2 s late
/// (its items say what Asterisk said when it wrote them) moved the deadline of a
/// call followed live since its park by those 2 s.
#[test]
fn a_late_list_answer_does_not_move_the_times_of_a_call_followed_live() {
    let mut w = Wire::synced(ParkingOptions::default(), &[("default", 701, 720, 45)], &[]);
    w.feed(&live_event("ParkedCall", "default", 702, "1.2", "5551002"));
    let before = w.conn.store().parked_call_on_now(1, "default", 702).unwrap();
    let id = w.conn.request(w.now, Request::ParkedCalls { lot: None }, Target::All).unwrap();
    let a = aid(&w.sent().pop().unwrap());
    w.now = w.now + std::time::Duration::from_secs(3);
    // Written when asked (45 s left, parked just now), read 3 s later.
    let stale = |a: &str| list_of(a, &[list_item(a, "default", 702, "1.2", "5551002", 45, 0)]);
    w.feed(&stale(&a));
    assert!(matches!(w.reply(id), Some(Ok(_))));
    let after = w.conn.store().parked_call_on_now(1, "default", 702).unwrap();
    assert_eq!((after.parked_at, after.deadline()), (before.parked_at, before.deadline()));
    // Not followed live (the link dropped meanwhile): a clock 3 s later is a re-park.
    w.conn.handle_disconnected(w.now);
    w.connect_and_log_in();
    for m in w.sent() {
        if m.is("Action", "ParkedCalls") {
            w.feed(&stale(&aid(&m)));
        }
    }
    let relisted = w.conn.store().parked_call_on_now(1, "default", 702).unwrap();
    assert_eq!(relisted.deadline(), before.deadline().map(|d| d + std::time::Duration::from_secs(3)));
}

#[test]
fn a_parkinglots_range_is_a_grid_only_up_to_max_calls_wide_and_only_when_it_holds_the_calls() {
    let mut w = Wire::ami(ParkingOptions::default().caps(20, 10));
    let lots = [("default", 701, 720, 45), ("wide", 801, 821, 45)];
    w.answer_initial(&lots, &[("default", 715, "1.1", "5551001")]);
    let store = w.conn.store();
    let (default, wide) = (ami_parking::LotKey::new(1, "default"), ami_parking::LotKey::new(1, "wide"));
    assert!(store.lot_now(&default).unwrap().range_known, "20 spaces: max_calls exactly");
    assert_eq!(store.lot_grid_now(&default).len(), 20);
    assert!(!store.lot_now(&wide).unwrap().range_known, "21 spaces: one more than max_calls");
    // A reload shrinks the lot under a parked call: that range is not the lot's whole story.
    let id = w.conn.request(w.now, Request::ParkingLots, Target::All).unwrap();
    let a = aid(&w.sent().pop().unwrap());
    w.feed(&parking_lots_answer(&a, &[("default", 701, 710, 45)]));
    assert!(matches!(w.reply(id), Some(Ok(_))));
    let store = w.conn.store();
    assert!(!store.lot_now(&default).unwrap().range_known);
    let grid = store.lot_grid_now(&default);
    assert_eq!(
        grid.iter().map(|c| c.as_ref().map(|c| c.parking_space)).collect::<Vec<_>>(),
        [Some(715)],
        "the call stays in sight"
    );
    ami_parking::sim::check_store(store).unwrap();
}

/// Behind amiws one server logging in again loses only that server's calls' history.
#[test]
fn behind_amiws_a_servers_re_login_unfollows_only_that_servers_calls() {
    let mut w = Wire::amiws(ParkingOptions::default().auto_refresh(false));
    for (server, space, uid) in [(1, 701, "1.1"), (2, 702, "2.2")] {
        w.announce(server);
        w.frame_text(server, &live_event("ParkedCall", "default", space, uid, "5551001"));
    }
    let before =
        |w: &Wire, s, space| w.conn.store().parked_call_on_now(s, "default", space).unwrap().deadline();
    let (one, two) = (before(&w, 1, 701), before(&w, 2, 702));
    // amiws logged in to server 1 again (its Asterisk restarted, say).
    w.frame(1, &[("Response", "Success"), ("Message", "Authentication accepted")]);
    let id = w.conn.request(w.now, Request::ParkedCalls { lot: None }, Target::All).unwrap();
    let a = aid(&w.sent().pop().unwrap());
    w.now = w.now + std::time::Duration::from_secs(3);
    for (server, space, uid) in [(1, 701, "1.1"), (2, 702, "2.2")] {
        w.frame_text(server, &list_of(&a, &[list_item(&a, "default", space, uid, "5551001", 45, 0)]));
    }
    assert!(matches!(w.reply(id), Some(Ok(_))), "{:?}", w.reply(id));
    let three = std::time::Duration::from_secs(3);
    assert_eq!(before(&w, 1, 701), one.map(|d| d + three), "server 1's call: a clock 3 s later is a re-park");
    assert_eq!(before(&w, 2, 702), two, "server 2's call, followed all along, keeps its times");
}
