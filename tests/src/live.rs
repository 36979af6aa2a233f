//! Clients of the library on the real Asterisk sandbox, for the tests that claim
//! Asterisk behaviour: one test at a time on the shared PBX, every wait for an event
//! or a state with a deadline.

use crate::sandbox::{self, parked_truth, PORT_A, PORT_B};
use ami_parking::futures_signals::signal::SignalExt;
use ami_parking::futures_signals::signal_map::SignalMap;
use ami_parking::futures_signals::signal_vec::SignalVecExt;
use ami_parking::{
    Action, ConnectionState, EventStream, LotKey, ParkingClient, ParkingEvent, ParkingStore, Request, Target,
};
use ami_parking_transport::{Backoff, Client, ClientOptions};
use futures_util::StreamExt;
use std::time::{Duration, Instant};

/// One test at a time on the shared PBX (an async lock: held across awaits).
pub static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub const DEADLINE: Duration = Duration::from_secs(10);

pub fn instance(port: u16) -> &'static str {
    if port == PORT_B {
        "b"
    } else {
        "a"
    }
}

/// A client of the sandbox instance on `port` (server 1), logged in and synced.
pub async fn client(port: u16) -> Client {
    client_with(port, ParkingStore::default()).await
}

/// The options of a client of the sandbox instance on `port`, reconnecting fast.
pub fn options(port: u16) -> ClientOptions {
    let mut o = ClientOptions::new(format!("tcp://amiuser:amisecret@127.0.0.1:{port}").parse().unwrap());
    o.reconnect = Backoff {
        initial: Duration::from_millis(100),
        max: Duration::from_millis(1000),
        factor: 2.0,
        jitter: 0.2,
    };
    o
}

/// A client of `port` (server 1) writing into `store` (whose options it follows).
pub async fn client_with(port: u16, store: ParkingStore) -> Client {
    let c = Client::connect_with_store(options(port), store);
    c.wait_logged_in(DEADLINE).await.expect("login to the sandbox");
    // Once a ParkedCalls answer is in, the store knows the server's calls.
    c.get_parked_calls(None).await.expect("initial list");
    assert!(c.store().is_synced(1));
    c
}

/// Hangs up every channel and waits until Asterisk has no parked call.
pub async fn clean(port: u16) {
    sandbox::cli(instance(port), "channel request hangup all");
    let start = Instant::now();
    // Each look logs in to Asterisk: pause between them.
    while !parked_truth(port).is_empty() {
        assert!(start.elapsed() < DEADLINE, "channels did not hang up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `pred` holds on the store (re-checked on every change of the calls,
/// the link, the loading flag, the total and the lots).
pub async fn wait_state(store: &ParkingStore, pred: impl Fn(&ParkingStore) -> bool) {
    // Every signal a predicate may read: each is published on its own, so a wake on
    // one may come before another has its new value.
    let mut changes = store.parked_calls().to_signal_cloned().to_stream();
    let mut states = store.connection_state().to_stream();
    let mut loading = store.is_loading().to_stream();
    let mut total = store.total_parked_calls().to_stream();
    let mut lots = Box::pin(store.parking_lots());
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
                _ = total.next() => {}
                _ = std::future::poll_fn(|cx| lots.as_mut().poll_map_change(cx)) => {}
            }
        }
    })
    .await;
    r.unwrap_or_else(|_| {
        panic!(
            "state not reached within {DEADLINE:?}: total {} (loading {}), calls {:?}",
            store.total_parked_calls_now(),
            store.is_loading_now(),
            store.parked_calls_now()
        )
    });
}

pub async fn next_event(
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
pub async fn park_dialplan(c: &Client, caller: &str, lot: &str) {
    park_dialplan_on(c, Target::All, caller, lot).await
}

/// [`park_dialplan`] on one server of a multi-server client.
pub async fn park_dialplan_on(c: &Client, target: Target, caller: &str, lot: &str) {
    let a = Action::new("Originate")
        .header("Channel", "Local/s@hold")
        .header("Context", "caller")
        .header("Exten", "s")
        .header("Priority", "1")
        .header("Variable", format!("CALLERNUM={caller}"))
        .header("Variable", format!("LOT={lot}"))
        .header("Async", "true");
    c.request(Request::Action(a), target).await.expect("originate");
}

pub fn truth_of(store: &ParkingStore, server: u32) -> Vec<(String, u32, String)> {
    let mut v: Vec<_> = store
        .parked_calls_now()
        .iter()
        .filter(|c| c.server_id == server)
        .map(|c| (c.parking_lot.to_string(), c.parking_space, c.unique_id().to_string()))
        .collect();
    v.sort();
    v
}

pub fn parked_event_for(e: &ParkingEvent, caller: &str) -> bool {
    matches!(e, ParkingEvent::Parked { call } if call.caller_id_num() == caller)
}

/// Waits until lot `key`'s Asterisk count is `n` (on the lot's own signal).
pub async fn wait_occupied(store: &ParkingStore, key: LotKey, n: u32) {
    let mut lot = store.lot(key.clone()).to_stream();
    tokio::time::timeout(DEADLINE, async {
        while let Some(l) = lot.next().await {
            if l.is_some_and(|l| l.occupied == n) {
                return;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("lot {} never held {n}: {:?}", key.name, store.lot_now(&key)));
}

/// Brings up a bridged call (`bridgeme`: the caller dials an agent) and returns the
/// agent's leg, a channel the `Park` action can park.
pub async fn bridged_agent(c: &Client, caller: &str) -> String {
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
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The bridged agent legs (`Local/s@agent-...;1` in a bridge) Asterisk has now, as
/// the sandbox's admin user lists them (`CoreShowChannels` needs rights the library's
/// least-privilege user does not have).
pub async fn agent_legs(c: &Client) -> Vec<String> {
    let port = c.endpoints().next().expect("one server").port;
    let text = tokio::task::spawn_blocking(move || sandbox::send_action(port, "Action: CoreShowChannels\n"))
        .await
        .unwrap();
    text.split("\r\n\r\n")
        .filter(|block| block.contains("Event: CoreShowChannel\r\n"))
        .filter_map(|block| {
            let field = |k: &str| block.lines().find_map(|l| l.strip_prefix(k)).map(str::trim).unwrap_or("");
            let (channel, bridge) = (field("Channel: "), field("BridgeId: "));
            (!bridge.is_empty() && channel.starts_with("Local/s@agent-") && channel.ends_with(";1"))
                .then(|| channel.to_owned())
        })
        .collect()
}

/// Waits (on the client's own signal) until its link state satisfies `ok`, at most
/// 20 s (a restart of Asterisk included).
pub async fn wait_for_state(c: &Client, what: &str, ok: impl Fn(&ConnectionState) -> bool) {
    let mut states = c.connection_state().to_stream();
    tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(s) = states.next().await {
            if ok(&s) {
                return;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{what}: not within 20 s (the link is {:?})", c.connection_state_now()));
}

/// A clean restart of sandbox `instance` (`core stop now`, then a start) while `c`
/// watches it: returns once `c` has seen the link drop and is logged in again with
/// its resync done. Stopping and starting apart is what makes this deterministic: a
/// clean stop announces every parked call's end before it closes the socket, so a
/// store with no calls and a link still "logged in" is no proof the client has seen
/// the restart; a link that is reconnecting while Asterisk is down is.
pub async fn restart_watched(c: &Client, instance: &str) {
    sandbox::run(instance, &["stop"]).expect("stop the sandbox");
    wait_for_state(c, "the drop", |s| matches!(s, ConnectionState::Reconnecting { .. })).await;
    sandbox::run(instance, &["start"]).expect("start the sandbox");
    wait_state(c.store(), |s| s.connection_state_now() == ConnectionState::LoggedIn && !s.is_loading_now())
        .await;
}

/// The preamble of most sandbox tests: the lock, the sandbox up (or the skip), no
/// channel left, and a synced client of instance a as server 1. `None`: skipped.
pub async fn on_clean_pbx() -> Option<(tokio::sync::MutexGuard<'static, ()>, Client)> {
    let g = LOCK.lock().await;
    sandbox::require("a")?;
    clean(PORT_A).await;
    Some((g, client(PORT_A).await))
}
