//! The system as the capture shows it, event after event: threads, their fds, containers,
//! users.
//!
//! State starts from the capture's state blocks and then follows the events, as libsinsp
//! does: clone and fork children appear, execve replaces a process image, opens, sockets and
//! dups add fds, close removes them, procexit removes threads. Changes that create or change
//! something apply before the event is evaluated (an open's rule sees the new fd); removals
//! apply after (a close's rule still sees the fd it closes).
//!
//! Threads and fds are kept as shared versions that never change once made (`Arc`; a change
//! makes a new version). A [`View`] gathers the versions one event's fields need, so an event
//! can be evaluated on another thread while the state moves on. Long blobs that many threads
//! share (environments, cgroup lists) are interned.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use dredge_format::container;
use dredge_format::event::Event;
use dredge_format::param::{ParamType, SockAddr, SockTuple, Value};
use dredge_format::state::{self as recorded, fd_kind};
use dredge_format::table::{flag, table};
use dredge_format::{State as Recorded, split_nul};
use rustc_hash::{FxHashMap, FxHashSet};

use crate::spans::OpenSpan;

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
    /// NUL-separated, interned.
    pub env: Arc<[u8]>,
    pub uid: u32,
    pub gid: u32,
    pub loginuid: u32,
    pub tty: u32,
    pub container_id: String,
    /// `controller=path` entries, NUL-separated, interned.
    pub cgroups: Arc<[u8]>,
    pub cap_effective: u64,
    pub exe_writable: bool,
    pub exe_upper_layer: bool,
    pub exe_from_memfd: bool,
    /// The program this thread runs was written during the capture, before its execve, in
    /// the same container (see [`State::written`]): drift, seen from the whole capture.
    pub exe_written: bool,
}

/// One open fd.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
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
    /// A socket's side, once a connect or accept has shown it: its ports are then known even
    /// when 0.
    pub role: Role,
}

/// One thread's fds from a state block: (number, fd).
pub type FdTable = Vec<(i64, Arc<Fd>)>;

/// A state block of the capture turned into replay's own shared versions, ready to be put
/// in the tables. Making them (parsing cgroups, splitting arguments, sharing equal blobs and
/// fds) is most of the work of a state block, and needs no state: replay does it on the
/// thread that decoded the block, so that only the inserting is left to the tracker.
#[derive(Debug)]
pub enum Prepared {
    Threads(Vec<Arc<Thread>>),
    /// The fds of each thread, by thread id.
    Fds(Vec<(i64, FdTable)>),
    /// Anything else, applied as recorded.
    Other(Recorded),
}

impl Prepared {
    /// Prepares `state`. Blobs and fds are shared within the block.
    pub fn from(state: &Recorded) -> Prepared {
        match state {
            Recorded::Threads(ts) => {
                let mut blobs = FxHashSet::default();
                Prepared::Threads(
                    ts.iter().map(|t| Arc::new(recorded_thread(t, &mut blobs))).collect(),
                )
            }
            Recorded::Fds(tables) => {
                let mut shared = FxHashSet::default();
                let tables = tables
                    .iter()
                    .map(|table| {
                        let fds = table
                            .fds
                            .iter()
                            .map(|f| {
                                let fd = Fd {
                                    kind: f.kind,
                                    name: f.name.clone(),
                                    open_flags: f.open_flags,
                                    l4proto: f.l4proto,
                                    sip: f.sip.clone(),
                                    sport: f.sport,
                                    dip: f.dip.clone(),
                                    dport: f.dport,
                                    role: Role::Unknown,
                                };
                                (f.fd, intern_with(&mut shared, &fd, || Arc::new(fd.clone())))
                            })
                            .collect();
                        (table.tid, fds)
                    })
                    .collect();
                Prepared::Fds(tables)
            }
            other => Prepared::Other(other.clone()),
        }
    }
}

/// A thread of a state block as replay keeps it.
fn recorded_thread(t: &dredge_format::state::Thread, blobs: &mut FxHashSet<Arc<[u8]>>) -> Thread {
    let container_id = if t.container_id.is_empty() {
        container::id_from_cgroups(&t.cgroups).unwrap_or_default()
    } else {
        t.container_id.clone()
    };
    Thread {
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
        cwd: with_slash(&t.cwd),
        env: intern(blobs, &t.env),
        uid: t.uid,
        gid: t.gid,
        loginuid: t.loginuid,
        tty: t.tty,
        container_id,
        cgroups: intern(blobs, &t.cgroups),
        cap_effective: t.cap_effective,
        exe_writable: t.exe_writable,
        exe_upper_layer: t.exe_upper_layer,
        exe_from_memfd: t.exe_from_memfd,
        exe_written: false,
    }
}

/// Which side of a connection a socket is, as far as replay has seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Role {
    #[default]
    Unknown,
    Client,
    Server,
}

/// What changes seldom: containers, users, groups, the host name. Shared by every view;
/// replaced (copied on write) when a state block changes it.
#[derive(Debug, Default, Clone)]
pub struct Tables {
    pub containers: HashMap<String, recorded::Container>,
    /// By (container id, uid); the host is "".
    pub users: HashMap<(String, u32), recorded::User>,
    pub groups: HashMap<(String, u32), String>,
    pub hostname: String,
}

/// A thread's ancestors: its process's parent, grandparent, ... (at most 64).
pub type Lineage = Arc<[Arc<Thread>]>;

/// Everything replay knows about the system.
#[derive(Debug, Default, Clone)]
pub struct State {
    pub threads: FxHashMap<i64, Arc<Thread>>,
    /// Per process (fds are shared by a process's threads).
    pub fds: FxHashMap<i64, FxHashMap<i64, Arc<Fd>>>,
    pub tables: Arc<Tables>,
    /// Bumped on every change to the thread table (what lineages depend on).
    generation: u64,
    /// Lineages by tid, with the generation they were made in.
    lineages: FxHashMap<i64, (u64, Lineage)>,
    blobs: FxHashSet<Arc<[u8]>>,
    /// The capture's IPv4 interfaces (address, netmask): a socket's unknown local address is
    /// taken from them, as libsinsp does.
    interfaces: Vec<([u8; 4], [u8; 4])>,
    /// The spans open now, in the order they were opened (kept by
    /// [`SpanState`](crate::spans::SpanState)).
    pub open_spans: Arc<[OpenSpan]>,
    /// The files processes wrote in the capture (opened for writing, renamed or linked into
    /// place), each as its container id, a NUL, and its absolute path: an execve of one of
    /// them is drift (`proc.is_exe_written`). A live engine can only ask the overlay's upper
    /// layer; replay has seen the write.
    written: FxHashSet<Vec<u8>>,
}

/// What the fields of one event need from the state, as of that event: shared versions that
/// stay valid while the state moves on. The [`Tables`] go beside it (they change seldom, so
/// one reference serves many views).
#[derive(Debug, Clone, Default)]
pub struct View {
    pub thread: Option<Arc<Thread>>,
    /// The thread's process (its main thread), when known and not the thread itself.
    pub process: Option<Arc<Thread>>,
    pub lineage: Lineage,
    /// The event's fd number (see [`State::fd_num`]) and what it refers to.
    pub fd_num: Option<i64>,
    pub fd: Option<Arc<Fd>>,
    /// For an open-family event: the path it names, made absolute.
    pub path: Option<Arc<[u8]>>,
    /// The threads and fds the event's other pid and fd parameters name (`evt.args` shows
    /// them by name); looked up only when [`Needs::args`] says so.
    pub named: Option<Box<Named>>,
    /// For a tracer event: its span (see [`crate::spans::track`]).
    pub span: Option<Arc<crate::spans::SpanInfo>>,
    /// The spans open around the event (`evtin.span.*`), when [`Needs::spans`] says so.
    pub inside: Option<Arc<[OpenSpan]>>,
    /// The process's fds 0, 1 and 2 (`proc.stdin.*`, ...), when [`Needs::stdio`] says so.
    pub stdio: [Option<Arc<Fd>>; 3],
}

/// See [`View::named`].
#[derive(Debug, Clone, Default)]
pub struct Named {
    pub threads: Vec<Arc<Thread>>,
    pub fds: Vec<(i64, Arc<Fd>)>,
}

/// What of a [`View`] the fields in use read: the rest need not be looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    /// Parent and ancestors (`proc.p*`, `proc.a*`).
    pub lineage: bool,
    /// The event's fd and path (`fd.*`).
    pub fd: bool,
    /// The threads and fds its parameters name (`evt.args`).
    pub args: bool,
    /// The spans open around it (`evtin.span.*`).
    pub spans: bool,
    /// The process's standard fds (`proc.stdin.*`, `proc.stdout.*`, `proc.stderr.*`).
    pub stdio: bool,
}

impl Needs {
    /// What rules read (`evt.args` in an output shows the numbers alone).
    pub const ALL: Needs = Needs { lineage: true, fd: true, args: false, spans: true, stdio: true };
    pub const NONE: Needs =
        Needs { lineage: false, fd: false, args: false, spans: false, stdio: false };
    pub const ARGS: Needs =
        Needs { lineage: true, fd: true, args: true, spans: false, stdio: false };

    pub fn union(self, other: Needs) -> Needs {
        Needs {
            lineage: self.lineage || other.lineage,
            fd: self.fd || other.fd,
            args: self.args || other.args,
            spans: self.spans || other.spans,
            stdio: self.stdio || other.stdio,
        }
    }
}

/// What the state does with an event code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    None,
    Clone,
    Execve,
    Open,
    Socket,
    Accept,
    Pipe,
    SocketPair,
    /// A send or receive that carries the tuple it used (`incoming` for a receive).
    Datagram {
        incoming: bool,
    },
    /// setuid, setresuid, setgid, setresgid: the thread's effective id (a gid for `group`)
    /// becomes parameter `param`.
    SetId {
        group: bool,
        param: &'static str,
    },
    Dup,
    /// Another call that makes an fd (eventfd, signalfd, ...).
    OtherFd,
    Connect,
    /// bind: the socket becomes a server socket with the bound address.
    Bind,
    Close,
    ProcExit,
    /// fcntl, which duplicates an fd with F_DUPFD and F_DUPFD_CLOEXEC.
    Fcntl,
    Chdir,
    Fchdir,
    /// rename, renameat, renameat2, link, linkat: a file put in place at `newpath`.
    Place,
}

/// Per event code, computed once from the event table: what state does with it, and where
/// the parameters it reads are.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Code {
    pub op: Op,
    pub exit: bool,
    pub syscall: bool,
    /// Creates an fd or modifies state: worth looking at in `before`.
    pub changes: bool,
    pub creates_fd: bool,
    /// Uses, makes or closes an fd: the event has an fd (`fd.*`).
    pub has_fd: bool,
    /// An open, openat, openat2 or creat exit: `fd.name` falls back to the path it names.
    pub open_family: bool,
    pub res: Option<u8>,
    pub fd: Option<u8>,
    pub name: Option<u8>,
    pub flags: Option<u8>,
    pub dirfd: Option<u8>,
    pub tuple: Option<u8>,
    /// For the exit of a call that writes to an fd: its `data` (a tracer record, maybe).
    pub written: Option<u8>,
    /// Has pid or fd-list parameters, or an fd parameter other than the one the event's own
    /// fd comes from (mmap's, mkdirat's dirfd): parameters that may name threads and fds
    /// other than the event's (see [`View::named`]).
    pub names_others: bool,
}

pub(crate) fn code(c: u16) -> &'static Code {
    static CODES: LazyLock<Vec<Code>> = LazyLock::new(|| {
        table()
            .iter()
            .map(|e| {
                let exit = e.direction.symbol() == '<';
                let slot = |n: &str| e.param_index(n).and_then(|i| u8::try_from(i).ok());
                let creates_fd = e.has_flag(flag::CREATES_FD);
                let has_fd =
                    e.has_flag(flag::USES_FD) || creates_fd || e.has_flag(flag::DESTROYS_FD);
                let op = match e.name {
                    "clone" | "fork" | "vfork" | "clone3" if exit => Op::Clone,
                    "execve" | "execveat" if exit => Op::Execve,
                    "open" | "openat" | "openat2" | "creat" | "open_by_handle_at"
                        if exit && creates_fd =>
                    {
                        Op::Open
                    }
                    "socket" if exit && creates_fd => Op::Socket,
                    "accept" | "accept4" if exit && creates_fd => Op::Accept,
                    "pipe" | "pipe2" if exit && creates_fd => Op::Pipe,
                    "socketpair" if exit && creates_fd => Op::SocketPair,
                    n if n.starts_with("dup") && exit && creates_fd => Op::Dup,
                    "connect" if exit => Op::Connect,
                    "bind" if exit => Op::Bind,
                    _ if exit && creates_fd => Op::OtherFd,
                    "close" if exit => Op::Close,
                    "procexit" => Op::ProcExit,
                    "fcntl" if exit => Op::Fcntl,
                    "chdir" if exit => Op::Chdir,
                    "rename" | "renameat" | "renameat2" | "link" | "linkat" if exit => Op::Place,
                    "fchdir" if exit => Op::Fchdir,
                    "send" | "sendto" | "sendmsg" | "sendmmsg" if exit => {
                        Op::Datagram { incoming: false }
                    }
                    "recv" | "recvfrom" | "recvmsg" | "recvmmsg" if exit => {
                        Op::Datagram { incoming: true }
                    }
                    "setuid" if exit => Op::SetId { group: false, param: "uid" },
                    "setresuid" if exit => Op::SetId { group: false, param: "euid" },
                    "setgid" if exit => Op::SetId { group: true, param: "gid" },
                    "setresgid" if exit => Op::SetId { group: true, param: "egid" },
                    _ => Op::None,
                };
                Code {
                    op,
                    exit,
                    syscall: e.category.contains("syscall"),
                    changes: e.has_flag(flag::MODIFIES_STATE)
                        || creates_fd
                        || matches!(op, Op::Datagram { .. } | Op::Bind | Op::Place),
                    creates_fd,
                    has_fd,
                    open_family: exit && matches!(e.name, "open" | "openat" | "openat2" | "creat"),
                    res: slot("res"),
                    fd: slot("fd"),
                    name: slot("name"),
                    flags: slot("flags"),
                    dirfd: slot("dirfd"),
                    tuple: slot("tuple"),
                    written: slot("data").filter(|_| exit && e.has_flag(flag::WRITES_TO_FD)),
                    names_others: {
                        // The parameter `State::fd_num` takes the event's fd from.
                        let own = if has_fd { slot("fd").or(slot("res")) } else { None };
                        e.params.iter().enumerate().any(|(i, p)| match p.kind {
                            ParamType::Pid | ParamType::FdList => true,
                            ParamType::Fd => u8::try_from(i).ok() != own,
                            _ => false,
                        })
                    },
                }
            })
            .collect()
    });
    static UNKNOWN: Code = Code {
        op: Op::None,
        exit: false,
        syscall: false,
        changes: false,
        creates_fd: false,
        has_fd: false,
        open_family: false,
        res: None,
        fd: None,
        name: None,
        flags: None,
        dirfd: None,
        tuple: None,
        written: None,
        names_others: false,
    };
    CODES.get(usize::from(c)).unwrap_or(&UNKNOWN)
}

/// `PPM_CL_CLONE_THREAD`: the new task is a thread of the caller's process.
const CLONE_THREAD: u32 = 8192;
/// `PPM_CL_CHILD_IN_PIDNS`: the child of a clone lives in a pid namespace below the host's.
const CHILD_IN_PIDNS: u32 = 536_870_912;

/// The empty lineage, shared (a view without ancestors allocates nothing).
/// The transport of a new socket, from its type and protocol, as libsinsp guesses it.
fn socket_l4proto(ev: &Event<'_>) -> u8 {
    let num = |n: &str| match ev.param_named(n) {
        Some(Ok(Value::Uint(v))) => v,
        Some(Ok(Value::Int(v))) => v as u64,
        _ => u64::MAX,
    };
    // SOCK_STREAM 1, SOCK_DGRAM 2, SOCK_RAW 3; the type may carry flags above its low byte.
    let (kind, raw) = (num("type"), num("type") == 3);
    match num("proto") {
        6 if raw => l4::RAW,
        6 => l4::TCP,
        17 if raw => l4::RAW,
        17 => l4::UDP,
        0 if kind & 0xff == 1 => l4::TCP,
        0 if kind & 0xff == 2 => l4::UDP,
        1 if raw => l4::RAW,
        1 => l4::ICMP,
        255 => l4::RAW,
        _ => l4::UNKNOWN,
    }
}

/// An address not known: absent or all zeros.
fn unset(addr: &[u8]) -> bool {
    addr.iter().all(|&b| b == 0)
}

/// Transport protocols as scap numbers them (`fd.l4proto`).
pub mod l4 {
    pub const UNKNOWN: u8 = 0;
    pub const TCP: u8 = 2;
    pub const UDP: u8 = 3;
    pub const ICMP: u8 = 4;
    pub const RAW: u8 = 5;
}

/// The same shared version, or both absent.
fn same<T: ?Sized>(a: Option<&Arc<T>>, b: Option<&Arc<T>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        (None, None) => true,
        _ => false,
    }
}

fn no_lineage() -> Lineage {
    static EMPTY: LazyLock<Lineage> = LazyLock::new(|| Arc::from(Vec::new()));
    EMPTY.clone()
}

/// Parameter `slot` of `ev`, decoded.
pub(crate) fn param<'e>(ev: &Event<'e>, slot: Option<u8>) -> Option<Value<'e>> {
    ev.param(usize::from(slot?))?.ok()
}

/// An integer-like parameter.
pub(crate) fn int_param(ev: &Event<'_>, slot: Option<u8>) -> Option<i64> {
    match param(ev, slot)? {
        Value::Errno(v) | Value::Fd(v) | Value::Pid(v) | Value::Int(v) => Some(v),
        _ => None,
    }
}

/// The process-image fields that clone and execve exits both carry.
fn take_image(
    t: &mut Thread,
    blobs: &mut FxHashSet<Arc<[u8]>>,
    ev: &Event<'_>,
    bytes: &dyn Fn(&str) -> Option<Vec<u8>>,
) {
    if let Some(v) = bytes("exe") {
        t.exe = v;
    }
    // Empty arguments are no arguments (a shell run with none), not arguments unknown.
    match ev.param_named("args") {
        Some(Ok(Value::Bytes(v) | Value::Str(v))) => t.args = nul_list(v),
        Some(Ok(Value::Empty)) => t.args.clear(),
        _ => {}
    }
    if let Some(v) = bytes("comm") {
        t.comm = v;
    }
    // The exits carry a cwd too, but libsinsp takes a thread's from its parent, chdir and
    // fchdir only: a thread first seen at its execve has none.
    if let Some(v) = bytes("cgroups") {
        t.container_id = container::id_from_cgroups(&v).unwrap_or_default();
        t.cgroups = intern(blobs, &v);
    }
}

/// The shared copy of `value` in `set`, made (by `make`) the first time it is asked for.
fn intern_with<T: ?Sized + Eq + std::hash::Hash>(
    set: &mut FxHashSet<Arc<T>>,
    value: &T,
    make: impl FnOnce() -> Arc<T>,
) -> Arc<T> {
    if let Some(a) = set.get(value) {
        return a.clone();
    }
    let a = make();
    set.insert(a.clone());
    a
}

fn intern(blobs: &mut FxHashSet<Arc<[u8]>>, b: &[u8]) -> Arc<[u8]> {
    intern_with(blobs, b, || Arc::from(b))
}

fn nul_list(bytes: &[u8]) -> Vec<Vec<u8>> {
    split_nul(bytes).map(<[u8]>::to_vec).collect()
}

/// A directory as libsinsp keeps a cwd: with a trailing `/` (empty stays empty).
fn with_slash(dir: &[u8]) -> Vec<u8> {
    let mut d = dir.to_vec();
    if !d.is_empty() && !d.ends_with(b"/") {
        d.push(b'/');
    }
    d
}

fn strip_nul(b: &[u8]) -> &[u8] {
    b.strip_suffix(&[0]).unwrap_or(b)
}

impl State {
    /// A state knowing only the host's name.
    pub fn with_hostname(hostname: &str) -> State {
        State {
            tables: Arc::new(Tables { hostname: hostname.to_string(), ..Tables::default() }),
            ..State::default()
        }
    }

    /// Applies a state block of the capture.
    pub fn apply_recorded(&mut self, state: &Recorded) {
        self.apply_prepared(Prepared::from(state));
    }

    /// Applies a state block made ready by [`Prepared::from`] (on any thread).
    pub fn apply_prepared(&mut self, prepared: Prepared) {
        match prepared {
            Prepared::Threads(ts) => {
                self.generation += 1;
                self.threads.reserve(ts.len());
                for t in ts {
                    self.threads.insert(t.tid, t);
                }
            }
            Prepared::Fds(tables) => {
                for (tid, table) in tables {
                    let pid = self.threads.get(&tid).map_or(tid, |t| t.pid);
                    self.fds.entry(pid).or_default().extend(table);
                }
            }
            Prepared::Other(state) => self.apply_other(&state),
        }
    }

    fn apply_other(&mut self, state: &Recorded) {
        match state {
            Recorded::Machine(m) => {
                if let Some(m) = m.first() {
                    Arc::make_mut(&mut self.tables).hostname = m.hostname.clone();
                }
            }
            Recorded::Containers(cs) => {
                let tables = Arc::make_mut(&mut self.tables);
                for c in cs {
                    tables.containers.insert(c.id.clone(), c.clone());
                }
            }
            Recorded::Users(us) => {
                let tables = Arc::make_mut(&mut self.tables);
                for u in us {
                    if u.is_group {
                        tables.groups.insert((u.container_id.clone(), u.gid), u.name.clone());
                    } else {
                        tables.users.insert((u.container_id.clone(), u.uid), u.clone());
                    }
                }
            }
            Recorded::Interfaces(ifs) => {
                for i in ifs {
                    if let (Ok(a), Ok(m)) =
                        (<[u8; 4]>::try_from(&i.addr[..]), i.netmask[..].try_into())
                    {
                        self.interfaces.push((a, m));
                    }
                }
            }
            // Threads and fds come prepared.
            Recorded::Threads(_) | Recorded::Fds(_) | Recorded::Drops(_) => {}
        }
    }

    /// The process of thread `tid` (its own id when the thread is unknown): the key of its fds.
    fn pid_of(&self, tid: i64) -> i64 {
        self.threads.get(&tid).map_or(tid, |t| t.pid)
    }

    /// The parent process of `t`, if known.
    fn parent(&self, t: &Thread) -> Option<&Arc<Thread>> {
        let main = self.threads.get(&t.pid).map_or(t, |m| &**m);
        self.threads.get(&main.ptid).filter(|p| p.tid != main.tid)
    }

    pub fn fd(&self, t: &Thread, fd: i64) -> Option<&Arc<Fd>> {
        self.fds.get(&t.pid)?.get(&fd)
    }

    /// The fd an event acts on: its `fd` parameter, else a non-negative `res`. Only events
    /// that use, make or close an fd have one (mmap's fd parameter is not the event's fd, as
    /// libsinsp sees it).
    pub fn fd_num(ev: &Event<'_>) -> Option<i64> {
        let c = code(ev.code());
        if !c.has_fd {
            return None;
        }
        match param(ev, c.fd) {
            Some(Value::Fd(v)) => Some(v),
            _ => match param(ev, c.res) {
                Some(Value::Fd(v)) if v >= 0 => Some(v),
                _ => None,
            },
        }
    }

    /// The ancestors of thread `tid` (see [`Lineage`]), made once per change of the thread
    /// table.
    fn refresh_lineage(&mut self, tid: i64) {
        if let Some((generation, _)) = self.lineages.get(&tid)
            && *generation == self.generation
        {
            return;
        }
        let mut chain: Vec<Arc<Thread>> = Vec::new();
        let mut cur = self.threads.get(&tid);
        while let Some(t) = cur {
            match self.parent(t) {
                Some(p) if chain.len() < 64 => {
                    chain.push(p.clone());
                    cur = Some(p);
                }
                _ => break,
            }
        }
        let l: Lineage = chain.into();
        self.lineages.insert(tid, (self.generation, l));
    }

    /// The fd event `ev` is about (`args`: its parameters, the exit merged with its enter),
    /// as [`view_of`](State::view_of) finds it, without making a view.
    pub fn event_fd(&self, ev: &Event<'_>, args: &Event<'_>) -> Option<&Arc<Fd>> {
        let t = self.threads.get(&ev.tid())?;
        self.fd(t, State::fd_num(args)?)
    }

    /// What the fields of `ev` need (see [`View`]), as the state is now, with only what
    /// `needs` says filled in. `args` is the event whose parameters give the fd and path (the
    /// event itself, or for `print` the exit with its enter's parameters merged in).
    pub fn view_of(&mut self, ev: &Event<'_>, args: &Event<'_>, needs: Needs) -> View {
        self.view_unless_same(ev, args, needs, None).unwrap_or_default()
    }

    /// [`view_of`](State::view_of), or `None` when that view would be `last`: the same shared
    /// versions and fd. Then nothing is cloned. Events in a row mostly come from one thread
    /// and share a view, and every clone is an atomic count that other cores, reading the
    /// same versions, must then fetch back.
    pub fn view_unless_same(
        &mut self,
        ev: &Event<'_>,
        args: &Event<'_>,
        needs: Needs,
        last: Option<&View>,
    ) -> Option<View> {
        let tid = ev.tid();
        if needs.lineage && self.threads.contains_key(&tid) {
            self.refresh_lineage(tid);
        }
        let thread = self.threads.get(&tid);
        let process = match thread {
            Some(t) if t.pid != t.tid => self.threads.get(&t.pid),
            _ => None,
        };
        let lineage = match thread {
            Some(_) if needs.lineage => self.lineages.get(&tid).map(|(_, l)| l),
            _ => None,
        };
        let fd_num = if needs.fd { State::fd_num(args) } else { None };
        let fd = match (thread, fd_num) {
            (Some(t), Some(n)) => self.fd(t, n),
            _ => None,
        };
        let path = needs.fd && fd.is_none() && code(ev.code()).open_family;
        let stdio = match thread {
            Some(t) if needs.stdio => [0, 1, 2].map(|n| self.fd(t, n)),
            _ => [None; 3],
        };
        // Threads and fds an event's parameters name are its own: a view with some is never
        // shared.
        let named = if needs.args { self.named(ev, thread, fd_num) } else { None };
        if let Some(last) = last
            && named.is_none()
            && last.named.is_none()
            && !path
            && last.path.is_none()
            && last.span.is_none()
            && match (&last.inside, needs.spans && !self.open_spans.is_empty()) {
                (Some(l), true) => Arc::ptr_eq(l, &self.open_spans),
                (None, false) => true,
                _ => false,
            }
            && same(last.thread.as_ref(), thread)
            && same(last.process.as_ref(), process)
            && match lineage {
                Some(l) => Arc::ptr_eq(l, &last.lineage) || l.is_empty() && last.lineage.is_empty(),
                None => last.lineage.is_empty(),
            }
            && last.fd_num == fd_num
            && same(last.fd.as_ref(), fd)
            && (0..3).all(|i| same(last.stdio[i].as_ref(), stdio[i]))
        {
            return None;
        }
        Some(View {
            thread: thread.cloned(),
            process: process.cloned(),
            lineage: lineage.cloned().unwrap_or_else(no_lineage),
            fd_num,
            fd: fd.cloned(),
            path: path.then(|| self.resolve(args, tid).into()),
            named,
            span: None,
            // No spans open (the common case) is no list at all: nothing to count references of.
            inside: (needs.spans && !self.open_spans.is_empty()).then(|| self.open_spans.clone()),
            stdio: stdio.map(|f| f.cloned()),
        })
    }

    /// The threads and fds that the pid and fd parameters of `ev` name, beyond its own
    /// thread, process, parent and fd; `None` when there are none (most events).
    fn named(
        &self,
        ev: &Event<'_>,
        thread: Option<&Arc<Thread>>,
        fd: Option<i64>,
    ) -> Option<Box<Named>> {
        if !code(ev.code()).names_others {
            return None;
        }
        let pid = thread.map(|t| t.pid);
        let own = |n: i64| thread.is_some_and(|t| t.tid == n || t.pid == n || t.ptid == n);
        let mut named = Named::default();
        let info = ev.info()?;
        let kinds = info.params.iter().map(|p| p.kind).take(ev.params.len());
        for (i, kind) in kinds.enumerate() {
            if !matches!(kind, ParamType::Pid | ParamType::Fd | ParamType::FdList) {
                continue;
            }
            match ev.param(i) {
                Some(Ok(Value::Pid(n))) if n > 0 && !own(n) => {
                    if let Some(t) = self.threads.get(&n) {
                        named.threads.push(t.clone());
                    }
                }
                Some(Ok(Value::Fd(n))) if n >= 0 && Some(n) != fd => {
                    if let Some(f) = pid.and_then(|p| self.fds.get(&p)).and_then(|m| m.get(&n)) {
                        named.fds.push((n, f.clone()));
                    }
                }
                Some(Ok(Value::FdList(fds))) => {
                    let table = pid.and_then(|p| self.fds.get(&p));
                    for (n, _) in fds {
                        if let Some(f) = table.and_then(|m| m.get(&n)) {
                            named.fds.push((n, f.clone()));
                        }
                    }
                }
                _ => {}
            }
        }
        (!named.threads.is_empty() || !named.fds.is_empty()).then(|| Box::new(named))
    }

    /// Changes an event makes before rules see it.
    pub fn before(&mut self, ev: &Event<'_>) {
        let tid = ev.tid();
        let c = code(ev.code());
        // A thread the capture never described still exists: like libsinsp, keep a
        // placeholder whose name is `<NA>`. Only syscalls make one: meta events, context
        // switches and the like do not.
        let existed = self.threads.contains_key(&tid);
        if tid > 0 && c.syscall && !existed {
            let comm = b"<NA>".to_vec();
            let t = Thread { tid, pid: tid, comm, loginuid: u32::MAX, ..Thread::default() };
            self.threads.insert(tid, Arc::new(t));
            self.generation += 1;
        }
        // Most events (reads, writes, waits) change nothing replay tracks.
        if !c.changes {
            return;
        }
        if matches!(ev.code(), 272 | 324) {
            self.container_event(ev);
            return;
        }
        let named =
            |n: &str| ev.info().and_then(|i| i.param_index(n)).and_then(|i| u8::try_from(i).ok());
        let int = |n: &str| int_param(ev, named(n));
        let bytes = |n: &str| match param(ev, named(n)) {
            Some(Value::Str(s) | Value::Bytes(s)) => Some(s.to_vec()),
            _ => None,
        };
        match c.op {
            // Both exits of a clone come, in either order; the first makes the child (as
            // libsinsp does: the parent's exit knows the caller, the child's its own ids).
            Op::Clone => {
                let res = int_param(ev, c.res).unwrap_or(-1);
                // As libs: the caller's return value is not a host tid when the child is in
                // a pid namespace below the host's, or when the caller itself is in one (its
                // vtid is not its tid: the value is the pid the caller sees, and taking it for
                // a host tid made a second copy of the process, as `dredge lsof` showed); the
                // child's own exit event creates it. (libs also leaves CLONE_NEWPID and
                // CLONE_PARENT callers to the child; on the shared captures that loses fds
                // sysdig 0.29.3 keeps, so those are not followed here.)
                let child_elsewhere = || {
                    int("flags").is_some_and(|f| f as u32 & CHILD_IN_PIDNS != 0)
                        || int("vtid").is_some_and(|v| v > 0 && v != tid)
                };
                if res == 0 && !existed {
                    self.new_thread(ev, tid, &int, &bytes);
                } else if res > 0 && !self.threads.contains_key(&res) && !child_elsewhere() {
                    self.new_thread(ev, res, &int, &bytes);
                }
            }
            Op::Execve if int_param(ev, c.res) == Some(0) => {
                self.generation += 1;
                let entry = self
                    .threads
                    .entry(tid)
                    .or_insert_with(|| Arc::new(Thread { tid, pid: tid, ..Thread::default() }));
                let t = Arc::make_mut(entry);
                take_image(t, &mut self.blobs, ev, &bytes);
                if bytes("comm").is_none()
                    && let Some(exe) = bytes("exe")
                {
                    // Old captures carry no comm: the name is the executable's base name.
                    t.comm = exe.rsplit(|&b| b == b'/').next().unwrap_or(&exe).to_vec();
                }
                if let Some(v) = bytes("env") {
                    t.env = intern(&mut self.blobs, &v);
                }
                // The executable: the kernel's resolved path when recorded, else the path the
                // caller gave execve (its enter's filename), as libsinsp takes it.
                let exepath = bytes("trusted_exepath")
                    .filter(|v| !v.is_empty())
                    .or_else(|| bytes("filename").filter(|v| !v.is_empty()));
                if let Some(v) = exepath {
                    t.exepath = v;
                }
                // PPM_EXE_WRITABLE, PPM_EXE_UPPER_LAYER, PPM_EXE_FROM_MEMFD.
                let flags = match param(ev, named("flags")) {
                    Some(Value::Flags(f)) => f,
                    _ => 0,
                };
                t.exe_writable = flags & 1 != 0;
                t.exe_upper_layer = flags & 2 != 0;
                t.exe_from_memfd = flags & 4 != 0;
                if let Some(Value::Uint(caps)) = param(ev, named("cap_effective")) {
                    t.cap_effective = caps;
                }
                t.exe_written = !self.written.is_empty()
                    && self.written.contains(&written_key(t, &t.cwd, &t.exepath));
                match param(ev, named("tty")) {
                    Some(Value::Int(v)) => t.tty = v as u32,
                    Some(Value::Uint(v)) => t.tty = v as u32,
                    _ => {}
                }
                if let Some(p) = int("pid") {
                    t.pid = p;
                }
                // A known parent stays the one the clone gave (after a reparenting execve's
                // ptid names another process, and libsinsp keeps the first).
                if let Some(p) = int("ptid").filter(|_| t.ptid == 0) {
                    t.ptid = p;
                }
            }
            _ => {}
        }
        if c.op == Op::Fcntl {
            self.fcntl(ev, tid, &int);
            return;
        }
        if c.op == Op::Place {
            if int_param(ev, c.res) == Some(0)
                && let (Some(path), Some(t)) = (bytes("newpath"), self.threads.get(&tid))
            {
                let base = match int("newdirfd").or_else(|| int("newdir")) {
                    Some(d) if d != -100 => self.fd(t, d).map(|f| f.name.clone()),
                    _ => None,
                };
                let key = written_key(t, base.as_ref().unwrap_or(&t.cwd), &path);
                self.written.insert(key);
            }
            return;
        }
        if matches!(c.op, Op::Chdir | Op::Fchdir) {
            if int_param(ev, c.res) == Some(0) {
                self.chdir(tid, c.op, &int, &bytes);
            }
            return;
        }
        if let Op::Datagram { incoming } = c.op {
            if int_param(ev, c.res).is_some_and(|r| r >= 0)
                && let (Some(fdnum), Some(Value::SockTuple(t))) =
                    (int_param(ev, c.fd), param(ev, c.tuple))
            {
                self.datagram(tid, fdnum, &t, incoming);
            }
            return;
        }
        if let Op::SetId { group, param: name } = c.op {
            // The effective id, when the call succeeded and changed it (-1: left as it was).
            let id = match param(ev, named(name)) {
                Some(Value::Uid(v) | Value::Gid(v)) => Some(v),
                _ => None,
            };
            if let (true, Some(id)) = (int_param(ev, c.res).is_some_and(|r| r >= 0), id)
                && id != u32::MAX
                && let Some(t) = self.threads.get_mut(&tid)
            {
                let t = Arc::make_mut(t);
                if group {
                    t.gid = id
                } else {
                    t.uid = id
                }
                self.generation += 1;
            }
            return;
        }
        // A connect, even one still in progress, names its socket by the tuple.
        // A connect that failed (in progress aside: -EINPROGRESS) leaves the socket as it was.
        if c.op == Op::Connect {
            let res = int_param(ev, c.res).unwrap_or(0);
            if let (true, Some(fdnum), Some(Value::SockTuple(t))) =
                (res >= 0 || res == -115, int_param(ev, c.fd), param(ev, c.tuple))
            {
                let pid = self.pid_of(tid);
                let f = self.fds.entry(pid).or_default().entry(fdnum).or_default();
                let f = Arc::make_mut(f);
                fill_tuple(f, &t);
                f.role = Role::Client;
            }
            return;
        }
        if c.op == Op::Bind {
            self.bind(tid, ev, c);
            return;
        }
        // New fds.
        if !c.creates_fd || !c.exit {
            return;
        }
        let fd = int_param(ev, c.fd).or_else(|| int_param(ev, c.res)).unwrap_or(-1);
        let pid = self.pid_of(tid);
        let new = match c.op {
            Op::Open if fd >= 0 => {
                let path = self.resolve(ev, tid);
                let flags = match param(ev, c.flags) {
                    Some(Value::Flags(f)) => f,
                    _ => 0,
                };
                // PPM_O_WRONLY (PPM_O_RDWR has it too).
                if flags & 2 != 0
                    && let Some(t) = self.threads.get(&tid)
                {
                    self.written.insert(written_key(t, &t.cwd, &path));
                }
                // PPM_O_DIRECTORY: a directory opened as such is one (fd.type directory).
                let kind = if flags & 1024 != 0 { fd_kind::DIRECTORY } else { fd_kind::FILE };
                Some(Fd { kind, name: path, open_flags: flags, ..Fd::default() })
            }
            Op::Socket if fd >= 0 => {
                // By family (PPM_AF_*): local, inet, inet6, netlink.
                let kind = match ev.param_named("domain") {
                    Some(Ok(Value::Enum(1) | Value::Flags(1))) => fd_kind::UNIX_SOCK,
                    Some(Ok(Value::Enum(10) | Value::Flags(10))) => fd_kind::IPV6_SOCK,
                    Some(Ok(Value::Enum(16) | Value::Flags(16))) => fd_kind::NETLINK,
                    _ => fd_kind::IPV4_SOCK,
                };
                let inet = kind == fd_kind::IPV4_SOCK || kind == fd_kind::IPV6_SOCK;
                let l4proto = if inet { socket_l4proto(ev) } else { l4::UNKNOWN };
                Some(Fd { kind, l4proto, ..Fd::default() })
            }
            Op::Accept if fd >= 0 => {
                let mut f = Fd {
                    kind: fd_kind::IPV4_SOCK,
                    role: Role::Server,
                    l4proto: l4::TCP,
                    ..Fd::default()
                };
                if let Some(Value::SockTuple(t)) = param(ev, c.tuple) {
                    fill_tuple(&mut f, &t);
                }
                Some(f)
            }
            Op::Pipe | Op::SocketPair => {
                let kind = if c.op == Op::Pipe { fd_kind::FIFO } else { fd_kind::UNIX_SOCK };
                let (fd1, fd2) = (int("fd1"), int("fd2"));
                // Two equal fds (both -1, say) are no fds, as libsinsp takes them.
                if fd1 != fd2 {
                    for v in [fd1, fd2].into_iter().flatten().filter(|v| *v >= 0) {
                        let f = Fd { kind, ..Fd::default() };
                        self.fds.entry(pid).or_default().insert(v, Arc::new(f));
                    }
                }
                None
            }
            // A copy of an fd the state does not know changes nothing (as in libsinsp): the
            // new number keeps what it had.
            Op::Dup if fd >= 0 => {
                let old = int("oldfd").or_else(|| int("fd"));
                let copy = old.and_then(|o| self.fds.get(&pid).and_then(|m| m.get(&o)).cloned());
                if let Some(f) = copy {
                    self.fds.entry(pid).or_default().insert(fd, f);
                }
                None
            }
            Op::OtherFd if fd >= 0 => Some(Fd { kind: fd_kind::UNSUPPORTED, ..Fd::default() }),
            _ => None,
        };
        if let Some(f) = new {
            self.fds.entry(pid).or_default().insert(fd, Arc::new(f));
        }
    }

    /// Changes an event makes after rules have seen it.
    pub fn after(&mut self, ev: &Event<'_>) {
        let tid = ev.tid();
        let c = code(ev.code());
        match c.op {
            Op::Close => {
                let ok = matches!(param(ev, c.res), Some(Value::Errno(0)));
                if let (true, Some(Value::Fd(fd))) = (ok, param(ev, c.fd)) {
                    let pid = self.pid_of(tid);
                    if let Some(m) = self.fds.get_mut(&pid) {
                        m.remove(&fd);
                    }
                }
            }
            Op::ProcExit => {
                if let Some(t) = self.threads.remove(&tid) {
                    self.generation += 1;
                    self.lineages.remove(&tid);
                    if t.tid == t.pid {
                        self.fds.remove(&t.pid);
                    }
                }
            }
            _ => {}
        }
    }

    /// A successful chdir or fchdir: the process's new working directory (kept with a
    /// trailing `/`, as libsinsp keeps it).
    fn chdir(
        &mut self,
        tid: i64,
        op: Op,
        int: &dyn Fn(&str) -> Option<i64>,
        bytes: &dyn Fn(&str) -> Option<Vec<u8>>,
    ) {
        let Some(t) = self.threads.get(&tid) else { return };
        let dir = match op {
            Op::Chdir => match bytes("path") {
                Some(p) if p.starts_with(b"/") => join_path(b"/", &p),
                Some(p) if !t.cwd.is_empty() => join_path(&t.cwd, &p),
                _ => return,
            },
            _ => match int("fd").and_then(|fd| self.fd(t, fd)) {
                Some(f) if f.name.starts_with(b"/") => f.name.clone(),
                _ => return,
            },
        };
        let dir = with_slash(&dir);
        self.generation += 1;
        if let Some(t) = self.threads.get_mut(&tid) {
            Arc::make_mut(t).cwd = dir;
        }
    }

    /// fcntl's F_DUPFD and F_DUPFD_CLOEXEC (`PPM_FCNTL_*` 1 and 26) make a copy of the fd.
    fn fcntl(&mut self, ev: &Event<'_>, tid: i64, int: &dyn Fn(&str) -> Option<i64>) {
        let cmd = match ev.param_named("cmd") {
            Some(Ok(Value::Enum(v) | Value::Flags(v))) => v,
            _ => return,
        };
        let (Some(new), Some(old)) = (int("res"), int("fd")) else { return };
        if !matches!(cmd, 1 | 26) || new < 0 {
            return;
        }
        let pid = self.pid_of(tid);
        let table = self.fds.entry(pid).or_default();
        if let Some(f) = table.get(&old).cloned() {
            table.insert(new, f);
        }
    }

    /// A container announcement: like libsinsp, the event's thread becomes a stand-in process
    /// named `container:ID` in that container (pid -1, ids in its namespace -2, root), so the
    /// event shows where it belongs. The container's details come with the state blocks.
    fn container_event(&mut self, ev: &Event<'_>) {
        let json = match ev.param(0) {
            Some(Ok(Value::Str(s) | Value::Bytes(s))) => String::from_utf8_lossy(s).into_owned(),
            _ => return,
        };
        let Some(c) = container::from_json(&json) else { return };
        let tid = ev.tid();
        let t = Thread {
            tid,
            pid: -1,
            ptid: 0,
            vtid: -2,
            vpid: -2,
            comm: format!("container:{}", c.id).into_bytes(),
            container_id: c.id.clone(),
            ..Thread::default()
        };
        // Also under its pid, so that it is its own process (`proc.ppid` 0, as sysdig shows).
        let t = Arc::new(t);
        self.threads.insert(-1, t.clone());
        self.threads.insert(tid, t);
        self.generation += 1;
        let tables = Arc::make_mut(&mut self.tables);
        tables.containers.entry(c.id.clone()).or_insert(c);
    }

    /// A send or receive with the tuple it used, on a socket without addresses yet or not a
    /// TCP one (a datagram socket may talk to many peers): the socket takes the tuple, as
    /// libsinsp's `update_fd` does. The destination is kept once known; an unknown local
    /// address comes from the interfaces; a socket with no side yet is a server when it first
    /// receives and a client when it first sends, and its addresses are turned to match.
    fn datagram(&mut self, tid: i64, fdnum: i64, t: &SockTuple<'_>, incoming: bool) {
        let pid = self.pid_of(tid);
        let Some(f) = self.fds.get_mut(&pid).and_then(|m| m.get_mut(&fdnum)) else { return };
        if !(f.sip.is_empty() || f.l4proto != l4::TCP) {
            return;
        }
        let f = Arc::make_mut(f);
        let (sip, sport, dip, dport, kind) = match t {
            SockTuple::V4 { sip, sport, dip, dport } => {
                (sip.octets().to_vec(), *sport, dip.octets().to_vec(), *dport, fd_kind::IPV4_SOCK)
            }
            SockTuple::V6 { sip, sport, dip, dport } => {
                match (sip.to_ipv4_mapped(), dip.to_ipv4_mapped()) {
                    (Some(s4), Some(d4)) => (
                        s4.octets().to_vec(),
                        *sport,
                        d4.octets().to_vec(),
                        *dport,
                        fd_kind::IPV4_SOCK,
                    ),
                    _ => (
                        sip.octets().to_vec(),
                        *sport,
                        dip.octets().to_vec(),
                        *dport,
                        fd_kind::IPV6_SOCK,
                    ),
                }
            }
            SockTuple::Unix { path, .. } => {
                f.kind = fd_kind::UNIX_SOCK;
                f.name = strip_nul(path).to_vec();
                return;
            }
            SockTuple::Other { .. } => return,
        };
        let same = f.kind == kind
            && ((f.sip == sip && f.sport == sport && f.dip == dip && f.dport == dport)
                || (f.sip == dip && f.sport == dport && f.dip == sip && f.dport == sport));
        if same {
            return;
        }
        f.kind = kind;
        (f.sip, f.sport) = (sip, sport);
        if unset(&f.dip) {
            f.dip = dip;
        }
        if f.dport == 0 {
            f.dport = dport;
        }
        if f.l4proto == l4::UNKNOWN {
            f.l4proto = l4::UDP;
        }
        if kind == fd_kind::IPV4_SOCK {
            self.patch_local_address(pid, fdnum);
        }
        let Some(f) = self.fds.get_mut(&pid).and_then(|m| m.get_mut(&fdnum)) else { return };
        let f = Arc::make_mut(f);
        if f.role == Role::Unknown {
            f.role = if incoming { Role::Server } else { Role::Client };
        }
        if (incoming && f.role == Role::Client) || (!incoming && f.role == Role::Server) {
            std::mem::swap(&mut f.sip, &mut f.dip);
            std::mem::swap(&mut f.sport, &mut f.dport);
        }
    }

    /// A bind that worked makes its socket a server socket on the bound address, named by
    /// it (`0.0.0.0:80`), as libsinsp does; an IPv4 address mapped into IPv6 is IPv4.
    fn bind(&mut self, tid: i64, ev: &Event<'_>, c: &Code) {
        let Some(fdnum) = int_param(ev, c.fd) else { return };
        let worked = int_param(ev, c.res).is_some_and(|r| r >= 0);
        let Some(Ok(Value::SockAddr(addr))) = ev.param_named("addr") else { return };
        let (kind, ip, port): (u8, std::net::IpAddr, u16) = match addr {
            SockAddr::V4 { ip, port } => (fd_kind::IPV4_SERVSOCK, ip.into(), port),
            SockAddr::V6 { ip, port } => match ip.to_ipv4_mapped() {
                Some(v4) => (fd_kind::IPV4_SERVSOCK, v4.into(), port),
                None => (fd_kind::IPV6_SERVSOCK, ip.into(), port),
            },
            _ => return,
        };
        let pid = self.pid_of(tid);
        let Some(f) = self.fds.get_mut(&pid).and_then(|m| m.get_mut(&fdnum)) else { return };
        if !worked || !matches!(f.kind, fd_kind::IPV4_SOCK | fd_kind::IPV6_SOCK) {
            return;
        }
        let f = Arc::make_mut(f);
        f.kind = kind;
        f.sip = match ip {
            std::net::IpAddr::V4(a) => a.octets().to_vec(),
            std::net::IpAddr::V6(a) => a.octets().to_vec(),
        };
        f.sport = port;
        f.name = format!("{ip}:{port}").into_bytes();
    }

    /// An IPv4 socket with one address unknown (0.0.0.0) takes the interface that matches the
    /// other: the same address, else one on its subnet, else the first not loopback.
    fn patch_local_address(&mut self, pid: i64, fdnum: i64) {
        let infer = |other: &[u8]| -> [u8; 4] {
            let o: [u8; 4] = other.try_into().unwrap_or_default();
            let masked = |a: [u8; 4], m: [u8; 4]| u32::from_be_bytes(a) & u32::from_be_bytes(m);
            let exact = self.interfaces.iter().find(|(a, _)| *a == o);
            let subnet = || self.interfaces.iter().find(|(a, m)| masked(*a, *m) == masked(o, *m));
            let other = || self.interfaces.iter().find(|(a, _)| *a != [127, 0, 0, 1]);
            exact.or_else(subnet).or_else(other).map_or([0; 4], |(a, _)| *a)
        };
        let Some(f) = self.fds.get(&pid).and_then(|m| m.get(&fdnum)) else { return };
        let (s0, d0) = (unset(&f.sip), unset(&f.dip));
        if !s0 && !d0 {
            return;
        }
        let new = if s0 { infer(&f.dip) } else { infer(&f.sip) };
        let (known, sport, dport) = (if s0 { &f.dip } else { &f.sip }, f.sport, f.dport);
        if new[..] == known[..] && sport == dport {
            return;
        }
        let Some(f) = self.fds.get_mut(&pid).and_then(|m| m.get_mut(&fdnum)) else { return };
        let f = Arc::make_mut(f);
        if s0 { f.sip = new.to_vec() } else { f.dip = new.to_vec() }
    }

    fn new_thread(
        &mut self,
        ev: &Event<'_>,
        tid: i64,
        int: &dyn Fn(&str) -> Option<i64>,
        bytes: &dyn Fn(&str) -> Option<Vec<u8>>,
    ) {
        self.generation += 1;
        let own_exit = tid == ev.tid();
        // The child's own exit (`res` 0) names its parent; the parent's exit is the caller's.
        let parent_tid = if own_exit { int("ptid").unwrap_or(-1) } else { ev.tid() };
        let parent = self.threads.get(&parent_tid).map(|p| (**p).clone());
        let parent_pid = parent.as_ref().map_or(parent_tid, |p| p.pid);
        let mut t = Thread { tid, ..parent.unwrap_or_default() };
        if own_exit {
            t.pid = int("pid").unwrap_or(tid);
            t.ptid = int("ptid").unwrap_or(parent_tid);
        } else {
            // The caller's exit: a thread joins the caller's process, anything else is a new
            // process whose parent is the caller.
            let flags = match ev.param_named("flags") {
                Some(Ok(Value::Flags(f))) => f,
                _ => 0,
            };
            t.pid = if flags & CLONE_THREAD != 0 { parent_pid } else { tid };
            t.ptid = parent_tid;
        }
        take_image(&mut t, &mut self.blobs, ev, bytes);
        if own_exit {
            if let Some(v) = int("vtid") {
                t.vtid = v;
            }
            if let Some(v) = int("vpid") {
                t.vpid = v;
            }
        }
        if let Some(Ok(Value::Uint(u))) = ev.param_named("uid") {
            t.uid = u as u32;
        }
        if let Some(Ok(Value::Uint(g))) = ev.param_named("gid") {
            t.gid = g as u32;
        }
        // A new thread of a process the state never saw: the process is made from what the
        // thread's exit says of it (libsinsp recovers it so, as an approximation).
        if own_exit && t.pid != tid && !self.threads.contains_key(&t.pid) {
            let main = Thread {
                tid: t.pid,
                pid: t.pid,
                ptid: t.ptid,
                vpid: t.vpid,
                vtid: t.vpid,
                comm: t.comm.clone(),
                exe: t.exe.clone(),
                args: t.args.clone(),
                loginuid: u32::MAX,
                ..Thread::default()
            };
            self.threads.insert(t.pid, Arc::new(main));
        }
        // A new process gets a copy of its parent's fds (once: both exits of a clone come).
        if t.pid == tid
            && t.pid != parent_pid
            && !self.fds.contains_key(&t.pid)
            && let Some(parent_fds) = self.fds.get(&parent_pid).cloned()
        {
            self.fds.insert(t.pid, parent_fds);
        }
        self.threads.insert(tid, Arc::new(t));
    }

    /// The path an open-family event names, made absolute against its dirfd or the cwd.
    pub fn resolve(&self, ev: &Event<'_>, tid: i64) -> Vec<u8> {
        let c = code(ev.code());
        let raw = match param(ev, c.name) {
            Some(Value::Str(s)) => s.to_vec(),
            _ => return Vec::new(),
        };
        if raw.starts_with(b"/") {
            // As given, without a trailing slash (sysdig shows `/etc/init.d/` as `/etc/init.d`).
            return match raw.strip_suffix(b"/") {
                Some(r) if !r.is_empty() => r.to_vec(),
                _ => raw,
            };
        }
        let Some(t) = self.threads.get(&tid) else { return raw };
        let base = match param(ev, c.dirfd) {
            Some(Value::Fd(d)) if d != -100 => self.fd(t, d).map(|f| f.name.clone()),
            _ => None,
        }
        .unwrap_or_else(|| t.cwd.clone());
        // With no directory known, the path stays relative, `.` and `..` resolved (as sysdig
        // shows it).
        if base.is_empty() {
            let mut rel = join_path(b"/", &raw);
            rel.remove(0);
            return rel;
        }
        join_path(&base, &raw)
    }
}

fn fill_tuple(f: &mut Fd, t: &SockTuple<'_>) {
    match t {
        SockTuple::V4 { sip, sport, dip, dport } => {
            (f.kind, f.sip, f.sport, f.dip, f.dport) =
                (fd_kind::IPV4_SOCK, sip.octets().to_vec(), *sport, dip.octets().to_vec(), *dport);
        }
        // Both ends IPv4-mapped: an IPv4 connection, as libsinsp shows it.
        SockTuple::V6 { sip, sport, dip, dport } => {
            if let (Some(s4), Some(d4)) = (sip.to_ipv4_mapped(), dip.to_ipv4_mapped()) {
                (f.kind, f.sip, f.sport, f.dip, f.dport) = (
                    fd_kind::IPV4_SOCK,
                    s4.octets().to_vec(),
                    *sport,
                    d4.octets().to_vec(),
                    *dport,
                );
                return;
            }
            (f.kind, f.sip, f.sport, f.dip, f.dport) =
                (fd_kind::IPV6_SOCK, sip.octets().to_vec(), *sport, dip.octets().to_vec(), *dport);
        }
        // A connected or accepted unix socket is named by both ends' kernel addresses and
        // the path: `ffff8880a1b2c3d4->ffff8880a1b2c000 /dev/log`.
        SockTuple::Unix { source, dest, path } => {
            f.kind = fd_kind::UNIX_SOCK;
            let mut name = format!("{source:x}->{dest:x} ").into_bytes();
            name.extend_from_slice(strip_nul(path));
            f.name = name;
        }
        SockTuple::Other { .. } => {}
    }
}

/// The key of [`State::written`] for `path` (absolute, or relative to `dir`) as thread `t`
/// sees it.
fn written_key(t: &Thread, dir: &[u8], path: &[u8]) -> Vec<u8> {
    let mut key = t.container_id.as_bytes().to_vec();
    key.push(0);
    let dir: &[u8] = if path.starts_with(b"/") { b"/" } else { dir };
    key.extend_from_slice(&join_path(dir, path));
    key
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

#[cfg(test)]
pub(crate) mod tests {
    use std::net::Ipv4Addr;

    use dredge_format::table::{Direction, flag, table};
    use dredge_format::{EventHeader, Params};

    use super::*;

    /// One event built by parameter name (the others empty), in the current layout (other
    /// modules' tests build theirs with it too).
    pub(crate) struct Built {
        code: u16,
        data: Vec<u8>,
        ends: Vec<u32>,
    }

    pub(crate) fn build(name: &str, exit: bool, params: &[(&str, Value<'_>)]) -> Built {
        let info = table()
            .iter()
            .find(|e| {
                e.name == name
                    && (e.direction == Direction::Exit) == exit
                    && !e.has_flag(flag::OLD_VERSION)
            })
            .unwrap_or_else(|| panic!("no current {name} event"));
        let (mut data, mut ends) = (Vec::new(), Vec::new());
        for p in &info.params {
            if let Some((_, v)) = params.iter().find(|(n, _)| *n == p.name) {
                v.encode(p.kind, &mut data);
            }
            ends.push(data.len() as u32);
        }
        Built { code: info.code, data, ends }
    }

    impl Built {
        fn event(&self, tid: i64) -> Event<'_> {
            self.event_at(tid, 1)
        }

        /// The event, of thread `tid` at time `ts`.
        pub(crate) fn event_at(&self, tid: i64, ts: u64) -> Event<'_> {
            let header = EventHeader { ts, tid, cpu: 0, code: self.code, flags: 0 };
            Event { num: 0, header, params: Params::new(0, &self.ends, &self.data) }
        }
    }

    fn apply(state: &mut State, tid: i64, b: &Built) {
        let ev = b.event(tid);
        state.before(&ev);
        state.after(&ev);
    }

    /// A state with process 100 (one thread) known.
    fn with_process() -> State {
        let mut state = State::default();
        let t = Thread { tid: 100, pid: 100, uid: 1000, gid: 1000, ..Thread::default() };
        state.threads.insert(100, Arc::new(t));
        state
    }

    #[test]
    fn setresuid_and_setgid_change_the_effective_ids() {
        let mut state = with_process();
        let keep = Value::Uid(u32::MAX);
        let b = build(
            "setresuid",
            true,
            &[
                ("res", Value::Errno(0)),
                ("ruid", keep.clone()),
                ("euid", Value::Uid(0)),
                ("suid", keep),
            ],
        );
        apply(&mut state, 100, &b);
        assert_eq!(state.threads[&100].uid, 0);
        // -1 leaves the id as it was; a failed call changes nothing.
        let b = build("setgid", true, &[("res", Value::Errno(-1)), ("gid", Value::Gid(5))]);
        apply(&mut state, 100, &b);
        assert_eq!(state.threads[&100].gid, 1000);
        let b = build("setgid", true, &[("res", Value::Errno(0)), ("gid", Value::Gid(5))]);
        apply(&mut state, 100, &b);
        assert_eq!(state.threads[&100].gid, 5);
    }

    /// An openat exit of `path` with `flags` (PPM_O_*), giving fd 3.
    fn open(path: &str, flags: u32) -> Built {
        build(
            "openat",
            true,
            &[
                ("fd", Value::Fd(3)),
                ("dirfd", Value::Fd(-100)),
                ("name", Value::Str(path.as_bytes())),
                ("flags", Value::Flags(flags)),
            ],
        )
    }

    fn exec(state: &mut State, path: &str) -> bool {
        let b = build(
            "execve",
            true,
            &[("res", Value::Errno(0)), ("filename", Value::Str(path.as_bytes()))],
        );
        apply(state, 100, &b);
        state.threads[&100].exe_written
    }

    #[test]
    fn a_program_written_in_the_capture_is_drift_when_run() {
        let mut state = with_process();
        Arc::make_mut(state.threads.get_mut(&100).unwrap()).cwd = b"/work".to_vec();
        // Read, not written: not drift.
        apply(&mut state, 100, &open("/usr/bin/tool", 1));
        assert!(!exec(&mut state, "/usr/bin/tool"));
        // Written (O_WRONLY | O_CREAT), then run by an absolute or a relative path.
        apply(&mut state, 100, &open("/tmp/x", 2 | 4));
        assert!(exec(&mut state, "/tmp/x"));
        Arc::make_mut(state.threads.get_mut(&100).unwrap()).cwd = b"/tmp".to_vec();
        assert!(exec(&mut state, "./x"));
        // Renamed into place.
        let b = build(
            "renameat2",
            true,
            &[
                ("res", Value::Errno(0)),
                ("olddirfd", Value::Fd(-100)),
                ("oldpath", Value::Str(b"x")),
                ("newdirfd", Value::Fd(-100)),
                ("newpath", Value::Str(b"/usr/local/bin/y")),
            ],
        );
        apply(&mut state, 100, &b);
        assert!(exec(&mut state, "/usr/local/bin/y"));
        // Another container's write is not this one's drift.
        Arc::make_mut(state.threads.get_mut(&100).unwrap()).container_id = "abc".into();
        assert!(!exec(&mut state, "/tmp/x"));
    }

    #[test]
    fn a_bound_socket_is_named_by_its_address() {
        let mut state = with_process();
        let sock = Fd { kind: fd_kind::IPV6_SOCK, ..Fd::default() };
        state.fds.entry(100).or_default().insert(3, Arc::new(sock));
        let addr = SockAddr::V6 { ip: std::net::Ipv6Addr::UNSPECIFIED, port: 9001 };
        let b = build(
            "bind",
            true,
            &[("res", Value::Errno(0)), ("addr", Value::SockAddr(addr)), ("fd", Value::Fd(3))],
        );
        apply(&mut state, 100, &b);
        let f = &state.fds[&100][&3];
        assert_eq!((f.name.as_slice(), f.sport), (&b":::9001"[..], 9001));
        assert_eq!(f.kind, fd_kind::IPV6_SERVSOCK);
    }

    #[test]
    fn a_dup_of_an_unknown_fd_leaves_the_target_alone() {
        let mut state = with_process();
        let file = Fd { kind: fd_kind::FILE, name: b"/etc/passwd".to_vec(), ..Fd::default() };
        state.fds.entry(100).or_default().insert(0, Arc::new(file));
        let b = build("dup", true, &[("res", Value::Fd(0)), ("oldfd", Value::Fd(7))]);
        apply(&mut state, 100, &b);
        assert_eq!(state.fds[&100][&0].name, b"/etc/passwd");
    }

    #[test]
    fn socketpair_makes_two_unix_sockets() {
        let mut state = with_process();
        let b = build(
            "socketpair",
            true,
            &[("res", Value::Errno(0)), ("fd1", Value::Fd(3)), ("fd2", Value::Fd(4))],
        );
        apply(&mut state, 100, &b);
        for n in [3, 4] {
            assert_eq!(state.fds[&100][&n].kind, fd_kind::UNIX_SOCK);
        }
    }

    #[test]
    fn a_datagram_socket_takes_the_tuple_of_its_first_send() {
        let mut state = with_process();
        state.interfaces.push(([10, 0, 0, 5], [255, 255, 255, 0]));
        let udp = Fd { kind: fd_kind::IPV4_SOCK, l4proto: l4::UDP, ..Fd::default() };
        state.fds.entry(100).or_default().insert(3, Arc::new(udp));
        let tuple = SockTuple::V4 {
            sip: Ipv4Addr::UNSPECIFIED,
            sport: 40000,
            dip: Ipv4Addr::new(10, 0, 0, 9),
            dport: 53,
        };
        let b = build(
            "sendto",
            true,
            &[("res", Value::Errno(10)), ("fd", Value::Fd(3)), ("tuple", Value::SockTuple(tuple))],
        );
        apply(&mut state, 100, &b);
        let f = &state.fds[&100][&3];
        // The local address comes from the interface on the destination's subnet.
        assert_eq!((f.sip.as_slice(), f.sport), (&[10, 0, 0, 5][..], 40000));
        assert_eq!((f.dip.as_slice(), f.dport), (&[10, 0, 0, 9][..], 53));
        assert_eq!(f.role, Role::Client);
    }

    #[test]
    fn a_unix_connect_names_both_ends() {
        let mut state = with_process();
        let sock = Fd { kind: fd_kind::UNIX_SOCK, ..Fd::default() };
        state.fds.entry(100).or_default().insert(8, Arc::new(sock));
        let tuple =
            SockTuple::Unix { source: 0xffff_8800_3c1d_1800, dest: 0xabc, path: b"/dev/log" };
        let b = build(
            "connect",
            true,
            &[("res", Value::Errno(0)), ("fd", Value::Fd(8)), ("tuple", Value::SockTuple(tuple))],
        );
        apply(&mut state, 100, &b);
        assert_eq!(state.fds[&100][&8].name, b"ffff88003c1d1800->abc /dev/log");
    }
}
