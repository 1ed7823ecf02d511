//! Parquet writing speed: `export --events` rows through `EventsWriter` (column building,
//! encoding, zstd) with field values fixed in memory, so the figure is the writer's own cost
//! per row, apart from replay's state.
//! Run: `cargo bench --bench parquet`.

#![allow(clippy::expect_used, reason = "a benchmark has no one to report a failed set-up to")]

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dredge_analyze::parquet::EventsWriter;
use dredge_rules::compile::FieldRef;
use dredge_rules::eval::{Extracted, Fields, Val};

/// An event with typical values: a connect from a containerised httpd child.
struct Row(u64);

impl Fields for Row {
    fn extract(&self, f: &FieldRef) -> Extracted<'_> {
        let s = |b: &'static [u8]| Extracted::One(Val::Bytes(Cow::Borrowed(b)));
        match f.name.as_str() {
            "evt.rawtime" => Extracted::One(Val::Uint(1_555_011_817_823_463_986 + self.0 * 1000)),
            "evt.num" => Extracted::One(Val::Uint(self.0)),
            "evt.cpu" | "evt.rawres" => Extracted::One(Val::Int(0)),
            "evt.type" => s(b"connect"),
            "evt.dir" => s(b"<"),
            "evt.res" => s(b"SUCCESS"),
            "evt.args" => s(b"res=0 tuple=172.17.0.2:48512->10.0.0.7:5432 fd=7(<4t>)"),
            "thread.tid" | "proc.pid" => Extracted::One(Val::Int(10_999 + (self.0 % 64) as i64)),
            "proc.ppid" => Extracted::One(Val::Int(10_300)),
            "proc.name" => s(b"httpd"),
            "proc.exepath" => s(b"/usr/local/apache2/bin/httpd"),
            "proc.cmdline" => s(b"httpd -DFOREGROUND"),
            "proc.aname" => Extracted::Many(vec![
                Val::Bytes(Cow::Borrowed(b"httpd")),
                Val::Bytes(Cow::Borrowed(b"containerd-shim")),
            ]),
            "user.name" => s(b"www-data"),
            "user.uid" => Extracted::One(Val::Uint(33)),
            "container.id" => s(b"b199b3b57988"),
            "container.name" => s(b"web"),
            "container.image" => s(b"httpd:2.4"),
            "fd.num" => Extracted::One(Val::Int(7)),
            "fd.type" => s(b"ipv4"),
            "fd.name" => s(b"172.17.0.2:48512->10.0.0.7:5432"),
            "fd.l4proto" => s(b"tcp"),
            "fd.cip" => Extracted::One(Val::Ip(IpAddr::V4(Ipv4Addr::new(172, 17, 0, 2)))),
            "fd.sip" => Extracted::One(Val::Ip(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7)))),
            "fd.cport" => Extracted::One(Val::Uint(48_512)),
            "fd.sport" => Extracted::One(Val::Uint(5432)),
            _ => Extracted::Missing,
        }
    }
}

fn bench(c: &mut Criterion) {
    const ROWS: u64 = 200_000;
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("events.parquet");
    let mut group = c.benchmark_group("parquet");
    group.sample_size(10);
    group.throughput(Throughput::Elements(ROWS));
    group.bench_function("events_writer", |b| {
        b.iter(|| {
            let mut w = EventsWriter::create(&path).expect("create");
            for i in 0..ROWS {
                w.push((i / 4096) as u32, &Row(i)).expect("push");
            }
            w.finish().expect("finish")
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
