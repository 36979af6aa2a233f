//! What each viewer of the board costs its server (issue 28, item 3): `parkboard` runs
//! as a child process on the embedded demo PBX at a fixed rate of parking events, and
//! this program opens 0, 100 and 500 live pages on it as plain liveview sockets (no
//! browser: each reads every frame the board sends, as a page would), logged in as
//! viewers, spread over loopback addresses (the board takes at most 256 connections
//! from one address and 16 pages per user). For each count it reads the board's RSS
//! and CPU time from `/proc` over a window and the events applied from its metrics,
//! then closes the pages and reads the RSS again once it stops falling (what leaving
//! gives back).
//!
//! ```sh
//! cargo bench -p parkboard --bench viewer_cost                  # 0, 100, 500 viewers, 100 events/s
//! cargo bench -p parkboard --bench viewer_cost -- --viewers 0,50 --rate 20 --secs 10
//! cargo bench -p parkboard --bench viewer_cost -- --viewers 0,100 --lot vip     # pages of one lot
//! cargo bench -p parkboard --bench viewer_cost -- --viewers 0,100 --lot none    # pages of no lot
//! cargo bench -p parkboard --bench viewer_cost --profile dev -- --quick   # CI: the keys are produced
//! ```
//!
//! Prints one JSON object; the figures are in perf/README.md.

mod common;

use common::{metric, usage, wait_metric, RunningBoard, PAGES_PER_USER};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Args {
    viewers: Vec<usize>,
    rate: f64,
    secs: u64,
    settle: u64,
    /// The one lot the viewers see (`None`: every lot; a lot no server has: none).
    lot: Option<String>,
}

fn args() -> Args {
    let mut a = Args { viewers: vec![0, 100, 500], rate: 100.0, secs: 20, settle: 5, lot: None };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--viewers" => {
                a.viewers =
                    value().split(',').map(|n| n.trim().parse().expect("--viewers 0,100,500")).collect()
            }
            "--rate" => a.rate = value().parse().expect("--rate EVENTS_PER_S"),
            "--secs" => a.secs = value().parse().expect("--secs SECONDS"),
            "--lot" => a.lot = Some(value()),
            "--quick" => a = Args { viewers: vec![0, 5], rate: 20.0, secs: 2, settle: 1, lot: a.lot.take() },
            // cargo bench passes --bench; anything else is a mistake worth saying.
            "--bench" => {}
            other => {
                panic!("unknown argument {other}: --viewers N,N,.. --rate EVENTS_PER_S --secs S --lot NAME --quick")
            }
        }
    }
    a
}

/// The board's RSS once it stops falling: the board's allocator gives freed pages back
/// to the system over its decay time (jemalloc's, 10 s, in steps a few seconds
/// apart), so this reads it every half second until it has not fallen for 12 s, for
/// at most 45 s.
async fn settled_rss(pid: u32) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(45);
    let (mut low, mut since) = (usage(pid).0, Instant::now());
    while Instant::now() < deadline && since.elapsed() < Duration::from_secs(12) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let rss = usage(pid).0;
        // Falling by more than 64 KiB is still falling.
        if rss + 64 < low {
            since = Instant::now();
        }
        low = low.min(rss);
    }
    low
}

#[tokio::main]
async fn main() {
    let a = args();
    let most = a.viewers.iter().copied().max().unwrap_or(0);
    let users = most.div_ceil(PAGES_PER_USER).max(1);
    let rate_per_min = format!("{}", a.rate * 60.0);
    let board =
        RunningBoard::start_seeing(users, a.lot.as_deref(), &[], &["--demo-rate", &rate_per_min]).await;
    let (pid, metrics) = (board.pid(), board.metrics);

    let mut steps = Vec::new();
    for &n in &a.viewers {
        let bytes = Arc::new(AtomicU64::new(0));
        let pages = board.open_viewers(n, &bytes).await;
        tokio::time::sleep(Duration::from_secs(a.settle)).await;
        let renders = metric(metrics, "parkboard_shared_renders").await;
        let ev0 = metric(metrics, "parkboard_events_applied_total").await;
        let ((_, cpu0), b0, t0) = (usage(pid), bytes.load(Ordering::Relaxed), Instant::now());
        tokio::time::sleep(Duration::from_secs(a.secs)).await;
        let ev1 = metric(metrics, "parkboard_events_applied_total").await;
        let ((rss, cpu1), b1, t1) = (usage(pid), bytes.load(Ordering::Relaxed), Instant::now());
        let (events, cpu, wall) = (ev1 - ev0, (cpu1 - cpu0).as_secs_f64(), (t1 - t0).as_secs_f64());
        for p in &pages {
            p.abort();
        }
        drop(pages);
        wait_metric(metrics, "parkboard_viewers", 0.0).await;
        tokio::time::sleep(Duration::from_secs(a.settle)).await;
        let rss_after = settled_rss(pid).await;
        steps.push(serde_json::json!({
            "viewers": n,
            "users": n.div_ceil(PAGES_PER_USER),
            "shared_renders": renders,
            "rss_kib": rss,
            "rss_after_leaving_kib": rss_after,
            "events": events,
            "events_per_s": events / wall,
            "cpu_percent": 100.0 * cpu / wall,
            "cpu_us_per_event": if events > 0.0 { 1e6 * cpu / events } else { 0.0 },
            "bytes_to_viewers_per_s": (b1 - b0) as f64 / wall,
        }));
    }
    // Per viewer: against the step without viewers (or the smallest count measured).
    let base = steps.iter().min_by_key(|s| s["viewers"].as_u64()).cloned().unwrap_or_default();
    let per_viewer: Vec<_> = steps
        .iter()
        .filter(|s| s["viewers"].as_u64() > base["viewers"].as_u64())
        .map(|s| {
            let n = (s["viewers"].as_u64().unwrap() - base["viewers"].as_u64().unwrap()) as f64;
            let f = |k: &str| s[k].as_f64().unwrap_or(0.0) - base[k].as_f64().unwrap_or(0.0);
            serde_json::json!({
                "viewers": s["viewers"],
                "rss_kib_per_viewer": f("rss_kib") / n,
                "cpu_us_per_viewer_per_event": f("cpu_us_per_event") / n,
                "rss_kept_after_leaving_kib": s["rss_after_leaving_kib"].as_f64().unwrap_or(0.0)
                    - base["rss_after_leaving_kib"].as_f64().unwrap_or(0.0),
            })
        })
        .collect();
    let report = serde_json::json!({
        "rate_events_per_s": a.rate,
        "lot": a.lot,
        "window_s": a.secs,
        "steps": steps,
        "per_viewer": per_viewer,
    });
    println!("{report}");
    board.stop().await;
}
