//! Criterion benchmarks of the core: decoding the firehose (raw AMI and amiws),
//! applying parking events at 100, 10k and 100k parked calls, and a 10k-call resync.

use ami_parking_perf::*;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::hint::black_box;

fn decode(c: &mut Criterion) {
    let corpus = tcp_corpus(8 << 20);
    let frames = amiws_corpus(4 << 20);
    let mut g = c.benchmark_group("decode");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(corpus.len() as u64));
    g.bench_function("ours", |b| b.iter(|| decode_ours(black_box(&corpus))));
    g.bench_function("ours_full", |b| b.iter(|| decode_ours_full(black_box(&corpus))));
    g.bench_function("connection", |b| b.iter(|| connection_ours(black_box(&corpus))));
    g.bench_function("memchr", |b| b.iter(|| memchr_scan(black_box(&corpus))));
    g.bench_function("peer_asterisk_rs_ami", |b| b.iter(|| peer_asterisk_rs_ami(black_box(&corpus))));
    g.throughput(Throughput::Bytes(frames.iter().map(Vec::len).sum::<usize>() as u64));
    g.bench_function("amiws", |b| b.iter(|| amiws_ours(black_box(&frames))));
    g.finish();
}

fn apply(c: &mut Criterion) {
    let mut g = c.benchmark_group("apply");
    g.sample_size(10);
    for n in [100usize, 10_000, 100_000] {
        // Each leave names the unique id its call has in a fresh store: every run
        // starts from one.
        let events = churn(n, 2_000);
        g.throughput(Throughput::Elements(events.len() as u64));
        g.bench_function(format!("{n}_parked"), |b| {
            b.iter_batched(
                || store_with(n),
                |store| {
                    for m in &events {
                        black_box(store.apply_message(NOW, 1, m));
                    }
                    store
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

fn resync(c: &mut Criterion) {
    let mut g = c.benchmark_group("resync");
    g.sample_size(10);
    g.bench_function("10k_initial", |b| {
        b.iter_batched(
            || resync_setup(10_000),
            |(mut conn, answer)| resync_run(&mut conn, &answer),
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, decode, apply, resync);
criterion_main!(benches);
