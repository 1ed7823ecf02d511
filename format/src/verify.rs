//! `verify`: checks every byte of a capture and, when asked, who signed it.
//!
//! Unlike [`Capture::open`](crate::Capture::open), which reads around damage, verification is
//! strict: blocks must follow each other from the prologue to the footer with consecutive
//! numbers, every header and payload checksum must hold, every payload must decode, the
//! footer's digest must equal SHA-256 of everything before it and its index must list exactly
//! the blocks found, and the trailer must close the file. Every byte is covered by at least
//! one of these checks, so any change to a file is reported, naming the first place it shows.

use std::fmt;
use std::path::Path;

use ed25519_dalek::{Signature as Ed25519Signature, Verifier as _, VerifyingKey};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::block::{
    BLOCK_HEADER_LEN, BLOCK_MAGIC, BlockHeader, BlockKind, FILE_MAGIC, FLAG_ZSTD, PROLOGUE_LEN,
    TRAILER_LEN, VERSION_MAJOR, decode_prologue, decode_trailer,
};
use crate::columns::EventBlock;
use crate::error::Error;
use crate::footer::{Footer, IndexEntry, Signature};
use crate::meta::Metadata;
use crate::record::read_records;
use crate::sign::fingerprint;
use crate::state::State;
use crate::wire::crc;

/// One thing wrong with a file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    pub offset: u64,
    /// What part of the file: `prologue`, `block #N (kind)`, `footer`, `signature`, `trailer`.
    pub place: String,
    pub what: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at offset {}: {}", self.place, self.offset, self.what)
    }
}

/// The signature's state.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum SignatureCheck {
    /// The file carries no signature.
    Unsigned,
    /// Valid for the key it names. `matches_key` is `None` when no key was given to compare.
    Valid { fingerprint: String, matches_key: Option<bool> },
    /// Present but not valid for the footer.
    Invalid { fingerprint: String },
}

/// The outcome of verifying one file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub blocks: u64,
    pub events: u64,
    pub bytes: u64,
    pub signature: SignatureCheck,
    pub problems: Vec<Problem>,
}

impl Report {
    /// True when nothing is wrong and, if a key was given, the file is signed by it.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
            && !matches!(self.signature, SignatureCheck::Invalid { .. })
            && !matches!(self.signature, SignatureCheck::Valid { matches_key: Some(false), .. })
    }
}

/// Verifies the file at `path`. Errors are for files that cannot be read at all or are not
/// captures; damage is reported in the [`Report`].
pub fn verify(path: &Path, key: Option<&VerifyingKey>) -> Result<Report, Error> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        return Err(Error::IsDirectory { path: path.to_path_buf() });
    }
    if meta.len() == 0 {
        return Err(Error::Empty { path: path.to_path_buf() });
    }
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    // SAFETY: read-only map of a file dredge does not write; see `reader` for the caveat.
    #[allow(unsafe_code, reason = "memory-mapping the capture is what makes reads cheap")]
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
    verify_bytes(&map, key).map_err(|detail| Error::NotCapture { path: path.to_path_buf(), detail })
}

/// Verifies a capture held in memory. `Err` when the bytes are not a capture at all.
pub fn verify_bytes(bytes: &[u8], key: Option<&VerifyingKey>) -> Result<Report, String> {
    let mut v = Walk::new(bytes);
    v.prologue(key)?;
    Ok(v.report)
}

struct Walk<'a> {
    bytes: &'a [u8],
    report: Report,
}

const MAX_PROBLEMS: usize = 50;

impl<'a> Walk<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        let report = Report {
            blocks: 0,
            events: 0,
            bytes: bytes.len() as u64,
            signature: SignatureCheck::Unsigned,
            problems: Vec::new(),
        };
        Walk { bytes, report }
    }

    fn problem(&mut self, offset: u64, place: impl Into<String>, what: impl Into<String>) {
        if self.report.problems.len() < MAX_PROBLEMS {
            self.report.problems.push(Problem { offset, place: place.into(), what: what.into() });
        }
    }

    fn prologue(&mut self, key: Option<&VerifyingKey>) -> Result<(), String> {
        let len = self.bytes.len();
        let looks_framed = self.bytes.get(PROLOGUE_LEN..PROLOGUE_LEN + 4) == Some(&BLOCK_MAGIC[..]);
        match self.bytes.get(..PROLOGUE_LEN).and_then(|p| p.try_into().ok()).map(decode_prologue) {
            Some(Some(p)) if !p.checksum_ok => {
                self.problem(0, "prologue", "checksum mismatch (version bytes damaged?)")
            }
            Some(Some(p)) if p.major > VERSION_MAJOR => {
                return Err(format!(
                    "capture format version {}.{} is newer than this dredge reads \
                    ({VERSION_MAJOR}.x)",
                    p.major, p.minor
                ));
            }
            Some(Some(_)) => {}
            _ if looks_framed => self.problem(0, "prologue", "magic damaged"),
            _ => {
                let head = &self.bytes[..len.min(8)];
                return Err(format!("magic {head:02x?} at offset 0, expected {FILE_MAGIC:02x?}"));
            }
        }
        self.blocks(key);
        Ok(())
    }

    /// Walks the blocks from the prologue to the footer, then checks the footer and the rest.
    fn blocks(&mut self, key: Option<&VerifyingKey>) {
        let bytes = self.bytes;
        let len = bytes.len() as u64;
        let mut digest = Sha256::new();
        digest.update(&bytes[..PROLOGUE_LEN.min(bytes.len())]);
        let mut entries = Vec::new();
        let mut pos = PROLOGUE_LEN as u64;
        let mut next_event = 0u64;
        let footer_at = loop {
            let seq = entries.len() as u32;
            let place = format!("block #{seq}");
            if pos >= len {
                self.problem(
                    pos,
                    place,
                    "file ends without a footer (writer did not finish, or the file was cut)",
                );
                break None;
            }
            let header = match header_at(bytes, pos) {
                Ok(h) => h,
                Err(what) => {
                    self.problem(pos, place, what);
                    break None;
                }
            };
            let place = format!("block #{} ({})", header.seq, header.kind.name());
            if header.kind == BlockKind::Footer {
                break Some((pos, header));
            }
            if header.seq != seq {
                self.problem(pos, &place, format!("out of sequence: expected block #{seq}"));
            }
            if seq == 0 && header.kind != BlockKind::Header {
                self.problem(pos, &place, "the first block must be the header block");
            }
            if header.first_event != next_event {
                self.problem(
                    pos,
                    &place,
                    format!("first event {} but {next_event} came before", header.first_event),
                );
            }
            if header.kind == BlockKind::Events {
                next_event = header.first_event + u64::from(header.count);
            }
            digest.update(&bytes[pos as usize..(pos + header.span()) as usize]);
            entries.push(IndexEntry { offset: pos, header });
            pos += header.span();
        };
        self.report.blocks = entries.len() as u64;
        let type_counts = self.payloads(&entries);

        let Some((footer_at, header)) = footer_at else { return };
        let computed: [u8; 32] = digest.finalize().into();
        let end = self.footer(footer_at, &header, &computed, &entries, type_counts, next_event);
        let end = self.signature(end, footer_at, &header, key);
        match len.checked_sub(end) {
            Some(n) if n == TRAILER_LEN as u64 => match decode_trailer(&bytes[end as usize..]) {
                Some(at) if at == footer_at => {}
                Some(at) => self.problem(
                    end,
                    "trailer",
                    format!("points at offset {at}, footer is at {footer_at}"),
                ),
                None => self.problem(end, "trailer", "damaged"),
            },
            _ => self.problem(
                end,
                "trailer",
                format!(
                    "expected {TRAILER_LEN} bytes after the footer, found {}",
                    len.saturating_sub(end)
                ),
            ),
        }
    }

    /// Checks and decodes every payload, in parallel. Returns the events per type counted.
    fn payloads(&mut self, entries: &[IndexEntry]) -> Vec<u64> {
        let bytes = self.bytes;
        let results: Vec<Result<Vec<u64>, Problem>> =
            entries.par_iter().map(|e| check_block(bytes, e)).collect();
        let mut counts = Vec::new();
        for r in results {
            match r {
                Ok(c) => {
                    if c.len() > counts.len() {
                        counts.resize(c.len(), 0);
                    }
                    for (i, n) in c.iter().enumerate() {
                        counts[i] += n;
                    }
                }
                Err(p) => self.problem(p.offset, p.place, p.what),
            }
        }
        self.report.events = counts.iter().sum();
        counts
    }

    fn footer(
        &mut self,
        at: u64,
        header: &BlockHeader,
        computed: &[u8; 32],
        entries: &[IndexEntry],
        type_counts: Vec<u64>,
        events: u64,
    ) -> u64 {
        let start = at as usize + BLOCK_HEADER_LEN;
        let payload = &self.bytes[start..start + header.stored_len as usize];
        if crc(payload) != header.payload_crc {
            self.problem(at, "footer", "payload checksum mismatch");
            return at + header.span();
        }
        let footer = match Footer::decode(payload) {
            Ok(f) => f,
            Err(e) => {
                self.problem(at, "footer", format!("does not decode: {e}"));
                return at + header.span();
            }
        };
        if &footer.digest != computed {
            self.problem(at, "footer", "SHA-256 digest does not match the file before it");
        }
        if footer.index != entries {
            let first = footer.index.iter().zip(entries).position(|(a, b)| a != b);
            let what = match first {
                Some(i) => format!("index entry {i} differs from the block in the file"),
                None => format!(
                    "index lists {} blocks, the file has {}",
                    footer.index.len(),
                    entries.len()
                ),
            };
            self.problem(at, "footer", what);
        }
        let counted: Vec<(u16, u64)> = type_counts
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(c, n)| (c as u16, *n))
            .collect();
        if footer.events != events
            || (self.report.problems.is_empty() && footer.type_counts != counted)
        {
            self.problem(at, "footer", "event totals differ from the blocks");
        }
        at + header.span()
    }

    /// Checks the signature block if one follows the footer; returns where the file goes on.
    fn signature(
        &mut self,
        at: u64,
        footer_at: u64,
        footer: &BlockHeader,
        key: Option<&VerifyingKey>,
    ) -> u64 {
        let Ok(header) = header_at(self.bytes, at) else {
            if key.is_some() {
                self.report.signature = SignatureCheck::Unsigned;
            }
            return at;
        };
        if header.kind != BlockKind::Signature {
            self.problem(
                at,
                format!("block #{} ({})", header.seq, header.kind.name()),
                "unexpected after the footer",
            );
            return at + header.span();
        }
        let start = at as usize + BLOCK_HEADER_LEN;
        let payload = &self.bytes[start..start + header.stored_len as usize];
        if crc(payload) != header.payload_crc {
            self.problem(at, "signature", "payload checksum mismatch");
            return at + header.span();
        }
        let sig = match Signature::decode(payload) {
            Ok(s) => s,
            Err(e) => {
                self.problem(at, "signature", format!("does not decode: {e}"));
                return at + header.span();
            }
        };
        let signed = &self.bytes[footer_at as usize..(footer_at + footer.span()) as usize];
        let fingerprint = fingerprint(&sig.public_key);
        let valid = VerifyingKey::from_bytes(&sig.public_key)
            .map(|k| k.verify(signed, &Ed25519Signature::from_bytes(&sig.signature)).is_ok())
            .unwrap_or(false);
        self.report.signature = if valid {
            let matches_key = key.map(|k| k.to_bytes() == sig.public_key);
            SignatureCheck::Valid { fingerprint, matches_key }
        } else {
            SignatureCheck::Invalid { fingerprint }
        };
        at + header.span()
    }
}

fn header_at(bytes: &[u8], pos: u64) -> Result<BlockHeader, String> {
    let at = pos as usize;
    let Some(raw) = bytes.get(at..at + BLOCK_HEADER_LEN) else {
        return Err(format!("header cut short: {} of {BLOCK_HEADER_LEN} bytes", bytes.len() - at));
    };
    let raw: &[u8; BLOCK_HEADER_LEN] = raw.try_into().map_err(|_| "header".to_string())?;
    let h = BlockHeader::decode(raw).map_err(|e| e.to_string())?;
    let left = bytes.len() as u64 - pos;
    if h.span() > left {
        return Err(format!(
            "runs past the end of the file ({} bytes needed, {left} left)",
            h.span()
        ));
    }
    Ok(h)
}

/// Checks one block's payload and decodes it; counts its events per type.
fn check_block(bytes: &[u8], e: &IndexEntry) -> Result<Vec<u64>, Problem> {
    let h = &e.header;
    let fail = |what: String| Problem {
        offset: e.offset,
        place: format!("block #{} ({})", h.seq, h.kind.name()),
        what,
    };
    let start = e.offset as usize + BLOCK_HEADER_LEN;
    let stored = &bytes[start..start + h.stored_len as usize];
    let computed = crc(stored);
    if computed != h.payload_crc {
        return Err(fail(format!(
            "payload checksum mismatch (stored {:#010x}, computed {computed:#010x})",
            h.payload_crc
        )));
    }
    let raw = if h.flags & FLAG_ZSTD != 0 {
        zstd::bulk::decompress(stored, h.raw_len as usize)
            .map_err(|err| fail(format!("payload does not decompress: {err}")))?
    } else {
        stored.to_vec()
    };
    if raw.len() != h.raw_len as usize {
        return Err(fail(format!("payload is {} bytes, header says {}", raw.len(), h.raw_len)));
    }
    let mut counts = Vec::new();
    match h.kind {
        BlockKind::Events => {
            let block = EventBlock::decode(raw, h.count, h.first_event)
                .map_err(|err| fail(format!("events do not decode: {err}")))?;
            let (mut lo, mut hi) = (u64::MAX, 0);
            for ev in block.iter() {
                let code = usize::from(ev.header.code);
                if code >= counts.len() {
                    counts.resize(code + 1, 0);
                }
                counts[code] += 1;
                lo = lo.min(ev.header.ts);
                hi = hi.max(ev.header.ts);
            }
            if !block.is_empty() && (lo, hi) != (h.min_ts, h.max_ts) {
                return Err(fail("time range in the header differs from the events".into()));
            }
        }
        BlockKind::Header => {
            read_records::<Metadata>(&raw, h.count)
                .map_err(|err| fail(format!("metadata does not decode: {err}")))?;
        }
        kind if kind.is_state() => {
            if let Some(Err(err)) = State::decode(kind, &raw, h.count) {
                return Err(fail(format!("records do not decode: {err}")));
            }
        }
        _ => {}
    }
    Ok(counts)
}
