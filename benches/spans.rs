//! Span pairing speed: 1 M spans on one core.
//!
//! The records are what a busy service writes: 64 threads, each serving requests one after
//! another, a request being a root span `http` with two or three children (`http.db`, with
//! `http.db.fetch` inside, `http.cache`, `http.render`), all threads interleaved. Ids are the
//! thread ids (`t`), as most emitters use. The records are decoded beforehand: the figure is the
//! pairing alone (interning the tag lists, the LIFO match, the parent look-up, the span table).
//! A second group adds decoding, from the raw writes.
//! Run: `cargo bench --bench spans`. The target is at least 5 M spans/s.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dredge_analyze::spans::{Mark, Pairer, Parsed, parse};

const SPANS: usize = 1_000_000;
const THREADS: i64 = 64;

/// The writes of one request, as text records.
fn request(tid: i64, n: usize) -> Vec<String> {
    let mut w = vec![format!(">:{tid}:http:method=GET,path=/item/{n}:")];
    w.push(format!(">:{tid}:http.db:table=items:"));
    w.push(format!(">:{tid}:http.db.fetch::"));
    w.push(format!("<:{tid}:http.db.fetch:rows=12:"));
    w.push(format!("<:{tid}:http.db::"));
    if n.is_multiple_of(3) {
        w.push(format!(">:{tid}:http.cache::"));
        w.push(format!("<:{tid}:http.cache:hit=1:"));
    }
    w.push(format!(">:{tid}:http.render::"));
    w.push(format!("<:{tid}:http.render::"));
    w.push(format!("<:{tid}:http:status=200:"));
    w
}

/// The writes of about `SPANS` spans, threads interleaved one record at a time, with the
/// number of spans and of requests they make.
fn writes() -> (Vec<(i64, Vec<u8>)>, usize, usize) {
    let mut per_thread: Vec<Vec<String>> = (0..THREADS).map(|_| Vec::new()).collect();
    let mut spans = 0;
    let mut n = 0;
    while spans < SPANS {
        let tid = 1000 + (n as i64 % THREADS);
        let r = request(tid, n);
        spans += r.len() / 2;
        per_thread[(n as i64 % THREADS) as usize].extend(r);
        n += 1;
    }
    let longest = per_thread.iter().map(Vec::len).max().unwrap_or(0);
    let mut out = Vec::new();
    for i in 0..longest {
        for (t, w) in per_thread.iter().enumerate() {
            if let Some(r) = w.get(i) {
                out.push((1000 + t as i64, r.clone().into_bytes()));
            }
        }
    }
    (out, spans, n)
}

fn pairing(c: &mut Criterion) {
    let (writes, spans, requests) = writes();
    let records: Vec<_> = writes
        .iter()
        .enumerate()
        .filter_map(|(i, (tid, data))| match parse(data) {
            Parsed::Tracer(t) => {
                let mark = Mark { ts: i as u64 * 1000, event: i as u64, tid: *tid };
                Some((t.dir, t.id.resolve(*tid, *tid, 1), t.tags, t.args, mark))
            }
            _ => None,
        })
        .collect();
    assert_eq!(records.len(), writes.len(), "every benchmark write is a record");

    let mut g = c.benchmark_group("spans");
    g.throughput(Throughput::Elements(spans as u64));
    g.sample_size(10);
    g.bench_function("pair 1M spans", |b| {
        b.iter(|| {
            let mut p = Pairer::default();
            for (dir, id, tags, args, mark) in &records {
                p.record(*dir, *id, tags, args.as_bytes(), *mark);
            }
            black_box(p.spans.len())
        })
    });
    g.bench_function("decode and pair 1M spans", |b| {
        b.iter(|| {
            let mut p = Pairer::default();
            for (i, (tid, data)) in writes.iter().enumerate() {
                if let Parsed::Tracer(t) = parse(data) {
                    let mark = Mark { ts: i as u64, event: i as u64, tid: *tid };
                    let id = t.id.resolve(*tid, *tid, 1);
                    p.record(t.dir, id, &t.tags, t.args.as_bytes(), mark);
                }
            }
            black_box(p.spans.len())
        })
    });
    g.finish();

    // The benchmark measures what it claims: every span closed, with the right parents.
    let mut p = Pairer::default();
    for (dir, id, tags, args, mark) in &records {
        p.record(*dir, *id, tags, args.as_bytes(), *mark);
    }
    assert_eq!(p.spans.len(), spans);
    assert!(p.spans.iter().all(|s| s.duration().is_some()));
    let roots = p.spans.iter().filter(|s| s.parent.is_none()).count();
    assert_eq!(roots, requests);
}

criterion_group!(benches, pairing);
criterion_main!(benches);
