//! The normalised event view: old captures seen the way current Falco sees them.
//!
//! Current Falco libs upgrade every event read from a capture to the newest layout before any
//! rule sees it: enter events are kept per thread and dropped, exit events get the parameters
//! they lacked copied from their enter event or filled with defaults, and retired event codes
//! are mapped to current ones step by step. Rules written for today's Falco rely on that, so
//! replay evaluates this view. The stored events are not touched: this is a view computed while
//! reading, in capture order. The rules are data (`table/convert.tbl`, explained in
//! `table/CONVERT.md`).
//!
//! Events that need no change come back as they are, borrowed; converted ones are built in
//! buffers the [`Normalizer`] reuses, so the common path allocates nothing.

use std::sync::LazyLock;

use rustc_hash::FxHashMap;

use crate::event::{Event, EventHeader, Params};
use crate::table::{Direction, flag, table};

/// Where one parameter of an upgraded event comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    /// Parameter `i` of the event being upgraded.
    Old(usize),
    /// Parameter `i` of the enter event stored for the thread, else the fallback.
    Enter(usize, Vec<u8>),
    /// These bytes (empty: "not collected").
    Value(Vec<u8>),
    /// The JSON text of an old `container` event, else the fallback.
    ContainerJson(Vec<u8>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Store,
    Pass,
    StorePass,
    Append,
    Retype,
}

#[derive(Debug, Clone)]
struct Rule {
    action: Action,
    dst: u16,
    targets: Vec<Source>,
    /// [`max_len`] of each target parameter.
    limits: Vec<usize>,
}

/// The upgrade rules, by event code and then by parameter count (dense: looked up per event).
struct Rules(Vec<Vec<Option<Rule>>>);

impl Rules {
    fn get(&self, code: u16, nparams: usize) -> Option<&Rule> {
        self.0.get(usize::from(code))?.get(nparams)?.as_ref()
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.0.iter().flatten().flatten().count()
    }
}

static RULES: LazyLock<Rules> = LazyLock::new(|| {
    #[allow(clippy::expect_used, reason = "compiled-in data, checked by a unit test")]
    Rules::parse(include_str!("table/convert.tbl")).expect("the built-in conversion table parses")
});

fn hex(s: &str) -> Option<Vec<u8>> {
    if s == "-" {
        return Some(Vec::new());
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
        .collect()
}

fn fallback(s: &str) -> Option<Vec<u8>> {
    match s {
        "empty" => Some(Vec::new()),
        _ => hex(s.strip_prefix("default:")?),
    }
}

fn source(token: &str) -> Option<Source> {
    let (_, src) = token.split_once('=')?;
    if let Some(i) = src.strip_prefix("old:") {
        return Some(Source::Old(i.parse().ok()?));
    }
    if let Some(rest) = src.strip_prefix("enter:") {
        let (i, fb) = rest.split_once('|')?;
        return Some(Source::Enter(i.parse().ok()?, fallback(fb)?));
    }
    if let Some(rest) = src.strip_prefix("callback:container_json|") {
        return Some(Source::ContainerJson(fallback(rest)?));
    }
    if src == "empty" {
        return Some(Source::Value(Vec::new()));
    }
    Some(Source::Value(hex(src.strip_prefix("default:")?)?))
}

impl Rules {
    fn parse(text: &str) -> Result<Rules, String> {
        let mut rules: Vec<Vec<Option<Rule>>> = Vec::new();
        for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.starts_with('#')) {
            let bad = || format!("convert.tbl line {}: {line}", n + 1);
            let cols: Vec<&str> = line.split(' ').collect();
            if cols.len() < 5 {
                return Err(bad());
            }
            let src: u16 = cols[0].parse().map_err(|_| bad())?;
            let nparams: u8 = cols[2].parse().map_err(|_| bad())?;
            let action = match cols[3] {
                "store" => Action::Store,
                "pass" => Action::Pass,
                "store+pass" => Action::StorePass,
                "append" => Action::Append,
                "retype" => Action::Retype,
                _ => return Err(bad()),
            };
            let dst = cols[4].parse().map_err(|_| bad())?;
            let targets = cols[5..].iter().map(|t| source(t)).collect::<Option<Vec<_>>>();
            let targets = targets.ok_or_else(bad)?;
            let by_count = {
                if rules.len() <= usize::from(src) {
                    rules.resize(usize::from(src) + 1, Vec::new());
                }
                &mut rules[usize::from(src)]
            };
            if by_count.len() <= usize::from(nparams) {
                by_count.resize(usize::from(nparams) + 1, None);
            }
            let limits = (0..targets.len()).map(|i| max_len(dst, i)).collect();
            by_count[usize::from(nparams)] = Some(Rule { action, dst, targets, limits });
        }
        Ok(Rules(rules))
    }
}

/// Why an event could not be upgraded (Falco stops reading the capture at such an event;
/// replay reports it and goes on with the event as recorded).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event {num} ({name}, {nparams} parameters): {what}")]
pub struct ConvertError {
    pub num: u64,
    pub name: &'static str,
    pub nparams: usize,
    pub what: &'static str,
}

/// The result of normalising one event.
#[derive(Debug, Clone, Copy)]
pub enum Normalized<'e, 'n> {
    /// Already in the current layout: the event as recorded.
    Unchanged(Event<'e>),
    /// Upgraded; valid until the next call.
    Converted(Event<'n>),
    /// Not seen by rules (an enter event kept for its exit, or a retired event).
    Dropped,
}

/// One event under construction: code and parameters in one buffer.
#[derive(Debug, Default, Clone)]
struct Scratch {
    /// Event code; [`NONE`] for a slot of the enter store with nothing in it.
    code: u16,
    data: Vec<u8>,
    ends: Vec<u32>,
}

impl Scratch {
    fn load(&mut self, code: u16, params: impl Iterator<Item = impl AsRef<[u8]>>) {
        self.code = code;
        self.data.clear();
        self.ends.clear();
        for p in params {
            self.push(p.as_ref());
        }
    }

    fn push(&mut self, p: &[u8]) {
        self.data.extend_from_slice(p);
        self.ends.push(self.data.len() as u32);
    }

    fn param(&self, i: usize) -> Option<&[u8]> {
        let end = *self.ends.get(i)? as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        self.data.get(start..end)
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    /// Makes this a copy of `other`, reusing its buffers.
    fn copy_from(&mut self, other: &Scratch) {
        self.code = other.code;
        self.data.clear();
        self.data.extend_from_slice(&other.data);
        self.ends.clear();
        self.ends.extend_from_slice(&other.ends);
    }
}

/// The code of an empty slot in the enter store (no event has it).
const NONE: u16 = u16::MAX;

enum Check {
    Deliver,
    Drop,
    Convert,
}

/// What the event table says of one code, as [`check`] needs it (computed once per code).
#[derive(Debug, Clone, Copy)]
struct CodeFacts {
    known: bool,
    unused: bool,
    old: bool,
    managed: bool,
    enter: bool,
    nparams: usize,
}

fn facts(code: u16) -> CodeFacts {
    static FACTS: LazyLock<Vec<CodeFacts>> = LazyLock::new(|| {
        table()
            .iter()
            .map(|info| CodeFacts {
                known: true,
                unused: info.has_flag(flag::UNUSED),
                old: info.has_flag(flag::OLD_VERSION),
                managed: info.has_flag(flag::CONVERTER_MANAGED),
                enter: info.direction == Direction::Enter,
                nparams: info.params.len(),
            })
            .collect()
    });
    let unknown = CodeFacts {
        known: false,
        unused: false,
        old: false,
        managed: false,
        enter: false,
        nparams: 0,
    };
    FACTS.get(usize::from(code)).copied().unwrap_or(unknown)
}

fn check(code: u16, nparams: usize) -> Result<Check, &'static str> {
    let f = facts(code);
    if !f.known {
        return Ok(Check::Deliver);
    }
    if f.unused {
        return Ok(Check::Drop);
    }
    if !f.managed {
        return match (f.old, f.enter) {
            (false, _) => Ok(Check::Deliver),
            (true, true) => Ok(Check::Drop),
            (true, false) => Err("a retired exit event with no upgrade"),
        };
    }
    if f.enter {
        return Ok(Check::Convert);
    }
    if nparams > f.nparams {
        return Err("more parameters than the event table lists");
    }
    Ok(if f.old || nparams < f.nparams { Check::Convert } else { Check::Deliver })
}

/// Longest value a parameter of the target may hold: its width, or the length field's limit.
fn max_len(code: u16, i: usize) -> usize {
    let info = table().get(code);
    let large = info.is_some_and(|e| e.has_flag(flag::LARGE_PAYLOAD));
    let fixed = info.and_then(|e| e.params.get(i)).and_then(|p| p.kind.fixed_size());
    fixed.unwrap_or(if large { u32::MAX as usize } else { usize::from(u16::MAX) })
}

/// Upgrades events in capture order. Keep one per capture (it remembers enter events).
///
/// The enter store keeps one slot per thread, emptied (not freed) when its exit uses it, so a
/// warm normaliser allocates nothing.
#[derive(Debug, Default)]
pub struct Normalizer {
    stored: FxHashMap<i64, Scratch>,
    current: Scratch,
    next: Scratch,
    header: EventHeader,
}

const MAX_STEPS: usize = 50;

impl Normalizer {
    pub fn new() -> Normalizer {
        Normalizer::default()
    }

    /// Normalises the next event of the capture.
    pub fn push<'e>(&mut self, ev: &Event<'e>) -> Result<Normalized<'e, '_>, ConvertError> {
        let fail =
            |what| ConvertError { num: ev.num, name: ev.name(), nparams: ev.params.len(), what };
        match check(ev.header.code, ev.params.len()).map_err(fail)? {
            Check::Deliver => return Ok(Normalized::Unchanged(*ev)),
            Check::Drop => return Ok(Normalized::Dropped),
            Check::Convert => {}
        }
        self.header = ev.header;
        self.current.load(ev.header.code, ev.params.iter());
        let mut changed = false;
        for _ in 0..MAX_STEPS {
            let rule = RULES
                .get(self.current.code, self.current.len())
                .ok_or_else(|| fail("no upgrade rule for this layout"))?;
            match rule.action {
                Action::Store => {
                    let slot = self.stored.entry(self.header.tid).or_default();
                    std::mem::swap(slot, &mut self.current);
                    return Ok(Normalized::Dropped);
                }
                Action::Pass | Action::StorePass => {
                    if rule.action == Action::StorePass {
                        self.stored.entry(self.header.tid).or_default().copy_from(&self.current);
                    }
                    return Ok(if changed {
                        self.converted(ev.num)
                    } else {
                        Normalized::Unchanged(*ev)
                    });
                }
                Action::Append | Action::Retype => {
                    self.build(rule).map_err(fail)?;
                    std::mem::swap(&mut self.current, &mut self.next);
                    changed = true;
                    match check(self.current.code, self.current.len()).map_err(fail)? {
                        Check::Deliver => return Ok(self.converted(ev.num)),
                        Check::Drop => return Ok(Normalized::Dropped),
                        Check::Convert => {}
                    }
                }
            }
        }
        Err(fail("upgrade did not finish in 50 steps"))
    }

    fn converted(&mut self, num: u64) -> Normalized<'static, '_> {
        self.header.code = self.current.code;
        let params = Params::new(0, &self.current.ends, &self.current.data);
        Normalized::Converted(Event { num, header: self.header, params })
    }

    /// Builds the next step's event into `self.next` from `self.current` and the stored enter.
    fn build(&mut self, rule: &Rule) -> Result<(), &'static str> {
        let (cur, next) = (&self.current, &mut self.next);
        next.code = rule.dst;
        next.data.clear();
        next.ends.clear();
        // The enter event kept for this thread, if it is this exit's.
        let enter = match self.stored.get_mut(&self.header.tid) {
            Some(e) if e.code == NONE => None,
            Some(e) if e.code.wrapping_add(1) != cur.code => {
                let wants_enter = rule.targets.iter().any(|t| matches!(t, Source::Enter(..)));
                if wants_enter {
                    return Err("the enter event kept for this thread is not this exit's");
                }
                None
            }
            other => other,
        };
        let mut used_enter = false;
        for (i, target) in rule.targets.iter().enumerate() {
            let limit = rule.limits[i];
            let keep_whole = rule.action == Action::Append && i < cur.len();
            match target {
                Source::Old(j) => {
                    let p = cur.param(*j).ok_or("a rule copies a parameter the event lacks")?;
                    next.push(if keep_whole { p } else { &p[..p.len().min(limit)] });
                }
                Source::Enter(j, fallback) => match enter.as_deref() {
                    None => next.push(fallback),
                    Some(e) => {
                        let p = e.param(*j).ok_or("the kept enter event lacks a parameter")?;
                        next.push(&p[..p.len().min(limit)]);
                        used_enter = true;
                    }
                },
                Source::Value(bytes) => next.push(bytes),
                Source::ContainerJson(fallback) => match container_json(cur) {
                    Some(json) if json.len() <= usize::from(u16::MAX) => next.push(&json),
                    Some(_) => return Err("container description too long"),
                    None => next.push(fallback),
                },
            }
        }
        if used_enter && let Some(slot) = enter {
            slot.code = NONE;
        }
        Ok(())
    }
}

/// The JSON that replaced the oldest `container` event's four parameters: each string's last
/// byte (its NUL) dropped, nothing escaped, as libs writes it.
fn container_json(ev: &Scratch) -> Option<Vec<u8>> {
    let text = |i: usize| {
        let p = ev.param(i).filter(|p| !p.is_empty())?;
        Some(String::from_utf8_lossy(&p[..p.len() - 1]).into_owned())
    };
    let kind = ev.param(1).filter(|p| !p.is_empty() && p.len() <= 4)?;
    let mut b = [0u8; 4];
    b[..kind.len()].copy_from_slice(kind);
    let (id, name, image) = (text(0)?, text(2)?, text(3)?);
    let kind = u32::from_le_bytes(b);
    let mut out =
        format!(r#"{{"id":"{id}","type":{kind},"name":"{name}","image":"{image}"}}"#).into_bytes();
    out.push(0);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event<'a>(num: u64, tid: i64, code: u16, ends: &'a [u32], data: &'a [u8]) -> Event<'a> {
        Event {
            num,
            header: EventHeader { ts: num, tid, cpu: 0, code, flags: 0 },
            params: Params::new(0, ends, data),
        }
    }

    fn params(ev: &Event<'_>) -> Vec<Vec<u8>> {
        ev.params.iter().map(<[u8]>::to_vec).collect()
    }

    #[test]
    fn builtin_rules_parse() {
        assert!(RULES.len() > 250);
    }

    #[test]
    fn old_read_exit_takes_fd_and_size_from_its_enter() {
        let mut n = Normalizer::new();
        let enter_data = [3i64.to_le_bytes().as_slice(), &4096u32.to_le_bytes()].concat();
        let enter = event(1, 100, 6, &[8, 12], &enter_data);
        assert!(matches!(n.push(&enter).unwrap(), Normalized::Dropped));
        let exit_data = [5i64.to_le_bytes().as_slice(), b"hello"].concat();
        let exit = event(2, 100, 7, &[8, 13], &exit_data);
        let Normalized::Converted(out) = n.push(&exit).unwrap() else { panic!("not converted") };
        assert_eq!(out.header.code, 7);
        let want: Vec<Vec<u8>> = vec![
            5i64.to_le_bytes().to_vec(),
            b"hello".to_vec(),
            3i64.to_le_bytes().to_vec(),
            4096u32.to_le_bytes().to_vec(),
        ];
        assert_eq!(params(&out), want);

        // The kept enter was used up: the next exit gets defaults.
        let Normalized::Converted(out) = n.push(&exit).unwrap() else { panic!("not converted") };
        assert_eq!(params(&out)[2], vec![0u8; 8]);
        assert_eq!(params(&out)[3], vec![0u8; 4]);
    }

    #[test]
    fn a_stale_enter_is_an_error() {
        let mut n = Normalizer::new();
        let fd = 3i64.to_le_bytes();
        n.push(&event(1, 7, 4, &[8], &fd)).unwrap(); // close > kept
        let res = 0i64.to_le_bytes();
        let err = n.push(&event(2, 7, 7, &[8, 8], &[res, res].concat())).unwrap_err();
        assert_eq!(err.num, 2);
    }

    #[test]
    fn current_events_pass_unchanged() {
        let mut n = Normalizer::new();
        let data = [3i64.to_le_bytes(), 0i64.to_le_bytes()].concat();
        let close = event(1, 1, 5, &[8, 16], &data);
        assert!(matches!(n.push(&close).unwrap(), Normalized::Unchanged(_)));
    }

    #[test]
    fn the_oldest_execve_becomes_the_current_one() {
        let mut n = Normalizer::new();
        // The enter is upgraded to the current execve enter, kept, and still delivered.
        let Normalized::Converted(enter) = n.push(&event(1, 9, 12, &[], &[])).unwrap() else {
            panic!("not converted")
        };
        assert_eq!((enter.header.code, enter.params.len()), (292, 1));
        // Exit of the 2014 layout: 8 parameters.
        let mut data = Vec::new();
        let mut ends = Vec::new();
        for p in [
            0i64.to_le_bytes().to_vec(),
            b"/bin/ls\0".to_vec(),
            b"-l\0".to_vec(),
            9i64.to_le_bytes().to_vec(),
            9i64.to_le_bytes().to_vec(),
            1i64.to_le_bytes().to_vec(),
            b"/\0".to_vec(),
            1024u64.to_le_bytes().to_vec(),
        ] {
            data.extend_from_slice(&p);
            ends.push(data.len() as u32);
        }
        let Normalized::Converted(out) = n.push(&event(2, 9, 13, &ends, &data)).unwrap() else {
            panic!("not converted")
        };
        assert_eq!(out.header.code, 293);
        assert_eq!(out.params.len(), table().get(293).unwrap().params.len());
        assert_eq!(out.params.raw(1), Some(&b"/bin/ls\0"[..]));
    }
}
