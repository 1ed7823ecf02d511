//! Parameter types and values, in the byte encoding sysdig's event table defines.
//!
//! dredge stores every parameter exactly as the kernel driver packs it (the scap encoding), so
//! a capture converts to and from `.scap` without loss and `evt.rawarg.*` can be faithful. This
//! module names the types ([`ParamType`]) and turns raw bytes into typed [`Value`]s and back.
//! An empty parameter means "not collected" for every type and decodes to [`Value::Empty`].

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// The type of one event parameter (`enum ppm_param_type`, same numbering).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ParamType {
    None = 0,
    Int8 = 1,
    Int16 = 2,
    Int32 = 3,
    Int64 = 4,
    Uint8 = 5,
    Uint16 = 6,
    Uint32 = 7,
    Uint64 = 8,
    Charbuf = 9,
    Bytebuf = 10,
    Errno = 11,
    SockAddr = 12,
    SockTuple = 13,
    Fd = 14,
    Pid = 15,
    FdList = 16,
    FsPath = 17,
    SyscallId = 18,
    SigType = 19,
    RelTime = 20,
    AbsTime = 21,
    Port = 22,
    L4Proto = 23,
    SockFamily = 24,
    Bool = 25,
    Ipv4Addr = 26,
    Dyn = 27,
    Flags8 = 28,
    Flags16 = 29,
    Flags32 = 30,
    Uid = 31,
    Gid = 32,
    Double = 33,
    SigSet = 34,
    CharbufArray = 35,
    CharbufPairArray = 36,
    Ipv4Net = 37,
    Ipv6Addr = 38,
    Ipv6Net = 39,
    IpAddr = 40,
    IpNet = 41,
    Mode = 42,
    FsRelPath = 43,
    EnumFlags8 = 44,
    EnumFlags16 = 45,
    EnumFlags32 = 46,
    Fd32 = 47,
    Pid32 = 48,
}

/// Every type, in code order; the table the round-trip tests walk.
pub const ALL_PARAM_TYPES: [ParamType; 49] = {
    use ParamType::*;
    [
        None,
        Int8,
        Int16,
        Int32,
        Int64,
        Uint8,
        Uint16,
        Uint32,
        Uint64,
        Charbuf,
        Bytebuf,
        Errno,
        SockAddr,
        SockTuple,
        Fd,
        Pid,
        FdList,
        FsPath,
        SyscallId,
        SigType,
        RelTime,
        AbsTime,
        Port,
        L4Proto,
        SockFamily,
        Bool,
        Ipv4Addr,
        Dyn,
        Flags8,
        Flags16,
        Flags32,
        Uid,
        Gid,
        Double,
        SigSet,
        CharbufArray,
        CharbufPairArray,
        Ipv4Net,
        Ipv6Addr,
        Ipv6Net,
        IpAddr,
        IpNet,
        Mode,
        FsRelPath,
        EnumFlags8,
        EnumFlags16,
        EnumFlags32,
        Fd32,
        Pid32,
    ]
};

const NAMES: [&str; 49] = [
    "NONE",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "UINT8",
    "UINT16",
    "UINT32",
    "UINT64",
    "CHARBUF",
    "BYTEBUF",
    "ERRNO",
    "SOCKADDR",
    "SOCKTUPLE",
    "FD",
    "PID",
    "FDLIST",
    "FSPATH",
    "SYSCALLID",
    "SIGTYPE",
    "RELTIME",
    "ABSTIME",
    "PORT",
    "L4PROTO",
    "SOCKFAMILY",
    "BOOL",
    "IPV4ADDR",
    "DYN",
    "FLAGS8",
    "FLAGS16",
    "FLAGS32",
    "UID",
    "GID",
    "DOUBLE",
    "SIGSET",
    "CHARBUFARRAY",
    "CHARBUF_PAIR_ARRAY",
    "IPV4NET",
    "IPV6ADDR",
    "IPV6NET",
    "IPADDR",
    "IPNET",
    "MODE",
    "FSRELPATH",
    "ENUMFLAGS8",
    "ENUMFLAGS16",
    "ENUMFLAGS32",
    "FD32",
    "PID32",
];

impl ParamType {
    /// The name used in the event table (`FSPATH`, `ERRNO`, ...).
    pub fn name(self) -> &'static str {
        NAMES[self as usize]
    }

    pub fn from_name(name: &str) -> Option<ParamType> {
        NAMES.iter().position(|n| *n == name).map(|i| ALL_PARAM_TYPES[i])
    }

    pub fn from_code(code: u8) -> Option<ParamType> {
        ALL_PARAM_TYPES.get(code as usize).copied()
    }

    /// The encoded size when it is fixed; `None` for variable-length types.
    pub fn fixed_size(self) -> Option<usize> {
        use ParamType::*;
        match self {
            Int8 | Uint8 | SigType | L4Proto | SockFamily | Flags8 | EnumFlags8 => Some(1),
            Int16 | Uint16 | SyscallId | Port | Flags16 | EnumFlags16 => Some(2),
            Int32 | Uint32 | Bool | Ipv4Addr | Flags32 | Uid | Gid | SigSet | Mode
            | EnumFlags32 | Fd32 | Pid32 => Some(4),
            Int64 | Uint64 | Errno | Fd | Pid | RelTime | AbsTime | Double | Ipv4Net => Some(8),
            Ipv6Addr => Some(16),
            Ipv6Net => Some(32),
            _ => Option::None,
        }
    }
}

impl fmt::Display for ParamType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Address family codes as the driver packs them (`PPM_AF_*`).
pub mod family {
    pub const UNSPEC: u8 = 0;
    pub const UNIX: u8 = 1;
    pub const INET: u8 = 2;
    pub const INET6: u8 = 10;
}

/// A socket address parameter (`SOCKADDR`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SockAddr<'a> {
    V4 {
        ip: Ipv4Addr,
        port: u16,
    },
    V6 {
        ip: Ipv6Addr,
        port: u16,
    },
    Unix {
        path: &'a [u8],
    },
    /// A family the driver does not unpack; the bytes after the family byte.
    Other {
        family: u8,
        rest: &'a [u8],
    },
}

/// A connection tuple (`SOCKTUPLE`): source then destination, as the driver saw them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SockTuple<'a> {
    V4 { sip: Ipv4Addr, sport: u16, dip: Ipv4Addr, dport: u16 },
    V6 { sip: Ipv6Addr, sport: u16, dip: Ipv6Addr, dport: u16 },
    Unix { source: u64, dest: u64, path: &'a [u8] },
    Other { family: u8, rest: &'a [u8] },
}

/// A typed view of one parameter. Strings and buffers borrow from the capture.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// A zero-length parameter: not collected (sysdig prints `<NA>`).
    Empty,
    Int(i64),
    Uint(u64),
    Double(f64),
    Bool(bool),
    /// `ERRNO`: negative is `-errno`, otherwise the syscall's return value.
    Errno(i64),
    Fd(i64),
    Pid(i64),
    SyscallId(u16),
    Signal(u8),
    RelTime(u64),
    AbsTime(u64),
    Port(u16),
    L4Proto(u8),
    SockFamily(u8),
    Uid(u32),
    Gid(u32),
    SigSet(u32),
    Mode(u32),
    /// `FLAGS8/16/32`: a bitmask in the driver's `PPM_*` numbering.
    Flags(u32),
    /// `ENUMFLAGS8/16/32`: one enumerated value.
    Enum(u32),
    /// `CHARBUF`, `FSPATH`, `FSRELPATH`: the text without its terminating NUL.
    Str(&'a [u8]),
    /// `BYTEBUF`: raw bytes (I/O data, NUL-separated args/env/cgroups lists).
    Bytes(&'a [u8]),
    /// `CHARBUFARRAY` and `CHARBUF_PAIR_ARRAY`: NUL-separated strings, kept opaque.
    StrList(&'a [u8]),
    SockAddr(SockAddr<'a>),
    SockTuple(SockTuple<'a>),
    /// `FDLIST`: `(fd, poll flags)` pairs.
    FdList(Vec<(i64, u16)>),
    Ipv4(Ipv4Addr),
    Ipv6(Ipv6Addr),
    Ipv4Net {
        addr: Ipv4Addr,
        mask: Ipv4Addr,
    },
    Ipv6Net {
        addr: Ipv6Addr,
        mask: Ipv6Addr,
    },
    /// `DYN`: the index into the parameter's dynamic table, then that type's bytes.
    Dyn {
        index: u8,
        raw: &'a [u8],
    },
}

/// A parameter whose bytes do not fit its declared type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} parameter of {len} bytes is malformed: {why}")]
pub struct ParamError {
    pub kind: ParamType,
    pub len: usize,
    pub why: &'static str,
}

fn le<const N: usize>(raw: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&raw[..N]);
    out
}

fn ipv4(raw: &[u8]) -> Ipv4Addr {
    Ipv4Addr::from(le::<4>(raw))
}

fn ipv6(raw: &[u8]) -> Ipv6Addr {
    Ipv6Addr::from(le::<16>(raw))
}

fn strip_nul(raw: &[u8]) -> &[u8] {
    raw.strip_suffix(&[0]).unwrap_or(raw)
}

impl<'a> Value<'a> {
    /// Decodes raw parameter bytes of type `kind`.
    pub fn decode(kind: ParamType, raw: &'a [u8]) -> Result<Value<'a>, ParamError> {
        use ParamType as T;
        if raw.is_empty() {
            return Ok(Value::Empty);
        }
        let bad = |why| ParamError { kind, len: raw.len(), why };
        if let Some(size) = kind.fixed_size()
            && raw.len() != size
        {
            return Err(bad("length differs from the type's size"));
        }
        let value = match kind {
            T::Int8 => Value::Int(i64::from(raw[0] as i8)),
            T::Int16 => Value::Int(i64::from(i16::from_le_bytes(le(raw)))),
            T::Int32 => Value::Int(i64::from(i32::from_le_bytes(le(raw)))),
            T::Int64 => Value::Int(i64::from_le_bytes(le(raw))),
            T::Uint8 => Value::Uint(u64::from(raw[0])),
            T::Uint16 => Value::Uint(u64::from(u16::from_le_bytes(le(raw)))),
            T::Uint32 => Value::Uint(u64::from(u32::from_le_bytes(le(raw)))),
            T::Uint64 => Value::Uint(u64::from_le_bytes(le(raw))),
            T::Charbuf | T::FsPath | T::FsRelPath => Value::Str(strip_nul(raw)),
            T::Bytebuf => Value::Bytes(raw),
            T::Errno => Value::Errno(i64::from_le_bytes(le(raw))),
            T::Fd => Value::Fd(i64::from_le_bytes(le(raw))),
            T::Pid => Value::Pid(i64::from_le_bytes(le(raw))),
            T::Fd32 => Value::Fd(i64::from(i32::from_le_bytes(le(raw)))),
            T::Pid32 => Value::Pid(i64::from(i32::from_le_bytes(le(raw)))),
            T::SockAddr => Value::SockAddr(decode_sockaddr(raw).ok_or_else(|| bad("sockaddr"))?),
            T::SockTuple => {
                Value::SockTuple(decode_socktuple(raw).ok_or_else(|| bad("socket tuple"))?)
            }
            T::FdList => Value::FdList(decode_fdlist(raw).ok_or_else(|| bad("fd list"))?),
            T::SyscallId => Value::SyscallId(u16::from_le_bytes(le(raw))),
            T::SigType => Value::Signal(raw[0]),
            T::RelTime => Value::RelTime(u64::from_le_bytes(le(raw))),
            T::AbsTime => Value::AbsTime(u64::from_le_bytes(le(raw))),
            T::Port => Value::Port(u16::from_le_bytes(le(raw))),
            T::L4Proto => Value::L4Proto(raw[0]),
            T::SockFamily => Value::SockFamily(raw[0]),
            T::Bool => Value::Bool(u32::from_le_bytes(le(raw)) != 0),
            T::Ipv4Addr => Value::Ipv4(ipv4(raw)),
            T::Dyn => Value::Dyn { index: raw[0], raw: &raw[1..] },
            T::Flags8 | T::Flags16 | T::Flags32 => Value::Flags(uint_le(raw)),
            T::EnumFlags8 | T::EnumFlags16 | T::EnumFlags32 => Value::Enum(uint_le(raw)),
            T::Uid => Value::Uid(u32::from_le_bytes(le(raw))),
            T::Gid => Value::Gid(u32::from_le_bytes(le(raw))),
            T::Double => Value::Double(f64::from_le_bytes(le(raw))),
            T::SigSet => Value::SigSet(u32::from_le_bytes(le(raw))),
            T::Mode => Value::Mode(u32::from_le_bytes(le(raw))),
            T::CharbufArray | T::CharbufPairArray => Value::StrList(raw),
            T::Ipv4Net => Value::Ipv4Net { addr: ipv4(raw), mask: ipv4(&raw[4..]) },
            T::Ipv6Addr => Value::Ipv6(ipv6(raw)),
            T::Ipv6Net => Value::Ipv6Net { addr: ipv6(raw), mask: ipv6(&raw[16..]) },
            T::IpAddr => match raw.len() {
                4 => Value::Ipv4(ipv4(raw)),
                16 => Value::Ipv6(ipv6(raw)),
                _ => return Err(bad("an IP address is 4 or 16 bytes")),
            },
            T::IpNet => match raw.len() {
                8 => Value::Ipv4Net { addr: ipv4(raw), mask: ipv4(&raw[4..]) },
                32 => Value::Ipv6Net { addr: ipv6(raw), mask: ipv6(&raw[16..]) },
                _ => return Err(bad("an IP network is 8 or 32 bytes")),
            },
            T::None => Value::Bytes(raw),
        };
        Ok(value)
    }

    /// Appends this value's raw bytes as a parameter of type `kind` (the inverse of
    /// [`Value::decode`]). Integer values are truncated to the type's width.
    pub fn encode(&self, kind: ParamType, out: &mut Vec<u8>) {
        use ParamType as T;
        let width = kind.fixed_size().unwrap_or(8);
        let int = |out: &mut Vec<u8>, v: u64| out.extend_from_slice(&v.to_le_bytes()[..width]);
        match self {
            Value::Empty => {}
            Value::Int(v) | Value::Errno(v) | Value::Fd(v) | Value::Pid(v) => int(out, *v as u64),
            Value::Uint(v) | Value::RelTime(v) | Value::AbsTime(v) => int(out, *v),
            Value::Double(v) => out.extend_from_slice(&v.to_le_bytes()),
            Value::Bool(v) => out.extend_from_slice(&u32::from(*v).to_le_bytes()),
            Value::SyscallId(v) | Value::Port(v) => out.extend_from_slice(&v.to_le_bytes()),
            Value::Signal(v) | Value::L4Proto(v) | Value::SockFamily(v) => out.push(*v),
            Value::Uid(v) | Value::Gid(v) | Value::SigSet(v) | Value::Mode(v) => {
                out.extend_from_slice(&v.to_le_bytes())
            }
            Value::Flags(v) | Value::Enum(v) => int(out, u64::from(*v)),
            Value::Str(s) => {
                out.extend_from_slice(s);
                out.push(0);
            }
            Value::Bytes(b) | Value::StrList(b) => out.extend_from_slice(b),
            Value::SockAddr(a) => encode_sockaddr(a, out),
            Value::SockTuple(t) => encode_socktuple(t, out),
            Value::FdList(list) => {
                out.extend_from_slice(&(list.len() as u16).to_le_bytes());
                for (fd, flags) in list {
                    out.extend_from_slice(&fd.to_le_bytes());
                    out.extend_from_slice(&flags.to_le_bytes());
                }
            }
            Value::Ipv4(a) => out.extend_from_slice(&a.octets()),
            Value::Ipv6(a) => out.extend_from_slice(&a.octets()),
            Value::Ipv4Net { addr, mask } => {
                out.extend_from_slice(&addr.octets());
                out.extend_from_slice(&mask.octets());
            }
            Value::Ipv6Net { addr, mask } => {
                out.extend_from_slice(&addr.octets());
                out.extend_from_slice(&mask.octets());
            }
            Value::Dyn { index, raw } => {
                out.push(*index);
                out.extend_from_slice(raw);
            }
        }
        debug_assert!(kind != T::None || matches!(self, Value::Empty | Value::Bytes(_)));
    }
}

fn uint_le(raw: &[u8]) -> u32 {
    let mut bytes = [0u8; 4];
    bytes[..raw.len()].copy_from_slice(raw);
    u32::from_le_bytes(bytes)
}

fn decode_sockaddr(raw: &[u8]) -> Option<SockAddr<'_>> {
    let (&fam, rest) = raw.split_first()?;
    Some(match fam {
        family::INET if rest.len() == 6 => {
            SockAddr::V4 { ip: ipv4(rest), port: u16::from_le_bytes(le(&rest[4..])) }
        }
        family::INET6 if rest.len() == 18 => {
            SockAddr::V6 { ip: ipv6(rest), port: u16::from_le_bytes(le(&rest[16..])) }
        }
        family::UNIX => SockAddr::Unix { path: strip_nul(rest) },
        family::INET | family::INET6 => return None,
        _ => SockAddr::Other { family: fam, rest },
    })
}

fn encode_sockaddr(addr: &SockAddr<'_>, out: &mut Vec<u8>) {
    match addr {
        SockAddr::V4 { ip, port } => {
            out.push(family::INET);
            out.extend_from_slice(&ip.octets());
            out.extend_from_slice(&port.to_le_bytes());
        }
        SockAddr::V6 { ip, port } => {
            out.push(family::INET6);
            out.extend_from_slice(&ip.octets());
            out.extend_from_slice(&port.to_le_bytes());
        }
        SockAddr::Unix { path } => {
            out.push(family::UNIX);
            out.extend_from_slice(path);
            out.push(0);
        }
        SockAddr::Other { family, rest } => {
            out.push(*family);
            out.extend_from_slice(rest);
        }
    }
}

fn decode_socktuple(raw: &[u8]) -> Option<SockTuple<'_>> {
    let (&fam, rest) = raw.split_first()?;
    Some(match fam {
        family::INET if rest.len() == 12 => SockTuple::V4 {
            sip: ipv4(rest),
            sport: u16::from_le_bytes(le(&rest[4..])),
            dip: ipv4(&rest[6..]),
            dport: u16::from_le_bytes(le(&rest[10..])),
        },
        family::INET6 if rest.len() == 36 => SockTuple::V6 {
            sip: ipv6(rest),
            sport: u16::from_le_bytes(le(&rest[16..])),
            dip: ipv6(&rest[18..]),
            dport: u16::from_le_bytes(le(&rest[34..])),
        },
        family::UNIX if rest.len() >= 16 => SockTuple::Unix {
            source: u64::from_le_bytes(le(rest)),
            dest: u64::from_le_bytes(le(&rest[8..])),
            path: strip_nul(&rest[16..]),
        },
        family::INET | family::INET6 | family::UNIX => return None,
        _ => SockTuple::Other { family: fam, rest },
    })
}

fn encode_socktuple(tuple: &SockTuple<'_>, out: &mut Vec<u8>) {
    match tuple {
        SockTuple::V4 { sip, sport, dip, dport } => {
            out.push(family::INET);
            out.extend_from_slice(&sip.octets());
            out.extend_from_slice(&sport.to_le_bytes());
            out.extend_from_slice(&dip.octets());
            out.extend_from_slice(&dport.to_le_bytes());
        }
        SockTuple::V6 { sip, sport, dip, dport } => {
            out.push(family::INET6);
            out.extend_from_slice(&sip.octets());
            out.extend_from_slice(&sport.to_le_bytes());
            out.extend_from_slice(&dip.octets());
            out.extend_from_slice(&dport.to_le_bytes());
        }
        SockTuple::Unix { source, dest, path } => {
            out.push(family::UNIX);
            out.extend_from_slice(&source.to_le_bytes());
            out.extend_from_slice(&dest.to_le_bytes());
            out.extend_from_slice(path);
            out.push(0);
        }
        SockTuple::Other { family, rest } => {
            out.push(*family);
            out.extend_from_slice(rest);
        }
    }
}

fn decode_fdlist(raw: &[u8]) -> Option<Vec<(i64, u16)>> {
    let count = u16::from_le_bytes(le(raw.get(..2)?)) as usize;
    let body = &raw[2..];
    if body.len() != count * 10 {
        return None;
    }
    Some(
        body.chunks_exact(10)
            .map(|c| (i64::from_le_bytes(le(c)), u16::from_le_bytes(le(&c[8..]))))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes_agree() {
        for (i, t) in ALL_PARAM_TYPES.iter().enumerate() {
            assert_eq!(*t as usize, i);
            assert_eq!(ParamType::from_name(t.name()), Some(*t));
            assert_eq!(ParamType::from_code(i as u8), Some(*t));
        }
    }

    #[test]
    fn socktuple_layout_interleaves_address_and_port() {
        // 127.0.0.1:47192 -> 127.0.0.1:80, as the driver packs it.
        let raw = [2, 127, 0, 0, 1, 0x58, 0xb8, 127, 0, 0, 1, 80, 0];
        let v = Value::decode(ParamType::SockTuple, &raw).unwrap();
        let want = SockTuple::V4 {
            sip: Ipv4Addr::LOCALHOST,
            sport: 47192,
            dip: Ipv4Addr::LOCALHOST,
            dport: 80,
        };
        assert_eq!(v, Value::SockTuple(want));
    }

    #[test]
    fn wrong_fixed_size_is_an_error_not_a_panic() {
        let err = Value::decode(ParamType::Fd, &[1, 2, 3]).unwrap_err();
        assert_eq!(err.len, 3);
    }

    #[test]
    fn empty_is_empty_for_every_type() {
        for t in ALL_PARAM_TYPES {
            assert_eq!(Value::decode(t, &[]), Ok(Value::Empty));
        }
    }
}
