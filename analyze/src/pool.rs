//! An ordered pool: jobs handed over in order, results given back in the same order.
//!
//! The thread that submits jobs keeps its own work (reading and tracking a capture) and the
//! pool's threads run the jobs; when they fall behind, the submitter runs the oldest waiting
//! job itself, so no core idles and memory stays bounded. Results come back through the
//! submitter's `sink`, in submission order, as soon as they and all before them are done:
//! `print` streams its lines this way.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Condvar, Mutex, MutexGuard};

/// Where results go, in order; an error stops the submitter.
pub type Sink<'s, R, E> = dyn FnMut(R) -> Result<(), E> + 's;

/// Jobs waiting (or results not yet given back) before the submitter helps or waits.
const BACKLOG: usize = 8;

struct Queue<J, R> {
    jobs: VecDeque<(u64, J)>,
    done: BTreeMap<u64, R>,
    closed: bool,
}

struct Shared<J, R> {
    queue: Mutex<Queue<J, R>>,
    changed: Condvar,
}

impl<J, R> Shared<J, R> {
    fn lock(&self) -> MutexGuard<'_, Queue<J, R>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Hands jobs to the pool (see [`ordered`]).
pub struct Submitter<'a, J, R> {
    shared: &'a Shared<J, R>,
    work: &'a (dyn Fn(J) -> R + Sync),
    threads: usize,
    next: u64,
    /// The next result to give back.
    wanted: u64,
}

impl<J: Send, R: Send> Submitter<'_, J, R> {
    /// Queues `job`; gives back to `sink`, in order, every result ready by now.
    pub fn submit<E>(&mut self, job: J, sink: &mut dyn FnMut(R) -> Result<(), E>) -> Result<(), E> {
        let seq = self.next;
        self.next += 1;
        if self.threads <= 1 {
            self.wanted += 1;
            return sink((self.work)(job));
        }
        {
            let mut q = self.shared.lock();
            q.jobs.push_back((seq, job));
            self.shared.changed.notify_one();
        }
        self.drain(sink, BACKLOG)
    }

    /// Gives back results in order until at most `backlog` jobs are outstanding, running
    /// waiting jobs itself rather than waiting for the pool.
    fn drain<E>(
        &mut self,
        sink: &mut dyn FnMut(R) -> Result<(), E>,
        backlog: usize,
    ) -> Result<(), E> {
        loop {
            let mut q = self.shared.lock();
            while let Some(r) = q.done.remove(&self.wanted) {
                self.wanted += 1;
                drop(q);
                sink(r)?;
                q = self.shared.lock();
            }
            if (self.next - self.wanted) as usize <= backlog {
                return Ok(());
            }
            if let Some((seq, job)) = q.jobs.pop_front() {
                drop(q);
                let r = (self.work)(job);
                self.shared.lock().done.insert(seq, r);
            } else {
                // Everything left is running on the pool: wait for it.
                let _q = self.shared.changed.wait(q).unwrap_or_else(|e| e.into_inner());
            }
        }
    }
}

/// Runs `body` with a submitter whose jobs `work` runs on `threads` threads in all (the
/// caller's included); every result reaches `sink` in submission order before this returns.
pub fn ordered<J: Send, R: Send, E>(
    threads: usize,
    work: &(dyn Fn(J) -> R + Sync),
    sink: &mut dyn FnMut(R) -> Result<(), E>,
    body: impl FnOnce(&mut Submitter<'_, J, R>, &mut Sink<'_, R, E>) -> Result<(), E>,
) -> Result<(), E> {
    let shared = Shared {
        queue: Mutex::new(Queue { jobs: VecDeque::new(), done: BTreeMap::new(), closed: false }),
        changed: Condvar::new(),
    };
    std::thread::scope(|s| {
        for _ in 1..threads {
            s.spawn(|| pool_thread(&shared, work));
        }
        let mut submitter = Submitter { shared: &shared, work, threads, next: 0, wanted: 0 };
        let result = body(&mut submitter, sink).and_then(|()| submitter.drain(sink, 0));
        shared.lock().closed = true;
        shared.changed.notify_all();
        result
    })
}

fn pool_thread<J, R>(shared: &Shared<J, R>, work: &(dyn Fn(J) -> R + Sync)) {
    let mut q = shared.lock();
    loop {
        if let Some((seq, job)) = q.jobs.pop_front() {
            drop(q);
            let r = work(job);
            q = shared.lock();
            q.done.insert(seq, r);
            shared.changed.notify_all();
        } else if q.closed {
            return;
        } else {
            q = shared.changed.wait(q).unwrap_or_else(|e| e.into_inner());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_submission_order_for_any_number_of_threads() {
        // Jobs of uneven length, so that later ones often finish first.
        let work = |n: u64| {
            std::thread::sleep(std::time::Duration::from_micros((n * 7919) % 300));
            n * n
        };
        for threads in 1..=4 {
            let mut got = Vec::new();
            let mut sink = |r: u64| -> Result<(), ()> {
                got.push(r);
                Ok(())
            };
            ordered(threads, &work, &mut sink, |pool, sink| {
                (0..200).try_for_each(|n| pool.submit(n, sink))
            })
            .unwrap();
            assert_eq!(got, (0..200).map(|n| n * n).collect::<Vec<_>>(), "{threads} threads");
        }
    }

    #[test]
    fn a_sink_error_stops_and_is_returned() {
        let work = |n: u32| n;
        let mut sink = |r: u32| if r == 50 { Err(r) } else { Ok(()) };
        let res = ordered(2, &work, &mut sink, |pool, sink| {
            (0..1000).try_for_each(|n| pool.submit(n, sink))
        });
        assert_eq!(res, Err(50));
    }
}
