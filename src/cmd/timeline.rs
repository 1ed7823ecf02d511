//! `dredge timeline`: the notable acts of a capture, one line each in time order (see
//! [`dredge_analyze::views::timeline`]): programs run, files written, connections,
//! identity and privilege changes, and the findings of the rules (the built-in set, or `-r`
//! files), in one pass.
//!
//! `--pid P` keeps P and its descendants, `--container C` (an id prefix or a name) the
//! container's processes, and a FILTER the acts whose event matches it (findings are then
//! kept on the processes with a kept act); `--runtime` adds what the container runtime's
//! init does while it sets a container up (mounts, links, id changes). A line reads
//! `TIME CONTAINER PID NAME KIND OBJECT (xN)`; `--json` writes one object per act with its
//! time in ns, `pid`, `proc.name`, `container.id`, `container.name`, `kind`, `object` and
//! `count`.

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use dredge_analyze::views::container_name;
use dredge_analyze::views::timeline::{Kind, Timeline};
use dredge_rules::eval::eval;

use super::print::compile_filter;
use super::table::{one_line, table_out};
use super::tree::{Followed, clock, descends, follow, in_container};

/// The notable acts of a capture, in time order.
#[derive(clap::Args)]
pub struct Args {
    /// The capture (.dcap or .scap).
    file: PathBuf,
    /// Only acts whose event matches this filter (the words are joined).
    filter: Vec<String>,
    /// Only this process and its descendants.
    #[arg(long)]
    pid: Option<i64>,
    /// Only this container's processes (an id prefix or a name).
    #[arg(long)]
    container: Option<String>,
    /// Rules files or directories (default: the built-in rules).
    #[arg(short = 'r', long = "rules")]
    rules: Vec<PathBuf>,
    /// Run no rules (no findings are shown).
    #[arg(long, conflicts_with = "rules")]
    no_rules: bool,
    /// Keep the acts of the container runtime's init (`runc:[...]`) too.
    #[arg(long)]
    runtime: bool,
    /// One JSON object per act instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let filter = compile_filter(&args.filter)?;
    let Some(loaded) = super::rules::load_or_none(&args.rules, args.no_rules)? else {
        return Ok(crate::exit::INPUT);
    };
    let opened = super::open_capture(&args.file)?;
    let mut timeline = Timeline::default();
    timeline.runtime = args.runtime;
    let keep = |fields: &dredge_analyze::fields::EventFields<'_>| {
        filter.as_ref().is_none_or(|f| eval(f, fields))
    };
    let followed = follow(&args.file, &opened.capture, &loaded.ruleset, &mut |ev, state, lives| {
        if Timeline::wants(ev.code()) {
            timeline.event(ev, state, lives, &keep);
        }
    });
    let Followed { lives, marks, tables, damaged } = followed;
    let with_acts: HashSet<usize> = timeline.acts.iter().map(|a| a.life).collect();
    for (pid, mark) in &marks {
        timeline.finding(&lives, *pid, mark);
    }
    let all = &lives.lives;
    let chosen: Vec<usize> = match args.pid {
        Some(p) => (0..all.len()).filter(|&i| all[i].pid == p).collect(),
        None => Vec::new(),
    };
    let in_scope = |life: usize| {
        args.pid.is_none_or(|_| chosen.iter().any(|&c| descends(all, life, c)))
            && args.container.as_deref().is_none_or(|c| in_container(&tables, &all[life], c))
    };
    let acts: Vec<_> = timeline
        .sorted()
        .into_iter()
        .filter(|a| in_scope(a.life))
        .filter(|a| filter.is_none() || a.kind != Kind::Finding || with_acts.contains(&a.life))
        .collect();

    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if args.json {
        for a in &acts {
            let id = &all[a.life].container_id;
            let object = serde_json::json!({
                "ts": a.ts,
                "time": super::utc(a.ts),
                "evt.num": a.num,
                "pid": a.pid,
                "proc.name": a.name,
                "container.id": id,
                "container.name": container_name(&tables, id),
                "kind": a.kind,
                "object": a.object,
                "count": a.count,
            });
            writeln!(out, "{object}").context("writing output")?;
        }
    } else {
        let rows: Vec<[String; 6]> = acts
            .iter()
            .map(|a| {
                let id = &all[a.life].container_id;
                let object = one_line(&a.object);
                let object = if a.count > 1 { format!("{object} (x{})", a.count) } else { object };
                [
                    clock(a.ts),
                    container_name(&tables, id),
                    a.pid.to_string(),
                    a.name.clone(),
                    a.kind.name().to_string(),
                    object,
                ]
            })
            .collect();
        let heading = ["TIME", "CONTAINER", "PID", "NAME", "KIND", "OBJECT"];
        table_out(&mut out, heading, &rows).context("writing output")?;
    }
    out.flush().context("writing output")?;
    Ok(if damaged { crate::exit::DAMAGED } else { crate::exit::OK })
}
