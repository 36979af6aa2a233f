//! Requests in flight on one connection: N `Ping`s sent (each with a look at the
//! next deadline, as a driver does), then answered, in the order sent, in reverse
//! and shuffled; µs a request for each half. What the connection's tables of requests,
//! ActionIDs and timers cost as they grow (perf/README.md, seventh pass).
//!
//! ```sh
//! cargo run --release -p ami-parking-perf --example in_flight
//! ```
use ami_parking::{Action, Connection, ConnectionConfig, Request, Target, Timestamp};
use std::time::Instant;

fn logged_in(t: Timestamp) -> Connection {
    let mut cfg = ConnectionConfig::ami("u", "s");
    cfg.request_timeout = std::time::Duration::from_secs(3600);
    let store_opts = ami_parking::ParkingOptions { auto_refresh: false, ..Default::default() };
    let mut conn = Connection::with_store(cfg, ami_parking::ParkingStore::new(store_opts), t);
    conn.handle_connected(t);
    conn.handle_input(t, b"Asterisk Call Manager/11.0.0\r\n").unwrap();
    let login = conn.poll_transmit().unwrap();
    let id = std::str::from_utf8(&login)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("ActionID: "))
        .unwrap()
        .to_owned();
    conn.handle_input(t, format!("Response: Success\r\nActionID: {id}\r\nMessage: ok\r\n\r\n").as_bytes())
        .unwrap();
    while conn.poll_transmit().is_some() {}
    while conn.poll_output().is_some() {}
    conn
}

fn main() {
    let t = Timestamp::from_unix_millis(1_000);
    for n in [1_000usize, 10_000, 50_000] {
        for order in ["sent", "reverse", "shuffled"] {
            let mut conn = logged_in(t);
            let s = Instant::now();
            let mut ids = Vec::with_capacity(n);
            for _ in 0..n {
                conn.request(t, Request::Action(Action::new("Ping")), Target::All).unwrap();
                let b = conn.poll_transmit().unwrap();
                let id = std::str::from_utf8(&b)
                    .unwrap()
                    .lines()
                    .find_map(|l| l.strip_prefix("ActionID: "))
                    .unwrap()
                    .to_owned();
                ids.push(id);
                let _ = conn.poll_timeout();
            }
            let sent = s.elapsed();
            match order {
                "reverse" => ids.reverse(),
                "shuffled" => shuffle(&mut ids),
                _ => {}
            }
            let s = Instant::now();
            for id in &ids {
                conn.handle_input(
                    t,
                    format!("Response: Success\r\nActionID: {id}\r\nPing: Pong\r\n\r\n").as_bytes(),
                )
                .unwrap();
                while conn.poll_output().is_some() {}
                let _ = conn.poll_timeout();
            }
            let answered = s.elapsed();
            println!(
                "n={n} answered {order:>8}: send {:.1} µs/req, answer {:.1} µs/req",
                sent.as_secs_f64() * 1e6 / n as f64,
                answered.as_secs_f64() * 1e6 / n as f64
            );
        }
    }
}

/// Fisher-Yates with a fixed xorshift: the same order each run.
fn shuffle<T>(v: &mut [T]) {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in (1..v.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.swap(i, (x % (i as u64 + 1)) as usize);
    }
}
