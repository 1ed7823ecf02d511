//! The life of every process over a whole capture: when it began, what it ran, when and how
//! it ended, and what the rules found on it. `dredge tree` draws the lives as a tree and
//! `dredge ps` lists those running at a moment.
//!
//! A life begins where the capture first shows its process: in a state block (it was running
//! when recording started, so its beginning is unknown), at the clone that made it (seen in
//! the parent or in the child, whichever comes first), or at any other event of a process the
//! capture had not shown. Its first program is what it ran then; each execve that worked adds
//! one. It ends with its main thread's exit, with the exit code or the signal. A pid seen
//! again after its process ended is a new life. Findings are attached afterwards
//! ([`Lives::attach`]): replay finds them on other threads, in the same pass.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use dredge_format::event::Event;
use dredge_format::param::Value;

use super::{lossy, user_name};
use crate::state::{Op, State, Thread, code, int_param};

/// A program a process ran.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Program {
    /// The event that started it (0: running when the capture began).
    pub num: u64,
    /// Nanoseconds since the epoch; `None` when running when the capture began.
    pub ts: Option<u64>,
    /// `proc.exepath` (`proc.exe` when the path is unknown).
    pub exe: String,
    /// `proc.cmdline`.
    pub cmdline: String,
    /// `user.name`.
    pub user: String,
    /// The process's main thread as it was then.
    #[serde(skip)]
    pub thread: Arc<Thread>,
}

/// How a process ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct End {
    pub num: u64,
    pub ts: u64,
    /// The exit code, when it exited.
    pub code: Option<i64>,
    /// The signal that killed it, when one did.
    pub signal: Option<i64>,
}

/// A finding on a process.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Mark {
    pub num: u64,
    pub ts: u64,
    pub rule: String,
    pub priority: String,
}

/// One process, from its beginning to its end.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Life {
    pub pid: i64,
    /// The parent's pid when the life began (0 when unknown).
    pub ppid: i64,
    /// The pid inside the process's pid namespace.
    pub vpid: i64,
    /// `container.id`: empty on the host.
    pub container_id: String,
    /// When it began; `None` when running as the capture began (or first seen later without
    /// its clone).
    pub began: Option<u64>,
    /// The event it was first seen in (0: a state block before any event).
    pub first: u64,
    /// When it was first seen (0: in a state block before any event).
    pub seen: u64,
    /// What it ran, in order: the program it was seen with, then each execve that worked.
    pub programs: Vec<Program>,
    pub end: Option<End>,
    pub findings: Vec<Mark>,
    /// The parent's life (an index into [`Lives::lives`]), when the capture shows it.
    #[serde(skip)]
    pub parent: Option<usize>,
}

impl Life {
    /// The program it ran at `ts` (the first one for a moment before it was seen).
    pub fn program_at(&self, ts: u64) -> &Program {
        let ran = self.programs.iter().rev().find(|p| p.ts.is_none_or(|t| t <= ts));
        ran.unwrap_or(&self.programs[0])
    }

    /// Whether it was running at `ts`.
    pub fn running_at(&self, ts: u64) -> bool {
        self.began.unwrap_or(self.seen) <= ts && self.end.as_ref().is_none_or(|e| e.ts > ts)
    }
}

/// The lives of a capture's processes, built event by event.
#[derive(Debug, Default)]
pub struct Lives {
    /// In the order they began.
    pub lives: Vec<Life>,
    /// Each pid's lives, in order.
    by_pid: FxHashMap<i64, Vec<usize>>,
    /// The time of the last event heard (0 before the first).
    last_ts: u64,
}

impl Lives {
    /// A state block: its processes not yet known began before the capture.
    pub fn state(&mut self, state: &State) {
        let known = self.lives.len();
        let mut pids: Vec<i64> = state.threads.values().map(|t| t.pid).collect();
        pids.sort_unstable();
        pids.dedup();
        for pid in pids {
            if self.current(pid).is_none() {
                let main = state.threads.get(&pid).or_else(|| {
                    state.threads.values().filter(|t| t.pid == pid).min_by_key(|t| t.tid)
                });
                if let Some(main) = main {
                    self.begin(main, state, (0, self.last_ts), None);
                }
            }
        }
        // A block lists processes in no particular order: parents are found once all are in.
        for i in known..self.lives.len() {
            if self.lives[i].parent.is_none() {
                let ppid = self.lives[i].ppid;
                self.lives[i].parent = self.current(ppid).filter(|&p| p != i);
            }
        }
    }

    /// An event, with the state as of it.
    pub fn event(&mut self, ev: &Event<'_>, state: &State) {
        let c = code(ev.code());
        self.last_ts = ev.ts();
        let Some(t) = state.threads.get(&ev.tid()) else { return };
        if c.op == Op::Clone && c.exit {
            // The parent's side names the child: a new process begins here.
            if let Some(child) = int_param(ev, c.res)
                .filter(|&r| r > 0)
                .and_then(|r| state.threads.get(&r))
                .filter(|k| k.tid == k.pid && k.pid != t.pid)
                && self.current(child.pid).is_none()
            {
                self.begin(child, state, (ev.num, ev.ts()), Some(ev.ts()));
            }
        }
        let born_here = c.op == Op::Clone && c.exit && int_param(ev, c.res) == Some(0);
        let life = match self.current(t.pid) {
            Some(i) => i,
            None => {
                let main = state.threads.get(&t.pid).unwrap_or(t);
                let began = born_here.then(|| ev.ts());
                self.begin(main, state, (ev.num, ev.ts()), began)
            }
        };
        if c.op == Op::Execve && int_param(ev, c.res) == Some(0) {
            let program = program(t, state, ev.num, Some(ev.ts()));
            self.lives[life].programs.push(program);
        }
        if c.op == Op::ProcExit && t.tid == t.pid {
            let int = |name: &str| match ev.param_named(name) {
                Some(Ok(Value::Errno(n) | Value::Int(n))) => Some(n),
                Some(Ok(Value::Uint(n))) => i64::try_from(n).ok(),
                Some(Ok(Value::Enum(n))) => Some(i64::from(n)),
                Some(Ok(Value::Signal(n))) => Some(i64::from(n)),
                _ => None,
            };
            // `ret` and `sig` where recorded, else the wait status.
            let status = int("status");
            let signal = int("sig").or(status.map(|s| s & 0x7f)).filter(|&s| s > 0);
            let code = match signal {
                Some(_) => None,
                None => int("ret").or(status.map(|s| (s >> 8) & 0xff)),
            };
            self.lives[life].end = Some(End { num: ev.num, ts: ev.ts(), code, signal });
        }
    }

    /// Puts a finding on the life of `pid` that its event belongs to.
    pub fn attach(&mut self, pid: i64, mark: Mark) {
        if let Some(i) = self.life_of(pid, mark.num) {
            self.lives[i].findings.push(mark);
        }
    }

    /// The life of `pid` that event `num` belongs to: the last one seen by then.
    pub fn life_of(&self, pid: i64, num: u64) -> Option<usize> {
        let lives = self.by_pid.get(&pid)?;
        let life = lives.iter().rev().find(|&&i| self.lives[i].first <= num);
        life.or(lives.first()).copied()
    }

    /// The life `pid` has now (an index into [`Lives::lives`]), if it has not ended.
    pub fn current(&self, pid: i64) -> Option<usize> {
        let &last = self.by_pid.get(&pid)?.last()?;
        self.lives[last].end.is_none().then_some(last)
    }

    /// A new life for `t`'s process, first seen at event `num`, time `seen`.
    fn begin(
        &mut self,
        t: &Arc<Thread>,
        state: &State,
        (num, seen): (u64, u64),
        began: Option<u64>,
    ) -> usize {
        let i = self.lives.len();
        let ppid = state.threads.get(&t.ptid).map_or(t.ptid, |p| p.pid);
        self.lives.push(Life {
            pid: t.pid,
            ppid,
            parent: self.current(ppid).filter(|_| ppid != t.pid),
            vpid: t.vpid,
            container_id: t.container_id.clone(),
            began,
            first: num,
            seen,
            programs: vec![program(t, state, num, began)],
            end: None,
            findings: Vec::new(),
        });
        self.by_pid.entry(t.pid).or_default().push(i);
        i
    }
}

/// What `t` runs now.
fn program(t: &Arc<Thread>, state: &State, num: u64, ts: Option<u64>) -> Program {
    let exe = if t.exepath.is_empty() { &t.exe } else { &t.exepath };
    Program {
        num,
        ts,
        exe: lossy(exe),
        cmdline: lossy(&crate::fields::cmdline(t)),
        user: user_name(&state.tables, t),
        thread: t.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thread(tid: i64, pid: i64, ptid: i64, comm: &str) -> Arc<Thread> {
        Arc::new(Thread {
            tid,
            pid,
            ptid,
            vpid: pid,
            comm: comm.into(),
            exepath: format!("/bin/{comm}").into_bytes(),
            ..Thread::default()
        })
    }

    #[test]
    fn a_life_is_found_by_the_moment_and_a_reused_pid_is_a_new_life() {
        let mut state = State::default();
        state.threads.insert(1, thread(1, 1, 0, "init"));
        state.threads.insert(7, thread(7, 7, 1, "sh"));
        let mut lives = Lives::default();
        lives.state(&state);
        assert_eq!(lives.lives.len(), 2);
        let sh = lives.current(7).unwrap();
        assert_eq!(lives.lives[sh].ppid, 1);
        assert_eq!(lives.lives[sh].parent, lives.current(1));
        assert_eq!(lives.lives[sh].programs[0].cmdline, "sh");
        lives.lives[sh].end = Some(End { num: 5, ts: 50, code: Some(0), signal: None });
        assert!(lives.current(7).is_none());
        let again = lives.begin(&thread(7, 7, 1, "cat"), &state, (9, 90), Some(90));
        assert_eq!(lives.current(7), Some(again));
        lives.attach(7, Mark { num: 3, ts: 30, rule: "a".into(), priority: "NOTICE".into() });
        lives.attach(7, Mark { num: 10, ts: 95, rule: "b".into(), priority: "NOTICE".into() });
        assert_eq!(lives.lives[sh].findings[0].rule, "a");
        assert_eq!(lives.lives[again].findings[0].rule, "b");
        assert!(lives.lives[sh].running_at(40) && !lives.lives[sh].running_at(50));
        assert!(!lives.lives[again].running_at(80));
    }
}
