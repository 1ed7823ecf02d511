//! Rule engine speed: loading the stable Falco rules, and evaluating them over a realistic
//! event mix (the synthetic httpd capture of `dredge_format::synth`) on one core.
//!
//! The events come with a small in-memory context (process names, parents, container, user)
//! standing in for replay's state, so the figure is the engine's own cost per event: the
//! event-type index lookup plus every candidate rule's condition.
//! Run: `cargo bench --bench rules` (needs `DREDGE_SHARED`, default `../shared`).

#![allow(clippy::expect_used, reason = "a benchmark has no one to report a failed set-up to")]

use std::borrow::Cow;
use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dredge_format::table::table;
use dredge_format::{Capture, WriterOptions, synth};
use dredge_rules::compile::FieldRef;
use dredge_rules::eval::{Extracted, Fields, Val};
use dredge_rules::ruleset::load;

fn shared() -> Option<PathBuf> {
    let dir = std::env::var_os("DREDGE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    dir.join("falco-rules-data/rules/falco_rules.yaml").exists().then_some(dir)
}

/// One decoded event, owned, with what the rules ask of it.
struct Ev {
    code: u16,
    num: u64,
    res: i64,
    name: Vec<u8>,
    flags: u32,
    comm: &'static [u8],
    pcomm: &'static [u8],
}

impl Fields for Ev {
    fn extract(&self, f: &FieldRef) -> Extracted<'_> {
        let s = |b: &'static [u8]| Extracted::One(Val::Bytes(Cow::Borrowed(b)));
        match f.name.as_str() {
            "evt.type" => {
                Extracted::One(Val::Bytes(Cow::Borrowed(table().name(self.code).as_bytes())))
            }
            "evt.num" => Extracted::One(Val::Uint(self.num)),
            "evt.rawres" => Extracted::One(Val::Int(self.res)),
            "evt.is_open_read" => Extracted::One(Val::Bool(self.flags & 1 != 0)),
            "evt.is_open_write" => Extracted::One(Val::Bool(self.flags & 2 != 0)),
            "proc.name" => s(self.comm),
            "proc.pname" => s(self.pcomm),
            "proc.exe" | "proc.exepath" => s(b"/usr/local/apache2/bin/httpd"),
            "proc.cmdline" => s(b"httpd -DFOREGROUND"),
            "proc.args" => s(b"-DFOREGROUND"),
            "proc.aname" if f.arg.is_none() => Extracted::Many(vec![
                Val::Bytes(Cow::Borrowed(self.pcomm)),
                Val::Bytes(Cow::Borrowed(b"containerd-shim")),
            ]),
            "proc.aname" => s(self.pcomm),
            "proc.tty" => Extracted::One(Val::Uint(0)),
            "user.name" => s(b"www-data"),
            "user.uid" => Extracted::One(Val::Uint(33)),
            "container.id" => s(b"b199b3b57988"),
            "fd.typechar" => s(b"f"),
            "fd.name" | "fd.nameraw" if !self.name.is_empty() => {
                Extracted::One(Val::Bytes(Cow::Borrowed(&self.name)))
            }
            "fd.directory" if !self.name.is_empty() => {
                let end = self.name.iter().rposition(|&c| c == b'/').unwrap_or(0);
                Extracted::One(Val::Bytes(Cow::Borrowed(&self.name[..end])))
            }
            "fd.filename" if !self.name.is_empty() => {
                let start = self.name.iter().rposition(|&c| c == b'/').map_or(0, |i| i + 1);
                Extracted::One(Val::Bytes(Cow::Borrowed(&self.name[start..])))
            }
            _ => Extracted::Missing,
        }
    }
}

fn events(n: u64) -> Vec<Ev> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("mix.dcap");
    synth::write_capture(&path, n, 3, WriterOptions::default(), None).expect("generate");
    let capture = Capture::open(&path).expect("open");
    let mut out = Vec::new();
    for block in capture.event_blocks() {
        for e in block.expect("block").iter() {
            let raw = |i| e.params.raw(i).unwrap_or_default();
            let (name, flags) = match e.code() {
                3 => (raw(1).strip_suffix(&[0]).unwrap_or(raw(1)).to_vec(), 1),
                _ => (Vec::new(), 0),
            };
            let res = raw(0).try_into().map(i64::from_le_bytes).unwrap_or(0);
            let comm: &'static [u8] = if e.tid() % 7 == 0 { b"bash" } else { b"httpd" };
            out.push(Ev {
                code: e.code(),
                num: e.num + 1,
                res,
                name,
                flags,
                comm,
                pcomm: b"httpd",
            });
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let Some(shared) = shared() else {
        std::io::Write::write_all(&mut std::io::stderr(), b"skipped: no shared data\n").ok();
        return;
    };
    let text = std::fs::read_to_string(shared.join("falco-rules-data/rules/falco_rules.yaml"))
        .expect("rules");
    let files = vec![("falco_rules.yaml".to_string(), text)];
    let mut group = c.benchmark_group("rules");
    group.bench_function("load stable", |b| b.iter(|| black_box(load(&files))));
    let loaded = load(&files);
    assert!(loaded.ok());

    let evs = events(200_000);
    group.throughput(Throughput::Elements(evs.len() as u64));
    group.bench_function("eval stable", |b| {
        b.iter(|| {
            let mut hits = 0usize;
            for e in &evs {
                hits += loaded.ruleset.matches(e.code, e).count();
            }
            black_box(hits)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
