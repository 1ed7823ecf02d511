//! The streaming writer.
//!
//! Callers push events (and now and then state); the writer fills an event block and, when it
//! reaches the target size, hands it to a background thread that compresses it, checksums it,
//! writes it and feeds the file digest. At most `queue` blocks wait between the two, so memory
//! stays bounded however fast events come. Every block reaches the file whole before the next
//! starts and goes to the file at once (no user-space buffer), so a writer that is killed
//! leaves a file a forward scan reads up to its last block. `finish` writes the footer, the
//! optional signature and the trailer, then syncs.
//!
//! A full disk does not cost the file: after each block the writer keeps room for the closing
//! blocks allocated past the end of the file. When a block cannot be written, the file goes
//! back to the end of the last whole block, later blocks are dropped, and `finish` still
//! closes it (then reports [`Error::Cut`]).

use std::fs::{self, File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use ed25519_dalek::{Signer, SigningKey};

use crate::block::{
    BLOCK_HEADER_LEN, BlockHeader, BlockKind, FLAG_ZSTD, MAX_PAYLOAD, encode_prologue,
    encode_trailer,
};
use crate::columns::EventBlockBuilder;
use crate::error::Error;
use crate::event::EventHeader;
use crate::footer::{Digester, Footer, IndexEntry, Signature};
use crate::meta::Metadata;
use crate::record::put_record;
use crate::state::State;
use crate::wire::crc;

/// Tuning for a [`Writer`].
#[derive(Debug, Clone, Copy)]
pub struct WriterOptions {
    /// Target uncompressed size of an event block. Larger blocks compress a little better;
    /// smaller ones lose less to damage and give more parallelism to readers.
    pub block_bytes: usize,
    /// zstd level (1 fastest .. 19 smallest).
    pub level: i32,
    /// Blocks that may wait for the compression thread.
    pub queue: usize,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions { block_bytes: 1 << 20, level: 6, queue: 4 }
    }
}

/// Totals of a finished capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteSummary {
    pub events: u64,
    pub blocks: u64,
    pub bytes: u64,
}

struct Job {
    /// Events per type code in this block (event blocks only).
    type_counts: Vec<(u16, u64)>,
    kind: BlockKind,
    flags: u16,
    count: u32,
    first_event: u64,
    min_ts: u64,
    max_ts: u64,
    raw: Vec<u8>,
}

struct Sink {
    file: File,
    digest: Digester,
    offset: u64,
    index: Vec<IndexEntry>,
    /// Events in the blocks written, and per type code.
    events: u64,
    type_counts: Vec<u64>,
    /// Bytes in the file so far, for readers on other threads.
    written: Arc<AtomicU64>,
    /// Why writing stopped, if it did.
    failed: Option<std::io::Error>,
}

/// Writes a `.dcap` file.
pub struct Writer {
    path: PathBuf,
    options: WriterOptions,
    builder: EventBlockBuilder,
    next_event: u64,
    lost_events: u64,
    /// Events per type code in the block being built.
    type_counts: Vec<u64>,
    jobs: Option<SyncSender<Job>>,
    spare: Receiver<Vec<u8>>,
    worker: Option<JoinHandle<Result<Sink, std::io::Error>>>,
    /// The sink of a worker that stopped early, kept for `finish`.
    stopped: Option<Sink>,
    written: Arc<AtomicU64>,
}

impl Writer {
    /// Creates (or truncates) `path` with mode 0600 and writes the prologue and header block.
    pub fn create(
        path: &Path,
        metadata: &Metadata,
        options: WriterOptions,
    ) -> Result<Writer, Error> {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        // An existing file keeps its mode on truncation; captures hold secrets, so narrow it.
        fs::set_permissions(path, fs::Permissions::from_mode(0o600))
            .map_err(|e| Error::io(path, e))?;

        let written = Arc::new(AtomicU64::new(0));
        let mut sink = Sink {
            file,
            digest: Digester::default(),
            offset: 0,
            index: Vec::new(),
            events: 0,
            type_counts: Vec::new(),
            written: Arc::clone(&written),
            failed: None,
        };
        let prologue = encode_prologue();
        sink.digest.update(&prologue);
        sink.write(&prologue).map_err(|e| Error::io(path, e))?;

        let (jobs, inbox) = sync_channel::<Job>(options.queue.max(1));
        let (recycle, spare) = sync_channel::<Vec<u8>>(options.queue.max(1) + 2);
        let level = options.level;
        let worker = std::thread::Builder::new()
            .name("dcap-writer".into())
            .spawn(move || {
                let mut compressor = zstd::bulk::Compressor::new(level)?;
                for job in inbox {
                    if let Err(e) = sink.write_block_or_rewind(&mut compressor, &job) {
                        // Stop taking blocks: the sender sees the channel close.
                        sink.failed = Some(e);
                        return Ok(sink);
                    }
                    let _ = recycle.try_send(job.raw);
                }
                Ok(sink)
            })
            .map_err(|e| Error::io(path, e))?;

        let mut writer = Writer {
            path: path.to_path_buf(),
            options,
            builder: EventBlockBuilder::new(),
            next_event: 0,
            lost_events: 0,
            type_counts: Vec::new(),
            jobs: Some(jobs),
            spare,
            worker: Some(worker),
            stopped: None,
            written,
        };
        let mut raw = Vec::new();
        put_record(&mut raw, metadata);
        writer.send(Job {
            type_counts: Vec::new(),
            kind: BlockKind::Header,
            flags: 0,
            count: 1,
            first_event: 0,
            min_ts: 0,
            max_ts: 0,
            raw,
        })?;
        Ok(writer)
    }

    /// Appends one event.
    pub fn push<'p>(
        &mut self,
        header: &EventHeader,
        params: impl IntoIterator<Item = &'p [u8]>,
    ) -> Result<(), Error> {
        self.builder.push(header, params);
        let code = usize::from(header.code);
        if code >= self.type_counts.len() {
            self.type_counts.resize(code + 1, 0);
        }
        self.type_counts[code] += 1;
        if self.builder.raw_size() >= self.options.block_bytes.min(MAX_PAYLOAD as usize / 2) {
            self.flush_events()?;
        }
        Ok(())
    }

    /// Writes a state block. Pending events go out first, so the state lands between the
    /// events it follows and those it precedes.
    pub fn state(&mut self, state: &State) -> Result<(), Error> {
        self.state_block(state, 0)
    }

    /// Writes a state block that restates events already written (see
    /// [`FLAG_DERIVED`](crate::block::FLAG_DERIVED)).
    pub fn derived_state(&mut self, state: &State) -> Result<(), Error> {
        self.state_block(state, crate::block::FLAG_DERIVED)
    }

    fn state_block(&mut self, state: &State, flags: u16) -> Result<(), Error> {
        self.flush_events()?;
        let raw = state.encode();
        if raw.len() > MAX_PAYLOAD as usize {
            // A table too large for one block goes in several; readers apply them in turn.
            if let Some((a, b)) = state.halves() {
                self.state_block(&a, flags)?;
                return self.state_block(&b, flags);
            }
            return Err(Error::TooLarge {
                path: self.path.clone(),
                what: state.kind().name(),
                bytes: raw.len() as u64,
            });
        }
        if let State::Drops(drops) = state {
            self.lost_events += drops.iter().map(|d| d.lost).sum::<u64>();
        }
        let first_event = self.next_event;
        self.send(Job {
            type_counts: Vec::new(),
            kind: state.kind(),
            flags,
            count: state.len() as u32,
            first_event,
            min_ts: 0,
            max_ts: 0,
            raw,
        })
    }

    /// Sends the events gathered so far as a block, even if it is small.
    pub fn flush_events(&mut self) -> Result<(), Error> {
        if self.builder.is_empty() {
            return Ok(());
        }
        let mut raw = self.spare.try_recv().unwrap_or_default();
        let s = self.builder.finish_into(&mut raw);
        let first_event = self.next_event;
        self.next_event += u64::from(s.count);
        let type_counts = self
            .type_counts
            .iter_mut()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(code, n)| (code as u16, std::mem::take(n)))
            .collect();
        let job = Job {
            type_counts,
            kind: BlockKind::Events,
            flags: 0,
            count: s.count,
            first_event,
            min_ts: s.min_ts,
            max_ts: s.max_ts,
            raw,
        };
        self.send(job)
    }

    /// Bytes in the file so far (blocks written; the closing blocks come on `finish`).
    pub fn bytes_written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    fn send(&mut self, job: Job) -> Result<(), Error> {
        let sent = self.jobs.as_ref().map(|tx| tx.send(job).is_ok()).unwrap_or(false);
        if sent {
            return Ok(());
        }
        // The worker stopped: keep its sink for `finish`, and say why.
        if self.stopped.is_none() {
            let sink = self.join()?;
            self.stopped = Some(sink);
        }
        let reason = self
            .stopped
            .as_ref()
            .and_then(|s| s.failed.as_ref())
            .map_or_else(|| "writer thread stopped".to_string(), ToString::to_string);
        let events = self.stopped.as_ref().map_or(0, |s| s.events);
        Err(Error::Cut { path: self.path.clone(), reason, events })
    }

    fn join(&mut self) -> Result<Sink, Error> {
        self.jobs = None;
        let worker = self.worker.take().ok_or_else(|| {
            Error::io(&self.path, std::io::Error::other("writer already finished"))
        })?;
        match worker.join() {
            Ok(result) => result.map_err(|e| Error::io(&self.path, e)),
            Err(_) => Err(Error::io(&self.path, std::io::Error::other("writer thread panicked"))),
        }
    }

    /// Completes the file: footer, signature (with `key`), trailer, fsync.
    pub fn finish(mut self, key: Option<&SigningKey>) -> Result<WriteSummary, Error> {
        // After a failed write the remaining events are lost; the file still gets closed.
        let _ = self.flush_events();
        let mut sink = match self.stopped.take() {
            Some(sink) => sink,
            None => self.join()?,
        };
        let path = self.path.clone();
        let io = |e| Error::io(&path, e);
        // The footer describes what reached the file, from the blocks written (after a
        // failed write, later events are not there).
        let event_blocks = || sink.index.iter().filter(|e| e.header.kind == BlockKind::Events);
        let min_ts = event_blocks().map(|e| e.header.min_ts).min().unwrap_or(0);
        let max_ts = event_blocks().map(|e| e.header.max_ts).max().unwrap_or(0);
        let events = sink.events;

        let blocks = sink.index.len() as u64;
        let footer = Footer {
            digest: sink.digest.clone().finish(),
            events,
            min_ts,
            max_ts,
            lost_events: self.lost_events,
            index: std::mem::take(&mut sink.index),
            type_counts: sink
                .type_counts
                .iter()
                .enumerate()
                .filter(|(_, n)| **n > 0)
                .map(|(code, n)| (code as u16, *n))
                .collect(),
        };
        let footer_offset = sink.offset;
        let payload = footer.encode();
        let header = BlockHeader {
            kind: BlockKind::Footer,
            flags: 0,
            seq: blocks as u32,
            stored_len: payload.len() as u32,
            raw_len: payload.len() as u32,
            count: footer.index.len() as u32,
            first_event: events,
            min_ts: footer.min_ts,
            max_ts: footer.max_ts,
            payload_crc: crc(&payload),
        };
        let header_bytes = header.encode();
        sink.write(&header_bytes).map_err(io)?;
        sink.write(&payload).map_err(io)?;

        if let Some(key) = key {
            let mut signed = header_bytes.to_vec();
            signed.extend_from_slice(&payload);
            let sig = Signature {
                public_key: key.verifying_key().to_bytes(),
                signature: key.sign(&signed).to_bytes(),
            };
            let payload = sig.encode();
            let header = BlockHeader {
                kind: BlockKind::Signature,
                flags: 0,
                seq: blocks as u32 + 1,
                stored_len: payload.len() as u32,
                raw_len: payload.len() as u32,
                count: 1,
                first_event: events,
                min_ts: 0,
                max_ts: 0,
                payload_crc: crc(&payload),
            };
            sink.write(&header.encode()).map_err(io)?;
            sink.write(&payload).map_err(io)?;
        }
        sink.write(&encode_trailer(footer_offset)).map_err(io)?;
        // Cut what a failed block left beyond the end, and the room kept for closing.
        sink.file.set_len(sink.offset).map_err(io)?;
        sink.file.sync_all().map_err(io)?;
        if let Some(reason) = sink.failed {
            return Err(Error::Cut { path, reason: reason.to_string(), events: sink.events });
        }
        Ok(WriteSummary { events, blocks, bytes: sink.offset })
    }
}

impl Sink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.file.write_all(bytes)?;
        self.offset += bytes.len() as u64;
        self.written.store(self.offset, Ordering::Relaxed);
        Ok(())
    }

    /// Writes a block; if that fails, puts the file position and digest back to the end of
    /// the last whole block, so the closing blocks can go there.
    fn write_block_or_rewind(
        &mut self,
        compressor: &mut zstd::bulk::Compressor<'_>,
        job: &Job,
    ) -> std::io::Result<()> {
        let (offset, digest, blocks) = (self.offset, self.digest.clone(), self.index.len());
        match self.write_block(compressor, job).and_then(|()| self.keep_room()) {
            Ok(()) => {
                if job.kind == BlockKind::Events {
                    self.events += u64::from(job.count);
                    for &(code, n) in &job.type_counts {
                        let code = usize::from(code);
                        if code >= self.type_counts.len() {
                            self.type_counts.resize(code + 1, 0);
                        }
                        self.type_counts[code] += n;
                    }
                }
                Ok(())
            }
            Err(e) => {
                self.offset = offset;
                self.digest = digest;
                self.index.truncate(blocks);
                self.written.store(offset, Ordering::Relaxed);
                self.file.seek(SeekFrom::Start(offset))?;
                Err(e)
            }
        }
    }

    /// Keeps enough space allocated past the end for the footer (an index entry per block),
    /// a signature and the trailer; the file's size does not change.
    fn keep_room(&mut self) -> std::io::Result<()> {
        let room = 4096 + 64 * (self.index.len() as u64 + 2) + 8 * 1024;
        match rustix::fs::fallocate(
            &self.file,
            rustix::fs::FallocateFlags::KEEP_SIZE,
            self.offset,
            room,
        ) {
            Ok(()) => Ok(()),
            // A file system without fallocate: nothing to keep, nothing to lose.
            Err(rustix::io::Errno::OPNOTSUPP) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn write_block(
        &mut self,
        compressor: &mut zstd::bulk::Compressor<'_>,
        job: &Job,
    ) -> std::io::Result<()> {
        let compressed = compressor.compress(&job.raw)?;
        let (flags, stored) = if compressed.len() < job.raw.len() {
            (job.flags | FLAG_ZSTD, &compressed[..])
        } else {
            (job.flags, &job.raw[..])
        };
        let header = BlockHeader {
            kind: job.kind,
            flags,
            seq: self.index.len() as u32,
            stored_len: stored.len() as u32,
            raw_len: job.raw.len() as u32,
            count: job.count,
            first_event: job.first_event,
            min_ts: job.min_ts,
            max_ts: job.max_ts,
            payload_crc: crc(stored),
        };
        let offset = self.offset;
        let bytes = header.encode();
        self.digest.update(&bytes);
        self.digest.update(stored);
        self.write(&bytes)?;
        self.write(stored)?;
        self.index.push(IndexEntry { offset, header });
        debug_assert_eq!(bytes.len(), BLOCK_HEADER_LEN);
        Ok(())
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Unfinished: let the worker write what it has, so the file is readable by a scan.
        if self.worker.is_some() {
            let _ = self.flush_events();
            let _ = self.join();
        }
    }
}
