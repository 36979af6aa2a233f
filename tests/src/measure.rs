//! Waiting and measuring in tests: polling with a deadline (pausing between looks),
//! and a process's resident memory.

use std::future::Future;
use std::time::{Duration, Instant};

/// Polls `check` (pausing 20 ms between tries) until it gives `Some`, or fails after
/// `within` saying `what`.
pub async fn poll<T, F: Future<Output = Option<T>>>(
    what: &str,
    within: Duration,
    check: impl FnMut() -> F,
) -> T {
    poll_or_explain(what, within, check, || async { String::new() }).await
}

/// [`poll`], whose failure adds `explain`'s account of what was there instead (what
/// the page shows, what the server has).
pub async fn poll_or_explain<T, F: Future<Output = Option<T>>, E: Future<Output = String>>(
    what: &str,
    within: Duration,
    mut check: impl FnMut() -> F,
    explain: impl FnOnce() -> E,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if start.elapsed() >= within {
            let why = explain().await;
            let sep = if why.is_empty() { "" } else { "; " };
            panic!("{what}: not within {within:?}{sep}{why}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Resident memory of process `pid` (this one when `None`), in KiB; 0 when unknown.
pub fn rss_kib(pid: Option<u32>) -> u64 {
    let path = pid.map(|p| format!("/proc/{p}/status")).unwrap_or_else(|| "/proc/self/status".into());
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("VmRSS:").map(|v| v.trim().trim_end_matches(" kB").parse().unwrap_or(0))
            })
        })
        .unwrap_or(0)
}

/// A numeric knob from the environment (`AMI_PARKING_SOAK_SECS=600`, ...), or `default`.
pub fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}
