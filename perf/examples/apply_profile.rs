//! Splits the cost of a live event: parsing it, and applying it.
use ami_parking::{ParkedCall, ParkingStore};
use ami_parking_perf::*;
use std::hint::black_box;
use std::time::Instant;
fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let ui_on = std::env::args().nth(2).as_deref() != Some("noui");
    let events = churn(n, 20_000);
    let t = Instant::now();
    for m in &events {
        black_box(ParkedCall::from_message(1, m, NOW));
    }
    println!("parse: {} ns/event", t.elapsed().as_nanos() / events.len() as u128);
    let one = &events[1];
    let t = Instant::now();
    for _ in 0..events.len() {
        black_box(ParkedCall::from_message(1, black_box(one), NOW));
    }
    println!("parse one hot message: {} ns/event", t.elapsed().as_nanos() / events.len() as u128);
    let mut best = u128::MAX;
    for _ in 0..3 {
        let mut conn = connection_with(n);
        let store: ParkingStore = conn.store().clone();
        let mut ui = if ui_on { Some(Watchers::new(&store, &mut conn)) } else { None };
        let t = Instant::now();
        timed_run(&store, ui.as_mut(), &events);
        best = best.min(t.elapsed().as_nanos() / events.len() as u128);
    }
    println!("apply (parse included): {best} ns/event");
    // The same, each 50 messages read just before they are applied (outside the
    // timing): what the apply costs when its message is in the cache, as one a client
    // has just decoded is. The difference is the cost of reading cold messages.
    let mut best = u128::MAX;
    for _ in 0..3 {
        let mut conn = connection_with(n);
        let store: ParkingStore = conn.store().clone();
        let mut ui = if ui_on { Some(Watchers::new(&store, &mut conn)) } else { None };
        let mut total = std::time::Duration::ZERO;
        for (c, chunk) in events.chunks(50).enumerate() {
            let bytes = chunk.iter().flat_map(|m| m.iter()).flat_map(|(k, v)| k.iter().chain(v));
            black_box(bytes.map(|&b| usize::from(b)).sum::<usize>());
            let t = Instant::now();
            for m in chunk {
                black_box(store.apply_message(NOW, 1, m));
            }
            if c % 20 == 19 {
                if let Some(ui) = ui.as_mut() {
                    black_box(ui.drain());
                }
            }
            total += t.elapsed();
        }
        best = best.min(total.as_nanos() / events.len() as u128);
    }
    println!("apply, its messages in the cache: {best} ns/event");
}

/// The timed loop, alone in a function so that callgrind can count it
/// (`--toggle-collect='*timed_run*'`).
#[inline(never)]
fn timed_run(store: &ParkingStore, mut ui: Option<&mut Watchers>, events: &[ami_parking::Message]) {
    for (k, m) in events.iter().enumerate() {
        black_box(store.apply_message(NOW, 1, m));
        if k % 1000 == 999 {
            if let Some(ui) = ui.as_mut() {
                black_box(ui.drain());
            }
        }
    }
}
