//! Faults against the real sandbox: Asterisk killed (-9) and restarted again and
//! again while calls are parked; the socket cut in the middle of a list; answers
//! slower than their deadlines. After each, the store equals Asterisk's truth within
//! 2 s of recovery, every call is reported exactly once each way, and no request
//! hangs.

use ami_parking::futures_signals::signal::SignalExt;
use ami_parking::ParkingClient;
use ami_parking::{ConnectionState, ParkingError, ParkingEvent, ParkingStore, Request, Target};
use ami_parking_tests::live::*;
use ami_parking_tests::sandbox::{self, parked_truth, PORT_A};
use ami_parking_transport::{Backoff, Client, ClientOptions};
use futures_util::StreamExt;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Waits (on the store's own signal) until it equals Asterisk's truth, at most `within`.
async fn store_is_truth(c: &Client, within: Duration) -> Duration {
    let start = Instant::now();
    let mut calls = c.store().total_parked_calls().to_stream();
    loop {
        let truth = parked_truth(PORT_A);
        if truth_of(c.store(), 1) == truth {
            return start.elapsed();
        }
        assert!(start.elapsed() < within, "store {:?} != Asterisk {truth:?}", truth_of(c.store(), 1));
        let _ = tokio::time::timeout(Duration::from_millis(100), calls.next()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_kill_9_restarts_with_calls_parked() {
    let Some((_g, c)) = on_clean_pbx().await else { return };
    let mut events = c.events();
    let mut seen: BTreeMap<String, Vec<&'static str>> = BTreeMap::new();
    let mut worst = Duration::ZERO;
    for round in 0..10 {
        for n in 0..2 {
            park_dialplan(&c, &format!("55590{round}{n}"), "default").await;
        }
        wait_state(c.store(), |s| s.total_parked_calls_now() == 2).await;
        sandbox::run("a", &["crash"]).expect("kill -9");
        wait_for_state(&c, "the drop", |s| matches!(s, ConnectionState::Reconnecting { .. })).await;
        // A request meanwhile fails at once, it does not hang.
        let r = tokio::time::timeout(Duration::from_secs(2), c.get_parking_lots()).await.expect("no hang");
        assert!(matches!(r, Err(ParkingError::NotLoggedIn { .. })), "{r:?}");
        sandbox::run("a", &["start"]).expect("restart");
        wait_for_state(&c, "the login", |s| *s == ConnectionState::LoggedIn).await;
        worst = worst.max(store_is_truth(&c, Duration::from_secs(2)).await);
        assert!(c.store().parked_calls_now().is_empty(), "a kill -9 ends every call");
        // Every call: parked once, vanished once (a crash tells nothing; the resync does).
        while let Ok(Some(e)) = tokio::time::timeout(Duration::ZERO, events.next()).await {
            if e.kind() != "near_timeout" {
                // Asterisk's unique ids start over after a restart: key by caller.
                seen.entry(e.call().caller_id_num().to_string()).or_default().push(e.kind());
            }
        }
    }
    assert_eq!(seen.len(), 20, "{seen:?}");
    assert!(seen.values().all(|k| k == &["parked", "resync"]), "{seen:?}");
    println!("faults: 10 kill -9 restarts, store = Asterisk at most {worst:?} after each login");
    c.shutdown().await;
}

/// A proxy in front of the sandbox that cuts the link once, in the middle of the first
/// `ParkedCalls` list it forwards after `armed` is set, then forwards faithfully.
async fn cutting_proxy(armed: std::sync::Arc<std::sync::atomic::AtomicBool>) -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((client, _)) = l.accept().await {
            let armed = armed.clone();
            tokio::spawn(async move {
                let server = TcpStream::connect(("127.0.0.1", PORT_A)).await.unwrap();
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let up = tokio::spawn(async move { tokio::io::copy(&mut cr, &mut sw).await });
                let mut buf = vec![0u8; 16 * 1024];
                let mut seen = Vec::new();
                while let Ok(n) = sr.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    if !armed.load(std::sync::atomic::Ordering::SeqCst) {
                        // Only what comes after arming counts.
                        seen.clear();
                        if cw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                        continue;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    let item = b"Event: ParkedCall\r\n";
                    let items = seen.windows(item.len()).filter(|w| w == item).count();
                    if items >= 1 {
                        // Forward up to the middle of the first item, then cut.
                        let at = memchr_find(&seen, b"Event: ParkedCall\r\n").unwrap() + 30;
                        let already = seen.len() - n;
                        if at > already {
                            let _ = cw.write_all(&seen[already..at.min(seen.len())]).await;
                        }
                        armed.store(false, std::sync::atomic::Ordering::SeqCst);
                        break;
                    }
                    if cw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                up.abort();
            });
        }
    });
    addr
}

fn memchr_find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_socket_cut_in_the_middle_of_a_list() {
    let Some((_g, direct)) = on_clean_pbx().await else { return };
    let mut events = direct.events();
    park_dialplan(&direct, "5559201", "default").await;
    next_event(&mut events, "parked", |e| parked_event_for(e, "5559201")).await;
    let armed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let addr = cutting_proxy(armed.clone()).await;
    let mut o = ClientOptions::new(format!("tcp://amiuser:amisecret@{addr}").parse().unwrap());
    o.reconnect = Backoff {
        initial: Duration::from_millis(100),
        max: Duration::from_millis(500),
        factor: 2.0,
        jitter: 0.0,
    };
    let c = Client::connect_with_store(o, ParkingStore::default());
    c.wait_logged_in(DEADLINE).await.unwrap();
    store_is_truth(&c, Duration::from_secs(5)).await;
    // The next list is cut after its first item has begun.
    armed.store(true, std::sync::atomic::Ordering::SeqCst);
    let r = tokio::time::timeout(Duration::from_secs(5), c.get_parked_calls(None))
        .await
        .expect("answered, not hanging");
    assert!(matches!(r, Err(ParkingError::Disconnected { .. })), "{r:?}");
    wait_for_state(&c, "the login after the cut", |s| *s == ConnectionState::LoggedIn).await;
    let took = store_is_truth(&c, Duration::from_secs(2)).await;
    assert_eq!(c.store().parked_calls_now().len(), 1, "the half-read list left nothing half-applied");
    println!("faults: a list cut mid-item; store = Asterisk {took:?} after the login");
    c.shutdown().await;
    direct.shutdown().await;
    clean(PORT_A).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_slower_than_their_deadline() {
    let Some((_g, _direct)) = on_clean_pbx().await else { return };
    // A retrieve to a phone that rings 12 s, with a 1 s deadline and 0 s of ring
    // allowance: the request fails with its timeout; Asterisk's late answer is not
    // mistaken for another request's.
    let store =
        ParkingStore::new(ami_parking::ParkingOptions::default().retrieve_ring_timeout(Duration::ZERO));
    let mut o = ClientOptions::new(format!("tcp://amiuser:amisecret@127.0.0.1:{PORT_A}").parse().unwrap());
    o.request_timeout = Duration::from_secs(1);
    let c = Client::connect_with_store(o, store);
    c.wait_logged_in(DEADLINE).await.unwrap();
    let mut events = c.events();
    park_dialplan(&c, "5559301", "default").await;
    let parked = next_event(&mut events, "parked", |e| parked_event_for(e, "5559301")).await;
    let started = Instant::now();
    let r = c.retrieve_call(None, parked.call().parking_space, "Local/s@slowanswer").await;
    assert!(matches!(r, Err(ParkingError::Timeout { .. })), "{r:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "the deadline held: {:?}", started.elapsed());
    // The phone answers later: the call leaves, reported once, and the store follows.
    let left = next_event(&mut events, "retrieved", |e| matches!(e, ParkingEvent::Retrieved { .. })).await;
    assert_eq!(left.call().unique_id(), parked.call().unique_id());
    // Another request on the same link is answered normally.
    let lots = c.request(Request::ParkingLots, Target::All).await.expect("the link is fine");
    drop(lots);
    store_is_truth(&c, Duration::from_secs(2)).await;
    c.shutdown().await;
}
