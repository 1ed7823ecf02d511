//! The `.dcap` capture format: dredge's evidence file.
//!
//! A capture holds syscall events with the state needed to understand them (threads, fds,
//! containers, users), compressed in independent blocks so that every core can decode one,
//! checksummed so that damage is found and confined, and closed by a footer whose index,
//! digest and optional signature make the file checkable as a whole. `FORMAT.md` beside this
//! crate is the byte-level specification.
//!
//! This crate is pure: it reads and writes files and nothing else (no kernel, no network), so
//! it tests anywhere. It sits between the recorder (`capture/`) and replay (`analyze/`).
//!
//! - [`Writer`] streams events and state into a new file.
//! - [`Capture`] opens a file (intact, unclosed or damaged) and decodes it in parallel.
//! - [`verify`] checks every byte and the signature.
//! - [`table`] is the event table; [`param`] the parameter encodings.

pub mod block;
pub mod columns;
pub mod container;
pub mod error;
pub mod event;
pub mod footer;
pub mod meta;
pub mod normalize;
pub mod param;
pub mod reader;
mod record;
pub mod repeat;
pub mod scap;
pub mod sign;
pub mod state;
pub mod synth;
pub mod table;
pub mod time;
pub mod verify;
pub mod wire;
pub mod writer;

pub use block::BlockKind;
pub use columns::EventBlock;
pub use error::{BlockError, Damage, Error, Loss};
pub use event::{Event, EventHeader, Params};
pub use footer::{Footer, IndexEntry};
pub use meta::Metadata;
pub use param::{ParamType, Value};
pub use reader::{Capture, Layout};
pub use record::split_nul;
pub use state::State;
pub use writer::{WriteSummary, Writer, WriterOptions};

/// A NUL-terminated string parameter as text (lossy), without its NUL.
pub fn value_str(raw: &[u8]) -> String {
    let raw = raw.strip_suffix(&[0]).unwrap_or(raw);
    String::from_utf8_lossy(raw).into_owned()
}
