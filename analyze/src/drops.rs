//! Watching for lost events while replaying, as Falco's `syscall_event_drops` does.
//!
//! Once a second of capture time the monitor compares the events lost in that second (the
//! capture's drop records) with the events seen; above the threshold it is an *occurrence*,
//! and the configured actions run, at most as often as a token bucket allows (`rate` tokens a
//! second, up to `max_burst`), refilled on capture time so a replay gives the same result
//! every time. `simulate_drops` counts every second as an occurrence, as Falco's test switch
//! does.

use dredge_format::reader::Capture;
use dredge_format::state::DropRecord;

/// Every drop record of a capture's state blocks.
pub fn records(capture: &Capture) -> Vec<DropRecord> {
    capture
        .blocks()
        .iter()
        .filter(|e| e.header.kind == dredge_format::BlockKind::Drops)
        .filter_map(|e| match capture.decode_state(e) {
            Some(Ok(dredge_format::State::Drops(d))) => Some(d),
            _ => None,
        })
        .flatten()
        .collect()
}

/// What to do about an occurrence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropAction {
    Ignore,
    Log,
    Alert,
    Exit,
}

/// Falco's `syscall_event_drops` settings.
#[derive(Debug, Clone, PartialEq)]
pub struct DropPolicy {
    pub actions: Vec<DropAction>,
    pub threshold: f64,
    pub simulate: bool,
    pub rate: f64,
    pub max_burst: f64,
}

impl Default for DropPolicy {
    fn default() -> Self {
        DropPolicy {
            actions: vec![DropAction::Log, DropAction::Alert],
            threshold: 0.1,
            simulate: false,
            rate: 0.03333,
            max_burst: 1.0,
        }
    }
}

impl DropPolicy {
    /// Checks the settings as Falco does; the message is Falco's.
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.threshold) {
            return Err("syscall event drops threshold must be a double in the range [0, 1]".into());
        }
        let ignore = self.actions.contains(&DropAction::Ignore);
        for (a, name) in
            [(DropAction::Log, "log"), (DropAction::Alert, "alert"), (DropAction::Exit, "exit")]
        {
            if ignore && self.actions.contains(&a) {
                return Err(format!(
                    "syscall event drop action \"{name}\" does not make sense with the \"ignore\" \
                    action"
                ));
            }
        }
        Ok(())
    }
}

/// One second in which too many events were lost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DropOccurrence {
    /// Capture time of the check (ns since the epoch).
    pub ts: u64,
    /// Number of the event at which the check ran (set by replay).
    pub event: u64,
    pub dropped: u64,
    pub events: u64,
    /// True when the token bucket allowed the actions to run.
    pub act: bool,
}

/// Follows capture time and reports occurrences.
#[derive(Debug)]
pub struct DropMonitor {
    policy: DropPolicy,
    records: Vec<DropRecord>,
    window_start: Option<u64>,
    /// The first check only takes the baseline, as Falco's does.
    baseline: bool,
    events: u64,
    tokens: f64,
    refilled: u64,
    pub occurrences: u64,
    pub actions_taken: u64,
}

const SECOND: u64 = 1_000_000_000;

impl DropMonitor {
    pub fn new(policy: DropPolicy, records: Vec<DropRecord>) -> DropMonitor {
        let tokens = policy.max_burst;
        DropMonitor {
            policy,
            records,
            window_start: None,
            baseline: false,
            events: 0,
            tokens,
            refilled: 0,
            occurrences: 0,
            actions_taken: 0,
        }
    }

    pub fn policy(&self) -> &DropPolicy {
        &self.policy
    }

    fn take_token(&mut self, now: u64) -> bool {
        if self.refilled == 0 {
            self.refilled = now;
        }
        let elapsed = now.saturating_sub(self.refilled) as f64 / SECOND as f64;
        self.tokens = (self.tokens + elapsed * self.policy.rate).min(self.policy.max_burst);
        self.refilled = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Feeds one event's time; returns an occurrence when a second ends badly.
    pub fn on_event(&mut self, ts: u64) -> Option<DropOccurrence> {
        let start = *self.window_start.get_or_insert(ts);
        self.events += 1;
        if ts < start + SECOND {
            return None;
        }
        let dropped = if self.policy.simulate {
            1
        } else {
            self.records.iter().filter(|d| d.to_ts > start && d.from_ts <= ts).map(|d| d.lost).sum()
        };
        let events = std::mem::take(&mut self.events);
        self.window_start = Some(ts);
        if !std::mem::replace(&mut self.baseline, true) {
            return None;
        }
        let ratio = dropped as f64 / (events + dropped).max(1) as f64;
        let hit = self.policy.simulate || (dropped > 0 && ratio > self.policy.threshold);
        if !hit {
            return None;
        }
        self.occurrences += 1;
        // Falco counts `ignore` as an action taken too.
        let act = self.take_token(ts);
        if act {
            self.actions_taken += 1;
        }
        Some(DropOccurrence { ts, event: 0, dropped, events, act })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulated_drops_hit_every_second_within_the_burst() {
        let policy = DropPolicy { simulate: true, max_burst: 10.0, ..DropPolicy::default() };
        let mut m = DropMonitor::new(policy, Vec::new());
        let mut hits = 0;
        for i in 0..=1000u64 {
            if m.on_event(i * 10_000_000).is_some() {
                hits += 1;
            }
        }
        assert_eq!((hits, m.occurrences, m.actions_taken), (9, 9, 9));
    }

    #[test]
    fn recorded_drops_above_the_threshold() {
        let drops =
            vec![DropRecord { cpu: 0, from_ts: 1_500_000_000, to_ts: 1_600_000_000, lost: 50 }];
        let mut m = DropMonitor::new(DropPolicy::default(), drops);
        let hits: Vec<_> = (0..300u64).filter_map(|i| m.on_event(i * 10_000_000)).collect();
        // The drop falls in the second check's window (1.0 s to 2.0 s).
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].dropped, 50);
    }

    #[test]
    fn falcos_setting_errors() {
        let p = DropPolicy { threshold: 1.1, ..DropPolicy::default() };
        assert!(p.validate().unwrap_err().contains("must be a double in the range"));
        let p = DropPolicy {
            actions: vec![DropAction::Ignore, DropAction::Log],
            ..DropPolicy::default()
        };
        assert!(
            p.validate().unwrap_err().contains("\"log\" does not make sense with the \"ignore\"")
        );
    }
}
