//! Driving a capture through a ruleset, on every core.
//!
//! Replay is a pipeline. One thread, the *tracker*, takes every event in file order: it normalises
//! it (enter merged into exit), applies it to the state, and for each event that some rule could
//! match takes a [`View`](crate::state::View) of the state (shared versions of the thread, its
//! ancestors and its fd, which never change once made) and copies the event beside it into a batch.
//! *Evaluators* on the other cores decode the blocks the tracker will need next (a state block is
//! also made ready for the tables, see [`Prepared`]) and run the rules over whole batches while the
//! state moves on. The tracker decodes a block itself when no one has started it, or one it will
//! need soon while it waits for another, and evaluates a batch itself when the evaluators are
//! behind, so no core idles. Every output is tagged with its event number and rule position and the
//! outputs are sorted on those keys at the end, so the findings are the same, in the same order,
//! for any number of threads.

use std::sync::{Condvar, Mutex};

use dredge_format::normalize::{Normalized, Normalizer};
use dredge_format::reader::Capture;
use dredge_format::{BlockKind, Event, EventBlock, IndexEntry};
use dredge_rules::ruleset::Ruleset;

use crate::batch::Batch;
use crate::drops::{DropMonitor, DropOccurrence, DropPolicy};
use crate::fields::EventFields;
use crate::spans::SpanState;
use crate::state::{Needs, Prepared, State};

/// Something replay reports as it goes.
pub enum Report<'r, 'e> {
    /// Rule number `rule` matched this event.
    Finding { rule: usize, event: &'r Event<'e>, fields: &'r EventFields<'r> },
    /// A second of capture time lost too many events.
    Drop(DropOccurrence),
}

/// What an observer of a replay sees, on the tracking thread, in file order (see
/// [`replay_observed`]).
pub enum Observed<'o, 'e> {
    /// A state block was just put in the tables.
    State(&'o mut State),
    /// An event, with the state as of it: as the rules see it, after the event's own changes
    /// and before its thread's exit takes the thread away.
    Event(&'o Event<'e>, &'o mut State),
}

/// Hears every state block and event of a replay (see [`Observed`]). It may read the state
/// and make views of it; it must not change what the state says.
pub type Observer<'a> = dyn for<'o, 'e> FnMut(Observed<'o, 'e>) + 'a;

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
    /// Events some rule could match (those evaluated).
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

/// One output of a replay (a rendered finding or drop report), with the keys that order it.
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

/// Events per batch: enough to make handing one over cheap, few enough to keep all cores fed.
/// (On the 10 M-event benchmark capture, 4096 beat 1024 on two threads in most interleaved
/// rounds; 16384 gained nothing more and held 25 MiB more.)
const BATCH: usize = 4096;

/// What evaluation needs, shared by every thread.
struct Evaluation<'a, T> {
    ruleset: &'a Ruleset,
    matching: Matching,
    render: &'a Render<'a, T>,
}

impl<T> Evaluation<'_, T> {
    /// Runs the candidate rules over every event of `batch`; returns the outputs and the
    /// number of findings.
    fn run(&self, batch: &Batch) -> (Vec<Line<T>>, u64) {
        let mut out = Vec::new();
        let mut findings = 0;
        batch.each(|ev, fields| {
            for &i in self.ruleset.candidates(ev.code()) {
                let rule = &self.ruleset.rules[i as usize];
                if !dredge_rules::eval::eval(&rule.filter, fields) {
                    continue;
                }
                findings += 1;
                let report = Report::Finding { rule: i as usize, event: ev, fields };
                let (rendered, stop) = (self.render)(&report);
                if rendered.is_some() || stop {
                    out.push(Line {
                        event: ev.num,
                        kind: 1,
                        rule: i as usize,
                        out: rendered,
                        stop,
                    });
                }
                if stop || self.matching == Matching::First {
                    break;
                }
            }
        });
        (out, findings)
    }
}

/// The tracker: state, normaliser and drop monitor, in event order.
struct Tracker<'a, T> {
    ruleset: &'a Ruleset,
    /// What views the rules need (see [`needs`]).
    needs: Needs,
    state: State,
    normalizer: Normalizer,
    spans: SpanState,
    monitor: Option<DropMonitor>,
    summary: Summary,
    batch: Batch,
    /// Drop reports (and a stop), made by the tracker itself.
    lines: Vec<Line<T>>,
    stopped: bool,
    observer: &'a mut Observer<'a>,
}

impl<T> Tracker<'_, T> {
    /// Tracks the events of one block; calls `ship` with each full batch.
    fn events(
        &mut self,
        block: &EventBlock,
        render: &Render<'_, T>,
        ship: &mut dyn FnMut(&mut Batch),
    ) {
        for raw in block.iter() {
            self.summary.events += 1;
            if let Some(mut occ) = self.monitor.as_mut().and_then(|m| m.on_event(raw.ts())) {
                occ.event = raw.num;
                let (rendered, stop) = render(&Report::Drop(occ));
                if rendered.is_some() || stop {
                    self.lines.push(Line { event: raw.num, kind: 0, rule: 0, out: rendered, stop });
                }
                if stop {
                    self.stopped = true;
                    return;
                }
            }
            let ev = match self.normalizer.push(&raw) {
                Ok(Normalized::Unchanged(e)) => e,
                Ok(Normalized::Converted(e)) => e,
                Ok(Normalized::Dropped) => continue,
                Err(e) => {
                    self.summary.conversion_errors.push(e.to_string());
                    continue;
                }
            };
            self.state.before(&ev);
            // A write that carries a tracer record is seen by rules as the tracer event.
            if let Some(traced) = self.spans.take(&ev, &mut self.state) {
                let tracer = traced.event(ev.num);
                if !self.ruleset.candidates(tracer.code()).is_empty() {
                    self.summary.evaluated += 1;
                    let view = traced.view(ev.num, &mut self.state, self.needs);
                    self.batch.push(&tracer, None, view, &self.state.tables);
                }
            } else if !self.ruleset.candidates(ev.code()).is_empty() {
                self.summary.evaluated += 1;
                self.batch.push_viewed(&ev, None, &mut self.state, self.needs);
            }
            if self.batch.len() >= BATCH {
                ship(&mut self.batch);
            }
            (self.observer)(Observed::Event(&ev, &mut self.state));
            self.state.after(&ev);
        }
    }
}

/// Blocks decoded ahead of the tracker, at most.
const AHEAD: usize = 8;

/// Batches waiting for an evaluator before the tracker evaluates one itself.
const QUEUED: usize = 4;

/// What the tracker and the evaluators share.
struct Queue<T> {
    /// The next block no one has started decoding.
    next_decode: usize,
    /// The block the tracker wants next.
    wanted: usize,
    decoded: std::collections::BTreeMap<usize, Decoded>,
    batches: std::collections::VecDeque<Batch>,
    /// The tracker is done: evaluators finish the queue and leave.
    done: bool,
    lines: Vec<Line<T>>,
    findings: u64,
    /// Evaluated batches, emptied, back for the tracker to refill (their allocations are
    /// reused).
    spare: Vec<Batch>,
}

struct Shared<T> {
    queue: Mutex<Queue<T>>,
    changed: Condvar,
}

impl<T> Shared<T> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue<T>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps the outputs of an evaluated batch, and the batch for reuse. The batch is emptied
    /// here, so the shared versions it held are let go by whoever evaluated it, not always by
    /// the tracker.
    fn keep(&self, (lines, findings): (Vec<Line<T>>, u64), mut batch: Batch) {
        batch.clear();
        let mut q = self.lock();
        q.lines.extend(lines);
        q.findings += findings;
        if q.spare.len() < 2 * QUEUED {
            q.spare.push(batch);
        }
    }
}

/// An evaluator: decodes blocks ahead of the tracker when it may need them soon, else
/// evaluates batches, until the tracker is done and the queue is empty.
fn evaluator<T>(capture: &Capture, shared: &Shared<T>, evaluation: &Evaluation<'_, T>) {
    let blocks = capture.blocks();
    let mut q = shared.lock();
    loop {
        if q.next_decode < blocks.len() && q.next_decode < q.wanted + AHEAD && !q.done {
            let i = q.next_decode;
            q.next_decode += 1;
            drop(q);
            let d = decode(capture, &blocks[i]);
            q = shared.lock();
            q.decoded.insert(i, d);
            shared.changed.notify_all();
        } else if let Some(batch) = q.batches.pop_front() {
            drop(q);
            shared.keep(evaluation.run(&batch), batch);
            q = shared.lock();
        } else if q.done {
            return;
        } else {
            q = shared.changed.wait(q).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// What the views of replay's events hold: the thread, its ancestors, the event's fd and the
/// spans open around it always (most rule sets read them); the standard fds only for rules
/// that read them (three lookups an event otherwise wasted).
fn needs(ruleset: &Ruleset) -> Needs {
    let mut stdio = false;
    let mut visit = |id: u32| stdio |= crate::fields::needs(id).stdio;
    for rule in ruleset.enabled() {
        rule.filter.each_field(&mut |f| visit(f.spec.id));
        for piece in &rule.output {
            if let dredge_rules::output::Piece::Field { spec, .. } = piece {
                visit(spec.id);
            }
        }
    }
    Needs { stdio, ..Needs::ALL }
}

/// Replays `capture` on `threads` threads (see the module doc); returns the output lines in
/// event order and the summary. `progress` hears the number of events tracked so far.
pub fn replay_parallel<T: Send>(
    capture: &Capture,
    ruleset: &Ruleset,
    matching: Matching,
    threads: usize,
    drops: Option<DropPolicy>,
    render: &Render<'_, T>,
    progress: &dyn Fn(u64),
) -> (Vec<Line<T>>, Summary) {
    let how = How { matching, threads, drops };
    replay_observed(capture, ruleset, how, render, progress, &mut |_| {})
}

/// How a replay runs: one finding per event or per rule, on how many threads, and the drop
/// policy, if any.
pub struct How {
    pub matching: Matching,
    pub threads: usize,
    pub drops: Option<DropPolicy>,
}

/// [`replay_parallel`], with `observer` hearing every state block and event on the tracking
/// thread as the state reaches it: a view over a whole capture (`dredge tree`) follows the
/// state and gets the findings in the same pass.
pub fn replay_observed<'a, T: Send>(
    capture: &Capture,
    ruleset: &Ruleset,
    how: How,
    render: &Render<'_, T>,
    progress: &dyn Fn(u64),
    observer: &'a mut Observer<'a>,
) -> (Vec<Line<T>>, Summary) {
    let How { matching, threads, drops } = how;
    let threads = threads.max(1);
    let monitor = drops.map(|p| DropMonitor::new(p, crate::drops::records(capture)));
    let mut tracker = Tracker {
        ruleset,
        needs: needs(ruleset),
        state: State::with_hostname(&capture.metadata().hostname),
        normalizer: Normalizer::new(),
        spans: SpanState::default(),
        monitor,
        summary: Summary::default(),
        batch: Batch::default(),
        lines: Vec::new(),
        stopped: false,
        observer,
    };
    let evaluation = Evaluation { ruleset, matching, render };
    let shared = Shared {
        queue: Mutex::new(Queue {
            next_decode: 0,
            wanted: 0,
            decoded: Default::default(),
            batches: Default::default(),
            done: false,
            lines: Vec::new(),
            findings: 0,
            spare: Vec::new(),
        }),
        changed: Condvar::new(),
    };
    let blocks = capture.blocks();

    std::thread::scope(|s| {
        for _ in 1..threads {
            s.spawn(|| evaluator(capture, &shared, &evaluation));
        }
        // Hands a batch to the evaluators; when they are behind (or there are none), the
        // tracker evaluates the oldest batch itself.
        let mut ship = |batch: &mut Batch| {
            let behind = {
                let mut q = shared.lock();
                let next = q.spare.pop().unwrap_or_default();
                q.batches.push_back(std::mem::replace(batch, next));
                shared.changed.notify_one();
                if threads == 1 || q.batches.len() > QUEUED { q.batches.pop_front() } else { None }
            };
            if let Some(b) = behind {
                shared.keep(evaluation.run(&b), b);
            }
        };
        for (i, entry) in blocks.iter().enumerate() {
            if tracker.stopped {
                break;
            }
            // The block: decoded by an evaluator, or by the tracker when no one has started it.
            let decoded = {
                let mut q = shared.lock();
                q.wanted = i;
                shared.changed.notify_all();
                loop {
                    if let Some(d) = q.decoded.remove(&i) {
                        break d;
                    }
                    if q.next_decode <= i {
                        q.next_decode = i + 1;
                        drop(q);
                        break decode(capture, entry);
                    }
                    // Block i is being decoded elsewhere: rather than wait, decode one the
                    // tracker will want soon (a run of state blocks keeps every core busy).
                    let j = q.next_decode;
                    if j < blocks.len() && j < i + AHEAD {
                        q.next_decode += 1;
                        drop(q);
                        let d = decode(capture, &blocks[j]);
                        q = shared.lock();
                        q.decoded.insert(j, d);
                        continue;
                    }
                    q = shared.changed.wait(q).unwrap_or_else(|e| e.into_inner());
                }
            };
            match decoded {
                Decoded::State(Ok(state)) => {
                    // Events before the block see the tables as they were.
                    if !tracker.batch.is_empty() {
                        ship(&mut tracker.batch);
                    }
                    tracker.state.apply_prepared(state);
                    (tracker.observer)(Observed::State(&mut tracker.state));
                }
                Decoded::Events(Ok(block)) => tracker.events(&block, render, &mut ship),
                Decoded::State(Err(e)) | Decoded::Events(Err(e)) => {
                    tracker.summary.damaged_blocks.push(e)
                }
                Decoded::Nothing => {}
            }
            progress(tracker.summary.events);
        }
        ship(&mut tracker.batch);
        // What is still queued is evaluated by everyone, the tracker included.
        loop {
            let next = {
                let mut q = shared.lock();
                q.done = true;
                shared.changed.notify_all();
                q.batches.pop_front()
            };
            match next {
                Some(b) => shared.keep(evaluation.run(&b), b),
                None => break,
            }
        }
    });

    let queue = shared.queue.into_inner().unwrap_or_else(|e| e.into_inner());
    let (mut lines, findings) = (queue.lines, queue.findings);
    lines.append(&mut tracker.lines);
    lines.sort_by_key(|l| (l.event, l.kind, l.rule));
    // A stopping drop action ends the output there, whatever was found after it.
    if let Some(stop) = lines.iter().find(|l| l.stop).map(|l| (l.event, l.kind)) {
        lines.retain(|l| (l.event, l.kind) <= stop);
    }
    let mut summary = tracker.summary;
    summary.findings = findings;
    if let Some(m) = &tracker.monitor {
        summary.drop_occurrences = m.occurrences;
        summary.drop_actions = m.actions_taken;
    }
    (lines, summary)
}

/// A block, decoded.
enum Decoded {
    Events(Result<EventBlock, String>),
    /// A state block, made ready for the tables by whoever decoded it.
    State(Result<Prepared, String>),
    /// Neither events nor state (header, footer, signature).
    Nothing,
}

fn decode(capture: &Capture, entry: &IndexEntry) -> Decoded {
    if entry.header.kind == BlockKind::Events {
        return Decoded::Events(capture.decode_events(entry).map_err(|e| e.to_string()));
    }
    match capture.decode_state(entry) {
        Some(s) => Decoded::State(s.map(|s| Prepared::from(&s)).map_err(|e| e.to_string())),
        None => Decoded::Nothing,
    }
}
