//! How the project's tests and benchmarks start Debian's headless Chromium.

use std::path::Path;

/// Chromium's command line for a headless session with its own profile directory
/// `profile` (which also names every Chromium process of that session, so it can be
/// ended whole). Without the background-networking flags Chromium keeps dialling
/// hosts that this machine's closed network refuses.
pub fn args(profile: &Path) -> Vec<String> {
    [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
    ]
    .into_iter()
    .map(str::to_owned)
    .chain([format!("--user-data-dir={}", profile.display())])
    .collect()
}
