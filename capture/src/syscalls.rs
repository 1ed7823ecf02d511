//! Which syscalls the recorder hooks, and how: the x86_64 syscall numbers mapped to the event
//! codes of dredge's event table and to the kernel-side filler that writes each one.
//!
//! `syscalls_x86_64.tbl` is data, generated once from the kernel headers and the libs driver
//! (see its header). A syscall with an exit event of its own must be recorded with that code,
//! because rules select events by code; one without goes as the generic exit (code 1) carrying
//! its syscall id.

use std::collections::BTreeSet;

/// The kernel-side fillers (`enum filler` in `bpf/recorder.bpf.c`: keep the two in step).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Filler {
    /// The generic exit: syscall id and native number.
    Generic = 0,
    /// The syscall's own exit event with only its return value (parameters not written yet).
    Res = 1,
    /// read/write: res, data (cut at the snaplen), fd, size.
    Io = 2,
    /// clone, fork, vfork, clone3.
    Clone = 3,
    /// execve/execveat that failed (a successful exec comes from `sched_process_exec`).
    Execve = 4,
}

impl Filler {
    /// Every filler with its program name in the BPF object.
    pub const ALL: [(Filler, &'static str); 5] = [
        (Filler::Generic, "fill_generic"),
        (Filler::Res, "fill_res"),
        (Filler::Io, "fill_io"),
        (Filler::Clone, "fill_clone"),
        (Filler::Execve, "fill_execve"),
    ];
}

/// One x86_64 syscall.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Syscall {
    pub nr: u32,
    pub name: &'static str,
    /// The exit event code (1 for the generic exit).
    pub exit_code: u16,
    /// The architecture-independent syscall id (`syscalls.tbl`).
    pub sc: u16,
    /// Falco keeps these even under load: they carry state.
    pub never_drop: bool,
}

impl Syscall {
    pub fn filler(&self) -> Filler {
        match self.name {
            "read" | "write" => Filler::Io,
            "clone" | "fork" | "vfork" | "clone3" => Filler::Clone,
            "execve" | "execveat" => Filler::Execve,
            _ if self.exit_code == GENERIC_EXIT => Filler::Generic,
            _ => Filler::Res,
        }
    }

    /// The value of this syscall's slot in the kernel's `syscalls` map: bits 0-15 the event
    /// code (the syscall id for the generic exit), 16-23 the filler, bit 24 set when wanted.
    pub fn slot(&self, wanted: bool) -> u32 {
        let filler = self.filler();
        let code = if filler == Filler::Generic { self.sc } else { self.exit_code };
        u32::from(code) | (filler as u32) << 16 | u32::from(wanted) << 24
    }
}

/// The generic exit event's code.
pub const GENERIC_EXIT: u16 = 1;

/// Every syscall of the table, in number order.
pub fn all() -> &'static [Syscall] {
    static TABLE: std::sync::OnceLock<Vec<Syscall>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| parse(include_str!("syscalls_x86_64.tbl")))
}

fn parse(text: &'static str) -> Vec<Syscall> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let f: Vec<&'static str> = line.split_whitespace().collect();
        // The table is generated and checked by the tests below; a bad line is a build defect.
        let num = |s: &str| s.parse::<u32>().unwrap_or(u32::MAX);
        out.push(Syscall {
            nr: num(f[0]),
            name: f[1],
            exit_code: num(f[2]) as u16,
            sc: num(f[3]) as u16,
            never_drop: f[4].split(',').any(|x| x == "never_drop"),
        });
    }
    out
}

pub fn by_name(name: &str) -> Option<&'static Syscall> {
    all().iter().find(|s| s.name == name)
}

/// The syscalls state tracking needs, as Falco's base set: every call that creates, changes or
/// closes a process, fd, identity or working directory (and what libs marks never-drop).
pub const STATE_SET: &[&str] = &[
    "accept",
    "accept4",
    "bind",
    "capset",
    "chdir",
    "chroot",
    "clone",
    "clone3",
    "close",
    "close_range",
    "connect",
    "creat",
    "dup",
    "dup2",
    "dup3",
    "epoll_create",
    "epoll_create1",
    "eventfd",
    "eventfd2",
    "execve",
    "execveat",
    "fchdir",
    "fcntl",
    "fork",
    "getsockopt",
    "inotify_init",
    "inotify_init1",
    "io_uring_setup",
    "memfd_create",
    "mount",
    "open",
    "open_by_handle_at",
    "openat",
    "openat2",
    "pidfd_getfd",
    "pidfd_open",
    "pipe",
    "pipe2",
    "prctl",
    "prlimit64",
    "recvfrom",
    "recvmmsg",
    "recvmsg",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "setgid",
    "setregid",
    "setresgid",
    "setresuid",
    "setreuid",
    "setrlimit",
    "setsid",
    "setuid",
    "shutdown",
    "signalfd",
    "signalfd4",
    "socket",
    "socketpair",
    "timerfd_create",
    "umount2",
    "userfaultfd",
    "vfork",
];

/// Which syscalls to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Every syscall of the table.
    All,
    /// The state set plus these names.
    StatePlus(BTreeSet<String>),
}

impl Selection {
    /// The numbers selected, or the first unknown name.
    pub fn numbers(&self) -> Result<BTreeSet<u32>, String> {
        match self {
            Selection::All => Ok(all().iter().map(|s| s.nr).collect()),
            Selection::StatePlus(extra) => {
                let mut out = BTreeSet::new();
                for name in STATE_SET.iter().copied().chain(extra.iter().map(String::as_str)) {
                    out.insert(by_name(name).ok_or_else(|| name.to_string())?.nr);
                }
                Ok(out)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dredge_format::table::table;

    #[test]
    fn table_agrees_with_the_event_table() {
        let t = table();
        assert!(all().len() > 300);
        for s in all() {
            let info = t.get(s.exit_code).unwrap_or_else(|| panic!("{}: no event", s.name));
            assert_eq!(info.code, s.exit_code);
            assert_eq!(t.syscall_name(s.sc), Some(s.name), "syscall id of {}", s.name);
        }
        let execve = by_name("execve").unwrap();
        assert_eq!((execve.nr, execve.exit_code), (59, 293));
        assert_eq!(by_name("openat").unwrap().exit_code, 307);
        assert_eq!(by_name("wait4").unwrap().exit_code, GENERIC_EXIT);
    }

    #[test]
    fn state_set_names_are_all_known() {
        let n = Selection::StatePlus(BTreeSet::new()).numbers().unwrap();
        assert_eq!(n.len(), STATE_SET.len());
    }

    #[test]
    fn slots_pack_code_filler_and_wanted() {
        let read = by_name("read").unwrap();
        assert_eq!(read.slot(true), 7 | 2 << 16 | 1 << 24);
        let wait4 = by_name("wait4").unwrap();
        assert_eq!(wait4.slot(false) & 0xffff, u32::from(wait4.sc));
    }
}
