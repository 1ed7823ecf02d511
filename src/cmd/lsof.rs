//! `dredge lsof` and `dredge netstat`: the fd table of a capture at one moment, every open
//! fd or every internet socket with its process, as sysdig's `lsof` and `netstat` chisels
//! show a live system.
//!
//! The moment is the end of the capture, or with `--at TIME` just before the first event
//! after TIME (the walk stops there). TIME is nanoseconds since the epoch (as `evt.rawtime`
//! shows them), or `+` and a duration from the capture's first event (`+2.5s`, `+300ms`,
//! `+40us`, `+12ns`).
//!
//! A FILTER selects rows: it sees each fd with its thread, process, user and container
//! (`proc.name=sshd`, `fd.type=ipv4`, `fd.name startswith /etc`); ancestor and event fields
//! have no value there.
//!
//! `--json` writes one object per line: for `lsof` `command`, `pid`, `tid`, `user`,
//! `container`, `fd`, `type`, `name`; for `netstat` `proto`, `server`, `client`, `state`,
//! `tid`, `pid`, `command`, `fd`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use dredge_analyze::spans::SpanState;
use dredge_analyze::state::{Needs, State};
use dredge_analyze::views::lsof::{Keep, OpenFd, lsof};
use dredge_analyze::views::netstat::{Conn, netstat};
use dredge_analyze::views::row_matches;

use super::print::{Until, Walk, compile_filter, walk_into};
use crate::exit::Usage;

/// The open fds at a moment of a capture.
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

pub(crate) fn parse_at(text: &str) -> anyhow::Result<Until> {
    let usage = || Usage(format!("--at {text:?}: not ns since the epoch nor +DURATION"));
    let Some(rest) = text.strip_prefix('+') else {
        return Ok(Until::Epoch(text.parse().map_err(|_| usage())?));
    };
    let at = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(usage)?;
    let (number, unit) = rest.split_at(at);
    let scale = match unit {
        "s" => 1e9,
        "ms" => 1e6,
        "us" => 1e3,
        "ns" => 1.0,
        _ => return Err(usage().into()),
    };
    let value: f64 = number.parse().map_err(|_| usage())?;
    Ok(Until::After((value * scale).round() as u64))
}

/// Which table.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Lsof,
    Netstat,
}

pub fn run(args: Args, table: Table) -> anyhow::Result<u8> {
    let filter = compile_filter(&args.filter)?;
    let at = args.at.as_deref().map(parse_at).transpose()?;
    let opened = super::open_capture(&args.file)?;
    let capture = &opened.capture;
    let mut state = State::with_hostname(&capture.metadata().hostname);
    let spans = &mut SpanState::default();
    let mut last = 0;
    let how = Walk { debug: false, needs: Needs::NONE, until: at };
    let damaged = walk_into(&args.file, capture, how, spans, &mut state, &mut |s| {
        last = s.event.ts();
        Ok(())
    })?;
    let (fds, conns) = snapshot(&state, last, filter.as_ref(), table);

    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match (table, args.json) {
        (Table::Lsof, true) => {
            for f in &fds {
                writeln!(out, "{}", serde_json::to_string(f)?).context("writing output")?;
            }
        }
        (Table::Netstat, true) => {
            for c in &conns {
                writeln!(out, "{}", serde_json::to_string(c)?).context("writing output")?;
            }
        }
        (Table::Lsof, false) => {
            let rows: Vec<[String; 7]> = fds
                .iter()
                .map(|f| {
                    let (pid, tid, fd) = (f.pid.to_string(), f.tid.to_string(), f.fd.to_string());
                    let kind = f.kind.to_string();
                    [f.command.clone(), pid, tid, f.user.clone(), fd, kind, f.name.clone()]
                })
                .collect();
            let heading = ["COMMAND", "PID", "TID", "USER", "FD", "TYPE", "NAME"];
            super::table::table_out(&mut out, heading, &rows).context("writing output")?;
        }
        (Table::Netstat, false) => {
            let rows: Vec<[String; 5]> = conns
                .iter()
                .map(|c| {
                    let owner = format!("{}/{}/{}", c.tid, c.pid, c.command);
                    [c.proto.into(), c.server.clone(), c.client.clone(), c.state.into(), owner]
                })
                .collect();
            let heading = ["PROTO", "SERVER", "CLIENT", "STATE", "TID/PID/COMMAND"];
            super::table::table_out(&mut out, heading, &rows).context("writing output")?;
        }
    }
    out.flush().context("writing output")?;
    Ok(if damaged { crate::exit::DAMAGED } else { crate::exit::OK })
}

/// The table asked for, as `state` is at time `ts`.
fn snapshot(
    state: &State,
    ts: u64,
    filter: Option<&dredge_rules::compile::Filter>,
    table: Table,
) -> (Vec<OpenFd>, Vec<Conn>) {
    let keep: Keep<'_> =
        &mut |t, n, fd| filter.is_none_or(|f| row_matches(f, state, ts, (t, n, fd)));
    match table {
        Table::Lsof => (lsof(state, keep), Vec::new()),
        Table::Netstat => (Vec::new(), netstat(state, keep)),
    }
}

#[cfg(test)]
mod tests {
    use super::{Until, parse_at};

    #[test]
    fn times_are_epoch_ns_or_offsets() {
        assert!(matches!(
            parse_at("1534527348514648551"),
            Ok(Until::Epoch(1_534_527_348_514_648_551))
        ));
        assert!(matches!(parse_at("+2.5s"), Ok(Until::After(2_500_000_000))));
        assert!(matches!(parse_at("+300ms"), Ok(Until::After(300_000_000))));
        assert!(matches!(parse_at("+40us"), Ok(Until::After(40_000))));
        assert!(matches!(parse_at("+12ns"), Ok(Until::After(12))));
        for bad in ["", "+", "+5", "+5h", "soon", "-3"] {
            assert!(parse_at(bad).is_err(), "{bad}");
        }
    }
}
