//! `dredge top`: the processes, files, connections or containers that did the most in a
//! capture, as sysdig's top chisels list them (`topprocs_net`, `topfiles_bytes`, `topconns`,
//! `topcontainers_file`...), over the whole capture.
//!
//! `--by bytes` (the default) adds up what I/O syscalls read and wrote, `--by time` the time
//! they took, `--by events` counts events. A FILTER narrows the events counted:
//! `dredge top procs FILE fd.type=ipv4 or fd.type=ipv6` is `topprocs_net`,
//! `dredge top procs FILE fd.type=file` is `topprocs_file`.
//!
//! `--json` writes one object per line, largest first: the key fields by their sysdig names
//! (`proc.name`, `proc.pid`, `fd.name`, `fd.l4proto`, `container.name`) and the total under
//! `events`, `bytes` or `time_ns`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use dredge_analyze::spans::SpanState;
use dredge_analyze::state::{Needs, State};
use dredge_analyze::views::human_bytes;
use dredge_analyze::views::top::{Measure, Subject, Top};
use dredge_rules::eval::eval;

use super::print::{Walk, compile_filter, walk_into};

/// Top processes, files, connections or containers of a capture.
#[derive(clap::Args)]
pub struct Args {
    /// What to rank.
    #[arg(value_enum)]
    subject: SubjectArg,
    /// The capture (.dcap or .scap).
    file: PathBuf,
    /// A filter on the events counted (the words are joined).
    filter: Vec<String>,
    /// What to add up.
    #[arg(long, value_enum, default_value = "bytes")]
    by: MeasureArg,
    /// How many lines (0: all).
    #[arg(short = 'n', long, default_value_t = 10)]
    n: usize,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum SubjectArg {
    Procs,
    Files,
    Conns,
    Containers,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum MeasureArg {
    Events,
    Bytes,
    Time,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let filter = compile_filter(&args.filter)?;
    let subject = match args.subject {
        SubjectArg::Procs => Subject::Procs,
        SubjectArg::Files => Subject::Files,
        SubjectArg::Conns => Subject::Conns,
        SubjectArg::Containers => Subject::Containers,
    };
    let measure = match args.by {
        MeasureArg::Events => Measure::Events,
        MeasureArg::Bytes => Measure::Bytes,
        MeasureArg::Time => Measure::Time,
    };
    let opened = super::open_capture(&args.file)?;
    let mut top = Top::new(subject, measure);
    let mut state = State::with_hostname(&opened.capture.metadata().hostname);
    // What the filter reads of the state, and the fd the view keys on.
    let mut needs = Needs { fd: true, ..Needs::NONE };
    if let Some(f) = &filter {
        f.each_field(&mut |r| needs = needs.union(dredge_analyze::fields::needs(r.spec.id)));
    }
    let spans = &mut SpanState::default();
    let capture = &opened.capture;
    let how = Walk { debug: false, needs, until: None };
    let damaged = walk_into(&args.file, capture, how, spans, &mut state, &mut |mut s| {
        // Most events add nothing (a byte count only looks at I/O exits): their fields are
        // not made.
        let amount = top.amount(s.event, s.merged);
        if amount == 0 {
            return Ok(());
        }
        // Without a filter, the key is all a list needs: the thread, or the event's fd.
        if filter.is_none() {
            if top.by_thread() {
                if let Some(t) = s.state.threads.get(&s.event.tid()) {
                    top.add_for_thread(t, amount);
                }
            } else if let Some(fd) = s.state.event_fd(s.event, s.merged.unwrap_or(s.event)) {
                top.add_for_fd(fd, amount);
            }
            return Ok(());
        }
        let view = s.view();
        let fields = s.fields(&view);
        if filter.as_ref().is_none_or(|f| eval(f, &fields)) {
            top.add(&fields, amount);
        }
        Ok(())
    })?;
    let rows = top.rows(&state.tables, args.n);

    let total = match measure {
        Measure::Events => "events",
        Measure::Bytes => "bytes",
        Measure::Time => "time_ns",
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if args.json {
        for row in &rows {
            let mut object = serde_json::Map::new();
            for (name, value) in subject.columns().iter().zip(&row.key) {
                let value = match value.parse::<i64>() {
                    Ok(n) if *name == "proc.pid" => n.into(),
                    _ => value.clone().into(),
                };
                object.insert(name.to_string(), value);
            }
            object.insert(total.into(), row.total.into());
            writeln!(out, "{}", serde_json::Value::Object(object)).context("writing output")?;
        }
    } else {
        let heading = match measure {
            Measure::Events => "EVENTS",
            Measure::Bytes => "BYTES",
            Measure::Time => "TIME",
        };
        let cells: Vec<String> = rows
            .iter()
            .map(|r| match measure {
                Measure::Events => r.total.to_string(),
                Measure::Bytes => human_bytes(r.total),
                Measure::Time => dredge_analyze::spans::fields::human(r.total),
            })
            .collect();
        let width = cells.iter().map(String::len).max().unwrap_or(0).max(heading.len());
        let names: Vec<String> = subject.columns().iter().map(|c| c.to_uppercase()).collect();
        writeln!(out, "{heading:>width$}  {}", names.join("  ")).context("writing output")?;
        for (row, cell) in rows.iter().zip(&cells) {
            writeln!(out, "{cell:>width$}  {}", row.key.join("  ")).context("writing output")?;
        }
    }
    out.flush().context("writing output")?;
    Ok(if damaged { crate::exit::DAMAGED } else { crate::exit::OK })
}
