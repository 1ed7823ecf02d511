//! `dredge generate`: write a synthetic capture (an httpd under load), or a large one made of
//! copies of a real capture, for tests and benchmarks.

use std::path::PathBuf;

use dredge_format::{WriterOptions, sign, synth};

/// Write a synthetic capture imitating an Apache httpd under load, or (with --from) one made of
/// copies of a real capture with shifted times and process ids.
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
    /// Repeat this capture (.dcap) instead of generating events.
    #[arg(long, value_name = "CAPTURE", conflicts_with_all = ["events", "seed", "scenario"])]
    from: Option<PathBuf>,
    /// With --from: how many copies.
    #[arg(long, default_value_t = 1, requires = "from")]
    copies: u32,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let key = args.sign_key.as_deref().map(sign::load_signing_key).transpose()?;
    let options = WriterOptions { level: args.level, ..WriterOptions::default() };
    let source = args.from.as_deref().map(dredge_format::Capture::open).transpose()?;
    // A generator stopped by an error (a damaged source, a full disk) leaves no half capture.
    let s = super::write_into_place(&args.output, |partial| {
        Ok(match &source {
            Some(source) => {
                dredge_format::repeat::repeat(source, args.copies, partial, options, key.as_ref())?
            }
            None => synth::write_capture_with(
                partial,
                args.events,
                args.seed,
                options,
                key.as_ref(),
                args.scenario,
            )?,
        })
    })?;
    report(&args.output, &s);
    Ok(crate::exit::OK)
}

fn report(output: &std::path::Path, s: &dredge_format::WriteSummary) {
    super::summary!(
        "{}: {} events in {} blocks, {} bytes ({:.2} bytes/event)",
        output.display(),
        s.events,
        s.blocks,
        s.bytes,
        s.bytes as f64 / s.events.max(1) as f64
    );
}
