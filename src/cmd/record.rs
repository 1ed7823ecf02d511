//! `dredge record`: capture syscall events with eBPF into a `.dcap` file.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::Context;
use dredge_capture::syscalls::Selection;
use dredge_capture::{Options, RecordError, Recorder};
use dredge_format::sign;

use crate::cmd::summary;
use crate::exit;

/// Record syscall events of every process (as root) until SIGINT or SIGTERM, a duration or
/// an event count; the file is finalised (footer, digest, signature) on each of them.
#[derive(clap::Args)]
pub struct Args {
    /// The capture to write.
    #[arg(short = 'w', long = "write", value_name = "FILE")]
    output: PathBuf,
    /// Stop after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    duration: Option<f64>,
    /// Stop after this many events.
    #[arg(short = 'n', long)]
    count: Option<u64>,
    /// Bytes of read/write data kept per event.
    #[arg(short = 's', long, default_value_t = 80)]
    snaplen: u32,
    /// `all`, or a comma-separated list of syscalls recorded on top of the ones state
    /// tracking needs (default: those the built-in rules match).
    #[arg(long, default_value = "")]
    syscalls: String,
    /// Record only processes in containers (below the host's pid namespace); the snapshot
    /// still lists every process, so ancestry stays complete.
    #[arg(long)]
    containers_only: bool,
    /// Kernel ring buffer size in MiB (a power of two).
    #[arg(long, default_value_t = 64, value_name = "MIB")]
    ring_mb: u32,
    /// Sign the capture with this ed25519 private key (PEM, from `dredge keygen`).
    #[arg(long, value_name = "KEY")]
    sign_key: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let key = match &args.sign_key {
        Some(path) => {
            Some(sign::load_signing_key(path).map_err(|e| exit::Unusable(format!("{e:#}")))?)
        }
        None => None,
    };
    if !args.ring_mb.is_power_of_two() || args.ring_mb > 2048 {
        return Err(exit::Usage(format!(
            "--ring-mb {}: must be a power of two, at most 2048",
            args.ring_mb
        ))
        .into());
    }
    // The state set always; by default also what the built-in rules look at, so that replay's
    // default rules see every kind of event they can match.
    let selection = match args.syscalls.as_str() {
        "all" => Selection::All,
        "" => {
            let names = builtin_rule_syscalls();
            tracing::debug!(
                "recording, beyond the state set, what the built-in rules match: {names:?}"
            );
            Selection::StatePlus(names)
        }
        list => Selection::StatePlus(
            list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect(),
        ),
    };
    if let Err(name) = selection.numbers() {
        return Err(exit::Usage(format!(
            "--syscalls: {name:?} is not an x86_64 syscall dredge knows (or use `all`)"
        ))
        .into());
    }
    let options = Options {
        output: args.output.clone(),
        selection,
        snaplen: args.snaplen,
        duration: args.duration.map(Duration::from_secs_f64),
        count: args.count,
        ring_bytes: args.ring_mb << 20,
        containers_only: args.containers_only,
        command_line: std::env::args().collect(),
    };

    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .context("cannot install the SIGINT/SIGTERM handler")?;
    }
    let failed = |e: RecordError| match e {
        RecordError::Probe(_) => anyhow::Error::new(exit::Recorder(e.to_string())),
        other => {
            anyhow::Error::new(other).context(format!("recording to {}", args.output.display()))
        }
    };
    let recorder = Recorder::start(&options).map_err(failed)?;
    summary!("recording to {} (SIGINT or SIGTERM stops and closes it)", args.output.display());
    let live = !crate::cmd::quiet() && std::io::stderr().is_terminal();
    let summary = recorder
        .run(key.as_ref(), &stop, |p| {
            if live {
                eprint!(
                    "\r{:>6.1}s  {:>10} events  {:>9.0} ev/s  {:>8.1} MiB  {} dropped ",
                    p.elapsed.as_secs_f64(),
                    p.events,
                    p.events as f64 / p.elapsed.as_secs_f64().max(1e-9),
                    p.bytes as f64 / (1 << 20) as f64,
                    p.drops
                );
            }
        })
        .map_err(failed)?;
    if live {
        eprintln!();
    }
    let p = summary.progress;
    summary!(
        "{}: {} events in {:.1}s, {} dropped, {} blocks, {} bytes{}",
        args.output.display(),
        p.events,
        p.elapsed.as_secs_f64(),
        p.drops,
        summary.blocks,
        summary.bytes,
        if key.is_some() { ", signed" } else { "" }
    );
    Ok(exit::OK)
}

/// The syscalls whose events the built-in rules can match (rules that match any event type
/// add none).
fn builtin_rule_syscalls() -> std::collections::BTreeSet<String> {
    let loaded = dredge_rules::ruleset::load(&dredge_rules::builtin::files());
    let table = dredge_format::table::table();
    let mut names = std::collections::BTreeSet::new();
    for rule in &loaded.ruleset.rules {
        if rule.codes.len() > table.len() / 2 {
            continue;
        }
        for code in rule.codes.iter() {
            let Some(event) = table.get(code) else { continue };
            if dredge_capture::syscalls::by_name(event.name).is_some() {
                names.insert(event.name.to_string());
            }
        }
    }
    names
}
