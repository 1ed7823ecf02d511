//! Loading rules files into a ruleset ready to evaluate, as `falco -r` does.
//!
//! Files load in order into one collection; after each file the whole collection is expanded
//! and compiled again (Falco's way: later files change earlier items), and loading stops at
//! the first file with an error. Each rule's filter is indexed by the event types it can
//! match, in definition order, which is also the order rules are tried in.

use std::collections::HashMap;

use crate::catalogue::fields;
use crate::collect::{Collection, FileResult, OneOrMany, Priority, RuleDef};
use crate::compile::{Filter, compile};
use crate::evttype::{CodeSet, MAX_CODE, codes, tested_codes};
use crate::expand::expand;
use crate::message::{Code, Location, Message, snippet};
use crate::output::{Piece, parse_format};

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub def: RuleDef,
    pub filter: Filter,
    pub output: Vec<Piece>,
    /// The event codes it is tested on ([`tested_codes`]).
    pub codes: CodeSet,
    /// Selected to run (the rule's `enabled`, then the selection options).
    pub enabled: bool,
}

/// Rules ready to run, indexed by event type.
#[derive(Debug, Clone, Default)]
pub struct Ruleset {
    pub rules: Vec<Rule>,
    by_code: Vec<Vec<u32>>,
}

/// What loading gave: the ruleset (of the files up to the first error) and, per file, its
/// errors and warnings.
#[derive(Debug, Default)]
pub struct Loaded {
    pub ruleset: Ruleset,
    pub files: Vec<FileResult>,
    pub collection: Collection,
}

impl Loaded {
    pub fn ok(&self) -> bool {
        self.files.iter().all(FileResult::ok)
    }
}

/// Loads `(name, text)` files in order.
pub fn load(files: &[(String, String)]) -> Loaded {
    let mut loaded = Loaded::default();
    let mut texts = HashMap::new();
    // The whole collection is compiled again after each file: a warning about an earlier
    // file's rule is that file's, reported once.
    let mut warned = std::collections::HashSet::new();
    for (name, text) in files {
        texts.insert(name.clone(), text.clone());
        let mut result = loaded.collection.load(name, text);
        if result.ok() {
            let (ruleset, errors, warnings) = build(&loaded.collection, &texts);
            result.errors.extend(errors);
            result.warnings.extend(warnings.into_iter().filter(|w| warned.insert(w.to_string())));
            if result.ok() {
                loaded.ruleset = ruleset;
            }
        }
        let stop = !result.ok();
        loaded.files.push(result);
        if stop {
            break;
        }
    }
    loaded
}

fn rule_message(texts: &HashMap<String, String>, r: &RuleDef, code: Code, text: String) -> Message {
    let source = texts.get(&r.file).map_or("", String::as_str);
    let loc =
        Location { item_type: "rule", item_name: r.name.clone(), file: r.file.clone(), pos: r.pos };
    Message { code, text, locations: vec![loc], snippet: snippet(source, r.pos) }
}

/// Expands and compiles the whole collection.
fn build(c: &Collection, texts: &HashMap<String, String>) -> (Ruleset, Vec<Message>, Vec<Message>) {
    if let Some(e) = exception_fields(c, texts) {
        return (Ruleset::default(), vec![e], Vec::new());
    }
    let ex = expand(c, texts);
    let mut warnings = ex.warnings;
    if !ex.errors.is_empty() {
        return (Ruleset::default(), ex.errors, warnings);
    }
    let mut rules = Vec::new();
    for er in ex.rules {
        let r = &er.def;
        // Under `skip-if-unknown-filter` an unknown field drops the rule with a warning.
        let compiled = compile(&er.condition, fields())
            .map_err(|e| (e.unknown, Code::ErrCompileCondition, e.message))
            .and_then(|f| {
                let out = parse_format(&r.output, fields());
                out.map(|o| (f, o)).map_err(|e| (true, Code::ErrCompileOutput, e))
            });
        let (filter, output) = match compiled {
            Ok(pair) => pair,
            Err((unknown, _, text)) if unknown && r.skip_if_unknown_filter => {
                let text = format!("{text} (rule skipped)");
                warnings.push(rule_message(texts, r, Code::UnknownFilter, text));
                continue;
            }
            Err((_, code, text)) => {
                let error = rule_message(texts, r, code, text);
                return (Ruleset::default(), vec![error], warnings);
            }
        };
        for (text, deprecated) in crate::lint::condition(&er.condition) {
            let code = if deprecated { Code::DeprecatedItem } else { Code::CompileCondition };
            warnings.push(rule_message(texts, r, code, text));
        }
        for text in crate::lint::output(&output) {
            warnings.push(rule_message(texts, r, Code::DeprecatedItem, text));
        }
        if r.warn_evttypes && codes(&filter).len() > 100 {
            warnings.push(rule_message(
                texts,
                r,
                Code::NoEvttype,
                "Rule matches too many evt.type values. \
                This has a significant performance penalty."
                    .into(),
            ));
        }
        let enabled = r.enabled;
        let codes = tested_codes(&filter);
        rules.push(Rule { def: er.def, filter, output, codes, enabled });
    }
    let mut set = Ruleset { rules, by_code: Vec::new() };
    set.reindex();
    (set, Vec::new(), warnings)
}

/// Checks that every exception names fields (or transformers of fields) that exist.
fn exception_fields(c: &Collection, texts: &HashMap<String, String>) -> Option<Message> {
    // Fields of other event sources are not ours to check: those rules are skipped anyway.
    let ours = c.rules.iter().filter(|r| crate::expand::KNOWN_SOURCES.contains(&r.source.as_str()));
    for r in ours {
        for e in &r.exceptions {
            let names: Vec<&String> = match &e.fields {
                OneOrMany::One(f) => vec![f],
                OneOrMany::Many(v) => v.iter().collect(),
            };
            for f in names {
                let valid = crate::parse_condition(&format!("{f} exists"))
                    .ok()
                    .is_some_and(|expr| compile(&expr, fields()).is_ok());
                if !valid {
                    let source = texts.get(&r.file).map_or("", String::as_str);
                    let loc = Location {
                        item_type: "exception",
                        item_name: e.name.clone(),
                        file: r.file.clone(),
                        pos: e.pos,
                    };
                    let text = format!("'{f}' is not a supported filter field");
                    return Some(Message {
                        code: Code::ErrValidate,
                        text,
                        locations: vec![loc],
                        snippet: snippet(source, e.pos),
                    });
                }
            }
        }
    }
    None
}

/// Which rules run: Falco's `priority`, `-t`/`-T` (enable/disable by tag) and `-D`.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Rules less severe than this do not run.
    pub min_priority: Option<Priority>,
    /// When not empty, only rules with one of these tags run.
    pub enable_tags: Vec<String>,
    pub disable_tags: Vec<String>,
    /// Names or `*` wildcards.
    pub disable_rules: Vec<String>,
}

/// `*` matches any run of characters; everything else is literal.
pub fn wildcard(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let [first, middle @ .., last] = parts.as_slice() else { return pattern == name };
    if name.len() < first.len() + last.len() || !name.starts_with(first) || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

impl Ruleset {
    fn reindex(&mut self) {
        self.by_code = vec![Vec::new(); MAX_CODE];
        for (i, r) in self.rules.iter().enumerate().filter(|(_, r)| r.enabled) {
            for code in r.codes.iter() {
                self.by_code[usize::from(code)].push(i as u32);
            }
        }
    }

    /// Appends `text` (format tokens allowed) to every rule's output, as Falco's
    /// `append_output` does; `container_id=%container.id container_name=%container.name` is
    /// what current Falco appends by default.
    pub fn append_to_outputs(&mut self, text: &str) -> Result<(), String> {
        let extra = parse_format(&format!(" {text}"), fields())?;
        for r in &mut self.rules {
            r.output.extend(extra.iter().cloned());
        }
        Ok(())
    }

    /// Applies a selection on top of each rule's own `enabled`.
    pub fn select(&mut self, s: &Selection) {
        for r in &mut self.rules {
            let d = &r.def;
            let mut on = d.enabled;
            if let Some(p) = s.min_priority {
                on &= d.priority <= p;
            }
            if !s.enable_tags.is_empty() {
                on &= d.tags.iter().any(|t| s.enable_tags.contains(t));
            }
            on &= !d.tags.iter().any(|t| s.disable_tags.contains(t));
            on &= !s.disable_rules.iter().any(|p| wildcard(p, &d.name));
            r.enabled = on;
        }
        self.reindex();
    }

    /// Indexes (into `rules`) of the enabled rules that can match events of `code`, in order.
    pub fn candidates(&self, code: u16) -> &[u32] {
        self.by_code.get(usize::from(code)).map_or(&[], Vec::as_slice)
    }

    /// The enabled rules whose condition holds for an event of `code`, in rule order.
    /// `rule_matching: first` is `.next()`.
    pub fn matches<'r>(
        &'r self,
        code: u16,
        fields: &'r dyn crate::eval::Fields,
    ) -> impl Iterator<Item = &'r Rule> + 'r {
        self.candidates(code)
            .iter()
            .map(|&i| &self.rules[i as usize])
            .filter(move |r| crate::eval::eval(&r.filter, fields))
    }

    pub fn enabled(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter().filter(|r| r.enabled)
    }
}
