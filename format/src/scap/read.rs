//! A streaming reader of scap files, every variant since 2014.
//!
//! [`Reader`] reads one block at a time into a buffer it reuses and hands out [`Item`]s that
//! borrow from it, so reading allocates per block only for metadata. It handles gzip or plain
//! input, section headers with pcapng options, the nine process-list layouts, fd, interface and
//! user lists in both versions, and event blocks with or without parameter counts and flags.
//! Every length is checked against the block; a block's trailing length must repeat its
//! leading one. The first damage ends the stream with a [`ScapError`] naming the offset:
//! everything before it has been delivered.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use super::{BYTE_ORDER_MAGIC, canonical, code};
use crate::event::EventHeader;
use crate::state::{Fd, FdTable, Interface, Machine, Thread, User, fd_kind};
use crate::table::{flag, table};
use crate::wire::{Cursor, DecodeError};

/// Blocks larger than this are refused as damage (the largest legitimate ones are process
/// lists of big hosts, a few MiB); the buffer grows with data actually read, never ahead of it.
pub const MAX_BLOCK: u32 = 256 << 20;

/// Where and why reading stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: offset {offset}: {what}", path.display())]
pub struct ScapError {
    pub path: PathBuf,
    /// Offset in the (decompressed) scap stream.
    pub offset: u64,
    pub what: String,
}

/// A section header: a scap file has one, or several when captures were concatenated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub major: u16,
    pub minor: u16,
    /// Text options (pcapng comments and the like), by option code.
    pub options: Vec<(u16, String)>,
}

/// One event as stored, with its parameters as raw bytes.
#[derive(Debug, Clone, Copy)]
pub struct RawEvent<'a> {
    pub header: EventHeader,
    nparams: usize,
    /// Width of each length word: 2, or 4 for large-payload event types.
    width: usize,
    lens: &'a [u8],
    data: &'a [u8],
}

impl<'a> RawEvent<'a> {
    pub fn nparams(&self) -> usize {
        self.nparams
    }

    /// Width of the parameter length words (2, or 4 for large-payload types).
    pub fn length_width(&self) -> usize {
        self.width
    }

    pub fn params(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let (lens, data, width) = (self.lens, self.data, self.width);
        let mut at = 0usize;
        (0..self.nparams).map(move |i| {
            let l = &lens[i * width..(i + 1) * width];
            let len = if width == 4 {
                u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize
            } else {
                usize::from(u16::from_le_bytes([l[0], l[1]]))
            };
            let p = &data[at..at + len];
            at += len;
            p
        })
    }
}

/// What one block held.
#[derive(Debug)]
pub enum Item<'a> {
    Section(Section),
    Machine(Machine),
    Interfaces(Vec<Interface>),
    Users(Vec<User>),
    Threads(Vec<Thread>),
    Fds(FdTable),
    Event(RawEvent<'a>),
    /// A block of a type this reader does not know, or an event of a type beyond the table.
    Skipped {
        offset: u64,
        block_type: u32,
        len: u32,
    },
}

/// Reads a scap stream.
pub struct Reader<R> {
    path: PathBuf,
    src: R,
    pos: u64,
    buf: Vec<u8>,
    done: bool,
    /// True when the input was gzip-compressed.
    pub gzip: bool,
}

/// Opens a scap file, gzip-compressed or plain (told apart by content).
pub fn open(path: &Path) -> Result<Reader<Box<dyn Read>>, crate::Error> {
    let meta = std::fs::metadata(path).map_err(|e| crate::Error::io(path, e))?;
    if meta.is_dir() {
        return Err(crate::Error::IsDirectory { path: path.to_path_buf() });
    }
    if meta.len() == 0 {
        return Err(crate::Error::Empty { path: path.to_path_buf() });
    }
    let mut file =
        BufReader::with_capacity(1 << 20, File::open(path).map_err(|e| crate::Error::io(path, e))?);
    let head = std::io::BufRead::fill_buf(&mut file).map_err(|e| crate::Error::io(path, e))?;
    let gzip = head.starts_with(&[0x1f, 0x8b]);
    if !gzip && !head.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]) {
        let shown = &head[..head.len().min(8)];
        return Err(crate::Error::NotCapture {
            path: path.to_path_buf(),
            detail: format!("not a scap file: magic {shown:02x?} at offset 0"),
        });
    }
    let src: Box<dyn Read> = if gzip {
        Box::new(BufReader::with_capacity(1 << 20, flate2::read::MultiGzDecoder::new(file)))
    } else {
        Box::new(file)
    };
    Ok(Reader { path: path.to_path_buf(), src, pos: 0, buf: Vec::new(), done: false, gzip })
}

impl<R: Read> Reader<R> {
    pub fn new(path: &Path, src: R) -> Reader<R> {
        Reader { path: path.to_path_buf(), src, pos: 0, buf: Vec::new(), done: false, gzip: false }
    }

    /// Offset of the next block in the (decompressed) stream.
    pub fn position(&self) -> u64 {
        self.pos
    }

    fn fail(&mut self, offset: u64, what: impl Into<String>) -> ScapError {
        self.done = true;
        ScapError { path: self.path.clone(), offset, what: what.into() }
    }

    /// Reads up to `n` bytes into the buffer; returns how many came (fewer only at the end).
    fn fill(&mut self, n: usize) -> std::io::Result<usize> {
        self.buf.clear();
        let got = (&mut self.src).take(n as u64).read_to_end(&mut self.buf)?;
        Ok(got)
    }

    /// The next block's contents; `Ok(None)` at a clean end of the stream.
    pub fn next_item(&mut self) -> Result<Option<Item<'_>>, ScapError> {
        if self.done {
            return Ok(None);
        }
        let start = self.pos;
        let got = self.fill(8).map_err(|e| self.fail(start, format!("read error: {e}")))?;
        if got == 0 {
            self.done = true;
            return Ok(None);
        }
        if got < 8 {
            return Err(
                self.fail(start, format!("file ends inside a block header ({got} of 8 bytes)"))
            );
        }
        let block_type = u32::from_le_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]);
        let total = u32::from_le_bytes([self.buf[4], self.buf[5], self.buf[6], self.buf[7]]);
        if !(12..=MAX_BLOCK).contains(&total) || !total.is_multiple_of(4) {
            return Err(self
                .fail(start, format!("block type {block_type:#x} has impossible length {total}")));
        }
        let rest = total as usize - 8;
        let got = self.fill(rest).map_err(|e| self.fail(start, format!("read error: {e}")))?;
        if got < rest {
            return Err(self.fail(
                start,
                format!(
                    "block type {block_type:#x} of {total} bytes is cut short: the file ends \
                    after {} (truncated?)",
                    got + 8
                ),
            ));
        }
        self.pos += u64::from(total);
        let trailer = u32::from_le_bytes(self.buf[rest - 4..rest].try_into().unwrap_or([0; 4]));
        if trailer != total {
            return Err(self.fail(
                start,
                format!(
                    "block type {block_type:#x}: trailing length {trailer} differs from \
                    leading length {total}"
                ),
            ));
        }
        let body_at = start + 8;
        let body_len = rest - 4;
        let result = parse_block(canonical(block_type), &self.buf[..body_len], start, total);
        match result {
            Ok(item) => {
                // Re-borrow: the item refers to `self.buf`.
                Ok(Some(item.rebind(&self.buf[..body_len])))
            }
            Err(e) => {
                let offset = body_at + e.offset as u64;
                Err(self.fail(
                    offset,
                    format!("block type {block_type:#x} at offset {start}: {}", e.what),
                ))
            }
        }
    }
}

/// Parsed block content, with events as positions into the body so the borrow can be
/// rebuilt against the reader's buffer.
enum Parsed {
    Item(Box<Item<'static>>),
    Event {
        header: EventHeader,
        nparams: usize,
        width: usize,
        lens: (usize, usize),
        data: (usize, usize),
    },
}

impl Parsed {
    fn rebind(self, body: &[u8]) -> Item<'_> {
        match self {
            Parsed::Item(item) => *item,
            Parsed::Event { header, nparams, width, lens, data } => Item::Event(RawEvent {
                header,
                nparams,
                width,
                lens: &body[lens.0..lens.1],
                data: &body[data.0..data.1],
            }),
        }
    }
}

struct BlockError {
    offset: usize,
    what: String,
}

impl From<DecodeError> for BlockError {
    fn from(e: DecodeError) -> Self {
        BlockError { offset: e.offset, what: format!("{} cut short", e.what) }
    }
}

fn err(offset: usize, what: impl Into<String>) -> BlockError {
    BlockError { offset, what: what.into() }
}

fn parse_block(block_type: u32, body: &[u8], start: u64, total: u32) -> Result<Parsed, BlockError> {
    let item = |i: Item<'static>| Ok(Parsed::Item(Box::new(i)));
    match block_type {
        code::SHB => item(Item::Section(section(body)?)),
        code::MI => item(Item::Machine(machine(body)?)),
        code::IL_V1 | code::IL_V2 => {
            item(Item::Interfaces(interfaces(body, block_type == code::IL_V2)?))
        }
        code::UL_V1 | code::UL_V2 => item(Item::Users(users(body, block_type == code::UL_V2)?)),
        code::PL_V1
        | code::PL_V2
        | code::PL_V3
        | code::PL_V4
        | code::PL_V5
        | code::PL_V6
        | code::PL_V7
        | code::PL_V8
        | code::PL_V9 => item(Item::Threads(threads(body, block_type)?)),
        code::FDL_V1 | code::FDL_V2 => item(Item::Fds(fds(body, block_type == code::FDL_V2)?)),
        code::EV
        | code::EVF
        | code::EV_V2
        | code::EVF_V2
        | code::EV_V2_LARGE
        | code::EVF_V2_LARGE => match event(body, block_type)? {
            Some(p) => Ok(p),
            None => item(Item::Skipped { offset: start, block_type, len: total }),
        },
        _ => item(Item::Skipped { offset: start, block_type, len: total }),
    }
}

fn section(body: &[u8]) -> Result<Section, BlockError> {
    let mut c = Cursor::new(body);
    let magic = c.u32("byte-order magic")?;
    if magic != BYTE_ORDER_MAGIC {
        return Err(err(
            0,
            format!("byte-order magic {magic:#010x}: big-endian or not a scap file"),
        ));
    }
    let major = c.u16("major version")?;
    let minor = c.u16("minor version")?;
    if major != 1 {
        return Err(err(4, format!("scap major version {major} is not supported (only 1)")));
    }
    let _section_length = c.u64("section length")?;
    let mut options = Vec::new();
    while c.remaining() >= 4 {
        let code = c.u16("option code")?;
        let len = usize::from(c.u16("option length")?);
        if code == 0 {
            break;
        }
        let value = c.bytes(len, "option value")?;
        options.push((code, String::from_utf8_lossy(value).into_owned()));
        let pad = (4 - len % 4) % 4;
        c.bytes(pad.min(c.remaining()), "option padding")?;
    }
    Ok(Section { major, minor, options })
}

fn string(c: &mut Cursor<'_>, what: &'static str) -> Result<Vec<u8>, DecodeError> {
    let len = usize::from(c.u16(what)?);
    Ok(c.bytes(len, what)?.to_vec())
}

fn machine(body: &[u8]) -> Result<Machine, BlockError> {
    let mut c = Cursor::new(body);
    let cpu_count = c.u32("cpu count")?;
    let memory_bytes = c.u64("memory size")?;
    let max_pid = c.u64("max pid")?;
    let host = c.bytes(128, "hostname")?;
    let end = host.iter().position(|&b| b == 0).unwrap_or(host.len());
    let hostname = String::from_utf8_lossy(&host[..end]).into_owned();
    // Older writers stop here or leave the rest zero.
    let boot_time = if c.remaining() >= 8 { c.u64("boot time")? } else { 0 };
    let flags = if c.remaining() >= 8 { c.u64("flags")? } else { 0 };
    Ok(Machine {
        hostname,
        kernel_release: String::new(),
        cpu_count,
        memory_bytes,
        max_pid,
        boot_time,
        flags,
    })
}

fn interfaces(body: &[u8], v2: bool) -> Result<Vec<Interface>, BlockError> {
    let mut c = Cursor::new(body);
    let mut out = Vec::new();
    while c.remaining() >= 4 {
        let entry_start = c.position();
        let entry_len = if v2 { Some(c.u32("interface entry length")? as usize) } else { None };
        let body_start = c.position();
        let kind = c.u16("interface type")?;
        let name_len = usize::from(c.u16("interface name length")?);
        let (addr_len, speed) = match kind {
            1 => (4, true),
            2 => (16, true),
            3 => (4, false),
            4 => (16, false),
            other => return Err(err(entry_start, format!("unknown interface type {other}"))),
        };
        let addr = c.bytes(addr_len, "interface address")?.to_vec();
        let netmask = c.bytes(addr_len, "interface netmask")?.to_vec();
        let broadcast = c.bytes(addr_len, "interface broadcast")?.to_vec();
        let link_speed = if speed { Some(c.u64("link speed")?) } else { None };
        let name = String::from_utf8_lossy(c.bytes(name_len, "interface name")?).into_owned();
        out.push(Interface { name, addr, netmask, broadcast, link_speed });
        if let Some(len) = entry_len {
            let used = c.position() - body_start;
            let skip = len
                .checked_sub(used)
                .ok_or_else(|| err(entry_start, "interface entry longer than its length"))?;
            c.bytes(skip, "interface entry")?;
        }
    }
    Ok(out)
}

fn users(body: &[u8], v2: bool) -> Result<Vec<User>, BlockError> {
    let mut c = Cursor::new(body);
    let mut out = Vec::new();
    while c.remaining() >= 4 {
        let entry_start = c.position();
        let entry_len = if v2 { Some(c.u32("user entry length")? as usize) } else { None };
        let kind = c.u8("user entry kind")?;
        let user = match kind {
            0 => {
                let uid = c.u32("uid")?;
                let gid = c.u32("gid")?;
                let name = String::from_utf8_lossy(&string(&mut c, "user name")?).into_owned();
                let home = String::from_utf8_lossy(&string(&mut c, "home")?).into_owned();
                let shell = String::from_utf8_lossy(&string(&mut c, "shell")?).into_owned();
                User { is_group: false, uid, gid, name, home, shell, container_id: String::new() }
            }
            1 => {
                let gid = c.u32("gid")?;
                let name = String::from_utf8_lossy(&string(&mut c, "group name")?).into_owned();
                User { is_group: true, gid, name, ..User::default() }
            }
            other => return Err(err(entry_start, format!("unknown user entry kind {other}"))),
        };
        out.push(user);
        if let Some(len) = entry_len {
            let used = c.position() - entry_start;
            let skip = len
                .checked_sub(used)
                .ok_or_else(|| err(entry_start, "user entry longer than its length"))?;
            c.bytes(skip, "user entry")?;
        }
    }
    Ok(out)
}

/// Process-list layout version 1..=9 from the block type.
fn pl_version(block_type: u32) -> u32 {
    match block_type {
        code::PL_V1 => 1,
        code::PL_V2 => 2,
        code::PL_V3 => 3,
        code::PL_V4 => 4,
        code::PL_V5 => 5,
        code::PL_V6 => 6,
        code::PL_V7 => 7,
        code::PL_V8 => 8,
        _ => 9,
    }
}

fn threads(body: &[u8], block_type: u32) -> Result<Vec<Thread>, BlockError> {
    let v = pl_version(block_type);
    let mut c = Cursor::new(body);
    let mut out = Vec::new();
    while c.remaining() >= 4 {
        let entry_start = c.position();
        let entry_end = if v >= 9 {
            let len = c.u32("process entry length")? as usize;
            if len < 4 || len > body.len() - entry_start {
                return Err(err(
                    entry_start,
                    format!("process entry length {len} does not fit the block"),
                ));
            }
            Some(entry_start + len)
        } else {
            None
        };
        let mut t = Thread {
            tid: c.i64("tid")?,
            pid: c.i64("pid")?,
            ptid: c.i64("ptid")?,
            loginuid: u32::MAX,
            ..Thread::default()
        };
        if v >= 6 {
            t.sid = c.i64("sid")?;
        }
        if v >= 8 {
            t.vpgid = c.i64("vpgid")?;
        }
        t.comm = string(&mut c, "comm")?;
        t.exe = string(&mut c, "exe")?;
        if v >= 7 {
            t.exepath = string(&mut c, "exepath")?;
        }
        t.args = string(&mut c, "args")?;
        t.cwd = string(&mut c, "cwd")?;
        t.fdlimit = c.u64("fdlimit")?;
        t.flags = c.u32("flags")?;
        t.uid = c.u32("uid")?;
        t.gid = c.u32("gid")?;
        (t.euid, t.egid) = (t.uid, t.gid);
        if v >= 2 {
            t.vm_size_kb = c.u32("vmsize")?;
            t.vm_rss_kb = c.u32("vmrss")?;
            t.vm_swap_kb = c.u32("vmswap")?;
            t.pf_major = c.u64("pfmajor")?;
            t.pf_minor = c.u64("pfminor")?;
        }
        if v >= 3 {
            t.env = string(&mut c, "env")?;
        }
        if v >= 4 {
            t.vtid = c.i64("vtid")?;
            t.vpid = c.i64("vpid")?;
            t.cgroups = string(&mut c, "cgroups")?;
        }
        if v >= 5 {
            t.root = string(&mut c, "root")?;
        }
        if let Some(end) = entry_end {
            let tail_len = end
                .checked_sub(c.position())
                .ok_or_else(|| err(entry_start, "process entry longer than its length"))?;
            let tail = c.bytes(tail_len, "process entry tail")?;
            read_tail(&mut t, tail);
        }
        out.push(t);
    }
    Ok(out)
}

/// The open-ended tail of a V9 process entry: each field only if it is there. Tails of at
/// most 29 bytes predate libs 0.10, which inserted two fields before `loginuid`.
fn read_tail(t: &mut Thread, tail: &[u8]) {
    let mut c = Cursor::new(tail);
    if tail.len() > 29 {
        match c.u64("") {
            Ok(v) => t.pidns_init_start_ts = v,
            Err(_) => return,
        }
        match c.u32("") {
            Ok(v) => t.tty = v,
            Err(_) => return,
        }
    }
    let next_u8 = |c: &mut Cursor<'_>| c.u8("").ok();
    let Ok(loginuid) = c.u32("") else { return };
    t.loginuid = loginuid;
    let Some(w) = next_u8(&mut c) else { return };
    t.exe_writable = w != 0;
    for field in [&mut t.cap_inheritable, &mut t.cap_permitted, &mut t.cap_effective] {
        let Ok(v) = c.u64("") else { return };
        *field = v;
    }
    let Some(u) = next_u8(&mut c) else { return };
    t.exe_upper_layer = u != 0;
    for field in [&mut t.exe_ino, &mut t.exe_ino_ctime, &mut t.exe_ino_mtime] {
        let Ok(v) = c.u64("") else { return };
        *field = v;
    }
    let Some(m) = next_u8(&mut c) else { return };
    t.exe_from_memfd = m != 0;
    let Some(l) = next_u8(&mut c) else { return };
    t.exe_lower_layer = l != 0;
    if let Ok(pgid) = c.i64("") {
        t.pgid = pgid;
    }
}

fn fds(body: &[u8], v2: bool) -> Result<FdTable, BlockError> {
    let mut c = Cursor::new(body);
    let tid = c.i64("fd list thread")?;
    let mut out = Vec::new();
    while c.remaining() >= 4 {
        let entry_start = c.position();
        let entry_end = if v2 {
            let len = c.u32("fd entry length")? as usize;
            if len < 4 || len > body.len() - entry_start {
                return Err(err(
                    entry_start,
                    format!("fd entry length {len} does not fit the block"),
                ));
            }
            Some(entry_start + len)
        } else {
            None
        };
        let mut fd =
            Fd { fd: c.i64("fd")?, ino: c.u64("inode")?, kind: c.u8("fd type")?, ..Fd::default() };
        match fd.kind {
            fd_kind::IPV4_SOCK => {
                fd.sip = c.bytes(4, "source ip")?.to_vec();
                fd.dip = c.bytes(4, "destination ip")?.to_vec();
                fd.sport = c.u16("source port")?;
                fd.dport = c.u16("destination port")?;
                fd.l4proto = c.u8("l4 protocol")?;
            }
            fd_kind::IPV6_SOCK => {
                fd.sip = c.bytes(16, "source ip")?.to_vec();
                fd.dip = c.bytes(16, "destination ip")?.to_vec();
                fd.sport = c.u16("source port")?;
                fd.dport = c.u16("destination port")?;
                fd.l4proto = c.u8("l4 protocol")?;
            }
            fd_kind::IPV4_SERVSOCK => {
                fd.sip = c.bytes(4, "listening ip")?.to_vec();
                fd.sport = c.u16("listening port")?;
                fd.l4proto = c.u8("l4 protocol")?;
            }
            fd_kind::IPV6_SERVSOCK => {
                fd.sip = c.bytes(16, "listening ip")?.to_vec();
                fd.sport = c.u16("listening port")?;
                fd.l4proto = c.u8("l4 protocol")?;
            }
            fd_kind::UNIX_SOCK => {
                fd.unix_source = c.u64("unix source")?;
                fd.unix_dest = c.u64("unix destination")?;
                fd.name = string(&mut c, "unix path")?;
            }
            fd_kind::FILE_V2 => {
                fd.open_flags = c.u32("open flags")?;
                fd.name = string(&mut c, "file name")?;
                let room = entry_end.map_or(0, |e| e.saturating_sub(c.position()));
                if room >= 4 {
                    fd.dev = c.u32("device")?;
                }
            }
            1..=21 => fd.name = string(&mut c, "fd name")?,
            other if entry_end.is_some() => {
                // A newer writer's fd type: skipped by its length, kept by number.
                fd.kind = other;
            }
            other => {
                return Err(err(entry_start, format!("unknown fd type {other} in a v1 fd list")));
            }
        }
        if let Some(end) = entry_end {
            let skip = end
                .checked_sub(c.position())
                .ok_or_else(|| err(entry_start, "fd entry longer than its length"))?;
            c.bytes(skip, "fd entry")?;
        }
        out.push(fd);
    }
    Ok(FdTable { tid, fds: out })
}

/// Parses the event of an event block; `None` for event types beyond the table, which
/// libscap skips too.
fn event(body: &[u8], block_type: u32) -> Result<Option<Parsed>, BlockError> {
    let has_flags = matches!(block_type, code::EVF | code::EVF_V2 | code::EVF_V2_LARGE);
    let v2 = !matches!(block_type, code::EV | code::EVF);
    let mut c = Cursor::new(body);
    let cpu = c.u16("cpu id")?;
    let flags = if has_flags { c.u32("event flags")? } else { 0 };
    let hdr = c.position();
    let ts = c.u64("timestamp")?;
    let tid = c.u64("thread id")? as i64;
    let mut len = c.u32("event length")? as usize;
    let code = c.u16("event type")?;
    let header = EventHeader { ts, tid, cpu, code, flags };
    let Some(info) = table().get(code) else { return Ok(None) };
    let width = if info.has_flag(flag::LARGE_PAYLOAD) { 4 } else { 2 };
    let header_len = if v2 { 26 } else { 22 };
    let nparams = if v2 {
        c.u32("parameter count")? as usize
    } else {
        // Old writers put the notification and infrastructure event lengths 3 too high.
        if code == 280 || code == 286 {
            len = len.saturating_sub(3);
        }
        infer_nparams(body, hdr, len, info.params.len()).ok_or_else(|| {
            err(hdr, format!("v1 event type {code}: parameter lengths do not add up to {len}"))
        })?
    };
    if len < header_len || hdr + len > body.len() {
        return Err(err(hdr, format!("event length {len} does not fit the block")));
    }
    let lens_at = hdr + header_len;
    let lens_end = nparams
        .checked_mul(if v2 { width } else { 2 })
        .and_then(|n| n.checked_add(lens_at))
        .filter(|&e| e <= hdr + len)
        .ok_or_else(|| err(hdr, format!("{nparams} parameters do not fit the event")))?;
    let width = if v2 { width } else { 2 };
    let mut sum = 0usize;
    for l in body[lens_at..lens_end].chunks_exact(width) {
        sum += if width == 4 {
            u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize
        } else {
            usize::from(u16::from_le_bytes([l[0], l[1]]))
        };
    }
    if lens_end + sum != hdr + len {
        return Err(err(
            hdr,
            format!(
                "event type {code}: parameter lengths add up to {sum}, the event has {}",
                hdr + len - lens_end
            ),
        ));
    }
    Ok(Some(Parsed::Event {
        header,
        nparams,
        width,
        lens: (lens_at, lens_end),
        data: (lens_end, lens_end + sum),
    }))
}

/// v1 events carry no parameter count: the largest count, from the table's down, whose
/// lengths add up to the event length.
fn infer_nparams(body: &[u8], hdr: usize, len: usize, table_n: usize) -> Option<usize> {
    let lens_at = hdr + 22;
    let avail = body.len().min(hdr + len);
    (0..=table_n).rev().find(|&n| {
        let end = lens_at + 2 * n;
        if end > avail {
            return false;
        }
        let sum: usize = body[lens_at..end]
            .chunks_exact(2)
            .map(|l| usize::from(u16::from_le_bytes([l[0], l[1]])))
            .sum();
        22 + 2 * n + sum == len
    })
}
