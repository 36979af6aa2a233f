//! The parking store's contract: one diff and one event per change, reconciling
//! resyncs, events during collection, subscriptions, options, park and retrieve.

use ami_parking::Request;
use ami_parking::{
    Output, ParkingError, ParkingEvent, ParkingOptions, Reply, ResyncChange, Target, RESYNC_SETTLE,
};
use ami_parking_tests::*;
use futures_util::StreamExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const LOTS: [(&str, u32, u32, u32); 2] = [("default", 701, 720, 45), ("vip", 801, 810, 5)];

#[test]
fn each_live_event_is_one_insert_update_or_remove_never_a_replace() {
    let mut w = Wire::synced(ParkingOptions::default(), &LOTS, &[("default", 705, "0.5", "5550005")]);
    let mut probe = DiffProbe::new(w.conn.store());
    w.feed(&live_event("ParkedCall", "default", 701, "1.1", "5551001"));
    assert_eq!(probe.take(), vec!["insert"]);
    w.feed(&live_event("ParkedCall", "default", 710, "1.2", "5551002"));
    assert_eq!(probe.take_at(), vec![("insert", 2)], "an insert at the end names its index");
    w.feed(&live_event("UnParkedCall", "default", 701, "1.1", "5551001"));
    assert_eq!(probe.take(), vec!["remove"]);
    w.feed(&live_event("ParkedCallTimeOut", "default", 710, "1.2", "5551002"));
    assert_eq!(probe.take_at(), vec![("remove", 1)]);
    // A repeat of a known call changes nothing and fires nothing.
    let before = w.events().len();
    w.feed(&live_event("ParkedCall", "default", 705, "0.5", "5550005"));
    assert_eq!(probe.take(), Vec::<&str>::new());
    assert_eq!(w.events().len(), before);
    let order: Vec<u32> = w.conn.store().parked_calls_now().iter().map(|c| c.parking_space).collect();
    assert_eq!(order, vec![705]);
}

#[test]
fn calls_are_kept_in_server_lot_space_order() {
    let mut w = Wire::synced(ParkingOptions::default(), &LOTS, &[]);
    for (lot, space) in [("vip", 803), ("default", 712), ("vip", 801), ("default", 701)] {
        w.feed(&live_event("ParkedCall", lot, space, &format!("u{space}"), "1"));
    }
    let order: Vec<(String, u32)> = w
        .conn
        .store()
        .parked_calls_now()
        .iter()
        .map(|c| (c.parking_lot.to_string(), c.parking_space))
        .collect();
    assert_eq!(
        order,
        vec![("default".into(), 701), ("default".into(), 712), ("vip".into(), 801), ("vip".into(), 803)]
    );
}

/// The store's lots as a signal map, polled by hand.
type LotsSignal = std::pin::Pin<
    Box<
        dyn futures_signals::signal_map::SignalMap<Key = ami_parking::LotKey, Value = ami_parking::ParkingLot>
            + Send,
    >,
>;

#[test]
fn a_refresh_of_known_calls_fires_nothing_and_changes_nothing() {
    let mut w = Wire::synced(ParkingOptions::default(), &LOTS, &[("default", 701, "1.1", "5551001")]);
    let mut probe = DiffProbe::new(w.conn.store());
    let key = ami_parking::LotKey::new(1, "default");
    let mut grid = DiffProbe::of(w.conn.store().lot_grid(&key));
    let mut list = DiffProbe::of(w.conn.store().lot_calls(&key));
    grid.take();
    list.take();
    let mut lots: LotsSignal = Box::pin(w.conn.store().parking_lots());
    let lot_changes = |lots: &mut LotsSignal| {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let mut n = 0;
        while let std::task::Poll::Ready(Some(_)) = lots.as_mut().poll_map_change(&mut cx) {
            n += 1;
        }
        n
    };
    assert!(lot_changes(&mut lots) > 0, "the lots as they are");
    let id = w.conn.request(w.now, Request::RefreshLot { lot: "default".into() }, Target::All).unwrap();
    let sent = w.sent();
    assert!(sent[0].is("Action", "Parkinglots"), "the lot's range is refreshed too");
    w.feed(&parking_lots_answer(&aid(&sent[0]), &LOTS));
    assert!(sent[1].is("ParkingLot", "default"));
    w.feed(&parked_calls_answer(&aid(&sent[1]), &[("default", 701, "1.1", "5551001")]));
    match w.reply(id) {
        Some(Ok(ami_parking::Reply::Calls(calls))) => {
            let got: Vec<_> =
                calls.iter().map(|c| (&*c.parking_lot, c.parking_space, c.unique_id())).collect();
            assert_eq!(got, [("default", 701, "1.1")]);
        }
        r => panic!("{r:?}"),
    }
    assert!(w.events().is_empty());
    assert_eq!(probe.take(), Vec::<&str>::new());
    assert_eq!((grid.take(), list.take()), (vec![], vec![]), "no cell or lot list changed");
    assert_eq!(lot_changes(&mut lots), 0, "no lot changed");
    // A call the views do not show (filtered) parks and leaves: no cell changes.
    let opts = ParkingOptions::default().parked_call_filter(|c| c.caller_id_num() != "hidden");
    let mut w = Wire::synced(opts, &LOTS, &[]);
    let mut grid = DiffProbe::of(w.conn.store().lot_grid(&key));
    grid.take();
    w.feed(&live_event("ParkedCall", "default", 705, "1.5", "hidden"));
    w.feed(&live_event("UnParkedCall", "default", 705, "1.5", "hidden"));
    assert_eq!(grid.take(), Vec::<&str>::new());
    assert_eq!(w.conn.store().lot_now(&key).unwrap().occupied, 0);
}

#[test]
fn a_lot_refresh_reconciles_only_that_lot() {
    let mut w = Wire::synced(
        ParkingOptions::default(),
        &LOTS,
        &[("default", 701, "1.1", "a"), ("vip", 801, "1.2", "b")],
    );
    w.conn.request(w.now, Request::RefreshLot { lot: "default".into() }, Target::All).unwrap();
    let sent = w.sent();
    w.feed(&parked_calls_answer(&aid(&sent[1]), &[]));
    let left: Vec<u32> = w.conn.store().parked_calls_now().iter().map(|c| c.parking_space).collect();
    assert_eq!(left, vec![801], "the vip call is outside the refreshed scope");
    // The finding waits for a live event that would explain it; none comes.
    assert!(w.events().is_empty(), "{:?}", w.events());
    w.advance(RESYNC_SETTLE - Duration::from_millis(1));
    assert!(w.events().is_empty(), "{:?}", w.events());
    w.advance(Duration::from_millis(1));
    assert!(matches!(&w.events()[..], [ParkingEvent::Resync { change: ResyncChange::Vanished, .. }]));
    assert_eq!(w.conn.store().debug_sizes().held_resyncs, 0);
}

// Asterisk answers a list as the action arrives and delivers the events of the same
// moment later (measured on the sandbox under load, tests/tests/sandbox_load.rs): a
// list of a followed server may be ahead of the event stream.

#[test]
fn a_call_listed_before_its_parked_event_is_reported_once_as_parked() {
    let mut w = Wire::synced(ParkingOptions::default(), &LOTS, &[("default", 701, "1.1", "a")]);
    w.conn.request(w.now, Request::RefreshLot { lot: "default".into() }, Target::All).unwrap();
    let sent = w.sent();
    w.feed(&parked_calls_answer(
        &aid(&sent[1]),
        &[("default", 701, "1.1", "a"), ("default", 705, "1.5", "b")],
    ));
    let spaces: Vec<u32> = w.conn.store().parked_calls_now().iter().map(|c| c.parking_space).collect();
    assert_eq!(spaces, vec![701, 705], "the views follow the list at once");
    assert!(w.events().is_empty(), "{:?}", w.events());
    w.feed(&live_event("ParkedCall", "default", 705, "1.5", "b"));
    w.advance(RESYNC_SETTLE * 2);
    let events: Vec<(&str, u32)> = w.events().iter().map(|e| (e.kind(), e.call().parking_space)).collect();
    assert_eq!(events, vec![("parked", 705)]);
    assert_eq!(w.conn.store().parked_calls_now().len(), 2);
}

#[test]
fn a_call_missing_from_a_list_before_its_unparked_event_is_reported_once_as_retrieved() {
    let mut w = Wire::synced(
        ParkingOptions::default(),
        &LOTS,
        &[("default", 701, "1.1", "a"), ("default", 702, "1.2", "b")],
    );
    w.conn.request(w.now, Request::RefreshLot { lot: "default".into() }, Target::All).unwrap();
    let sent = w.sent();
    w.feed(&parked_calls_answer(&aid(&sent[1]), &[("default", 702, "1.2", "b")]));
    let spaces: Vec<u32> = w.conn.store().parked_calls_now().iter().map(|c| c.parking_space).collect();
    assert_eq!(spaces, vec![702], "the views follow the list at once");
    w.feed(&live_event("UnParkedCall", "default", 701, "1.1", "a"));
    w.advance(RESYNC_SETTLE * 2);
    let events: Vec<(&str, u32)> = w.events().iter().map(|e| (e.kind(), e.call().parking_space)).collect();
    assert_eq!(events, vec![("retrieved", 701)]);
}

#[test]
fn the_first_list_after_the_link_came_back_reports_its_findings_at_once() {
    let mut w = Wire::synced(ParkingOptions::default(), &LOTS, &[("default", 701, "1.1", "a")]);
    // The link drops and comes back: the refresh after login answers without 701.
    w.conn.handle_disconnected(w.now);
    w.take_outputs();
    w.connect_and_log_in();
    w.answer_initial(&LOTS, &[]);
    let events: Vec<(&str, u32)> = w.events().iter().map(|e| (e.kind(), e.call().parking_space)).collect();
    assert_eq!(events, vec![("resync", 701)]);
}

#[test]
fn events_during_list_collection_are_neither_lost_nor_applied_twice() {
    let mut w = Wire::synced(
        ParkingOptions::default(),
        &LOTS,
        &[("default", 701, "1.1", "a"), ("default", 702, "1.2", "b")],
    );
    w.conn.request(w.now, Request::ParkedCalls { lot: None }, Target::All).unwrap();
    let list = aid(&w.sent()[0]);
    // Asterisk took the list when 701 and 702 were parked; meanwhile 701 is retrieved
    // and 703 parked; the list's items arrive after those live events.
    w.feed(&format!("Response: Success\r\nActionID: {list}\r\nEventList: start\r\nMessage: Parked calls will follow\r\n\r\n"));
    w.feed(&live_event("UnParkedCall", "default", 701, "1.1", "a"));
    w.feed(&live_event("ParkedCall", "default", 703, "1.3", "c"));
    w.feed(&list_item(&list, "default", 701, "1.1", "a", 40, 5));
    w.feed(&list_item(&list, "default", 702, "1.2", "b", 40, 5));
    w.feed(&format!("Event: ParkedCallsComplete\r\nActionID: {list}\r\nEventList: Complete\r\nListItems: 2\r\nTotal: 2\r\n\r\n"));
    let spaces: Vec<u32> = w.conn.store().parked_calls_now().iter().map(|c| c.parking_space).collect();
    assert_eq!(spaces, vec![702, 703], "701 not resurrected, 703 not dropped");
    let kinds: Vec<&str> = w.events().iter().map(|e| e.kind()).collect();
    assert_eq!(kinds, vec!["retrieved", "parked"], "no resync finding for what live events already said");
}

#[test]
fn subscriptions_unsubscribe_on_drop_and_the_stream_sees_every_event() {
    let mut w = Wire::synced(ParkingOptions::default(), &LOTS, &[]);
    let seen = Arc::new(AtomicUsize::new(0));
    let s = seen.clone();
    let guard = w.conn.store().on_parking_event(move |_| {
        s.fetch_add(1, Ordering::SeqCst);
    });
    let mut stream = w.conn.store().events();
    w.feed(&live_event("ParkedCall", "default", 701, "1.1", "a"));
    drop(guard);
    w.feed(&live_event("ParkedCallGiveUp", "default", 701, "1.1", "a"));
    w.advance(Duration::from_millis(250)); // a give-up waits a moment: is it a move?
    assert_eq!(seen.load(Ordering::SeqCst), 1, "dropped guard: no more calls");
    let got: Vec<&str> = futures_executor_lite(&mut stream, 2).iter().map(|e| e.kind()).collect();
    assert_eq!(got, vec!["parked", "giveup"]);
}

fn futures_executor_lite(stream: &mut ami_parking::EventStream, n: usize) -> Vec<ParkingEvent> {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let mut out = Vec::new();
    while out.len() < n {
        match stream.poll_next_unpin(&mut cx) {
            std::task::Poll::Ready(Some(e)) => out.push(e),
            other => panic!("stream ended early: {other:?}"),
        }
    }
    out
}

#[test]
fn debug_output_counts_lots_and_calls_and_shows_the_link() {
    let w = Wire::synced(
        ParkingOptions::default(),
        &[("default", 701, 720, 45)],
        &[("default", 701, "1.1", "a")],
    );
    let shown = format!("{:?}", w.conn.store());
    assert_eq!(shown, "ParkingStore { lots: 1, calls: 1, connection: LoggedIn, .. }");
    let calls = w.conn.store().parked_calls();
    assert_eq!(format!("{calls:?}"), "ParkedCallsSignalVec { .. }");
    let guard = w.conn.store().on_parking_event(|_| {});
    assert!(format!("{guard:?}").starts_with("Subscription { id: "), "{guard:?}");
}

#[test]
fn option_callbacks_filter_and_transform() {
    let counts: Arc<[AtomicUsize; 4]> = Arc::new(Default::default());
    let (a, b, c, d) = (counts.clone(), counts.clone(), counts.clone(), counts.clone());
    let opts = ParkingOptions::default()
        .parked_call_filter(|c| &*c.parking_lot != "vip")
        .transform_parked_call(|mut c| {
            let upper = c.caller_id_name().to_uppercase();
            c.set_caller_id_name(upper);
            c
        })
        .on_call_parked(move |_| {
            a[0].fetch_add(1, Ordering::SeqCst);
        })
        .on_call_retrieved(move |_, r| {
            assert_eq!(r.channel, "");
            b[1].fetch_add(1, Ordering::SeqCst);
        })
        .on_call_timeout(move |_| {
            c[2].fetch_add(1, Ordering::SeqCst);
        })
        .on_call_give_up(move |_| {
            d[3].fetch_add(1, Ordering::SeqCst);
        });
    let mut w = Wire::ami(opts);
    w.sent();
    w.feed(&live_event("ParkedCall", "vip", 801, "1.0", "x"));
    w.feed(&live_event("ParkedCall", "default", 701, "1.1", "a"));
    w.feed(&live_event("ParkedCall", "default", 702, "1.2", "b"));
    w.feed(&live_event("ParkedCall", "default", 703, "1.3", "c"));
    w.feed(&live_event("UnParkedCall", "default", 701, "1.1", "a"));
    w.feed(&live_event("ParkedCallTimeOut", "default", 702, "1.2", "b"));
    w.feed(&live_event("ParkedCallGiveUp", "default", 703, "1.3", "c"));
    w.feed(&live_event("ParkedCallTimeOut", "vip", 801, "1.0", "x"));
    let got: Vec<usize> = counts.iter().map(|c| c.load(Ordering::SeqCst)).collect();
    assert_eq!(got, vec![3, 1, 1, 1], "the vip calls are filtered out, events included");
    assert_eq!(w.events().len(), 6);
    assert_eq!(w.events()[0].call().caller_id_name(), "CUSTOMER A");
}

#[test]
fn retrieve_resolves_on_unparked_call_and_refuses_an_empty_space_without_sending() {
    let mut w = Wire::synced(ParkingOptions::default(), &LOTS, &[("default", 701, "1.1", "a")]);
    match w.conn.request(
        w.now,
        Request::Retrieve { space: 702, to_channel: "PJSIP/1002".into(), lot: None },
        Target::All,
    ) {
        Err(e @ ParkingError::SpaceEmpty { .. }) => assert!(e.to_string().contains("702")),
        r => panic!("{r:?}"),
    }
    assert!(w.sent().is_empty(), "nothing sent for an empty space");
    let id = w
        .conn
        .request(
            w.now,
            Request::Retrieve { space: 701, to_channel: "PJSIP/1002".into(), lot: None },
            Target::All,
        )
        .unwrap();
    let orig = w.sent().pop().unwrap();
    assert!(orig.is("Action", "Originate") && orig.is("Application", "ParkedCall"));
    assert_eq!(orig.get_str("Data").as_deref(), Some("default,701"), "lot first");
    assert_eq!(orig.get_str("Channel").as_deref(), Some("PJSIP/1002"));
    w.feed(&format!(
        "Response: Success\r\nActionID: {}\r\nMessage: Originate successfully queued\r\n\r\n",
        aid(&orig)
    ));
    assert!(w.reply(id).is_none());
    let unparked = format!(
        "Event: UnParkedCall\r\nPrivilege: call,all\r\n{}RetrieverChannel: PJSIP/1002-01\r\nRetrieverCallerIDNum: 1002\r\nRetrieverCallerIDName: Reception\r\n\r\n",
        parkee_block("default", 701, "1.1", "Local/s@hold-1.1;1", "a", 40, 5).replace("ParkerDialString", "X-Parker")
    );
    w.feed(&unparked);
    match w.reply(id) {
        Some(Ok(Reply::Retrieved { space, retriever, .. })) => {
            assert_eq!((*space, retriever.caller_id_num.as_str()), (701, "1002"))
        }
        r => panic!("{r:?}"),
    }
    assert!(w.conn.store().parked_calls_now().is_empty());
}

#[test]
fn retrieve_fails_on_a_failed_originate_and_on_an_error_reply() {
    let mut w = Wire::synced(
        ParkingOptions::default(),
        &LOTS,
        &[("default", 701, "1.1", "a"), ("default", 702, "1.2", "b")],
    );
    let id = w
        .conn
        .request(
            w.now,
            Request::Retrieve { space: 701, to_channel: "PJSIP/nobody".into(), lot: None },
            Target::All,
        )
        .unwrap();
    let orig = w.sent().pop().unwrap();
    w.feed(&format!(
        "Response: Success\r\nActionID: {}\r\nMessage: Originate successfully queued\r\n\r\n",
        aid(&orig)
    ));
    w.feed(&format!("Event: OriginateResponse\r\nPrivilege: call,all\r\nActionID: {}\r\nResponse: Failure\r\nChannel: PJSIP/nobody\r\nReason: 0\r\n\r\n", aid(&orig)));
    assert!(matches!(w.reply(id), Some(Err(ParkingError::OriginateFailed { .. }))));
    let id = w
        .conn
        .request(w.now, Request::Retrieve { space: 702, to_channel: "Bad/x".into(), lot: None }, Target::All)
        .unwrap();
    let orig = w.sent().pop().unwrap();
    w.feed(&format!("Response: Error\r\nActionID: {}\r\nMessage: Originate failed\r\n\r\n", aid(&orig)));
    match w.reply(id) {
        Some(Err(ParkingError::Asterisk { message, .. })) => assert_eq!(message, "Originate failed"),
        r => panic!("{r:?}"),
    }
    let id = w
        .conn
        .request(
            w.now,
            Request::Retrieve { space: 702, to_channel: "PJSIP/1002".into(), lot: None },
            Target::All,
        )
        .unwrap();
    w.sent();
    w.advance(Duration::from_secs(39));
    assert!(w.reply(id).is_none(), "the phone may ring 30 s, then Asterisk has 10 s to say so");
    w.advance(Duration::from_secs(2));
    match w.reply(id) {
        Some(Err(ParkingError::Timeout { after, .. })) => assert_eq!(*after, Duration::from_secs(40)),
        r => panic!("{r:?}"),
    }
}

#[test]
fn unknown_lot_from_an_event_is_created_and_later_filled() {
    let mut w = Wire::ami(ParkingOptions::default().auto_refresh(false));
    w.feed(&live_event("ParkedCall", "sales", 901, "1.1", "a"));
    let lot = w.conn.store().parking_lots_now().into_iter().find(|l| &*l.name == "sales").unwrap();
    assert_eq!((lot.occupied, lot.range_known), (1, false));
    w.conn.request(w.now, Request::ParkingLots, Target::All).unwrap();
    let sent = w.sent();
    w.feed(&parking_lots_answer(&aid(&sent[0]), &[("sales", 901, 903, 90)]));
    let lot = w.conn.store().parking_lots_now().into_iter().find(|l| &*l.name == "sales").unwrap();
    assert_eq!((lot.occupied, lot.total_spaces, lot.range_known), (1, 3, true));
}

#[test]
fn amiws_fan_out_merges_every_servers_answer() {
    let mut w = Wire::amiws(ParkingOptions::default().auto_refresh(false));
    w.frame_text(1, &live_event("ParkedCall", "default", 701, "1.1", "a"));
    w.frame_text(2, &live_event("ParkedCall", "sales", 901, "2.1", "b"));
    let id = w.conn.request(w.now, Request::ParkedCalls { lot: None }, Target::All).unwrap();
    let sent = w.sent();
    assert!(sent[0].get("AMIServerID").is_none(), "fan-out goes to every server");
    w.frame_text(2, &parked_calls_answer(&aid(&sent[0]), &[("sales", 901, "2.1", "b")]));
    assert!(w.reply(id).is_none(), "server 1 has not answered yet");
    w.frame_text(1, &parked_calls_answer(&aid(&sent[0]), &[("default", 701, "1.1", "a")]));
    match w.reply(id) {
        Some(Ok(Reply::Calls(c))) => {
            let got: Vec<(u32, u32)> = c.iter().map(|c| (c.server_id, c.parking_space)).collect();
            assert_eq!(got, vec![(1, 701), (2, 901)]);
        }
        r => panic!("{r:?}"),
    }
}

#[test]
fn a_bad_amiws_frame_is_reported_and_the_connection_goes_on() {
    let mut w = Wire::amiws(ParkingOptions::default().auto_refresh(false));
    w.conn.handle_frame(w.now, b"{\"type\": 3, \"data\": {\"Event\": ").unwrap();
    w.frame_text(1, &live_event("ParkedCall", "default", 701, "1.1", "a"));
    while let Some(o) = w.conn.poll_output() {
        w.outputs.push(o);
    }
    match &w.outputs[..] {
        [Output::State(_), Output::BadFrame(e), Output::Parking(ami_parking::ParkingEvent::Parked { call })] =>
        {
            assert_eq!(
                e.to_string(),
                ami_parking::amiws::decode_frame(b"{\"type\": 3, \"data\": {\"Event\": ")
                    .unwrap_err()
                    .to_string()
            );
            assert_eq!((&*call.parking_lot, call.parking_space), ("default", 701));
        }
        other => panic!("the bad frame reported, then the next frame's park: {other:?}"),
    }
    assert_eq!(w.conn.store().total_parked_calls_now(), 1);
}

#[test]
fn a_swap_whose_new_parkee_already_left_empties_the_space() {
    let mut w = Wire::synced(ParkingOptions::default(), &LOTS, &[("default", 701, "1.1", "5551001")]);
    // 2.2 swapped in for 1.1 and then hung up, but the give-up arrived first.
    w.feed(&live_event("ParkedCallGiveUp", "default", 701, "2.2", "5552002"));
    assert_eq!(w.conn.store().parked_calls_now().len(), 1, "1.1 is still there as far as we know");
    w.feed(&live_event("ParkedCallSwap", "default", 701, "2.2", "5552002"));
    assert!(
        w.conn.store().parked_calls_now().is_empty(),
        "the late swap does not bring back a call that left"
    );
    assert_eq!(w.conn.store().lot_now(&ami_parking::LotKey::new(1, "default")).unwrap().occupied, 0);
    let kinds: Vec<&str> = w.events().iter().map(|e| e.kind()).collect();
    assert_eq!(kinds, ["giveup"], "reported once, by the give-up");
}

#[test]
fn a_leave_after_its_space_was_taken_reports_the_old_call_once() {
    let mut w = Wire::synced(ParkingOptions::default(), &LOTS, &[("default", 701, "1.1", "5551001")]);
    // Any leave kind next to the park that reuses the space.
    for (i, leave) in ["UnParkedCall", "ParkedCallTimeOut", "ParkedCallGiveUp"].iter().enumerate() {
        let old = if i == 0 { "1.1".to_string() } else { format!("3.{i}") };
        let new = format!("3.{}", i + 1);
        w.feed(&live_event("ParkedCall", "default", 701, &new, "5553000"));
        w.feed(&live_event(leave, "default", 701, &old, "5551001"));
        w.advance(Duration::from_millis(250));
        let calls = w.conn.store().parked_calls_now();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].unique_id(), new.as_str(), "{leave}: the new call stays");
    }
    let events = w.events();
    let leaves: Vec<(&str, &str)> =
        events.iter().filter(|e| e.kind() != "parked").map(|e| (e.kind(), e.call().unique_id())).collect();
    assert_eq!(leaves, [("retrieved", "1.1"), ("timeout", "3.1"), ("giveup", "3.2")]);
    assert_eq!(w.conn.store().lot_now(&ami_parking::LotKey::new(1, "default")).unwrap().occupied, 1);
}

// ----- the times a call keeps (found by mutation testing: each field's keeping was untested) -----

/// (parked_at, deadline, timeout) of the call in `space` of lot default.
fn times(w: &Wire, space: u32) -> (ami_parking::Timestamp, Option<ami_parking::Timestamp>, Option<Duration>) {
    let c = w.conn.store().parked_call_on_now(1, "default", space).expect("stored");
    (c.parked_at, c.deadline(), c.timeout())
}

#[test]
fn a_call_relisted_after_a_reconnect_keeps_its_first_seen_times_when_they_agree() {
    let mut w = Wire::ami(ParkingOptions::default());
    let sent = w.sent();
    let lots = aid(sent.iter().find(|m| m.is("Action", "Parkinglots")).unwrap());
    let calls = aid(sent.iter().find(|m| m.is("Action", "ParkedCalls")).unwrap());
    w.feed(&parking_lots_answer(&lots, &LOTS));
    w.feed(&list_of(&calls, &[list_item(&calls, "default", 701, "1.1", "5551001", 42, 3)]));
    let first = times(&w, 701);
    // Not followed across the drop; 1.4 s later Asterisk's whole seconds say 41 left,
    // 5 parked (a timeout of 46): within a second of the first sighting.
    w.conn.handle_disconnected(w.now);
    w.now = w.now + Duration::from_millis(1400);
    w.connect_and_log_in();
    for m in w.sent() {
        if m.is("Action", "ParkedCalls") {
            w.feed(&list_of(&aid(&m), &[list_item(&aid(&m), "default", 701, "1.1", "5551001", 41, 5)]));
        }
    }
    assert_eq!(times(&w, 701), first, "the first sighting is the precise one");
}

#[test]
fn a_live_repeat_of_a_known_park_and_a_late_list_keep_the_parks_times() {
    let mut w = Wire::synced(ParkingOptions::default(), &LOTS, &[]);
    w.feed(&live_event("ParkedCall", "default", 701, "1.1", "5551001"));
    let first = times(&w, 701);
    w.now = w.now + Duration::from_secs(2);
    // A repeat whose numbers say otherwise (40 left, 6 parked: a timeout of 46).
    let repeat = live_event("ParkedCall", "default", 701, "1.1", "5551001")
        .replace("ParkingTimeout: 45", "ParkingTimeout: 40")
        .replace("ParkingDuration: 0", "ParkingDuration: 6");
    w.feed(&repeat);
    assert_eq!(times(&w, 701), first, "a repeat keeps the park's times");
    // A list read late, its numbers another reading (43 left, 3 parked).
    let id = w.conn.request(w.now, Request::ParkedCalls { lot: None }, Target::All).unwrap();
    let a = aid(&w.sent().pop().unwrap());
    w.feed(&list_of(&a, &[list_item(&a, "default", 701, "1.1", "5551001", 43, 3)]));
    assert!(w.reply(id).is_some());
    assert_eq!(times(&w, 701), first, "a followed call keeps its times in a list");
}

#[test]
fn a_swap_keeps_the_parks_times() {
    // Measured on Asterisk 22: a swap 2 s into a park times out with the park; the
    // swap event itself says a full ParkingTimeout and ParkingDuration 0.
    let mut w = Wire::synced(ParkingOptions::default(), &LOTS, &[]);
    w.feed(&live_event("ParkedCall", "default", 701, "1.1", "5551001"));
    let park = times(&w, 701);
    w.now = w.now + Duration::from_secs(2);
    let swap = live_event("ParkedCallSwap", "default", 701, "1.2", "5551002")
        .replace("ParkingTimeout: 45", "ParkingTimeout: 44");
    w.feed(&swap);
    let c = w.conn.store().parked_call_on_now(1, "default", 701).unwrap();
    assert_eq!(c.unique_id(), "1.2", "the new parkee");
    assert_eq!(times(&w, 701), park, "the park's clock, not the swap's numbers");
}

#[test]
fn a_retrieve_is_answered_only_by_the_unparked_call_of_its_own_lot_and_space() {
    let mut w = Wire::synced(
        ParkingOptions::default(),
        &[("default", 701, 720, 45), ("other", 701, 720, 45)],
        &[
            ("default", 701, "1.1", "5551001"),
            ("default", 702, "1.2", "5551002"),
            ("other", 701, "2.1", "5552001"),
        ],
    );
    let id = w
        .conn
        .request(
            w.now,
            Request::Retrieve { space: 701, to_channel: "PJSIP/1002".into(), lot: None },
            Target::All,
        )
        .unwrap();
    // Another space's retrieve, and the same space in another lot: not ours.
    w.feed(&live_event("UnParkedCall", "default", 702, "1.2", "5551002"));
    w.feed(&live_event("UnParkedCall", "other", 701, "2.1", "5552001"));
    assert!(w.reply(id).is_none(), "answered by someone else's retrieve: {:?}", w.reply(id));
    w.feed(&live_event("UnParkedCall", "default", 701, "1.1", "5551001"));
    assert!(matches!(w.reply(id), Some(Ok(Reply::Retrieved { space: 701, .. }))), "{:?}", w.reply(id));
}

#[test]
fn the_calls_of_one_lot_share_one_copy_of_its_name() {
    let calls = [("default", 701, "1.1", "a"), ("default", 702, "1.2", "b")];
    let mut w = Wire::synced(ParkingOptions::default(), &LOTS, &calls);
    w.feed(&live_event("ParkedCall", "default", 703, "1.3", "c"));
    let all = w.conn.store().parked_calls_now();
    assert_eq!(all.len(), 3);
    for c in &all[1..] {
        assert!(Arc::ptr_eq(&all[0].parking_lot, &c.parking_lot), "listed and live calls share the name");
    }
}

#[test]
fn a_list_that_still_names_a_call_announced_as_retrieved_does_not_bring_it_back() {
    // Asterisk's `ParkedCalls` at times keeps listing a call for minutes after its
    // `UnParkedCall` (seen at the end of the sandbox's load run).
    let mut w = Wire::synced(ParkingOptions::default(), &LOTS, &[("default", 701, "1.1", "a")]);
    w.feed(&live_event("UnParkedCall", "default", 701, "1.1", "a"));
    for _ in 0..2 {
        w.conn.request(w.now, Request::RefreshLot { lot: "default".into() }, Target::All).unwrap();
        let sent = w.sent();
        w.feed(&parked_calls_answer(&aid(&sent[1]), &[("default", 701, "1.1", "a")]));
        w.advance(RESYNC_SETTLE * 2);
        assert!(w.conn.store().parked_calls_now().is_empty());
    }
    let events: Vec<(&str, u32)> = w.events().iter().map(|e| (e.kind(), e.call().parking_space)).collect();
    assert_eq!(events, vec![("retrieved", 701)]);
    // Parked again (the same channel keeps its unique id): a list may name it again.
    w.feed(&live_event("ParkedCall", "default", 703, "1.1", "a"));
    w.conn.request(w.now, Request::RefreshLot { lot: "default".into() }, Target::All).unwrap();
    let sent = w.sent();
    w.feed(&parked_calls_answer(&aid(&sent[1]), &[("default", 703, "1.1", "a")]));
    w.advance(RESYNC_SETTLE * 2);
    let spaces: Vec<u32> = w.conn.store().parked_calls_now().iter().map(|c| c.parking_space).collect();
    assert_eq!(spaces, vec![703]);
    let events: Vec<(&str, u32)> = w.events().iter().map(|e| (e.kind(), e.call().parking_space)).collect();
    assert_eq!(events, vec![("retrieved", 701), ("parked", 703)]);
    assert_eq!(w.conn.store().debug_sizes().left, 0);
}

/// A list answer publishes each lot's occupancy once, not once a call: a lots-map
/// subscriber (the board's lot headers) hears one change of lot `default` for 200
/// calls listed, and the change holds all 200.
#[test]
fn a_list_answer_changes_each_lot_in_the_lots_map_once() {
    use ami_parking::futures_signals::signal_map::{MapDiff, SignalMap};
    use std::task::{Context, Poll, Waker};
    fn drain<S: SignalMap>(mut m: std::pin::Pin<&mut S>) -> Vec<MapDiff<S::Key, S::Value>> {
        let mut cx = Context::from_waker(Waker::noop());
        let mut seen = Vec::new();
        while let Poll::Ready(Some(d)) = m.as_mut().poll_map_change(&mut cx) {
            seen.push(d);
        }
        seen
    }
    let mut w = Wire::ami(ParkingOptions::default());
    let mut lots = Box::pin(w.conn.store().parking_lots());
    drain(lots.as_mut());
    let uids: Vec<String> = (0..200).map(|i| format!("1.{i}")).collect();
    let calls: Vec<(&str, u32, &str, &str)> =
        uids.iter().enumerate().map(|(i, u)| ("default", 701 + i as u32, u.as_str(), "5550000")).collect();
    w.answer_initial(&[("default", 701, 900, 45)], &calls);
    let of_default: Vec<u32> = drain(lots.as_mut())
        .into_iter()
        .filter_map(|d| match d {
            MapDiff::Insert { key, value } | MapDiff::Update { key, value } if &*key.name == "default" => {
                Some(value.occupied)
            }
            MapDiff::Replace { entries } => {
                entries.into_iter().find(|(k, _)| &*k.name == "default").map(|(_, v)| v.occupied)
            }
            _ => None,
        })
        .collect();
    assert_eq!(of_default.last(), Some(&200), "{of_default:?}");
    assert!(of_default.len() <= 2, "the lot changed {} times: {of_default:?}", of_default.len());
}

/// A transform that panics in the middle of a list leaves no lot change unpublished:
/// the next use of the store publishes what the cut list had changed, and lot
/// changes reach the lots map again.
#[test]
fn a_panic_in_the_middle_of_a_list_does_not_silence_the_lots_map() {
    use ami_parking::{Message, ParkedCall, ParkingStore, Timestamp};
    let options = ParkingOptions::default().auto_refresh(false).transform_parked_call(|c| {
        assert_ne!(c.caller_id_num(), "666", "a transform that panics");
        c
    });
    let store = ParkingStore::new(options);
    let now = Timestamp::from_unix_millis(1_800_000_000_000);
    let call = |space: u32, num: &str| {
        let mut c = ParkedCall::default();
        c.parking_lot = "default".into();
        c.parking_space = space;
        c.set_unique_id(format!("1.{space}"));
        c.set_caller_id_num(num);
        c
    };
    let cut = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        store.apply_snapshot(now, 1, None, vec![call(701, "5550701"), call(702, "666")])
    }));
    assert!(cut.is_err(), "the transform panicked");
    let occupied =
        || store.parking_lots_now().iter().find(|l| &*l.name == "default").map(|l| l.occupied).unwrap_or(0);
    let park = Message::from_pairs([
        ("Event", "ParkedCall"),
        ("ParkingLot", "default"),
        ("ParkingSpace", "703"),
        ("ParkeeUniqueid", "1.703"),
        ("ParkeeCallerIDNum", "5550703"),
    ]);
    store.apply_message(now, 1, &park);
    assert_eq!(store.total_parked_calls_now(), 2);
    assert_eq!(occupied(), 2, "the lots map hears the cut list's call and the next park");
}
