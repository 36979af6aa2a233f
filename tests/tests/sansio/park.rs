//! Park options on the wire and the typed lot errors, on hand-made Asterisk 22 input
//! (what each header does was measured on the sandbox; `tests/sandbox/asterisk.rs` runs the
//! same against it).

use ami_parking::Request;
use ami_parking::{Park, ParkingError, ParkingOptions, Reply, Target};
use ami_parking_tests::*;
use std::time::Duration;

const LOTS: [(&str, u32, u32, u32); 2] = [("default", 701, 720, 45), ("vip", 801, 803, 5)];

#[test]
fn a_preferred_space_and_no_timeout_are_sent_as_asterisk_reads_them() {
    let mut w = Wire::synced(ParkingOptions::default(), &LOTS, &[]);
    w.conn
        .request(
            w.now,
            Request::Park {
                channel: "PJSIP/1-1".into(),
                park: Park::default().lot("vip").space(802).no_timeout(),
            },
            Target::All,
        )
        .unwrap();
    let park = w.sent().pop().unwrap();
    assert!(
        park.is("Parkinglot", "vip") && park.is("ParkingSpace", "802") && park.is("Timeout", "0"),
        "{park:?}"
    );
    w.conn
        .request(w.now, Request::Park { channel: "PJSIP/1-2".into(), park: Park::default() }, Target::All)
        .unwrap();
    let park = w.sent().pop().unwrap();
    assert!(park.get("ParkingSpace").is_none() && park.get("Timeout").is_none(), "the lot's own: {park:?}");
    assert!(matches!(
        w.conn.request(
            w.now,
            Request::Park { channel: "PJSIP/1-3".into(), park: Park::default().timeout(Duration::ZERO) },
            Target::All
        ),
        Err(ParkingError::InvalidArgument(_))
    ));
    // Asterisk counts in milliseconds: less than one would be sent as 0, no timeout
    // at all (found by a review: 500 µs was sent as `Timeout: 0`).
    let short = w.conn.request(
        w.now,
        Request::Park {
            channel: "PJSIP/1-4".into(),
            park: Park::default().timeout(Duration::from_micros(500)),
        },
        Target::All,
    );
    assert!(
        matches!(&short, Err(ParkingError::InvalidArgument(why)) if why.contains("millisecond")),
        "{short:?}"
    );
    assert!(w.sent().is_empty(), "nothing is sent");
}

#[test]
fn a_call_parked_without_timeout_has_no_deadline_live_or_listed() {
    let mut w = Wire::synced(ParkingOptions::default(), &LOTS, &[]);
    // The live park says 0; a list says 2^64 - 2, counting down.
    w.feed(
        &live_event("ParkedCall", "default", 701, "1.1", "5551001")
            .replace("ParkingTimeout: 45", "ParkingTimeout: 0"),
    );
    let call = w.conn.store().parked_call_on_now(1, "default", 701).unwrap();
    assert_eq!((call.timeout(), call.deadline()), (None, None));
    assert!(!call.is_near_timeout(w.now + Duration::from_secs(3600)));
    w.advance(Duration::from_secs(120));
    assert!(!w.events().iter().any(|e| e.kind() == "near_timeout"), "never near a timeout");
    let id = w.conn.request(w.now, Request::ParkedCalls { lot: None }, Target::All).unwrap();
    let list = w.sent().pop().unwrap();
    let item = list_item(&aid(&list), "default", 701, "1.1", "5551001", 18_446_744_073_709_551_494, 120);
    w.feed(&format!("Response: Success\r\nActionID: {0}\r\nEventList: start\r\nMessage: Parked calls will follow\r\n\r\n{item}Event: ParkedCallsComplete\r\nActionID: {0}\r\nEventList: Complete\r\nListItems: 1\r\nTotal: 1\r\n\r\n", aid(&list)));
    match w.reply(id) {
        Some(Ok(Reply::Calls(calls))) => assert_eq!(calls[0].deadline(), None),
        r => panic!("{r:?}"),
    }
    // A call about to time out is not taken for one without timeout.
    w.feed(
        &live_event("ParkedCallTimeOut", "vip", 801, "2.1", "5552001")
            .replace("ParkingDuration: 0", "ParkingDuration: 5")
            .replace("ParkingTimeout: 45", "ParkingTimeout: 0"),
    );
    assert_eq!(w.events().last().unwrap().kind(), "timeout");
}

#[test]
fn a_full_lot_and_an_unknown_lot_are_refused_before_sending() {
    let mut w = Wire::synced(
        ParkingOptions::default(),
        &LOTS,
        &[("vip", 801, "1.1", "1"), ("vip", 802, "1.2", "2"), ("vip", 803, "1.3", "3")],
    );
    match w.conn.request(
        w.now,
        Request::Park { channel: "PJSIP/1-1".into(), park: Park::default().lot("vip") },
        Target::All,
    ) {
        Err(e @ ParkingError::LotFull { .. }) => {
            assert_eq!(e.to_string(), "lot vip is full: all 3 of its spaces are taken on server 1")
        }
        r => panic!("{r:?}"),
    }
    match w.conn.request(
        w.now,
        Request::Park { channel: "PJSIP/1-1".into(), park: Park::default().lot("sales") },
        Target::All,
    ) {
        Err(e @ ParkingError::UnknownLot { .. }) => {
            assert_eq!(e.to_string(), "there is no parking lot sales on server 1; its lots are: default, vip")
        }
        r => panic!("{r:?}"),
    }
    assert!(w.sent().is_empty(), "nothing was sent");
    // A space frees: the lot takes a call again.
    w.feed(&live_event("ParkedCallGiveUp", "vip", 802, "1.2", "2"));
    w.conn
        .request(
            w.now,
            Request::Park { channel: "PJSIP/1-1".into(), park: Park::default().lot("vip") },
            Target::All,
        )
        .expect("a lot with a free space takes a call");
    let sent = w.sent();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(
        sent[0].is("Action", "Park") && sent[0].is("Parkinglot", "vip") && sent[0].is("Channel", "PJSIP/1-1"),
        "{sent:?}"
    );
}

#[test]
fn asterisks_park_action_failed_is_told_apart_by_what_the_store_knows() {
    // The lot filled while the Park was on its way.
    let mut w =
        Wire::synced(ParkingOptions::default(), &LOTS, &[("vip", 801, "1.1", "1"), ("vip", 802, "1.2", "2")]);
    let id = w
        .conn
        .request(
            w.now,
            Request::Park { channel: "PJSIP/1-1".into(), park: Park::default().lot("vip") },
            Target::All,
        )
        .unwrap();
    let park = w.sent().pop().unwrap();
    w.feed(&live_event("ParkedCall", "vip", 803, "1.3", "3"));
    w.feed(&format!("Response: Error\r\nActionID: {}\r\nMessage: Park action failed\r\n\r\n", aid(&park)));
    assert!(matches!(w.reply(id), Some(Err(ParkingError::LotFull { spaces: 3, .. }))), "{:?}", w.reply(id));
    // Without the lots listed, the store cannot tell: Asterisk's words stand.
    let mut w = Wire::ami(ParkingOptions::default().auto_refresh(false));
    let id = w
        .conn
        .request(
            w.now,
            Request::Park { channel: "PJSIP/1-1".into(), park: Park::default().lot("vip") },
            Target::All,
        )
        .unwrap();
    let park = w.sent().pop().unwrap();
    w.feed(&format!("Response: Error\r\nActionID: {}\r\nMessage: Park action failed\r\n\r\n", aid(&park)));
    match w.reply(id) {
        Some(Err(ParkingError::Asterisk { message, .. })) => assert_eq!(message, "Park action failed"),
        r => panic!("{r:?}"),
    }
}

#[test]
fn a_give_up_then_a_park_of_the_same_call_is_one_move() {
    use std::sync::{Arc, Mutex};
    let heard: Arc<Mutex<Vec<String>>> = Arc::default();
    let (m, g) = (heard.clone(), heard.clone());
    let opts = ParkingOptions::default()
        .on_call_moved(move |to, from| {
            m.lock().unwrap().push(format!("moved {} -> {}", from.parking_space, to.parking_space))
        })
        .on_call_give_up(move |c| g.lock().unwrap().push(format!("giveup {}", c.parking_space)));
    let mut w = Wire::ami(opts);
    let sent = w.sent();
    w.feed(&parking_lots_answer(&aid(&sent[0]), &LOTS));
    w.feed(&parked_calls_answer(&aid(&sent[1]), &[("default", 701, "1.1", "5551001")]));
    // A move as Asterisk reports it: give-up in the old place, park in the new one.
    w.feed(&format!(
        "{}{}",
        live_event("ParkedCallGiveUp", "default", 701, "1.1", "5551001"),
        live_event("ParkedCall", "vip", 802, "1.1", "5551001")
    ));
    let kinds: Vec<&str> = w.events().iter().map(|e| e.kind()).collect();
    assert_eq!(kinds, ["moved"]);
    match &w.events()[0] {
        ami_parking::ParkingEvent::Moved { call, from } => {
            assert_eq!(
                (&*from.parking_lot, from.parking_space, &*call.parking_lot, call.parking_space),
                ("default", 701, "vip", 802)
            )
        }
        e => panic!("{e:?}"),
    }
    let store = w.conn.store();
    assert!(store.parked_call_on_now(1, "default", 701).is_none());
    assert_eq!(store.parked_call_on_now(1, "vip", 802).unwrap().unique_id(), "1.1");
    // A real give-up afterwards is a give-up, reported once its moment has passed.
    w.feed(&live_event("ParkedCallGiveUp", "vip", 802, "1.1", "5551001"));
    assert_eq!(w.events().len(), 1, "held a moment");
    assert!(w.conn.poll_timeout().unwrap() <= w.now + Duration::from_millis(250));
    w.advance(Duration::from_millis(250));
    let kinds: Vec<&str> = w.events().iter().map(|e| e.kind()).collect();
    assert_eq!(kinds, ["moved", "giveup"]);
    assert_eq!(*heard.lock().unwrap(), ["moved 701 -> 802", "giveup 802"]);
}

#[test]
fn move_call_parks_the_calls_channel_elsewhere_and_answers_the_new_space() {
    let mut w = Wire::synced(ParkingOptions::default(), &LOTS, &[("default", 701, "1.1", "5551001")]);
    let id = w
        .conn
        .request(
            w.now,
            Request::Move { space: 701, lot: None, to: Park::default().lot("vip").space(802) },
            Target::All,
        )
        .unwrap();
    let park = w.sent().pop().unwrap();
    assert!(
        park.is("Action", "Park")
            && park.is("Channel", "Local/s@hold-1.1;1")
            && park.is("Parkinglot", "vip")
            && park.is("ParkingSpace", "802"),
        "{park:?}"
    );
    w.feed(&format!("Response: Success\r\nActionID: {}\r\nMessage: Park successful\r\n\r\n", aid(&park)));
    w.feed(&live_event("ParkedCallGiveUp", "default", 701, "1.1", "5551001"));
    w.feed(&live_event("ParkedCall", "vip", 803, "1.1", "5551001"));
    assert!(matches!(w.reply(id), Some(Ok(Reply::Moved { space: 803, .. }))), "{:?}", w.reply(id));
    // Nothing parked there: refused at once.
    assert!(matches!(
        w.conn.request(w.now, Request::Move { space: 705, lot: None, to: Park::default() }, Target::All),
        Err(ParkingError::SpaceEmpty { .. })
    ));
}

#[test]
fn a_lot_name_that_would_split_parkedcalls_arguments_is_refused() {
    let mut w = Wire::synced(ParkingOptions::default(), &LOTS, &[]);
    let before = w.sent().len();
    let err = w
        .conn
        .request(
            w.now,
            Request::Retrieve {
                space: 701,
                to_channel: "PJSIP/1002".into(),
                lot: Some("default,1,PJSIP/evil".into()),
            },
            Target::All,
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid argument: lot name \"default,1,PJSIP/evil\" holds ',' or '|', which would split ParkedCall's arguments; no Asterisk lot is named so"
    );
    assert_eq!(w.sent().len(), before, "nothing was sent");
}

/// `default_parking_lot` set to another lot than `default`: a park, a retrieve and a
/// read that name no lot mean that lot, on the wire and in the store; a full one is
/// refused by name before anything is sent.
#[test]
fn a_default_parking_lot_other_than_default_is_what_a_request_without_a_lot_means() {
    let options = ParkingOptions::default().default_parking_lot("vip");
    let mut w =
        Wire::synced(options, &LOTS, &[("default", 701, "9.1", "5550001"), ("vip", 801, "9.2", "5550002")]);
    // The read without a lot is the vip lot's space 801, not default's.
    let call = w.conn.store().parked_call_now(None, 801).expect("vip 801 holds a call");
    assert_eq!((&*call.parking_lot, call.unique_id()), ("vip", "9.2"));
    assert!(w.conn.store().parked_call_now(None, 701).is_none(), "701 is default's, not vip's");
    assert!(w.conn.store().parked_call_now(Some("default"), 701).is_some());

    w.conn
        .request(w.now, Request::Park { channel: "PJSIP/1-1".into(), park: Park::default() }, Target::All)
        .unwrap();
    let park = w.sent().pop().unwrap();
    assert_eq!(park.get_str("Parkinglot").as_deref(), Some("vip"), "{park:?}");

    w.conn
        .request(
            w.now,
            Request::Retrieve { space: 801, to_channel: "PJSIP/1002".into(), lot: None },
            Target::All,
        )
        .unwrap();
    let originate = w.sent().pop().unwrap();
    assert_eq!(originate.get_str("Data").as_deref(), Some("vip,801"), "{originate:?}");

    // vip (801-803) fills up: a park without a lot is refused as vip's, unsent.
    w.feed(&live_event("ParkedCall", "vip", 802, "9.3", "5550003"));
    w.feed(&live_event("ParkedCall", "vip", 803, "9.4", "5550004"));
    let refused = w.conn.request(
        w.now,
        Request::Park { channel: "PJSIP/1-2".into(), park: Park::default() },
        Target::All,
    );
    assert_eq!(refused, Err(ParkingError::LotFull { lot: "vip".into(), spaces: 3, server_id: 1 }));
    assert!(w.sent().is_empty(), "nothing sent for a full lot");
}

/// A retrieve or a move from a lot the server's list does not name is a typo, said
/// so (`UnknownLot`, with the lots there are), not "nothing is parked in space 1 of lot
/// nosuch" (found by a library-user review); a known lot's empty space is `SpaceEmpty`.
#[test]
fn a_retrieve_or_move_from_an_unknown_lot_is_refused_as_one() {
    let mut w = Wire::synced(ParkingOptions::default(), &LOTS, &[("default", 701, "1.1", "5551001")]);
    let known = vec!["default".to_string(), "vip".to_string()];
    let retrieve = |lot: &str, space: u32| Request::Retrieve {
        space,
        lot: Some(lot.into()),
        to_channel: "PJSIP/1002".into(),
    };
    assert_eq!(
        w.conn.request(w.now, retrieve("nosuch", 1), Target::All),
        Err(ParkingError::UnknownLot { lot: "nosuch".into(), server_id: 1, known: known.clone() })
    );
    assert!(matches!(
        w.conn.request(w.now, retrieve("vip", 801), Target::All),
        Err(ParkingError::SpaceEmpty { space: 801, .. })
    ));
    let moved = w.conn.request(
        w.now,
        Request::Move { space: 1, lot: Some("nosuch".into()), to: Park::default().lot("vip") },
        Target::All,
    );
    assert_eq!(moved, Err(ParkingError::UnknownLot { lot: "nosuch".into(), server_id: 1, known }));
    assert!(w.sent().is_empty(), "nothing is sent");
    assert!(
        w.conn.request(w.now, retrieve("default", 701), Target::All).is_ok(),
        "a parked call is retrieved"
    );
}
