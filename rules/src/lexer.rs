//! The tokens of the condition language, read on demand from a cursor.
//!
//! libsinsp has no separate token stream: its parser asks, at each point, whether a given
//! kind of token starts at the cursor, and several kinds overlap (`a.b` is a field name, a
//! bare string and, up to the dot, an identifier). This module offers the same questions,
//! one method per token kind, each matching exactly the character classes of libsinsp's
//! POSIX regexes (leftmost-longest, anchored at the cursor), and leaves the choice between
//! kinds to the parser.
//!
//! Two blank sets coexist, as in libsinsp: the blanks skipped between tokens are space, `\t`,
//! `\b`, `\r`, `\n`; the "space" class that ends bare strings and follows `not` is space,
//! `\t`, `\n`, `\v`, `\f`, `\r`.

use crate::ast::Position;
use crate::error::{EscapeProblem, ParseError, snippet};

/// Blanks skipped between tokens.
fn is_blank(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | 0x08 | b'\r' | b'\n')
}

/// POSIX `[:space:]`.
fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// `[a-zA-Z]+[a-zA-Z0-9_]*`: the length of the identifier at the start of `bytes`, or 0.
fn identifier_len(bytes: &[u8]) -> usize {
    match bytes.first() {
        Some(first) if first.is_ascii_alphabetic() => {
            1 + bytes[1..].iter().take_while(|b| b.is_ascii_alphanumeric() || **b == b'_').count()
        }
        _ => 0,
    }
}

fn digits_len(bytes: &[u8]) -> usize {
    bytes.iter().take_while(|b| b.is_ascii_digit()).count()
}

/// A read position in a condition, with the line and column libsinsp would report.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    text: &'a str,
    pos: Position,
}

impl<'a> Cursor<'a> {
    pub fn new(text: &'a str) -> Cursor<'a> {
        Cursor { text, pos: Position::START }
    }

    pub fn pos(&self) -> Position {
        self.pos
    }

    /// Goes back to a position returned by [`Cursor::pos`] (for lookahead).
    pub fn rewind(&mut self, pos: Position) {
        self.pos = pos;
    }

    pub fn at_end(&self) -> bool {
        self.pos.offset >= self.text.len()
    }

    fn rest(&self) -> &'a [u8] {
        self.text.as_bytes().get(self.pos.offset..).unwrap_or_default()
    }

    /// The text at the cursor, shortened for an error message.
    pub fn snippet(&self) -> String {
        snippet(self.text.get(self.pos.offset..).unwrap_or_default())
    }

    pub fn peek(&self) -> Option<u8> {
        self.rest().first().copied()
    }

    /// Consumes `len` bytes and returns them as text. Every caller stops at an ASCII byte or
    /// the end, so the slice falls on character boundaries.
    fn take(&mut self, len: usize) -> &'a str {
        let start = self.pos.offset;
        let bytes = self.rest().get(..len).unwrap_or_default();
        self.pos = self.pos.after(bytes);
        self.text.get(start..self.pos.offset).unwrap_or_default()
    }

    /// Consumes blanks; true if there was at least one.
    pub fn skip_blanks(&mut self) -> bool {
        let len = self.rest().iter().take_while(|b| is_blank(**b)).count();
        self.take(len);
        len > 0
    }

    /// Consumes `word` if the text continues with it, whatever follows.
    pub fn eat(&mut self, word: &str) -> bool {
        if self.rest().starts_with(word.as_bytes()) {
            self.take(word.len());
            true
        } else {
            false
        }
    }

    /// Consumes `word` and the blanks after it, if at least one blank follows.
    pub fn eat_then_blank(&mut self, word: &str) -> bool {
        let start = self.pos;
        if self.eat(word) && self.skip_blanks() {
            return true;
        }
        self.pos = start;
        false
    }

    /// `not` followed by at least one POSIX space.
    pub fn eat_not(&mut self) -> bool {
        let rest = self.rest();
        if !rest.starts_with(b"not") {
            return false;
        }
        let spaces = rest[3..].iter().take_while(|b| is_space(**b)).count();
        if spaces == 0 {
            return false;
        }
        self.take(3 + spaces);
        true
    }

    /// True if `and`, `or` or `not` starts here as a whole word (a following `_` does not
    /// count as part of the word, as in libsinsp).
    pub fn at_bool_keyword(&self) -> bool {
        let rest = self.rest();
        ["and", "or", "not"].iter().any(|keyword| {
            rest.starts_with(keyword.as_bytes())
                && !rest.get(keyword.len()).is_some_and(u8::is_ascii_alphanumeric)
        })
    }

    pub fn at_identifier(&self) -> bool {
        identifier_len(self.rest()) > 0
    }

    /// An identifier (macro or list name): `[a-zA-Z]+[a-zA-Z0-9_]*`.
    pub fn identifier(&mut self) -> Option<&'a str> {
        let len = identifier_len(self.rest());
        (len > 0).then(|| self.take(len))
    }

    /// A field name: identifiers joined by dots, at least one dot (`evt.arg.flags`).
    pub fn field_name(&mut self) -> Option<&'a str> {
        let rest = self.rest();
        let mut len = identifier_len(rest);
        if len == 0 {
            return None;
        }

        let mut parts = 0;
        while rest.get(len) == Some(&b'.') {
            let part = identifier_len(rest.get(len + 1..).unwrap_or_default());
            if part == 0 {
                break;
            }
            len += 1 + part;
            parts += 1;
        }
        (parts > 0).then(|| self.take(len))
    }

    /// A hexadecimal number (`0x1F`) or, failing that, a decimal one
    /// (`[+-]?[0-9]+\.?[0-9]*([eE][+-][0-9]+)?`).
    pub fn number(&mut self) -> Option<&'a str> {
        let rest = self.rest();
        if rest.len() > 2 && rest[0] == b'0' && matches!(rest[1], b'x' | b'X') {
            let hex = rest[2..].iter().take_while(|b| b.is_ascii_hexdigit()).count();
            if hex > 0 {
                return Some(self.take(2 + hex));
            }
        }

        let mut len = usize::from(matches!(rest.first(), Some(b'+' | b'-')));
        let int = digits_len(&rest[len..]);
        if int == 0 {
            return None;
        }
        len += int;
        if rest.get(len) == Some(&b'.') {
            len += 1;
        }
        len += digits_len(&rest[len..]);
        if matches!(rest.get(len), Some(b'e' | b'E'))
            && matches!(rest.get(len + 1), Some(b'+' | b'-'))
        {
            let exponent = digits_len(rest.get(len + 2..).unwrap_or_default());
            if exponent > 0 {
                len += 2 + exponent;
            }
        }
        Some(self.take(len))
    }

    /// True if a quoted or bare string starts here.
    pub fn at_string(&self) -> bool {
        matches!(self.peek(), Some(b'"' | b'\'')) || self.bare_len() > 0
    }

    fn bare_len(&self) -> usize {
        let stop = |b: u8| matches!(b, b'(' | b')' | b'"' | b'\'' | b'=' | b',') || is_space(b);
        self.rest().iter().take_while(|b| !stop(**b)).count()
    }

    /// A bare string: anything but blanks, quotes, `(`, `)`, `=` and `,` (`/usr/bin/*`).
    pub fn bare_string(&mut self) -> Option<&'a str> {
        let len = self.bare_len();
        (len > 0).then(|| self.take(len))
    }

    /// A bare field argument: anything but blanks, quotes and brackets.
    pub fn bare_field_arg(&mut self) -> Option<&'a str> {
        let stop = |b: u8| matches!(b, b'[' | b']' | b'"' | b'\'') || is_space(b);
        let len = self.rest().iter().take_while(|b| !stop(**b)).count();
        (len > 0).then(|| self.take(len))
    }

    /// A quoted string, unescaped. `Ok(None)` if no quote starts here.
    ///
    /// The closing quote is the first one not directly preceded by a backslash, so `"a\\"`
    /// does not end at its last quote, exactly as in libsinsp. A NUL byte ends the search.
    pub fn quoted_string(&mut self) -> Result<Option<String>, ParseError> {
        let rest = self.rest();
        let Some(&quote @ (b'"' | b'\'')) = rest.first() else {
            return Ok(None);
        };

        let mut prev = quote;
        for (i, &byte) in rest.iter().enumerate().skip(1) {
            if byte == 0 {
                break;
            }
            if byte == quote && prev != b'\\' {
                let start = self.pos;
                let token = self.take(i + 1);
                let body = token.get(1..i).unwrap_or_default();
                return unescape(body, quote, start.step(quote)).map(Some);
            }
            prev = byte;
        }
        Err(ParseError::Unterminated { pos: self.pos, found: self.snippet() })
    }
}

/// Resolves the backslash sequences of a quoted string's body, which starts at `pos`.
fn unescape(body: &str, quote: u8, pos: Position) -> Result<String, ParseError> {
    let bytes = body.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }

        let fail = |problem, len: usize| {
            let end = (i + len).min(bytes.len());
            let found = String::from_utf8_lossy(&bytes[i..end]).into_owned();
            Err(ParseError::Escape { pos: pos.after(&bytes[..i]), problem, found })
        };
        let Some(&letter) = bytes.get(i + 1) else {
            return fail(EscapeProblem::Unsupported, 1);
        };
        let byte = match letter {
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            // `\ ` gives a lone backslash: libsinsp keeps this for old, wrongly escaped rules.
            b' ' | b'\\' => b'\\',
            b'/' => b'/',
            b'"' | b'\'' if letter == quote => letter,
            b'"' | b'\'' => return fail(EscapeProblem::OtherQuote, 2),
            b'x' => {
                let Some(hex) = bytes.get(i + 2..i + 4) else {
                    return fail(EscapeProblem::TruncatedHex, 4);
                };
                let value = std::str::from_utf8(hex)
                    .ok()
                    .filter(|digits| digits.bytes().all(|b| b.is_ascii_hexdigit()))
                    .and_then(|digits| u8::from_str_radix(digits, 16).ok());
                let Some(value) = value else {
                    return fail(EscapeProblem::InvalidHex, 4);
                };
                out.push(value);
                i += 4;
                continue;
            }
            _ => {
                let len =
                    body.get(i + 1..).and_then(|s| s.chars().next()).map_or(1, char::len_utf8);
                return fail(EscapeProblem::Unsupported, 1 + len);
            }
        };
        out.push(byte);
        i += 2;
    }

    String::from_utf8(out).map_err(|_| ParseError::Escape {
        pos: pos.step(quote),
        problem: EscapeProblem::NotUtf8,
        found: snippet(body),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quoted(text: &str) -> Result<Option<String>, ParseError> {
        Cursor::new(text).quoted_string()
    }

    #[test]
    fn numbers_match_the_libs_regexes() {
        let lex = |text: &'static str| Cursor::new(text).number();
        assert_eq!(lex("0x12345 "), Some("0x12345"));
        assert_eq!(lex("0XaB00AB"), Some("0XaB00AB"));
        assert_eq!(lex("0xAAA.1"), Some("0xAAA"));
        assert_eq!(lex("0x"), Some("0"));
        assert_eq!(lex("-0.1222e+10"), Some("-0.1222e+10"));
        assert_eq!(lex("1.2e5"), Some("1.2"));
        assert_eq!(lex("+1."), Some("+1."));
        assert_eq!(lex("0aaaa"), Some("0"));
        assert_eq!(lex("!0.1"), None);
        assert_eq!(lex("-"), None);
    }

    #[test]
    fn field_names_need_a_dot() {
        let lex = |text: &'static str| Cursor::new(text).field_name();
        assert_eq!(lex("evt.arg.flags=1"), Some("evt.arg.flags"));
        assert_eq!(lex("k8s.pod.label.app"), Some("k8s.pod.label.app"));
        assert_eq!(lex("proc.aname[2]"), Some("proc.aname"));
        assert_eq!(lex("a.b."), Some("a.b"));
        assert_eq!(lex("a.1b"), None);
        assert_eq!(lex("macro"), None);
        assert_eq!(lex("_a.b"), None);
    }

    #[test]
    fn quoted_strings_follow_the_libs_escape_rules() {
        assert_eq!(quoted(r#""a b""#), Ok(Some("a b".into())));
        assert_eq!(quoted("''"), Ok(Some(String::new())));
        assert_eq!(quoted(r#""say \"hi\"""#), Ok(Some("say \"hi\"".into())));
        assert_eq!(quoted(r"'it\'s'"), Ok(Some("it's".into())));
        assert_eq!(quoted(r#""\b\f\n\r\t\\\/""#), Ok(Some("\u{8}\u{c}\n\r\t\\/".into())));
        assert_eq!(quoted(r#""bad escape \ ""#), Ok(Some("bad escape \\".into())));
        assert_eq!(quoted(r#""\x41\x62""#), Ok(Some("Ab".into())));
        assert_eq!(quoted(r#""\xc3\xa9""#), Ok(Some("é".into())));
        assert_eq!(quoted("x"), Ok(None));
    }

    #[test]
    fn bad_escapes_are_located() {
        let Err(ParseError::Escape { pos, problem, found }) = quoted(r#""ab\q""#) else {
            panic!("\\q must be refused");
        };
        assert_eq!((pos.offset, problem, found.as_str()), (3, EscapeProblem::Unsupported, "\\q"));

        let err = quoted(r#"'mixed \"'"#);
        assert!(matches!(err, Err(ParseError::Escape { problem: EscapeProblem::OtherQuote, .. })));
        let err = quoted(r#""\x4""#);
        assert!(matches!(
            err,
            Err(ParseError::Escape { problem: EscapeProblem::TruncatedHex, .. })
        ));
        let err = quoted(r#""\x4g""#);
        assert!(matches!(err, Err(ParseError::Escape { problem: EscapeProblem::InvalidHex, .. })));
        let err = quoted(r#""\xff""#);
        assert!(matches!(err, Err(ParseError::Escape { problem: EscapeProblem::NotUtf8, .. })));
    }

    #[test]
    fn a_quote_after_a_backslash_does_not_close() {
        assert!(matches!(quoted(r#""a\\""#), Err(ParseError::Unterminated { .. })));
        assert!(matches!(quoted("\"a\0\""), Err(ParseError::Unterminated { .. })));
    }
}
