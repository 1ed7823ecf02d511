//! Building a large capture out of a real one, for benchmarks.
//!
//! [`repeat`] writes `copies` back-to-back replicas of a capture into one new file, as if
//! `copies` copies of the recorded machine had run one after another on one host: copy `k`
//! has its timestamps moved past the end of copy `k - 1` and every thread and process id
//! moved up by `k` × [`ID_STRIDE`] (the kernel's largest `pid_max`), in the event header, in
//! every parameter typed as a pid, and in the thread and fd tables. The copies' starting
//! state (threads and fds of every copy) is written once, up front, so that a reader such as
//! sysdig, which takes the machine's state from the head of the file, knows every copy's
//! processes. Containers, users, interfaces and the machine are shared: they are written from
//! the first copy only.
//!
//! The result is real traffic at any size, with the rule-relevant shape of the original:
//! the same processes doing the same things, in distinct id ranges.

use std::path::Path;

use crate::block::FLAG_DERIVED;
use crate::param::ParamType;
use crate::reader::Capture;
use crate::sign::SigningKey;
use crate::state::{FdTable, State, Thread};
use crate::table::table;
use crate::{BlockKind, Error, EventHeader, Metadata, WriteSummary, Writer, WriterOptions};

/// How far apart the id ranges of two copies are: `pid_max`'s ceiling on 64-bit Linux (2^22).
pub const ID_STRIDE: i64 = 1 << 22;

/// Gap between the last event of one copy and the first of the next, in ns.
const GAP_NS: u64 = 1_000_000;

/// Writes `copies` replicas of `source` to `dst` (see the module doc).
pub fn repeat(
    source: &Capture,
    copies: u32,
    dst: &Path,
    options: WriterOptions,
    key: Option<&SigningKey>,
) -> Result<WriteSummary, Error> {
    let copies = copies.max(1);
    let meta = source.metadata();
    let (first, last) = time_range(source);
    let span = last.saturating_sub(first) + GAP_NS;
    let metadata = Metadata {
        source: format!("repeat:{}x {}", copies, meta.source),
        extra: [
            meta.extra.clone(),
            vec![("repeat.copies".into(), copies.to_string())],
            vec![("repeat.id_stride".into(), ID_STRIDE.to_string())],
        ]
        .concat(),
        ..meta.clone()
    };
    let mut w = Writer::create(dst, &metadata, options)?;

    // The leading state blocks (before the first event block), merged over all copies.
    let blocks = source.blocks();
    let lead = blocks.iter().take_while(|e| e.header.kind != BlockKind::Events).count();
    let mut head: Vec<State> = Vec::new();
    for k in 0..copies {
        for entry in &blocks[..lead] {
            let Some(Ok(state)) = source.decode_state(entry) else { continue };
            if let Some(s) = shift_state(state, k) {
                merge(&mut head, s);
            }
        }
    }
    for s in &head {
        w.state(s)?;
    }

    let mut params: Vec<Vec<u8>> = Vec::new();
    for k in 0..copies {
        let dt = u64::from(k) * span;
        for entry in &blocks[lead..] {
            if entry.header.kind.is_state() {
                if let Some(Ok(state)) = source.decode_state(entry)
                    && let Some(s) = shift_state(state, k)
                {
                    if entry.header.flags & FLAG_DERIVED != 0 {
                        w.derived_state(&s)?;
                    } else {
                        w.state(&s)?;
                    }
                }
                continue;
            }
            if entry.header.kind != BlockKind::Events {
                continue;
            }
            let block = source
                .decode_events(entry)
                .map_err(|damage| Error::Block { path: source.path().into(), damage })?;
            for ev in block.iter() {
                let h = ev.header;
                let ts = if h.ts > 0 { h.ts + dt } else { 0 };
                let header = EventHeader { ts, tid: shift_id(h.tid, k), ..h };
                params.clear();
                let kinds = table().get(h.code).map(|i| &i.params);
                for (i, raw) in ev.params.iter().enumerate() {
                    let kind = kinds.and_then(|p| p.get(i)).map(|p| p.kind);
                    params.push(shift_param(kind, raw, k));
                }
                w.push(&header, params.iter().map(Vec::as_slice))?;
            }
        }
    }
    w.finish(key)
}

/// First and last event timestamps of a capture (meta events stamped 0 aside).
fn time_range(c: &Capture) -> (u64, u64) {
    let mut range = (u64::MAX, 0);
    for entry in c.event_entries() {
        let Ok(block) = c.decode_events(entry) else { continue };
        for ev in block.iter().filter(|e| e.ts() > 0) {
            range = (range.0.min(ev.ts()), range.1.max(ev.ts()));
        }
    }
    if range.0 > range.1 { (0, 0) } else { range }
}

fn shift_id(id: i64, k: u32) -> i64 {
    if id > 0 { id + i64::from(k) * ID_STRIDE } else { id }
}

fn shift_param(kind: Option<ParamType>, raw: &[u8], k: u32) -> Vec<u8> {
    match kind {
        Some(ParamType::Pid) => {
            if let Ok(b) = <[u8; 8]>::try_from(raw) {
                return shift_id(i64::from_le_bytes(b), k).to_le_bytes().to_vec();
            }
        }
        Some(ParamType::Pid32) => {
            if let Ok(b) = <[u8; 4]>::try_from(raw) {
                let v = i32::from_le_bytes(b);
                let shifted = i32::try_from(shift_id(i64::from(v), k)).unwrap_or(v);
                return shifted.to_le_bytes().to_vec();
            }
        }
        _ => {}
    }
    raw.to_vec()
}

/// The state of copy `k`, or `None` for state shared with copy 0 (written once).
fn shift_state(state: State, k: u32) -> Option<State> {
    let shift_thread = |t: Thread| {
        let host_ns = t.vtid == t.tid;
        let mut t = Thread {
            tid: shift_id(t.tid, k),
            pid: shift_id(t.pid, k),
            ptid: shift_id(t.ptid, k),
            sid: shift_id(t.sid, k),
            pgid: shift_id(t.pgid, k),
            ..t
        };
        if host_ns {
            (t.vtid, t.vpid, t.vpgid) = (t.tid, t.pid, t.pgid);
        }
        t
    };
    match state {
        State::Threads(t) => Some(State::Threads(t.into_iter().map(shift_thread).collect())),
        State::Fds(f) => Some(State::Fds(
            f.into_iter().map(|t| FdTable { tid: shift_id(t.tid, k), ..t }).collect(),
        )),
        State::Drops(d) => Some(State::Drops(d)),
        other if k == 0 => Some(other),
        _ => None,
    }
}

/// Adds `s` to the block of its kind in `head`, or appends it.
fn merge(head: &mut Vec<State>, s: State) {
    for h in head.iter_mut() {
        match (h, &s) {
            (State::Threads(a), State::Threads(b)) => a.extend(b.iter().cloned()),
            (State::Fds(a), State::Fds(b)) => a.extend(b.iter().cloned()),
            _ => continue,
        }
        return;
    }
    head.push(s);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_follow_each_other_in_time_with_their_own_ids() {
        let dir = tempfile::tempdir().unwrap();
        let (src, dst) = (dir.path().join("src.dcap"), dir.path().join("big.dcap"));
        crate::synth::write_capture(&src, 5_000, 3, WriterOptions::default(), None).unwrap();
        let source = Capture::open(&src).unwrap();
        repeat(&source, 3, &dst, WriterOptions::default(), None).unwrap();
        let big = Capture::open(&dst).unwrap();
        assert_eq!(big.event_count(), 3 * source.event_count());

        let events = |c: &Capture| -> Vec<(u64, i64, u16)> {
            let mut out = Vec::new();
            for entry in c.event_entries() {
                let block = c.decode_events(entry).unwrap();
                out.extend(block.iter().map(|e| (e.ts(), e.tid(), e.code())));
            }
            out
        };
        let (one, all) = (events(&source), events(&big));
        let n = one.len();
        let (first, last) = time_range(&source);
        for k in 0..3u32 {
            for (a, b) in one.iter().zip(&all[k as usize * n..]) {
                assert_eq!(b.2, a.2);
                assert_eq!(b.1, shift_id(a.1, k));
                assert_eq!(b.0, a.0 + u64::from(k) * (last - first + GAP_NS));
            }
        }
        assert!(all.windows(2).filter(|w| w[1].0 < w[0].0).count() < n, "copies overlap");

        // Every copy's threads are known from the start, under their own ids.
        let mut tids = std::collections::HashSet::new();
        for (_, s) in big.states() {
            if let Ok(State::Threads(ts)) = s {
                tids.extend(ts.iter().map(|t| t.tid));
            }
        }
        let one_tid = all[0].1;
        for k in 0..3 {
            assert!(tids.contains(&shift_id(one_tid, k)), "copy {k}");
        }
    }
}
