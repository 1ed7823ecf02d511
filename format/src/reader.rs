//! Reading captures: open, find the blocks, decode them on every core.
//!
//! [`Capture::open`] memory-maps the file and finds its blocks: through the footer's index when
//! the file was closed properly, otherwise by a forward scan that reads every whole block and
//! steps over damage, counting what it lost ([`Loss`]). Block payloads are checked and decoded
//! only when asked for, in parallel: [`Capture::event_blocks`] yields blocks in file order while
//! decoding the next few on the rayon pool, and [`Capture::par_event_blocks`] hands blocks to a
//! closure on every core for work whose order does not matter.
//!
//! The map assumes nobody changes the file while it is open. dredge never writes to a capture
//! it reads; if another program truncates one underneath it, the process may be killed by
//! SIGBUS, as with any memory-mapped reader.

use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use rayon::prelude::*;

use crate::block::{
    BLOCK_HEADER_LEN, BLOCK_MAGIC, BlockHeader, BlockKind, FILE_MAGIC, FLAG_ZSTD, PROLOGUE_LEN,
    TRAILER_LEN, VERSION_MAJOR, decode_prologue, decode_trailer,
};
use crate::columns::EventBlock;
use crate::error::{BlockError, Damage, Error, Loss};
use crate::footer::{Footer, IndexEntry, Signature};
use crate::meta::Metadata;
use crate::record::read_records;
use crate::state::State;
use crate::wire::crc;

/// How the block list was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// Through the footer's index: the file was closed by its writer.
    Indexed,
    /// By a forward scan: there was no usable footer (writer killed, file cut or damaged).
    Scanned,
}

/// An open capture.
pub struct Capture {
    path: PathBuf,
    map: Mmap,
    version: (u16, u16),
    metadata: Metadata,
    /// Every readable block before the footer, in file order (the header block included).
    blocks: Vec<IndexEntry>,
    footer: Option<(u64, Footer)>,
    signature: Option<Signature>,
    layout: Layout,
    losses: Vec<Loss>,
}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capture")
            .field("path", &self.path)
            .field("blocks", &self.blocks.len())
            .field("layout", &self.layout)
            .finish()
    }
}

impl Capture {
    /// Opens a capture. Damage short of an unreadable prologue or header block is not an
    /// error: the capture opens with what can be read, and [`Capture::losses`] says what not.
    pub fn open(path: impl AsRef<Path>) -> Result<Capture, Error> {
        let path = path.as_ref();
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if meta.is_dir() {
            return Err(Error::IsDirectory { path: path.to_path_buf() });
        }
        if meta.len() == 0 {
            return Err(Error::Empty { path: path.to_path_buf() });
        }
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        // SAFETY: the map is read-only and dredge never writes to a capture it reads. A file
        // truncated by another process while mapped can fault (SIGBUS); see the module doc.
        #[allow(unsafe_code, reason = "memory-mapping the capture is what makes reads cheap")]
        let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
        Capture::from_map(path, map)
    }

    fn from_map(path: &Path, map: Mmap) -> Result<Capture, Error> {
        let not_capture = |detail: String| Error::NotCapture { path: path.to_path_buf(), detail };
        let prologue: &[u8; PROLOGUE_LEN] = match map.get(..PROLOGUE_LEN) {
            Some(p) => p.try_into().map_err(|_| not_capture("short prologue".into()))?,
            None if FILE_MAGIC.starts_with(&map[..map.len().min(8)]) => {
                return Err(not_capture(format!(
                    "only {} bytes, cut inside the 16-byte prologue",
                    map.len()
                )));
            }
            None => return Err(not_capture(describe_foreign(&map))),
        };
        let Some(p) = decode_prologue(prologue) else {
            return Err(not_capture(describe_foreign(&map)));
        };
        let mut losses = Vec::new();
        if !p.checksum_ok {
            losses.push(Loss {
                offset: 8,
                bytes: 8,
                blocks: Some(0),
                events: Some(0),
                to_end: false,
                reason: "prologue checksum mismatch (version bytes may be damaged)".into(),
            });
        } else if p.major > VERSION_MAJOR {
            return Err(Error::NewerVersion {
                path: path.to_path_buf(),
                major: p.major,
                minor: p.minor,
            });
        }

        let mut capture = Capture {
            path: path.to_path_buf(),
            map,
            version: (p.major, p.minor),
            metadata: Metadata::default(),
            blocks: Vec::new(),
            footer: None,
            signature: None,
            layout: Layout::Indexed,
            losses,
        };
        if !capture.load_index() {
            capture.layout = Layout::Scanned;
            capture.scan();
            if capture.footer.is_none() && !capture.losses.iter().any(|l| l.to_end) {
                let len = capture.map.len() as u64;
                capture.losses.push(Loss {
                    offset: len,
                    bytes: 0,
                    blocks: None,
                    events: None,
                    to_end: true,
                    reason: "no footer: the writer did not finish, or the file was cut here".into(),
                });
            }
        }
        capture.load_metadata()?;
        for b in &capture.blocks {
            if let BlockKind::Unknown(code) = b.header.kind {
                tracing::debug!(
                    "{}: skipping block #{} of unknown kind {code:#06x} at offset {} \
                     (written by a newer dredge?)",
                    capture.path.display(),
                    b.header.seq,
                    b.offset
                );
            }
        }
        tracing::debug!(
            "{}: {} blocks found by {:?}, {} losses",
            capture.path.display(),
            capture.blocks.len(),
            capture.layout,
            capture.losses.len()
        );
        Ok(capture)
    }

    /// Uses the trailer and footer; false when they are missing or do not hold together.
    fn load_index(&mut self) -> bool {
        let len = self.map.len();
        if len < PROLOGUE_LEN + TRAILER_LEN {
            return false;
        }
        let Some(offset) = decode_trailer(&self.map[len - TRAILER_LEN..]) else {
            return false;
        };
        let Ok((footer, end)) = self.read_footer(offset) else {
            return false;
        };
        let index_ok = footer.index.iter().enumerate().all(|(i, e)| {
            e.header.seq == i as u32 && e.offset.saturating_add(e.header.span()) <= offset
        });
        if !index_ok || footer.index.is_empty() {
            return false;
        }
        let sig_end = self.read_signature(end);
        if sig_end != (len - TRAILER_LEN) as u64 {
            self.signature = None;
            return false;
        }
        self.blocks = footer.index.clone();
        self.footer = Some((offset, footer));
        true
    }

    fn header_at(&self, offset: u64) -> Result<BlockHeader, Damage> {
        let at = usize::try_from(offset).unwrap_or(usize::MAX);
        let bytes: &[u8; BLOCK_HEADER_LEN] = self
            .map
            .get(at..at.saturating_add(BLOCK_HEADER_LEN))
            .and_then(|b| b.try_into().ok())
            .ok_or(Damage::Truncated {
                needed: BLOCK_HEADER_LEN as u64,
                available: (self.map.len() as u64).saturating_sub(offset),
            })?;
        let header = BlockHeader::decode(bytes).map_err(Damage::Header)?;
        let available = self.map.len() as u64 - offset;
        if header.span() > available {
            return Err(Damage::Truncated { needed: header.span(), available });
        }
        Ok(header)
    }

    fn read_footer(&self, offset: u64) -> Result<(Footer, u64), Damage> {
        let header = self.header_at(offset)?;
        if header.kind != BlockKind::Footer {
            return Err(Damage::Other("trailer does not point at a footer".into()));
        }
        let payload = self.stored(offset, &header);
        check_payload(payload, &header)?;
        let footer = Footer::decode(payload).map_err(Damage::Decode)?;
        Ok((footer, offset + header.span()))
    }

    /// Reads a signature block at `offset` if there is one; returns where the file continues.
    fn read_signature(&mut self, offset: u64) -> u64 {
        let Ok(header) = self.header_at(offset) else { return offset };
        if header.kind != BlockKind::Signature {
            return offset;
        }
        let payload = self.stored(offset, &header);
        if check_payload(payload, &header).is_err() {
            return offset;
        }
        if let Ok(sig) = Signature::decode(payload) {
            self.signature = Some(sig);
        }
        offset + header.span()
    }

    fn stored(&self, offset: u64, header: &BlockHeader) -> &[u8] {
        let start = offset as usize + BLOCK_HEADER_LEN;
        &self.map[start..start + header.stored_len as usize]
    }

    /// Walks the file block by block, stepping over damage.
    fn scan(&mut self) {
        self.blocks.clear();
        let len = self.map.len() as u64;
        let mut pos = PROLOGUE_LEN as u64;
        let (mut next_seq, mut next_event) = (0u32, 0u64);
        while pos < len {
            match self.header_at(pos) {
                Ok(h) => {
                    if h.seq != next_seq || h.first_event > next_event {
                        self.note_gap(pos, 0, next_seq, next_event, &h);
                    }
                    match h.kind {
                        BlockKind::Footer => {
                            if let Ok((footer, end)) = self.read_footer(pos) {
                                self.footer = Some((pos, footer));
                                let after = self.read_signature(end);
                                if len.checked_sub(after) == Some(TRAILER_LEN as u64)
                                    && decode_trailer(&self.map[after as usize..]).is_some()
                                {
                                    return;
                                }
                                pos = after;
                                continue;
                            }
                        }
                        BlockKind::Signature => {}
                        _ => self.blocks.push(IndexEntry { offset: pos, header: h }),
                    }
                    next_seq = h.seq.wrapping_add(1);
                    next_event = h.first_event
                        + if h.kind == BlockKind::Events { u64::from(h.count) } else { 0 };
                    pos += h.span();
                }
                Err(damage) => {
                    if len - pos == TRAILER_LEN as u64
                        && decode_trailer(&self.map[pos as usize..]).is_some()
                    {
                        return;
                    }
                    match self.resync(pos + 1) {
                        Some((next, h)) => {
                            self.note_gap(pos, next - pos, next_seq, next_event, &h);
                            let last = self.losses.last_mut();
                            if let Some(loss) = last.filter(|l| l.offset == pos) {
                                loss.reason = format!("{damage}; skipped to the next block");
                            }
                            pos = next;
                        }
                        None => {
                            self.note_tail(pos, damage);
                            return;
                        }
                    }
                }
            }
        }
    }

    /// Records the blocks and events between what was expected and header `h` as lost.
    fn note_gap(&mut self, pos: u64, bytes: u64, next_seq: u32, next_event: u64, h: &BlockHeader) {
        let blocks = h.seq.checked_sub(next_seq).map(u64::from);
        let events = h.first_event.checked_sub(next_event);
        if bytes == 0 && blocks == Some(0) && events == Some(0) {
            return;
        }
        self.losses.push(Loss {
            offset: pos,
            bytes,
            blocks,
            events,
            to_end: false,
            reason: format!("blocks missing before block #{}", h.seq),
        });
    }

    /// Records the unreadable end of the file.
    fn note_tail(&mut self, pos: u64, damage: Damage) {
        let len = self.map.len() as u64;
        // A header that reads but runs past the end tells how many events the cut block held.
        let at = pos as usize;
        let cut = self
            .map
            .get(at..at + BLOCK_HEADER_LEN)
            .and_then(|b| <&[u8; BLOCK_HEADER_LEN]>::try_from(b).ok())
            .and_then(|b| BlockHeader::decode(b).ok());
        let (blocks, events, reason) = match cut {
            Some(h) => {
                let events = if h.kind == BlockKind::Events { u64::from(h.count) } else { 0 };
                (
                    Some(1),
                    Some(events),
                    format!("block #{} ({}) is cut short: {damage}", h.seq, h.kind.name()),
                )
            }
            None => (None, None, format!("unreadable to the end: {damage}")),
        };
        let to_end = self.footer.is_none();
        self.losses.push(Loss { offset: pos, bytes: len - pos, blocks, events, to_end, reason });
    }

    /// The next offset at or after `from` where a valid block header starts.
    fn resync(&self, from: u64) -> Option<(u64, BlockHeader)> {
        let map = &self.map[..];
        let mut at = from as usize;
        while let Some(i) = find(&map[at.min(map.len())..], &BLOCK_MAGIC) {
            let off = (at + i) as u64;
            if let Ok(h) = self.header_at(off) {
                return Some((off, h));
            }
            at += i + 1;
        }
        None
    }

    fn load_metadata(&mut self) -> Result<(), Error> {
        let Some(first) = self.blocks.first().copied() else {
            return Err(Error::Block {
                path: self.path.clone(),
                damage: BlockError {
                    seq: 0,
                    kind: BlockKind::Header,
                    offset: PROLOGUE_LEN as u64,
                    events: 0,
                    damage: Damage::Other("no readable block (is the file cut short?)".into()),
                },
            });
        };
        if first.header.kind != BlockKind::Header {
            self.losses.push(Loss {
                offset: PROLOGUE_LEN as u64,
                bytes: first.offset - PROLOGUE_LEN as u64,
                blocks: None,
                events: Some(0),
                to_end: false,
                reason: "header block missing: capture metadata lost".into(),
            });
            return Ok(());
        }
        let payload = self
            .payload(&first)
            .map_err(|damage| Error::Block { path: self.path.clone(), damage })?;
        match read_records::<Metadata>(&payload, 1) {
            Ok(mut m) => self.metadata = m.pop().unwrap_or_default(),
            Err(e) => {
                self.losses.push(Loss {
                    offset: first.offset,
                    bytes: 0,
                    blocks: Some(0),
                    events: Some(0),
                    to_end: false,
                    reason: format!("header block does not decode: {e}"),
                });
            }
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Format version (major, minor) from the prologue.
    pub fn version(&self) -> (u16, u16) {
        self.version
    }

    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Every readable block in file order (header, state and event blocks).
    pub fn blocks(&self) -> &[IndexEntry] {
        &self.blocks
    }

    pub fn footer(&self) -> Option<&Footer> {
        self.footer.as_ref().map(|(_, f)| f)
    }

    pub fn signature(&self) -> Option<&Signature> {
        self.signature.as_ref()
    }

    /// What a scan had to skip. Empty for an intact, properly closed capture.
    pub fn losses(&self) -> &[Loss] {
        &self.losses
    }

    pub fn file_len(&self) -> u64 {
        self.map.len() as u64
    }

    /// The raw bytes of the file.
    pub fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// Events in readable event blocks (without decoding them).
    pub fn event_count(&self) -> u64 {
        self.event_entries().map(|e| u64::from(e.header.count)).sum()
    }

    pub fn event_entries(&self) -> impl Iterator<Item = &IndexEntry> + '_ {
        self.blocks.iter().filter(|e| e.header.kind == BlockKind::Events)
    }

    /// A block's payload, checked and decompressed.
    pub fn payload(&self, entry: &IndexEntry) -> Result<Vec<u8>, BlockError> {
        let h = &entry.header;
        let fail = |damage| BlockError {
            seq: h.seq,
            kind: h.kind,
            offset: entry.offset,
            events: if h.kind == BlockKind::Events { u64::from(h.count) } else { 0 },
            damage,
        };
        let stored = self.checked_stored(entry).map_err(fail)?;
        check_payload(stored, h).map_err(fail)?;
        if h.flags & FLAG_ZSTD == 0 {
            return Ok(stored.to_vec());
        }
        decompress(stored, h.raw_len as usize).map_err(fail)
    }

    fn checked_stored(&self, entry: &IndexEntry) -> Result<&[u8], Damage> {
        // The index was checked against the file length, but a block reached through a
        // damaged footer could still lie: re-read the header from the file.
        let header = self.header_at(entry.offset)?;
        if header != entry.header {
            return Err(Damage::Other("block header differs from the footer's index".into()));
        }
        Ok(self.stored(entry.offset, &header))
    }

    /// Checks every block's header and payload checksum, in parallel, without decoding:
    /// a quick integrity pass (a full one is [`crate::verify`]).
    pub fn check_blocks(&self) -> Vec<BlockError> {
        let mut errors: Vec<BlockError> = self
            .blocks
            .par_iter()
            .filter_map(|entry| {
                let h = &entry.header;
                let result = self.checked_stored(entry).and_then(|s| check_payload(s, h));
                result.err().map(|damage| BlockError {
                    seq: h.seq,
                    kind: h.kind,
                    offset: entry.offset,
                    events: if h.kind == BlockKind::Events { u64::from(h.count) } else { 0 },
                    damage,
                })
            })
            .collect();
        errors.sort_by_key(|e| e.offset);
        errors
    }

    /// Decodes one event block.
    pub fn decode_events(&self, entry: &IndexEntry) -> Result<EventBlock, BlockError> {
        let raw = self.payload(entry)?;
        EventBlock::decode(raw, entry.header.count, entry.header.first_event).map_err(|e| {
            BlockError {
                seq: entry.header.seq,
                kind: entry.header.kind,
                offset: entry.offset,
                events: u64::from(entry.header.count),
                damage: Damage::Decode(e),
            }
        })
    }

    /// [`decode_events`](Capture::decode_events) into `block`, with `scratch` for the
    /// decompressed payload, both reused from block to block.
    pub fn decode_events_into(
        &self,
        entry: &IndexEntry,
        block: &mut EventBlock,
        scratch: &mut Vec<u8>,
    ) -> Result<(), BlockError> {
        let h = &entry.header;
        let fail = |damage| BlockError {
            seq: h.seq,
            kind: h.kind,
            offset: entry.offset,
            events: u64::from(h.count),
            damage,
        };
        let stored = self.checked_stored(entry).map_err(fail)?;
        check_payload(stored, h).map_err(fail)?;
        let raw = if h.flags & FLAG_ZSTD == 0 {
            stored
        } else {
            decompress_into(stored, h.raw_len as usize, scratch).map_err(fail)?;
            &scratch[..]
        };
        block.decode_into(raw, h.count, h.first_event).map_err(|e| fail(Damage::Decode(e)))
    }

    /// Decodes one state block; `None` for blocks that are not state.
    pub fn decode_state(&self, entry: &IndexEntry) -> Option<Result<State, BlockError>> {
        if !entry.header.kind.is_state() {
            return None;
        }
        let fail = |damage| BlockError {
            seq: entry.header.seq,
            kind: entry.header.kind,
            offset: entry.offset,
            events: 0,
            damage,
        };
        Some(self.payload(entry).and_then(|raw| {
            State::decode(entry.header.kind, &raw, entry.header.count)
                .unwrap_or(Err(crate::wire::DecodeError { offset: 0, what: "kind" }))
                .map_err(|e| fail(Damage::Decode(e)))
        }))
    }

    /// Every state block, decoded, in file order.
    pub fn states(&self) -> impl Iterator<Item = (IndexEntry, Result<State, BlockError>)> + '_ {
        self.blocks.iter().filter_map(|e| self.decode_state(e).map(|s| (*e, s)))
    }

    /// Event blocks in file order, decoded ahead in parallel.
    pub fn event_blocks(&self) -> OrderedBlocks<'_> {
        self.event_blocks_in(0, u64::MAX)
    }

    /// Event blocks that may hold events with `from <= ts <= to` (others are skipped
    /// without decoding; events inside a returned block still need filtering).
    pub fn event_blocks_in(&self, from: u64, to: u64) -> OrderedBlocks<'_> {
        let entries = self
            .event_entries()
            .filter(|e| e.header.max_ts >= from && e.header.min_ts <= to)
            .copied()
            .collect();
        OrderedBlocks {
            capture: self,
            entries,
            next: 0,
            ready: std::collections::VecDeque::new(),
            batch: rayon::current_num_threads().max(1) * 2,
        }
    }

    /// Runs `f` on every event block, on every core, in no particular order.
    pub fn par_event_blocks<F>(&self, f: F)
    where
        F: Fn(Result<EventBlock, BlockError>) + Sync + Send,
    {
        let entries: Vec<_> = self.event_entries().copied().collect();
        entries.par_iter().for_each(|e| f(self.decode_events(e)));
    }
}

/// An ordered stream of decoded event blocks; see [`Capture::event_blocks`].
pub struct OrderedBlocks<'c> {
    capture: &'c Capture,
    entries: Vec<IndexEntry>,
    next: usize,
    ready: std::collections::VecDeque<Result<EventBlock, BlockError>>,
    batch: usize,
}

impl Iterator for OrderedBlocks<'_> {
    type Item = Result<EventBlock, BlockError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.ready.is_empty() && self.next < self.entries.len() {
            let end = (self.next + self.batch).min(self.entries.len());
            let capture = self.capture;
            let decoded: Vec<_> =
                self.entries[self.next..end].par_iter().map(|e| capture.decode_events(e)).collect();
            self.ready.extend(decoded);
            self.next = end;
        }
        self.ready.pop_front()
    }
}

fn check_payload(stored: &[u8], h: &BlockHeader) -> Result<(), Damage> {
    let computed = crc(stored);
    if computed != h.payload_crc {
        return Err(Damage::PayloadChecksum { stored: h.payload_crc, computed });
    }
    Ok(())
}

fn decompress(stored: &[u8], raw_len: usize) -> Result<Vec<u8>, Damage> {
    // The frame's own size field must agree with the header before anything is allocated.
    match zstd::zstd_safe::get_frame_content_size(stored) {
        Ok(Some(n)) if n == raw_len as u64 => {}
        _ => return Err(Damage::Decompress("frame size disagrees with the header".into())),
    }
    let out =
        zstd::bulk::decompress(stored, raw_len).map_err(|e| Damage::Decompress(e.to_string()))?;
    if out.len() != raw_len {
        return Err(Damage::Decompress(format!("{} bytes, header says {raw_len}", out.len())));
    }
    Ok(out)
}

/// [`decompress`] into `out`, reusing its allocation.
fn decompress_into(stored: &[u8], raw_len: usize, out: &mut Vec<u8>) -> Result<(), Damage> {
    match zstd::zstd_safe::get_frame_content_size(stored) {
        Ok(Some(n)) if n == raw_len as u64 => {}
        _ => return Err(Damage::Decompress("frame size disagrees with the header".into())),
    }
    out.clear();
    out.reserve(raw_len);
    let n = zstd::zstd_safe::decompress(out, stored)
        .map_err(|e| Damage::Decompress(zstd::zstd_safe::get_error_name(e).to_string()))?;
    if n != raw_len {
        return Err(Damage::Decompress(format!("{n} bytes, header says {raw_len}")));
    }
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Names what a non-dcap file looks like, for the error message.
fn describe_foreign(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(8)];
    if head.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]) {
        "this is a sysdig/Falco .scap capture (pcapng section header); convert it with \
         `dredge import`"
            .into()
    } else if head.starts_with(&[0x1f, 0x8b]) {
        "this is gzip data (a compressed .scap?); dcap files are not gzipped".into()
    } else {
        format!("magic {head:02x?} at offset 0, expected {FILE_MAGIC:02x?}")
    }
}
