//! Alerts in Falco's exact text and JSON forms: the regression fixtures of `cat_write.scap`
//! (the text with `single_rule.yaml`; the JSON, whose alerts carry tags, with
//! `single_rule_with_tags.yaml`, as the testing repo's `StdoutOutputJsonStrict` loads it),
//! rendered from the rule and each alert's time.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on purpose")]

mod common;

use common::shared;

use std::borrow::Cow;

use dredge_rules::alert::{AlertFormat, json_alert, text_alert};
use dredge_rules::compile::FieldRef;
use dredge_rules::eval::{Extracted, Fields, Val};
use dredge_rules::ruleset::load;

struct Cat;

impl Fields for Cat {
    fn extract(&self, f: &FieldRef) -> Extracted<'_> {
        match f.name.as_str() {
            "proc.cmdline" => Extracted::One(Val::Bytes(Cow::Borrowed(b"cat /dev/null"))),
            _ => Extracted::Missing,
        }
    }
}

/// `2016-08-04T16:17:57.881781397...` to ns since the epoch (this date only: the fixture's).
fn ns(iso: &str) -> u64 {
    let day_start: u64 = 1_470_268_800; // 2016-08-04T00:00:00Z
    let h: u64 = iso[11..13].parse().unwrap();
    let m: u64 = iso[14..16].parse().unwrap();
    let s: u64 = iso[17..19].parse().unwrap();
    let frac: u64 = iso[20..29].parse().unwrap();
    (day_start + h * 3600 + m * 60 + s) * 1_000_000_000 + frac
}

#[test]
fn cat_write_alerts_match_falcos_lines_exactly() {
    let Some(shared) = shared() else {
        std::io::Write::write_all(&mut std::io::stderr(), b"skipped: no shared data\n").ok();
        return;
    };
    let dir = shared.join("captures/falco_test_rules");
    let rule = |file: &str| {
        let rules = std::fs::read_to_string(dir.join(file)).unwrap();
        let loaded = load(&[(file.into(), rules)]);
        assert!(loaded.ok());
        loaded.ruleset.rules.into_iter().find(|r| r.def.name == "open_from_cat").unwrap()
    };
    let (plain, tagged) = (rule("single_rule.yaml"), rule("single_rule_with_tags.yaml"));
    let format = AlertFormat {
        hostname: "test-falco-hostname".into(),
        iso8601: true,
        ..AlertFormat::default()
    };

    let text = std::fs::read_to_string(dir.join("single_rule_with_cat_write.txt")).unwrap();
    let json = std::fs::read_to_string(dir.join("single_rule_with_cat_write.json")).unwrap();
    assert_eq!(text.lines().count(), 8);
    for (t, j) in text.lines().zip(json.lines()) {
        let ts = ns(t);
        assert_eq!(text_alert(&plain, ts, &Cat, &format), t);
        assert_eq!(json_alert(&tagged, ts, &Cat, &format), j);
    }
}
