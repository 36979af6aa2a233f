//! What the board's benchmarks share: `parkboard` as a child process with viewer
//! logins and its metrics on a port of their own, and live pages opened as plain
//! liveview sockets (each reads every frame, as a page would), from several loopback
//! addresses.

#![allow(dead_code)]

/// The board tests' own HTTP helpers (a login, a request from a given address).
#[path = "../../tests/common/mod.rs"]
mod http;

use ami_parking_tests::process::AppProcess;
use async_tungstenite::tungstenite::client::IntoClientRequest;
use async_tungstenite::tungstenite::http::HeaderValue;
use futures_util::StreamExt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Live pages one user may open (the board's `VIEWERS_PER_USER`).
pub const PAGES_PER_USER: usize = parkboard::state::VIEWERS_PER_USER;
/// Connections taken from one loopback address here (the board allows 256).
pub const PER_ADDRESS: usize = 200;
/// How long anything may take.
pub const DEADLINE: Duration = Duration::from_secs(60);
/// Every viewer's password.
pub const PASSWORD: &str = "viewer-cost-pw";

/// `parkboard` running as a child process with `users` viewers (`viewer0`, ...), each
/// logged in; stopped (TERM, then waited for) by [`stop`](Self::stop), killed if
/// dropped.
pub struct RunningBoard {
    /// The board's address.
    pub addr: SocketAddr,
    /// Its metrics' address.
    pub metrics: SocketAddr,
    /// One session cookie per viewer user, `viewer0` first.
    pub cookies: Vec<String>,
    app: AppProcess,
    dir: PathBuf,
}

impl RunningBoard {
    /// Starts the board with `users` viewer users, `servers` (AMI URLs without the
    /// secret, and each one's secret, written to a file; none: the demo PBX) and
    /// `args` (e.g. `--demo-rate`), no history, and logs every user in.
    pub async fn start(users: usize, servers: &[(&str, &str)], args: &[&str]) -> RunningBoard {
        Self::start_seeing(users, None, servers, args).await
    }

    /// [`start`](Self::start) with viewers who see only the lot `lot` (a lot no
    /// server has: an empty board), or every lot (`None`).
    pub async fn start_seeing(
        users: usize,
        lot: Option<&str>,
        servers: &[(&str, &str)],
        args: &[&str],
    ) -> RunningBoard {
        let dir = std::env::temp_dir().join(format!("parkboard-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let metrics = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let hash = parkboard::users::hash_password(PASSWORD).unwrap();
        let mut config = format!("listen = \"{addr}\"\nmetrics_listen = \"{metrics}\"\n");
        for u in 0..users {
            config.push_str(&format!(
                "[[user]]\nname = \"viewer{u}\"\npassword_hash = \"{hash}\"\nrole = \"viewer\"\n"
            ));
            if let Some(lot) = lot {
                config.push_str(&format!("lots = [\"{lot}\"]\n"));
            }
        }
        for (i, (url, secret)) in servers.iter().enumerate() {
            let secret_file = dir.join(format!("server{i}.secret"));
            std::fs::write(&secret_file, secret).unwrap();
            config.push_str(&format!(
                "[[server]]\nurl = \"{url}\"\nsecret_file = \"{}\"\n",
                secret_file.display()
            ));
        }
        let file = dir.join("board.toml");
        std::fs::write(&file, config).unwrap();
        let mut all = vec!["--config", file.to_str().unwrap(), "--history-db", "off"];
        all.extend_from_slice(args);
        let mut app = AppProcess::spawn(env!("CARGO_BIN_EXE_parkboard"), &all);
        app.line("the board listening", DEADLINE, |l| l.contains("the board is on")).await;
        let mut cookies = Vec::new();
        for u in 0..users {
            cookies.push(http::login(addr, &format!("viewer{u}"), PASSWORD).await);
        }
        RunningBoard { addr, metrics, cookies, app, dir }
    }

    /// The board's process id.
    pub fn pid(&self) -> u32 {
        self.app.pid()
    }

    /// Opens `n` live pages, `PAGES_PER_USER` per user, `PER_ADDRESS` per loopback
    /// address, each reading into `bytes`; returns once the board counts them.
    pub async fn open_viewers(&self, n: usize, bytes: &Arc<AtomicU64>) -> Vec<tokio::task::JoinHandle<()>> {
        let before = metric(self.metrics, "parkboard_viewers").await;
        let mut pages = Vec::new();
        for i in 0..n {
            let from = Ipv4Addr::new(127, 0, 0, 2 + (i / PER_ADDRESS) as u8);
            pages.push(open_viewer(self.addr, from, &self.cookies[i / PAGES_PER_USER], bytes.clone()).await);
        }
        wait_metric(self.metrics, "parkboard_viewers", before + n as f64).await;
        pages
    }

    /// Stops the board as a service manager would, and waits for it.
    pub async fn stop(mut self) {
        self.app.signal("TERM");
        self.app.exit_within(DEADLINE).await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A free loopback port (bound and let go: the board binds it next).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The board's resident memory (KiB) and CPU time used so far (user + system).
pub fn usage(pid: u32) -> (u64, Duration) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the board runs");
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the board runs");
    // After the command's closing parenthesis: state is field 3, utime 14, stime 15.
    let rest: Vec<&str> = stat.rsplit_once(')').expect("stat").1.split_whitespace().collect();
    let ticks: u64 = rest[11].parse::<u64>().unwrap() + rest[12].parse::<u64>().unwrap();
    (rss, Duration::from_millis(ticks * 1000 / clock_ticks()))
}

fn clock_ticks() -> u64 {
    let out = std::process::Command::new("getconf").arg("CLK_TCK").output();
    out.ok().and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok()).unwrap_or(100)
}

/// A TCP connection to the board from the loopback address `from`.
pub async fn connect_from(from: Ipv4Addr, to: SocketAddr) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(IpAddr::V4(from), 0)).unwrap();
    socket.connect(to).await.unwrap_or_else(|e| panic!("cannot reach the board at {to}: {e}"))
}

/// The board's counter or gauge `name` from its metrics.
pub async fn metric(metrics: SocketAddr, name: &str) -> f64 {
    let mut s = connect_from(Ipv4Addr::LOCALHOST, metrics).await;
    let req = format!("GET /metrics HTTP/1.1\r\nHost: {metrics}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    tokio::time::timeout(DEADLINE, s.read_to_string(&mut out)).await.expect("metrics").unwrap();
    out.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in the metrics: {out}"))
}

/// Waits until the metric `name` is `want`.
pub async fn wait_metric(metrics: SocketAddr, name: &str, want: f64) {
    let until = Instant::now() + DEADLINE;
    loop {
        let got = metric(metrics, name).await;
        if got == want {
            return;
        }
        assert!(Instant::now() < until, "{name} stayed {got}, not {want}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Opens a live page as the holder of `cookie`, from `from`; reads every frame into
/// `bytes` until it is aborted. Returns once the first render arrived.
pub async fn open_viewer(
    board: SocketAddr,
    from: Ipv4Addr,
    cookie: &str,
    bytes: Arc<AtomicU64>,
) -> tokio::task::JoinHandle<()> {
    let mut req = format!("ws://{board}/ws").into_client_request().unwrap();
    req.headers_mut().insert("Origin", HeaderValue::from_str(&format!("http://{board}")).unwrap());
    req.headers_mut().insert("Cookie", HeaderValue::from_str(cookie).unwrap());
    let tcp = connect_from(from, board).await;
    let (mut ws, _) = async_tungstenite::tokio::client_async(req, tcp).await.expect("the live socket opens");
    let first = tokio::time::timeout(DEADLINE, ws.next()).await.expect("a first render");
    assert!(matches!(first, Some(Ok(_))), "the page's first render: {first:?}");
    tokio::spawn(async move {
        while let Some(Ok(m)) = ws.next().await {
            bytes.fetch_add(m.len() as u64, Ordering::Relaxed);
        }
    })
}
