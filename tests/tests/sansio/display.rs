//! What every front end shows of a space or a call (`ami_parking::display`), exactly:
//! the timers, the caller and retriever lines, a space's view and classes.

use ami_parking::display::{caller, countdown, mm_ss, retriever, SpaceView};
use ami_parking::{ParkedCall, Retriever, Timestamp};
use std::time::Duration;

#[test]
fn timers_cut_whole_seconds_and_countdowns_round_up() {
    let ms = Duration::from_millis;
    assert_eq!(mm_ss(ms(0)), "0:00");
    assert_eq!(mm_ss(ms(75_900)), "1:15");
    assert_eq!(mm_ss(Duration::from_secs(3600)), "60:00");
    assert_eq!(countdown(ms(0)), "0:00");
    assert_eq!(countdown(ms(1)), "0:01");
    assert_eq!(countdown(ms(29_100)), "0:30");
    assert_eq!(countdown(ms(30_000)), "0:30");
    assert_eq!(countdown(ms(59_001)), "1:00");
}

#[test]
fn a_caller_line_shows_what_is_known() {
    let call = |name: &str, num: &str| {
        let mut c = ParkedCall::default();
        c.set_caller_id_name(name);
        c.set_caller_id_num(num);
        c
    };
    assert_eq!(caller(&call("Alice", "1001")), "Alice <1001>");
    assert_eq!(caller(&call("Alice", "")), "Alice");
    assert_eq!(caller(&call("Alice", "<unknown>")), "Alice");
    assert_eq!(caller(&call("", "1001")), "1001");
    assert_eq!(caller(&call("<unknown>", "1001")), "1001");
    assert_eq!(caller(&call("<unknown>", "<unknown>")), "unknown caller");
    assert_eq!(caller(&call("", "")), "unknown caller");
}

#[test]
fn a_retriever_is_its_number_when_known_else_its_channel() {
    let r = |num: &str| Retriever {
        channel: "PJSIP/1002-00000007".into(),
        caller_id_num: num.into(),
        ..Default::default()
    };
    assert_eq!(retriever(&r("1002")), "1002");
    assert_eq!(retriever(&r("")), "PJSIP/1002-00000007");
    assert_eq!(retriever(&r("<unknown>")), "PJSIP/1002-00000007");
}

#[test]
fn a_space_view_has_its_texts_and_classes() {
    let now = Timestamp::from_unix_millis(100_000);
    let free = SpaceView::new(701, None, now);
    assert_eq!(
        (free.occupied, free.warning, free.class, free.timer.as_str(), free.countdown.clone()),
        (false, false, "parking-space", "", None)
    );
    // Threshold 30 s: 40 s left is not near yet.
    let mut c = ParkedCall::default();
    c.parking_space = 702;
    c.set_caller_id_name("<unknown>");
    c.set_caller_id_num("1001");
    c.parked_at = Timestamp::from_unix_millis(35_000);
    c.set_deadline(Some(now + Duration::from_secs(40)));
    let v = SpaceView::new(702, Some(&c), now);
    assert_eq!(
        (v.occupied, v.warning, v.class, v.caller_name.as_str(), v.caller_number.as_str()),
        (true, false, "parking-space occupied", "", "1001")
    );
    assert_eq!((v.timer.as_str(), v.countdown.as_deref()), ("1:05", Some("0:40")));
    c.set_deadline(Some(now + Duration::from_millis(19_500)));
    let v = SpaceView::new(702, Some(&c), now);
    assert_eq!(
        (v.warning, v.class, v.countdown.as_deref()),
        (true, "parking-space occupied warning", Some("0:20"))
    );
    c.set_deadline(None);
    assert_eq!(SpaceView::new(702, Some(&c), now).countdown, None, "no timeout, no countdown");
}
