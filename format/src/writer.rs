//! The streaming writer.
//!
//! Callers push events (and now and then state); the writer fills an event block and, when it
//! reaches the target size, hands it to a background thread that compresses it, checksums it,
//! writes it and feeds the file digest. At most `queue` blocks wait between the two, so memory
//! stays bounded however fast events come. Every block reaches the file whole before the next
//! starts, so a writer that is killed leaves a file a forward scan reads up to its last block.
//! `finish` writes the footer, the optional signature and the trailer, then syncs.

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
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
    kind: BlockKind,
    flags: u16,
    count: u32,
    first_event: u64,
    min_ts: u64,
    max_ts: u64,
    raw: Vec<u8>,
}

struct Sink {
    file: BufWriter<File>,
    digest: Digester,
    offset: u64,
    index: Vec<IndexEntry>,
}

/// Writes a `.dcap` file.
pub struct Writer {
    path: PathBuf,
    options: WriterOptions,
    builder: EventBlockBuilder,
    next_event: u64,
    events: u64,
    min_ts: u64,
    max_ts: u64,
    lost_events: u64,
    type_counts: Vec<u64>,
    jobs: Option<SyncSender<Job>>,
    spare: Receiver<Vec<u8>>,
    worker: Option<JoinHandle<Result<Sink, std::io::Error>>>,
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

        let mut sink = Sink {
            file: BufWriter::with_capacity(1 << 20, file),
            digest: Digester::default(),
            offset: 0,
            index: Vec::new(),
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
                    sink.write_block(&mut compressor, &job)?;
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
            events: 0,
            min_ts: u64::MAX,
            max_ts: 0,
            lost_events: 0,
            type_counts: Vec::new(),
            jobs: Some(jobs),
            spare,
            worker: Some(worker),
        };
        let mut raw = Vec::new();
        put_record(&mut raw, metadata);
        writer.send(Job {
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
        self.events += 1;
        self.min_ts = self.min_ts.min(header.ts);
        self.max_ts = self.max_ts.max(header.ts);
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
        let job = Job {
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

    fn send(&mut self, job: Job) -> Result<(), Error> {
        let sent = self.jobs.as_ref().map(|tx| tx.send(job).is_ok()).unwrap_or(false);
        if sent {
            return Ok(());
        }
        // The worker stopped: its error says why.
        Err(self.join().err().unwrap_or_else(|| {
            Error::io(&self.path, std::io::Error::other("writer thread stopped"))
        }))
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
        self.flush_events()?;
        let mut sink = self.join()?;
        let path = self.path.clone();
        let io = |e| Error::io(&path, e);

        let blocks = sink.index.len() as u64;
        let footer = Footer {
            digest: sink.digest.clone().finish(),
            events: self.events,
            min_ts: if self.events == 0 { 0 } else { self.min_ts },
            max_ts: self.max_ts,
            lost_events: self.lost_events,
            index: std::mem::take(&mut sink.index),
            type_counts: self
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
            first_event: self.next_event,
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
                first_event: self.next_event,
                min_ts: 0,
                max_ts: 0,
                payload_crc: crc(&payload),
            };
            sink.write(&header.encode()).map_err(io)?;
            sink.write(&payload).map_err(io)?;
        }
        sink.write(&encode_trailer(footer_offset)).map_err(io)?;
        let file = sink.file.into_inner().map_err(|e| io(e.into_error()))?;
        file.sync_all().map_err(io)?;
        Ok(WriteSummary { events: self.events, blocks, bytes: sink.offset })
    }
}

impl Sink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.file.write_all(bytes)?;
        self.offset += bytes.len() as u64;
        Ok(())
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
            if let Ok(mut sink) = self.join() {
                let _ = sink.file.flush();
            }
        }
    }
}
