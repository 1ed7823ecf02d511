//! Whole loading: upstream rule sets compile cleanly, Falco's validation fixtures give Falco's
//! errors and warnings.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on purpose")]

mod common;

use common::shared;

use std::path::PathBuf;

use dredge_rules::ruleset::{Selection, load, wildcard};

fn read(paths: &[PathBuf]) -> Vec<(String, String)> {
    paths
        .iter()
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(p).unwrap(),
            )
        })
        .collect()
}

#[test]
fn upstream_rule_files_compile_with_no_error_and_no_warning() {
    let Some(shared) = shared() else {
        std::io::Write::write_all(&mut std::io::stderr(), b"skipped: no shared data\n").ok();
        return;
    };
    let dir = shared.join("falco-rules-data/rules");
    let all = ["falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml"];
    let mut sets: Vec<Vec<&str>> = all.iter().map(|f| vec![*f]).collect();
    sets.push(all.to_vec());
    for set in sets {
        let files = read(&set.iter().map(|f| dir.join(f)).collect::<Vec<_>>());
        let t = std::time::Instant::now();
        let loaded = load(&files);
        let took = t.elapsed();
        for r in &loaded.files {
            assert!(
                r.errors.is_empty(),
                "{set:?}: {:?}",
                r.errors.iter().map(|e| e.to_string()).collect::<Vec<_>>()
            );
            assert!(
                r.warnings.is_empty(),
                "{set:?}: {:?}",
                r.warnings.iter().map(|e| e.to_string()).collect::<Vec<_>>()
            );
        }
        assert_eq!(loaded.ruleset.rules.len(), loaded.collection.rules.len());
        println!("{set:?}: {} rules in {took:?}", loaded.ruleset.rules.len());
    }
}

#[test]
fn validation_fixtures_give_falcos_errors_and_warnings() {
    let Some(shared) = shared() else {
        std::io::Write::write_all(&mut std::io::stderr(), b"skipped: no shared data\n").ok();
        return;
    };
    let fixtures = shared.join("falco-rules-data/testing-fixtures");
    let text = std::fs::read_to_string(fixtures.join("validation-expectations.json")).unwrap();
    let cases: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut failures = Vec::new();
    for case in cases.as_array().unwrap() {
        let name = case["test"].as_str().unwrap();
        let paths: Vec<PathBuf> = case["rule_files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| fixtures.join(f.as_str().unwrap()))
            .collect();
        let loaded = load(&read(&paths));
        let errors: Vec<_> = loaded.files.iter().flat_map(|f| f.errors.clone()).collect();
        let warnings: Vec<_> = loaded.files.iter().flat_map(|f| f.warnings.clone()).collect();
        let exit = if errors.is_empty() { 0 } else { 1 };
        if !case["exit"].as_array().unwrap().iter().any(|e| e.as_i64() == Some(exit)) {
            failures.push(format!(
                "{name}: exit {exit}, errors {:?}",
                errors.iter().map(|e| e.to_string()).collect::<Vec<_>>()
            ));
            continue;
        }
        for e in case["expect"].as_array().unwrap() {
            let pool = if e["kind"] == "error" { &errors } else { &warnings };
            let found = pool.iter().any(|m| {
                let loc = m.location();
                m.code.name() == e["OfCode"].as_str().unwrap()
                    && loc.is_some_and(|l| l.item_type == e["OfItemType"].as_str().unwrap())
                    && e["OfItemName"]
                        .as_str()
                        .is_none_or(|n| loc.is_some_and(|l| l.item_name == n))
            });
            if found != e["present"].as_bool().unwrap_or(true) {
                let got: Vec<String> = pool.iter().map(|m| format!("{m}")).collect();
                failures.push(format!("{name}: expected {e} got {got:?}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} fixtures differ:\n{}",
        failures.len(),
        cases.as_array().unwrap().len(),
        failures.join("\n")
    );
}

#[test]
fn selection_by_priority_tag_and_name() {
    let text = "
- rule: a
  desc: d
  condition: evt.type=open
  output: o %proc.name
  priority: WARNING
  tags: [files]
- rule: b thing
  desc: d
  condition: evt.type=execve
  output: o
  priority: DEBUG
  tags: [process]
";
    let mut loaded = load(&[("r.yaml".into(), text.into())]);
    assert!(loaded.ok());
    let rs = &mut loaded.ruleset;
    assert_eq!(rs.enabled().count(), 2);
    rs.select(&Selection {
        min_priority: Some(dredge_rules::collect::Priority::Notice),
        ..Selection::default()
    });
    assert_eq!(rs.enabled().map(|r| r.def.name.as_str()).collect::<Vec<_>>(), ["a"]);
    rs.select(&Selection { enable_tags: vec!["process".into()], ..Selection::default() });
    assert_eq!(rs.enabled().map(|r| r.def.name.as_str()).collect::<Vec<_>>(), ["b thing"]);
    rs.select(&Selection { disable_rules: vec!["b *".into()], ..Selection::default() });
    assert_eq!(rs.enabled().map(|r| r.def.name.as_str()).collect::<Vec<_>>(), ["a"]);
    let open = dredge_rules::evttype::codes_named(b"open");
    assert_eq!(rs.candidates(open.iter().next().unwrap()).len(), 1);
    assert!(wildcard("open_*", "open_from_cat") && !wildcard("open_*", "xopen_"));
}

#[test]
fn malformed_conditions_give_one_clear_message() {
    for (cond, want) in [
        ("(evt.type=open", "expected ')', found end of input"),
        ("evt.type=open)", "after a complete condition"),
        ("proc.nobody = 1", "nonexistent field proc.nobody"),
        ("proc.name regex '(x'", "invalid regex pattern"),
    ] {
        let text =
            format!("- rule: r\n  desc: d\n  condition: {cond}\n  output: o\n  priority: INFO\n");
        let loaded = load(&[("m.yaml".into(), text)]);
        let errors: Vec<String> =
            loaded.files.iter().flat_map(|f| &f.errors).map(|m| m.to_string()).collect();
        assert_eq!(errors.len(), 1, "{cond}: {errors:?}");
        assert!(
            errors[0].starts_with("m.yaml:1:3: error") && errors[0].contains(want),
            "{cond}: {}",
            errors[0]
        );
    }
}

#[test]
fn suggested_container_fields_can_be_appended() {
    let text = "- rule: r\n  desc: d\n  condition: evt.type=open\n  output: o=%proc.name\n  \
    priority: INFO\n";
    let mut loaded = load(&[("a.yaml".into(), text.into())]);
    loaded
        .ruleset
        .append_to_outputs("container_id=%container.id container_name=%container.name")
        .unwrap();
    let n = loaded.ruleset.rules[0].output.len();
    assert_eq!(n, 6, "{:?}", loaded.ruleset.rules[0].output);
}
