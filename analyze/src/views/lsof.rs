//! The fd table at one moment: every open fd of every process, with its owner (sysdig's
//! `lsof` chisel).
//!
//! Fds belong to processes (a process's threads share them), so each fd is listed once,
//! under its process's main thread, or when the capture never showed that thread, under the
//! lowest thread id of the process it did show.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::{container_name, fd_name, fd_type, lossy, user_name};
use crate::state::{Fd, State, Thread};

/// Decides which fds a table view lists: the fd's thread (see [`owners`]), number and fd.
pub type Keep<'a> = &'a mut dyn FnMut(&Arc<Thread>, i64, &Arc<Fd>) -> bool;

/// One open fd.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OpenFd {
    /// `proc.name`.
    pub command: String,
    pub pid: i64,
    pub tid: i64,
    /// `user.name`.
    pub user: String,
    pub container: String,
    pub fd: i64,
    /// `fd.type`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `fd.name`.
    pub name: String,
}

/// The thread each process's fds are listed under (see the module doc).
pub(crate) fn owners(state: &State) -> FxHashMap<i64, &Arc<Thread>> {
    let mut owners: FxHashMap<i64, &Arc<Thread>> = FxHashMap::default();
    for t in state.threads.values() {
        let slot = owners.entry(t.pid).or_insert(t);
        let main = |x: &Thread| x.tid == x.pid;
        if !main(slot) && (main(t) || t.tid < slot.tid) {
            *slot = t;
        }
    }
    owners
}

/// The open fds of `state` that `keep` keeps, by pid then fd number.
pub fn lsof(state: &State, keep: Keep<'_>) -> Vec<OpenFd> {
    let owners = owners(state);
    let listening = super::netstat::listening(state);
    let mut out = Vec::new();
    for (pid, table) in &state.fds {
        let Some(t) = owners.get(pid) else { continue };
        for (&n, fd) in table {
            if !keep(t, n, fd) {
                continue;
            }
            let shown = super::netstat::shown(fd, &listening);
            out.push(OpenFd {
                command: lossy(&t.comm),
                pid: *pid,
                tid: t.tid,
                user: user_name(&state.tables, t),
                container: container_name(&state.tables, &t.container_id),
                fd: n,
                kind: fd_type(&shown),
                name: fd_name(&shown),
            });
        }
    }
    out.sort_by_key(|o| (o.pid, o.fd));
    out
}
