//! Spans: the stretches of work applications mark in their own syscalls (sysdig's tracers).
//!
//! An application opens a span by writing a short record to `/dev/null` and closes it with
//! another; replay sees the writes like any other. [`tracer`] decodes one write's record,
//! [`fragments`] joins records split over several writes,
//! [`pair`] pairs enters with exits into spans and finds each span's parent, and [`track`]
//! finds the writes that carry records as replay goes and turns them into `tracer` events,
//! whose `span.*` values [`fields`] gives.

pub mod fields;
pub mod fragments;
pub mod pair;
pub mod tracer;
pub mod track;

pub use pair::{Mark, Pairer, Span, SpanId};
pub use tracer::{Dir, Id, Packed, Parsed, Tracer, parse};
pub use track::{OpenSpan, SpanInfo, SpanState, Traced};
