//! The transport's reconnect backoff, on tokio's paused clock: the delays between
//! attempts are read off virtual time, so they are exact and the test takes no real
//! time. (The real-sandbox test of a refused login is in `sandbox/asterisk.rs`.)

use ami_parking::futures_signals::signal::SignalExt;
use ami_parking::{Backoff, ConnectionState};
use ami_parking_transport::{Client, ClientOptions};
use futures_util::StreamExt;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

/// The virtual times of the first `n` `Reconnecting` states of `client`.
async fn attempts(client: &Client, n: usize) -> Vec<(u32, Instant)> {
    let mut states = client.connection_state().to_stream();
    let mut out = Vec::new();
    while out.len() < n {
        match states.next().await.expect("state stream") {
            ConnectionState::Reconnecting { attempt, .. } => out.push((attempt, Instant::now())),
            ConnectionState::Stopped => panic!("stopped"),
            _ => {}
        }
    }
    out
}

/// Gaps between consecutive attempts, in whole milliseconds.
fn gaps(a: &[(u32, Instant)]) -> Vec<u128> {
    a.windows(2).map(|w| (w[1].1 - w[0].1).as_millis()).collect()
}

#[tokio::test(start_paused = true)]
async fn a_server_that_refuses_connections_is_retried_with_growing_delays() {
    // A port nobody listens on: each connect is refused at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut opts = ClientOptions::new(format!("tcp://amiuser@127.0.0.1:{port}").parse().unwrap());
    opts.reconnect =
        Backoff { initial: Duration::from_secs(1), max: Duration::from_secs(8), factor: 2.0, jitter: 0.0 };
    let client = Client::connect(opts);
    let seen = attempts(&client, 6).await;
    assert_eq!(seen.iter().map(|a| a.0).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5, 6]);
    assert_eq!(gaps(&seen), vec![1000, 2000, 4000, 8000, 8000], "1 s doubling, capped at 8 s");
    client.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_refused_login_backs_off_for_minutes() {
    // A server that answers every Login as Asterisk does with a wrong secret
    // (wire doc: `Message: Authentication failed`, then the link closes).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else { return };
            s.write_all(b"Asterisk Call Manager/11.0.0\r\n").await.unwrap();
            let mut buf = vec![0u8; 4096];
            let mut got = Vec::new();
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
            let text = String::from_utf8_lossy(&got);
            let aid = text.lines().find_map(|l| l.strip_prefix("ActionID: ")).unwrap_or("").to_string();
            let answer =
                format!("Response: Error\r\nActionID: {aid}\r\nMessage: Authentication failed\r\n\r\n");
            let _ = s.write_all(answer.as_bytes()).await;
        }
    });
    let mut opts = ClientOptions::new(format!("tcp://amiuser:wrong@127.0.0.1:{port}").parse().unwrap());
    opts.refused_login =
        Backoff { initial: Duration::from_secs(60), max: Duration::from_secs(300), factor: 2.0, jitter: 0.0 };
    let client = Client::connect(opts);
    let seen = attempts(&client, 5).await;
    assert_eq!(gaps(&seen), vec![60_000, 120_000, 240_000, 300_000], "one minute, doubling, capped at five");
    client.shutdown().await;
}

/// The delays exactly, jitter included: `unit` 0 is the low end (-20 %), 1 the high
/// end (+20 %, never past the cap), 0.5 the middle.
#[test]
fn backoff_delays_double_spread_by_the_jitter_and_stop_at_the_cap() {
    let ms = Duration::from_millis;
    let b = Backoff::default();
    assert_eq!(b.delay(1, 0.5), ms(250));
    assert_eq!(b.delay(1, 0.0), ms(200));
    assert_eq!(b.delay(1, 0.25), ms(225));
    assert_eq!(b.delay(2, 0.0), ms(400));
    assert_eq!(b.delay(2, 1.0), ms(600));
    assert_eq!(b.delay(3, 0.75), ms(1100));
    assert_eq!(b.delay(5, 0.0), ms(2400), "capped at 3 s, then spread");
    assert_eq!(b.delay(5, 1.0), ms(3000), "never past the cap");
    let slow = Backoff { initial: ms(100), max: Duration::from_secs(60), factor: 3.0, jitter: 0.5 };
    assert_eq!(slow.delay(3, 0.0), ms(450));
    assert_eq!(slow.delay(3, 1.0), ms(1350));
}

/// A policy whose numbers make no sense waits its cap, or nothing: never a panic
/// (found by a review: a NaN jitter, or an initial delay past what a `Duration` holds,
/// panicked in the link's task).
#[test]
fn backoff_with_senseless_numbers_never_panics() {
    let secs = Duration::from_secs;
    let odd = [
        Backoff { jitter: f64::NAN, ..Backoff::default() },
        Backoff { factor: f64::NAN, ..Backoff::default() },
        Backoff { factor: f64::INFINITY, ..Backoff::default() },
        Backoff { jitter: -7.0, ..Backoff::default() },
        Backoff { initial: Duration::MAX, max: Duration::MAX, factor: 2.0, jitter: 0.2 },
        Backoff { initial: secs(1), max: Duration::MAX, factor: 1e300, jitter: 0.2 },
    ];
    for b in odd {
        for attempt in [0, 1, 2, 70, u32::MAX] {
            for unit in [0.0, 0.5, 1.0, f64::NAN] {
                assert!(b.delay(attempt, unit) <= b.max, "{b:?} {attempt} {unit}");
            }
        }
    }
    assert_eq!(Backoff { jitter: f64::NAN, ..Backoff::default() }.delay(1, 0.5), secs(3), "the cap");
}

/// A program that waits for a lost link to come back gets it back: the wait goes on
/// through failed attempts until the login (found by a review: it failed at once,
/// with the old failure, while the link was reconnecting).
#[tokio::test(start_paused = true)]
async fn a_wait_started_while_the_link_is_down_lasts_until_it_is_back() {
    use ami_parking::ami_codec::{Decoded, Decoder};
    use ami_parking_tests::ami_server::standard_answer;
    // Connection 1 is served until the test drops it; connection 2's login is refused
    // (a failed attempt during the wait); connection 3 and on are served.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (drop_first, dropped) = tokio::sync::watch::channel(false);
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        for n in 1.. {
            let Ok((mut s, _)) = listener.accept().await else { return };
            count.store(n, std::sync::atomic::Ordering::SeqCst);
            let mut dropped = dropped.clone();
            tokio::spawn(async move {
                s.write_all(b"Asterisk Call Manager/9.0.0\r\n").await.unwrap();
                let mut decoder = Decoder::new().without_banner();
                let mut buf = vec![0u8; 16 * 1024];
                loop {
                    let read = tokio::select! {
                        r = s.read(&mut buf) => r,
                        _ = dropped.wait_for(|d| *d), if n == 1 => return,
                    };
                    let Ok(k @ 1..) = read else { return };
                    let mut out = String::new();
                    let _ = decoder.decode(&buf[..k], |d| {
                        if let Decoded::Message(m) = d {
                            let m = m.to_message();
                            out.push_str(&match (n, m.get_str("Action").as_deref()) {
                                (2, Some("Login")) => format!(
                                    "Response: Error\r\nActionID: {}\r\nMessage: Authentication failed\r\n\r\n",
                                    m.get_str("ActionID").unwrap_or_default()
                                ),
                                _ => standard_answer(&m),
                            });
                        }
                    });
                    if s.write_all(out.as_bytes()).await.is_err() || out.contains("Authentication failed") {
                        return;
                    }
                }
            });
        }
    });
    let mut opts = ClientOptions::new(format!("tcp://amiuser:secret@127.0.0.1:{port}").parse().unwrap());
    opts.reconnect = Backoff { jitter: 0.0, ..Backoff::default() };
    let client = Client::connect(opts);
    client.wait_logged_in(Duration::from_secs(5)).await.expect("the first login");
    drop_first.send(true).unwrap();
    let mut states = client.connection_state().to_stream();
    while !matches!(states.next().await, Some(ConnectionState::Reconnecting { .. })) {}
    // Down now: the wait lasts through the refused login to the next one.
    client.wait_logged_in(Duration::from_secs(600)).await.expect("back after a refused attempt");
    let seen = accepted.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(seen, 3, "logged in on the third connection, the second refused during the wait");
    client.shutdown().await;
}

/// The attempt count: one more per failed link, back to 1 after a stable one, and
/// refused logins follow their own, slower backoff.
#[test]
fn backoff_attempts_count_failures_in_a_row() {
    use ami_parking::{Reconnect, REFUSED_LOGIN};
    let mut r = Reconnect::new(Backoff { jitter: 0.0, ..Backoff::default() });
    assert_eq!(r.attempt(), 0);
    r.after_link(None, false, 0.5);
    r.after_link(Some(Duration::from_secs(1)), false, 0.5);
    assert_eq!(r.attempt(), 2);
    assert_eq!(r.after_link(Some(Duration::from_secs(10)), false, 0.5), (1, Duration::from_millis(250)));
    assert_eq!(r.attempt(), 1);
    let (n, wait) = r.after_link(None, true, 0.5);
    assert_eq!((n, wait), (2, REFUSED_LOGIN.delay(1, 0.5)));
    assert_eq!(r.after_link(None, true, 0.5).1, REFUSED_LOGIN.delay(2, 0.5));
}
