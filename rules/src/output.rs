//! Output format strings: `%field` tokens found the way Falco finds them.
//!
//! After `%` (and optional width digits) the longest run that names a field, with its
//! argument, is the token: `file=%fd.name)` takes `fd.name`, `%proc.aname[2]` takes the
//! argument. A `%` that starts no field is an error, as Falco reports it.

use crate::compile::{Catalogue, FieldSpec};

/// One piece of a format: literal text or a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Field { name: String, arg: Option<String>, spec: FieldSpec, width: Option<usize> },
}

/// Splits a format into pieces, resolving every field in `catalogue`.
pub fn parse_format(format: &str, catalogue: &dyn Catalogue) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut rest = format;
    while let Some(at) = rest.find('%') {
        text.push_str(&rest[..at]);
        rest = &rest[at + 1..];
        if rest.is_empty() {
            return Err("formatting cannot end with a %".into());
        }
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let width = rest[..digits].parse().ok();
        rest = &rest[digits..];
        let run = rest
            .char_indices()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
            .map_or(rest.len(), |(i, _)| i);
        // An argument in brackets belongs to the field.
        let mut end = run;
        let mut arg = None;
        if rest[run..].starts_with('[')
            && let Some(close) = rest[run..].find(']')
        {
            arg = Some(rest[run + 1..run + close].to_string());
            end = run + close + 1;
        }
        let mut name_end = run;
        let resolved = loop {
            if name_end == 0 {
                break None;
            }
            let name = &rest[..name_end];
            let a = if name_end == run { arg.as_deref() } else { None };
            if let Ok(spec) = catalogue.field(name, a) {
                break Some((name.to_string(), a.map(str::to_string), spec));
            }
            name_end -= 1;
        };
        let Some((name, arg, spec)) = resolved else {
            let token: String = rest.chars().take_while(|c| !c.is_whitespace()).collect();
            return Err(format!("invalid formatting token {token}"));
        };
        if !text.is_empty() {
            pieces.push(Piece::Text(std::mem::take(&mut text)));
        }
        let consumed = if arg.is_some() { end } else { name_end };
        pieces.push(Piece::Field { name, arg, spec, width });
        rest = &rest[consumed..];
    }
    text.push_str(rest);
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::fields;

    #[test]
    fn tokens_are_the_longest_field() {
        let p = parse_format("file=%fd.name) by %proc.aname[2] %evt.arg.flags", fields()).unwrap();
        let names: Vec<String> = p
            .iter()
            .filter_map(|x| match x {
                Piece::Field { name, arg, .. } => Some(format!("{name}{arg:?}")),
                Piece::Text(_) => None,
            })
            .collect();
        assert_eq!(names, ["fd.nameNone", "proc.anameSome(\"2\")", "evt.arg.flagsNone"]);
        assert!(
            parse_format("x %not_a_real_field", fields())
                .unwrap_err()
                .contains("invalid formatting token")
        );
        assert!(parse_format("x %", fields()).is_err());
    }
}
