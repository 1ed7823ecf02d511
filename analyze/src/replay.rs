//! Driving a capture through a ruleset, on every core.
//!
//! Blocks are taken in file order: state blocks update the state, event blocks are decoded
//! (a batch at a time, in parallel) and their events normalised to the current layout,
//! applied to the state and tested against the rules that can match their type.
//!
//! Parallel evaluation shards the *events*, not the state: each of N workers keeps its own
//! full copy of the state (updating it with every event, which is cheap) and evaluates the
//! rules only for the events whose number falls to it (which is where the time goes). Each
//! worker's output is tagged with the event number and the rule's position, and the outputs
//! are merged in that order, so findings are identical, in the same order, for any number of
//! threads.

use std::ops::ControlFlow;

use dredge_format::normalize::{Normalized, Normalizer};
use dredge_format::reader::Capture;
use dredge_format::{BlockKind, Event, IndexEntry};
use dredge_rules::ruleset::Ruleset;
use rayon::prelude::*;

use crate::drops::{DropMonitor, DropOccurrence, DropPolicy};
use crate::fields::EventFields;
use crate::state::State;

/// Something replay reports as it goes.
pub enum Report<'r, 'e> {
    /// Rule number `rule` matched this event.
    Finding { rule: usize, event: &'r Event<'e>, fields: &'r EventFields<'r> },
    /// A second of capture time lost too many events.
    Drop(DropOccurrence),
}

/// Falco's `rule_matching`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Matching {
    /// One finding per event: the first matching rule.
    #[default]
    First,
    /// One finding per matching rule.
    All,
}

/// What replay produced.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub events: u64,
    pub evaluated: u64,
    pub findings: u64,
    /// Events the normaliser could not upgrade (left out of evaluation), with why.
    pub conversion_errors: Vec<String>,
    /// Damaged blocks skipped.
    pub damaged_blocks: Vec<String>,
    /// Drop-monitor occurrences and actions taken.
    pub drop_occurrences: u64,
    pub drop_actions: u64,
}

/// One worker: the whole state, evaluating every `shards`-th event from `shard`.
struct Worker<'r> {
    ruleset: &'r Ruleset,
    matching: Matching,
    shard: u64,
    shards: u64,
    state: State,
    normalizer: Normalizer,
    monitor: Option<DropMonitor>,
    summary: Summary,
    stopped: bool,
}

impl<'r> Worker<'r> {
    fn new(
        capture: &Capture,
        ruleset: &'r Ruleset,
        matching: Matching,
        shard: u64,
        shards: u64,
    ) -> Self {
        Worker {
            ruleset,
            matching,
            shard,
            shards,
            state: State { hostname: capture.metadata().hostname.clone(), ..State::default() },
            normalizer: Normalizer::new(),
            monitor: None,
            summary: Summary::default(),
            stopped: false,
        }
    }

    fn state_block(&mut self, capture: &Capture, entry: &IndexEntry) {
        match capture.decode_state(entry) {
            Some(Ok(s)) => self.state.apply_recorded(&s),
            Some(Err(e)) if self.shard == 0 => self.summary.damaged_blocks.push(e.to_string()),
            _ => {}
        }
    }

    fn events(
        &mut self,
        block: &dredge_format::EventBlock,
        report: &mut dyn FnMut(Report<'_, '_>) -> ControlFlow<()>,
    ) {
        for raw in block.iter() {
            if self.stopped {
                return;
            }
            self.summary.events += 1;
            if let Some(mut occ) = self.monitor.as_mut().and_then(|m| m.on_event(raw.ts())) {
                occ.event = raw.num;
                if report(Report::Drop(occ)).is_break() {
                    self.stopped = true;
                    return;
                }
            }
            let ev = match self.normalizer.push(&raw) {
                Ok(Normalized::Unchanged(e)) => e,
                Ok(Normalized::Converted(e)) => e,
                Ok(Normalized::Dropped) => continue,
                Err(e) => {
                    if self.shard == 0 {
                        self.summary.conversion_errors.push(e.to_string());
                    }
                    continue;
                }
            };
            self.state.before(&ev);
            if raw.num % self.shards == self.shard {
                self.summary.evaluated += 1;
                let fields = EventFields::new(&ev, &self.state);
                for &i in self.ruleset.candidates(ev.code()) {
                    let rule = &self.ruleset.rules[i as usize];
                    if dredge_rules::eval::eval(&rule.filter, &fields) {
                        self.summary.findings += 1;
                        let r = Report::Finding { rule: i as usize, event: &ev, fields: &fields };
                        if report(r).is_break() {
                            self.stopped = true;
                            return;
                        }
                        if self.matching == Matching::First {
                            break;
                        }
                    }
                }
            }
            self.state.after(&ev);
        }
    }
}

/// Replays `capture` on one thread, reporting findings (and, with a drop policy, drop
/// occurrences) to `report` in event order; replay stops early when `report` breaks.
pub fn replay(
    capture: &Capture,
    ruleset: &Ruleset,
    matching: Matching,
    drops: Option<DropMonitor>,
    mut report: impl FnMut(Report<'_, '_>) -> ControlFlow<()>,
) -> Summary {
    let mut w = Worker::new(capture, ruleset, matching, 0, 1);
    w.monitor = drops;
    for entry in capture.blocks() {
        if w.stopped {
            break;
        }
        if entry.header.kind.is_state() {
            w.state_block(capture, entry);
        } else if entry.header.kind == BlockKind::Events {
            match capture.decode_events(entry) {
                Ok(block) => w.events(&block, &mut report),
                Err(e) => w.summary.damaged_blocks.push(e.to_string()),
            }
        }
    }
    finish(w)
}

fn finish(w: Worker<'_>) -> Summary {
    let mut s = w.summary;
    if let Some(m) = &w.monitor {
        s.drop_occurrences = m.occurrences;
        s.drop_actions = m.actions_taken;
    }
    s
}

/// One output of a parallel replay (a rendered finding or drop report), with the keys that
/// order it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line<T> {
    /// The event it belongs to.
    pub event: u64,
    /// Drop reports (0) come before findings (1) of the same event.
    pub kind: u8,
    /// The rule's position, for findings.
    pub rule: usize,
    /// What the render function made of the report; `None` for a stop with nothing to show.
    pub out: Option<T>,
    /// True for a drop report whose action stops the replay.
    pub stop: bool,
}

/// Renders a report to an output (`None`: nothing to show), and says whether the replay must
/// stop after it.
pub type Render<'a, T> = dyn Fn(&Report<'_, '_>) -> (Option<T>, bool) + Sync + 'a;

/// Replays `capture` with `threads` workers (see the module doc); returns the output lines in
/// event order and the summary. Drop monitoring runs in the first worker.
pub fn replay_parallel<T: Send>(
    capture: &Capture,
    ruleset: &Ruleset,
    matching: Matching,
    threads: usize,
    drops: Option<DropPolicy>,
    render: &Render<'_, T>,
    progress: &dyn Fn(u64),
) -> (Vec<Line<T>>, Summary) {
    let n = threads.max(1) as u64;
    let records = drops.as_ref().map(|_| crate::drops::records(capture)).unwrap_or_default();
    let mut workers: Vec<Worker<'_>> =
        (0..n).map(|k| Worker::new(capture, ruleset, matching, k, n)).collect();
    if let Some(p) = drops {
        workers[0].monitor = Some(DropMonitor::new(p, records));
    }
    let mut outputs: Vec<Vec<Line<T>>> = (0..n).map(|_| Vec::new()).collect();
    let batch = (2 * rayon::current_num_threads()).max(2);
    let blocks = capture.blocks();
    let mut at = 0;
    while at < blocks.len() && !workers.iter().any(|w| w.stopped && w.shard == 0) {
        // State blocks apply at their place; event blocks decode in parallel, a batch at a time.
        let mut end = at;
        while end < blocks.len() && end - at < batch {
            end += 1;
        }
        let decoded: Vec<Option<Result<dredge_format::EventBlock, String>>> = blocks[at..end]
            .par_iter()
            .map(|e| match e.header.kind {
                BlockKind::Events => Some(capture.decode_events(e).map_err(|x| x.to_string())),
                _ => None,
            })
            .collect();
        std::thread::scope(|s| {
            for (w, out) in workers.iter_mut().zip(outputs.iter_mut()) {
                let decoded = &decoded;
                let entries = &blocks[at..end];
                s.spawn(move || {
                    for (entry, block) in entries.iter().zip(decoded) {
                        if entry.header.kind.is_state() {
                            w.state_block(capture, entry);
                            continue;
                        }
                        match block {
                            Some(Ok(b)) => {
                                let mut emit = |r: Report<'_, '_>| {
                                    let (event, kind, rule) = match &r {
                                        Report::Finding { rule, event, .. } => {
                                            (event.num, 1, *rule)
                                        }
                                        Report::Drop(occ) => (occ.event, 0, 0),
                                    };
                                    let (rendered, stop) = render(&r);
                                    if rendered.is_some() || stop {
                                        out.push(Line { event, kind, rule, out: rendered, stop });
                                    }
                                    if stop {
                                        ControlFlow::Break(())
                                    } else {
                                        ControlFlow::Continue(())
                                    }
                                };
                                w.events(b, &mut emit);
                            }
                            Some(Err(e)) if w.shard == 0 => {
                                w.summary.damaged_blocks.push(e.clone())
                            }
                            _ => {}
                        }
                    }
                });
            }
        });
        at = end;
        progress(workers[0].summary.events);
    }
    let mut lines: Vec<Line<T>> = outputs.into_iter().flatten().collect();
    lines.sort_by_key(|l| (l.event, l.kind, l.rule));
    // A stopping drop action ends the output there, whatever other workers went on to find.
    if let Some(stop) = lines.iter().find(|l| l.stop).map(|l| (l.event, l.kind)) {
        lines.retain(|l| (l.event, l.kind) <= stop);
    }
    let mut summary = Summary::default();
    for (i, w) in workers.into_iter().enumerate() {
        let s = finish(w);
        if i == 0 {
            summary.events = s.events;
            summary.conversion_errors = s.conversion_errors;
            summary.damaged_blocks = s.damaged_blocks;
            summary.drop_occurrences = s.drop_occurrences;
            summary.drop_actions = s.drop_actions;
        }
        summary.evaluated += s.evaluated;
        summary.findings += s.findings;
    }
    (lines, summary)
}
