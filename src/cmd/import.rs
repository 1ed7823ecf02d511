//! `dredge import`: convert a sysdig/Falco `.scap` capture to `.dcap`.

use std::path::PathBuf;

use dredge_format::{WriterOptions, scap, sign};

/// Convert a sysdig or Falco .scap capture (plain or gzip) to .dcap, losing nothing.
#[derive(clap::Args)]
pub struct Args {
    /// The .scap capture.
    input: PathBuf,
    /// The .dcap to write.
    #[arg(short = 'o', long = "output")]
    output: PathBuf,
    /// Sign the result with this ed25519 private key (PEM).
    #[arg(long)]
    sign_key: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let key = args.sign_key.as_deref().map(sign::load_signing_key).transpose()?;
    let command_line = std::env::args().collect();
    let s = scap::import::import(
        &args.input,
        &args.output,
        command_line,
        WriterOptions::default(),
        key.as_ref(),
    )?;
    let name = args.input.display();
    for (offset, block_type) in &s.skipped {
        tracing::info!(
            "{name}: offset {offset}: skipped block type {block_type:#x} (unknown here)"
        );
    }
    if !s.skipped.is_empty() {
        eprintln!("{name}: skipped {} blocks of unknown types (-v lists them)", s.skipped.len());
    }
    super::summary!(
        "{name} -> {}: {} events, {} threads, {} containers, {} users and groups, {} bytes",
        args.output.display(),
        s.events,
        s.threads,
        s.containers,
        s.users,
        s.bytes_written
    );
    match s.damage {
        Some(e) => {
            eprintln!("dredge: {e}; everything before it was imported");
            Ok(crate::exit::DAMAGED)
        }
        None => Ok(crate::exit::OK),
    }
}
