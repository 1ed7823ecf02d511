//! The commands run under a shell, per user (sysdig's `spy_users` chisel).
//!
//! Every successful execve is a command, kept when the process has an ancestor whose name
//! ends in `sh` (within 16 generations); a successful chdir by a shell (a process whose name
//! contains `sh`, sshd aside) is a `cd`. A command is shown with the outermost such shell
//! (the login shell) and its depth below it: the first command seen under a shell is at
//! depth 1, its children at 2, and so on. Depths are given when first known and kept, as the
//! chisel does, so a process seen before its shell counts from where it was first seen.

use rustc_hash::FxHashMap;

use super::{Field, lossy, result};
use crate::fields::EventFields;

/// How far up the ancestors a shell is looked for.
const ANCESTORS: usize = 16;

/// One command (or `cd`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Command {
    /// Nanoseconds since the epoch.
    pub ts: u64,
    /// How far below the login shell (0: a child of it).
    pub depth: u32,
    /// The pid of the login shell.
    pub shell: i64,
    pub pid: i64,
    /// `user.name`, `<NA>` when unknown.
    pub user: String,
    pub container: String,
    /// `proc.exe` and `proc.args`, or `cd DIR`.
    pub command: String,
}

/// The commands of a capture, event after event.
pub struct SpyUsers {
    /// Per pid: its depth below its shell and the shell's pid; `None` for a process with no
    /// shell above it.
    tree: FxHashMap<i64, Option<(u32, i64)>>,
    fields: Fields,
    pub commands: Vec<Command>,
}

struct Fields {
    user: Field,
    container: Field,
    exe: Field,
    args: Field,
    ppid: Field,
    anames: Vec<Field>,
    apids: Vec<Field>,
}

impl Default for SpyUsers {
    fn default() -> Self {
        let nth = |name: &str| -> Vec<Field> {
            (0..=ANCESTORS).map(|j| Field::new(name, Some(&j.to_string()))).collect()
        };
        SpyUsers {
            tree: FxHashMap::default(),
            fields: Fields {
                user: Field::new("user.name", None),
                container: Field::new("container.name", None),
                exe: Field::new("proc.exe", None),
                args: Field::new("proc.args", None),
                ppid: Field::new("proc.ppid", None),
                anames: nth("proc.aname"),
                apids: nth("proc.apid"),
            },
            commands: Vec::new(),
        }
    }
}

impl SpyUsers {
    /// Whether the view needs the event: execve and chdir exits.
    pub fn wants(code: u16) -> bool {
        static WANTED: std::sync::LazyLock<Vec<u16>> = std::sync::LazyLock::new(|| {
            let t = dredge_format::table::table();
            (0..t.len() as u16)
                .filter(|&c| {
                    t.get(c).is_some_and(|e| {
                        matches!(e.name, "execve" | "chdir")
                            && e.direction == dredge_format::table::Direction::Exit
                    })
                })
                .collect()
        });
        WANTED.contains(&code)
    }

    /// Takes the event in, if it is a command.
    pub fn event(&mut self, f: &EventFields<'_>) {
        if !Self::wants(f.event.code()) || result(f).is_none_or(|r| r < 0) {
            return;
        }
        let Some(t) = f.view.thread.as_deref() else { return };
        let cd = f.event.name() == "chdir";
        if cd {
            let comm = &t.comm;
            let has = |s: &[u8]| comm.windows(s.len()).any(|w| w == s);
            if !has(b"sh") || has(b"sshd") {
                return;
            }
        }
        let fl = &self.fields;
        let pid = t.pid;
        // A cd is placed under the shell that runs it; a command under its parent.
        let (parent, first) = if cd { (pid, 0) } else { (fl.ppid.int(f).unwrap_or(-1), 1) };
        if !self.tree.contains_key(&parent) {
            let mut found = None;
            for j in first..first + ANCESTORS {
                match fl.anames[j].text(f) {
                    None if fl.apids[j].int(f).is_none() => break,
                    None => {}
                    Some(name) if name.ends_with(b"sh") => {
                        let Some(apid) = fl.apids[j].int(f) else { continue };
                        let depth =
                            if self.tree.contains_key(&apid) { (j - first) as u32 } else { 0 };
                        found = Some((depth, apid));
                    }
                    Some(_) => {}
                }
            }
            self.tree.insert(parent, found);
        }
        let Some(Some((depth, shell))) = self.tree.get(&parent).copied() else { return };
        let entry = *self.tree.entry(pid).or_insert(Some((depth + 1, shell)));
        let Some((depth, shell)) = entry else { return };
        let depth = depth.saturating_sub(if cd { 0 } else { 1 });
        let text = |field: &Field| fl_text(field, f);
        let command = if cd {
            let ev = f.merged.unwrap_or(f.event);
            let at = ev.info().and_then(|i| i.params.iter().position(|p| p.name == "path"));
            let dir = at.and_then(|i| crate::fields::render_param(ev, i)).unwrap_or_default();
            format!("cd {}", lossy(&dir))
        } else {
            format!("{} {}", text(&fl.exe), text(&fl.args))
        };
        self.commands.push(Command {
            ts: f.event.ts(),
            depth,
            shell,
            pid,
            user: fl.user.text(f).map_or_else(|| "<NA>".into(), |u| lossy(&u)),
            container: text(&fl.container),
            command,
        });
    }
}

fn fl_text(field: &Field, f: &EventFields<'_>) -> String {
    field.text(f).map_or_else(String::new, |v| lossy(&v))
}
