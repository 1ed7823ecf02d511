//! The bundled real samples (`samples/record.sh`, described in `samples/README.md`) give the
//! findings their scenarios should: each attack act found by the built-in rule that targets
//! it, in the scenario's container, every built-in rule on at least one sample, and the benign
//! baseline nothing above NOTICE. Upstream Falco's stable rules run on the same samples too,
//! so that the comparison in `samples/README.md` stays true.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on purpose")]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Each recorded sample and what the built-in rules find in it: (rule, count).
const EXPECTED: &[(&str, &[(&str, usize)])] = &[
    ("baseline-web", &[("Shell started in a container", 1)]),
    (
        "shell-secrets-bindir",
        &[
            // The container's entrypoint shell (context), and the shell find spawned.
            ("Shell started in a container", 1),
            ("Shell spawned by a non-shell program in a container", 1),
            ("Sensitive file opened", 1),
            ("Write below binary directory", 1),
        ],
    ),
    (
        "exec-drift",
        &[
            ("Shell started in a container", 1),
            ("Package manager run in a container", 1),
            ("User or group management in a container", 1),
            ("Program written in the capture run in a container", 1),
            ("Program run from a temporary directory in a container", 1),
            ("Fileless execution from memory", 1),
            ("Network discovery tool run in a container", 1),
            ("Process attached with ptrace", 1),
            ("Process memory opened for writing", 1),
            ("BPF program load from a container", 1),
        ],
    ),
    (
        "files-tamper",
        &[
            ("Shell started in a container", 1),
            ("SSH private key read", 1),
            // ~/.aws/credentials and the service account token.
            ("Cloud or cluster credentials read", 2),
            ("Environment of another process read", 1),
            ("Link to a sensitive file", 1),
            ("Write below etc in a container", 1),
            // busybox's crontab writes the table and a note for crond.
            ("Scheduled job written", 2),
            // A log truncated, a history deleted.
            ("Log or shell history cleared", 2),
            ("Setuid or setgid bit set", 1),
        ],
    ),
    (
        "reverse-shell",
        &[
            ("Shell started in a container", 1),
            // The operator's listener and the stand-in pool.
            ("Netcat or shell listening in a container", 2),
            ("Netcat remote execution in a container", 1),
            ("Outbound connection to an unusual port from a container", 1),
            // nc puts the socket on stdin and stdout before it runs the shell.
            ("Standard stream redirected to a socket in a container", 2),
            ("Reverse shell in a container", 1),
            ("Connection to a mining pool", 1),
        ],
    ),
    (
        "privileged-escape",
        &[
            // The entrypoint shell, reported as the privileged start rather than as context.
            ("Privileged container started", 1),
            // mount, and unshare's making the new namespace's mounts private.
            ("Mount in a container", 2),
            ("Namespace change in a container", 2),
            // busybox's insmod tries finit_module, then init_module.
            ("Kernel module load", 2),
            ("Container escape file opened for writing", 1),
        ],
    ),
];

/// What upstream Falco's stable rules (`falco_rules.yaml`) find in the same samples.
const UPSTREAM: &[(&str, &[(&str, usize)])] = &[
    ("baseline-web", &[]),
    ("shell-secrets-bindir", &[("Read sensitive file untrusted", 1)]),
    (
        "exec-drift",
        &[
            // passwd's backup link of /etc/shadow (the built-in rule leaves user tools alone).
            ("Create Hardlink Over Sensitive Files", 1),
            ("Fileless execution via memfd_create", 1),
            ("PTRACE attached to process", 1),
        ],
    ),
    ("files-tamper", &[("Clear Log Activities", 1), ("Create Symlink Over Sensitive Files", 1)]),
    (
        "reverse-shell",
        &[
            ("Netcat Remote Code Execution in Container", 1),
            ("Redirect STDOUT/STDIN to Network Connection in Container", 2),
        ],
    ),
    // finit_module, then init_module, by a process with CAP_SYS_MODULE.
    ("privileged-escape", &[("Linux Kernel Module Injection Detected", 2)]),
];

fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples").join(format!("{name}.dcap"))
}

/// The findings on sample `name` (built-in rules, or `rules` when given) as Falco JSON.
fn findings(name: &str, rules: Option<&Path>) -> Vec<serde_json::Value> {
    let path = sample(name);
    assert!(std::fs::metadata(&path).unwrap().len() <= 1 << 20, "{name} is over 1 MiB");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dredge"));
    cmd.args(["replay", "-q", "--json"]);
    if let Some(r) = rules {
        cmd.arg("-r").arg(r);
    }
    let o = cmd.arg(&path).output().unwrap();
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

fn owned(want: &[(&str, usize)]) -> BTreeMap<String, usize> {
    want.iter().map(|(r, n)| (r.to_string(), *n)).collect()
}

/// The output fields of the one finding of `rule`.
fn one(found: &[serde_json::Value], rule: &str) -> serde_json::Value {
    let mut of = found.iter().filter(|f| f["rule"] == rule);
    let f = of.next().unwrap_or_else(|| panic!("no {rule}"));
    f["output_fields"].clone()
}

#[test]
fn each_sample_raises_what_its_scenario_did_in_its_container() {
    for (name, want) in EXPECTED {
        let found = findings(name, None);
        assert_eq!(counts(&found), owned(want), "{name}");
        for f in &found {
            let fields = &f["output_fields"];
            assert_eq!(fields["container.name"], *name, "{f}");
            assert_eq!(fields["container.id"].as_str().unwrap().len(), 12, "{f}");
            assert_eq!(fields["container.image.repository"], "localhost/dredge-sample-busybox");
        }
    }
}

#[test]
fn every_builtin_rule_fires_on_a_sample() {
    let builtin = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/builtin");
    let o = Command::new(env!("CARGO_BIN_EXE_dredge"))
        .args(["rules", "list"])
        .arg(builtin)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let listed = String::from_utf8(o.stdout).unwrap();
    let rules: BTreeSet<String> =
        listed.lines().map(|l| l.split('\t').next().unwrap().to_string()).collect();
    assert!(rules.len() >= 30, "{} built-in rules", rules.len());
    let fired: BTreeSet<String> =
        EXPECTED.iter().flat_map(|(_, w)| w.iter().map(|(r, _)| r.to_string())).collect();
    let silent: Vec<_> = rules.difference(&fired).collect();
    assert!(silent.is_empty(), "built-in rules no sample fires: {silent:?}");
}

#[test]
fn the_findings_name_the_act() {
    let found = findings("shell-secrets-bindir", None);
    let spawned = one(&found, "Shell spawned by a non-shell program in a container");
    assert_eq!(spawned["proc.pname"], "find");
    assert!(spawned["proc.cmdline"].as_str().unwrap().contains("/bin/cat /etc/shadow"));
    let read = one(&found, "Sensitive file opened");
    assert_eq!(
        (read["fd.name"].as_str(), read["proc.cmdline"].as_str()),
        (Some("/etc/shadow"), Some("cat /etc/shadow"))
    );
    assert_eq!(one(&found, "Write below binary directory")["fd.name"], "/usr/bin/.cache");

    let found = findings("exec-drift", None);
    let drift = one(&found, "Program written in the capture run in a container");
    assert_eq!(drift["proc.exepath"], "/tmp/cat");
    let memfd = one(&found, "Fileless execution from memory");
    assert_eq!(memfd["proc.cmdline"], "memfd:payload fileless");
    let ptrace = one(&found, "Process attached with ptrace");
    assert_eq!(ptrace["evt.arg.request"], "PTRACE_ATTACH");

    let found = findings("reverse-shell", None);
    let shell = one(&found, "Reverse shell in a container");
    assert_eq!(shell["proc.pname"], "sh");
    let stdin = shell["proc.stdin.name"].as_str().unwrap();
    assert!(stdin.starts_with("127.0.0.1:") && stdin.ends_with("->127.0.0.1:9001"), "{stdin}");
    let pool = one(&found, "Connection to a mining pool");
    assert!(pool["fd.name"].as_str().unwrap().ends_with("->127.0.0.1:3333"));
    let listening: Vec<_> = found
        .iter()
        .filter(|f| f["rule"] == "Netcat or shell listening in a container")
        .map(|f| f["output_fields"]["fd.name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(listening, [":::9001", ":::3333"]);
    // The listeners' sockets are IPv6: the recorder reads both 16-byte addresses of an
    // accepted connection (IPv4-mapped here, so shown as IPv4).
    let o = Command::new(env!("CARGO_BIN_EXE_dredge"))
        .arg("print")
        .arg(sample("reverse-shell"))
        .args(["evt.type in (accept, accept4)", "-p", "%fd.name"])
        .output()
        .unwrap();
    let accepted = String::from_utf8(o.stdout).unwrap();
    let ports: Vec<_> = accepted
        .lines()
        .map(|l| l.strip_prefix("127.0.0.1:").unwrap_or(l).split_once("->127.0.0.1:").map(|p| p.1))
        .collect();
    assert_eq!(ports, [Some("9001"), Some("3333")], "{accepted}");

    let found = findings("files-tamper", None);
    let link = one(&found, "Link to a sensitive file");
    assert!(link["evt.args"].as_str().unwrap().contains("target=/etc/shadow"));
    let setuid = one(&found, "Setuid or setgid bit set");
    assert!(setuid["evt.args"].as_str().unwrap().contains("filename=/tmp/.sh"));

    let found = findings("privileged-escape", None);
    let escape = one(&found, "Container escape file opened for writing");
    assert_eq!(escape["fd.name"], "/proc/sys/kernel/core_pattern");
}

#[test]
fn the_baseline_sample_raises_nothing_above_notice() {
    let found = findings("baseline-web", None);
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

#[test]
fn upstream_stable_rules_find_what_the_readme_says() {
    let Some(shared) = common::shared() else {
        common::skip("no shared data");
        return;
    };
    let rules = shared.join("falco-rules-data/rules/falco_rules.yaml");
    for (name, want) in UPSTREAM {
        assert_eq!(counts(&findings(name, Some(&rules))), owned(want), "{name}");
    }
}
