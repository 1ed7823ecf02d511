//! `dredge tree`, `ps` and `timeline` on the recorded samples, as a responder runs them:
//! the chain from a container's entry point to a shell with its finding, the processes
//! running at a moment, and the acts of an intrusion in order.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on purpose")]

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn sample(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples").join(format!("{name}.dcap"))
}

/// Runs dredge; returns its exit code and stdout.
fn dredge(args: &[&str]) -> (i32, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_dredge")).args(args).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    (o.status.code().unwrap(), String::from_utf8(o.stdout).unwrap() + &err)
}

/// The JSON lines of a command that must succeed.
fn json(args: &[&str]) -> Vec<Value> {
    let (code, out) = dredge(args);
    assert_eq!(code, 0, "{args:?}: {out}");
    out.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn rules_of(life: &Value) -> Vec<&str> {
    life["findings"].as_array().unwrap().iter().map(|f| f["rule"].as_str().unwrap()).collect()
}

fn programs(life: &Value) -> Vec<&str> {
    life["programs"].as_array().unwrap().iter().map(|p| p["exe"].as_str().unwrap()).collect()
}

#[test]
fn tree_shows_the_chain_from_the_entry_point_to_the_shell_and_its_finding() {
    let path = sample("shell-secrets-bindir");
    let file = path.to_str().unwrap();
    let lives = json(&["tree", file, "--container", "shell-secrets-bindir", "--json"]);
    // The container's processes, from its entry point (pid 1 inside) down.
    let root = &lives[0];
    assert_eq!((root["depth"].as_u64(), root["vpid"].as_i64()), (Some(0), Some(1)));
    assert_eq!(programs(root), ["/usr/bin/runc", "/bin/sh", "/bin/find"]);
    let shell = lives
        .iter()
        .find(|l| rules_of(l).contains(&"Shell spawned by a non-shell program in a container"))
        .expect("the shell's finding");
    assert_eq!(programs(shell).last(), Some(&"/bin/sh"));
    // Up from the shell, parent by parent, to the entry point.
    let mut chain = vec![shell];
    while chain.last().unwrap()["depth"] != 0 {
        let child = chain.last().unwrap();
        let parent = lives.iter().find(|l| l["pid"] == child["ppid"]).expect("the parent");
        assert_eq!(parent["depth"].as_u64().unwrap() + 1, child["depth"].as_u64().unwrap());
        chain.push(parent);
    }
    assert_eq!(chain.len(), 2);
    assert_eq!(chain[1]["pid"], root["pid"]);
    let cat = lives.iter().find(|l| programs(l).contains(&"/bin/cat")).unwrap();
    assert_eq!(cat["ppid"], shell["pid"]);
    assert_eq!(rules_of(cat), ["Sensitive file opened"]);
    assert!(lives.iter().all(|l| l["end"]["code"] == 0), "every process exited 0");

    // Drawn: the shell under find's process, its findings under it.
    let (code, drawn) = dredge(&["tree", file, "--findings"]);
    assert_eq!(code, 0, "{drawn}");
    let lines: Vec<&str> = drawn.lines().collect();
    let at = lines.iter().position(|l| l.contains("─ ") && l.contains(" sh -c /bin/cat"));
    let at = at.unwrap();
    assert!(lines[at - 2].contains("find /etc -maxdepth 0"), "{drawn}");
    assert!(lines[at].starts_with("└─ "), "{drawn}");
    assert!(lines[at + 1].ends_with("WARNING Shell spawned by a non-shell program in a container"));
    assert!(lines[at + 2].ends_with("ERROR Write below binary directory"), "{drawn}");
    assert!(lines[at + 3].contains("└─ ") && lines[at + 3].contains("cat /etc/shadow"));
    // Without rules, no findings and the whole host besides.
    let (_, bare) = dredge(&["tree", file, "--no-rules"]);
    assert!(!bare.contains("! ") && bare.lines().count() > lines.len());
    assert!(bare.lines().next().unwrap().starts_with("1 "), "pid 1 first: {bare}");
}

#[test]
fn tree_narrows_to_a_process_and_a_filter() {
    let path = sample("reverse-shell");
    let file = path.to_str().unwrap();
    let all = json(&["tree", file, "--json"]);
    let nc = all
        .iter()
        .find(|l| rules_of(l).contains(&"Reverse shell in a container"))
        .expect("the reverse shell");
    assert_eq!(programs(nc)[1..], ["/bin/timeout", "/bin/nc", "/bin/sh"]);
    let pid = nc["pid"].to_string();
    let near = json(&["tree", file, "--pid", &pid, "--json"]);
    // Its ancestors, one per depth, down to it; then its descendants below it.
    let at = near.iter().position(|l| l["pid"] == nc["pid"]).unwrap();
    let depths: Vec<u64> = near.iter().map(|l| l["depth"].as_u64().unwrap()).collect();
    assert_eq!(depths[..=at], (0..=at as u64).collect::<Vec<_>>());
    assert!(near[at + 1..].iter().all(|l| l["depth"].as_u64() > Some(at as u64)));
    let below: Vec<&str> = near[at + 1..].iter().map(|l| *programs(l).last().unwrap()).collect();
    assert_eq!(below, ["/bin/timeout", "/bin/id"]);
    // A filter keeps the processes with a matching event, and their ancestors.
    let listening = json(&["tree", file, "evt.type=listen", "--json"]);
    let leaves: Vec<&Value> = listening
        .iter()
        .enumerate()
        .filter(|(i, l)| {
            listening.get(i + 1).is_none_or(|n| n["depth"].as_u64() <= l["depth"].as_u64())
        })
        .map(|(_, l)| l)
        .collect();
    assert_eq!(leaves.len(), 2, "{listening:?}");
    assert!(leaves.iter().all(|l| programs(l).last() == Some(&"/bin/nc")));
}

#[test]
fn ps_lists_the_processes_running_at_a_moment() {
    let path = sample("exec-drift");
    let file = path.to_str().unwrap();
    let filter = "container.id!=host";
    // At the end the container is gone; in the middle its shell and the tracer run.
    assert!(json(&["ps", file, filter, "--json"]).is_empty());
    let mid = json(&["ps", file, filter, "--at", "+100ms", "--json"]);
    let commands: Vec<&str> = mid.iter().map(|p| p["cmdline"].as_str().unwrap()).collect();
    assert!(commands[0].starts_with("sh -c /bin/dpkg -l"), "{commands:?}");
    assert_eq!(commands[1..], ["intruder ptrace", "intruder ptrace"]);
    assert!(mid.iter().all(|p| p["container.name"] == "exec-drift" && p["user"] == "root"));
    assert_eq!(mid[1]["ppid"], mid[0]["pid"]);
    assert_eq!(mid[0]["vpid"], 1);
    // Before its entry point ran, the container had only the runtime's init.
    let early = json(&["ps", file, filter, "--at", "+20ms", "--json"]);
    assert_eq!(early.len(), 1);
    assert_eq!(early[0]["cmdline"], "runc:[1:CHILD] init");
    let (code, table) = dredge(&["ps", file, "proc.name=intruder", "--at", "+100ms"]);
    assert_eq!(code, 0);
    assert_eq!(
        table.lines().next().unwrap().split_whitespace().collect::<Vec<_>>(),
        ["PID", "PPID", "USER", "CONTAINER", "STARTED", "COMMAND"]
    );
    assert_eq!(table.lines().count(), 3, "{table}");
}

#[test]
fn timeline_tells_an_intrusion_in_order() {
    let path = sample("files-tamper");
    let file = path.to_str().unwrap();
    let acts = json(&["timeline", file, "--container", "files-tamper", "--json"]);
    let said: Vec<(&str, &str)> =
        acts.iter().map(|a| (a["kind"].as_str().unwrap(), a["object"].as_str().unwrap())).collect();
    let at = |kind: &str, object: &str| {
        said.iter().position(|&s| s == (kind, object)).unwrap_or_else(|| panic!("{said:?}"))
    };
    let exec = at("exec", "crontab -");
    let write = at("write", "/var/spool/cron/crontabs/root.new");
    let finding = at("finding", "ERROR Scheduled job written");
    let rename = at("rename", "oldpath=root.new newpath=root");
    assert!(exec < write && write < finding && finding < rename);
    assert!(
        at("link", "target=/etc/shadow linkpath=/tmp/.s") < at("delete", "path=/root/.ash_history")
    );
    assert_eq!(
        at("chmod", "filename=/tmp/.sh mode=0104755") + 1,
        at("finding", "WARNING Setuid or setgid bit set")
    );
    let times: Vec<u64> = acts.iter().map(|a| a["ts"].as_u64().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
    // Writes to /dev/null and the runtime's set-up are left out unless asked for.
    assert!(said.iter().all(|(k, o)| *o != "/dev/null" && *k != "system"), "{said:?}");
    let with_runtime =
        json(&["timeline", file, "--container", "files-tamper", "--runtime", "--json"]);
    let mounts = with_runtime.iter().filter(|a| a["proc.name"] == "runc:[1:CHILD]").count();
    assert!(mounts > 50, "{mounts}");
    // A filter keeps its acts, and the findings of the processes that did them.
    let rm = json(&["timeline", file, "proc.name=rm", "--json"]);
    let kinds: Vec<&str> = rm.iter().map(|a| a["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["exec", "delete", "finding"]);
}

#[test]
fn views_say_what_is_wrong_with_their_input() {
    let path = sample("reverse-shell");
    let file = path.to_str().unwrap();
    for view in ["tree", "ps", "timeline"] {
        let (code, out) = dredge(&[view, "/nonexistent.dcap"]);
        assert_eq!(code, 3, "{view}: {out}");
        assert!(out.contains("/nonexistent.dcap"), "{view}: {out}");
        let (code, out) = dredge(&[view, file, "proc.name ="]);
        assert_eq!(code, 2, "{view}: {out}");
    }
    let (code, out) = dredge(&["ps", file, "--at", "soon"]);
    assert_eq!(code, 2, "{out}");
    let (code, out) = dredge(&["tree", file, "-r", "/nonexistent.yaml"]);
    assert_eq!(code, 3, "{out}");
}

#[test]
fn a_damaged_capture_still_gives_what_was_read() {
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.dcap");
    let bytes = std::fs::read(sample("synthetic-httpd")).unwrap();
    // The first of its two event blocks is whole; the second is cut.
    std::fs::write(&cut, &bytes[..bytes.len() * 3 / 4]).unwrap();
    let cut = cut.to_str().unwrap();
    let whole = sample("synthetic-httpd");
    let whole = whole.to_str().unwrap();
    for view in ["tree", "ps", "timeline"] {
        let (code, out) = dredge(&[view, cut, "--json"]);
        assert_eq!(code, 4, "{view}: {out}");
        assert!(out.contains("cut.dcap: damaged"), "{view}: {out}");
        let rows = out.lines().filter(|l| l.starts_with('{')).count();
        let (_, all) = dredge(&[view, whole, "--json"]);
        assert!(rows > 0 && rows <= all.lines().count(), "{view}: {rows}");
    }
}
