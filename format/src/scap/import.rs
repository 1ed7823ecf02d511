//! `import`: a scap capture converted to dcap with nothing lost.
//!
//! Metadata blocks (machine, interfaces, users, processes, fds) become the state blocks at the
//! start of the dcap; every event is copied with its flags and raw parameter bytes, in file
//! order. Container and user meta events stay events and are also restated as derived state
//! blocks, so `info` and replay see containers and users without decoding JSON again. Threads
//! get their container id from their cgroups. The source file's SHA-256 goes into the
//! metadata, so the dcap names the evidence it came from.

use std::io::Read;
use std::path::Path;

use ed25519_dalek::SigningKey;

use super::read::{self, Item, RawEvent, ScapError};
use crate::container;
use crate::error::Error;
use crate::meta::Metadata;
use crate::state::{Container, FdTable, Interface, Machine, State, Thread, User};
use crate::value_str;
use crate::writer::{Writer, WriterOptions};

/// What an import did.
#[derive(Debug, Default)]
pub struct ImportSummary {
    pub events: u64,
    pub bytes_written: u64,
    pub sections: u32,
    pub threads: usize,
    pub containers: usize,
    pub users: usize,
    /// Blocks of unknown type, and events of types beyond the table: (offset, block type).
    pub skipped: Vec<(u64, u32)>,
    /// Where reading stopped early, if it did: everything before was imported.
    pub damage: Option<ScapError>,
    pub gzip: bool,
}

/// Metadata blocks gathered before the first event, written once the writer exists.
#[derive(Default)]
struct Prelude {
    machine: Option<Machine>,
    interfaces: Vec<Interface>,
    users: Vec<User>,
    threads: Vec<Thread>,
    fds: Vec<FdTable>,
    comments: Vec<(u16, String)>,
    version: (u16, u16),
}

impl Prelude {
    fn states(&mut self) -> Vec<State> {
        let mut out = Vec::new();
        if let Some(m) = self.machine.take() {
            out.push(State::Machine(vec![m]));
        }
        if !self.interfaces.is_empty() {
            out.push(State::Interfaces(std::mem::take(&mut self.interfaces)));
        }
        if !self.users.is_empty() {
            out.push(State::Users(std::mem::take(&mut self.users)));
        }
        if !self.threads.is_empty() {
            for t in &mut self.threads {
                t.container_id = container::id_from_cgroups(&t.cgroups).unwrap_or_default();
            }
            out.push(State::Threads(std::mem::take(&mut self.threads)));
        }
        if !self.fds.is_empty() {
            out.push(State::Fds(std::mem::take(&mut self.fds)));
        }
        out
    }
}

/// Imports `src` (scap, gzip or plain) into a new dcap at `dst`.
pub fn import(
    src: &Path,
    dst: &Path,
    command_line: Vec<String>,
    options: WriterOptions,
    key: Option<&SigningKey>,
) -> Result<ImportSummary, Error> {
    let sha256 = file_digest(src)?;
    let mut reader = read::open(src)?;
    let mut summary = ImportSummary { gzip: reader.gzip, ..ImportSummary::default() };
    let mut prelude = Prelude::default();
    let mut writer: Option<Writer> = None;
    let mut pending_containers: Vec<Container> = Vec::new();
    let mut pending_users: Vec<User> = Vec::new();

    loop {
        let item = match reader.next_item() {
            Ok(Some(item)) => item,
            Ok(None) => break,
            Err(e) => {
                summary.damage = Some(e);
                break;
            }
        };
        match item {
            Item::Event(ev) => {
                let w = match writer.as_mut() {
                    Some(w) => w,
                    None => {
                        let meta = metadata(
                            src,
                            &prelude,
                            &sha256,
                            ev.header.ts,
                            &command_line,
                            summary.gzip,
                        );
                        let w = writer.insert(Writer::create(dst, &meta, options)?);
                        for s in prelude.states() {
                            count_state(&mut summary, &s);
                            w.state(&s)?;
                        }
                        w
                    }
                };
                let is_meta = collect_meta(&ev, &mut pending_containers, &mut pending_users);
                if !is_meta {
                    flush_pending(w, &mut summary, &mut pending_containers, &mut pending_users)?;
                }
                w.push(&ev.header, ev.params())?;
                summary.events += 1;
                if is_meta {
                    continue;
                }
            }
            Item::Section(s) => {
                summary.sections += 1;
                prelude.version = (s.major, s.minor);
                prelude.comments.extend(s.options);
            }
            Item::Machine(m) => prelude.machine = Some(m),
            Item::Interfaces(i) => prelude.interfaces.extend(i),
            Item::Users(u) => prelude.users.extend(u),
            Item::Threads(t) => prelude.threads.extend(t),
            Item::Fds(f) => prelude.fds.push(f),
            Item::Skipped { offset, block_type, .. } => summary.skipped.push((offset, block_type)),
        }
        // A later section (captures joined with `cat`) restates the system: write it as it
        // comes, after the events before it.
        if let Some(w) = writer.as_mut() {
            for s in prelude.states() {
                count_state(&mut summary, &s);
                w.state(&s)?;
            }
        }
    }

    let mut w = match writer {
        Some(w) => w,
        None => {
            let meta = metadata(src, &prelude, &sha256, 0, &command_line, reader.gzip);
            let mut w = Writer::create(dst, &meta, options)?;
            for s in prelude.states() {
                count_state(&mut summary, &s);
                w.state(&s)?;
            }
            w
        }
    };
    flush_pending(&mut w, &mut summary, &mut pending_containers, &mut pending_users)?;
    let written = w.finish(key)?;
    summary.bytes_written = written.bytes;
    Ok(summary)
}

fn count_state(summary: &mut ImportSummary, s: &State) {
    match s {
        State::Threads(t) => summary.threads += t.len(),
        State::Users(u) => summary.users += u.len(),
        State::Containers(c) => summary.containers += c.len(),
        _ => {}
    }
}

fn flush_pending(
    w: &mut Writer,
    summary: &mut ImportSummary,
    containers: &mut Vec<Container>,
    users: &mut Vec<User>,
) -> Result<(), Error> {
    if !containers.is_empty() {
        let s = State::Containers(std::mem::take(containers));
        count_state(summary, &s);
        w.derived_state(&s)?;
    }
    if !users.is_empty() {
        let s = State::Users(std::mem::take(users));
        count_state(summary, &s);
        w.derived_state(&s)?;
    }
    Ok(())
}

/// Gathers the container or user a meta event announces; true if it was such an event.
fn collect_meta(ev: &RawEvent<'_>, containers: &mut Vec<Container>, users: &mut Vec<User>) -> bool {
    let p: Vec<&[u8]> = match ev.header.code {
        228 | 272 | 324 | 354 | 358 | 402 => ev.params().collect(),
        _ => return false,
    };
    let s = |i: usize| p.get(i).map(|b| value_str(b)).unwrap_or_default();
    let u32_at = |i: usize| {
        p.get(i).and_then(|b| <[u8; 4]>::try_from(*b).ok()).map_or(0, u32::from_le_bytes)
    };
    match ev.header.code {
        228 => containers.push(Container {
            id: s(0),
            runtime: container::runtime_name(u64::from(u32_at(1))).into(),
            name: s(2),
            image: s(3),
            ..Container::default()
        }),
        272 | 324 => containers.extend(container::from_json(&s(0))),
        402 if s(1) == "container" => containers.extend(container::from_json(&s(2))),
        354 => users.push(User {
            uid: u32_at(0),
            gid: u32_at(1),
            name: s(2),
            home: s(3),
            shell: s(4),
            container_id: s(5),
            ..User::default()
        }),
        358 => users.push(User {
            is_group: true,
            gid: u32_at(0),
            name: s(1),
            container_id: s(2),
            ..User::default()
        }),
        _ => return false,
    }
    true
}

fn metadata(
    src: &Path,
    p: &Prelude,
    sha256: &str,
    first_ts: u64,
    cmd: &[String],
    gzip: bool,
) -> Metadata {
    let m = p.machine.clone().unwrap_or_default();
    let name = src
        .file_name()
        .map_or_else(|| src.display().to_string(), |n| n.to_string_lossy().into_owned());
    let mut extra = vec![
        ("import.sha256".to_string(), sha256.to_string()),
        ("import.scap_version".to_string(), format!("{}.{}", p.version.0, p.version.1)),
        ("import.gzip".to_string(), gzip.to_string()),
    ];
    extra.extend(
        p.comments.iter().map(|(code, text)| (format!("scap.option.{code}"), text.clone())),
    );
    Metadata {
        hostname: m.hostname,
        cpu_count: m.cpu_count,
        memory_bytes: m.memory_bytes,
        boot_time: m.boot_time,
        capture_start: first_ts,
        dredge_version: env!("CARGO_PKG_VERSION").into(),
        command_line: cmd.to_vec(),
        source: format!("import:{name}"),
        extra,
        ..Metadata::default()
    }
}

fn file_digest(path: &Path) -> Result<String, Error> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = crate::footer::Digester::default();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(crate::footer::hex(&hasher.finish()))
}
