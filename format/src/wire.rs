//! Little-endian primitives shared by every part of the `.dcap` encoding.
//!
//! Writers append to a `Vec<u8>`; readers walk a [`Cursor`] that checks every length against
//! what is left, so a damaged or hostile length can never read past the buffer or ask for an
//! allocation larger than the bytes that back it.

use std::fmt;

/// Where and why decoding a buffer failed. Offsets are relative to the start of the buffer
/// the [`Cursor`] was made over (the decompressed payload of one block, usually).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// Byte offset inside the decoded buffer.
    pub offset: usize,
    /// What was being read.
    pub what: &'static str,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at payload offset {}", self.what, self.offset)
    }
}

impl std::error::Error for DecodeError {}

/// A bounds-checked reader over a byte slice.
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    pub fn position(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    fn fail(&self, what: &'static str) -> DecodeError {
        DecodeError { offset: self.pos, what }
    }

    /// Takes the next `n` bytes.
    pub fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if n > self.remaining() {
            return Err(self.fail(what));
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N, what)?);
        Ok(out)
    }

    pub fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(what)?[0])
    }

    pub fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        self.array(what).map(u16::from_le_bytes)
    }

    pub fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        self.array(what).map(u32::from_le_bytes)
    }

    pub fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        self.array(what).map(u64::from_le_bytes)
    }

    pub fn i64(&mut self, what: &'static str) -> Result<i64, DecodeError> {
        self.array(what).map(i64::from_le_bytes)
    }

    /// An unsigned LEB128 varint of at most 10 bytes.
    pub fn varint(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        let (value, used) = read_varint(&self.buf[self.pos..]).ok_or_else(|| self.fail(what))?;
        self.pos += used;
        Ok(value)
    }

    /// A varint that must fit a `usize` no larger than what is left in the buffer: the length
    /// of something that follows.
    pub fn len(&mut self, what: &'static str) -> Result<usize, DecodeError> {
        let at = self.pos;
        let n = self.varint(what)?;
        if n > self.remaining() as u64 {
            return Err(DecodeError { offset: at, what });
        }
        Ok(n as usize)
    }

    /// A length-prefixed byte string.
    pub fn blob(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let n = self.len(what)?;
        self.bytes(n, what)
    }

    /// A length-prefixed UTF-8 string; invalid UTF-8 is replaced, never rejected.
    pub fn string(&mut self, what: &'static str) -> Result<String, DecodeError> {
        Ok(String::from_utf8_lossy(self.blob(what)?).into_owned())
    }
}

/// Decodes a varint from the front of `buf`: the value and the bytes it used.
#[inline]
pub fn read_varint(buf: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, &byte) in buf.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

pub fn put_u8(out: &mut Vec<u8>, v: u8) {
    out.push(v);
}

pub fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

pub fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

pub fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

pub fn put_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(&v.to_le_bytes());
}

#[inline]
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A length-prefixed byte string.
pub fn put_blob(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Maps signed to unsigned so that small magnitudes of either sign stay short as varints.
#[inline]
pub fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

#[inline]
pub fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// CRC-32C (Castagnoli), the checksum of every block header, payload and trailer.
pub fn crc(bytes: &[u8]) -> u32 {
    crc32c::crc32c(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_round_trip_edges() {
        for v in [0, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(read_varint(&out), Some((v, out.len())));
        }
    }

    #[test]
    fn zigzag_round_trip_edges() {
        for v in [0, 1, -1, i64::MAX, i64::MIN, 12345, -98765] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
    }

    #[test]
    fn overlong_varint_is_refused() {
        assert_eq!(read_varint(&[0x80; 11]), None);
        assert_eq!(read_varint(&[0x80, 0x80]), None);
    }

    #[test]
    fn lengths_beyond_the_buffer_are_refused() {
        let mut buf = Vec::new();
        put_varint(&mut buf, u32::MAX as u64);
        buf.extend_from_slice(b"abc");
        let mut cur = Cursor::new(&buf);
        assert!(cur.blob("name").is_err());
    }
}
