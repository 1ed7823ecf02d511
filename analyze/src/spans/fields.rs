//! The `span.*` fields of a tracer event, from its [`SpanInfo`].
//!
//! They behave as sysdig's did (the reference is sysdig 0.29.3's output on the captures in
//! `tracer-fixtures`), except where sysdig was plainly wrong:
//!
//! - `span.time` is the time of the span's enter on both its enter and its exit (as sysdig
//!   documented it; sysdig showed the exit's own time on an exit);
//! - `span.rawparenttime` of a span with no tags has no value (sysdig gave the span's own enter
//!   time, as if it were its own parent).
//!
//! The `evtin.span.*` fields are those of the spans open around an event: opened by its thread
//! (`evtin.span.*`), its process (`.p`), its process's parent (`.s`: the events of the children
//! of whatever opened the span), or anyone (`.m`). A tracer event is inside the spans open just
//! before it: an exit in its own span too, an enter not in the one it opens. With several spans
//! around, a filter matches when any does, and an output shows them all, innermost first (sysdig
//! showed the innermost). Unlike sysdig, `.p` means the process (sysdig compared threads), and
//! an enter tracer is inside the spans already open around it in every scope (sysdig left
//! enters out of all but `.m`).
//!
//! Fields that need the span's enter (`nargs`, `args`, `enterargs`, `time`, `rawtime`,
//! `idtag`, `duration`) have no value on an exit that had none, as in sysdig. `span.nargs` is
//! the enter's count of arguments, on the exit too.

use std::borrow::Cow;

use dredge_format::time::Utc;
use dredge_rules::eval::{Extracted, Val};

use super::tracer::{Dir, Packed};
use super::track::{OpenSpan, SpanInfo};

/// The span fields, by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanField {
    Id,
    Time,
    Ntags,
    Nargs,
    Tags,
    Tag,
    Args,
    Arg,
    EnterArgs,
    EnterArg,
    Duration,
    DurationHuman,
    DurationQuantized,
    DurationForTag,
    Count,
    CountForTag,
    ChildCountForTag,
    IdTag,
    RawTime,
    RawParentTime,
}

/// Every span field by catalogue name.
pub const SPAN_FIELDS: &[(&str, SpanField)] = &[
    ("span.id", SpanField::Id),
    ("span.time", SpanField::Time),
    ("span.ntags", SpanField::Ntags),
    ("span.nargs", SpanField::Nargs),
    ("span.tags", SpanField::Tags),
    ("span.tag", SpanField::Tag),
    ("span.args", SpanField::Args),
    ("span.arg", SpanField::Arg),
    ("span.enterargs", SpanField::EnterArgs),
    ("span.enterarg", SpanField::EnterArg),
    ("span.duration", SpanField::Duration),
    ("span.duration.human", SpanField::DurationHuman),
    ("span.duration.quantized", SpanField::DurationQuantized),
    ("span.duration.fortag", SpanField::DurationForTag),
    ("span.count", SpanField::Count),
    ("span.count.fortag", SpanField::CountForTag),
    ("span.childcount.fortag", SpanField::ChildCountForTag),
    ("span.idtag", SpanField::IdTag),
    ("span.rawtime", SpanField::RawTime),
    ("span.rawparenttime", SpanField::RawParentTime),
];

fn text(b: impl Into<Vec<u8>>) -> Extracted<'static> {
    Extracted::One(Val::Bytes(Cow::Owned(b.into())))
}

fn borrowed(b: &[u8]) -> Extracted<'_> {
    Extracted::One(Val::Bytes(Cow::Borrowed(b)))
}

fn uint(v: u64) -> Extracted<'static> {
    Extracted::One(Val::Uint(v))
}

/// Item `i` of `items`; a negative index counts from the end.
fn nth<T>(items: impl ExactSizeIterator<Item = T>, i: i64) -> Option<T> {
    let len = items.len() as i64;
    let i = if i < 0 { len + i } else { i };
    if (0..len).contains(&i) { items.into_iter().nth(i as usize) } else { None }
}

/// One argument, by index (`0`, `-1`) or by name.
fn arg<'a>(args: &'a Packed, key: &str) -> Extracted<'a> {
    let pairs = args.iter().pairs();
    let value = match key.parse::<i64>() {
        Ok(i) => nth(pairs.into_iter(), i).map(|(_, v)| v),
        Err(_) => pairs.into_iter().find(|(n, _)| *n == key.as_bytes()).map(|(_, v)| v),
    };
    value.map_or(Extracted::Missing, borrowed)
}

/// A duration as sysdig's `format_time` wrote it: at most three significant digits, in the
/// largest unit that fits.
pub fn human(ns: u64) -> String {
    const US: u64 = 1_000;
    const MS: u64 = 1_000_000;
    const S: u64 = 1_000_000_000;
    match ns {
        n if n >= 3600 * S => {
            format!("{:02}:{:02}:{:02}", n / (3600 * S), n / (60 * S) % 60, n / S % 60)
        }
        n if n >= 60 * S => format!("{}:{:02}", n / (60 * S), n / S % 60),
        n if n >= S => format!("{}.{:02}s", n / S, n % S / (10 * MS)),
        n if n >= 10 * MS => format!("{}ms", n / MS),
        n if n >= MS => format!("{}.{:02}ms", n / MS, n % MS / (10 * US)),
        n if n >= 10 * US => format!("{}us", n / US),
        n if n >= US => format!("{}.{:02}us", n / US, n % US / 10),
        n => format!("{n}ns"),
    }
}

/// The value of span field `field` (argument `arg`) for the tracer event of `span`.
pub fn extract<'a>(field: SpanField, arg: Option<&str>, span: &'a SpanInfo) -> Extracted<'a> {
    let exit = span.dir == Dir::Exit;
    let ntags = span.tags.len() as i64;
    // The tag depth a `fortag[N]` field asks about.
    let fortag = || arg.and_then(|a| a.parse::<i64>().ok()).map(|n| n + 1);
    match field {
        SpanField::Id => Extracted::One(Val::Int(span.id)),
        SpanField::Ntags => uint(ntags as u64),
        SpanField::Tags => text(span.tags.join(b".")),
        SpanField::Tag => {
            let i = arg.and_then(|a| a.parse::<i64>().ok());
            i.and_then(|i| nth(span.tags.iter().collect::<Vec<_>>().into_iter(), i))
                .map_or(Extracted::Missing, borrowed)
        }
        SpanField::Count => uint(u64::from(exit)),
        SpanField::CountForTag => uint(u64::from(exit && fortag() == Some(ntags))),
        SpanField::ChildCountForTag => uint(u64::from(exit && fortag().is_some_and(|d| ntags > d))),
        SpanField::Duration => span.duration.map_or(Extracted::Missing, uint),
        SpanField::DurationHuman => span.duration.map_or(Extracted::Missing, |d| text(human(d))),
        SpanField::DurationQuantized => match span.duration {
            // sysdig scaled the bucket by csysdig's spectrogram width, unset (0) elsewhere.
            Some(d) if d > 0 => uint(1),
            _ => Extracted::Missing,
        },
        SpanField::DurationForTag => match span.duration {
            Some(d) if fortag() == Some(ntags) => uint(d),
            _ => Extracted::Missing,
        },
        SpanField::RawParentTime => match span.parent_enter {
            Some(ts) => text(ts.to_string()),
            None => Extracted::Missing,
        },
        // The rest need the span's enter.
        _ => {
            let Some((enter_ts, enter_args)) = &span.enter else { return Extracted::Missing };
            match field {
                SpanField::Time => {
                    let mut b = [0u8; 18];
                    Utc::from_ns(*enter_ts).time_bytes(&mut b);
                    text(b.to_vec())
                }
                SpanField::RawTime => text(enter_ts.to_string()),
                SpanField::Nargs => uint(enter_args.len() as u64 / 2),
                SpanField::Args => text(span.args.iter().joined_pairs()),
                SpanField::Arg => arg.map_or(Extracted::Missing, |a| self::arg(&span.args, a)),
                SpanField::EnterArgs => text(enter_args.iter().joined_pairs()),
                SpanField::EnterArg => arg.map_or(Extracted::Missing, |a| self::arg(enter_args, a)),
                SpanField::IdTag => {
                    let mut out = span.id.to_string().into_bytes();
                    let i = arg.and_then(|a| a.parse::<i64>().ok()).unwrap_or(0);
                    if let Some(tag) = nth(span.tags.iter().collect::<Vec<_>>().into_iter(), i) {
                        out.extend_from_slice(tag);
                    }
                    text(out)
                }
                _ => Extracted::Missing,
            }
        }
    }
}

/// Whose spans an `evtin.span` field looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Opened by the event's thread.
    Thread,
    /// `.p`: by any thread of its process.
    Process,
    /// `.s`: by its process's parent.
    Children,
    /// `.m`: by anyone.
    Machine,
}

/// What an `evtin.span` field gives of each span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InField {
    Id,
    Ntags,
    Nargs,
    Tags,
    Tag,
    Args,
    Arg,
}

/// The scope and kind of an `evtin.span` field name (`evtin.span.s.tags`), if it is one.
pub fn in_field(name: &str) -> Option<(Scope, InField)> {
    let rest = name.strip_prefix("evtin.span.")?;
    let (scope, rest) = match rest.split_once('.') {
        Some(("p", r)) => (Scope::Process, r),
        Some(("s", r)) => (Scope::Children, r),
        Some(("m", r)) => (Scope::Machine, r),
        _ => (Scope::Thread, rest),
    };
    let field = match rest {
        "id" => InField::Id,
        "ntags" => InField::Ntags,
        "nargs" => InField::Nargs,
        "tags" => InField::Tags,
        "tag" => InField::Tag,
        "args" => InField::Args,
        "arg" => InField::Arg,
        _ => return None,
    };
    Some((scope, field))
}

/// Whose event is asked about: its thread, process and the process's parent.
#[derive(Debug, Clone, Copy)]
pub struct Asker {
    pub tid: i64,
    pub pid: i64,
    pub ppid: i64,
}

/// The value of `evtin.span` field (`scope`, `field`, argument `arg`) for an event of `asker`
/// inside the open spans `inside` (in the order they were opened).
pub fn extract_in<'a>(
    scope: Scope,
    field: InField,
    arg: Option<&str>,
    inside: &'a [OpenSpan],
    asker: Asker,
) -> Extracted<'a> {
    let index = || arg.and_then(|a| a.parse::<i64>().ok());
    let mut values: Vec<Val<'a>> = inside
        .iter()
        .rev()
        .filter(|o| match scope {
            Scope::Thread => o.tid == asker.tid,
            Scope::Process => o.pid == asker.pid,
            Scope::Children => o.pid == asker.ppid,
            Scope::Machine => true,
        })
        .filter_map(|o| {
            Some(match field {
                InField::Id => Val::Int(o.id),
                InField::Ntags => Val::Uint(o.tags.len() as u64),
                InField::Nargs => Val::Uint(o.args.len() as u64 / 2),
                InField::Tags => Val::Bytes(Cow::Owned(o.tags.join(b"."))),
                InField::Tag => {
                    let tags: Vec<&[u8]> = o.tags.iter().collect();
                    Val::Bytes(Cow::Borrowed(nth(tags.into_iter(), index()?)?))
                }
                InField::Args => Val::Bytes(Cow::Owned(o.args.iter().joined_pairs())),
                InField::Arg => match self::arg(&o.args, arg?) {
                    Extracted::One(v) => v,
                    _ => return None,
                },
            })
        })
        .collect();
    if values.len() > 1 {
        Extracted::Many(values)
    } else {
        values.pop().map_or(Extracted::Missing, Extracted::One)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_sysdig_wrote_them() {
        let cases = [
            (999, "999ns"),
            (1_234, "1.23us"),
            (400_000, "400us"),
            (800_000, "800us"),
            (1_200_000, "1.20ms"),
            (1_600_000, "1.60ms"),
            (25_000_000, "25ms"),
            (2_500_000_000, "2.50s"),
            (90_000_000_000, "1:30"),
            (3_723_000_000_000, "01:02:03"),
        ];
        for (ns, want) in cases {
            assert_eq!(human(ns), want, "{ns}");
        }
    }

    #[test]
    fn indexes_count_from_the_end_when_negative() {
        assert_eq!(nth([1, 2, 3].into_iter(), -1), Some(3));
        assert_eq!(nth([1, 2, 3].into_iter(), 0), Some(1));
        assert_eq!(nth([1, 2, 3].into_iter(), 3), None);
        assert_eq!(nth([1, 2, 3].into_iter(), -4), None);
    }
}
