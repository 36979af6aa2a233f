//! Which answers a request takes and what its reply says: Asterisk's refusal for want
//! of a right (named per action), answers from a server the request was not sent to
//! (behind amiws), the rest of a list that grew past the cap, and the exact instant
//! of a fan-out's deadline. Each test was written for a mutant the mutation run
//! (`scripts/mutants`) found unkilled.

use ami_parking::{
    Action, ConnectionConfig, Park, ParkedCall, ParkingError, ParkingOptions, Reply, Request, Target,
};
use ami_parking_tests::*;
use std::sync::Arc;
use std::time::Duration;

/// (server, space) of each call, for exact asserts.
fn places(calls: &[Arc<ParkedCall>]) -> Vec<(u32, u32)> {
    calls.iter().map(|c| (c.server_id, c.parking_space)).collect()
}

/// amiws: servers 1 and 2 announce themselves, so a request for all expects both.
fn two_servers(cfg: ConnectionConfig) -> Wire {
    let mut w = Wire::amiws_with(cfg, ParkingOptions::default().auto_refresh(false));
    for s in [1, 2] {
        w.announce(s);
    }
    w
}

#[test]
fn a_refusal_for_want_of_a_right_names_the_right_each_action_needs() {
    // Asterisk's answer to an action the user has no right for is `Message: Permission
    // denied` (manager.c; the sandbox's `noorig` user gets it for a retrieve in
    // asterisk_operations.rs, which checks the whole message).
    let lots = [("default", 701, 720, 45)];
    let mut w = Wire::synced(ParkingOptions::default(), &lots, &[("default", 701, "1.1", "5551001")]);
    let list = |name: &str, end: Option<&str>| Request::List {
        action: Action::new(name),
        complete_event: end.map(Into::into),
    };
    let cases = [
        (
            Request::Retrieve { space: 701, to_channel: "PJSIP/100".into(), lot: None },
            "Originate (retrieve)",
            "write=originate",
        ),
        (
            Request::Action(Action::new("Originate").header("Channel", "PJSIP/100")),
            "Originate",
            "write=originate",
        ),
        (list("originate", None), "originate", "write=originate"),
        (
            Request::Action(Action::new("Command").header("Command", "core show version")),
            "Command",
            "the right this action needs",
        ),
        (
            list("CoreShowChannels", Some("CoreShowChannelsComplete")),
            "CoreShowChannels",
            "the right this action needs",
        ),
        (Request::Park { channel: "PJSIP/200-00000001".into(), park: Park::default() }, "Park", "write=call"),
    ];
    for (req, action, right) in cases {
        let id = w.conn.request(w.now, req, Target::All).unwrap();
        let a = aid(&w.sent().pop().unwrap());
        w.feed(&format!("Response: Error\r\nActionID: {a}\r\nMessage: Permission denied\r\n\r\n"));
        let want =
            ParkingError::PermissionDenied { action: action.into(), right: right.into(), server_id: 1 };
        assert_eq!(w.reply(id), Some(&Err(want)), "{action}");
    }
}

#[test]
fn behind_amiws_a_request_for_one_server_takes_no_answer_from_another() {
    let mut w = two_servers(ConnectionConfig::amiws());
    // A plain action for server 2: server 1's answer with the same ActionID is not it.
    let id = w.conn.request(w.now, Request::Action(Action::new("CoreStatus")), Target::Server(2)).unwrap();
    let a = aid(&w.sent().pop().unwrap());
    w.frame(1, &[("Response", "Error"), ("ActionID", &a), ("Message", "Permission denied")]);
    assert_eq!(w.reply(id), None, "server 1's answer is not server 2's");
    w.frame(2, &[("Response", "Success"), ("ActionID", &a), ("CoreCurrentCalls", "0")]);
    match w.reply(id) {
        Some(Ok(Reply::Response(m))) => assert_eq!(m.get_str("CoreCurrentCalls").as_deref(), Some("0")),
        r => panic!("{r:?}"),
    }
    // A list for server 2: server 1's list is neither in the reply nor in the store.
    let id = w.conn.request(w.now, Request::ParkedCalls { lot: None }, Target::Server(2)).unwrap();
    let a = aid(&w.sent().pop().unwrap());
    w.frame_text(1, &parked_calls_answer(&a, &[("default", 701, "1.1", "5551001")]));
    assert_eq!(w.reply(id), None);
    w.frame_text(2, &parked_calls_answer(&a, &[("default", 702, "2.2", "5552002")]));
    match w.reply(id) {
        Some(Ok(Reply::Calls(calls))) => assert_eq!(places(calls), vec![(2, 702)]),
        r => panic!("{r:?}"),
    }
    assert_eq!(places(&w.conn.store().parked_calls_now()), vec![(2, 702)]);
}

#[test]
fn behind_amiws_the_rest_of_a_list_past_the_cap_changes_nothing() {
    let mut cfg = ConnectionConfig::amiws();
    cfg.max_list_items = 2;
    let mut w = two_servers(cfg);
    // Server 1 holds a call, seen live.
    w.frame_text(1, &live_event("ParkedCall", "default", 701, "1.1", "5551001"));
    let id = w.conn.request(w.now, Request::ParkedCalls { lot: None }, Target::All).unwrap();
    let a = aid(&w.sent().pop().unwrap());
    // Server 1 answers with 4 calls (2 allowed), to its end; server 2 within the cap.
    let items: Vec<String> = (0..4)
        .map(|i| list_item(&a, "default", 710 + i, &format!("1.{}", 10 + i), "5551001", 40, 5))
        .collect();
    w.frame_text(1, &list_of(&a, &items));
    w.frame_text(2, &parked_calls_answer(&a, &[("default", 702, "2.2", "5552002")]));
    match w.reply(id) {
        Some(Ok(Reply::Calls(calls))) => assert_eq!(places(calls), vec![(2, 702)], "server 2's calls only"),
        r => panic!("{r:?}"),
    }
    // Server 1's cut list changed nothing: its call seen live is still there, alone.
    let calls = w.conn.store().parked_calls_now();
    assert_eq!(places(&calls), vec![(1, 701), (2, 702)]);
    assert_eq!(calls[0].unique_id(), "1.1");

    // A generic list: the reply holds server 2's items and none of server 1's.
    let req = Request::List {
        action: Action::new("CoreShowChannels"),
        complete_event: Some("CoreShowChannelsComplete".into()),
    };
    let id = w.conn.request(w.now, req, Target::All).unwrap();
    let a = aid(&w.sent().pop().unwrap());
    for (server, n) in [(1, 3), (2, 1)] {
        w.frame(server, &[("Response", "Success"), ("ActionID", &a), ("EventList", "start")]);
        for i in 0..n {
            let channel = format!("PJSIP/{server}0{i}-00000001");
            w.frame(server, &[("Event", "CoreShowChannel"), ("ActionID", &a), ("Channel", &channel)]);
        }
        let n = n.to_string();
        let end = [
            ("Event", "CoreShowChannelsComplete"),
            ("ActionID", &a),
            ("EventList", "Complete"),
            ("ListItems", &n),
        ];
        w.frame(server, &end);
    }
    match w.reply(id) {
        Some(Ok(Reply::List(items))) => {
            let channels: Vec<_> =
                items.iter().map(|m| m.get_str("Channel").unwrap_or_default().into_owned()).collect();
            assert_eq!(channels, vec!["PJSIP/200-00000001"]);
        }
        r => panic!("{r:?}"),
    }
}

#[test]
fn behind_amiws_a_fan_out_is_answered_at_the_instant_of_its_deadline_and_then_ends() {
    // No server known yet: the fan-out waits for every server that began to answer.
    let mut w = Wire::amiws(ParkingOptions::default().auto_refresh(false));
    let timeout = w.conn.config().request_timeout;
    let deadline = w.now + timeout;
    let id = w.conn.request(w.now, Request::ParkedCalls { lot: None }, Target::All).unwrap();
    let a = aid(&w.sent().pop().unwrap());
    w.frame_text(2, &parked_calls_answer(&a, &[("default", 702, "2.2", "5552002")]));
    w.list_begins(1, &a);
    let settle = Duration::from_millis(300);
    w.advance(settle);
    assert_eq!(w.reply(id), None, "server 1 began: it is waited for");
    w.advance(timeout - settle - Duration::from_millis(1));
    assert_eq!(w.reply(id), None, "until the deadline");
    w.advance(Duration::from_millis(1));
    assert_eq!(w.now, deadline);
    match w.reply(id) {
        Some(Ok(Reply::Calls(calls))) => assert_eq!(places(calls), vec![(2, 702)], "at the deadline itself"),
        r => panic!("{r:?}"),
    }
    assert_ne!(w.conn.poll_timeout(), Some(deadline), "ended: it lingers no further");
}
