//! Open fds of every process from `/proc/PID/fd`, with sockets resolved through the
//! `/proc/PID/net` tables of the process's network namespace (read once per namespace).

use std::collections::HashMap;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use dredge_format::state::{Fd, FdTable, fd_kind};

use crate::decode::table_open_flags;

/// A socket as the namespace's tables describe it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Socket {
    kind: u8,
    l4proto: u8,
    sip: Vec<u8>,
    sport: u16,
    dip: Vec<u8>,
    dport: u16,
    unix_source: u64,
    name: Vec<u8>,
}

/// Sockets by inode, per network namespace (by the namespace's link text).
#[derive(Default)]
pub struct Sockets {
    by_netns: HashMap<String, HashMap<u64, Socket>>,
}

/// The fd tables of the processes `pids` (main threads: threads share their process's fds).
pub fn tables(proc: &Path, pids: impl IntoIterator<Item = i64>) -> Vec<FdTable> {
    let mut sockets = Sockets::default();
    let mut out = Vec::new();
    for pid in pids {
        let dir = proc.join(pid.to_string());
        let Ok(entries) = fs::read_dir(dir.join("fd")) else { continue };
        let mut fds: Vec<Fd> = entries
            .filter_map(|e| {
                let e = e.ok()?;
                let num: i64 = e.file_name().to_str()?.parse().ok()?;
                let target = fs::read_link(e.path()).ok()?.into_os_string().into_encoded_bytes();
                Some(describe(&dir, num, &target, &mut sockets))
            })
            .collect();
        if fds.is_empty() {
            continue;
        }
        fds.sort_by_key(|f| f.fd);
        out.push(FdTable { tid: pid, fds });
    }
    out
}

fn describe(dir: &Path, fd: i64, target: &[u8], sockets: &mut Sockets) -> Fd {
    let inode_in = |prefix: &[u8]| -> Option<u64> {
        let rest = target.strip_prefix(prefix)?.strip_suffix(b"]")?;
        std::str::from_utf8(rest).ok()?.parse().ok()
    };
    let mut f = Fd { fd, ..Fd::default() };
    if let Some(ino) = inode_in(b"socket:[") {
        f.ino = ino;
        match sockets.lookup(dir, ino) {
            Some(s) => {
                f.kind = s.kind;
                f.l4proto = s.l4proto;
                f.sip = s.sip;
                f.sport = s.sport;
                f.dip = s.dip;
                f.dport = s.dport;
                f.unix_source = s.unix_source;
                f.name = s.name;
            }
            None => f.kind = fd_kind::UNSUPPORTED,
        }
    } else if let Some(ino) = inode_in(b"pipe:[") {
        f.ino = ino;
        f.kind = fd_kind::FIFO;
        f.name = target.to_vec();
    } else if let Some(what) = target.strip_prefix(b"anon_inode:") {
        f.kind = match what {
            b"[eventfd]" => fd_kind::EVENT,
            b"[signalfd]" => fd_kind::SIGNALFD,
            b"[eventpoll]" => fd_kind::EVENTPOLL,
            b"inotify" => fd_kind::INOTIFY,
            b"[timerfd]" => fd_kind::TIMERFD,
            b"[userfaultfd]" => fd_kind::USERFAULTFD,
            b"[io_uring]" => fd_kind::IOURING,
            b"[pidfd]" => fd_kind::PIDFD,
            w if w.starts_with(b"bpf") => fd_kind::BPF,
            _ => fd_kind::UNSUPPORTED,
        };
        f.name = target.to_vec();
    } else if target.starts_with(b"/memfd:") {
        f.kind = fd_kind::MEMFD;
        f.name = target.to_vec();
    } else if target.starts_with(b"/") {
        // Files as libs' /proc scan writes them: FILE_V2, with open flags and device.
        let is_dir = Path::new(std::ffi::OsStr::from_bytes(target)).is_dir();
        f.kind = if is_dir { fd_kind::DIRECTORY } else { fd_kind::FILE_V2 };
        f.name = target.to_vec();
    } else {
        f.kind = fd_kind::UNSUPPORTED;
        f.name = target.to_vec();
    }
    if let Ok(info) = fs::read_to_string(dir.join("fdinfo").join(fd.to_string())) {
        let flags = info
            .lines()
            .find_map(|l| l.strip_prefix("flags:"))
            .and_then(|v| u32::from_str_radix(v.trim(), 8).ok());
        if let Some(flags) = flags {
            f.open_flags = table_open_flags(flags);
        }
    }
    f
}

impl Sockets {
    fn lookup(&mut self, dir: &Path, ino: u64) -> Option<Socket> {
        let netns = fs::read_link(dir.join("ns/net")).ok()?.to_string_lossy().into_owned();
        let table = self.by_netns.entry(netns).or_insert_with(|| read_net(&dir.join("net")));
        table.get(&ino).cloned()
    }
}

/// Every socket of a namespace's `net/{tcp,tcp6,udp,udp6,unix}` tables, by inode.
fn read_net(net: &Path) -> HashMap<u64, Socket> {
    let mut out = HashMap::new();
    for (file, l4proto) in [("tcp", 2u8), ("tcp6", 2), ("udp", 3), ("udp6", 3)] {
        let Ok(text) = fs::read_to_string(net.join(file)) else { continue };
        for line in text.lines().skip(1) {
            if let Some((ino, s)) = inet_line(line, l4proto) {
                out.insert(ino, s);
            }
        }
    }
    if let Ok(text) = fs::read_to_string(net.join("unix")) {
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (Some(num), Some(ino)) = (f.first(), f.get(6)) else { continue };
            let Ok(ino) = ino.parse::<u64>() else { continue };
            out.insert(
                ino,
                Socket {
                    kind: fd_kind::UNIX_SOCK,
                    unix_source: u64::from_str_radix(num.trim_end_matches(':'), 16).unwrap_or(0),
                    name: f.get(7).map(|p| p.as_bytes().to_vec()).unwrap_or_default(),
                    ..Socket::default()
                },
            );
        }
    }
    out
}

/// One line of `/proc/net/tcp` (or tcp6, udp, udp6): `sl local rem st ... inode`.
fn inet_line(line: &str, l4proto: u8) -> Option<(u64, Socket)> {
    let f: Vec<&str> = line.split_whitespace().collect();
    let (ip, port) = address(f.get(1)?)?;
    let (rip, rport) = address(f.get(2)?)?;
    let ino: u64 = f.get(9)?.parse().ok()?;
    let listening = l4proto == 2 && *f.get(3)? == "0A";
    let v6 = ip.len() == 16;
    let kind = match (listening, v6) {
        (true, false) => fd_kind::IPV4_SERVSOCK,
        (true, true) => fd_kind::IPV6_SERVSOCK,
        (false, false) => fd_kind::IPV4_SOCK,
        (false, true) => fd_kind::IPV6_SOCK,
    };
    let connected = rport != 0;
    Some((
        ino,
        Socket {
            kind,
            l4proto,
            sip: ip,
            sport: port,
            dip: if listening || !connected { Vec::new() } else { rip },
            dport: if listening || !connected { 0 } else { rport },
            ..Socket::default()
        },
    ))
}

/// `0100007F:1F90` (or 32 hex digits for IPv6): the address in network order and the port.
/// The kernel prints each 32-bit word of the address as a number in host order.
fn address(text: &str) -> Option<(Vec<u8>, u16)> {
    let (ip, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let mut bytes = Vec::with_capacity(16);
    for word in ip.as_bytes().chunks(8) {
        let w = u32::from_str_radix(std::str::from_utf8(word).ok()?, 16).ok()?;
        bytes.extend_from_slice(&w.to_le_bytes());
    }
    matches!(bytes.len(), 4 | 16).then_some((bytes, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_proc_net_lines() {
        let line = concat!(
            "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000",
            "     0        0 12345 1 0000000000000000 100 0 0 10 0"
        );
        let (ino, s) = inet_line(line, 2).unwrap();
        assert_eq!(ino, 12345);
        assert_eq!(
            (s.kind, s.sip.as_slice(), s.sport),
            (fd_kind::IPV4_SERVSOCK, &[127, 0, 0, 1][..], 8080)
        );
        assert!(s.dip.is_empty());
        let (ip, port) = address("00000000000000000000000001000000:0050").unwrap();
        assert_eq!(port, 80);
        assert_eq!(ip[15], 1, "::1");
    }

    #[test]
    fn this_process_has_its_files_and_sockets() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let file = std::fs::File::open("/etc/hostname").unwrap();
        let me = std::process::id() as i64;
        let table = tables(Path::new("/proc"), [me]);
        let fds = &table[0].fds;
        assert!(fds.iter().any(|f| f.kind == fd_kind::FILE_V2 && f.name == b"/etc/hostname"));
        assert!(
            fds.iter().any(|f| f.kind == fd_kind::IPV4_SERVSOCK && f.sport == port),
            "{fds:#?}"
        );
        drop((listener, file));
    }
}
