//! Errors of the format crate. Every variant names the file, and where it applies the byte
//! offset and block, so a user can find the problem with a hex editor.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::block::{BlockKind, HeaderError, VERSION_MAJOR};
use crate::wire::DecodeError;

/// A capture could not be opened, read or written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `reason` is part of the message, not a separate cause, so it is shown once.
    #[error("{}: {reason}", path.display())]
    Io { path: PathBuf, reason: io::Error },
    #[error("{}: is a directory, not a capture file", path.display())]
    IsDirectory { path: PathBuf },
    #[error("{}: empty file (0 bytes), not a capture", path.display())]
    Empty { path: PathBuf },
    #[error("{}: not a dredge capture: {detail}", path.display())]
    NotCapture { path: PathBuf, detail: String },
    #[error(
        "{}: capture format version {major}.{minor} is newer than this dredge reads \
         (up to {VERSION_MAJOR}.x); use a newer dredge",
        path.display()
    )]
    NewerVersion { path: PathBuf, major: u16, minor: u16 },
    /// `damage` is part of the message, not a separate cause, so it is shown once.
    #[error("{}: {damage}", path.display())]
    Block { path: PathBuf, damage: BlockError },
    #[error("{}: {what} block of {bytes} bytes exceeds the block size limit", path.display())]
    TooLarge { path: PathBuf, what: &'static str, bytes: u64 },
    #[error("{}: {detail}", path.display())]
    Key { path: PathBuf, detail: String },
    /// Writing stopped early (typically a full disk); the file was closed after its last
    /// whole block and is valid, but events after `events` were not written.
    #[error(
        "{}: writing stopped: {reason}; the file was closed after its last whole block \
         ({events} events) and verifies",
        path.display()
    )]
    Cut { path: PathBuf, reason: String, events: u64 },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Io { path: path.into(), reason: source }
    }
}

/// What is wrong with one block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Damage {
    #[error("{0}")]
    Header(HeaderError),
    #[error("block runs past the end of the file ({needed} bytes needed, {available} left)")]
    Truncated { needed: u64, available: u64 },
    #[error("payload checksum mismatch (stored {stored:#010x}, computed {computed:#010x})")]
    PayloadChecksum { stored: u32, computed: u32 },
    #[error("payload does not decompress: {0}")]
    Decompress(String),
    #[error("payload does not decode: {0}")]
    Decode(DecodeError),
    #[error("{0}")]
    Other(String),
}

/// A block that could not be read, and how many events went with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct BlockError {
    pub seq: u32,
    pub kind: BlockKind,
    pub offset: u64,
    /// Events the block held (0 for state blocks).
    pub events: u64,
    pub damage: Damage,
}

impl fmt::Display for BlockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "block #{} ({}) at offset {}: {}",
            self.seq,
            self.kind.name(),
            self.offset,
            self.damage
        )?;
        if self.events > 0 {
            write!(f, "; its {} events are lost", self.events)?;
        }
        Ok(())
    }
}

/// A stretch of a damaged file that a forward scan had to skip.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Loss {
    /// Where the unreadable stretch starts.
    pub offset: u64,
    /// How many bytes were skipped.
    pub bytes: u64,
    /// Blocks lost (from the gap in block numbers), when known.
    pub blocks: Option<u64>,
    /// Events lost (from the gap in event numbers or the cut block's header), when known.
    pub events: Option<u64>,
    /// True when the loss runs to the end of the file: whatever the writer wrote after this
    /// point is missing too, and cannot be counted without the footer.
    pub to_end: bool,
    pub reason: String,
}

impl fmt::Display for Loss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "offset {}: {} ({} bytes skipped", self.offset, self.reason, self.bytes)?;
        if let Some(b) = self.blocks {
            write!(f, ", {b} blocks")?;
        }
        match self.events {
            Some(e) => write!(f, ", {e} events lost")?,
            None => write!(f, ", events lost unknown")?,
        }
        if self.to_end {
            write!(f, "; the file ends here, anything written after is missing")?;
        }
        write!(f, ")")
    }
}
