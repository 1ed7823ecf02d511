//! Framing: the file prologue, block headers and the closing trailer.
//!
//! A `.dcap` file is a 16-byte prologue followed by self-delimiting blocks and, when the
//! writer closed it, a 24-byte trailer that points at the footer block. Every header carries
//! its own CRC-32C and one for its payload, so damage is found and confined to one block, and
//! a reader that lost its place finds the next block by its magic. `FORMAT.md` is the
//! byte-level specification; the constants here are its numbers.

use crate::wire::{Cursor, crc};

/// First bytes of every `.dcap` file. The high byte and the CR/LF pair catch transfers that
/// mangle binary files, as PNG's signature does.
pub const FILE_MAGIC: [u8; 8] = *b"\x89DCAP\r\n\x1a";
/// The format version this code writes and the newest major it reads.
pub const VERSION_MAJOR: u16 = 1;
pub const VERSION_MINOR: u16 = 0;
pub const PROLOGUE_LEN: usize = 16;

pub const BLOCK_MAGIC: [u8; 4] = *b"DBLK";
pub const BLOCK_HEADER_LEN: usize = 56;
/// No block payload, stored or decompressed, may exceed this; a reader rejects larger lengths
/// before allocating anything, so a damaged length cannot cost more memory than this.
pub const MAX_PAYLOAD: u32 = 16 << 20;

pub const TRAILER_MAGIC: [u8; 8] = *b"DCAP-END";
pub const TRAILER_LEN: usize = 24;

/// Payload flag: the stored payload is one zstd frame.
pub const FLAG_ZSTD: u16 = 1;
/// State flag: the block restates what events already in the capture say (containers or
/// users announced by meta events); a converter to a format that carries those events must
/// not write it again.
pub const FLAG_DERIVED: u16 = 2;

/// What a block holds. Unknown kinds are skipped by readers (forward compatibility).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockKind {
    /// Capture metadata; always block 0.
    Header,
    /// A run of events in columnar encoding.
    Events,
    Machine,
    Threads,
    Fds,
    Containers,
    Users,
    Interfaces,
    Drops,
    /// The closing index, totals and digest.
    Footer,
    /// An ed25519 signature over the footer block.
    Signature,
    /// A kind this version does not know; kept so it can be counted and skipped.
    Unknown(u16),
}

impl BlockKind {
    pub fn code(self) -> u16 {
        match self {
            BlockKind::Header => 0x0001,
            BlockKind::Events => 0x0002,
            BlockKind::Machine => 0x0010,
            BlockKind::Threads => 0x0011,
            BlockKind::Fds => 0x0012,
            BlockKind::Containers => 0x0013,
            BlockKind::Users => 0x0014,
            BlockKind::Interfaces => 0x0015,
            BlockKind::Drops => 0x0020,
            BlockKind::Footer => 0x00fe,
            BlockKind::Signature => 0x00ff,
            BlockKind::Unknown(code) => code,
        }
    }

    pub fn from_code(code: u16) -> BlockKind {
        match code {
            0x0001 => BlockKind::Header,
            0x0002 => BlockKind::Events,
            0x0010 => BlockKind::Machine,
            0x0011 => BlockKind::Threads,
            0x0012 => BlockKind::Fds,
            0x0013 => BlockKind::Containers,
            0x0014 => BlockKind::Users,
            0x0015 => BlockKind::Interfaces,
            0x0020 => BlockKind::Drops,
            0x00fe => BlockKind::Footer,
            0x00ff => BlockKind::Signature,
            other => BlockKind::Unknown(other),
        }
    }

    /// The lower-case name used in messages and `info` output.
    pub fn name(self) -> &'static str {
        match self {
            BlockKind::Header => "header",
            BlockKind::Events => "events",
            BlockKind::Machine => "machine",
            BlockKind::Threads => "threads",
            BlockKind::Fds => "fds",
            BlockKind::Containers => "containers",
            BlockKind::Users => "users",
            BlockKind::Interfaces => "interfaces",
            BlockKind::Drops => "drops",
            BlockKind::Footer => "footer",
            BlockKind::Signature => "signature",
            BlockKind::Unknown(_) => "unknown",
        }
    }

    /// State blocks describe the system (threads, fds, containers...) as of their position.
    pub fn is_state(self) -> bool {
        matches!(
            self,
            BlockKind::Machine
                | BlockKind::Threads
                | BlockKind::Fds
                | BlockKind::Containers
                | BlockKind::Users
                | BlockKind::Interfaces
                | BlockKind::Drops
        )
    }
}

/// The fixed 56-byte header in front of every block payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockHeader {
    pub kind: BlockKind,
    pub flags: u16,
    /// The block's number in the file, from 0 (the header block).
    pub seq: u32,
    pub stored_len: u32,
    pub raw_len: u32,
    /// Events in an event block, records in a state block.
    pub count: u32,
    /// Ordinal of the block's first event; for other blocks, of the next event written.
    pub first_event: u64,
    /// Smallest and largest event timestamp (ns since the epoch); 0 when there are none.
    pub min_ts: u64,
    pub max_ts: u64,
    pub payload_crc: u32,
}

/// Why a block header was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("no block magic (found {found:02x?})")]
    Magic { found: [u8; 4] },
    #[error("header checksum mismatch (stored {stored:#010x}, computed {computed:#010x})")]
    Checksum { stored: u32, computed: u32 },
    #[error("{field} of {value} bytes exceeds the limit of {max}")]
    Length { field: &'static str, value: u32, max: u32 },
    #[error("uncompressed block has stored length {stored} but raw length {raw}")]
    RawMismatch { stored: u32, raw: u32 },
}

impl BlockHeader {
    pub fn encode(&self) -> [u8; BLOCK_HEADER_LEN] {
        let mut out = [0u8; BLOCK_HEADER_LEN];
        out[0..4].copy_from_slice(&BLOCK_MAGIC);
        out[4..6].copy_from_slice(&self.kind.code().to_le_bytes());
        out[6..8].copy_from_slice(&self.flags.to_le_bytes());
        out[8..12].copy_from_slice(&self.seq.to_le_bytes());
        out[12..16].copy_from_slice(&self.stored_len.to_le_bytes());
        out[16..20].copy_from_slice(&self.raw_len.to_le_bytes());
        out[20..24].copy_from_slice(&self.count.to_le_bytes());
        out[24..32].copy_from_slice(&self.first_event.to_le_bytes());
        out[32..40].copy_from_slice(&self.min_ts.to_le_bytes());
        out[40..48].copy_from_slice(&self.max_ts.to_le_bytes());
        out[48..52].copy_from_slice(&self.payload_crc.to_le_bytes());
        let header_crc = crc(&out[..52]);
        out[52..56].copy_from_slice(&header_crc.to_le_bytes());
        out
    }

    /// Parses and checks a header: magic, its checksum, and the length limits.
    pub fn decode(bytes: &[u8; BLOCK_HEADER_LEN]) -> Result<BlockHeader, HeaderError> {
        let mut found = [0u8; 4];
        found.copy_from_slice(&bytes[..4]);
        if found != BLOCK_MAGIC {
            return Err(HeaderError::Magic { found });
        }
        let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
        let u32_at =
            |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        let u64_at = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[i..i + 8]);
            u64::from_le_bytes(b)
        };
        let stored = u32_at(52);
        let computed = crc(&bytes[..52]);
        if stored != computed {
            return Err(HeaderError::Checksum { stored, computed });
        }
        let header = BlockHeader {
            kind: BlockKind::from_code(u16_at(4)),
            flags: u16_at(6),
            seq: u32_at(8),
            stored_len: u32_at(12),
            raw_len: u32_at(16),
            count: u32_at(20),
            first_event: u64_at(24),
            min_ts: u64_at(32),
            max_ts: u64_at(40),
            payload_crc: u32_at(48),
        };
        for (field, value) in [("stored length", header.stored_len), ("raw length", header.raw_len)]
        {
            if value > MAX_PAYLOAD {
                return Err(HeaderError::Length { field, value, max: MAX_PAYLOAD });
            }
        }
        if header.flags & FLAG_ZSTD == 0 && header.stored_len != header.raw_len {
            return Err(HeaderError::RawMismatch {
                stored: header.stored_len,
                raw: header.raw_len,
            });
        }
        Ok(header)
    }

    /// Bytes from the start of this header to the start of the next block.
    pub fn span(&self) -> u64 {
        BLOCK_HEADER_LEN as u64 + u64::from(self.stored_len)
    }
}

/// The 16-byte prologue: magic, version, checksum.
pub fn encode_prologue() -> [u8; PROLOGUE_LEN] {
    let mut out = [0u8; PROLOGUE_LEN];
    out[..8].copy_from_slice(&FILE_MAGIC);
    out[8..10].copy_from_slice(&VERSION_MAJOR.to_le_bytes());
    out[10..12].copy_from_slice(&VERSION_MINOR.to_le_bytes());
    let sum = crc(&out[..12]);
    out[12..16].copy_from_slice(&sum.to_le_bytes());
    out
}

/// What the prologue says, once its magic matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prologue {
    pub major: u16,
    pub minor: u16,
    /// False when the checksum does not match (the version may then be wrong too).
    pub checksum_ok: bool,
}

/// Reads a prologue; `None` when the magic does not match.
pub fn decode_prologue(bytes: &[u8; PROLOGUE_LEN]) -> Option<Prologue> {
    if bytes[..8] != FILE_MAGIC {
        return None;
    }
    let major = u16::from_le_bytes([bytes[8], bytes[9]]);
    let minor = u16::from_le_bytes([bytes[10], bytes[11]]);
    let stored = u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]);
    Some(Prologue { major, minor, checksum_ok: stored == crc(&bytes[..12]) })
}

pub fn encode_trailer(footer_offset: u64) -> [u8; TRAILER_LEN] {
    let mut out = [0u8; TRAILER_LEN];
    out[..8].copy_from_slice(&footer_offset.to_le_bytes());
    let sum = crc(&out[..12]);
    out[12..16].copy_from_slice(&sum.to_le_bytes());
    out[16..24].copy_from_slice(&TRAILER_MAGIC);
    out
}

/// The footer offset a valid trailer points at; `None` if the bytes are not a valid trailer.
pub fn decode_trailer(bytes: &[u8]) -> Option<u64> {
    if bytes.len() != TRAILER_LEN || bytes[16..24] != TRAILER_MAGIC {
        return None;
    }
    let mut cur = Cursor::new(bytes);
    let offset = cur.u64("offset").ok()?;
    let reserved = cur.u32("reserved").ok()?;
    let sum = cur.u32("crc").ok()?;
    (reserved == 0 && sum == crc(&bytes[..12])).then_some(offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> BlockHeader {
        BlockHeader {
            kind: BlockKind::Events,
            flags: FLAG_ZSTD,
            seq: 7,
            stored_len: 1000,
            raw_len: 4000,
            count: 55,
            first_event: 1234,
            min_ts: 10,
            max_ts: 20,
            payload_crc: 0xdead_beef,
        }
    }

    #[test]
    fn header_round_trips() {
        let h = sample();
        assert_eq!(BlockHeader::decode(&h.encode()), Ok(h));
    }

    #[test]
    fn every_header_byte_is_checked() {
        let bytes = sample().encode();
        for i in 0..BLOCK_HEADER_LEN {
            let mut copy = bytes;
            copy[i] ^= 0x01;
            assert!(BlockHeader::decode(&copy).is_err(), "byte {i}");
        }
    }

    #[test]
    fn huge_lengths_are_refused() {
        let mut h = sample();
        h.raw_len = u32::MAX;
        let err = BlockHeader::decode(&h.encode()).unwrap_err();
        assert!(matches!(err, HeaderError::Length { value: u32::MAX, .. }));
    }

    #[test]
    fn trailer_round_trips() {
        assert_eq!(decode_trailer(&encode_trailer(99)), Some(99));
        let mut t = encode_trailer(99);
        t[3] ^= 4;
        assert_eq!(decode_trailer(&t), None);
    }
}
