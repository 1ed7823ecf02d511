//! Falco's rule-loader unit cases (extracted from falco's `test_rule_loader.cpp`): whether a
//! rules file loads, the errors and warnings it gives, and the compiled conditions.
//! Every case must hold: the load verdict, each expected error and warning (as substrings,
//! as falco's test checks them) and each compiled condition in canonical form.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on purpose")]

mod common;

use common::shared;

use std::collections::HashMap;

use dredge_rules::expand::expand;
use dredge_rules::ruleset::load;

#[test]
fn falco_loader_cases() {
    let Some(shared) = shared() else {
        std::io::Write::write_all(&mut std::io::stderr(), b"skipped: no shared data\n").ok();
        return;
    };
    let path = shared.join("falco-rules-data/extracted-test-cases/falco_rule_loader_cases.json");
    let cases: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let (mut passed, mut failures) = (0, Vec::new());
    let mut compiled_checked = 0;
    for case in cases.as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let text = case["rules"].as_str().unwrap();
        let loaded = load(&[("rules.yaml".to_string(), text.to_string())]);
        let errors: Vec<String> =
            loaded.files.iter().flat_map(|f| &f.errors).map(|m| m.text.clone()).collect();
        let warnings: Vec<String> =
            loaded.files.iter().flat_map(|f| &f.warnings).map(|m| m.text.clone()).collect();
        let texts = HashMap::from([("rules.yaml".to_string(), text.to_string())]);
        let compiled: HashMap<String, String> = expand(&loaded.collection, &texts)
            .rules
            .iter()
            .map(|r| (r.def.name.clone(), r.condition.to_string()))
            .collect();
        let mut problems = Vec::new();
        if case["load_ok"].as_bool().unwrap() != errors.is_empty() {
            problems.push(format!("load_ok {} but errors {errors:?}", case["load_ok"]));
        }
        for e in case["errors"].as_array().unwrap().iter().filter_map(|v| v.as_str()) {
            if !errors.iter().any(|m| m.contains(e)) {
                problems.push(format!("missing error {e:?} in {errors:?}"));
            }
        }
        for w in case["warnings"].as_array().unwrap().iter().filter_map(|v| v.as_str()) {
            if !warnings.iter().any(|m| m.contains(w)) {
                problems.push(format!("missing warning {w:?} in {warnings:?}"));
            }
        }
        for cc in case["compiled_conditions"].as_array().unwrap() {
            let rule = cc["rule"].as_str().unwrap();
            let want = cc["expected"].as_str().unwrap();
            match compiled.get(rule) {
                Some(got) if got == want => compiled_checked += 1,
                got => problems.push(format!("rule {rule}: compiled {got:?}, want {want:?}")),
            }
        }
        if problems.is_empty() {
            passed += 1;
        } else {
            failures.push(format!("{name}: {}", problems.join("; ")));
        }
    }
    println!("passed {passed}, compiled conditions {compiled_checked}");
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
    assert_eq!((passed, compiled_checked), (103, 33));
}
