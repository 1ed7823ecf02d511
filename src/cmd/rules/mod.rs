//! `dredge rules`: check, list and explain Falco rules files.

mod check;
mod explain;
mod list;

use std::path::{Path, PathBuf};

use clap::Subcommand;
use dredge_rules::ruleset::{Loaded, load};

use crate::exit::Unusable;

#[derive(Subcommand)]
pub enum Command {
    Check(check::Args),
    List(list::Args),
    Explain(explain::Args),
}

pub fn run(cmd: Command) -> anyhow::Result<u8> {
    match cmd {
        Command::Check(a) => check::run(a),
        Command::List(a) => list::run(a),
        Command::Explain(a) => explain::run(a),
    }
}

/// The rules files named, directories expanded to their `.yaml`/`.yml` files in name order,
/// as Falco reads a rules directory.
fn expand_paths(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| Unusable(format!("{}: cannot read directory: {e}", p.display())))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .collect();
            files.sort();
            out.extend(files);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn display_name(p: &Path) -> String {
    p.display().to_string()
}

/// Reads rules files (directories expanded) as (name, text) pairs.
pub fn read_paths(paths: &[PathBuf]) -> anyhow::Result<Vec<(String, String)>> {
    let mut files = Vec::new();
    for p in expand_paths(paths)? {
        let text = std::fs::read_to_string(&p)
            .map_err(|e| Unusable(format!("{}: cannot read: {e}", p.display())))?;
        files.push((display_name(&p), text));
    }
    Ok(files)
}

/// The rules a command runs: the files of `paths` (directories expanded), or the built-in
/// set when there are none. A file with errors has them printed on stderr, and gives `None`
/// (the caller exits with [`crate::exit::INPUT`]); warnings go to the debug log.
pub fn load_to_run(paths: &[PathBuf]) -> anyhow::Result<Option<Loaded>> {
    let files = if paths.is_empty() { dredge_rules::builtin::files() } else { read_paths(paths)? };
    let loaded = load(&files);
    if !loaded.ok() {
        for m in loaded.files.iter().flat_map(|f| &f.errors) {
            eprintln!("{m}");
        }
        return Ok(None);
    }
    for m in loaded.files.iter().flat_map(|f| &f.warnings) {
        tracing::info!("{m}");
    }
    Ok(Some(loaded))
}

/// [`load_to_run`], or no rules at all with `none` (a view's `--no-rules`).
pub fn load_or_none(paths: &[PathBuf], none: bool) -> anyhow::Result<Option<Loaded>> {
    if none { Ok(Some(load(&[]))) } else { load_to_run(paths) }
}

/// Reads and loads rules files; unreadable files are an input error.
fn load_paths(paths: &[PathBuf]) -> anyhow::Result<Loaded> {
    Ok(load(&read_paths(paths)?))
}
