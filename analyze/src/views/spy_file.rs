//! Who touched one file over a whole capture, and how: the question after an alert names a
//! file (sysdig's `spy_file` chisel echoes the reads and writes live; this view also keeps
//! the opens, renames, links, mode and owner changes, deletions, execs and maps, and adds
//! them up).
//!
//! An event touches the file when a path it names, made absolute, is the file, or when the
//! fd it reads, writes, maps or changes is open on it. Relative paths are made absolute as
//! the kernel would: against the directory fd the call names, else the process's working
//! directory; a relative path of a process whose working directory the capture never showed
//! is not matched. Names are compared as the processes gave them, `.` and `..` resolved:
//! symbolic links are not followed, so a read through a link to the file is not the file's.
//!
//! Touches are added up per program run and act. A run is one program in one process: from
//! the start of a pid, or from an execve, to its next execve or its exit (a process's whole
//! life, over all its programs, is [`lives`](super::lives)'s): the name and command line of a line are
//! those of the program that acted. An act is what the call did: reads and writes through
//! the file's fd are `read` and `write` (whatever the call: `pread`, `readv`, `sendfile`'s
//! source ...) and count their bytes; everything else is the event's `evt.type`, with what
//! matters beside it (an open's access mode, a rename's two names, the mode a chmod set) and
//! the errno name when the call failed.

use std::borrow::Cow;
use std::sync::LazyLock;

use dredge_format::event::Event;
use dredge_format::param::{ParamType, Value};
use dredge_format::table::{Direction, EventInfo, flag, table};
use rustc_hash::FxHashMap;

use super::{Field, lossy};
use crate::fields::{EventFields, errno_name};
use crate::state::{Op, State, Thread, code, int_param, join_path, param};

/// `AT_FDCWD` as the driver records it: no directory fd, the working directory.
const AT_FDCWD: i64 = -100;

/// What one event did to the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Touch {
    pub pid: i64,
    /// Which run of the pid (see the module documentation).
    pub run: u32,
    /// Nanoseconds since the epoch.
    pub ts: u64,
    pub act: Cow<'static, str>,
    /// Bytes read or written (0 for other acts).
    pub bytes: u64,
}

/// One line: a program run's touches of one act.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The first and last touch, in ns since the epoch.
    pub first: u64,
    pub last: u64,
    pub count: u64,
    pub bytes: u64,
    pub act: String,
    /// `proc.pid`, `proc.name`, `proc.cmdline`, `user.name`, `container.id` and
    /// `container.name` at the first touch.
    pub pid: i64,
    pub name: String,
    pub cmdline: String,
    pub user: String,
    pub container_id: String,
    pub container: String,
}

/// The touches of one file, event after event.
pub struct SpyFile {
    path: Vec<u8>,
    /// Per pid, its current run (absent: 0).
    runs: FxHashMap<i64, u32>,
    /// Per (pid, run, act), its line in `rows`.
    index: FxHashMap<(i64, u32, Cow<'static, str>), usize>,
    fields: Fields,
    /// In the order of their first touch.
    pub rows: Vec<Row>,
}

struct Fields {
    name: Field,
    cmdline: Field,
    user: Field,
    container_id: Field,
    container: Field,
}

/// How an event code can touch a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Not at all (and every enter: the exit carries what the call did).
    None,
    /// Reads or writes through fds (`evt.is_io`, and `sendfile`, `splice`).
    Io,
    /// Changes or maps the file its `fd` parameter names (`fchmod`, `fchown`, `mmap`).
    ByFd,
    /// Names paths (opens, renames, links, unlinks, chmod, execve ...).
    Paths,
}

fn kind(code: u16) -> Kind {
    static KINDS: LazyLock<Vec<Kind>> = LazyLock::new(|| {
        table()
            .iter()
            .map(|e| {
                let paths = e.params.iter().any(|p| matches!(p.kind, ParamType::FsPath));
                let rel = e.params.iter().any(|p| matches!(p.kind, ParamType::FsRelPath));
                match e.name {
                    _ if e.direction != Direction::Exit => Kind::None,
                    "fchmod" | "fchown" | "mmap" | "mmap2" => Kind::ByFd,
                    "sendfile" | "splice" => Kind::Io,
                    _ if e.has_flag(flag::READS_FROM_FD | flag::WRITES_TO_FD) => Kind::Io,
                    _ if paths || rel => Kind::Paths,
                    _ => Kind::None,
                }
            })
            .collect()
    });
    KINDS.get(usize::from(code)).copied().unwrap_or(Kind::None)
}

impl SpyFile {
    /// A view of the file at `path`, an absolute path (`.` and `..` are resolved; the caller
    /// refuses a relative one).
    pub fn new(path: &[u8]) -> SpyFile {
        SpyFile {
            path: join_path(b"/", path),
            runs: FxHashMap::default(),
            index: FxHashMap::default(),
            fields: Fields {
                name: Field::new("proc.name", None),
                cmdline: Field::new("proc.cmdline", None),
                user: Field::new("user.name", None),
                container_id: Field::new("container.id", None),
                container: Field::new("container.name", None),
            },
            rows: Vec::new(),
        }
    }

    /// The file looked for, as compared.
    pub fn path(&self) -> &[u8] {
        &self.path
    }

    /// What `ev` did to the file, if anything, with `state` as of the event (after its
    /// changes: an open's new fd is in the table). `args` is the event whose parameters to
    /// read (the exit with its enter's merged in, or the event itself). Every event is to be
    /// given here, in order: runs end at execve and exit.
    pub fn touch(&mut self, state: &State, ev: &Event<'_>, args: &Event<'_>) -> Option<Touch> {
        let t = state.threads.get(&ev.tid())?;
        let c = code(args.code());
        match c.op {
            Op::ProcExit if t.tid == t.pid => {
                *self.runs.entry(t.pid).or_default() += 1;
                return None;
            }
            Op::Execve if int_param(args, c.res) == Some(0) => {
                *self.runs.entry(t.pid).or_default() += 1;
            }
            _ => {}
        }
        let info = args.info()?;
        let (act, bytes) = match kind(args.code()) {
            Kind::None => return None,
            Kind::Io => self.io(state, t, info, args)?,
            Kind::ByFd => (self.by_fd(state, t, info, args)?, 0),
            Kind::Paths => (self.paths(state, t, info, args)?, 0),
        };
        // An open's result is its fd.
        let res = int_param(args, c.res).or_else(|| int_param(args, c.fd));
        let act = match res {
            Some(r) if r < 0 => Cow::Owned(format!("{act} {}", errno_name(r))),
            _ => act,
        };
        let run = self.runs.get(&t.pid).copied().unwrap_or(0);
        Some(Touch { pid: t.pid, run, ts: ev.ts(), act, bytes })
    }

    /// Counts `touch` on its line, made from the event's fields `f` when it is the first.
    pub fn add(&mut self, touch: Touch, f: &EventFields<'_>) {
        let key = (touch.pid, touch.run, touch.act);
        if let Some(&i) = self.index.get(&key) {
            let row = &mut self.rows[i];
            row.last = row.last.max(touch.ts);
            row.count += 1;
            row.bytes += touch.bytes;
            return;
        }
        let text = |field: &Field| field.text(f).map_or_else(|| "<NA>".to_string(), |v| lossy(&v));
        let fl = &self.fields;
        self.rows.push(Row {
            first: touch.ts,
            last: touch.ts,
            count: 1,
            bytes: touch.bytes,
            act: key.2.to_string(),
            pid: touch.pid,
            name: text(&fl.name),
            cmdline: text(&fl.cmdline),
            user: text(&fl.user),
            container_id: text(&fl.container_id),
            container: text(&fl.container),
        });
        self.index.insert(key, self.rows.len() - 1);
    }

    /// Whether `name`, an fd's name, is the file.
    fn is_file(&self, name: &[u8]) -> bool {
        if name == self.path.as_slice() {
            return true;
        }
        // Only a name with `.`, `..`, `//` or a trailing `/` in it needs making plain.
        let plain = !name.ends_with(b"/") && !name.windows(2).any(|w| w == b"//" || w == b"/.");
        !plain && name.starts_with(b"/") && join_path(b"/", name) == self.path
    }

    /// Whether fd `n` of `t`'s process is open on the file.
    fn fd_is_file(&self, state: &State, t: &Thread, n: Option<i64>) -> bool {
        n.and_then(|n| state.fd(t, n)).is_some_and(|fd| self.is_file(&fd.name))
    }

    /// A read or write through an fd open on the file: the act and the bytes.
    fn io(
        &self,
        state: &State,
        t: &Thread,
        info: &EventInfo,
        args: &Event<'_>,
    ) -> Option<(Cow<'static, str>, u64)> {
        let reads = info.has_flag(flag::READS_FROM_FD);
        let fd =
            |name: &str| int_param(args, info.param_index(name).and_then(|i| i.try_into().ok()));
        // The event's own `fd` goes the way its flags say; the others by their names.
        let on_file = |name: &str| self.fd_is_file(state, t, fd(name));
        let act = if (reads && on_file("fd")) || ["in_fd", "fd_in", "fdin"].into_iter().any(on_file)
        {
            "read"
        } else if (!reads && on_file("fd"))
            || ["out_fd", "fd_out", "fdout"].into_iter().any(on_file)
        {
            "write"
        } else {
            return None;
        };
        let res = int_param(args, code(args.code()).res).unwrap_or(0);
        Some((Cow::Borrowed(act), res.max(0) as u64))
    }

    /// fchmod, fchown or mmap of the file through its fd.
    fn by_fd(
        &self,
        state: &State,
        t: &Thread,
        info: &EventInfo,
        args: &Event<'_>,
    ) -> Option<Cow<'static, str>> {
        let named =
            |name: &str| param(args, info.param_index(name).and_then(|i| i.try_into().ok()));
        let fd = match named("fd") {
            Some(Value::Fd(n)) => n,
            _ => return None,
        };
        if !self.fd_is_file(state, t, Some(fd)) {
            return None;
        }
        let detail = match info.name {
            "fchmod" => format!(" {}", mode(named("mode"))),
            "fchown" => format!(" {}", owner(named("uid"), named("gid"))),
            _ => prot(named("prot")),
        };
        Some(Cow::Owned(format!("{}{detail}", info.name)))
    }

    /// A call that names the file by a path: the act, or `None` when no path is the file.
    fn paths(
        &self,
        state: &State,
        t: &Thread,
        info: &EventInfo,
        args: &Event<'_>,
    ) -> Option<Cow<'static, str>> {
        let named =
            |name: &str| param(args, info.param_index(name).and_then(|i| i.try_into().ok()));
        let mut paths: Vec<PathParam<'_>> = Vec::new();
        for (i, p) in info.params.iter().enumerate() {
            if !matches!(p.kind, ParamType::FsPath | ParamType::FsRelPath) {
                continue;
            }
            let Some(Value::Str(raw)) = param(args, i.try_into().ok()) else { continue };
            let dirfd = p.dirfd.and_then(|d| int_param(args, d.try_into().ok()));
            let absolute = absolute(state, t, dirfd, raw);
            paths.push(PathParam { name: p.name, given: raw, absolute });
        }
        // A symlink's target is relative to the link's directory, not the working one.
        if let Some(Value::Str(raw)) = named("target").filter(|_| info.name.contains("symlink")) {
            let link = paths.iter().find(|p| p.name == "linkpath").and_then(|p| p.absolute.clone());
            let absolute = match link {
                _ if raw.starts_with(b"/") => Some(join_path(b"/", raw)),
                Some(link) => Some(join_path(&link, &[b"../", raw].concat())),
                None => None,
            };
            paths.push(PathParam { name: "target", given: raw, absolute });
        }
        // An execve without the path it ran (old layouts) names it by the new image.
        if paths.is_empty() && matches!(info.name, "execve" | "execveat") && !t.exepath.is_empty() {
            let absolute = absolute(state, t, None, &t.exepath);
            paths.push(PathParam { name: "filename", given: &t.exepath, absolute });
        }
        if !paths.iter().any(|p| p.absolute.as_deref().is_some_and(|p| p == self.path)) {
            return None;
        }

        // The other name of a rename or link: absolute, else as given.
        let shown = |name: &str| -> String {
            match paths.iter().find(|p| p.name == name) {
                Some(p) => lossy(p.absolute.as_deref().unwrap_or(p.given)),
                None => "<NA>".into(),
            }
        };
        let detail = match info.name {
            n if n.starts_with("open") || n == "creat" => {
                let flags = match named("flags") {
                    Some(Value::Flags(f)) => Some(f),
                    _ => None,
                };
                access(n, flags)
            }
            "rename" | "renameat" | "renameat2" | "link" | "linkat" => {
                let how = if info.name.contains("link") { "as" } else { "to" };
                format!(" {} {how} {}", shown("oldpath"), shown("newpath"))
            }
            "symlink" | "symlinkat" => format!(" {} to {}", shown("linkpath"), shown("target")),
            "chmod" | "fchmodat" => format!(" {}", mode(named("mode"))),
            "chown" | "lchown" | "fchownat" => format!(" {}", owner(named("uid"), named("gid"))),
            _ => String::new(),
        };
        Some(Cow::Owned(format!("{}{detail}", info.name)))
    }
}

/// A path parameter of an event: its name, the path as given, and made absolute (`None` where
/// it cannot be).
struct PathParam<'e> {
    name: &'static str,
    given: &'e [u8],
    absolute: Option<Vec<u8>>,
}

/// `raw`, a path `t` gave, made absolute against directory fd `dirfd` (absent or
/// `AT_FDCWD`: the working directory), `.` and `..` resolved. An empty path with a directory
/// fd is that fd's file (`AT_EMPTY_PATH`). `None` when the directory is not known.
fn absolute(state: &State, t: &Thread, dirfd: Option<i64>, raw: &[u8]) -> Option<Vec<u8>> {
    if raw.starts_with(b"/") {
        return Some(join_path(b"/", raw));
    }
    let base = match dirfd {
        Some(d) if d != AT_FDCWD => &state.fd(t, d)?.name,
        _ if raw.is_empty() => return None,
        _ => &t.cwd,
    };
    base.starts_with(b"/").then(|| join_path(base, raw))
}

/// An open's access, from its `flags` (`PPM_O_*`): `(read)`, `(write,create,truncate)` ...
/// A creat is a write that creates and truncates.
fn access(name: &str, flags: Option<u32>) -> String {
    let flags = match (name, flags) {
        ("creat", _) => 2 | 4 | 256,
        (_, Some(f)) => f,
        (_, None) => return String::new(),
    };
    let mut words = Vec::new();
    match flags & 3 {
        2 => words.push("write"),
        3 => words.extend(["read", "write"]),
        _ => words.push("read"),
    }
    for (bit, word) in [(4, "create"), (256, "truncate"), (8, "append")] {
        if flags & bit != 0 {
            words.push(word);
        }
    }
    format!("({})", words.join(","))
}

/// A mode as chmod takes it, in octal: `4755`.
fn mode(v: Option<Value<'_>>) -> String {
    match v {
        Some(Value::Mode(m) | Value::Flags(m)) => format!("{:o}", m & 0o7777),
        Some(Value::Uint(m)) => format!("{:o}", m & 0o7777),
        _ => "<NA>".into(),
    }
}

/// An owner as chown takes it: `uid:gid`, -1 for one left as it was.
fn owner(uid: Option<Value<'_>>, gid: Option<Value<'_>>) -> String {
    let id = |v: Option<Value<'_>>| match v {
        Some(Value::Uint(n)) => (n as u32 as i32).to_string(),
        Some(Value::Uid(n) | Value::Gid(n)) => (n as i32).to_string(),
        Some(Value::Int(n)) => n.to_string(),
        _ => "<NA>".into(),
    };
    format!("{}:{}", id(uid), id(gid))
}

/// A map's protection (`PPM_PROT_*`): `(read,exec)`, `(none)`.
fn prot(v: Option<Value<'_>>) -> String {
    let bits = match v {
        Some(Value::Flags(b)) => b,
        _ => return "<NA>".into(),
    };
    let words: Vec<&str> = [(1, "read"), (2, "write"), (4, "exec")]
        .into_iter()
        .filter(|(bit, _)| bits & bit != 0)
        .map(|(_, w)| w)
        .collect();
    if words.is_empty() { "(none)".into() } else { format!("({})", words.join(",")) }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::state::tests::{Built, build};
    use crate::state::{Fd, Needs};

    /// A state with process 100 (one thread, root) working in `/root`.
    fn with_process() -> State {
        let mut state = State::default();
        let t = Thread { tid: 100, pid: 100, cwd: b"/root/".to_vec(), ..Thread::default() };
        state.threads.insert(100, Arc::new(t));
        state
    }

    /// Gives `b` (at time `ts`, of thread 100) to the state and the view, as the walk does.
    fn feed(spy: &mut SpyFile, state: &mut State, ts: u64, b: &Built) {
        let ev = b.event_at(100, ts);
        state.before(&ev);
        if let Some(touch) = spy.touch(state, &ev, &ev) {
            let view = state.view_of(&ev, &ev, Needs::NONE);
            spy.add(touch, &EventFields::new(&ev, &view, &state.tables));
        }
        state.after(&ev);
    }

    /// The lines as (act, count, bytes).
    fn acts(spy: &SpyFile) -> Vec<(&str, u64, u64)> {
        spy.rows.iter().map(|r| (r.act.as_str(), r.count, r.bytes)).collect()
    }

    fn openat(fd: i64, dirfd: i64, name: &str, flags: u32) -> Built {
        build(
            "openat",
            true,
            &[
                ("fd", Value::Fd(fd)),
                ("dirfd", Value::Fd(dirfd)),
                ("name", Value::Str(name.as_bytes())),
                ("flags", Value::Flags(flags)),
            ],
        )
    }

    fn io(name: &str, fd: i64, res: i64) -> Built {
        build(name, true, &[("res", Value::Errno(res)), ("fd", Value::Fd(fd))])
    }

    #[test]
    fn opens_show_their_access_and_failures() {
        let (mut spy, mut state) = (SpyFile::new(b"/root/.ssh/authorized_keys"), with_process());
        // Relative to the working directory, written, created, truncated (O_WRONLY|O_CREAT|
        // O_TRUNC); then a read that fails (ENOENT); another file is not this one.
        feed(&mut spy, &mut state, 10, &openat(3, AT_FDCWD, ".ssh/authorized_keys", 2 | 4 | 256));
        feed(&mut spy, &mut state, 20, &openat(-2, AT_FDCWD, "/root/.ssh/authorized_keys", 1));
        feed(&mut spy, &mut state, 30, &openat(4, AT_FDCWD, "/root/.ssh/known_hosts", 1));
        feed(&mut spy, &mut state, 40, &openat(-2, AT_FDCWD, "/root/.ssh/authorized_keys", 1));
        assert_eq!(
            acts(&spy),
            [("openat(write,create,truncate)", 1, 0), ("openat(read) ENOENT", 2, 0)]
        );
        let failed = &spy.rows[1];
        assert_eq!((failed.first, failed.last, failed.pid), (20, 40, 100));
        assert_eq!(failed.user, "root");
    }

    #[test]
    fn reads_and_writes_through_the_fd_add_up_their_bytes() {
        let (mut spy, mut state) = (SpyFile::new(b"/var/log/app.log"), with_process());
        feed(&mut spy, &mut state, 1, &openat(3, AT_FDCWD, "/var/log/app.log", 3));
        feed(&mut spy, &mut state, 2, &openat(4, AT_FDCWD, "/var/log/other.log", 3));
        feed(&mut spy, &mut state, 3, &io("read", 3, 100));
        feed(&mut spy, &mut state, 4, &io("pread", 3, 50));
        feed(&mut spy, &mut state, 5, &io("read", 4, 999));
        feed(&mut spy, &mut state, 6, &io("write", 3, 10));
        feed(&mut spy, &mut state, 7, &io("write", 3, -28));
        let want = [
            ("openat(read,write)", 1, 0),
            ("read", 2, 150),
            ("write", 1, 10),
            ("write ENOSPC", 1, 0),
        ];
        assert_eq!(acts(&spy), want);
        assert_eq!((spy.rows[1].first, spy.rows[1].last), (3, 4));
    }

    #[test]
    fn renames_links_and_symlinks_name_both_sides() {
        let (mut spy, mut state) = (SpyFile::new(b"/etc/shadow"), with_process());
        // A directory fd on /etc, for the *at calls.
        let etc = Fd {
            kind: dredge_format::state::fd_kind::DIRECTORY,
            name: b"/etc".to_vec(),
            ..Fd::default()
        };
        state.fds.entry(100).or_default().insert(5, Arc::new(etc));
        let renamed = build(
            "renameat2",
            true,
            &[
                ("res", Value::Errno(0)),
                ("olddirfd", Value::Fd(5)),
                ("oldpath", Value::Str(b"shadow+")),
                ("newdirfd", Value::Fd(5)),
                ("newpath", Value::Str(b"shadow")),
            ],
        );
        feed(&mut spy, &mut state, 1, &renamed);
        let linked = build(
            "linkat",
            true,
            &[
                ("res", Value::Errno(0)),
                ("olddir", Value::Fd(AT_FDCWD)),
                ("oldpath", Value::Str(b"/etc/./shadow")),
                ("newdir", Value::Fd(AT_FDCWD)),
                ("newpath", Value::Str(b"copy")),
            ],
        );
        feed(&mut spy, &mut state, 2, &linked);
        // A relative target is relative to the link's directory.
        let symlinked = build(
            "symlinkat",
            true,
            &[
                ("res", Value::Errno(0)),
                ("target", Value::Str(b"../etc/shadow")),
                ("linkdirfd", Value::Fd(AT_FDCWD)),
                ("linkpath", Value::Str(b"/tmp/.s")),
            ],
        );
        feed(&mut spy, &mut state, 3, &symlinked);
        let want = [
            ("renameat2 /etc/shadow+ to /etc/shadow", 1, 0),
            ("linkat /etc/shadow as /root/copy", 1, 0),
            ("symlinkat /tmp/.s to /etc/shadow", 1, 0),
        ];
        assert_eq!(acts(&spy), want);
    }

    #[test]
    fn mode_and_owner_changes_deletions_and_execs() {
        let (mut spy, mut state) = (SpyFile::new(b"/tmp/.sh"), with_process());
        let chmod = build(
            "chmod",
            true,
            &[
                ("res", Value::Errno(0)),
                ("filename", Value::Str(b"/tmp/.sh")),
                ("mode", Value::Mode(0o104755)),
            ],
        );
        feed(&mut spy, &mut state, 1, &chmod);
        let chown = build(
            "fchownat",
            true,
            &[
                ("res", Value::Errno(-1)),
                ("dirfd", Value::Fd(AT_FDCWD)),
                ("pathname", Value::Str(b"/tmp/.sh")),
                ("uid", Value::Uint(0)),
                ("gid", Value::Uint(u64::from(u32::MAX))),
            ],
        );
        feed(&mut spy, &mut state, 2, &chown);
        // fchmod through an fd open on the file.
        feed(&mut spy, &mut state, 3, &openat(3, AT_FDCWD, "/tmp/.sh", 1));
        let fchmod = build(
            "fchmod",
            true,
            &[("res", Value::Errno(0)), ("fd", Value::Fd(3)), ("mode", Value::Mode(0o755))],
        );
        feed(&mut spy, &mut state, 4, &fchmod);
        let unlink = build(
            "unlinkat",
            true,
            &[
                ("res", Value::Errno(0)),
                ("dirfd", Value::Fd(AT_FDCWD)),
                ("name", Value::Str(b"/tmp/.sh")),
            ],
        );
        feed(&mut spy, &mut state, 5, &unlink);
        let want = [
            ("chmod 4755", 1, 0),
            ("fchownat 0:-1 EPERM", 1, 0),
            ("openat(read)", 1, 0),
            ("fchmod 755", 1, 0),
            ("unlinkat", 1, 0),
        ];
        assert_eq!(acts(&spy), want);
    }

    #[test]
    fn an_execve_or_an_exit_ends_a_run() {
        let (mut spy, mut state) = (SpyFile::new(b"/bin/busybox"), with_process());
        feed(&mut spy, &mut state, 1, &openat(3, AT_FDCWD, "/bin/busybox", 1));
        // The process runs the file: the exec is the new program's, and so is what follows.
        let exec = build(
            "execve",
            true,
            &[
                ("res", Value::Errno(0)),
                ("exe", Value::Str(b"/bin/busybox")),
                ("comm", Value::Str(b"busybox")),
                ("filename", Value::Str(b"/bin/busybox")),
            ],
        );
        feed(&mut spy, &mut state, 2, &exec);
        feed(&mut spy, &mut state, 3, &openat(4, AT_FDCWD, "/bin/busybox", 1));
        let exit = build("procexit", false, &[("status", Value::Errno(0))]);
        feed(&mut spy, &mut state, 4, &exit);
        // The pid comes back as another process.
        state.threads.insert(100, Arc::new(Thread { tid: 100, pid: 100, ..Thread::default() }));
        feed(&mut spy, &mut state, 5, &openat(3, AT_FDCWD, "/bin/busybox", 1));
        let lines: Vec<(&str, &str, u64)> =
            spy.rows.iter().map(|r| (r.name.as_str(), r.act.as_str(), r.count)).collect();
        let want = [
            ("", "openat(read)", 1),
            ("busybox", "execve", 1),
            ("busybox", "openat(read)", 1),
            ("", "openat(read)", 1),
        ];
        assert_eq!(lines, want);
    }

    #[test]
    fn a_relative_path_needs_a_known_directory() {
        let mut spy = SpyFile::new(b"/root/../etc//passwd");
        assert_eq!(spy.path(), b"/etc/passwd");
        let mut state = with_process();
        Arc::make_mut(state.threads.get_mut(&100).unwrap()).cwd = Vec::new();
        feed(&mut spy, &mut state, 1, &openat(3, AT_FDCWD, "passwd", 1));
        // An unknown directory fd is no directory either.
        feed(&mut spy, &mut state, 2, &openat(3, 9, "passwd", 1));
        assert!(spy.rows.is_empty());
        feed(&mut spy, &mut state, 3, &openat(3, AT_FDCWD, "/etc/../etc/passwd", 1));
        feed(&mut spy, &mut state, 4, &io("read", 3, 7));
        assert_eq!(acts(&spy), [("openat(read)", 1, 0), ("read", 1, 7)]);
    }

    #[test]
    fn maps_show_their_protection() {
        let (mut spy, mut state) = (SpyFile::new(b"/lib/libc.so.6"), with_process());
        feed(&mut spy, &mut state, 1, &openat(3, AT_FDCWD, "/lib/libc.so.6", 1));
        let mmap = build(
            "mmap",
            true,
            &[
                ("res", Value::Errno(0x7f00_0000_0000)),
                ("prot", Value::Flags(1 | 4)),
                ("fd", Value::Fd(3)),
            ],
        );
        feed(&mut spy, &mut state, 2, &mmap);
        assert_eq!(acts(&spy), [("openat(read)", 1, 0), ("mmap(read,exec)", 1, 0)]);
    }
}
