//! One module per `dredge` subcommand: its arguments and its `run`.

pub mod export;
pub mod generate;
pub mod import;
pub mod info;
pub mod keygen;
pub mod lsof;
pub mod print;
pub mod ps;
pub mod record;
pub mod replay;
pub mod rules;
pub mod spans;
pub mod spy;
pub mod table;
pub mod timeline;
pub mod top;
pub mod tree;
pub mod verify;

use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use dredge_format::{Capture, WriterOptions, scap};

static QUIET: AtomicBool = AtomicBool::new(false);

/// `-q`: summaries and progress stay off stderr; errors and warnings still show.
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// Like `eprintln!`, for a summary line: nothing under `-q`.
macro_rules! summary {
    ($($arg:tt)*) => {
        if !$crate::cmd::quiet() {
            eprintln!($($arg)*);
        }
    };
}
pub(crate) use summary;

/// A capture opened for reading; a `.scap` given instead is converted first, into a
/// temporary file that lives as long as this.
pub struct Opened {
    pub capture: Capture,
    /// Set when the input was a scap file: what the conversion did.
    pub imported: Option<scap::import::ImportSummary>,
    _temp: Option<tempfile::TempDir>,
}

/// True when the file starts like a scap capture (plain or gzip).
pub fn is_scap(path: &Path) -> bool {
    let mut head = [0u8; 4];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut head)).is_ok()
        && scap::looks_like_scap(&head)
}

/// Opens a dcap, or converts a scap and opens the result.
pub fn open_capture(path: &Path) -> anyhow::Result<Opened> {
    if !is_scap(path) {
        return Ok(Opened { capture: Capture::open(path)?, imported: None, _temp: None });
    }
    tracing::debug!("{}: a scap capture; converting it to dcap first", path.display());
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let out = dir.path().join("converted.dcap");
    let options = WriterOptions { level: 1, ..WriterOptions::default() };
    let summary = scap::import::import(path, &out, Vec::new(), options, None)?;
    let capture = Capture::open(&out)?;
    Ok(Opened { capture, imported: Some(summary), _temp: Some(dir) })
}

/// Writes `out` through `write`, into `OUT.partial` beside it, renamed into place when
/// complete: a failed write leaves no half file, and an older `out` untouched.
pub fn write_into_place<T>(
    out: &Path,
    write: impl FnOnce(&Path) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let mut name = out.as_os_str().to_owned();
    name.push(".partial");
    let partial = std::path::PathBuf::from(name);
    let result = write(&partial).and_then(|value| {
        std::fs::rename(&partial, out)
            .with_context(|| format!("cannot move {} into place", partial.display()))?;
        Ok(value)
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

/// Formats ns since the epoch as UTC `YYYY-MM-DD HH:MM:SS.nnnnnnnnn`.
pub fn utc(ns: u64) -> String {
    dredge_format::time::Utc::from_ns(ns).datetime()
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_formats_known_instants() {
        assert_eq!(super::utc(0), "1970-01-01 00:00:00.000000000");
        assert_eq!(super::utc(1_555_011_813_999_999_999), "2019-04-11 19:43:33.999999999");
        assert_eq!(super::utc(951_782_400_000_000_001), "2000-02-29 00:00:00.000000001");
    }
}
