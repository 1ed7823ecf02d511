//! `dredge rules list`: the rules of a rule set, with priority, tags and event types.

use std::path::PathBuf;

use dredge_format::table::table;

/// List rules: name, priority, enabled, tags and the event types each can match.
#[derive(clap::Args)]
pub struct Args {
    /// Rules files or directories, loaded in order.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let loaded = super::load_paths(&args.paths)?;
    if !loaded.ok() {
        for m in loaded.files.iter().flat_map(|f| &f.errors) {
            eprintln!("{m}");
        }
        return Ok(crate::exit::INPUT);
    }
    for r in &loaded.ruleset.rules {
        let mut types: Vec<&str> =
            r.codes.iter().filter(|c| *c != 402).map(|c| table().name(c)).collect();
        types.sort_unstable();
        types.dedup();
        let types =
            if types.len() > 20 { format!("{} event types", types.len()) } else { types.join(",") };
        let tags: Vec<&str> = r.def.tags.iter().map(String::as_str).collect();
        let state = if r.enabled { "" } else { " (disabled)" };
        println!("{}\t{}{state}\t[{}]\t{types}", r.def.name, r.def.priority.name(), tags.join(","));
    }
    Ok(crate::exit::OK)
}
