//! `dredge spy users`: the commands run under a shell in a capture, per user, as sysdig's
//! `spy_users` chisel shows them live.
//!
//! One line per command: the time (UTC), the login shell's pid, the user (`user@container`
//! inside a container) and the command line, indented by its depth below the shell. A
//! FILTER narrows the events looked at (`container.name=web`, `user.name=root`);
//! `--max-depth D` leaves out commands deeper than D.
//!
//! `--json` writes one object per line: `ts` (ns since the epoch), `depth`, `shell`, `pid`,
//! `user`, `container` and `command`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use dredge_analyze::spans::SpanState;
use dredge_analyze::state::Needs;
use dredge_analyze::views::spy_users::SpyUsers;
use dredge_format::time::Utc;
use dredge_rules::eval::eval;

use super::print::{compile_filter, walk};

/// Watch what users did.
#[derive(clap::Subcommand)]
pub enum Command {
    /// The commands run under a shell, per user.
    Users(Args),
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

pub fn run(command: Command) -> anyhow::Result<u8> {
    let Command::Users(args) = command;
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
