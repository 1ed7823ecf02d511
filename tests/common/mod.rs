//! Helpers shared by the whole-command tests.

use std::path::{Path, PathBuf};

/// The shared test data (`DREDGE_SHARED`, default `../shared` beside the repository), if it
/// is there.
#[allow(dead_code, reason = "not every test binary reads shared data")]
pub fn shared() -> Option<PathBuf> {
    let dir = std::env::var_os("DREDGE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    dir.join("captures/MANIFEST.tsv").exists().then_some(dir)
}

/// Says why a test cannot run here and returns true (the caller returns). Under `CI=true`,
/// where `.ci/run` provides every capability, a missing one fails the test instead.
#[allow(dead_code, reason = "not every test binary skips")]
pub fn skip(why: &str) -> bool {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true but {why}");
    }
    std::io::Write::write_all(&mut std::io::stderr(), format!("skipped: {why}\n").as_bytes()).ok();
    true
}
