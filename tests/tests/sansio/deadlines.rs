//! Every request kind meets its deadline with its exact error (or, for a fan-out list
//! behind amiws, with what the servers that answered said).

use ami_parking::{Action, Park, ParkingError, ParkingOptions, Reply, Request, RequestId, Target};
use ami_parking_tests::*;
use std::time::Duration;

/// Lets `secs` pass a second at a time, answering keep-alive pings as Asterisk does.
fn pass(w: &mut Wire, secs: u64) {
    for _ in 0..secs {
        w.advance(Duration::from_secs(1));
        w.answer_pings();
    }
}

fn timed_out(w: &Wire, id: RequestId) -> (String, Duration) {
    match w.reply(id) {
        Some(Err(ParkingError::Timeout { action, after })) => (action.clone(), *after),
        r => panic!("{r:?}"),
    }
}

fn ami() -> Wire {
    Wire::ami(ParkingOptions::default().auto_refresh(false))
}

#[test]
fn lists_and_plain_actions_time_out_after_request_timeout() {
    let mut w = ami();
    let lots = w.conn.request(w.now, Request::ParkingLots, Target::All).unwrap();
    let calls = w.conn.request(w.now, Request::ParkedCalls { lot: None }, Target::All).unwrap();
    let action = w.conn.request(w.now, Request::Action(Action::new("Status")), Target::All).unwrap();
    let list = w
        .conn
        .request(
            w.now,
            Request::List { action: Action::new("CoreShowChannels"), complete_event: None },
            Target::All,
        )
        .unwrap();
    pass(&mut w, 9);
    assert!(w.reply(lots).is_none() && w.reply(calls).is_none(), "not before 10 s");
    pass(&mut w, 1);
    let ten = Duration::from_secs(10);
    assert_eq!(timed_out(&w, lots), ("Parkinglots".into(), ten));
    assert_eq!(timed_out(&w, calls), ("ParkedCalls".into(), ten));
    assert_eq!(timed_out(&w, action), ("Status".into(), ten));
    assert_eq!(timed_out(&w, list), ("CoreShowChannels".into(), ten));
    assert!(!w.conn.store().is_loading_now(), "the loading count went back to zero");
}

#[test]
fn a_park_or_move_accepted_without_its_event_says_so_and_one_unanswered_times_out() {
    let mut w = ami();
    let silent = w
        .conn
        .request(w.now, Request::Park { channel: "PJSIP/1-1".into(), park: Park::default() }, Target::All)
        .unwrap();
    let accepted = w
        .conn
        .request(w.now, Request::Park { channel: "PJSIP/1-2".into(), park: Park::default() }, Target::All)
        .unwrap();
    let sent = w.sent();
    w.feed(&format!("Response: Success\r\nActionID: {}\r\nMessage: Park successful\r\n\r\n", aid(&sent[1])));
    pass(&mut w, 10);
    assert_eq!(timed_out(&w, silent), ("Park".into(), Duration::from_secs(10)));
    match w.reply(accepted) {
        Some(Err(ParkingError::NoParkedCallEvent { channel, after })) => {
            assert_eq!((channel.as_str(), *after), ("PJSIP/1-2", Duration::from_secs(10)))
        }
        r => panic!("{r:?}"),
    }
    // A move: the same, for the parked call's channel.
    w.feed(&live_event("ParkedCall", "default", 701, "1.1", "5551001"));
    let id = w
        .conn
        .request(w.now, Request::Move { space: 701, lot: None, to: Park::default().space(705) }, Target::All)
        .unwrap();
    let park = w.sent().pop().unwrap();
    w.feed(&format!("Response: Success\r\nActionID: {}\r\nMessage: Park successful\r\n\r\n", aid(&park)));
    pass(&mut w, 10);
    match w.reply(id) {
        Some(Err(ParkingError::NoParkedCallEvent { channel, .. })) => {
            assert_eq!(channel, "Local/s@hold-1.1;1")
        }
        r => panic!("{r:?}"),
    }
}

#[test]
fn a_retrieve_waits_for_the_ring_time_and_the_request_timeout() {
    let mut w = ami();
    w.feed(&live_event("ParkedCall", "default", 701, "1.1", "5551001"));
    let id = w
        .conn
        .request(
            w.now,
            Request::Retrieve { space: 701, to_channel: "PJSIP/1002".into(), lot: None },
            Target::All,
        )
        .unwrap();
    pass(&mut w, 39);
    assert!(w.reply(id).is_none());
    pass(&mut w, 1);
    assert_eq!(timed_out(&w, id), ("Originate (retrieve)".into(), Duration::from_secs(40)));
}

#[test]
fn behind_amiws_a_fan_out_list_answers_with_the_servers_that_answered_at_its_deadline() {
    let mut w = Wire::amiws(ParkingOptions::default().auto_refresh(false));
    for server in [1, 2] {
        w.announce(server);
    }
    let id = w.conn.request(w.now, Request::ParkedCalls { lot: None }, Target::All).unwrap();
    let list = w.sent().pop().unwrap();
    w.frame_text(1, &parked_calls_answer(&aid(&list), &[("default", 701, "1.1", "5551001")]));
    pass(&mut w, 9);
    assert!(w.reply(id).is_none(), "server 2 may still answer");
    pass(&mut w, 1);
    match w.reply(id) {
        Some(Ok(Reply::Calls(calls))) => {
            assert_eq!(calls.iter().map(|c| (c.server_id, c.parking_space)).collect::<Vec<_>>(), [(1, 701)])
        }
        r => panic!("{r:?}"),
    }
}
