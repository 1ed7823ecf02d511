//! Helpers shared by the rules tests.

use std::path::{Path, PathBuf};

/// The shared test data (`DREDGE_SHARED`, default `../shared` beside the repository), if
/// its rules corpus is there.
pub fn shared() -> Option<PathBuf> {
    let dir = std::env::var_os("DREDGE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"));
    dir.join("falco-rules-data").exists().then_some(dir)
}
