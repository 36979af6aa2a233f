//! Parses one message over and over, for a profiler.
use ami_parking::ParkedCall;
use ami_parking_perf::*;
use std::hint::black_box;
fn main() {
    let m = live("ParkedCall", "lot0001", 1001, "1800000000.1");
    let t = std::time::Instant::now();
    let n: u32 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(2_000_000);
    for _ in 0..n {
        black_box(ParkedCall::from_message(1, black_box(&m), NOW));
    }
    println!("{} ns", t.elapsed().as_nanos() / u128::from(n));
}
