//! `Request::ParkCallerOf` on the wire: one `Status` list (its items as Asterisk 22
//! writes them, with `BridgeID`, measured on the sandbox: `tests/sandbox/asterisk_caller_of.rs`),
//! then the `Park` of the caller's channel under a new ActionID, answered on its
//! `ParkedCall`. The typed errors of each step.

use ami_parking::{Park, ParkingError, ParkingOptions, Reply, Request, Target};
use ami_parking_tests::*;
use std::time::Duration;

const LOTS: [(&str, u32, u32, u32); 2] = [("default", 701, 720, 45), ("vip", 801, 803, 5)];

/// A `Status` list item as Asterisk 22 writes it (the fields park_caller_of reads, in
/// their order among the others).
fn status_item(aid: &str, channel: &str, state: &str, caller: &str, bridge: &str) -> String {
    format!(
        "Event: Status\r\nChannel: {channel}\r\nChannelState: 6\r\nChannelStateDesc: {state}\r\nCallerIDNum: {caller}\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nUniqueid: 1.{caller}\r\nType: PJSIP\r\nBridgeID: {bridge}\r\nApplication: Dial\r\nSeconds: 12\r\nActionID: {aid}\r\n\r\n"
    )
}

fn status_answer(aid: &str, items: &[String]) -> String {
    format!(
        "Response: Success\r\nActionID: {aid}\r\nEventList: start\r\nMessage: Channel status will follow\r\n\r\n{}Event: StatusComplete\r\nActionID: {aid}\r\nEventList: Complete\r\nListItems: {n}\r\nItems: {n}\r\n\r\n",
        items.concat(),
        n = items.len()
    )
}

#[test]
fn one_status_list_then_the_park_of_the_caller_answered_on_its_parked_call() {
    let mut w = Wire::synced(ParkingOptions::default(), &LOTS, &[]);
    let req = Request::ParkCallerOf { phone: "PJSIP/1001".into(), park: Park::default().lot("vip") };
    let id = w.conn.request(w.now, req, Target::All).unwrap();
    let status = w.sent().pop().unwrap();
    assert_eq!(status.get_str("Action").as_deref(), Some("Status"), "{status:?}");
    assert!(status.get("Channel").is_none(), "every channel is listed");
    let s_aid = aid(&status);
    w.feed(&status_answer(
        &s_aid,
        &[
            status_item(&s_aid, "PJSIP/trunk-0000000a", "Up", "5551001", "b-1"),
            status_item(&s_aid, "PJSIP/1001-0000000b", "Up", "1001", "b-1"),
            // A phone whose name starts the same is another phone.
            status_item(&s_aid, "PJSIP/10010-0000000c", "Up", "10010", "b-2"),
            status_item(&s_aid, "PJSIP/trunk-0000000d", "Up", "5551002", "b-2"),
        ],
    ));
    assert!(w.reply(id).is_none(), "answered on the ParkedCall, not the list");
    let park = w.sent().pop().unwrap();
    assert!(
        park.is("Action", "Park")
            && park.is("Channel", "PJSIP/trunk-0000000a")
            && park.is("Parkinglot", "vip"),
        "{park:?}"
    );
    let p_aid = aid(&park);
    assert_ne!(p_aid, s_aid, "the park has an ActionID of its own");
    w.feed(&format!("Response: Success\r\nActionID: {p_aid}\r\nMessage: Park successful\n\r\n\r\n"));
    let parked = live_event("ParkedCall", "vip", 801, "1.5551001", "5551001")
        .replace("Local/s@hold-1.5551001;1", "PJSIP/trunk-0000000a");
    w.feed(&parked);
    match w.reply(id) {
        Some(Ok(Reply::Parked { lot, space, call, .. })) => {
            assert_eq!((lot.as_str(), *space, call.channel()), ("vip", 801, "PJSIP/trunk-0000000a"))
        }
        other => panic!("expected Parked, got {other:?}"),
    }
    // A late copy of a list item under the list's old ActionID changes nothing.
    w.feed(&status_item(&s_aid, "PJSIP/1001-0000000b", "Up", "1001", "b-1"));
    assert!(w.sent().is_empty());
}

#[test]
fn each_step_fails_with_an_error_a_person_can_act_on() {
    let mut w = Wire::synced(ParkingOptions::default(), &LOTS, &[]);
    // Refused before anything is sent.
    for bad in ["1001", "PJSIP/", "PJSIP/1001-", "PJSIP/10 01"] {
        let r = w.conn.request(
            w.now,
            Request::ParkCallerOf { phone: bad.into(), park: Park::default() },
            Target::All,
        );
        assert!(
            matches!(&r, Err(ParkingError::InvalidArgument(m)) if m.contains("e.g. PJSIP/1001")),
            "{bad}: {r:?}"
        );
    }
    let r = w.conn.request(
        w.now,
        Request::ParkCallerOf { phone: "PJSIP/1001".into(), park: Park::default().lot("nosuch") },
        Target::All,
    );
    assert!(matches!(r, Err(ParkingError::UnknownLot { .. })), "{r:?}");
    assert!(w.sent().is_empty());

    // Status refused (a user without write=call).
    let req = || Request::ParkCallerOf { phone: "PJSIP/1001".into(), park: Park::default() };
    let id = w.conn.request(w.now, req(), Target::All).unwrap();
    let s = aid(&w.sent().pop().unwrap());
    w.feed(&format!("Response: Error\r\nActionID: {s}\r\nMessage: Permission denied\r\n\r\n"));
    match w.reply(id) {
        Some(Err(ParkingError::PermissionDenied { right, .. })) => assert_eq!(right, "write=call"),
        other => panic!("expected PermissionDenied, got {other:?}"),
    }

    // Ringing: not bridged, its state named.
    let id = w.conn.request(w.now, req(), Target::All).unwrap();
    let s = aid(&w.sent().pop().unwrap());
    w.feed(&status_answer(&s, &[status_item(&s, "PJSIP/1001-0000000e", "Ringing", "1001", "")]));
    match w.reply(id) {
        Some(Err(e @ ParkingError::PhoneCallNotBridged { .. })) => assert_eq!(
            e.to_string(),
            "phone PJSIP/1001's call is not connected to a caller (PJSIP/1001-0000000e: Ringing); answer the call first, then park it"
        ),
        other => panic!("expected PhoneCallNotBridged, got {other:?}"),
    }

    // Accepted, but no ParkedCall in time: the caller's channel is named.
    let id = w.conn.request(w.now, req(), Target::All).unwrap();
    let s = aid(&w.sent().pop().unwrap());
    w.feed(&status_answer(
        &s,
        &[
            status_item(&s, "PJSIP/1001-0000000f", "Up", "1001", "b-9"),
            status_item(&s, "PJSIP/trunk-00000010", "Up", "5551003", "b-9"),
        ],
    ));
    let p = aid(&w.sent().pop().unwrap());
    w.feed(&format!("Response: Success\r\nActionID: {p}\r\nMessage: Park successful\n\r\n\r\n"));
    w.advance(Duration::from_secs(60));
    match w.reply(id) {
        Some(Err(ParkingError::NoParkedCallEvent { channel, .. })) => {
            assert_eq!(channel, "PJSIP/trunk-00000010")
        }
        other => panic!("expected NoParkedCallEvent, got {other:?}"),
    }
}
