//! From Asterisk's event to the changed cell in a real Chromium (issue 28): what the
//! board's benchmark (`apps/board/benches/event_to_pixel.rs`, server-side rendering)
//! and the bridge's (`apps/bridge/benches/event_to_pixel_web.rs`, the Leptos web
//! example in wasm) share. A listener notes each `ParkedCall` the PBX writes with its
//! `Timestamp`; a page notes, with a `MutationObserver`, the moment each cell
//! (`[data-space]` inside `[data-lot]`, its caller in `.caller-number`) first shows a
//! caller; the delay of a park is the second minus the first (one machine, one
//! clock). Built with the `browser` feature.

use crate::chromium;
use ami_parking_transport::{Client, ClientOptions};
use futures_util::StreamExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use thirtyfour::common::capabilities::chromium::ChromiumLikeCapabilities;
use thirtyfour::prelude::*;

/// How long a browser or a server may take to answer.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// A park not on the page this long after it was written is missed (the cell changed
/// again first: the demo retrieved it at once).
const MISSED_AFTER_MS: f64 = 5000.0;

/// One park as the PBX wrote it: where (`lot space`), the caller's number, and its
/// `Timestamp` in Unix milliseconds.
#[derive(Debug, Clone)]
pub struct Park {
    /// `Parkinglot ParkingSpace`, as the observer keys a cell.
    pub place: String,
    /// `ParkeeCallerIDNum`.
    pub caller: String,
    /// Its `Timestamp` (or when it was read, without one), Unix milliseconds.
    pub at_ms: f64,
}

impl Park {
    /// Where in `seen` (the page's notes) its cell first showed its caller after it
    /// was written.
    fn shown_in(&self, seen: &[Seen]) -> Option<usize> {
        seen.iter()
            .position(|s| s.place == self.place && s.caller == self.caller && s.at_ms >= self.at_ms - 1.0)
    }
}

/// A cell the page saw show a caller: where, who, when (Unix milliseconds).
#[derive(Debug, Clone)]
pub struct Seen {
    place: String,
    caller: String,
    at_ms: f64,
}

/// The parks a listener heard and the measure has not matched yet.
pub type Parks = Arc<Mutex<Vec<Park>>>;

/// Records every `ParkedCall` the PBX at `pbx_url` writes (a client of its own,
/// reading the events as they are on the wire) into `parks`: at its `Timestamp`, or
/// when read without one.
pub async fn hear_parks(pbx_url: &str, parks: Parks) -> Client {
    let mut o = ClientOptions::new(pbx_url.parse().expect("an AMI URL"));
    o.forward_events = true;
    let client = Client::connect(o);
    let mut messages = client.messages();
    client.wait_logged_in(DEADLINE).await.expect("the PBX takes the listener's login");
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
pub struct Browser {
    driver: Option<WebDriver>,
    chromedriver: Child,
    /// Chromium's profile and temporary files; ends its processes when dropped.
    _session: chromium::Session,
}

impl Browser {
    /// Starts chromedriver and a session (`scripts/browser-tools` installs both).
    pub async fn start() -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let session = chromium::Session::new("pixel-chromium");
        let chromedriver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .env("TMPDIR", session.tmp())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("chromedriver cannot start ({e}): run scripts/browser-tools"));
        let mut caps = DesiredCapabilities::chrome();
        caps.set_binary("/usr/bin/chromium").unwrap();
        for arg in session.args() {
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
        Browser { driver: Some(driver), chromedriver, _session: session }
    }

    /// The WebDriver session (to log in, click, read).
    pub fn driver(&self) -> &WebDriver {
        self.driver.as_ref().expect("the session is open")
    }

    /// Starts the page's CPU profiler (Chromium's `Profiler` domain: samples of the
    /// page's main thread, JavaScript and wasm, every `interval_us`).
    pub async fn start_cpu_profile(&self, interval_us: u32) {
        let cdp = self.driver().cdp();
        let none = serde_json::json!({});
        cdp.send_raw("Profiler.enable", &none).await.expect("Profiler.enable");
        let every = serde_json::json!({ "interval": interval_us });
        cdp.send_raw("Profiler.setSamplingInterval", &every).await.expect("the interval");
        cdp.send_raw("Profiler.start", &none).await.expect("Profiler.start");
    }

    /// Stops the profiler: the profile, as Chromium's DevTools read it (a
    /// `.cpuprofile`).
    pub async fn stop_cpu_profile(&self) -> serde_json::Value {
        let cdp = self.driver().cdp();
        let mut r = cdp.send_raw("Profiler.stop", serde_json::json!({})).await.expect("Profiler.stop");
        r["profile"].take()
    }

    /// Waits until the page shows a cell, then starts noting what the cells show.
    pub async fn observe_cells(&self) {
        let d = self.driver();
        let until = Instant::now() + DEADLINE;
        while d.find(By::Css("[data-space]")).await.is_err() {
            assert!(Instant::now() < until, "the page's cells did not show in {DEADLINE:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        d.execute(OBSERVER, Vec::new()).await.unwrap();
    }

    /// What the observer noted since the last call (and forgets it).
    async fn take_seen(&self) -> Vec<Seen> {
        let v = self.driver().execute("const s = window.__seen; window.__seen = []; return s;", Vec::new());
        let v = v.await.unwrap().json().clone();
        v.as_array()
            .map(|rows| {
                rows.iter()
                    .filter_map(|r| {
                        Some(Seen {
                            place: r[0].as_str()?.to_owned(),
                            caller: r[1].as_str()?.to_owned(),
                            at_ms: r[2].as_f64()?,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Forgets what was heard and seen so far, then matches parks with their cells
    /// until `events` parks reached the page: the delays' p50, p99 and worst, and how
    /// many parks never showed (their cell changed again before the page drew it).
    /// With `only_lot`, parks of other lots are passed over (a page that shows that
    /// lot's cells only).
    pub async fn delays(&self, parks: &Parks, events: usize, only_lot: Option<&str>) -> serde_json::Value {
        self.take_seen().await;
        parks.lock().unwrap().clear();
        let started = Instant::now();
        let mut delays = Vec::new();
        let mut missed = 0usize;
        let mut missed_by_lot: std::collections::BTreeMap<String, usize> = Default::default();
        let mut seen: Vec<Seen> = Vec::new();
        while delays.len() < events {
            assert!(
                started.elapsed() < DEADLINE * 20,
                "{} of {events} parks seen on the page in time",
                delays.len()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
            seen.extend(self.take_seen().await);
            let now_ms = epoch_ms();
            let ready: Vec<Park> = {
                let mut p = parks.lock().unwrap();
                let (done, wait): (Vec<Park>, Vec<Park>) = p
                    .drain(..)
                    .partition(|k| now_ms - k.at_ms > MISSED_AFTER_MS || k.shown_in(&seen).is_some());
                *p = wait;
                done
            };
            let shown =
                |k: &Park| only_lot.is_none_or(|lot| k.place.rsplit_once(' ').is_some_and(|(l, _)| l == lot));
            for k in ready.into_iter().filter(shown) {
                match k.shown_in(&seen) {
                    Some(i) => delays.push(seen.remove(i).at_ms - k.at_ms),
                    None => {
                        missed += 1;
                        let lot = k.place.rsplit_once(' ').map_or(&*k.place, |(lot, _)| lot);
                        *missed_by_lot.entry(lot.to_owned()).or_default() += 1;
                    }
                }
            }
        }
        delays.sort_by(f64::total_cmp);
        serde_json::json!({
            "parks": delays.len(),
            "missed": missed,
            "missed_by_lot": missed_by_lot,
            "p50_ms": quantile(&delays, 0.5),
            "p99_ms": quantile(&delays, 0.99),
            "max_ms": delays.last().copied().unwrap_or(0.0),
            "seconds": started.elapsed().as_secs_f64(),
        })
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        drop(self.driver.take());
        let _ = self.chromedriver.kill();
        let _ = self.chromedriver.wait();
        // Then the session's own drop ends Chromium and removes its files.
    }
}

/// Now, in Unix milliseconds.
pub fn epoch_ms() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64() * 1000.0
}

/// The `q` quantile of sorted `v` (0 when empty): the page's delays' and a
/// benchmark's own figures, read the same way.
pub fn quantile(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v[((v.len() as f64 - 1.0) * q).round() as usize]
}
