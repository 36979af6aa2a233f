//! Where a parked call's heap bytes go: the parsed calls alone, then the store.
use ami_parking::{ParkedCall, ParkingStore};
use ami_parking_perf::*;
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use std::alloc::System;
use std::sync::Arc;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn main() {
    let n = 10_000;
    let msgs: Vec<_> = (0..n)
        .map(|i| {
            let (lot, space) = place(i);
            live("ParkedCall", &lot, space, &format!("1800000000.{i}"))
        })
        .collect();
    let per =
        |s: stats_alloc::Stats| (s.bytes_allocated as i64 - s.bytes_deallocated as i64) as f64 / n as f64;
    let region = Region::new(GLOBAL);
    let calls: Vec<Arc<ParkedCall>> =
        msgs.iter().map(|m| Arc::new(ParkedCall::from_message(1, m, NOW).unwrap())).collect();
    let s = region.change();
    println!("Arc<ParkedCall> + text + lot name, each call: {:.1} B (Vec of pointers 8 B included)", per(s));
    println!("size_of ParkedCall: {}", std::mem::size_of::<ParkedCall>());
    drop(calls);
    let region = Region::new(GLOBAL);
    let store = ParkingStore::default();
    for m in &msgs {
        store.apply_message(NOW, 1, m);
    }
    let s = region.change();
    println!(
        "store: {:.1} B a call ({} allocations a call)",
        per(s),
        (s.allocations as i64 - s.deallocations as i64) as f64 / n as f64
    );
    println!("{:?}", store.debug_sizes());
}
