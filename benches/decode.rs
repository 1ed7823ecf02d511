//! Decode and write throughput of the `.dcap` format on a realistic synthetic capture.
//!
//! The capture imitates an httpd under load (`dredge_format::synth`), 5 M events. `decode/1`
//! and `decode/2` decode every block and touch every event on a pool of one and of two
//! threads: their ratio is the parallel speed-up. `write` measures the writer, compression
//! included. The compressed size per event is printed once, before the runs.
//!
//! Run: `cargo bench --bench decode` (set `DREDGE_BENCH_EVENTS` for another size).

#![allow(clippy::expect_used, reason = "a benchmark has no one to report a failed set-up to")]

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dredge_format::{Capture, WriterOptions, synth};

fn events() -> u64 {
    std::env::var("DREDGE_BENCH_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(5_000_000)
}

/// Decodes every block and folds every event into a checksum, so nothing is optimised away.
fn decode_all(capture: &Capture) -> u64 {
    let sum = AtomicU64::new(0);
    capture.par_event_blocks(|block| {
        let Ok(block) = block else { return };
        let mut local = 0u64;
        for e in block.iter() {
            local = local.wrapping_add(e.header.ts ^ e.params.byte_len() as u64);
        }
        sum.fetch_add(local, Ordering::Relaxed);
    });
    sum.into_inner()
}

fn bench(c: &mut Criterion) {
    let n = events();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bench.dcap");
    let summary = synth::write_capture(&path, n, 1, WriterOptions::default(), None)
        .expect("generate capture");
    println!(
        "capture: {} events, {} blocks, {} bytes, {:.2} bytes/event",
        summary.events,
        summary.blocks,
        summary.bytes,
        summary.bytes as f64 / summary.events as f64
    );
    let capture = Capture::open(&path).expect("open capture");

    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Elements(n));
    group.sample_size(10);
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("pool");
        group.bench_function(format!("{threads}"), |b| {
            b.iter(|| pool.install(|| black_box(decode_all(&capture))))
        });
    }
    group.finish();

    let write_n = n / 5;
    let mut group = c.benchmark_group("write");
    group.throughput(Throughput::Elements(write_n));
    group.sample_size(10);
    let out = dir.path().join("write.dcap");
    group.bench_function("synth", |b| {
        b.iter(|| synth::write_capture(&out, write_n, 2, WriterOptions::default(), None))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
