//! `dredge export`: write a capture as a sysdig/Falco `.scap` file.

use std::path::PathBuf;

use dredge_format::scap;

/// Write a capture (dcap or scap) as a .scap file that sysdig and Falco read.
#[derive(clap::Args)]
pub struct Args {
    /// The capture to export.
    input: PathBuf,
    /// The .scap file to write.
    #[arg(short = 'o', long = "output")]
    output: PathBuf,
    /// Compress the output with gzip (sysdig's -z).
    #[arg(long)]
    gzip: bool,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let opened = super::open_capture(&args.input)?;
    let s = scap::export::export(&opened.capture, &args.output, args.gzip)?;
    eprintln!(
        "{} -> {}: {} events in {} section(s)",
        args.input.display(),
        args.output.display(),
        s.events,
        s.sections
    );
    let damaged = s.damaged_blocks > 0 || !opened.capture.losses().is_empty();
    if s.damaged_blocks > 0 {
        eprintln!(
            "dredge: {}: {} damaged event blocks were left out",
            args.input.display(),
            s.damaged_blocks
        );
    }
    Ok(if damaged { crate::exit::DAMAGED } else { crate::exit::OK })
}
