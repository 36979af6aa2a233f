//! The collector on the real sandbox Asterisk, publishing to a real three-node
//! `nats-server` cluster; frontends are `nats://` clients of the transport. Two
//! collectors elect one active; the active one and a NATS node are killed with
//! SIGKILL while calls are parked and retrieved: every frontend's store equals
//! Asterisk's own list within 5 s, and every change is reported to it once.

mod common;

use ami_parking::ParkingClient;
use ami_parking_tests::live;
use ami_parking_tests::nats::{self, Cluster};
use ami_parking_tests::sandbox::{self, parked_truth, wait_truth, PORT_A};
use common::*;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frontends_follow_asterisk_through_nats_when_the_active_collector_and_a_node_are_killed() {
    let Some(bin) = nats::require() else { return };
    let _pbx = live::LOCK.lock().await;
    if sandbox::require("a").is_none() {
        return;
    }
    live::clean(PORT_A).await;
    let mut cluster = Cluster::start(&bin, 3, "").await;
    let dir = std::env::temp_dir().join(format!("ami-parking-collector-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let secret = secret_file(&dir);
    let ami = format!("127.0.0.1:{PORT_A}");
    let mut c1 = collector(&ami, &cluster.url(0, "t1", "a"), &secret, "c1", ELECTED);
    let mut c2 = collector(&ami, &cluster.url(1, "t1", "a"), &secret, "c2", ELECTED);
    let active_line = |l: &str| l.contains("is now the active collector");
    let first_active = tokio::select! {
        _ = c1.line("an active collector", Duration::from_secs(30), active_line) => 1,
        _ = c2.line("an active collector", Duration::from_secs(30), active_line) => 2,
    };
    let f1 = frontend(&cluster.url(0, "t1", "a"));
    let f2 = frontend(&cluster.url(2, "t1", "a"));
    for f in [&f1, &f2] {
        f.client.wait_logged_in(Duration::from_secs(20)).await.expect("a snapshot from the collector");
    }
    until_equal(&f1, &[], TAKEOVER).await;

    // Park two calls on Asterisk; both frontends see them.
    sandbox::park_dialplan(PORT_A, "301", "default");
    sandbox::park_dialplan(PORT_A, "302", "default");
    let truth = wait_truth(PORT_A, |t| t.len() == 2);
    for f in [&f1, &f2] {
        until_equal(f, &truth, TAKEOVER).await;
    }
    // Retrieve one through NATS (the collector's action), from frontend 1.
    let call = f1.client.store().parked_calls_now()[0].clone();
    f1.client
        .retrieve_call(Some(&call.parking_lot), call.parking_space, "Local/s@hold")
        .await
        .expect("retrieve over NATS");
    let truth = wait_truth(PORT_A, |t| t.len() == 1);
    for f in [&f1, &f2] {
        until_equal(f, &truth, TAKEOVER).await;
    }

    // kill -9 the active collector and the NATS node frontend 1 and collector 1 use,
    // then change Asterisk while nobody is active.
    let killed_at = Instant::now();
    let active = if first_active == 1 { &mut c1 } else { &mut c2 };
    active.signal("KILL");
    cluster.kill9(0).await;
    sandbox::park_dialplan(PORT_A, "303", "default");
    let truth = wait_truth(PORT_A, |t| t.len() == 2);
    let mut worst = Duration::ZERO;
    for f in [&f1, &f2] {
        until_equal(f, &truth, TAKEOVER.saturating_sub(killed_at.elapsed())).await;
        worst = worst.max(killed_at.elapsed());
    }
    eprintln!("takeover: every frontend equal to Asterisk {worst:?} after the kill -9");
    // The standby is now active: a park through it shows on both.
    let parked =
        f2.client.park_call(&truth_channel(&f2, "303"), ami_parking::Park::default().lot("default")).await;
    // Parking a parked call is a move: accepted or refused, the stores must follow.
    let _ = parked;
    let truth = parked_truth(PORT_A);
    for f in [&f1, &f2] {
        until_equal(f, &truth, TAKEOVER).await;
    }

    for f in [&f1, &f2] {
        let per_call = each_change_once(f);
        for caller in ["301", "302"] {
            let uid = uid_of(f, caller);
            assert_eq!(
                per_call.get(&uid).map(|c| c.0),
                Some(1),
                "call {caller} ({uid}) was reported parked once"
            );
        }
    }
    for f in [f1, f2] {
        f.client.shutdown().await;
    }
    live::clean(PORT_A).await;
    drop(c1);
    drop(c2);
    drop(cluster);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The channel of the call from `caller` in the frontend's store.
fn truth_channel(f: &Frontend, caller: &str) -> String {
    f.client
        .store()
        .parked_calls_now()
        .iter()
        .find(|c| c.caller_id_num() == caller)
        .map(|c| c.channel().to_owned())
        .unwrap_or_else(|| panic!("no call from {caller} in {:?}", f.client.store().parked_calls_now()))
}

/// The unique id of the call from `caller`, from the events the frontend saw.
fn uid_of(f: &Frontend, caller: &str) -> String {
    f.events
        .lock()
        .unwrap()
        .iter()
        .find(|e| e.call().caller_id_num() == caller)
        .map(|e| e.call().unique_id().to_owned())
        .unwrap_or_else(|| panic!("no event of the call from {caller}"))
}
