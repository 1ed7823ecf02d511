//! `dredge rules explain`: a rule's condition after lists, macros and exceptions are expanded.

use std::path::PathBuf;

use dredge_format::table::table;
use dredge_rules::expand::expand;

/// Show a rule's condition with every list, macro and exception expanded.
#[derive(clap::Args)]
pub struct Args {
    /// The rule's name.
    rule: String,
    /// Rules files or directories, loaded in order.
    #[arg(short = 'r', long = "rules", required = true)]
    paths: Vec<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let loaded = super::load_paths(&args.paths)?;
    for m in loaded.files.iter().flat_map(|f| &f.errors) {
        eprintln!("{m}");
    }
    let texts = Default::default();
    let expanded = expand(&loaded.collection, &texts);
    let Some(rule) = expanded.rules.iter().find(|r| r.def.name == args.rule) else {
        eprintln!("dredge: no rule named {:?} in the given files", args.rule);
        return Ok(crate::exit::INPUT);
    };
    println!("rule:      {}", rule.def.name);
    println!("priority:  {}", rule.def.priority.name());
    println!("condition: {}", rule.condition);
    println!("output:    {}", rule.def.output);
    if let Some(r) = loaded.ruleset.rules.iter().find(|r| r.def.name == args.rule) {
        let mut types: Vec<&str> =
            r.codes.iter().filter(|c| *c != 402).map(|c| table().name(c)).collect();
        types.dedup();
        println!("events:    {}", types.join(", "));
    }
    Ok(crate::exit::OK)
}
