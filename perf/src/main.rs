//! `perf`: one JSON object with the core's throughput, latency and memory figures,
//! measured in one run on the same bytes as a memchr baseline and the peers.
//!
//! Run from the repository root: `cargo run --release --bin perf`.
//! `--quick` measures the same figures on small inputs (one run each, stores of
//! 100, 1,000 and 10,000 calls under the same keys): what CI runs to check that
//! every figure is produced, not what they are.

use ami_parking::{Request, Target};
use ami_parking_perf::*;
use serde_json::json;
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use std::alloc::System;
use std::hint::black_box;
use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Best of `runs` timings of `f`.
fn best(runs: usize, mut f: impl FnMut() -> Duration) -> Duration {
    (0..runs).map(|_| f()).min().unwrap_or_default()
}

fn mb_s(bytes: usize, d: Duration) -> f64 {
    (bytes as f64 / 1e6 / d.as_secs_f64() * 10.0).round() / 10.0
}

fn time<T>(f: impl FnOnce() -> T) -> Duration {
    let t = Instant::now();
    black_box(f());
    t.elapsed()
}

/// The sizes of one run.
struct Sizes {
    corpus: usize,
    frames: usize,
    runs: usize,
    /// Store sizes of the three apply figures (100, 10k, 100k).
    stores: [usize; 3],
    pairs: usize,
    calls: usize,
}

const FULL: Sizes = Sizes {
    corpus: 32 << 20,
    frames: 16 << 20,
    runs: 5,
    stores: [100, 10_000, 100_000],
    pairs: 20_000,
    calls: 10_000,
};
const QUICK: Sizes = Sizes {
    corpus: 1 << 20,
    frames: 1 << 19,
    runs: 1,
    stores: [100, 1_000, 10_000],
    pairs: 1_000,
    calls: 1_000,
};

/// Nanoseconds per live event at `n` parked calls, a UI subscribed to the global view
/// and to one lot's grid (their diffs drained every 1000 events, inside the timing).
fn apply_ns_per_event(n: usize, pairs: usize, runs: usize) -> f64 {
    let mut conn = connection_with(n);
    let store = conn.store().clone();
    let mut ui = Watchers::new(&store, &mut conn);
    let d = best(runs, || {
        // Each run starts from the same calls: the churn names their unique ids.
        let mut conn = connection_with(n);
        let store = conn.store().clone();
        let mut ui = Watchers::new(&store, &mut conn);
        let events = churn(n, pairs);
        let t = Instant::now();
        for (k, m) in events.iter().enumerate() {
            black_box(store.apply_message(NOW, 1, m));
            if k % 1000 == 999 {
                black_box(ui.drain());
            }
        }
        black_box(ui.drain());
        let d = t.elapsed();
        assert_eq!(store.total_parked_calls_now(), n, "churn keeps the count");
        d
    });
    black_box(ui.drain());
    d.as_nanos() as f64 / (2 * pairs) as f64
}

fn main() {
    let mut quick = false;
    for a in std::env::args().skip(1) {
        match a.as_str() {
            "--quick" => quick = true,
            "-h" | "--help" => {
                println!("perf [--quick]: prints one JSON object of the core's figures (perf/README.md)");
                println!("  --quick  small inputs, one run each: checks the figures are produced");
                return;
            }
            other => {
                eprintln!("perf: unknown argument {other} (try --help)");
                std::process::exit(2);
            }
        }
    }
    let s = if quick { QUICK } else { FULL };
    let corpus = tcp_corpus(s.corpus);
    let frames = amiws_corpus(s.frames);
    let frame_bytes: usize = frames.iter().map(Vec::len).sum();
    // The same bytes must mean the same messages to everyone.
    let (a, b, c) = (decode_ours(&corpus), peer_asterisk_rs_ami(&corpus), memchr_scan(&corpus));
    let runs = s.runs;
    let decode = best(runs, || time(|| decode_ours(&corpus)));
    let decode_full = best(runs, || time(|| decode_ours_full(&corpus)));
    let conn = best(runs, || time(|| connection_ours(&corpus)));
    let memchr = best(runs, || time(|| memchr_scan(&corpus)));
    let peer = best(runs, || time(|| peer_asterisk_rs_ami(&corpus)));
    let amiws = best(runs, || time(|| amiws_ours(&frames)));

    // Reading the events alone (what every apply starts with), to show where time goes.
    let parse_events = churn(s.calls, s.pairs);
    let parse = best(runs.min(3), || {
        time(|| {
            for m in &parse_events {
                black_box(ami_parking::ParkedCall::from_message(1, m, NOW));
            }
        })
    });
    let parse_ns = parse.as_nanos() as f64 / parse_events.len() as f64;
    let ns_100 = apply_ns_per_event(s.stores[0], s.pairs, runs.min(3));
    let ns_10k = apply_ns_per_event(s.stores[1], s.pairs, runs.min(3));
    let ns_100k = apply_ns_per_event(s.stores[2], s.pairs, runs.min(3));

    let wire_10k = wire_ns_per_event(s.stores[1], s.pairs, runs.min(3));

    let heap_per_call = heap_bytes_per_call(s.calls);

    let resync = best(runs, || {
        let (mut c, answer) = resync_setup(s.calls);
        time(|| resync_run(&mut c, &answer))
    });
    let refresh = best(runs, || {
        let (mut c, answer) = resync_setup(s.calls);
        resync_run(&mut c, &answer);
        c.request_with_action_id(NOW, Request::ParkedCalls { lot: None }, Target::All, "r1").unwrap();
        while c.poll_transmit().is_some() {}
        time(|| resync_run(&mut c, &answer))
    });

    let report = json!({
        "quick": quick,
        "corpus_mb": (corpus.len() as f64 / 1e6 * 10.0).round() / 10.0,
        "messages": a,
        "messages_peer": b,
        "messages_memchr": c,
        "decode_mb_s": mb_s(corpus.len(), decode),
        "decode_full_mb_s": mb_s(corpus.len(), decode_full),
        "connection_mb_s": mb_s(corpus.len(), conn),
        "decode_amiws_mb_s": mb_s(frame_bytes, amiws),
        "memchr_mb_s": mb_s(corpus.len(), memchr),
        "peer_asterisk_rs_ami_mb_s": mb_s(corpus.len(), peer),
        "decode_vs_peer": (decode_ratio(peer, decode) * 100.0).round() / 100.0,
        "memchr_vs_decode": (decode_ratio(decode, memchr) * 100.0).round() / 100.0,
        "apply_ns_per_event_100": ns_100.round(),
        "apply_ns_per_event_10k": ns_10k.round(),
        "apply_ns_per_event_100k": ns_100k.round(),
        "apply_events_per_s_10k": (1e9 / ns_10k).round(),
        "wire_events_per_s_10k": (1e9 / wire_10k).round(),
        "parse_ns_per_event": parse_ns.round(),
        "store_ns_per_event_10k": (ns_10k - parse_ns).round(),
        "heap_bytes_per_call": heap_per_call.round(),
        "resync_10k_ms": (resync.as_secs_f64() * 1e4).round() / 10.0,
        "refresh_unchanged_10k_ms": (refresh.as_secs_f64() * 1e4).round() / 10.0,
        "peers_not_runnable": {
            "asterisk-manager 2.1.3": "its parser (parse_ami_protocol_message) is private",
            "asterisk-ami 0.1.8": "its ResponseBuilder lives in a private module",
        },
    });
    println!("{report}");
}

/// Nanoseconds per live event at `n` parked calls as a client sees them: the churn's
/// bytes through `Connection::handle_input` in 64 KiB reads (decoding, reading, the
/// store, the connection's outputs taken and the UI's diffs drained after each read).
fn wire_ns_per_event(n: usize, pairs: usize, runs: usize) -> f64 {
    let bytes = churn_bytes(n, pairs);
    let d = best(runs, || {
        let mut conn = connection_with(n);
        let store = conn.store().clone();
        let mut ui = Watchers::new(&store, &mut conn);
        let d = time(|| feed_reads(&mut conn, &mut ui, &bytes));
        assert_eq!(store.total_parked_calls_now(), n, "churn keeps the count");
        d
    });
    d.as_nanos() as f64 / (2 * pairs) as f64
}

/// Heap per parked call: what the store holds for `n` calls, over `n`.
fn heap_bytes_per_call(n: usize) -> f64 {
    let msgs: Vec<_> = (0..n)
        .map(|i| {
            let (lot, space) = place(i);
            live("ParkedCall", &lot, space, &format!("1800000000.{i}"))
        })
        .collect();
    let region = Region::new(GLOBAL);
    let store = ami_parking::ParkingStore::default();
    for m in &msgs {
        store.apply_message(NOW, 1, m);
    }
    let stats = region.change();
    drop(store);
    (stats.bytes_allocated as i64 - stats.bytes_deallocated as i64) as f64 / n as f64
}

/// How many times faster `fast` is than `slow`.
fn decode_ratio(slow: Duration, fast: Duration) -> f64 {
    slow.as_secs_f64() / fast.as_secs_f64()
}
