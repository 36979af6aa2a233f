//! The cost of subscribers: `n` (default 50) subscribers of the global call list
//! and `n` of the total on a store of 10,000 calls, the churn applied and every
//! subscriber drained each 100 events. Prints ns per event, the best of three runs.
//!
//! `cargo run --release -p ami-parking-perf --example subscribers -- 50`
use ami_parking::futures_signals::signal::Signal;
use ami_parking::futures_signals::signal_vec::SignalVec;
use ami_parking_perf::*;
use std::hint::black_box;
fn main() {
    let v: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(50);
    let events = churn(10_000, 20_000);
    let mut best = u128::MAX;
    for _ in 0..3 {
        let conn = connection_with(10_000);
        let store = conn.store().clone();
        let mut lists: Vec<_> = (0..v).map(|_| Box::pin(store.parked_calls())).collect();
        let mut totals: Vec<_> = (0..v).map(|_| Box::pin(store.total_parked_calls())).collect();
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let t = std::time::Instant::now();
        for (k, m) in events.iter().enumerate() {
            black_box(store.apply_message(NOW, 1, m));
            if k % 100 == 99 {
                for s in lists.iter_mut() {
                    while let std::task::Poll::Ready(Some(d)) = s.as_mut().poll_vec_change(&mut cx) {
                        black_box(d);
                    }
                }
                for s in totals.iter_mut() {
                    while let std::task::Poll::Ready(Some(d)) = s.as_mut().poll_change(&mut cx) {
                        black_box(d);
                    }
                }
            }
        }
        best = best.min(t.elapsed().as_nanos() / events.len() as u128);
    }
    println!("{v} subscribers of each: {best} ns/event");
}
