//! The board's figures in the Prometheus text format, served on `metrics_listen`
//! (off by default; a separate address so it need not be reachable where the page
//! is): events applied, parked calls per lot, sessions, viewers, reconnects, logins,
//! and the latency of each action.

use ami_parking::futures_signals::signal::SignalExt;
use ami_parking::{ConnectionState, ParkingClient};
use ami_parking_transport::Client;
use futures_util::StreamExt;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Upper bounds of the latency histogram's buckets, in seconds.
const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// The board's counters (cheap to clone: shared).
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    events: AtomicU64,
    viewers: AtomicU64,
    reconnects: AtomicU64,
    logins_ok: AtomicU64,
    logins_failed: AtomicU64,
    logins_throttled: AtomicU64,
    refused_upgrades: AtomicU64,
    requests: Mutex<BTreeMap<(&'static str, &'static str), Histogram>>,
}

/// How a login attempt ended.
#[derive(Debug, Clone, Copy)]
pub enum Login {
    /// Logged in.
    Ok,
    /// Wrong name or password.
    Failed,
    /// Refused by the throttle.
    Throttled,
}

impl Metrics {
    /// All zero.
    pub fn new() -> Metrics {
        Metrics::default()
    }

    /// A page opened (`+1`) or closed (`-1`).
    pub fn viewer(&self, opened: bool) {
        if opened {
            self.inner.viewers.fetch_add(1, Ordering::Relaxed);
        } else {
            self.inner.viewers.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Pages open now.
    pub fn viewers(&self) -> u64 {
        self.inner.viewers.load(Ordering::Relaxed)
    }

    /// A login attempt ended.
    pub fn login(&self, how: Login) {
        let c = match how {
            Login::Ok => &self.inner.logins_ok,
            Login::Failed => &self.inner.logins_failed,
            Login::Throttled => &self.inner.logins_throttled,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// A socket upgrade or request was refused (Host, Origin or session).
    pub fn refused(&self) {
        self.inner.refused_upgrades.fetch_add(1, Ordering::Relaxed);
    }

    /// An action (`park`, `retrieve`, `move`) took `took` and ended `ok` or not.
    pub fn request(&self, action: &'static str, ok: bool, took: Duration) {
        let mut m = self.inner.requests.lock().unwrap_or_else(|e| e.into_inner());
        let h = m.entry((action, if ok { "ok" } else { "error" })).or_default();
        let s = took.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if s <= *b {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += s;
    }

    /// Counts the client's events applied and its links' reconnects until the client
    /// stops (spawn it).
    pub async fn follow(self, client: Client) {
        let events = {
            let inner = self.inner.clone();
            let mut events = client.store().events();
            async move {
                while events.next().await.is_some() {
                    inner.events.fetch_add(1, Ordering::Relaxed);
                }
            }
        };
        let links = (0..client.links_now().len()).filter_map(|i| client.link_state(i)).map(|s| {
            let inner = self.inner.clone();
            let mut was_up = false;
            s.for_each(move |state| {
                match state {
                    ConnectionState::LoggedIn => was_up = true,
                    ConnectionState::Reconnecting { .. } if was_up => {
                        was_up = false;
                        inner.reconnects.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {}
                }
                async {}
            })
        });
        futures_util::future::join(events, futures_util::future::join_all(links)).await;
    }

    /// Everything in the Prometheus text format (0.0.4); `shared_renders`: the renders
    /// of viewers' pages running now (see [`crate::shared_page`]).
    pub fn render(&self, client: &Client, sessions: usize, shared_renders: usize) -> String {
        let mut out = String::new();
        let i = &self.inner;
        let counter = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
        };
        counter(
            &mut out,
            "parkboard_events_applied_total",
            "Parking events applied to the store.",
            i.events.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "parkboard_reconnects_total",
            "Times a logged-in server link was lost and retried.",
            i.reconnects.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "parkboard_refused_total",
            "Requests and socket upgrades refused (Host, Origin, session).",
            i.refused_upgrades.load(Ordering::Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP parkboard_logins_total Login attempts by result.\n# TYPE parkboard_logins_total counter"
        );
        for (r, c) in [("ok", &i.logins_ok), ("failed", &i.logins_failed), ("throttled", &i.logins_throttled)]
        {
            let _ = writeln!(out, "parkboard_logins_total{{result=\"{r}\"}} {}", c.load(Ordering::Relaxed));
        }
        let _ = writeln!(out, "# HELP parkboard_sessions Live login sessions.\n# TYPE parkboard_sessions gauge\nparkboard_sessions {sessions}");
        let _ = writeln!(out, "# HELP parkboard_viewers Board pages open now.\n# TYPE parkboard_viewers gauge\nparkboard_viewers {}", self.viewers());
        let _ = writeln!(out, "# HELP parkboard_shared_renders Renders of viewers' pages, each shared by one viewer's screens.\n# TYPE parkboard_shared_renders gauge\nparkboard_shared_renders {shared_renders}");
        let _ = writeln!(out, "# HELP parkboard_server_up Whether each server link is logged in.\n# TYPE parkboard_server_up gauge");
        for (n, (_, state)) in client.links_now().iter().enumerate() {
            let _ = writeln!(
                out,
                "parkboard_server_up{{link=\"{}\"}} {}",
                n + 1,
                u8::from(*state == ConnectionState::LoggedIn)
            );
        }
        let _ = writeln!(
            out,
            "# HELP parkboard_parked_calls Calls parked now, per lot.\n# TYPE parkboard_parked_calls gauge"
        );
        for lot in client.store().parking_lots_now() {
            let _ = writeln!(
                out,
                "parkboard_parked_calls{{server=\"{}\",lot=\"{}\"}} {}",
                lot.server_id,
                escape(&lot.name),
                lot.occupied
            );
        }
        let _ = writeln!(out, "# HELP parkboard_request_seconds Time from a user's action to Asterisk's answer.\n# TYPE parkboard_request_seconds histogram");
        let m = i.requests.lock().unwrap_or_else(|e| e.into_inner());
        for ((action, result), h) in m.iter() {
            for (b, c) in BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(out, "parkboard_request_seconds_bucket{{action=\"{action}\",result=\"{result}\",le=\"{b}\"}} {c}");
            }
            let _ = writeln!(
                out,
                "parkboard_request_seconds_bucket{{action=\"{action}\",result=\"{result}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "parkboard_request_seconds_sum{{action=\"{action}\",result=\"{result}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "parkboard_request_seconds_count{{action=\"{action}\",result=\"{result}\"}} {}",
                h.count
            );
        }
        out
    }
}

/// A label value as Prometheus needs it.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}
