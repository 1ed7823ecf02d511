//! `dredge print` against `sysdig -r` (0.29.3) on the shared captures, for filter and `-p`
//! field-list pairs covering evt.*, proc.*, thread.*, fd.* (files and sockets), user.* and
//! container.*.
//!
//! Each pair records on how many of the 30 captures sysdig reads the two outputs are
//! identical today; the test fails if that number goes down, and prints where they differ, so
//! the work left is measured.
//!
//! Differences that are intended, because dredge follows current libs (as Falco does) where
//! sysdig 0.29.3 is older or wrong, are named in [`INTENDED`] with the reason: the events they
//! concern are left out of the comparison of the pairs whose fields they touch.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on purpose")]

mod common;

use std::collections::HashSet;
use std::process::Command;

use common::shared;

/// (captures agreeing today, filter, -p format)
const PAIRS: [(usize, &str, &str); 23] = [
    (30, "", "%evt.num %evt.type %evt.dir %proc.name %thread.tid"),
    (30, "evt.type=open", "%evt.num %proc.name %fd.name"),
    (
        30,
        "evt.type in (open, openat) and evt.dir=<",
        "%evt.num %evt.time %proc.pid %fd.name %evt.rawres",
    ),
    (30, "proc.name=cat", "%evt.num %evt.type %evt.cpu"),
    (30, "fd.typechar=f and evt.dir=<", "%evt.num %fd.name %fd.typechar %fd.type"),
    (
        30,
        "evt.type=execve and evt.dir=<",
        "%evt.num %proc.name %proc.exe %proc.args %proc.cmdline %proc.cwd",
    ),
    (30, "evt.type=clone and evt.dir=<", "%evt.num %proc.name %proc.pid %proc.ppid %thread.tid"),
    (30, "evt.dir=<", "%evt.num %evt.res %evt.rawres"),
    (30, "", "%evt.num %user.name %user.uid %group.gid"),
    (30, "", "%evt.num %container.id %container.name"),
    (30, "fd.type=ipv4", "%evt.num %fd.name %fd.sip %fd.cip %fd.sport %fd.cport"),
    (30, "evt.type=connect and evt.dir=<", "%evt.num %fd.name %evt.rawres"),
    (30, "", "%evt.num %evt.rawtime %evt.time.s"),
    (30, "proc.name contains http", "%evt.num %proc.name %proc.pname"),
    (30, "evt.type=close and evt.dir=<", "%evt.num %fd.num %fd.name"),
    (30, "", "%evt.num %proc.exepath %proc.tty"),
    (30, "evt.type=read and evt.dir=<", "%evt.num %fd.name %evt.rawres"),
    (30, "not evt.type in (read, write)", "%evt.num %evt.type"),
    (30, "", "%evt.num %evt.failed"),
    (30, "fd.name startswith /etc", "%evt.num %fd.name %fd.directory %fd.filename"),
    (30, "container.id!=host", "%evt.num %container.id %container.image %container.type"),
    // Arguments resolved as libs resolves them: flag names, fds by name, errors by name.
    (17, "evt.dir=<", "*%evt.num %evt.arg.flags %evt.arg.fd %evt.arg.res %evt.arg[0]"),
    // sysdig's default line, arguments and all.
    (
        10,
        "",
        "*%evt.num %evt.outputtime %evt.cpu %proc.name (%thread.tid) %evt.dir %evt.type %evt.info",
    ),
];

/// An intended difference: the field it concerns, why, and the events it concerns.
struct Intended {
    field: &'static str,
    why: &'static str,
    events: Concerns,
}

/// The events an intended difference concerns.
enum Concerns {
    /// What each tool's filter selects: left out of that tool's output.
    Filters { sysdig: &'static str, dredge: &'static str },
    /// What one tool's filter selects on one capture (or on every capture): those event
    /// numbers are left out of both outputs.
    Listed { capture: Option<&'static str>, tool: &'static str, filter: &'static str },
}

const INTENDED: [Intended; 12] = [
    Intended {
        field: "evt.type",
        why: "libs names syscall 15 by its kernel name, rt_sigreturn; sysdig 0.29.3 said sigreturn",
        events: Concerns::Filters { sysdig: "evt.type=sigreturn", dredge: "evt.type=rt_sigreturn" },
    },
    Intended {
        field: "fd.",
        why: "current libs flags mmap as using its fd argument, so its fd.* fields are set",
        events: Concerns::Filters {
            sysdig: "evt.type in (mmap, mmap2)",
            dredge: "evt.type in (mmap, mmap2)",
        },
    },
    Intended {
        field: "fd.",
        why: "an exit whose enter named no fd takes the fd its own parameters name in current \
              libs; sysdig 0.29.3 gave it none (old captures' setsockopt)",
        events: Concerns::Filters {
            sysdig: "evt.type=setsockopt and evt.dir=<",
            dredge: "evt.type=setsockopt and evt.dir=<",
        },
    },
    Intended {
        field: "fd.",
        why: "the path of a failed open is its fd.name in filters as in outputs in current libs \
              (one extraction serves both); sysdig 0.29.3 showed it but did not match it",
        events: Concerns::Filters {
            sysdig: "evt.type in (open, openat, openat2, creat) and evt.dir=< and evt.rawres<0",
            dredge: "evt.type in (open, openat, openat2, creat) and evt.dir=< and evt.rawres<0",
        },
    },
    Intended {
        field: "user.",
        why: "sysdig 0.29.3 resolved a thread's user once, when it made the thread; the threads \
              of a capture's process list come before its user list, so they had uid \
              4294967295 and no name, and a uid missing from the user list had no name. Current \
              libs read the thread's uid and look the name up when asked (`<NA>` if missing)",
        events: Concerns::Listed {
            capture: None,
            tool: "sysdig",
            filter: "user.uid=4294967295 or not user.name exists",
        },
    },
    Intended {
        field: "group.",
        why: "sysdig 0.29.3 resolved a thread's group once, as its user: the threads of the \
              process list had gid 4294967295; and some had a group.gid wider than 32 bits \
              (garbage high bits)",
        events: Concerns::Listed { capture: None, tool: "sysdig", filter: "group.gid>=4294967295" },
    },
    Intended {
        field: "fd.",
        why: "a UDP socket connected a second time takes the new destination in current libs \
              (the connect exit overwrites it); sysdig 0.29.3 kept the first",
        events: Concerns::Listed {
            capture: Some("namespaces_setns.scap"),
            tool: "sysdig",
            filter: "thread.tid=8082 and fd.num=6 and evt.num>=1990 and evt.num<=1997",
        },
    },
    Intended {
        field: "fd.",
        why: "a UDP socket connected a second time takes the new destination in current libs \
              (the connect exit overwrites it); sysdig 0.29.3 kept the first",
        events: Concerns::Listed {
            capture: Some("libs_e2e_test_ipv6_client.scap"),
            tool: "sysdig",
            filter: "thread.tid=19747 and fd.num=3 and evt.num>=231",
        },
    },
    Intended {
        field: "fd.",
        why: "a datagram socket takes the tuple of its sends in current libs; the old sendmsg \
              exits of 502Error carry no tuple, so they get the enter's (0.0.0.0:55441 -> \
              127.0.0.1:514, the local address from the loopback interface). sysdig 0.29.3 \
              names the socket by a destination, 145.216.3.255, that no event carries",
        events: Concerns::Listed {
            capture: Some("502Error.scap"),
            tool: "sysdig",
            filter: "fd.name contains 145.216.3.255",
        },
    },
    Intended {
        field: "proc.ppid",
        why: "a new thread's process that the capture never showed is made from the thread's \
              clone exit in current libs, its parent included; sysdig 0.29.3 left the \
              parent unknown (-1)",
        events: Concerns::Listed {
            capture: None,
            tool: "sysdig",
            filter: "proc.ppid=-1 and thread.ismain=false",
        },
    },
    Intended {
        field: "proc.tty",
        why: "the process list of libs_sample records each thread's tty, which current libs \
              read and sysdig 0.29.3 (older than that field) shows as 0",
        events: Concerns::Listed {
            capture: Some("libs_sample.scap"),
            tool: "dredge",
            filter: "proc.tty!=0",
        },
    },
    Intended {
        field: "fd.",
        why: "a dup of an fd unknown to the child of a fork leaves the new fd as it was in \
              current libs (which also reset a child's fd lookup cache); sysdig 0.29.3 gave \
              it a file no event of the child opened, seemingly from the parent's cache",
        events: Concerns::Listed {
            capture: Some("objectstore_download.scap"),
            tool: "sysdig",
            filter: "proc.pid=17066 and fd.num=0",
        },
    },
];

impl Intended {
    fn touches(&self, filter: &str, format: &str) -> bool {
        format.contains(self.field) || filter.contains(self.field)
    }
}

/// The filter for one tool: the pair's, without the events that the intended differences
/// touching the pair's fields leave out by filter.
fn filter_for(tool: &str, filter: &str, format: &str) -> String {
    let mut clauses: Vec<String> = Vec::new();
    if !filter.is_empty() {
        clauses.push(format!("({filter})"));
    }
    for i in INTENDED.iter().filter(|i| i.touches(filter, format)) {
        if let Concerns::Filters { sysdig, dredge } = i.events {
            let events = if tool == "sysdig" { sysdig } else { dredge };
            clauses.push(format!("not ({events})"));
        }
    }
    clauses.join(" and ")
}

/// The event numbers that the intended differences touching the pair's fields list on
/// `capture`.
fn listed(capture: &std::path::Path, filter: &str, format: &str) -> HashSet<Vec<u8>> {
    let name = capture.file_name().unwrap().to_string_lossy();
    let mut numbers = HashSet::new();
    for i in INTENDED.iter().filter(|i| i.touches(filter, format)) {
        if let Concerns::Listed { capture: only, tool, filter } = i.events
            && only.is_none_or(|c| c == name)
        {
            let (program, first): (&str, &[&str]) = if tool == "sysdig" {
                ("sysdig", &[])
            } else {
                (env!("CARGO_BIN_EXE_dredge"), &["print"])
            };
            let out = output(program, first, capture, "%evt.num", filter);
            numbers
                .extend(out.split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(<[u8]>::to_vec));
        }
    }
    numbers
}

/// `out` without the lines of the events in `left_out` (each line starts with its number).
fn without(out: Vec<u8>, left_out: &HashSet<Vec<u8>>) -> Vec<u8> {
    if left_out.is_empty() {
        return out;
    }
    let mut kept = Vec::with_capacity(out.len());
    for line in out.split_inclusive(|&b| b == b'\n') {
        let num = line.split(|&b| b == b' ' || b == b'\n').next().unwrap_or_default();
        if !left_out.contains(num) {
            kept.extend_from_slice(line);
        }
    }
    kept
}

fn output(
    program: &str,
    first: &[&str],
    file: &std::path::Path,
    format: &str,
    filter: &str,
) -> Vec<u8> {
    let mut cmd = Command::new(program);
    cmd.env("TZ", "UTC").args(first);
    if program == "sysdig" {
        cmd.arg("-r").arg(file);
    } else {
        cmd.arg(file);
    }
    cmd.args(["-p", format]);
    if !filter.is_empty() {
        cmd.arg(filter);
    }
    cmd.output().unwrap().stdout
}

#[test]
fn print_agrees_with_sysdig() {
    let Some(shared) = shared() else {
        std::io::Write::write_all(&mut std::io::stderr(), b"skipped: no shared data\n").ok();
        return;
    };
    if Command::new("sysdig").arg("--version").output().is_err() {
        std::io::Write::write_all(
            &mut std::io::stderr(),
            b"skipped: sysdig is not installed (apt-get install sysdig)\n",
        )
        .ok();
        return;
    }
    let manifest = std::fs::read_to_string(shared.join("captures/MANIFEST.tsv")).unwrap();
    let captures: Vec<_> = manifest
        .lines()
        .skip(1)
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .filter(|c| c[8] != "-1")
        .map(|c| shared.join("captures").join(c[0]))
        .collect();
    assert_eq!(captures.len(), 30);
    let dredge = env!("CARGO_BIN_EXE_dredge");
    let (mut full, mut regressions) = (0, Vec::new());
    for (expected, filter, format) in PAIRS {
        let mut differ = Vec::new();
        for c in &captures {
            let left_out = listed(c, filter, format);
            let a = output("sysdig", &[], c, format, &filter_for("sysdig", filter, format));
            let b = output(dredge, &["print"], c, format, &filter_for("dredge", filter, format));
            let (a, b) = (without(a, &left_out), without(b, &left_out));
            if a != b {
                differ.push(c.file_name().unwrap().to_string_lossy().into_owned());
            }
        }
        let agree = captures.len() - differ.len();
        full += usize::from(agree == captures.len());
        println!("{agree:>2}/30  [{filter}] [{format}]  differ: {}", differ.join(" "));
        if agree < expected {
            regressions.push(format!("[{filter}] [{format}]: {agree} < {expected}"));
        }
    }
    println!("{full} of {} pairs agree on every capture", PAIRS.len());
    for i in &INTENDED {
        let events = match i.events {
            Concerns::Filters { dredge, .. } => dredge.to_string(),
            Concerns::Listed { capture, tool, filter } => {
                format!("{filter}, as {tool} sees it, on {}", capture.unwrap_or("every capture"))
            }
        };
        println!("intended, {}: {} (left out: {events})", i.field, i.why);
    }
    assert!(
        regressions.is_empty(),
        "print agrees with sysdig less than before:\n{}",
        regressions.join("\n")
    );
}
