//! Threads and the machine from `/proc`.

use std::fs;
use std::path::Path;

use dredge_format::container::id_from_cgroups;
use dredge_format::state::{Machine, Thread};

/// A small `/proc` or `/etc` file, trimmed; empty when it cannot be read.
pub fn read_trimmed(path: &str) -> String {
    fs::read_to_string(path).map(|s| s.trim().to_string()).unwrap_or_default()
}

/// The machine: hostname, kernel, CPUs, memory and boot time (ns since the epoch).
pub fn machine(boot_time: u64) -> Machine {
    let read = read_trimmed;
    let memory_kb = read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0);
    Machine {
        hostname: read("/proc/sys/kernel/hostname"),
        kernel_release: read("/proc/sys/kernel/osrelease"),
        cpu_count: std::thread::available_parallelism().map(|n| n.get() as u32).unwrap_or(1),
        memory_bytes: memory_kb * 1024,
        max_pid: read("/proc/sys/kernel/pid_max").parse().unwrap_or(0),
        boot_time,
        flags: 0,
    }
}

/// Every thread of every process, in pid order.
pub fn threads(proc: &Path, boot_time: u64) -> Vec<Thread> {
    let mut pids: Vec<i64> = numbered(proc);
    pids.sort_unstable();
    let mut out = Vec::new();
    for pid in pids {
        let dir = proc.join(pid.to_string());
        let Some(main) = read_thread(&dir, pid, pid, boot_time) else { continue };
        let mut tids = numbered(&dir.join("task"));
        tids.sort_unstable();
        let mut threads = Vec::new();
        for tid in tids.into_iter().filter(|&t| t != pid) {
            let tdir = dir.join("task").join(tid.to_string());
            if let Some(mut t) = read_thread(&tdir, tid, pid, boot_time) {
                // Threads share the process's image and arguments.
                t.exe.clone_from(&main.exe);
                t.exepath.clone_from(&main.exepath);
                t.args.clone_from(&main.args);
                threads.push(t);
            }
        }
        out.push(main);
        out.append(&mut threads);
    }
    out
}

/// The numeric entries of a `/proc` directory.
fn numbered(dir: &Path) -> Vec<i64> {
    let Ok(entries) = fs::read_dir(dir) else { return Vec::new() };
    entries.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect()
}

/// One thread from its `/proc` directory; `None` when it has gone.
fn read_thread(dir: &Path, tid: i64, pid: i64, boot_time: u64) -> Option<Thread> {
    let status = fs::read_to_string(dir.join("status")).ok()?;
    let field = |name: &str| -> Vec<&str> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')))
            .map(|r| r.split_whitespace().collect())
            .unwrap_or_default()
    };
    let num = |v: &[&str], i: usize| v.get(i).and_then(|s| s.parse::<i64>().ok()).unwrap_or(0);
    let uids = field("Uid");
    let gids = field("Gid");
    let ns_tid = field("NSpid");
    let ns_pgid = field("NSpgid");
    let ns_sid = field("NSsid");
    let cap =
        |name: &str| field(name).first().and_then(|h| u64::from_str_radix(h, 16).ok()).unwrap_or(0);

    let cmdline = fs::read(dir.join("cmdline")).unwrap_or_default();
    let mut parts = cmdline.splitn(2, |&b| b == 0);
    let exe = parts.next().unwrap_or_default().to_vec();
    let mut args = parts.next().unwrap_or_default().to_vec();
    if args.last() == Some(&0) {
        args.pop();
    }
    let comm = fs::read(dir.join("comm"))
        .map(|mut c| {
            c.pop_if(|b| *b == b'\n');
            c
        })
        .unwrap_or_default();
    let link = |name: &str| {
        fs::read_link(dir.join(name))
            .map(|p| p.into_os_string().into_encoded_bytes())
            .unwrap_or_default()
    };
    let cgroups = cgroups(&fs::read_to_string(dir.join("cgroup")).unwrap_or_default());
    let stat = fs::read_to_string(dir.join("stat")).unwrap_or_default();
    // Fields after the parenthesised comm, which may itself hold spaces and parentheses.
    let after: Vec<&str> =
        stat.rsplit_once(')').map(|(_, r)| r.split_whitespace().collect()).unwrap_or_default();
    let stat_num = |i: usize| after.get(i).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
    // after[0] is field 3 (state): field N is after[N - 3].
    let start_ticks = stat_num(22 - 3);
    let start_time =
        boot_time + start_ticks * (1_000_000_000 / rustix::param::clock_ticks_per_second().max(1));
    let loginuid = fs::read_to_string(dir.join("loginuid"))
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .unwrap_or(u32::MAX);
    let fdlimit = fs::read_to_string(dir.join("limits"))
        .ok()
        .and_then(|l| {
            l.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3)?.parse::<u64>().ok())
        })
        .unwrap_or(0);

    Some(Thread {
        tid,
        pid,
        ptid: num(&field("PPid"), 0),
        vtid: ns_tid.last().and_then(|s| s.parse().ok()).unwrap_or(tid),
        vpid: field("NStgid").last().and_then(|s| s.parse().ok()).unwrap_or(pid),
        sid: num(&ns_sid, 0),
        pgid: num(&ns_pgid, 0),
        vpgid: ns_pgid.last().and_then(|s| s.parse().ok()).unwrap_or(0),
        comm,
        exe,
        exepath: link("exe"),
        args,
        cwd: link("cwd"),
        env: Vec::new(),
        root: link("root"),
        uid: num(&uids, 0) as u32,
        euid: num(&uids, 1) as u32,
        gid: num(&gids, 0) as u32,
        egid: num(&gids, 1) as u32,
        loginuid,
        start_time,
        pidns_init_start_ts: 0,
        container_id: id_from_cgroups(&cgroups).unwrap_or_default(),
        cgroups,
        tty: stat_num(7 - 3) as u32,
        cap_inheritable: cap("CapInh"),
        cap_permitted: cap("CapPrm"),
        cap_effective: cap("CapEff"),
        flags: 0,
        fdlimit,
        vm_size_kb: num(&field("VmSize"), 0) as u32,
        vm_rss_kb: num(&field("VmRSS"), 0) as u32,
        vm_swap_kb: num(&field("VmSwap"), 0) as u32,
        pf_major: stat_num(12 - 3),
        pf_minor: stat_num(10 - 3),
        ..Thread::default()
    })
}

/// `/proc/PID/cgroup` as the event table's `cgroups` value: `controller=path` entries,
/// NUL-separated (v1 lines give one entry per controller, the v2 line `unified`).
pub fn cgroups(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut f = line.splitn(3, ':');
        let (_, ctrls, path) = (f.next(), f.next().unwrap_or(""), f.next().unwrap_or(""));
        let names: Vec<&str> = if ctrls.is_empty() {
            vec!["unified"]
        } else {
            ctrls.split(',').map(|c| c.trim_start_matches("name=")).collect()
        };
        for name in names {
            out.extend_from_slice(name.as_bytes());
            out.push(b'=');
            out.extend_from_slice(path.as_bytes());
            out.push(0);
        }
    }
    out.pop_if(|b| *b == 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_lines_become_controller_entries() {
        let text = "12:cpu,cpuacct:/libpod_parent/libpod-abc\n4:memory:/x\n0::/\n";
        assert_eq!(
            cgroups(text),
            b"cpu=/libpod_parent/libpod-abc\0cpuacct=/libpod_parent/libpod-abc\0memory=/x\0\
              unified=/"
                .to_vec()
        );
    }

    #[test]
    fn reads_this_process() {
        let me = std::process::id() as i64;
        let all = threads(Path::new("/proc"), 0);
        let t = all.iter().find(|t| t.tid == me).expect("this process in the snapshot");
        assert_eq!(t.pid, me);
        assert!(!t.comm.is_empty());
        assert!(!t.exepath.is_empty());
        assert!(all.iter().any(|t| t.pid == me && t.tid != me), "the test harness has threads");
        // Main threads come before their threads.
        let main_at = all.iter().position(|t| t.tid == me).unwrap();
        let thread_at = all.iter().position(|t| t.pid == me && t.tid != me).unwrap();
        assert!(main_at < thread_at);
    }
}
