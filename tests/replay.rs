//! `dredge replay` as a user runs it: the same findings, in the same order, for any number of
//! threads; damaged captures are read up to the damage and say so.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on purpose")]

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::shared;

fn replay(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dredge")).arg("replay").args(args).output().unwrap()
}

#[test]
fn findings_are_the_same_for_one_two_and_three_threads() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sample = root.join("samples/synthetic-httpd.dcap");
    let mut cases: Vec<Vec<String>> = vec![vec![sample.display().to_string()]];
    if let Some(shared) = shared() {
        let rules = shared.join("falco-rules-data/rules");
        let tests = shared.join("captures/falco_test_rules");
        cases.push(vec![
            shared.join("captures/falco_cat_write.scap").display().to_string(),
            "-r".into(),
            tests.join("single_rule.yaml").display().to_string(),
            "-r".into(),
            tests.join("double_rule.yaml").display().to_string(),
            "--rule-matching".into(),
            "all".into(),
        ]);
        let mut alpine =
            vec![shared.join("captures/sysflow/alpine_alpine.scap").display().to_string()];
        for f in ["falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml"] {
            alpine.push("-r".into());
            alpine.push(rules.join(f).display().to_string());
        }
        alpine.extend(["--rule-matching".into(), "all".into(), "--json".into()]);
        cases.push(alpine);
    } else {
        std::io::Write::write_all(
            &mut std::io::stderr(),
            b"skipped (shared captures): no shared data\n",
        )
        .ok();
    }
    for case in cases {
        let args: Vec<&str> = case.iter().map(String::as_str).collect();
        let outputs: Vec<Vec<u8>> = ["1", "2", "3"]
            .iter()
            .map(|t| {
                let mut a = args.clone();
                a.extend(["--threads", t]);
                let o = replay(&a);
                assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
                o.stdout
            })
            .collect();
        assert!(!outputs[0].is_empty(), "{case:?}: no findings to compare");
        assert_eq!(outputs[0], outputs[1], "{case:?}: 1 vs 2 threads");
        assert_eq!(outputs[0], outputs[2], "{case:?}: 1 vs 3 threads");
    }
}

#[test]
fn a_cut_capture_replays_up_to_the_cut_and_says_so() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(root.join("samples/synthetic-httpd.dcap")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.dcap");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let o = replay(&[cut.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(4), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("events read"), "{err}");
}

#[test]
fn bad_rules_and_settings_are_refused_with_falcos_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("bad.yaml");
    std::fs::write(
        &rules,
        "- rule: r\n  desc: d\n  condition: evt.type=\n  output: o\n  priority: INFO\n",
    )
    .unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sample = root.join("samples/synthetic-httpd.dcap");
    let o = replay(&[sample.to_str().unwrap(), "-r", rules.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("bad.yaml:1:3: error (LOAD_ERR_COMPILE_CONDITION)")
    );

    let config = dir.path().join("falco.yaml");
    std::fs::write(&config, "syscall_event_drops:\n  threshold: 2\n").unwrap();
    let o = replay(&[sample.to_str().unwrap(), "-c", config.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("threshold must be a double in the range"));
}

/// `print` formats on every core; its lines must come out the same, in the same order.
#[test]
fn print_is_the_same_for_one_two_and_three_threads() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sample = root.join("samples/synthetic-httpd.dcap").display().to_string();
    let formats = [
        vec![],
        vec!["-p", "%evt.num %proc.name %proc.pname %proc.aname[2] %fd.name %user.name"],
        vec!["fd.typechar=f and proc.name=httpd", "-p", "*%evt.num %fd.name %evt.res"],
    ];
    for format in formats {
        let run = |threads: &str| {
            let out = Command::new(env!("CARGO_BIN_EXE_dredge"))
                .args(["print", &sample, "--threads", threads])
                .args(&format)
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            out.stdout
        };
        let one = run("1");
        assert!(one.iter().filter(|&&b| b == b'\n').count() > 1000, "{format:?}");
        assert_eq!(run("2"), one, "{format:?}");
        assert_eq!(run("3"), one, "{format:?}");
    }
}
