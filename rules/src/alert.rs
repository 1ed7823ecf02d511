//! Alerts: a matched rule's output rendered for an event, as a Falco text line or JSON.
//!
//! Falco renders rule outputs with a forced `*`, so a field without a value prints `<NA>`
//! (and is `null` in JSON). The text line is `<time>: <Priority> <message>`; the JSON alert
//! carries the same line plus the rule, priority, source, tags, UTC time and the typed value
//! of every output field. Times are UTC: an analyst's time zone has no place in evidence.

use dredge_format::time::Utc;

use crate::compile::FieldRef;
use crate::eval::{Extracted, Fields, Val};
use crate::output::Piece;
use crate::ruleset::Rule;

/// How alerts are written (Falco's `json_*` and `time_format_iso_8601` settings).
#[derive(Debug, Clone)]
pub struct AlertFormat {
    pub hostname: String,
    /// `2016-08-04T16:17:57.881781397+0000` instead of `16:17:57.881781397`.
    pub iso8601: bool,
    pub include_output: bool,
    pub include_tags: bool,
    pub include_output_fields: bool,
}

impl Default for AlertFormat {
    fn default() -> Self {
        AlertFormat {
            hostname: String::new(),
            iso8601: false,
            include_output: true,
            include_tags: true,
            include_output_fields: true,
        }
    }
}

const NA: &str = "<NA>";

/// The text of one value, as an output line shows it.
pub fn value_text(v: &Val<'_>) -> String {
    match v {
        Val::Int(i) => i.to_string(),
        Val::Uint(u) => u.to_string(),
        Val::Bool(b) => b.to_string(),
        Val::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        Val::Ip(ip) => ip.to_string(),
    }
}

fn value_json(v: &Val<'_>) -> serde_json::Value {
    match v {
        Val::Int(i) => (*i).into(),
        Val::Uint(u) => (*u).into(),
        Val::Bool(b) => (*b).into(),
        other => value_text(other).into(),
    }
}

/// The text of one field for an output: `<NA>` when missing; several values space-separated
/// (un-indexed ancestors) or as `(a,b)` (list fields).
fn field_text(field: &FieldRef, values: &Extracted<'_>) -> String {
    match values {
        Extracted::Missing => NA.into(),
        Extracted::One(v) => value_text(v),
        Extracted::Many(vs) if field.spec.list => {
            format!("({})", vs.iter().map(value_text).collect::<Vec<_>>().join(","))
        }
        Extracted::Many(vs) => vs.iter().map(value_text).collect::<Vec<_>>().join(" "),
    }
}

fn field_ref(name: &str, arg: &Option<String>, spec: &crate::compile::FieldSpec) -> FieldRef {
    FieldRef {
        name: name.to_string(),
        arg: arg.clone(),
        spec: spec.clone(),
        transformers: Vec::new(),
        composite: None,
    }
}

/// The rule's output for the event behind `fields`, and each field's typed value.
pub fn render(pieces: &[Piece], fields: &dyn Fields) -> (String, Vec<(String, serde_json::Value)>) {
    let mut text = String::new();
    let mut values = Vec::new();
    for p in pieces {
        match p {
            Piece::Text(t) => text.push_str(t),
            Piece::Field { name, arg, spec, width } => {
                let f = field_ref(name, arg, spec);
                let extracted = fields.extract(&f);
                let mut s = field_text(&f, &extracted);
                if let Some(w) = width {
                    s = padded(&s, *w);
                }
                text.push_str(&s);
                let key = match arg {
                    Some(a) => format!("{name}[{a}]"),
                    None => name.clone(),
                };
                let json = match &extracted {
                    Extracted::Missing => serde_json::Value::Null,
                    Extracted::One(v) => value_json(v),
                    Extracted::Many(vs) => vs.iter().map(value_json).collect(),
                };
                values.push((key, json));
            }
        }
    }
    (text, values)
}

/// Escapes as a JSON string without the quotes, as Falco does to every text line.
fn json_escaped(s: &str) -> String {
    let quoted = serde_json::Value::from(s).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

/// The text line of an alert: `<time>: <Priority> <message>`.
pub fn text_line(rule: &Rule, ts: u64, message: &str, format: &AlertFormat) -> String {
    let t = Utc::from_ns(ts);
    let time = if format.iso8601 { t.iso8601() } else { t.time() };
    json_escaped(&format!("{time}: {} {message}", rule.def.priority.name()))
}

/// A Falco JSON alert, keys in Falco's order.
pub fn json_alert(rule: &Rule, ts: u64, fields: &dyn Fields, format: &AlertFormat) -> String {
    let (message, values) = render(&rule.output, fields);
    let line = text_line(rule, ts, &message, format);
    json_line(rule, ts, &line, &values, format)
}

/// The JSON alert around an already rendered text `line` and its field `values`.
pub fn json_line(
    rule: &Rule,
    ts: u64,
    line: &str,
    values: &[(String, serde_json::Value)],
    format: &AlertFormat,
) -> String {
    let s = |v: &str| serde_json::Value::from(v).to_string();
    let mut out = format!("{{\"hostname\":{}", s(&format.hostname));
    if format.include_output {
        out.push_str(&format!(",\"output\":{}", s(line)));
    }
    out.push_str(&format!(
        ",\"priority\":{},\"rule\":{},\"source\":{}",
        s(rule.def.priority.name()),
        s(&rule.def.name),
        s(&rule.def.source)
    ));
    if format.include_tags {
        let tags: Vec<&String> = rule.def.tags.iter().collect();
        out.push_str(&format!(",\"tags\":{}", serde_json::to_string(&tags).unwrap_or_default()));
    }
    out.push_str(&format!(",\"time\":{}", s(&Utc::from_ns(ts).rfc3339())));
    if format.include_output_fields {
        let time_key = if format.iso8601 { "evt.time.iso8601" } else { "evt.time" };
        let mut map = serde_json::Map::new();
        map.insert(time_key.into(), ts.into());
        for (k, v) in values {
            map.insert(k.clone(), v.clone());
        }
        out.push_str(&format!(", \"output_fields\": {}", serde_json::Value::Object(map)));
    }
    out.push('}');
    out
}

/// The message and text line for an alert.
pub fn text_alert(rule: &Rule, ts: u64, fields: &dyn Fields, format: &AlertFormat) -> String {
    let (message, _) = render(&rule.output, fields);
    text_line(rule, ts, &message, format)
}

/// `%Nfield`: the text cut or padded to exactly `w` characters.
fn padded(s: &str, w: usize) -> String {
    let cut: String = s.chars().take(w).collect();
    format!("{cut:<w$}")
}

/// An output format made ready for many events: its field references built once, text
/// written straight into a caller's buffer (what `print` runs per event).
pub struct TextFormat {
    pieces: Vec<Prepared>,
}

enum Prepared {
    Text(Vec<u8>),
    Field { field: FieldRef, width: Option<usize> },
}

impl TextFormat {
    pub fn new(pieces: &[Piece]) -> TextFormat {
        let pieces = pieces
            .iter()
            .map(|p| match p {
                Piece::Text(t) => Prepared::Text(t.as_bytes().to_vec()),
                Piece::Field { name, arg, spec, width } => {
                    Prepared::Field { field: field_ref(name, arg, spec), width: *width }
                }
            })
            .collect();
        TextFormat { pieces }
    }

    /// Appends the line for the event behind `fields` to `out` (missing values as `<NA>`);
    /// returns whether every field had a value.
    pub fn write(&self, fields: &dyn Fields, out: &mut Vec<u8>) -> bool {
        let mut complete = true;
        for p in &self.pieces {
            match p {
                Prepared::Text(t) if t.len() == 1 => out.push(t[0]),
                Prepared::Text(t) => out.extend_from_slice(t),
                Prepared::Field { field, width: None } => {
                    if let Some(present) = fields.write_text(field, out) {
                        if !present {
                            out.extend_from_slice(NA.as_bytes());
                            complete = false;
                        }
                        continue;
                    }
                    let values = fields.extract(field);
                    complete &= values != Extracted::Missing;
                    match &values {
                        Extracted::One(v) => write_value(v, out),
                        other => out.extend_from_slice(field_text(field, other).as_bytes()),
                    }
                }
                Prepared::Field { field, width: Some(w) } => {
                    let values = fields.extract(field);
                    complete &= values != Extracted::Missing;
                    out.extend_from_slice(padded(&field_text(field, &values), *w).as_bytes());
                }
            }
        }
        complete
    }
}

/// `v` in decimal, appended to `out` (what `write!` does, without the formatting machinery:
/// `print` writes several numbers a line).
pub fn push_uint(out: &mut Vec<u8>, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    // Byte by byte into reserved room: a call to memmove costs more than a few digits.
    out.reserve(digits.len() - at);
    for &d in &digits[at..] {
        out.push(d);
    }
}

/// [`push_uint`] for signed values.
pub fn push_int(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    push_uint(out, v.unsigned_abs());
}

/// [`value_text`], appended to `out` without a new string.
fn write_value(v: &Val<'_>, out: &mut Vec<u8>) {
    match v {
        // ASCII (nearly every value) is checked faster than UTF-8 in general.
        Val::Bytes(b) if b.is_ascii() || std::str::from_utf8(b).is_ok() => out.extend_from_slice(b),
        Val::Bytes(b) => out.extend_from_slice(String::from_utf8_lossy(b).as_bytes()),
        Val::Int(i) => push_int(out, *i),
        Val::Uint(u) => push_uint(out, *u),
        other => out.extend_from_slice(value_text(other).as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_as_display_writes_them() {
        for v in [0i64, 1, -1, 9, 10, -10, 1234567890, i64::MIN, i64::MAX] {
            let mut out = Vec::new();
            push_int(&mut out, v);
            assert_eq!(out, v.to_string().into_bytes());
        }
        let mut out = Vec::new();
        push_uint(&mut out, u64::MAX);
        assert_eq!(out, u64::MAX.to_string().into_bytes());
    }
}
