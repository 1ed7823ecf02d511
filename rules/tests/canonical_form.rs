//! Checks the canonical print format against the compiled conditions that falco's
//! `test_rule_loader.cpp` asserts (33 strings in the shared corpus's
//! `falco_rule_loader_cases.json`).
//!
//! Those strings are libsinsp's `as_string` output after list substitution, exceptions and
//! macro expansion, none of which exists here yet; but each is itself a condition, and
//! parsing it and printing it again must give it back byte for byte. That pins the printer
//! (parentheses, spacing, quoting, modifiers, transformers) to Falco's. The corpus is found
//! through `DREDGE_SHARED` or `../shared` beside the workspace; without it the test says so
//! and passes.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a panic is a failure")]

use std::path::PathBuf;

use dredge_rules::parse_condition;

fn shared_dir() -> PathBuf {
    match std::env::var_os("DREDGE_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
    }
}

#[test]
fn loader_compiled_conditions_print_back_unchanged() {
    let path =
        shared_dir().join("falco-rules-data/extracted-test-cases/falco_rule_loader_cases.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprint_skip(&path);
        return;
    };
    let cases: Vec<serde_json::Value> = serde_json::from_str(&text).expect("valid JSON");

    let mut checked = 0;
    let mut failures = Vec::new();
    for case in &cases {
        let compiled = case["compiled_conditions"].as_array().expect("compiled_conditions");
        for entry in compiled {
            let expected = entry["expected"].as_str().expect("expected is a string");
            checked += 1;
            match parse_condition(expected) {
                Ok(expr) if expr.to_string() == expected => {}
                Ok(expr) => failures.push(format!("{}: printed {expr}", case["name"])),
                Err(err) => failures.push(format!("{}: {expected:?}: {err}", case["name"])),
            }
        }
    }

    println!("{} of {checked} compiled conditions print back unchanged", checked - failures.len());
    assert_eq!(checked, 33, "the corpus holds 33 compiled conditions");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Says the test was skipped where the test harness does not hide it.
fn eprint_skip(path: &std::path::Path) {
    let msg = format!("skipped: no shared data ({})\n", path.display());
    std::io::Write::write_all(&mut std::io::stderr(), msg.as_bytes()).ok();
}
