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
    /// Any syscall with a line in [`SPECS`]: parameters read as its spec says.
    Args = 5,
}

impl Filler {
    /// Every filler with its program name in the BPF object.
    pub const ALL: [(Filler, &'static str); 6] = [
        (Filler::Generic, "fill_generic"),
        (Filler::Res, "fill_res"),
        (Filler::Io, "fill_io"),
        (Filler::Clone, "fill_clone"),
        (Filler::Execve, "fill_execve"),
        (Filler::Args, "fill_args"),
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
            name if SPECS.iter().any(|(n, _)| *n == name) => Filler::Args,
            _ => Filler::Res,
        }
    }

    /// The value of this syscall's slot in the kernel's `syscalls` map: bits 0-15 the event
    /// code (the syscall id for the generic exit), 16-23 the filler, bit 24 set when wanted.
    /// A `write` that is not wanted is still wanted on the null device (bit 25): writes to
    /// `/dev/null` carry applications' tracer spans, and cost little to keep.
    pub fn slot(&self, wanted: bool) -> u32 {
        let filler = self.filler();
        let code = if filler == Filler::Generic { self.sc } else { self.exit_code };
        let null_only = !wanted && self.name == "write";
        u32::from(code)
            | (filler as u32) << 16
            | u32::from(wanted || null_only) << 24
            | u32::from(null_only) << 25
    }
}

/// Where each exit parameter of a syscall comes from, in the event table's order: `ret` (the
/// return value), `a0`..`a5` (the arguments), `-` (not collected). How a value is read
/// follows from the parameter's type in the event table (a path is a user string, a sockaddr
/// takes its length from the next argument, a tuple is the kernel's view of the socket fd,
/// data is the buffer cut at the snaplen); a suffix overrides it: `:in` for a tuple seen from
/// the peer, `:fd0`/`:fd1` for the two ints of a user `int[2]`, `:u32` for a value sent whole
/// that user space narrows to the table's width (fcntl's command). Parameters after the last
/// listed one are left out (the table allows fewer).
pub const SPECS: &[(&str, &str)] = &[
    ("open", "ret a0 a1 a2"),
    ("openat", "ret a0 a1 a2 a3"),
    ("openat2", "ret a0 a1"),
    ("creat", "ret a0 a1"),
    ("close", "ret a0"),
    ("dup", "ret a0"),
    ("dup2", "ret a0 a1"),
    ("dup3", "ret a0 a1 a2"),
    ("fcntl", "ret a0 a1:u32 a2"),
    ("chdir", "ret a0"),
    ("fchdir", "ret a0"),
    ("chroot", "ret a0"),
    ("socket", "ret a0 a1 a2"),
    ("bind", "ret a1 a0"),
    ("connect", "ret a0 a0 a1"),
    ("listen", "ret a0 a1"),
    ("accept", "ret ret:in"),
    ("accept4", "ret ret:in - - - a3"),
    ("pipe", "ret a0:fd0 a0:fd1"),
    ("pipe2", "ret a0:fd0 a0:fd1 - a1"),
    ("socketpair", "ret a3:fd0 a3:fd1 - - a0 a1 a2"),
    ("sendto", "ret a1 a0 a2 a0"),
    ("recvfrom", "ret a1 a0:in a0 a2"),
    ("sendmsg", "ret - a0 - a0"),
    ("recvmsg", "ret - - a0:in - a0"),
    ("shutdown", "ret a0 a1"),
    ("pread64", "ret a1 a0 a2 a3"),
    ("pwrite64", "ret a1 a0 a2 a3"),
    ("setuid", "ret a0"),
    ("setgid", "ret a0"),
    ("setreuid", "ret a0 a1"),
    ("setregid", "ret a0 a1"),
    ("setresuid", "ret a0 a1 a2"),
    ("setresgid", "ret a0 a1 a2"),
    ("setsid", "ret"),
    ("unlink", "ret a0"),
    ("unlinkat", "ret a0 a1 a2"),
    ("mkdir", "ret a0 a1"),
    ("mkdirat", "ret a0 a1 a2"),
    ("rmdir", "ret a0"),
    ("rename", "ret a0 a1"),
    ("renameat", "ret a0 a1 a2 a3"),
    ("renameat2", "ret a0 a1 a2 a3 a4"),
    ("symlink", "ret a0 a1"),
    ("symlinkat", "ret a0 a1 a2"),
    ("link", "ret a0 a1"),
    ("linkat", "ret a0 a1 a2 a3 a4"),
    ("chmod", "ret a0 a1"),
    ("fchmod", "ret a0 a1"),
    ("fchmodat", "ret a0 a1 a2"),
    ("ptrace", "ret - - a0 a1"),
    ("kill", "ret a0 a1"),
    ("init_module", "ret - a1 a2"),
    ("finit_module", "ret a0 a1 a2"),
    ("mount", "ret a0 a1 a2 a3"),
    ("umount2", "ret a0 a1"),
    ("setns", "ret a0 a1"),
    ("unshare", "ret a0"),
    ("memfd_create", "ret a0 a1"),
    ("bpf", "ret a0"),
    ("eventfd2", "ret a1 a0"),
    ("prctl", "ret a0 - a1"),
];

/// How the kernel side reads one parameter (`enum reader` in `bpf/recorder.bpf.c`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Reader {
    Empty = 1,
    U8 = 2,
    U16 = 3,
    U32 = 4,
    U64 = 5,
    Int = 6,
    Str = 7,
    SockAddr = 8,
    TupleOut = 9,
    TupleIn = 10,
    Data = 11,
    Fd0 = 12,
    Fd1 = 13,
}

/// A syscall's spec as the kernel side's `specs` map holds it: a byte per parameter, reader
/// in the low nibble, source (0 the return value, 1-6 the arguments) in the high one.
pub fn spec_value(name: &str) -> Result<Option<u64>, String> {
    use dredge_format::param::ParamType as T;
    let Some((_, spec)) = SPECS.iter().find(|(n, _)| *n == name) else { return Ok(None) };
    let sys = by_name(name).ok_or_else(|| format!("{name}: not a syscall of this table"))?;
    let info = dredge_format::table::table()
        .get(sys.exit_code)
        .ok_or_else(|| format!("{name}: no exit event {}", sys.exit_code))?;
    let words: Vec<&str> = spec.split_whitespace().collect();
    if words.len() > 8 || words.len() > info.params.len() {
        return Err(format!(
            "{name}: {} sources for {} parameters",
            words.len(),
            info.params.len()
        ));
    }
    let mut value = 0u64;
    for (i, word) in words.iter().enumerate() {
        let (source, suffix) = word.split_once(':').unwrap_or((word, ""));
        let src: u8 = match source {
            "-" => 0,
            "ret" => 0,
            a => {
                1 + a
                    .strip_prefix('a')
                    .and_then(|n| n.parse::<u8>().ok())
                    .filter(|n| *n < 6)
                    .ok_or_else(|| format!("{name}: bad source {a:?}"))?
            }
        };
        let kind = info.params[i].kind;
        let reader = match (source, suffix, kind) {
            ("-", _, _) => Reader::Empty,
            (_, "in", T::SockTuple) => Reader::TupleIn,
            (_, "fd0", _) => Reader::Fd0,
            (_, "fd1", _) => Reader::Fd1,
            (_, "u32", _) => Reader::U32,
            (_, "", T::SockTuple) => Reader::TupleOut,
            (_, "", T::SockAddr) => Reader::SockAddr,
            (_, "", T::Bytebuf) => Reader::Data,
            (_, "", T::Charbuf | T::FsPath | T::FsRelPath) => Reader::Str,
            ("ret", "", _) if kind.fixed_size() == Some(8) => Reader::U64,
            (_, "", T::Fd | T::Pid | T::Errno) => Reader::Int,
            (_, "", _) => match kind.fixed_size() {
                Some(1) => Reader::U8,
                Some(2) => Reader::U16,
                Some(4) => Reader::U32,
                Some(8) => Reader::U64,
                _ => return Err(format!("{name}: cannot read a {kind:?} parameter")),
            },
            _ => return Err(format!("{name}: bad suffix in {word:?}")),
        };
        value |= u64::from(reader as u8 | src << 4) << (8 * i);
    }
    Ok(Some(value))
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
/// closes a process, fd, identity or working directory (and what libs marks never-drop); and
/// the renames and links that put a file in place, for replay's record of files written in
/// the capture (`proc.is_exe_written`).
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
    "link",
    "linkat",
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
    "rename",
    "renameat",
    "renameat2",
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
    fn every_spec_fits_its_event() {
        for (name, _) in SPECS {
            let v = spec_value(name).unwrap().unwrap();
            assert_ne!(v & 0xf, 0, "{name}");
            assert_eq!(by_name(name).unwrap().filler(), Filler::Args);
        }
        // connect: res (return value), tuple of a0, fd a0 (an int), addr a1 (len in a2).
        let connect = spec_value("connect").unwrap().unwrap();
        assert_eq!(connect.to_le_bytes()[..4], [5, 9 | 1 << 4, 6 | 1 << 4, 8 | 2 << 4]);
    }

    #[test]
    fn slots_pack_code_filler_and_wanted() {
        let read = by_name("read").unwrap();
        assert_eq!(read.slot(true), 7 | 2 << 16 | 1 << 24);
        assert_eq!(read.slot(false) >> 24, 0);
        // An unwanted write is still wanted on the null device (tracer spans).
        let write = by_name("write").unwrap();
        assert_eq!(write.slot(false) >> 24, 0b11);
        assert_eq!(write.slot(true) >> 24, 0b01);
        let wait4 = by_name("wait4").unwrap();
        assert_eq!(wait4.slot(false) & 0xffff, u32::from(wait4.sc));
    }
}
