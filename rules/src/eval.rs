//! Evaluating compiled filters against one event.
//!
//! Field values come through the [`Fields`] trait, which replay implements over the event and
//! the reconstructed state (and tests implement over small in-memory events), so the engine
//! knows nothing of captures. A check whose field cannot be extracted is false for every
//! operator but `exists` (Falco's rule; `not` of it is then true). Values borrow from the
//! event where they can; nothing is allocated on the common path.

use std::borrow::Cow;
use std::net::IpAddr;

use crate::ast::{Modifier, Operator, TransformerKind};
use crate::compile::{Check, Composite, FieldRef, Filter, Literal, Part, Test};

/// One extracted value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Val<'a> {
    Int(i64),
    Uint(u64),
    Bool(bool),
    Bytes(Cow<'a, [u8]>),
    Ip(IpAddr),
}

/// The values of a field for an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Extracted<'a> {
    /// The field has no value for this event.
    Missing,
    One(Val<'a>),
    /// List fields, and un-indexed ancestor fields.
    Many(Vec<Val<'a>>),
}

/// Where field values come from.
pub trait Fields {
    fn extract(&self, field: &FieldRef) -> Extracted<'_>;

    /// Appends the field's text for an output straight to `out`, for fields whose value would
    /// otherwise be made and dropped for every event; `None` when the field is not one of them
    /// (the caller extracts it). `Some(false)` means missing (nothing written).
    fn write_text(&self, _field: &FieldRef, _out: &mut Vec<u8>) -> Option<bool> {
        None
    }
}

/// Evaluates `filter` for the event behind `fields`.
pub fn eval(filter: &Filter, fields: &dyn Fields) -> bool {
    match filter {
        Filter::And(items) => items.iter().all(|f| eval(f, fields)),
        Filter::Or(items) => items.iter().any(|f| eval(f, fields)),
        Filter::Not(f) => !eval(f, fields),
        Filter::Check(c) => check(c, fields),
    }
}

/// The values of `field` for the event: extracted, or computed for multi-input
/// transformers, then passed through the field's transformers.
pub fn extract<'a>(field: &FieldRef, fields: &'a dyn Fields) -> Extracted<'a> {
    let raw = match &field.composite {
        Some(c) => composite(c, fields),
        None => fields.extract(field),
    };
    transformed(field, raw)
}

fn text_of(v: &Val<'_>) -> Vec<u8> {
    match v {
        Val::Int(i) => i.to_string().into_bytes(),
        Val::Uint(u) => u.to_string().into_bytes(),
        Val::Bool(b) => b.to_string().into_bytes(),
        Val::Bytes(b) => b.to_vec(),
        Val::Ip(ip) => ip.to_string().into_bytes(),
    }
}

/// Every value of the parts, as text; `None` if a field part has no value.
fn part_values(parts: &[Part], fields: &dyn Fields) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    for p in parts {
        match p {
            Part::Const(c) => out.push(c.clone()),
            Part::Field(f) => match extract(f, fields) {
                Extracted::Missing => return None,
                Extracted::One(v) => out.push(text_of(&v)),
                Extracted::Many(vs) => out.extend(vs.iter().map(text_of)),
            },
        }
    }
    Some(out)
}

fn composite<'a>(c: &Composite, fields: &dyn Fields) -> Extracted<'a> {
    let owned = |b: Vec<u8>| Val::Bytes(Cow::Owned(b));
    match c {
        Composite::Join { sep, parts } => match part_values(parts, fields) {
            Some(vs) => Extracted::One(owned(vs.join(sep.as_slice()))),
            None => Extracted::Missing,
        },
        Composite::Concat(parts) => match part_values(parts, fields) {
            Some(vs) => Extracted::One(owned(vs.concat())),
            None => Extracted::Missing,
        },
        Composite::Getopt { args, optstring, select } => {
            let Some(argv) = part_values(args, fields) else { return Extracted::Missing };
            let found = getopt(&argv, optstring);
            match select {
                Some(o) => match found.into_iter().find(|(opt, _)| opt == o) {
                    Some((_, arg)) => Extracted::One(owned(arg.unwrap_or_default())),
                    None => Extracted::Missing,
                },
                None => Extracted::Many(found.into_iter().map(|(o, _)| owned(vec![o])).collect()),
            }
        }
    }
}

/// getopt(3) over `argv` (without the program name): each option found, with its argument
/// when `optstring` gives it one (`x:`). Stops at `--` or the first non-option.
pub fn getopt(argv: &[Vec<u8>], optstring: &[u8]) -> Vec<(u8, Option<Vec<u8>>)> {
    let takes_arg = |o: u8| {
        optstring
            .iter()
            .position(|&c| c == o && c != b':')
            .map(|i| optstring.get(i + 1) == Some(&b':'))
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < argv.len() {
        let a = &argv[i];
        if a.as_slice() == b"--" || a.len() < 2 || a[0] != b'-' {
            break;
        }
        let mut j = 1;
        while j < a.len() {
            let o = a[j];
            match takes_arg(o) {
                Some(true) => {
                    let arg = if j + 1 < a.len() {
                        Some(a[j + 1..].to_vec())
                    } else {
                        i += 1;
                        argv.get(i).cloned()
                    };
                    out.push((o, arg));
                    break;
                }
                Some(false) => out.push((o, None)),
                None => {}
            }
            j += 1;
        }
        i += 1;
    }
    out
}

fn transformed<'a>(field: &FieldRef, values: Extracted<'a>) -> Extracted<'a> {
    let mut values = values;
    for t in &field.transformers {
        values = match values {
            Extracted::Missing => return Extracted::Missing,
            Extracted::One(v) => match transform(*t, v) {
                Some(v) => Extracted::One(v),
                None => return Extracted::Missing,
            },
            Extracted::Many(vs) if *t == TransformerKind::Len => {
                Extracted::One(Val::Uint(vs.len() as u64))
            }
            Extracted::Many(vs) => {
                Extracted::Many(vs.into_iter().filter_map(|v| transform(*t, v)).collect())
            }
        };
    }
    values
}

fn transform(t: TransformerKind, v: Val<'_>) -> Option<Val<'_>> {
    let Val::Bytes(b) = v else {
        return None;
    };
    Some(match t {
        TransformerKind::Tolower => Val::Bytes(Cow::Owned(b.to_ascii_lowercase())),
        TransformerKind::Toupper => Val::Bytes(Cow::Owned(b.to_ascii_uppercase())),
        TransformerKind::Basename => {
            let start = b.iter().rposition(|&c| c == b'/').map_or(0, |i| i + 1);
            Val::Bytes(Cow::Owned(b[start..].to_vec()))
        }
        TransformerKind::Len => {
            let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
            Val::Uint(end as u64)
        }
        TransformerKind::B64 => Val::Bytes(Cow::Owned(base64_decode(&b)?)),
        _ => return None,
    })
}

fn base64_decode(input: &[u8]) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        })
    };
    let data: Vec<u8> = input.iter().copied().take_while(|&c| c != b'=').collect();
    let mut out = Vec::with_capacity(data.len() * 3 / 4);
    for chunk in data.chunks(4) {
        let mut acc = 0u32;
        for &c in chunk {
            acc = (acc << 6) | value(c)?;
        }
        match chunk.len() {
            4 => out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8, acc as u8]),
            3 => out.extend_from_slice(&[(acc >> 10) as u8, (acc >> 2) as u8]),
            2 => out.push((acc >> 4) as u8),
            _ => return None,
        }
    }
    Some(out)
}

fn check(c: &Check, fields: &dyn Fields) -> bool {
    let values = extract(&c.field, fields);
    match (&c.test, values) {
        (Test::Exists, v) => v != Extracted::Missing,
        (_, Extracted::Missing) => false,
        (Test::In(set), Extracted::Many(vs)) if c.field.spec.list => {
            vs.iter().all(|v| in_set(set, v))
        }
        (Test::Intersects(set), Extracted::Many(vs)) => vs.iter().any(|v| in_set(set, v)),
        (test, Extracted::One(v)) => test_one(test, &v, fields),
        // Un-indexed ancestor fields: any ancestor may match, whatever the operator.
        (test, Extracted::Many(vs)) => vs.iter().any(|v| test_one(test, v, fields)),
    }
}

fn as_literal(v: &Val<'_>) -> Literal {
    match v {
        Val::Int(i) => Literal::Int(*i),
        Val::Uint(u) => Literal::Uint(*u),
        Val::Bool(b) => Literal::Bool(*b),
        Val::Bytes(b) => Literal::Bytes(b.to_vec()),
        Val::Ip(ip) => Literal::Ip(*ip),
    }
}

fn order(v: &Val<'_>, lit: &Literal) -> Option<std::cmp::Ordering> {
    match (v, lit) {
        (Val::Int(a), Literal::Int(b)) => Some(a.cmp(b)),
        (Val::Int(a), Literal::Uint(b)) => Some(i128::from(*a).cmp(&i128::from(*b))),
        (Val::Uint(a), Literal::Uint(b)) => Some(a.cmp(b)),
        (Val::Uint(a), Literal::Int(b)) => Some(i128::from(*a).cmp(&i128::from(*b))),
        (Val::Bytes(a), Literal::Bytes(b)) => Some(a.as_ref().cmp(b.as_slice())),
        (Val::Bool(a), Literal::Bool(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

fn equal(v: &Val<'_>, lit: &Literal) -> bool {
    match (v, lit) {
        (Val::Ip(a), Literal::Ip(b)) => a == b,
        (Val::Ip(a), Literal::Net(net, len)) => in_net(*a, *net, *len),
        _ => order(v, lit) == Some(std::cmp::Ordering::Equal),
    }
}

/// CIDR containment; an IPv4 address is never in an IPv6 network and the other way round.
pub fn in_net(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len.min(32))) };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if len == 0 { 0 } else { u128::MAX << (128 - u32::from(len.min(128))) };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

fn bytes<'v>(v: &'v Val<'_>) -> Option<&'v [u8]> {
    match v {
        Val::Bytes(b) => Some(b),
        _ => None,
    }
}

fn test_one(test: &Test, v: &Val<'_>, fields: &dyn Fields) -> bool {
    use std::cmp::Ordering as O;
    match test {
        Test::Exists => true,
        Test::Eq(l) => equal(v, l),
        Test::Ne(l) => !equal(v, l),
        Test::Lt(l) => order(v, l) == Some(O::Less),
        Test::Le(l) => matches!(order(v, l), Some(O::Less | O::Equal)),
        Test::Gt(l) => order(v, l) == Some(O::Greater),
        Test::Ge(l) => matches!(order(v, l), Some(O::Greater | O::Equal)),
        Test::Contains(n) => bytes(v).is_some_and(|b| find(b, n)),
        Test::IContains(n) => bytes(v).is_some_and(|b| find_caseless(b, n)),
        Test::StartsWith(n) => bytes(v).is_some_and(|b| b.starts_with(n)),
        Test::EndsWith(n) => bytes(v).is_some_and(|b| b.ends_with(n)),
        Test::Glob(p) => bytes(v).is_some_and(|b| fnmatch(p, b)),
        Test::IGlob(p) => bytes(v).is_some_and(|b| fnmatch(p, &b.to_ascii_lowercase())),
        Test::Regex(re) => bytes(v).is_some_and(|b| re.is_match(b)),
        Test::In(set) | Test::Intersects(set) => in_set(set, v),
        Test::PMatch(paths) => bytes(v).is_some_and(|b| pmatch(paths, b)),
        Test::ContainsAny(ac) => bytes(v).is_some_and(|b| ac.is_match(b)),
        Test::Each(m, tests) => {
            let hits = tests.iter().filter(|t| test_one(t, v, fields)).count();
            match m {
                Modifier::OneOf => hits == 1,
                Modifier::AnyOf => hits >= 1,
                Modifier::AllOf => hits == tests.len(),
            }
        }
        Test::Field(op, other) => {
            let rhs = extract(other, fields);
            let Extracted::One(r) = rhs else { return false };
            let lit = as_literal(&r);
            match op {
                Operator::Eq | Operator::EqEq => equal(v, &lit),
                Operator::Ne => !equal(v, &lit),
                Operator::Lt => order(v, &lit) == Some(O::Less),
                Operator::Le => matches!(order(v, &lit), Some(O::Less | O::Equal)),
                Operator::Gt => order(v, &lit) == Some(O::Greater),
                Operator::Ge => matches!(order(v, &lit), Some(O::Greater | O::Equal)),
                Operator::Contains => bytes(v).zip(bytes(&r)).is_some_and(|(a, b)| find(a, b)),
                Operator::StartsWith => {
                    bytes(v).zip(bytes(&r)).is_some_and(|(a, b)| a.starts_with(b))
                }
                Operator::EndsWith => bytes(v).zip(bytes(&r)).is_some_and(|(a, b)| a.ends_with(b)),
                _ => false,
            }
        }
    }
}

/// Set membership without building a literal (no allocation for strings).
fn in_set(set: &crate::compile::LiteralSet, v: &Val<'_>) -> bool {
    match v {
        Val::Bytes(b) => set.bytes.contains(b.as_ref()),
        other => set.others.iter().any(|l| equal(other, l)),
    }
}

/// ASCII case-insensitive substring; `needle` is already lower case.
fn find_caseless(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty()
        || haystack
            .windows(needle.len())
            .any(|w| w.iter().zip(needle).all(|(a, b)| a.to_ascii_lowercase() == *b))
}

fn find(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

/// `fnmatch(pattern, text, 0)`: `*` and `?` match any byte including `/`; `[...]` classes
/// with `!`/`^` negation and ranges; `\` escapes the next byte.
pub fn fnmatch(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let (mut star_p, mut star_t) = (usize::MAX, 0);
    while t < text.len() {
        if p < pattern.len() {
            match pattern[p] {
                b'*' => {
                    star_p = p;
                    star_t = t;
                    p += 1;
                    continue;
                }
                b'?' => {
                    p += 1;
                    t += 1;
                    continue;
                }
                b'[' => {
                    if let Some((matched, next)) = class(&pattern[p..], text[t]) {
                        if matched {
                            p += next;
                            t += 1;
                            continue;
                        }
                    } else if text[t] == b'[' {
                        p += 1;
                        t += 1;
                        continue;
                    }
                }
                b'\\' if p + 1 < pattern.len() && pattern[p + 1] == text[t] => {
                    p += 2;
                    t += 1;
                    continue;
                }
                c if c == text[t] => {
                    p += 1;
                    t += 1;
                    continue;
                }
                _ => {}
            }
        }
        if star_p == usize::MAX {
            return false;
        }
        p = star_p + 1;
        star_t += 1;
        t = star_t;
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// Matches a `[...]` class at the start of `pattern`: (matched, bytes of the class).
fn class(pattern: &[u8], c: u8) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = matches!(pattern.get(i), Some(b'!' | b'^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let &b = pattern.get(i)?;
        if b == b']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        if pattern.get(i + 1) == Some(&b'-') && pattern.get(i + 2).is_some_and(|&e| e != b']') {
            let e = pattern[i + 2];
            matched |= b <= c && c <= e;
            i += 3;
        } else {
            matched |= b == c;
            i += 1;
        }
    }
}

/// Path-prefix match by components; a pattern component with `*?[` is globbed.
fn pmatch(paths: &[Vec<Vec<u8>>], value: &[u8]) -> bool {
    paths.iter().any(|prefix| {
        let mut parts = value.split(|&b| b == b'/').filter(|c| !c.is_empty());
        prefix.iter().all(|p| {
            parts.next().is_some_and(|v| {
                if p.iter().any(|c| matches!(c, b'*' | b'?' | b'[')) {
                    fnmatch(p, v)
                } else {
                    p == v
                }
            })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_crosses_slashes_like_fnmatch_without_flags() {
        assert!(fnmatch(b"/var/*", b"/var/run/file.txt"));
        assert!(fnmatch(b"*.so.[0-9]", b"/lib/libc.so.6"));
        assert!(!fnmatch(b"/etc/?", b"/etc/ab"));
        assert!(fnmatch(b"\\*x", b"*x"));
        assert!(fnmatch(b"[!a]b", b"cb"));
    }

    #[test]
    fn pmatch_is_by_components() {
        let paths = vec![crate::compile::split_path(b"/usr/bin")];
        assert!(pmatch(&paths, b"/usr/bin"));
        assert!(pmatch(&paths, b"/usr/bin/ls"));
        assert!(!pmatch(&paths, b"/usr/binx"));
    }

    #[test]
    fn nets_contain_their_addresses_only() {
        let ip: IpAddr = "10.1.2.3".parse().unwrap();
        assert!(in_net(ip, "10.0.0.0".parse().unwrap(), 8));
        assert!(!in_net(ip, "11.0.0.0".parse().unwrap(), 8));
        assert!(!in_net(ip, "::".parse().unwrap(), 0));
    }

    #[test]
    fn getopt_like_libc() {
        let argv: Vec<Vec<u8>> = ["-ab", "-c", "val", "-dX", "file", "-e"]
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect();
        let found = getopt(&argv, b"abc:d:e");
        assert_eq!(
            found,
            vec![
                (b'a', None),
                (b'b', None),
                (b'c', Some(b"val".to_vec())),
                (b'd', Some(b"X".to_vec()))
            ]
        );
    }

    #[test]
    fn base64_with_and_without_padding() {
        assert_eq!(base64_decode(b"aGVsbG8=").as_deref(), Some(&b"hello"[..]));
        assert_eq!(base64_decode(b"aGVsbG8").as_deref(), Some(&b"hello"[..]));
        assert_eq!(base64_decode(b"a$"), None);
    }
}
