//! `dredge record` as a responder runs it: as root, with eBPF, on this machine's live
//! processes. Each test says `skipped: <why>` where root or BPF is missing; under `CI=true`
//! (`.ci/run`) that fails instead.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on purpose")]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

fn dredge(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dredge")).args(args).output().expect("dredge runs")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Why recording cannot work here, if it cannot.
fn cannot_record() -> Option<&'static str> {
    if rustix::process::geteuid().as_raw() != 0 {
        return Some("not root (recording needs CAP_BPF and CAP_PERFMON)");
    }
    if !Path::new("/sys/kernel/btf/vmlinux").exists() {
        return Some("this kernel has no BTF");
    }
    None
}

/// A `dredge record` running in the background.
struct Recording {
    child: Child,
    path: PathBuf,
    stderr: String,
}

/// Starts recording into `path` and returns once the kernel side is attached (the recorder
/// says `recording to ...`), so everything run after this is in the capture.
fn start(path: &Path, extra: &[&str]) -> Recording {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dredge"))
        .args(["record", "-w", path.to_str().unwrap()])
        .args(extra)
        .stderr(Stdio::piped())
        .spawn()
        .expect("dredge record starts");
    let mut lines = BufReader::new(child.stderr.take().unwrap());
    let mut stderr = String::new();
    loop {
        let mut line = String::new();
        if lines.read_line(&mut line).unwrap() == 0 {
            let status = child.wait().unwrap();
            panic!("dredge record ended before it started ({status}): {stderr}");
        }
        stderr.push_str(&line);
        if line.starts_with("recording to ") {
            break;
        }
    }
    // Keep draining stderr so the recorder never blocks on it.
    std::thread::spawn(move || {
        let mut rest = String::new();
        while lines.read_line(&mut rest).is_ok_and(|n| n > 0) {}
    });
    Recording { child, path: path.to_path_buf(), stderr }
}

impl Recording {
    /// SIGINT, as a responder's Ctrl-C, then waits for the file to be closed.
    fn stop(mut self) -> PathBuf {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).unwrap();
        rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "dredge record failed ({status}): {}", self.stderr);
        self.path
    }
}

fn print(path: &Path, filter: &str, format: &str) -> String {
    let o = dredge(&["print", path.to_str().unwrap(), filter, "-p", format]);
    assert!(o.status.success(), "{}", text(&o));
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn records_processes_with_their_ancestry() {
    if let Some(why) = cannot_record() {
        common::skip(why);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // A parent that exists before the recording: the snapshot must know it.
    let mut parent = Command::new("bash")
        .args(["-c", "read line; /bin/sh -c 'exec /bin/echo hi' >/dev/null; exit 0"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let parent_pid = parent.id();
    let rec = start(&dir.path().join("procs.dcap"), &[]);
    parent.stdin.take().unwrap().write_all(b"go\n").unwrap();
    assert!(parent.wait().unwrap().success());
    let path = rec.stop();

    let o = dredge(&["verify", path.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));

    let lines = print(
        &path,
        "evt.type=execve and proc.name=echo",
        "%proc.name|%proc.exepath|%proc.cmdline|%proc.pname|%proc.ppid|%proc.pcmdline",
    );
    let want = format!("echo|/bin/echo|echo hi|bash|{parent_pid}|bash -c read line; ");
    assert!(
        lines.lines().any(|l| l.starts_with(&want)),
        "no execve of echo under the pre-existing bash {parent_pid}:\n{lines}"
    );
    // The shell in between ran and was replaced by echo: its clone is there too.
    let clones = print(&path, &format!("evt.type=clone and proc.pid={parent_pid}"), "%evt.res");
    assert!(!clones.trim().is_empty(), "no clone from {parent_pid}");
    // The recorder never records itself.
    let own = print(&path, "proc.name=dredge", "%proc.pid");
    assert!(own.trim().is_empty(), "the recorder recorded itself:\n{own}");
}

#[test]
fn the_committed_bpf_object_matches_its_source() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if Command::new("clang").arg("--version").output().is_err() {
        common::skip("clang is not installed (apt-get install clang libbpf-dev)");
        return;
    }
    if !Path::new("/usr/include/bpf/bpf_helpers.h").exists() {
        common::skip("libbpf's BPF headers are not installed (apt-get install libbpf-dev)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let built = dir.path().join("recorder.bpf.o");
    let o = Command::new(root.join("capture/bpf/build.sh")).arg(&built).output().unwrap();
    assert!(o.status.success(), "capture/bpf/build.sh failed: {}", text(&o));
    let committed = std::fs::read(root.join("capture/bpf/recorder.bpf.o")).unwrap();
    assert!(
        std::fs::read(&built).unwrap() == committed,
        "capture/bpf/recorder.bpf.o is out of date: run capture/bpf/build.sh and commit it"
    );
}
