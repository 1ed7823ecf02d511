//! Events with their views, copied out of their blocks so that other threads can work on them
//! while the state moves on.

use std::sync::Arc;

use dredge_format::{Event, EventHeader, Params};

use crate::fields::EventFields;
use crate::state::{Needs, State, Tables, View};

/// Events in capture order, each with its [`View`] (and, for `print`, the exit with its
/// enter's parameters merged in). Parameters are copied into one buffer; events in a row that
/// share a view hold it once.
#[derive(Default)]
pub struct Batch {
    /// The tables as of every item (a batch ends where they change).
    pub tables: Arc<Tables>,
    items: Vec<Item>,
    views: Vec<View>,
    data: Vec<u8>,
    /// End offset in `data` of each parameter of every stored event, one after another.
    ends: Vec<u32>,
}

struct Item {
    event: Stored,
    merged: Option<Stored>,
    /// Its view's place in `views`.
    view: u32,
}

/// Where one event's parts are in the batch.
struct Stored {
    num: u64,
    header: EventHeader,
    /// Where its parameters start in `data`, and its range in `ends`.
    start: u32,
    ends: (u32, u32),
}

impl Batch {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Empties the batch, keeping its allocations.
    pub fn clear(&mut self) {
        self.items.clear();
        self.views.clear();
        self.data.clear();
        self.ends.clear();
    }

    /// Adds an event with its view. The batch takes `tables` when it is empty; the caller
    /// starts a new batch when they change.
    pub fn push(
        &mut self,
        ev: &Event<'_>,
        merged: Option<&Event<'_>>,
        view: View,
        tables: &Arc<Tables>,
    ) {
        if self.items.is_empty() {
            self.tables = Arc::clone(tables);
        }
        self.push_view(ev, merged, Some(view));
    }

    /// [`push`](Batch::push), with the view taken from `state` (see [`Needs`]); events in a row
    /// that share one (see [`State::view_unless_same`]) hold it once.
    pub fn push_viewed(
        &mut self,
        ev: &Event<'_>,
        merged: Option<&Event<'_>>,
        state: &mut State,
        needs: Needs,
    ) {
        if self.items.is_empty() {
            self.tables = Arc::clone(&state.tables);
        }
        let args = merged.unwrap_or(ev);
        let view = state.view_unless_same(ev, args, needs, self.views.last());
        self.push_view(ev, merged, view);
    }

    fn push_view(&mut self, ev: &Event<'_>, merged: Option<&Event<'_>>, view: Option<View>) {
        match view {
            Some(v) => self.views.push(v),
            None if self.views.is_empty() => self.views.push(View::default()),
            None => {}
        }
        let view = (self.views.len() - 1) as u32;
        let event = self.store(ev);
        let merged = merged.map(|m| self.store(m));
        self.items.push(Item { event, merged, view });
    }

    fn store(&mut self, ev: &Event<'_>) -> Stored {
        let start = self.data.len() as u32;
        let first = self.ends.len() as u32;
        for p in ev.params.iter() {
            self.data.extend_from_slice(p);
            self.ends.push(self.data.len() as u32);
        }
        Stored { num: ev.num, header: ev.header, start, ends: (first, self.ends.len() as u32) }
    }

    fn event(&self, s: &Stored) -> Event<'_> {
        let ends = &self.ends[s.ends.0 as usize..s.ends.1 as usize];
        Event { num: s.num, header: s.header, params: Params::new(s.start, ends, &self.data) }
    }

    /// Calls `f` with every event's fields, in order.
    pub fn each(&self, mut f: impl FnMut(&Event<'_>, &EventFields<'_>)) {
        for item in &self.items {
            let ev = self.event(&item.event);
            let merged = item.merged.as_ref().map(|m| self.event(m));
            let fields = EventFields {
                event: &ev,
                view: &self.views[item.view as usize],
                tables: &self.tables,
                merged: merged.as_ref(),
            };
            f(&ev, &fields);
        }
    }
}
