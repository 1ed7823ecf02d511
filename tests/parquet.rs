//! Parquet outputs read back in DuckDB: `replay --parquet` on the bundled sample, then SQL
//! over the file checks the rows, the list columns and the `output_fields` struct; the same
//! for `export --events` and `spans --parquet`.
//!
//! DuckDB comes from its Python wheel: `DREDGE_PYTHON` names the interpreter that has it
//! (`.ci/run` sets it up), else `python3`. Without DuckDB the test says `skipped: ...`; with
//! `DREDGE_PYTHON` set, a missing DuckDB is a failure.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on purpose")]

mod common;

use std::path::Path;
use std::process::Command;

fn python() -> Option<String> {
    let (python, required) = match std::env::var("DREDGE_PYTHON") {
        Ok(p) => (p, true),
        Err(_) => ("python3".to_string(), false),
    };
    let ok = Command::new(&python)
        .args(["-c", "import duckdb"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(!required, "DREDGE_PYTHON={python} cannot import duckdb");
        // Straight to stderr: the test harness captures eprintln!.
        let why = b"skipped: no duckdb Python module (set DREDGE_PYTHON; .ci/run installs one)\n";
        std::io::Write::write_all(&mut std::io::stderr(), why).ok();
        return None;
    }
    Some(python)
}

/// Runs `sql` in DuckDB; one line per row, values separated by `|`.
fn duckdb(python: &str, sql: &str) -> Vec<String> {
    let script = "import duckdb, sys\n\
    for row in duckdb.sql(sys.argv[1]).fetchall():\n    \
    print('|'.join(str(v) for v in row))\n";
    let out = Command::new(python).args(["-c", script, sql]).output().unwrap();
    assert!(out.status.success(), "duckdb: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(str::to_string).collect()
}

#[test]
fn replay_findings_read_back_in_duckdb() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("findings.parquet");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let run = Command::new(env!("CARGO_BIN_EXE_dredge"))
        .args(["replay", "--parquet"])
        .arg(&out)
        .arg(root.join("samples/synthetic-httpd.dcap"))
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let text = String::from_utf8(run.stdout).unwrap();
    assert!(!dir.path().join("findings.parquet.partial").exists());
    let file = out.display().to_string();

    // The same findings as the text output, in the same order, each row's output its line.
    let outputs = duckdb(&python, &format!("select output from '{file}' order by event"));
    assert_eq!(outputs, text.lines().collect::<Vec<_>>());

    // Column types as an engine sees them: lists are lists, output_fields a struct.
    let types = duckdb(
        &python,
        &format!(
            "select typeof(tags), typeof(proc_ancestors), typeof(output_fields), typeof(time) \
            from '{file}' limit 1"
        ),
    );
    let types: Vec<&str> = types[0].split('|').collect();
    assert_eq!(types[0], "VARCHAR[]");
    assert_eq!(types[1], "VARCHAR[]");
    assert!(types[2].starts_with("STRUCT(\"evt.time\" TIMESTAMPTZ_NS"), "{}", types[2]);
    assert!(types[2].contains("\"fd.name\" VARCHAR"), "{}", types[2]);
    assert_eq!(types[3], "TIMESTAMPTZ_NS");

    // Values inside lists and the struct survive: unnest a list, reach into the struct.
    let rows = duckdb(
        &python,
        &format!(
            "select rule, priority, len(tags), list_contains(tags, 'dredge'), \
            output_fields.\"fd.name\", output_fields.\"user.name\", user_name, \
            proc_ancestors[1], container_id, evt_type, block is not null, \
            epoch_ns(output_fields.\"evt.time\") = epoch_ns(time) \
            from '{file}' where rule <> 'Mount in a container' order by event"
        ),
    );
    assert_eq!(
        rows,
        [
            "Shell spawned by a non-shell program in a container|Warning|6|True|None|www-data|www-\
            data|httpd|b199b3b57988|execve|True|True",
            "Sensitive file opened|Warning|5|True|/etc/shadow|www-data|www-data|httpd|b199b3b57988|\
            open|True|True",
            "Write below binary directory|Error|5|True|/usr/bin/.cache|www-data|www-data|httpd|b199\
            b3b57988|openat|True|True",
        ]
    );
    let tags = duckdb(&python, &format!("select distinct unnest(tags) t from '{file}' order by t"));
    assert!(tags.contains(&"credentials".to_string()), "{tags:?}");

    // The schema version is in the file's metadata.
    let meta = duckdb(
        &python,
        &format!(
            "select decode(value) from parquet_kv_metadata('{file}') \
            where decode(key) = 'dredge.schema'"
        ),
    );
    assert_eq!(meta, ["dredge.findings/1"]);
}

#[test]
fn unwritable_parquet_target_is_an_output_error() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let run = Command::new(env!("CARGO_BIN_EXE_dredge"))
        .args(["replay", "--parquet", "/nonexistent-dir/findings.parquet"])
        .arg(root.join("samples/synthetic-httpd.dcap"))
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(5));
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("/nonexistent-dir/findings.parquet: cannot write Parquet"), "{err}");
}

#[test]
fn exported_events_read_back_in_duckdb() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/synthetic-httpd.dcap");
    let dredge = |args: &[&str], out: &Path| {
        let run = Command::new(env!("CARGO_BIN_EXE_dredge"))
            .arg("export")
            .arg(&sample)
            .arg("--events")
            .arg(out)
            .args(args)
            .output()
            .unwrap();
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    };
    let print = |filter: &[&str]| -> Vec<String> {
        let run = Command::new(env!("CARGO_BIN_EXE_dredge"))
            .arg("print")
            .arg(&sample)
            .args(filter)
            .args(["-p", "*%evt.num %evt.type %proc.name %fd.name"])
            .output()
            .unwrap();
        String::from_utf8(run.stdout).unwrap().lines().map(str::to_string).collect()
    };
    let na = "coalesce(cast({} as varchar), '<NA>')";
    let columns = ["evt_num", "evt_type", "proc_name", "fd_name"]
        .map(|c| na.replace("{}", c))
        .join(" || ' ' || ");

    // Every event, and a filtered set: the same events, numbers and context as print shows.
    for filter in [&[][..], &["proc.name=sh", "and", "evt.dir=<"][..]] {
        let out = dir.path().join("events.parquet");
        dredge(filter, &out);
        let file = out.display().to_string();
        let rows = duckdb(&python, &format!("select {columns} from '{file}' order by evt_num"));
        assert_eq!(rows, print(filter), "filter {filter:?}");
    }

    // Lists, types and metadata.
    let file = dir.path().join("events.parquet").display().to_string();
    let types = duckdb(
        &python,
        &format!(
            "select typeof(time), typeof(proc_ancestors), typeof(fd_num), typeof(user_uid) \
            from '{file}' limit 1"
        ),
    );
    assert_eq!(types, ["TIMESTAMPTZ_NS|VARCHAR[]|BIGINT|UBIGINT"]);
    let last = duckdb(
        &python,
        &format!(
            "select proc_ancestors[1], fd_num, user_uid, block is not null from '{file}' \
            order by evt_num desc limit 1"
        ),
    );
    assert_eq!(last, ["httpd|6|33|True"]);
    let meta = duckdb(
        &python,
        &format!(
            "select decode(value) from parquet_kv_metadata('{file}') \
            where decode(key) = 'dredge.schema'"
        ),
    );
    assert_eq!(meta, ["dredge.events/1"]);
}

#[test]
fn spans_read_back_in_duckdb_with_their_arguments_and_parents() {
    let Some(python) = python() else { return };
    let Some(shared) = common::shared() else { return eprintln!("skipped: no shared data") };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("spans.parquet");
    let run = Command::new(env!("CARGO_BIN_EXE_dredge"))
        .args(["spans", "--summary", "--parquet"])
        .arg(&out)
        .arg(shared.join("tracer-fixtures/tracers_synth.scap"))
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let file = out.display().to_string();

    let types = duckdb(
        &python,
        &format!("select typeof(tags), typeof(enter_args), typeof(start) from '{file}' limit 1"),
    );
    assert_eq!(types, ["VARCHAR[]|STRUCT(\"name\" VARCHAR, \"value\" VARCHAR)[]|TIMESTAMPTZ_NS"]);

    // Every span of the fixture: 17 closed, the orphan open, the exit without an enter.
    let states =
        duckdb(&python, &format!("select state, count(*) from '{file}' group by 1 order by 1"));
    assert_eq!(states, ["closed|17", "no enter|1", "open|1"]);

    // The child: its parent is root's row, its arguments each side, 800 us.
    let child = duckdb(
        &python,
        &format!(
            "select p.path, c.tags[2], c.enter_args[2].value, c.exit_args[1].name, \
             c.duration_ns, c.proc_name, c.pid from '{file}' c join '{file}' p \
             on c.parent = p.span where c.path = 'root.child'"
        ),
    );
    assert_eq!(child, ["root|child|xyz|r|800000|bash|3200"]);
}
