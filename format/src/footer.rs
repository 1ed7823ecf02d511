//! The footer: block index, totals and digest, plus the optional signature block.
//!
//! The footer lets a reader find any block without scanning, say what a capture holds without
//! decoding it, and check it whole: its digest is SHA-256 over every byte before it, and a
//! signature, when present, covers the footer block's bytes (and so, through the digest,
//! the whole file).

use sha2::{Digest, Sha256};

use crate::block::{BlockHeader, BlockKind};
use crate::wire::{Cursor, DecodeError, put_u16, put_u32, put_u64};

/// One block as the index lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexEntry {
    /// File offset of the block header.
    pub offset: u64,
    pub header: BlockHeader,
}

pub const INDEX_ENTRY_LEN: usize = 56;
const FIXED_LEN: usize = 32 + 8 * 4 + 4 * 2;

/// What the footer says about the file before it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Footer {
    /// SHA-256 of every byte from offset 0 to the footer block.
    pub digest: [u8; 32],
    pub events: u64,
    pub min_ts: u64,
    pub max_ts: u64,
    /// Events lost to drops, summed over the drop records.
    pub lost_events: u64,
    pub index: Vec<IndexEntry>,
    /// Events per type code, ascending by code.
    pub type_counts: Vec<(u16, u64)>,
}

impl Footer {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            FIXED_LEN + self.index.len() * INDEX_ENTRY_LEN + self.type_counts.len() * 10,
        );
        out.extend_from_slice(&self.digest);
        put_u64(&mut out, self.events);
        put_u64(&mut out, self.min_ts);
        put_u64(&mut out, self.max_ts);
        put_u64(&mut out, self.lost_events);
        put_u32(&mut out, self.index.len() as u32);
        put_u32(&mut out, self.type_counts.len() as u32);
        for e in &self.index {
            let h = &e.header;
            put_u64(&mut out, e.offset);
            put_u16(&mut out, h.kind.code());
            put_u16(&mut out, h.flags);
            put_u32(&mut out, h.seq);
            put_u32(&mut out, h.stored_len);
            put_u32(&mut out, h.raw_len);
            put_u32(&mut out, h.count);
            put_u32(&mut out, h.payload_crc);
            put_u64(&mut out, h.first_event);
            put_u64(&mut out, h.min_ts);
            put_u64(&mut out, h.max_ts);
        }
        for (code, n) in &self.type_counts {
            put_u16(&mut out, *code);
            put_u64(&mut out, *n);
        }
        out
    }

    pub fn decode(payload: &[u8]) -> Result<Footer, DecodeError> {
        let mut c = Cursor::new(payload);
        let mut digest = [0u8; 32];
        digest.copy_from_slice(c.bytes(32, "digest")?);
        let mut f = Footer {
            digest,
            events: c.u64("event total")?,
            min_ts: c.u64("first timestamp")?,
            max_ts: c.u64("last timestamp")?,
            lost_events: c.u64("drop total")?,
            ..Footer::default()
        };
        let blocks = c.u32("index length")? as usize;
        let types = c.u32("type count")? as usize;
        if blocks.saturating_mul(INDEX_ENTRY_LEN).saturating_add(types.saturating_mul(10))
            > c.remaining()
        {
            return Err(DecodeError { offset: c.position(), what: "index longer than footer" });
        }
        for _ in 0..blocks {
            let offset = c.u64("index offset")?;
            let header = BlockHeader {
                kind: BlockKind::from_code(c.u16("index kind")?),
                flags: c.u16("index flags")?,
                seq: c.u32("index seq")?,
                stored_len: c.u32("index stored length")?,
                raw_len: c.u32("index raw length")?,
                count: c.u32("index count")?,
                payload_crc: c.u32("index checksum")?,
                first_event: c.u64("index first event")?,
                min_ts: c.u64("index min ts")?,
                max_ts: c.u64("index max ts")?,
            };
            f.index.push(IndexEntry { offset, header });
        }
        for _ in 0..types {
            f.type_counts.push((c.u16("type code")?, c.u64("type count")?));
        }
        // Anything after is a newer writer's addition: ignored.
        Ok(f)
    }
}

/// Streams bytes into the digest the footer records.
#[derive(Clone, Default)]
pub struct Digester(Sha256);

impl Digester {
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    pub fn finish(self) -> [u8; 32] {
        self.0.finalize().into()
    }
}

/// SHA-256 of `bytes`.
pub fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Lower-case hex, as digests and fingerprints are printed.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The signature block's payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub public_key: [u8; 32],
    pub signature: [u8; 64],
}

/// Algorithm byte: ed25519 (RFC 8032) is the only one.
pub const SIGNATURE_ED25519: u8 = 1;
pub const SIGNATURE_LEN: usize = 1 + 32 + 64;

impl Signature {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(SIGNATURE_LEN);
        out.push(SIGNATURE_ED25519);
        out.extend_from_slice(&self.public_key);
        out.extend_from_slice(&self.signature);
        out
    }

    pub fn decode(payload: &[u8]) -> Result<Signature, DecodeError> {
        let mut c = Cursor::new(payload);
        if c.u8("signature algorithm")? != SIGNATURE_ED25519 {
            return Err(DecodeError { offset: 0, what: "unknown signature algorithm" });
        }
        let mut public_key = [0u8; 32];
        public_key.copy_from_slice(c.bytes(32, "public key")?);
        let mut signature = [0u8; 64];
        signature.copy_from_slice(c.bytes(64, "signature")?);
        Ok(Signature { public_key, signature })
    }
}
