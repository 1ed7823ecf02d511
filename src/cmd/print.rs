//! `dredge print`: read a capture the sysdig way, a filter and a line format.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use std::sync::Arc;

use dredge_analyze::batch::Batch;
use dredge_analyze::fields::EventFields;
use dredge_analyze::pool::ordered;
use dredge_analyze::spans::{SpanState, Traced};
use dredge_analyze::state::{Needs, Prepared, State, View};
use dredge_format::normalize::{Normalized, Normalizer};
use dredge_format::{BlockKind, Event, EventBlock};
use dredge_rules::alert::{TextFormat, render};
use dredge_rules::catalogue::fields;
use dredge_rules::compile::{Filter, compile};
use dredge_rules::eval::eval;
use dredge_rules::output::{Piece, parse_format};
use dredge_rules::parse_condition;

use crate::exit::Usage;

/// Events per batch handed to a formatting thread.
const BATCH: usize = 2048;

/// sysdig's default line.
const DEFAULT_FORMAT: &str =
    "*%evt.num %evt.time %evt.cpu %proc.name (%thread.tid) %evt.dir %evt.type %evt.args";

/// The fields of sysdig's default JSON line (`-j`); `evt.rawtime` goes out as
/// `evt.outputtime`, the number sysdig writes there.
const DEFAULT_JSON: &str =
    "*%evt.cpu %evt.dir %evt.info %evt.num %evt.rawtime %evt.type %proc.name %thread.tid";

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
    /// One JSON object per event (keys in order), as sysdig's -j: the fields of the format,
    /// or sysdig's default set.
    #[arg(short = 'j', long)]
    json: bool,
    /// Show internal events too (procinfo and the like), as sysdig's -D does.
    #[arg(short = 'D', long)]
    debug: bool,
    /// Threads formatting lines (default: one per core); lines come out in order whatever
    /// the number.
    #[arg(long)]
    threads: Option<usize>,
}

/// One event as `print` shows it, with the state as of that event.
pub(crate) struct Shown<'a> {
    /// Sequence number of the block it came from.
    pub block: u32,
    pub event: &'a Event<'a>,
    /// The exit with its enter's parameters merged in (fd, path and result fields).
    pub merged: Option<&'a Event<'a>>,
    pub state: &'a mut State,
    /// What of the state the caller's fields read (see [`State::view_of`]).
    pub needs: Needs,
    /// For a tracer event: the write it stands for, decoded.
    pub traced: Option<&'a Traced>,
}

impl Shown<'_> {
    /// The event's view of the state.
    pub fn view(&mut self) -> View {
        match self.traced {
            Some(t) => t.view(self.event.num, self.state, self.needs),
            None => {
                let args = self.merged.unwrap_or(self.event);
                self.state.view_of(self.event, args, self.needs)
            }
        }
    }

    /// The event's fields, read through `view` (from [`Shown::view`]).
    pub fn fields<'v>(&'v self, view: &'v View) -> EventFields<'v> {
        EventFields { event: self.event, view, tables: &self.state.tables, merged: self.merged }
    }
}

/// Whether events of `code` are internal (procinfo and the like: shown with `-D` only).
fn internal(code: u16) -> bool {
    static INTERNAL: std::sync::LazyLock<Vec<bool>> = std::sync::LazyLock::new(|| {
        let t = dredge_format::table::table();
        (0..t.len() as u16)
            .map(|c| t.get(c).is_some_and(|e| e.category.contains("internal")))
            .collect()
    });
    INTERNAL.get(usize::from(code)).copied().unwrap_or(false)
}

/// Meta events sysdig consumes and never shows: container and user/group announcements.
fn consumed(code: u16) -> bool {
    matches!(code, 228 | 272 | 324 | 354 | 356 | 358 | 360)
}

/// Walks the events of `capture` as sysdig shows them (numbered as sysdig numbers them,
/// meta events consumed, internal ones only with `debug`, writes that carry tracer records as
/// tracer events), with the state rebuilt as it goes; `visit` gets each event shown, and
/// `spans` ends with every span. Returns whether the capture was damaged (damaged blocks are
/// reported on stderr and skipped).
pub(crate) fn walk(
    file: &std::path::Path,
    capture: &dredge_format::Capture,
    debug: bool,
    needs: Needs,
    spans: &mut SpanState,
    visit: &mut dyn FnMut(Shown<'_>) -> anyhow::Result<()>,
) -> anyhow::Result<bool> {
    let mut state = State::with_hostname(&capture.metadata().hostname);
    let how = Walk { debug, needs, until: None };
    walk_into(file, capture, how, spans, &mut state, visit)
}

/// How [`walk_into`] walks: internal events too (`debug`), what the visitor's fields read,
/// and where to stop.
#[derive(Clone, Copy)]
pub(crate) struct Walk {
    pub debug: bool,
    pub needs: Needs,
    pub until: Option<Until>,
}

/// Where a walk stops: before the first event after a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Until {
    /// Nanoseconds since the epoch.
    Epoch(u64),
    /// Nanoseconds after the capture's first timed event.
    After(u64),
}

impl Until {
    /// The time it names, in ns since the epoch, for a capture whose first timed event is
    /// at `first`.
    pub(crate) fn end(self, first: u64) -> u64 {
        match self {
            Until::Epoch(t) => t,
            Until::After(d) => first.saturating_add(d),
        }
    }
}

/// [`walk`], with the state left in `state` where the walk ends (the views that show the
/// tables at a moment read it): at the end of the capture, or with `until`, just before the
/// first event after that time.
pub(crate) fn walk_into(
    file: &std::path::Path,
    capture: &dredge_format::Capture,
    how: Walk,
    spans: &mut SpanState,
    state: &mut State,
    visit: &mut dyn FnMut(Shown<'_>) -> anyhow::Result<()>,
) -> anyhow::Result<bool> {
    let Walk { debug, needs, until } = how;
    // What could not be read at all (a cut file, a stretch of junk) is said up front.
    for loss in capture.losses() {
        eprintln!("dredge: {}: damaged: {loss}", file.display());
    }
    let mut damaged = !capture.losses().is_empty();
    let mut walker = Walker {
        debug,
        needs,
        until,
        first: None,
        shown: 0,
        seen_other: false,
        normalizer: Normalizer::new(),
    };
    // Another thread decodes the blocks ahead (event blocks into buffers handed back for
    // reuse, state blocks made ready for the tables), so this one only tracks.
    std::thread::scope(|scope| -> anyhow::Result<bool> {
        let (ahead, decoded) = std::sync::mpsc::sync_channel::<Ahead>(2);
        let (give_back, spare) = std::sync::mpsc::channel::<EventBlock>();
        scope.spawn(move || decode_ahead(capture, &ahead, &spare));
        for item in decoded {
            let block = match item {
                Ahead::State(prepared) => {
                    state.apply_prepared(prepared);
                    continue;
                }
                Ahead::Damaged(e) => {
                    eprintln!("dredge: {}: {e}", file.display());
                    damaged = true;
                    continue;
                }
                Ahead::Events(seq, block) => (seq, block),
            };
            let stopped = walk_block((block.0, &block.1), &mut walker, state, spans, visit)?;
            if stopped {
                // The decoder stops when its next block finds no one listening.
                break;
            }
            // The decoder may be gone (it has sent every block): then the buffers just go.
            let _ = give_back.send(block.1);
        }
        Ok(damaged)
    })
}

/// A block decoded ahead of the walk.
enum Ahead {
    /// An event block, with its sequence number.
    Events(u32, EventBlock),
    State(Prepared),
    Damaged(dredge_format::BlockError),
}

/// Decodes `capture`'s blocks in order into `ahead`, reusing the event blocks that come back
/// through `spare`; stops when the walk stops listening.
fn decode_ahead(
    capture: &dredge_format::Capture,
    ahead: &std::sync::mpsc::SyncSender<Ahead>,
    spare: &std::sync::mpsc::Receiver<EventBlock>,
) {
    let mut scratch = Vec::new();
    for entry in capture.blocks() {
        let item = if entry.header.kind.is_state() {
            match capture.decode_state(entry) {
                Some(Ok(s)) => Ahead::State(Prepared::from(&s)),
                Some(Err(e)) => Ahead::Damaged(e),
                None => continue,
            }
        } else if entry.header.kind == BlockKind::Events {
            let mut block = spare.try_recv().unwrap_or_default();
            match capture.decode_events_into(entry, &mut block, &mut scratch) {
                Ok(()) => Ahead::Events(entry.header.seq, block),
                Err(e) => Ahead::Damaged(e),
            }
        } else {
            continue;
        };
        if ahead.send(item).is_err() {
            return;
        }
    }
}

/// What the walk carries from block to block.
struct Walker {
    debug: bool,
    needs: Needs,
    until: Option<Until>,
    /// The time of the first event with one (meta events at the head have none).
    first: Option<u64>,
    /// Events numbered so far.
    shown: u64,
    /// Whether an event other than a meta event was seen (container announcements after
    /// one are shown).
    seen_other: bool,
    /// Exits of old captures carry few parameters; the normalised view of each exit (its
    /// enter's parameters merged in) gives fields what sysdig gets from the enter event.
    normalizer: Normalizer,
}

/// Walks the events of one block (see [`walk`]); `seq` is the block's sequence number.
/// Returns whether the walk reached its `until` (and stopped).
fn walk_block(
    (seq, block): (u32, &EventBlock),
    w: &mut Walker,
    state: &mut State,
    spans: &mut SpanState,
    visit: &mut dyn FnMut(Shown<'_>) -> anyhow::Result<()>,
) -> anyhow::Result<bool> {
    let needs = w.needs;
    for mut ev in block.iter() {
        if let Some(until) = w.until
            && ev.ts() > 0
        {
            let first = *w.first.get_or_insert(ev.ts());
            if ev.ts() > until.end(first) {
                return Ok(true);
            }
        }
        // sysdig numbers every event but the user and group announcements.
        if matches!(ev.code(), 354 | 356 | 358 | 360) {
            continue;
        }
        w.shown += 1;
        ev.num = w.shown - 1;
        let merged = match w.normalizer.push(&ev) {
            Ok(Normalized::Converted(e)) if e.direction() == ev.direction() => Some(e),
            _ => None,
        };
        state.before(merged.as_ref().unwrap_or(&ev));
        // A write that carries a tracer record shows as the tracer event.
        let traced = spans.take(merged.as_ref().unwrap_or(&ev), state);
        // The container list at the head of a capture is consumed; a container announced
        // later is an event sysdig shows.
        let announced_late = matches!(ev.code(), 272 | 324) && w.seen_other;
        w.seen_other |= !consumed(ev.code());
        let hidden = (consumed(ev.code()) && !announced_late)
            || (!w.debug && internal(ev.code()))
            || spans.hides(&ev, state);
        if let Some(t) = &traced {
            let tracer = t.event(ev.num);
            let (event, traced) = (&tracer, Some(t));
            visit(Shown { block: seq, event, merged: None, state, needs, traced })?;
        } else if !hidden {
            let (event, merged) = (&ev, merged.as_ref());
            visit(Shown { block: seq, event, merged, state, needs, traced: None })?;
        }
        state.after(merged.as_ref().unwrap_or(&ev));
    }
    Ok(false)
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
    let default = if args.json { DEFAULT_JSON } else { DEFAULT_FORMAT };
    let format_text = args.format.as_deref().unwrap_or(default);
    let json_default = args.json && args.format.is_none();
    let (all, format_text) = match format_text.strip_prefix('*') {
        Some(rest) => (true, rest),
        None => (false, format_text),
    };
    let pieces = parse_format(format_text, fields()).map_err(|e| Usage(format!("-p: {e}")))?;

    let format = TextFormat::new(&pieces);
    // Only what the filter and the format read is looked up in the state.
    let mut needs = Needs::NONE;
    for p in &pieces {
        if let Piece::Field { spec, .. } = p {
            needs = needs.union(dredge_analyze::fields::needs(spec.id));
        }
    }
    if let Some(f) = &filter {
        f.each_field(&mut |r| needs = needs.union(dredge_analyze::fields::needs(r.spec.id)));
    }
    let opened = super::open_capture(&args.file)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    // The tracking walks the capture here; other threads filter and format batches of events,
    // and their lines come back in order.
    let lines = |(batch, mut text): (Batch, Vec<u8>)| -> (Batch, Vec<u8>) {
        text.clear();
        batch.each(|_, f| {
            if filter.as_ref().is_some_and(|flt| !eval(flt, f)) {
                return;
            }
            if args.json {
                let (_, values) = render(&pieces, f);
                let object: std::collections::BTreeMap<String, serde_json::Value> = values
                    .into_iter()
                    .map(|(k, v)| match k.as_str() {
                        "evt.rawtime" if json_default => ("evt.outputtime".to_string(), v),
                        _ => (k, v),
                    })
                    .collect();
                if serde_json::to_writer(&mut text, &object).is_ok() {
                    text.push(b'\n');
                }
            } else {
                let start = text.len();
                if format.write(f, &mut text) || all {
                    text.push(b'\n');
                } else {
                    text.truncate(start);
                }
            }
        });
        (batch, text)
    };
    // Batches and line buffers go round: filled here, formatted there, written and emptied
    // here again.
    let spare = std::cell::RefCell::new(Vec::<(Batch, Vec<u8>)>::new());
    let mut sink = |(mut batch, text): (Batch, Vec<u8>)| -> anyhow::Result<()> {
        out.write_all(&text).context("writing output")?;
        batch.clear();
        spare.borrow_mut().push((batch, text));
        Ok(())
    };
    let fresh = || spare.borrow_mut().pop().unwrap_or_default();
    let threads = args.threads.unwrap_or_else(rayon::current_num_threads).max(1);
    let mut damaged = false;
    ordered(threads, &lines, &mut sink, |pool, sink| {
        let mut job = fresh();
        let spans = &mut SpanState::default();
        damaged = walk(&args.file, &opened.capture, args.debug, needs, spans, &mut |mut shown| {
            if !job.0.is_empty() && !Arc::ptr_eq(&job.0.tables, &shown.state.tables) {
                pool.submit(std::mem::replace(&mut job, fresh()), sink)?;
            }
            if shown.traced.is_some() {
                let view = shown.view();
                job.0.push(shown.event, shown.merged, view, &shown.state.tables);
            } else {
                // Events in a row that share a view (most) hold it once.
                job.0.push_viewed(shown.event, shown.merged, shown.state, needs);
            }
            if job.0.len() >= BATCH {
                pool.submit(std::mem::replace(&mut job, fresh()), sink)?;
            }
            Ok(())
        })?;
        pool.submit(job, sink)
    })?;
    out.flush().context("writing output")?;
    Ok(if damaged { crate::exit::DAMAGED } else { crate::exit::OK })
}
