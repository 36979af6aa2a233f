//! From Asterisk's event to the changed cell, client side (issue 28, item 2): the demo
//! PBX writes each `ParkedCall` with Asterisk's `Timestamp` header, `ami-ws-bridge` (a
//! child process) follows it over AMI and serves the Leptos web example
//! (`examples/leptos-web/src/bin/web.rs`, wasm32, built by `scripts/leptos-web-demo
//! --build-only`) from its own origin; one headless Chromium page runs it, reading the
//! bridge's socket and rendering in wasm, and notes with a `MutationObserver` the
//! moment each cell shows a newly parked caller (`ami_parking_tests::pixel`, as the
//! board's `event_to_pixel`). The other viewers are plain sockets of the same token
//! reading every frame. The delay of a park is the cell's moment minus the event's
//! `Timestamp` (one machine, one clock): p50, p99 and the worst over at least
//! `--events` parks for each number of viewers. The example draws the `default` lot
//! as cells (its dashboard lists every lot's calls as rows), so the parks measured
//! are the demo's parks there.
//!
//! ```sh
//! cargo bench -p ami-ws-bridge --bench event_to_pixel_web              # 1, 10, 50 viewers, 1,000 parks each
//! cargo bench -p ami-ws-bridge --bench event_to_pixel_web -- --viewers 1 --events 200
//! cargo bench -p ami-ws-bridge --bench event_to_pixel_web -- --viewers 2 --cpu-profile /tmp/page
//! cargo bench -p ami-ws-bridge --bench event_to_pixel_web --profile dev -- --quick   # CI: the keys are produced
//! ```
//!
//! The page is built with the `wasm-release` profile (what `scripts/wasm-size`
//! measures: what a browser downloads), `--wasm-profile dev` under `--quick`. Needs
//! Debian's chromium and chromium-driver (`scripts/browser-tools`), the
//! wasm32-unknown-unknown target and the lockfile's wasm-bindgen CLI. Prints one JSON
//! object; the figures are in perf/README.md.

use ami_parking_tests::pixel::{epoch_ms, hear_parks, quantile, Browser, Parks, DEADLINE};
use ami_parking_tests::process::AppProcess;
use ami_parking_transport::demo::DemoPbx;
use futures_util::StreamExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const TOKEN: &str = "pixel-web-token-0123456789abcdef";

struct Args {
    viewers: Vec<usize>,
    events: usize,
    /// Changes a second the demo makes (about half of them parks).
    rate: f64,
    wasm_profile: String,
    /// Where to write the page's CPU profile of each step (`FILE-VIEWERS.cpuprofile`).
    cpu_profile: Option<String>,
}

fn args() -> Args {
    let mut a = Args {
        viewers: vec![1, 10, 50],
        events: 1000,
        rate: 20.0,
        wasm_profile: "wasm-release".into(),
        cpu_profile: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--viewers" => {
                a.viewers = value().split(',').map(|n| n.trim().parse().expect("--viewers 1,10,50")).collect()
            }
            "--events" => a.events = value().parse().expect("--events PARKS"),
            "--rate" => a.rate = value().parse().expect("--rate CHANGES_PER_S"),
            "--wasm-profile" => a.wasm_profile = value(),
            "--cpu-profile" => a.cpu_profile = Some(value()),
            "--quick" => {
                a = Args { viewers: vec![1, 3], events: 10, rate: 20.0, wasm_profile: "dev".into(), ..a };
            }
            "--bench" => {}
            other => panic!(
                "unknown argument {other}: --viewers N,N,.. --events PARKS --rate CHANGES_PER_S --wasm-profile NAME --cpu-profile FILE --quick"
            ),
        }
    }
    assert!(a.viewers.iter().all(|n| *n >= 1), "the browser's page is one of the viewers: --viewers >= 1");
    a
}

/// The web example's page (index.html, main.js, pkg/) built into `dir` with the
/// wasm profile `profile`, by the script a person uses to serve it.
fn build_page(dir: &Path, profile: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let status = Command::new(root.join("scripts/leptos-web-demo"))
        .current_dir(&root)
        // Its output is a log, not this benchmark's JSON.
        .stdout(std::io::stderr())
        .args(["--build-only", dir.to_str().expect("a UTF-8 temp dir"), "--profile", profile])
        .status()
        .expect("scripts/leptos-web-demo runs");
    assert!(status.success(), "scripts/leptos-web-demo --build-only failed: {status}");
}

/// A plain socket of the bridge reading every frame (a viewer whose page is not
/// measured); a `probe` also notes, for each live `ParkedCall` of the `default` lot
/// (the parks the page's delays are measured on), how long after its `Timestamp` the
/// frame arrived: the bridge's part of the delay, without the browser's.
async fn open_viewer(addr: &str, probe: Option<Probe>) -> tokio::task::JoinHandle<()> {
    let (ws, _) = async_tungstenite::tokio::connect_async(format!("ws://{addr}/?token={TOKEN}"))
        .await
        .expect("the bridge takes a viewer");
    tokio::spawn(async move {
        let (_, mut read) = ws.split();
        while let Some(Ok(m)) = read.next().await {
            let Some(probe) = &probe else { continue };
            let at = epoch_ms();
            let Ok(text) = m.to_text() else { continue };
            let Ok(frame) = serde_json::from_str::<serde_json::Value>(text) else { continue };
            let data = &frame["data"];
            let live = data["Event"] == "ParkedCall" && data.get("ActionID").is_none();
            if live && data["Parkinglot"] == "default" {
                if let Some(secs) = data["Timestamp"].as_str().and_then(|t| t.parse::<f64>().ok()) {
                    probe.lock().unwrap().push(at - secs * 1000.0);
                }
            }
        }
    })
}

/// The delays a probe socket noted, in milliseconds.
type Probe = std::sync::Arc<std::sync::Mutex<Vec<f64>>>;

/// Adds the bridge's part of the delay (what `probe` noted, then forgotten) to a
/// step's figures.
fn add_bridge_part(step: &mut serde_json::Value, probe: &Probe) {
    let mut bridge_ms = std::mem::take(&mut *probe.lock().unwrap());
    bridge_ms.sort_by(f64::total_cmp);
    step["bridge_frames"] = bridge_ms.len().into();
    step["bridge_p50_ms"] = quantile(&bridge_ms, 0.5).into();
    step["bridge_p99_ms"] = quantile(&bridge_ms, 0.99).into();
}

#[tokio::main]
async fn main() {
    let a = args();
    let dir: PathBuf = std::env::temp_dir().join(format!("ami-ws-bridge-pixel-{}", std::process::id()));
    let page = dir.join("web");
    build_page(&page, &a.wasm_profile);
    let tokens = dir.join("tokens");
    std::fs::write(&tokens, format!("{TOKEN} role=viewer\n")).unwrap();

    let demo = DemoPbx::start_with(a.rate * 60.0, true).await.expect("the demo PBX starts");
    let parks: Parks = Default::default();
    let listener = hear_parks(&demo.url(), parks.clone()).await;
    let upstream = format!("tcp://amiuser@{}", demo.addr());
    let most = a.viewers.iter().copied().max().unwrap_or(1).to_string();
    let args = [
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        &upstream,
        "--token-file",
        tokens.to_str().unwrap(),
        "--web-root",
        page.to_str().unwrap(),
        "--max-clients-per-token",
        &most,
    ];
    let mut bridge = AppProcess::spawn_with_env(
        env!("CARGO_BIN_EXE_ami-ws-bridge"),
        &args,
        &[("AMI_SECRET", "amisecret")],
    );
    let line = bridge.line("the bridge listening", DEADLINE, |l| l.contains("listening on ws://")).await;
    let addr =
        line.split("ws://").nth(1).and_then(|r| r.split_whitespace().next()).expect("ws://ADDR").to_owned();

    let browser = Browser::start().await;
    browser.driver().goto(format!("http://{addr}/#ws://{addr}/?token={TOKEN}")).await.unwrap();
    browser.observe_cells().await;

    let mut steps = Vec::new();
    for &n in &a.viewers {
        // The first plain socket is also a probe of the bridge's part of the delay.
        let probe = Probe::default();
        let mut sockets = Vec::new();
        for i in 1..n {
            sockets.push(open_viewer(&addr, (i == 1).then(|| probe.clone())).await);
        }
        // The example shows the default lot's cells (its dashboard lists every lot's
        // calls as rows): the demo's parks there are measured.
        if a.cpu_profile.is_some() {
            browser.start_cpu_profile(100).await;
        }
        let mut step = browser.delays(&parks, a.events, Some("default")).await;
        if let Some(file) = &a.cpu_profile {
            let profile = browser.stop_cpu_profile().await;
            let path = format!("{file}-{n}.cpuprofile");
            std::fs::write(&path, profile.to_string()).expect("the profile written");
            eprintln!("event_to_pixel_web: the page's CPU profile at {n} viewers in {path}");
        }
        for s in sockets {
            s.abort();
        }
        step["viewers"] = n.into();
        if n > 1 {
            add_bridge_part(&mut step, &probe);
        }
        eprintln!("event_to_pixel_web: {step}");
        steps.push(step);
    }
    let summary: serde_json::Map<String, serde_json::Value> =
        steps.iter().map(|s| (format!("web_p99_ms_{}_viewers", s["viewers"]), s["p99_ms"].clone())).collect();
    println!(
        "{}",
        serde_json::json!({
            "pbx": "demo", "client": "leptos-web (wasm) over ami-ws-bridge", "wasm_profile": a.wasm_profile,
            "rate_per_s": a.rate, "steps": steps, "summary": summary,
        })
    );
    drop(browser);
    listener.shutdown().await;
    bridge.signal("TERM");
    bridge.exit_within(DEADLINE).await;
    drop(demo);
    let _ = std::fs::remove_dir_all(&dir);
}
