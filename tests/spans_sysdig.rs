//! Tracer spans against sysdig 0.29.3's own output on the captures of
//! `tracer-fixtures/` (its golden files, made with `TZ=UTC`).
//!
//! Every `span.*` field of every tracer event must be what sysdig printed, and the default
//! line of each fixture's thread must be sysdig's, except where dredge differs on purpose.
//! Those differences are named here, each with its reason, and checked to be exactly that:
//!
//! - [`EXIT_TIME`]: `span.time` on an exit is the span's enter time;
//! - [`ROOTLESS_PARENT`]: a span with no tags has no parent time;
//! - [`INVALID_RECORDS`]: a write that is no record stays a write;
//! - [`LEADING_ZERO`]: ids and tags may start with `0`;
//! - [`ENTER_INSIDE`]: an enter tracer is inside the spans already open around it.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on purpose")]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::shared;

const EXIT_TIME: &str = "span.time is the enter's time on an exit too (sysdig documented it so, \
                         but showed the exit's own time)";
const ROOTLESS_PARENT: &str = "a span with no tags has no parent (sysdig gave its own enter time \
                               as span.rawparenttime)";
const INVALID_RECORDS: &str = "a write that is no record stays a write (sysdig made it an \
                               'invalid tracer' span and left span fields stale)";
const LEADING_ZERO: &str = "ids and tags may start with 0 (sysdig's parser took the '0' for the \
                            end of the data and stopped decoding the thread for good)";

const ENTER_INSIDE: &str = "an enter tracer is inside the spans already open around it (sysdig \
                            left enters out of evtin.span.*, but not of evtin.span.m.*)";

fn dredge(args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_dredge")).args(args).output().unwrap();
    assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

/// The labels of the span-field line, in order (`label=%field`).
const LABELS: [&str; 21] = [
    "id", "ntags", "nargs", "tags", "t0", "tl", "args", "eargs", "a0", "dur", "hum", "time", "cnt",
    "cf0", "cf1", "chf0", "df0", "idtag0", "raw", "praw", "ea.a",
];

/// One line of the span-field format: event number, direction and each label's value.
fn fields(line: &str) -> (u64, String, BTreeMap<&'static str, String>) {
    let (num, rest) = line.split_once(' ').unwrap();
    let (dir, mut rest) = rest.split_once(' ').unwrap();
    let mut out = BTreeMap::new();
    for (i, label) in LABELS.iter().enumerate() {
        rest = rest.strip_prefix(&format!("{label}=")).unwrap_or_else(|| panic!("{line}"));
        let end = match LABELS.get(i + 1) {
            Some(next) => rest.find(&format!(" {next}=")).unwrap_or_else(|| panic!("{line}")),
            None => rest.len(),
        };
        out.insert(*label, rest[..end].to_string());
        rest = rest[end..].strip_prefix(' ').unwrap_or("");
    }
    (num.parse().unwrap(), dir.to_string(), out)
}

/// The lines of a golden file, with the records sysdig broke over two lines (a raw newline
/// in an invalid record) joined, and its command line.
fn golden(path: &Path) -> (String, Vec<String>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let command = lines.next().unwrap().to_string();
    let mut out: Vec<String> = Vec::new();
    for line in lines {
        match out.last_mut() {
            Some(last) if !line.starts_with(|c: char| c.is_ascii_digit()) => {
                last.push('\n');
                last.push_str(line);
            }
            _ => out.push(line.to_string()),
        }
    }
    (command, out)
}

#[test]
fn span_fields_match_sysdig_but_for_the_named_differences() {
    let Some(shared) = shared() else { return eprintln!("skipped: no shared data") };
    let dir = shared.join("tracer-fixtures");
    let (command, want) = golden(&dir.join("expected_sysdig0293_span_fields.txt"));
    let format = command.split_once("-p '").unwrap().1.trim_end_matches('\'');
    let capture = dir.join("tracers_synth.scap");
    let got = dredge(&["print", capture.to_str().unwrap(), "evt.type=tracer", "-p", format]);
    let got: BTreeMap<u64, _> = got.lines().map(fields).map(|(n, d, f)| (n, (d, f))).collect();

    let mut differences = BTreeMap::<&str, usize>::new();
    let mut compared = 0;
    for line in &want {
        let (num, dir, mut want) = fields(line);
        if want["t0"].starts_with("invalid tracer") {
            // The write shows as itself.
            let shown = dredge(&[
                "print",
                capture.to_str().unwrap(),
                &format!("evt.num={num}"),
                "-p",
                "%evt.type %evt.dir",
            ]);
            assert_eq!(shown.trim(), "write <", "event {num}");
            assert!(!got.contains_key(&num), "event {num}");
            *differences.entry(INVALID_RECORDS).or_default() += 1;
            continue;
        }
        let (got_dir, got) = got.get(&num).unwrap_or_else(|| panic!("event {num} missing"));
        assert_eq!(*got_dir, dir, "event {num}");
        if dir == "<" && want["time"] != "<NA>" {
            // The enter's time: the time of day of span.rawtime.
            let raw: u64 = want["raw"].parse().unwrap();
            let ns = raw % 1_000_000_000;
            let s = raw / 1_000_000_000 % 86_400;
            let enter = format!("{:02}:{:02}:{:02}.{ns:09}", s / 3600, s / 60 % 60, s % 60);
            assert_ne!(want["time"], enter, "event {num}: sysdig showed the enter time");
            want.insert("time", enter);
            *differences.entry(EXIT_TIME).or_default() += 1;
        }
        if want["ntags"] == "0" && want["praw"] != "<NA>" {
            assert_eq!(want["praw"], want["raw"], "event {num}");
            want.insert("praw", "<NA>".into());
            *differences.entry(ROOTLESS_PARENT).or_default() += 1;
        }
        assert_eq!(*got, want, "event {num}");
        compared += 1;
    }
    assert_eq!(compared + differences[INVALID_RECORDS], want.len());
    assert_eq!(got.len(), compared, "dredge shows tracer events sysdig did not");
    for (why, n) in &differences {
        eprintln!("intended difference on {n} events: {why}");
    }
    assert_eq!(compared, 36);
}

#[test]
fn default_lines_match_sysdig_but_for_the_named_differences() {
    let Some(shared) = shared() else { return eprintln!("skipped: no shared data") };
    let dir = shared.join("tracer-fixtures");
    for (fixture, golden_file) in [
        ("tracers_synth.scap", "expected_sysdig0293_thread3200.txt"),
        ("tracers_evf_flag.scap", "expected_sysdig0293_evf_flag.txt"),
        ("tracers_zero_id_stall.scap", "expected_sysdig0293_zero_id_stall.txt"),
    ] {
        let text = std::fs::read_to_string(dir.join(golden_file)).unwrap();
        let mut want: Vec<String> = Vec::new();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            match want.last_mut() {
                Some(last) if !line.starts_with(|c: char| c.is_ascii_digit()) => {
                    last.push('\n');
                    last.push_str(line);
                }
                _ => want.push(line.to_string()),
            }
        }
        let capture = dir.join(fixture);
        let got = dredge(&["print", capture.to_str().unwrap(), "thread.tid=3200"]);
        let got: Vec<&str> = got.lines().collect();
        assert_eq!(got.len(), want.len(), "{fixture}");
        for (g, w) in got.iter().zip(&want) {
            if g == w {
                continue;
            }
            let why = if w.contains("tags=invalid tracer") {
                assert!(g.contains("< write res="), "{fixture}: {g}");
                INVALID_RECORDS
            } else if w.contains(":0123:zero::") {
                assert!(g.contains(" tracer id=123 tags=zero args="), "{fixture}: {g}");
                LEADING_ZERO
            } else if w.contains("data=>:t:after::") || w.contains("data=<:t:after::") {
                // After the stall, sysdig decoded nothing more from the thread.
                assert!(g.contains(" tracer id=3200 tags=after args="), "{fixture}: {g}");
                LEADING_ZERO
            } else {
                panic!("{fixture}: dredge\n{g}\nsysdig\n{w}");
            };
            eprintln!("{fixture}: intended difference ({why}):\n  sysdig {w}\n  dredge {g}");
        }
    }
}

#[test]
fn events_inside_spans_match_sysdig_but_for_the_named_difference() {
    let Some(shared) = shared() else { return eprintln!("skipped: no shared data") };
    let dir = shared.join("tracer-fixtures");
    let text = std::fs::read_to_string(dir.join("expected_sysdig0293_evtin.txt")).unwrap();
    let capture = dir.join("tracers_synth.scap");
    let mut filters = 0;
    for section in text.split("### ").filter(|s| !s.is_empty()) {
        let (command, want) = section.split_once('\n').unwrap();
        let filter = command.split_once(" \"").unwrap().1.trim_end_matches('"');
        let got = dredge(&["print", capture.to_str().unwrap(), filter]);
        let want: Vec<&str> = want.lines().collect();
        let mut got: Vec<&str> = got.lines().collect();
        // The child's enter tracer, inside root, which sysdig left out of the plain scope.
        let enter = "1342 17:35:48.550018329 0 bash (3200) > tracer id=3200 tags=root.child";
        if filter == "evtin.span.tag[0]=root" {
            let at = got.iter().position(|l| l.starts_with(enter)).expect("the child's enter");
            got.remove(at);
            eprintln!("{filter}: intended difference ({ENTER_INSIDE}): event 1342");
        }
        assert_eq!(got, want, "{filter}");
        filters += 1;
    }
    assert_eq!(filters, 5);
}

#[test]
fn json_lines_match_sysdig_but_for_the_named_difference() {
    let Some(shared) = shared() else { return eprintln!("skipped: no shared data") };
    let dir = shared.join("tracer-fixtures");
    let text = std::fs::read_to_string(dir.join("expected_sysdig0293_json.txt")).unwrap();
    let want: Vec<String> = text.lines().skip(1).map(String::from).collect();
    let capture = dir.join("tracers_synth.scap");
    let got = dredge(&["print", "-j", capture.to_str().unwrap(), "evt.type=tracer"]);
    let got: Vec<&str> = got.lines().collect();
    let (invalid, want): (Vec<&String>, Vec<&String>) =
        want.iter().partition(|l| l.contains("tags=invalid tracer"));
    assert_eq!(invalid.len(), 2);
    eprintln!("intended difference on 2 events: {INVALID_RECORDS}");
    assert_eq!(got, want);
}
