//! `dredge ps`: the processes running at a moment of a capture, with their container, user
//! and command line, from the lives `dredge tree` draws (see
//! [`dredge_analyze::views::lives`]).
//!
//! The moment is the end of the capture, or `--at TIME` (ns since the epoch, or `+DURATION`
//! from the first event, as `dredge lsof --at` takes it). A process is running at TIME when
//! it began (or was first seen) by then and had not ended; it is shown with the program it
//! ran then. A FILTER selects rows: it sees each process's main thread and container
//! (`container.name=web`, `proc.name in (sh, bash)`, `user.name=root`).
//!
//! `--json` writes one object per process: `pid`, `ppid`, `vpid`, `user`, `container.id`,
//! `container.name`, `began` (ns, or null for a process running when the capture started),
//! `exe` and `cmdline`.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use dredge_analyze::views::{container_name, row_matches};

use super::lsof::parse_at;
use super::print::compile_filter;
use super::table::{one_line, table_out};
use super::tree::{Followed, follow};

/// The processes running at a moment of a capture.
#[derive(clap::Args)]
pub struct Args {
    /// The capture (.dcap or .scap).
    file: PathBuf,
    /// A filter on the rows (the words are joined).
    filter: Vec<String>,
    /// The moment: ns since the epoch, or `+DURATION` from the first event (default: the
    /// end of the capture).
    #[arg(long, value_name = "TIME")]
    at: Option<String>,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let filter = compile_filter(&args.filter)?;
    let at = args.at.as_deref().map(parse_at).transpose()?;
    let opened = super::open_capture(&args.file)?;
    let capture = &opened.capture;
    let (mut first, mut last) = (None, 0);
    let none = dredge_rules::ruleset::load(&[]);
    let Followed { lives, tables, damaged, .. } =
        follow(&args.file, capture, &none.ruleset, &mut |ev, _, _| {
            if ev.ts() > 0 {
                first.get_or_insert(ev.ts());
            }
            last = ev.ts();
        });
    let moment = at.map_or(last, |at| at.end(first.unwrap_or(0)));

    let mut state = dredge_analyze::state::State::default();
    state.tables = tables.clone();
    let mut rows = Vec::new();
    for life in lives.lives.iter().filter(|l| l.running_at(moment)) {
        let program = life.program_at(moment);
        let name = container_name(&tables, &life.container_id);
        if let Some(f) = &filter {
            // The filter sees the process's main thread as it was at that moment.
            let thread = &program.thread;
            if !row_matches(f, &state, moment, (thread, -1, &Arc::default())) {
                continue;
            }
        }
        rows.push((life, program, name));
    }

    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if args.json {
        for (life, program, name) in &rows {
            let object = serde_json::json!({
                "pid": life.pid,
                "ppid": life.ppid,
                "vpid": life.vpid,
                "user": program.user,
                "container.id": life.container_id,
                "container.name": name,
                "began": life.began,
                "exe": program.exe,
                "cmdline": program.cmdline,
            });
            writeln!(out, "{object}").context("writing output")?;
        }
    } else {
        let cells: Vec<[String; 6]> = rows
            .iter()
            .map(|(life, program, name)| {
                let began = life.began.map_or_else(|| "-".into(), |b| super::utc(b)[11..23].into());
                [
                    life.pid.to_string(),
                    life.ppid.to_string(),
                    program.user.clone(),
                    name.clone(),
                    began,
                    one_line(&program.cmdline),
                ]
            })
            .collect();
        let heading = ["PID", "PPID", "USER", "CONTAINER", "STARTED", "COMMAND"];
        table_out(&mut out, heading, &cells).context("writing output")?;
    }
    out.flush().context("writing output")?;
    Ok(if damaged { crate::exit::DAMAGED } else { crate::exit::OK })
}
