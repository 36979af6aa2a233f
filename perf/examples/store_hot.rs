//! A retrieve and a park of the same two messages, over and over, on a store of `n`
//! calls: everything hot in cache, so what is left is the store's own work.
use ami_parking_perf::*;
use std::hint::black_box;
fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100);
    let iters: u32 = std::env::args().nth(2).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let ui_on = std::env::args().nth(3).as_deref() != Some("noui");
    let mut conn = connection_with(n);
    let store = conn.store().clone();
    let mut ui = if ui_on { Some(Watchers::new(&store, &mut conn)) } else { None };
    let (lot, space) = place(0);
    let out = live("UnParkedCall", &lot, space, "1800000000.0");
    let back = live("ParkedCall", &lot, space, "1800000000.0");
    let t = std::time::Instant::now();
    for k in 0..iters {
        black_box(store.apply_message(NOW, 1, &out));
        black_box(store.apply_message(NOW, 1, &back));
        if k % 500 == 499 {
            if let Some(ui) = ui.as_mut() {
                black_box(ui.drain());
            }
        }
    }
    println!("{} ns/event", t.elapsed().as_nanos() / (2 * u128::from(iters)));
}
