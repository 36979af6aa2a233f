//! The churn of `apply_profile` as Asterisk sends it: bytes through
//! `Connection::handle_input` in 64 KiB reads (decode and parse included), the store
//! applying each event, a UI draining. `apply_bytes [calls]`
use ami_parking_perf::*;
use std::hint::black_box;
use std::time::Instant;

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let events = 40_000;
    let bytes = churn_bytes(n, events / 2);
    let mut best = u128::MAX;
    for _ in 0..5 {
        let mut conn = connection_with(n);
        let store = conn.store().clone();
        let mut ui = Watchers::new(&store, &mut conn);
        let t = Instant::now();
        timed_bytes(&mut conn, &mut ui, &bytes);
        best = best.min(t.elapsed().as_nanos() / events as u128);
        assert_eq!(store.total_parked_calls_now(), n);
    }
    println!("bytes: {} B an event", bytes.len() / events);
    println!("apply through the connection (decode, parse, store, UI): {best} ns/event");
}

/// The timed loop, alone for callgrind (`--toggle-collect='*timed_bytes*'`).
#[inline(never)]
fn timed_bytes(conn: &mut ami_parking::Connection, ui: &mut Watchers, bytes: &[u8]) {
    feed_reads(conn, black_box(ui), bytes);
}
