//! Evaluation: libs' boolean-composition vectors over mock fields, and operator semantics
//! over a small in-memory event.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on purpose")]

mod common;

use common::shared;

use std::borrow::Cow;

use dredge_rules::compile::{Catalogue, FieldRef, FieldSpec, FieldType, compile};
use dredge_rules::eval::{Extracted, Fields, Val, eval};
use dredge_rules::parse_condition;

/// Mock fields: libs' `c.true`/`c.false` checks and two quoted strings, plus a few real
/// names for operator tests.
struct Mock;

const FIELDS: [(&str, FieldType, bool, bool); 9] = [
    ("c.true", FieldType::Uint, false, false),
    ("c.false", FieldType::Uint, false, false),
    ("c.singlequote", FieldType::Str, false, false),
    ("c.doublequote", FieldType::Str, false, false),
    ("proc.name", FieldType::Str, false, false),
    ("proc.aname", FieldType::Str, false, true),
    ("proc.args", FieldType::Str, true, false),
    ("fd.sip", FieldType::Ip, false, false),
    ("fd.num", FieldType::Int, false, false),
];

impl Catalogue for Mock {
    fn field(&self, name: &str, _arg: Option<&str>) -> Result<FieldSpec, String> {
        let (i, f) = FIELDS
            .iter()
            .enumerate()
            .find(|(_, f)| f.0 == name)
            .ok_or_else(|| format!("filter_check called with nonexistent field {name}"))?;
        Ok(FieldSpec {
            id: i as u32,
            ty: f.1,
            list: f.2,
            any_of: f.3,
            no_rhs: false,
            no_transformer: false,
        })
    }
}

impl Fields for Mock {
    fn extract(&self, field: &FieldRef) -> Extracted<'_> {
        let s = |t: &'static str| Val::Bytes(Cow::Borrowed(t.as_bytes()));
        match field.name.as_str() {
            "c.true" => Extracted::One(Val::Uint(1)),
            "c.false" => Extracted::One(Val::Uint(0)),
            "c.singlequote" => Extracted::One(s("hello 'quoted'")),
            "c.doublequote" => Extracted::One(s("hello \"quoted\"")),
            "proc.name" => Extracted::One(s("bash")),
            "proc.aname" => Extracted::Many(vec![s("sshd"), s("systemd")]),
            "proc.args" => Extracted::Many(vec![s("-c"), s("id")]),
            "fd.sip" => Extracted::One(Val::Ip("10.0.0.7".parse().unwrap())),
            _ => Extracted::Missing,
        }
    }
}

fn run(condition: &str) -> bool {
    let expr = parse_condition(condition).unwrap_or_else(|e| panic!("{condition}: {e}"));
    let filter = compile(&expr, &Mock).unwrap_or_else(|e| panic!("{condition}: {e}"));
    eval(&filter, &Mock)
}

#[test]
fn libs_boolean_vectors() {
    let Some(shared) = shared() else {
        std::io::Write::write_all(&mut std::io::stderr(), b"skipped: no shared data\n").ok();
        return;
    };
    let path = shared.join("falco-rules-data/extracted-test-cases/libs_boolean_eval_cases.json");
    let cases: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let cases = cases.as_array().unwrap();
    assert_eq!(cases.len(), 40);
    for case in cases {
        let filter = case["filter"].as_str().unwrap();
        assert_eq!(run(filter), case["expected"].as_bool().unwrap(), "{filter}");
    }
}

#[test]
fn operators_on_an_event() {
    for (cond, want) in [
        ("proc.name = bash", true),
        ("proc.name != bash", false),
        ("proc.name in (sh, bash)", true),
        ("proc.name startswith ba and proc.name endswith sh", true),
        ("proc.name icontains BAS", true),
        ("proc.name glob 'b*'", true),
        ("proc.name regex 'ba.h'", true),
        ("proc.name regex 'ba'", false),
        ("proc.name startswith oneof (b, ba)", false),
        ("proc.name startswith anyof (b, x)", true),
        ("proc.name startswith allof (b, ba)", true),
        ("proc.name contains anyof (zz, as)", true),
        ("proc.name icontains anyof (zz, AS)", true),
        ("proc.name contains anyof (zz, yy)", false),
        ("proc.aname = systemd", true),
        ("proc.aname != sshd", true),
        ("proc.args in (-c, id, -x)", true),
        ("proc.args in (-c)", false),
        ("proc.args intersects (id)", true),
        ("fd.sip = 10.0.0.7", true),
        ("fd.sip in (10.0.0.8, 10.0.0.7)", true),
        ("fd.num = 3", false),
        ("fd.num != 3", false),
        ("not fd.num = 3", true),
        ("fd.num exists", false),
        ("proc.name exists", true),
        ("tolower(proc.name) = bash", true),
        ("toupper(proc.name) = BASH", true),
        ("proc.name = val(proc.name)", true),
        ("toupper(tolower(proc.name)) = BASH", true),
        ("concat(proc.name, \"-x\") = bash-x", true),
        ("join(\"+\", (proc.name, proc.args)) = bash+-c+id", true),
        ("getopt(proc.args, \"c:\")[c] = id", true),
        ("getopt(proc.args, \"c:x\")[x] exists", false),
        ("concat(proc.name, fd.num) = x", false),
    ] {
        assert_eq!(run(cond), want, "{cond}");
    }
}

#[test]
fn compile_errors_say_what_falco_says() {
    for (cond, msg) in [
        ("proc.nobody = x", "filter_check called with nonexistent field proc.nobody"),
        ("fd.num = 0x10", "0x10 is not a valid number"),
        ("proc.name regex '('", "invalid regex pattern"),
        ("fd.num contains 1", "'contains' operator not supported for numeric filters"),
        ("proc.name = val(fd.num)", "incompatible type"),
    ] {
        let expr = parse_condition(cond).unwrap();
        let err = compile(&expr, &Mock).unwrap_err();
        assert!(err.message.contains(msg), "{cond}: {err}");
    }
}
