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

use ami_parking_tests::sandbox;
use ami_parking_transport::demo::DemoPbx;
use ami_parking_transport::{Client, ClientOptions};
use common::{RunningBoard, DEADLINE, PAGES_PER_USER, PASSWORD};
use futures_util::StreamExt;
use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use thirtyfour::common::capabilities::chromium::ChromiumLikeCapabilities;
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

/// One park as the demo wrote it: where (`lot space`), the caller's number, and its
/// `Timestamp` in Unix milliseconds.
#[derive(Debug, Clone)]
struct Park {
    place: String,
    caller: String,
    at_ms: f64,
}

/// Records every `ParkedCall` the PBX writes (a client of its own, reading the
/// events as they are on the wire): at its `Timestamp`, or when read without one.
async fn hear_parks(demo_url: &str, parks: Arc<Mutex<Vec<Park>>>) -> Client {
    let mut o = ClientOptions::new(demo_url.parse().unwrap());
    o.forward_events = true;
    let client = Client::connect(o);
    let mut messages = client.messages();
    client.wait_logged_in(DEADLINE).await.expect("the demo takes the listener's login");
    tokio::spawn(async move {
        while let Some((_, m)) = messages.next().await {
            if !m.is("Event", "ParkedCall") {
                continue;
            }
            let get = |k: &str| m.get_str(k).map(|v| v.into_owned()).unwrap_or_default();
            let secs = get("Timestamp").parse::<f64>().unwrap_or_else(|_| epoch_ms() / 1000.0);
            let place = format!("{} {}", get("Parkinglot"), get("ParkingSpace"));
            parks.lock().unwrap().push(Park {
                place,
                caller: get("ParkeeCallerIDNum"),
                at_ms: secs * 1000.0,
            });
        }
    });
    client
}

/// Notes, in the page, the moment each cell first shows a caller number it did not
/// show before: `window.__seen` holds `[lot space, number, epoch ms]`.
const OBSERVER: &str = r#"
window.__seen = [];
const last = new Map();
const scan = () => {
  const t = performance.timeOrigin + performance.now();
  for (const cell of document.querySelectorAll('[data-space]')) {
    const lot = cell.closest('[data-lot]');
    const key = (lot ? lot.dataset.lot : '') + ' ' + cell.dataset.space;
    const num = cell.querySelector('.caller-number');
    const text = num ? num.textContent.trim() : '';
    if (last.get(key) !== text) {
      last.set(key, text);
      if (text) window.__seen.push([key, text, t]);
    }
  }
};
new MutationObserver(scan).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
scan();
"#;

/// chromedriver on a free port and a headless Chromium session through it; both end
/// when this is dropped (Chromium found by its own profile directory).
struct Browser {
    driver: Option<WebDriver>,
    chromedriver: Child,
    profile: std::path::PathBuf,
}

impl Browser {
    async fn start() -> Browser {
        let port = common::free_port();
        let chromedriver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("chromedriver cannot start ({e}): run scripts/browser-tools"));
        let profile = std::env::temp_dir().join(format!("parkboard-pixel-chromium-{}", std::process::id()));
        let mut caps = DesiredCapabilities::chrome();
        caps.set_binary("/usr/bin/chromium").unwrap();
        for arg in ami_parking_tests::chromium::args(&profile) {
            caps.add_arg(&arg).unwrap();
        }
        let until = Instant::now() + DEADLINE;
        let driver = loop {
            match WebDriver::new(format!("http://127.0.0.1:{port}"), caps.clone()).await {
                Ok(d) => break d,
                Err(e) if Instant::now() > until => panic!("chromedriver does not answer: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        };
        Browser { driver: Some(driver), chromedriver, profile }
    }

    fn driver(&self) -> &WebDriver {
        self.driver.as_ref().expect("the session is open")
    }

    /// Logs in as `user` on the board's login page, lands on the board, and starts
    /// the observer.
    async fn open_board(&self, board: &RunningBoard, user: &str) {
        let d = self.driver();
        d.goto(format!("http://{}/login", board.addr)).await.unwrap();
        d.find(By::Name("user")).await.unwrap().send_keys(user).await.unwrap();
        d.find(By::Name("password")).await.unwrap().send_keys(PASSWORD).await.unwrap();
        d.find(By::Css("form button, form input[type=submit]")).await.unwrap().click().await.unwrap();
        let until = Instant::now() + DEADLINE;
        while d.find(By::Css("[data-space]")).await.is_err() {
            assert!(Instant::now() < until, "the board's cells did not show after the login");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        d.execute(OBSERVER, Vec::new()).await.unwrap();
    }

    /// What the observer noted since the last call (and forgets it).
    async fn take_seen(&self) -> Vec<(String, String, f64)> {
        let v = self.driver().execute("const s = window.__seen; window.__seen = []; return s;", Vec::new());
        let v = v.await.unwrap().json().clone();
        v.as_array()
            .map(|rows| {
                rows.iter()
                    .filter_map(|r| {
                        Some((r[0].as_str()?.to_owned(), r[1].as_str()?.to_owned(), r[2].as_f64()?))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        drop(self.driver.take());
        let _ = self.chromedriver.kill();
        let _ = self.chromedriver.wait();
        let _ = Command::new("pkill").arg("-f").arg(self.profile.as_os_str()).status();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Now, in Unix milliseconds.
fn epoch_ms() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64() * 1000.0
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

/// The `q` quantile of sorted `v`.
fn quantile(v: &[f64], q: f64) -> f64 {
    v[((v.len() as f64 - 1.0) * q).round() as usize]
}

impl Park {
    /// Where in `seen` (the page's notes) its cell first showed its caller after it
    /// was written.
    fn shown_in(&self, seen: &[(String, String, f64)]) -> Option<usize> {
        seen.iter().position(|(place, caller, t)| {
            *place == self.place && *caller == self.caller && *t >= self.at_ms - 1.0
        })
    }
}

/// One step: `n` viewers (the browser's page and `n - 1` sockets) until `events` parks
/// reached the page; its figures.
async fn measure(
    board: &RunningBoard,
    browser: &Browser,
    parks: &Mutex<Vec<Park>>,
    n: usize,
    events: usize,
) -> serde_json::Value {
    let bytes = Arc::new(AtomicU64::new(0));
    let sockets = board.open_viewers(n - 1, &bytes).await;
    browser.take_seen().await;
    parks.lock().unwrap().clear();
    let started = Instant::now();
    let mut delays = Vec::new();
    let mut missed = 0usize;
    let mut seen: Vec<(String, String, f64)> = Vec::new();
    while delays.len() < events {
        assert!(
            started.elapsed() < DEADLINE * 20,
            "{} of {events} parks seen on the page in time",
            delays.len()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        seen.extend(browser.take_seen().await);
        // A park not on the page 5 s after it was written is missed (another change of
        // the cell came first: the demo retrieved it at once).
        let now_ms = epoch_ms();
        let ready: Vec<Park> = {
            let mut p = parks.lock().unwrap();
            let (done, wait): (Vec<Park>, Vec<Park>) =
                p.drain(..).partition(|k| now_ms - k.at_ms > 5000.0 || k.shown_in(&seen).is_some());
            *p = wait;
            done
        };
        for k in ready {
            match k.shown_in(&seen) {
                Some(i) => delays.push(seen.remove(i).2 - k.at_ms),
                None => missed += 1,
            }
        }
    }
    for s in &sockets {
        s.abort();
    }
    common::wait_metric(board.metrics, "parkboard_viewers", 1.0).await;
    delays.sort_by(f64::total_cmp);
    serde_json::json!({
        "viewers": n,
        "parks": delays.len(),
        "missed": missed,
        "p50_ms": quantile(&delays, 0.5),
        "p99_ms": quantile(&delays, 0.99),
        "max_ms": delays.last().copied().unwrap_or(0.0),
        "seconds": started.elapsed().as_secs_f64(),
    })
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
    let parks = Arc::new(Mutex::new(Vec::new()));
    let listener = hear_parks(&pbx_url, parks.clone()).await;
    let board_url = pbx_url.replace("amiuser:amisecret@", "amiuser@");
    let most = a.viewers.iter().copied().max().unwrap_or(1);
    let board = RunningBoard::start(most.div_ceil(PAGES_PER_USER), &[(&board_url, "amisecret")], &[]).await;
    let parker = a.sandbox.then(|| park_on_the_sandbox(a.rate));
    let browser = Browser::start().await;
    // The browser's page is the last user's (the sockets fill the users in order).
    let page_user = format!("viewer{}", (most - 1) / PAGES_PER_USER);
    browser.open_board(&board, &page_user).await;

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
