//! Tests against a real Asterisk 22 (the sandbox, `scripts/asterisk-sandbox`).
//! They share one PBX, so they run one at a time (a lock), and each starts by
//! hanging up every channel. Waiting is always for an event or a state, with a
//! deadline; never a sleep.

use ami_parking::futures_signals::signal::SignalExt;
use ami_parking::futures_signals::signal_vec::SignalVecExt;
use ami_parking::{
    Action, ConnectionState, EventStream, LotKey, Park, ParkedCall, ParkingError, ParkingEvent,
    ParkingOptions, ParkingStore, Reply, Request, Target,
};
use ami_parking_tests::sandbox::{self, parked_truth, PORT_A, PORT_B};
use ami_parking_transport::{Backoff, Client, ClientError, ClientOptions};
use futures_util::StreamExt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One test at a time on the shared PBX (an async lock: held across awaits).
static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const DEADLINE: Duration = Duration::from_secs(10);

fn instance(port: u16) -> &'static str {
    if port == PORT_B {
        "b"
    } else {
        "a"
    }
}

async fn client(port: u16, server_id: u32) -> Client {
    client_with(port, server_id, ParkingStore::default()).await
}

/// A client writing into `store` (whose options it follows).
async fn client_with(port: u16, server_id: u32, store: ParkingStore) -> Client {
    let mut o = ClientOptions::new(format!("tcp://amiuser:amisecret@127.0.0.1:{port}").parse().unwrap());
    o.server_id = server_id;
    o.reconnect = Backoff {
        initial: Duration::from_millis(100),
        max: Duration::from_millis(1000),
        factor: 2.0,
        jitter: 0.2,
    };
    let c = Client::connect_with_store(o, store);
    c.wait_logged_in(DEADLINE).await.expect("login to the sandbox");
    // Once a ParkedCalls answer is in, the store knows the server's calls.
    c.get_parked_calls(None).await.expect("initial list");
    assert!(c.store().is_synced(server_id));
    c
}

/// Hangs up every channel and waits until Asterisk has no parked call.
async fn clean(port: u16) {
    sandbox::cli(instance(port), "channel request hangup all");
    let start = Instant::now();
    while !parked_truth(port).is_empty() {
        assert!(start.elapsed() < DEADLINE, "channels did not hang up");
        tokio::task::yield_now().await;
        std::thread::yield_now();
    }
}

/// Waits until `pred` holds on the store (re-checked on every change of the calls).
async fn wait_state(store: &ParkingStore, pred: impl Fn(&ParkingStore) -> bool) {
    let mut changes = store.parked_calls().to_signal_cloned().to_stream();
    let mut states = store.connection_state().to_stream();
    let mut loading = store.is_loading().to_stream();
    let r = tokio::time::timeout(DEADLINE, async {
        loop {
            if pred(store) {
                return;
            }
            // Re-check on every change of what the predicates read.
            tokio::select! {
                _ = changes.next() => {}
                _ = states.next() => {}
                _ = loading.next() => {}
            }
        }
    })
    .await;
    r.unwrap_or_else(|_| panic!("state not reached within {DEADLINE:?}: {:?}", store.calls_snapshot()));
}

async fn next_event(
    events: &mut EventStream,
    what: &str,
    pred: impl Fn(&ParkingEvent) -> bool,
) -> ParkingEvent {
    tokio::time::timeout(DEADLINE + Duration::from_secs(5), async {
        loop {
            let e = events.next().await.expect("event stream ended");
            if pred(&e) {
                return e;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {what} event within the deadline"))
}

/// Parks a new call through the dialplan (`caller` context: Park(${LOT})).
async fn park_dialplan(c: &Client, caller: &str, lot: &str) {
    let a = Action::new("Originate")
        .header("Channel", "Local/s@hold")
        .header("Context", "caller")
        .header("Exten", "s")
        .header("Priority", "1")
        .header("Variable", format!("CALLERNUM={caller}"))
        .header("Variable", format!("LOT={lot}"))
        .header("Async", "true");
    c.request(Request::Action(a), Target::All).await.expect("originate");
}

fn truth_of(store: &ParkingStore, server: u32) -> Vec<(String, u32, String)> {
    let mut v: Vec<_> = store
        .calls_snapshot()
        .iter()
        .filter(|c| c.server_id == server)
        .map(|c| (c.parking_lot.to_string(), c.parking_space, c.unique_id.to_string()))
        .collect();
    v.sort();
    v
}

fn parked_event_for(e: &ParkingEvent, caller: &str) -> bool {
    matches!(e, ParkingEvent::Parked { call } if call.caller_id_num == caller)
}

#[tokio::test]
async fn dialplan_park_is_seen_live_and_lots_and_calls_are_listed() {
    let _g = LOCK.lock().await;
    let Some(()) = sandbox::require("a") else { return };
    clean(PORT_A).await;
    let c = client(PORT_A, 1).await;
    let mut events = c.events();
    park_dialplan(&c, "5551001", "default").await;
    let e = next_event(&mut events, "parked", |e| parked_event_for(e, "5551001")).await;
    let call = e.call().clone();
    assert_eq!((&*call.parking_lot, call.caller_id_name.as_str()), ("default", "Customer 5551001"));
    assert!((701..=720).contains(&call.parking_space));
    assert_eq!(call.timeout, Some(Duration::from_secs(45)));
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
    assert_eq!(calls[0].unique_id, call.unique_id);
    assert_eq!(truth_of(c.store(), 1), parked_truth(PORT_A));
    let lot = c.store().lots_snapshot().into_iter().find(|l| &*l.name == "default").unwrap();
    assert_eq!((lot.occupied, lot.free()), (1, 19));
    c.shutdown().await;
    clean(PORT_A).await;
}

#[tokio::test]
async fn park_call_on_a_bridged_call_returns_the_space_asterisk_used() {
    let _g = LOCK.lock().await;
    let Some(()) = sandbox::require("a") else { return };
    clean(PORT_A).await;
    let c = client(PORT_A, 1).await;
    // Take 701 first, so the space chosen is not simply the lot's first.
    let mut events = c.events();
    park_dialplan(&c, "5551009", "default").await;
    next_event(&mut events, "parked", |e| parked_event_for(e, "5551009")).await;
    let agent = bridged_agent(&c, "5553001").await;
    let space = c.park_call(&agent, Park::default().timeout(Duration::from_secs(60))).await.expect("park");
    let truth = parked_truth(PORT_A);
    let stored = c.store().get_parked_call(1, "default", space).expect("parked call in the store");
    assert_eq!(stored.channel, agent);
    assert!(
        truth.iter().any(|(lot, s, uid)| lot == "default" && *s == space && *uid == stored.unique_id),
        "{truth:?}"
    );
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
    let _g = LOCK.lock().await;
    let Some(()) = sandbox::require("a") else { return };
    clean(PORT_A).await;
    let c = client(PORT_A, 1).await;
    let mut events = c.events();
    park_dialplan(&c, "5551002", "default").await;
    let call = next_event(&mut events, "parked", |e| parked_event_for(e, "5551002")).await.call().clone();
    let retriever = c.retrieve_call(call.parking_space, "Local/s@hold", None).await.expect("retrieve");
    assert!(retriever.channel.starts_with("Local/s@hold-"), "{retriever:?}");
    let e = next_event(&mut events, "retrieved", |e| matches!(e, ParkingEvent::Retrieved { .. })).await;
    assert_eq!(e.call().unique_id, call.unique_id);
    assert!(c.store().get_parked_call(1, "default", call.parking_space).is_none());
    assert!(parked_truth(PORT_A).is_empty());
    // Refused without sending anything: the store knows the space is empty now.
    let err = c.retrieve_call(call.parking_space, "Local/s@hold", None).await.unwrap_err();
    assert!(err.to_string().contains("nothing is parked"), "{err}");
    c.shutdown().await;
    clean(PORT_A).await;
}

#[tokio::test]
async fn a_vip_call_times_out_when_the_store_says() {
    let _g = LOCK.lock().await;
    let Some(()) = sandbox::require("a") else { return };
    clean(PORT_A).await;
    let c = client(PORT_A, 1).await;
    let mut events = c.events();
    park_dialplan(&c, "5552001", "vip").await;
    let call = next_event(&mut events, "parked", |e| parked_event_for(e, "5552001")).await.call().clone();
    let deadline = call.deadline.expect("vip has a 5 s timeout");
    let e = next_event(&mut events, "timeout", |e| matches!(e, ParkingEvent::TimedOut { .. })).await;
    let at = ami_parking_transport::now();
    assert_eq!(e.call().unique_id, call.unique_id);
    let skew = at.as_unix_millis().abs_diff(deadline.as_unix_millis());
    assert!(skew <= 1500, "timed out {skew} ms away from the store's deadline");
    assert!(c.store().calls_snapshot().is_empty());
    c.shutdown().await;
    clean(PORT_A).await;
}

#[tokio::test]
async fn hanging_up_the_parkee_gives_up() {
    let _g = LOCK.lock().await;
    let Some(()) = sandbox::require("a") else { return };
    clean(PORT_A).await;
    let c = client(PORT_A, 1).await;
    let mut events = c.events();
    park_dialplan(&c, "5551003", "default").await;
    let call = next_event(&mut events, "parked", |e| parked_event_for(e, "5551003")).await.call().clone();
    c.request(Request::Action(Action::new("Hangup").header("Channel", &call.channel)), Target::All)
        .await
        .unwrap();
    let e = next_event(&mut events, "giveup", |e| matches!(e, ParkingEvent::GaveUp { .. })).await;
    assert_eq!(e.call().unique_id, call.unique_id);
    assert!(c.store().calls_snapshot().is_empty());
    c.shutdown().await;
    clean(PORT_A).await;
}

#[tokio::test]
async fn refresh_while_calls_are_parked_fires_no_event() {
    let _g = LOCK.lock().await;
    let Some(()) = sandbox::require("a") else { return };
    clean(PORT_A).await;
    let c = client(PORT_A, 1).await;
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
    let took = back.elapsed();
    assert!(took < Duration::from_secs(5), "took {took:?} to match Asterisk again");
}

#[tokio::test]
async fn a_clean_restart_while_connected_ends_with_asterisks_truth() {
    let _g = LOCK.lock().await;
    let Some(()) = sandbox::require("a") else { return };
    clean(PORT_A).await;
    let c = client(PORT_A, 1).await;
    let mut events = c.events();
    park_two(&c, &mut events, "5551006", "5551007").await;
    sandbox::run("a", &["restart"]).unwrap();
    assert_converges_after(&c, PORT_A).await;
    assert!(c.store().calls_snapshot().is_empty());
    c.shutdown().await;
}

#[tokio::test]
async fn kill_9_while_connected_ends_with_asterisks_truth() {
    let _g = LOCK.lock().await;
    let Some(()) = sandbox::require("a") else { return };
    clean(PORT_A).await;
    let c = client(PORT_A, 1).await;
    let mut events = c.events();
    park_two(&c, &mut events, "5551008", "5551010").await;
    sandbox::run("a", &["crash"]).unwrap();
    // Nothing was sent: the stale calls are still in the store until the resync.
    assert_eq!(c.store().total_parked_calls_now(), 2);
    sandbox::run("a", &["start"]).unwrap();
    assert_converges_after(&c, PORT_A).await;
    let vanished = next_event(&mut events, "resync", |e| matches!(e, ParkingEvent::Resync { .. })).await;
    assert!(matches!(vanished, ParkingEvent::Resync { change: ami_parking::ResyncChange::Vanished, .. }));
    assert!(c.store().calls_snapshot().is_empty());
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
    let mk = |port: u16, id: u32| {
        let mut o = ClientOptions::new(format!("tcp://amiuser:amisecret@127.0.0.1:{port}").parse().unwrap());
        o.server_id = id;
        o
    };
    let a = Client::connect_with_store(mk(PORT_A, 1), store.clone());

    let b = Client::connect_with_store(mk(PORT_B, 2), store.clone());
    a.wait_logged_in(DEADLINE).await.unwrap();
    b.wait_logged_in(DEADLINE).await.unwrap();
    let mut events = store.events();
    park_dialplan(&a, "5551011", "default").await;
    park_dialplan(&b, "6661011", "sales").await;
    // The two servers' events arrive in either order.
    let mut seen = std::collections::BTreeSet::new();
    while seen.len() < 2 {
        let e = next_event(&mut events, "parked", |e| matches!(e, ParkingEvent::Parked { .. })).await;
        seen.insert((e.call().server_id, e.call().caller_id_num.to_string()));
    }
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        vec![(1, "5551011".to_string()), (2, "6661011".to_string())]
    );
    a.get_parking_lots().await.unwrap();
    b.get_parking_lots().await.unwrap();
    let lots: Vec<(u32, String, u32)> = {
        let mut l: Vec<_> =
            store.lots_snapshot().iter().map(|l| (l.server_id, l.name.to_string(), l.total_spaces)).collect();
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
        store.calls_snapshot().iter().filter(|c| c.server_id == 2).map(|c| (**c).clone()).collect();
    assert_eq!((b_call.len(), &*b_call[0].parking_lot, b_call[0].parking_space), (1, "sales", 901));
    a.shutdown().await;
    b.shutdown().await;
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
    o.reconnect = Backoff {
        initial: Duration::from_millis(400),
        max: Duration::from_secs(2),
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
    // Attempt 1 is already current; two more failures took at least 400 + 800 ms
    // (plus Asterisk's own one-second delay on each failed login).
    assert_eq!(attempts, vec![1, 2, 3]);
    assert!(start.elapsed() >= Duration::from_millis(1200), "{:?}", start.elapsed());
    c.shutdown().await;
    assert_eq!(c.connection_state_now(), ConnectionState::Stopped);
}

/// Waits until lot `key`'s Asterisk count is `n` (on the lot's own signal).
async fn wait_occupied(store: &ParkingStore, key: LotKey, n: u32) {
    let mut lot = store.lot_signal(key.clone()).to_stream();
    tokio::time::timeout(DEADLINE, async {
        while let Some(l) = lot.next().await {
            if l.is_some_and(|l| l.occupied == n) {
                return;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("lot {} never held {n}: {:?}", key.name, store.lot_snapshot(&key)));
}

#[tokio::test]
async fn a_call_the_filter_hides_is_counted_and_can_be_retrieved() {
    let _g = LOCK.lock().await;
    let Some(()) = sandbox::require("a") else { return };
    clean(PORT_A).await;
    let store =
        ParkingStore::new(ParkingOptions::default().parked_call_filter(|c| &*c.parking_lot == "default"));
    let c = client_with(PORT_A, 1, store).await;
    let mut events = c.events();
    park_dialplan(&c, "5551301", "vip").await;
    park_dialplan(&c, "5551302", "default").await;
    next_event(&mut events, "parked", |e| parked_event_for(e, "5551302")).await;
    let vip = LotKey::new(1, "vip");
    wait_occupied(c.store(), vip.clone(), 1).await;
    let shown: Vec<String> = c.store().calls_snapshot().iter().map(|c| c.caller_id_num.to_string()).collect();
    assert_eq!(shown, ["5551302"], "the views show the default lot only");
    assert!(c.store().lot_calls_snapshot(&vip).is_empty());
    let (_, space, _) = parked_truth(PORT_A)
        .into_iter()
        .find(|(lot, _, _)| lot == "vip")
        .expect("Asterisk holds the vip call");
    let r =
        c.retrieve_call(space, "Local/s@hold", Some("vip")).await.expect("a hidden call can be retrieved");
    assert!(r.channel.starts_with("Local/s@hold"), "{r:?}");
    wait_occupied(c.store(), vip, 0).await;
    assert!(parked_truth(PORT_A).iter().all(|(lot, _, _)| lot != "vip"), "Asterisk let it go");
    // The hidden call fired nothing; the shown one is still there.
    let mut heard = Vec::new();
    while let Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(200), events.next()).await {
        heard.push((e.kind(), e.call().parking_lot.to_string()));
    }
    assert!(heard.iter().all(|(_, lot)| lot == "default"), "{heard:?}");
    assert_eq!(c.store().total_parked_calls_now(), 1);
    c.shutdown().await;
    clean(PORT_A).await;
}

#[tokio::test]
async fn a_retrieve_to_a_phone_that_answers_after_12_s_succeeds() {
    let _g = LOCK.lock().await;
    let Some(()) = sandbox::require("a") else { return };
    clean(PORT_A).await;
    let c = client(PORT_A, 1).await;
    let mut events = c.events();
    park_dialplan(&c, "5551401", "default").await;
    let call = match next_event(&mut events, "parked", |e| parked_event_for(e, "5551401")).await {
        ParkingEvent::Parked { call } => call,
        _ => unreachable!(),
    };
    let asked = Instant::now();
    let r = c
        .retrieve_call(call.parking_space, "Local/s@slowanswer", None)
        .await
        .expect("the phone answered within the ring time");
    let waited = asked.elapsed();
    assert!(waited >= Duration::from_secs(12), "the phone rang 12 s first, not {waited:?}");
    assert!(r.channel.starts_with("Local/s@slowanswer"), "{r:?}");
    assert!(c.store().get_parked_call_by_space(call.parking_space, None).is_none());
    c.shutdown().await;
    clean(PORT_A).await;
}

/// Brings up a bridged call (`bridgeme`: the caller dials an agent) and returns the
/// agent's leg, a channel the `Park` action can park.
async fn bridged_agent(c: &Client, caller: &str) -> String {
    let before = agent_legs(c).await;
    let a = Action::new("Originate")
        .header("Channel", "Local/s@hold")
        .header("Context", "bridgeme")
        .header("Exten", "s")
        .header("Priority", "1")
        .header("Variable", format!("CALLERNUM={caller}"))
        .header("Async", "true");
    c.request(Request::Action(a), Target::All).await.unwrap();
    let start = Instant::now();
    loop {
        if let Some(ch) = agent_legs(c).await.into_iter().find(|ch| !before.contains(ch)) {
            return ch;
        }
        assert!(start.elapsed() < DEADLINE, "the bridged call did not come up");
    }
}

/// The bridged agent legs (`Local/s@agent-...;1` in a bridge) Asterisk has now.
async fn agent_legs(c: &Client) -> Vec<String> {
    let req = Request::List {
        action: Action::new("CoreShowChannels"),
        complete_event: Some("CoreShowChannelsComplete".into()),
    };
    let Ok(Reply::List(items)) = c.request(req, Target::All).await else { return Vec::new() };
    items
        .iter()
        .filter(|m| m.get_str("BridgeId").is_some_and(|b| !b.is_empty()))
        .filter_map(|m| m.get_str("Channel").map(|c| c.into_owned()))
        .filter(|ch| ch.starts_with("Local/s@agent-") && ch.ends_with(";1"))
        .collect()
}

#[tokio::test]
async fn park_takes_a_preferred_space_no_timeout_and_tells_a_full_lot_from_an_unknown_one() {
    let _g = LOCK.lock().await;
    let Some(()) = sandbox::require("a") else { return };
    clean(PORT_A).await;
    let c = client(PORT_A, 1).await;
    c.get_parking_lots().await.unwrap();
    let mut events = c.events();
    // A preferred space: used when free...
    let first = bridged_agent(&c, "5553101").await;
    assert_eq!(c.park_call(&first, Park::default().space(715)).await.expect("park at 715"), 715);
    // ...and when taken, Asterisk gives the next free one after it.
    let second = bridged_agent(&c, "5553102").await;
    assert_eq!(c.park_call(&second, Park::default().space(715)).await.expect("park near 715"), 716);
    // No timeout: the live park says 0, the list near 2^64; the store says none.
    let third = bridged_agent(&c, "5553103").await;
    let space = c.park_call(&third, Park::default().no_timeout()).await.expect("park for good");
    let stored = c.store().get_parked_call(1, "default", space).unwrap();
    assert_eq!((stored.timeout, stored.deadline), (None, None), "live: no timeout");
    let listed = c.get_parked_calls(Some("default")).await.unwrap();
    let item = listed.iter().find(|x| x.parking_space == space).unwrap();
    assert_eq!(item.deadline, None, "listed: no timeout");
    let truth = parked_truth(PORT_A);
    assert!(truth.iter().any(|(l, s, _)| l == "default" && *s == space), "{truth:?}");
    // A full lot (vip: 801-810) and an unknown one: Asterisk answers both with the
    // same "Park action failed"; the library says which.
    let fourth = bridged_agent(&c, "5553104").await;
    for i in 0..10 {
        park_dialplan(&c, &format!("55532{i:02}"), "vip").await;
    }
    let vip = LotKey::new(1, "vip");
    let mut lot = c.store().lot_signal(vip.clone()).to_stream();
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
        Err(ClientError::Parking(ParkingError::LotFull { lot, spaces, server_id })) => {
            assert_eq!((lot.as_str(), spaces, server_id), ("vip", 10, 1))
        }
        r => panic!("{r:?}"),
    }
    match c.park_call(&fourth, Park::default().lot("nosuch")).await {
        Err(ClientError::Parking(e @ ParkingError::UnknownLot { .. })) => {
            assert_eq!(
                e.to_string(),
                "there is no parking lot nosuch on server 1; its lots are: default, load, vip"
            )
        }
        r => panic!("{r:?}"),
    }
    // The call parked for good never came near a timeout.
    let mut heard = Vec::new();
    while let Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(200), events.next()).await {
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
    let _g = LOCK.lock().await;
    let Some(()) = sandbox::require("a") else { return };
    clean(PORT_A).await;
    let c = client(PORT_A, 1).await;
    c.get_parking_lots().await.unwrap();
    let mut events = c.events();
    park_dialplan(&c, "5553301", "default").await;
    let call = next_event(&mut events, "parked", |e| parked_event_for(e, "5553301")).await.call().clone();
    // Within its lot, to a preferred space.
    let (lot, space) = c.move_call(call.parking_space, None, Park::default().space(715)).await.expect("move");
    assert_eq!((lot.as_str(), space), ("default", 715));
    let moved = next_event(&mut events, "moved", |e| e.kind() != "near_timeout").await;
    match &moved {
        ParkingEvent::Moved { call: to, from } => {
            assert_eq!(
                (from.parking_space, to.parking_space, &*to.unique_id),
                (call.parking_space, 715, &*call.unique_id)
            )
        }
        e => panic!("a move is one moved event, not {e:?}"),
    }
    // To another lot.
    let (lot, space) =
        c.move_call(715, None, Park::default().lot("vip").space(805)).await.expect("move to vip");
    assert_eq!((lot.as_str(), space), ("vip", 805));
    let moved = next_event(&mut events, "moved", |e| e.kind() != "near_timeout").await;
    assert_eq!(moved.kind(), "moved");
    let truth = parked_truth(PORT_A);
    assert_eq!(truth, vec![("vip".to_string(), 805, call.unique_id.to_string())]);
    // A hang-up after it is a give-up.
    let hang = Action::new("Hangup").header("Channel", &*call.channel);
    c.request(Request::Action(hang), Target::All).await.unwrap();
    let gone = next_event(&mut events, "giveup", |e| e.kind() != "near_timeout").await;
    assert_eq!((gone.kind(), gone.call().parking_space), ("giveup", 805));
    assert!(c.store().calls_snapshot().is_empty());
    c.shutdown().await;
    clean(PORT_A).await;
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
    let err = c.wait_logged_in(DEADLINE).await.unwrap_err().to_string();
    assert!(err.contains("Authentication failed") && !err.contains("wrong"), "{err}");
    c.shutdown().await;
}
