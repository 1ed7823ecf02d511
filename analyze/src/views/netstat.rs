//! The network connections at one moment: every ipv4 and ipv6 socket open in a process,
//! listening or connected (sysdig's `netstat` chisel).
//!
//! A socket with no client address (never connected, or bound and listening) is `LISTEN`,
//! its client shown as `0.0.0.0:*`; one with both ends known is `ESTABLISHED`. The server
//! is the side that accepted or was connected to.

use std::borrow::Cow;
use std::net::IpAddr;

use rustc_hash::FxHashSet;

use super::{l4proto, lossy};
use crate::fields::{ip, is_listener};
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
            let fd = shown(fd, listening);
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
    let servers = state.fds.values().flat_map(|m| m.values());
    servers.filter(|f| is_listener(f)).map(|f| f.sport).collect()
}

/// A socket as the views show it. A connected socket: IPv4 when both ends are IPv4
/// addresses mapped into IPv6 (as libsinsp turns them), and the client first (`sip`,
/// `sport`), the server second. A socket the capture found open (no connect or accept seen)
/// is recorded local end first; when its local port is one a socket listens on and the other
/// is not, it was accepted, and its ends are turned round.
pub(crate) fn shown<'f>(fd: &'f Fd, listening: &FxHashSet<u16>) -> Cow<'f, Fd> {
    use dredge_format::state::fd_kind::*;
    if !matches!(fd.kind, IPV4_SOCK | IPV6_SOCK) {
        return Cow::Borrowed(fd);
    }
    let mut fd = Cow::Borrowed(fd);
    let mapped = |b: &[u8]| {
        <[u8; 16]>::try_from(b).ok().and_then(|a| std::net::Ipv6Addr::from(a).to_ipv4_mapped())
    };
    if let (Some(s), Some(d)) = (mapped(&fd.sip), mapped(&fd.dip)) {
        let f = fd.to_mut();
        f.kind = IPV4_SOCK;
        (f.sip, f.dip) = (s.octets().to_vec(), d.octets().to_vec());
    }
    let accepted =
        fd.role == Role::Unknown && listening.contains(&fd.sport) && !listening.contains(&fd.dport);
    if accepted {
        let f = fd.to_mut();
        std::mem::swap(&mut f.sip, &mut f.dip);
        std::mem::swap(&mut f.sport, &mut f.dport);
    }
    fd
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

#[cfg(test)]
mod tests {
    use super::*;
    use dredge_format::state::fd_kind;

    fn tcp(sip: [u8; 4], sport: u16, dip: [u8; 4], dport: u16) -> Fd {
        Fd {
            kind: fd_kind::IPV4_SOCK,
            l4proto: crate::state::l4::TCP,
            sip: sip.to_vec(),
            sport,
            dip: dip.to_vec(),
            dport,
            ..Fd::default()
        }
    }

    #[test]
    fn a_connection_found_open_on_a_listening_port_was_accepted() {
        let listening: FxHashSet<u16> = [22].into_iter().collect();
        let t = Thread { tid: 3062, pid: 3062, comm: b"sshd".to_vec(), ..Thread::default() };
        let accepted = tcp([10, 0, 2, 15], 22, [10, 0, 2, 2], 50879);
        let c = conn(&t, 3, &accepted, &listening).unwrap_or_else(|| panic!("a connection"));
        assert_eq!((c.server.as_str(), c.client.as_str()), ("10.0.2.15:22", "10.0.2.2:50879"));
        assert_eq!(c.state, "ESTABLISHED");
        let outgoing = tcp([10, 0, 2, 15], 40000, [1, 2, 3, 4], 443);
        let c = conn(&t, 4, &outgoing, &listening).unwrap_or_else(|| panic!("a connection"));
        assert_eq!((c.server.as_str(), c.client.as_str()), ("1.2.3.4:443", "10.0.2.15:40000"));
    }

    #[test]
    fn mapped_addresses_are_ipv4_and_a_bound_socket_listens() {
        let mapped = |a: [u8; 4]| std::net::Ipv4Addr::from(a).to_ipv6_mapped().octets().to_vec();
        let fd = Fd {
            kind: fd_kind::IPV6_SOCK,
            sip: mapped([127, 0, 0, 1]),
            sport: 48884,
            dip: mapped([127, 0, 1, 1]),
            dport: 7077,
            role: Role::Client,
            ..Fd::default()
        };
        let shown = shown(&fd, &FxHashSet::default());
        assert_eq!(shown.kind, fd_kind::IPV4_SOCK);
        assert_eq!(super::super::fd_name(&shown), "127.0.0.1:48884->127.0.1.1:7077");
        let t = Thread { tid: 1, pid: 1, ..Thread::default() };
        let server =
            Fd { kind: fd_kind::IPV4_SERVSOCK, sip: vec![0; 4], sport: 80, ..Fd::default() };
        let c = conn(&t, 3, &server, &FxHashSet::default()).unwrap_or_else(|| panic!("listening"));
        assert_eq!(
            (c.server.as_str(), c.client.as_str(), c.state),
            ("0.0.0.0:80", "0.0.0.0:*", "LISTEN")
        );
    }
}
