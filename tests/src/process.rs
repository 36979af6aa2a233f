//! [`AppProcess`]: one of the workspace's binaries run as a child process: its output
//! lines as they come, a signal sent to it, its exit awaited with a deadline.

use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::mpsc;

/// A running app (killed if dropped while still running).
pub struct AppProcess {
    name: String,
    child: tokio::process::Child,
    lines: mpsc::UnboundedReceiver<String>,
    /// Every line read so far (stdout and stderr, as they came).
    pub seen: Vec<String>,
    signalled: Option<Instant>,
}

impl AppProcess {
    /// Starts `bin` (e.g. `env!("CARGO_BIN_EXE_parkwatch")`) with `args`; its stdout
    /// and stderr are read line by line.
    pub fn spawn(bin: &str, args: &[&str]) -> AppProcess {
        AppProcess::spawn_with_env(bin, args, &[])
    }

    /// As [`spawn`](Self::spawn), with `env` added to its environment (a secret such
    /// as `AMI_SECRET`, which never goes on a command line).
    pub fn spawn_with_env(bin: &str, args: &[&str], env: &[(&str, &str)]) -> AppProcess {
        let mut child = tokio::process::Command::new(bin)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
        let (tx, lines) = mpsc::unbounded_channel();
        if let Some(out) = child.stdout.take() {
            tokio::spawn(forward(out, tx.clone()));
        }
        if let Some(err) = child.stderr.take() {
            tokio::spawn(forward(err, tx));
        }
        let name = std::path::Path::new(bin).file_name().map(|n| n.to_string_lossy().into_owned());
        AppProcess { name: name.unwrap_or_default(), child, lines, seen: Vec::new(), signalled: None }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("the app is running")
    }

    /// The next output line `pred` accepts (the others are kept in `seen`); panics
    /// after `within` or when the output ends, showing what was printed.
    pub async fn line(&mut self, what: &str, within: Duration, pred: impl Fn(&str) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.lines.recv()).await {
                Ok(Some(l)) => {
                    self.seen.push(l.clone());
                    if pred(&l) {
                        return l;
                    }
                }
                Ok(None) => {
                    panic!("{}: the output ended before {what}; it printed {:#?}", self.name, self.seen)
                }
                Err(_) => panic!("{}: no {what} within {within:?}; it printed {:#?}", self.name, self.seen),
            }
        }
    }

    /// Sends signal `sig` (`"TERM"`, `"INT"`) with `kill`, and notes when.
    pub fn signal(&mut self, sig: &str) {
        let pid = self.pid().to_string();
        self.signalled = Some(Instant::now());
        let status = std::process::Command::new("kill").args([&format!("-{sig}"), &pid]).status();
        assert!(status.is_ok_and(|s| s.success()), "kill -{sig} {pid} failed");
    }

    /// Waits for the exit; its status and how long after [`signal`](Self::signal) it
    /// came. Panics (killing the app) if it is still running `within` after the
    /// signal (after now, if none was sent).
    pub async fn exit_within(&mut self, within: Duration) -> (ExitStatus, Duration) {
        let from = self.signalled.unwrap_or_else(Instant::now);
        let deadline = tokio::time::Instant::from_std(from + within);
        match tokio::time::timeout_at(deadline, self.child.wait()).await {
            Ok(Ok(status)) => (status, from.elapsed()),
            Ok(Err(e)) => panic!("{}: cannot wait for the exit: {e}", self.name),
            Err(_) => {
                let _ = self.child.start_kill();
                while let Ok(l) = self.lines.try_recv() {
                    self.seen.push(l);
                }
                panic!(
                    "{}: still running {within:?} after the signal; it printed {:#?}",
                    self.name, self.seen
                )
            }
        }
    }
}

/// Sends each line of `from` to `to` until either ends.
async fn forward(from: impl AsyncRead + Unpin, to: mpsc::UnboundedSender<String>) {
    let mut lines = BufReader::new(from).lines();
    while let Ok(Some(l)) = lines.next_line().await {
        if to.send(l).is_err() {
            break;
        }
    }
}

/// A `std::process::Child` that is killed and reaped when dropped, so a test that
/// fails or panics leaves no process behind (`std` keeps a dropped child running).
/// Derefs to the child: `kill`, `wait`, `id` and the pipes work as on a `Child`.
pub struct Reaped(pub std::process::Child);

impl std::ops::Deref for Reaped {
    type Target = std::process::Child;
    fn deref(&self) -> &std::process::Child {
        &self.0
    }
}

impl std::ops::DerefMut for Reaped {
    fn deref_mut(&mut self) -> &mut std::process::Child {
        &mut self.0
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}
