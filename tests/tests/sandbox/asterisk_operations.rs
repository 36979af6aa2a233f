//! Parking operations against a real Asterisk 22 (the sandbox): park (preferred
//! space, no timeout, full and unknown lots), retrieve (a hidden call, a phone that
//! rings), move. One test at a time, as in `asterisk.rs`.

use ami_parking::futures_signals::signal::SignalExt;
use ami_parking::ParkingClient;
use ami_parking::{
    Action, LotKey, Park, ParkingError, ParkingEvent, ParkingOptions, ParkingStore, Request, Target,
};
use ami_parking_tests::live::*;
use ami_parking_tests::sandbox::{self, parked_truth, PORT_A};
use futures_util::StreamExt;
use std::time::{Duration, Instant};

#[tokio::test]
async fn park_call_on_a_bridged_call_returns_the_space_asterisk_used() {
    let Some((_g, c)) = on_clean_pbx().await else { return };
    // Take 701 first, so the space chosen is not simply the lot's first.
    let mut events = c.events();
    park_dialplan(&c, "5551009", "default").await;
    let first = next_event(&mut events, "parked", |e| parked_event_for(e, "5551009")).await;
    let first = (first.call().parking_space, first.call().unique_id().to_string());
    let agent = bridged_agent(&c, "5553001").await;
    let space =
        c.park_call(&agent, Park::default().timeout(Duration::from_secs(60))).await.expect("park").space;
    let truth = parked_truth(PORT_A);
    let stored = c.store().parked_call_on_now(1, "default", space).expect("parked call in the store");
    assert_eq!(stored.channel(), agent);
    let mut want = vec![
        ("default".to_string(), first.0, first.1.clone()),
        ("default".to_string(), space, stored.unique_id().to_string()),
    ];
    want.sort();
    let mut truth = truth;
    truth.sort();
    assert_eq!(truth, want, "Asterisk holds the two calls, the second where park_call said");
    assert_ne!(space, 701, "701 was taken");
    // Parked from a bridge: the parker is the other party (the caller).
    assert_eq!(stored.parked_by(), Some("5553001"), "{stored:?}");
    // The per-call timeout was sent in milliseconds: Asterisk counts 60 s, not 60 ms.
    let remaining = stored.timeout_remaining(ami_parking_transport::now()).unwrap();
    assert!(remaining > Duration::from_secs(50), "{remaining:?}");
    // Errors come back with Asterisk's own message.
    let err = c.park_call("Local/nonexistent-1;1", Park::default()).await.unwrap_err();
    assert!(err.to_string().contains("Channel does not exist: Local/nonexistent-1;1"), "{err}");
    c.shutdown().await;
    clean(PORT_A).await;
}

#[tokio::test]
async fn retrieve_call_takes_the_call_out_of_its_space() {
    let Some((_g, c)) = on_clean_pbx().await else { return };
    let mut events = c.events();
    park_dialplan(&c, "5551002", "default").await;
    let call = next_event(&mut events, "parked", |e| parked_event_for(e, "5551002")).await.call().clone();
    let retriever = c.retrieve_call(None, call.parking_space, "Local/s@hold").await.expect("retrieve");
    assert!(retriever.retriever.channel.starts_with("Local/s@hold-"), "{retriever:?}");
    let e = next_event(&mut events, "retrieved", |e| matches!(e, ParkingEvent::Retrieved { .. })).await;
    assert_eq!(e.call().unique_id(), call.unique_id());
    assert!(c.store().parked_call_on_now(1, "default", call.parking_space).is_none());
    assert!(parked_truth(PORT_A).is_empty());
    // Refused without sending anything: the store knows the space is empty now.
    let err = c.retrieve_call(None, call.parking_space, "Local/s@hold").await.unwrap_err();
    assert!(err.to_string().contains("nothing is parked"), "{err}");
    c.shutdown().await;
    clean(PORT_A).await;
}

#[tokio::test]
async fn a_call_the_filter_hides_is_counted_and_can_be_retrieved() {
    let _g = LOCK.lock().await;
    let Some(()) = sandbox::require("a") else { return };
    clean(PORT_A).await;
    let store =
        ParkingStore::new(ParkingOptions::default().parked_call_filter(|c| &*c.parking_lot == "default"));
    let c = client_with(PORT_A, store).await;
    let mut events = c.events();
    park_dialplan(&c, "5551301", "vip").await;
    park_dialplan(&c, "5551302", "default").await;
    next_event(&mut events, "parked", |e| parked_event_for(e, "5551302")).await;
    let vip = LotKey::new(1, "vip");
    wait_occupied(c.store(), vip.clone(), 1).await;
    let shown: Vec<String> =
        c.store().parked_calls_now().iter().map(|c| c.caller_id_num().to_string()).collect();
    assert_eq!(shown, ["5551302"], "the views show the default lot only");
    assert!(c.store().lot_calls_now(&vip).is_empty());
    let (_, space, _) = parked_truth(PORT_A)
        .into_iter()
        .find(|(lot, _, _)| lot == "vip")
        .expect("Asterisk holds the vip call");
    let r =
        c.retrieve_call(Some("vip"), space, "Local/s@hold").await.expect("a hidden call can be retrieved");
    assert!(r.retriever.channel.starts_with("Local/s@hold"), "{r:?}");
    wait_occupied(c.store(), vip, 0).await;
    assert!(parked_truth(PORT_A).iter().all(|(lot, _, _)| lot != "vip"), "Asterisk let it go");
    // The hidden call fired nothing; the shown one is still there. A list's answer
    // comes after every event Asterisk sent before it: past it, the stream holds all.
    c.get_parked_calls(None).await.unwrap();
    let mut heard = Vec::new();
    while let Some(Some(e)) = futures_util::FutureExt::now_or_never(events.next()) {
        heard.push((e.kind(), e.call().parking_lot.to_string()));
    }
    assert!(heard.iter().all(|(_, lot)| lot == "default"), "{heard:?}");
    assert_eq!(c.store().total_parked_calls_now(), 1);
    c.shutdown().await;
    clean(PORT_A).await;
}

#[tokio::test]
async fn a_retrieve_to_a_phone_that_answers_after_12_s_succeeds() {
    let Some((_g, c)) = on_clean_pbx().await else { return };
    let mut events = c.events();
    park_dialplan(&c, "5551401", "default").await;
    let call = match next_event(&mut events, "parked", |e| parked_event_for(e, "5551401")).await {
        ParkingEvent::Parked { call } => call,
        _ => unreachable!(),
    };
    let asked = Instant::now();
    let r = c
        .retrieve_call(None, call.parking_space, "Local/s@slowanswer")
        .await
        .expect("the phone answered within the ring time");
    let waited = asked.elapsed();
    assert!(waited >= Duration::from_secs(12), "the phone rang 12 s first, not {waited:?}");
    assert!(r.retriever.channel.starts_with("Local/s@slowanswer"), "{r:?}");
    assert!(c.store().parked_call_now(None, call.parking_space).is_none());
    c.shutdown().await;
    clean(PORT_A).await;
}

#[tokio::test]
async fn park_takes_a_preferred_space_no_timeout_and_tells_a_full_lot_from_an_unknown_one() {
    let Some((_g, c)) = on_clean_pbx().await else { return };
    c.get_parking_lots().await.unwrap();
    let mut events = c.events();
    // A preferred space: used when free...
    let first = bridged_agent(&c, "5553101").await;
    assert_eq!(c.park_call(&first, Park::default().space(715)).await.expect("park at 715").space, 715);
    // ...and when taken, Asterisk gives the next free one after it.
    let second = bridged_agent(&c, "5553102").await;
    assert_eq!(c.park_call(&second, Park::default().space(715)).await.expect("park near 715").space, 716);
    // No timeout: the live park says 0, the list near 2^64; the store says none.
    let third = bridged_agent(&c, "5553103").await;
    let space = c.park_call(&third, Park::default().no_timeout()).await.expect("park for good").space;
    let stored = c.store().parked_call_on_now(1, "default", space).unwrap();
    assert_eq!((stored.timeout(), stored.deadline()), (None, None), "live: no timeout");
    let listed = c.get_parked_calls(Some("default")).await.unwrap();
    let item = listed.iter().find(|x| x.parking_space == space).unwrap();
    assert_eq!(item.deadline(), None, "listed: no timeout");
    let mut truth: Vec<(String, u32)> = parked_truth(PORT_A).into_iter().map(|(l, s, _)| (l, s)).collect();
    truth.sort();
    let mut want =
        vec![("default".to_string(), 715), ("default".to_string(), 716), ("default".to_string(), space)];
    want.sort();
    assert_eq!(truth, want, "the three calls, where park_call said");
    // A full lot (vip: 801-810) and an unknown one: Asterisk answers both with the
    // same "Park action failed"; the library says which.
    let fourth = bridged_agent(&c, "5553104").await;
    for i in 0..10 {
        park_dialplan(&c, &format!("55532{i:02}"), "vip").await;
    }
    let vip = LotKey::new(1, "vip");
    let mut lot = c.store().lot(vip.clone()).to_stream();
    tokio::time::timeout(DEADLINE, async {
        while let Some(l) = lot.next().await {
            if l.is_some_and(|l| l.occupied == 10) {
                return;
            }
        }
    })
    .await
    .expect("vip filled");
    let asterisk = Action::new("Park").header("Channel", &fourth).header("Parkinglot", "vip");
    match c.request(Request::Action(asterisk), Target::All).await {
        Err(e) => assert!(e.to_string().contains("Park action failed"), "{e}"),
        Ok(r) => panic!("a full lot took a call: {r:?}"),
    }
    match c.park_call(&fourth, Park::default().lot("vip")).await {
        Err(ParkingError::LotFull { lot, spaces, server_id }) => {
            assert_eq!((lot.as_str(), spaces, server_id), ("vip", 10, 1))
        }
        r => panic!("{r:?}"),
    }
    match c.park_call(&fourth, Park::default().lot("nosuch")).await {
        Err(e @ ParkingError::UnknownLot { .. }) => {
            assert_eq!(
                e.to_string(),
                "there is no parking lot nosuch on server 1; its lots are: default, load, vip"
            )
        }
        r => panic!("{r:?}"),
    }
    // The call parked for good never came near a timeout (an alert for a call first
    // seen below the threshold fires at once: past a list's answer it would be here).
    c.get_parked_calls(None).await.unwrap();
    let mut heard = Vec::new();
    while let Some(Some(e)) = futures_util::FutureExt::now_or_never(events.next()) {
        heard.push(e);
    }
    assert!(
        !heard.iter().any(|e| e.kind() == "near_timeout" && e.call().parking_space == space),
        "no near-timeout for a call without timeout"
    );
    c.shutdown().await;
    clean(PORT_A).await;
}

#[tokio::test]
async fn a_move_is_reported_once_as_a_move_and_a_hang_up_after_it_as_a_give_up() {
    let Some((_g, c)) = on_clean_pbx().await else { return };
    c.get_parking_lots().await.unwrap();
    let mut events = c.events();
    park_dialplan(&c, "5553301", "default").await;
    let call = next_event(&mut events, "parked", |e| parked_event_for(e, "5553301")).await.call().clone();
    // Within its lot, to a preferred space.
    let to = c.move_call(None, call.parking_space, Park::default().space(715)).await.expect("move");
    let (lot, space) = (to.lot, to.space);
    assert_eq!((lot.as_str(), space), ("default", 715));
    let moved = next_event(&mut events, "moved", |e| e.kind() != "near_timeout").await;
    match &moved {
        ParkingEvent::Moved { call: to, from } => {
            assert_eq!(
                (from.parking_space, to.parking_space, to.unique_id()),
                (call.parking_space, 715, call.unique_id())
            )
        }
        e => panic!("a move is one moved event, not {e:?}"),
    }
    // To another lot.
    let to = c.move_call(None, 715, Park::default().lot("vip").space(805)).await.expect("move to vip");
    let (lot, space) = (to.lot, to.space);
    assert_eq!((lot.as_str(), space), ("vip", 805));
    let moved = next_event(&mut events, "moved", |e| e.kind() != "near_timeout").await;
    assert_eq!(moved.kind(), "moved");
    let truth = parked_truth(PORT_A);
    assert_eq!(truth, vec![("vip".to_string(), 805, call.unique_id().to_string())]);
    // A hang-up after it is a give-up.
    let hang = Action::new("Hangup").header("Channel", call.channel());
    c.request(Request::Action(hang), Target::All).await.unwrap();
    let gone = next_event(&mut events, "giveup", |e| e.kind() != "near_timeout").await;
    assert_eq!((gone.kind(), gone.call().parking_space), ("giveup", 805));
    assert!(c.store().parked_calls_now().is_empty());
    c.shutdown().await;
    clean(PORT_A).await;
}

/// Least privilege: the sandbox's `amiuser` has only what the README says a user needs
/// (every other test runs with it). A user missing a right gets an error that names it.
#[tokio::test]
async fn a_missing_right_is_named_in_the_error() {
    let Some((_g, c)) = on_clean_pbx().await else { return };
    let mut events = c.events();
    park_dialplan(&c, "5551401", "default").await;
    let parked = next_event(&mut events, "parked", |e| parked_event_for(e, "5551401")).await;
    let space = parked.call().parking_space;

    // No write=originate: a retrieve is refused, and the error says what to add.
    let mut o = ami_parking_transport::ClientOptions::new(
        format!("tcp://noorig:noorigsecret@127.0.0.1:{PORT_A}").parse().unwrap(),
    );
    o.request_timeout = Duration::from_secs(3);
    let no_orig = ami_parking_transport::Client::connect(o);
    no_orig.wait_logged_in(DEADLINE).await.expect("login");
    match no_orig.retrieve_call(None, space, "Local/s@hold").await {
        Err(e @ ParkingError::PermissionDenied { .. }) => assert_eq!(
            e.to_string(),
            "Asterisk refused Originate (retrieve) on server 1: the AMI user lacks write=originate; add it in manager.conf (the user needs read=call,system and write=call,originate)"
        ),
        other => panic!("expected PermissionDenied, got {other:?}"),
    }
    no_orig.shutdown().await;

    // No read=call: no parking event reaches the client; a park is accepted by Asterisk
    // and then reported as unconfirmed, with the right to check.
    let agent = bridged_agent(&c, "5551402").await;
    let mut o = ami_parking_transport::ClientOptions::new(
        format!("tcp://nocall:nocallsecret@127.0.0.1:{PORT_A}").parse().unwrap(),
    );
    o.request_timeout = Duration::from_secs(2);
    let no_call = ami_parking_transport::Client::connect(o);
    no_call.wait_logged_in(DEADLINE).await.expect("login");
    match no_call.park_call(&agent, Park::default()).await {
        Err(e @ ParkingError::NoParkedCallEvent { .. }) => {
            assert!(e.to_string().ends_with("check that the AMI user has read=call"), "{e}")
        }
        other => panic!("expected NoParkedCallEvent, got {other:?}"),
    }
    assert_eq!(parked_truth(PORT_A).len(), 2, "Asterisk did park it");
    no_call.shutdown().await;
    c.shutdown().await;
    clean(PORT_A).await;
}
