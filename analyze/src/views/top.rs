//! Top lists: the processes, files, connections or containers that did the most I/O, took the
//! most time in it, or saw the most events (sysdig's `topprocs_*`, `topfiles_*`, `topconns`
//! and `topcontainers_*` chisels, over a whole capture).
//!
//! Bytes are the positive results of the exits of I/O syscalls (those that read from or write
//! to an fd: `evt.is_io`), added up per key; time is the latency of those exits (exit time
//! less the time of its enter, the thread's syscall event just before it; a context switch
//! in between counts as part of the call). Events counts every event
//! that has the key: every event of a process, every event on a file or socket fd, every
//! event in a container. Files are `fd.type=file` fds by `fd.name`; connections are ipv4 and
//! ipv6 sockets by `fd.l4proto` and `fd.name`; containers leave the host out.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use dredge_format::event::Event;

use super::{container_name, fd_name, is_file, is_inet, is_io, l4proto};
use crate::fields::EventFields;
use crate::state::{Fd, Tables, Thread, code, int_param};

/// What a top list ranks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// By `proc.name` and `proc.pid`.
    Procs,
    /// File fds, by `fd.name`.
    Files,
    /// ipv4 and ipv6 sockets, by `fd.l4proto` and `fd.name`.
    Conns,
    /// By `container.name` (the host left out).
    Containers,
}

/// What a top list adds up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    Events,
    /// The bytes of I/O exits (`evt.rawarg.res` when positive).
    Bytes,
    /// The latency of I/O exits, in ns.
    Time,
}

impl Subject {
    /// The names of the key columns, as sysdig's fields.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Subject::Procs => &["proc.name", "proc.pid"],
            Subject::Files => &["fd.name"],
            Subject::Conns => &["fd.l4proto", "fd.name"],
            Subject::Containers => &["container.name"],
        }
    }
}

/// One line of a top list: the key, one text per column of [`Subject::columns`], and the
/// total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub key: Vec<String>,
    pub total: u64,
}

/// A top list being added up, event after event.
pub struct Top {
    subject: Subject,
    measure: Measure,
    /// Per pid, per process name (a process that execs shows under each of its names).
    procs: FxHashMap<i64, Vec<(Vec<u8>, u64)>>,
    /// Per fd version (equal versions share a slot): its slot in `fd_totals`; merged by
    /// shown name at the end.
    fds: FxHashMap<Arc<Fd>, usize>,
    fd_totals: Vec<u64>,
    /// The version last added to, and its slot: events in a row are mostly on one fd, and
    /// the same version needs no hashing.
    last_fd: Option<(Arc<Fd>, usize)>,
    /// Per container id.
    containers: FxHashMap<String, u64>,
    /// Per thread: the code and time of its last syscall enter (for latencies).
    last: FxHashMap<i64, (u16, u64)>,
}

impl Top {
    pub fn new(subject: Subject, measure: Measure) -> Top {
        Top {
            subject,
            measure,
            procs: FxHashMap::default(),
            fds: FxHashMap::default(),
            fd_totals: Vec::new(),
            last_fd: None,
            containers: FxHashMap::default(),
            last: FxHashMap::default(),
        }
    }

    /// Adds the event to the list. Every event of the capture is to be given, in order (the
    /// latency of an exit needs the enter before it); which are counted is the caller's
    /// choice through `counted` (its filter).
    pub fn event(&mut self, f: &EventFields<'_>, counted: bool) {
        let amount = self.amount(f.event, f.merged);
        if counted {
            self.add(f, amount);
        }
    }

    /// What the event would add, whatever its key; 0 when it adds nothing (then the caller
    /// need not make its fields). Every event is to be given here, in order.
    pub fn amount(&mut self, ev: &Event<'_>, merged: Option<&Event<'_>>) -> u64 {
        match self.measure {
            Measure::Events => 1,
            Measure::Bytes if is_io(ev.code()) => {
                let args = merged.unwrap_or(ev);
                let c = code(args.code());
                let res = if c.exit { int_param(args, c.res) } else { None };
                res.map_or(0, |r| r.max(0) as u64)
            }
            Measure::Bytes => 0,
            Measure::Time => {
                let c = code(ev.code());
                if !c.syscall {
                    // A context switch between an enter and its exit is part of the call.
                    return 0;
                }
                if !c.exit {
                    self.last.insert(ev.tid(), (ev.code(), ev.ts()));
                    return 0;
                }
                // The exit right after its own enter on the thread (an exit's code follows
                // its enter's).
                match self.last.get(&ev.tid()) {
                    Some(&(enter, at)) if is_io(ev.code()) && enter + 1 == ev.code() => {
                        ev.ts().saturating_sub(at)
                    }
                    _ => 0,
                }
            }
        }
    }

    /// Adds `amount` (from [`Top::amount`]) to the event's key, if it has one.
    pub fn add(&mut self, f: &EventFields<'_>, amount: u64) {
        if amount == 0 {
            return;
        }
        match self.subject {
            Subject::Procs | Subject::Containers => {
                if let Some(t) = f.view.thread.as_deref() {
                    self.add_for_thread(t, amount);
                }
            }
            Subject::Files | Subject::Conns => {
                if let Some(fd) = &f.view.fd {
                    self.add_for_fd(fd, amount);
                }
            }
        }
    }

    /// Adds `amount` to fd `fd` (lists of files or connections only need the fd: the caller
    /// may skip making the event's fields, see [`State::event_fd`]).
    ///
    /// [`State::event_fd`]: crate::state::State::event_fd
    pub fn add_for_fd(&mut self, fd: &Arc<Fd>, amount: u64) {
        let kept = match self.subject {
            Subject::Files => is_file(fd),
            Subject::Conns => is_inet(fd),
            _ => false,
        };
        if kept {
            let slot = match &self.last_fd {
                Some((last, slot)) if Arc::ptr_eq(last, fd) => *slot,
                _ => {
                    let next = self.fd_totals.len();
                    let slot = *self.fds.entry(fd.clone()).or_insert(next);
                    if slot == next {
                        self.fd_totals.push(0);
                    }
                    self.last_fd = Some((fd.clone(), slot));
                    slot
                }
            };
            self.fd_totals[slot] += amount;
        }
    }

    /// Adds `amount` to thread `t`'s process or container (lists of those only need the
    /// thread: the caller may skip making the event's fields).
    pub fn add_for_thread(&mut self, t: &Thread, amount: u64) {
        match self.subject {
            Subject::Procs => {
                let names = self.procs.entry(t.pid).or_default();
                match names.iter_mut().find(|(n, _)| *n == t.comm) {
                    Some((_, total)) => *total += amount,
                    None => names.push((t.comm.clone(), amount)),
                }
            }
            Subject::Containers if !t.container_id.is_empty() => {
                match self.containers.get_mut(t.container_id.as_str()) {
                    Some(total) => *total += amount,
                    None => {
                        self.containers.insert(t.container_id.clone(), amount);
                    }
                }
            }
            _ => {}
        }
    }

    /// Whether the list keys on the thread alone (see [`Top::add_for_thread`]).
    pub fn by_thread(&self) -> bool {
        matches!(self.subject, Subject::Procs | Subject::Containers)
    }

    /// The list, largest first (ties by key), cut to `n` lines (0: all).
    pub fn rows(self, tables: &Tables, n: usize) -> Vec<Row> {
        let mut rows: Vec<Row> = match self.subject {
            Subject::Procs => self
                .procs
                .into_iter()
                .flat_map(|(pid, names)| {
                    names.into_iter().map(move |(name, total)| Row {
                        key: vec![String::from_utf8_lossy(&name).into_owned(), pid.to_string()],
                        total,
                    })
                })
                .collect(),
            Subject::Files | Subject::Conns => {
                let mut by_name: FxHashMap<Vec<String>, u64> = FxHashMap::default();
                for (fd, slot) in self.fds {
                    let total = self.fd_totals[slot];
                    let key = match self.subject {
                        Subject::Files => vec![fd_name(&fd)],
                        _ => vec![l4proto(&fd).to_string(), fd_name(&fd)],
                    };
                    *by_name.entry(key).or_default() += total;
                }
                by_name.into_iter().map(|(key, total)| Row { key, total }).collect()
            }
            Subject::Containers => {
                let mut by_name: FxHashMap<String, u64> = FxHashMap::default();
                for (id, total) in self.containers {
                    *by_name.entry(container_name(tables, &id)).or_default() += total;
                }
                by_name.into_iter().map(|(name, total)| Row { key: vec![name], total }).collect()
            }
        };
        rows.sort_by(|a, b| b.total.cmp(&a.total).then_with(|| a.key.cmp(&b.key)));
        if n > 0 {
            rows.truncate(n);
        }
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_largest_first_and_cut() {
        let mut top = Top::new(Subject::Procs, Measure::Bytes);
        top.procs.insert(10, vec![(b"sh".to_vec(), 5), (b"curl".to_vec(), 700)]);
        top.procs.insert(11, vec![(b"nginx".to_vec(), 90)]);
        let rows = top.rows(&Tables::default(), 2);
        let keys: Vec<_> = rows.iter().map(|r| (r.key.join(" "), r.total)).collect();
        assert_eq!(keys, [("curl 10".to_string(), 700), ("nginx 11".to_string(), 90)]);
    }

    #[test]
    fn files_of_equal_names_are_one_line() {
        let mut top = Top::new(Subject::Files, Measure::Events);
        let file = |flags| Fd {
            kind: dredge_format::state::fd_kind::FILE,
            name: b"/etc/hosts".to_vec(),
            open_flags: flags,
            ..Fd::default()
        };
        top.add_for_fd(&Arc::new(file(0)), 2);
        top.add_for_fd(&Arc::new(file(1)), 3);
        let rows = top.rows(&Tables::default(), 0);
        assert_eq!(rows, [Row { key: vec!["/etc/hosts".into()], total: 5 }]);
    }
}
