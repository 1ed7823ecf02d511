//! `dredge spy file` run as a responder would, on the recorded samples: which process touched
//! the file, with which act, how many times and how many bytes; and on bad input, the
//! documented exit codes.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on purpose")]

use std::collections::BTreeMap;
use std::process::{Command, Output};

use serde_json::Value;

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

fn sample(name: &str) -> String {
    format!("{}/samples/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// `spy file --json` on `capture`: its lines, after checking it succeeded.
fn spy(capture: &str, path: &str, filter: &[&str]) -> Vec<Value> {
    let mut args = vec!["spy", "file", "--json", capture, path];
    args.extend_from_slice(filter);
    let o = dredge(&args);
    assert_eq!(code(&o), 0, "{}", text(&o));
    String::from_utf8_lossy(&o.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// Each line as `pid name act count`.
fn acts(lines: &[Value]) -> Vec<String> {
    lines
        .iter()
        .map(|l| format!("{} {} {} {}", l["proc.pid"], l["proc.name"], l["act"], l["count"]))
        .collect()
}

#[test]
fn shadow_in_files_tamper_is_only_symlinked_by_ln() {
    let lines = spy(&sample("files-tamper.dcap"), "/etc/shadow", &[]);
    assert_eq!(acts(&lines), [r#"9803 "ln" "symlink /tmp/.s to /etc/shadow" 1"#]);
    let l = &lines[0];
    assert_eq!(l["proc.cmdline"], "ln -s /etc/shadow /tmp/.s");
    assert_eq!(l["container.name"], "files-tamper");
    assert_eq!(l["user.name"], "root");
    assert_eq!(l["container.id"].as_str().map(str::len), Some(12));
    assert_eq!(l["first_ns"], l["last_ns"]);
    assert_eq!(l["bytes"], 0);
    assert!(l["first"].as_str().is_some_and(|t| t.ends_with('Z') && t.contains('T')), "{l}");
}

#[test]
fn the_setuid_copy_is_written_by_cp_then_chmodded() {
    let lines = spy(&sample("files-tamper.dcap"), "/tmp/.sh", &[]);
    let want = [r#"9807 "cp" "openat(write,create,truncate)" 1"#, r#"9780 "chmod" "chmod 4755" 1"#];
    assert_eq!(acts(&lines), want);
    assert!(lines[0]["first_ns"].as_u64() < lines[1]["first_ns"].as_u64());
}

#[test]
fn the_crontab_is_written_and_renamed_into_place_from_its_working_directory() {
    // crontab chdirs to the spool and gives relative names.
    let capture = sample("files-tamper.dcap");
    let lines = spy(&capture, "/var/spool/cron/crontabs/root", &[]);
    let rename = "rename /var/spool/cron/crontabs/root.new to /var/spool/cron/crontabs/root";
    assert_eq!(acts(&lines), [format!(r#"9805 "crontab" "{rename}" 1"#)]);
    let lines = spy(&capture, "/var/spool/cron/crontabs/root.new", &[]);
    let want = [
        r#"9805 "crontab" "openat(write,create,truncate,append)" 1"#.to_string(),
        format!(r#"9805 "crontab" "{rename}" 1"#),
    ];
    assert_eq!(acts(&lines), want);
}

#[test]
fn history_deleted_log_truncated_and_programs_run() {
    let capture = sample("files-tamper.dcap");
    let lines = spy(&capture, "/root/.ash_history", &[]);
    assert_eq!(acts(&lines), [r#"9806 "rm" "unlink" 1"#]);
    let lines = spy(&capture, "/var/log/app.log", &[]);
    assert_eq!(acts(&lines), [r#"9780 "sh" "openat(write,create,truncate)" 1"#]);
    // Every cat runs /bin/cat: one exec per process.
    let lines = spy(&capture, "/bin/cat", &[]);
    let pids: Vec<i64> = lines.iter().map(|l| l["proc.pid"].as_i64().unwrap()).collect();
    assert_eq!(pids, [9798, 9799, 9800, 9801]);
    assert!(lines.iter().all(|l| l["act"] == "execve" && l["proc.name"] == "cat"));
}

#[test]
fn a_table_line_per_process_and_act_with_the_script_on_one_line() {
    let o = dredge(&["spy", "file", &sample("files-tamper.dcap"), "/etc/resolv.conf"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    let heading = ["TIME", "CONTAINER", "USER", "PID", "PROCESS", "ACT", "COUNT", "BYTES"];
    assert!(lines[0].split_whitespace().take(8).eq(heading), "{out}");
    // The sh -c script has newlines: they are escaped.
    for cell in ["files-tamper", " root ", " 9780 ", " sh ", "openat(write,create,append)"] {
        assert!(lines[1].contains(cell), "{cell}: {out}");
    }
    assert!(lines[1].contains("sh -c /bin/cat /root/.ssh/id_ed25519 > /dev/null\\n"), "{out}");
}

#[test]
fn bytes_read_and_written_agree_with_top_procs_on_the_file() {
    let capture = sample("synthetic-httpd.dcap");
    let path = "/usr/local/apache2/htdocs/css/site.css";
    let mut spied: BTreeMap<i64, u64> = BTreeMap::new();
    let lines = spy(&capture, path, &[]);
    for l in &lines {
        assert_eq!(l["proc.name"], "httpd", "{l}");
        assert_eq!(l["container.name"], "httpd_event", "{l}");
        *spied.entry(l["proc.pid"].as_i64().unwrap()).or_default() += l["bytes"].as_u64().unwrap();
    }
    let filter = format!("fd.name={path}");
    let o = dredge(&["top", "procs", &capture, &filter, "-n", "0", "--json"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let topped: BTreeMap<i64, u64> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|v| (v["proc.pid"].as_i64().unwrap(), v["bytes"].as_u64().unwrap()))
        .collect();
    spied.retain(|_, b| *b > 0);
    assert_eq!(spied, topped);
    assert_eq!(spied.values().sum::<u64>(), 798 + 620 + 446 + 264);
    // Failed opens and reads are lines of their own, with the errno.
    assert!(lines.iter().any(|l| l["act"] == "open(read) ENOENT"));
}

#[test]
fn a_filter_narrows_the_events_counted() {
    let capture = sample("synthetic-httpd.dcap");
    let all = spy(&capture, "/etc/localtime", &[]);
    let one = spy(&capture, "/etc/localtime", &["proc.pid", "=", "10310"]);
    assert!(one.len() < all.len() && !one.is_empty());
    assert!(one.iter().all(|l| l["proc.pid"] == 10310));
    let of_10310: Vec<&Value> = all.iter().filter(|l| l["proc.pid"] == 10310).collect();
    assert_eq!(one.len(), of_10310.len());
    // The made-up intrusion's shell read /etc/shadow, once.
    let shadow = spy(&capture, "/etc/shadow", &[]);
    assert_eq!(acts(&shadow), [r#"10999 "sh" "open(read)" 1"#]);
    assert_eq!(shadow[0]["proc.cmdline"], "sh -c id");
    assert!(spy(&capture, "/etc/shadow", &["evt.type=openat"]).is_empty());
}

#[test]
fn bad_input_gets_the_documented_exit_codes() {
    let capture = sample("files-tamper.dcap");
    let o = dredge(&["spy", "file", &capture, "etc/shadow"]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(text(&o).contains("not an absolute path"), "{}", text(&o));
    let o = dredge(&["spy", "file", &capture, "/etc/shadow", "proc.name", "="]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    let o = dredge(&["spy", "file", &capture]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    let o = dredge(&["spy", "file", "/no/such/capture.dcap", "/etc/shadow"]);
    assert_eq!(code(&o), 3, "{}", text(&o));
    assert!(text(&o).contains("/no/such/capture.dcap"), "{}", text(&o));
}

#[test]
fn a_damaged_capture_still_shows_what_was_read() {
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.dcap");
    let bytes = std::fs::read(sample("synthetic-httpd.dcap")).unwrap();
    // The first of its two event blocks is whole; the second is cut.
    std::fs::write(&cut, &bytes[..bytes.len() * 3 / 4]).unwrap();
    let o = dredge(&["spy", "file", "--json", cut.to_str().unwrap(), "/etc/localtime"]);
    assert_eq!(code(&o), 4, "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cut.dcap: damaged"), "{}", text(&o));
    let count = |lines: &[Value]| lines.iter().map(|l| l["count"].as_u64().unwrap()).sum::<u64>();
    let read: Vec<Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let whole = spy(&sample("synthetic-httpd.dcap"), "/etc/localtime", &[]);
    assert!(count(&read) > 0 && count(&read) < count(&whole), "{read:?}");
}
