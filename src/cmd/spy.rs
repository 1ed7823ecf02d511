//! `dredge spy users` and `dredge spy file`: what users did in a capture, as sysdig's
//! `spy_users` and `spy_file` chisels show it live.
//!
//! `spy users` prints one line per command: the time (UTC), the login shell's pid, the user
//! (`user@container` inside a container) and the command line, indented by its depth below
//! the shell. A FILTER narrows the events looked at (`container.name=web`,
//! `user.name=root`); `--max-depth D` leaves out commands deeper than D. `--json` writes one
//! object per line: `ts` (ns since the epoch), `depth`, `shell`, `pid`, `user`, `container`
//! and `command`.
//!
//! `spy file` prints who touched one file and how, over the whole capture: one line per
//! program run and act, in the order of their first touch, with the time of the first
//! (UTC), the container, user, pid, process name, the act, how many times, the bytes read or
//! written, and the command line. A FILTER narrows the events counted. `--json` writes one
//! object per line, keyed by sysdig's field names where there is one (`proc.pid`,
//! `proc.name`, `proc.cmdline`, `user.name`, `container.id`, `container.name`), with `act`,
//! `count`, `bytes`, `first_ns`, `last_ns`, `first` and `last` (RFC 3339, UTC).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use dredge_analyze::spans::SpanState;
use dredge_analyze::state::{Needs, State};
use dredge_analyze::views::human_bytes;
use dredge_analyze::views::spy_file::SpyFile;
use dredge_analyze::views::spy_users::SpyUsers;
use dredge_format::time::Utc;
use dredge_rules::eval::eval;

use super::print::{Walk, compile_filter, walk, walk_into};
use crate::exit::Usage;

/// Watch what users did.
#[derive(clap::Subcommand)]
pub enum Command {
    /// The commands run under a shell, per user.
    Users(Args),
    /// Who touched a file and how, per process.
    ///
    /// Opens (with their access), reads and writes (with their bytes), renames, links,
    /// unlinks, mode and owner changes, execs and maps of the file: one line per program
    /// run (a process until it execs or exits) and act, in the order of their first touch.
    File(FileArgs),
}

#[derive(clap::Args)]
pub struct Args {
    /// The capture (.dcap or .scap).
    file: PathBuf,
    /// A filter on the events looked at (the words are joined).
    filter: Vec<String>,
    /// Leave out commands more than this deep below their shell.
    #[arg(long, value_name = "D")]
    max_depth: Option<u32>,
    /// One JSON object per line instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub struct FileArgs {
    /// The capture (.dcap or .scap).
    file: PathBuf,
    /// The file, by its absolute path (as the processes in the capture see it: inside a
    /// container, the container's).
    path: String,
    /// A filter on the events counted (the words are joined).
    filter: Vec<String>,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(command: Command) -> anyhow::Result<u8> {
    match command {
        Command::Users(args) => users(args),
        Command::File(args) => file(args),
    }
}

fn users(args: Args) -> anyhow::Result<u8> {
    let filter = compile_filter(&args.filter)?;
    let opened = super::open_capture(&args.file)?;
    let mut spy = SpyUsers::default();
    let needs = Needs { lineage: true, ..Needs::NONE };
    let spans = &mut SpanState::default();
    let damaged = walk(&args.file, &opened.capture, false, needs, spans, &mut |mut shown| {
        if !SpyUsers::wants(shown.event.code()) {
            return Ok(());
        }
        let view = shown.view();
        let fields = shown.fields(&view);
        if filter.as_ref().is_none_or(|f| eval(f, &fields)) {
            spy.event(&fields);
        }
        Ok(())
    })?;

    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let shown = spy.commands.iter().filter(|c| args.max_depth.is_none_or(|d| c.depth <= d));
    for c in shown {
        if args.json {
            writeln!(out, "{}", serde_json::to_string(c)?).context("writing output")?;
            continue;
        }
        let who = match c.container.as_str() {
            "host" => c.user.clone(),
            name => format!("{}@{name}", c.user),
        };
        let indent = "   ".repeat(c.depth as usize);
        let time = Utc::from_ns(c.ts).datetime();
        writeln!(out, "{time} {indent}{} {who}) {}", c.shell, c.command)
            .context("writing output")?;
    }
    out.flush().context("writing output")?;
    Ok(if damaged { crate::exit::DAMAGED } else { crate::exit::OK })
}

fn file(args: FileArgs) -> anyhow::Result<u8> {
    if !args.path.starts_with('/') {
        return Err(Usage(format!("PATH {:?}: not an absolute path", args.path)).into());
    }
    let filter = compile_filter(&args.filter)?;
    let opened = super::open_capture(&args.file)?;
    let capture = &opened.capture;
    let mut spy = SpyFile::new(args.path.as_bytes());
    let mut state = State::with_hostname(&capture.metadata().hostname);
    let mut needs = Needs::NONE;
    if let Some(f) = &filter {
        f.each_field(&mut |r| needs = needs.union(dredge_analyze::fields::needs(r.spec.id)));
    }
    let spans = &mut SpanState::default();
    let how = Walk { debug: false, needs, until: None };
    let damaged = walk_into(&args.file, capture, how, spans, &mut state, &mut |mut s| {
        // Most events touch nothing: their fields are not made.
        let Some(touch) = spy.touch(s.state, s.event, s.merged.unwrap_or(s.event)) else {
            return Ok(());
        };
        let view = s.view();
        let fields = s.fields(&view);
        if filter.as_ref().is_none_or(|f| eval(f, &fields)) {
            spy.add(touch, &fields);
        }
        Ok(())
    })?;
    if spy.rows.is_empty() {
        super::summary!("dredge: no process touched {}", String::from_utf8_lossy(spy.path()));
    }

    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if args.json {
        for r in &spy.rows {
            let object = serde_json::json!({
                "first": Utc::from_ns(r.first).rfc3339(),
                "last": Utc::from_ns(r.last).rfc3339(),
                "first_ns": r.first,
                "last_ns": r.last,
                "container.id": r.container_id,
                "container.name": r.container,
                "user.name": r.user,
                "proc.pid": r.pid,
                "proc.name": r.name,
                "act": r.act,
                "count": r.count,
                "bytes": r.bytes,
                "proc.cmdline": r.cmdline,
            });
            writeln!(out, "{object}").context("writing output")?;
        }
    } else {
        let rows: Vec<[String; 9]> = spy
            .rows
            .iter()
            .map(|r| {
                let bytes = if r.bytes == 0 { "-".into() } else { human_bytes(r.bytes) };
                [
                    super::utc(r.first),
                    super::table::one_line(&r.container),
                    super::table::one_line(&r.user),
                    r.pid.to_string(),
                    super::table::one_line(&r.name),
                    super::table::one_line(&r.act),
                    r.count.to_string(),
                    bytes,
                    super::table::one_line(&r.cmdline),
                ]
            })
            .collect();
        let heading =
            ["TIME", "CONTAINER", "USER", "PID", "PROCESS", "ACT", "COUNT", "BYTES", "COMMAND"];
        super::table::table_out(&mut out, heading, &rows).context("writing output")?;
    }
    out.flush().context("writing output")?;
    Ok(if damaged { crate::exit::DAMAGED } else { crate::exit::OK })
}
