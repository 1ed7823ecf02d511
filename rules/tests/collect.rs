//! Collecting rules files: the upstream rule sets, Falco's validation fixtures, bad input.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on purpose")]

mod common;

use common::shared;

use std::path::Path;

use dredge_rules::collect::{Collection, FileResult};
use dredge_rules::message::Code;

fn load(c: &mut Collection, path: &Path) -> FileResult {
    let text = std::fs::read_to_string(path).unwrap();
    c.load(&path.file_name().unwrap().to_string_lossy(), &text)
}

#[test]
fn upstream_rule_files_load_alone_and_together() {
    let Some(shared) = shared() else {
        std::io::Write::write_all(&mut std::io::stderr(), b"skipped: no shared data\n").ok();
        return;
    };
    let dir = shared.join("falco-rules-data/rules");
    let files = ["falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml"];
    let mut together = Collection::new();
    for f in files {
        let mut alone = Collection::new();
        let r = load(&mut alone, &dir.join(f));
        assert!(r.ok(), "{f}: {:?}", r.errors);
        assert!(!alone.rules.is_empty() && !alone.macros.is_empty() && !alone.lists.is_empty());
        let r = load(&mut together, &dir.join(f));
        assert!(r.ok(), "{f} after the others: {:?}", r.errors);
    }
    let mut stable = Collection::new();
    load(&mut stable, &dir.join(files[0]));
    assert_eq!((stable.rules.len(), stable.macros.len(), stable.lists.len()), (25, 87, 49));
    assert_eq!(stable.required_engine_version, Some((0, 57, 0)));
    assert_eq!(stable.plugin_requirements[0].name, "container");
}

#[test]
fn rule_files_of_the_capture_regression_tests_load() {
    let Some(shared) = shared() else {
        std::io::Write::write_all(&mut std::io::stderr(), b"skipped: no shared data\n").ok();
        return;
    };
    let dir = shared.join("captures/falco_test_rules");
    let table = std::fs::read_to_string(shared.join("captures/expected-alerts.md")).unwrap();
    let mut cases = 0;
    for row in table.lines().filter(|l| l.starts_with("| ") && l.contains(".scap |")) {
        let cols: Vec<&str> = row.split(" | ").collect();
        let mut files = Vec::new();
        for f in cols[2].split(", ") {
            let path = [dir.join(f), dir.join("exceptions").join(f), dir.join("rules_dir").join(f)]
                .into_iter()
                .find(|p| p.exists())
                .unwrap_or_else(|| panic!("{f} not found"));
            files.push((f.to_string(), std::fs::read_to_string(&path).unwrap()));
        }
        // Collected, expanded and compiled, as `falco -r` loads them.
        let loaded = dredge_rules::ruleset::load(&files);
        let errors: Vec<String> =
            loaded.files.iter().flat_map(|f| &f.errors).map(|m| m.to_string()).collect();
        assert!(errors.is_empty(), "{}: {errors:?}", cols[0]);
        cases += 1;
    }
    assert_eq!(cases, 74);
}

/// Falco's validation fixtures whose expected outcome is decided while collecting; the rest
/// need the compiler (undefined macros, unknown fields, condition syntax, outputs).
#[test]
fn validation_fixtures_decided_while_collecting() {
    let Some(shared) = shared() else {
        std::io::Write::write_all(&mut std::io::stderr(), b"skipped: no shared data\n").ok();
        return;
    };
    let fixtures = shared.join("falco-rules-data/testing-fixtures");
    let cases: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures.join("validation-expectations.json")).unwrap(),
    )
    .unwrap();
    let (mut checked, mut pending) = (0, Vec::new());
    for case in cases.as_array().unwrap() {
        let name = case["test"].as_str().unwrap();
        let mut c = Collection::new();
        let mut results = Vec::new();
        for f in case["rule_files"].as_array().unwrap() {
            results.push(load(&mut c, &fixtures.join(f.as_str().unwrap())));
        }
        let errors: Vec<_> = results.iter().flat_map(|r| r.errors.clone()).collect();
        for e in case["expect"].as_array().unwrap() {
            if e["kind"] != "error" {
                continue;
            }
            let code = e["OfCode"].as_str().unwrap();
            let compile_phase =
                matches!(code, "LOAD_ERR_COMPILE_CONDITION" | "LOAD_ERR_COMPILE_OUTPUT")
                    || e["OfMessage"].as_str().is_some_and(|m| {
                        m.contains("Undefined macro") || m.contains("supported filter field")
                    });
            if compile_phase {
                pending.push(name.to_string());
                continue;
            }
            let got =
                errors.first().unwrap_or_else(|| panic!("{name}: expected {code}, loaded fine"));
            assert_eq!(got.code.name(), code, "{name}: {got}");
            let loc = got.location().unwrap();
            assert_eq!(loc.item_type, e["OfItemType"].as_str().unwrap(), "{name}: {got}");
            if let Some(item) = e["OfItemName"].as_str() {
                assert_eq!(loc.item_name, item, "{name}: {got}");
            }
            if let Some(msg) = e["OfMessage"].as_str() {
                let msg = msg.replace("\\\"", "\"").replace("yaml-cpp: error", "yaml error");
                assert_eq!(got.text.replace("\\\"", "\""), msg, "{name}");
            }
            checked += 1;
        }
    }
    println!("checked {checked} expected errors; needing the compiler: {pending:?}");
    assert!(checked >= 20, "only {checked} checked");
}

#[test]
fn bad_input_gives_one_clear_message_with_a_location() {
    let cases: [(&str, String, Code); 5] = [
        ("bad yaml", "- rule: x\n  desc: [unclosed\n".into(), Code::ErrYamlParse),
        ("binary", "\u{0}\u{1}\u{2}garbage".into(), Code::ErrYamlParse),
        (
            "deep yaml",
            format!("- list: l\n  items: {}{}\n", "[".repeat(100_000), "]".repeat(100_000)),
            Code::ErrYamlParse,
        ),
        ("not a list", "rule: x\n".into(), Code::ErrYamlValidate),
        (
            "bad priority",
            "- rule: r\n  desc: d\n  condition: evt.type=open\n  output: o\n  priority: LOUD\n"
                .into(),
            Code::ErrYamlValidate,
        ),
    ];
    for (what, text, code) in cases {
        let r = Collection::new().load("bad.yaml", &text);
        assert_eq!(r.errors.len(), 1, "{what}: {:?}", r.errors);
        let e = &r.errors[0];
        assert_eq!(e.code, code, "{what}: {e}");
        assert!(e.to_string().starts_with("bad.yaml:"), "{what}: {e}");
    }
    let huge = format!(
        "- list: big\n  items: [{}]\n",
        (0..200_000).map(|i| format!("i{i}")).collect::<Vec<_>>().join(", ")
    );
    let mut c = Collection::new();
    assert!(c.load("huge.yaml", &huge).ok());
    assert_eq!(c.lists[0].items.len(), 200_000);
}

#[test]
fn upstream_rule_files_expand_without_errors() {
    use std::collections::HashMap;
    let Some(shared) = shared() else {
        std::io::Write::write_all(&mut std::io::stderr(), b"skipped: no shared data\n").ok();
        return;
    };
    let dir = shared.join("falco-rules-data/rules");
    let sets: [&[&str]; 4] = [
        &["falco_rules.yaml"],
        &["falco-incubating_rules.yaml"],
        &["falco-sandbox_rules.yaml"],
        &["falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml"],
    ];
    for files in sets {
        let mut c = Collection::new();
        let mut texts = HashMap::new();
        for f in files {
            let text = std::fs::read_to_string(dir.join(f)).unwrap();
            assert!(c.load(f, &text).ok());
            texts.insert(f.to_string(), text);
        }
        let ex = dredge_rules::expand::expand(&c, &texts);
        assert!(ex.errors.is_empty(), "{files:?}: {:?}", ex.errors);
        assert_eq!(ex.rules.len(), c.rules.len());
        let warnings: Vec<String> = ex.warnings.iter().map(|w| w.to_string()).collect();
        println!("{files:?}: {} rules, warnings: {warnings:#?}", ex.rules.len());
    }
    // Falco's regression test on the legacy default rules (falco-rules 1.0.1) asks only that
    // they load; current Falco warns that their `%container.info` is deprecated, and so do we.
    let legacy = shared.join("captures/falco_test_rules/falco_rules.yaml");
    let text = std::fs::read_to_string(&legacy).unwrap();
    let mut c = Collection::new();
    let r = c.load("falco_rules.yaml", &text);
    assert!(r.ok() && r.warnings.is_empty(), "{:?}", r.warnings);
    let ex = dredge_rules::expand::expand(&c, &HashMap::from([("falco_rules.yaml".into(), text)]));
    assert!(ex.errors.is_empty(), "{:?}", ex.errors);
    assert!(!ex.warnings.is_empty());
    for w in &ex.warnings {
        assert!(w.code == Code::DeprecatedItem && w.text.starts_with("%container.info"), "{w}");
    }
}
