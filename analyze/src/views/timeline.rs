//! The notable acts of a capture in time order (`dredge timeline`): programs run, files
//! written, renamed, linked, deleted or made executable, connections made, accepted and
//! listened for, identity and privilege changes (setuid, capabilities through ptrace, BPF,
//! modules, mounts, namespaces), and the findings of the rules.
//!
//! An act is a system call that worked (a connect in progress counts), told by its kind and
//! its object: the command line for a program, `fd.name` for a file opened for writing or a
//! socket, the call's arguments otherwise. The same act on the same object repeated by a
//! process with nothing else between counts once, with the repeats. Writes to `/dev/null`
//! are not acts, nor (unless asked) what the container runtime's init does.

use std::sync::LazyLock;

use dredge_format::event::Event;
use dredge_format::table::table;

use super::lives::{Lives, Mark};
use super::{Field, lossy};
use crate::fields::EventFields;
use crate::state::{Needs, State, code, int_param};

/// What a process did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Exec,
    Write,
    Rename,
    Link,
    Delete,
    Chmod,
    Connect,
    Accept,
    Listen,
    /// setuid, setgid and their kin.
    Identity,
    /// ptrace, bpf, module loads, mounts, setns and unshare.
    System,
    Finding,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Exec => "exec",
            Kind::Write => "write",
            Kind::Rename => "rename",
            Kind::Link => "link",
            Kind::Delete => "delete",
            Kind::Chmod => "chmod",
            Kind::Connect => "connect",
            Kind::Accept => "accept",
            Kind::Listen => "listen",
            Kind::Identity => "identity",
            Kind::System => "system",
            Kind::Finding => "finding",
        }
    }

    /// The kind of act an exit of `name` is, if any.
    fn of(name: &str) -> Option<Kind> {
        Some(match name {
            "execve" | "execveat" => Kind::Exec,
            "open" | "openat" | "openat2" | "creat" => Kind::Write,
            "rename" | "renameat" | "renameat2" => Kind::Rename,
            "link" | "linkat" | "symlink" | "symlinkat" => Kind::Link,
            "unlink" | "unlinkat" | "rmdir" => Kind::Delete,
            "chmod" | "fchmod" | "fchmodat" => Kind::Chmod,
            "connect" => Kind::Connect,
            "accept" | "accept4" => Kind::Accept,
            "listen" => Kind::Listen,
            "setuid" | "setgid" | "setresuid" | "setresgid" | "setreuid" | "setregid"
            | "capset" => Kind::Identity,
            "ptrace" | "bpf" | "init_module" | "finit_module" | "delete_module" | "mount"
            | "umount" | "umount2" | "setns" | "unshare" | "pivot_root" | "chroot" => Kind::System,
            _ => return None,
        })
    }
}

/// The kind of act of each event code: exits only.
fn kind_of(c: u16) -> Option<Kind> {
    static KINDS: LazyLock<Vec<Option<Kind>>> = LazyLock::new(|| {
        let t = table();
        (0..t.len() as u16)
            .map(|c| t.get(c).filter(|_| code(c).exit).and_then(|e| Kind::of(e.name)))
            .collect()
    });
    KINDS.get(usize::from(c)).copied().flatten()
}

/// One act.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Act {
    /// The event (the first, for a repeated act).
    pub num: u64,
    pub ts: u64,
    /// The process's life (an index into [`Lives::lives`]).
    #[serde(skip)]
    pub life: usize,
    pub pid: i64,
    /// `proc.name`.
    pub name: String,
    pub kind: Kind,
    pub object: String,
    /// How many times in a row it was done.
    pub count: u32,
}

/// `errno` of a connect still in progress: a connection all the same.
const EINPROGRESS: i64 = -115;

/// The acts of a capture, event after event.
pub struct Timeline {
    pub acts: Vec<Act>,
    /// Whether the acts of the container runtime's init (`runc:[...]`, which mounts, links
    /// and changes ids while it sets a container up) are kept.
    pub runtime: bool,
    /// Per life, its last act (for repeats).
    last: rustc_hash::FxHashMap<usize, usize>,
    fields: Fields,
}

struct Fields {
    cmdline: Field,
    fd_name: Field,
    open_write: Field,
    args: Field,
    comm: Field,
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline {
            acts: Vec::new(),
            runtime: false,
            last: Default::default(),
            fields: Fields {
                cmdline: Field::new("proc.cmdline", None),
                fd_name: Field::new("fd.name", None),
                open_write: Field::new("evt.is_open_write", None),
                args: Field::new("evt.args", None),
                comm: Field::new("proc.name", None),
            },
        }
    }
}

impl Timeline {
    /// Whether events of `code` can be acts: the others need not be looked at.
    pub fn wants(code: u16) -> bool {
        kind_of(code).is_some()
    }

    /// An event, with the state as of it and the lives so far; `keep` says whether its
    /// fields pass the caller's filter.
    pub fn event(
        &mut self,
        ev: &Event<'_>,
        state: &mut State,
        lives: &Lives,
        keep: &dyn Fn(&EventFields<'_>) -> bool,
    ) {
        let Some(kind) = kind_of(ev.code()) else { return };
        // Calls that make an fd return it as their `fd`.
        let c = code(ev.code());
        let res = int_param(ev, c.res.or(c.fd.filter(|_| c.creates_fd)));
        if !res.is_some_and(|r| r >= 0 || (kind == Kind::Connect && r == EINPROGRESS)) {
            return;
        }
        let view = state.view_of(ev, ev, Needs::ARGS);
        let fields = EventFields::new(ev, &view, &state.tables);
        let f = &self.fields;
        let text = |field: &Field| field.text(&fields).map(|t| lossy(&t)).unwrap_or_default();
        if !self.runtime && view.thread.as_ref().is_some_and(|t| t.comm.starts_with(b"runc:[")) {
            return;
        }
        let object = match kind {
            Kind::Exec => text(&f.cmdline),
            Kind::Write if f.open_write.text(&fields).as_deref() != Some(b"true") => return,
            Kind::Write if f.fd_name.text(&fields).as_deref() == Some(b"/dev/null") => return,
            Kind::Write | Kind::Connect | Kind::Accept | Kind::Listen => text(&f.fd_name),
            _ => {
                let args = text(&f.args);
                args.strip_prefix("res=0 ").unwrap_or(&args).trim_end().to_string()
            }
        };
        if !keep(&fields) {
            return;
        }
        let pid = view.thread.as_ref().map_or(ev.tid(), |t| t.pid);
        let Some(life) = lives.current(pid) else { return };
        let name = text(&f.comm);
        self.push(Act { num: ev.num, ts: ev.ts(), life, pid, name, kind, object, count: 1 });
    }

    /// A finding, on the life of process `pid` its event belongs to.
    pub fn finding(&mut self, lives: &Lives, pid: i64, mark: &Mark) {
        let Some(life) = lives.life_of(pid, mark.num) else { return };
        let name = lives.lives[life].program_at(mark.ts).thread.comm.clone();
        self.acts.push(Act {
            num: mark.num,
            ts: mark.ts,
            life,
            pid,
            name: lossy(&name),
            kind: Kind::Finding,
            object: format!("{} {}", mark.priority, mark.rule),
            count: 1,
        });
    }

    /// The acts in event order (findings after the acts of their event).
    pub fn sorted(mut self) -> Vec<Act> {
        self.acts.sort_by_key(|a| (a.num, a.kind == Kind::Finding));
        self.acts
    }

    fn push(&mut self, act: Act) {
        if let Some(&i) = self.last.get(&act.life) {
            let prev = &mut self.acts[i];
            if prev.kind == act.kind && prev.object == act.object {
                prev.count += 1;
                return;
            }
        }
        self.last.insert(act.life, self.acts.len());
        self.acts.push(act);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exits_of_the_notable_calls_are_acts() {
        let t = table();
        let of = |name: &str, exit: bool| {
            (0..t.len() as u16)
                .filter(|&c| t.get(c).is_some_and(|e| e.name == name) && code(c).exit == exit)
                .map(kind_of)
                .next_back()
                .flatten()
        };
        assert_eq!(of("execve", true), Some(Kind::Exec));
        assert_eq!(of("execve", false), None);
        assert_eq!(of("connect", true), Some(Kind::Connect));
        assert_eq!(of("read", true), None);
        assert_eq!(of("finit_module", true), Some(Kind::System));
    }
}
