//! The connection's own refreshes: a refused one is tried again after a delay that
//! doubles up to a minute, a dropped link forgets the retry it had planned, and a lost
//! event asks for a list only when `auto_refresh` is on and the login is done.

use ami_parking::{Connection, ConnectionConfig, ParkingOptions, Timestamp};
use ami_parking_tests::*;
use std::time::Duration;

/// Refuses the lists just sent as Asterisk does while res_parking is still loading
/// (the capture `lists-refused-while-booting`); the names of the refused actions.
fn refuse_lists(w: &mut Wire) -> Vec<String> {
    let sent = w.sent();
    let mut names = Vec::new();
    for m in &sent {
        let name = m.get_str("Action").unwrap().into_owned();
        w.feed(&format!(
            "Response: Error\r\nActionID: {}\r\nMessage: Invalid/unknown command: {name}. Use Action: ListCommands to show available commands.\r\n\r\n",
            aid(m)
        ));
        names.push(name);
    }
    names
}

/// Moves the clock to just before `delay` (nothing sent) and to `delay` (the lists).
fn retried_after(w: &mut Wire, delay: Duration) {
    w.advance(delay - Duration::from_millis(1));
    assert!(w.sent().is_empty(), "not before {delay:?}");
    w.advance(Duration::from_millis(1));
}

#[test]
fn a_refused_refresh_is_tried_again_after_1_2_4_up_to_60_seconds_and_a_success_resets_it() {
    let mut cfg = ConnectionConfig::ami("amiuser", "amisecret");
    cfg.keepalive_interval = Duration::ZERO;
    let mut w = Wire::ami_with(cfg, ParkingOptions::default());
    assert_eq!(refuse_lists(&mut w), vec!["Parkinglots", "ParkedCalls"]);
    for secs in [1, 2, 4, 8, 16, 32, 60, 60] {
        retried_after(&mut w, Duration::from_secs(secs));
        assert_eq!(refuse_lists(&mut w), vec!["Parkinglots", "ParkedCalls"], "at {secs} s");
    }
    // Answered: the next refusal (a lost event's refresh) starts again at 1 s.
    retried_after(&mut w, Duration::from_secs(60));
    let again = w.sent();
    w.feed(&parking_lots_answer(&aid(&again[0]), &[("default", 701, 720, 45)]));
    w.feed(&parked_calls_answer(&aid(&again[1]), &[]));
    assert!(w.conn.store().is_synced(1));
    w.feed("Event: ParkedCallGiveUp\r\n\r\n");
    assert_eq!(refuse_lists(&mut w), vec!["Parkinglots", "ParkedCalls"]);
    retried_after(&mut w, Duration::from_secs(1));
    assert_eq!(refuse_lists(&mut w), vec!["Parkinglots", "ParkedCalls"]);
}

/// A refresh whose one list keeps failing while the other is answered (here a list
/// over `max_list_items`: the lots, then the calls) backs off as a refused one does:
/// the answered part does not reset the delay, so such a server is asked at 1, 2, 4
/// ... up to 60 s, not every second (it was 60 refreshes a minute).
#[test]
fn a_refresh_with_one_list_too_long_backs_off_though_the_other_list_is_answered() {
    for too_long in ["Parkinglots", "ParkedCalls"] {
        let mut cfg = ConnectionConfig::ami("amiuser", "amisecret");
        cfg.keepalive_interval = Duration::ZERO;
        cfg.max_list_items = 2;
        let mut w = Wire::ami_with(cfg, ParkingOptions::default());
        let lots = [("default", 701, 720, 45), ("vip", 801, 810, 5), ("sales", 901, 903, 90)];
        let calls = [
            ("default", 701, "1.1", "5551001"),
            ("default", 702, "1.2", "5551002"),
            ("vip", 801, "1.3", "5551003"),
        ];
        // Answers the lists just sent: one of them too long, the other within the cap.
        let answer = |w: &mut Wire| -> usize {
            let sent = w.sent();
            for m in &sent {
                if m.is("Action", "Parkinglots") {
                    let n = if too_long == "Parkinglots" { 3 } else { 1 };
                    w.feed(&parking_lots_answer(&aid(m), &lots[..n]));
                } else if m.is("Action", "ParkedCalls") {
                    let n = if too_long == "ParkedCalls" { 3 } else { 1 };
                    w.feed(&parked_calls_answer(&aid(m), &calls[..n]));
                }
            }
            sent.iter().filter(|m| m.is("Action", too_long)).count()
        };
        let mut asked = answer(&mut w);
        for _ in 0..300 {
            w.advance(Duration::from_secs(1));
            asked += answer(&mut w);
        }
        // 0, 1, 3, 7, 15, 31, 63, 123, 183, 243 s: ten in five minutes.
        assert!(asked <= 11, "{too_long} too long: asked {asked} times in five minutes");
        assert!(asked >= 8, "{too_long} too long: still tried, {asked} times in five minutes");
    }
}

#[test]
fn a_dropped_link_forgets_the_planned_retry_and_a_refusal_after_the_login_plans_a_new_one() {
    let mut cfg = ConnectionConfig::ami("amiuser", "amisecret");
    cfg.keepalive_interval = Duration::ZERO;
    let mut w = Wire::ami_with(cfg, ParkingOptions::default());
    refuse_lists(&mut w);
    // The link drops before the retry; the login after it refreshes, and is refused.
    w.conn.handle_disconnected(w.now);
    w.advance(Duration::from_secs(5));
    assert!(w.sent().is_empty(), "no retry on a dropped link");
    w.connect_and_log_in();
    assert_eq!(refuse_lists(&mut w), vec!["Parkinglots", "ParkedCalls"]);
    let mut retried = false;
    for _ in 0..60 {
        w.advance(Duration::from_secs(1));
        if !w.sent().is_empty() {
            retried = true;
            break;
        }
    }
    assert!(retried, "the refusal after the new login is tried again");
}

#[test]
fn a_lost_event_asks_for_a_list_only_with_auto_refresh_and_after_the_login() {
    // An event too broken to apply (no lot, no space) was still about a call.
    let lost = "Event: ParkedCallGiveUp\r\nPrivilege: call,all\r\n\r\n";
    let mut w = Wire::synced(ParkingOptions::default(), &[("default", 701, 720, 45)], &[]);
    w.feed(lost);
    assert_eq!(actions(&w.sent()), vec![("Parkinglots".into(), None), ("ParkedCalls".into(), None)]);

    let mut w = Wire::ami(ParkingOptions::default().auto_refresh(false));
    w.feed(lost);
    assert!(w.sent().is_empty(), "auto_refresh off: nothing asked");

    // Logging in (Login sent, not answered): nothing but the Login.
    let now = Timestamp::from_unix_millis(1_795_667_000_000);
    let mut conn = Connection::new(ConnectionConfig::ami("amiuser", "amisecret"), now);
    conn.handle_connected(now);
    conn.handle_input(now, b"Asterisk Call Manager/11.0.0\r\n").unwrap();
    conn.handle_input(now, lost.as_bytes()).unwrap();
    let mut sent = 0;
    while let Some(b) = conn.poll_transmit() {
        assert!(String::from_utf8_lossy(&b).starts_with("Action: Login"), "{}", String::from_utf8_lossy(&b));
        sent += 1;
    }
    assert_eq!(sent, 1);
}
