//! The embedded demo PBX: the reference model of res_parking behind a loopback AMI
//! port, making lifelike traffic (calls parked, retrieved, hanging up, timing out).
//!
//! ```no_run
//! # async fn demo() {
//! use ami_parking_transport::demo::DemoPbx;
//! let pbx = DemoPbx::start(30.0).await.unwrap();      // about 30 events a minute
//! println!("connect to {}", pbx.url());                // tcp://amiuser:amisecret@127.0.0.1:PORT
//! # }
//! ```

use ami_parking::sim::{SimPbx, Wire};
use ami_parking::Timestamp;
use rand::Rng;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// A running demo PBX (stops when dropped).
#[derive(Debug)]
pub struct DemoPbx {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
    made: Arc<std::sync::atomic::AtomicU64>,
    paused: Arc<std::sync::atomic::AtomicBool>,
    pbx: Arc<Mutex<SimPbx>>,
}

impl Drop for DemoPbx {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn now() -> Timestamp {
    crate::now()
}

impl DemoPbx {
    /// Starts the demo on a free loopback port with the sandbox's lots (`default`
    /// 701-720 45 s, `vip` 801-810 5 s), about `events_per_minute` changes a minute, a
    /// few calls parked from the start.
    pub async fn start(events_per_minute: f64) -> std::io::Result<DemoPbx> {
        Self::start_with(events_per_minute, false).await
    }

    /// Like [`start`](DemoPbx::start); with `timestamps`, live parking events carry
    /// Asterisk's `Timestamp` header (`timestampevents = yes`), for delay measurements.
    pub async fn start_with(events_per_minute: f64, timestamps: bool) -> std::io::Result<DemoPbx> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let mut sim = SimPbx::sandbox(Wire::Ami);
        sim.set_timestamp_events(timestamps);
        let pbx = Arc::new(Mutex::new(sim));
        let wake = Arc::new(Notify::new());
        {
            let mut p = pbx.lock().unwrap_or_else(|e| e.into_inner());
            let t = now();
            for (i, num) in ["5551001", "5551002", "5551003"].iter().enumerate() {
                let t = t.saturating_sub(Duration::from_secs(5 * (3 - i as u64)));
                let _ = p.park(t, 1, num, &format!("Customer {num}"), "default", None);
            }
        }
        // The calls parked before any client connects count as made now.
        let initial = pbx.lock().unwrap_or_else(|e| e.into_inner()).take_changes().len() as u64;
        let made = Arc::new(std::sync::atomic::AtomicU64::new(initial));
        let paused = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let traffic = tokio::spawn(traffic(
            pbx.clone(),
            wake.clone(),
            events_per_minute.max(1.0),
            made.clone(),
            paused.clone(),
        ));
        let task = {
            let pbx = pbx.clone();
            tokio::spawn(async move {
                let _traffic = AbortOnDrop(traffic);
                while let Ok((sock, _)) = listener.accept().await {
                    serve(sock, pbx.clone(), wake.clone()).await;
                }
            })
        };
        Ok(DemoPbx { addr, task, made, paused, pbx })
    }

    /// The AMI URL of the demo (test-only credentials on loopback).
    pub fn url(&self) -> String {
        format!("tcp://amiuser:amisecret@{}", self.addr)
    }

    /// Parking changes the demo has made so far (each is one parking event a client
    /// hears: parked, retrieved, timed out, gave up).
    pub fn changes_made(&self) -> u64 {
        self.made.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Stops (`true`) or resumes the traffic; calls stay parked meanwhile. When
    /// `pause(true)` returns, no change is being made: a tick that had started has
    /// finished and is counted in [`changes_made`](Self::changes_made).
    pub fn pause(&self, paused: bool) {
        // The traffic reads the flag under the lock, so setting it under the lock
        // waits out a tick in progress.
        let _p = self.pbx.lock().unwrap_or_else(|e| e.into_inner());
        self.paused.store(paused, std::sync::atomic::Ordering::SeqCst);
    }

    /// What the demo holds now: (lot, space, unique id) of every parked call, sorted.
    pub fn truth(&self) -> Vec<(String, u32, String)> {
        let p = self.pbx.lock().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<_> = p.calls(1).into_iter().map(|c| (c.lot, c.space, c.unique_id)).collect();
        v.sort();
        v
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);
impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One client at a time (a new one replaces the previous).
async fn serve(mut sock: tokio::net::TcpStream, pbx: Arc<Mutex<SimPbx>>, wake: Arc<Notify>) {
    pbx.lock().unwrap_or_else(|e| e.into_inner()).connect_client(1);
    let mut buf = vec![0u8; 16 * 1024];
    let mut pending = Vec::new();
    loop {
        let out = pbx.lock().unwrap_or_else(|e| e.into_inner()).take_output(1);
        if !out.is_empty() && sock.write_all(&out).await.is_err() {
            break;
        }
        tokio::select! {
            n = sock.read(&mut buf) => match n {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    pending.extend_from_slice(&buf[..n]);
                    // Hand over whole actions only.
                    if let Some(end) = pending.windows(4).rposition(|w| w == b"\r\n\r\n") {
                        let actions: Vec<u8> = pending.drain(..end + 4).collect();
                        let mut p = pbx.lock().unwrap_or_else(|e| e.into_inner());
                        p.handle_client_bytes(now(), 1, &actions);
                        if !p.is_up(1) { break; }
                    }
                }
            },
            _ = wake.notified() => {}
        }
    }
    pbx.lock().unwrap_or_else(|e| e.into_inner()).disconnect_client(1);
}

/// Makes about `per_minute` changes a minute: at low rates one at a jittered gap; at
/// high rates (load tests: 60,000 a minute) in batches every few milliseconds, as many
/// as the elapsed time owes, so the rate holds whatever the timer's resolution.
async fn traffic(
    pbx: Arc<Mutex<SimPbx>>,
    wake: Arc<Notify>,
    per_minute: f64,
    made: Arc<std::sync::atomic::AtomicU64>,
    paused: Arc<std::sync::atomic::AtomicBool>,
) {
    let mut next_caller = 5552000u32;
    let start = std::time::Instant::now();
    let mut done = 0u64;
    loop {
        let gap = (60.0 / per_minute * rand::thread_rng().gen_range(0.5..1.5)).max(0.005);
        let deadline = pbx.lock().unwrap_or_else(|e| e.into_inner()).next_deadline();
        let until_deadline =
            deadline.map(|d| d.saturating_duration_since(now()).as_secs_f64()).unwrap_or(f64::MAX);
        tokio::time::sleep(Duration::from_secs_f64(gap.min(until_deadline + 0.05))).await;
        {
            let mut p = pbx.lock().unwrap_or_else(|e| e.into_inner());
            if paused.load(std::sync::atomic::Ordering::SeqCst) {
                // Owe nothing for the paused time.
                done = (start.elapsed().as_secs_f64() * per_minute / 60.0) as u64;
                continue;
            }
            let t = now();
            p.advance(t);
            let due = (start.elapsed().as_secs_f64() * per_minute / 60.0) as u64;
            for _ in done..due {
                change(&mut p, t, &mut next_caller);
            }
            done = done.max(due);
            // The log is drained, so a demo running for days does not grow.
            let n = p.take_changes().len() as u64;
            made.fetch_add(n, std::sync::atomic::Ordering::SeqCst);
        }
        wake.notify_one();
    }
}

/// One lifelike change: a new call parked, or one retrieved, or one hanging up.
fn change(p: &mut SimPbx, t: Timestamp, next_caller: &mut u32) {
    let calls = p.calls(1);
    let mut rng = rand::thread_rng();
    let r: f64 = rng.gen();
    if calls.len() < 4 || (calls.len() < 12 && r < 0.45) {
        *next_caller += 1;
        let lot = if rng.gen_bool(0.2) { "vip" } else { "default" };
        let num = next_caller.to_string();
        let _ = p.park(t, 1, &num, &format!("Customer {num}"), lot, None);
    } else if let Some(c) = calls.get(rng.gen_range(0..calls.len().max(1))) {
        if r < 0.85 {
            let _ = p.retrieve(t, 1, &c.lot, c.space, "1002");
        } else {
            let _ = p.give_up(t, 1, &c.lot, c.space);
        }
    }
}
