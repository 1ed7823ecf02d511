//! The event block codec: events stored column by column.
//!
//! Each block keeps one column per event field (timestamps and thread ids as deltas, CPUs,
//! flags), a small table of event *shapes* (type, parameter count, how each parameter is
//! stored) with one shape number per event, and the parameters split into integers (as
//! varints) and variable-length bytes. Like values sit together, so zstd compresses them far
//! better than whole events in a row, and decoding is a handful of tight loops. Decoding
//! rebuilds each event's parameters as the driver's raw bytes in one buffer per block and hands
//! out [`Event`] views into it. The byte layout is in `FORMAT.md` §5.

use std::collections::HashMap;

use crate::event::{Event, EventHeader, Params};
use crate::table::table;
use crate::wire::{DecodeError, put_u32, put_varint, read_varint, unzigzag, zigzag};

const COLUMNS: usize = 9;
const DIRECTORY_LEN: usize = COLUMNS * 4;

/// Parameters beyond this many in one event are all stored as variable-length.
const MAX_SHAPED_PARAMS: usize = 32;

/// How one parameter of a shape is stored: `VARIABLE` (length in the `lens` column, bytes in
/// the `bytes` column) or an integer width (value in the `ints` column).
const VARIABLE: u8 = 0;

/// A shape: the event type, the parameter count, and how each parameter is stored. Events of
/// one type nearly always share one shape, so a block stores each shape once and every event
/// names its shape with a small number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct ShapeKey {
    code: u16,
    nparams: u16,
    /// Three bits per parameter: 0 variable, 1..=4 for widths 1, 2, 4, 8.
    kinds: u128,
}

fn width_code(width: usize) -> u128 {
    match width {
        1 => 1,
        2 => 2,
        4 => 3,
        8 => 4,
        _ => 0,
    }
}

fn code_width(code: u8) -> Option<u8> {
    match code {
        0 => Some(VARIABLE),
        1 => Some(1),
        2 => Some(2),
        3 => Some(4),
        4 => Some(8),
        _ => None,
    }
}

/// Accumulates events for one block.
#[derive(Debug, Default)]
pub struct EventBlockBuilder {
    count: u32,
    min_ts: u64,
    max_ts: u64,
    prev_ts: u64,
    prev_tid: i64,
    shapes: HashMap<ShapeKey, u32>,
    ts: Vec<u8>,
    tid: Vec<u8>,
    cpu: Vec<u8>,
    flags: Vec<u8>,
    shape: Vec<u8>,
    lens: Vec<u8>,
    ints: Vec<u8>,
    bytes: Vec<u8>,
    /// Bytes the parameters take decoded (for sizing the block).
    param_bytes: usize,
}

/// What the block header needs to know about a finished block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventBlockSummary {
    pub count: u32,
    pub min_ts: u64,
    pub max_ts: u64,
}

/// Sign-extends the little-endian integer in `raw` and zigzags it.
fn int_of(raw: &[u8]) -> u64 {
    match raw.len() {
        1 => u64::from(raw[0]),
        2 => u64::from(u16::from_le_bytes([raw[0], raw[1]])),
        4 => zigzag(i64::from(i32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]))),
        _ => {
            let mut b = [0u8; 8];
            b.copy_from_slice(&raw[..8]);
            zigzag(i64::from_le_bytes(b))
        }
    }
}

/// The inverse of [`int_of`]: appends the `width`-byte integer; `None` if `v` does not fit.
fn put_int(out: &mut Vec<u8>, width: u8, v: u64) -> Option<()> {
    match width {
        1 => out.push(u8::try_from(v).ok()?),
        2 => out.extend_from_slice(&u16::try_from(v).ok()?.to_le_bytes()),
        4 => out.extend_from_slice(&i32::try_from(unzigzag(v)).ok()?.to_le_bytes()),
        _ => out.extend_from_slice(&unzigzag(v).to_le_bytes()),
    }
    Some(())
}

impl EventBlockBuilder {
    pub fn new() -> Self {
        EventBlockBuilder::default()
    }

    pub fn len(&self) -> u32 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Roughly the bytes the events take decoded: what the block size is measured in.
    pub fn raw_size(&self) -> usize {
        self.count as usize * 24 + self.param_bytes
    }

    pub fn push<'p>(&mut self, h: &EventHeader, params: impl IntoIterator<Item = &'p [u8]>) {
        if self.count == 0 {
            (self.min_ts, self.max_ts) = (h.ts, h.ts);
        } else {
            self.min_ts = self.min_ts.min(h.ts);
            self.max_ts = self.max_ts.max(h.ts);
        }
        put_varint(&mut self.ts, zigzag(h.ts.wrapping_sub(self.prev_ts) as i64));
        put_varint(&mut self.tid, zigzag(h.tid.wrapping_sub(self.prev_tid)));
        put_varint(&mut self.cpu, u64::from(h.cpu));
        put_varint(&mut self.flags, u64::from(h.flags));

        // Integers go to the `ints` column when the event table says the parameter has that
        // fixed width; the choice is recorded in the shape, so reading needs no table.
        let info = table().get(h.code);
        let mut key = ShapeKey { code: h.code, nparams: 0, kinds: 0 };
        for (i, p) in params.into_iter().enumerate() {
            let fixed = info
                .and_then(|e| e.params.get(i))
                .and_then(|pi| pi.kind.fixed_size())
                .filter(|&w| w == p.len() && i < MAX_SHAPED_PARAMS);
            let kind = fixed.map_or(0, width_code);
            if kind == 0 {
                put_varint(&mut self.lens, p.len() as u64);
                self.bytes.extend_from_slice(p);
            } else {
                put_varint(&mut self.ints, int_of(p));
            }
            if i < MAX_SHAPED_PARAMS {
                key.kinds |= kind << (3 * i);
            }
            key.nparams = key.nparams.saturating_add(1);
            self.param_bytes += p.len();
        }
        let next = self.shapes.len() as u32;
        let id = *self.shapes.entry(key).or_insert(next);
        put_varint(&mut self.shape, u64::from(id));
        self.prev_ts = h.ts;
        self.prev_tid = h.tid;
        self.count += 1;
    }

    /// Writes the payload into `out` (cleared first) and resets the builder for reuse.
    pub fn finish_into(&mut self, out: &mut Vec<u8>) -> EventBlockSummary {
        let mut shapes: Vec<(ShapeKey, u32)> = self.shapes.drain().collect();
        shapes.sort_by_key(|(_, id)| *id);
        let mut table = Vec::new();
        put_varint(&mut table, shapes.len() as u64);
        for (key, _) in &shapes {
            put_varint(&mut table, u64::from(key.code));
            put_varint(&mut table, u64::from(key.nparams));
            for i in 0..usize::from(key.nparams).min(MAX_SHAPED_PARAMS) {
                table.push(((key.kinds >> (3 * i)) & 7) as u8);
            }
        }
        out.clear();
        let columns = [
            &mut self.ts,
            &mut self.tid,
            &mut self.cpu,
            &mut self.flags,
            &mut table,
            &mut self.shape,
            &mut self.lens,
            &mut self.ints,
            &mut self.bytes,
        ];
        out.reserve(DIRECTORY_LEN + columns.iter().map(|c| c.len()).sum::<usize>());
        for c in &columns {
            put_u32(out, c.len() as u32);
        }
        for c in columns {
            out.extend_from_slice(c);
            c.clear();
        }
        let summary =
            EventBlockSummary { count: self.count, min_ts: self.min_ts, max_ts: self.max_ts };
        (self.count, self.prev_ts, self.prev_tid, self.param_bytes) = (0, 0, 0, 0);
        summary
    }
}

/// One shape as read from a block: the event code and the storage of each parameter.
#[derive(Debug, Clone)]
struct Shape {
    code: u16,
    /// Per parameter: `VARIABLE` or an integer width.
    widths: Vec<u8>,
}

/// A decoded event block: columns of fixed fields plus the parameter bytes.
#[derive(Debug, Default)]
pub struct EventBlock {
    first_event: u64,
    ts: Vec<u64>,
    tid: Vec<i64>,
    cpu: Vec<u16>,
    code: Vec<u16>,
    flags: Vec<u32>,
    /// Index into `ends` of each event's first parameter; one extra entry at the end.
    first_param: Vec<u32>,
    /// End offset of every parameter in `data`.
    ends: Vec<u32>,
    data: Vec<u8>,
}

fn column<'a>(raw: &'a [u8], at: &mut usize, len: u32) -> &'a [u8] {
    let start = *at;
    *at += len as usize;
    &raw[start..*at]
}

/// Decodes `n` varints from `col` into `out` through `f`; the column must hold exactly them.
#[inline]
fn varints<T>(
    col: &[u8],
    n: usize,
    out: &mut Vec<T>,
    what: &'static str,
    base: usize,
    mut f: impl FnMut(u64) -> T,
) -> Result<(), DecodeError> {
    out.clear();
    out.reserve(n.min(col.len()));
    let mut pos = 0;
    for _ in 0..n {
        let (v, used) = match col.get(pos..).and_then(read_varint) {
            Some(x) => x,
            None => return Err(DecodeError { offset: base + pos, what }),
        };
        pos += used;
        out.push(f(v));
    }
    if pos != col.len() {
        return Err(DecodeError { offset: base + pos, what });
    }
    Ok(())
}

/// A forward reader over one varint column.
struct VarintColumn<'a> {
    col: &'a [u8],
    pos: usize,
    base: usize,
    what: &'static str,
}

impl VarintColumn<'_> {
    #[inline]
    fn next(&mut self) -> Result<u64, DecodeError> {
        match self.col.get(self.pos..).and_then(read_varint) {
            Some((v, used)) => {
                self.pos += used;
                Ok(v)
            }
            None => Err(DecodeError { offset: self.base + self.pos, what: self.what }),
        }
    }

    fn finish(&self) -> Result<(), DecodeError> {
        if self.pos == self.col.len() {
            Ok(())
        } else {
            Err(DecodeError { offset: self.base + self.pos, what: self.what })
        }
    }
}

fn read_shapes(col: &[u8], base: usize) -> Result<Vec<Shape>, DecodeError> {
    let err = |pos: usize| DecodeError { offset: base + pos, what: "shape table" };
    let mut c = VarintColumn { col, pos: 0, base, what: "shape table" };
    let n = c.next()?;
    if n > col.len() as u64 {
        return Err(err(0));
    }
    let mut shapes = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let code = u16::try_from(c.next()?).map_err(|_| err(c.pos))?;
        let nparams = c.next()?;
        if nparams > u64::from(u16::MAX) {
            return Err(err(c.pos));
        }
        let nparams = nparams as usize;
        let shaped = nparams.min(MAX_SHAPED_PARAMS);
        let kinds = col.get(c.pos..c.pos + shaped).ok_or_else(|| err(c.pos))?;
        let mut widths = Vec::with_capacity(nparams);
        for &k in kinds {
            widths.push(code_width(k).ok_or_else(|| err(c.pos))?);
        }
        widths.resize(nparams, VARIABLE);
        c.pos += shaped;
        shapes.push(Shape { code, widths });
    }
    c.finish()?;
    Ok(shapes)
}

impl EventBlock {
    /// Decodes a raw (decompressed) event payload holding `count` events, the first of which
    /// is event number `first_event` of the capture.
    pub fn decode(raw: Vec<u8>, count: u32, first_event: u64) -> Result<EventBlock, DecodeError> {
        let mut block = EventBlock { first_event, ..EventBlock::default() };
        block.fill_from(&raw, count as usize)?;
        Ok(block)
    }

    /// [`decode`](EventBlock::decode) into this block, keeping its allocations: a reader that
    /// goes through the blocks one at a time allocates (and the kernel zeroes) nothing new per
    /// block.
    pub fn decode_into(
        &mut self,
        raw: &[u8],
        count: u32,
        first_event: u64,
    ) -> Result<(), DecodeError> {
        self.first_event = first_event;
        self.fill_from(raw, count as usize)
    }

    fn fill_from(&mut self, raw: &[u8], n: usize) -> Result<(), DecodeError> {
        if raw.len() < DIRECTORY_LEN {
            return Err(DecodeError { offset: 0, what: "column directory" });
        }
        let mut lens = [0u32; COLUMNS];
        let mut total = DIRECTORY_LEN as u64;
        for (i, l) in lens.iter_mut().enumerate() {
            let mut b = [0u8; 4];
            b.copy_from_slice(&raw[i * 4..i * 4 + 4]);
            *l = u32::from_le_bytes(b);
            total += u64::from(*l);
        }
        if total != raw.len() as u64 {
            return Err(DecodeError { offset: 0, what: "column lengths do not add up" });
        }
        // Every event takes at least a byte in each of the first columns.
        if n > raw.len() {
            return Err(DecodeError { offset: 0, what: "event count exceeds the payload" });
        }
        let mut at = DIRECTORY_LEN;
        let mut prev_ts = 0u64;
        let col = column(raw, &mut at, lens[0]);
        varints(col, n, &mut self.ts, "timestamp column", at - col.len(), |v| {
            prev_ts = prev_ts.wrapping_add(unzigzag(v) as u64);
            prev_ts
        })?;
        let mut prev_tid = 0i64;
        let col = column(raw, &mut at, lens[1]);
        varints(col, n, &mut self.tid, "thread column", at - col.len(), |v| {
            prev_tid = prev_tid.wrapping_add(unzigzag(v));
            prev_tid
        })?;
        let col = column(raw, &mut at, lens[2]);
        varints(col, n, &mut self.cpu, "cpu column", at - col.len(), |v| v as u16)?;
        let col = column(raw, &mut at, lens[3]);
        varints(col, n, &mut self.flags, "flags column", at - col.len(), |v| v as u32)?;

        let col = column(raw, &mut at, lens[4]);
        let shapes = read_shapes(col, at - col.len())?;
        let col = column(raw, &mut at, lens[5]);
        let mut shape = VarintColumn { col, pos: 0, base: at - col.len(), what: "shape column" };
        let col = column(raw, &mut at, lens[6]);
        let mut var_lens =
            VarintColumn { col, pos: 0, base: at - col.len(), what: "length column" };
        let col = column(raw, &mut at, lens[7]);
        let mut ints = VarintColumn { col, pos: 0, base: at - col.len(), what: "integer column" };
        let bytes_at = at;
        let bytes = column(raw, &mut at, lens[8]);

        self.code.clear();
        self.code.reserve(n);
        self.first_param.clear();
        self.first_param.reserve(n + 1);
        self.ends.clear();
        self.data.clear();
        self.data.reserve(lens[7] as usize * 4 + bytes.len());
        let mut taken = 0usize;
        for _ in 0..n {
            let at = shape.base + shape.pos;
            let id = shape.next()?;
            let s =
                shapes.get(id as usize).ok_or(DecodeError { offset: at, what: "shape number" })?;
            self.code.push(s.code);
            self.first_param.push(self.ends.len() as u32);
            for &w in &s.widths {
                if w == VARIABLE {
                    let len = var_lens.next()? as usize;
                    let Some(b) = bytes.get(taken..taken.saturating_add(len)) else {
                        return Err(DecodeError {
                            offset: bytes_at + taken,
                            what: "parameter bytes",
                        });
                    };
                    self.data.extend_from_slice(b);
                    taken += len;
                } else {
                    let at = ints.base + ints.pos;
                    let v = ints.next()?;
                    put_int(&mut self.data, w, v)
                        .ok_or(DecodeError { offset: at, what: "integer too wide" })?;
                }
                if self.data.len() > u32::MAX as usize {
                    return Err(DecodeError { offset: bytes_at, what: "parameters too large" });
                }
                self.ends.push(self.data.len() as u32);
            }
        }
        self.first_param.push(self.ends.len() as u32);
        shape.finish()?;
        var_lens.finish()?;
        ints.finish()?;
        if taken != bytes.len() {
            return Err(DecodeError {
                offset: bytes_at + taken,
                what: "parameter bytes left over",
            });
        }
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.ts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    /// Ordinal of this block's first event in the capture.
    pub fn first_event(&self) -> u64 {
        self.first_event
    }

    /// Event `i` of the block.
    #[inline]
    pub fn event(&self, i: usize) -> Event<'_> {
        let (p0, p1) = (self.first_param[i] as usize, self.first_param[i + 1] as usize);
        let start = if p0 == 0 { 0 } else { self.ends[p0 - 1] };
        Event {
            num: self.first_event + i as u64,
            header: EventHeader {
                ts: self.ts[i],
                tid: self.tid[i],
                cpu: self.cpu[i],
                code: self.code[i],
                flags: self.flags[i],
            },
            params: Params::new(start, &self.ends[p0..p1], &self.data),
        }
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = Event<'_>> + '_ {
        (0..self.len()).map(|i| self.event(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_through_columns() {
        let mut b = EventBlockBuilder::new();
        let events = [
            (EventHeader { ts: 100, tid: 7, cpu: 1, code: 3, flags: 0 }, vec![&b"ab"[..], b""]),
            (EventHeader { ts: 90, tid: -1, cpu: 0, code: 324, flags: 1 }, vec![&b"{}"[..]]),
            (EventHeader { ts: u64::MAX, tid: i64::MIN, cpu: 65535, code: 0, flags: 9 }, vec![]),
        ];
        for (h, p) in &events {
            b.push(h, p.iter().copied());
        }
        let mut raw = Vec::new();
        let s = b.finish_into(&mut raw);
        assert_eq!((s.count, s.min_ts, s.max_ts), (3, 90, u64::MAX));
        let block = EventBlock::decode(raw, 3, 40).unwrap();
        for (i, (h, p)) in events.iter().enumerate() {
            let e = block.event(i);
            assert_eq!(e.num, 40 + i as u64);
            assert_eq!(&e.header, h);
            assert_eq!(e.params.iter().collect::<Vec<_>>(), *p);
        }
    }

    #[test]
    fn wrong_count_is_a_decode_error() {
        let mut b = EventBlockBuilder::new();
        b.push(&EventHeader::default(), [&b"x"[..]]);
        let mut raw = Vec::new();
        b.finish_into(&mut raw);
        assert!(EventBlock::decode(raw.clone(), 2, 0).is_err());
        assert!(EventBlock::decode(raw, 0, 0).is_err());
    }
}
