//! `dredge info`: what a capture holds, without replaying it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use dredge_format::state::{Container, DropRecord};
use dredge_format::table::{Direction, table};
use dredge_format::{BlockError, Capture, Layout, Loss, Metadata, State, sign};

use serde::Serialize;

use super::utc;

/// Show a capture's metadata, time range, event counts, containers, drops and integrity.
#[derive(clap::Args)]
pub struct Args {
    /// The capture.
    file: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct TypeCount {
    code: u16,
    name: &'static str,
    dir: char,
    count: u64,
}

#[derive(Serialize)]
struct Info {
    file: String,
    /// `dcap`, or `scap` for a sysdig capture converted on the fly.
    source_format: &'static str,
    bytes: u64,
    version: String,
    /// `indexed` (closed by its writer) or `scanned` (no usable footer).
    layout: Layout,
    signed_by: Option<String>,
    metadata: Metadata,
    first_ts: Option<u64>,
    last_ts: Option<u64>,
    events: u64,
    blocks: usize,
    types: Vec<TypeCount>,
    threads: usize,
    processes: usize,
    users: usize,
    groups: usize,
    containers: Vec<Container>,
    drops: Vec<DropRecord>,
    losses: Vec<Loss>,
    damaged_blocks: Vec<String>,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let opened = super::open_capture(&args.file)?;
    let capture = &opened.capture;
    let mut info = gather(capture, &args.file);
    if let Some(s) = &opened.imported {
        info.source_format = "scap";
        if let Some(e) = &s.damage {
            info.damaged_blocks.push(format!("{e}; the capture was read up to there"));
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&info)?);
    } else {
        print_text(&info);
    }
    for loss in &info.losses {
        tracing::warn!("{}: damaged: {loss}", info.file);
    }
    for b in &info.damaged_blocks {
        tracing::warn!("{}: {b}", info.file);
    }
    let damaged = !info.losses.is_empty() || !info.damaged_blocks.is_empty();
    Ok(if damaged { crate::exit::DAMAGED } else { crate::exit::OK })
}

fn gather(capture: &Capture, path: &std::path::Path) -> Info {
    let (mut threads, mut processes, mut users, mut groups) = (0, 0, 0, 0);
    let (mut containers, mut drops, mut damaged) = (Vec::new(), Vec::new(), Vec::new());
    let mut broken: Vec<BlockError> = capture.check_blocks();
    for (_, state) in capture.states() {
        match state {
            Ok(State::Threads(t)) => {
                threads += t.len();
                processes += t.iter().filter(|t| t.tid == t.pid).count();
            }
            Ok(State::Users(u)) => {
                groups += u.iter().filter(|u| u.is_group).count();
                users += u.iter().filter(|u| !u.is_group).count();
            }
            Ok(State::Containers(c)) => containers.extend(c),
            Ok(State::Drops(d)) => drops.extend(d),
            Ok(_) => {}
            Err(e) if broken.contains(&e) => {}
            Err(e) => broken.push(e),
        }
    }
    broken.sort_by_key(|e| e.offset);
    damaged.extend(broken.iter().map(|e| e.to_string()));
    let intact = capture.losses().is_empty() && broken.is_empty();

    let (counts, first, last) = match capture.footer().filter(|_| intact) {
        Some(f) if f.events > 0 => (f.type_counts.clone(), Some(f.min_ts), Some(f.max_ts)),
        Some(_) => (Vec::new(), None, None),
        None => count_by_decoding(capture, &mut damaged),
    };
    let mut types: Vec<TypeCount> = counts
        .iter()
        .map(|&(code, count)| TypeCount {
            code,
            name: table().name(code),
            dir: Direction::of(code).symbol(),
            count,
        })
        .collect();
    types.sort_by(|a, b| b.count.cmp(&a.count).then(a.code.cmp(&b.code)));
    let (major, minor) = capture.version();
    Info {
        file: path.display().to_string(),
        source_format: "dcap",
        bytes: capture.file_len(),
        version: format!("{major}.{minor}"),
        layout: capture.layout(),
        signed_by: capture.signature().map(|s| sign::fingerprint(&s.public_key)),
        metadata: capture.metadata().clone(),
        first_ts: first,
        last_ts: last,
        events: counts.iter().map(|c| c.1).sum(),
        blocks: capture.blocks().len(),
        types,
        threads,
        processes,
        users,
        groups,
        containers,
        drops,
        losses: capture.losses().to_vec(),
        damaged_blocks: damaged,
    }
}

/// Counts events per type by decoding every block (for files without a usable footer).
fn count_by_decoding(
    capture: &Capture,
    damaged: &mut Vec<String>,
) -> (Vec<(u16, u64)>, Option<u64>, Option<u64>) {
    let total = Mutex::new((BTreeMap::<u16, u64>::new(), u64::MAX, 0u64, Vec::<BlockError>::new()));
    capture.par_event_blocks(|block| {
        let mut local = BTreeMap::new();
        let (mut lo, mut hi) = (u64::MAX, 0);
        match block {
            Ok(b) => {
                for e in b.iter() {
                    *local.entry(e.code()).or_insert(0u64) += 1;
                    lo = lo.min(e.ts());
                    hi = hi.max(e.ts());
                }
            }
            Err(e) => {
                if let Ok(mut t) = total.lock() {
                    t.3.push(e);
                }
                return;
            }
        }
        if let Ok(mut t) = total.lock() {
            for (k, v) in local {
                *t.0.entry(k).or_insert(0) += v;
            }
            t.1 = t.1.min(lo);
            t.2 = t.2.max(hi);
        }
    });
    let (counts, lo, hi, mut errors) = total.into_inner().unwrap_or_default();
    errors.sort_by_key(|e| e.seq);
    for e in errors {
        let e = e.to_string();
        if !damaged.contains(&e) {
            damaged.push(e);
        }
    }
    let any = !counts.is_empty();
    (counts.into_iter().collect(), any.then_some(lo), any.then_some(hi))
}

fn print_text(i: &Info) {
    let m = &i.metadata;
    if i.source_format == "scap" {
        println!(
            "file:        {} (sysdig/Falco scap, converted to dcap {} for reading)",
            i.file, i.version
        );
    } else {
        println!("file:        {} ({} bytes, dcap {})", i.file, i.bytes, i.version);
    }
    let state = match i.layout {
        Layout::Indexed => "closed by its writer (footer present)",
        Layout::Scanned => "NOT closed: no usable footer, read by a forward scan",
    };
    println!("state:       {state}");
    match &i.signed_by {
        Some(fp) => println!("signature:   by key {fp} (check with `dredge verify --key`)"),
        None => println!("signature:   none"),
    }
    println!(
        "host:        {} (kernel {}, {} CPUs, {} MiB)",
        m.hostname,
        if m.kernel_release.is_empty() { "unknown" } else { &m.kernel_release },
        m.cpu_count,
        m.memory_bytes >> 20
    );
    println!("source:      {}", m.source);
    if !m.command_line.is_empty() {
        println!("command:     {}", m.command_line.join(" "));
    }
    if !m.filter.is_empty() {
        println!("filter:      {}", m.filter);
    }
    if !m.recorded_by.is_empty() {
        println!("recorded by: {}", m.recorded_by);
    }
    let snaplen = if m.snaplen == 0 { "unknown".to_string() } else { m.snaplen.to_string() };
    println!("snaplen:     {snaplen}   written by dredge {}", m.dredge_version);
    if let (Some(a), Some(b)) = (i.first_ts, i.last_ts) {
        let secs = b.saturating_sub(a) as f64 / 1e9;
        println!("time:        {} .. {} UTC ({secs:.3} s)", utc(a), utc(b));
    }
    println!("events:      {} in {} blocks", i.events, i.blocks);
    for t in i.types.iter().take(20) {
        println!("  {:>10}  {} {}", t.count, t.dir, t.name);
    }
    if i.types.len() > 20 {
        let rest: u64 = i.types[20..].iter().map(|t| t.count).sum();
        println!("  {:>10}  ({} more types)", rest, i.types.len() - 20);
    }
    println!("processes:   {} ({} threads)", i.processes, i.threads);
    println!("users:       {} users, {} groups", i.users, i.groups);
    println!("containers:  {}", i.containers.len());
    for c in &i.containers {
        let pod = if c.pod_name.is_empty() {
            String::new()
        } else {
            format!("  pod {}/{}", c.pod_namespace, c.pod_name)
        };
        println!("  {}  {}  {}  {}{pod}", c.id, c.name, c.image, c.runtime);
    }
    let lost: u64 = i.drops.iter().map(|d| d.lost).sum();
    println!("drops:       {lost} events lost in {} windows", i.drops.len());
    for d in &i.drops {
        println!(
            "  cpu {}: {} lost between {} and {}",
            d.cpu,
            d.lost,
            utc(d.from_ts),
            utc(d.to_ts)
        );
    }
    if i.losses.is_empty() && i.damaged_blocks.is_empty() {
        println!("integrity:   no damage seen (run `dredge verify` for a full check)");
    } else {
        println!("integrity:   DAMAGED");
        for l in &i.losses {
            println!("  {l}");
        }
        for b in &i.damaged_blocks {
            println!("  {b}");
        }
    }
}
