//! Replays of the real captures in `testdata/`: whole, in random chunks and byte by
//! byte, through the decoder and through the connection and store. The expected
//! numbers were read off the captures (see testdata/README.md for how they were made).

use ami_parking::{Output, ParkingError, ParkingEvent, Reply, ResyncChange, Timestamp};
use ami_parking_tests::*;

const T0: Timestamp = Timestamp::from_unix_millis(1_795_667_000_000);

fn at(_: usize) -> Timestamp {
    T0
}

/// (capture, messages after the banner) counted by reading the captures.
const MESSAGE_COUNTS: [(&str, usize); 7] = [
    ("lists-park-retrieve-timeout", 153),
    ("park-action-errors-giveup", 137),
    ("dial-then-park", 69),
    ("timed-lists-and-timeout", 65),
    ("reuse-park-before-unpark", 134),
    ("swap-then-retrieve", 123),
    ("swap-then-giveup", 98),
];

#[test]
fn tcp_captures_decode_identically_whole_chunked_and_byte_by_byte() {
    for (name, count) in MESSAGE_COUNTS {
        let cap = TcpCapture::load(name);
        let (banners, whole) = decode_chunked(&cap.rx, &[]);
        assert_eq!(banners, vec![b"Asterisk Call Manager/11.0.0".to_vec()], "{name}");
        assert_eq!(whole.len(), count, "{name}: message count");
        for seed in 1..=20u64 {
            let cuts = random_cuts(cap.rx.len(), seed, 1 + (seed as usize * 37) % 700);
            let (b, m) = decode_chunked(&cap.rx, &cuts);
            assert_eq!((&b, &m), (&banners, &whole), "{name}: seed {seed}");
        }
        let (b, m) = decode_chunked(&cap.rx, &byte_cuts(cap.rx.len()));
        assert_eq!((&b, &m), (&banners, &whole), "{name}: byte by byte");
    }
}

#[test]
fn tcp_captures_give_identical_outputs_whatever_the_chunking() {
    for (name, _) in MESSAGE_COUNTS {
        let cap = TcpCapture::load(name);
        let (conn, whole) = replay_tcp(&cap, &[], &at);
        let calls = conn.store().parked_calls_now();
        for seed in [3u64, 99, 12345] {
            let (c, r) = replay_tcp(&cap, &random_cuts(cap.rx.len(), seed, 300), &at);
            assert_eq!(r.outputs, whole.outputs, "{name}: seed {seed}");
            assert_eq!(c.store().parked_calls_now(), calls, "{name}: seed {seed}");
        }
        let (c, r) = replay_tcp(&cap, &byte_cuts(cap.rx.len()), &at);
        assert_eq!(r.outputs, whole.outputs, "{name}: byte by byte");
        assert_eq!(c.store().parked_calls_now(), calls, "{name}: byte by byte");
    }
}

fn calls_len(o: &Output) -> usize {
    match o {
        Output::Reply { result: Ok(Reply::Calls(c)), .. } => c.len(),
        Output::Reply { result: Ok(Reply::Lots(l)), .. } => l.len(),
        Output::Reply { result: Ok(Reply::List(l)), .. } => l.len(),
        other => panic!("not a list reply: {other:?}"),
    }
}

fn kinds(events: &[&ParkingEvent]) -> Vec<(&'static str, u32, String)> {
    events.iter().map(|e| (e.kind(), e.call().parking_space, e.call().parking_lot.to_string())).collect()
}

/// Events as (server, kind, space), for the multi-server captures.
fn by_server(r: &Replay) -> Vec<(u32, &'static str, u32)> {
    r.parking_events().iter().map(|e| (e.call().server_id, e.kind(), e.call().parking_space)).collect()
}

#[test]
fn lists_park_retrieve_timeout_ends_in_asterisks_state() {
    let cap = TcpCapture::load("lists-park-retrieve-timeout");
    let (conn, r) = replay_tcp(&cap, &[], &at);
    // List groups: Parkinglots 2, ParkedCalls 3 (all), 1 (vip), 1 (after retrieve + timeout).
    assert_eq!(calls_len(r.reply("2")), 2);
    assert_eq!(calls_len(r.reply("3")), 3);
    assert_eq!(calls_len(r.reply("3b")), 1);
    assert_eq!(calls_len(r.reply("4")), 1);
    // Exactly one event per real change: three parked, one retrieved, one timeout.
    let events = r.parking_events();
    assert_eq!(
        kinds(&events),
        vec![
            ("parked", 701, "default".into()),
            ("parked", 702, "default".into()),
            ("parked", 801, "vip".into()),
            ("retrieved", 701, "default".into()),
            ("timeout", 801, "vip".into()),
        ]
    );
    match events[3] {
        ParkingEvent::Retrieved { retriever, .. } => {
            assert_eq!(retriever.caller_id_num, "1002");
            assert_eq!(retriever.caller_id_name, "Reception");
            assert_eq!(retriever.channel, "Local/s@hold-00000003;1");
        }
        e => panic!("{e:?}"),
    }
    let calls = conn.store().parked_calls_now();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        (calls[0].parking_space, &*calls[0].parking_lot, calls[0].caller_id_num()),
        (702, "default", "5551002")
    );
    let lots = conn.store().parking_lots_now();
    assert_eq!(lots.len(), 2);
    let default = lots.iter().find(|l| &*l.name == "default").unwrap();
    assert_eq!(
        (default.start_space, default.end_space, default.total_spaces, default.occupied),
        (701, 720, 20, 1)
    );
    let vip = lots.iter().find(|l| &*l.name == "vip").unwrap();
    assert_eq!((vip.total_spaces, vip.occupied, vip.timeout.map(|t| t.as_secs())), (10, 0, Some(5)));
    assert_eq!(conn.store().total_parked_calls_now(), 1);
}

#[test]
fn park_action_errors_giveup_ends_empty_with_the_assigned_space() {
    let cap = TcpCapture::load("park-action-errors-giveup");
    let (conn, r) = replay_tcp(&cap, &[], &at);
    match r.reply("p1") {
        Output::Reply { result: Ok(Reply::Parked { space, lot, .. }), .. } => {
            assert_eq!((*space, lot.as_str()), (703, "default"))
        }
        o => panic!("{o:?}"),
    }
    match r.reply("p2") {
        Output::Reply { result: Err(ParkingError::Asterisk { message, .. }), .. } => {
            assert_eq!(message, "Channel does not exist: Local/nonexistent-1234;1")
        }
        o => panic!("{o:?}"),
    }
    match r.reply("p3") {
        Output::Reply { result: Err(ParkingError::Asterisk { message, .. }), .. } => {
            assert_eq!(message, "Park action failed")
        }
        o => panic!("{o:?}"),
    }
    assert_eq!(calls_len(r.reply("csc")), 16);
    assert_eq!(calls_len(r.reply("l1")), 1);
    assert_eq!(calls_len(r.reply("l2")), 0);
    assert_eq!(
        kinds(&r.parking_events()),
        vec![("parked", 703, "default".into()), ("giveup", 703, "default".into())]
    );
    assert!(conn.store().parked_calls_now().is_empty());
}

#[test]
fn dial_then_park_keeps_the_local_leg_as_parkee() {
    let cap = TcpCapture::load("dial-then-park");
    let (conn, r) = replay_tcp(&cap, &[], &at);
    assert_eq!(calls_len(r.reply("l1")), 1);
    assert_eq!(kinds(&r.parking_events()), vec![("parked", 701, "default".into())]);
    let calls = conn.store().parked_calls_now();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].channel(), "Local/s@parkit-00000001;2");
    assert_eq!(calls[0].caller_id_num(), "5554001");
}

#[test]
fn two_server_amiws_capture_keeps_separate_state_per_server() {
    let (conn, r) = replay_amiws("two-servers-lists-park-retrieve-timeout", T0);
    let frames = load_amiws("two-servers-lists-park-retrieve-timeout")
        .iter()
        .filter(|l| matches!(l, AmiwsLine::Frame(_)))
        .count();
    assert_eq!(frames, 186);
    // Targeted lists: exactly what that server has.
    assert_eq!(calls_len(r.reply("lots-2")), 2);
    assert_eq!(calls_len(r.reply("calls-1")), 4);
    assert_eq!(calls_len(r.reply("calls-2")), 1);
    assert_eq!(calls_len(r.reply("calls-4")), 2);
    match r.reply("calls-3") {
        Output::Reply { result: Err(ParkingError::Asterisk { message, server_id, .. }), .. } => {
            assert_eq!((message.as_str(), *server_id), ("Requested parking lot could not be found.", 1))
        }
        o => panic!("{o:?}"),
    }
    match r.reply("ret-1") {
        Output::Reply { result: Ok(Reply::Retrieved { server_id, lot, space, retriever }), .. } => {
            assert_eq!((*server_id, lot.as_str(), *space), (2, "sales", 901));
            assert_eq!(retriever.caller_id_name, "Reception");
        }
        o => panic!("{o:?}"),
    }
    match r.reply("park-bad") {
        Output::Reply { result: Err(ParkingError::Asterisk { message, .. }), .. } => {
            assert_eq!(message, "Channel does not exist: Local/nonexistent-1;1")
        }
        o => panic!("{o:?}"),
    }
    let ev = by_server(&r);
    assert_eq!(
        ev,
        vec![
            (1, "parked", 702),
            (1, "parked", 801),
            (2, "parked", 901),
            (2, "parked", 701),
            (1, "timeout", 801),
            (2, "retrieved", 901)
        ]
    );
    // Both servers' lots, keyed by server: `default` exists twice with different ranges.
    let lots = conn.store().parking_lots_now();
    let mut l: Vec<(u32, String, u32, u32)> =
        lots.iter().map(|l| (l.server_id, l.name.to_string(), l.start_space, l.end_space)).collect();
    l.sort();
    assert_eq!(
        l,
        vec![
            (1, "default".into(), 701, 720),
            (1, "vip".into(), 801, 810),
            (2, "default".into(), 701, 705),
            (2, "sales".into(), 901, 903)
        ]
    );
    let calls = conn.store().parked_calls_now();
    let c: Vec<(u32, &str, u32, &str)> =
        calls.iter().map(|c| (c.server_id, &*c.parking_lot, c.parking_space, c.caller_id_num())).collect();
    assert_eq!(c, vec![(1, "default", 702, "5551001"), (2, "default", 701, "6661002")]);
    // amiws mangles `\u` escapes sent by a client: what Asterisk got is what we show.
    assert_eq!(calls[0].connected_line_name(), "Zou00eb u00c5ngstru00f6m");
}

#[test]
fn amiws_quotes_arrive_c_escaped_and_are_undone() {
    let (_, r) = replay_amiws("two-servers-lists-park-retrieve-timeout", T0);
    let vip = r.parking_events().into_iter().find(|e| e.call().parking_space == 801).unwrap().clone();
    assert_eq!(vip.call().connected_line_name(), "Say \"hi\"");
}

#[test]
fn amiws_restart_capture_gives_up_every_call_and_resyncs() {
    let (conn, r) = replay_amiws("park-action-giveup-utf8-restart", T0);
    match r.reply("park-1") {
        Output::Reply { result: Ok(Reply::Parked { server_id, space, .. }), .. } => {
            assert_eq!((*server_id, *space), (1, 703))
        }
        o => panic!("{o:?}"),
    }
    let ev = by_server(&r);
    assert_eq!(
        ev,
        vec![
            (1, "parked", 703),
            (1, "giveup", 703),
            (2, "parked", 702),
            (2, "giveup", 701),
            (2, "giveup", 702),
            (1, "timeout", 702)
        ]
    );
    let utf8 = r
        .parking_events()
        .into_iter()
        .find(|e| e.call().server_id == 2 && e.kind() == "parked")
        .unwrap()
        .clone();
    assert_eq!(utf8.call().connected_line_name(), "Zoë Ångström");
    assert!(r.outputs.contains(&Output::ServerShutdown(2)));
    assert!(r.outputs.contains(&Output::ServerLoggedIn(2)));
    assert_eq!(calls_len(r.reply("calls-after")), 0);
    assert!(conn.store().parked_calls_now().is_empty());
}

#[test]
fn no_list_item_is_a_live_event_and_no_live_event_a_list_item() {
    // Count of live parking events in each capture (read off the captures) equals the
    // events fired; list replies carry exactly the items Asterisk listed.
    let cap = TcpCapture::load("timed-lists-and-timeout");
    let (conn, r) = replay_tcp(&cap, &[], &at);
    assert_eq!(kinds(&r.parking_events()).iter().filter(|k| k.0 == "parked").count(), 2);
    assert_eq!(kinds(&r.parking_events()).iter().filter(|k| k.0 == "timeout").count(), 1);
    assert_eq!(r.parking_events().len(), 3, "{:?}", kinds(&r.parking_events()));
    assert!(!r.parking_events().iter().any(|e| matches!(e, ParkingEvent::Resync { .. })));
    let lens: Vec<usize> = (0..8).map(|i| calls_len(r.reply(&format!("list{i}")))).collect();
    assert_eq!(lens, vec![2, 2, 2, 2, 1, 1, 1, 1]);
    assert_eq!(conn.store().parked_calls_now().len(), 1);
    let _ = ResyncChange::Appeared;
}

#[test]
fn a_park_announced_before_the_last_occupants_leave_keeps_both_calls_right() {
    let cap = TcpCapture::load("reuse-park-before-unpark");
    let mut cutss = vec![Vec::new(), byte_cuts(cap.rx.len())];
    cutss.extend((1..=5u64).map(|seed| random_cuts(cap.rx.len(), seed, 400)));
    for cuts in cutss {
        let (conn, r) = replay_tcp(&cap, &cuts, &at);
        let events: Vec<(&str, u32, String)> = r
            .parking_events()
            .iter()
            .map(|e| (e.kind(), e.call().parking_space, e.call().caller_id_num().to_string()))
            .collect();
        // In the third round B (8200002) is announced in 2003 before A (8100002)
        // leaves it: A is reported retrieved once, and B stays.
        assert_eq!(
            events,
            [
                ("parked", 2001, "8100000".to_string()),
                ("parked", 2002, "8200000".into()),
                ("retrieved", 2001, "8100000".into()),
                ("parked", 2001, "8100001".into()),
                ("retrieved", 2001, "8100001".into()),
                ("parked", 2001, "8200001".into()),
                ("parked", 2003, "8100002".into()),
                ("parked", 2003, "8200002".into()),
                ("retrieved", 2003, "8100002".into()),
            ],
            "cuts {}",
            cuts.len()
        );
        let calls: Vec<(u32, String)> = conn
            .store()
            .parked_calls_now()
            .iter()
            .map(|c| (c.parking_space, c.caller_id_num().to_string()))
            .collect();
        assert_eq!(
            calls,
            [(2001, "8200001".to_string()), (2002, "8200000".into()), (2003, "8200002".into())]
        );
        let lot = conn.store().lot_now(&ami_parking::LotKey::new(1, "load")).unwrap();
        assert_eq!(lot.occupied, 3, "Asterisk's count");
    }
}

/// The real `ParkedCallSwap` (captured on Asterisk 22): one swap event, the call updated
/// in place (same lot, space and deadline, the new channel), no phantom of the channel
/// swapped out, then the new parkee's own leave.
fn swap_then(name: &str, leave: &'static str) {
    let cap = TcpCapture::load(name);
    let (conn, r) = replay_tcp(&cap, &[], &at);
    let live: Vec<_> = r.parking_events().into_iter().filter(|e| e.kind() != "resync").collect();
    let k = kinds(&live);
    assert_eq!(
        k.iter().map(|(k, _, _)| *k).collect::<Vec<_>>(),
        vec!["parked", "swap", leave],
        "{name}: {k:?}"
    );
    let (parked, swapped) = (live[0].call(), live[1].call());
    assert_eq!(
        (swapped.parking_lot.clone(), swapped.parking_space),
        (parked.parking_lot.clone(), parked.parking_space)
    );
    assert_eq!(swapped.deadline(), parked.deadline(), "{name}: the swap keeps the park's deadline");
    assert!(
        parked.channel().starts_with("Local/s@swap-park-")
            && swapped.channel().starts_with("Local/s@swap-tone-"),
        "{name}"
    );
    match live[1] {
        ParkingEvent::Swapped { previous: Some(p), .. } => {
            assert_eq!(p.channel(), parked.channel(), "{name}")
        }
        other => panic!("{name}: {other:?}"),
    }
    assert_eq!(live[2].call().channel(), swapped.channel(), "{name}: the new parkee leaves");
    let space = parked.parking_space;
    let calls = conn.store().parked_calls_now();
    assert!(calls.iter().all(|c| c.parking_space != space), "{name}: the space is empty again: {calls:?}");
    assert!(
        calls.iter().all(|c| !c.channel().starts_with("Local/s@swap-park-")),
        "{name}: no phantom: {calls:?}"
    );
}

#[test]
fn a_real_swap_then_a_retrieve() {
    swap_then("swap-then-retrieve", "retrieved");
}

#[test]
fn a_real_swap_then_a_give_up() {
    swap_then("swap-then-giveup", "giveup");
}
