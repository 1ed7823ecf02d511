//! Pairing: enter and exit records into spans, with each span's parent.
//!
//! An exit closes the most recently opened span with the same id and the same tag list
//! (last in, first out), whatever thread or process wrote either: two processes that agree on
//! an id can open and close one span between them. A span's parent is the innermost open span
//! with the same id whose tags are its own minus the last (`db` for `db.query`).
//!
//! Unlike sysdig, which kept at most 128 open spans and silently dropped them all when a 129th
//! came, open spans are not limited: those still open when the capture ends, and exits that had
//! no enter, are kept and reported as such.
//!
//! Tag lists are interned as *paths* (the packed bytes of a [`Packed`] list), so pairing an
//! event costs one hash of its tags and one of (id, path).

use rustc_hash::FxHashMap;

use super::tracer::{Dir, Packed, PackedIter};

/// A tag list, interned: its number in [`Paths`].
pub type PathId = u32;

/// A span's number: its place in [`Pairer::spans`], in the order spans were opened.
pub type SpanId = u32;

/// Every tag list seen, each with its parent list (one tag fewer).
#[derive(Debug, Default)]
pub struct Paths {
    ids: FxHashMap<Box<[u8]>, PathId>,
    paths: Vec<Path>,
}

/// One interned tag list.
#[derive(Debug)]
pub struct Path {
    pub tags: Packed,
    pub ntags: u32,
    /// The list without its last tag; `None` for the empty list.
    pub parent: Option<PathId>,
}

impl Paths {
    /// The id of the list whose packed bytes are `packed`, interning it (and its ancestors)
    /// when new.
    pub fn intern(&mut self, packed: &[u8]) -> PathId {
        if let Some(&id) = self.ids.get(packed) {
            return id;
        }
        let tags = Packed::from_bytes(packed);
        let ntags = tags.len() as u32;
        let parent = tags.iter().last().map(|last| {
            let cut = packed.len() - last.len() - 4;
            self.intern(&packed[..cut])
        });
        let id = self.paths.len() as PathId;
        self.paths.push(Path { tags, ntags, parent });
        self.ids.insert(packed.into(), id);
        id
    }

    pub fn path(&self, id: PathId) -> &Path {
        &self.paths[id as usize]
    }

    pub fn len(&self) -> usize {
        self.paths.len()
    }

    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }
}

/// Where and when a record was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    /// Capture time, ns since the epoch.
    pub ts: u64,
    /// The event's number in the capture.
    pub event: u64,
    pub tid: i64,
}

/// A record's arguments, kept in the pairer's arena (most records have none, and a span
/// table of millions should not hold a buffer per record): see [`Pairer::args`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Args {
    start: usize,
    len: u32,
}

/// One span: an enter, an exit, or both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub id: i64,
    pub path: PathId,
    /// `None` for an exit that had no enter.
    pub enter: Option<Mark>,
    /// `None` while open (and at the end, for a span never closed).
    pub exit: Option<Mark>,
    pub enter_args: Args,
    pub exit_args: Args,
    pub parent: Option<SpanId>,
}

impl Span {
    /// Exit time minus enter time, once both are known.
    pub fn duration(&self) -> Option<u64> {
        Some(self.exit.as_ref()?.ts.saturating_sub(self.enter.as_ref()?.ts))
    }
}

/// Pairs records as they come, in capture order.
#[derive(Debug, Default)]
pub struct Pairer {
    pub paths: Paths,
    pub spans: Vec<Span>,
    /// The packed arguments of every record that had some.
    args: Vec<u8>,
    /// The open spans of each (id, path), innermost last.
    open: FxHashMap<(i64, PathId), Vec<SpanId>>,
}

impl Pairer {
    /// Takes one record, with its packed arguments: opens a span, or closes the span it
    /// matches (or makes an exit-only one). Returns the span's number.
    pub fn record(&mut self, dir: Dir, id: i64, tags: &Packed, args: &[u8], mark: Mark) -> SpanId {
        let path = self.paths.intern(tags.as_bytes());
        let args = self.keep(args);
        if dir == Dir::Exit {
            if let Some(span) = self.open.get_mut(&(id, path)).and_then(Vec::pop) {
                let s = &mut self.spans[span as usize];
                (s.exit, s.exit_args) = (Some(mark), args);
                return span;
            }
        }

        let parent = self.innermost(id, self.paths.path(path).parent);
        let mut span = Span {
            id,
            path,
            enter: None,
            exit: None,
            enter_args: Args::default(),
            exit_args: Args::default(),
            parent,
        };
        if dir == Dir::Enter {
            (span.enter, span.enter_args) = (Some(mark), args);
        } else {
            (span.exit, span.exit_args) = (Some(mark), args);
        }
        self.spans.push(span);
        let number = (self.spans.len() - 1) as SpanId;
        if dir == Dir::Enter {
            self.open.entry((id, path)).or_default().push(number);
        }
        number
    }

    fn keep(&mut self, args: &[u8]) -> Args {
        let start = self.args.len();
        self.args.extend_from_slice(args);
        Args { start, len: args.len() as u32 }
    }

    /// The arguments `args` refers to: name, value, name, value, ...
    pub fn args(&self, args: Args) -> PackedIter<'_> {
        PackedIter::of(self.args_bytes(args))
    }

    /// The same, packed (see [`Packed::as_bytes`]).
    pub fn args_bytes(&self, args: Args) -> &[u8] {
        &self.args[args.start..args.start + args.len as usize]
    }

    /// The innermost open span of `id` with tag list `path`.
    fn innermost(&self, id: i64, path: Option<PathId>) -> Option<SpanId> {
        self.open.get(&(id, path?))?.last().copied()
    }

    /// The spans open now, in no particular order.
    pub fn open_spans(&self) -> impl Iterator<Item = SpanId> + '_ {
        self.open.values().flatten().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(path: &str) -> Packed {
        let mut p = Packed::default();
        for t in path.split('.').filter(|t| !t.is_empty()) {
            p.push(t.as_bytes());
        }
        p
    }

    fn at(ts: u64) -> Mark {
        Mark { ts, event: ts, tid: 1 }
    }

    #[test]
    fn nested_spans_pair_with_their_parents() {
        let mut p = Pairer::default();
        let root = p.record(Dir::Enter, 7, &tags("root"), b"", at(100));
        let child = p.record(Dir::Enter, 7, &tags("root.child"), b"", at(200));
        assert_eq!(p.record(Dir::Exit, 7, &tags("root.child"), b"", at(1000)), child);
        assert_eq!(p.record(Dir::Exit, 7, &tags("root"), b"", at(1700)), root);
        assert_eq!(p.spans[child as usize].parent, Some(root));
        assert_eq!(p.spans[child as usize].duration(), Some(800));
        assert_eq!(p.spans[root as usize].duration(), Some(1600));
        assert_eq!(p.paths.path(p.spans[child as usize].path).ntags, 2);
    }

    #[test]
    fn each_side_keeps_its_own_arguments() {
        let mut args = Packed::default();
        for item in ["a", "1", "b", "xyz"] {
            args.push(item.as_bytes());
        }
        let mut p = Pairer::default();
        let s = p.record(Dir::Enter, 7, &tags("x"), args.as_bytes(), at(0));
        p.record(Dir::Exit, 7, &tags("x"), b"", at(1));
        let s = &p.spans[s as usize];
        assert_eq!(p.args(s.enter_args).collect::<Vec<_>>(), [&b"a"[..], b"1", b"b", b"xyz"]);
        assert_eq!(p.args(s.exit_args).count(), 0);
    }

    #[test]
    fn equal_spans_close_last_in_first_out() {
        let mut p = Pairer::default();
        let outer = p.record(Dir::Enter, 1, &tags("dupe"), b"", at(0));
        let inner = p.record(Dir::Enter, 1, &tags("dupe"), b"", at(400));
        assert_eq!(p.record(Dir::Exit, 1, &tags("dupe"), b"", at(800)), inner);
        assert_eq!(p.record(Dir::Exit, 1, &tags("dupe"), b"", at(1200)), outer);
        assert_eq!(p.spans[outer as usize].duration(), Some(1200));
    }

    #[test]
    fn ids_and_tag_lists_must_both_match() {
        let mut p = Pairer::default();
        let a = p.record(Dir::Enter, 1, &tags("a"), b"", at(0));
        let other_id = p.record(Dir::Exit, 2, &tags("a"), b"", at(5));
        let other_tags = p.record(Dir::Exit, 1, &tags("a.b"), b"", at(6));
        assert_ne!(other_id, a);
        assert_ne!(other_tags, a);
        assert_eq!(p.spans[other_id as usize].enter, None);
        assert_eq!(p.spans[other_tags as usize].parent, Some(a));
        assert_eq!(p.spans[a as usize].exit, None);
        assert_eq!(p.open_spans().collect::<Vec<_>>(), [a]);
    }

    #[test]
    fn a_tag_with_a_dot_is_not_two_tags() {
        let mut one = Packed::default();
        one.push(b"a.b");
        let mut p = Pairer::default();
        let s = p.record(Dir::Enter, 0, &one, b"", at(0));
        assert_ne!(p.record(Dir::Exit, 0, &tags("a.b"), b"", at(1)), s);
    }
}
