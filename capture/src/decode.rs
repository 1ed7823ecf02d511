//! Ring records to capture events.
//!
//! The kernel side writes each record already in the capture's parameter form (layout in
//! `bpf/recorder.bpf.c`), so decoding is slicing: the header becomes an [`EventHeader`] with
//! the boot-time clock moved to the epoch, and the parameters are borrowed from the record.
//! Values the kernel side sends in Linux's terms are rewritten into the event table's: clone,
//! open and fcntl flags, ptrace requests, and socket addresses (Linux `struct sockaddr` to the
//! table's packed form). Which parameters need it follows from the event table.

use dredge_format::EventHeader;

/// Fixed record header: ts u64, tid u32, code u16, cpu u16, nparams u16.
const HDR: usize = 18;
/// Parameters per record the kernel side ever writes (`MAX_PARAMS` there).
pub const MAX_PARAMS: usize = 32;

/// Why a record could not be read. The kernel side wrote it, so this is a dredge bug or a
/// BPF object out of step with this binary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed ring record ({len} bytes): {why}")]
pub struct BadRecord {
    pub len: usize,
    pub why: &'static str,
}

/// A rewrite of one parameter from Linux's terms into the event table's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fix {
    CloneFlags,
    OpenFlags,
    FcntlCmd,
    PtraceRequest,
    SockAddr,
}

/// Turns records into events.
#[derive(Debug, Clone)]
pub struct Decoder {
    /// Added to the kernel's boot-time clock to get ns since the epoch.
    pub boot_to_epoch: u64,
    /// Per event code, the parameters to rewrite.
    fixes: Vec<Vec<(usize, Fix)>>,
    /// Per event code, how many parameters the table lists.
    counts: Vec<u8>,
    /// Rewritten values of the current record, and where each lies.
    fixed: Vec<u8>,
    ranges: Vec<(usize, usize, usize)>,
}

/// One decoded record, borrowing from the record and the decoder.
pub struct Decoded<'a> {
    pub header: EventHeader,
    params: [&'a [u8]; MAX_PARAMS],
    count: usize,
}

impl<'a> Decoded<'a> {
    pub fn params(&self) -> &[&'a [u8]] {
        &self.params[..self.count]
    }
}

impl Decoder {
    pub fn new(boot_to_epoch: u64) -> Decoder {
        use dredge_format::param::ParamType;
        let table = dredge_format::table::table();
        let fixes = (0..table.len() as u16)
            .map(|code| {
                let Some(info) = table.get(code) else { return Vec::new() };
                info.params
                    .iter()
                    .enumerate()
                    .filter_map(|(i, p)| {
                        let fix = match (p.kind, p.table) {
                            (ParamType::SockAddr, _) => Fix::SockAddr,
                            (_, Some("clone_flags")) => Fix::CloneFlags,
                            (ParamType::Flags32, Some("file_flags")) => Fix::OpenFlags,
                            (_, Some("fcntl_commands")) => Fix::FcntlCmd,
                            (_, Some("ptrace_requests")) => Fix::PtraceRequest,
                            _ => return None,
                        };
                        Some((i, fix))
                    })
                    .collect()
            })
            .collect();
        let counts = (0..table.len() as u16)
            .map(|code| table.get(code).map_or(0, |i| i.params.len().min(MAX_PARAMS) as u8))
            .collect();
        Decoder { boot_to_epoch, fixes, counts, fixed: Vec::new(), ranges: Vec::new() }
    }

    pub fn decode<'a>(&'a mut self, rec: &'a [u8]) -> Result<Decoded<'a>, BadRecord> {
        let bad = |why| BadRecord { len: rec.len(), why };
        if rec.len() < HDR {
            return Err(bad("shorter than its header"));
        }
        let u16_at = |at: usize| u16::from_le_bytes([rec[at], rec[at + 1]]);
        let ts = u64::from_le_bytes(rec[0..8].try_into().map_err(|_| bad("header"))?);
        let tid = u32::from_le_bytes(rec[8..12].try_into().map_err(|_| bad("header"))?);
        let code = u16_at(12);
        let cpu = u16_at(14);
        let count = usize::from(u16_at(16));
        if count > MAX_PARAMS {
            return Err(bad("too many parameters"));
        }
        let mut pos = HDR + 2 * count;
        if pos > rec.len() {
            return Err(bad("parameter lengths cut"));
        }
        let mut params: [&[u8]; MAX_PARAMS] = [&[]; MAX_PARAMS];
        for (i, slot) in params.iter_mut().enumerate().take(count) {
            let len = usize::from(u16_at(HDR + 2 * i));
            let end = pos + len;
            if end > rec.len() {
                return Err(bad("parameter runs past the record"));
            }
            *slot = &rec[pos..end];
            pos = end;
        }
        if let Some(fixes) = self.fixes.get(usize::from(code)).filter(|f| !f.is_empty()) {
            self.fixed.clear();
            self.ranges.clear();
            for &(i, fix) in fixes.iter().filter(|(i, _)| *i < count) {
                let start = self.fixed.len();
                rewrite(fix, params[i], &mut self.fixed);
                self.ranges.push((i, start, self.fixed.len()));
            }
            for &(i, start, end) in &self.ranges {
                params[i] = &self.fixed[start..end];
            }
        }
        // Parameters the kernel side did not collect are sent as empty ones, up to the
        // table's count: a shorter event would read as an older layout to upgrade.
        let count =
            count.max(usize::from(self.counts.get(usize::from(code)).copied().unwrap_or(0)));
        let header = EventHeader {
            ts: ts.wrapping_add(self.boot_to_epoch),
            tid: i64::from(tid),
            cpu,
            code,
            flags: 0,
        };
        Ok(Decoded { header, params, count })
    }
}

/// Appends the table's form of `raw` to `out`; a value of an unexpected width or family is
/// kept as it came (empty stays empty).
fn rewrite(fix: Fix, raw: &[u8], out: &mut Vec<u8>) {
    let int = <[u8; 4]>::try_from(raw).map(u32::from_le_bytes);
    match (fix, int) {
        (Fix::CloneFlags, Ok(v)) => out.extend_from_slice(&table_clone_flags(v).to_le_bytes()),
        (Fix::OpenFlags, Ok(v)) => out.extend_from_slice(&table_open_flags(v).to_le_bytes()),
        (Fix::FcntlCmd, Ok(v)) => out.push(table_fcntl_cmd(v)),
        (Fix::PtraceRequest, _) if raw.len() == 2 => {
            let v = u16::from_le_bytes([raw[0], raw[1]]);
            out.extend_from_slice(&table_ptrace_request(v).to_le_bytes());
        }
        (Fix::SockAddr, _) => table_sockaddr(raw, out),
        _ => out.extend_from_slice(raw),
    }
}

/// Linux `O_*` open flags to the table's `file_flags` bits.
pub fn table_open_flags(linux: u32) -> u32 {
    let mut out = match linux & 3 {
        1 => 2, // O_WRONLY
        2 => 3, // O_RDWR
        _ => 1, // O_RDONLY
    };
    const MAP: [(u32, u32); 11] = [
        (0o100, 4),         // O_CREAT
        (0o200, 32),        // O_EXCL
        (0o1000, 256),      // O_TRUNC
        (0o2000, 8),        // O_APPEND
        (0o4000, 64),       // O_NONBLOCK
        (0o10000, 16),      // O_DSYNC
        (0o4010000, 128),   // O_SYNC (includes O_DSYNC's bit)
        (0o40000, 512),     // O_DIRECT
        (0o200000, 1024),   // O_DIRECTORY
        (0o2000000, 4096),  // O_CLOEXEC
        (0o20200000, 8192), // O_TMPFILE (includes O_DIRECTORY's bit)
    ];
    for (l, t) in MAP {
        if linux & l == l {
            out |= t;
        }
    }
    if linux & 0o100000 != 0 {
        out |= 2048; // O_LARGEFILE
    }
    out
}

/// Linux `F_*` fcntl commands to `fcntl_commands`.
fn table_fcntl_cmd(linux: u32) -> u8 {
    match linux {
        0 => 1,
        1 => 2,
        2 => 3,
        3 => 4,
        4 => 5,
        5 => 6,
        6 => 8,
        7 => 9,
        8 => 10,
        9 => 12,
        10 => 13,
        11 => 15,
        1030 => 26, // F_DUPFD_CLOEXEC
        _ => 0,
    }
}

/// Linux `PTRACE_*` requests to `ptrace_requests`.
fn table_ptrace_request(linux: u16) -> u16 {
    match linux {
        0..=9 => linux + 1,
        12 => 26,
        13 => 27,
        16 => 11,
        17 => 12,
        24 => 13,
        0x4200..=0x4209 => linux - 0x4200 + 14,
        _ => 0,
    }
}

/// A Linux `struct sockaddr` to the table's packed form: family byte, then IPv4 address and
/// port (host order), IPv6 address and port, or a unix path with its NUL.
fn table_sockaddr(raw: &[u8], out: &mut Vec<u8>) {
    if raw.len() < 2 {
        return;
    }
    let family = u16::from_le_bytes([raw[0], raw[1]]);
    let port = |b: &[u8]| u16::from_be_bytes([b[2], b[3]]).to_le_bytes();
    match family {
        2 if raw.len() >= 8 => {
            out.push(2);
            out.extend_from_slice(&raw[4..8]);
            out.extend_from_slice(&port(raw));
        }
        10 if raw.len() >= 24 => {
            out.push(10);
            out.extend_from_slice(&raw[8..24]);
            out.extend_from_slice(&port(raw));
        }
        1 => {
            out.push(1);
            let path = &raw[2..];
            // An abstract socket's name starts with a NUL, kept as '@' would hide it: skip it.
            let path = if path.first() == Some(&0) { &path[1..] } else { path };
            let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
            out.extend_from_slice(&path[..end]);
            out.push(0);
        }
        _ => out.push(family as u8),
    }
}

/// Linux `CLONE_*` bits to the event table's `clone_flags` bits (format/src/table/flags.tbl).
pub fn table_clone_flags(linux: u32) -> u32 {
    const MAP: [(u32, u32); 22] = [
        (0x0000_0400, 1),         // CLONE_FILES
        (0x0000_0200, 2),         // CLONE_FS
        (0x8000_0000, 4),         // CLONE_IO
        (0x0800_0000, 8),         // CLONE_NEWIPC
        (0x4000_0000, 16),        // CLONE_NEWNET
        (0x0002_0000, 32),        // CLONE_NEWNS
        (0x2000_0000, 64),        // CLONE_NEWPID
        (0x0400_0000, 128),       // CLONE_NEWUTS
        (0x0000_8000, 256),       // CLONE_PARENT
        (0x0010_0000, 512),       // CLONE_PARENT_SETTID
        (0x0000_2000, 1024),      // CLONE_PTRACE
        (0x0000_0800, 2048),      // CLONE_SIGHAND
        (0x0004_0000, 4096),      // CLONE_SYSVSEM
        (0x0001_0000, 8192),      // CLONE_THREAD
        (0x0080_0000, 16384),     // CLONE_UNTRACED
        (0x0000_0100, 32768),     // CLONE_VM
        (0x1000_0000, 1048576),   // CLONE_NEWUSER
        (0x0020_0000, 8388608),   // CLONE_CHILD_CLEARTID
        (0x0100_0000, 16777216),  // CLONE_CHILD_SETTID
        (0x0008_0000, 33554432),  // CLONE_SETTLS
        (0x0000_4000, 134217728), // CLONE_VFORK
        (0x0200_0000, 268435456), // CLONE_NEWCGROUP
    ];
    let out = MAP.iter().filter(|(l, _)| linux & l != 0).fold(0, |acc, (_, t)| acc | t);
    // Bit 7 (never part of the exit signal) is the kernel side's mark for a child in a pid
    // namespace below the host's (bpf/recorder.bpf.c, fill_clone).
    if linux & 0x80 != 0 { out | 536_870_912 } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(code: u16, params: &[&[u8]]) -> Vec<u8> {
        let mut r = Vec::new();
        r.extend_from_slice(&1_000u64.to_le_bytes());
        r.extend_from_slice(&42u32.to_le_bytes());
        r.extend_from_slice(&code.to_le_bytes());
        r.extend_from_slice(&1u16.to_le_bytes());
        r.extend_from_slice(&(params.len() as u16).to_le_bytes());
        for p in params {
            r.extend_from_slice(&(p.len() as u16).to_le_bytes());
        }
        for p in params {
            r.extend_from_slice(p);
        }
        r
    }

    #[test]
    fn slices_parameters_and_moves_the_clock() {
        let rec = record(7, &[&5i64.to_le_bytes(), b"hello", &[], &3u32.to_le_bytes()]);
        let mut d = Decoder::new(10);
        let e = d.decode(&rec).unwrap();
        assert_eq!((e.header.ts, e.header.tid, e.header.cpu, e.header.code), (1010, 42, 1, 7));
        assert_eq!(e.params().len(), 4);
        assert_eq!(e.params()[1], b"hello");
        assert!(e.params()[2].is_empty());
        // close's exit lists res and fd: a res-only record gets an empty fd.
        let rec = record(5, &[&0i64.to_le_bytes()]);
        let e = d.decode(&rec).unwrap();
        assert_eq!(e.params().len(), 2);
        assert!(e.params()[1].is_empty());
    }

    #[test]
    fn rewrites_clone_flags() {
        let mut params: Vec<Vec<u8>> = vec![Vec::new(); 20];
        params[15] = (0x0001_0000u32 | 0x100).to_le_bytes().to_vec();
        let refs: Vec<&[u8]> = params.iter().map(Vec::as_slice).collect();
        let rec = record(223, &refs);
        let mut d = Decoder::new(0);
        let e = d.decode(&rec).unwrap();
        assert_eq!(e.params()[15], (8192u32 | 32768).to_le_bytes());
    }

    #[test]
    fn rewrites_open_flags_and_sockaddrs() {
        // openat exit: fd dirfd name flags mode; O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC.
        let flags = (0o1 | 0o100 | 0o1000 | 0o2000000u32).to_le_bytes();
        let rec = record(307, &[&3i64.to_le_bytes(), &(-100i64).to_le_bytes(), b"/x\0", &flags]);
        let mut d = Decoder::new(0);
        let e = d.decode(&rec).unwrap();
        assert_eq!(e.params()[3], (2u32 | 4 | 256 | 4096).to_le_bytes());
        assert_eq!(e.params()[2], b"/x\0");

        // connect exit: res tuple fd addr; addr is sockaddr_in 127.0.0.1:8080.
        let mut sin = vec![2, 0, 0x1f, 0x90, 127, 0, 0, 1];
        sin.extend_from_slice(&[0; 8]);
        let rec = record(23, &[&0i64.to_le_bytes(), &[], &5i64.to_le_bytes(), &sin]);
        let e = d.decode(&rec).unwrap();
        assert_eq!(e.params()[3], [2, 127, 0, 0, 1, 0x90, 0x1f]);
        assert_eq!(table_ptrace_request(16), 11);
    }

    #[test]
    fn refuses_cut_records() {
        let rec = record(7, &[b"abcdef"]);
        let mut d = Decoder::new(0);
        assert!(d.decode(&rec[..rec.len() - 1]).is_err());
        assert!(d.decode(&rec[..10]).is_err());
    }
}
