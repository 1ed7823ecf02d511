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
    /// tracking needs.
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
    let selection = match args.syscalls.as_str() {
        "all" => Selection::All,
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
