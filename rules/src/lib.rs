//! The Falco rules language, for matching rules against recorded captures.
//!
//! Falco rules files hold rules, macros and lists; a rule fires when its condition holds for
//! an event. This crate reads that language so dredge can replay a capture through a Falco
//! ruleset offline and get the same findings Falco would have raised live. It sits between
//! the capture format (`format/`) and replay (`analyze/`), and it is pure: text in, trees out.
//!
//! The stages, in the order a rules file goes through them:
//!
//! - [`collect`] reads rules files ([`yaml`] keeps every value's text and position) into
//!   lists, macros and rules, merging redefinitions, appends and overrides as Falco does, and
//!   reports problems with Falco's codes ([`message`]);
//! - [`expand`] substitutes lists, turns exceptions into conditions and replaces macros, on
//!   trees from [`parse_condition`] (libsinsp's grammar; `Display` prints its canonical form);
//! - [`compile`] resolves fields in the [`catalogue`], converts literals by type and checks
//!   operators; [`evttype`] works out which event types each rule can match; [`lint`] warns;
//! - [`ruleset`] runs all of that per file and indexes the result; [`eval`] evaluates a
//!   filter over values from a [`eval::Fields`] implementation (replay provides one);
//! - [`output`] and [`alert`] render a matched rule's output as Falco's text or JSON.

pub mod alert;
pub mod ast;
pub mod builtin;
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
