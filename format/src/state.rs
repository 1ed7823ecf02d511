//! State tables: the system as it was at a point in the capture.
//!
//! A capture opens with state blocks describing what already existed when recording began
//! (threads, their open fds, containers, users, interfaces), and may carry more later (a
//! container that appeared, a periodic refresh). Replay applies them in file order; a state
//! block's `first_event` says which event it precedes. Raw kernel text (comm, paths, args) is
//! kept as bytes so nothing is lost in conversion; NUL-separated lists stay as the kernel gave
//! them.

use serde::Serialize;

use crate::block::BlockKind;
use crate::record::{FieldWriter, Fields, Record, lossy, nul_list, put_record, read_records};
use crate::wire::DecodeError;

/// The machine the capture was taken on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Machine {
    pub hostname: String,
    pub kernel_release: String,
    pub cpu_count: u32,
    pub memory_bytes: u64,
    pub max_pid: u64,
    /// Boot time, ns since the epoch (0 when unknown).
    pub boot_time: u64,
    pub flags: u64,
}

/// One thread (a process is its main thread: `tid == pid`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Thread {
    pub tid: i64,
    pub pid: i64,
    pub ptid: i64,
    /// Ids inside the thread's pid namespace.
    pub vtid: i64,
    pub vpid: i64,
    pub sid: i64,
    pub pgid: i64,
    pub vpgid: i64,
    #[serde(serialize_with = "lossy")]
    pub comm: Vec<u8>,
    /// argv[0].
    #[serde(serialize_with = "lossy")]
    pub exe: Vec<u8>,
    /// The resolved executable path.
    #[serde(serialize_with = "lossy")]
    pub exepath: Vec<u8>,
    /// argv[1..], NUL-separated.
    #[serde(serialize_with = "nul_list")]
    pub args: Vec<u8>,
    #[serde(serialize_with = "lossy")]
    pub cwd: Vec<u8>,
    /// Environment, NUL-separated, when recorded.
    #[serde(serialize_with = "nul_list")]
    pub env: Vec<u8>,
    #[serde(serialize_with = "lossy")]
    pub root: Vec<u8>,
    pub uid: u32,
    pub gid: u32,
    pub euid: u32,
    pub egid: u32,
    /// Audit login uid; `u32::MAX` when unset.
    pub loginuid: u32,
    /// Thread start, ns since the epoch (0 when unknown).
    pub start_time: u64,
    pub pidns_init_start_ts: u64,
    /// `controller=path` entries, NUL-separated.
    #[serde(serialize_with = "nul_list")]
    pub cgroups: Vec<u8>,
    /// Container id (12 hex digits), empty for the host.
    pub container_id: String,
    pub tty: u32,
    pub cap_inheritable: u64,
    pub cap_permitted: u64,
    pub cap_effective: u64,
    /// Clone flags (`PPM_CL_*`).
    pub flags: u32,
    pub fdlimit: u64,
    pub vm_size_kb: u32,
    pub vm_rss_kb: u32,
    pub vm_swap_kb: u32,
    pub pf_major: u64,
    pub pf_minor: u64,
    pub exe_writable: bool,
    pub exe_upper_layer: bool,
    pub exe_lower_layer: bool,
    pub exe_from_memfd: bool,
    pub exe_ino: u64,
    pub exe_ino_ctime: u64,
    pub exe_ino_mtime: u64,
}

/// What an fd refers to, numbered as sysdig's fd list does.
pub mod fd_kind {
    pub const FILE: u8 = 1;
    pub const DIRECTORY: u8 = 2;
    pub const IPV4_SOCK: u8 = 3;
    pub const IPV6_SOCK: u8 = 4;
    pub const IPV4_SERVSOCK: u8 = 5;
    pub const IPV6_SERVSOCK: u8 = 6;
    pub const FIFO: u8 = 7;
    pub const UNIX_SOCK: u8 = 8;
    pub const EVENT: u8 = 9;
    pub const UNSUPPORTED: u8 = 10;
    pub const SIGNALFD: u8 = 11;
    pub const EVENTPOLL: u8 = 12;
    pub const INOTIFY: u8 = 13;
    pub const TIMERFD: u8 = 14;
    pub const NETLINK: u8 = 15;
    pub const FILE_V2: u8 = 16;
    pub const BPF: u8 = 17;
    pub const USERFAULTFD: u8 = 18;
    pub const IOURING: u8 = 19;
    pub const MEMFD: u8 = 20;
    pub const PIDFD: u8 = 21;
}

/// One open fd. Sockets fill the address fields; other kinds use `name`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Fd {
    pub fd: i64,
    pub ino: u64,
    /// See [`fd_kind`].
    pub kind: u8,
    /// Open flags (`PPM_O_*`) for files.
    pub open_flags: u32,
    pub dev: u32,
    /// Path, pipe name, unix socket path, or a description for other kinds.
    #[serde(serialize_with = "lossy")]
    pub name: Vec<u8>,
    /// Transport (`0` unknown, `1` n/a, `2` TCP, `3` UDP, `4` ICMP, `5` raw).
    pub l4proto: u8,
    /// Source and destination addresses: 4 or 16 bytes, network order; empty when unused.
    /// A listening socket has only the source.
    pub sip: Vec<u8>,
    pub sport: u16,
    pub dip: Vec<u8>,
    pub dport: u16,
    /// Kernel socket pointers of a unix socket's two ends.
    pub unix_source: u64,
    pub unix_dest: u64,
}

/// The open fds of one process (or of one thread, for captures that list them per thread).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FdTable {
    pub tid: i64,
    pub fds: Vec<Fd>,
}

/// A bind mount or volume of a container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Mount {
    pub source: String,
    pub destination: String,
    pub mode: String,
    pub rw: bool,
    pub propagation: String,
}

/// One container, with its Kubernetes pod when it belongs to one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Container {
    /// Short id (12 hex digits), the key threads refer to.
    pub id: String,
    pub full_id: String,
    pub name: String,
    pub image: String,
    pub image_id: String,
    pub image_digest: String,
    pub image_repo: String,
    pub image_tag: String,
    /// `docker`, `podman`, `containerd`, `cri-o`, ...
    pub runtime: String,
    pub privileged: bool,
    pub labels: Vec<(String, String)>,
    pub mounts: Vec<Mount>,
    pub ip: String,
    pub created_time: u64,
    pub pod_name: String,
    pub pod_namespace: String,
    pub pod_uid: String,
    pub pod_labels: Vec<(String, String)>,
    /// The metadata exactly as the source gave it (a runtime's or sysdig's JSON), when there
    /// was such a form; kept so conversions lose nothing.
    pub raw: String,
}

/// A user or a group, of the host or of one container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct User {
    /// True for a group entry (then only `gid` and `name` matter).
    pub is_group: bool,
    pub uid: u32,
    pub gid: u32,
    pub name: String,
    pub home: String,
    pub shell: String,
    /// Empty for the host.
    pub container_id: String,
}

/// A network interface address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Interface {
    pub name: String,
    /// 4 or 16 bytes each, network order.
    pub addr: Vec<u8>,
    pub netmask: Vec<u8>,
    pub broadcast: Vec<u8>,
    /// Link speed in Mbit/s; `None` when the source did not say.
    pub link_speed: Option<u64>,
}

/// Events the kernel or the recorder lost on one CPU over a time window.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DropRecord {
    pub cpu: u16,
    /// The window in which the loss happened (ns since the epoch).
    pub from_ts: u64,
    pub to_ts: u64,
    /// Events lost in the window.
    pub lost: u64,
}

/// The decoded contents of one state block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "records", rename_all = "snake_case")]
pub enum State {
    Machine(Vec<Machine>),
    Threads(Vec<Thread>),
    Fds(Vec<FdTable>),
    Containers(Vec<Container>),
    Users(Vec<User>),
    Interfaces(Vec<Interface>),
    Drops(Vec<DropRecord>),
}

impl State {
    pub fn kind(&self) -> BlockKind {
        match self {
            State::Machine(_) => BlockKind::Machine,
            State::Threads(_) => BlockKind::Threads,
            State::Fds(_) => BlockKind::Fds,
            State::Containers(_) => BlockKind::Containers,
            State::Users(_) => BlockKind::Users,
            State::Interfaces(_) => BlockKind::Interfaces,
            State::Drops(_) => BlockKind::Drops,
        }
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        match self {
            State::Machine(v) => v.len(),
            State::Threads(v) => v.len(),
            State::Fds(v) => v.len(),
            State::Containers(v) => v.len(),
            State::Users(v) => v.len(),
            State::Interfaces(v) => v.len(),
            State::Drops(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first and second half of the records, as two states of this kind (for a table
    /// too large for one block); `None` with fewer than two records.
    pub fn halves(&self) -> Option<(State, State)> {
        fn split<R: Clone>(v: &[R], f: fn(Vec<R>) -> State) -> Option<(State, State)> {
            let (a, b) = v.split_at_checked(v.len() / 2).filter(|(a, _)| !a.is_empty())?;
            Some((f(a.to_vec()), f(b.to_vec())))
        }
        match self {
            State::Machine(v) => split(v, State::Machine),
            State::Threads(v) => split(v, State::Threads),
            State::Fds(v) => split(v, State::Fds),
            State::Containers(v) => split(v, State::Containers),
            State::Users(v) => split(v, State::Users),
            State::Interfaces(v) => split(v, State::Interfaces),
            State::Drops(v) => split(v, State::Drops),
        }
    }

    /// The block payload: the records one after another.
    pub fn encode(&self) -> Vec<u8> {
        fn all<R: Record>(items: &[R]) -> Vec<u8> {
            let mut out = Vec::new();
            for item in items {
                put_record(&mut out, item);
            }
            out
        }
        match self {
            State::Machine(v) => all(v),
            State::Threads(v) => all(v),
            State::Fds(v) => all(v),
            State::Containers(v) => all(v),
            State::Users(v) => all(v),
            State::Interfaces(v) => all(v),
            State::Drops(v) => all(v),
        }
    }

    /// Decodes a state block payload; `None` for a kind that is not state.
    pub fn decode(
        kind: BlockKind,
        payload: &[u8],
        count: u32,
    ) -> Option<Result<State, DecodeError>> {
        Some(match kind {
            BlockKind::Machine => read_records(payload, count).map(State::Machine),
            BlockKind::Threads => read_records(payload, count).map(State::Threads),
            BlockKind::Fds => read_records(payload, count).map(State::Fds),
            BlockKind::Containers => read_records(payload, count).map(State::Containers),
            BlockKind::Users => read_records(payload, count).map(State::Users),
            BlockKind::Interfaces => read_records(payload, count).map(State::Interfaces),
            BlockKind::Drops => read_records(payload, count).map(State::Drops),
            _ => return None,
        })
    }
}

impl Record for Machine {
    fn write_fields(&self, w: &mut FieldWriter<'_>) {
        w.bytes(self.hostname.as_bytes())
            .bytes(self.kernel_release.as_bytes())
            .u64(self.cpu_count.into())
            .u64(self.memory_bytes)
            .u64(self.max_pid)
            .u64(self.boot_time)
            .u64(self.flags);
    }

    fn read_fields(f: &mut Fields<'_>) -> Result<Self, DecodeError> {
        Ok(Machine {
            hostname: f.string()?,
            kernel_release: f.string()?,
            cpu_count: f.u32()?,
            memory_bytes: f.u64()?,
            max_pid: f.u64()?,
            boot_time: f.u64()?,
            flags: f.u64()?,
        })
    }
}

impl Record for Thread {
    fn write_fields(&self, w: &mut FieldWriter<'_>) {
        w.i64(self.tid).i64(self.pid).i64(self.ptid).i64(self.vtid).i64(self.vpid);
        w.i64(self.sid).i64(self.pgid).i64(self.vpgid);
        w.bytes(&self.comm).bytes(&self.exe).bytes(&self.exepath).bytes(&self.args);
        w.bytes(&self.cwd).bytes(&self.env).bytes(&self.root);
        w.u64(self.uid.into()).u64(self.gid.into()).u64(self.euid.into()).u64(self.egid.into());
        w.u64(self.loginuid.into()).u64(self.start_time).u64(self.pidns_init_start_ts);
        w.bytes(&self.cgroups).bytes(self.container_id.as_bytes()).u64(self.tty.into());
        w.u64(self.cap_inheritable).u64(self.cap_permitted).u64(self.cap_effective);
        w.u64(self.flags.into()).u64(self.fdlimit);
        w.u64(self.vm_size_kb.into()).u64(self.vm_rss_kb.into()).u64(self.vm_swap_kb.into());
        w.u64(self.pf_major).u64(self.pf_minor);
        w.bool(self.exe_writable).bool(self.exe_upper_layer);
        w.bool(self.exe_lower_layer).bool(self.exe_from_memfd);
        w.u64(self.exe_ino).u64(self.exe_ino_ctime).u64(self.exe_ino_mtime);
    }

    fn read_fields(f: &mut Fields<'_>) -> Result<Self, DecodeError> {
        Ok(Thread {
            tid: f.i64()?,
            pid: f.i64()?,
            ptid: f.i64()?,
            vtid: f.i64()?,
            vpid: f.i64()?,
            sid: f.i64()?,
            pgid: f.i64()?,
            vpgid: f.i64()?,
            comm: f.bytes()?,
            exe: f.bytes()?,
            exepath: f.bytes()?,
            args: f.bytes()?,
            cwd: f.bytes()?,
            env: f.bytes()?,
            root: f.bytes()?,
            uid: f.u32()?,
            gid: f.u32()?,
            euid: f.u32()?,
            egid: f.u32()?,
            loginuid: f.u32()?,
            start_time: f.u64()?,
            pidns_init_start_ts: f.u64()?,
            cgroups: f.bytes()?,
            container_id: f.string()?,
            tty: f.u32()?,
            cap_inheritable: f.u64()?,
            cap_permitted: f.u64()?,
            cap_effective: f.u64()?,
            flags: f.u32()?,
            fdlimit: f.u64()?,
            vm_size_kb: f.u32()?,
            vm_rss_kb: f.u32()?,
            vm_swap_kb: f.u32()?,
            pf_major: f.u64()?,
            pf_minor: f.u64()?,
            exe_writable: f.bool()?,
            exe_upper_layer: f.bool()?,
            exe_lower_layer: f.bool()?,
            exe_from_memfd: f.bool()?,
            exe_ino: f.u64()?,
            exe_ino_ctime: f.u64()?,
            exe_ino_mtime: f.u64()?,
        })
    }
}

impl Fd {
    fn write(&self, w: &mut FieldWriter<'_>) {
        w.i64(self.fd).u64(self.ino).u64(self.kind.into()).u64(self.open_flags.into());
        w.u64(self.dev.into()).bytes(&self.name).u64(self.l4proto.into());
        w.bytes(&self.sip).u64(self.sport.into()).bytes(&self.dip).u64(self.dport.into());
        w.u64(self.unix_source).u64(self.unix_dest);
    }

    fn read(f: &mut Fields<'_>) -> Result<Self, DecodeError> {
        Ok(Fd {
            fd: f.i64()?,
            ino: f.u64()?,
            kind: f.u8()?,
            open_flags: f.u32()?,
            dev: f.u32()?,
            name: f.bytes()?,
            l4proto: f.u8()?,
            sip: f.bytes()?,
            sport: f.u16()?,
            dip: f.bytes()?,
            dport: f.u16()?,
            unix_source: f.u64()?,
            unix_dest: f.u64()?,
        })
    }
}

impl Record for FdTable {
    fn write_fields(&self, w: &mut FieldWriter<'_>) {
        // Each fd is a nested record so that fd entries can grow fields too.
        w.i64(self.tid).list(&self.fds, |w, fd| {
            let mut body = Vec::new();
            fd.write(&mut FieldWriter::new(&mut body));
            w.bytes(&body);
        });
    }

    fn read_fields(f: &mut Fields<'_>) -> Result<Self, DecodeError> {
        let tid = f.i64()?;
        let fds = f.list(|f| {
            let body = f.bytes()?;
            Fd::read(&mut Fields::new(&body))
        })?;
        Ok(FdTable { tid, fds })
    }
}

impl Record for Container {
    fn write_fields(&self, w: &mut FieldWriter<'_>) {
        for s in [
            &self.id,
            &self.full_id,
            &self.name,
            &self.image,
            &self.image_id,
            &self.image_digest,
            &self.image_repo,
            &self.image_tag,
            &self.runtime,
        ] {
            w.bytes(s.as_bytes());
        }
        w.bool(self.privileged).pairs(&self.labels);
        w.list(&self.mounts, |w, m| {
            w.bytes(m.source.as_bytes()).bytes(m.destination.as_bytes());
            w.bytes(m.mode.as_bytes()).bool(m.rw).bytes(m.propagation.as_bytes());
        });
        w.bytes(self.ip.as_bytes()).u64(self.created_time);
        w.bytes(self.pod_name.as_bytes()).bytes(self.pod_namespace.as_bytes());
        w.bytes(self.pod_uid.as_bytes()).pairs(&self.pod_labels).bytes(self.raw.as_bytes());
    }

    fn read_fields(f: &mut Fields<'_>) -> Result<Self, DecodeError> {
        Ok(Container {
            id: f.string()?,
            full_id: f.string()?,
            name: f.string()?,
            image: f.string()?,
            image_id: f.string()?,
            image_digest: f.string()?,
            image_repo: f.string()?,
            image_tag: f.string()?,
            runtime: f.string()?,
            privileged: f.bool()?,
            labels: f.pairs()?,
            mounts: f.list(|f| {
                Ok(Mount {
                    source: f.string()?,
                    destination: f.string()?,
                    mode: f.string()?,
                    rw: f.bool()?,
                    propagation: f.string()?,
                })
            })?,
            ip: f.string()?,
            created_time: f.u64()?,
            pod_name: f.string()?,
            pod_namespace: f.string()?,
            pod_uid: f.string()?,
            pod_labels: f.pairs()?,
            raw: f.string()?,
        })
    }
}

impl Record for User {
    fn write_fields(&self, w: &mut FieldWriter<'_>) {
        w.bool(self.is_group).u64(self.uid.into()).u64(self.gid.into());
        w.bytes(self.name.as_bytes()).bytes(self.home.as_bytes()).bytes(self.shell.as_bytes());
        w.bytes(self.container_id.as_bytes());
    }

    fn read_fields(f: &mut Fields<'_>) -> Result<Self, DecodeError> {
        Ok(User {
            is_group: f.bool()?,
            uid: f.u32()?,
            gid: f.u32()?,
            name: f.string()?,
            home: f.string()?,
            shell: f.string()?,
            container_id: f.string()?,
        })
    }
}

impl Record for Interface {
    fn write_fields(&self, w: &mut FieldWriter<'_>) {
        w.bytes(self.name.as_bytes()).bytes(&self.addr).bytes(&self.netmask);
        w.bytes(&self.broadcast).bool(self.link_speed.is_some());
        w.u64(self.link_speed.unwrap_or(0));
    }

    fn read_fields(f: &mut Fields<'_>) -> Result<Self, DecodeError> {
        let name = f.string()?;
        let (addr, netmask, broadcast) = (f.bytes()?, f.bytes()?, f.bytes()?);
        let has_speed = f.bool()?;
        let speed = f.u64()?;
        Ok(Interface { name, addr, netmask, broadcast, link_speed: has_speed.then_some(speed) })
    }
}

impl Record for DropRecord {
    fn write_fields(&self, w: &mut FieldWriter<'_>) {
        w.u64(self.cpu.into()).u64(self.from_ts).u64(self.to_ts).u64(self.lost);
    }

    fn read_fields(f: &mut Fields<'_>) -> Result<Self, DecodeError> {
        Ok(DropRecord { cpu: f.u16()?, from_ts: f.u64()?, to_ts: f.u64()?, lost: f.u64()? })
    }
}
