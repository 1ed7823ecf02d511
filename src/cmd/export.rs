//! `dredge export`: write a capture as a sysdig/Falco `.scap` file, or its events as Parquet
//! for hunting in SQL.

use std::path::{Path, PathBuf};

use dredge_analyze::parquet::EventsWriter;
use dredge_analyze::spans::SpanState;
use dredge_analyze::state::Needs;
use dredge_format::scap;
use dredge_rules::eval::eval;

use crate::exit::Usage;

/// Write a capture as a .scap file that sysdig and Falco read (-o), or its events with their
/// process, fd and container context as Parquet (--events; schema: docs/parquet.md).
#[derive(clap::Args)]
pub struct Args {
    /// The capture to export (.dcap or .scap).
    input: PathBuf,
    /// For --events: only the events this filter selects (Falco/sysdig condition language,
    /// the words are joined).
    filter: Vec<String>,
    /// The .scap file to write.
    #[arg(short = 'o', long = "output", required_unless_present = "events")]
    output: Option<PathBuf>,
    /// Compress the .scap output with gzip (sysdig's -z).
    #[arg(long, requires = "output")]
    gzip: bool,
    /// For readers older than libs 0.10, such as Debian's sysdig 0.29: event types they do not
    /// know are written in their older form, or as generic syscall events.
    #[arg(long, requires = "output")]
    legacy: bool,
    /// Write the events, as `dredge print` sees them, to this Parquet file.
    #[arg(long, value_name = "OUT.parquet", conflicts_with = "output")]
    events: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    if let Some(out) = &args.events {
        return events(&args, out);
    }
    if !args.filter.is_empty() {
        let why = "a filter applies to --events only; .scap export writes every event";
        return Err(Usage(why.into()).into());
    }
    let Some(output) = &args.output else { anyhow::bail!("-o OUT.scap or --events OUT.parquet") };
    let opened = super::open_capture(&args.input)?;
    let options = scap::export::ExportOptions { gzip: args.gzip, legacy: args.legacy };
    let s = scap::export::export_with(&opened.capture, output, options)?;
    super::summary!(
        "{} -> {}: {} events in {} section(s)",
        args.input.display(),
        output.display(),
        s.events,
        s.sections
    );
    let damaged = s.damaged_blocks > 0 || !opened.capture.losses().is_empty();
    for loss in opened.capture.losses() {
        eprintln!("dredge: {}: damaged: {loss}", args.input.display());
    }
    if s.damaged_blocks > 0 {
        eprintln!(
            "dredge: {}: {} damaged event blocks were left out",
            args.input.display(),
            s.damaged_blocks
        );
    }
    Ok(if damaged { crate::exit::DAMAGED } else { crate::exit::OK })
}

/// `export --events`: the filtered events to Parquet, written beside `out` and renamed into
/// place when complete.
fn events(args: &Args, out: &Path) -> anyhow::Result<u8> {
    let filter = super::print::compile_filter(&args.filter)?;
    let opened = super::open_capture(&args.input)?;
    let written = super::write_into_place(out, |partial| {
        let mut writer = EventsWriter::create(partial)?;
        let mut write_error = None;
        let spans = &mut SpanState::default();
        let damaged = super::print::walk(
            &args.input,
            &opened.capture,
            false,
            Needs::ALL,
            spans,
            &mut |mut shown| {
                let view = shown.view();
                let f = shown.fields(&view);
                if write_error.is_none() && filter.as_ref().is_none_or(|flt| eval(flt, &f)) {
                    write_error = writer.push(shown.block, &f).err();
                }
                Ok(())
            },
        )?;
        if let Some(e) = write_error {
            return Err(e.into());
        }
        Ok((writer.finish()?, damaged))
    });
    let (rows, damaged) = match written {
        Ok(w) => w,
        Err(e) => {
            eprintln!("dredge: {}: cannot write Parquet: {e:#}", out.display());
            return Ok(crate::exit::OUTPUT);
        }
    };
    super::summary!("{} -> {}: {rows} events", args.input.display(), out.display());
    Ok(if damaged { crate::exit::DAMAGED } else { crate::exit::OK })
}
