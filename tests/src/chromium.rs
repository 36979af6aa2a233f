//! How the project's tests and benchmarks start Debian's headless Chromium.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

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

/// One Chromium session's own directory: its profile, and the temporary files of the
/// process that starts Chromium (give that process [`Session::tmp`] as `TMPDIR`):
/// Chromium leaves its `org.chromium.Chromium.*` files and 70 MB `scoped_dir`s in the
/// temporary directory when it is ended, and they filled `/tmp` run after run.
/// Dropping the session ends every Chromium process of it (found by the directory in
/// their command lines), waits up to 10 s for them to go (then kills what is left),
/// and removes the directory.
pub struct Session {
    dir: PathBuf,
}

impl Session {
    /// A new session directory named after `name`, this process and a counter. Keep
    /// `name` short: Chromium puts a Unix socket a few levels down (its path must fit
    /// in 107 bytes), and the temporary directory may itself be a long path.
    pub fn new(name: &str) -> Session {
        static SESSIONS: AtomicU32 = AtomicU32::new(0);
        let n = SESSIONS.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("{name}-{}-{n}", std::process::id()));
        let session = Session { dir };
        std::fs::create_dir_all(session.tmp()).expect("a session directory in the temporary directory");
        session
    }

    /// The profile directory (`--user-data-dir`).
    pub fn profile(&self) -> PathBuf {
        self.dir.join("profile")
    }

    /// The temporary directory to give the process that starts Chromium as `TMPDIR`.
    pub fn tmp(&self) -> PathBuf {
        self.dir.join("t")
    }

    /// Chromium's command line for this session ([`args`]).
    pub fn args(&self) -> Vec<String> {
        args(&self.profile())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // With its slash: session `…-1` must not match session `…-10`.
        let pattern = format!("{}/", self.dir.display());
        let pattern = pattern.as_str();
        let _ = Command::new("pkill").arg("-f").arg(pattern).status();
        // pkill returns at once; a Chromium still ending writes into its profile again.
        let until = Instant::now() + Duration::from_secs(10);
        let running =
            || Command::new("pgrep").arg("-f").arg(pattern).output().is_ok_and(|o| o.status.success());
        while running() {
            if Instant::now() > until {
                let _ = Command::new("pkill").arg("-KILL").arg("-f").arg(pattern).status();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
