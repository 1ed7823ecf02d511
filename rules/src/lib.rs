//! The Falco rules language, for matching rules against recorded captures.
//!
//! Falco rules files hold rules, macros and lists; a rule fires when its condition holds for
//! an event. This crate reads that language so dredge can replay a capture through a Falco
//! ruleset offline and get the same findings Falco would have raised live. It sits between
//! the capture format (`format/`) and replay (`analyze/`), and it is pure: text in, trees out.
//!
//! So far it holds two stages. [`collect`] reads rules files (YAML with positions, see
//! [`yaml`]) into lists, macros and rules, merging redefinitions, appends and overrides as
//! Falco does and reporting problems with Falco's codes ([`message`]). [`parse_condition`]
//! turns the text of a condition into an [`Expr`] tree, accepting exactly what libsinsp's
//! filter parser accepts, and `Display` on the tree prints libsinsp's canonical form. The
//! compiler (list substitution, macro expansion, exceptions, fields, types) and the evaluator
//! come next, on top of these.

pub mod alert;
pub mod ast;
pub mod catalogue;
pub mod collect;
pub mod compile;
mod error;
pub mod eval;
pub mod evttype;
pub mod expand;
mod lexer;
pub mod lint;
pub mod message;
pub mod output;
mod parser;
pub mod ruleset;
pub mod yaml;

pub use ast::{
    Compare, Exists, Expr, Field, List, Modifier, Operand, Operator, Position, Rhs, Transformer,
    TransformerInput, TransformerKind, Value, ValueKind,
};
pub use error::{EscapeProblem, Expected, ParseError};
pub use parser::{DEFAULT_MAX_DEPTH, Parser, parse_condition};
