//! What the machine looks like when recording starts, read from `/proc` and `/etc`: the
//! machine, its threads, their fds, and users and groups. Replay starts from this state, so
//! processes that existed before the recording still have their names, ancestry, files and
//! containers.
//!
//! Reading `/proc` races with processes that come and go: a thread that vanishes half-read is
//! skipped (its exit is in the events), never an error.

pub mod fds;
pub mod procfs;
pub mod users;

pub use procfs::{machine, read_trimmed, threads};
