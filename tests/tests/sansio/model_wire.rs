//! The reference model writes what Asterisk 22 writes: the same header names in the
//! same order for every parking message as in the real captures (Privilege on live
//! events only, ActionID last on list items, `Park successful\n`), and amiws frames
//! shaped like amiws 2.2's.

use ami_parking::sim::{SimPbx, Wire};
use ami_parking::{Message, Timestamp};
use ami_parking_tests::*;

fn keys(m: &Message) -> Vec<String> {
    m.iter().map(|(k, _)| String::from_utf8_lossy(k).into_owned()).collect()
}

/// Header names of the first message matching `pred` in a capture.
fn capture_shape(name: &str, pred: impl Fn(&Message) -> bool) -> Vec<String> {
    let cap = TcpCapture::load(name);
    let (_, msgs) = decode_chunked(&cap.rx, &[]);
    keys(msgs.iter().find(|m| pred(m)).unwrap_or_else(|| panic!("not in {name}")))
}

fn model_messages(script: impl FnOnce(&mut SimPbx, Timestamp)) -> Vec<Message> {
    let t = Timestamp::from_unix_millis(1_800_000_000_000);
    let mut pbx = SimPbx::sandbox(Wire::Ami);
    pbx.connect_client(1);
    pbx.handle_client_bytes(
        t,
        1,
        b"Action: Login\r\nActionID: 1\r\nUsername: amiuser\r\nSecret: amisecret\r\n\r\n",
    );
    script(&mut pbx, t);
    let (_, msgs) = decode_chunked(&pbx.take_output(1), &[]);
    msgs
}

fn live(m: &Message, event: &str) -> bool {
    m.is("Event", event) && m.get("Privilege").is_some()
}

#[test]
fn the_model_writes_asterisks_field_order() {
    let msgs = model_messages(|pbx, t| {
        pbx.park(t, 1, "5551001", "Customer 5551001", "default", None).unwrap();
        pbx.handle_client_bytes(
            t,
            1,
            b"Action: ParkedCalls\r\nActionID: 3\r\n\r\nAction: Parkinglots\r\nActionID: 2\r\n\r\n",
        );
        pbx.park(t, 1, "5552001", "Customer 5552001", "vip", None).unwrap();
        pbx.handle_client_bytes(t, 1, b"Action: Originate\r\nActionID: r1\r\nChannel: Local/s@hold\r\nApplication: ParkedCall\r\nData: default,701\r\nAsync: true\r\n\r\n");
        pbx.advance(t + std::time::Duration::from_secs(5));
        pbx.park(t, 1, "5553001", "x", "default", None).unwrap();
        pbx.give_up(t, 1, "default", 702).unwrap();
        pbx.handle_client_bytes(t, 1, b"Action: Park\r\nActionID: p1\r\nChannel: Local/caller-5554001-1;1\r\nParkinglot: default\r\n\r\n");
    });
    let model =
        |pred: &dyn Fn(&Message) -> bool| keys(msgs.iter().find(|m| pred(m)).expect("model wrote it"));
    let cap = "lists-park-retrieve-timeout";
    for event in ["ParkedCall", "UnParkedCall", "ParkedCallTimeOut"] {
        assert_eq!(model(&|m| live(m, event)), capture_shape(cap, |m| live(m, event)), "live {event}");
    }
    let giveup = |m: &Message| live(m, "ParkedCallGiveUp");
    assert_eq!(model(&giveup), capture_shape("park-action-errors-giveup", giveup));
    let item = |m: &Message| m.is("Event", "ParkedCall") && m.get("ActionID").is_some();
    assert_eq!(model(&item), capture_shape(cap, item), "list item: no Privilege, ActionID last");
    for event in ["Parkinglot", "ParkinglotsComplete", "ParkedCallsComplete"] {
        let p = |m: &Message| m.is("Event", event);
        assert_eq!(model(&p), capture_shape(cap, p), "{event}");
    }
    let start = |m: &Message| m.is("Message", "Parked calls will follow");
    assert_eq!(model(&start), capture_shape(cap, start));
    let park_ok = |m: &Message| m.is("Response", "Success") && m.get("Message") == Some(b"Park successful\n");
    assert_eq!(model(&park_ok), capture_shape("park-action-errors-giveup", park_ok), "Park successful\\n");
}

#[test]
fn the_model_writes_amiws_frames_like_amiws() {
    let t = Timestamp::from_unix_millis(1_800_000_000_000);
    let mut pbx = SimPbx::sandbox(Wire::Amiws);
    pbx.connect_client(1);
    pbx.connect_client(2);
    pbx.park(t, 2, "6661001", "Customer 6661001", "sales", None).unwrap();
    pbx.handle_client_frame(t, br#"{"Action":"ParkedCalls","ActionID":"calls-1"}"#);
    let frames = pbx.take_frames();
    let first = String::from_utf8(frames[0].clone()).unwrap();
    assert!(first.starts_with(r#"{ "type": 3, "server_id": 2, "server_name": "pbx-b", "ssl": false, "data": {"Event": "ParkedCall","Privilege": "call,all","#), "{first}");
    // Without AMIServerID both servers answer, each with the same ActionID.
    let answers = frames
        .iter()
        .filter(|f| String::from_utf8_lossy(f).contains(r#""Event": "ParkedCallsComplete""#))
        .count();
    assert_eq!(answers, 2);
    // Same shape as a real amiws frame of the capture.
    let real = load_amiws("two-servers-lists-park-retrieve-timeout")
        .into_iter()
        .find_map(|l| match l {
            AmiwsLine::Frame(f)
                if String::from_utf8_lossy(&f).contains(r#""Event": "ParkedCall","Privilege""#) =>
            {
                Some(f)
            }
            _ => None,
        })
        .unwrap();
    let shape = |f: &[u8]| keys(&ami_parking::amiws::decode_frame(f).unwrap().data);
    assert_eq!(shape(&frames[0]), shape(&real));
}

/// The model's `ParkedCallSwap` is Asterisk's (capture `swap-then-retrieve`): the same
/// header names in the same order, the replaced parkee's `Linkedid` (not the new
/// parkee's `Uniqueid`), and the lot's whole timeout with a duration of 0 although the
/// park is older.
#[test]
fn the_models_swap_writes_what_asterisk_writes() {
    let cap = TcpCapture::load("swap-then-retrieve");
    let (_, real) = decode_chunked(&cap.rx, &[]);
    let real_swap = real.iter().find(|m| live(m, "ParkedCallSwap")).expect("the capture's swap");
    let space = real_swap.get_str("ParkingSpace").unwrap().into_owned();
    let real_park = real
        .iter()
        .find(|m| live(m, "ParkedCall") && m.is("ParkingSpace", &space))
        .expect("the capture's park of that space");

    let msgs = model_messages(|pbx, t| {
        pbx.park(t, 1, "5551234", "Swap Test", "default", None).unwrap();
        pbx.advance(t + std::time::Duration::from_secs(10));
        pbx.swap(t + std::time::Duration::from_secs(10), 1, "default", 701, 5559999).unwrap();
    });
    let park = msgs.iter().find(|m| live(m, "ParkedCall")).expect("the model's park");
    let swap = msgs.iter().find(|m| live(m, "ParkedCallSwap")).expect("the model's swap");

    assert_eq!(keys(swap), keys(real_swap), "the same headers in the same order");
    for (what, m, parked) in [("Asterisk", real_swap, real_park), ("the model", swap, park)] {
        assert_eq!(
            m.get("ParkeeLinkedid"),
            parked.get("ParkeeLinkedid"),
            "{what}: the replaced parkee's Linkedid"
        );
        assert_ne!(m.get("ParkeeLinkedid"), m.get("ParkeeUniqueid"), "{what}: not the new parkee's own id");
        assert_ne!(m.get("ParkeeUniqueid"), parked.get("ParkeeUniqueid"), "{what}: a new parkee");
        assert_eq!(
            (m.get_str("ParkingTimeout").as_deref(), m.get_str("ParkingDuration").as_deref()),
            (Some("45"), Some("0")),
            "{what}: the lot's whole timeout, no duration"
        );
    }
}
