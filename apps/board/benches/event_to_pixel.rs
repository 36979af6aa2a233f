//! From Asterisk's event to the changed cell (issue 28, item 2): the demo PBX writes
//! each `ParkedCall` with Asterisk's `Timestamp` header (the moment it is written),
//! `parkboard` (a child process) follows it over AMI, one headless Chromium page of
//! the board records, with a `MutationObserver`, the moment each cell's DOM shows a
//! newly parked caller, and the other viewers are plain liveview sockets reading
//! every frame (as in `viewer_cost`). The delay of each park is the cell's moment
//! minus the event's `Timestamp` (one machine, one clock); p50, p99 and the worst over
//! at least `--events` parks for each number of viewers.
//!
//! ```sh
//! cargo bench -p parkboard --bench event_to_pixel                 # 1, 10, 50 viewers, 1,000 parks each
//! cargo bench -p parkboard --bench event_to_pixel -- --viewers 1 --events 200 --rate 40
//! cargo bench -p parkboard --bench event_to_pixel -- --sandbox   # the real Asterisk (scripts/asterisk-sandbox start)
//! cargo bench -p parkboard --bench event_to_pixel --profile dev -- --quick   # CI: the keys are produced
//! ```
//!
//! With `--sandbox` the board follows the real Asterisk of the sandbox instead, and
//! the parks are real calls parked through its dialplan into the `load` lot (hung up
//! at the end); the sandbox does not write `Timestamp`s, so a park's moment is when a
//! second AMI session of this program read it (on loopback, the same moment the
//! board's session can first read it).
//!
//! Needs Debian's chromium and chromium-driver (`scripts/browser-tools`). Prints one
//! JSON object; the figures are in perf/README.md.

mod common;

use ami_parking_tests::pixel::{hear_parks, Browser, Parks};
use ami_parking_tests::sandbox;
use ami_parking_transport::demo::DemoPbx;
use common::{RunningBoard, PAGES_PER_USER, PASSWORD};
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;
use thirtyfour::prelude::*;

struct Args {
    viewers: Vec<usize>,
    events: usize,
    /// Changes a second the demo makes (about half of them parks); with `sandbox`,
    /// parks a second.
    rate: f64,
    sandbox: bool,
}

fn args() -> Args {
    let mut a = Args { viewers: vec![1, 10, 50], events: 1000, rate: 20.0, sandbox: false };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--viewers" => {
                a.viewers = value().split(',').map(|n| n.trim().parse().expect("--viewers 1,10,50")).collect()
            }
            "--events" => a.events = value().parse().expect("--events PARKS"),
            "--rate" => a.rate = value().parse().expect("--rate CHANGES_PER_S"),
            "--quick" => a = Args { viewers: vec![1, 3], events: 10, rate: 20.0, sandbox: a.sandbox },
            "--sandbox" => {
                a.sandbox = true;
                a.rate = a.rate.min(5.0);
                a.events = a.events.min(200);
                a.viewers = vec![1];
            }
            "--bench" => {}
            other => panic!(
                "unknown argument {other}: --viewers N,N,.. --events PARKS --rate CHANGES_PER_S --quick"
            ),
        }
    }
    assert!(a.viewers.iter().all(|n| *n >= 1), "the browser's page is one of the viewers: --viewers >= 1");
    a
}

/// Logs in as `user` on the board's login page, lands on the board, and starts
/// noting what its cells show.
async fn open_board(browser: &Browser, board: &RunningBoard, user: &str) {
    let d = browser.driver();
    d.goto(format!("http://{}/login", board.addr)).await.unwrap();
    d.find(By::Name("user")).await.unwrap().send_keys(user).await.unwrap();
    d.find(By::Name("password")).await.unwrap().send_keys(PASSWORD).await.unwrap();
    d.find(By::Css("form button, form input[type=submit]")).await.unwrap().click().await.unwrap();
    browser.observe_cells().await;
}

/// Parks a real call into the sandbox's `load` lot `rate` times a second until
/// aborted (each through the dialplan, as `ami_parking_tests::sandbox` does).
fn park_on_the_sandbox(rate: f64) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
        for n in 0u32.. {
            every.tick().await;
            let caller = format!("55570{n:05}");
            tokio::task::spawn_blocking(move || sandbox::park_dialplan(sandbox::PORT_A, &caller, "load"));
        }
    })
}

/// One step: `n` viewers (the browser's page and `n - 1` sockets) until `events` parks
/// reached the page; its figures.
async fn measure(
    board: &RunningBoard,
    browser: &Browser,
    parks: &Parks,
    n: usize,
    events: usize,
) -> serde_json::Value {
    let bytes = Arc::new(AtomicU64::new(0));
    let sockets = board.open_viewers(n - 1, &bytes).await;
    let mut step = browser.delays(parks, events, None).await;
    for s in &sockets {
        s.abort();
    }
    common::wait_metric(board.metrics, "parkboard_viewers", 1.0).await;
    step["viewers"] = n.into();
    step
}

#[tokio::main]
async fn main() {
    let a = args();
    // The PBX: the demo (with Asterisk's Timestamps), or the sandbox's real Asterisk.
    let (demo, pbx_url) = if a.sandbox {
        sandbox::require("a").expect("the sandbox runs: scripts/asterisk-sandbox start");
        ami_parking_tests::live::clean(sandbox::PORT_A).await;
        (None, format!("tcp://amiuser:amisecret@127.0.0.1:{}", sandbox::PORT_A))
    } else {
        let demo = DemoPbx::start_with(a.rate * 60.0, true).await.expect("the demo PBX starts");
        let url = demo.url();
        (Some(demo), url)
    };
    let parks: Parks = Default::default();
    let listener = hear_parks(&pbx_url, parks.clone()).await;
    let board_url = pbx_url.replace("amiuser:amisecret@", "amiuser@");
    let most = a.viewers.iter().copied().max().unwrap_or(1);
    let board = RunningBoard::start(most.div_ceil(PAGES_PER_USER), &[(&board_url, "amisecret")], &[]).await;
    let parker = a.sandbox.then(|| park_on_the_sandbox(a.rate));
    let browser = Browser::start().await;
    // The browser's page is the last user's (the sockets fill the users in order).
    let page_user = format!("viewer{}", (most - 1) / PAGES_PER_USER);
    open_board(&browser, &board, &page_user).await;

    let mut steps = Vec::new();
    for &n in &a.viewers {
        steps.push(measure(&board, &browser, &parks, n, a.events).await);
        eprintln!("event_to_pixel: {}", steps.last().unwrap());
    }
    let by_key: HashMap<String, serde_json::Value> = steps
        .iter()
        .map(|s| (format!("board_p99_ms_{}_viewers", s["viewers"]), s["p99_ms"].clone()))
        .collect();
    let pbx = if a.sandbox { "sandbox" } else { "demo" };
    println!(
        "{}",
        serde_json::json!({ "pbx": pbx, "rate_per_s": a.rate, "steps": steps, "summary": by_key })
    );
    if let Some(p) = parker {
        p.abort();
    }
    drop(browser);
    listener.shutdown().await;
    board.stop().await;
    if a.sandbox {
        ami_parking_tests::live::clean(sandbox::PORT_A).await;
    }
    drop(demo);
}
