//! Tracer records: the short markers an application writes to `/dev/null` to say where a
//! piece of its own work (a request, a query, a job) starts and ends.
//!
//! A record is one write. Its first byte picks the form:
//!
//! - text: `>:ID:TAGS:ARGS:` opens a span, `<:ID:TAGS:ARGS:` closes one. `TAGS` is a
//!   `.`-separated path (`db.query`), `ARGS` are `name=value` pairs separated by `,`, and `\`
//!   takes the next byte literally anywhere. Bytes after the closing `:` (echo's newline) are
//!   ignored.
//! - JSON: `[">", ID, ["tag", ...], [{"name": "value"}, ...]]`.
//!
//! `ID` is a number, or resolved against the writing thread: `t` (its tid), `p` (its pid), `pp`
//! (its parent's pid), `g` or empty (0). A record that stops before its end is *truncated*:
//! the caller keeps it and tries again with the thread's next write appended.
//!
//! Where dredge parses differently from sysdig's tracer parser (libs up to 0.13), on purpose:
//! ids and tags may start with the digit `0` (`>:0123:x::` is id 123; sysdig took such a record
//! for an unfinished one and stopped decoding that thread for good), and JSON strings have their
//! escapes decoded (`\"` is a quote; sysdig kept the backslash).

use std::fmt;

/// Whether a record opens or closes a span.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dir {
    Enter,
    Exit,
}

/// A record's id, as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Id {
    Number(i64),
    /// `t`: the writing thread's tid.
    Thread,
    /// `p`: the writing thread's pid.
    Process,
    /// `pp`: the pid of the writing process's parent.
    Parent,
    /// `g` or nothing: 0, shared by everyone.
    Global,
}

impl Id {
    /// The number this id stands for when written by thread `tid` of process `pid`, whose
    /// parent is `ppid`.
    pub fn resolve(self, tid: i64, pid: i64, ppid: i64) -> i64 {
        match self {
            Id::Number(n) => n,
            Id::Thread => tid,
            Id::Process => pid,
            Id::Parent => ppid,
            Id::Global => 0,
        }
    }
}

/// A list of byte strings packed in one buffer, each prefixed with its length (`u32`, little
/// endian), so that any byte may appear in a tag and a list compares and hashes as one slice.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Packed(Vec<u8>);

impl Packed {
    pub fn push(&mut self, item: &[u8]) {
        let len = u32::try_from(item.len()).unwrap_or(u32::MAX);
        self.0.extend_from_slice(&len.to_le_bytes());
        self.0.extend_from_slice(&item[..len as usize]);
    }

    /// The packed bytes: equal lists have equal bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn iter(&self) -> PackedIter<'_> {
        PackedIter(&self.0)
    }

    pub fn len(&self) -> usize {
        self.iter().count()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The items joined with `sep` (`a.b.c` for tags).
    pub fn join(&self, sep: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.0.len());
        for (i, item) in self.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(sep);
            }
            out.extend_from_slice(item);
        }
        out
    }

    /// The list as read from `bytes`, which must come from [`Packed::as_bytes`] (or a prefix of
    /// it that ends between items).
    pub fn from_bytes(bytes: &[u8]) -> Packed {
        Packed(bytes.to_vec())
    }
}

impl fmt::Debug for Packed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter().map(String::from_utf8_lossy)).finish()
    }
}

/// The items of a [`Packed`] list.
#[derive(Clone)]
pub struct PackedIter<'a>(&'a [u8]);

impl<'a> PackedIter<'a> {
    /// The items of the packed bytes `bytes` (from [`Packed::as_bytes`]).
    pub fn of(bytes: &'a [u8]) -> PackedIter<'a> {
        PackedIter(bytes)
    }

    /// The items two by two: an argument list's (name, value) pairs.
    pub fn pairs(self) -> Vec<(&'a [u8], &'a [u8])> {
        let items: Vec<&[u8]> = self.collect();
        items.chunks_exact(2).map(|p| (p[0], p[1])).collect()
    }

    /// An argument list as `name=value,name=value`.
    pub fn joined_pairs(self) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, (n, v)) in self.pairs().into_iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(n);
            out.push(b'=');
            out.extend_from_slice(v);
        }
        out
    }
}

impl<'a> Iterator for PackedIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let (len, rest) = self.0.split_first_chunk::<4>()?;
        let len = (u32::from_le_bytes(*len) as usize).min(rest.len());
        let (item, rest) = rest.split_at(len);
        self.0 = rest;
        Some(item)
    }
}

/// One decoded record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracer {
    pub dir: Dir,
    pub id: Id,
    /// The tag path, one item per tag.
    pub tags: Packed,
    /// Name, value, name, value, ...
    pub args: Packed,
}

/// What a write turned out to hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Tracer(Tracer),
    /// A record that stops before its end: the start of one that a later write finishes.
    Truncated,
    /// Not a tracer record; says what is wrong.
    Invalid(&'static str),
}

/// The longest record kept while waiting for its end (as sysdig did): past this, the pieces are
/// dropped.
pub const MAX_RECORD: usize = 64 * 1024;

/// Decodes one write's data.
pub fn parse(data: &[u8]) -> Parsed {
    let result = match data.first() {
        None => return Parsed::Truncated,
        Some(b'>' | b'<') => parse_text(data),
        Some(_) => parse_json(data),
    };
    match result {
        Ok(t) => Parsed::Tracer(t),
        Err(Stop::Truncated) => Parsed::Truncated,
        Err(Stop::Invalid(why)) => Parsed::Invalid(why),
    }
}

enum Stop {
    Truncated,
    Invalid(&'static str),
}

/// A read position in a record.
struct Cursor<'a> {
    data: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    /// The next byte; running out means the record is not finished yet.
    fn next(&mut self) -> Result<u8, Stop> {
        let b = *self.data.get(self.at).ok_or(Stop::Truncated)?;
        self.at += 1;
        Ok(b)
    }

    fn peek(&self) -> Result<u8, Stop> {
        self.data.get(self.at).copied().ok_or(Stop::Truncated)
    }

    fn expect(&mut self, want: u8, why: &'static str) -> Result<(), Stop> {
        if self.next()? == want { Ok(()) } else { Err(Stop::Invalid(why)) }
    }

    fn skip_space(&mut self) -> Result<(), Stop> {
        while matches!(self.peek()?, b' ' | b'\t' | b'\n' | b'\r') {
            self.at += 1;
        }
        Ok(())
    }
}

fn parse_text(data: &[u8]) -> Result<Tracer, Stop> {
    let dir = if data[0] == b'>' { Dir::Enter } else { Dir::Exit };
    let mut c = Cursor { data, at: 1 };
    c.expect(b':', "no ':' after the direction")?;

    let start = c.at;
    while c.next()? != b':' {}
    let id = id(&data[start..c.at - 1])?;

    let mut tags = Packed::default();
    let mut tag = Vec::new();
    loop {
        match c.next()? {
            b'\\' => tag.push(c.next()?),
            b'.' => tags.push(&std::mem::take(&mut tag)),
            b':' => break,
            b'>' | b'<' | b'=' | b'\n' => {
                return Err(Stop::Invalid("'>', '<', '=' or a newline in a tag"));
            }
            b => tag.push(b),
        }
    }
    if !tag.is_empty() || !tags.is_empty() {
        tags.push(&tag);
    }

    let mut args = Packed::default();
    if c.peek()? == b':' {
        return Ok(Tracer { dir, id, tags, args });
    }
    loop {
        let mut name = Vec::new();
        loop {
            match c.next()? {
                b'\\' => name.push(c.next()?),
                b'=' => break,
                b',' | b':' => return Err(Stop::Invalid("an argument without '='")),
                b'>' | b'<' | b'\n' => {
                    return Err(Stop::Invalid("'>', '<' or a newline in an argument name"));
                }
                b => name.push(b),
            }
        }
        let mut value = Vec::new();
        let last = loop {
            match c.next()? {
                b'\\' => value.push(c.next()?),
                b',' => break false,
                b':' => break true,
                b'=' => return Err(Stop::Invalid("'=' in an argument value")),
                b => value.push(b),
            }
        };
        args.push(&name);
        args.push(&value);
        if last {
            return Ok(Tracer { dir, id, tags, args });
        }
    }
}

/// An id field: empty, `t`, `p`, `pp`, `g` or a decimal integer.
fn id(text: &[u8]) -> Result<Id, Stop> {
    Ok(match text {
        b"" | b"g" => Id::Global,
        b"t" => Id::Thread,
        b"p" => Id::Process,
        b"pp" => Id::Parent,
        _ => Id::Number(
            number(text).ok_or(Stop::Invalid("an id that is not t, p, pp, g or a number"))?,
        ),
    })
}

fn number(text: &[u8]) -> Option<i64> {
    std::str::from_utf8(text).ok()?.parse().ok()
}

fn parse_json(data: &[u8]) -> Result<Tracer, Stop> {
    let mut c = Cursor { data, at: 0 };
    c.skip_space()?;
    c.expect(b'[', "neither '>', '<' nor '[' at the start")?;

    c.skip_space()?;
    let dir = match string(&mut c)?.as_slice() {
        b">" => Dir::Enter,
        b"<" => Dir::Exit,
        _ => return Err(Stop::Invalid("a direction that is not \">\" or \"<\"")),
    };
    comma(&mut c)?;

    let id = if c.peek()? == b'"' {
        match string(&mut c)?.as_slice() {
            b"t" => Id::Thread,
            b"p" => Id::Process,
            b"pp" => Id::Parent,
            b"g" | b"" => Id::Global,
            _ => return Err(Stop::Invalid("an id string that is not t, p, pp or g")),
        }
    } else {
        let start = c.at;
        while matches!(c.peek()?, b'-' | b'0'..=b'9') {
            c.at += 1;
        }
        Id::Number(number(&data[start..c.at]).ok_or(Stop::Invalid("an id that is not a number"))?)
    };
    comma(&mut c)?;

    let mut tags = Packed::default();
    list(&mut c, |c| {
        tags.push(&string(c)?);
        Ok(())
    })?;
    comma(&mut c)?;

    let mut args = Packed::default();
    list(&mut c, |c| {
        c.expect(b'{', "an argument that is not an object")?;
        c.skip_space()?;
        args.push(&string(c)?);
        c.skip_space()?;
        c.expect(b':', "no ':' after an argument name")?;
        c.skip_space()?;
        args.push(&string(c)?);
        c.skip_space()?;
        c.expect(b'}', "an argument object with more than one member")
    })?;
    c.skip_space()?;
    c.expect(b']', "more than four items")?;
    Ok(Tracer { dir, id, tags, args })
}

/// A `,` between items, with any space around it.
fn comma(c: &mut Cursor<'_>) -> Result<(), Stop> {
    c.skip_space()?;
    c.expect(b',', "items not separated by ','")?;
    c.skip_space()
}

/// `[item, item, ...]`, each item read by `item`.
fn list(
    c: &mut Cursor<'_>,
    mut item: impl FnMut(&mut Cursor<'_>) -> Result<(), Stop>,
) -> Result<(), Stop> {
    c.expect(b'[', "a tag or argument list that is not a list")?;
    c.skip_space()?;
    if c.peek()? == b']' {
        c.at += 1;
        return Ok(());
    }
    loop {
        item(c)?;
        c.skip_space()?;
        match c.next()? {
            b',' => c.skip_space()?,
            b']' => return Ok(()),
            _ => return Err(Stop::Invalid("list items not separated by ','")),
        }
    }
}

/// A JSON string, escapes decoded.
fn string(c: &mut Cursor<'_>) -> Result<Vec<u8>, Stop> {
    c.expect(b'"', "a string expected")?;
    let mut out = Vec::new();
    loop {
        match c.next()? {
            b'"' => return Ok(out),
            b'\\' => match c.next()? {
                b'u' => {
                    let mut code = hex4(c)?;
                    if (0xD800..0xDC00).contains(&code) {
                        c.expect(b'\\', "a lone surrogate in a \\u escape")?;
                        c.expect(b'u', "a lone surrogate in a \\u escape")?;
                        let low = hex4(c)?;
                        if !(0xDC00..0xE000).contains(&low) {
                            return Err(Stop::Invalid("a lone surrogate in a \\u escape"));
                        }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                    }
                    let ch = char::from_u32(code)
                        .ok_or(Stop::Invalid("a lone surrogate in a \\u escape"))?;
                    out.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes());
                }
                b'n' => out.push(b'\n'),
                b't' => out.push(b'\t'),
                b'r' => out.push(b'\r'),
                b'b' => out.push(8),
                b'f' => out.push(12),
                b => out.push(b),
            },
            b => out.push(b),
        }
    }
}

fn hex4(c: &mut Cursor<'_>) -> Result<u32, Stop> {
    let mut v = 0;
    for _ in 0..4 {
        let d = (c.next()? as char).to_digit(16).ok_or(Stop::Invalid("a bad \\u escape"))?;
        v = v * 16 + d;
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracer(data: &[u8]) -> Tracer {
        match parse(data) {
            Parsed::Tracer(t) => t,
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(data)),
        }
    }

    fn strings(p: &Packed) -> Vec<String> {
        p.iter().map(|s| String::from_utf8_lossy(s).into_owned()).collect()
    }

    #[test]
    fn text_records_give_direction_id_tags_and_args() {
        let t = tracer(b">:12345:mysql.query.init:user=loris,db=mydb:");
        assert_eq!((t.dir, t.id), (Dir::Enter, Id::Number(12345)));
        assert_eq!(strings(&t.tags), ["mysql", "query", "init"]);
        assert_eq!(strings(&t.args), ["user", "loris", "db", "mydb"]);

        let t = tracer(b"<:-5:neg::\n");
        assert_eq!((t.dir, t.id, t.tags.len(), t.args.len()), (Dir::Exit, Id::Number(-5), 1, 0));
        assert_eq!(tracer(b">::x::").id, Id::Global);
        assert_eq!(tracer(b">:g:x::").id, Id::Global);
        assert_eq!(tracer(b">:t:x::").id, Id::Thread);
        assert_eq!(tracer(b">:p:x::").id, Id::Process);
        assert_eq!(tracer(b">:pp:x::").id, Id::Parent);
        assert_eq!(Id::Parent.resolve(3200, 3200, 3199), 3199);
    }

    #[test]
    fn empty_fields_and_escapes() {
        let t = tracer(b">:t::k=v:");
        assert_eq!((t.tags.len(), strings(&t.args)), (0, vec!["k".into(), "v".into()]));
        assert!(tracer(b"<:t:::").tags.is_empty());

        let t = tracer(br">:t:esc\.aped:k=v\,1:");
        assert_eq!(strings(&t.tags), ["esc.aped"]);
        assert_eq!(strings(&t.args), ["k", "v,1"]);

        let t = tracer(b">:t:sp ace:k=v w,e=:");
        assert_eq!(strings(&t.tags), ["sp ace"]);
        assert_eq!(strings(&t.args), ["k", "v w", "e", ""]);
        assert_eq!(strings(&tracer(b">:t:k:v=a>b:").args), ["v", "a>b"]);
    }

    #[test]
    fn a_leading_zero_is_a_number_not_an_unfinished_record() {
        assert_eq!(tracer(b">:0123:zero::").id, Id::Number(123));
        assert_eq!(strings(&tracer(b">:t:0ne::").tags), ["0ne"]);
    }

    #[test]
    fn records_cut_short_are_truncated() {
        for cut in [&b">"[..], b">:", b">:t", b">:t:frag", b">:t:a.b:k", b">:t:a:k=v", b">:t:a\\"] {
            assert_eq!(parse(cut), Parsed::Truncated, "{:?}", String::from_utf8_lossy(cut));
        }
        assert_eq!(parse(b"[\">\", 777, [\"a\""), Parsed::Truncated);
        assert_eq!(parse(b"[\">\", 777, [], []"), Parsed::Truncated);
    }

    #[test]
    fn malformed_records_are_invalid() {
        for bad in [
            &b"garbage\n"[..],
            b">:t:eq=bad::",
            b">:t:a<b::",
            b">:t:n:a>b=1:",
            b">:t:x:k:",
            b">:t:x:k=1=2:",
            b">:abc:x::",
            b">x:t:x::",
            b"[\"x\", 1, [], []]",
            b"[\">\", 1, [\"a\"] []]",
            b"[\">\", 1, [], [{\"a\":\"b\", \"c\":\"d\"}]]",
            b"\0\xff\xfe",
        ] {
            assert!(
                matches!(parse(bad), Parsed::Invalid(_)),
                "{:?}: {:?}",
                String::from_utf8_lossy(bad),
                parse(bad)
            );
        }
    }

    #[test]
    fn json_records_match_their_text_form() {
        let json = tracer(br#"[">", 777, ["json","tag"], [{"k1":"v1"}, {"k2":"v2"}]]"#);
        assert_eq!(json, tracer(b">:777:json.tag:k1=v1,k2=v2:"));
        assert_eq!(tracer(br#"["<", "t", ["j1"], []]"#), tracer(b"<:t:j1::"));
        let t = tracer(br#"[">",9,["no\"space\u00e9"],[{"k":"v"},{"k2":"v2"}]] trailing"#);
        assert_eq!(strings(&t.tags), ["no\"space\u{e9}"]);
        assert_eq!(tracer(br#"["<", 5, [], []]"#).tags.len(), 0);
    }

    #[test]
    fn packed_lists_keep_any_byte() {
        let mut p = Packed::default();
        for item in [&b"a.b"[..], b"", b"\0\xff"] {
            p.push(item);
        }
        assert_eq!(p.iter().collect::<Vec<_>>(), [&b"a.b"[..], b"", b"\0\xff"]);
        assert_eq!(p.join(b"."), b"a.b..\0\xff");
    }
}
