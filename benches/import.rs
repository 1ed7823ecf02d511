//! scap import throughput on the largest shared capture, side by side with sysdig reading the
//! same file (`sysdig -r FILE -D -p '%evt.num' > /dev/null`), so the ratio comes from one run.
//!
//! Needs the shared captures (`DREDGE_SHARED`, default `../shared`); `sysdig` is optional.
//! Run: `cargo bench --bench import`.

#![allow(clippy::expect_used, reason = "a benchmark has no one to report a failed set-up to")]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dredge_format::WriterOptions;
use dredge_format::scap::import::import;

const LARGEST: &str = "captures/sysflow/mpm-worker_full_capture.scap";
const EVENTS: u64 = 36_343;

fn shared() -> Option<PathBuf> {
    let dir = std::env::var_os("DREDGE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    dir.join(LARGEST).exists().then_some(dir)
}

fn bench(c: &mut Criterion) {
    let Some(shared) = shared() else {
        std::io::Write::write_all(&mut std::io::stderr(), b"skipped: no shared data\n").ok();
        return;
    };
    let src = shared.join(LARGEST);
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("import.dcap");

    let mut group = c.benchmark_group("import");
    group.throughput(Throughput::Elements(EVENTS));
    group.sample_size(20);
    group.bench_function("dredge", |b| {
        b.iter(|| import(&src, &out, Vec::new(), WriterOptions::default(), None).expect("import"))
    });
    if Command::new("sysdig").arg("--version").output().is_ok() {
        group.bench_function("sysdig", |b| {
            b.iter(|| {
                Command::new("sysdig")
                    .args(["-D", "-p", "%evt.num", "-r"])
                    .arg(&src)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .expect("sysdig runs")
            })
        });
    } else {
        println!("skipped sysdig: not installed");
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
