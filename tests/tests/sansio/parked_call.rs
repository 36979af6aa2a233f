//! What a `ParkedCall` says about itself: near its timeout, who parked it, whether
//! another report is the same call or the same parking, and which times a later
//! report keeps.

use ami_parking::{ParkedCall, Timestamp};
use std::time::Duration;

const T: Timestamp = Timestamp::from_unix_millis(1_795_667_000_000);

/// Caller 5551001 in default 701 (unique id 1.1), parked at `T` for 45 s.
fn call() -> ParkedCall {
    let mut c = ParkedCall::default();
    c.server_id = 1;
    c.parking_lot = "default".into();
    c.parking_space = 701;
    c.parked_at = T;
    c.set_deadline(Some(T + Duration::from_secs(45)));
    c.set_unique_id("1.1");
    c.set_channel("PJSIP/5551001-00000001");
    c.set_caller_id_num("5551001");
    c.set_near_timeout_threshold(Duration::from_secs(10));
    c
}

#[test]
fn near_its_timeout_means_less_than_the_threshold_left() {
    let c = call();
    let at = |secs| T + Duration::from_secs(secs);
    assert!(!c.is_near_timeout(at(34)), "11 s left");
    assert!(!c.is_near_timeout(at(35)), "exactly the threshold left is not less");
    assert!(c.is_near_timeout(at(35) + Duration::from_millis(1)));
    assert!(c.is_near_timeout(at(60)), "overdue");
    let mut never = call();
    never.set_deadline(None);
    assert!(!never.is_near_timeout(at(60)), "no timeout: never near it");
}

#[test]
fn the_deadline_is_parked_at_plus_the_timeout() {
    let mut c = call();
    assert_eq!(
        (c.timeout(), c.deadline()),
        (Some(Duration::from_secs(45)), Some(T + Duration::from_secs(45)))
    );
    c.parked_at = T.saturating_sub(Duration::from_secs(5));
    assert_eq!(
        c.deadline(),
        Some(T + Duration::from_secs(40)),
        "parked 5 s earlier: the same 45 s end 5 s earlier"
    );
    c.set_deadline(Some(T + Duration::from_millis(19_500)));
    assert_eq!(c.timeout(), Some(Duration::from_millis(24_500)), "to the millisecond");
    c.set_deadline(Some(T.saturating_sub(Duration::from_secs(10))));
    assert_eq!(c.timeout(), Some(Duration::ZERO), "a deadline before parked_at: none left, never negative");
    c.set_deadline(None);
    assert_eq!((c.timeout(), c.deadline()), (None, None));
    c.set_timeout(Some(Duration::from_secs(u64::MAX)));
    let longest = Duration::from_millis(u64::from(u32::MAX - 1));
    assert_eq!(c.timeout(), Some(longest), "the longest timeout kept is 49 days, still a timeout");
    assert_eq!(c.deadline(), Some(c.parked_at + longest));
}

#[test]
fn parked_by_reads_the_connected_line_then_a_phones_dial_string() {
    let by = |connected: &str, dial: &str| {
        let mut c = call();
        c.set_connected_line_num(connected);
        c.set_parker_dial_string(dial);
        c.parked_by().map(str::to_owned)
    };
    let some = |s: &str| Some(s.to_owned());
    // The connected line, when it names another party.
    assert_eq!(by("1003", "PJSIP/1002"), some("1003"));
    // Itself, empty or `<unknown>`: the dial string's resource.
    for itself in ["5551001", "", "<unknown>"] {
        assert_eq!(by(itself, "PJSIP/1002"), some("1002"), "connected line {itself:?}");
    }
    assert_eq!(by("", "SIP/1002@pbx"), some("1002"));
    assert_eq!(by("", "PJSIP/1002/sip:1002@10.0.0.2"), some("1002"));
    // A dialplan park (`Local/...`), no resource, no `/` at all: nobody.
    for dial in ["Local/s@hold", "local/1002@from-internal", "PJSIP/", "PJSIP/<unknown>", "1002", ""] {
        assert_eq!(by("", dial), None, "dial string {dial:?}");
    }
}

#[test]
fn the_same_call_is_the_same_server_and_unique_id_and_asterisk_11_matches_any() {
    let a = call();
    let mut b = call();
    b.parking_space = 702;
    assert!(a.same_call(&b), "moved: still the same call");
    b.set_unique_id("1.2");
    assert!(!a.same_call(&b));
    b.set_unique_id("");
    assert!(a.same_call(&b) && b.same_call(&a), "no unique id (Asterisk 11) on either side matches");
    let mut other_server = call();
    other_server.server_id = 2;
    assert!(!a.same_call(&other_server));
}

/// A change made to a copy of a call.
type Change = fn(&mut ParkedCall);

#[test]
fn the_same_parking_needs_every_one_of_server_space_lot_unique_id_and_channel() {
    let a = call();
    assert!(a.same_parking(&call()));
    let changes: [(&str, Change); 5] = [
        ("server", |c| c.server_id = 2),
        ("space", |c| c.parking_space = 702),
        ("lot", |c| c.parking_lot = "sales".into()),
        ("unique id", |c| c.set_unique_id("1.2")),
        ("channel", |c| c.set_channel("PJSIP/5551001-00000002")),
    ];
    for (what, change) in changes {
        let mut b = call();
        change(&mut b);
        assert!(!a.same_parking(&b), "another {what}");
    }
    // Times and the rest are not part of it.
    let mut b = call();
    b.parked_at = T + Duration::from_secs(3);
    b.set_caller_id_name("Alice");
    assert!(a.same_parking(&b));
}

#[test]
fn a_later_report_keeps_the_first_seen_times_only_when_both_clocks_agree_within_a_second_and_a_half() {
    let first = call();
    let later = |parked: i64, deadline: Option<i64>| {
        let mut c = call();
        let shift = |d: i64| {
            if d >= 0 {
                T + Duration::from_millis(d as u64)
            } else {
                T.saturating_sub(Duration::from_millis(d.unsigned_abs()))
            }
        };
        c.parked_at = shift(parked);
        c.set_deadline(deadline.map(|d| shift(45_000 + d)));
        c.set_caller_id_name("Alice");
        c
    };
    let kept = |c: &ParkedCall| c.parked_at == first.parked_at && c.deadline() == first.deadline();
    // Whole seconds on the wire: within 1.5 s both ways is the same clock.
    for (p, d) in [(1000, Some(-1000)), (-1500, Some(1500)), (0, Some(0))] {
        let merged = first.with_first_seen_times(later(p, d));
        assert!(kept(&merged), "{p} {d:?}: {merged:?}");
        assert_eq!(merged.caller_id_name(), "Alice", "the rest is the fresher report's");
    }
    // Either clock further apart, or a deadline on one side only: parked again.
    for (p, d) in [(1501, Some(0)), (0, Some(1501)), (0, Some(-1501)), (0, None)] {
        let fresher = later(p, d);
        assert_eq!(first.with_first_seen_times(fresher.clone()), fresher, "{p} {d:?}");
    }
    // No timeout on either side: the parked-at times decide.
    let mut untimed = call();
    untimed.set_deadline(None);
    let fresher = later(1000, None);
    assert_eq!(untimed.with_first_seen_times(fresher).parked_at, T);
}

#[test]
fn heap_bytes_counts_the_packed_text() {
    let c = call();
    assert_eq!(c.heap_bytes(), "1.1".len() + "PJSIP/5551001-00000001".len() + "5551001".len());
    let mut long = call();
    long.set_caller_id_name("Reception desk, second floor, east wing");
    long.set_channel("PJSIP/reception-east-wing-0000002a");
    assert_eq!(long.heap_bytes(), "1.1".len() + "5551001".len() + 39 + 34);
    assert_eq!(long.caller_id_name(), "Reception desk, second floor, east wing");
}

#[test]
fn an_overlong_field_is_cut_at_the_last_whole_character_within_8191_bytes() {
    // 8,191 bytes is the most one text field keeps; a character that straddles the
    // limit goes whole, and the other fields stay as they were.
    for (head, tail) in [(8190, "é"), (8189, "€"), (8188, "😀")] {
        let mut c = call();
        let name = format!("{}{tail}", "a".repeat(head));
        c.set_caller_id_name(&name);
        assert_eq!(c.caller_id_name(), "a".repeat(head), "{} bytes, {tail:?} at the end", name.len());
        assert_eq!(c.channel(), "PJSIP/5551001-00000001");
        assert_eq!(c.caller_id_num(), "5551001");
    }
    // At the limit exactly nothing is cut.
    let mut c = call();
    let name = format!("{}é", "a".repeat(8189));
    c.set_caller_id_name(&name);
    assert_eq!(c.caller_id_name(), name);
}

#[test]
fn debug_shows_every_field_by_name_with_its_text() {
    let mut c = call();
    c.set_caller_id_name("Alice");
    c.set_parker_dial_string("PJSIP/1001");
    let shown = format!("{c:?}");
    assert!(shown.starts_with("ParkedCall {"), "{shown}");
    for part in [
        "parking_space: 701",
        "parking_lot: \"default\"",
        "channel: \"PJSIP/5551001-00000001\"",
        "unique_id: \"1.1\"",
        "caller_id_num: \"5551001\"",
        "caller_id_name: \"Alice\"",
        "parker_dial_string: \"PJSIP/1001\"",
        "timeout: Some(45s)",
        "server_id: 1",
    ] {
        assert!(shown.contains(part), "{part} missing from {shown}");
    }
}
