//! Falco's regression expectations on the real captures (`captures/expected-alerts.md`,
//! section A): each row runs `dredge replay` as a user would, with the row's rules files and
//! options, and checks the alert counts, output patterns and exit code.
//! Rows with a Falco configuration file (`drops_*.yaml`, `stdout_output.yaml`...) pass it
//! with `-c`, as `falco -c` would take it.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on purpose")]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::shared;

struct Run {
    stdout: String,
    stderr: String,
    exit: i32,
    per_rule: BTreeMap<String, usize>,
    per_priority: BTreeMap<String, usize>,
    total: usize,
}

fn run(dir: &Path, capture: &Path, rules: &[&str], options: &str, test: &str) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dredge"));
    cmd.arg("replay").arg(capture).arg("--json");
    for f in rules {
        let path = [dir.join(f), dir.join("exceptions").join(f), dir.join("rules_dir").join(f)]
            .into_iter()
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("{f} not found"));
        cmd.arg("-r").arg(path);
    }
    for opt in options.split("; ") {
        let arg = |s: &str| s.split('"').nth(1).unwrap_or_default().to_string();
        if opt.starts_with("WithMinRulePriority") {
            cmd.args(["--priority", &arg(opt)]);
        } else if opt.starts_with("WithDisabledRules") {
            cmd.args(["--disable-rule", &arg(opt)]);
        } else if opt.starts_with("WithDisabledTags") {
            cmd.args(["--disable-tag", &arg(opt)]);
        } else if opt.starts_with("WithEnabledTags") {
            for t in opt.split('"').skip(1).step_by(2) {
                cmd.args(["--enable-tag", t]);
            }
        } else if let Some(kv) = opt.strip_prefix("-o ") {
            cmd.args(["-o", kv]);
        } else if opt.ends_with(".yaml") {
            cmd.arg("-c").arg(dir.join(opt));
        }
    }
    // What the testing repo sets for these tests beyond the table's option column.
    match test {
        "JsonOutputNoOutputProperty" => {
            cmd.args(["-o", "json_include_output_property=false"]);
        }
        "JsonOutputNoTagsProperty" => {
            cmd.args(["-o", "json_include_tags_property=false"]);
        }
        _ => {}
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let (mut per_rule, mut per_priority, mut total) = (BTreeMap::new(), BTreeMap::new(), 0);
    // A row's configuration may turn JSON off; text lines are then not counted.
    for line in stdout.lines().filter(|l| l.starts_with('{')) {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{test}: {e}: {line}"));
        *per_rule.entry(v["rule"].as_str().unwrap().to_string()).or_default() += 1;
        // The table writes Falco's INFO for Informational, as the testing repo does.
        let priority = match v["priority"].as_str().unwrap() {
            "Informational" => "INFO".to_string(),
            p => p.to_uppercase(),
        };
        *per_priority.entry(priority).or_default() += 1;
        total += 1;
    }
    Run {
        stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        exit: out.status.code().unwrap(),
        per_rule,
        per_priority,
        total,
    }
}

/// Checks one expectation (`total = 8`, `WARNING > 0`, `rule "x" = 8`, `stdout ~ /re/`...).
fn check(e: &str, r: &Run) -> Result<(), String> {
    let e = e.trim();
    let fail = |what: String| Err(format!("{e}: {what}"));
    if e == "(exit 0 only)" {
        return if r.exit == 0 { Ok(()) } else { fail(format!("exit {}", r.exit)) };
    }
    if let Some(code) = e.strip_prefix("exit ") {
        let want: i32 = code.parse().unwrap();
        return if r.exit == want { Ok(()) } else { fail(format!("exit {}", r.exit)) };
    }
    for (stream, text) in [("stdout", &r.stdout), ("stderr", &r.stderr)] {
        for (op, negate) in [(" !~ ", true), (" ~ ", false)] {
            if let Some(re) = e.strip_prefix(stream).and_then(|x| x.strip_prefix(op)) {
                let re = re.trim_matches('/');
                let re = regex::Regex::new(&format!("(?m){re}")).unwrap();
                return if re.is_match(text) != negate {
                    Ok(())
                } else {
                    fail(format!("{stream} was {text:?}"))
                };
            }
        }
    }
    let (lhs, op, rhs) = if let Some((l, r)) = e.split_once(" = ") {
        (l, "=", r)
    } else if let Some((l, r)) = e.split_once(" > ") {
        (l, ">", r)
    } else {
        return fail("unknown expectation".into());
    };
    let want: usize = rhs.parse().map_err(|_| format!("{e}: bad number"))?;
    let got = if lhs == "total" {
        r.total
    } else if let Some(name) = lhs.strip_prefix("rule \"").and_then(|x| x.strip_suffix('"')) {
        r.per_rule.get(name).copied().unwrap_or(0)
    } else {
        r.per_priority.get(lhs).copied().unwrap_or(0)
    };
    let ok = if op == "=" { got == want } else { got > want };
    if ok { Ok(()) } else { fail(format!("got {got} (rules {:?})", r.per_rule)) }
}

#[test]
fn falco_regression_expectations_on_real_captures() {
    let Some(shared) = shared() else {
        std::io::Write::write_all(&mut std::io::stderr(), b"skipped: no shared data\n").ok();
        return;
    };
    let table = std::fs::read_to_string(shared.join("captures/expected-alerts.md")).unwrap();
    let dir = shared.join("captures/falco_test_rules");
    let (mut passed, mut failures) = (0, Vec::new());
    for row in table.lines().filter(|l| l.starts_with("| ") && l.contains(".scap |")) {
        let cols: Vec<&str> = row.trim_matches('|').split(" | ").map(str::trim).collect();
        let (test, capture, rules, options, expected) =
            (cols[0], cols[1], cols[2], cols[3], cols[4]);
        let rules: Vec<&str> = rules.split(", ").collect();
        let r = run(&dir, &shared.join("captures").join(capture), &rules, options, test);
        let problems: Vec<String> =
            expected.split("; ").filter_map(|e| check(e, &r).err()).collect();
        let exits_zero = expected.contains("exit ") || r.exit == 0;
        if problems.is_empty() && exits_zero {
            passed += 1;
        } else {
            failures.push(format!(
                "{test}: {} (exit {}, stderr {:?})",
                problems.join("; "),
                r.exit,
                r.stderr.lines().next()
            ));
        }
    }
    println!("passed {passed}");
    assert!(
        failures.is_empty(),
        "{} of {} failed:\n{}",
        failures.len(),
        passed + failures.len(),
        failures.join("\n")
    );
    assert_eq!(passed, 74);
}
