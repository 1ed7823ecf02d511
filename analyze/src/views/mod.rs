//! Incident-response views over a capture: what a responder asks after an alert, answered
//! from the replayed state (sysdig's chisels answered the same questions live).
//!
//! These sit after [`state`](crate::state) and [`fields`](crate::fields) in the replay: the
//! binary walks a capture's events with the state rebuilt as it goes, hands each event to a
//! view, and prints what the view kept. [`top`] ranks processes, files, connections and
//! containers; [`lsof`] and [`netstat`] read the fd table at one moment; [`spy_users`] keeps
//! the commands run under a shell; [`spy_file`] adds up who touched one file and how.
//! [`lives`] follows every process from beginning to end (`dredge tree`, `dredge ps`) and
//! [`timeline`] keeps the notable acts; both hear the events from inside a replay, so the
//! findings of the rules come in the same pass. A view reads the state and the fields with
//! the semantics `dredge print` shows, so a view and a filter never disagree about an event.

pub mod lives;
pub mod lsof;
pub mod netstat;
pub mod spy_file;
pub mod spy_users;
pub mod timeline;
pub mod top;

use std::borrow::Cow;
use std::sync::{Arc, LazyLock};

use dredge_format::event::{Event, EventHeader, Params};
use dredge_format::table::{flag, table};
use dredge_rules::catalogue::fields;
use dredge_rules::compile::Filter;
use dredge_rules::compile::{Catalogue, FieldRef};
use dredge_rules::eval::{Extracted, Val, eval, extract};

use crate::fields::EventFields;
use crate::state::{Fd, State, Tables, Thread, View, code, int_param, l4};

/// Whether events of `code` read from or write to an fd (`evt.is_io`).
pub fn is_io(code: u16) -> bool {
    static IO: LazyLock<Vec<bool>> = LazyLock::new(|| {
        let t = table();
        (0..t.len() as u16)
            .map(|c| t.get(c).is_some_and(|e| e.has_flag(flag::READS_FROM_FD | flag::WRITES_TO_FD)))
            .collect()
    });
    IO.get(usize::from(code)).copied().unwrap_or(false)
}

/// The result of an exit (`evt.rawarg.res`); `None` for an enter or an event without one.
pub fn result(fields: &EventFields<'_>) -> Option<i64> {
    let ev = fields.merged.unwrap_or(fields.event);
    let c = code(ev.code());
    if !c.exit {
        return None;
    }
    int_param(ev, c.res)
}

/// A catalogue field, resolved once, read as text through [`text`].
pub struct Field(FieldRef);

impl Field {
    /// The field `name` (with `[arg]`, if given). The names are this module's own: an unknown
    /// one is a bug here, caught by the tests.
    fn new(name: &str, arg: Option<&str>) -> Field {
        let spec = fields().field(name, arg).unwrap_or_else(|e| panic!("{name}: {e}"));
        Field(FieldRef {
            name: name.to_string(),
            arg: arg.map(str::to_string),
            spec,
            transformers: Vec::new(),
            composite: None,
        })
    }

    /// The field's value for the event as text, `None` when missing.
    fn text<'a>(&self, fields: &'a EventFields<'a>) -> Option<Cow<'a, [u8]>> {
        match extract(&self.0, fields) {
            Extracted::One(v) => Some(value_text(v)),
            Extracted::Many(vs) => {
                let parts: Vec<Cow<[u8]>> = vs.into_iter().map(value_text).collect();
                Some(Cow::Owned(parts.join(&b' ')))
            }
            Extracted::Missing => None,
        }
    }

    /// The field's value as an integer, `None` when missing or not a number.
    fn int(&self, fields: &EventFields<'_>) -> Option<i64> {
        match extract(&self.0, fields) {
            Extracted::One(Val::Int(n)) => Some(n),
            Extracted::One(Val::Uint(n)) => i64::try_from(n).ok(),
            _ => None,
        }
    }
}

fn value_text(v: Val<'_>) -> Cow<'_, [u8]> {
    match v {
        Val::Bytes(b) => b,
        Val::Int(n) => Cow::Owned(n.to_string().into_bytes()),
        Val::Uint(n) => Cow::Owned(n.to_string().into_bytes()),
        Val::Bool(b) => Cow::Borrowed(if b { b"true" } else { b"false" }),
        Val::Ip(ip) => Cow::Owned(ip.to_string().into_bytes()),
    }
}

/// Bytes as text, invalid UTF-8 replaced.
fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `fd.type` of an fd; `<NA>` for the kinds libsinsp has no name for (an fd the recorder
/// listed as unsupported), as sysdig's lsof shows them.
pub fn fd_type(fd: &Fd) -> &'static str {
    match crate::fields::type_name(fd.kind) {
        b"unknown" => "<NA>",
        name => std::str::from_utf8(name).unwrap_or("<NA>"),
    }
}

/// `fd.name` of an open fd: a connected socket's tuple, a listening socket's address,
/// otherwise its recorded name.
pub fn fd_name(fd: &Fd) -> String {
    if let Some(tuple) = crate::fields::socket_name(fd) {
        return tuple;
    }
    let listener = crate::fields::is_listener(fd) && fd.name.is_empty();
    match crate::fields::ip(&fd.sip).filter(|_| listener) {
        Some(ip) => format!("{ip}:{}", fd.sport),
        // Old captures recorded unix socket paths with the newline of /proc/net/unix.
        None => lossy(fd.name.strip_suffix(b"\n").unwrap_or(&fd.name)),
    }
}

/// `fd.l4proto` of a socket.
pub fn l4proto(fd: &Fd) -> &'static str {
    match fd.l4proto {
        l4::TCP => "tcp",
        l4::UDP => "udp",
        l4::ICMP => "icmp",
        l4::RAW => "raw",
        _ => "<NA>",
    }
}

/// Whether `fd` is an internet socket (`fd.type` ipv4 or ipv6).
pub fn is_inet(fd: &Fd) -> bool {
    use dredge_format::state::fd_kind::*;
    matches!(fd.kind, IPV4_SOCK | IPV6_SOCK | IPV4_SERVSOCK | IPV6_SERVSOCK)
}

/// Whether `fd` is a file (`fd.type=file`).
pub fn is_file(fd: &Fd) -> bool {
    use dredge_format::state::fd_kind::*;
    matches!(fd.kind, FILE | FILE_V2)
}

/// `user.name` of a thread, `<NA>` when the capture did not name its uid (root is `root`).
pub fn user_name(tables: &Tables, t: &Thread) -> String {
    let users = &tables.users;
    let user =
        users.get(&(t.container_id.clone(), t.uid)).or_else(|| users.get(&(String::new(), t.uid)));
    match user {
        Some(u) => u.name.clone(),
        None if t.uid == 0 => "root".into(),
        None => "<NA>".into(),
    }
}

/// `container.name` of a thread: `host` outside containers; the id for a container the
/// capture did not name (`container.name` has no value there).
pub fn container_name(tables: &Tables, id: &str) -> String {
    if id.is_empty() {
        return "host".into();
    }
    let name = tables.containers.get(id).map_or("", |c| c.name.as_str());
    if name.is_empty() { id.to_string() } else { name.to_string() }
}

/// Writes `n` bytes as sysdig's chisels do: `832B`, `11.40KB`, `1.50M`, `2.00G`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KB", "M", "G", "T", "P"];
    if n <= 1024 {
        return format!("{n}B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.2}{}", UNITS[unit])
}

/// Whether `filter` matches fd `n` of thread `t` as a row of a table view (`lsof`,
/// `netstat`): the filter sees the thread, its process, its container and user, and the fd,
/// through an event of no type at time `ts`. Ancestor fields (`proc.pname`, `proc.aname`)
/// and event fields have no value there.
pub fn row_matches(
    filter: &Filter,
    state: &State,
    ts: u64,
    (t, n, fd): (&Arc<Thread>, i64, &Arc<Fd>),
) -> bool {
    let header = EventHeader { ts, tid: t.tid, ..EventHeader::default() };
    let event = Event { num: 0, header, params: Params::new(0, &[], &[]) };
    let process = state.threads.get(&t.pid).filter(|p| p.tid != t.tid).cloned();
    let view = View {
        thread: Some(t.clone()),
        process,
        fd_num: Some(n),
        fd: Some(fd.clone()),
        ..View::default()
    };
    eval(filter, &EventFields::new(&event, &view, &state.tables))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dredge_format::state::fd_kind;

    #[test]
    fn bytes_read_as_the_chisels_write_them() {
        assert_eq!(human_bytes(832), "832B");
        assert_eq!(human_bytes(1024), "1024B");
        assert_eq!(human_bytes(11_672), "11.40KB");
        assert_eq!(human_bytes(1_572_864), "1.50M");
        assert_eq!(human_bytes(2 << 30), "2.00G");
    }

    #[test]
    fn io_is_reads_and_writes_on_fds() {
        let t = table();
        let code_of =
            |name: &str| (0..t.len() as u16).find(|&c| t.get(c).is_some_and(|e| e.name == name));
        assert!(is_io(code_of("read").unwrap_or(0)));
        assert!(is_io(code_of("sendto").unwrap_or(0)));
        assert!(!is_io(code_of("open").unwrap_or(0)));
    }

    #[test]
    fn a_listening_socket_is_named_by_its_address_and_a_path_loses_its_newline() {
        let listening =
            Fd { kind: fd_kind::IPV6_SERVSOCK, sip: vec![0; 16], sport: 22, ..Fd::default() };
        assert_eq!(fd_name(&listening), ":::22");
        let unix =
            Fd { kind: fd_kind::UNIX_SOCK, name: b"/run/acpid.socket\n".to_vec(), ..Fd::default() };
        assert_eq!(fd_name(&unix), "/run/acpid.socket");
        assert_eq!(fd_type(&Fd { kind: fd_kind::UNSUPPORTED, ..Fd::default() }), "<NA>");
    }

    #[test]
    fn a_container_without_a_name_is_its_id() {
        let mut tables = Tables::default();
        assert_eq!(container_name(&tables, ""), "host");
        assert_eq!(container_name(&tables, "0b703f366424"), "0b703f366424");
        let c = dredge_format::state::Container {
            id: "c010f5a08549".into(),
            name: "alpine".into(),
            ..Default::default()
        };
        tables.containers.insert(c.id.clone(), c);
        assert_eq!(container_name(&tables, "c010f5a08549"), "alpine");
    }
}
