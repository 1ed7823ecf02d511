//! `dredge print`: read a capture the sysdig way, a filter and a line format.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use dredge_analyze::fields::EventFields;
use dredge_analyze::state::State;
use dredge_format::BlockKind;
use dredge_format::normalize::{Normalized, Normalizer};
use dredge_rules::alert::TextFormat;
use dredge_rules::catalogue::fields;
use dredge_rules::compile::{Filter, compile};
use dredge_rules::eval::eval;
use dredge_rules::output::parse_format;
use dredge_rules::parse_condition;

use crate::exit::Usage;

/// sysdig's default line.
const DEFAULT_FORMAT: &str =
    "*%evt.num %evt.time %evt.cpu %proc.name (%thread.tid) %evt.dir %evt.type %evt.args";

/// Print the events of a capture, as `sysdig -r` does: an optional filter, `-p` formats.
#[derive(clap::Args)]
pub struct Args {
    /// The capture (.dcap or .scap).
    file: PathBuf,
    /// A filter in the Falco/sysdig condition language (the words are joined).
    filter: Vec<String>,
    /// Output format (`%field` tokens; a leading `*` prints lines with missing fields too,
    /// as `<NA>`).
    #[arg(short = 'p', long = "print")]
    format: Option<String>,
    /// Show internal events too (procinfo and the like), as sysdig's -D does.
    #[arg(short = 'D', long)]
    debug: bool,
}

/// Meta events sysdig consumes and never shows: container and user/group announcements.
fn consumed(code: u16) -> bool {
    matches!(code, 228 | 272 | 324 | 354 | 356 | 358 | 360)
}

/// Walks the events of `capture` as sysdig shows them (numbered as sysdig numbers them,
/// meta events consumed, internal ones only with `debug`), with the state rebuilt as it goes;
/// `visit` gets each event's block sequence number and fields. Returns whether the capture
/// was damaged (damaged blocks are reported on stderr and skipped).
pub(crate) fn walk(
    file: &std::path::Path,
    capture: &dredge_format::Capture,
    debug: bool,
    visit: &mut dyn FnMut(u32, &EventFields<'_>) -> anyhow::Result<()>,
) -> anyhow::Result<bool> {
    let mut state = State::with_hostname(&capture.metadata().hostname);
    let mut damaged = !capture.losses().is_empty();
    let mut shown = 0u64;
    // Exits of old captures carry few parameters; the normalised view of each exit (its
    // enter's parameters merged in) gives fields what sysdig gets from the enter event.
    let mut normalizer = Normalizer::new();
    for entry in capture.blocks() {
        if entry.header.kind.is_state() {
            if let Some(Ok(s)) = capture.decode_state(entry) {
                state.apply_recorded(&s);
            }
            continue;
        }
        if entry.header.kind != BlockKind::Events {
            continue;
        }
        let block = match capture.decode_events(entry) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("dredge: {}: {e}", file.display());
                damaged = true;
                continue;
            }
        };
        for mut ev in block.iter() {
            // sysdig numbers every event but the user and group announcements.
            if matches!(ev.code(), 354 | 356 | 358 | 360) {
                continue;
            }
            shown += 1;
            ev.num = shown - 1;
            let merged = match normalizer.push(&ev) {
                Ok(Normalized::Converted(e)) if e.direction() == ev.direction() => Some(e),
                _ => None,
            };
            state.before(merged.as_ref().unwrap_or(&ev));
            let hidden = consumed(ev.code())
                || (!debug && ev.info().is_some_and(|i| i.category.contains("internal")));
            if !hidden {
                let view = state.view(&ev, merged.as_ref().unwrap_or(&ev));
                let (tables, merged) = (&state.tables, merged.as_ref());
                let f = EventFields { event: &ev, view: &view, tables, merged };
                visit(entry.header.seq, &f)?;
            }
            state.after(merged.as_ref().unwrap_or(&ev));
        }
    }
    Ok(damaged)
}

/// Compiles a filter given as words (joined by spaces); `None` for no words. A filter that
/// does not compile is a usage error.
pub(crate) fn compile_filter(words: &[String]) -> anyhow::Result<Option<Filter>> {
    if words.is_empty() {
        return Ok(None);
    }
    let text = words.join(" ");
    let usage = |e: &dyn std::fmt::Display| Usage(format!("filter {text:?}: {e}"));
    let expr = parse_condition(&text).map_err(|e| usage(&e))?;
    let filter = compile(&expr, fields()).map_err(|e| usage(&e))?;
    Ok(Some(filter))
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let filter = compile_filter(&args.filter)?;
    let format_text = args.format.as_deref().unwrap_or(DEFAULT_FORMAT);
    let (all, format_text) = match format_text.strip_prefix('*') {
        Some(rest) => (true, rest),
        None => (false, format_text),
    };
    let pieces = parse_format(format_text, fields()).map_err(|e| Usage(format!("-p: {e}")))?;

    let format = TextFormat::new(&pieces);
    let opened = super::open_capture(&args.file)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let mut line = Vec::with_capacity(256);
    let damaged = walk(&args.file, &opened.capture, args.debug, &mut |_, f| {
        if filter.as_ref().is_none_or(|flt| eval(flt, f)) {
            line.clear();
            if format.write(f, &mut line) || all {
                line.push(b'\n');
                out.write_all(&line).context("writing output")?;
            }
        }
        Ok(())
    })?;
    out.flush().context("writing output")?;
    Ok(if damaged { crate::exit::DAMAGED } else { crate::exit::OK })
}
