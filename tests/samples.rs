//! The bundled real samples (`samples/record.sh`, described in `samples/README.md`) give the
//! findings their scenarios should: each attack act found by the built-in rule that targets
//! it, in the scenario's container, and the benign baseline nothing above NOTICE.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on purpose")]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples").join(format!("{name}.dcap"))
}

/// The findings of the built-in rules on sample `name`, as Falco JSON alerts.
fn findings(name: &str) -> Vec<serde_json::Value> {
    let path = sample(name);
    assert!(std::fs::metadata(&path).unwrap().len() <= 1 << 20, "{name} is over 1 MiB");
    let o = Command::new(env!("CARGO_BIN_EXE_dredge"))
        .args(["replay", "--json"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(o.status.success(), "{name}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn counts(findings: &[serde_json::Value]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for f in findings {
        *counts.entry(f["rule"].as_str().unwrap().to_string()).or_default() += 1;
    }
    counts
}

#[test]
fn the_attack_sample_raises_each_act_once_in_its_container() {
    let found = findings("shell-secrets-bindir");
    let want: BTreeMap<String, usize> = [
        // The container's entrypoint shell (context), and the shell find spawned.
        ("Shell started in a container", 1),
        ("Shell spawned by a non-shell program in a container", 1),
        ("Sensitive file opened", 1),
        ("Write below binary directory", 1),
    ]
    .into_iter()
    .map(|(r, n)| (r.to_string(), n))
    .collect();
    assert_eq!(counts(&found), want);

    let one =
        |rule: &str| found.iter().find(|f| f["rule"] == rule).unwrap()["output_fields"].clone();
    let spawned = one("Shell spawned by a non-shell program in a container");
    assert_eq!(spawned["proc.pname"], "find");
    assert!(spawned["proc.cmdline"].as_str().unwrap().contains("/bin/cat /etc/shadow"));
    assert_eq!(spawned["container.name"], "shell-secrets-bindir");
    let read = one("Sensitive file opened");
    assert_eq!(
        (read["fd.name"].as_str(), read["proc.cmdline"].as_str()),
        (Some("/etc/shadow"), Some("cat /etc/shadow"))
    );
    let write = one("Write below binary directory");
    assert_eq!(write["fd.name"], "/usr/bin/.cache");
    for f in &found {
        let fields = &f["output_fields"];
        assert_eq!(fields["container.name"], "shell-secrets-bindir", "{f}");
        assert_eq!(fields["container.id"].as_str().unwrap().len(), 12, "{f}");
        assert_eq!(fields["container.image.repository"], "localhost/dredge-sample-busybox");
    }
}

#[test]
fn the_baseline_sample_raises_nothing_above_notice() {
    let found = findings("baseline-web");
    for f in &found {
        let priority = f["priority"].as_str().unwrap();
        assert!(
            matches!(priority, "Notice" | "Informational" | "Debug"),
            "{}: {priority}",
            f["rule"]
        );
    }
    // The baseline did its work: the site was fetched 30 times through the loopback.
    let o = Command::new(env!("CARGO_BIN_EXE_dredge"))
        .args(["print"])
        .arg(sample("baseline-web"))
        .args(["evt.type=connect and evt.dir=< and fd.sport=8080", "-p", "%proc.name"])
        .output()
        .unwrap();
    assert!(o.status.success());
    let connects = String::from_utf8(o.stdout).unwrap();
    assert_eq!(connects.lines().filter(|l| *l == "wget").count(), 30, "{connects}");
}
