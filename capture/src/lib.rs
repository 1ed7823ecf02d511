//! The recorder: `dredge record` captures what every process and container on the host does,
//! with eBPF, into a `.dcap` file that stands alone as evidence.
//!
//! The data flow, one module per stage:
//!
//! - [`probe`]: the kernel side (`bpf/recorder.bpf.c`, committed as `bpf/recorder.bpf.o`),
//!   loaded, told which [`syscalls`] to record, and attached.
//! - [`decode`]: ring records to events of the capture format.
//! - [`snapshot`]: the state at start (threads, users) from `/proc` and `/etc`.
//! - [`containers`]: container metadata from the runtimes, as containers appear.
//! - [`recorder`]: the session that joins them and writes the file.

pub mod containers;
pub mod decode;
pub mod probe;
pub mod recorder;
pub mod snapshot;
pub mod syscalls;

pub use recorder::{Options, Progress, RecordError, Recorder, Summary};
