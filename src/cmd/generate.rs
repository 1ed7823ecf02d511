//! `dredge generate`: write a synthetic capture (an httpd under load) for tests and benchmarks.

use std::path::PathBuf;

use dredge_format::{WriterOptions, sign, synth};

/// Write a synthetic capture imitating an Apache httpd under load.
#[derive(clap::Args)]
pub struct Args {
    /// Output file.
    #[arg(short = 'w', long = "write")]
    output: PathBuf,
    /// Number of events.
    #[arg(short = 'n', long, default_value_t = 100_000)]
    events: u64,
    /// Seed of the pseudo-random sequence (same seed, same file).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Sign the capture with this ed25519 private key (PEM).
    #[arg(long)]
    sign_key: Option<PathBuf>,
    /// zstd compression level.
    #[arg(long, default_value_t = WriterOptions::default().level)]
    level: i32,
    /// End with a short made-up intrusion (a shell in the container reading /etc/shadow).
    #[arg(long)]
    scenario: bool,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let key = args.sign_key.as_deref().map(sign::load_signing_key).transpose()?;
    let options = WriterOptions { level: args.level, ..WriterOptions::default() };
    let s = synth::write_capture_with(
        &args.output,
        args.events,
        args.seed,
        options,
        key.as_ref(),
        args.scenario,
    )?;
    eprintln!(
        "{}: {} events in {} blocks, {} bytes ({:.2} bytes/event)",
        args.output.display(),
        s.events,
        s.blocks,
        s.bytes,
        s.bytes as f64 / s.events.max(1) as f64
    );
    Ok(crate::exit::OK)
}
