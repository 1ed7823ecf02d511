//! `dredge tree`: every process of a capture as a tree of lives (see
//! [`dredge_analyze::views::lives`]): when each began, the programs it ran in order, how it
//! ended, and the findings the rules raised on it.
//!
//! The rules (the built-in set, or `-r` files) run in the same pass that follows the
//! processes, as `dredge replay` runs them. What is drawn can be narrowed:
//! `--pid P` to P's ancestors and descendants, `--container C` (an id prefix or a name) to
//! the container's processes from its entry point down, `--findings` to the processes with a
//! finding and their ancestors, and a FILTER to the processes with a matching event and
//! their ancestors.
//!
//! A line reads `PID PROGRAM → PROGRAM ...  [container] user  began–ended exit`, a finding
//! below its process as `! TIME PRIORITY rule`. `--json` writes one object per process, in
//! the tree's order, with its `depth` below the drawn root.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use dredge_analyze::fields::EventFields;
use dredge_analyze::replay::{How, Matching, Observed, Report, replay_observed};
use dredge_analyze::state::{Needs, State, Tables};
use dredge_analyze::views::container_name;
use dredge_analyze::views::lives::{Life, Lives, Mark};
use dredge_format::Event;
use dredge_format::reader::Capture;
use dredge_rules::eval::eval;
use dredge_rules::ruleset::Ruleset;
use std::collections::HashSet;

use super::print::compile_filter;
use super::table::one_line;

/// The processes of a capture as a tree, with the findings on them.
#[derive(clap::Args)]
pub struct Args {
    /// The capture (.dcap or .scap).
    file: PathBuf,
    /// Only processes with an event matching this filter, and their ancestors (the words
    /// are joined).
    filter: Vec<String>,
    /// Only this process's ancestors, itself and its descendants.
    #[arg(long)]
    pid: Option<i64>,
    /// Only this container's processes (an id prefix or a name).
    #[arg(long)]
    container: Option<String>,
    /// Only processes with a finding, and their ancestors.
    #[arg(long)]
    findings: bool,
    /// Rules files or directories (default: the built-in rules).
    #[arg(short = 'r', long = "rules")]
    rules: Vec<PathBuf>,
    /// Run no rules (no findings are shown).
    #[arg(long, conflicts_with = "rules")]
    no_rules: bool,
    /// Command lines whole (the drawing cuts each at 100 characters).
    #[arg(long)]
    full: bool,
    /// One JSON object per process instead of a drawing.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let filter = compile_filter(&args.filter)?;
    let Some(loaded) = super::rules::load_or_none(&args.rules, args.no_rules)? else {
        return Ok(crate::exit::INPUT);
    };
    let opened = super::open_capture(&args.file)?;
    let mut matched = HashSet::new();
    let mut needs = Needs::NONE;
    if let Some(f) = &filter {
        f.each_field(&mut |r| needs = needs.union(dredge_analyze::fields::needs(r.spec.id)));
    }
    let followed = follow(&args.file, &opened.capture, &loaded.ruleset, &mut |ev, state, lives| {
        if let Some(f) = &filter {
            let view = state.view_of(ev, ev, needs);
            if eval(f, &EventFields::new(ev, &view, &state.tables)) {
                let pid = view.thread.as_ref().map_or(ev.tid(), |t| t.pid);
                matched.extend(lives.current(pid));
            }
        }
    });
    let Followed { mut lives, marks, tables, damaged } = followed;
    for (pid, mark) in marks {
        lives.attach(pid, mark);
    }
    let tables = tables.as_ref();

    let all = &lives.lives;
    let mut keep: Vec<bool> = vec![filter.is_none(); all.len()];
    if filter.is_some() {
        for &i in &matched {
            keep_with_ancestors(all, i, &mut keep);
        }
    }
    if let Some(pid) = args.pid {
        let chosen = vec_of(all, |l| l.pid == pid);
        let mut near = vec![false; all.len()];
        for &i in &chosen {
            keep_with_ancestors(all, i, &mut near);
        }
        for (i, k) in keep.iter_mut().enumerate() {
            *k &= near[i] || chosen.iter().any(|&c| descends(all, i, c));
        }
    }
    if let Some(c) = &args.container {
        for (k, l) in keep.iter_mut().zip(all) {
            *k &= in_container(tables, l, c);
        }
    }
    if args.findings {
        let mut near = vec![false; all.len()];
        for i in vec_of(all, |l| !l.findings.is_empty()) {
            keep_with_ancestors(all, i, &mut near);
        }
        for (k, n) in keep.iter_mut().zip(near) {
            *k &= n;
        }
    }

    let order = tree_order(all, &keep);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if args.json {
        for (i, depth) in order {
            let mut object = serde_json::to_value(&all[i])?;
            object["depth"] = depth.into();
            object["container.name"] = container_name(tables, &all[i].container_id).into();
            writeln!(out, "{object}").context("writing output")?;
        }
    } else {
        draw(&mut out, all, &order, tables, args.full).context("writing output")?;
    }
    out.flush().context("writing output")?;
    Ok(if damaged { crate::exit::DAMAGED } else { crate::exit::OK })
}

/// What [`follow`] found in a capture.
pub(crate) struct Followed {
    pub lives: Lives,
    /// The findings, in event order, each with the pid of its process.
    pub marks: Vec<(i64, Mark)>,
    /// The tables as the capture ends.
    pub tables: Arc<Tables>,
    /// Whether a part of the capture could not be read (said on stderr).
    pub damaged: bool,
}

/// Follows the lives of `capture`'s processes while `ruleset` runs over it, in one pass;
/// `each` hears every event after the lives have, with the state as of it.
pub(crate) fn follow(
    file: &Path,
    capture: &Capture,
    ruleset: &Ruleset,
    each: &mut dyn FnMut(&Event<'_>, &mut State, &Lives),
) -> Followed {
    for loss in capture.losses() {
        eprintln!("dredge: {}: damaged: {loss}", file.display());
    }
    let mut lives = Lives::default();
    let mut tables = None;
    let render = |r: &Report<'_, '_>| match r {
        Report::Finding { rule, event, fields } => {
            let rule = &ruleset.rules[*rule].def;
            let pid = fields.view.thread.as_ref().map_or(event.tid(), |t| t.pid);
            let priority = rule.priority.name().to_uppercase();
            let mark = Mark { num: event.num, ts: event.ts(), rule: rule.name.clone(), priority };
            (Some((pid, mark)), false)
        }
        Report::Drop(_) => (None, false),
    };
    let how = How { matching: Matching::First, threads: rayon::current_num_threads(), drops: None };
    let (lines, summary) =
        replay_observed(capture, ruleset, how, &render, &|_| {}, &mut |seen| match seen {
            Observed::State(state) => lives.state(state),
            Observed::Event(ev, state) => {
                lives.event(ev, state);
                each(ev, state, &lives);
                // The tables as they end (containers are announced as the capture goes).
                if !tables.as_ref().is_some_and(|t| Arc::ptr_eq(t, &state.tables)) {
                    tables = Some(state.tables.clone());
                }
            }
        });
    for e in &summary.damaged_blocks {
        eprintln!("dredge: {}: {e}", file.display());
    }
    Followed {
        lives,
        marks: lines.into_iter().filter_map(|l| l.out).collect(),
        tables: tables.unwrap_or_default(),
        damaged: !capture.losses().is_empty() || !summary.damaged_blocks.is_empty(),
    }
}

/// Whether `life` is in container `c` (an id prefix or a name).
pub(crate) fn in_container(tables: &Tables, life: &Life, c: &str) -> bool {
    let id = life.container_id.as_str();
    !id.is_empty() && (id.starts_with(c) || container_name(tables, id) == c)
}

/// The indices of the lives for which `pick` holds.
fn vec_of(all: &[Life], pick: impl Fn(&Life) -> bool) -> Vec<usize> {
    (0..all.len()).filter(|&i| pick(&all[i])).collect()
}

/// Marks life `i` and its ancestors in `keep`.
fn keep_with_ancestors(all: &[Life], i: usize, keep: &mut [bool]) {
    let mut at = Some(i);
    // A parent always began before its child, so the walk up ends.
    while let Some(j) = at.filter(|&j| !keep[j]) {
        keep[j] = true;
        at = all[j].parent;
    }
}

/// Whether life `i` is `ancestor` or below it.
pub(crate) fn descends(all: &[Life], i: usize, ancestor: usize) -> bool {
    let mut at = Some(i);
    while let Some(j) = at {
        if j == ancestor {
            return true;
        }
        at = all[j].parent;
    }
    false
}

/// The kept lives depth first, children in the order they began, each with its depth below
/// its drawn root (a kept life whose parent is not kept is a root).
fn tree_order(all: &[Life], keep: &[bool]) -> Vec<(usize, usize)> {
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); all.len()];
    let mut roots = Vec::new();
    for i in (0..all.len()).filter(|&i| keep[i]) {
        match all[i].parent.filter(|&p| keep[p]) {
            Some(p) => children[p].push(i),
            None => roots.push(i),
        }
    }
    let mut order = Vec::new();
    let mut stack: Vec<(usize, usize)> = roots.into_iter().rev().map(|r| (r, 0)).collect();
    while let Some((i, depth)) = stack.pop() {
        order.push((i, depth));
        stack.extend(children[i].iter().rev().map(|&c| (c, depth + 1)));
    }
    order
}

/// `HH:MM:SS.mmm` (UTC) of a time.
pub(crate) fn clock(ns: u64) -> String {
    super::utc(ns)[11..23].to_string()
}

/// Characters of a command line the drawing shows, unless `--full`.
const CMDLINE: usize = 100;

/// A command line on one line (see [`one_line`]), cut at [`CMDLINE`] characters unless
/// `full`.
fn shown(cmdline: &str, full: bool) -> String {
    match cmdline.char_indices().nth(CMDLINE) {
        Some((at, _)) if !full => format!("{}…", one_line(&cmdline[..at])),
        _ => one_line(cmdline),
    }
}

/// Draws the lives in `order` with tree lines.
fn draw(
    out: &mut dyn Write,
    all: &[Life],
    order: &[(usize, usize)],
    tables: &Tables,
    full: bool,
) -> std::io::Result<()> {
    // Whether the ancestor at each depth has siblings still to come (its column continues).
    let mut open: Vec<bool> = Vec::new();
    for (k, &(i, depth)) in order.iter().enumerate() {
        let last =
            !order[k + 1..].iter().take_while(|&&(_, d)| d >= depth).any(|&(_, d)| d == depth);
        open.truncate(depth);
        let mut prefix = String::new();
        for &more in open.iter().skip(1) {
            prefix.push_str(if more { "│  " } else { "   " });
        }
        let (branch, below) = match depth {
            0 => ("", ""),
            _ if last => ("└─ ", "   "),
            _ => ("├─ ", "│  "),
        };
        open.push(!last);
        let life = &all[i];
        // A child that went on to run a program of its own is shown by that program only,
        // not by the copy of its parent's it ran between fork and execve.
        let skip = usize::from(life.began.is_some() && life.programs.len() > 1);
        let programs: Vec<String> =
            life.programs[skip..].iter().map(|p| shown(&p.cmdline, full)).collect();
        let place = match life.container_id.as_str() {
            "" => "host".to_string(),
            id => format!("{} {}", container_name(tables, id), &id[..id.len().min(12)]),
        };
        let began = life.began.map_or_else(|| "(running)".to_string(), clock);
        let end = match &life.end {
            Some(e) => match (e.code, e.signal) {
                (_, Some(s)) => format!("–{} signal {s}", clock(e.ts)),
                (Some(c), None) => format!("–{} exit {c}", clock(e.ts)),
                (None, None) => format!("–{}", clock(e.ts)),
            },
            None => String::new(),
        };
        let user = &life.programs.last().map_or("", |p| p.user.as_str());
        writeln!(
            out,
            "{prefix}{branch}{} {}  [{place}] {user}  {began}{end}",
            life.pid,
            programs.join(" → ")
        )?;
        let under = if order.get(k + 1).is_some_and(|&(_, d)| d > depth) { "│  " } else { "   " };
        for m in &life.findings {
            writeln!(out, "{prefix}{below}{under}! {} {} {}", clock(m.ts), m.priority, m.rule)?;
        }
    }
    Ok(())
}
