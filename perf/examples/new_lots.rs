//! What a `ParkedCall` that adds a new lot costs as the book grows (up to the
//! default cap, 10,000 lots), and then one in a lot the book has. A hostile server
//! can send 10,000 lots; this is the price, once a store.
//!
//! ```sh
//! cargo run --release -p ami-parking-perf --example new_lots
//! ```
use ami_parking_perf::*;
use std::time::Instant;
fn main() {
    let store = ami_parking::ParkingStore::default();
    let n = 10_000usize;
    let msgs: Vec<_> =
        (0..n).map(|i| live("ParkedCall", &format!("lot-{i:05}"), 701, &format!("1800000000.{i}"))).collect();
    let t = Instant::now();
    let mut last = Instant::now();
    for (i, m) in msgs.iter().enumerate() {
        store.apply_message(NOW, 1, m);
        if (i + 1) % 2_000 == 0 {
            println!(
                "lots {}: last 2,000 took {:.1} us/event",
                i + 1,
                last.elapsed().as_secs_f64() * 1e6 / 2000.0
            );
            last = Instant::now();
        }
    }
    println!("total {:?} for {n} new lots; lots now {}", t.elapsed(), store.parking_lots_now().len());
    // steady state: events on existing lots
    let msgs2: Vec<_> =
        (0..n).map(|i| live("ParkedCall", &format!("lot-{i:05}"), 702, &format!("1800000001.{i}"))).collect();
    let t = Instant::now();
    for m in &msgs2 {
        store.apply_message(NOW, 1, m);
    }
    println!("existing lots: {:.1} us/event", t.elapsed().as_secs_f64() * 1e6 / n as f64);
}
