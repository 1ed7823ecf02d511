//! `dredge spans`: the spans applications marked in a capture (sysdig's tracers), with their
//! durations, and a summary per tag path.
//!
//! Every span is listed in the order it was opened: when it started, how long it took (or
//! `open` when its exit never came, `no enter` for an exit without one), its id, the process
//! and container that opened it, its tags and its arguments. `--tree` puts children under
//! their parents. The summary gives per tag path (or per its first N tags, `--by N`) the count
//! of spans, how many stayed open, and the p50, p90, p99 and largest duration.
//!
//! `--parquet OUT` also writes every listed span as a row (schema `dredge.spans/1`).
//!
//! A FILTER (the print/rules condition language) selects spans by their tracer events: a span
//! is listed when its enter or its exit matches (`span.tags startswith db`,
//! `container.name=api`, `span.duration > 1000000`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use dredge_analyze::parquet::{SpanRow, write_spans};
use dredge_analyze::spans::fields::human;
use dredge_analyze::spans::{Pairer, Span, SpanId, SpanState};
use dredge_analyze::state::Needs;
use dredge_format::time::Utc;
use dredge_rules::eval::eval;

use super::print::{compile_filter, walk};

/// List the spans of a capture, with a summary per tag path.
#[derive(clap::Args)]
pub struct Args {
    /// The capture (.dcap or .scap).
    file: PathBuf,
    /// A filter on the spans' tracer events (the words are joined).
    filter: Vec<String>,
    /// Show children under their parents, indented.
    #[arg(long)]
    tree: bool,
    /// Summarise by the first N tags of each path (default: the whole path).
    #[arg(long, value_name = "TAG-DEPTH")]
    by: Option<usize>,
    /// Only the summary, not every span.
    #[arg(long)]
    summary: bool,
    /// Also write the spans to a Parquet file (schema `dredge.spans/1`, docs/parquet.md).
    #[arg(long, value_name = "OUT")]
    parquet: Option<PathBuf>,
}

/// Where a span was opened (or, for an exit without an enter, closed).
struct Origin {
    tid: i64,
    pid: i64,
    comm: String,
    /// The container's name, or `host`.
    container: String,
    container_id: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let filter = compile_filter(&args.filter)?;
    if args.by == Some(0) {
        return Err(crate::exit::Usage("--by: a tag depth is 1 or more".into()).into());
    }
    let opened = super::open_capture(&args.file)?;
    let mut spans = SpanState::default();
    let mut origins: BTreeMap<SpanId, Origin> = BTreeMap::new();
    let mut selected: Vec<bool> = Vec::new();
    let damaged =
        walk(&args.file, &opened.capture, false, Needs::ALL, &mut spans, &mut |mut shown| {
            let Some(traced) = shown.traced else { return Ok(()) };
            let n = traced.span.number as usize;
            if selected.len() <= n {
                selected.resize(n + 1, false);
            }
            let view = shown.view();
            let fields = shown.fields(&view);
            selected[n] |= filter.as_ref().is_none_or(|f| eval(f, &fields));
            origins.entry(traced.span.number).or_insert_with(|| {
                let thread = view.thread.as_deref();
                let container_id =
                    thread.map(|t| t.container_id.clone()).filter(|id| !id.is_empty());
                let container = match &container_id {
                    None => "host".to_string(),
                    Some(id) => {
                        shown.state.tables.containers.get(id).map_or(id, |c| &c.name).to_string()
                    }
                };
                Origin {
                    tid: shown.event.tid(),
                    container_id,
                    pid: thread.map_or(shown.event.tid(), |t| t.pid),
                    comm: thread.map_or("<NA>".into(), |t| String::from_utf8_lossy(&t.comm).into()),
                    container,
                }
            });
            Ok(())
        })?;

    let pairer = &spans.pairer;
    let chosen: Vec<SpanId> = (0..pairer.spans.len() as SpanId)
        .filter(|&n| selected.get(n as usize) == Some(&true))
        .collect();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if !args.summary {
        list(&mut out, pairer, &chosen, &origins, args.tree).context("writing output")?;
        writeln!(out).context("writing output")?;
    }
    summary(&mut out, pairer, &chosen, args.by).context("writing output")?;
    out.flush().context("writing output")?;
    if let Some(path) = &args.parquet {
        let rows: Vec<SpanRow> = chosen.iter().map(|&n| row(pairer, n, origins.get(&n))).collect();
        let written = super::write_into_place(path, |partial| Ok(write_spans(partial, &rows)?));
        if let Err(e) = written {
            eprintln!("dredge: {}: cannot write Parquet: {e:#}", path.display());
            return Ok(crate::exit::OUTPUT);
        }
        super::summary!("{} -> {}: {} spans", args.file.display(), path.display(), rows.len());
    }
    if spans.invalid > 0 {
        let (event, why) = spans.first_invalid.unwrap_or_default();
        super::summary!(
            "{}: {} writes to /dev/null began like tracer records but were not (the first, \
             event {}: {why})",
            args.file.display(),
            spans.invalid,
            event + 1
        );
    }
    Ok(if damaged { crate::exit::DAMAGED } else { crate::exit::OK })
}

/// Span `n` as a Parquet row.
fn row(pairer: &Pairer, n: SpanId, origin: Option<&Origin>) -> SpanRow {
    let span = &pairer.spans[n as usize];
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let pairs = |args| -> Vec<(String, String)> {
        pairer.args(args).pairs().into_iter().map(|(n, v)| (text(n), text(v))).collect()
    };
    SpanRow {
        span: n,
        parent: span.parent,
        id: span.id,
        tags: pairer.paths.path(span.path).tags.iter().map(text).collect(),
        enter_args: pairs(span.enter_args),
        exit_args: pairs(span.exit_args),
        start_ns: span.enter.map(|m| m.ts),
        end_ns: span.exit.map(|m| m.ts),
        tid: origin.map_or_else(|| span.enter.or(span.exit).map_or(0, |m| m.tid), |o| o.tid),
        pid: origin.map(|o| o.pid),
        proc_name: origin.map(|o| o.comm.clone()),
        container_id: origin.and_then(|o| o.container_id.clone()),
        container_name: origin.map(|o| o.container.clone()),
    }
}

/// The span's tags, joined with `.`.
fn tags(pairer: &Pairer, span: &Span) -> String {
    String::from_utf8_lossy(&pairer.paths.path(span.path).tags.join(b".")).into_owned()
}

fn args_text(pairer: &Pairer, span: &Span) -> String {
    String::from_utf8_lossy(&pairer.args(span.enter_args).joined_pairs()).into_owned()
}

fn list(
    out: &mut dyn Write,
    pairer: &Pairer,
    chosen: &[SpanId],
    origins: &BTreeMap<SpanId, Origin>,
    tree: bool,
) -> std::io::Result<()> {
    // In tree form, a span follows its parent (when the parent is listed too).
    let mut order: Vec<(SpanId, usize)> = Vec::with_capacity(chosen.len());
    if tree {
        let listed: std::collections::HashSet<SpanId> = chosen.iter().copied().collect();
        let mut children: BTreeMap<SpanId, Vec<SpanId>> = BTreeMap::new();
        let mut roots = Vec::new();
        for &n in chosen {
            match pairer.spans[n as usize].parent.filter(|p| listed.contains(p)) {
                Some(p) => children.entry(p).or_default().push(n),
                None => roots.push(n),
            }
        }
        let mut stack: Vec<(SpanId, usize)> = roots.iter().rev().map(|&n| (n, 0)).collect();
        while let Some((n, depth)) = stack.pop() {
            order.push((n, depth));
            for &c in children.get(&n).into_iter().flatten().rev() {
                stack.push((c, depth + 1));
            }
        }
    } else {
        order.extend(chosen.iter().map(|&n| (n, 0)));
    }

    // Columns as wide as their widest cell, so that every column starts where its heading
    // does.
    let rows: Vec<[String; 7]> = order
        .into_iter()
        .map(|(n, depth)| {
            let span = &pairer.spans[n as usize];
            let start = match span.enter {
                Some(m) => Utc::from_ns(m.ts).iso8601(),
                None => "-".into(),
            };
            let duration = match (span.duration(), span.enter) {
                (Some(d), _) => human(d),
                (None, Some(_)) => "open".into(),
                (None, None) => "no enter".into(),
            };
            let (process, container) = match origins.get(&n) {
                Some(o) => (format!("{} ({})", o.comm, o.pid), o.container.clone()),
                None => ("<NA>".into(), "<NA>".into()),
            };
            let tags = format!("{}{}", "  ".repeat(depth), tags(pairer, span));
            let id = span.id.to_string();
            [start, duration, id, process, container, tags, args_text(pairer, span)]
        })
        .collect();
    let heading = ["START", "DURATION", "ID", "PROCESS", "CONTAINER", "TAGS", "ARGS"];
    let mut widths = heading.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |out: &mut dyn Write, cells: [&str; 7]| -> std::io::Result<()> {
        let [start, duration, id, process, container, tags, args] = cells;
        let [w0, w1, w2, w3, w4, w5, _] = widths;
        let text = format!(
            "{start:<w0$}  {duration:>w1$}  {id:>w2$}  {process:<w3$}  {container:<w4$}  \
             {tags:<w5$}  {args}"
        );
        writeln!(out, "{}", text.trim_end())
    };
    line(out, heading)?;
    for row in &rows {
        line(out, std::array::from_fn(|i| row[i].as_str()))?;
    }
    Ok(())
}

/// Per tag path (cut to `by` tags): count, still open, exits without an enter, p50, p90, p99,
/// max.
fn summary(
    out: &mut impl Write,
    pairer: &Pairer,
    chosen: &[SpanId],
    by: Option<usize>,
) -> std::io::Result<()> {
    let mut groups: BTreeMap<String, (u64, u64, u64, Vec<u64>)> = BTreeMap::new();
    for &n in chosen {
        let span = &pairer.spans[n as usize];
        let path = pairer.paths.path(span.path);
        let key: Vec<&[u8]> = path.tags.iter().take(by.unwrap_or(usize::MAX)).collect();
        let key = String::from_utf8_lossy(&key.join(&b'.')).into_owned();
        let g = groups.entry(key).or_default();
        g.0 += 1;
        match (span.duration(), span.enter) {
            (Some(d), _) => g.3.push(d),
            (None, Some(_)) => g.1 += 1,
            (None, None) => g.2 += 1,
        }
    }
    let width = groups.keys().map(String::len).max().unwrap_or(0).max(4);
    writeln!(
        out,
        "{:<width$} {:>8} {:>6} {:>8} {:>10} {:>10} {:>10} {:>10}",
        "TAGS", "COUNT", "OPEN", "NO-ENTER", "P50", "P90", "P99", "MAX"
    )?;
    for (key, (count, open, no_enter, mut durations)) in groups {
        durations.sort_unstable();
        let at = |q: f64| -> String {
            if durations.is_empty() {
                return "-".into();
            }
            // Nearest rank: the smallest duration with at least q of them at or below it.
            let rank = (q * durations.len() as f64).ceil() as usize;
            human(durations[rank.clamp(1, durations.len()) - 1])
        };
        let key = if key.is_empty() { "(no tags)".to_string() } else { key };
        writeln!(
            out,
            "{key:<width$} {count:>8} {open:>6} {no_enter:>8} {:>10} {:>10} {:>10} {:>10}",
            at(0.5),
            at(0.9),
            at(0.99),
            at(1.0)
        )?;
    }
    Ok(())
}
