//! A recording session: load the kernel side, write the start-up snapshot, then move records
//! from the ring into the capture until told to stop, and close the file.
//!
//! One thread drains the ring and pushes events into the [`Writer`], whose own thread
//! compresses and writes blocks; the ring is read on a timer rather than woken per event
//! (`bpf/recorder.bpf.c` says why). Drops counted by the kernel side go into the capture as
//! `Drops` state blocks, so a reader sees where and how many.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use dredge_format::state::{DropRecord, State, User};
use dredge_format::{Metadata, Writer, WriterOptions};
use ed25519_dalek::SigningKey;

use crate::containers::Resolver;
use crate::decode::{Decoded, Decoder};
use crate::probe::{Probe, ProbeConfig, ProbeError};
use crate::snapshot;
use crate::syscalls::Selection;

/// How a recording runs.
#[derive(Debug, Clone)]
pub struct Options {
    pub output: PathBuf,
    pub selection: Selection,
    /// Bytes of I/O data kept per event.
    pub snaplen: u32,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Stop after this many events.
    pub count: Option<u64>,
    /// Kernel ring buffer size in bytes (a power of two).
    pub ring_bytes: u32,
    /// Record only processes in containers (below the host's pid namespace).
    pub containers_only: bool,
    /// The command line, kept in the capture's metadata.
    pub command_line: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            output: PathBuf::from("capture.dcap"),
            selection: Selection::StatePlus(Default::default()),
            snaplen: 80,
            duration: None,
            count: None,
            ring_bytes: 64 << 20,
            containers_only: false,
            command_line: Vec::new(),
        }
    }
}

/// How far a recording has got.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    pub events: u64,
    /// Records the kernel side could not send (ring full), all CPUs.
    pub drops: u64,
    /// Bytes in the file so far.
    pub bytes: u64,
    pub elapsed: Duration,
}

/// A finished recording.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub progress: Progress,
    pub bytes: u64,
    pub blocks: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    Probe(#[from] ProbeError),
    #[error(transparent)]
    Format(#[from] dredge_format::Error),
    #[error("{0}")]
    Record(String),
}

/// How often the ring is drained when it was found empty.
const IDLE: Duration = Duration::from_millis(5);
/// How often drops are read and progress reported.
const TICK: Duration = Duration::from_secs(1);

/// A recording that has started: the kernel side is attached and the snapshot written.
pub struct Recorder {
    options: Options,
    probe: Probe,
    writer: Writer,
    decoder: Decoder,
    containers: Resolver,
}

impl Recorder {
    /// Loads and attaches the kernel side, creates the file and writes the snapshot. Events
    /// from this moment on are in the ring, waiting for [`Recorder::run`].
    pub fn start(options: &Options) -> Result<Recorder, RecordError> {
        let syscalls = options.selection.numbers().map_err(|name| {
            RecordError::Record(format!("unknown syscall {name:?} in --syscalls"))
        })?;
        let probe = Probe::load(&ProbeConfig {
            self_tgid: std::process::id(),
            snaplen: options.snaplen,
            args_max: 4096,
            ring_bytes: options.ring_bytes,
            containers_only: options.containers_only,
            syscalls,
        })?;

        let now = realtime_ns();
        let boot = ns(rustix::time::clock_gettime(rustix::time::ClockId::Boottime));
        let boot_time = now.saturating_sub(boot);
        let machine = snapshot::machine(boot_time);
        let host_users = snapshot::users::read(Path::new("/"), "");
        let metadata = Metadata {
            hostname: machine.hostname.clone(),
            kernel_release: machine.kernel_release.clone(),
            boot_id: snapshot::read_trimmed("/proc/sys/kernel/random/boot_id"),
            machine_id: snapshot::read_trimmed("/etc/machine-id"),
            cpu_count: machine.cpu_count,
            memory_bytes: machine.memory_bytes,
            boot_time,
            capture_start: now,
            dredge_version: env!("CARGO_PKG_VERSION").to_string(),
            command_line: options.command_line.clone(),
            filter: if options.containers_only { "containers only" } else { "" }.to_string(),
            snaplen: options.snaplen,
            recorded_by: recorded_by(&host_users),
            source: "record".to_string(),
            extra: Vec::new(),
        };
        // zstd 3: live recording cannot wait for the denser levels.
        let writer_options = WriterOptions { level: 3, ..WriterOptions::default() };
        let mut writer = Writer::create(&options.output, &metadata, writer_options)?;
        writer.state(&State::Machine(vec![machine]))?;
        writer.state(&State::Users(host_users))?;
        let threads = snapshot::threads(Path::new("/proc"), boot_time);
        let mut containers = Resolver::default();
        let mut found = Vec::new();
        let mut their_users = Vec::new();
        for t in threads.iter().filter(|t| !t.container_id.is_empty()) {
            if let Some((c, users)) = containers.resolve(&t.container_id, t.pid) {
                found.push(c);
                their_users.extend(users);
            }
        }
        if !found.is_empty() {
            writer.state(&State::Containers(found))?;
            writer.state(&State::Users(their_users))?;
        }
        let pids: Vec<i64> = threads.iter().filter(|t| t.tid == t.pid).map(|t| t.pid).collect();
        writer.state(&State::Threads(threads))?;
        writer.state(&State::Fds(snapshot::fds::tables(Path::new("/proc"), pids)))?;
        Ok(Recorder {
            options: options.clone(),
            probe,
            writer,
            decoder: Decoder::new(boot_time),
            containers,
        })
    }

    /// Moves events into the file until `stop` is set, the duration passes or the count is
    /// reached, then closes the file (signed with `key`). `progress` is called about once a
    /// second.
    pub fn run(
        mut self,
        key: Option<&SigningKey>,
        stop: &AtomicBool,
        mut progress: impl FnMut(&Progress),
    ) -> Result<Summary, RecordError> {
        let start = Instant::now();
        let mut seen = Progress::default();
        let pumped = self.pump(stop, start, &mut seen, &mut progress);
        seen.elapsed = start.elapsed();
        let Recorder { probe, writer, .. } = self;
        drop(probe);
        // The file is closed whatever stopped the recording; a write that failed (a full
        // disk) is reported by `finish` once the file is closed and valid.
        let finished = writer.finish(key);
        match (pumped, finished) {
            (Ok(()), Ok(w)) => Ok(Summary { progress: seen, bytes: w.bytes, blocks: w.blocks }),
            (_, Err(e @ dredge_format::Error::Cut { .. })) => Err(e.into()),
            (Err(e), _) => Err(e),
            (Ok(()), Err(e)) => Err(e.into()),
        }
    }

    /// The recording loop: drain, report, until told to stop.
    fn pump(
        &mut self,
        stop: &AtomicBool,
        start: Instant,
        seen: &mut Progress,
        progress: &mut impl FnMut(&Progress),
    ) -> Result<(), RecordError> {
        let mut next_tick = start + TICK;
        let mut last_drops = self.probe.drops();
        let mut last_tick_ts = realtime_ns();
        loop {
            let drained = self.drain(seen.events, start)?;
            seen.events += drained;
            let now = Instant::now();
            if now >= next_tick {
                next_tick = now + TICK;
                // A small block a second at least: a recorder killed outright loses at most
                // the last second.
                self.writer.flush_events()?;
                seen.elapsed = now - start;
                seen.bytes = self.writer.bytes_written();
                let ts = realtime_ns();
                seen.drops += self.note_drops(&mut last_drops, last_tick_ts, ts)?;
                last_tick_ts = ts;
                progress(seen);
            }
            if stop.load(Ordering::Relaxed) || self.over(seen.events, start) {
                break;
            }
            if drained == 0 {
                std::thread::sleep(IDLE);
            }
        }
        // What the kernel had already queued belongs in the file too, within the count.
        seen.events += self.drain(seen.events, start)?;
        seen.drops += self.note_drops(&mut last_drops, last_tick_ts, realtime_ns())?;
        Ok(())
    }

    /// Moves what the ring holds into the writer; returns how many events.
    fn drain(&mut self, before: u64, start: Instant) -> Result<u64, RecordError> {
        let mut drained = 0u64;
        let count = self.options.count;
        let duration = self.options.duration;
        while let Some(item) = self.probe.ring.next() {
            let event = self
                .decoder
                .decode(&item)
                .map_err(|e| RecordError::Record(format!("{e} (BPF object out of step?)")))?;
            // A process in a container not met before: its description goes in first, so
            // replay knows the container from its first event on.
            if let Some(cgroups) = cgroups_of(&event) {
                if let Some(id) = dredge_format::container::id_from_cgroups(cgroups) {
                    let pid = pid_of(&event).unwrap_or(event.header.tid);
                    if let Some((c, users)) = self.containers.resolve(&id, pid) {
                        self.writer.state(&State::Containers(vec![c]))?;
                        self.writer.state(&State::Users(users))?;
                    }
                }
            }
            self.writer.push(&event.header, event.params().iter().copied())?;
            drained += 1;
            if count.is_some_and(|n| before + drained >= n)
                || (drained.is_multiple_of(4096) && duration.is_some_and(|d| start.elapsed() >= d))
            {
                break;
            }
        }
        Ok(drained)
    }

    fn over(&self, events: u64, start: Instant) -> bool {
        self.options.count.is_some_and(|n| events >= n)
            || self.options.duration.is_some_and(|d| start.elapsed() >= d)
    }

    /// Writes a `Drops` block for the CPUs that lost records since the last call.
    fn note_drops(
        &mut self,
        last: &mut Vec<u64>,
        from_ts: u64,
        to_ts: u64,
    ) -> Result<u64, RecordError> {
        let now = self.probe.drops();
        let records: Vec<DropRecord> = now
            .iter()
            .enumerate()
            .filter_map(|(cpu, &n)| {
                let lost = n.saturating_sub(last.get(cpu).copied().unwrap_or(0));
                (lost > 0).then_some(DropRecord { cpu: cpu as u16, from_ts, to_ts, lost })
            })
            .collect();
        *last = now;
        let lost = records.iter().map(|d| d.lost).sum();
        if !records.is_empty() {
            self.writer.state(&State::Drops(records))?;
        }
        Ok(lost)
    }
}

/// Clone and execve exits carry the task's cgroups as parameter 14 and its pid as 4.
const CGROUPS_PARAM: usize = 14;
const PID_PARAM: usize = 4;

fn carries_cgroups(code: u16) -> bool {
    matches!(code, 223 | 225 | 227 | 335 | 293 | 331)
}

fn cgroups_of<'a>(event: &Decoded<'a>) -> Option<&'a [u8]> {
    if !carries_cgroups(event.header.code) {
        return None;
    }
    event.params().get(CGROUPS_PARAM).copied().filter(|c| !c.is_empty())
}

fn pid_of(event: &Decoded<'_>) -> Option<i64> {
    let raw = event.params().get(PID_PARAM)?;
    Some(i64::from_le_bytes(<[u8; 8]>::try_from(*raw).ok()?))
}

fn ns(t: rustix::time::Timespec) -> u64 {
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

fn realtime_ns() -> u64 {
    ns(rustix::time::clock_gettime(rustix::time::ClockId::Realtime))
}

/// `name (uid)` of the user recording, named from the host's users.
fn recorded_by(host_users: &[User]) -> String {
    let uid = rustix::process::geteuid().as_raw();
    let name =
        host_users.iter().find(|u| !u.is_group && u.uid == uid).map_or("", |u| u.name.as_str());
    format!("{name} ({uid})")
}
