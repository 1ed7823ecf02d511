//! Field values for rules: an event together with the reconstructed state.
//!
//! [`EventFields`] answers the rules engine's `extract` for the fields of the catalogue that
//! replay supports, with Falco's semantics: a value that cannot be known is missing (the check
//! is false), except the few fields Falco fills with the text `<NA>`.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::{Arc, LazyLock};

use dredge_format::event::Event;
use dredge_format::param::{ParamType, SockTuple, Value};
use dredge_format::state::fd_kind;
use dredge_format::table::table;
use dredge_format::time::Utc;
use dredge_rules::alert::{push_int, push_uint};
use dredge_rules::compile::FieldRef;
use dredge_rules::eval::{Extracted, Fields, Val};

use crate::spans::fields::{Asker, InField, SPAN_FIELDS, Scope, SpanField, in_field};
use crate::state::{Fd, Needs, Op, Role, Tables, Thread, View, code};

/// The fields replay extracts, by kind: the catalogue's field numbers map to these once, so
/// extraction switches on a number, not a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum F {
    EvtNum,
    EvtType,
    SyscallType,
    EvtDir,
    EvtCpu,
    EvtTime,
    EvtTimeIso8601,
    EvtTimeS,
    EvtDatetimeS,
    EvtDatetime,
    EvtRawtime,
    EvtRawtimeS,
    EvtRawtimeNs,
    EvtHostname,
    EvtSource,
    EvtCategory,
    EvtArgs,
    /// `evt.arg.NAME`, `evt.arg[N]` (extracted by name; listed for what they need).
    EvtArg,
    EvtBuffer,
    EvtBuflen,
    EvtRawres,
    EvtRes,
    EvtFailed,
    EvtIsOpenRead,
    EvtIsOpenWrite,
    EvtIsOpenExec,
    EvtIsOpenCreate,
    ProcName,
    ProcExe,
    ProcExepath,
    ProcArgs,
    ProcCmdline,
    ProcCwd,
    ProcPid,
    ProcVpid,
    ProcTty,
    ProcSid,
    ThreadCapEffective,
    ProcIsExeWritable,
    ProcIsExeUpperLayer,
    ProcIsExeFromMemfd,
    ProcIsExeWritten,
    /// `proc.stdin.type` (0), `proc.stdout.type` (1), `proc.stderr.type` (2).
    ProcStdType(usize),
    /// `proc.stdin.name` (0), ...
    ProcStdName(usize),
    ThreadTid,
    ThreadVtid,
    ProcPpid,
    ProcPname,
    ProcPexe,
    ProcPexepath,
    ProcPcmdline,
    ProcAname,
    ProcApid,
    ProcAexe,
    ProcAexepath,
    ProcAcmdline,
    UserUid,
    UserLoginuid,
    UserName,
    UserHomedir,
    UserShell,
    GroupGid,
    GroupName,
    FdNum,
    FdName,
    FdNameraw,
    FdDirectory,
    FdFilename,
    FdTypechar,
    FdType,
    FdSip,
    FdCip,
    FdRip,
    FdLip,
    FdSport,
    FdRport,
    FdCport,
    FdLport,
    ContainerId,
    ContainerName,
    ContainerImage,
    ContainerImageRepository,
    ContainerImageTag,
    ContainerImageId,
    ContainerType,
    ContainerPrivileged,
    ContainerFullId,
    /// A `span.*` field (tracer events only).
    Span(SpanField),
    /// An `evtin.span.*` field.
    In(Scope, InField),
    /// A catalogue field replay has no value for.
    Other,
}

const KINDS: &[(&str, F)] = &[
    ("evt.num", F::EvtNum),
    ("evt.type", F::EvtType),
    ("syscall.type", F::SyscallType),
    ("evt.dir", F::EvtDir),
    ("evt.cpu", F::EvtCpu),
    ("evt.time", F::EvtTime),
    ("evt.time.iso8601", F::EvtTimeIso8601),
    ("evt.time.s", F::EvtTimeS),
    ("evt.datetime.s", F::EvtDatetimeS),
    ("evt.datetime", F::EvtDatetime),
    ("evt.rawtime", F::EvtRawtime),
    ("evt.rawtime.s", F::EvtRawtimeS),
    ("evt.rawtime.ns", F::EvtRawtimeNs),
    ("evt.hostname", F::EvtHostname),
    ("evt.source", F::EvtSource),
    ("evt.category", F::EvtCategory),
    ("evt.args", F::EvtArgs),
    ("evt.arg", F::EvtArg),
    ("evt.buffer", F::EvtBuffer),
    ("evt.buflen", F::EvtBuflen),
    // What sysdig's default line shows: the arguments, and the time as `-t h` (the default).
    ("evt.info", F::EvtArgs),
    ("evt.outputtime", F::EvtTime),
    ("evt.rawres", F::EvtRawres),
    ("evt.res", F::EvtRes),
    ("evt.failed", F::EvtFailed),
    ("evt.is_open_read", F::EvtIsOpenRead),
    ("evt.is_open_write", F::EvtIsOpenWrite),
    ("evt.is_open_exec", F::EvtIsOpenExec),
    ("evt.is_open_create", F::EvtIsOpenCreate),
    ("proc.name", F::ProcName),
    ("proc.exe", F::ProcExe),
    ("proc.exepath", F::ProcExepath),
    ("proc.args", F::ProcArgs),
    ("proc.cmdline", F::ProcCmdline),
    ("proc.cwd", F::ProcCwd),
    ("proc.pid", F::ProcPid),
    ("proc.vpid", F::ProcVpid),
    ("proc.tty", F::ProcTty),
    ("thread.cap_effective", F::ThreadCapEffective),
    ("proc.is_exe_writable", F::ProcIsExeWritable),
    ("proc.is_exe_upper_layer", F::ProcIsExeUpperLayer),
    ("proc.is_exe_from_memfd", F::ProcIsExeFromMemfd),
    ("proc.is_exe_written", F::ProcIsExeWritten),
    ("proc.stdin.type", F::ProcStdType(0)),
    ("proc.stdout.type", F::ProcStdType(1)),
    ("proc.stderr.type", F::ProcStdType(2)),
    ("proc.stdin.name", F::ProcStdName(0)),
    ("proc.stdout.name", F::ProcStdName(1)),
    ("proc.stderr.name", F::ProcStdName(2)),
    ("proc.sid", F::ProcSid),
    ("thread.tid", F::ThreadTid),
    ("thread.vtid", F::ThreadVtid),
    ("proc.ppid", F::ProcPpid),
    ("proc.pname", F::ProcPname),
    ("proc.pexe", F::ProcPexe),
    ("proc.pexepath", F::ProcPexepath),
    ("proc.pcmdline", F::ProcPcmdline),
    ("proc.aname", F::ProcAname),
    ("proc.apid", F::ProcApid),
    ("proc.aexe", F::ProcAexe),
    ("proc.aexepath", F::ProcAexepath),
    ("proc.acmdline", F::ProcAcmdline),
    ("user.uid", F::UserUid),
    ("user.loginuid", F::UserLoginuid),
    ("user.name", F::UserName),
    ("user.homedir", F::UserHomedir),
    ("user.shell", F::UserShell),
    ("group.gid", F::GroupGid),
    ("group.name", F::GroupName),
    ("fd.num", F::FdNum),
    ("fd.name", F::FdName),
    ("fd.nameraw", F::FdNameraw),
    ("fd.directory", F::FdDirectory),
    ("fd.filename", F::FdFilename),
    ("fd.typechar", F::FdTypechar),
    ("fd.type", F::FdType),
    ("fd.sip", F::FdSip),
    ("fd.cip", F::FdCip),
    ("fd.rip", F::FdRip),
    ("fd.lip", F::FdLip),
    ("fd.sport", F::FdSport),
    ("fd.rport", F::FdRport),
    ("fd.cport", F::FdCport),
    ("fd.lport", F::FdLport),
    ("container.id", F::ContainerId),
    ("container.name", F::ContainerName),
    ("container.image", F::ContainerImage),
    ("container.image.repository", F::ContainerImageRepository),
    ("container.image.tag", F::ContainerImageTag),
    ("container.image.id", F::ContainerImageId),
    ("container.type", F::ContainerType),
    ("container.privileged", F::ContainerPrivileged),
    ("container.full_id", F::ContainerFullId),
];

/// The kind of catalogue field `id`.
fn kind_of(id: u32) -> F {
    static BY_ID: LazyLock<Vec<F>> = LazyLock::new(|| {
        let span =
            |name: &str| SPAN_FIELDS.iter().find(|(n, _)| *n == name).map(|(_, f)| F::Span(*f));
        dredge_rules::catalogue::fields()
            .iter()
            .map(|d| {
                let kind = KINDS.iter().find(|(n, _)| *n == d.name).map(|(_, f)| *f);
                let inside = || in_field(d.name).map(|(s, f)| F::In(s, f));
                kind.or_else(|| span(d.name)).or_else(inside).unwrap_or(F::Other)
            })
            .collect()
    });
    BY_ID.get(id as usize).copied().unwrap_or(F::Other)
}

/// What of the state the catalogue field `id` reads (see [`Needs`]).
pub fn needs(id: u32) -> Needs {
    use F::*;
    match kind_of(id) {
        ProcPname | ProcPexe | ProcPexepath | ProcPcmdline | ProcAname | ProcApid | ProcAexe
        | ProcAexepath | ProcAcmdline => Needs { lineage: true, ..Needs::NONE },
        FdNum | FdName | FdNameraw | FdDirectory | FdFilename | FdTypechar | FdType | FdSip
        | FdCip | FdRip | FdLip | FdSport | FdRport | FdCport | FdLport => {
            Needs { fd: true, ..Needs::NONE }
        }
        // Fds and pids shown with their names.
        EvtArgs | EvtArg => Needs::ARGS,
        In(..) => Needs { spans: true, ..Needs::NONE },
        ProcStdType(_) | ProcStdName(_) => Needs { stdio: true, ..Needs::NONE },
        _ => Needs::NONE,
    }
}

/// One event in its context.
pub struct EventFields<'a> {
    pub event: &'a Event<'a>,
    pub view: &'a View,
    pub tables: &'a Tables,
    /// The same event with its enter's parameters merged in, when it is shown as recorded
    /// (`dredge print`): fd, path and result fields come from it, as sysdig takes them from
    /// the enter event.
    pub merged: Option<&'a Event<'a>>,
}

fn text(b: impl Into<Vec<u8>>) -> Extracted<'static> {
    Extracted::One(Val::Bytes(Cow::Owned(b.into())))
}

/// A text that is missing when empty.
fn known(s: &str) -> Extracted<'_> {
    if s.is_empty() {
        Extracted::Missing
    } else {
        Extracted::One(Val::Bytes(Cow::Borrowed(s.as_bytes())))
    }
}

fn borrowed(b: &[u8]) -> Extracted<'_> {
    Extracted::One(Val::Bytes(Cow::Borrowed(b)))
}

fn boolean(v: bool) -> Extracted<'static> {
    Extracted::One(Val::Bool(v))
}

fn int(v: i64) -> Extracted<'static> {
    Extracted::One(Val::Int(v))
}

fn uint(v: u64) -> Extracted<'static> {
    Extracted::One(Val::Uint(v))
}

/// `proc.args` as Falco joins them.
fn args_line(t: &Thread) -> Vec<u8> {
    t.args.join(&b' ')
}

pub(crate) fn cmdline(t: &Thread) -> Vec<u8> {
    let mut out = t.comm.clone();
    if !t.args.is_empty() {
        out.push(b' ');
        out.extend_from_slice(&args_line(t));
    }
    out
}

/// The name of an errno value, as `evt.res` prints it (Linux's numbering, with the kernel's
/// internal restart codes a capture can record).
pub(crate) fn errno_name(e: i64) -> String {
    let name = match -e {
        1 => "EPERM",
        2 => "ENOENT",
        3 => "ESRCH",
        4 => "EINTR",
        5 => "EIO",
        6 => "ENXIO",
        7 => "E2BIG",
        8 => "ENOEXEC",
        9 => "EBADF",
        10 => "ECHILD",
        11 => "EAGAIN",
        12 => "ENOMEM",
        13 => "EACCES",
        14 => "EFAULT",
        15 => "ENOTBLK",
        16 => "EBUSY",
        17 => "EEXIST",
        18 => "EXDEV",
        19 => "ENODEV",
        20 => "ENOTDIR",
        21 => "EISDIR",
        22 => "EINVAL",
        23 => "ENFILE",
        24 => "EMFILE",
        25 => "ENOTTY",
        26 => "ETXTBSY",
        27 => "EFBIG",
        28 => "ENOSPC",
        29 => "ESPIPE",
        30 => "EROFS",
        31 => "EMLINK",
        32 => "EPIPE",
        33 => "EDOM",
        34 => "ERANGE",
        35 => "EDEADLK",
        36 => "ENAMETOOLONG",
        37 => "ENOLCK",
        38 => "ENOSYS",
        39 => "ENOTEMPTY",
        40 => "ELOOP",
        42 => "ENOMSG",
        43 => "EIDRM",
        44 => "ECHRNG",
        45 => "EL2NSYNC",
        46 => "EL3HLT",
        47 => "EL3RST",
        48 => "ELNRNG",
        49 => "EUNATCH",
        50 => "ENOCSI",
        51 => "EL2HLT",
        52 => "EBADE",
        53 => "EBADR",
        54 => "EXFULL",
        55 => "ENOANO",
        56 => "EBADRQC",
        57 => "EBADSLT",
        59 => "EBFONT",
        60 => "ENOSTR",
        61 => "ENODATA",
        62 => "ETIME",
        63 => "ENOSR",
        64 => "ENONET",
        65 => "ENOPKG",
        66 => "EREMOTE",
        67 => "ENOLINK",
        68 => "EADV",
        69 => "ESRMNT",
        70 => "ECOMM",
        71 => "EPROTO",
        72 => "EMULTIHOP",
        73 => "EDOTDOT",
        74 => "EBADMSG",
        75 => "EOVERFLOW",
        76 => "ENOTUNIQ",
        77 => "EBADFD",
        78 => "EREMCHG",
        79 => "ELIBACC",
        80 => "ELIBBAD",
        81 => "ELIBSCN",
        82 => "ELIBMAX",
        83 => "ELIBEXEC",
        84 => "EILSEQ",
        85 => "ERESTART",
        86 => "ESTRPIPE",
        87 => "EUSERS",
        88 => "ENOTSOCK",
        89 => "EDESTADDRREQ",
        90 => "EMSGSIZE",
        91 => "EPROTOTYPE",
        92 => "ENOPROTOOPT",
        93 => "EPROTONOSUPPORT",
        94 => "ESOCKTNOSUPPORT",
        95 => "EOPNOTSUPP",
        96 => "EPFNOSUPPORT",
        97 => "EAFNOSUPPORT",
        98 => "EADDRINUSE",
        99 => "EADDRNOTAVAIL",
        100 => "ENETDOWN",
        101 => "ENETUNREACH",
        102 => "ENETRESET",
        103 => "ECONNABORTED",
        104 => "ECONNRESET",
        105 => "ENOBUFS",
        106 => "EISCONN",
        107 => "ENOTCONN",
        108 => "ESHUTDOWN",
        109 => "ETOOMANYREFS",
        110 => "ETIMEDOUT",
        111 => "ECONNREFUSED",
        112 => "EHOSTDOWN",
        113 => "EHOSTUNREACH",
        114 => "EALREADY",
        115 => "EINPROGRESS",
        116 => "ESTALE",
        117 => "EUCLEAN",
        118 => "ENOTNAM",
        119 => "ENAVAIL",
        120 => "EISNAM",
        121 => "EREMOTEIO",
        122 => "EDQUOT",
        123 => "ENOMEDIUM",
        124 => "EMEDIUMTYPE",
        125 => "ECANCELED",
        126 => "ENOKEY",
        127 => "EKEYEXPIRED",
        128 => "EKEYREVOKED",
        129 => "EKEYREJECTED",
        130 => "EOWNERDEAD",
        131 => "ENOTRECOVERABLE",
        132 => "ERFKILL",
        512 => "ERESTARTSYS",
        513 => "ERESTARTNOINTR",
        514 => "ERESTARTNOHAND",
        515 => "ENOIOCTLCMD",
        516 => "ERESTART_RESTARTBLOCK",
        517 => "EPROBE_DEFER",
        518 => "EOPENSTALE",
        519 => "ENOPARAM",
        521 => "EBADHANDLE",
        522 => "ENOTSYNC",
        523 => "EBADCOOKIE",
        524 => "ENOTSUPP",
        525 => "ETOOSMALL",
        526 => "ESERVERFAULT",
        527 => "EBADTYPE",
        528 => "EJUKEBOX",
        529 => "EIOCBQUEUED",
        530 => "ERECALLCONFLICT",
        _ => return format!("E{}", -e),
    };
    name.to_string()
}

/// An IP socket's name: its tuple, once both addresses are known.
pub(crate) fn socket_name(fd: &Fd) -> Option<String> {
    if fd.kind != fd_kind::IPV4_SOCK && fd.kind != fd_kind::IPV6_SOCK {
        return None;
    }
    let (s, d) = (ip(&fd.sip)?, ip(&fd.dip)?);
    Some(format!("{s}:{}->{d}:{}", fd.sport, fd.dport))
}

/// A listening (bound server) socket: its address is in `sip`/`sport`.
pub(crate) fn is_listener(fd: &Fd) -> bool {
    matches!(fd.kind, fd_kind::IPV4_SERVSOCK | fd_kind::IPV6_SERVSOCK)
}

/// The transport letter sysdig adds to a socket's kind in `evt.args` (`<4t>`, `<4u>`).
fn l4char(fd: &Fd) -> &'static [u8] {
    let inet = matches!(
        fd.kind,
        fd_kind::IPV4_SOCK | fd_kind::IPV6_SOCK | fd_kind::IPV4_SERVSOCK | fd_kind::IPV6_SERVSOCK
    );
    match fd.l4proto {
        crate::state::l4::TCP if inet => b"t",
        crate::state::l4::UDP if inet => b"u",
        crate::state::l4::ICMP if inet => b"i",
        crate::state::l4::RAW if inet => b"r",
        _ => b"",
    }
}

fn typechar(kind: u8) -> &'static [u8] {
    match kind {
        fd_kind::FILE | fd_kind::FILE_V2 => b"f",
        fd_kind::DIRECTORY => b"d",
        fd_kind::IPV4_SOCK | fd_kind::IPV4_SERVSOCK => b"4",
        fd_kind::IPV6_SOCK | fd_kind::IPV6_SERVSOCK => b"6",
        fd_kind::UNIX_SOCK | fd_kind::USERFAULTFD => b"u",
        fd_kind::FIFO => b"p",
        fd_kind::EVENT => b"e",
        fd_kind::SIGNALFD => b"s",
        fd_kind::EVENTPOLL => b"l",
        fd_kind::INOTIFY => b"i",
        fd_kind::TIMERFD => b"t",
        fd_kind::NETLINK => b"n",
        fd_kind::BPF => b"b",
        fd_kind::IOURING => b"r",
        fd_kind::MEMFD => b"m",
        fd_kind::PIDFD => b"P",
        _ => b"o",
    }
}

pub(crate) fn type_name(kind: u8) -> &'static [u8] {
    match kind {
        fd_kind::FILE | fd_kind::FILE_V2 => b"file",
        fd_kind::DIRECTORY => b"directory",
        fd_kind::IPV4_SOCK | fd_kind::IPV4_SERVSOCK => b"ipv4",
        fd_kind::IPV6_SOCK | fd_kind::IPV6_SERVSOCK => b"ipv6",
        fd_kind::UNIX_SOCK => b"unix",
        fd_kind::FIFO => b"pipe",
        fd_kind::EVENT => b"event",
        fd_kind::SIGNALFD => b"signalfd",
        fd_kind::EVENTPOLL => b"eventpoll",
        fd_kind::INOTIFY => b"inotify",
        fd_kind::TIMERFD => b"timerfd",
        fd_kind::NETLINK => b"netlink",
        fd_kind::MEMFD => b"memfd",
        _ => b"unknown",
    }
}

/// Linux's capability names, by bit.
const CAPABILITIES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// A capability set as libs shows it: the names of its bits, separated by spaces.
fn capabilities(set: u64) -> String {
    let names = CAPABILITIES.iter().enumerate().filter(|(bit, _)| set >> bit & 1 == 1);
    names.map(|(_, n)| *n).collect::<Vec<_>>().join(" ")
}

/// An fd as sysdig names it: `<` its type letter (and transport) `>` and its name (a
/// socket's by its tuple).
fn push_fd(out: &mut Vec<u8>, fd: &Fd) {
    out.push(b'<');
    out.extend_from_slice(typechar(fd.kind));
    out.extend_from_slice(l4char(fd));
    out.push(b'>');
    match socket_name(fd) {
        Some(tuple) => out.extend_from_slice(tuple.as_bytes()),
        None => out.extend_from_slice(&fd.name),
    }
}

/// An address as the state keeps it (4 or 16 bytes).
pub(crate) fn ip(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => Some(IpAddr::from(<[u8; 4]>::try_from(bytes).ok()?)),
        16 => Some(IpAddr::from(<[u8; 16]>::try_from(bytes).ok()?)),
        _ => None,
    }
}

/// A parameter as sysdig-style text (flags with their names, strings as they are).
pub fn render_param(ev: &Event<'_>, i: usize) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    render_param_into(ev, i, &mut out).then_some(out)
}

/// [`render_param`], appended to `out`; false (nothing written) when the event has no such
/// parameter or it does not decode.
pub fn render_param_into(ev: &Event<'_>, i: usize, out: &mut Vec<u8>) -> bool {
    use std::io::Write;
    let Some(info) = ev.info().and_then(|e| e.params.get(i)) else { return false };
    let Some(Ok(value)) = ev.param(i) else { return false };
    // Numbers print as the event table says: HEX in capitals without a prefix, OCT with a
    // leading 0 (as C's `%#o`).
    let number = |out: &mut Vec<u8>, v: u64| match info.format {
        "HEX" => write!(out, "{v:X}"),
        "OCT" if v != 0 => write!(out, "0{v:o}"),
        _ => {
            push_uint(out, v);
            Ok(())
        }
    };
    let _ = match value {
        // An empty buffer shows as nothing, an empty tuple, fd list or dynamic value as NULL,
        // anything else as <NA> (as sysdig shows the captures of its time).
        Value::Empty => {
            let null =
                matches!(info.kind, ParamType::SockTuple | ParamType::FdList | ParamType::Dyn);
            match info.kind {
                ParamType::Bytebuf | ParamType::CharbufArray | ParamType::CharbufPairArray => {}
                _ => out.extend_from_slice(if null { b"NULL" } else { b"<NA>" }),
            }
            Ok(())
        }
        Value::Str(s) => {
            out.extend(s.iter().map(|&b| if b == 0 { b'.' } else { b }));
            Ok(())
        }
        // A tracer's tags show as `a.b`, its arguments as `n:v,n:v`, as sysdig showed them.
        Value::StrList(s) => {
            let items = s.strip_suffix(b"\0").unwrap_or(s).split(|&b| b == 0);
            let items = items.filter(|_| !s.is_empty());
            if info.kind == ParamType::CharbufPairArray {
                for (i, item) in items.enumerate() {
                    if i > 0 {
                        out.push(if i % 2 == 1 { b':' } else { b',' });
                    }
                    out.extend_from_slice(item);
                }
            } else {
                for (i, item) in items.enumerate() {
                    if i > 0 {
                        out.push(b'.');
                    }
                    out.extend_from_slice(item);
                }
            }
            Ok(())
        }
        Value::Bytes(s) => {
            push_buffer(out, s);
            Ok(())
        }
        Value::Flags(v) | Value::Enum(v) => {
            let is_enum = matches!(
                info.kind,
                ParamType::EnumFlags8 | ParamType::EnumFlags16 | ParamType::EnumFlags32
            );
            let names = info
                .table
                .map(|t| table().flag_names(t, u64::from(v), is_enum))
                .unwrap_or_default();
            if names.is_empty() { write!(out, "{v}") } else { write!(out, "{v}({names})") }
        }
        Value::Errno(v) if v < 0 => write!(out, "{v}({})", errno_name(v)),
        Value::Errno(v) if info.format == "HEX" => number(out, v as u64),
        Value::Fd(-100) => write!(out, "-100(AT_FDCWD)"),
        Value::Fd(v) if v < 0 => write!(out, "{v}({})", errno_name(v)),
        Value::Int(v) if info.format == "HEX" || info.format == "OCT" => number(out, v as u64),
        Value::Int(v) | Value::Errno(v) | Value::Fd(v) | Value::Pid(v) => {
            push_int(out, v);
            Ok(())
        }
        // A 64-bit unsigned decimal shows signed, as sysdig prints it (`offset=-71`).
        Value::Uint(v) if info.kind == ParamType::Uint64 && info.format == "DEC" => {
            push_int(out, v as i64);
            Ok(())
        }
        Value::Uint(v) | Value::AbsTime(v) => number(out, v),
        Value::Uid(v) | Value::Gid(v) | Value::Mode(v) | Value::SigSet(v) => {
            number(out, u64::from(v))
        }
        Value::Port(v) => number(out, u64::from(v)),
        Value::SockTuple(t) => {
            push_tuple(out, &t);
            Ok(())
        }
        Value::SockAddr(a) => match a {
            dredge_format::param::SockAddr::V4 { ip, port } => write!(out, "{ip}:{port}"),
            dredge_format::param::SockAddr::V6 { ip, port } => write!(out, "{ip}:{port}"),
            dredge_format::param::SockAddr::Unix { path } => {
                out.extend_from_slice(path.strip_suffix(&[0]).unwrap_or(path));
                Ok(())
            }
            dredge_format::param::SockAddr::Other { family, .. } => write!(out, "family {family}"),
        },
        Value::FdList(fds) => {
            for (n, (fd, flags)) in fds.iter().enumerate() {
                let sep = if n == 0 { "" } else { " " };
                let _ = write!(out, "{sep}{fd}:?{flags:x}");
            }
            Ok(())
        }
        // A relative time also in seconds (`5000000(0.005s)`), as C's `%lg` writes them.
        Value::RelTime(u64::MAX) => write!(out, "none"),
        Value::RelTime(v) => write!(out, "{v}({}s)", general(v as f64 / 1e9)),
        other => write!(out, "{other:?}"),
    };
    true
}

/// A number as C's `%g` writes it: six significant digits, no trailing zeros, an exponent
/// below 1e-4 or from 1e6.
fn general(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let exp = v.abs().log10().floor() as i32;
    let trim = |s: String| {
        if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s }
    };
    if !(-4..6).contains(&exp) {
        let text = format!("{v:.5e}");
        let (mantissa, e) = text.split_once('e').unwrap_or((&text, "0"));
        let e: i32 = e.parse().unwrap_or(0);
        let sign = if e < 0 { '-' } else { '+' };
        return format!("{}e{sign}{:02}", trim(mantissa.to_string()), e.abs());
    }
    let decimals = (5 - exp).max(0) as usize;
    trim(format!("{v:.decimals$}"))
}

/// Longest buffer `evt.args` shows (sysdig's default without `-v`); longer ones end in `...`.
const MAX_BUFFER_TEXT: usize = 80;

/// A buffer as sysdig shows it: printable ASCII as is, anything else as `.`, cut at
/// [`MAX_BUFFER_TEXT`].
fn push_buffer(out: &mut Vec<u8>, s: &[u8]) {
    let shown = |b: u8| if (0x20..0x7f).contains(&b) { b } else { b'.' };
    if s.len() > MAX_BUFFER_TEXT {
        out.extend(s[..MAX_BUFFER_TEXT - 3].iter().map(|&b| shown(b)));
        out.extend_from_slice(b"...");
    } else {
        out.extend(s.iter().map(|&b| shown(b)));
    }
}

/// A tuple as sysdig shows it: `sip:sport->dip:dport`, a unix one by its kernel addresses
/// and path.
fn push_tuple(out: &mut Vec<u8>, t: &SockTuple<'_>) {
    use std::io::Write;
    let _ = match t {
        SockTuple::V4 { sip, sport, dip, dport } => write!(out, "{sip}:{sport}->{dip}:{dport}"),
        SockTuple::V6 { sip, sport, dip, dport } => write!(out, "{sip}:{sport}->{dip}:{dport}"),
        SockTuple::Unix { source, dest, path } => {
            let _ = write!(out, "{source:x}->{dest:x} ");
            out.extend_from_slice(path.strip_suffix(&[0]).unwrap_or(path));
            Ok(())
        }
        SockTuple::Other { family, .. } => write!(out, "family {family}"),
    };
}

impl<'a> EventFields<'a> {
    pub fn new(event: &'a Event<'a>, view: &'a View, tables: &'a Tables) -> Self {
        EventFields { event, view, tables, merged: None }
    }

    /// The thread's process (its main thread).
    fn process(&self) -> Option<&'a Thread> {
        let t = self.thread()?;
        if t.pid == t.tid { Some(t) } else { self.view.process.as_deref() }
    }

    /// Where parameters come from.
    fn args(&self) -> &'a Event<'a> {
        self.merged.unwrap_or(self.event)
    }

    fn thread(&self) -> Option<&'a Thread> {
        self.view.thread.as_deref()
    }

    /// `evt.args`: every parameter as `name=value` followed by a space, as sysdig shows them.
    /// The event's own fd is shown with its kind and name (`fd=3(<f>/etc/passwd)`) and a pid
    /// of the thread, its process or its parent with the name (`ptid=3200(bash)`). A
    /// syscall without an event of its own shows none (sysdig names it in `evt.type`).
    fn args_text(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_args(&mut out);
        out
    }

    /// [`args_text`](EventFields::args_text), appended to `out`.
    fn write_args(&self, out: &mut Vec<u8>) {
        let ev = self.event;
        let Some(info) = ev.info() else { return };
        if info.params.first().is_some_and(|p| p.kind == ParamType::SyscallId) {
            return;
        }
        for (i, p) in info.params.iter().enumerate().take(ev.params.len()) {
            out.extend_from_slice(p.name.as_bytes());
            out.push(b'=');
            match ev.param(i) {
                Some(Ok(Value::Fd(n))) if n >= 0 => {
                    push_int(out, n);
                    if let Some(fd) = self.known_fd(n) {
                        out.push(b'(');
                        push_fd(out, fd);
                        out.push(b')');
                    }
                }
                Some(Ok(Value::FdList(fds))) => {
                    let named = self.view.named.as_deref();
                    for (k, (fd, flags)) in fds.iter().enumerate() {
                        if k > 0 {
                            out.push(b' ');
                        }
                        push_int(out, *fd);
                        out.push(b':');
                        let known = named.and_then(|n| n.fds.iter().find(|(m, _)| m == fd));
                        match known {
                            Some((_, f)) => out.extend_from_slice(typechar(f.kind)),
                            None => out.push(b'?'),
                        }
                        let _ = std::io::Write::write_fmt(out, format_args!("{flags:x}"));
                    }
                }
                Some(Ok(Value::Pid(n))) => {
                    push_int(out, n);
                    if n <= 0 {
                        out.push(b' ');
                        continue;
                    }
                    if let Some(t) = self.known_thread(n) {
                        out.push(b'(');
                        out.extend_from_slice(&t.comm);
                        out.push(b')');
                    }
                }
                _ => {
                    render_param_into(ev, i, out);
                }
            }
            out.push(b' ');
        }
    }

    /// Fd `n` of the event's process, when the view has it: the event's own fd, or one its
    /// parameters name.
    fn known_fd(&self, n: i64) -> Option<&'a Fd> {
        if self.view.fd_num == Some(n)
            && let Some(fd) = self.fd()
        {
            return Some(fd);
        }
        let named = self.view.named.as_deref()?;
        named.fds.iter().find(|(m, _)| *m == n).map(|(_, f)| &**f)
    }

    /// Thread `n`, when the view has it: the event's thread, process or parent, or one its
    /// parameters name.
    fn known_thread(&self, n: i64) -> Option<&'a Thread> {
        let parent = self.view.lineage.first().map(|p| &**p);
        let named = self.view.named.iter().flat_map(|n| n.threads.iter().map(|t| &**t));
        let mut known = [self.thread(), self.process(), parent].into_iter().flatten();
        known.find(|t| t.tid == n).or_else(|| named.into_iter().find(|t| t.tid == n))
    }

    /// The `data` parameter of an I/O event.
    fn data(&self) -> Option<&'a [u8]> {
        let args = self.args();
        let i = args.info()?.param_index("data")?;
        args.params.raw(i)
    }

    fn result(&self) -> Option<i64> {
        let args = self.args();
        if !code(args.code()).exit {
            return None;
        }
        match args.param(0)?.ok()? {
            Value::Errno(v) | Value::Fd(v) | Value::Pid(v) | Value::Int(v) => Some(v),
            Value::Uint(v) => Some(v as i64),
            _ => None,
        }
    }

    fn fd_num(&self) -> Option<i64> {
        self.view.fd_num
    }

    fn fd(&self) -> Option<&'a Fd> {
        self.view.fd.as_deref()
    }

    /// `fd.name`: the fd's name, or for an open that failed, the path it tried.
    fn fd_name(&self) -> Option<Cow<'a, [u8]>> {
        if let Some(f) = self.fd() {
            return Some(Cow::Borrowed(&f.name));
        }
        self.view.path.as_deref().map(Cow::Borrowed)
    }

    /// For a connect exit that failed: its tuple as sysdig shows it (`0->ffff... /path` for
    /// a unix socket).
    fn failed_connect(&self) -> Option<Vec<u8>> {
        let args = self.args();
        if code(args.code()).op != Op::Connect {
            return None;
        }
        match self.result() {
            Some(r) if r < 0 && r != -115 => {}
            _ => return None,
        }
        match args.param_named("tuple")?.ok()? {
            Value::SockTuple(SockTuple::V4 { sip, sport, dip, dport }) => {
                Some(format!("{sip}:{sport}->{dip}:{dport}").into_bytes())
            }
            Value::SockTuple(SockTuple::V6 { sip, sport, dip, dport }) => {
                Some(format!("{sip}:{sport}->{dip}:{dport}").into_bytes())
            }
            Value::SockTuple(SockTuple::Unix { source, dest, path }) => {
                let path = path.strip_suffix(&[0]).unwrap_or(path);
                let mut out = format!("{source:x}->{dest:x} ").into_bytes();
                out.extend_from_slice(path);
                Some(out)
            }
            _ => None,
        }
    }

    /// An exit event on an fd that is in no table (and no path names it).
    fn unknown_fd_exit(&self) -> bool {
        self.fd().is_none()
            && self.view.path.is_none()
            && self.fd_num().is_some()
            && code(self.event.code()).exit
    }

    /// The thread's ancestors, nearest first.
    fn ancestors(&self) -> &'a [Arc<Thread>] {
        &self.view.lineage
    }

    fn parent(&self) -> Option<&'a Thread> {
        self.view.lineage.first().map(|p| &**p)
    }

    fn container(&self) -> Option<&'a dredge_format::state::Container> {
        let id = &self.thread()?.container_id;
        self.tables.containers.get(id)
    }

    fn user(&self) -> Option<&'a dredge_format::state::User> {
        let t = self.thread()?;
        let users = &self.tables.users;
        users.get(&(t.container_id.clone(), t.uid)).or_else(|| users.get(&(String::new(), t.uid)))
    }

    fn open_flags(&self) -> Option<u32> {
        match self.args().param_named("flags") {
            Some(Ok(Value::Flags(f)))
                if matches!(self.event.name(), "open" | "openat" | "openat2") =>
            {
                Some(f)
            }
            _ => None,
        }
    }

    fn evt_arg(&self, name: &str) -> Extracted<'a> {
        let ev = self.event;
        let idx = match name.parse::<usize>() {
            Ok(i) => Some(i),
            Err(_) => ev.info().and_then(|e| e.param_index(name)),
        };
        let Some(i) = idx else { return Extracted::Missing };
        // As libs: the resolved text where there is one (flag names, an error's name, an
        // fd's type and name, a thread's command), else the value.
        match ev.param(i) {
            Some(Ok(Value::Flags(v) | Value::Enum(v) | Value::Mode(v))) => {
                let info = ev.info().and_then(|e| e.params.get(i));
                let is_enum = info.is_some_and(|p| {
                    matches!(
                        p.kind,
                        ParamType::EnumFlags8 | ParamType::EnumFlags16 | ParamType::EnumFlags32
                    )
                });
                let names = info
                    .and_then(|p| p.table)
                    .map(|t| table().flag_names(t, u64::from(v), is_enum))
                    .unwrap_or_default();
                if !names.is_empty() {
                    return text(names);
                }
            }
            Some(Ok(Value::SyscallId(id))) => {
                let name = table().syscall_name(id).filter(|n| *n != "unknown");
                return text(name.unwrap_or("<unknown>"));
            }
            Some(Ok(Value::Fd(-100))) => return text("AT_FDCWD"),
            Some(Ok(Value::Errno(v) | Value::Fd(v))) if v < 0 => return text(errno_name(v)),
            Some(Ok(Value::Fd(n))) => {
                if let Some(fd) = self.known_fd(n) {
                    let mut out = Vec::new();
                    push_fd(&mut out, fd);
                    return text(out);
                }
            }
            Some(Ok(Value::Pid(n))) if n > 0 => {
                if let Some(t) = self.known_thread(n) {
                    return borrowed(&t.comm);
                }
            }
            // Ids by name, as the event's container knows them.
            Some(Ok(Value::Uid(id))) => {
                let users = &self.tables.users;
                let container = self.thread().map(|t| t.container_id.clone()).unwrap_or_default();
                let user = users.get(&(container, id)).or_else(|| users.get(&(String::new(), id)));
                if let Some(u) = user {
                    return text(u.name.as_bytes().to_vec());
                }
            }
            Some(Ok(Value::Gid(id))) => {
                let groups = &self.tables.groups;
                let container = self.thread().map(|t| t.container_id.clone()).unwrap_or_default();
                let group =
                    groups.get(&(container, id)).or_else(|| groups.get(&(String::new(), id)));
                if let Some(g) = group {
                    return text(g.as_bytes().to_vec());
                }
            }
            _ => {}
        }
        render_param(ev, i).map_or(Extracted::Missing, text)
    }
}

impl<'a> Fields for EventFields<'a> {
    /// The fields every default `print` line shows that would otherwise make a value per
    /// event: the time and the arguments.
    fn write_text(&self, f: &FieldRef, out: &mut Vec<u8>) -> Option<bool> {
        if !f.transformers.is_empty() || f.composite.is_some() {
            return None;
        }
        match kind_of(f.spec.id) {
            F::EvtTime => {
                let mut b = [0u8; 18];
                Utc::time_of_day_bytes(self.event.ts(), &mut b);
                out.extend_from_slice(&b);
                Some(true)
            }
            F::EvtArgs => {
                self.write_args(out);
                Some(true)
            }
            _ => None,
        }
    }

    fn extract(&self, f: &FieldRef) -> Extracted<'_> {
        let ev = self.event;
        let name = f.name.as_str();
        if let Some(arg) = name.strip_prefix("evt.arg.") {
            return self.evt_arg(arg);
        }
        if name == "evt.arg" {
            return f.arg.as_deref().map_or(Extracted::Missing, |a| self.evt_arg(a));
        }
        let kind = kind_of(f.spec.id);
        let t = self.thread();
        let with_thread =
            |g: &dyn Fn(&Thread) -> Extracted<'static>| t.map_or(Extracted::Missing, g);
        match kind {
            F::EvtNum => uint(ev.num + 1),
            F::EvtType | F::SyscallType => {
                if ev.code() <= 1 {
                    if let Some(Ok(Value::SyscallId(id))) = ev.param(0) {
                        // sysdig shows a syscall it has no name for as `<unknown>`.
                        let name = table().syscall_name(id).filter(|n| *n != "unknown");
                        return text(name.unwrap_or("<unknown>"));
                    }
                }
                borrowed(ev.name().as_bytes())
            }
            F::EvtDir => borrowed(if ev.direction().symbol() == '>' { b">" } else { b"<" }),
            F::EvtCpu => uint(u64::from(ev.header.cpu)),
            F::EvtTime => {
                let mut b = [0u8; 18];
                Utc::from_ns(ev.ts()).time_bytes(&mut b);
                text(b.to_vec())
            }
            F::EvtTimeIso8601 => text(Utc::from_ns(ev.ts()).iso8601()),
            F::EvtTimeS => {
                let t = Utc::from_ns(ev.ts());
                text(format!("{:02}:{:02}:{:02}", t.hour, t.minute, t.second))
            }
            F::EvtDatetimeS => {
                let t = Utc::from_ns(ev.ts());
                text(format!(
                    "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
                    t.year, t.month, t.day, t.hour, t.minute, t.second
                ))
            }
            F::EvtDatetime => text(Utc::from_ns(ev.ts()).datetime()),
            F::EvtRawtime => uint(ev.ts()),
            F::EvtRawtimeS => uint(ev.ts() / 1_000_000_000),
            F::EvtRawtimeNs => uint(ev.ts() % 1_000_000_000),
            F::EvtHostname => text(self.tables.hostname.as_bytes().to_vec()),
            F::EvtSource => text("syscall"),
            F::EvtCategory => {
                text(ev.info().map_or("unknown", |e| e.category.split('|').next().unwrap_or("")))
            }
            F::EvtArgs => text(self.args_text()),
            // The I/O data as recorded (cut at the capture's snaplen), raw: libs compares the
            // raw bytes (its display form is sysdig's rendering, which dredge does not give
            // this field yet).
            F::EvtBuffer => self.data().map_or(Extracted::Missing, |d| text(d.to_vec())),
            // As libs: the return value of an I/O exit, when not an error.
            F::EvtBuflen => match (ev.info(), self.result()) {
                (Some(i), Some(v)) if v >= 0 && i.category.starts_with("io_") => int(v),
                _ => Extracted::Missing,
            },
            F::EvtRawres => self.result().map_or(Extracted::Missing, int),
            F::EvtRes => match self.result() {
                Some(v) if v >= 0 => text("SUCCESS"),
                Some(v) => text(errno_name(v)),
                None => Extracted::Missing,
            },
            F::EvtFailed => Extracted::One(Val::Bool(self.result().is_some_and(|v| v < 0))),
            F::EvtIsOpenRead | F::EvtIsOpenWrite | F::EvtIsOpenExec | F::EvtIsOpenCreate => {
                match self.open_flags() {
                    Some(fl) => {
                        let v = match name {
                            "evt.is_open_read" => fl & 1 != 0,
                            "evt.is_open_write" => fl & 2 != 0,
                            "evt.is_open_create" => fl & (1 << 2) != 0,
                            _ => false,
                        };
                        Extracted::One(Val::Bool(v))
                    }
                    None => Extracted::One(Val::Bool(false)),
                }
            }
            F::ProcName => t.map_or(Extracted::Missing, |t| borrowed(&t.comm)),
            F::ProcExe => t.map_or(Extracted::Missing, |t| borrowed(&t.exe)),
            F::ProcExepath => t.map_or(Extracted::Missing, |t| borrowed(&t.exepath)),
            F::ProcArgs => with_thread(&|t| text(args_line(t))),
            F::ProcCmdline => with_thread(&|t| text(cmdline(t))),
            F::ProcCwd => t.map_or(Extracted::Missing, |t| borrowed(&t.cwd)),
            F::ProcPid => with_thread(&|t| int(t.pid)),
            F::ProcVpid => with_thread(&|t| int(t.vpid)),
            F::ProcTty => with_thread(&|t| uint(u64::from(t.tty))),
            F::ProcSid => with_thread(&|t| int(t.sid)),
            F::ThreadCapEffective => with_thread(&|t| text(capabilities(t.cap_effective))),
            F::ProcIsExeWritable => with_thread(&|t| boolean(t.exe_writable)),
            F::ProcIsExeUpperLayer => with_thread(&|t| boolean(t.exe_upper_layer)),
            F::ProcIsExeFromMemfd => with_thread(&|t| boolean(t.exe_from_memfd)),
            F::ProcIsExeWritten => with_thread(&|t| boolean(t.exe_written)),
            // As libs: the fd's type, and its name (a socket's by its tuple).
            F::ProcStdType(n) => match &self.view.stdio[n] {
                Some(fd) => borrowed(type_name(fd.kind)),
                None => Extracted::Missing,
            },
            F::ProcStdName(n) => match &self.view.stdio[n] {
                Some(fd) => match socket_name(fd) {
                    Some(tuple) => text(tuple),
                    None => borrowed(&fd.name),
                },
                None => Extracted::Missing,
            },
            F::ThreadTid => int(ev.tid()),
            F::ThreadVtid => with_thread(&|t| int(t.vtid)),
            // A thread whose process the capture never showed has a stand-in process with no
            // parent (-1), as libsinsp makes one.
            F::ProcPpid => match (t, self.process()) {
                (_, Some(m)) => int(m.ptid),
                (Some(_), None) => int(-1),
                (None, None) => Extracted::Missing,
            },
            F::ProcPname | F::ProcPexe | F::ProcPexepath | F::ProcPcmdline => {
                match t.and(self.parent()) {
                    Some(p) => match kind {
                        F::ProcPname => borrowed(&p.comm),
                        F::ProcPexe => borrowed(&p.exe),
                        F::ProcPexepath => borrowed(&p.exepath),
                        _ => text(cmdline(p)),
                    },
                    None => Extracted::Missing,
                }
            }
            F::ProcAname | F::ProcApid | F::ProcAexe | F::ProcAexepath | F::ProcAcmdline => {
                let Some(t) = t else { return Extracted::Missing };
                let pick = |t: &'a Thread| -> Val<'a> {
                    match kind {
                        F::ProcAname => Val::Bytes(Cow::Borrowed(&t.comm)),
                        F::ProcApid => Val::Int(t.pid),
                        F::ProcAexe => Val::Bytes(Cow::Borrowed(&t.exe)),
                        F::ProcAexepath => Val::Bytes(Cow::Borrowed(&t.exepath)),
                        _ => Val::Bytes(Cow::Owned(cmdline(t))),
                    }
                };
                let ancestors = self.ancestors();
                match f.arg.as_deref().map(str::parse::<usize>) {
                    Some(Ok(0)) => Extracted::One(pick(t)),
                    Some(Ok(n)) => {
                        ancestors.get(n - 1).map_or(Extracted::Missing, |a| Extracted::One(pick(a)))
                    }
                    Some(Err(_)) => Extracted::Missing,
                    None if !ancestors.is_empty() => {
                        Extracted::Many(ancestors.iter().map(|a| pick(a)).collect())
                    }
                    None => Extracted::Missing,
                }
            }
            F::UserUid => with_thread(&|t| uint(u64::from(t.uid))),
            F::UserLoginuid => with_thread(&|t| {
                int(if t.loginuid == u32::MAX { -1 } else { i64::from(t.loginuid) })
            }),
            F::UserName | F::UserHomedir | F::UserShell => match (t, self.user()) {
                (Some(_), Some(u)) => match name {
                    "user.name" => text(u.name.as_bytes().to_vec()),
                    "user.homedir" => text(u.home.as_bytes().to_vec()),
                    _ => text(u.shell.as_bytes().to_vec()),
                },
                (Some(t), None) if t.uid == 0 && name == "user.name" => text("root"),
                (Some(_), None) => text("<NA>"),
                (None, _) => Extracted::Missing,
            },
            F::GroupGid => with_thread(&|t| uint(u64::from(t.gid))),
            F::GroupName => match t {
                Some(t) => {
                    let g = self
                        .tables
                        .groups
                        .get(&(t.container_id.clone(), t.gid))
                        .or_else(|| self.tables.groups.get(&(String::new(), t.gid)));
                    text(g.map_or("<NA>".as_bytes().to_vec(), |g| g.as_bytes().to_vec()))
                }
                None => Extracted::Missing,
            },
            F::FdNum => self.fd_num().map_or(Extracted::Missing, int),
            // A failed connect shows the tuple it tried (the socket keeps its old name).
            F::FdName | F::FdNameraw => match (self.fd(), self.fd_name()) {
                _ if let Some(tuple) = self.failed_connect() => text(tuple),
                (Some(fd), _) => match socket_name(fd) {
                    Some(tuple) => text(tuple),
                    None => borrowed(&fd.name),
                },
                (None, Some(n)) if !n.is_empty() => Extracted::One(Val::Bytes(n)),
                (None, _) if self.unknown_fd_exit() => borrowed(b""),
                (None, _) => Extracted::Missing,
            },
            // An exit on an fd the capture never showed: no name, in no directory but the root
            // (as sysdig shows it).
            F::FdDirectory if self.unknown_fd_exit() => borrowed(b"/"),
            // Only files have a directory and a file name (not directories, not sockets).
            F::FdDirectory | F::FdFilename
                if self
                    .fd()
                    .is_some_and(|f| !matches!(f.kind, fd_kind::FILE | fd_kind::FILE_V2)) =>
            {
                Extracted::Missing
            }
            F::FdDirectory | F::FdFilename => match self.fd_name() {
                Some(n) if n.starts_with(b"/") => {
                    let cut = n.iter().rposition(|&c| c == b'/').unwrap_or(0);
                    if name == "fd.directory" {
                        text(if cut == 0 { b"/".to_vec() } else { n[..cut].to_vec() })
                    } else {
                        text(n[cut + 1..].to_vec())
                    }
                }
                _ => Extracted::Missing,
            },
            F::FdTypechar => match self.fd() {
                Some(fd) => borrowed(typechar(fd.kind)),
                None if self.fd_name().is_some() => borrowed(b"f"),
                // An fd the capture never showed is of an unknown kind.
                None if self.fd_num().is_some() => borrowed(b"o"),
                None => Extracted::Missing,
            },
            F::FdType => self.fd().map_or(Extracted::Missing, |fd| borrowed(type_name(fd.kind))),
            // A listening socket has one address, its own: the server's (as libs, its client
            // side has no value).
            F::FdSip | F::FdCip | F::FdRip | F::FdLip => {
                match self.fd().and_then(|fd| match (is_listener(fd), name) {
                    (true, "fd.sip" | "fd.lip") => ip(&fd.sip),
                    (true, _) => None,
                    (false, "fd.sip" | "fd.rip") => ip(&fd.dip),
                    (false, _) => ip(&fd.sip),
                }) {
                    Some(a) => Extracted::One(Val::Ip(a)),
                    None => Extracted::Missing,
                }
            }
            // A port is known once the socket's side is (connect, accept); of a socket listed
            // at the start, a port of 0 says nothing.
            F::FdSport | F::FdLport if self.fd().is_some_and(is_listener) => {
                self.fd().map_or(Extracted::Missing, |f| uint(u64::from(f.sport)))
            }
            F::FdSport | F::FdRport => self
                .fd()
                .filter(|f| !is_listener(f) && (f.dport != 0 || f.role != Role::Unknown))
                .map_or(Extracted::Missing, |f| uint(u64::from(f.dport))),
            F::FdCport | F::FdLport => self
                .fd()
                .filter(|f| !is_listener(f) && (f.sport != 0 || f.role != Role::Unknown))
                .map_or(Extracted::Missing, |f| uint(u64::from(f.sport))),
            F::ContainerId => with_thread(&|t| {
                text(if t.container_id.is_empty() { "host".into() } else { t.container_id.clone() })
            }),
            F::ContainerName
            | F::ContainerImage
            | F::ContainerImageRepository
            | F::ContainerImageTag
            | F::ContainerImageId
            | F::ContainerType
            | F::ContainerPrivileged
            | F::ContainerFullId => match t {
                Some(t) if t.container_id.is_empty() => match name {
                    "container.name" => text("host"),
                    _ => Extracted::Missing,
                },
                Some(_) => match self.container() {
                    // A detail the runtime left empty has no value, as sysdig shows it.
                    Some(c) => match name {
                        "container.name" => known(&c.name),
                        "container.image" => known(&c.image),
                        "container.image.repository" => known(&c.image_repo),
                        "container.image.tag" => known(&c.image_tag),
                        "container.image.id" => known(&c.image_id),
                        "container.full_id" => known(&c.full_id),
                        "container.type" => text(c.runtime.clone()),
                        _ => Extracted::One(Val::Bool(c.privileged)),
                    },
                    None => Extracted::Missing,
                },
                None => Extracted::Missing,
            },
            F::Span(field) => match &self.view.span {
                Some(span) => {
                    // `span.arg.NAME` and `span.enterarg.NAME` carry their argument in the name.
                    let dotted = ["span.arg.", "span.enterarg."]
                        .iter()
                        .find_map(|base| name.strip_prefix(base));
                    crate::spans::fields::extract(field, f.arg.as_deref().or(dotted), span)
                }
                None => Extracted::Missing,
            },
            F::In(scope, field) => {
                let Some(inside) = &self.view.inside else { return Extracted::Missing };
                let asker = match (t, self.process()) {
                    (Some(t), p) => Asker { tid: ev.tid(), pid: t.pid, ppid: p.unwrap_or(t).ptid },
                    (None, _) => Asker { tid: ev.tid(), pid: ev.tid(), ppid: -1 },
                };
                // `evtin.span.arg.NAME` carries its argument in the name.
                let dotted = name.split_once(".arg.").map(|(_, a)| a);
                crate::spans::fields::extract_in(
                    scope,
                    field,
                    f.arg.as_deref().or(dotted),
                    inside,
                    asker,
                )
            }
            // evt.arg is answered by name above.
            F::EvtArg | F::Other => Extracted::Missing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_kind_is_a_catalogue_field() {
        let table = dredge_rules::catalogue::fields();
        for (name, kind) in KINDS {
            let id = table.iter().position(|d| d.name == *name);
            let id = id.unwrap_or_else(|| panic!("{name} is not in the catalogue"));
            assert_eq!(kind_of(id as u32), *kind, "{name}");
        }
    }
}

#[cfg(test)]
mod render_tests {
    use super::general;

    #[test]
    fn general_writes_numbers_as_c_does() {
        for (v, text) in [
            (0.0, "0"),
            (1.0, "1"),
            (0.005, "0.005"),
            (0.0012345678, "0.00123457"),
            (123456.0, "123456"),
            (1234567.0, "1.23457e+06"),
            (0.00001, "1e-05"),
        ] {
            assert_eq!(general(v), text, "{v}");
        }
    }
}
