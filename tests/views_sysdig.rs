//! `dredge top`, `lsof`, `netstat` and `spy users` against sysdig 0.29.3's chisels on the
//! shared captures: the facts must agree (what is listed, and the totals), not the format.
//!
//! Each view is compared on every capture sysdig reads. Where dredge differs on purpose the
//! difference is named here with its reason, and the comparison makes exactly that allowance:
//!
//! - [`PER_THREAD`]: sysdig lists a process's fds once per thread, dredge once per process;
//! - [`WIDTHS`]: sysdig cuts its table columns to fixed widths, dredge's JSON does not;
//! - [`USER_ONCE`]: sysdig has no user name for threads of the capture's process list;
//! - [`NAMELESS`]: a container the capture did not name is listed by its id;
//! - [`RENAMED`]: two sockets whose names dredge takes from current libs (as
//!   `print_sysdig.rs` names them): the same bytes, under another connection name;
//! - [`FCNTL_SETFD`]: an `fcntl(F_SETFD)` returning 0 makes no fd 0.
//!
//! lsof and netstat are compared as the capture ends, and lsof also at `--at` a moment in its
//! middle. Every view agrees on every capture but for the differences above.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on purpose")]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{shared, skip};
use serde_json::Value;

const PER_THREAD: &str = "a process's fds are listed once, under its main thread (sysdig's \
                          lsof and netstat list them again under every thread of the process)";
const WIDTHS: &str = "names are whole (sysdig's lsof and netstat cut each column to its width \
                      less one, so the comparison cuts dredge's the same way)";
const USER_ONCE: &str = "a thread of the capture's process list has its user's name (sysdig \
                         0.29.3 resolved the user once, before the user list was read, and \
                         showed <NA>; print_sysdig.rs names the same difference)";
const NAMELESS: &str = "a container the capture did not name is listed by its id (its \
                        container.name has no value, so sysdig's table left it out)";

const FCNTL_SETFD: &str = "fcntl(10, F_SETFD) returning 0 leaves fd 0 as it was (sysdig 0.29.3 \
                           took the result for a new fd 0, a copy of fd 10, when it followed an \
                           F_DUPFD of the same thread: the httpd-foreground script's fd in the \
                           httpd captures)";

/// The lines of sysdig's lsof that [`FCNTL_SETFD`] accounts for: (fd, name).
const SETFD_COPY: (&str, &str) = ("0", "/usr/local/bin/httpd-foreground");

/// A socket named differently on purpose: on `capture`, rows naming `sysdig` in sysdig's
/// output and `dredge` in dredge's are the same sockets.
struct Renamed {
    capture: &'static str,
    sysdig: &'static str,
    dredge: &'static str,
    why: &'static str,
}

const RENAMED: [Renamed; 2] = [
    Renamed {
        capture: "502Error.scap",
        sysdig: "145.216.3.255",
        dredge: "127.0.0.1:55441",
        why: "a datagram socket takes the tuple of its sends, as in current libs (sysdig \
              0.29.3 named it by a destination no event carries)",
    },
    Renamed {
        capture: "libs_e2e_test_ipv6_client.scap",
        sysdig: "udp",
        dredge: "udp",
        why: "a UDP socket connected a second time takes the new destination, as in current \
              libs (sysdig 0.29.3 kept the first); its bytes are compared in total",
    },
];

/// The renamings that apply to `capture`.
fn renamed(capture: &Path) -> Vec<&'static Renamed> {
    let name = name(capture);
    RENAMED.iter().filter(|r| r.capture == name).collect()
}

/// The captures sysdig reads (it cannot read one of them, see MANIFEST.tsv).
fn captures(shared: &Path) -> Vec<PathBuf> {
    let manifest = std::fs::read_to_string(shared.join("captures/MANIFEST.tsv")).unwrap();
    let captures: Vec<PathBuf> = manifest
        .lines()
        .skip(1)
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .filter(|c| c[8] != "-1")
        .map(|c| shared.join("captures").join(c[0]))
        .collect();
    assert_eq!(captures.len(), 30);
    captures
}

/// What to compare with, or `None` (and a message) when something is missing here.
fn setup() -> Option<Vec<PathBuf>> {
    let Some(shared) = shared() else {
        skip("no shared data");
        return None;
    };
    if Command::new("sysdig").arg("--version").output().is_err() {
        skip("no sysdig (apt-get install sysdig)");
        return None;
    }
    Some(captures(&shared))
}

fn run(program: &str, args: &[&str]) -> String {
    let o = Command::new(program).env("TZ", "UTC").args(args).output().unwrap();
    assert!(o.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn dredge(args: &[&str]) -> String {
    run(env!("CARGO_BIN_EXE_dredge"), args)
}

fn name(capture: &Path) -> String {
    capture.file_name().unwrap().to_string_lossy().into_owned()
}

/// A top chisel, and the `dredge top` that answers the same question.
struct TopPair {
    chisel: &'static str,
    /// sysdig's cut: how many lines it prints at most.
    lines: usize,
    args: &'static [&'static str],
    filter: &'static str,
}

const TOPS: [TopPair; 7] = [
    TopPair {
        chisel: "topprocs_net",
        lines: 100,
        args: &["top", "procs"],
        filter: "fd.type=ipv4 or fd.type=ipv6",
    },
    TopPair { chisel: "topprocs_file", lines: 10, args: &["top", "procs"], filter: "fd.type=file" },
    TopPair { chisel: "topfiles_bytes", lines: 10, args: &["top", "files"], filter: "" },
    TopPair {
        chisel: "topfiles_time",
        lines: 10,
        args: &["top", "files", "--by", "time"],
        filter: "",
    },
    TopPair { chisel: "topconns", lines: 30, args: &["top", "conns"], filter: "" },
    TopPair {
        chisel: "topcontainers_net",
        lines: 100,
        args: &["top", "containers"],
        filter: "fd.type=ipv4 or fd.type=ipv6",
    },
    TopPair {
        chisel: "topcontainers_file",
        lines: 10,
        args: &["top", "containers"],
        filter: "fd.type=file",
    },
];

/// A chisel's table (`-j`): key columns and total per line.
fn chisel_table(capture: &Path, chisel: &str) -> Vec<(Vec<String>, u64)> {
    let out = run("sysdig", &["-j", "-r", capture.to_str().unwrap(), "-c", chisel]);
    let doc: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{chisel}: {e}\n{out}"));
    let rows = doc["data"].as_array().cloned().unwrap_or_default();
    rows.iter()
        .map(|r| {
            let cells = r.as_array().unwrap();
            let (total, key) = cells.split_last().unwrap();
            let key = key.iter().map(|k| k.as_str().unwrap().to_string()).collect();
            (key, total.as_f64().unwrap() as u64)
        })
        .collect()
}

/// `dredge top --json -n 0`: every line, key columns and total.
fn dredge_table(capture: &Path, pair: &TopPair) -> BTreeMap<Vec<String>, u64> {
    let mut args: Vec<&str> = pair.args.to_vec();
    args.extend(["--json", "-n", "0", capture.to_str().unwrap()]);
    if !pair.filter.is_empty() {
        args.push(pair.filter);
    }
    let out = dredge(&args);
    out.lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let object = v.as_object().unwrap();
            let mut key = Vec::new();
            let mut total = 0;
            for (k, v) in object {
                match k.as_str() {
                    "bytes" | "events" | "time_ns" => total = v.as_u64().unwrap(),
                    _ => key.push((k.clone(), v.to_string().trim_matches('"').to_string())),
                }
            }
            // In sysdig's column order.
            key.sort_by_key(|(k, _)| match k.as_str() {
                "proc.name" | "fd.l4proto" => 0,
                _ => 1,
            });
            (key.into_iter().map(|(_, v)| v).collect(), total)
        })
        .collect()
}

/// Takes out of `rows` those whose key contains `text`; returns how many and their total.
fn take_out(rows: &mut BTreeMap<Vec<String>, u64>, text: &str) -> (usize, u64) {
    let taken: Vec<Vec<String>> =
        rows.keys().filter(|k| k.iter().any(|c| c.contains(text))).cloned().collect();
    let total = taken.iter().filter_map(|k| rows.remove(k)).sum();
    (taken.len(), total)
}

#[test]
fn top_lists_agree_with_sysdig() {
    let Some(captures) = setup() else { return };
    let mut failures = Vec::new();
    let mut allowed = BTreeMap::<&str, usize>::new();
    for pair in &TOPS {
        let mut agree = 0;
        for c in &captures {
            let mut want: BTreeMap<Vec<String>, u64> =
                chisel_table(c, pair.chisel).into_iter().collect();
            let cut_off = want.len() >= pair.lines;
            let mut got = dredge_table(c, pair);
            let mut wrong = Vec::new();
            for r in renamed(c) {
                let (a, b) = (take_out(&mut want, r.sysdig), take_out(&mut got, r.dredge));
                if a.1 != b.1 {
                    wrong.push(format!("{}: sysdig {a:?}, dredge {b:?}", r.why));
                } else if a.0 + b.0 > 0 {
                    *allowed.entry(r.why).or_default() += 1;
                }
            }
            for (key, total) in &want {
                if got.get(key) != Some(total) {
                    wrong.push(format!("{key:?}: sysdig {total}, dredge {:?}", got.get(key)));
                }
            }
            // Lines sysdig left out are ones below its cut.
            let least = want.values().copied().min().unwrap_or(0);
            for (key, total) in &got {
                if want.contains_key(key) || (cut_off && *total <= least) {
                    continue;
                }
                let id = key.len() == 1 && key[0].len() == 12;
                if id && key[0].bytes().all(|b| b.is_ascii_hexdigit()) {
                    *allowed.entry(NAMELESS).or_default() += 1;
                    continue;
                }
                wrong.push(format!("{key:?}: dredge {total}, not in sysdig's list"));
            }
            if wrong.is_empty() {
                agree += 1;
            } else {
                failures.push(format!("{} on {}:\n  {}", pair.chisel, name(c), wrong.join("\n  ")));
            }
        }
        println!("{agree:>2}/{}  top {} (sysdig {})", captures.len(), pair.args[1], pair.chisel);
    }
    for (why, n) in &allowed {
        println!("intended difference on {n} lists: {why}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The number of the last event of a capture, as sysdig numbers them (`-D` also puts
/// sysdig's debug log on stdout: only the numbers count).
fn last_event(capture: &Path) -> u64 {
    let out = run("sysdig", &["-D", "-r", capture.to_str().unwrap(), "-p", "%evt.num"]);
    out.lines().filter_map(|l| l.trim().parse().ok()).max().unwrap_or(0)
}

/// A state chisel's table as event `num` leaves it (sysdig's state chisels show the tables
/// at the first event their filter passes), as its lines.
fn state_chisel(capture: &Path, chisel: &str, num: u64) -> Vec<String> {
    let at = format!("evt.num>={num}");
    let out = run("sysdig", &["-r", capture.to_str().unwrap(), "-c", chisel, "", &at]);
    out.lines().skip(1).map(String::from).collect()
}

/// `text` cut as sysdig's chisels cut a column `width` wide.
fn cut(text: &str, width: usize) -> String {
    if text.len() >= width { text[..width - 1].to_string() } else { text.to_string() }
}

/// Fixed-width columns of a chisel line (each cut as [`cut`] does), then the rest.
fn columns(line: &str, widths: &[usize]) -> Vec<String> {
    let mut out = Vec::new();
    let mut at = 0;
    for w in widths {
        out.push(line.get(at..at + w).unwrap_or("").trim_end().to_string());
        at += w;
    }
    out.push(line.get(at..).unwrap_or("").to_string());
    out
}

/// Of rows keyed by (pid, tid), the ones of each process's first thread: its main thread if
/// listed, else its lowest tid (the thread dredge lists the process's fds under).
fn first_threads<T: Clone>(rows: &[(i64, i64, T)]) -> (Vec<T>, usize) {
    let mut owner: BTreeMap<i64, i64> = BTreeMap::new();
    for (pid, tid, _) in rows {
        let o = owner.entry(*pid).or_insert(*tid);
        if *o != *pid && (*tid == *pid || *tid < *o) {
            *o = *tid;
        }
    }
    let kept: Vec<T> =
        rows.iter().filter(|(p, t, _)| owner[p] == *t).map(|(_, _, r)| r.clone()).collect();
    let dropped = rows.len() - kept.len();
    (kept, dropped)
}

/// Compares two row sets after the renamings of `capture` (rows containing the names are
/// set aside on each side, as many on each); the failure, if any.
fn compare(
    view: &str,
    capture: &Path,
    mut want: Vec<Vec<String>>,
    mut got: Vec<Vec<String>>,
    allowed: &mut BTreeMap<&'static str, usize>,
) -> Option<String> {
    for r in renamed(capture) {
        let named = |row: &Vec<String>, text: &str| row.iter().any(|c| c.contains(text));
        let a = want.iter().filter(|row| named(row, r.sysdig)).count();
        let b = got.iter().filter(|row| named(row, r.dredge)).count();
        if a == b && a > 0 {
            want.retain(|row| !named(row, r.sysdig));
            got.retain(|row| !named(row, r.dredge));
            *allowed.entry(r.why).or_default() += a;
        }
    }
    want.sort();
    got.sort();
    if want == got {
        return None;
    }
    let (ws, gs): (BTreeSet<_>, BTreeSet<_>) = (want.iter().collect(), got.iter().collect());
    let only_sysdig: Vec<_> = ws.difference(&gs).take(8).collect();
    let only_dredge: Vec<_> = gs.difference(&ws).take(8).collect();
    Some(format!(
        "{view} on {}: sysdig only {only_sysdig:?}\n  dredge only {only_dredge:?}",
        name(capture)
    ))
}

/// Compares `dredge lsof` (at `at`, or at the end) with sysdig's lsof as event `num` leaves
/// the tables; the difference, if any.
fn lsof_differs(
    c: &Path,
    num: u64,
    at: Option<&str>,
    allowed: &mut BTreeMap<&'static str, usize>,
) -> Option<String> {
    // COMMAND 20, PID 8, TID 8, USER 8, FD 8, TYPE 12, NAME.
    let lines = state_chisel(c, "lsof", num);
    let rows: Vec<(i64, i64, Vec<String>)> = lines
        .iter()
        .map(|l| {
            let mut cols = columns(l, &[20, 8, 8, 8, 8, 12]);
            let (pid, tid) = (cols[1].parse().unwrap(), cols[2].parse().unwrap());
            cols.remove(2);
            (pid, tid, cols)
        })
        .collect();
    let (mut want, dropped) = first_threads(&rows);
    *allowed.entry(PER_THREAD).or_default() += dropped;
    let copies = want.len();
    want.retain(|r| (r[3].as_str(), r[5].as_str()) != SETFD_COPY);
    if want.len() < copies {
        *allowed.entry(FCNTL_SETFD).or_default() += copies - want.len();
    }
    let users: BTreeMap<(String, String), String> =
        want.iter().map(|r| ((r[1].clone(), r[3].clone()), r[2].clone())).collect();
    let mut args = vec!["lsof", "--json", c.to_str().unwrap()];
    if let Some(at) = at {
        args.extend(["--at", at]);
    }
    let got: Vec<Vec<String>> = dredge(&args)
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let s = |k: &str| v[k].to_string().trim_matches('"').to_string();
            let mut user = cut(&s("user"), 8);
            let theirs = users.get(&(s("pid"), s("fd")));
            if theirs.is_some_and(|u| u == "<NA>" && user != "<NA>") {
                user = "<NA>".into();
                *allowed.entry(USER_ONCE).or_default() += 1;
            }
            vec![
                cut(&s("command"), 20),
                cut(&s("pid"), 8),
                user,
                cut(&s("fd"), 8),
                cut(&s("type"), 12),
                v["name"].as_str().unwrap().to_string(),
            ]
        })
        .collect();
    compare("lsof", c, want, got, allowed)
}

#[test]
fn lsof_and_netstat_agree_with_sysdig() {
    let Some(captures) = setup() else { return };
    let mut failures = Vec::new();
    let mut allowed = BTreeMap::<&'static str, usize>::new();
    let (mut lsof_agree, mut netstat_agree) = (0, 0);
    for c in &captures {
        let file = c.to_str().unwrap();
        let last = last_event(c);

        match lsof_differs(c, last, None, &mut allowed) {
            None => lsof_agree += 1,
            Some(f) => failures.push(f),
        }

        // netstat: Proto 6, Server 25, Client 25, State 15, TID/PID/Program.
        let lines = state_chisel(c, "netstat", last);
        let rows: Vec<(i64, i64, Vec<String>)> = lines
            .iter()
            .map(|l| {
                let mut cols = columns(l, &[6, 25, 25, 15]);
                let owner = cols.pop().unwrap();
                let mut parts = owner.splitn(3, '/');
                let tid = parts.next().unwrap().parse().unwrap();
                let pid: i64 = parts.next().unwrap().parse().unwrap();
                cols.push(pid.to_string());
                cols.push(parts.next().unwrap().to_string());
                (pid, tid, cols)
            })
            .collect();
        let (want, dropped) = first_threads(&rows);
        *allowed.entry(PER_THREAD).or_default() += dropped;
        let got: Vec<Vec<String>> = dredge(&["netstat", "--json", file])
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                let s = |k: &str| v[k].to_string().trim_matches('"').to_string();
                vec![
                    cut(&s("proto"), 6),
                    cut(&s("server"), 25),
                    cut(&s("client"), 25),
                    cut(&s("state"), 15),
                    s("pid"),
                    s("command"),
                ]
            })
            .collect();
        match compare("netstat", c, want, got, &mut allowed) {
            None => netstat_agree += 1,
            Some(f) => failures.push(f),
        }
    }
    println!("{lsof_agree:>2}/{}  lsof", captures.len());
    println!("{netstat_agree:>2}/{}  netstat", captures.len());
    println!("intended difference: {WIDTHS}");
    for (why, n) in &allowed {
        println!("intended difference on {n} lines: {why}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// An event of the middle of the capture whose time no other event shares (so that a time
/// names the moment after it), as (number, time).
fn middle_event(capture: &Path) -> Option<(u64, u64)> {
    let out =
        run("sysdig", &["-D", "-r", capture.to_str().unwrap(), "-p", "%evt.num %evt.rawtime"]);
    let events: Vec<(u64, u64)> = out
        .lines()
        .filter_map(|l| {
            let (n, t) = l.trim().split_once(' ')?;
            Some((n.parse().ok()?, t.parse().ok()?))
        })
        .collect();
    let alone = |i: usize| {
        let ts = events[i].1;
        (i == 0 || events[i - 1].1 < ts) && events.get(i + 1).is_none_or(|e| e.1 > ts)
    };
    (events.len() / 2..events.len()).find(|&i| alone(i)).map(|i| events[i])
}

#[test]
fn lsof_at_a_moment_agrees_with_sysdig() {
    let Some(captures) = setup() else { return };
    let mut allowed = BTreeMap::<&'static str, usize>::new();
    let mut failures = Vec::new();
    let mut agree = 0;
    for c in &captures {
        let Some((num, ts)) = middle_event(c) else {
            agree += 1;
            continue;
        };
        match lsof_differs(c, num, Some(&ts.to_string()), &mut allowed) {
            None => agree += 1,
            Some(f) => failures.push(f),
        }
    }
    println!("{agree:>2}/{}  lsof --at the middle of the capture", captures.len());
    for (why, n) in &allowed {
        println!("intended difference on {n} lines: {why}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn spy_users_agrees_with_sysdig() {
    let Some(captures) = setup() else { return };
    let mut failures = Vec::new();
    let mut agree = 0;
    let mut commands = 0;
    let mut users_once = 0;
    for c in &captures {
        let file = c.to_str().unwrap();
        let out = run("sysdig", &["-r", file, "-c", "spy_users", "100 disable_color"]);
        // Indent (3 spaces a level), shell pid, time of day, `user)`, command.
        let want: Vec<String> = out
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let depth = (l.len() - l.trim_start().len()) / 3;
                format!("{depth} {}", l.trim_start())
            })
            .collect();
        let got: Vec<String> = dredge(&["spy", "users", "--json", file])
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                let s = v["ts"].as_u64().unwrap() / 1_000_000_000 % 86_400;
                let time = format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
                let who = v["user"].as_str().unwrap();
                let (depth, shell) = (&v["depth"], &v["shell"]);
                let command = v["command"].as_str().unwrap();
                format!("{depth} {shell} {time} {who}) {command}")
            })
            .collect();
        commands += want.len();
        let mut got = got;
        for (g, w) in got.iter_mut().zip(&want) {
            let (Some((gw, gc)), Some((ww, wc))) = (g.split_once(") "), w.split_once(") ")) else {
                continue;
            };
            if ww.ends_with(" <NA>") && !gw.ends_with(" <NA>") && gc == wc {
                let who = gw.rsplit_once(' ').map_or("", |(a, _)| a);
                *g = format!("{who} <NA>) {gc}");
                users_once += 1;
            }
        }
        if want == got {
            agree += 1;
        } else {
            failures.push(format!("spy_users on {}:\nsysdig {want:#?}\ndredge {got:#?}", name(c)));
        }
    }
    println!("{agree:>2}/{}  spy users ({commands} commands)", captures.len());
    println!("intended difference on {users_once} commands: {USER_ONCE}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
