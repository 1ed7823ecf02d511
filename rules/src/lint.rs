//! Warnings about conditions and outputs that compile but probably do not mean what they say.
//!
//! Falco's compiler warns when a literal looks like a field or a transformer (it is compared
//! as text: `proc.name = proc.pname` compares with the string "proc.pname"), and when a
//! deprecated field is used (`evt.dir`, whose value no longer varies since drivers stopped
//! sending enter events, and the latency fields).

use crate::ast::{Expr, Operand, Rhs, TransformerKind, Value};
use crate::catalogue::fields;
use crate::output::Piece;

/// Fields Falco reports as deprecated.
const DEPRECATED: [&str; 4] = ["evt.dir", "evt.latency", "evt.wait_latency", "evt.latency.s"];

fn is_deprecated(name: &str) -> bool {
    DEPRECATED.contains(&name) || name.starts_with("evt.latency")
}

/// Warnings for a compiled condition: (text, is it about a deprecated field).
pub fn condition(expr: &Expr) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    walk(expr, &mut out);
    out
}

fn literal(v: &Value, out: &mut Vec<(String, bool)>) {
    let text = v.text.as_str();
    let trimmed = text.trim();
    if trimmed.contains('.') && fields().find(trimmed).is_some() {
        out.push((format!("'{text}' may be a valid field misused as a const string value"), false));
    } else if TransformerKind::ALL
        .iter()
        .any(|t| trimmed.strip_prefix(t.name()).is_some_and(|r| r.starts_with('(')))
    {
        out.push((
            format!("'{text}' may be a valid field transformer misused as a const string value"),
            false,
        ));
    }
}

fn operand(o: &Operand, out: &mut Vec<(String, bool)>) {
    if let Operand::Field(f) = o
        && is_deprecated(&f.name)
    {
        out.push((
            format!(
                "usage of deprecated field '{}' has been detected in the rule condition",
                f.name
            ),
            true,
        ));
    }
}

fn walk(expr: &Expr, out: &mut Vec<(String, bool)>) {
    match expr {
        Expr::And { children, .. } | Expr::Or { children, .. } => {
            children.iter().for_each(|c| walk(c, out));
        }
        Expr::Not { child, .. } => walk(child, out),
        Expr::Exists(e) => operand(&e.left, out),
        Expr::Compare(c) => {
            operand(&c.left, out);
            match &c.right {
                Rhs::Value(v) => literal(v, out),
                Rhs::List(l) => l.items.iter().for_each(|v| literal(v, out)),
                _ => {}
            }
        }
        Expr::Macro { .. } => {}
    }
}

/// Deprecated fields in an output format.
pub fn output(pieces: &[Piece]) -> Vec<String> {
    pieces
        .iter()
        .filter_map(|p| match p {
            Piece::Field { name, .. } if is_deprecated(name) => Some(format!(
                "usage of deprecated field '{name}' has been detected in the rule output"
            )),
            _ => None,
        })
        .collect()
}
