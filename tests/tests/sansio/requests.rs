//! What a request checks before anything is sent, and what it sends: a move into
//! another lot that is full, the longest park timeout Asterisk takes, which server a
//! retrieve behind amiws goes to, Logoff on each wire, the loading flag, and the
//! timers a dropped link leaves.

use ami_parking::{
    Action, Connection, ConnectionConfig, Park, ParkingError, ParkingOptions, Request, Target,
};
use ami_parking_tests::*;
use futures_signals::signal::SignalExt;
use futures_util::StreamExt;
use std::time::Duration;

#[test]
fn a_move_into_another_full_lot_is_refused_before_anything_is_sent_and_within_a_full_lot_allowed() {
    let lots = [("default", 701, 720, 45), ("tiny", 801, 801, 45)];
    let calls = [("default", 701, "1.1", "5551001"), ("tiny", 801, "1.2", "5551002")];
    let mut w = Wire::synced(ParkingOptions::default(), &lots, &calls);
    let r = w.conn.request(
        w.now,
        Request::Move { space: 701, lot: None, to: Park::default().lot("tiny") },
        Target::All,
    );
    assert_eq!(r, Err(ParkingError::LotFull { lot: "tiny".into(), spaces: 1, server_id: 1 }));
    assert!(w.sent().is_empty());
    // Within its own lot a call always has room: its own space.
    w.conn
        .request(
            w.now,
            Request::Move {
                space: 801,
                lot: Some("tiny".into()),
                to: Park::default().lot("tiny").timeout(Duration::from_secs(90)),
            },
            Target::All,
        )
        .unwrap();
    let sent = w.sent();
    assert_eq!(actions(&sent), vec![("Park".into(), None)]);
    assert_eq!(sent[0].get_str("Parkinglot").as_deref(), Some("tiny"));
}

#[test]
fn a_park_timeout_up_to_i32_max_milliseconds_is_sent_and_a_longer_one_refused() {
    let mut w = Wire::synced(ParkingOptions::default(), &[("default", 701, 720, 45)], &[]);
    let longest = Duration::from_millis(i32::MAX as u64);
    w.conn
        .request(
            w.now,
            Request::Park { channel: "PJSIP/200-00000001".into(), park: Park::default().timeout(longest) },
            Target::All,
        )
        .unwrap();
    let sent = w.sent();
    assert_eq!(sent[0].get_str("Timeout").as_deref(), Some("2147483647"));
    let r = w.conn.request(
        w.now,
        Request::Park {
            channel: "PJSIP/200-00000001".into(),
            park: Park::default().timeout(longest + Duration::from_millis(1)),
        },
        Target::All,
    );
    assert!(
        matches!(&r, Err(ParkingError::InvalidArgument(m)) if m.contains("longer than Asterisk accepts")),
        "{r:?}"
    );
    assert!(w.sent().is_empty());
}

/// amiws: `server`'s lots listed and answered with `lots`.
fn lots_of(w: &mut Wire, server: u32, lots: &[(&str, u32, u32, u32)]) {
    let id = w.conn.request(w.now, Request::ParkingLots, Target::Server(server)).unwrap();
    let a = aid(&w.sent().pop().unwrap());
    w.frame_text(server, &parking_lots_answer(&a, lots));
    assert!(matches!(w.reply(id), Some(Ok(_))));
}

/// amiws: `server` synced with no calls in `default` (701-720).
fn synced_server(w: &mut Wire, server: u32) {
    lots_of(w, server, &[("default", 701, 720, 45)]);
    let id = w.conn.request(w.now, Request::ParkedCalls { lot: None }, Target::Server(server)).unwrap();
    let a = aid(&w.sent().pop().unwrap());
    w.frame_text(server, &parked_calls_answer(&a, &[]));
    assert!(matches!(w.reply(id), Some(Ok(_))));
    assert!(w.conn.store().is_synced(server));
}

/// A retrieve of 709 (empty everywhere) for whichever server holds it.
fn retrieve_709(w: &mut Wire) -> Result<ami_parking::RequestId, ParkingError> {
    w.conn.request(
        w.now,
        Request::Retrieve { space: 709, to_channel: "PJSIP/100".into(), lot: None },
        Target::All,
    )
}

#[test]
fn behind_amiws_a_retrieve_of_an_empty_space_is_refused_only_when_every_server_is_known() {
    let empty = |server_id| ParkingError::SpaceEmpty { lot: "default".into(), space: 709, server_id };
    // One server, synced: empty there.
    let mut w = Wire::amiws(ParkingOptions::default().auto_refresh(false));
    w.announce(1);
    synced_server(&mut w, 1);
    assert_eq!(retrieve_709(&mut w), Err(empty(Some(1))));
    // Two servers, one not synced: its calls are unknown, so it may hold the call.
    w.announce(2);
    let ambiguous =
        ParkingError::AmbiguousServer { action: "Originate (retrieve)".into(), servers: vec![1, 2] };
    assert_eq!(retrieve_709(&mut w), Err(ambiguous));
    // Both synced: empty on every server.
    synced_server(&mut w, 2);
    assert_eq!(retrieve_709(&mut w), Err(empty(None)));
    assert!(w.sent().is_empty(), "nothing sent for any of them");
}

#[test]
fn logoff_is_sent_on_a_raw_ami_link_and_never_before_it_or_behind_amiws() {
    let mut w = Wire::ami(ParkingOptions::default().auto_refresh(false));
    w.conn.logoff();
    assert_eq!(actions(&w.sent()), vec![("Logoff".into(), None)]);
    // No link yet: nothing to say goodbye on.
    let mut conn = Connection::new(ConnectionConfig::ami("amiuser", "amisecret"), w.now);
    conn.logoff();
    assert_eq!(conn.poll_transmit(), None);
    // amiws logs itself in to Asterisk: closing the WebSocket ends this client's part,
    // a Logoff would log amiws out for every client.
    let mut w = Wire::amiws(ParkingOptions::default().auto_refresh(false));
    w.conn.logoff();
    assert!(w.sent().is_empty());
}

/// The loading flag as its signal says it now (and as `is_loading_now` does).
fn loading(w: &Wire) -> bool {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let mut s = w.conn.store().is_loading().to_stream();
    match s.poll_next_unpin(&mut cx) {
        std::task::Poll::Ready(Some(v)) => {
            assert_eq!(v, w.conn.store().is_loading_now());
            v
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn only_lists_set_the_loading_flag() {
    let mut w = Wire::synced(ParkingOptions::default(), &[("default", 701, 720, 45)], &[]);
    assert!(!loading(&w));
    let status = w.conn.request(w.now, Request::Action(Action::new("CoreStatus")), Target::All).unwrap();
    let park = w
        .conn
        .request(
            w.now,
            Request::Park { channel: "PJSIP/200-00000001".into(), park: Park::default() },
            Target::All,
        )
        .unwrap();
    assert!(!loading(&w), "a plain action and a park are not loading");
    let list = w.conn.request(w.now, Request::ParkedCalls { lot: None }, Target::All).unwrap();
    assert!(loading(&w));
    let sent = w.sent();
    w.feed(&parked_calls_answer(&aid(&sent[2]), &[]));
    assert!(matches!(w.reply(list), Some(Ok(_))));
    assert!(!loading(&w));
    assert!(w.reply(status).is_none() && w.reply(park).is_none());
}

#[test]
fn a_dropped_link_leaves_no_timer_running() {
    let mut cfg = ConnectionConfig::ami("amiuser", "amisecret");
    cfg.keepalive_interval = Duration::from_secs(30);
    let mut w = Wire::ami_with(
        cfg,
        ParkingOptions::default().auto_refresh(false).poll_interval(Duration::from_secs(60)),
    );
    assert!(w.conn.poll_timeout().is_some(), "keep-alive and poll run while linked");
    w.conn.handle_disconnected(w.now);
    assert_eq!(w.conn.poll_timeout(), None);
}

#[test]
fn a_park_into_a_lot_the_server_does_not_list_names_the_lots_it_has() {
    let mut w = Wire::amiws(ParkingOptions::default().auto_refresh(false));
    let lists =
        [(1, vec![("default", 701, 720, 45), ("sales", 801, 810, 45)]), (2, vec![("other", 901, 910, 45)])];
    for (server, lots) in &lists {
        w.announce(*server);
        lots_of(&mut w, *server, lots);
    }
    // A lot heard of only from a live event (a dynamic lot, say): no range is known,
    // but Asterisk named it, so it exists: a park into it is sent.
    w.frame_text(1, &live_event("ParkedCall", "dyn", 1, "1.1", "5551001"));
    let park = |w: &mut Wire, lot: &str| {
        w.conn.request(
            w.now,
            Request::Park { channel: "PJSIP/200-00000001".into(), park: Park::default().lot(lot) },
            Target::Server(1),
        )
    };
    assert!(park(&mut w, "dyn").is_ok());
    assert!(w.sent().iter().any(|m| m.is("Action", "Park")));
    let known = vec!["default".to_string(), "dyn".to_string(), "sales".to_string()];
    assert_eq!(
        park(&mut w, "nope"),
        Err(ParkingError::UnknownLot { lot: "nope".into(), server_id: 1, known })
    );
    assert!(w.sent().is_empty());
}
