//! One test per numbered item of `original-pitfalls.md`: what the TypeScript
//! original gets wrong on a real Asterisk, and we must get right. Wire text is shaped
//! exactly as in the captures (field names, order, Privilege, ActionID placement).

use ami_parking::Request;
use ami_parking::{
    ConnectionState, LotKey, Output, Park, ParkingError, ParkingEvent, ParkingOptions, Reply, ResyncChange,
    Target,
};
use ami_parking_tests::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Answers the auto-refresh of a freshly logged-in connection with `calls`.
const LOTS: [(&str, u32, u32, u32); 2] = [("default", 701, 720, 45), ("vip", 801, 810, 5)];

#[test]
fn pitfall_01_parkinglot_lower_case_l_is_read_and_lot_filtering_works() {
    let mut w = Wire::ami(ParkingOptions::default());
    w.answer_initial(&LOTS, &[]);
    w.feed(&live_event("ParkedCall", "vip", 801, "1.1", "5552001"));
    let store = w.conn.store();
    assert!(store.parked_call_now(Some("vip"), 801).is_some());
    assert!(store.parked_call_now(None, 801).is_none(), "not in the default lot");
    assert_eq!(store.parking_lots_now().iter().find(|l| &*l.name == "vip").unwrap().occupied, 1);
}

#[test]
fn pitfall_02_park_call_returns_the_assigned_space_and_sends_milliseconds() {
    for event_first in [false, true] {
        let mut w = Wire::ami(ParkingOptions::default());
        w.answer_initial(&LOTS, &[]);
        let chan = "Local/s@agent-00000007;1";
        let id = w
            .conn
            .request(
                w.now,
                Request::Park {
                    channel: chan.into(),
                    park: Park::default().timeout(Duration::from_secs(120)),
                },
                Target::All,
            )
            .unwrap();
        let park = w.sent().pop().unwrap();
        assert_eq!(park.get_str("Timeout").as_deref(), Some("120000"), "milliseconds, not seconds");
        assert_eq!(park.get_str("Channel").as_deref(), Some(chan));
        let reply =
            format!("Response: Success\r\nActionID: {}\r\nMessage: Park successful\n\r\n\r\n", aid(&park));
        let event = format!(
            "Event: ParkedCall\r\nPrivilege: call,all\r\n{}\r\n",
            parkee_block("default", 703, "9.9", chan, "5553001", 120, 0)
        );
        if event_first {
            w.feed(&event);
            w.feed(&reply);
        } else {
            w.feed(&reply);
            assert!(w.reply(id).is_none(), "the reply says no space: wait for the event");
            w.feed(&event);
        }
        match w.reply(id) {
            Some(Ok(Reply::Parked { space, lot, .. })) => {
                assert_eq!((*space, lot.as_str()), (703, "default"))
            }
            r => panic!("{r:?}"),
        }
    }
}

#[test]
fn pitfall_02b_park_without_event_fails_clearly_at_its_deadline() {
    let mut w = Wire::ami(ParkingOptions::default());
    w.answer_initial(&LOTS, &[]);
    let id = w
        .conn
        .request(w.now, Request::Park { channel: "PJSIP/1-1".into(), park: Park::default() }, Target::All)
        .unwrap();
    let park = w.sent().pop().unwrap();
    w.feed(&format!("Response: Success\r\nActionID: {}\r\nMessage: Park successful\n\r\n\r\n", aid(&park)));
    w.advance(Duration::from_secs(11));
    match w.reply(id) {
        Some(Err(e @ ParkingError::NoParkedCallEvent { .. })) => assert!(e.to_string().contains("read=call")),
        r => panic!("{r:?}"),
    }
}

#[test]
fn pitfall_03_remaining_is_parking_timeout_itself_and_counts_down() {
    let mut w = Wire::ami(ParkingOptions::default());
    w.answer_initial(&LOTS, &[("default", 701, "1.1", "5551001")]); // 42 remaining, 3 elapsed
    let call = w.conn.store().parked_call_on_now(1, "default", 701).unwrap();
    assert_eq!(call.timeout_remaining(w.now), Some(Duration::from_secs(42)), "not 42 - 3");
    assert_eq!(call.duration(w.now), Duration::from_secs(3));
    assert_eq!(call.timeout(), Some(Duration::from_secs(45)));
    let later = w.now + Duration::from_secs(10);
    assert_eq!(call.timeout_remaining(later), Some(Duration::from_secs(32)), "counts down with `now`");
    assert_eq!(call.duration(later), Duration::from_secs(13));
    assert!(!call.is_near_timeout(later), "32 s left is not under the 30 s threshold");
    assert!(call.is_near_timeout(later + Duration::from_secs(3)));
}

#[test]
fn pitfall_04_refresh_and_poll_do_not_refire_parked() {
    let parked = Arc::new(AtomicUsize::new(0));
    let p = parked.clone();
    let opts = ParkingOptions::default().poll_interval(Duration::from_secs(5)).on_call_parked(move |_| {
        p.fetch_add(1, Ordering::SeqCst);
    });
    let mut w = Wire::ami(opts);
    w.answer_initial(&LOTS, &[]);
    w.feed(&live_event("ParkedCall", "default", 701, "1.1", "5551001"));
    assert_eq!(parked.load(Ordering::SeqCst), 1);
    for _ in 0..3 {
        w.advance(Duration::from_secs(5));
        let poll =
            w.sent().into_iter().find(|m| m.is("Action", "ParkedCalls")).expect("poll sends ParkedCalls");
        w.feed(&parked_calls_answer(&aid(&poll), &[("default", 701, "1.1", "5551001")]));
    }
    assert_eq!(parked.load(Ordering::SeqCst), 1, "list items are not live events");
    // The only other event is the store's own near-timeout alert (45 s lot, 15 s on).
    let kinds: Vec<&str> = w.events().iter().map(|e| e.kind()).collect();
    assert_eq!(kinds, ["parked", "near_timeout"]);
}

#[test]
fn pitfall_05_refresh_removes_calls_gone_while_disconnected() {
    let mut w = Wire::ami(ParkingOptions::default());
    w.answer_initial(&LOTS, &[("default", 701, "1.1", "5551001"), ("default", 702, "1.2", "5551002")]);
    assert!(w.events().is_empty(), "the initial snapshot fires no event");
    w.conn.handle_disconnected(w.now);
    w.connect_and_log_in();
    w.answer_initial(&LOTS, &[("default", 702, "1.2", "5551002"), ("vip", 801, "1.3", "5552001")]);
    let calls: Vec<u32> = w.conn.store().parked_calls_now().iter().map(|c| c.parking_space).collect();
    assert_eq!(calls, vec![702, 801]);
    let ev: Vec<(u32, ResyncChange)> = w
        .events()
        .iter()
        .map(|e| match e {
            ParkingEvent::Resync { call, change } => (call.parking_space, *change),
            e => panic!("{e:?}"),
        })
        .collect();
    assert_eq!(ev, vec![(701, ResyncChange::Vanished), (801, ResyncChange::Appeared)]);
}

#[test]
fn pitfall_06_error_reply_fails_at_once_sets_error_and_loading_is_counted() {
    let mut w = Wire::ami(ParkingOptions::default().auto_refresh(false));
    let store = w.conn.store().clone();
    let a =
        w.conn.request(w.now, Request::ParkedCalls { lot: Some("nosuchlot".into()) }, Target::All).unwrap();
    let b = w.conn.request(w.now, Request::ParkedCalls { lot: None }, Target::All).unwrap();
    let sent = w.sent();
    assert!(store.is_loading_now());
    w.feed(&format!(
        "Response: Error\r\nActionID: {}\r\nMessage: Requested parking lot could not be found.\r\n\r\n",
        aid(&sent[0])
    ));
    match w.reply(a) {
        Some(Err(ParkingError::Asterisk { message, .. })) => {
            assert_eq!(message, "Requested parking lot could not be found.")
        }
        r => panic!("at once, not after a timeout: {r:?}"),
    }
    assert!(matches!(store.error_now(), Some(ParkingError::Asterisk { .. })));
    assert!(store.is_loading_now(), "the other request is still loading");
    w.feed(&parked_calls_answer(&aid(&sent[1]), &[]));
    assert!(matches!(w.reply(b), Some(Ok(ami_parking::Reply::Calls(c))) if c.is_empty()));
    assert!(!store.is_loading_now());
    assert_eq!(store.error_now(), None, "cleared by the next success");
}

#[test]
fn pitfall_07_action_ids_are_unique_and_other_clients_replies_are_ignored() {
    let mut w = Wire::amiws(ParkingOptions::default().auto_refresh(false));
    let mut other = Wire::amiws(ParkingOptions::default().auto_refresh(false));
    let mut ids = std::collections::HashSet::new();
    for _ in 0..100 {
        w.conn.request(w.now, Request::ParkedCalls { lot: None }, Target::Server(1)).unwrap();
        other.conn.request(w.now, Request::ParkedCalls { lot: None }, Target::Server(1)).unwrap();
    }
    for m in w.sent().into_iter().chain(other.sent()) {
        assert!(ids.insert(aid(&m)), "duplicate ActionID {}", aid(&m));
    }
    assert_ne!(w.conn.action_id_prefix(), other.conn.action_id_prefix());
    // A reply to another client's request, on the same amiws, is not ours.
    let mut w = Wire::amiws(ParkingOptions::default().auto_refresh(false));
    let id = w.conn.request(w.now, Request::ParkedCalls { lot: None }, Target::Server(1)).unwrap();
    let mine = aid(&w.sent()[0]);
    w.frame_text(1, &parked_calls_answer("someone-else-1", &[("default", 701, "1.1", "5551001")]));
    assert!(w.reply(id).is_none());
    assert!(
        w.conn.store().parked_calls_now().is_empty(),
        "another client's list is neither state nor events"
    );
    assert!(w.events().is_empty());
    w.frame_text(1, &parked_calls_answer(&mine, &[]));
    assert!(matches!(w.reply(id), Some(Ok(ami_parking::Reply::Calls(c))) if c.is_empty()));
}

#[test]
fn pitfall_08_created_before_the_connection_it_refreshes_on_login_and_after_reconnect() {
    let mut w = Wire::ami(ParkingOptions::default());
    let first: Vec<String> = w.sent().iter().map(|m| m.get_str("Action").unwrap().into_owned()).collect();
    assert_eq!(first, vec!["Parkinglots", "ParkedCalls"]);
    assert_eq!(w.conn.store().connection_state_now(), ConnectionState::LoggedIn);
    w.conn.handle_disconnected(w.now);
    assert_eq!(w.conn.store().connection_state_now(), ConnectionState::Disconnected);
    w.connect_and_log_in();
    let again: Vec<String> = w.sent().iter().map(|m| m.get_str("Action").unwrap().into_owned()).collect();
    assert_eq!(again, vec!["Parkinglots", "ParkedCalls"]);
    // Behind amiws: a server's re-login (no ActionID) resyncs that server only.
    let mut w = Wire::amiws(ParkingOptions::default());
    let first = w.sent();
    for m in &first {
        let answer = if m.is("Action", "Parkinglots") {
            parking_lots_answer(&aid(m), &LOTS)
        } else {
            parked_calls_answer(&aid(m), &[])
        };
        w.frame_text(2, &answer);
    }
    w.frame(2, &[("Response", "Success"), ("Message", "Authentication accepted")]);
    let sent = w.sent();
    assert!(w.outputs.contains(&Output::ServerLoggedIn(2)));
    let two = Some("2".to_string());
    assert_eq!(actions(&sent), vec![("Parkinglots".into(), two.clone()), ("ParkedCalls".into(), two)]);
}

#[test]
fn pitfall_09_parked_call_swap_updates_the_space() {
    let mut w = Wire::ami(ParkingOptions::default());
    w.answer_initial(&LOTS, &[]);
    w.feed(&live_event("ParkedCall", "default", 701, "1.1", "5551001"));
    let mut probe = DiffProbe::new(w.conn.store());
    w.feed(&live_event("ParkedCallSwap", "default", 701, "2.2", "5559999"));
    let call = w.conn.store().parked_call_on_now(1, "default", 701).unwrap();
    assert_eq!(call.caller_id_num(), "5559999");
    match w.events().last().unwrap() {
        ParkingEvent::Swapped { call, previous } => {
            assert_eq!(call.unique_id(), "2.2");
            assert_eq!(previous.as_ref().unwrap().unique_id(), "1.1");
        }
        e => panic!("{e:?}"),
    }
    assert_eq!(w.conn.store().total_parked_calls_now(), 1);
    assert_eq!(probe.take(), vec!["update"], "one event, one UpdateAt");
}

#[test]
fn pitfall_10_get_parking_lots_writes_lots_with_their_real_capacity() {
    let mut w = Wire::ami(ParkingOptions::default().auto_refresh(false));
    let id = w.conn.request(w.now, Request::ParkingLots, Target::All).unwrap();
    let sent = w.sent();
    w.feed(&parking_lots_answer(&aid(&sent[0]), &LOTS));
    match w.reply(id) {
        Some(Ok(Reply::Lots(l))) => assert_eq!(l.len(), 2),
        r => panic!("{r:?}"),
    }
    let lot = |name: &str| w.conn.store().lot_now(&LotKey::new(1, name)).unwrap();
    let default = &lot("default");
    assert_eq!(
        (default.total_spaces, default.free(), default.timeout),
        (20, 20, Some(Duration::from_secs(45)))
    );
    assert_eq!(lot("vip").total_spaces, 10);
}

#[test]
fn pitfall_11_servers_behind_amiws_do_not_overwrite_each_other() {
    let mut w = Wire::amiws(ParkingOptions::default().auto_refresh(false));
    // No server heard from yet: an action that needs one cannot guess.
    assert!(matches!(
        w.conn.request(
            w.now,
            Request::Park { channel: "PJSIP/1-1".into(), park: Park::default() },
            Target::All
        ),
        Err(ParkingError::NoServerYet { .. })
    ));
    let id = w.conn.request(w.now, Request::ParkingLots, Target::Server(2)).unwrap();
    let sent = w.sent();
    assert!(sent[0].is("AMIServerID", "2"), "the action names its server");
    w.frame_text(2, &parking_lots_answer(&aid(&sent[0]), &[("default", 701, 705, 60)]));
    match w.reply(id) {
        Some(Ok(ami_parking::Reply::Lots(lots))) => {
            let got: Vec<_> =
                lots.iter().map(|l| (l.server_id, &*l.name, l.start_space, l.end_space)).collect();
            assert_eq!(got, [(2, "default", 701, 705)]);
        }
        r => panic!("{r:?}"),
    }
    w.frame_text(1, &live_event("ParkedCall", "default", 701, "1.1", "5551001"));
    w.frame_text(2, &live_event("ParkedCall", "default", 701, "1.1", "6661001"));
    let calls = w.conn.store().parked_calls_now();
    assert_eq!(calls.len(), 2, "same lot, space and unique id on two servers are two calls");
    assert_eq!((calls[0].server_id, calls[0].caller_id_num()), (1, "5551001"));
    assert_eq!((calls[1].server_id, calls[1].caller_id_num()), (2, "6661001"));
    let lot = |server, name: &str| w.conn.store().lot_now(&LotKey::new(server, name)).unwrap();
    assert_eq!(lot(2, "default").total_spaces, 5);
    assert_eq!(lot(1, "default").occupied, 1);
    // With two servers known, a park must name one.
    assert!(matches!(
        w.conn.request(
            w.now,
            Request::Park { channel: "PJSIP/1-1".into(), park: Park::default() },
            Target::All
        ),
        Err(ParkingError::AmbiguousServer { .. })
    ));
}

#[test]
fn pitfall_12_pending_actions_fail_when_the_connection_drops() {
    let mut w = Wire::ami(ParkingOptions::default().auto_refresh(false));
    let a = w.conn.request(w.now, Request::ParkedCalls { lot: None }, Target::All).unwrap();
    let b = w
        .conn
        .request(w.now, Request::Park { channel: "PJSIP/1-1".into(), park: Park::default() }, Target::All)
        .unwrap();
    w.conn.handle_disconnected(w.now);
    while let Some(o) = w.conn.poll_output() {
        w.outputs.push(o);
    }
    assert!(matches!(w.reply(a), Some(Err(ParkingError::Disconnected { .. }))));
    assert!(matches!(w.reply(b), Some(Err(ParkingError::Disconnected { .. }))));
    assert!(!w.conn.store().is_loading_now());
}

#[test]
fn pitfall_13_documented_fields_exist_and_are_live() {
    let mut w = Wire::ami(ParkingOptions::default());
    w.answer_initial(&LOTS, &[]);
    let t0 = w.now;
    w.feed(&live_event("ParkedCall", "default", 705, "1.1", "5551001"));
    let call = w.conn.store().parked_call_now(None, 705).unwrap();
    assert_eq!(call.parked_at, t0);
    let later = t0 + Duration::from_secs(20);
    assert_eq!(call.duration(later), Duration::from_secs(20));
    assert_eq!(call.timeout_remaining(later), Some(Duration::from_secs(25)));
    let lot = w.conn.store().lot_now(&LotKey::new(1, "default")).unwrap();
    assert_eq!((lot.occupied, lot.free(), lot.total_spaces), (1, 19, 20));
    w.feed(&live_event("ParkedCallGiveUp", "default", 705, "1.1", "5551001"));
    assert_eq!(w.conn.store().lot_now(&LotKey::new(1, "default")).unwrap().occupied, 0);
}

#[test]
fn asterisk_11_lists_and_events_work_end_to_end() {
    // Asterisk 11 (chan_features): Exten, Channel, From, Timeout, StartExten/StopExten,
    // and lists that end on their completion event without EventList.
    let mut w = Wire::ami(ParkingOptions::default());
    let sent = w.sent();
    let (lots, calls) = (aid(&sent[0]), aid(&sent[1]));
    w.feed(&format!(
        "Response: Success\r\nActionID: {lots}\r\nMessage: Parking lots will follow\r\n\r\n\
         Event: Parkinglot\r\nName: default\r\nStartExten: 701\r\nStopExten: 720\r\nTimeout: 45\r\nActionID: {lots}\r\n\r\n\
         Event: ParkinglotsComplete\r\nActionID: {lots}\r\n\r\n"
    ));
    w.feed(&format!(
        "Response: Success\r\nActionID: {calls}\r\nMessage: Parked calls will follow\r\n\r\n\
         Event: ParkedCall\r\nParkinglot: default\r\nExten: 703\r\nChannel: SIP/100-00000001\r\nFrom: SIP/200-00000002\r\nTimeout: 40\r\nDuration: 5\r\nCallerIDNum: 100\r\nCallerIDName: Alice\r\nConnectedLineNum: 200\r\nConnectedLineName: Bob\r\nUniqueID: 123.4\r\nActionID: {calls}\r\n\r\n\
         Event: ParkedCallsComplete\r\nTotal: 1\r\nActionID: {calls}\r\n\r\n"
    ));
    let store = w.conn.store().clone();
    let lot = store.lot_now(&LotKey::new(1, "default")).unwrap();
    assert_eq!((lot.start_space, lot.end_space, lot.occupied), (701, 720, 1));
    let call = store.parked_call_on_now(1, "default", 703).expect("listed");
    assert_eq!(
        (call.channel(), call.caller_id_name(), call.parked_by()),
        ("SIP/100-00000001", "Alice", Some("200"))
    );
    assert_eq!(call.timeout_remaining(w.now), Some(Duration::from_secs(40)));
    w.feed("Event: UnParkedCall\r\nPrivilege: call,all\r\nExten: 703\r\nChannel: SIP/100-00000001\r\nParkinglot: default\r\nFrom: SIP/300-00000003\r\nCallerIDNum: 100\r\nCallerIDName: Alice\r\nUniqueID: 123.4\r\n\r\n");
    match &w.events()[..] {
        [ParkingEvent::Retrieved { call, retriever }] => {
            assert_eq!((call.parking_space, retriever.channel.as_str()), (703, "SIP/300-00000003"))
        }
        e => panic!("{e:?}"),
    }
    assert!(store.parked_calls_now().is_empty());
}

#[test]
fn a_lot_that_disappears_or_changes_on_reload_is_followed() {
    let mut w = Wire::ami(ParkingOptions::default());
    w.answer_initial(&LOTS, &[("vip", 801, "1.1", "5551001")]);
    let store = w.conn.store().clone();
    let ask = |w: &mut Wire, lots: &[(&str, u32, u32, u32)]| {
        w.conn.request(w.now, Request::ParkingLots, Target::All).unwrap();
        let m = w.sent().pop().unwrap();
        w.feed(&parking_lots_answer(&aid(&m), lots));
    };
    // `default` is gone from the configuration and empty: it goes. `vip` is gone too
    // but still holds a call: it stays until the call leaves.
    ask(&mut w, &[("sales", 901, 903, 90)]);
    let mut names: Vec<String> = store.parking_lots_now().iter().map(|l| l.name.to_string()).collect();
    names.sort();
    assert_eq!(names, ["sales", "vip"]);
    w.feed(&live_event("ParkedCallGiveUp", "vip", 801, "1.1", "5551001"));
    ask(&mut w, &[("sales", 901, 903, 90)]);
    let names: Vec<String> = store.parking_lots_now().iter().map(|l| l.name.to_string()).collect();
    assert_eq!(names, ["sales"]);
    // A range change is taken as it comes.
    ask(&mut w, &[("sales", 901, 905, 90)]);
    let sales = store.lot_now(&LotKey::new(1, "sales")).unwrap();
    assert_eq!((sales.start_space, sales.end_space, sales.total_spaces), (901, 905, 5));
}
