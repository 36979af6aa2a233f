//! Helpers of the collector's tests: a collector process, frontends and their
//! events, waits with deadlines.

#![allow(dead_code)]

use ami_parking::{ParkingClient, ParkingEvent, ParkingStore, ResyncChange};
use ami_parking_tests::live::{self, truth_of};
use ami_parking_tests::process::AppProcess;
use ami_parking_transport::{Client, ClientOptions};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the issue asks of a takeover.
pub const TAKEOVER: Duration = Duration::from_secs(5);

pub fn secret_file(dir: &Path) -> PathBuf {
    let p = dir.join("ami-secret");
    std::fs::write(&p, "amisecret\n").expect("write the AMI secret file");
    p
}

/// A collector process of the AMI server at `ami` (`HOST:PORT`, user `amiuser`)
/// publishing to `url`, with `extra` arguments.
pub fn collector(ami: &str, url: &str, secret: &Path, name: &str, extra: &[&str]) -> AppProcess {
    let secret = secret.to_string_lossy();
    let ami = format!("tcp://amiuser@{ami}");
    let mut args = vec!["--ami", &ami, "--ami-secret-file", &secret, "--nats", url, "--name", name];
    args.extend_from_slice(extra);
    AppProcess::spawn(env!("CARGO_BIN_EXE_ami-parking-collector"), &args)
}

/// The arguments of an elected collector on a three-node cluster.
pub const ELECTED: &[&str] = &["--elect", "--lease", "2s"];

/// A frontend: a transport client of a `nats://` endpoint, and every event its
/// store reported (heard by a listener, which misses none: an event stream drops
/// events when its reader falls behind, which looked like duplicates under load).
pub struct Frontend {
    pub client: Client,
    pub events: Arc<Mutex<Vec<ParkingEvent>>>,
    /// A board's metrics address, when the frontend is a board.
    pub board: Option<std::net::SocketAddr>,
    _listening: ami_parking::Subscription,
}

pub fn frontend(url: &str) -> Frontend {
    frontend_of(&[url])
}

/// A frontend of several servers (`nats://` URLs: servers 1, 2, ... in order).
pub fn frontend_of(urls: &[&str]) -> Frontend {
    let servers = urls.iter().map(|u| ClientOptions::new(u.parse().expect("a nats:// URL"))).collect();
    let client = Client::connect_all(servers, ParkingStore::default()).expect("servers");
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let listening = client.store().on_parking_event(move |e| seen.lock().unwrap().push(e.clone()));
    Frontend { client, events, board: None, _listening: listening }
}

/// A board (`parkboard`'s state, as its binary builds it for a loopback listener)
/// following the `nats://` URLs, with its metrics served on a port of its own: what
/// the board shows is read from there (`board_shows`).
pub async fn board_frontend(urls: &[&str]) -> Frontend {
    let mut f = frontend_of(urls);
    let board =
        parkboard::state::Board::local(f.client.clone(), "127.0.0.1:1".parse().unwrap(), "Local/s@hold");
    let metrics = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port for the board's metrics");
    f.board = Some(metrics.local_addr().unwrap());
    tokio::spawn(parkboard::metrics_http::serve(metrics, board));
    f
}

/// The board's metrics page.
pub async fn board_metrics(addr: std::net::SocketAddr) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("the board's metrics address");
    let head = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(head.as_bytes()).await.expect("send the request");
    let mut body = String::new();
    let _ = s.read_to_string(&mut body).await;
    body
}

/// Waits (within `within`) until a board frontend shows, for each server (1, 2, ...),
/// its link up and exactly the number of calls `counts` gives in lot `default` (a
/// frontend that is no board passes at once).
pub async fn board_shows(f: &Frontend, counts: &[usize], within: Duration) {
    let Some(addr) = f.board else { return };
    let lines: Vec<String> = counts
        .iter()
        .enumerate()
        .flat_map(|(i, n)| {
            let server = i + 1;
            [
                format!("parkboard_server_up{{link=\"{server}\"}} 1\n"),
                format!("parkboard_parked_calls{{server=\"{server}\",lot=\"default\"}} {n}\n"),
            ]
        })
        .collect();
    ami_parking_tests::measure::poll(&format!("the board showing {lines:?}"), within, || async {
        let text = board_metrics(addr).await;
        lines.iter().all(|l| text.contains(l.as_str())).then_some(())
    })
    .await;
}

/// A frontend through the bridge: an `ami-ws-bridge` (in this process) whose upstreams
/// are the `nats://` URLs `upstreams` (`AMIServerID` 1, 2, ... in order), and the
/// transport's `ws://` client of it, as a browser's amiws client would follow it.
pub async fn bridge_frontend(upstreams: &[&str]) -> Frontend {
    const TOKEN: &str = "a-token-of-the-collector-tests";
    let endpoints = upstreams.iter().map(|u| u.parse().expect("a nats:// URL")).collect();
    let mut cfg = ami_ws_bridge::Config::new(endpoints, ami_ws_bridge::Tokens::new([TOKEN.to_string()]));
    cfg.rules.retrieve_to = vec!["Local/s@hold".into()];
    let hub = ami_ws_bridge::start_upstreams(&cfg).expect("the bridge's upstreams");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port for the bridge");
    let url = format!("ws://{}/?token={TOKEN}", listener.local_addr().unwrap());
    tokio::spawn(ami_ws_bridge::serve(listener, hub, cfg));
    frontend(&url)
}

/// Waits (on the store's changes, with a deadline) until the frontend's calls are
/// Asterisk's.
pub async fn until_equal(f: &Frontend, truth: &[(String, u32, String)], within: Duration) -> Duration {
    until_equal_on(f, 1, truth, within).await
}

/// [`until_equal`] for server `server` of the frontend.
pub async fn until_equal_on(
    f: &Frontend,
    server: u32,
    truth: &[(String, u32, String)],
    within: Duration,
) -> Duration {
    let start = Instant::now();
    let store = f.client.store().clone();
    let want = truth.to_vec();
    let r =
        tokio::time::timeout(within, live::wait_state(&store, move |s| truth_of(s, server) == want)).await;
    assert!(
        r.is_ok(),
        "the frontend's store {:?} of server {server} did not reach {truth:?} within {within:?}",
        truth_of(f.client.store(), server)
    );
    start.elapsed()
}

/// A call's key among the events: its server and unique id (two Asterisks may
/// number calls alike).
pub fn call_key(c: &ami_parking::ParkedCall) -> String {
    format!("{}/{}", c.server_id, c.unique_id())
}

/// Each call entered (parked, or appeared at a resync) and left (retrieved, timed
/// out, gave up, or vanished at a resync) the frontend's view at most once.
pub fn each_change_once(f: &Frontend) -> BTreeMap<String, (usize, usize)> {
    let mut per_call: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for e in f.events.lock().unwrap().iter() {
        let entry = per_call.entry(call_key(e.call())).or_default();
        match e {
            ParkingEvent::Parked { .. } | ParkingEvent::Resync { change: ResyncChange::Appeared, .. } => {
                entry.0 += 1
            }
            ParkingEvent::Retrieved { .. }
            | ParkingEvent::TimedOut { .. }
            | ParkingEvent::GaveUp { .. }
            | ParkingEvent::Resync { change: ResyncChange::Vanished, .. } => entry.1 += 1,
            _ => {}
        }
    }
    for (uid, (enter, leave)) in &per_call {
        assert!(
            *enter <= 1 && *leave <= 1,
            "call {uid} entered {enter} and left {leave} times: {:#?}",
            f.events.lock().unwrap()
        );
    }
    per_call
}

/// The name of the collector that answers snapshot requests for `tenant`/`server`
/// through the NATS server at `nats` (`127.0.0.1:PORT`), once one answers.
pub async fn active_collector(nats: &str, tenant: &str, server: &str) -> String {
    let nc = async_nats::connect(nats).await.expect("a NATS client of the test");
    let subject = ami_parking_transport::nats::Subjects::new(tenant, server).unwrap().snapshot();
    let snap = ami_parking_tests::measure::poll("a snapshot", TAKEOVER, || {
        let (nc, subject) = (nc.clone(), subject.clone());
        async move { nc.request(subject, Vec::new().into()).await.ok() }
    })
    .await;
    ami_parking_transport::nats::Snapshot::from_json(&snap.payload).expect("a snapshot").collector
}
