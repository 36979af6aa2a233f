//! Forwarding (the WebSocket bridge's upstream): `Request::Forward` sends an action
//! under the connection's own ActionID and answers with the whole answer, each
//! message without that ActionID; the usual guarantees hold (deadline, disconnect,
//! list cap, not logged in). With `forward_events`, every message that is not an
//! answer of the connection's own is reported as `Output::Message`.

use ami_parking::{
    Action, ConnectionConfig, Message, Output, ParkingError, ParkingOptions, Reply, Request, Target,
};
use ami_parking_tests::*;
use std::time::Duration;

fn options() -> ParkingOptions {
    ParkingOptions::default().auto_refresh(false)
}

/// A raw AMI connection, logged in, with `forward_events` as given.
fn ami(forward_events: bool) -> Wire {
    let mut cfg = ConnectionConfig::ami("amiuser", "amisecret");
    cfg.forward_events = forward_events;
    let mut w = Wire::ami_with(cfg, options());
    w.take_outputs();
    w
}

/// Starts a Forward of `action`; its id and the ActionID it went out with.
fn forward(w: &mut Wire, action: Action) -> (ami_parking::RequestId, String) {
    let id = w.conn.request(w.now, Request::Forward(action), Target::All).expect("sent");
    let sent = w.sent();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].get_all("ActionID").count(), 1, "one ActionID, the connection's: {:?}", sent[0]);
    (id, aid(&sent[0]))
}

fn forwarded(w: &Wire, id: ami_parking::RequestId) -> Vec<Message> {
    match w.reply(id) {
        Some(Ok(Reply::Forwarded(m))) => m.clone(),
        r => panic!("expected a forwarded answer, got {r:?}"),
    }
}

fn messages_out(w: &Wire) -> Vec<Message> {
    w.outputs
        .iter()
        .filter_map(|o| match o {
            Output::Message(_, m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_plain_action_goes_out_under_our_action_id_and_its_response_comes_back_without_it() {
    let mut w = ami(false);
    let (id, a) = forward(&mut w, Action::new("Ping").header("ActionID", "theirs-1"));
    assert_ne!(a, "theirs-1");
    assert!(a.starts_with(w.conn.action_id_prefix()), "{a}");
    w.feed(&format!("Response: Success\r\nActionID: {a}\r\nPing: Pong\r\nTimestamp: 1.5\r\n\r\n"));
    let answer = forwarded(&w, id);
    assert_eq!(answer.len(), 1);
    assert!(answer[0].is("Ping", "Pong") && answer[0].action_id().is_none(), "{answer:?}");

    // Asterisk's refusal is an answer like any other: passed on as it is.
    let (id, a) = forward(&mut w, Action::new("Park").header("Channel", "PJSIP/nobody"));
    w.feed(&format!("Response: Error\r\nActionID: {a}\r\nMessage: Park action failed\r\n\r\n"));
    let answer = forwarded(&w, id);
    assert!(answer[0].is("Response", "Error") && answer[0].is("Message", "Park action failed"), "{answer:?}");
}

#[test]
fn a_list_is_answered_whole_once_it_completes() {
    let mut w = ami(true);
    let (id, a) = forward(&mut w, Action::new("ParkedCalls"));
    let items =
        [list_item(&a, "default", 701, "1.1", "a", 40, 5), list_item(&a, "default", 702, "1.2", "b", 40, 5)];
    let answer_text = list_of(&a, &items);
    let (head, tail) = answer_text.split_at(answer_text.rfind("Event: ParkedCallsComplete").unwrap());
    w.feed(head);
    assert!(w.reply(id).is_none(), "not answered before the list's end");
    w.feed(tail);
    let answer = forwarded(&w, id);
    assert_eq!(answer.len(), 4, "{answer:?}");
    assert!(answer[0].is("EventList", "start"));
    assert!(answer[1].is("ParkingSpace", "701") && answer[2].is("ParkingSpace", "702"));
    assert!(answer[3].is("EventList", "Complete"));
    assert!(answer.iter().all(|m| m.action_id().is_none()), "{answer:?}");
    assert!(messages_out(&w).is_empty(), "our own answer is not reported as someone else's traffic");
    assert_eq!(w.conn.store().total_parked_calls_now(), 0, "a forwarded list is not the store's");
}

#[test]
fn an_async_originate_is_answered_with_its_originate_response() {
    let mut w = ami(false);
    let action = Action::new("Originate")
        .header("Channel", "Local/s@hold")
        .header("Application", "ParkedCall")
        .header("Data", "default,701")
        .header("Async", "true");
    let (id, a) = forward(&mut w, action);
    w.feed(&format!("Response: Success\r\nActionID: {a}\r\nMessage: Originate successfully queued\r\n\r\n"));
    assert!(w.reply(id).is_none(), "waits for the OriginateResponse");
    w.feed(&format!(
        "Event: OriginateResponse\r\nPrivilege: call,all\r\nActionID: {a}\r\nResponse: Failure\r\nChannel: Local/s@hold\r\nReason: 0\r\n\r\n"
    ));
    let answer = forwarded(&w, id);
    assert_eq!(answer.len(), 2);
    assert!(answer[1].is("Event", "OriginateResponse") && answer[1].is("Response", "Failure"));
}

#[test]
fn no_answer_by_the_deadline_is_a_timeout_even_for_a_half_list() {
    let mut w = ami(false);
    let (ping, _) = forward(&mut w, Action::new("Ping"));
    let (list, a) = forward(&mut w, Action::new("ParkedCalls"));
    w.feed(&format!(
        "Response: Success\r\nActionID: {a}\r\nEventList: start\r\nMessage: Parked calls will follow\r\n\r\n"
    ));
    w.feed(&list_item(&a, "default", 701, "1.1", "a", 40, 5));
    w.advance(Duration::from_millis(9_999));
    assert!(w.reply(ping).is_none() && w.reply(list).is_none());
    w.advance(Duration::from_millis(1));
    for (id, action) in [(ping, "Ping"), (list, "ParkedCalls")] {
        match w.reply(id) {
            Some(Err(ParkingError::Timeout { action: a, after })) => {
                assert_eq!((a.as_str(), *after), (action, Duration::from_secs(10)))
            }
            r => panic!("{action}: {r:?}"),
        }
    }
}

#[test]
fn a_lost_link_fails_what_is_pending_and_nothing_is_sent_before_login() {
    let mut w = ami(false);
    let (id, _) = forward(&mut w, Action::new("Ping"));
    w.conn.handle_disconnected(w.now);
    while let Some(o) = w.conn.poll_output() {
        w.outputs.push(o);
    }
    assert!(matches!(w.reply(id), Some(Err(ParkingError::Disconnected { .. }))), "{:?}", w.reply(id));
    let r = w.conn.request(w.now, Request::Forward(Action::new("Ping")), Target::All);
    assert!(matches!(r, Err(ParkingError::NotLoggedIn { .. })), "{r:?}");
    assert!(w.sent().is_empty());
}

#[test]
fn a_request_that_got_nothing_by_its_deadline_checks_the_link_at_once() {
    let mut w = ami(false);
    let (id, _) = forward(&mut w, Action::new("Ping"));
    w.advance(Duration::from_secs(10));
    assert!(matches!(w.reply(id), Some(Err(ParkingError::Timeout { .. }))));
    let probe = w.sent();
    assert!(probe.len() == 1 && probe[0].is("Action", "Ping"), "a keep-alive Ping at once: {probe:?}");
    // Unanswered too: the link is dead, found 20 s in rather than at the next keep-alive.
    w.now = w.now + Duration::from_secs(10);
    assert!(w.conn.handle_timeout(w.now).is_err());

    // A request that was answered in part is a slow answer, not a dead link.
    let mut w = ami(false);
    let (_, a) = forward(&mut w, Action::new("ParkedCalls"));
    w.feed(&format!("Response: Success\r\nActionID: {a}\r\nEventList: start\r\n\r\n"));
    w.advance(Duration::from_secs(10));
    assert!(w.sent().is_empty());
}

#[test]
fn a_list_past_the_cap_fails_and_its_rest_is_not_passed_on() {
    let mut cfg = ConnectionConfig::ami("amiuser", "amisecret");
    cfg.max_list_items = 2;
    cfg.forward_events = true;
    let mut w = Wire::ami_with(cfg, options());
    w.take_outputs();
    let (id, a) = forward(&mut w, Action::new("ParkedCalls"));
    let items: Vec<String> =
        (0..4).map(|i| list_item(&a, "default", 701 + i, &format!("1.{i}"), "x", 40, 5)).collect();
    w.feed(&list_of(&a, &items));
    assert!(
        matches!(w.reply(id), Some(Err(ParkingError::ListTooLong { limit: 2, .. }))),
        "{:?}",
        w.reply(id)
    );
    assert!(messages_out(&w).is_empty(), "the rest of our own list is not someone else's traffic");
}

#[test]
fn behind_amiws_forwarding_is_refused_with_a_typed_error() {
    let mut w = Wire::amiws(options());
    w.announce(1);
    let r = w.conn.request(w.now, Request::Forward(Action::new("Ping")), Target::Server(1));
    assert!(matches!(r, Err(ParkingError::ForwardNeedsRawAmi { .. })), "{r:?}");
    assert!(w.sent().is_empty());
}

#[test]
fn forward_events_reports_what_is_not_ours_and_the_store_still_follows() {
    let traffic = |w: &mut Wire| {
        w.feed(&live_event("ParkedCall", "default", 701, "1.1", "alice"));
        w.feed("Event: Newexten\r\nPrivilege: dialplan,all\r\nChannel: PJSIP/1\r\n\r\n");
        w.feed("Response: Success\r\nActionID: someone-else-7\r\nPing: Pong\r\n\r\n");
    };
    let mut off = ami(false);
    traffic(&mut off);
    assert!(messages_out(&off).is_empty());
    assert_eq!(off.conn.store().total_parked_calls_now(), 1);

    let mut on = ami(true);
    traffic(&mut on);
    let (id, a) = forward(&mut on, Action::new("Ping"));
    on.feed(&format!("Response: Success\r\nActionID: {a}\r\nPing: Pong\r\n\r\n"));
    assert!(on.reply(id).is_some());
    let got = messages_out(&on);
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got[0].is("Event", "ParkedCall") && got[1].is("Event", "Newexten"));
    assert!(got[2].is("ActionID", "someone-else-7"));
    assert!(on.outputs.iter().all(|o| !matches!(o, Output::Message(s, _) if *s != 1)));
    assert_eq!(on.conn.store().total_parked_calls_now(), 1, "parking events still reach the store");

    // Behind amiws too (the frame's server).
    let mut cfg = ConnectionConfig::amiws();
    cfg.forward_events = true;
    let mut ws = Wire::amiws_with(cfg, options());
    ws.frame(3, &[("Event", "Newexten"), ("Channel", "PJSIP/2")]);
    assert!(ws.outputs.iter().any(|o| matches!(o, Output::Message(3, m) if m.is("Event", "Newexten"))));
}
