//! `export`: a dcap written back as a scap file that sysdig and Falco read.
//!
//! The state at the start of the capture becomes the scap metadata blocks (machine,
//! interfaces, users, one process list, one fd list per thread); events become event blocks
//! with their raw parameters, flags and all. State blocks derived from meta events are skipped
//! (the events are already there). A later state block that is not derived starts a new
//! section, the way concatenated scap captures restate the system.
//!
//! The process list is written in the newest layout (PL_V9). Its open-ended tail is cut to the
//! 29 bytes readers before libs 0.10 expect when the newer fields are all unset, which both old
//! and new readers parse the same way.
//!
//! Strings in the metadata blocks are cut to the lengths libscap keeps (a 4 KiB command line,
//! 1 KiB paths): its reader refuses the whole file over one longer string. The dcap keeps them
//! whole, so only the export loses the tail.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use super::code;
use crate::block::{BlockKind, FLAG_DERIVED};
use crate::error::Error;
use crate::event::Event;
use crate::reader::Capture;
use crate::state::{Container, Fd, FdTable, Interface, Machine, State, Thread, User, fd_kind};
use crate::table::{flag, table};

/// What an export wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ExportSummary {
    pub events: u64,
    pub sections: u32,
    pub bytes: u64,
    /// Event blocks that could not be read (damage in the source); their events are missing.
    pub damaged_blocks: u64,
}

/// A scap block being assembled: `block_type`, body, then padding and trailer on `finish`.
struct Block {
    buf: Vec<u8>,
}

impl Block {
    fn new(block_type: u32) -> Block {
        let mut buf = Vec::with_capacity(256);
        buf.extend_from_slice(&block_type.to_le_bytes());
        buf.extend_from_slice(&0u32.to_le_bytes());
        Block { buf }
    }

    fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }

    fn u16(&mut self, v: u16) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }

    fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }

    fn u64(&mut self, v: u64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }

    fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(v);
        self
    }

    /// A `u16`-length string of at most `max` bytes. Readers refuse the whole file when a
    /// string is longer than the buffer they keep it in, so longer ones are cut here, where
    /// libscap's own /proc scan would have cut them.
    fn str(&mut self, v: &[u8], max: usize) -> &mut Self {
        let v = &v[..v.len().min(max).min(usize::from(u16::MAX))];
        self.u16(v.len() as u16).bytes(v)
    }

    fn len(&self) -> usize {
        self.buf.len()
    }

    /// Writes the u32 at `at` (an entry length filled in afterwards).
    fn patch_u32(&mut self, at: usize, v: u32) {
        self.buf[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }

    fn finish(mut self, out: &mut impl Write) -> std::io::Result<u64> {
        let pad = (4 - self.buf.len() % 4) % 4;
        self.buf.resize(self.buf.len() + pad, 0);
        let total = (self.buf.len() + 4) as u32;
        self.buf[4..8].copy_from_slice(&total.to_le_bytes());
        self.buf.extend_from_slice(&total.to_le_bytes());
        out.write_all(&self.buf)?;
        Ok(u64::from(total))
    }
}

/// The longest strings libscap's reader accepts (`scap_limits.h`, `MAX_CREDENTIALS_STR_LEN`):
/// paths and names, command lines, environments and cgroups, and user and group names.
/// Fd names and credentials must also leave room for their NUL.
const MAX_PATH: usize = 1024;
const MAX_FD_NAME: usize = MAX_PATH - 1;
const MAX_ARGS: usize = 4096;
const MAX_CREDENTIAL: usize = 255;

/// How an export is written.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ExportOptions {
    /// gzip the whole file (sysdig's `-z`).
    pub gzip: bool,
    /// For readers older than libs 0.10 (Debian's sysdig 0.29.3), whose event table ends at
    /// clone3's exit: newer event types are written in the older form those readers know
    /// (dup2 as dup, pipe2 as pipe, accept4 as the old accept4, ...) with the parameters that
    /// form has, or else as the generic syscall event; newer non-syscall events are left out.
    pub legacy: bool,
}

/// Exports `capture` to `dst`, gzip-compressed if `gzip`.
pub fn export(capture: &Capture, dst: &Path, gzip: bool) -> Result<ExportSummary, Error> {
    export_with(capture, dst, ExportOptions { gzip, legacy: false })
}

/// Exports `capture` to `dst` as `options` say.
pub fn export_with(
    capture: &Capture,
    dst: &Path,
    options: ExportOptions,
) -> Result<ExportSummary, Error> {
    let file = File::create(dst).map_err(|e| Error::io(dst, e))?;
    let io = |e| Error::io(dst, e);
    let mut summary = ExportSummary::default();
    if options.gzip {
        let mut out =
            flate2::write::GzEncoder::new(BufWriter::new(file), flate2::Compression::default());
        write_all(capture, &mut out, &mut summary, options.legacy).map_err(io)?;
        out.finish().and_then(|mut w| w.flush()).map_err(io)?;
    } else {
        let mut out = BufWriter::with_capacity(1 << 20, file);
        write_all(capture, &mut out, &mut summary, options.legacy).map_err(io)?;
        out.flush().map_err(io)?;
    }
    Ok(summary)
}

/// The last event code readers before libs 0.10 know (`clone3`'s exit).
const LEGACY_LAST_CODE: u16 = 335;
/// The most parameters those readers take in one event (execve's exit had 20 then).
const LEGACY_MAX_PARAMS: usize = 20;

/// For an event type newer than [`LEGACY_LAST_CODE`], the older type that carried the same
/// syscall and how many leading parameters the two share.
fn legacy_form(code: u16) -> Option<(u16, usize)> {
    Some(match code {
        363 | 365 | 367 => (125, 1), // dup2, dup3, dup: the old dup exit, res only
        389 => (249, 5),             // accept4: the old accept4 exit
        391 => (259, 2),             // umount2: the old umount exit (res, name)
        393 => (61, 4),              // pipe2: pipe (res, fd1, fd2, ino)
        395 => (139, 1),             // inotify_init1: inotify_init
        397 => (63, 1),              // eventfd2: eventfd
        399 => (127, 1),             // signalfd4: signalfd
        _ => return None,
    })
}

/// The generic syscall event for a newer syscall event: `(code, syscall id)`, enter 0 and
/// exit 1; `None` for events that are not syscalls. Worked out once per event type.
fn legacy_generic(code: u16) -> Option<(u16, u16)> {
    static BY_CODE: std::sync::OnceLock<Vec<Option<(u16, u16)>>> = std::sync::OnceLock::new();
    let by_code = BY_CODE.get_or_init(|| {
        let t = table();
        let ids: std::collections::HashMap<&str, u16> =
            (0..u16::MAX).map_while(|i| t.syscall_name(i).map(|name| (name, i))).collect();
        (0..t.len() as u16)
            .map(|code| {
                let info = t.get(code)?;
                if !info.category.contains("syscall") {
                    return None;
                }
                let exit = crate::table::Direction::of(code) == crate::table::Direction::Exit;
                Some((u16::from(exit), *ids.get(info.name)?))
            })
            .collect()
    });
    by_code.get(usize::from(code)).copied().flatten()
}

#[derive(Default)]
struct Pending {
    machine: Option<Machine>,
    interfaces: Vec<Interface>,
    users: Vec<User>,
    threads: Vec<Thread>,
    fds: Vec<FdTable>,
    containers: Vec<Container>,
    any: bool,
}

fn write_all(
    capture: &Capture,
    out: &mut impl Write,
    summary: &mut ExportSummary,
    legacy: bool,
) -> std::io::Result<()> {
    let mut pending = Pending::default();
    let mut started = false;
    // The time of the last event written, for meta events written between events.
    let mut last_ts = 0u64;
    for entry in capture.blocks() {
        let kind = entry.header.kind;
        if kind.is_state() {
            if entry.header.flags & FLAG_DERIVED != 0 {
                continue;
            }
            let Some(Ok(state)) = capture.decode_state(entry) else { continue };
            // Once events have started, what a recorder learns on the way (a container that
            // appeared, its users, drops) goes inline as meta events, where readers take it
            // in order; a restatement of the system (it starts with the machine or the
            // process table) makes a new section.
            if started && !pending.any {
                match state {
                    State::Containers(list) => {
                        for c in &list {
                            summary.bytes += write_container_at(out, c, last_ts)?;
                        }
                        continue;
                    }
                    State::Users(list) => {
                        // Readers before libs 0.10 have no user events.
                        if !legacy {
                            for u in &list {
                                summary.bytes += write_user_at(out, u, last_ts)?;
                            }
                        }
                        continue;
                    }
                    State::Drops(_) => continue,
                    other => pending.add(other),
                }
                continue;
            }
            if matches!(state, State::Drops(_)) {
                continue;
            }
            pending.add(state);
            continue;
        }
        if kind != BlockKind::Events {
            continue;
        }
        if !started || pending.any {
            summary.bytes +=
                write_section(out, &mut pending, capture.metadata().hostname.as_bytes(), legacy)?;
            summary.sections += 1;
            started = true;
        }
        let block = match capture.decode_events(entry) {
            Ok(b) => b,
            Err(_) => {
                summary.damaged_blocks += 1;
                continue;
            }
        };
        for ev in block.iter() {
            summary.bytes += write_event(out, &ev, legacy)?;
            summary.events += 1;
            last_ts = ev.ts();
        }
    }
    if !started || pending.any {
        summary.bytes +=
            write_section(out, &mut pending, capture.metadata().hostname.as_bytes(), legacy)?;
        summary.sections += 1;
    }
    Ok(())
}

impl Pending {
    fn add(&mut self, state: State) {
        self.any = true;
        match state {
            State::Machine(mut m) => self.machine = m.pop().or(self.machine.take()),
            State::Interfaces(i) => self.interfaces.extend(i),
            State::Users(u) => self.users.extend(u),
            State::Threads(t) => self.threads.extend(t),
            State::Fds(f) => self.fds.extend(f),
            State::Containers(c) => self.containers.extend(c),
            State::Drops(_) => {}
        }
    }
}

/// A section header and the metadata blocks of the pending state.
fn write_section(
    out: &mut impl Write,
    p: &mut Pending,
    hostname: &[u8],
    legacy: bool,
) -> std::io::Result<u64> {
    let mut n = 0;
    let mut shb = Block::new(code::SHB);
    shb.u32(super::BYTE_ORDER_MAGIC).u16(1).u16(2).u64(u64::MAX);
    n += shb.finish(out)?;

    let m = p.machine.take().unwrap_or_default();
    let mut mi = Block::new(code::MI);
    let mut host = [0u8; 128];
    let name = if m.hostname.is_empty() { hostname } else { m.hostname.as_bytes() };
    let len = name.len().min(127);
    host[..len].copy_from_slice(&name[..len]);
    mi.u32(m.cpu_count).u64(m.memory_bytes).u64(m.max_pid).bytes(&host);
    mi.u64(m.boot_time).u64(m.flags).u64(0).u64(0);
    n += mi.finish(out)?;

    let mut il = Block::new(code::IL_V2);
    for i in p.interfaces.drain(..) {
        let v6 = i.addr.len() == 16;
        let kind = match (v6, i.link_speed.is_some()) {
            (false, true) => 1u16,
            (true, true) => 2,
            (false, false) => 3,
            (true, false) => 4,
        };
        let at = il.len();
        il.u32(0).u16(kind).u16(i.name.len() as u16);
        let width = if v6 { 16 } else { 4 };
        for a in [&i.addr, &i.netmask, &i.broadcast] {
            let mut b = a.clone();
            b.resize(width, 0);
            il.bytes(&b);
        }
        if let Some(speed) = i.link_speed {
            il.u64(speed);
        }
        il.bytes(i.name.as_bytes());
        // Interface entry lengths exclude the length word itself.
        let entry = (il.len() - at - 4) as u32;
        il.patch_u32(at, entry);
    }
    n += il.finish(out)?;

    let mut ul = Block::new(code::UL_V2);
    for u in p.users.drain(..) {
        let at = ul.len();
        ul.u32(0);
        if u.is_group {
            ul.u8(1).u32(u.gid).str(u.name.as_bytes(), MAX_CREDENTIAL);
        } else {
            ul.u8(0).u32(u.uid).u32(u.gid).str(u.name.as_bytes(), MAX_CREDENTIAL);
            ul.str(u.home.as_bytes(), MAX_CREDENTIAL).str(u.shell.as_bytes(), MAX_CREDENTIAL);
        }
        let entry = (ul.len() - at) as u32;
        ul.patch_u32(at, entry);
    }
    n += ul.finish(out)?;

    let mut pl = Block::new(code::PL_V9);
    for t in &p.threads {
        write_thread(&mut pl, t);
    }
    n += pl.finish(out)?;
    p.threads.clear();

    for table in p.fds.drain(..) {
        let mut fdl = Block::new(code::FDL_V2);
        fdl.u64(table.tid as u64);
        for fd in &table.fds {
            write_fd(&mut fdl, fd, legacy);
        }
        n += fdl.finish(out)?;
    }

    for c in p.containers.drain(..) {
        n += write_container(out, &c)?;
    }
    p.any = false;
    Ok(n)
}

fn write_thread(pl: &mut Block, t: &Thread) {
    let at = pl.len();
    pl.u32(0).u64(t.tid as u64).u64(t.pid as u64).u64(t.ptid as u64).u64(t.sid as u64);
    pl.u64(t.vpgid as u64).str(&t.comm, MAX_PATH).str(&t.exe, MAX_PATH);
    pl.str(&t.exepath, MAX_PATH).str(&t.args, MAX_ARGS).str(&t.cwd, MAX_PATH);
    pl.u64(t.fdlimit).u32(t.flags).u32(t.uid).u32(t.gid);
    pl.u32(t.vm_size_kb).u32(t.vm_rss_kb).u32(t.vm_swap_kb).u64(t.pf_major).u64(t.pf_minor);
    pl.str(&t.env, MAX_ARGS).u64(t.vtid as u64).u64(t.vpid as u64);
    pl.str(&t.cgroups, MAX_ARGS).str(&t.root, MAX_PATH);
    let newer = t.pidns_init_start_ts != 0
        || t.tty != 0
        || t.exe_upper_layer
        || t.exe_lower_layer
        || t.exe_from_memfd
        || t.exe_ino != 0
        || t.exe_ino_ctime != 0
        || t.exe_ino_mtime != 0
        || t.pgid != 0;
    if newer {
        pl.u64(t.pidns_init_start_ts).u32(t.tty);
    }
    pl.u32(t.loginuid).u8(u8::from(t.exe_writable));
    pl.u64(t.cap_inheritable).u64(t.cap_permitted).u64(t.cap_effective);
    if newer {
        pl.u8(u8::from(t.exe_upper_layer)).u64(t.exe_ino).u64(t.exe_ino_ctime);
        pl.u64(t.exe_ino_mtime).u8(u8::from(t.exe_from_memfd)).u8(u8::from(t.exe_lower_layer));
        pl.u64(t.pgid as u64);
    }
    let entry = (pl.len() - at) as u32;
    pl.patch_u32(at, entry);
}

fn sized(addr: &[u8], width: usize) -> Vec<u8> {
    let mut b = addr.to_vec();
    b.resize(width, 0);
    b
}

fn write_fd(fdl: &mut Block, fd: &Fd, legacy: bool) {
    let at = fdl.len();
    // Readers before libs 0.10 refuse fd types after FILE_V2 (bpf, userfaultfd, io_uring,
    // memfd, pidfd): those go as "unsupported", which they show by name.
    let kind = if legacy && fd.kind > fd_kind::FILE_V2 { fd_kind::UNSUPPORTED } else { fd.kind };
    fdl.u32(0).u64(fd.fd as u64).u64(fd.ino).u8(kind);
    match kind {
        fd_kind::IPV4_SOCK | fd_kind::IPV6_SOCK => {
            let w = if fd.kind == fd_kind::IPV4_SOCK { 4 } else { 16 };
            fdl.bytes(&sized(&fd.sip, w)).bytes(&sized(&fd.dip, w));
            fdl.u16(fd.sport).u16(fd.dport).u8(fd.l4proto);
        }
        fd_kind::IPV4_SERVSOCK | fd_kind::IPV6_SERVSOCK => {
            let w = if fd.kind == fd_kind::IPV4_SERVSOCK { 4 } else { 16 };
            fdl.bytes(&sized(&fd.sip, w)).u16(fd.sport).u8(fd.l4proto);
        }
        fd_kind::UNIX_SOCK => {
            fdl.u64(fd.unix_source).u64(fd.unix_dest).str(&fd.name, MAX_FD_NAME);
        }
        fd_kind::FILE_V2 => {
            fdl.u32(fd.open_flags).str(&fd.name, MAX_FD_NAME).u32(fd.dev);
        }
        1..=21 => {
            fdl.str(&fd.name, MAX_FD_NAME);
        }
        _ => {}
    }
    let entry = (fdl.len() - at) as u32;
    fdl.patch_u32(at, entry);
}

/// A container state record as a `container` JSON meta event (CONTAINER_JSON_2_E).
fn write_container(out: &mut impl Write, c: &Container) -> std::io::Result<u64> {
    write_container_at(out, c, 0)
}

/// A container as a meta event at time `ts`. `raw` is used when it is already the
/// `{"container": ...}` form sysdig writes; a runtime's own description (a recorder keeps
/// `podman inspect` there) is restated in that form.
fn write_container_at(out: &mut impl Write, c: &Container, ts: u64) -> std::io::Result<u64> {
    let sysdig_form = serde_json::from_str::<serde_json::Value>(c.raw.trim_end_matches('\0'))
        .is_ok_and(|v| v.get("container").is_some());
    let json = if !sysdig_form {
        serde_json::json!({"container": {
            "id": c.id, "full_id": c.full_id, "name": c.name, "image": c.image,
            "imageid": c.image_id, "imagedigest": c.image_digest, "imagerepo": c.image_repo,
            "imagetag": c.image_tag, "privileged": c.privileged, "ip": c.ip,
            "labels": c.labels.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
        }})
        .to_string()
    } else {
        c.raw.clone()
    };
    let mut param = json.into_bytes();
    param.push(0);
    let mut b = Block::new(code::EV_V2_LARGE);
    let len = 26 + 4 + param.len();
    b.u16(0).u64(ts).u64(u64::MAX).u32(len as u32).u16(324).u32(1);
    b.u32(param.len() as u32).bytes(&param);
    b.finish(out)
}

/// A user (`useradded`, 354) or group (`groupadded`, 358) as a meta event at time `ts`.
fn write_user_at(out: &mut impl Write, u: &User, ts: u64) -> std::io::Result<u64> {
    let s = |v: &str| {
        let mut b = v.as_bytes().to_vec();
        b.push(0);
        b
    };
    let params: Vec<Vec<u8>> = if u.is_group {
        vec![u.gid.to_le_bytes().to_vec(), s(&u.name), s(&u.container_id)]
    } else {
        vec![
            u.uid.to_le_bytes().to_vec(),
            u.gid.to_le_bytes().to_vec(),
            s(&u.name),
            s(&u.home),
            s(&u.shell),
            s(&u.container_id),
        ]
    };
    let refs: Vec<&[u8]> = params.iter().map(Vec::as_slice).collect();
    let header = crate::event::EventHeader { ts, tid: -1, cpu: 0, code: 0, flags: 0 };
    write_raw(out, &header, if u.is_group { 358 } else { 354 }, &refs)
}

/// Writes one event; with `legacy`, a type older readers do not know in a form they do.
/// Returns 0 bytes for an event left out.
fn write_event(out: &mut impl Write, ev: &Event<'_>, legacy: bool) -> std::io::Result<u64> {
    let params: Vec<&[u8]> = ev.params.iter().collect();
    if !legacy {
        return write_raw(out, &ev.header, ev.header.code, &params);
    }
    if ev.header.code <= LEGACY_LAST_CODE {
        // Older readers refuse events with more parameters than they allow for any event;
        // the ones cut were added later (execve's env and beyond), so they lose nothing they
        // could show.
        let keep = params.len().min(LEGACY_MAX_PARAMS);
        // They also read fixed-width parameters without checking for an empty (uncollected)
        // one: give those zeros of the right width.
        const ZEROS: [u8; 16] = [0; 16];
        let info = table().get(ev.header.code);
        let filled: Vec<&[u8]> = params[..keep]
            .iter()
            .enumerate()
            .map(|(i, p)| {
                use crate::param::ParamType as T;
                let kind = info.and_then(|e| e.params.get(i)).map(|p| p.kind);
                match kind.map(|k| (k, k.fixed_size())) {
                    Some((_, Some(w))) if p.is_empty() && w <= ZEROS.len() => &ZEROS[..w],
                    // and strings with at least their NUL
                    Some((T::Charbuf | T::FsPath | T::FsRelPath, _)) if p.is_empty() => &ZEROS[..1],
                    _ => *p,
                }
            })
            .collect();
        return write_raw(out, &ev.header, ev.header.code, &filled);
    }
    if let Some((old, keep)) = legacy_form(ev.header.code) {
        return write_raw(out, &ev.header, old, &params[..keep.min(params.len())]);
    }
    match legacy_generic(ev.header.code) {
        Some((code, id)) => {
            let (id, native) = (id.to_le_bytes(), 0u16.to_le_bytes());
            write_raw(out, &ev.header, code, &[&id, &native])
        }
        None => Ok(0),
    }
}

fn write_raw(
    out: &mut impl Write,
    h: &crate::event::EventHeader,
    code: u16,
    params: &[&[u8]],
) -> std::io::Result<u64> {
    let large = table().get(code).is_some_and(|e| e.has_flag(flag::LARGE_PAYLOAD));
    let width = if large { 4 } else { 2 };
    let nparams = params.len();
    let len = 26 + width * nparams + params.iter().map(|p| p.len()).sum::<usize>();
    // Blocks over 64 KiB must use the LARGE block types, which only lift that limit.
    let large_block = large || len + 16 > 65_536;
    let block_type = match (large_block, h.flags != 0) {
        (false, false) => code::EV_V2,
        (false, true) => code::EVF_V2,
        (true, false) => code::EV_V2_LARGE,
        (true, true) => code::EVF_V2_LARGE,
    };
    let mut b = Block::new(block_type);
    b.u16(h.cpu);
    if h.flags != 0 {
        b.u32(h.flags);
    }
    b.u64(h.ts).u64(h.tid as u64).u32(len as u32).u16(code).u32(nparams as u32);
    for p in params {
        if large {
            b.u32(p.len() as u32);
        } else {
            b.u16(p.len().min(usize::from(u16::MAX)) as u16);
        }
    }
    for p in params {
        b.bytes(p);
    }
    b.finish(out)
}
