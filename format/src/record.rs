//! Records: the extensible encoding of metadata and state tables.
//!
//! A state block's payload is a run of records, each a varint length and then fields in a fixed
//! order. A reader takes the fields it knows and skips the rest of the record, and a field
//! missing from a short record reads as zero or empty. That is how a newer writer can append
//! fields and an older reader still works, and the other way round (`FORMAT.md` §6).

use crate::wire::{Cursor, DecodeError, put_blob, put_varint, unzigzag, zigzag};

/// Reads the fields of one record, yielding defaults once the record is exhausted.
pub(crate) struct Fields<'a> {
    cur: Cursor<'a>,
}

impl<'a> Fields<'a> {
    pub fn new(record: &'a [u8]) -> Self {
        Fields { cur: Cursor::new(record) }
    }

    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        if self.cur.is_empty() { Ok(0) } else { self.cur.varint("integer field") }
    }

    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(self.u64()? as u32)
    }

    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(self.u64()? as u16)
    }

    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.u64()? as u8)
    }

    pub fn i64(&mut self) -> Result<i64, DecodeError> {
        Ok(unzigzag(self.u64()?))
    }

    pub fn bool(&mut self) -> Result<bool, DecodeError> {
        Ok(self.u64()? != 0)
    }

    pub fn bytes(&mut self) -> Result<Vec<u8>, DecodeError> {
        if self.cur.is_empty() {
            Ok(Vec::new())
        } else {
            Ok(self.cur.blob("bytes field")?.to_vec())
        }
    }

    pub fn string(&mut self) -> Result<String, DecodeError> {
        if self.cur.is_empty() { Ok(String::new()) } else { self.cur.string("text field") }
    }

    /// A list: a count, then each item read by `item`.
    pub fn list<T>(
        &mut self,
        mut item: impl FnMut(&mut Fields<'a>) -> Result<T, DecodeError>,
    ) -> Result<Vec<T>, DecodeError> {
        let n = self.u64()?;
        // Every item takes at least one byte, so a count beyond the bytes left is damage.
        if n > self.cur.remaining() as u64 {
            return Err(DecodeError { offset: self.cur.position(), what: "list count" });
        }
        (0..n).map(|_| item(self)).collect()
    }

    pub fn pairs(&mut self) -> Result<Vec<(String, String)>, DecodeError> {
        self.list(|f| Ok((f.string()?, f.string()?)))
    }
}

/// Writes fields of one record.
pub(crate) struct FieldWriter<'o> {
    out: &'o mut Vec<u8>,
}

impl<'o> FieldWriter<'o> {
    pub fn new(out: &'o mut Vec<u8>) -> Self {
        FieldWriter { out }
    }

    pub fn u64(&mut self, v: u64) -> &mut Self {
        put_varint(self.out, v);
        self
    }

    pub fn i64(&mut self, v: i64) -> &mut Self {
        self.u64(zigzag(v))
    }

    pub fn bool(&mut self, v: bool) -> &mut Self {
        self.u64(u64::from(v))
    }

    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        put_blob(self.out, v);
        self
    }

    pub fn list<T>(&mut self, items: &[T], mut f: impl FnMut(&mut Self, &T)) -> &mut Self {
        self.u64(items.len() as u64);
        for item in items {
            f(self, item);
        }
        self
    }

    pub fn pairs(&mut self, items: &[(String, String)]) -> &mut Self {
        self.list(items, |w, (k, v)| {
            w.bytes(k.as_bytes()).bytes(v.as_bytes());
        })
    }
}

/// A type stored as one record.
pub trait Record: Sized {
    #[doc(hidden)]
    fn write_fields(&self, w: &mut FieldWriter<'_>);
    #[doc(hidden)]
    fn read_fields(f: &mut Fields<'_>) -> Result<Self, DecodeError>;
}

/// Appends `record` to `out` with its length prefix.
pub fn put_record<R: Record>(out: &mut Vec<u8>, record: &R) {
    let mut body = Vec::new();
    record.write_fields(&mut FieldWriter::new(&mut body));
    put_varint(out, body.len() as u64);
    out.extend_from_slice(&body);
}

/// Reads `count` records from a payload.
pub fn read_records<R: Record>(payload: &[u8], count: u32) -> Result<Vec<R>, DecodeError> {
    let mut cur = Cursor::new(payload);
    let mut out = Vec::with_capacity((count as usize).min(payload.len()));
    for _ in 0..count {
        let at = cur.position();
        let body = cur.blob("record length")?;
        let mut fields = Fields::new(body);
        let record = R::read_fields(&mut fields)
            .map_err(|e| DecodeError { offset: at + e.offset, what: e.what })?;
        out.push(record);
    }
    if !cur.is_empty() {
        return Err(DecodeError { offset: cur.position(), what: "bytes after the last record" });
    }
    Ok(out)
}

/// Serialises raw kernel bytes (paths, names) as text in JSON, replacing invalid UTF-8.
pub(crate) fn lossy<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&String::from_utf8_lossy(bytes))
}

/// Serialises a NUL-separated list (args, env, cgroups) as a JSON array of strings.
pub(crate) fn nul_list<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(split_nul(bytes).map(String::from_utf8_lossy))
}

/// Splits a NUL-separated list; a trailing NUL does not make an empty last item.
pub fn split_nul(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let trimmed = bytes.strip_suffix(&[0]).unwrap_or(bytes);
    trimmed.split(|&b| b == 0).filter(move |_| !trimmed.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Machine, User};

    #[test]
    fn newer_trailing_fields_are_ignored() {
        let m = Machine { hostname: "h".into(), cpu_count: 4, ..Machine::default() };
        let mut body = Vec::new();
        m.write_fields(&mut FieldWriter::new(&mut body));
        // A newer writer appended two fields this version does not know.
        put_varint(&mut body, 77);
        put_blob(&mut body, b"future");
        let mut payload = Vec::new();
        put_varint(&mut payload, body.len() as u64);
        payload.extend_from_slice(&body);
        assert_eq!(read_records::<Machine>(&payload, 1).unwrap(), vec![m]);
    }

    #[test]
    fn older_short_records_read_as_defaults() {
        // An older writer knew only is_group, uid and gid.
        let mut body = Vec::new();
        FieldWriter::new(&mut body).bool(false).u64(1000).u64(100);
        let mut payload = Vec::new();
        put_varint(&mut payload, body.len() as u64);
        payload.extend_from_slice(&body);
        let users = read_records::<User>(&payload, 1).unwrap();
        assert_eq!(users[0], User { uid: 1000, gid: 100, ..User::default() });
    }

    #[test]
    fn list_counts_beyond_the_record_are_damage() {
        let mut body = Vec::new();
        FieldWriter::new(&mut body).bytes(b"id").u64(u32::MAX as u64);
        let mut f = Fields::new(&body);
        f.string().unwrap();
        assert!(f.list(|f| f.string()).is_err());
    }
}
