//! A 10k-call resync (decode, parse, reconcile), for a profiler.
use ami_parking_perf::*;
fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let (mut c, answer) = resync_setup(n);
    let t = std::time::Instant::now();
    resync_run(&mut c, &answer);
    println!("resync of {n}: {:?}", t.elapsed());
}
