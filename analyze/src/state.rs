//! The system as the capture shows it, event after event: threads, their fds, containers,
//! users.
//!
//! State starts from the capture's state blocks and then follows the events, as libsinsp
//! does: clone and fork children appear, execve replaces a process image, opens, sockets and
//! dups add fds, close removes them, procexit removes threads. Changes that create or change
//! something apply before the event is evaluated (an open's rule sees the new fd); removals
//! apply after (a close's rule still sees the fd it closes).

use std::collections::HashMap;

use dredge_format::container;
use dredge_format::event::Event;
use dredge_format::param::{SockTuple, Value};
use dredge_format::state::{self as recorded, fd_kind};
use dredge_format::{State as Recorded, split_nul};
use rustc_hash::FxHashMap;

/// One thread.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Thread {
    pub tid: i64,
    pub pid: i64,
    pub ptid: i64,
    pub vtid: i64,
    pub vpid: i64,
    pub sid: i64,
    pub comm: Vec<u8>,
    pub exe: Vec<u8>,
    pub exepath: Vec<u8>,
    pub args: Vec<Vec<u8>>,
    pub cwd: Vec<u8>,
    pub env: Vec<Vec<u8>>,
    pub uid: u32,
    pub gid: u32,
    pub loginuid: u32,
    pub tty: u32,
    pub container_id: String,
    pub cgroups: Vec<u8>,
    pub cap_effective: u64,
    pub exe_writable: bool,
    pub exe_upper_layer: bool,
    pub exe_from_memfd: bool,
}

/// One open fd.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fd {
    /// See [`fd_kind`].
    pub kind: u8,
    pub name: Vec<u8>,
    pub open_flags: u32,
    pub l4proto: u8,
    pub sip: Vec<u8>,
    pub sport: u16,
    pub dip: Vec<u8>,
    pub dport: u16,
}

/// Everything replay knows about the system.
#[derive(Debug, Default, Clone)]
pub struct State {
    pub threads: FxHashMap<i64, Thread>,
    /// Per process (fds are shared by a process's threads).
    pub fds: FxHashMap<i64, FxHashMap<i64, Fd>>,
    pub containers: HashMap<String, recorded::Container>,
    /// By (container id, uid); the host is "".
    pub users: HashMap<(String, u32), recorded::User>,
    pub groups: HashMap<(String, u32), String>,
    pub hostname: String,
}

/// Event classes, per code, computed once from the event table.
const SYSCALL: u8 = 1;
/// Creates an fd or modifies state: worth looking at in `before`.
const CHANGES: u8 = 2;

fn kind_of(code: u16) -> u8 {
    use dredge_format::table::{flag, table};
    static KINDS: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(|| {
        table()
            .iter()
            .map(|e| {
                let mut k = 0;
                if e.category.contains("syscall") {
                    k |= SYSCALL;
                }
                if e.has_flag(flag::MODIFIES_STATE) || e.has_flag(flag::CREATES_FD) {
                    k |= CHANGES;
                }
                k
            })
            .collect()
    });
    KINDS.get(usize::from(code)).copied().unwrap_or(0)
}

/// The process-image fields that clone and execve exits both carry.
fn take_image(t: &mut Thread, bytes: &dyn Fn(&str) -> Option<Vec<u8>>) {
    if let Some(v) = bytes("exe") {
        t.exe = v;
    }
    if let Some(v) = bytes("args") {
        t.args = nul_list(&v);
    }
    if let Some(v) = bytes("comm") {
        t.comm = v;
    }
    if let Some(v) = bytes("cwd") {
        t.cwd = v;
    }
    if let Some(v) = bytes("cgroups") {
        t.container_id = container::id_from_cgroups(&v).unwrap_or_default();
        t.cgroups = v;
    }
}

fn nul_list(bytes: &[u8]) -> Vec<Vec<u8>> {
    split_nul(bytes).map(<[u8]>::to_vec).collect()
}

fn strip_nul(b: &[u8]) -> &[u8] {
    b.strip_suffix(&[0]).unwrap_or(b)
}

impl State {
    /// Applies a state block of the capture.
    pub fn apply_recorded(&mut self, state: &Recorded) {
        match state {
            Recorded::Machine(m) => {
                if let Some(m) = m.first() {
                    self.hostname = m.hostname.clone();
                }
            }
            Recorded::Threads(ts) => {
                for t in ts {
                    let container_id = if t.container_id.is_empty() {
                        container::id_from_cgroups(&t.cgroups).unwrap_or_default()
                    } else {
                        t.container_id.clone()
                    };
                    let th = Thread {
                        tid: t.tid,
                        pid: t.pid,
                        ptid: t.ptid,
                        vtid: t.vtid,
                        vpid: t.vpid,
                        sid: t.sid,
                        comm: t.comm.clone(),
                        exe: t.exe.clone(),
                        exepath: t.exepath.clone(),
                        args: nul_list(&t.args),
                        cwd: t.cwd.clone(),
                        env: nul_list(&t.env),
                        uid: t.uid,
                        gid: t.gid,
                        loginuid: t.loginuid,
                        tty: t.tty,
                        container_id,
                        cgroups: t.cgroups.clone(),
                        cap_effective: t.cap_effective,
                        exe_writable: t.exe_writable,
                        exe_upper_layer: t.exe_upper_layer,
                        exe_from_memfd: t.exe_from_memfd,
                    };
                    self.threads.insert(t.tid, th);
                }
            }
            Recorded::Fds(tables) => {
                for table in tables {
                    let pid = self.threads.get(&table.tid).map_or(table.tid, |t| t.pid);
                    let fds = self.fds.entry(pid).or_default();
                    for f in &table.fds {
                        let fd = Fd {
                            kind: f.kind,
                            name: f.name.clone(),
                            open_flags: f.open_flags,
                            l4proto: f.l4proto,
                            sip: f.sip.clone(),
                            sport: f.sport,
                            dip: f.dip.clone(),
                            dport: f.dport,
                        };
                        fds.insert(f.fd, fd);
                    }
                }
            }
            Recorded::Containers(cs) => {
                for c in cs {
                    self.containers.insert(c.id.clone(), c.clone());
                }
            }
            Recorded::Users(us) => {
                for u in us {
                    if u.is_group {
                        self.groups.insert((u.container_id.clone(), u.gid), u.name.clone());
                    } else {
                        self.users.insert((u.container_id.clone(), u.uid), u.clone());
                    }
                }
            }
            Recorded::Interfaces(_) | Recorded::Drops(_) => {}
        }
    }

    pub fn thread(&self, tid: i64) -> Option<&Thread> {
        self.threads.get(&tid)
    }

    /// The parent process of `t`, if known.
    pub fn parent(&self, t: &Thread) -> Option<&Thread> {
        let main = self.threads.get(&t.pid).unwrap_or(t);
        self.threads.get(&main.ptid).filter(|p| p.tid != main.tid)
    }

    pub fn fd(&self, t: &Thread, fd: i64) -> Option<&Fd> {
        self.fds.get(&t.pid)?.get(&fd)
    }

    /// Changes an event makes before rules see it.
    pub fn before(&mut self, ev: &Event<'_>) {
        let tid = ev.tid();
        let kind = kind_of(ev.code());
        // A thread the capture never described still exists: like libsinsp, keep a
        // placeholder whose name is `<NA>`. Only syscalls make one: meta events, context
        // switches and the like do not.
        if tid > 0 && kind & SYSCALL != 0 && !self.threads.contains_key(&tid) {
            let comm = b"<NA>".to_vec();
            self.threads.insert(
                tid,
                Thread { tid, pid: tid, comm, loginuid: u32::MAX, ..Thread::default() },
            );
        }
        // Most events (reads, writes, waits) change nothing replay tracks.
        if kind & CHANGES == 0 {
            return;
        }
        let name = ev.name();
        let int = |n: &str| match ev.param_named(n) {
            Some(Ok(Value::Errno(v) | Value::Fd(v) | Value::Pid(v) | Value::Int(v))) => Some(v),
            _ => None,
        };
        let bytes = |n: &str| match ev.param_named(n) {
            Some(Ok(Value::Str(s) | Value::Bytes(s))) => Some(s.to_vec()),
            _ => None,
        };
        match name {
            "clone" | "fork" | "vfork" | "clone3" if ev.direction().symbol() == '<' => {
                let res = int("res").unwrap_or(-1);
                if res == 0 {
                    self.new_thread(ev, tid, &int, &bytes);
                } else if res > 0 && !self.threads.contains_key(&res) {
                    self.new_thread(ev, res, &int, &bytes);
                }
            }
            "execve" | "execveat" if ev.direction().symbol() == '<' && int("res") == Some(0) => {
                let t = self.threads.entry(tid).or_insert_with(|| Thread {
                    tid,
                    pid: tid,
                    ..Thread::default()
                });
                take_image(t, &bytes);
                if bytes("comm").is_none()
                    && let Some(exe) = bytes("exe")
                {
                    // Old captures carry no comm: the name is the executable's base name.
                    t.comm = exe.rsplit(|&b| b == b'/').next().unwrap_or(&exe).to_vec();
                }
                if let Some(v) = bytes("env") {
                    t.env = nul_list(&v);
                }
                if let Some(v) = bytes("trusted_exepath").filter(|v| !v.is_empty()) {
                    t.exepath = v;
                }
                if let Some(p) = int("pid") {
                    t.pid = p;
                }
                if let Some(p) = int("ptid") {
                    t.ptid = p;
                }
            }
            _ => {}
        }
        // New fds.
        let Some(info) = ev.info() else { return };
        if !info.has_flag(dredge_format::table::flag::CREATES_FD) || ev.direction().symbol() != '<'
        {
            return;
        }
        let fd = int("fd").or_else(|| int("res")).unwrap_or(-1);
        let pid = self.threads.get(&tid).map_or(tid, |t| t.pid);
        match name {
            "open" | "openat" | "openat2" | "creat" | "open_by_handle_at" if fd >= 0 => {
                let path = self.resolve(ev, tid);
                let flags = match ev.param_named("flags") {
                    Some(Ok(Value::Flags(f))) => f,
                    _ => 0,
                };
                let f = Fd { kind: fd_kind::FILE, name: path, open_flags: flags, ..Fd::default() };
                self.fds.entry(pid).or_default().insert(fd, f);
            }
            "socket" if fd >= 0 => {
                self.fds
                    .entry(pid)
                    .or_default()
                    .insert(fd, Fd { kind: fd_kind::IPV4_SOCK, ..Fd::default() });
            }
            "accept" | "accept4" if fd >= 0 => {
                let mut f = Fd { kind: fd_kind::IPV4_SOCK, ..Fd::default() };
                if let Some(Ok(Value::SockTuple(t))) = ev.param_named("tuple") {
                    fill_tuple(&mut f, &t);
                }
                self.fds.entry(pid).or_default().insert(fd, f);
            }
            "pipe" | "pipe2" => {
                for n in ["fd1", "fd2"] {
                    if let Some(v) = int(n).filter(|v| *v >= 0) {
                        self.fds
                            .entry(pid)
                            .or_default()
                            .insert(v, Fd { kind: fd_kind::FIFO, ..Fd::default() });
                    }
                }
            }
            _ if fd >= 0 => {
                let kind = if name.starts_with("dup") { None } else { Some(fd_kind::UNSUPPORTED) };
                let copy = match (name.starts_with("dup"), int("oldfd").or_else(|| int("fd"))) {
                    (true, Some(old)) => self.fds.get(&pid).and_then(|m| m.get(&old)).cloned(),
                    _ => None,
                };
                let f = copy
                    .unwrap_or(Fd { kind: kind.unwrap_or(fd_kind::UNSUPPORTED), ..Fd::default() });
                self.fds.entry(pid).or_default().insert(fd, f);
            }
            _ => {}
        }
        if name == "connect" {
            if let (Some(fdnum), Some(Ok(Value::SockTuple(t)))) =
                (int("fd"), ev.param_named("tuple"))
            {
                let f = self.fds.entry(pid).or_default().entry(fdnum).or_default();
                fill_tuple(f, &t);
            }
        }
    }

    /// Changes an event makes after rules have seen it.
    pub fn after(&mut self, ev: &Event<'_>) {
        let tid = ev.tid();
        let exit = ev.direction().symbol() == '<';
        match ev.name() {
            "close" if exit => {
                let ok = matches!(ev.param_named("res"), Some(Ok(Value::Errno(0))));
                if let (true, Some(Ok(Value::Fd(fd)))) = (ok, ev.param_named("fd")) {
                    let pid = self.threads.get(&tid).map_or(tid, |t| t.pid);
                    if let Some(m) = self.fds.get_mut(&pid) {
                        m.remove(&fd);
                    }
                }
            }
            "procexit" => {
                if let Some(t) = self.threads.remove(&tid)
                    && t.tid == t.pid
                {
                    self.fds.remove(&t.pid);
                }
            }
            _ => {}
        }
        // `connect` on a known socket updates its addresses (done in before for rules).
    }

    fn new_thread(
        &mut self,
        ev: &Event<'_>,
        tid: i64,
        int: &dyn Fn(&str) -> Option<i64>,
        bytes: &dyn Fn(&str) -> Option<Vec<u8>>,
    ) {
        let parent = self.threads.get(&ev.tid()).cloned().unwrap_or_default();
        let mut t = Thread { tid, ..parent };
        t.pid = int("pid").unwrap_or(tid);
        t.ptid = int("ptid").unwrap_or(ev.tid());
        take_image(&mut t, bytes);
        if let Some(v) = int("vtid") {
            t.vtid = v;
        }
        if let Some(v) = int("vpid") {
            t.vpid = v;
        }
        if let Some(Ok(Value::Uint(u))) = ev.param_named("uid") {
            t.uid = u as u32;
        }
        // A new process gets a copy of its parent's fds.
        if t.pid == tid && t.pid != ev.tid() {
            if let Some(parent_fds) =
                self.fds.get(&self.threads.get(&ev.tid()).map_or(ev.tid(), |p| p.pid)).cloned()
            {
                self.fds.insert(t.pid, parent_fds);
            }
        }
        self.threads.insert(tid, t);
    }

    /// The path an open-family event names, made absolute against its dirfd or the cwd.
    pub fn resolve(&self, ev: &Event<'_>, tid: i64) -> Vec<u8> {
        let raw = match ev.param_named("name") {
            Some(Ok(Value::Str(s))) => s.to_vec(),
            _ => return Vec::new(),
        };
        if raw.starts_with(b"/") {
            return raw;
        }
        let Some(t) = self.threads.get(&tid) else { return raw };
        let base = match ev.param_named("dirfd") {
            Some(Ok(Value::Fd(d))) if d != -100 => self.fd(t, d).map(|f| f.name.clone()),
            _ => None,
        }
        .unwrap_or_else(|| t.cwd.clone());
        join_path(&base, &raw)
    }
}

fn fill_tuple(f: &mut Fd, t: &SockTuple<'_>) {
    match t {
        SockTuple::V4 { sip, sport, dip, dport } => {
            (f.kind, f.sip, f.sport, f.dip, f.dport) =
                (fd_kind::IPV4_SOCK, sip.octets().to_vec(), *sport, dip.octets().to_vec(), *dport);
        }
        SockTuple::V6 { sip, sport, dip, dport } => {
            (f.kind, f.sip, f.sport, f.dip, f.dport) =
                (fd_kind::IPV6_SOCK, sip.octets().to_vec(), *sport, dip.octets().to_vec(), *dport);
        }
        SockTuple::Unix { path, .. } => {
            f.kind = fd_kind::UNIX_SOCK;
            f.name = strip_nul(path).to_vec();
        }
        SockTuple::Other { .. } => {}
    }
}

/// `base` + `rel`, with `.` and `..` components resolved, as sysdig shows fd names.
pub fn join_path(base: &[u8], rel: &[u8]) -> Vec<u8> {
    let mut parts: Vec<&[u8]> = Vec::new();
    for c in base.split(|&b| b == b'/').chain(rel.split(|&b| b == b'/')) {
        match c {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    let mut out = Vec::new();
    for p in parts {
        out.push(b'/');
        out.extend_from_slice(p);
    }
    if out.is_empty() {
        out.push(b'/');
    }
    out
}
