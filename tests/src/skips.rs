//! Skips that show: every real-Asterisk and browser test says whether it ran or was
//! skipped, in the ledger file named by `AMI_PARKING_TEST_LEDGER` (one line each:
//! `<kind> <ran|skipped> <test>`), which `scripts/test` counts and prints. libtest
//! hides what a passing test prints, so a skipped test would otherwise pass as green.
//!
//! A test skips only when the skip was asked for (`AMI_PARKING_ALLOW_SKIP=1`);
//! otherwise what it needs missing fails it.

use std::io::Write;

/// What a test needs beyond the sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// The real Asterisk sandbox.
    Asterisk,
    /// Chromium, chromedriver and the wasm test runner.
    Browser,
    /// Debian's `nats-server` (scripts/nats-server installs it).
    Nats,
    /// A private PostgreSQL (Debian's server binaries).
    Postgres,
}

impl Needs {
    fn name(self) -> &'static str {
        match self {
            Needs::Asterisk => "asterisk",
            Needs::Browser => "browser",
            Needs::Nats => "nats",
            Needs::Postgres => "postgres",
        }
    }
}

/// True when skipping was asked for (`AMI_PARKING_ALLOW_SKIP=1`).
pub fn allowed() -> bool {
    std::env::var("AMI_PARKING_ALLOW_SKIP").as_deref() == Ok("1")
}

/// The running test's name (libtest names each test's thread after it).
fn test_name() -> String {
    std::thread::current().name().unwrap_or("(unnamed)").to_owned()
}

/// The test binary's name (without cargo's hash).
fn binary() -> String {
    let exe = std::env::current_exe().ok();
    let stem = exe.as_deref().and_then(|p| p.file_stem()).map(|s| s.to_string_lossy().into_owned());
    let stem = stem.unwrap_or_else(|| "(unknown)".into());
    match stem.rsplit_once('-') {
        Some((name, hash)) if hash.chars().all(|c| c.is_ascii_hexdigit()) => name.to_owned(),
        _ => stem,
    }
}

fn record(needs: Needs, outcome: &str) {
    let Some(path) = std::env::var_os("AMI_PARKING_TEST_LEDGER") else { return };
    let line = format!("{} {outcome} {}::{}\n", needs.name(), binary(), test_name());
    // One short append per line: lines of tests running at once do not interleave.
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = written {
        panic!("cannot write the test ledger {}: {e}", path.to_string_lossy());
    }
}

/// The test has what it `needs` and runs.
pub fn ran(needs: Needs) {
    record(needs, "ran");
}

/// The test cannot have what it `needs` (`why`): with `AMI_PARKING_ALLOW_SKIP=1` it is
/// recorded as skipped and `None` is returned (the test returns early); otherwise the
/// test fails with `why`.
pub fn skip<T>(needs: Needs, why: &str) -> Option<T> {
    if !allowed() {
        panic!("{why}\n(set AMI_PARKING_ALLOW_SKIP=1 to skip the tests that need {})", needs.name());
    }
    eprintln!("SKIPPED (AMI_PARKING_ALLOW_SKIP=1): {why}");
    record(needs, "skipped");
    None
}
