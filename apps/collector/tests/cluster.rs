//! The collectors on the real sandbox Asterisks (instances a and b), publishing to a
//! real three-node `nats-server` cluster; the frontends are two boards (`parkboard`'s
//! state over `nats://` clients of the transport, each following both servers; what
//! they show is read from their metrics) and an amiws client of the bridge whose
//! upstreams are the same two servers over NATS. Two collectors of server a elect one
//! active; the active one and a NATS node are killed with SIGKILL, and Asterisk
//! changes meanwhile: every frontend's store equals Asterisk's own list within 5 s,
//! and every change is reported to it once.

mod common;

use ami_parking::futures_signals::signal::SignalExt;
use ami_parking::{ConnectionState, ParkingClient};
use ami_parking_tests::live;
use ami_parking_tests::measure::poll;
use ami_parking_tests::nats::{self, Cluster};
use ami_parking_tests::sandbox::{self, wait_truth, PORT_A, PORT_B};
use common::*;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frontends_follow_asterisk_through_nats_when_the_active_collector_and_a_node_are_killed() {
    // Each wait below has its own deadline; this one turns anything else that could
    // hang (a shutdown, a process that will not end) into a failure.
    tokio::time::timeout(Duration::from_secs(240), takeover_scenario())
        .await
        .expect("the cluster scenario ends within 240 s");
}

async fn takeover_scenario() {
    let Some(bin) = nats::require() else { return };
    let _pbx = live::LOCK.lock().await;
    if sandbox::require("a").is_none() || sandbox::require("b").is_none() {
        return;
    }
    live::clean(PORT_A).await;
    live::clean(PORT_B).await;
    let mut cluster = Cluster::start(&bin, 3, "").await;
    let dir = std::env::temp_dir().join(format!("ami-parking-collector-test-{}", cluster.ports[0]));
    std::fs::create_dir_all(&dir).unwrap();
    let secret = secret_file(&dir);
    let (ami_a, ami_b) = (format!("127.0.0.1:{PORT_A}"), format!("127.0.0.1:{PORT_B}"));
    let mut c1 = collector(&ami_a, &cluster.url(0, "t1", "a"), &secret, "a1", ELECTED);
    let mut c2 = collector(&ami_a, &cluster.url(1, "t1", "a"), &secret, "a2", ELECTED);
    let mut cb = collector(&ami_b, &cluster.url(2, "t1", "b"), &secret, "b1", ELECTED);
    let active_line = |l: &str| l.contains("is now the active collector");
    tokio::select! {
        _ = c1.line("an active collector", Duration::from_secs(30), active_line) => {}
        _ = c2.line("an active collector", Duration::from_secs(30), active_line) => {}
    };
    cb.line("server b's collector active", Duration::from_secs(30), active_line).await;
    let node2 = format!("127.0.0.1:{}", cluster.ports[2]);
    // Two boards: board 1 reaches NATS through node 0 (killed below), board 2 through
    // node 2. Their stores and what they show (their metrics) are checked.
    let f1 = board_frontend(&[&cluster.url(0, "t1", "a"), &cluster.url(0, "t1", "b")]).await;
    let f2 = board_frontend(&[&cluster.url(2, "t1", "a"), &cluster.url(2, "t1", "b")]).await;
    // Frontend 3: the bridge on node 2, and a WebSocket client of it.
    let f3 = bridge_frontend(&[&cluster.url(2, "t1", "a"), &cluster.url(2, "t1", "b")]).await;
    for f in [&f1, &f2, &f3] {
        f.client.wait_logged_in(Duration::from_secs(20)).await.expect("a snapshot from each collector");
        // Synced on both servers before anything is parked: a call the first list
        // already holds is no change reported (and "each change once" would not hold).
        poll("the frontend synced on both servers", TAKEOVER, || async {
            let store = f.client.store();
            (store.is_synced(1) && store.is_synced(2)).then_some(())
        })
        .await;
    }

    eprintln!("cluster: collectors active, frontends logged in");
    // Park two calls on a and one on b; both frontends see them.
    sandbox::park_dialplan(PORT_A, "301", "default");
    sandbox::park_dialplan(PORT_A, "302", "default");
    sandbox::park_dialplan(PORT_B, "401", "default");
    let truth = wait_truth(PORT_A, |t| t.len() == 2);
    let truth_b = wait_truth(PORT_B, |t| t.len() == 1);
    for f in [&f1, &f2, &f3] {
        until_equal(f, &truth, TAKEOVER).await;
        until_equal_on(f, 2, &truth_b, TAKEOVER).await;
        board_shows(f, &[2, 1], TAKEOVER).await;
    }
    eprintln!("cluster: three parks seen by every frontend");
    // Retrieve one through NATS (the active collector's action), from frontend 1.
    let call = f1.client.store().parked_calls_now().into_iter().find(|c| c.server_id == 1).unwrap();
    f1.client
        .retrieve_call_on(
            ami_parking::Target::Server(1),
            Some(&call.parking_lot),
            call.parking_space,
            "Local/s@hold",
        )
        .await
        .expect("retrieve over NATS");
    let truth = wait_truth(PORT_A, |t| t.len() == 1);
    for f in [&f1, &f2, &f3] {
        until_equal(f, &truth, TAKEOVER).await;
    }

    // kill -9 the active collector of a and NATS node 0, then change Asterisk while
    // no collector of a is active.
    let first_active = active_collector(&node2, "t1", "a").await;
    let killed_at = Instant::now();
    let active = if first_active == "a1" { &mut c1 } else { &mut c2 };
    active.signal("KILL");
    cluster.kill9(0).await;
    sandbox::park_dialplan(PORT_A, "303", "default");
    let truth = wait_truth(PORT_A, |t| t.len() == 2);
    let mut worst = Duration::ZERO;
    for f in [&f1, &f2, &f3] {
        until_equal(f, &truth, TAKEOVER.saturating_sub(killed_at.elapsed())).await;
        board_shows(f, &[2, 1], TAKEOVER.saturating_sub(killed_at.elapsed())).await;
        worst = worst.max(killed_at.elapsed());
    }
    let now_active = active_collector(&node2, "t1", "a").await;
    assert_ne!(now_active, first_active, "the standby answers now");
    eprintln!("takeover: every frontend equal to Asterisk {worst:?} after the kill -9");
    // Server b went on through it all.
    for f in [&f1, &f2, &f3] {
        until_equal_on(f, 2, &truth_b, TAKEOVER).await;
    }
    eprintln!("cluster: server b unchanged through the takeover");
    // The new active collector acts: retrieve the call parked during the takeover,
    // from frontend 2.
    let c303 = f2.client.store().parked_calls_now().into_iter().find(|c| c.caller_id_num() == "303").unwrap();
    f2.client
        .retrieve_call_on(
            ami_parking::Target::Server(1),
            Some(&c303.parking_lot),
            c303.parking_space,
            "Local/s@hold",
        )
        .await
        .expect("retrieve through the new active collector");
    let truth = wait_truth(PORT_A, |t| t.len() == 1);
    for f in [&f1, &f2, &f3] {
        until_equal(f, &truth, TAKEOVER).await;
    }

    eprintln!("cluster: the call parked during the takeover retrieved");
    for (i, f) in [&f1, &f2, &f3].into_iter().enumerate() {
        // The events reach the recording task just after the store changed.
        let uid = uid_of(f, "303");
        poll("the leave of call 303 among the events", TAKEOVER, || async {
            (each_change_once(f).get(&uid) == Some(&(1, 1))).then_some(())
        })
        .await;
        let per_call = each_change_once(f);
        for caller in ["301", "302", "401"] {
            let uid = uid_of(f, caller);
            assert_eq!(
                per_call.get(&uid).map(|c| c.0),
                Some(1),
                "frontend {}: call {caller} ({uid}) was reported parked once; its events: {:#?}",
                i + 1,
                f.events.lock().unwrap().iter().filter(|e| call_key(e.call()) == uid).collect::<Vec<_>>()
            );
        }
    }
    // Asterisk b stops: its collector says so, and the `nats://` frontends show server
    // b down (its calls the last known) instead of live; back, they are live again.
    eprintln!("cluster: every change reported once; stopping Asterisk b");
    sandbox::run("b", &["stop"]).expect("stop b");
    for f in [&f1, &f2] {
        link_until(f, 1, "server b down", |s| s != ConnectionState::LoggedIn).await;
    }
    eprintln!("cluster: server b shown down; starting Asterisk b");
    sandbox::run("b", &["start"]).expect("start b");
    sandbox::cli("b", "core waitfullybooted");
    for f in [&f1, &f2] {
        link_until(f, 1, "server b live again", |s| s == ConnectionState::LoggedIn).await;
        until_equal_on(f, 2, &[], TAKEOVER).await;
        board_shows(f, &[1, 0], TAKEOVER).await;
    }
    for f in [f1, f2, f3] {
        f.client.shutdown().await;
    }
    live::clean(PORT_A).await;
    live::clean(PORT_B).await;
    drop((c1, c2, cb, cluster));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The unique id of the call from `caller`, from the events the frontend saw.
fn uid_of(f: &Frontend, caller: &str) -> String {
    f.events
        .lock()
        .unwrap()
        .iter()
        .find(|e| e.call().caller_id_num() == caller)
        .map(|e| call_key(e.call()))
        .unwrap_or_else(|| panic!("no event of the call from {caller}: {:#?}", f.events.lock().unwrap()))
}

/// Waits (on the link's state, within 30 s) until link `link` of the frontend is in a
/// state `want` accepts.
async fn link_until(f: &Frontend, link: usize, what: &str, want: impl Fn(ConnectionState) -> bool) {
    use futures_util::StreamExt;
    let mut states = f.client.link_state(link).expect("the link").to_stream();
    let seen = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(s) = states.next().await {
            if want(s) {
                return;
            }
        }
    })
    .await;
    assert!(seen.is_ok(), "{what}: not within 30 s");
}

/// A dynamic lot (Asterisk makes it at the `Park`; no `Parkinglots` answer named it
/// before) reaches a frontend with its range: the frontend first has it from the
/// event, as a lot of unknown range with its call, then the collector's client lists
/// its lots again and the collector publishes the new lots, so the frontend's grid
/// gets the lot's five spaces. Ends with a restart of Asterisk a, also on failure:
/// Asterisk keeps a dynamic lot until it restarts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dynamic_lot_reaches_a_frontend_with_its_range() {
    tokio::time::timeout(Duration::from_secs(120), dynamic_lot_scenario())
        .await
        .expect("the dynamic lot scenario ends within 120 s");
}

async fn dynamic_lot_scenario() {
    let Some(bin) = nats::require() else { return };
    let _pbx = live::LOCK.lock().await;
    if sandbox::require("a").is_none() {
        return;
    }
    live::clean(PORT_A).await;
    let restart = sandbox::RestartOnDrop("a");
    let cluster = Cluster::start(&bin, 1, "").await;
    let dir = std::env::temp_dir().join(format!("ami-parking-collector-dynamic-{}", cluster.ports[0]));
    std::fs::create_dir_all(&dir).unwrap();
    let secret = secret_file(&dir);
    let url = cluster.url(0, "t1", "a");
    let mut c = collector(&format!("127.0.0.1:{PORT_A}"), &url, &secret, "d1", &[]);
    c.line("the collector active", Duration::from_secs(30), |l| l.contains("is now the active collector"))
        .await;
    let f = frontend(&url);
    f.client.wait_logged_in(Duration::from_secs(20)).await.expect("a snapshot from the collector");
    let key = ami_parking::LotKey::new(1, "overflow");
    poll("the frontend synced", TAKEOVER, || async { f.client.store().is_synced(1).then_some(()) }).await;
    assert!(
        f.client.store().lot_now(&key).is_none(),
        "Asterisk a has a lot `overflow` already: restart the sandbox (scripts/asterisk-sandbox restart)"
    );
    sandbox::park_dynamic(PORT_A, "5558001", "overflow");
    let truth = wait_truth(PORT_A, |t| t.len() == 1);
    assert_eq!(truth[0].0, "overflow", "Asterisk parked the call in the lot it made");
    until_equal(&f, &truth, TAKEOVER).await;
    // The collector's client learns the range; the frontend hears of it.
    let store = f.client.store().clone();
    // Within a heartbeat or two (a second each); under wait_state's own deadline.
    let learnt = tokio::time::timeout(
        Duration::from_secs(8),
        live::wait_state(&store, move |s| s.lot_now(&key).is_some_and(|l| l.range_known)),
    )
    .await;
    let lot = f.client.store().lot_now(&ami_parking::LotKey::new(1, "overflow"));
    assert!(learnt.is_ok(), "the frontend did not learn the dynamic lot's range within 8 s: {lot:?}");
    let lot = lot.unwrap();
    assert_eq!((lot.start_space, lot.end_space, lot.occupied), (901, 905, 1));
    let spaces: Vec<Option<u32>> = f
        .client
        .store()
        .lot_grid_now(&ami_parking::LotKey::new(1, "overflow"))
        .iter()
        .map(|c| c.as_ref().map(|c| c.parking_space))
        .collect();
    assert_eq!(spaces, [Some(901), None, None, None, None], "the frontend's grid has the lot's spaces");
    f.client.shutdown().await;
    drop((c, cluster));
    // Asterisk forgets the lot only when it restarts.
    sandbox::run("a", &["restart"]).expect("restart Asterisk a");
    std::mem::forget(restart);
    live::clean(PORT_A).await;
    let _ = std::fs::remove_dir_all(&dir);
}
