//! Soak on the demo PBX (the reference model behind a loopback AMI port): the tokio
//! client and its store take R parking events a second for S seconds. Every change
//! the demo made is heard exactly once, the store ends equal to the demo's truth, and
//! the process's memory stays flat. Prints the figures.
//!
//! CI runs a minute at 2,000 events/s (debug build). The documented run:
//! `AMI_PARKING_SOAK_SECS=600 AMI_PARKING_SOAK_RATE=10000 cargo test --release -p ami-parking-tests --test transport_soak -- --nocapture`
//! (the sandbox soak is `tests/sandbox_load.rs` with `AMI_PARKING_LOAD_SECS=600`).

use ami_parking::futures_signals::signal::SignalExt;
use ami_parking::ParkingClient;
use ami_parking::ParkingStore;
use ami_parking_tests::measure::knob;
use ami_parking_tests::measure::rss_kib;
use ami_parking_transport::demo::DemoPbx;
use ami_parking_transport::{Client, ClientOptions};
use futures_util::StreamExt;
use std::collections::HashSet;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_pbx_at_full_rate_loses_nothing_and_memory_stays_flat() {
    let secs = knob("AMI_PARKING_SOAK_SECS", 60);
    let rate = knob("AMI_PARKING_SOAK_RATE", if cfg!(debug_assertions) { 2000 } else { 10_000 });
    let demo = DemoPbx::start(rate as f64 * 60.0).await.unwrap();
    demo.pause(true);
    let store = ParkingStore::default();
    let client = Client::connect_with_store(ClientOptions::new(demo.url().parse().unwrap()), store.clone());
    client.wait_logged_in(Duration::from_secs(10)).await.unwrap();
    client.get_parked_calls(None).await.unwrap();
    let made_before = demo.changes_made();
    let mut events = client.events();
    demo.pause(false);

    let start = Instant::now();
    let mut heard = 0u64;
    let mut seen: HashSet<(String, &'static str)> = HashSet::new();
    let mut duplicates = 0u64;
    let mut rss = Vec::new();
    let mut next_sample = start;
    while start.elapsed() < Duration::from_secs(secs) {
        if let Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(200), events.next()).await {
            if !matches!(e.kind(), "near_timeout" | "resync") {
                heard += 1;
                if !seen.insert((e.call().unique_id().to_string(), e.kind())) {
                    duplicates += 1;
                }
                // Keep the set small: a call's events are all within its lifetime.
                if seen.len() > 10_000 {
                    seen.clear();
                }
            }
        }
        if Instant::now() >= next_sample {
            rss.push(rss_kib(None));
            next_sample += Duration::from_secs(1);
        }
    }
    demo.pause(true);
    // Drain what is in flight, then the store must be the demo's truth.
    let made = demo.changes_made() - made_before;
    let drain = tokio::time::timeout(Duration::from_secs(30), async {
        while heard < made {
            if let Some(e) = events.next().await {
                if !matches!(e.kind(), "near_timeout" | "resync") {
                    heard += 1;
                }
            }
        }
    })
    .await;
    assert!(drain.is_ok(), "heard {heard} of the {made} changes the demo made (missed {})", events.missed());
    let truth = demo.truth();
    let mut mine: Vec<_> = store
        .parked_calls_now()
        .iter()
        .map(|c| (c.parking_lot.to_string(), c.parking_space, c.unique_id().to_string()))
        .collect();
    mine.sort();
    assert_eq!(mine, truth, "the store = the demo");
    assert_eq!((heard, duplicates, events.missed()), (made, 0, 0), "every change heard once");
    let third = rss.len() / 3;
    let (mid, last) = (*rss[third..2 * third].iter().max().unwrap(), *rss[2 * third..].iter().max().unwrap());
    println!(
        "soak: {made} changes in {secs} s ({:.0}/s, target {rate}/s) heard exactly once; RSS first third max {} KiB, middle {mid} KiB, last {last} KiB",
        made as f64 / secs as f64,
        rss[..third.max(1)].iter().max().unwrap()
    );
    assert!(last <= mid + mid / 5 + 8192, "memory grew: {rss:?}");
    let _ = client.connection_state().to_stream();
    client.shutdown().await;
}
