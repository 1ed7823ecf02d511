//! The event block codec: events stored column by column.
//!
//! Each block keeps one column per event field (timestamps as deltas, thread ids as deltas,
//! CPUs, types, flags, parameter counts, parameter lengths, parameter bytes). Like values sit
//! together, so zstd compresses them far better than whole events in a row, and decoding is a
//! handful of tight loops. Decoding keeps the parameter bytes where decompression left them
//! and hands out [`Event`] views into them. The byte layout is in `FORMAT.md` §5.

use crate::event::{Event, EventHeader, Params};
use crate::wire::{DecodeError, put_u16, put_u32, put_varint, read_varint, unzigzag, zigzag};

const COLUMNS: usize = 8;
const DIRECTORY_LEN: usize = COLUMNS * 4;

/// Accumulates events for one block.
#[derive(Debug, Default)]
pub struct EventBlockBuilder {
    count: u32,
    min_ts: u64,
    max_ts: u64,
    prev_ts: u64,
    prev_tid: i64,
    ts: Vec<u8>,
    tid: Vec<u8>,
    cpu: Vec<u8>,
    code: Vec<u8>,
    flags: Vec<u8>,
    nparams: Vec<u8>,
    lens: Vec<u8>,
    data: Vec<u8>,
}

/// What the block header needs to know about a finished block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventBlockSummary {
    pub count: u32,
    pub min_ts: u64,
    pub max_ts: u64,
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

    /// Bytes the payload would take now, uncompressed.
    pub fn raw_size(&self) -> usize {
        DIRECTORY_LEN
            + self.ts.len()
            + self.tid.len()
            + self.cpu.len()
            + self.code.len()
            + self.flags.len()
            + self.nparams.len()
            + self.lens.len()
            + self.data.len()
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
        put_u16(&mut self.code, h.code);
        put_varint(&mut self.flags, u64::from(h.flags));
        let mut n = 0u64;
        for p in params {
            put_varint(&mut self.lens, p.len() as u64);
            self.data.extend_from_slice(p);
            n += 1;
        }
        put_varint(&mut self.nparams, n);
        self.prev_ts = h.ts;
        self.prev_tid = h.tid;
        self.count += 1;
    }

    /// Writes the payload into `out` (cleared first) and resets the builder for reuse.
    pub fn finish_into(&mut self, out: &mut Vec<u8>) -> EventBlockSummary {
        out.clear();
        out.reserve(self.raw_size());
        let columns = [
            &mut self.ts,
            &mut self.tid,
            &mut self.cpu,
            &mut self.code,
            &mut self.flags,
            &mut self.nparams,
            &mut self.lens,
            &mut self.data,
        ];
        for c in &columns {
            put_u32(out, c.len() as u32);
        }
        for c in columns {
            out.extend_from_slice(c);
            c.clear();
        }
        let summary =
            EventBlockSummary { count: self.count, min_ts: self.min_ts, max_ts: self.max_ts };
        (self.count, self.prev_ts, self.prev_tid) = (0, 0, 0);
        summary
    }
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
    /// End offset of every parameter in `raw[data_at..]`.
    ends: Vec<u32>,
    raw: Vec<u8>,
    data_at: usize,
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
    out.reserve(n);
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

impl EventBlock {
    /// Decodes a raw (decompressed) event payload holding `count` events, the first of which
    /// is event number `first_event` of the capture.
    pub fn decode(raw: Vec<u8>, count: u32, first_event: u64) -> Result<EventBlock, DecodeError> {
        let mut block = EventBlock { raw, ..EventBlock::default() };
        block.fill(count, first_event)?;
        Ok(block)
    }

    fn fill(&mut self, count: u32, first_event: u64) -> Result<(), DecodeError> {
        let n = count as usize;
        let raw = std::mem::take(&mut self.raw);
        let result = self.fill_from(&raw, n);
        self.raw = raw;
        self.first_event = first_event;
        result
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
        if col.len() != n * 2 {
            return Err(DecodeError { offset: at - col.len(), what: "type column" });
        }
        self.code.clear();
        self.code.extend(col.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])));

        let col = column(raw, &mut at, lens[4]);
        varints(col, n, &mut self.flags, "flags column", at - col.len(), |v| v as u32)?;

        let col = column(raw, &mut at, lens[5]);
        let mut next = 0u64;
        varints(col, n, &mut self.first_param, "parameter count column", at - col.len(), |v| {
            let first = next;
            next = next.saturating_add(v);
            first.min(u64::from(u32::MAX)) as u32
        })?;
        let nparams = next;

        let lens_col = column(raw, &mut at, lens[6]);
        let lens_at = at - lens_col.len();
        self.data_at = at;
        let data_len = lens[7] as u64;
        if nparams > lens_col.len() as u64 {
            return Err(DecodeError { offset: lens_at, what: "parameter count exceeds lengths" });
        }
        self.first_param.push(nparams as u32);
        let mut end = 0u64;
        varints(
            lens_col,
            nparams as usize,
            &mut self.ends,
            "parameter length column",
            lens_at,
            |v| {
                end = end.saturating_add(v);
                end.min(u64::from(u32::MAX)) as u32
            },
        )?;
        if end != data_len {
            return Err(DecodeError {
                offset: self.data_at,
                what: "parameter bytes do not add up",
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
            params: Params::new(start, &self.ends[p0..p1], &self.raw[self.data_at..]),
        }
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = Event<'_>> + '_ {
        (0..self.len()).map(|i| self.event(i))
    }

    /// Gives back the decompression buffer for reuse.
    pub fn into_buffer(self) -> Vec<u8> {
        self.raw
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
