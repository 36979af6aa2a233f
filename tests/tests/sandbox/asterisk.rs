//! Tests against a real Asterisk 22 (the sandbox, `scripts/asterisk-sandbox`): what
//! the library sees (parks, timeouts, hang-ups, refreshes, restarts, two servers) and
//! how it logs in. Parking operations are in `asterisk_operations.rs`. They share one
//! PBX, so they run one at a time (`live::LOCK`), and each starts by hanging up every
//! channel. Waiting is always for an event or a state, with a deadline; never a sleep.

use ami_parking::futures_signals::signal::SignalExt;
use ami_parking::ParkingClient;
use ami_parking::{
    Action, ConnectionState, EventStream, ParkedCall, ParkingEvent, ParkingStore, Request, Target,
};
use ami_parking_tests::live::*;
use ami_parking_tests::sandbox::{self, parked_truth, PORT_A, PORT_B};
use ami_parking_transport::{Backoff, Client, ClientOptions};
use futures_util::{FutureExt, StreamExt};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[tokio::test]
async fn dialplan_park_is_seen_live_and_lots_and_calls_are_listed() {
    let Some((_g, c)) = on_clean_pbx().await else { return };
    let mut events = c.events();
    park_dialplan(&c, "5551001", "default").await;
    let e = next_event(&mut events, "parked", |e| parked_event_for(e, "5551001")).await;
    let call = e.call().clone();
    assert_eq!((&*call.parking_lot, call.caller_id_name()), ("default", "Customer 5551001"));
    assert!((701..=720).contains(&call.parking_space));
    assert_eq!(call.timeout(), Some(Duration::from_secs(45)));
    let lots = c.get_parking_lots().await.unwrap();
    let mut names: Vec<(String, u32, u32)> =
        lots.iter().map(|l| (l.name.to_string(), l.start_space, l.end_space)).collect();
    names.sort();
    assert_eq!(
        names,
        vec![("default".into(), 701, 720), ("load".into(), 2001, 2999), ("vip".into(), 801, 810)]
    );
    let calls = c.get_parked_calls(None).await.unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].unique_id(), call.unique_id());
    assert_eq!(truth_of(c.store(), 1), parked_truth(PORT_A));
    let lot = c.store().parking_lots_now().into_iter().find(|l| &*l.name == "default").unwrap();
    assert_eq!((lot.occupied, lot.free()), (1, 19));
    c.shutdown().await;
    clean(PORT_A).await;
}

#[tokio::test]
async fn a_vip_call_times_out_when_the_store_says() {
    let Some((_g, c)) = on_clean_pbx().await else { return };
    let mut events = c.events();
    park_dialplan(&c, "5552001", "vip").await;
    let call = next_event(&mut events, "parked", |e| parked_event_for(e, "5552001")).await.call().clone();
    let deadline = call.deadline().expect("vip has a 5 s timeout");
    let e = next_event(&mut events, "timeout", |e| matches!(e, ParkingEvent::TimedOut { .. })).await;
    let at = ami_parking_transport::now();
    assert_eq!(e.call().unique_id(), call.unique_id());
    let skew = at.as_unix_millis().abs_diff(deadline.as_unix_millis());
    assert!(skew <= 1500, "timed out {skew} ms away from the store's deadline");
    assert!(c.store().parked_calls_now().is_empty());
    c.shutdown().await;
    clean(PORT_A).await;
}

#[tokio::test]
async fn hanging_up_the_parkee_gives_up() {
    let Some((_g, c)) = on_clean_pbx().await else { return };
    let mut events = c.events();
    park_dialplan(&c, "5551003", "default").await;
    let call = next_event(&mut events, "parked", |e| parked_event_for(e, "5551003")).await.call().clone();
    c.request(Request::Action(Action::new("Hangup").header("Channel", call.channel())), Target::All)
        .await
        .unwrap();
    let e = next_event(&mut events, "giveup", |e| matches!(e, ParkingEvent::GaveUp { .. })).await;
    assert_eq!(e.call().unique_id(), call.unique_id());
    assert!(c.store().parked_calls_now().is_empty());
    c.shutdown().await;
    clean(PORT_A).await;
}

#[tokio::test]
async fn refresh_while_calls_are_parked_fires_no_event() {
    let Some((_g, c)) = on_clean_pbx().await else { return };
    let mut events = c.events();
    park_dialplan(&c, "5551004", "default").await;
    next_event(&mut events, "parked", |e| parked_event_for(e, "5551004")).await;
    park_dialplan(&c, "5551005", "default").await;
    next_event(&mut events, "parked", |e| parked_event_for(e, "5551005")).await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let _sub = c.store().on_parking_event(move |e| {
        if e.kind() != "near_timeout" {
            s.lock().unwrap().push(e.kind())
        }
    });
    for _ in 0..3 {
        assert_eq!(c.get_parked_calls(None).await.unwrap().len(), 2);
        assert_eq!(c.refresh_parking_lot("default").await.unwrap().len(), 2);
        c.get_parking_lots().await.unwrap();
    }
    assert!(seen.lock().unwrap().is_empty(), "refresh fired {:?}", seen.lock().unwrap());
    assert_eq!(truth_of(c.store(), 1), parked_truth(PORT_A));
    c.shutdown().await;
    clean(PORT_A).await;
}

/// A dynamic lot (`parkeddynamic`): Asterisk makes the lot at the `Park`, so its
/// `ParkedCall` names a lot no list has named. Until the store knows its range the
/// lot's grid is its call (it used to be empty: a grid display hid the call); the
/// connection lists the server's lots again by itself, and the grid becomes the lot's
/// five spaces. A park into the lot is Asterisk's to answer, not refused as an
/// unknown lot (it used to be). Asterisk keeps a
/// dynamic lot until it restarts (a `module reload res_parking` fails on the
/// sandbox's dialplan), so the test ends with a restart, also when it fails: the
/// lists of the other tests name the configured lots only.
#[tokio::test]
async fn a_call_parked_in_a_dynamic_lot_is_on_its_lots_grid() {
    let Some((_g, c)) = on_clean_pbx().await else { return };
    let restart = sandbox::RestartOnDrop("a");
    let key = ami_parking::LotKey::new(1, "overflow");
    if c.store().lot_now(&key).is_some() {
        // Made by hand since the sandbox started: a restart forgets it.
        restart_watched(&c, "a").await;
    }
    let mut events = c.events();
    sandbox::park_dynamic(PORT_A, "5557001", "overflow");
    let call = next_event(&mut events, "parked", |e| parked_event_for(e, "5557001")).await.call().clone();
    assert_eq!((&*call.parking_lot, call.parking_space), ("overflow", 901), "Asterisk made the lot");
    let lot = c.store().lot_now(&key).expect("the event made the lot");
    assert_eq!((lot.range_known, lot.occupied, lot.total_spaces), (false, 1, 0), "no list named it yet");
    let uids = |grid: Vec<Option<Arc<ParkedCall>>>| -> Vec<Option<String>> {
        grid.iter().map(|c| c.as_ref().map(|c| c.unique_id().to_string())).collect()
    };
    let uid = Some(call.unique_id().to_string());
    let grid = uids(c.store().lot_grid_now(&key));
    // The list the connection asked for may be in already: then the grid has its spaces.
    assert!(
        grid == [uid.clone()] || grid == [uid.clone(), None, None, None, None],
        "the grid shows the lot's call: {grid:?}"
    );
    // The connection lists the lots again: the range comes, and the grid has its spaces.
    wait_state(c.store(), |s| s.lot_now(&key).is_some_and(|l| l.range_known)).await;
    let lot = c.store().lot_now(&key).unwrap();
    assert_eq!((lot.start_space, lot.end_space, lot.total_spaces, lot.occupied), (901, 905, 5, 1));
    assert_eq!(uids(c.store().lot_grid_now(&key)), [uid, None, None, None, None]);
    // A park into the dynamic lot: Asterisk takes it.
    let agent = bridged_agent(&c, "5557002").await;
    let at = c.park_call(&agent, ami_parking::Park::default().lot("overflow")).await.expect("parked");
    assert_eq!((at.lot.as_str(), at.space), ("overflow", 902));
    assert_eq!(c.store().lot_now(&key).map(|l| l.occupied), Some(2));
    // Restarted, Asterisk has no such lot: the resync's list forgets it.
    restart_watched(&c, "a").await;
    std::mem::forget(restart);
    assert!(c.store().lot_now(&key).is_none(), "the lot is gone with Asterisk's");
    c.shutdown().await;
    clean(PORT_A).await;
}

async fn park_two(c: &Client, events: &mut EventStream, a: &str, b: &str) {
    park_dialplan(c, a, "default").await;
    next_event(events, "parked", |e| parked_event_for(e, a)).await;
    park_dialplan(c, b, "default").await;
    next_event(events, "parked", |e| parked_event_for(e, b)).await;
}

/// After the restart, the store must equal Asterisk's own list once logins work again.
async fn assert_converges_after(c: &Client, port: u16) {
    let back = Instant::now();
    wait_state(c.store(), |s| s.connection_state_now() == ConnectionState::LoggedIn && !s.is_loading_now())
        .await;
    wait_state(c.store(), |s| truth_of(s, 1) == parked_truth(port)).await;
    // The waits have their deadlines; the time is reported, not asserted.
    println!("matched Asterisk again {:?} after the restart", back.elapsed());
}

#[tokio::test]
async fn a_clean_restart_while_connected_ends_with_asterisks_truth() {
    let Some((_g, c)) = on_clean_pbx().await else { return };
    let mut events = c.events();
    park_two(&c, &mut events, "5551006", "5551007").await;
    restart_watched(&c, "a").await;
    // A clean stop hangs up the parked calls: a give-up each, the next two changes.
    let mut gone = Vec::new();
    for _ in 0..2 {
        let e = next_event(&mut events, "give-up", |e| e.kind() != "near_timeout").await;
        assert_eq!(e.kind(), "giveup", "{e:?}");
        gone.push(e.call().caller_id_num().to_string());
    }
    gone.sort();
    assert_eq!(gone, ["5551006", "5551007"]);
    assert_converges_after(&c, PORT_A).await;
    assert!(c.store().parked_calls_now().is_empty());
    // Nothing was left for the resync after the restart to find.
    let later: Vec<String> =
        std::iter::from_fn(|| events.next().now_or_never().flatten()).map(|e| format!("{e:?}")).collect();
    assert!(later.iter().all(|e| !e.starts_with("Resync")), "{later:?}");
    c.shutdown().await;
}

#[tokio::test]
async fn kill_9_while_connected_ends_with_asterisks_truth() {
    let Some((_g, c)) = on_clean_pbx().await else { return };
    let mut events = c.events();
    park_two(&c, &mut events, "5551008", "5551010").await;
    sandbox::run("a", &["crash"]).unwrap();
    // Nothing was sent: the stale calls are still in the store until the resync.
    assert_eq!(c.store().total_parked_calls_now(), 2);
    sandbox::run("a", &["start"]).unwrap();
    assert_converges_after(&c, PORT_A).await;
    let vanished = next_event(&mut events, "resync", |e| matches!(e, ParkingEvent::Resync { .. })).await;
    assert!(matches!(vanished, ParkingEvent::Resync { change: ami_parking::ResyncChange::Vanished, .. }));
    assert!(c.store().parked_calls_now().is_empty());
    c.shutdown().await;
}

#[tokio::test]
async fn two_asterisk_instances_at_once_keep_separate_state() {
    let _g = LOCK.lock().await;
    let Some(()) = sandbox::require("a") else { return };
    let Some(()) = sandbox::require("b") else { return };
    clean(PORT_A).await;
    clean(PORT_B).await;
    let store = ParkingStore::default();
    // One client of both: instance a is server 1, b is server 2 (the order given).
    let both = Client::connect_all(vec![options(PORT_A), options(PORT_B)], store.clone()).unwrap();
    both.wait_logged_in(DEADLINE).await.unwrap();
    let (a, b) = (both.clone(), both.clone());
    let mut events = store.events();
    park_dialplan_on(&a, Target::Server(1), "5551011", "default").await;
    park_dialplan_on(&b, Target::Server(2), "6661011", "sales").await;
    // The two servers' events arrive in either order.
    let mut seen = std::collections::BTreeSet::new();
    while seen.len() < 2 {
        let e = next_event(&mut events, "parked", |e| matches!(e, ParkingEvent::Parked { .. })).await;
        seen.insert((e.call().server_id, e.call().caller_id_num().to_string()));
    }
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        vec![(1, "5551011".to_string()), (2, "6661011".to_string())]
    );
    // Without a server named, a list asks every server and merges the answers.
    let listed = both.get_parking_lots().await.unwrap();
    assert_eq!(listed.len(), 5, "{listed:?}");
    let lots: Vec<(u32, String, u32)> = {
        let mut l: Vec<_> = store
            .parking_lots_now()
            .iter()
            .map(|l| (l.server_id, l.name.to_string(), l.total_spaces))
            .collect();
        l.sort();
        l
    };
    assert_eq!(
        lots,
        vec![
            (1, "default".into(), 20),
            (1, "load".into(), 999),
            (1, "vip".into(), 10),
            (2, "default".into(), 5),
            (2, "sales".into(), 3)
        ]
    );
    assert_eq!(truth_of(&store, 1), parked_truth(PORT_A));
    assert_eq!(truth_of(&store, 2), parked_truth(PORT_B));
    let b_call: Vec<ParkedCall> =
        store.parked_calls_now().iter().filter(|c| c.server_id == 2).map(|c| (**c).clone()).collect();
    assert_eq!((b_call.len(), &*b_call[0].parking_lot, b_call[0].parking_space), (1, "sales", 901));
    // A retrieve without a server goes to the one that holds the call.
    let got = both.retrieve_call(Some("sales"), 901, "Local/s@hold").await.unwrap();
    assert_eq!((got.server_id, got.lot.as_str(), got.space), (2, "sales", 901));
    // A park without a server cannot know where the channel lives: refused, typed.
    let refused = both.park_call("PJSIP/nowhere-1", ami_parking::Park::default()).await.unwrap_err();
    assert_eq!(
        refused,
        ami_parking::ParkingError::AmbiguousServer { action: "Park".into(), servers: vec![1, 2] }
    );
    // A server the client does not have is refused, typed.
    let unknown = both.get_parking_lots_on(Target::Server(3)).await.unwrap_err();
    assert!(matches!(unknown, ami_parking::ParkingError::UnknownServer { server_id: 3, .. }), "{unknown:?}");
    both.shutdown().await;
    clean(PORT_A).await;
    clean(PORT_B).await;
}

#[tokio::test]
async fn tls_login_checks_the_certificate() {
    let _g = LOCK.lock().await;
    let Some(()) = sandbox::require("a") else { return };
    let ca = sandbox::run("a", &["tls-ca"]).unwrap().trim().to_string();
    let url = "tls://amiuser:amisecret@127.0.0.1:5039";
    let mut o = ClientOptions::new(url.parse().unwrap());
    o.tls_ca_file = Some(ca.into());
    let c = Client::connect(o);
    c.wait_logged_in(DEADLINE).await.expect("login over TLS");
    assert_eq!(c.get_parking_lots().await.unwrap().len(), 3, "default, load, vip");
    c.shutdown().await;
    // Without the sandbox's CA the self-signed certificate is refused, clearly.
    let c = Client::connect(ClientOptions::new(url.parse().unwrap()));
    let err = c.wait_logged_in(DEADLINE).await.unwrap_err().to_string();
    assert!(err.contains("TLS handshake") && !err.contains("amisecret"), "{err}");
    c.shutdown().await;
}

#[tokio::test]
async fn a_rejected_login_is_reported_and_retries_back_off() {
    let _g = LOCK.lock().await;
    let Some(()) = sandbox::require("a") else { return };
    let mut o = ClientOptions::new("tcp://amiuser:wrong-secret@127.0.0.1:5038".parse().unwrap());
    // The ordinary backoff is tiny: the spacing below can only come from the one for
    // refused logins (the default is a minute; shortened for the test).
    o.reconnect = Backoff {
        initial: Duration::from_millis(10),
        max: Duration::from_millis(10),
        factor: 1.0,
        jitter: 0.0,
    };
    o.refused_login = Backoff {
        initial: Duration::from_millis(1500),
        max: Duration::from_secs(10),
        factor: 2.0,
        jitter: 0.0,
    };
    let c = Client::connect(o);
    let err = c.wait_logged_in(DEADLINE).await.unwrap_err().to_string();
    assert!(err.contains("Authentication failed") && !err.contains("wrong-secret"), "{err}");
    // Attempts are spaced by the backoff: 400 ms, then 800 ms, ...
    let mut states = c.connection_state().to_stream();
    let mut attempts = Vec::new();
    let start = Instant::now();
    while attempts.len() < 3 {
        let s = tokio::time::timeout(DEADLINE, states.next()).await.expect("retrying").unwrap();
        if let ConnectionState::Reconnecting { attempt, last_error } = s {
            assert!(last_error.contains("Authentication failed"), "{last_error}");
            if attempts.last() != Some(&attempt) {
                attempts.push(attempt);
            }
        }
    }
    // Attempt 1 is already current; two more failures waited 1.5 s and 3 s: at least
    // 4.5 s. Without that backoff, Asterisk's own one-second delay on each failed
    // login would make it about 2 s.
    assert_eq!(attempts, vec![1, 2, 3]);
    assert!(start.elapsed() >= Duration::from_millis(4500), "{:?}", start.elapsed());
    c.shutdown().await;
    assert_eq!(c.connection_state_now(), ConnectionState::Stopped);
}

#[tokio::test]
async fn an_md5_login_works_and_a_wrong_secret_is_refused_clearly() {
    let _g = LOCK.lock().await;
    let Some(()) = sandbox::require("a") else { return };
    let mut o = ClientOptions::new(format!("tcp://amiuser:amisecret@127.0.0.1:{PORT_A}").parse().unwrap());
    o.auth = ami_parking::AuthMethod::Md5;
    let c = Client::connect(o);
    c.wait_logged_in(DEADLINE).await.expect("MD5 login to the sandbox");
    assert_eq!(c.get_parking_lots().await.unwrap().len(), 3);
    c.shutdown().await;
    let mut o = ClientOptions::new(format!("tcp://amiuser:wrong@127.0.0.1:{PORT_A}").parse().unwrap());
    o.auth = ami_parking::AuthMethod::Md5;
    let c = Client::connect(o);
    let err = c.wait_logged_in(DEADLINE).await.unwrap_err();
    assert!(matches!(err, ami_parking::ParkingError::LoginRefused { .. }), "a refusal, typed: {err:?}");
    let err = err.to_string();
    assert!(err.contains("Authentication failed") && !err.contains("wrong"), "{err}");
    c.shutdown().await;
}
