//! Helpers shared by the whole-command tests.

use std::path::{Path, PathBuf};

/// The shared test data (`DREDGE_SHARED`, default `../shared` beside the repository), if it
/// is there.
pub fn shared() -> Option<PathBuf> {
    let dir = std::env::var_os("DREDGE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    dir.join("captures/MANIFEST.tsv").exists().then_some(dir)
}
