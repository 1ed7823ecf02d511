//! Driving a capture through a ruleset.
//!
//! Blocks are taken in file order: state blocks update the state, event blocks are decoded
//! (ahead, in parallel) and their events normalised to the current layout, applied to the
//! state and tested against the rules that can match their type. Findings come out in event
//! order.

use dredge_format::normalize::{Normalized, Normalizer};
use dredge_format::{BlockKind, Capture, Event};
use dredge_rules::ruleset::Ruleset;

use std::ops::ControlFlow;

use crate::drops::{DropMonitor, DropOccurrence};
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
#[derive(Debug, Default)]
pub struct Summary {
    pub events: u64,
    pub evaluated: u64,
    pub findings: u64,
    /// Events the normaliser could not upgrade (left out of evaluation), with why.
    pub conversion_errors: Vec<String>,
    /// Damaged blocks skipped.
    pub damaged_blocks: Vec<String>,
}

/// Replays `capture`, reporting findings (and, with a monitor, drop occurrences) to
/// `report`; replay stops early when `report` breaks.
pub fn replay(
    capture: &Capture,
    ruleset: &Ruleset,
    matching: Matching,
    mut monitor: Option<&mut DropMonitor>,
    mut report: impl FnMut(Report<'_, '_>) -> ControlFlow<()>,
) -> Summary {
    let mut state = State { hostname: capture.metadata().hostname.clone(), ..State::default() };
    let mut normalizer = Normalizer::new();
    let mut summary = Summary::default();
    for entry in capture.blocks() {
        if entry.header.kind.is_state() {
            match capture.decode_state(entry) {
                Some(Ok(s)) => state.apply_recorded(&s),
                Some(Err(e)) => summary.damaged_blocks.push(e.to_string()),
                None => {}
            }
            continue;
        }
        if entry.header.kind != BlockKind::Events {
            continue;
        }
        let block = match capture.decode_events(entry) {
            Ok(b) => b,
            Err(e) => {
                summary.damaged_blocks.push(e.to_string());
                continue;
            }
        };
        for raw in block.iter() {
            summary.events += 1;
            if let Some(occurrence) = monitor.as_deref_mut().and_then(|m| m.on_event(raw.ts())) {
                if report(Report::Drop(occurrence)).is_break() {
                    return summary;
                }
            }
            let ev = match normalizer.push(&raw) {
                Ok(Normalized::Unchanged(e)) => e,
                Ok(Normalized::Converted(e)) => e,
                Ok(Normalized::Dropped) => continue,
                Err(e) => {
                    summary.conversion_errors.push(e.to_string());
                    continue;
                }
            };
            summary.evaluated += 1;
            state.before(&ev);
            {
                let fields = EventFields { event: &ev, state: &state };
                for &i in ruleset.candidates(ev.code()) {
                    let rule = &ruleset.rules[i as usize];
                    if dredge_rules::eval::eval(&rule.filter, &fields) {
                        summary.findings += 1;
                        let r = Report::Finding { rule: i as usize, event: &ev, fields: &fields };
                        if report(r).is_break() {
                            return summary;
                        }
                        if matching == Matching::First {
                            break;
                        }
                    }
                }
            }
            state.after(&ev);
        }
    }
    summary
}
