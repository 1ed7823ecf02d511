//! Records split over several writes.
//!
//! A record may reach `/dev/null` in pieces (a shell `printf` of a long line, a buffered writer
//! flushing mid-record). A write holding the start of a record is kept for its thread, and the
//! thread's next tracer write is appended to it, unless that write is a whole record on its
//! own. When the pieces together stop making sense the kept bytes are dropped and the new write
//! is read alone, so a broken piece never hides a valid record after it.

use rustc_hash::FxHashMap;

use super::tracer::{MAX_RECORD, Parsed, Tracer, parse};

/// What a write gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It completed a record.
    Tracer(Tracer),
    /// It holds the start of a record, kept for the thread's next write.
    Pending,
    /// It is not a tracer record, and says why.
    Invalid(&'static str),
}

/// The pieces kept per thread.
#[derive(Debug, Default)]
pub struct Fragments {
    pending: FxHashMap<i64, Vec<u8>>,
    /// Kept pieces that were dropped because the next write did not finish them.
    pub dropped: u64,
}

impl Fragments {
    /// Takes a write of `data` by thread `tid`.
    pub fn write(&mut self, tid: i64, data: &[u8]) -> Outcome {
        // Why this write alone is not a record; `None` when it may start one.
        let invalid = match parse(data) {
            Parsed::Tracer(t) => {
                // A whole record on its own is never the rest of an earlier piece.
                if self.pending.remove(&tid).is_some() {
                    self.dropped += 1;
                }
                return Outcome::Tracer(t);
            }
            Parsed::Truncated if data.len() <= MAX_RECORD => None,
            Parsed::Truncated => Some("a record longer than 64 KiB"),
            Parsed::Invalid(why) => Some(why),
        };
        if let Some(mut kept) = self.pending.remove(&tid) {
            kept.extend_from_slice(data);
            match parse(&kept) {
                Parsed::Tracer(t) => return Outcome::Tracer(t),
                Parsed::Truncated if kept.len() <= MAX_RECORD => {
                    self.pending.insert(tid, kept);
                    return Outcome::Pending;
                }
                Parsed::Truncated | Parsed::Invalid(_) => self.dropped += 1,
            }
        }
        match invalid {
            Some(why) => Outcome::Invalid(why),
            None => {
                self.pending.insert(tid, data.to_vec());
                Outcome::Pending
            }
        }
    }

    /// Forgets what thread `tid` had kept (it exited).
    pub fn forget(&mut self, tid: i64) {
        self.pending.remove(&tid);
    }

    /// Whether thread `tid` has a piece waiting for its next write.
    pub fn is_waiting(&self, tid: i64) -> bool {
        self.pending.contains_key(&tid)
    }

    /// Threads with a piece still waiting.
    pub fn waiting(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spans::tracer::Dir;

    fn tags(o: &Outcome) -> String {
        match o {
            Outcome::Tracer(t) => String::from_utf8_lossy(&t.tags.join(b".")).into_owned(),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn a_record_in_two_writes_is_one_tracer() {
        let mut f = Fragments::default();
        assert_eq!(f.write(1, b">:t:frag"), Outcome::Pending);
        assert_eq!(tags(&f.write(1, b"ment::")), "fragment");
        assert_eq!(f.waiting(), 0);
    }

    #[test]
    fn pieces_are_kept_per_thread() {
        let mut f = Fragments::default();
        assert_eq!(f.write(1, b">:t:a"), Outcome::Pending);
        assert_eq!(tags(&f.write(2, b">:t:b::")), "b");
        assert_eq!(tags(&f.write(1, b"b::")), "ab");
    }

    #[test]
    fn a_broken_piece_does_not_hide_the_next_record() {
        let mut f = Fragments::default();
        assert_eq!(f.write(1, b">:0"), Outcome::Pending);
        let o = f.write(1, b"<:t:after::");
        assert!(matches!(&o, Outcome::Tracer(t) if t.dir == Dir::Exit), "{o:?}");
        assert_eq!(f.dropped, 1);

        assert_eq!(f.write(1, b">:t:"), Outcome::Pending);
        assert!(matches!(f.write(1, b"=junk"), Outcome::Invalid(_)));
        assert_eq!(tags(&f.write(1, b">:t:ok::")), "ok");
    }

    #[test]
    fn pieces_stop_growing_at_64_kib() {
        let mut f = Fragments::default();
        assert_eq!(f.write(1, b">:t:"), Outcome::Pending);
        let long = vec![b'x'; 40 * 1024];
        assert_eq!(f.write(1, &long), Outcome::Pending);
        // The two pieces would pass 64 KiB: both go, and this write is read alone.
        assert!(matches!(f.write(1, &long), Outcome::Invalid(_)));
        assert_eq!((f.dropped, f.waiting()), (1, 0));
        let mut big = b">:t:".to_vec();
        big.resize(MAX_RECORD + 1, b'x');
        assert_eq!(f.write(1, &big), Outcome::Invalid("a record longer than 64 KiB"));
    }
}
