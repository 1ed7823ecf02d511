//! Replays libsinsp's parser test vectors: every filter its unit tests accept must parse, and
//! every one they reject must fail.
//!
//! The vectors live in the shared compatibility corpus
//! (`falco-rules-data/extracted-test-cases/libs_parser_cases.json`, extracted from libs
//! `filter_parser.ut.cpp`), found through `DREDGE_SHARED` or `../shared` beside the workspace.
//! Without the corpus the test says so and passes.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a panic is a failure")]

use std::path::PathBuf;

use dredge_rules::{ParseError, Parser};

fn shared_dir() -> PathBuf {
    match std::env::var_os("DREDGE_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
    }
}

#[test]
fn libs_parser_cases() {
    let path = shared_dir().join("falco-rules-data/extracted-test-cases/libs_parser_cases.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprint_skip(&path);
        return;
    };
    let cases: Vec<serde_json::Value> = serde_json::from_str(&text).expect("valid JSON");

    let mut failures = Vec::new();
    for case in &cases {
        let input = case["input"].as_str().expect("input is a string");
        let accept = match case["expect"].as_str() {
            Some("accept") => true,
            Some("reject") => false,
            other => panic!("unknown expectation {other:?} for {input:?}"),
        };

        let verdict = replay(input, accept);
        // Like libsinsp's `test_accept`, an accepted filter must also survive blanks around
        // it and every space turned into a line break, then into a tab. libsinsp skips this
        // for its one vector with the legacy `\ ` escape, which another blank would break.
        let padded = format!(" {input} ");
        let variants = if accept && !input.contains("\\ ") {
            vec![padded.replace(' ', "\n"), padded.replace(' ', "\t"), padded]
        } else {
            Vec::new()
        };
        let problems: Vec<String> = std::iter::once(verdict)
            .chain(variants.iter().map(|variant| replay(variant, true)))
            .flatten()
            .collect();
        if !problems.is_empty() {
            failures.push(problems.join("\n  "));
        }
    }

    println!("{} of {} libs parser cases pass", cases.len() - failures.len(), cases.len());
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

/// Parses one filter as libsinsp's unit tests do (with its default depth limit of 100) and
/// describes a verdict other than the expected one.
fn replay(input: &str, accept: bool) -> Option<String> {
    let result = Parser::new(input).max_depth(100).parse();
    match (accept, &result) {
        (_, Err(ParseError::TooDeep { .. })) => Some(format!("depth limit reached on {input:?}")),
        (true, Ok(_)) | (false, Err(_)) => None,
        (true, Err(err)) => Some(format!("should accept {input:?}: {err}")),
        (false, Ok(expr)) => Some(format!("should reject {input:?}, got {expr}")),
    }
}

/// Says the test was skipped where the test harness does not hide it.
fn eprint_skip(path: &std::path::Path) {
    let msg = format!("skipped: no shared data ({})\n", path.display());
    std::io::Write::write_all(&mut std::io::stderr(), msg.as_bytes()).ok();
}
