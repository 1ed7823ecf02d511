//! Field values for rules: an event together with the reconstructed state.
//!
//! [`EventFields`] answers the rules engine's `extract` for the fields of the catalogue that
//! replay supports, with Falco's semantics: a value that cannot be known is missing (the check
//! is false), except the few fields Falco fills with the text `<NA>`.

use std::borrow::Cow;
use std::net::IpAddr;

use dredge_format::event::Event;
use dredge_format::param::{ParamType, Value};
use dredge_format::state::fd_kind;
use dredge_format::table::table;
use dredge_format::time::Utc;
use dredge_rules::compile::FieldRef;
use dredge_rules::eval::{Extracted, Fields, Val};

use crate::state::{Fd, State, Thread};

/// One event in its context.
pub struct EventFields<'a> {
    pub event: &'a Event<'a>,
    pub state: &'a State,
    /// The same event with its enter's parameters merged in, when it is shown as recorded
    /// (`dredge print`): fd, path and result fields come from it, as sysdig takes them from
    /// the enter event.
    pub merged: Option<&'a Event<'a>>,
}

fn text(b: impl Into<Vec<u8>>) -> Extracted<'static> {
    Extracted::One(Val::Bytes(Cow::Owned(b.into())))
}

fn borrowed(b: &[u8]) -> Extracted<'_> {
    Extracted::One(Val::Bytes(Cow::Borrowed(b)))
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

fn cmdline(t: &Thread) -> Vec<u8> {
    let mut out = t.comm.clone();
    if !t.args.is_empty() {
        out.push(b' ');
        out.extend_from_slice(&args_line(t));
    }
    out
}

/// Names of common errno values, as `evt.res` prints them.
fn errno_name(e: i64) -> String {
    let name = match -e {
        1 => "EPERM",
        2 => "ENOENT",
        3 => "ESRCH",
        4 => "EINTR",
        5 => "EIO",
        9 => "EBADF",
        11 => "EAGAIN",
        12 => "ENOMEM",
        13 => "EACCES",
        14 => "EFAULT",
        16 => "EBUSY",
        17 => "EEXIST",
        20 => "ENOTDIR",
        21 => "EISDIR",
        22 => "EINVAL",
        24 => "EMFILE",
        28 => "ENOSPC",
        32 => "EPIPE",
        38 => "ENOSYS",
        39 => "ENOTEMPTY",
        95 => "EOPNOTSUPP",
        98 => "EADDRINUSE",
        104 => "ECONNRESET",
        110 => "ETIMEDOUT",
        111 => "ECONNREFUSED",
        115 => "EINPROGRESS",
        _ => return format!("E{}", -e),
    };
    name.to_string()
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

fn type_name(kind: u8) -> &'static [u8] {
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

fn ip(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => Some(IpAddr::from(<[u8; 4]>::try_from(bytes).ok()?)),
        16 => Some(IpAddr::from(<[u8; 16]>::try_from(bytes).ok()?)),
        _ => None,
    }
}

/// A parameter as sysdig-style text (flags with their names, strings as they are).
pub fn render_param(ev: &Event<'_>, i: usize) -> Option<Vec<u8>> {
    let info = ev.info()?.params.get(i)?;
    let value = ev.param(i)?.ok()?;
    Some(match value {
        Value::Empty => b"<NA>".to_vec(),
        Value::Str(s) | Value::Bytes(s) => {
            s.iter().map(|&b| if b == 0 { b'.' } else { b }).collect()
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
            if names.is_empty() {
                v.to_string().into_bytes()
            } else {
                format!("{v}({names})").into_bytes()
            }
        }
        Value::Errno(v) if v < 0 => format!("{v}({})", errno_name(v)).into_bytes(),
        Value::Int(v) | Value::Errno(v) | Value::Fd(v) | Value::Pid(v) => {
            v.to_string().into_bytes()
        }
        Value::Uint(v) | Value::RelTime(v) | Value::AbsTime(v) => v.to_string().into_bytes(),
        Value::Uid(v) | Value::Gid(v) | Value::Mode(v) | Value::SigSet(v) => {
            v.to_string().into_bytes()
        }
        other => format!("{other:?}").into_bytes(),
    })
}

impl<'a> EventFields<'a> {
    pub fn new(event: &'a Event<'a>, state: &'a State) -> Self {
        EventFields { event, state, merged: None }
    }

    /// Where parameters come from.
    fn args(&self) -> &'a Event<'a> {
        self.merged.unwrap_or(self.event)
    }

    fn thread(&self) -> Option<&'a Thread> {
        self.state.thread(self.event.tid())
    }

    /// The syscall's return value: its `res` parameter (or the returned `fd`).
    fn result(&self) -> Option<i64> {
        let args = self.args();
        match args.param_named("res").or_else(|| args.param_named("fd")) {
            Some(Ok(Value::Errno(v) | Value::Fd(v) | Value::Pid(v) | Value::Int(v))) => Some(v),
            Some(Ok(Value::Uint(v))) => Some(v as i64),
            _ => None,
        }
    }

    /// The fd the event acts on: its `fd` parameter, else a non-negative `res`.
    fn fd_num(&self) -> Option<i64> {
        // Only events that use, make or close an fd have one (mmap's fd parameter is not
        // the event's fd, as libsinsp sees it).
        use dredge_format::table::flag;
        let info = self.event.info()?;
        if !(info.has_flag(flag::USES_FD)
            || info.has_flag(flag::CREATES_FD)
            || info.has_flag(flag::DESTROYS_FD))
        {
            return None;
        }
        match self.args().param_named("fd") {
            Some(Ok(Value::Fd(v))) => Some(v),
            _ => match self.args().param_named("res") {
                Some(Ok(Value::Fd(v))) if v >= 0 => Some(v),
                _ => None,
            },
        }
    }

    fn fd(&self) -> Option<&'a Fd> {
        let t = self.thread()?;
        self.state.fd(t, self.fd_num()?)
    }

    /// `fd.name`: the fd's name, or for an open that failed, the path it tried.
    fn fd_name(&self) -> Option<Cow<'a, [u8]>> {
        if let Some(f) = self.fd() {
            return Some(Cow::Borrowed(&f.name));
        }
        matches!(self.event.name(), "open" | "openat" | "openat2" | "creat")
            .then(|| Cow::Owned(self.state.resolve(self.args(), self.event.tid())))
    }

    fn ancestors(&self) -> Vec<&'a Thread> {
        let mut out = Vec::new();
        let mut cur = self.thread();
        while let Some(t) = cur {
            match self.state.parent(t) {
                Some(p) if out.len() < 64 => {
                    out.push(p);
                    cur = Some(p);
                }
                _ => break,
            }
        }
        out
    }

    fn container(&self) -> Option<&'a dredge_format::state::Container> {
        let id = &self.thread()?.container_id;
        self.state.containers.get(id)
    }

    fn user(&self) -> Option<&'a dredge_format::state::User> {
        let t = self.thread()?;
        self.state
            .users
            .get(&(t.container_id.clone(), t.uid))
            .or_else(|| self.state.users.get(&(String::new(), t.uid)))
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
        match idx.and_then(|i| render_param(ev, i)) {
            Some(b) => text(b),
            None => Extracted::Missing,
        }
    }
}

impl Fields for EventFields<'_> {
    fn extract(&self, f: &FieldRef) -> Extracted<'_> {
        let ev = self.event;
        let name = f.name.as_str();
        if let Some(arg) = name.strip_prefix("evt.arg.") {
            return self.evt_arg(arg);
        }
        if name == "evt.arg" {
            return f.arg.as_deref().map_or(Extracted::Missing, |a| self.evt_arg(a));
        }
        let t = self.thread();
        let with_thread =
            |g: &dyn Fn(&Thread) -> Extracted<'static>| t.map_or(Extracted::Missing, g);
        match name {
            "evt.num" => uint(ev.num + 1),
            "evt.type" | "syscall.type" => {
                if ev.code() <= 1 {
                    if let Some(Ok(Value::SyscallId(id))) = ev.param(0) {
                        // sysdig shows a syscall it has no name for as `<unknown>`.
                        let name = table().syscall_name(id).filter(|n| *n != "unknown");
                        return text(name.unwrap_or("<unknown>"));
                    }
                }
                borrowed(ev.name().as_bytes())
            }
            "evt.dir" => text(vec![ev.direction().symbol() as u8]),
            "evt.cpu" => uint(u64::from(ev.header.cpu)),
            "evt.time" => text(Utc::from_ns(ev.ts()).time()),
            "evt.time.iso8601" => text(Utc::from_ns(ev.ts()).iso8601()),
            "evt.time.s" => {
                let t = Utc::from_ns(ev.ts());
                text(format!("{:02}:{:02}:{:02}", t.hour, t.minute, t.second))
            }
            "evt.datetime.s" => {
                let t = Utc::from_ns(ev.ts());
                text(format!(
                    "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
                    t.year, t.month, t.day, t.hour, t.minute, t.second
                ))
            }
            "evt.datetime" => text(Utc::from_ns(ev.ts()).datetime()),
            "evt.rawtime" => uint(ev.ts()),
            "evt.rawtime.s" => uint(ev.ts() / 1_000_000_000),
            "evt.rawtime.ns" => uint(ev.ts() % 1_000_000_000),
            "evt.hostname" => text(self.state.hostname.as_bytes().to_vec()),
            "evt.source" => text("syscall"),
            "evt.category" => {
                text(ev.info().map_or("unknown", |e| e.category.split('|').next().unwrap_or("")))
            }
            "evt.args" => {
                let n = ev.params.len();
                let info = ev.info();
                let mut out = Vec::new();
                for i in 0..n {
                    let Some(p) = info.and_then(|e| e.params.get(i)) else { break };
                    if i > 0 {
                        out.push(b' ');
                    }
                    out.extend_from_slice(p.name.as_bytes());
                    out.push(b'=');
                    out.extend(render_param(ev, i).unwrap_or_default());
                }
                text(out)
            }
            "evt.rawres" => self.result().map_or(Extracted::Missing, int),
            "evt.res" => match self.result() {
                Some(v) if v >= 0 => text("SUCCESS"),
                Some(v) => text(errno_name(v)),
                None => Extracted::Missing,
            },
            "evt.failed" => Extracted::One(Val::Bool(self.result().is_some_and(|v| v < 0))),
            "evt.is_open_read" | "evt.is_open_write" | "evt.is_open_exec"
            | "evt.is_open_create" => match self.open_flags() {
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
            },
            "proc.name" => with_thread(&|t| text(t.comm.clone())),
            "proc.exe" => with_thread(&|t| text(t.exe.clone())),
            "proc.exepath" => with_thread(&|t| text(t.exepath.clone())),
            "proc.args" => with_thread(&|t| text(args_line(t))),
            "proc.cmdline" => with_thread(&|t| text(cmdline(t))),
            "proc.cwd" => with_thread(&|t| text(t.cwd.clone())),
            "proc.pid" => with_thread(&|t| int(t.pid)),
            "proc.vpid" => with_thread(&|t| int(t.vpid)),
            "proc.tty" => with_thread(&|t| uint(u64::from(t.tty))),
            "proc.sid" => with_thread(&|t| int(t.sid)),
            "thread.tid" => int(ev.tid()),
            "thread.vtid" => with_thread(&|t| int(t.vtid)),
            "proc.ppid" => t
                .and_then(|t| self.state.threads.get(&t.pid))
                .map_or(Extracted::Missing, |m| int(m.ptid)),
            "proc.pname" | "proc.pexe" | "proc.pexepath" | "proc.pcmdline" => {
                match t.and_then(|t| self.state.parent(t)) {
                    Some(p) => match name {
                        "proc.pname" => text(p.comm.clone()),
                        "proc.pexe" => text(p.exe.clone()),
                        "proc.pexepath" => text(p.exepath.clone()),
                        _ => text(cmdline(p)),
                    },
                    None => Extracted::Missing,
                }
            }
            "proc.aname" | "proc.apid" | "proc.aexe" | "proc.aexepath" | "proc.acmdline" => {
                let mut chain: Vec<&Thread> = t.into_iter().collect();
                chain.extend(self.ancestors());
                let pick = |t: &Thread| -> Val<'static> {
                    match name {
                        "proc.aname" => Val::Bytes(Cow::Owned(t.comm.clone())),
                        "proc.apid" => Val::Int(t.pid),
                        "proc.aexe" => Val::Bytes(Cow::Owned(t.exe.clone())),
                        "proc.aexepath" => Val::Bytes(Cow::Owned(t.exepath.clone())),
                        _ => Val::Bytes(Cow::Owned(cmdline(t))),
                    }
                };
                match f.arg.as_deref().map(str::parse::<usize>) {
                    Some(Ok(n)) => {
                        chain.get(n).map_or(Extracted::Missing, |t| Extracted::One(pick(t)))
                    }
                    Some(Err(_)) => Extracted::Missing,
                    None if chain.len() > 1 => {
                        Extracted::Many(chain[1..].iter().map(|t| pick(t)).collect())
                    }
                    None => Extracted::Missing,
                }
            }
            "user.uid" => with_thread(&|t| uint(u64::from(t.uid))),
            "user.loginuid" => with_thread(&|t| {
                int(if t.loginuid == u32::MAX { -1 } else { i64::from(t.loginuid) })
            }),
            "user.name" | "user.homedir" | "user.shell" => match (t, self.user()) {
                (Some(_), Some(u)) => match name {
                    "user.name" => text(u.name.as_bytes().to_vec()),
                    "user.homedir" => text(u.home.as_bytes().to_vec()),
                    _ => text(u.shell.as_bytes().to_vec()),
                },
                (Some(t), None) if t.uid == 0 && name == "user.name" => text("root"),
                (Some(_), None) => text("<NA>"),
                (None, _) => Extracted::Missing,
            },
            "group.gid" => with_thread(&|t| uint(u64::from(t.gid))),
            "group.name" => match t {
                Some(t) => {
                    let g = self
                        .state
                        .groups
                        .get(&(t.container_id.clone(), t.gid))
                        .or_else(|| self.state.groups.get(&(String::new(), t.gid)));
                    text(g.map_or("<NA>".as_bytes().to_vec(), |g| g.as_bytes().to_vec()))
                }
                None => Extracted::Missing,
            },
            "fd.num" => self.fd_num().map_or(Extracted::Missing, int),
            "fd.name" | "fd.nameraw" => match (self.fd(), self.fd_name()) {
                (Some(fd), _) if fd.kind == fd_kind::IPV4_SOCK || fd.kind == fd_kind::IPV6_SOCK => {
                    match (ip(&fd.sip), ip(&fd.dip)) {
                        (Some(s), Some(d)) => text(format!("{s}:{}->{d}:{}", fd.sport, fd.dport)),
                        _ => borrowed(&fd.name),
                    }
                }
                (Some(fd), _) => borrowed(&fd.name),
                (None, Some(n)) if !n.is_empty() => Extracted::One(Val::Bytes(n)),
                (None, _) => Extracted::Missing,
            },
            "fd.directory" | "fd.filename" => match self.fd_name() {
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
            "fd.typechar" => match self.fd() {
                Some(fd) => borrowed(typechar(fd.kind)),
                None if self.fd_name().is_some() => borrowed(b"f"),
                None => Extracted::Missing,
            },
            "fd.type" => self.fd().map_or(Extracted::Missing, |fd| borrowed(type_name(fd.kind))),
            "fd.sip" | "fd.cip" | "fd.rip" | "fd.lip" => match self.fd().and_then(|fd| {
                if matches!(name, "fd.sip" | "fd.rip") { ip(&fd.dip) } else { ip(&fd.sip) }
            }) {
                Some(a) => Extracted::One(Val::Ip(a)),
                None => Extracted::Missing,
            },
            "fd.sport" | "fd.rport" => self
                .fd()
                .filter(|f| f.dport != 0)
                .map_or(Extracted::Missing, |f| uint(u64::from(f.dport))),
            "fd.cport" | "fd.lport" => self
                .fd()
                .filter(|f| f.sport != 0)
                .map_or(Extracted::Missing, |f| uint(u64::from(f.sport))),
            "container.id" => with_thread(&|t| {
                text(if t.container_id.is_empty() { "host".into() } else { t.container_id.clone() })
            }),
            "container.name"
            | "container.image"
            | "container.image.repository"
            | "container.image.tag"
            | "container.image.id"
            | "container.type"
            | "container.privileged"
            | "container.full_id" => match t {
                Some(t) if t.container_id.is_empty() => match name {
                    "container.name" => text("host"),
                    _ => Extracted::Missing,
                },
                Some(_) => match self.container() {
                    Some(c) => match name {
                        "container.name" => text(c.name.clone()),
                        "container.image" => text(c.image.clone()),
                        "container.image.repository" => text(c.image_repo.clone()),
                        "container.image.tag" => text(c.image_tag.clone()),
                        "container.image.id" => text(c.image_id.clone()),
                        "container.full_id" => text(c.full_id.clone()),
                        "container.type" => text(c.runtime.clone()),
                        _ => Extracted::One(Val::Bool(c.privileged)),
                    },
                    None => Extracted::Missing,
                },
                None => Extracted::Missing,
            },
            _ => Extracted::Missing,
        }
    }
}
