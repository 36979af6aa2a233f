//! The connection state machine: login (plain, MD5, rejected), keep-alive, lists of
//! older Asterisk versions, the message cap, and secrets kept out of output.

use ami_parking::{
    AuthMethod, Connection, ConnectionConfig, ConnectionError, ConnectionState, Output, ParkingOptions,
    Reply, Request, Target, Timestamp,
};
use ami_parking_tests::*;
use std::time::Duration;

const T: Timestamp = Timestamp::from_unix_millis(1_795_667_000_000);

/// A connection with MD5 login, past the banner: its `Challenge` sent.
fn md5_challenged() -> (Connection, ami_parking::Message) {
    let mut cfg = ConnectionConfig::ami("amiuser", "amisecret");
    cfg.auth = AuthMethod::Md5;
    let mut conn = Connection::new(cfg, T);
    conn.handle_connected(T);
    conn.handle_input(T, b"Asterisk Call Manager/11.0.0\r\n").unwrap();
    let ch = sent_by(&mut conn).pop().unwrap();
    (conn, ch)
}

#[test]
fn md5_login_sends_the_digest_not_the_secret() {
    let (mut conn, ch) = md5_challenged();
    assert!(ch.is("Action", "Challenge") && ch.is("AuthType", "MD5"));
    conn.handle_input(
        T,
        format!("Response: Success\r\nActionID: {}\r\nChallenge: 840415273\r\n\r\n", aid(&ch)).as_bytes(),
    )
    .unwrap();
    let login = sent_by(&mut conn).pop().unwrap();
    assert!(login.is("Action", "Login") && login.is("AuthType", "MD5"));
    assert!(login.get("Secret").is_none());
    // md5("840415273" + "amisecret"), computed independently with python3 hashlib.
    assert_eq!(login.get_str("Key").as_deref(), Some("06dbe6e9ec27e4f6da96970dacaece17"));
    conn.handle_input(
        T,
        format!("Response: Success\r\nActionID: {}\r\nMessage: Authentication accepted\r\n\r\n", aid(&login))
            .as_bytes(),
    )
    .unwrap();
    assert!(conn.is_logged_in());
}

#[test]
fn md5_login_fails_clearly_on_an_error_or_a_missing_challenge() {
    for (answer, says) in [
        (
            "Response: Error\r\nActionID: {id}\r\nMessage: Must specify AuthType\r\n\r\n",
            "Must specify AuthType",
        ),
        ("Response: Success\r\nActionID: {id}\r\n\r\n", "without a challenge"),
    ] {
        let (mut conn, ch) = md5_challenged();
        let r = conn.handle_input(T, answer.replace("{id}", &aid(&ch)).as_bytes());
        match r {
            Err(e @ ConnectionError::LoginRejected { .. }) => {
                let text = e.to_string();
                assert!(text.contains(says) && !text.contains("amisecret"), "{text}");
            }
            r => panic!("{r:?}"),
        }
        assert!(sent_by(&mut conn).is_empty(), "no Login with a key signed over nothing");
        assert!(!conn.is_logged_in());
    }
}

#[test]
fn rejected_login_is_a_clear_error_without_the_secret() {
    let mut conn = Connection::new(ConnectionConfig::ami("amiuser", "wrong-secret"), T);
    conn.handle_connected(T);
    conn.handle_input(T, b"Asterisk Call Manager/11.0.0\r\n").unwrap();
    let login = sent_by(&mut conn).pop().unwrap();
    let err = conn
        .handle_input(
            T,
            format!("Response: Error\r\nActionID: {}\r\nMessage: Authentication failed\r\n\r\n", aid(&login))
                .as_bytes(),
        )
        .unwrap_err();
    assert!(matches!(err, ConnectionError::LoginRejected { .. }));
    let text = err.to_string();
    assert!(text.contains("amiuser") && text.contains("Authentication failed"), "{text}");
    assert!(!text.contains("wrong-secret"));
    assert!(!format!("{conn:?}{err:?}").contains("wrong-secret"));
    assert!(!conn.is_logged_in());
}

#[test]
fn requests_before_login_are_refused_at_once() {
    let mut conn = Connection::new(ConnectionConfig::ami("u", "s"), T);
    assert!(matches!(
        conn.request(T, Request::ParkedCalls { lot: None }, Target::All),
        Err(ami_parking::ParkingError::NotLoggedIn { .. })
    ));
    assert!(conn.poll_transmit().is_none());
}

#[test]
fn keep_alive_pings_when_idle_and_an_unanswered_ping_is_fatal() {
    let mut w = Wire::ami(ParkingOptions::default().auto_refresh(false));
    w.advance(Duration::from_secs(30));
    let ping = w.sent().pop().expect("ping after 30 s");
    assert!(ping.is("Action", "Ping"));
    w.feed(&format!("Response: Success\r\nActionID: {}\r\nPing: Pong\r\nTimestamp: 1.0\r\n\r\n", aid(&ping)));
    w.advance(Duration::from_secs(30));
    let _ping = w.sent().pop().expect("second ping");
    w.now = w.now + Duration::from_secs(11);
    assert!(matches!(w.conn.handle_timeout(w.now), Err(ConnectionError::Unresponsive(_))));
}

#[test]
fn login_without_an_answer_times_out() {
    let mut conn = Connection::new(ConnectionConfig::ami("u", "s"), T);
    conn.handle_connected(T);
    assert_eq!(conn.store().connection_state_now(), ConnectionState::LoggingIn);
    assert!(conn.poll_timeout().is_some());
    assert!(conn.handle_timeout(T + Duration::from_secs(11)).is_err());
}

#[test]
fn asterisk_12_lists_without_eventlist_close_on_the_completion_event() {
    let mut w = Wire::ami(ParkingOptions::default().auto_refresh(false));
    let id = w.conn.request(w.now, Request::ParkedCalls { lot: None }, Target::All).unwrap();
    let a = aid(&w.sent()[0]);
    w.feed(&format!("Response: Success\r\nActionID: {a}\r\nMessage: Parked calls will follow\r\n\r\n"));
    w.feed(&list_item(&a, "default", 701, "1.1", "a", 40, 5));
    w.feed(&format!("Event: ParkedCallsComplete\r\nActionID: {a}\r\nTotal: 1\r\n\r\n"));
    match w.reply(id) {
        Some(Ok(Reply::Calls(c))) => assert_eq!(c.len(), 1),
        r => panic!("{r:?}"),
    }
    // A generic list closed by its named completion event.
    let id = w
        .conn
        .request(
            w.now,
            Request::List {
                action: ami_parking::Action::new("CoreShowChannels"),
                complete_event: Some("CoreShowChannelsComplete".into()),
            },
            Target::All,
        )
        .unwrap();
    let a = aid(&w.sent()[0]);
    w.feed(&format!("Response: Success\r\nActionID: {a}\r\nMessage: Channels will follow\r\n\r\nEvent: CoreShowChannel\r\nActionID: {a}\r\nChannel: X\r\n\r\nEvent: CoreShowChannelsComplete\r\nActionID: {a}\r\nListItems: 1\r\n\r\n"));
    match w.reply(id) {
        Some(Ok(Reply::List(items))) => assert_eq!(items.len(), 1),
        r => panic!("{r:?}"),
    }
}

#[test]
fn eventlist_start_and_complete_are_compared_case_insensitively() {
    let mut w = Wire::ami(ParkingOptions::default().auto_refresh(false));
    let id = w.conn.request(w.now, Request::ParkingLots, Target::All).unwrap();
    let a = aid(&w.sent()[0]);
    w.feed(&format!("Response: Success\r\nActionID: {a}\r\nEventList: Start\r\n\r\nEvent: Parkinglot\r\nActionID: {a}\r\nName: x\r\nStartSpace: 1\r\nStopSpace: 2\r\nTimeout: 0\r\n\r\nEvent: Whatever\r\nActionID: {a}\r\nEventList: COMPLETE\r\n\r\n"));
    match w.reply(id) {
        Some(Ok(Reply::Lots(l))) => assert_eq!((l.len(), l[0].timeout), (1, None)),
        r => panic!("{r:?}"),
    }
}

#[test]
fn a_message_past_the_cap_fails_the_connection_with_a_typed_error() {
    let mut cfg = ConnectionConfig::ami("u", "s");
    cfg.max_message_bytes = 1024;
    let mut conn = Connection::new(cfg, T);
    conn.handle_connected(T);
    conn.handle_input(T, b"Asterisk Call Manager/11.0.0\r\n").unwrap();
    let mut big = b"Event: VarSet\r\nValue: ".to_vec();
    big.extend(std::iter::repeat_n(b'x', 4000));
    let err = conn.handle_input(T, &big).unwrap_err();
    assert!(matches!(err, ConnectionError::Decode(_)));
    assert!(err.to_string().contains("1024"));
}

#[test]
fn header_injection_is_refused_before_anything_is_sent() {
    let mut w = Wire::ami(ParkingOptions::default().auto_refresh(false));
    let r = w.conn.request(
        w.now,
        Request::Park { channel: "PJSIP/1\r\nAction: Hangup".into(), park: ami_parking::Park::default() },
        Target::All,
    );
    assert!(matches!(r, Err(ami_parking::ParkingError::Encode(_))));
    assert!(w.sent().is_empty());
}

#[test]
fn non_parking_events_are_passed_over_cheaply_but_answers_are_not() {
    let mut w = Wire::ami(ParkingOptions::default().auto_refresh(false));
    w.feed("Event: Newexten\r\nPrivilege: dialplan,all\r\nChannel: X\r\n\r\nEvent: VarSet\r\nPrivilege: dialplan,all\r\nVariable: A\r\nValue: 1\r\n\r\n");
    assert!(w.outputs.iter().all(|o| !matches!(o, Output::Parking(_))));
    let id =
        w.conn.request(w.now, Request::Action(ami_parking::Action::new("Originate")), Target::All).unwrap();
    let a = aid(&w.sent()[0]);
    w.feed(&format!("Response: Success\r\nActionID: {a}\r\nMessage: Originate successfully queued\r\n\r\n"));
    assert!(matches!(w.reply(id), Some(Ok(Reply::Response(_)))));
}

#[test]
fn a_refused_automatic_refresh_is_tried_again() {
    // Right after a restart Asterisk accepts logins before res_parking is loaded: the
    // two refusals exactly as captured (`lists-refused-while-booting`), with this
    // connection's ActionIDs.
    let capture = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/asterisk-22-tcp/lists-refused-while-booting.rx"
    ))
    .unwrap();
    let refusals: Vec<&str> =
        capture.split("\r\n\r\n").filter(|m| m.contains("Invalid/unknown command")).collect();
    assert_eq!(refusals.len(), 2, "the capture holds both refusals");
    let mut w = Wire::ami(ParkingOptions::default());
    let first = w.sent();
    assert_eq!(first.len(), 2);
    for (a, refusal) in first.iter().zip(&refusals) {
        let captured_id = if refusal.contains("Parkinglots") { "b-1" } else { "b-2" };
        w.feed(
            &(refusal.replace(&format!("ActionID: {captured_id}"), &format!("ActionID: {}", aid(a)))
                + "\r\n\r\n"),
        );
    }
    assert!(w.sent().is_empty(), "not at once");
    w.advance(Duration::from_millis(1000));
    let again = w.sent();
    let names: Vec<String> = again.iter().map(|m| m.get_str("Action").unwrap().into_owned()).collect();
    assert_eq!(names, vec!["Parkinglots", "ParkedCalls"]);
    // Answered this time: the store is synced and nothing more is sent.
    w.feed(&parking_lots_answer(&aid(&again[0]), &[("default", 701, 720, 45)]));
    w.feed(&parked_calls_answer(&aid(&again[1]), &[]));
    assert!(w.conn.store().is_synced(1));
    w.advance(Duration::from_secs(5));
    assert!(w.sent().is_empty());
}

// ----- found by mutation testing: what the first run's missed mutants showed untested -----

#[test]
fn debug_output_names_the_connection_and_never_the_secret() {
    let cfg = ConnectionConfig::ami("amiuser", "hunter2");
    assert_eq!(format!("{:?}", cfg.secret), "Secret(<redacted>)");
    assert!(!cfg.secret.is_empty() && ami_parking::Secret::new("").is_empty());
    let conn = Connection::new(cfg, T);
    let shown = format!("{conn:?}");
    assert!(shown.starts_with("Connection {") && shown.contains("mode: Ami"), "{shown}");
    assert!(!shown.contains("hunter2"), "{shown}");
}

#[test]
fn the_state_follows_the_login_and_what_the_transport_reports() {
    let mut w = Wire::ami(ParkingOptions::default().auto_refresh(false));
    assert_eq!(w.conn.state(), &ConnectionState::LoggedIn);
    let s = ConnectionState::Reconnecting { attempt: 2, last_error: "refused".into() };
    w.conn.handle_link_state(s.clone());
    assert_eq!(w.conn.state(), &s);
    assert_eq!(w.conn.store().connection_state_now(), s);
    assert_eq!(w.conn.poll_output(), Some(Output::State(s)));
}

#[test]
fn behind_amiws_a_quiet_link_gets_one_websocket_ping_and_life_answers_it() {
    let mut cfg = ConnectionConfig::amiws();
    cfg.keepalive_interval = Duration::from_secs(30);
    let mut w = Wire::amiws_with(cfg, ParkingOptions::default().auto_refresh(false));
    w.announce(1);
    assert!(!w.conn.poll_ping(), "not before the link was quiet");
    w.advance(Duration::from_secs(30));
    assert!(w.conn.poll_ping(), "quiet for keepalive_interval: one ping");
    assert!(!w.conn.poll_ping(), "once");
    // A pong (or any sign of life) answers it: no Unresponsive within request_timeout.
    w.conn.handle_link_alive(w.now);
    w.advance(Duration::from_secs(10));
    // Without an answer the link is declared dead after request_timeout.
    w.advance(Duration::from_secs(20));
    assert!(w.conn.poll_ping());
    w.now = w.now + Duration::from_secs(10);
    assert!(matches!(w.conn.handle_timeout(w.now), Err(ConnectionError::Unresponsive(_))));
}

#[test]
fn behind_amiws_a_one_shot_list_waits_for_a_server_still_answering_when_it_settles() {
    let mut w = Wire::amiws(ParkingOptions::default().auto_refresh(false));
    let id = w.conn.request(w.now, Request::ParkedCalls { lot: None }, Target::All).unwrap();
    let a = aid(&w.sent().pop().unwrap());
    // Server 1 begins (start and one item) and stalls past the 200 ms settle.
    w.list_begins(1, &a);
    w.frame_text(1, &list_item(&a, "default", 701, "1.1", "5551001", 40, 5));
    w.advance(Duration::from_millis(300));
    assert!(w.reply(id).is_none(), "a server still answering is waited for");
    w.list_ends(1, &a, 1);
    // Then the settle after the last server that finished, for another to begin.
    w.advance(Duration::from_millis(250));
    match w.reply(id) {
        Some(Ok(Reply::Calls(calls))) => assert_eq!(calls.len(), 1),
        r => panic!("{r:?}"),
    }
    // One that never ends is answered at the request's deadline with what came.
    let id = w.conn.request(w.now, Request::ParkedCalls { lot: None }, Target::Server(1)).unwrap();
    let a = aid(&w.sent().pop().unwrap());
    w.list_begins(1, &a);
    w.advance(Duration::from_secs(10));
    assert!(w.reply(id).is_some(), "answered at its deadline, not left hanging");
}

#[test]
fn an_answered_list_leaves_no_timer_behind() {
    // A list answered in full is done: nothing lingers until its deadline.
    let mut w = Wire::ami(ParkingOptions::default().auto_refresh(false));
    let id = w.conn.request(w.now, Request::ParkedCalls { lot: None }, Target::All).unwrap();
    let a = aid(&w.sent().pop().unwrap());
    w.feed(&parked_calls_answer(&a, &[]));
    assert!(matches!(w.reply(id), Some(Ok(_))));
    let deadline = w.now + Duration::from_secs(10);
    assert_ne!(w.conn.poll_timeout(), Some(deadline), "the request's timer was stopped");
}

#[test]
fn a_server_without_a_banner_is_logged_in_once_and_messages_never_log_in_again() {
    let mut conn = Connection::new(ConnectionConfig::ami("amiuser", "amisecret"), T);
    conn.handle_connected(T);
    assert!(sent_by(&mut conn).is_empty(), "waiting for the banner");
    // A proxy that sends no banner: its first message starts the login.
    conn.handle_input(T, b"Event: FullyBooted\r\nPrivilege: system,all\r\nStatus: Fully Booted\r\n\r\n")
        .unwrap();
    let login = sent_by(&mut conn);
    assert_eq!(actions(&login), vec![("Login".into(), None)]);
    let id = login[0].get_str("ActionID").unwrap().into_owned();
    conn.handle_input(
        T,
        format!("Response: Success\r\nActionID: {id}\r\nMessage: Authentication accepted\r\n\r\n").as_bytes(),
    )
    .unwrap();
    let after: Vec<String> = actions(&sent_by(&mut conn)).into_iter().map(|a| a.0).collect();
    assert!(!after.contains(&"Login".to_string()), "{after:?}");
    conn.handle_input(T, live_event("ParkedCall", "default", 701, "1.1", "5551001").as_bytes()).unwrap();
    assert!(sent_by(&mut conn).is_empty(), "a message after the login sends nothing");
}

#[test]
fn behind_amiws_only_a_new_unsynced_server_is_listed_and_only_with_auto_refresh() {
    let mut w = Wire::amiws(ParkingOptions::default());
    // The login's lists, answered by server 1 (then the fan-out settles).
    for m in w.sent() {
        if m.is("Action", "Parkinglots") {
            w.frame_text(1, &parking_lots_answer(&aid(&m), &[("default", 701, 720, 45)]));
        } else {
            w.frame_text(1, &parked_calls_answer(&aid(&m), &[]));
        }
    }
    w.advance(Duration::from_millis(300));
    assert!(w.sent().is_empty());
    // A server not heard of: listed once (when the login's fan-out, which lingers
    // for late servers until its deadline, has ended without it).
    w.announce(3);
    for _ in 0..10 {
        w.advance(Duration::from_secs(1));
    }
    let three = Some("3".to_string());
    assert_eq!(
        actions(&w.sent()),
        vec![("Parkinglots".into(), three.clone()), ("ParkedCalls".into(), three)]
    );
    // A synced server's frames ask nothing.
    w.announce(1);
    assert!(w.sent().is_empty());
    // No auto refresh: neither a new server nor amiws's re-login of one sends anything.
    let mut w = Wire::amiws(ParkingOptions::default().auto_refresh(false));
    w.announce(3);
    w.frame(3, &[("Response", "Success"), ("Message", "Authentication accepted")]);
    assert!(w.sent().is_empty());
    assert!(w.outputs.contains(&Output::ServerLoggedIn(3)));
}

#[test]
fn behind_amiws_a_late_server_still_updates_the_store_until_the_deadline() {
    let mut w = Wire::amiws(ParkingOptions::default().auto_refresh(false));
    let id = w.conn.request(w.now, Request::ParkedCalls { lot: None }, Target::All).unwrap();
    let a = aid(&w.sent().pop().unwrap());
    // Server 2 answers whole; server 1 has begun but not finished when it settles.
    w.frame_text(2, &parked_calls_answer(&a, &[("default", 702, "2.2", "5552002")]));
    w.list_begins(1, &a);
    w.advance(Duration::from_millis(300));
    assert!(w.reply(id).is_none(), "server 1 began: it is waited for");
    w.frame_text(1, &list_item(&a, "default", 701, "1.1", "5551001", 40, 5));
    w.list_ends(1, &a, 1);
    w.advance(Duration::from_millis(300));
    match w.reply(id) {
        Some(Ok(Reply::Calls(calls))) => assert_eq!(calls.len(), 2, "{calls:?}"),
        r => panic!("{r:?}"),
    }
    // Answered; a server that answers later still updates the store (the request
    // lingers until its deadline).
    w.frame_text(3, &parked_calls_answer(&a, &[("default", 703, "3.3", "5553003")]));
    assert!(
        w.conn.store().parked_call_on_now(3, "default", 703).is_some(),
        "a late server's list is applied"
    );
    // A server that began and never finishes: answered at the deadline with the rest.
    let id = w.conn.request(w.now, Request::ParkedCalls { lot: None }, Target::All).unwrap();
    let a = aid(&w.sent().pop().unwrap());
    w.frame_text(2, &parked_calls_answer(&a, &[("default", 702, "2.2", "5552002")]));
    w.list_begins(1, &a);
    for _ in 0..10 {
        w.advance(Duration::from_secs(1));
    }
    assert!(matches!(w.reply(id), Some(Ok(_))), "answered at its deadline: {:?}", w.reply(id));
}
