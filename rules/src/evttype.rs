//! Which event types a rule can match, so an event is tested only against rules that can
//! fire on it.
//!
//! Falco's analysis, on the compiled tree: `evt.type` equality and `in` checks give the codes
//! of the named events (every code with that name, enter and exit, old and new, plus the
//! generic syscall codes for syscalls without their own event); `!=` gives the rest; any
//! other check is neutral (all codes); `and` intersects, `or` unites, and `not` is pushed to
//! the leaves (De Morgan) so only `evt.type` leaves are complemented. Checks on `evt.num`
//! that can never hold (`evt.num = 0`) give no codes.
//!
//! Beyond Falco: a check on a call's result (`evt.rawres`, `evt.res`) has no value, and so
//! fails, on an enter event, so it gives the exit codes (and, negated, stays neutral). A rule
//! on `open` that tests the result is then not tested on open's enters at all, with the same
//! findings; old captures have an enter for each exit, and rules are tested on both.

use dredge_format::table::table;

use crate::compile::{Filter, Literal, Test};

/// Event codes the table knows are below this.
pub const MAX_CODE: usize = 512;

/// A set of event codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeSet([u64; MAX_CODE / 64]);

impl CodeSet {
    pub fn empty() -> CodeSet {
        CodeSet([0; MAX_CODE / 64])
    }

    /// Every code the event table knows.
    pub fn all() -> CodeSet {
        let mut s = CodeSet::empty();
        for code in 0..table().len().min(MAX_CODE) {
            s.insert(code as u16);
        }
        s
    }

    pub fn insert(&mut self, code: u16) {
        if usize::from(code) < MAX_CODE {
            self.0[usize::from(code) / 64] |= 1 << (code % 64);
        }
    }

    pub fn contains(&self, code: u16) -> bool {
        usize::from(code) < MAX_CODE && self.0[usize::from(code) / 64] & (1 << (code % 64)) != 0
    }

    pub fn len(&self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn and(self, o: CodeSet) -> CodeSet {
        let mut out = self;
        for (a, b) in out.0.iter_mut().zip(o.0) {
            *a &= b;
        }
        out
    }

    fn or(self, o: CodeSet) -> CodeSet {
        let mut out = self;
        for (a, b) in out.0.iter_mut().zip(o.0) {
            *a |= b;
        }
        out
    }

    fn complement(self) -> CodeSet {
        let all = CodeSet::all();
        let mut out = self;
        for (a, b) in out.0.iter_mut().zip(all.0) {
            *a = !*a & b;
        }
        out
    }

    pub fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        (0..MAX_CODE as u16).filter(|c| self.contains(*c))
    }
}

/// The event codes named `name`: events of that name, or the generic syscall event for a
/// syscall that has none of its own.
pub fn codes_named(name: &[u8]) -> CodeSet {
    let t = table();
    let mut s = CodeSet::empty();
    for e in t.iter() {
        if e.name.as_bytes() == name {
            s.insert(e.code);
        }
    }
    if s.is_empty()
        && (0..t.len() as u16).any(|i| t.syscall_name(i).map(str::as_bytes) == Some(name))
    {
        s.insert(0);
        s.insert(1);
    }
    s
}

/// The codes `filter` can match, by Falco's analysis (what its too-many-types warning
/// counts).
pub fn codes(filter: &Filter) -> CodeSet {
    with_meta(walk(filter, false, false))
}

/// The codes a rule with `filter` is tested on: [`codes`], less the enters when the filter
/// needs a result (see the module doc).
pub fn tested_codes(filter: &Filter) -> CodeSet {
    with_meta(walk(filter, false, true))
}

/// Plugin meta events reach every rule.
fn with_meta(mut s: CodeSet) -> CodeSet {
    s.insert(402);
    s
}

/// `results`: whether checks on a result narrow to the exits.
fn walk(filter: &Filter, negated: bool, results: bool) -> CodeSet {
    match filter {
        Filter::And(items) | Filter::Or(items) => {
            let is_and = matches!(filter, Filter::And(_)) != negated;
            let mut parts = items.iter().map(|f| walk(f, negated, results));
            let first = parts.next().unwrap_or_else(CodeSet::all);
            parts.fold(first, |acc, p| if is_and { acc.and(p) } else { acc.or(p) })
        }
        Filter::Not(inner) => walk(inner, !negated, results),
        Filter::Check(c) => {
            let plain = c.field.arg.is_none() && c.field.transformers.is_empty();
            let leaf = match (&*c.field.name, &c.test) {
                ("evt.type" | "syscall.type", t) if plain => type_leaf(t),
                ("evt.num", t) if never_holds(t) => Some(CodeSet::empty()),
                // Holds on exits only; its negation may hold anywhere.
                ("evt.rawres" | "evt.res", _) if plain && results && !negated => return exits(),
                _ => None,
            };
            match leaf {
                Some(s) if negated => s.complement(),
                Some(s) => s,
                None => CodeSet::all(),
            }
        }
    }
}

/// The codes of exit events: those with a result.
fn exits() -> CodeSet {
    let mut s = CodeSet::empty();
    for e in table().iter().filter(|e| e.direction.symbol() == '<') {
        s.insert(e.code);
    }
    s
}

fn type_leaf(test: &Test) -> Option<CodeSet> {
    match test {
        Test::Eq(Literal::Bytes(name)) => Some(codes_named(name)),
        Test::Ne(Literal::Bytes(name)) => Some(codes_named(name).complement()),
        Test::In(set) => {
            Some(set.bytes.iter().fold(CodeSet::empty(), |acc, n| acc.or(codes_named(n))))
        }
        _ => None,
    }
}

/// `evt.num` starts at 1: these checks can never hold.
fn never_holds(test: &Test) -> bool {
    match test {
        Test::Eq(Literal::Uint(0))
        | Test::Lt(Literal::Uint(0 | 1))
        | Test::Le(Literal::Uint(0)) => true,
        Test::In(set) => set.others.iter().all(|l| *l == Literal::Uint(0)) && set.bytes.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::fields;
    use crate::compile::compile;
    use crate::parse_condition;

    fn set(cond: &str) -> CodeSet {
        codes(&compile(&parse_condition(cond).unwrap(), fields()).unwrap())
    }

    fn tested(cond: &str) -> CodeSet {
        tested_codes(&compile(&parse_condition(cond).unwrap(), fields()).unwrap())
    }

    fn names(s: &CodeSet) -> Vec<&'static str> {
        let mut v: Vec<_> = s.iter().filter(|c| *c != 402).map(|c| table().name(c)).collect();
        v.dedup();
        v
    }

    #[test]
    fn falco_examples() {
        assert_eq!(names(&set("evt.type=openat and not proc.name=nginx")), ["openat"; 1]);
        assert_eq!(set("evt.type=openat or proc.name=nginx"), {
            let mut a = CodeSet::all();
            a.insert(402);
            a
        });
        let not_two = set("not evt.type in (openat, close)");
        assert!(!names(&not_two).contains(&"openat") && names(&not_two).contains(&"read"));
        assert_eq!(names(&set("evt.type=close and evt.type=openat")), Vec::<&str>::new());
        assert!(names(&set("evt.num=0")).is_empty());
        assert_eq!(names(&set("evt.type=madvise")), ["syscall"; 1]);
    }

    #[test]
    fn a_check_on_the_result_keeps_the_exits() {
        let both = tested("evt.type=open");
        let exits = tested("evt.type=open and evt.rawres >= 0");
        let exit_only = |s: &CodeSet| {
            s.iter().all(|c| c == 402 || table().get(c).unwrap().direction.symbol() == '<')
        };
        assert!(exits.iter().count() > 1 && exits.iter().all(|c| both.contains(c)));
        assert!(exit_only(&exits) && !exit_only(&both));
        assert_eq!(tested("evt.type=open and evt.res exists"), exits);
        // Falco's analysis keeps the enters.
        assert_eq!(set("evt.type=open and evt.rawres >= 0"), both);
        // Negated, or beside an `or`, it narrows nothing.
        assert_eq!(tested("evt.type=open and not evt.rawres >= 0"), both);
        assert_eq!(tested("evt.type=open and (evt.rawres >= 0 or proc.name=cat)"), both);
    }
}
