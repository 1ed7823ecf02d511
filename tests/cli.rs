//! Whole-command tests: `dredge` run as a user would, on good and bad input.
//!
//! Each bad input of the format issue has its own test: the command must not panic, must name
//! the file (and the offset where there is one), and must exit with the documented code.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on purpose")]

mod common;

use common::shared;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn dredge(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dredge")).args(args).output().expect("dredge runs")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn code(o: &Output) -> i32 {
    let c = o.status.code().expect("exited, not killed");
    assert_ne!(c, 101, "panicked: {}", text(o));
    c
}

fn generate(dir: &Path, name: &str, events: &str, extra: &[&str]) -> PathBuf {
    let path = dir.join(name);
    let p = path.to_str().unwrap();
    let mut args = vec!["generate", "-w", p, "-n", events];
    args.extend_from_slice(extra);
    let o = dredge(&args);
    assert_eq!(code(&o), 0, "{}", text(&o));
    path
}

/// A block's offset in a fresh file: the header block starts at 16.
fn second_block_offset(bytes: &[u8]) -> usize {
    let stored = u32::from_le_bytes(bytes[16 + 12..16 + 16].try_into().unwrap()) as usize;
    16 + 56 + stored
}

#[test]
fn info_and_verify_on_a_good_capture() {
    let dir = tempfile::tempdir().unwrap();
    let f = generate(dir.path(), "good.dcap", "5000", &[]);
    let o = dredge(&["info", f.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("events:      5000"), "{out}");
    assert!(out.contains("httpd_event"), "{out}");
    assert!(out.contains("drops:       42 events lost"), "{out}");

    let o = dredge(&["info", "--json", f.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["events"], 5000);
    assert_eq!(v["containers"][0]["name"], "httpd_event");

    let o = dredge(&["verify", f.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("OK"));
}

#[test]
fn capture_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let f = generate(dir.path(), "p.dcap", "100", &[]);
    let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn signed_capture_verifies_with_its_key_only() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("alice");
    let other = dir.path().join("bob");
    assert_eq!(code(&dredge(&["keygen", prefix.to_str().unwrap()])), 0);
    assert_eq!(code(&dredge(&["keygen", other.to_str().unwrap()])), 0);
    let key = prefix.with_extension("key");
    let f = generate(dir.path(), "s.dcap", "2000", &["--sign-key", key.to_str().unwrap()]);
    let f = f.to_str().unwrap();

    let good = dredge(&["verify", f, "--key", prefix.with_extension("pub").to_str().unwrap()]);
    assert_eq!(code(&good), 0, "{}", text(&good));
    let bad = dredge(&["verify", f, "--key", other.with_extension("pub").to_str().unwrap()]);
    assert_eq!(code(&bad), 1, "{}", text(&bad));
    assert!(text(&bad).contains("NOT the given key"), "{}", text(&bad));

    let unsigned = generate(dir.path(), "u.dcap", "100", &[]);
    let o = dredge(&[
        "verify",
        unsigned.to_str().unwrap(),
        "--key",
        other.with_extension("pub").to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(text(&o).contains("not signed"), "{}", text(&o));
}

#[test]
fn bad_input_empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("empty.dcap");
    std::fs::write(&f, b"").unwrap();
    for cmd in ["info", "verify"] {
        let o = dredge(&[cmd, f.to_str().unwrap()]);
        assert_eq!(code(&o), 3, "{}", text(&o));
        assert!(text(&o).contains("empty.dcap: empty file"), "{}", text(&o));
    }
}

#[test]
fn bad_input_wrong_magic() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("notes.txt");
    std::fs::write(&f, b"this is not a capture at all, just some text\n").unwrap();
    let o = dredge(&["info", f.to_str().unwrap()]);
    assert_eq!(code(&o), 3, "{}", text(&o));
    assert!(text(&o).contains("notes.txt: not a dredge capture: magic"), "{}", text(&o));
    assert!(text(&o).contains("at offset 0"), "{}", text(&o));
}

#[test]
fn a_scap_file_is_read_directly() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("old.scap");
    // A section header and nothing else: an empty but valid scap capture.
    let mut shb = vec![0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 2, 0];
    shb.extend_from_slice(&[0xff; 8]);
    shb.extend_from_slice(&[28, 0, 0, 0]);
    std::fs::write(&f, &shb).unwrap();
    let o = dredge(&["info", f.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("sysdig/Falco scap"), "{}", text(&o));
    let o = dredge(&["verify", f.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("no checksums"), "{}", text(&o));

    // Cut inside its only block: damaged, and said so.
    std::fs::write(&f, &shb[..20]).unwrap();
    let o = dredge(&["verify", f.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(text(&o).contains("old.scap: offset 0"), "{}", text(&o));
}

#[test]
fn bad_input_directory() {
    let dir = tempfile::tempdir().unwrap();
    let o = dredge(&["info", dir.path().to_str().unwrap()]);
    assert_eq!(code(&o), 3, "{}", text(&o));
    assert!(text(&o).contains("is a directory"), "{}", text(&o));
}

#[test]
fn bad_input_missing_path() {
    let o = dredge(&["verify", "/nonexistent/dredge/capture.dcap"]);
    assert_eq!(code(&o), 3, "{}", text(&o));
    assert!(text(&o).contains("/nonexistent/dredge/capture.dcap: No such file"), "{}", text(&o));
}

#[test]
fn bad_input_future_version() {
    let dir = tempfile::tempdir().unwrap();
    let f = generate(dir.path(), "future.dcap", "100", &[]);
    let mut bytes = std::fs::read(&f).unwrap();
    bytes[8..10].copy_from_slice(&2u16.to_le_bytes());
    let sum = crc32c::crc32c(&bytes[..12]);
    bytes[12..16].copy_from_slice(&sum.to_le_bytes());
    std::fs::write(&f, &bytes).unwrap();
    for cmd in ["info", "verify"] {
        let o = dredge(&[cmd, f.to_str().unwrap()]);
        assert_eq!(code(&o), 3, "{}", text(&o));
        assert!(text(&o).contains("version 2.0 is newer"), "{}", text(&o));
        assert!(text(&o).contains("1.x"), "{}", text(&o));
    }
}

#[test]
fn bad_input_truncated_file() {
    let dir = tempfile::tempdir().unwrap();
    let f = generate(dir.path(), "cut.dcap", "20000", &[]);
    let bytes = std::fs::read(&f).unwrap();
    std::fs::write(&f, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let o = dredge(&["info", f.to_str().unwrap()]);
    assert_eq!(code(&o), 4, "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("NOT closed"), "{out}");
    assert!(out.contains("cut.dcap: damaged: offset"), "{out}");
    assert!(out.contains("is cut short"), "{out}");
    let o = dredge(&["verify", f.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(text(&o).contains("at offset"), "{}", text(&o));
    // Every command that reads the events says what it could not read, and exits 4.
    let scap = dir.path().join("cut.scap");
    let parquet = dir.path().join("cut.parquet");
    for args in [
        vec!["print", f.to_str().unwrap()],
        vec!["replay", f.to_str().unwrap()],
        vec!["spans", f.to_str().unwrap()],
        vec!["export", f.to_str().unwrap(), "-o", scap.to_str().unwrap()],
        vec!["export", f.to_str().unwrap(), "--events", parquet.to_str().unwrap()],
        vec!["top", "procs", f.to_str().unwrap()],
        vec!["lsof", f.to_str().unwrap()],
        vec!["netstat", f.to_str().unwrap()],
        vec!["spy", "users", f.to_str().unwrap()],
    ] {
        let o = dredge(&args);
        assert_eq!(code(&o), 4, "{args:?}: {}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("cut.dcap: damaged: offset"), "{args:?}: {err}");
    }
}

#[test]
fn bad_input_cut_inside_the_prologue() {
    let dir = tempfile::tempdir().unwrap();
    let f = generate(dir.path(), "tiny.dcap", "10", &[]);
    let bytes = std::fs::read(&f).unwrap();
    std::fs::write(&f, &bytes[..9]).unwrap();
    let o = dredge(&["info", f.to_str().unwrap()]);
    assert_eq!(code(&o), 3, "{}", text(&o));
    assert!(text(&o).contains("cut inside the 16-byte prologue"), "{}", text(&o));
}

#[test]
fn bad_input_flipped_byte() {
    let dir = tempfile::tempdir().unwrap();
    let f = generate(dir.path(), "flip.dcap", "20000", &[]);
    let mut bytes = std::fs::read(&f).unwrap();
    let at = second_block_offset(&bytes) + 56 + 10;
    bytes[at] ^= 0x20;
    std::fs::write(&f, &bytes).unwrap();
    let o = dredge(&["verify", f.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let want = format!("block #1 (machine) at offset {}: payload checksum mismatch", at - 66);
    assert!(text(&o).contains(&want), "{}", text(&o));
    let o = dredge(&["info", f.to_str().unwrap()]);
    assert_eq!(code(&o), 4, "{}", text(&o));
    // A damaged state block is named by every command that reads the events, which exit 4.
    for command in ["print", "replay", "spans", "top procs", "lsof", "netstat", "spy users"] {
        let mut args: Vec<&str> = command.split(' ').collect();
        args.push(f.to_str().unwrap());
        let o = dredge(&args);
        assert_eq!(code(&o), 4, "{command}: {}", text(&o));
        assert!(String::from_utf8_lossy(&o.stderr).contains(&want), "{command}: {}", text(&o));
    }
}

#[test]
fn bad_input_damaged_header_block_is_named_once() {
    let dir = tempfile::tempdir().unwrap();
    let f = generate(dir.path(), "head.dcap", "1000", &[]);
    let mut bytes = std::fs::read(&f).unwrap();
    bytes[16 + 40] ^= 0xff;
    std::fs::write(&f, &bytes).unwrap();
    let o = dredge(&["info", f.to_str().unwrap()]);
    assert_ne!(code(&o), 0, "{}", text(&o));
    let says = text(&o).matches("block #0 (header) at offset 16").count();
    assert_eq!(says, 1, "the damage is told once: {}", text(&o));
}

#[test]
fn generate_from_a_damaged_capture_fails_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let f = generate(dir.path(), "src.dcap", "50000", &[]);
    let mut bytes = std::fs::read(&f).unwrap();
    let last_payload = bytes.len() / 2;
    bytes[last_payload] ^= 0xff;
    std::fs::write(&f, &bytes).unwrap();
    let out = dir.path().join("big.dcap");
    let o = dredge(&[
        "generate",
        "-w",
        out.to_str().unwrap(),
        "--from",
        f.to_str().unwrap(),
        "--copies",
        "3",
    ]);
    assert_eq!(code(&o), 4, "{}", text(&o));
    assert!(text(&o).contains(f.to_str().unwrap()), "{}", text(&o));
    assert!(!out.exists(), "no half capture");
    assert!(!dir.path().join("big.dcap.partial").exists(), "no partial file");
}

#[test]
fn bad_input_zeroed_block() {
    let dir = tempfile::tempdir().unwrap();
    let f = generate(dir.path(), "zero.dcap", "50000", &[]);
    let mut bytes = std::fs::read(&f).unwrap();
    let json = dredge(&["info", "--json", f.to_str().unwrap()]);
    assert_eq!(code(&json), 0);
    // Zero the first event block whole, header and payload.
    let (mut at, mut seq) = (16usize, 0);
    while u16::from_le_bytes(bytes[at + 4..at + 6].try_into().unwrap()) != 2 {
        let stored = u32::from_le_bytes(bytes[at + 12..at + 16].try_into().unwrap()) as usize;
        at += 56 + stored;
        seq += 1;
    }
    let stored = u32::from_le_bytes(bytes[at + 12..at + 16].try_into().unwrap()) as usize;
    let count = u32::from_le_bytes(bytes[at + 20..at + 24].try_into().unwrap());
    bytes[at..at + 56 + stored].fill(0);
    std::fs::write(&f, &bytes).unwrap();

    let o = dredge(&["verify", f.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(text(&o).contains(&format!("block #{seq} at offset {at}")), "{}", text(&o));
    let o = dredge(&["info", f.to_str().unwrap()]);
    assert_eq!(code(&o), 4, "{}", text(&o));
    assert!(text(&o).contains(&format!("its {count} events are lost")), "{}", text(&o));
}

#[test]
fn bad_input_u32_max_lengths() {
    let dir = tempfile::tempdir().unwrap();
    let f = generate(dir.path(), "huge.dcap", "20000", &[]);
    let mut bytes = std::fs::read(&f).unwrap();
    let at = second_block_offset(&bytes);
    for field in [12usize, 16] {
        let mut copy = bytes.clone();
        copy[at + field..at + field + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        // A consistent header checksum, so the length check itself is what stops it.
        let sum = crc32c::crc32c(&copy[at..at + 52]);
        copy[at + 52..at + 56].copy_from_slice(&sum.to_le_bytes());
        std::fs::write(&f, &copy).unwrap();
        let o = dredge(&["verify", f.to_str().unwrap()]);
        assert_eq!(code(&o), 1, "{}", text(&o));
        let out = text(&o);
        assert!(out.contains(&format!("at offset {at}")) && out.contains("4294967295"), "{out}");
        let o = dredge(&["info", f.to_str().unwrap()]);
        assert_eq!(code(&o), 4, "{}", text(&o));
    }
    bytes.clear();
}

#[test]
fn info_on_an_imported_capture_shows_containers_users_and_processes() {
    let Some(shared) = shared() else {
        std::io::Write::write_all(&mut std::io::stderr(), b"skipped: no shared data\n").ok();
        return;
    };
    let scap = shared.join("captures/sysflow/alpine_alpine.scap");
    let dir = tempfile::tempdir().unwrap();
    let dcap = dir.path().join("alpine.dcap");
    let o = dredge(&["import", scap.to_str().unwrap(), "-o", dcap.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    for file in [&dcap, &scap] {
        let o = dredge(&["info", file.to_str().unwrap()]);
        assert_eq!(code(&o), 0, "{}", text(&o));
        let out = text(&o);
        assert!(out.contains("c010f5a08549  alpine  alpine:latest  docker"), "{out}");
        assert!(out.contains("processes:   64 (503 threads)"), "{out}");
        assert!(out.contains("users:       19 users, 39 groups"), "{out}");
        assert!(out.contains("events:      8840"), "{out}");
    }
    let o = dredge(&["info", "--json", dcap.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["metadata"]["source"], "import:alpine_alpine.scap");
    let o = dredge(&["verify", dcap.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", text(&o));
}

#[test]
fn import_of_a_cut_scap_keeps_what_came_before_and_says_where() {
    let Some(shared) = shared() else {
        std::io::Write::write_all(&mut std::io::stderr(), b"skipped: no shared data\n").ok();
        return;
    };
    let bytes = std::fs::read(shared.join("captures/sysflow/setuid_setuid.scap")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.scap");
    std::fs::write(&cut, &bytes[..bytes.len() - 1000]).unwrap();
    let out = dir.path().join("cut.dcap");
    let o = dredge(&["import", cut.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_eq!(code(&o), 4, "{}", text(&o));
    let msg = text(&o);
    assert!(msg.contains("cut.scap: offset") && msg.contains("truncated?"), "{msg}");
    let o = dredge(&["verify", out.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "the partial import is itself a whole dcap: {}", text(&o));
}

#[test]
fn rules_check_list_and_explain() {
    let Some(shared) = shared() else {
        std::io::Write::write_all(&mut std::io::stderr(), b"skipped: no shared data\n").ok();
        return;
    };
    let stable = shared.join("falco-rules-data/rules/falco_rules.yaml");
    let o = dredge(&["rules", "check", stable.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("25 rules loaded"), "{}", text(&o));

    let bad =
        shared.join("falco-rules-data/testing-fixtures/falco/invalid_rule_without_output.yaml");
    let o = dredge(&["rules", "check", bad.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains(
            "invalid_rule_without_output.yaml:1:3: error (LOAD_ERR_YAML_VALIDATE): \
            Item has no mapping for key 'output'"
        ),
        "{out}"
    );

    let o = dredge(&["rules", "list", stable.to_str().unwrap()]);
    assert_eq!(code(&o), 0);
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 25);

    let o = dredge(&["rules", "explain", "Run shell untrusted", "-r", stable.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("events:    execve, execveat"), "{}", text(&o));

    let dir = tempfile::tempdir().unwrap();
    let deep = dir.path().join("deep.yaml");
    let cond = format!("{}evt.type=open{}", "(".repeat(10_000), ")".repeat(10_000));
    std::fs::write(
        &deep,
        format!("- rule: r\n  desc: d\n  condition: {cond}\n  output: o\n  priority: INFO\n"),
    )
    .unwrap();
    let o = dredge(&["rules", "check", deep.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(text(&o).contains("exceeded max depth limit of 1000"), "{}", text(&o));

    let regex = dir.path().join("regex.yaml");
    std::fs::write(
        &regex,
        "- rule: r\n  desc: d\n  condition: proc.name regex '('\n  output: o\n  priority: INFO\n",
    )
    .unwrap();
    let o = dredge(&["rules", "check", regex.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(
        text(&o)
            .contains("regex.yaml:1:3: error (LOAD_ERR_COMPILE_CONDITION): invalid regex pattern"),
        "{}",
        text(&o)
    );
}

#[test]
fn the_bundled_samples_replay_to_their_recorded_findings() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The README's first command, and the synthetic capture (whose source capture's runtime
    // mounts the generator put on httpd, hence 42 mount findings).
    for (name, lines) in [("shell-secrets-bindir", 4), ("synthetic-httpd", 45)] {
        let sample = root.join(format!("samples/{name}.dcap"));
        let o = dredge(&["replay", sample.to_str().unwrap()]);
        assert_eq!(code(&o), 0, "{}", text(&o));
        let want = std::fs::read_to_string(root.join(format!("samples/{name}.findings.txt")));
        let want = want.unwrap();
        assert_eq!(String::from_utf8_lossy(&o.stdout), want, "{name}");
        assert_eq!(want.lines().count(), lines, "{name}");
    }
}

#[test]
fn a_filter_that_does_not_compile_is_a_usage_error() {
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/synthetic-httpd.dcap");
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("e.parquet");
    let events = events.to_str().unwrap();
    for args in [
        &["print", sample, "proc.nme=sh"][..],
        &["export", sample, "--events", events, "proc.name=sh and ("],
    ] {
        let out = dredge(args);
        assert_eq!(code(&out), 2, "{args:?}: {}", text(&out));
        assert!(String::from_utf8_lossy(&out.stderr).contains("dredge: filter \""), "{args:?}");
        assert!(!Path::new(events).exists());
    }
    let scap = dir.path().join("x.scap");
    let out = dredge(&["export", sample, "-o", scap.to_str().unwrap(), "proc.name=sh"]);
    assert_eq!(code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("applies to --events only"));
    assert!(!scap.exists());
}

#[test]
fn unreadable_inputs_and_bad_formats_have_their_codes() {
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/synthetic-httpd.dcap");
    let missing = "/nonexistent-dir/rules.yaml";
    for args in [&["replay", "-r", missing, sample][..], &["rules", "list", missing]] {
        let out = dredge(args);
        assert_eq!(code(&out), 3, "{args:?}: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("/nonexistent-dir/rules.yaml: cannot read: "), "{err}");
    }
    let out = dredge(&["print", sample, "-p", "%proc.nme"]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("-p: "));
    // An OS error is said once, not once per layer.
    let out = dredge(&["info", "/nonexistent-dir/x.dcap"]);
    assert_eq!(code(&out), 3);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
}

#[test]
fn quiet_keeps_summaries_off_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let capture = generate(dir.path(), "q.dcap", "2000", &[]);
    let c = capture.to_str().unwrap();
    let out = dir.path().join("q.scap");
    let o = dredge(&["export", c, "-o", out.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(!o.stderr.is_empty(), "export reports what it wrote");
    let out2 = dir.path().join("q2.scap");
    for args in [
        vec!["-q", "export", c, "-o", out2.to_str().unwrap()],
        vec!["-q", "replay", c],
        vec!["replay", "-q", c],
    ] {
        let o = dredge(&args);
        assert_eq!(code(&o), 0, "{args:?}: {}", text(&o));
        assert_eq!(String::from_utf8_lossy(&o.stderr), "", "{args:?}");
    }
}

#[test]
fn views_answer_on_a_generated_capture() {
    let dir = tempfile::tempdir().unwrap();
    let f = generate(dir.path(), "views.dcap", "5000", &[]);
    let file = f.to_str().unwrap();
    let o = dredge(&["top", "procs", "--by", "events", "-n", "3", "--json", file]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{}", text(&o));
    assert!(lines.windows(2).all(|w| w[0]["events"].as_u64() >= w[1]["events"].as_u64()));
    for args in [
        vec!["top", "files", "--by", "time", file],
        vec!["top", "conns", file],
        vec!["top", "containers", file],
        vec!["lsof", "--at", "+1ms", file, "fd.type=file"],
        vec!["netstat", file],
        vec!["spy", "users", file],
    ] {
        let o = dredge(&args);
        assert_eq!(code(&o), 0, "{args:?}: {}", text(&o));
    }
    // At the capture's first moment, the processes it started with have their fds.
    let o = dredge(&["lsof", "--at", "+0ns", "--json", file]);
    assert!(!o.stdout.is_empty(), "{}", text(&o));
    for bad in
        [vec!["lsof", "--at", "yesterday", file], vec!["top", "procs", file, "no.such.field=1"]]
    {
        let o = dredge(&bad);
        assert_eq!(code(&o), 2, "{bad:?}: {}", text(&o));
    }
}
