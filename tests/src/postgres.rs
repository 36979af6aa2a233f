//! A private PostgreSQL for a test: Debian's server binaries (`scripts/postgres-tools`
//! installs them), a cluster of its own in a temporary directory, on an ephemeral
//! port of 127.0.0.1, run as the unprivileged `postgres` user when the test runs as
//! root (PostgreSQL refuses root), stopped and removed when dropped.
//!
//! When it cannot start, the test fails loudly, unless `AMI_PARKING_ALLOW_SKIP=1`:
//! then the skip is printed and recorded in the test ledger ([`crate::skips`]).

use crate::skips::{self, Needs};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running private PostgreSQL.
pub struct Postgres {
    /// `postgres://ami@127.0.0.1:PORT/postgres` (trust authentication: no password).
    pub url: String,
    /// The port it listens on.
    pub port: u16,
    bin: PathBuf,
    dir: PathBuf,
    child: Option<Child>,
    as_postgres: Option<(u32, u32)>,
}

/// The newest `/usr/lib/postgresql/*/bin`.
fn bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").exists())
        .collect();
    dirs.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    dirs.pop()
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false)
}

/// uid and gid of the `postgres` user (from `id`).
fn postgres_ids() -> Option<(u32, u32)> {
    let id = |flag: &str| -> Option<u32> {
        let o = Command::new("id").args([flag, "postgres"]).output().ok()?;
        String::from_utf8_lossy(&o.stdout).trim().parse().ok()
    };
    Some((id("-u")?, id("-g")?))
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().unwrap().port()
}

impl Postgres {
    /// Starts a private PostgreSQL. `None`: skip (only with `AMI_PARKING_ALLOW_SKIP=1`).
    pub fn start() -> Option<Postgres> {
        match Self::try_start() {
            Ok(pg) => {
                skips::ran(Needs::Postgres);
                Some(pg)
            }
            Err(e) => skips::skip(
                Needs::Postgres,
                &format!(
                    "a private PostgreSQL could not start, so this PostgreSQL test cannot run.\n{e}\n\
                     Run `scripts/postgres-tools` as root (it installs Debian's postgresql)."
                ),
            ),
        }
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        match self.as_postgres {
            Some((uid, gid)) => {
                // setpriv execs: the child's pid is the server's, so stopping it works.
                let mut c = Command::new("setpriv");
                c.args([&format!("--reuid={uid}"), &format!("--regid={gid}"), "--clear-groups", "--"])
                    .arg(path);
                c
            }
            None => Command::new(path),
        }
    }

    fn try_start() -> Result<Postgres, String> {
        let bin = bin_dir()
            .ok_or("no PostgreSQL server under /usr/lib/postgresql/*/bin (apt-get install postgresql)")?;
        let as_postgres = if is_root() {
            Some(
                postgres_ids()
                    .ok_or("running as root and there is no `postgres` user to run PostgreSQL as")?,
            )
        } else {
            None
        };
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("ami-pg-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        if let Some((uid, gid)) = as_postgres {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid))
                .map_err(|e| format!("chown {}: {e}", dir.display()))?;
        }
        let port = free_port();
        let mut pg = Postgres {
            url: format!("postgres://ami@127.0.0.1:{port}/postgres"),
            port,
            bin,
            dir: dir.clone(),
            child: None,
            as_postgres,
        };
        let data = dir.join("data");
        let out = pg
            .command("initdb")
            .args(["-A", "trust", "-U", "ami", "-E", "UTF8", "--locale=C", "--no-sync", "-D"])
            .arg(&data)
            .output()
            .map_err(|e| format!("cannot run initdb: {e}"))?;
        if !out.status.success() {
            return Err(format!("initdb failed: {}", String::from_utf8_lossy(&out.stderr)));
        }
        let child = pg
            .command("postgres")
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1", "-c"])
            .arg(format!("unix_socket_directories={}", dir.display()))
            .args(["-c", "fsync=off", "-c", "max_connections=40"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("log")).map_err(|e| e.to_string())?)
            .spawn()
            .map_err(|e| format!("cannot start postgres: {e}"))?;
        pg.child = Some(child);
        pg.wait_ready(Duration::from_secs(30))?;
        Ok(pg)
    }

    fn wait_ready(&mut self, within: Duration) -> Result<(), String> {
        let start = Instant::now();
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                return Err(format!("postgres exited ({status}): {}", self.log()));
            }
            let ok = Command::new(self.bin.join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string()])
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ok {
                return Ok(());
            }
            if start.elapsed() > within {
                return Err(format!("postgres not ready within {within:?}: {}", self.log()));
            }
            // pg_isready answers at once; pause between looks.
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    /// Creates database `name` and returns its URL.
    pub fn create_db(&self, name: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args([
                "-q",
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "ami",
                "-d",
                "postgres",
                "-c",
            ])
            .arg(format!("CREATE DATABASE \"{name}\""))
            .output()
            .expect("run psql");
        assert!(out.status.success(), "CREATE DATABASE {name}: {}", String::from_utf8_lossy(&out.stderr));
        format!("postgres://ami@127.0.0.1:{}/{name}", self.port)
    }

    /// The directory of the cluster.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Fast shutdown (SIGINT); killed if it takes more than 10 s.
            let _ = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
