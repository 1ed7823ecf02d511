//! Spans as replay meets them: which writes are tracer records, and the `tracer` events that
//! stand for them.
//!
//! A write is read as a tracer record when it went to an fd named `/dev/null`, or when the
//! capture flagged it as one (sysdig's files mark tracer writes with the event flag
//! [`TRACER_FLAG`], whatever the fd). Such a write, when it holds a record, is shown to rules,
//! filters and formats as a `tracer` event (code 268 for an enter, 269 for an exit) with the
//! write's time, thread and number and the parameters `id`, `tags` and `args`; its
//! [`SpanInfo`] gives the `span.*` fields. A write that is not a record stays a write.

use std::sync::Arc;

use dredge_format::event::{Event, EventHeader, Params};
use dredge_format::param::Value;
use dredge_format::table::flag;
use rustc_hash::FxHashSet;

use super::fragments::{Fragments, Outcome};
use super::pair::{Mark, Pairer, SpanId};
use super::tracer::{Dir, Packed, Tracer};
use crate::state::{Needs, State, View, code};

/// The event flag sysdig sets on a write it decoded as a tracer (`SCAP_DF_TRACER`).
pub const TRACER_FLAG: u32 = 0x2;

/// The event codes of a tracer enter and exit.
pub const TRACER_ENTER: u16 = 268;
pub const TRACER_EXIT: u16 = 269;

/// What the `span.*` fields of one tracer event read: the record, and what pairing knew of
/// its span at that moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanInfo {
    /// The span's number in [`SpanState::pairer`].
    pub number: SpanId,
    pub dir: Dir,
    pub id: i64,
    pub tags: Packed,
    /// This record's own arguments (name, value, ...).
    pub args: Packed,
    /// The span's enter, when known (for an enter, itself): its time and arguments.
    pub enter: Option<(u64, Packed)>,
    /// For an exit that closed a span: exit time minus enter time.
    pub duration: Option<u64>,
    /// The enter time of the open span this one sits in (its tags minus the last), if any.
    pub parent_enter: Option<u64>,
}

/// A span still open, as `evtin.span.*` sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenSpan {
    pub number: SpanId,
    pub id: i64,
    pub tags: Packed,
    /// Its enter's arguments.
    pub args: Packed,
    /// The thread that opened it, and that thread's process.
    pub tid: i64,
    pub pid: i64,
}

/// A tracer event standing for a write: its own header and parameters.
#[derive(Debug)]
pub struct Traced {
    pub header: EventHeader,
    data: Vec<u8>,
    ends: [u32; 3],
    pub span: Arc<SpanInfo>,
    /// The spans open just before it: for an exit, its own span among them.
    pub inside: Arc<[OpenSpan]>,
}

impl Traced {
    /// The tracer event, numbered `num`.
    pub fn event(&self, num: u64) -> Event<'_> {
        Event { num, header: self.header, params: Params::new(0, &self.ends, &self.data) }
    }

    /// The view of the tracer event numbered `num`: the state's, with its span and (when
    /// `needs` says so) the spans open around it.
    pub fn view(&self, num: u64, state: &mut State, needs: Needs) -> View {
        let tracer = self.event(num);
        let mut view = state.view_of(&tracer, &tracer, needs);
        view.span = Some(self.span.clone());
        if needs.spans {
            view.inside = Some(self.inside.clone());
        }
        view
    }
}

/// What replay has seen of spans so far.
#[derive(Debug, Default)]
pub struct SpanState {
    fragments: Fragments,
    pub pairer: Pairer,
    /// (pid, fd) of the fds that have carried a record: their write enters are hidden from
    /// `print`, as sysdig hid them.
    tracer_fds: FxHashSet<(i64, i64)>,
    /// Writes to `/dev/null` (or flagged) that were not tracer records, and the first one's
    /// event number and reason.
    pub invalid: u64,
    pub first_invalid: Option<(u64, &'static str)>,
}

impl SpanState {
    /// Looks at an event as the state stands before it: for a write that completes a tracer
    /// record, the tracer event that stands for it.
    pub fn take(&mut self, ev: &Event<'_>, state: &mut State) -> Option<Traced> {
        let data = ev.params.raw(usize::from(code(ev.code()).written?))?;
        let tid = ev.tid();
        // Most writes are no record at all: look no further at those.
        let may_start = matches!(data.first(), Some(b'>' | b'<' | b'[' | b' ' | b'\t' | b'\n'));
        if !may_start && !self.fragments.is_waiting(tid) {
            return None;
        }
        let thread = state.threads.get(&tid);
        let fd = State::fd_num(ev);
        let flagged = ev.header.flags & TRACER_FLAG != 0;
        let null = match (thread, fd) {
            (Some(t), Some(n)) => state.fd(t, n).is_some_and(|f| f.name == b"/dev/null"),
            _ => false,
        };
        if !flagged && !null {
            return None;
        }
        let written = match ev.param(0) {
            Some(Ok(Value::Errno(v) | Value::Int(v))) => v,
            _ => data.len() as i64,
        };
        if written < 0 {
            return None;
        }
        if (data.len() as i64) < written {
            self.note_invalid(ev.num, "cut by the capture's snaplen");
            return None;
        }

        let tracer = match self.fragments.write(tid, data) {
            Outcome::Tracer(t) => t,
            Outcome::Pending => return None,
            Outcome::Invalid(why) => {
                self.note_invalid(ev.num, why);
                return None;
            }
        };
        let (pid, ppid) = match thread {
            Some(t) => {
                let main = state.threads.get(&t.pid).map_or(&**t, |m| &**m);
                (t.pid, main.ptid)
            }
            None => (tid, 0),
        };
        if let (Some(n), true) = (fd, null) {
            self.tracer_fds.insert((pid, n));
        }
        let inside = state.open_spans.clone();
        let traced = self.traced(ev, tracer, (tid, pid, ppid), inside);
        // The open spans change with an enter, and with an exit that closed one.
        let span = &traced.span;
        if span.dir == Dir::Enter {
            let mut open = state.open_spans.to_vec();
            open.push(OpenSpan {
                number: span.number,
                id: span.id,
                tags: span.tags.clone(),
                args: span.args.clone(),
                tid,
                pid,
            });
            state.open_spans = open.into();
        } else if state.open_spans.iter().any(|o| o.number == span.number) {
            let open: Vec<OpenSpan> =
                state.open_spans.iter().filter(|o| o.number != span.number).cloned().collect();
            state.open_spans = open.into();
        }
        Some(traced)
    }

    fn note_invalid(&mut self, event: u64, why: &'static str) {
        self.invalid += 1;
        self.first_invalid.get_or_insert((event, why));
    }

    fn traced(
        &mut self,
        ev: &Event<'_>,
        t: Tracer,
        (tid, pid, ppid): (i64, i64, i64),
        inside: Arc<[OpenSpan]>,
    ) -> Traced {
        let id = t.id.resolve(tid, pid, ppid);
        let mark = Mark { ts: ev.ts(), event: ev.num, tid };
        let n = self.pairer.record(t.dir, id, &t.tags, t.args.as_bytes(), mark);
        let span = &self.pairer.spans[n as usize];
        let enter =
            span.enter.map(|m| (m.ts, Packed::from_bytes(self.pairer.args_bytes(span.enter_args))));
        let parent_enter =
            span.parent.and_then(|p| self.pairer.spans[p as usize].enter).map(|m| m.ts);
        let duration = if t.dir == Dir::Exit { span.duration() } else { None };

        let mut data = Vec::new();
        data.extend_from_slice(&id.to_le_bytes());
        let id_end = data.len() as u32;
        for tag in t.tags.iter() {
            data.extend_from_slice(tag);
            data.push(0);
        }
        let tags_end = data.len() as u32;
        for item in t.args.iter() {
            data.extend_from_slice(item);
            data.push(0);
        }
        let ends = [id_end, tags_end, data.len() as u32];
        let code = if t.dir == Dir::Enter { TRACER_ENTER } else { TRACER_EXIT };
        let header = EventHeader { code, flags: 0, ..ev.header };
        let span = SpanInfo {
            number: n,
            dir: t.dir,
            id,
            tags: t.tags,
            args: t.args,
            enter,
            duration,
            parent_enter,
        };
        Traced { header, data, ends, span: Arc::new(span), inside }
    }

    /// Whether `print` hides this event: the enter of a write on an fd that has carried tracer
    /// records (its exit shows as the tracer).
    pub fn hides(&self, ev: &Event<'_>, state: &State) -> bool {
        if self.tracer_fds.is_empty() {
            return false;
        }
        let Some(info) = ev.info() else { return false };
        if info.direction.symbol() != '>' || !info.has_flag(flag::WRITES_TO_FD) {
            return false;
        }
        let pid = state.threads.get(&ev.tid()).map_or(ev.tid(), |t| t.pid);
        State::fd_num(ev).is_some_and(|n| self.tracer_fds.contains(&(pid, n)))
    }
}
