//! Why a condition did not parse, and where.
//!
//! Every variant but [`ParseError::Empty`] carries the [`Position`] of the problem (line,
//! column and byte offset) and the text found there, so a rule author can find the spot in a
//! long, multi-line condition. The wording follows libsinsp's messages where they are clear
//! (`exceeded max depth limit of 1000`, `expecting 'or', 'and'`), so users who know Falco's
//! errors recognise them.

use std::fmt;

use crate::ast::Position;

/// How much of the input an error quotes.
const SNIPPET_CHARS: usize = 24;

/// A condition that does not follow the libsinsp filter grammar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The condition is the empty string.
    #[error("filter input string is empty")]
    Empty,
    /// The grammar asked for one thing and the text holds another.
    #[error("{pos}: expected {expected}, found {}", Found(.found))]
    Unexpected { pos: Position, expected: Expected, found: String },
    /// A complete condition is followed by more text (`a b`, `a)`, `a not b`).
    #[error("{pos}: unexpected {} after a complete condition, expecting 'or', 'and'",
        Found(.found))]
    Trailing { pos: Position, found: String },
    /// A quote with no closing quote before the end of the input (or a NUL byte).
    #[error("{pos}: quoted string is not terminated: {}", Found(.found))]
    Unterminated { pos: Position, found: String },
    /// A backslash sequence inside a quoted string that libsinsp does not accept.
    #[error("{pos}: {problem}: {}", Found(.found))]
    Escape { pos: Position, problem: EscapeProblem, found: String },
    /// Parentheses, `not`s or transformers nested deeper than the parser allows.
    #[error("{pos}: exceeded max depth limit of {limit}, at {}", Found(.found))]
    TooDeep { pos: Position, limit: u32, found: String },
}

impl ParseError {
    /// Where the problem is; `None` for an empty condition.
    pub fn pos(&self) -> Option<Position> {
        match self {
            ParseError::Empty => None,
            ParseError::Unexpected { pos, .. }
            | ParseError::Trailing { pos, .. }
            | ParseError::Unterminated { pos, .. }
            | ParseError::Escape { pos, .. }
            | ParseError::TooDeep { pos, .. } => Some(*pos),
        }
    }
}

/// What the parser was looking for when it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// After `and` or `or` (the keyword is named).
    BlankOrParen(&'static str),
    /// A check: `(`, a field, a transformer or a macro name.
    Check,
    /// `)` closing a parenthesised condition or a list.
    CloseParen,
    /// `)` closing a transformer's arguments.
    TransformerClose,
    /// A field argument after `[`.
    FieldArg,
    /// `]` closing a field argument.
    CloseBracket,
    /// A check operator after a field or transformer.
    Operator,
    /// The right side of `<`, `<=`, `>`, `>=`.
    Number,
    /// The right side of `=`, `contains`, ... .
    StringOrTransformer,
    /// A list item after a comma.
    StringValue,
    /// The right side of a modifier (`oneof`, `anyof`, `allof`).
    ListOrName,
    /// The right side of `in`, `intersects`, `pmatch`.
    ListNameOrTransformer,
    /// The field inside `val(...)`.
    ValField,
    /// An argument of a transformer.
    TransformerInput,
    /// An item of a list inside a transformer's arguments.
    TransformerListItem,
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Expected::BlankOrParen(keyword) => {
                return write!(f, "a blank or '(' after '{keyword}'");
            }
            Expected::Check => "'(', a field check or a macro name",
            Expected::CloseParen => "')'",
            Expected::TransformerClose => "')' closing the transformer",
            Expected::FieldArg => "a field argument (a quoted string or a bare string)",
            Expected::CloseBracket => "']' closing the field argument",
            Expected::Operator => {
                "a check operator ('exists', '<=', '<', '>=', '>', '==', '=', '!=', 'glob', \
                 'iglob', 'contains', 'icontains', 'bcontains', 'startswith', 'bstartswith', \
                 'endswith', 'regex', 'intersects', 'in', 'pmatch')"
            }
            Expected::Number => "a number or a field transformer",
            Expected::StringOrTransformer => "a string value or a field transformer",
            Expected::StringValue => "a string value",
            Expected::ListOrName => "a list or a list name",
            Expected::ListNameOrTransformer => "a list, a list name or a field transformer",
            Expected::ValField => "a field inside 'val(...)'",
            Expected::TransformerInput => {
                "a transformer argument (a field, a transformer, a quoted string, a number or a \
                 list)"
            }
            Expected::TransformerListItem => {
                "a transformer list item (a field, a transformer, a quoted string or a number)"
            }
        };
        f.write_str(text)
    }
}

/// What is wrong with a backslash sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EscapeProblem {
    /// A letter libsinsp does not know after the backslash (`\q`).
    Unsupported,
    /// `\"` inside `'...'` or `\'` inside `"..."`.
    OtherQuote,
    /// `\x` without two characters after it.
    TruncatedHex,
    /// `\x` followed by something other than two hex digits.
    InvalidHex,
    /// `\xHH` bytes that, with the rest of the string, are not UTF-8. libsinsp keeps such
    /// bytes; dredge holds condition text as UTF-8 and refuses them.
    NotUtf8,
}

impl fmt::Display for EscapeProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EscapeProblem::Unsupported => "unsupported string escape sequence",
            EscapeProblem::OtherQuote => "escaped quote that does not delimit this string",
            EscapeProblem::TruncatedHex => "truncated hex char escape sequence",
            EscapeProblem::InvalidHex => "invalid hex char escape sequence",
            EscapeProblem::NotUtf8 => "hex escapes do not form UTF-8 text",
        })
    }
}

/// The start of the text at an error, for the message.
pub(crate) fn snippet(rest: &str) -> String {
    rest.chars().take(SNIPPET_CHARS).collect()
}

/// Displays a snippet quoted, or as "end of input".
struct Found<'a>(&'a str);

impl fmt::Display for Found<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() { f.write_str("end of input") } else { write!(f, "{:?}", self.0) }
    }
}
