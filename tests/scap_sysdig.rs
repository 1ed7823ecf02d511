//! sysdig itself as the oracle: a scap capture converted to dcap and back must print the same
//! in `sysdig -r` as the original, field for field.
//!
//! Needs the shared captures (`DREDGE_SHARED`) and Debian's `sysdig` (0.29.3), which
//! `.ci/run` installs; without either the test says `skipped: ...` and passes.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on purpose")]

mod common;

use common::shared;

use std::path::Path;
use std::process::Command;

const FIELDS: &str = "*%evt.num %evt.time %evt.type %evt.dir %evt.args %proc.name %proc.pid \
    %thread.tid %fd.name %user.name %container.id";

const MORE_FIELDS: &str = "*%evt.num %evt.rawtime %evt.type %evt.args %proc.exepath %proc.cmdline \
    %proc.ppid %user.loginuid %group.name %container.name %container.image %fd.type %fd.sip";

fn sysdig(args: &[&str], file: &Path) -> Option<String> {
    let out =
        Command::new("sysdig").env("TZ", "UTC").args(args).arg("-r").arg(file).output().ok()?;
    assert!(
        out.status.success(),
        "sysdig on {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn first_difference(a: &str, b: &str) -> String {
    let line = a.lines().zip(b.lines()).position(|(x, y)| x != y);
    match line {
        Some(i) => format!(
            "line {}:\n  original: {}\n  exported: {}",
            i + 1,
            a.lines().nth(i).unwrap(),
            b.lines().nth(i).unwrap()
        ),
        None => format!("{} lines vs {}", a.lines().count(), b.lines().count()),
    }
}

#[test]
fn exported_captures_print_the_same_in_sysdig() {
    let Some(shared) = shared() else {
        std::io::Write::write_all(&mut std::io::stderr(), b"skipped: no shared data\n").ok();
        return;
    };
    if Command::new("sysdig").arg("--version").output().is_err() {
        std::io::Write::write_all(
            &mut std::io::stderr(),
            b"skipped: sysdig is not installed (apt-get install sysdig)\n",
        )
        .ok();
        return;
    }
    let manifest = std::fs::read_to_string(shared.join("captures/MANIFEST.tsv")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut compared = 0;
    for line in manifest.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols[8] == "-1" {
            continue; // sysdig cannot read it (SHB options); the import tests cover it.
        }
        let original = shared.join("captures").join(cols[0]);
        let dcap = dir.path().join("c.dcap");
        let exported = dir.path().join("c.scap");
        let dredge = env!("CARGO_BIN_EXE_dredge");
        let o = Command::new(dredge)
            .arg("import")
            .arg(&original)
            .arg("-o")
            .arg(&dcap)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let gzip = compared % 2 == 1;
        let mut export = Command::new(dredge);
        export.arg("export").arg(&dcap).arg("-o").arg(&exported);
        if gzip {
            export.arg("--gzip");
        }
        let o = export.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

        let a = sysdig(&["-p", FIELDS], &original).unwrap();
        let b = sysdig(&["-p", FIELDS], &exported).unwrap();
        assert!(a == b, "{}: {}", cols[0], first_difference(&a, &b));
        assert_eq!(a.lines().count(), cols[9].parse::<usize>().unwrap(), "{}", cols[0]);
        if compared % 5 == 0 {
            let a = sysdig(&["-D", "-p", MORE_FIELDS], &original).unwrap();
            let b = sysdig(&["-D", "-p", MORE_FIELDS], &exported).unwrap();
            assert!(a == b, "{} (-D): {}", cols[0], first_difference(&a, &b));
        }
        compared += 1;
    }
    assert_eq!(compared, 30);
}
