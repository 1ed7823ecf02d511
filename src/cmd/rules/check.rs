//! `dredge rules check`: validate rules files as `falco -V` does.

use std::path::PathBuf;

/// Validate rules files (or directories of them): errors and warnings with file:line:column.
#[derive(clap::Args)]
pub struct Args {
    /// Rules files or directories, loaded in order.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Print the result as JSON (Falco's validation result shape).
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let loaded = super::load_paths(&args.paths)?;
    if args.json {
        let files: Vec<serde_json::Value> = loaded
            .files
            .iter()
            .map(|f| {
                let msgs = |v: &[dredge_rules::message::Message]| -> Vec<serde_json::Value> {
                    v.iter()
                        .map(|m| {
                            let locations: Vec<serde_json::Value> = m
                                .locations
                                .iter()
                                .map(|l| {
                                    serde_json::json!({
                                        "item_type": l.item_type,
                                        "item_name": l.item_name,
                                        "position": {"name": l.file, "line": l.pos.line,
                                            "column": l.pos.column, "offset": l.pos.offset},
                                    })
                                })
                                .collect();
                            serde_json::json!({"code": m.code.name(), "message": m.text,
                                "context": {"locations": locations, "snippet": m.snippet}})
                        })
                        .collect()
                };
                serde_json::json!({"name": f.file, "successful": f.ok(),
                    "errors": msgs(&f.errors), "warnings": msgs(&f.warnings)})
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"falco_load_results": files}))?
        );
    } else {
        for f in &loaded.files {
            for m in f.errors.iter().chain(&f.warnings) {
                println!("{m}");
                for line in m.snippet.lines() {
                    println!("    {line}");
                }
            }
            let verdict = if f.ok() { "Ok" } else { "Invalid" };
            println!(
                "{}: {verdict} ({} errors, {} warnings)",
                f.file,
                f.errors.len(),
                f.warnings.len()
            );
        }
        let n = loaded.ruleset.rules.len();
        if loaded.ok() {
            println!("{n} rules loaded");
        }
    }
    Ok(if loaded.ok() { crate::exit::OK } else { crate::exit::INTEGRITY })
}
