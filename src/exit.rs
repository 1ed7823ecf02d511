//! Exit codes: the one place they are defined (`dredge --help` prints [`HELP`]; README.md
//! repeats the table for readers of the repository).

use std::process::ExitCode;

/// Everything worked; for `verify`, the file is intact (and signed by the given key).
pub const OK: u8 = 0;
/// The input was read, but it is not right: `verify` found damage or a bad signature,
/// `rules check` found errors, `replay` refused its settings or was stopped by a
/// `syscall_event_drops` `exit` action (Falco's exit code for both).
pub const INTEGRITY: u8 = 1;
/// The command line is wrong: clap exits with it before any command runs, and commands use
/// it for what clap cannot check (a filter that does not compile, options that do not fit).
pub const USAGE: u8 = 2;
/// An input could not be used at all: missing, unreadable, a directory, empty, not a capture,
/// or written by a newer dredge; or a key file that is not a key.
pub const INPUT: u8 = 3;
/// A capture is damaged: the command did what it could with the readable part and said what
/// was lost.
pub const DAMAGED: u8 = 4;
/// Writing an output failed.
pub const OUTPUT: u8 = 5;
/// `record` could not start its kernel side: not root (no CAP_BPF and CAP_PERFMON), no BPF
/// or no BTF in this kernel.
pub const RECORDER: u8 = 6;

/// The table `--help` shows.
pub const HELP: &str = "\
Exit codes:
  0  success (verify: the capture is intact)
  1  verify: the capture is damaged, or not signed by the given key;
     rules check: a rules file has errors; replay: bad settings, or stopped by a
     syscall_event_drops exit action
  2  usage error
  3  input unusable: missing, unreadable, a directory, empty, not a capture, from a newer
     dredge, or a bad key file
  4  capture damaged: the readable part was used and the loss reported on stderr
  5  writing an output failed
  6  record: the eBPF recorder could not start (not root, no BPF or BTF)";

pub fn code(c: u8) -> ExitCode {
    ExitCode::from(c)
}

/// A command line that names something wrong in a way clap cannot check (a filter that does
/// not compile): exit code [`USAGE`].
#[derive(Debug)]
pub struct Usage(pub String);

/// An input that cannot be used at all (a rules file that cannot be read): exit code
/// [`INPUT`].
#[derive(Debug)]
pub struct Unusable(pub String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::fmt::Display for Unusable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The recorder's kernel side could not start: exit code [`RECORDER`].
#[derive(Debug)]
pub struct Recorder(pub String);

impl std::fmt::Display for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Recorder {}
impl std::error::Error for Usage {}
impl std::error::Error for Unusable {}

/// The documented code for an error: by its type (a capture error, [`Usage`], [`Unusable`]),
/// else "writing an output failed".
pub fn for_error(err: &anyhow::Error) -> u8 {
    use dredge_format::Error as E;
    for cause in err.chain() {
        if cause.is::<Usage>() {
            return USAGE;
        }
        if cause.is::<Unusable>() {
            return INPUT;
        }
        if cause.is::<Recorder>() {
            return RECORDER;
        }
        if let Some(e) = cause.downcast_ref::<E>() {
            return match e {
                E::Block { .. } => DAMAGED,
                E::TooLarge { .. } => OUTPUT,
                _ => INPUT,
            };
        }
    }
    OUTPUT
}

/// Whether `err` comes from writing to a pipe whose reader has gone.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
