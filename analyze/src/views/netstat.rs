//! The network connections at one moment: every ipv4 and ipv6 socket open in a process,
//! listening or connected (sysdig's `netstat` chisel).
//!
//! A socket with no client address (never connected, or bound and listening) is `LISTEN`,
//! its client shown as `0.0.0.0:*`; one with both ends known is `ESTABLISHED`. The server
//! is the side that accepted or was connected to.

use std::borrow::Cow;
use std::net::IpAddr;

use rustc_hash::FxHashSet;

use super::{ip_addr as ip, l4proto, lossy};
use crate::state::{Fd, Role, State, Thread};

/// One socket.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Conn {
    /// `fd.l4proto`.
    pub proto: &'static str,
    /// `ip:port` of the server side.
    pub server: String,
    /// `ip:port` of the client side, `0.0.0.0:*` for a listening socket.
    pub client: String,
    /// `LISTEN` or `ESTABLISHED`.
    pub state: &'static str,
    pub tid: i64,
    pub pid: i64,
    /// `proc.name`.
    pub command: String,
    pub fd: i64,
}
/// `ip:port`, IPv6 without brackets as sysdig writes it.
fn endpoint(ip: IpAddr, port: u16) -> String {
    format!("{ip}:{port}")
}

/// The socket as a connection, when it is one. `listening` holds the ports of the listening
/// sockets, to tell which end of a connection the capture found open is the server.
fn conn(t: &Thread, n: i64, fd: &Fd, listening: &FxHashSet<u16>) -> Option<Conn> {
    use dredge_format::state::fd_kind::*;
    let (server, client, state) = match fd.kind {
        IPV4_SERVSOCK | IPV6_SERVSOCK => {
            (endpoint(ip(&fd.sip)?, fd.sport), "0.0.0.0:*".to_string(), "LISTEN")
        }
        IPV4_SOCK | IPV6_SOCK => {
            let fd = oriented(fd, listening);
            let (server, client) = (ip(&fd.dip)?, ip(&fd.sip)?);
            (endpoint(server, fd.dport), endpoint(client, fd.sport), "ESTABLISHED")
        }
        _ => return None,
    };
    Some(Conn {
        proto: l4proto(fd),
        server,
        client,
        state,
        tid: t.tid,
        pid: t.pid,
        command: lossy(&t.comm),
        fd: n,
    })
}

/// The ports that listening sockets of `state` listen on.
pub(crate) fn listening(state: &State) -> FxHashSet<u16> {
    use dredge_format::state::fd_kind::*;
    let servers = state.fds.values().flat_map(|m| m.values());
    servers.filter(|f| matches!(f.kind, IPV4_SERVSOCK | IPV6_SERVSOCK)).map(|f| f.sport).collect()
}

/// A connected socket with the client first (`sip`, `sport`) and the server second. A socket
/// the capture found open (no connect or accept seen) is recorded local end first; when its
/// local port is one a socket listens on and the other is not, it was accepted, and its ends
/// are turned round.
pub(crate) fn oriented<'f>(fd: &'f Fd, listening: &FxHashSet<u16>) -> Cow<'f, Fd> {
    use dredge_format::state::fd_kind::*;
    let accepted = matches!(fd.kind, IPV4_SOCK | IPV6_SOCK)
        && fd.role == Role::Unknown
        && listening.contains(&fd.sport)
        && !listening.contains(&fd.dport);
    if !accepted {
        return Cow::Borrowed(fd);
    }
    let mut turned = fd.clone();
    std::mem::swap(&mut turned.sip, &mut turned.dip);
    std::mem::swap(&mut turned.sport, &mut turned.dport);
    Cow::Owned(turned)
}

/// The connections of `state` that `keep` keeps, by pid then fd number.
pub fn netstat(state: &State, keep: super::lsof::Keep<'_>) -> Vec<Conn> {
    let owners = super::lsof::owners(state);
    let listening = listening(state);
    let mut out = Vec::new();
    for (pid, table) in &state.fds {
        let Some(t) = owners.get(pid) else { continue };
        for (&n, fd) in table {
            if let Some(c) = conn(t, n, fd, &listening).filter(|_| keep(t, n, fd)) {
                out.push(c);
            }
        }
    }
    out.sort_by_key(|c| (c.pid, c.fd));
    out
}
