//! `timed-lists-and-timeout` replayed on a test clock set from its `.times` file:
//! the store's `duration` and `timeout_remaining` (fixed when the call was first
//! seen, then computed from `now`) match Asterisk's own `ParkingDuration` and
//! `ParkingTimeout` in every later list to within one second, and the vip call's
//! timeout arrives when the store says its time is up.

use ami_parking::{Output, ParkingEvent, Reply, Timestamp};
use ami_parking_tests::*;
use std::time::Duration;

const BASE: u64 = 1_795_667_000_000;

fn diff(a: Duration, b: Duration) -> Duration {
    a.abs_diff(b)
}

#[test]
fn countdowns_match_asterisk_in_every_list_and_the_timeout_is_on_time() {
    let cap = TcpCapture::load("timed-lists-and-timeout");
    let times = cap.times.clone().expect("times file");
    let cuts: Vec<usize> = times.iter().map(|(_, off, n)| off + n).collect();
    let clock = |offset: usize| -> Timestamp {
        // The time the chunk holding the last byte fed arrived at.
        let ms =
            times.iter().find(|(_, off, n)| offset > *off && offset <= off + n).map(|t| t.0).unwrap_or(0);
        Timestamp::from_unix_millis(BASE + ms)
    };
    let mut checked = 0;
    let mut timeouts = 0;
    let mut hook = |conn: &ami_parking::Connection, now: Timestamp, o: &Output| match o {
        Output::Reply { result: Ok(Reply::Calls(listed)), .. } => {
            for item in listed {
                // What Asterisk said in this list item.
                let asterisk_remaining = item.deadline().unwrap().saturating_duration_since(now);
                let asterisk_elapsed = now.saturating_duration_since(item.parked_at);
                let stored = conn
                    .store()
                    .parked_call_on_now(item.server_id, &item.parking_lot, item.parking_space)
                    .expect("listed call in store");
                let remaining = stored.timeout_remaining(now).unwrap();
                let elapsed = stored.duration(now);
                assert!(
                    diff(remaining, asterisk_remaining) <= Duration::from_secs(1),
                    "{} remaining {remaining:?} vs Asterisk {asterisk_remaining:?}",
                    item.parking_space
                );
                assert!(
                    diff(elapsed, asterisk_elapsed) <= Duration::from_secs(1),
                    "{} duration {elapsed:?} vs Asterisk {asterisk_elapsed:?}",
                    item.parking_space
                );
                checked += 1;
            }
        }
        Output::Parking(ParkingEvent::TimedOut { call }) => {
            let deadline = call.deadline().expect("vip call has a deadline");
            let late = diff(
                Duration::from_millis(now.as_unix_millis()),
                Duration::from_millis(deadline.as_unix_millis()),
            );
            assert!(late <= Duration::from_secs(1), "timeout at {now:?}, store said {deadline:?}");
            assert_eq!(&*call.parking_lot, "vip");
            timeouts += 1;
        }
        _ => {}
    };
    let (conn, _) = replay_tcp_with(&cap, &cuts, &clock, &mut hook);
    assert_eq!(checked, 12, "calls compared across the eight lists");
    assert_eq!(timeouts, 1);
    assert_eq!(conn.store().parked_calls_now().len(), 1);
}
