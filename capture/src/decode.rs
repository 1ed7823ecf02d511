//! Ring records to capture events.
//!
//! The kernel side writes each record already in the capture's parameter form (layout in
//! `bpf/recorder.bpf.c`), so decoding is slicing: the header becomes an [`EventHeader`] with
//! the boot-time clock moved to the epoch, and the parameters are borrowed from the record.
//! The one rewrite is clone flags, which the kernel side sends as Linux's `CLONE_*` bits and the
//! event table wants as its own flag bits.

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

/// Turns records into events.
#[derive(Debug, Clone)]
pub struct Decoder {
    /// Added to the kernel's boot-time clock to get ns since the epoch.
    pub boot_to_epoch: u64,
    clone_flags: [u8; 4],
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

/// Event codes of the clone family's exits and the index of their `flags` parameter.
const CLONE_EXITS: [u16; 4] = [223, 225, 227, 335];
const CLONE_FLAGS_PARAM: usize = 15;

impl Decoder {
    pub fn new(boot_to_epoch: u64) -> Decoder {
        Decoder { boot_to_epoch, clone_flags: [0; 4] }
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
        if CLONE_EXITS.contains(&code) && count > CLONE_FLAGS_PARAM {
            let raw = params[CLONE_FLAGS_PARAM];
            if let Ok(raw) = <[u8; 4]>::try_from(raw) {
                self.clone_flags = table_clone_flags(u32::from_le_bytes(raw)).to_le_bytes();
                params[CLONE_FLAGS_PARAM] = &self.clone_flags;
            }
        }
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
    MAP.iter().filter(|(l, _)| linux & l != 0).fold(0, |acc, (_, t)| acc | t)
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
    fn refuses_cut_records() {
        let rec = record(7, &[b"abcdef"]);
        let mut d = Decoder::new(0);
        assert!(d.decode(&rec[..rec.len() - 1]).is_err());
        assert!(d.decode(&rec[..10]).is_err());
    }
}
