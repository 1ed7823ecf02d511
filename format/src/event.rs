//! The event model: one syscall entry or exit (or a meta event) with its parameters.
//!
//! An event is a timestamp, the thread, the CPU, the event type (a code from the
//! [event table](crate::table)), flags, and parameters kept as the driver's raw bytes. Readers
//! hand out [`Event`] views that borrow parameters straight from a decoded block, so walking
//! millions of events allocates nothing per event.

use crate::param::{ParamError, Value};
use crate::table::{Direction, EventInfo, table};

/// Event flag: the event was kept only to keep state right (sysdig's filtered "fatfile"
/// captures); a timeline may hide it, state tracking must apply it.
pub const EVENT_STATE_ONLY: u32 = 1;

/// The fixed fields of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EventHeader {
    /// Nanoseconds since the Unix epoch (UTC).
    pub ts: u64,
    /// Thread id as the host sees it; -1 for machine-wide meta events.
    pub tid: i64,
    pub cpu: u16,
    /// Event type code (`evt.type` through the event table).
    pub code: u16,
    pub flags: u32,
}

/// A borrowed view of one event.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    /// Ordinal of the event in its capture, from 0 (`evt.num` is this plus one).
    pub num: u64,
    pub header: EventHeader,
    pub params: Params<'a>,
}

impl<'a> Event<'a> {
    pub fn ts(&self) -> u64 {
        self.header.ts
    }

    pub fn tid(&self) -> i64 {
        self.header.tid
    }

    pub fn code(&self) -> u16 {
        self.header.code
    }

    /// The table entry, when the code is one this version knows.
    pub fn info(&self) -> Option<&'static EventInfo> {
        table().get(self.header.code)
    }

    /// `evt.type`.
    pub fn name(&self) -> &'static str {
        table().name(self.header.code)
    }

    pub fn direction(&self) -> Direction {
        Direction::of(self.header.code)
    }

    /// Parameter `i` decoded by the type the table gives it. `None` when the event carries
    /// fewer parameters, or the code or index is unknown to the table.
    pub fn param(&self, i: usize) -> Option<Result<Value<'a>, ParamError>> {
        let kind = self.info()?.params.get(i)?.kind;
        let raw = self.params.raw(i)?;
        Some(Value::decode(kind, raw))
    }

    /// The parameter called `name` (`evt.arg.NAME`).
    pub fn param_named(&self, name: &str) -> Option<Result<Value<'a>, ParamError>> {
        self.param(self.info()?.param_index(name)?)
    }
}

/// The raw parameters of one event, borrowed from a decoded block.
#[derive(Debug, Clone, Copy)]
pub struct Params<'a> {
    /// Where the first parameter starts in `data`.
    start: u32,
    /// End offset in `data` of each parameter.
    ends: &'a [u32],
    data: &'a [u8],
}

impl<'a> Params<'a> {
    /// Parameters in `data`: the first starts at `start`, parameter `i` ends at `ends[i]`.
    pub fn new(start: u32, ends: &'a [u32], data: &'a [u8]) -> Self {
        Params { start, ends, data }
    }

    /// Number of parameters the event carries (may differ from the table: older writers
    /// had fewer, newer ones more).
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The raw bytes of parameter `i`.
    #[inline]
    pub fn raw(&self, i: usize) -> Option<&'a [u8]> {
        let end = *self.ends.get(i)? as usize;
        let begin = if i == 0 { self.start as usize } else { self.ends[i - 1] as usize };
        self.data.get(begin..end)
    }

    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        (0..self.len()).filter_map(|i| self.raw(i))
    }

    /// Total parameter bytes.
    pub fn byte_len(&self) -> usize {
        self.ends.last().map_or(0, |&e| (e - self.start) as usize)
    }
}
