//! Phase one of loading: collecting lists, macros and rules from rules files.
//!
//! Items are read in file order and merged as Falco merges them: a redefinition replaces an
//! item but keeps its position, `append` and `override` extend or replace parts of an existing
//! item, and every definition gets an index from one counter shared by lists, macros and rules
//! plus a visibility (the counter at its latest change), which decides which macros a macro may
//! use. Loading a file stops at its first error; warnings accumulate. Conditions stay text
//! here: lists are substituted and conditions parsed when the collection is compiled.

use std::collections::BTreeSet;

use crate::message::{Code, Location, Message, snippet};
use crate::yaml::{self, Kind, Node, Pos};

/// The engine version dredge implements (Falco's rules engine numbering).
pub const ENGINE_VERSION: (u64, u64, u64) = (0, 63, 0);

/// Rule priorities, most severe first (Falco's order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    Emergency,
    Alert,
    Critical,
    Error,
    Warning,
    Notice,
    Informational,
    Debug,
}

impl Priority {
    pub fn parse(s: &str) -> Option<Priority> {
        Some(match s.to_ascii_lowercase().as_str() {
            "emergency" => Priority::Emergency,
            "alert" => Priority::Alert,
            "critical" => Priority::Critical,
            "error" => Priority::Error,
            "warning" => Priority::Warning,
            "notice" => Priority::Notice,
            "informational" | "info" => Priority::Informational,
            "debug" => Priority::Debug,
            _ => return None,
        })
    }

    /// The name Falco prints in alerts (`Warning`, `Informational`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Priority::Emergency => "Emergency",
            Priority::Alert => "Alert",
            Priority::Critical => "Critical",
            Priority::Error => "Error",
            Priority::Warning => "Warning",
            Priority::Notice => "Notice",
            Priority::Informational => "Informational",
            Priority::Debug => "Debug",
        }
    }
}

/// A list as collected.
#[derive(Debug, Clone)]
pub struct ListDef {
    pub name: String,
    pub items: Vec<String>,
    pub index: usize,
    pub visibility: usize,
    pub file: String,
    pub pos: Pos,
}

/// A macro as collected.
#[derive(Debug, Clone)]
pub struct MacroDef {
    pub name: String,
    pub condition: String,
    pub index: usize,
    pub visibility: usize,
    pub file: String,
    pub pos: Pos,
    pub condition_pos: Pos,
}

/// One element of an exception values tuple: a value or a list of values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExceptionValue {
    Scalar(String),
    List(Vec<String>),
}

/// `fields`/`comps` of an exception: the list form or the single-field form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn len(&self) -> usize {
        match self {
            OneOrMany::One(_) => 1,
            OneOrMany::Many(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Debug, Clone)]
pub struct ExceptionDef {
    pub name: String,
    pub fields: OneOrMany,
    pub comps: OneOrMany,
    /// Tuples (list form) or single values (single form, each a one-element tuple).
    pub values: Vec<Vec<ExceptionValue>>,
    pub pos: Pos,
}

/// A rule as collected.
#[derive(Debug, Clone)]
pub struct RuleDef {
    pub name: String,
    pub condition: String,
    pub output: String,
    pub desc: String,
    pub priority: Priority,
    pub source: String,
    pub enabled: bool,
    pub tags: BTreeSet<String>,
    pub exceptions: Vec<ExceptionDef>,
    pub warn_evttypes: bool,
    pub skip_if_unknown_filter: bool,
    pub capture: bool,
    pub capture_duration: u32,
    pub index: usize,
    pub visibility: usize,
    pub file: String,
    pub pos: Pos,
    pub condition_pos: Pos,
}

/// A plugin a rules file requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginRequirement {
    pub name: String,
    pub version: String,
    pub alternatives: Vec<(String, String)>,
}

/// Everything collected so far, over all files loaded in order.
#[derive(Debug, Default, Clone)]
pub struct Collection {
    pub lists: Vec<ListDef>,
    pub macros: Vec<MacroDef>,
    pub rules: Vec<RuleDef>,
    counter: usize,
    /// The highest `required_engine_version` seen.
    pub required_engine_version: Option<(u64, u64, u64)>,
    pub plugin_requirements: Vec<PluginRequirement>,
}

/// Messages from loading one file.
#[derive(Debug, Default, Clone)]
pub struct FileResult {
    pub file: String,
    pub errors: Vec<Message>,
    pub warnings: Vec<Message>,
}

impl FileResult {
    pub fn ok(&self) -> bool {
        self.errors.is_empty()
    }
}

/// A loading failure, carried up to the file's result.
struct Fail(Message);

/// Where we are in a file: the context stack every message gets.
struct Ctx<'t> {
    file: String,
    text: &'t str,
    stack: Vec<Location>,
    warnings: Vec<Message>,
}

impl Ctx<'_> {
    fn message(&self, code: Code, text: impl Into<String>, pos: Option<Pos>) -> Message {
        let mut locations = self.stack.clone();
        if let (Some(pos), Some(last)) = (pos, locations.last_mut()) {
            last.pos = pos;
        }
        let at = locations.last().map_or(Pos::default(), |l| l.pos);
        Message { code, text: text.into(), locations, snippet: snippet(self.text, at) }
    }

    fn fail(&self, code: Code, text: impl Into<String>) -> Fail {
        Fail(self.message(code, text, None))
    }

    fn warn(&mut self, code: Code, text: impl Into<String>) {
        let m = self.message(code, text, None);
        self.warnings.push(m);
    }

    fn push(&mut self, item_type: &'static str, item_name: &str, pos: Pos) {
        let file = self.file.clone();
        self.stack.push(Location { item_type, item_name: item_name.to_string(), file, pos });
    }

    fn pop(&mut self) {
        self.stack.pop();
    }

    fn rename(&mut self, name: &str) {
        if let Some(l) = self.stack.last_mut() {
            l.item_name = name.to_string();
        }
    }
}

/// yaml-cpp's boolean spellings.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "true" | "True" | "TRUE" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "y" | "Y" => {
            Some(true)
        }
        "false" | "False" | "FALSE" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "n" | "N" => {
            Some(false)
        }
        _ => None,
    }
}

/// A semver `x.y.z`, or a bare integer N meaning `0.N.0`.
pub fn parse_version(s: &str) -> Option<(u64, u64, u64)> {
    if let Ok(n) = s.parse::<u64>() {
        return Some((0, n, 0));
    }
    let core = s.split(['-', '+']).next()?;
    let mut parts = core.split('.');
    let v = (parts.next()?.parse().ok()?, parts.next()?.parse().ok()?, parts.next()?.parse().ok()?);
    parts.next().is_none().then_some(v)
}

fn version_text(v: (u64, u64, u64)) -> String {
    format!("{}.{}.{}", v.0, v.1, v.2)
}

const APPEND_DEPRECATED: &str = "The 'append' key is deprecated. Add an 'append' entry (e.g. \
'condition: append') under 'override' instead.";

const LIST_KEYS: [&str; 4] = ["list", "items", "append", "override"];
const MACRO_KEYS: [&str; 4] = ["macro", "condition", "append", "override"];
const RULE_KEYS: [&str; 16] = [
    "rule",
    "condition",
    "output",
    "desc",
    "priority",
    "source",
    "enabled",
    "tags",
    "exceptions",
    "warn_evttypes",
    "skip-if-unknown-filter",
    "capture",
    "capture_duration",
    "append",
    "override",
    "required_engine_version",
];
/// Rule keys that `override` may name.
const OVERRIDABLE: [&str; 11] = [
    "condition",
    "output",
    "desc",
    "priority",
    "enabled",
    "tags",
    "exceptions",
    "warn_evttypes",
    "skip-if-unknown-filter",
    "capture",
    "capture_duration",
];
const APPENDABLE: [&str; 5] = ["condition", "output", "desc", "tags", "exceptions"];

/// Comparison operators an exception may use.
const COMPS: [&str; 20] = [
    "exists",
    "<=",
    "<",
    ">=",
    ">",
    "==",
    "=",
    "!=",
    "glob",
    "iglob",
    "contains",
    "icontains",
    "bcontains",
    "startswith",
    "bstartswith",
    "endswith",
    "regex",
    "intersects",
    "in",
    "pmatch",
];
const MODIFIER_BASES: [&str; 13] = [
    "==",
    "=",
    "!=",
    "glob",
    "iglob",
    "contains",
    "icontains",
    "bcontains",
    "startswith",
    "bstartswith",
    "endswith",
    "regex",
    "exists",
];

fn is_modifier_comp(c: &str) -> bool {
    let mut words = c.split_whitespace();
    match (words.next(), words.next(), words.next()) {
        (Some(base), Some(m), None) => {
            MODIFIER_BASES[..12].contains(&base) && matches!(m, "oneof" | "anyof" | "allof")
        }
        _ => false,
    }
}

fn valid_comp(c: &str) -> bool {
    COMPS.contains(&c) || is_modifier_comp(c)
}

fn is_list_comp(c: &str) -> bool {
    matches!(c, "in" | "intersects" | "pmatch") || is_modifier_comp(c)
}

impl Collection {
    pub fn new() -> Collection {
        Collection::default()
    }

    fn next_index(&mut self) -> usize {
        self.counter += 1;
        self.counter
    }

    /// Reads one rules file into the collection. Items before the first error are kept, as
    /// Falco keeps them.
    pub fn load(&mut self, file: &str, text: &str) -> FileResult {
        let mut ctx = Ctx { file: file.to_string(), text, stack: Vec::new(), warnings: Vec::new() };
        ctx.push("rules content", "", Pos { offset: 0, line: 1, column: 1 });
        let outcome = self.load_docs(&mut ctx);
        let mut result =
            FileResult { file: file.to_string(), errors: Vec::new(), warnings: ctx.warnings };
        if let Err(Fail(m)) = outcome {
            result.errors.push(m);
        }
        result
    }

    fn load_docs(&mut self, ctx: &mut Ctx<'_>) -> Result<(), Fail> {
        let docs = match yaml::parse(ctx.text) {
            Ok(d) => d,
            Err(e) => {
                let text = format!(
                    "yaml error at line {}, column {}: {}",
                    e.pos.line,
                    e.pos.column,
                    yaml_cpp_words(&e.message)
                );
                return Err(Fail(ctx.message(Code::ErrYamlParse, text, Some(e.pos))));
            }
        };
        for doc in docs {
            match &doc.kind {
                Kind::Null => continue,
                Kind::Scalar { .. } => {
                    return Err(ctx.fail(Code::ErrYamlValidate, "Rules content is not yaml"));
                }
                Kind::Map(_) => {
                    return Err(ctx.fail(
                        Code::ErrYamlValidate,
                        "Rules content is not yaml array of objects",
                    ));
                }
                Kind::Seq(items) => {
                    for item in items {
                        if item.is_null() {
                            continue;
                        }
                        ctx.push("rules content item", "", item.pos);
                        if !matches!(item.kind, Kind::Map(_)) {
                            return Err(ctx.fail(
                                Code::ErrYamlValidate,
                                "Unexpected element type. Each element should be a yaml \
                                associative array.",
                            ));
                        }
                        self.load_item(ctx, item)?;
                        ctx.pop();
                    }
                }
            }
        }
        Ok(())
    }

    fn load_item(&mut self, ctx: &mut Ctx<'_>, item: &Node) -> Result<(), Fail> {
        if item.get("required_engine_version").is_some() {
            ctx.push("required_engine_version", "", item.pos);
            self.engine_version(ctx, item)?;
        } else if item.get("required_plugin_versions").is_some() {
            ctx.push("required plugin versions", "", item.pos);
            self.plugin_versions(ctx, item)?;
        } else if item.get("list").is_some() {
            ctx.push("list", "", item.pos);
            self.list(ctx, item)?;
        } else if item.get("macro").is_some() {
            ctx.push("macro", "", item.pos);
            self.macro_(ctx, item)?;
        } else if item.get("rule").is_some() {
            ctx.push("rule", "", item.pos);
            self.rule(ctx, item)?;
        } else {
            ctx.warn(Code::UnknownItem, "Unknown top level item");
            return Ok(());
        }
        ctx.pop();
        Ok(())
    }

    fn engine_version(&mut self, ctx: &mut Ctx<'_>, item: &Node) -> Result<(), Fail> {
        let text = scalar(ctx, item, "required_engine_version")?;
        let Some(v) = parse_version(&text) else {
            return Err(ctx.fail(
                Code::ErrYamlValidate,
                format!(
                    "Unable to parse engine version '{text}' as a semver string. Expected \
                    \\\"x.y.z\\\" semver format."
                ),
            ));
        };
        unknown_keys(ctx, item, &["required_engine_version"]);
        if v.0 != ENGINE_VERSION.0 || v > ENGINE_VERSION {
            return Err(ctx.fail(
                Code::ErrValidate,
                format!(
                    "Rules require engine version {}, but engine version is {}",
                    version_text(v),
                    version_text(ENGINE_VERSION)
                ),
            ));
        }
        self.required_engine_version = self.required_engine_version.max(Some(v));
        Ok(())
    }

    fn plugin_versions(&mut self, ctx: &mut Ctx<'_>, item: &Node) -> Result<(), Fail> {
        let Some(list) = item.get("required_plugin_versions") else { return Ok(()) };
        let Kind::Seq(entries) = &list.kind else {
            return Err(ctx.fail(Code::ErrYamlValidate, "Value is not a sequence"));
        };
        for e in entries {
            ctx.push("required plugin versions entry", "", e.pos);
            let name = scalar(ctx, e, "name")?;
            ctx.rename(&name);
            let version = scalar(ctx, e, "version")?;
            if parse_version(&version).is_none() {
                return Err(ctx.fail(
                    Code::ErrYamlValidate,
                    format!("Invalid required version '{version}' for plugin '{name}'"),
                ));
            }
            let mut alternatives = Vec::new();
            if let Some(Node { kind: Kind::Seq(alts), .. }) = e.get("alternatives") {
                for a in alts {
                    ctx.push("required plugin versions alternative", "", a.pos);
                    let an = scalar(ctx, a, "name")?;
                    let av = scalar(ctx, a, "version")?;
                    if an == name || alternatives.iter().any(|(n, _): &(String, String)| *n == an) {
                        return Err(ctx.fail(
                            Code::ErrYamlValidate,
                            format!("found duplicate alternative '{an}' for plugin '{name}'"),
                        ));
                    }
                    alternatives.push((an, av));
                    ctx.pop();
                }
            }
            self.plugin_requirements.push(PluginRequirement { name, version, alternatives });
            ctx.pop();
        }
        Ok(())
    }

    fn list(&mut self, ctx: &mut Ctx<'_>, item: &Node) -> Result<(), Fail> {
        let name = scalar(ctx, item, "list")?;
        ctx.rename(&name);
        let items_node = item.get("items").ok_or_else(|| {
            ctx.fail(Code::ErrYamlValidate, "Item has no mapping for key 'items'")
        })?;
        let items = match &items_node.kind {
            Kind::Seq(v) => {
                let mut out = Vec::new();
                for n in v {
                    match &n.kind {
                        Kind::Scalar { text, .. } => out.push(text.clone()),
                        Kind::Null => out.push(String::new()),
                        _ => {
                            return Err(
                                ctx.fail(Code::ErrYamlValidate, "sequence value is not scalar")
                            );
                        }
                    }
                }
                out
            }
            Kind::Null => Vec::new(),
            _ => return Err(ctx.fail(Code::ErrYamlValidate, "Value is not a sequence")),
        };
        unknown_keys(ctx, item, &LIST_KEYS);
        if !valid_list_name(&name) {
            ctx.warn(
                Code::InvalidListName,
                format!(
                    "List has an invalid name. List names should \
                    match a regular expression: {LIST_NAME_RE}"
                ),
            );
        }
        let append = self.append_mode(ctx, item, "items")?;
        let existing = self.lists.iter().position(|l| l.name == name);
        let visibility = self.next_index();
        match (append, existing) {
            (true, None) => Err(ctx.fail(
                Code::ErrValidate,
                "List uses 'append' or 'override.items: append' but no list by that name already \
                exists",
            )),
            (true, Some(i)) => {
                let l = &mut self.lists[i];
                l.items.extend(items);
                l.visibility = visibility;
                Ok(())
            }
            (false, Some(i)) => {
                let l = &mut self.lists[i];
                (l.items, l.visibility, l.pos, l.file) =
                    (items, visibility, item.pos, ctx.file.clone());
                Ok(())
            }
            (false, None) => {
                self.lists.push(ListDef {
                    name,
                    items,
                    index: visibility,
                    visibility,
                    file: ctx.file.clone(),
                    pos: item.pos,
                });
                Ok(())
            }
        }
    }

    fn macro_(&mut self, ctx: &mut Ctx<'_>, item: &Node) -> Result<(), Fail> {
        let name = scalar(ctx, item, "macro")?;
        ctx.rename(&name);
        let condition = scalar(ctx, item, "condition")?;
        let condition_pos = item.get("condition").map_or(item.pos, |n| n.pos);
        unknown_keys(ctx, item, &MACRO_KEYS);
        if !valid_macro_name(&name) {
            ctx.warn(
                Code::InvalidMacroName,
                "Macro has an invalid name. Macro names should match \
                a regular expression: ^[a-zA-Z]+[a-zA-Z0-9_]*$",
            );
        }
        let append = self.append_mode(ctx, item, "condition")?;
        let existing = self.macros.iter().position(|m| m.name == name);
        let visibility = self.next_index();
        match (append, existing) {
            (true, None) => Err(ctx.fail(
                Code::ErrValidate,
                "Macro uses 'append' or 'override.condition: append' but no macro by that name \
                already exists",
            )),
            (true, Some(i)) => {
                let m = &mut self.macros[i];
                m.condition = format!("{} {condition}", m.condition);
                m.visibility = visibility;
                Ok(())
            }
            (false, Some(i)) => {
                let m = &mut self.macros[i];
                (m.condition, m.visibility, m.pos, m.condition_pos) =
                    (condition, visibility, item.pos, condition_pos);
                m.file = ctx.file.clone();
                Ok(())
            }
            (false, None) => {
                let file = ctx.file.clone();
                self.macros.push(MacroDef {
                    name,
                    condition,
                    index: visibility,
                    visibility,
                    file,
                    pos: item.pos,
                    condition_pos,
                });
                Ok(())
            }
        }
    }

    /// For lists and macros: whether the item appends (`append: true` or
    /// `override: {KEY: append}`); checks the two are not combined.
    fn append_mode(&mut self, ctx: &mut Ctx<'_>, item: &Node, key: &str) -> Result<bool, Fail> {
        let append = opt_bool(ctx, item, "append")?.unwrap_or(false);
        if append {
            ctx.warn(Code::DeprecatedItem, APPEND_DEPRECATED);
        }
        let Some(ov) = item.get("override") else { return Ok(append) };
        if append {
            return Err(ctx.fail(
                Code::ErrYamlValidate,
                "Keys 'override' and 'append: true' cannot \
                be used together. Add an 'append' entry (e.g. 'condition: append') under \
                'override' instead.",
            ));
        }
        let op = ov.get(key).and_then(Node::as_str).unwrap_or("");
        match op {
            "append" => Ok(true),
            "replace" => Ok(false),
            other => Err(ctx.fail(
                Code::ErrYamlValidate,
                format!(
                    "Invalid override operation for \
                    key '{key}': '{other}'. Allowed values are: append replace"
                ),
            )),
        }
    }

    fn rule(&mut self, ctx: &mut Ctx<'_>, item: &Node) -> Result<(), Fail> {
        let name = scalar(ctx, item, "rule")?;
        ctx.rename(&name);
        unknown_keys(ctx, item, &RULE_KEYS);
        // An empty `source` counts as absent, as in Falco.
        let source = item.get("source").and_then(Node::as_str).filter(|s| !s.is_empty());
        let source = source.map(str::to_string);
        let existing = self.rules.iter().position(|r| r.name == name);
        if let (Some(src), Some(i)) = (&source, existing)
            && self.rules[i].source != *src
        {
            return Err(
                ctx.fail(Code::ErrValidate, "Rule has been re-defined with a different source")
            );
        }
        let append = opt_bool(ctx, item, "append")?.unwrap_or(false);
        if append {
            ctx.warn(Code::DeprecatedItem, APPEND_DEPRECATED);
        }
        if let Some(ov) = item.get("override") {
            if append {
                return Err(ctx.fail(
                    Code::ErrYamlValidate,
                    "Keys 'override' and 'append: true' \
                    cannot be used together. Add an 'append' entry (e.g. 'condition: append') \
                    under 'override' instead.",
                ));
            }
            return self.rule_override(ctx, item, ov, existing);
        }
        if append {
            let Some(i) = existing else {
                return Err(ctx.fail(
                    Code::ErrValidate,
                    "Rule uses 'append' or 'override.<key>: \
                    append' but no rule by that name already exists",
                ));
            };
            let has_cond = item.get("condition").is_some();
            let has_exc = item.get("exceptions").is_some();
            if !has_cond && !has_exc {
                return Err(ctx.fail(
                    Code::ErrValidate,
                    "Appended rule must have exceptions or condition property",
                ));
            }
            if has_cond {
                let c = scalar(ctx, item, "condition")?;
                let r = &mut self.rules[i];
                if !c.is_empty() {
                    r.condition = format!("{} {c}", r.condition);
                }
            }
            if has_exc {
                let exc = exceptions(ctx, item, true, &self.rules[i].exceptions)?;
                merge_exceptions(ctx, &mut self.rules[i].exceptions, exc, true)?;
            }
            self.rules[i].visibility = self.next_index();
            return Ok(());
        }
        let full =
            ["condition", "output", "desc", "priority"].iter().any(|k| item.get(k).is_some());
        if !full {
            let Some(enabled) = opt_bool(ctx, item, "enabled")? else {
                return Err(
                    ctx.fail(Code::ErrYamlValidate, "Item has no mapping for key 'condition'")
                );
            };
            let Some(i) = existing else {
                return Err(ctx.fail(
                    Code::ErrValidate,
                    "Rule has 'enabled' key but no rule by that name already exists",
                ));
            };
            ctx.warn(
                Code::DeprecatedItem,
                "The standalone 'enabled' key usage is deprecated. The correct approach requires \
                also a 'replace' entry under the 'override' key (i.e. 'enabled: replace').",
            );
            self.rules[i].enabled = enabled;
            return Ok(());
        }
        let condition = scalar(ctx, item, "condition")?;
        let output = scalar(ctx, item, "output")?.trim().to_string();
        let desc = scalar(ctx, item, "desc")?;
        let prio_text = scalar(ctx, item, "priority")?;
        let priority = Priority::parse(&prio_text)
            .ok_or_else(|| ctx.fail(Code::ErrYamlValidate, "Invalid priority"))?;
        let rule = RuleDef {
            name: name.clone(),
            condition,
            output,
            desc,
            priority,
            source: source.unwrap_or_else(|| "syscall".into()),
            enabled: opt_bool(ctx, item, "enabled")?.unwrap_or(true),
            tags: tags(ctx, item)?,
            exceptions: {
                let exc = exceptions(ctx, item, false, &[])?;
                let mut merged = Vec::new();
                merge_exceptions(ctx, &mut merged, exc, false)?;
                merged
            },
            warn_evttypes: opt_bool(ctx, item, "warn_evttypes")?.unwrap_or(true),
            skip_if_unknown_filter: opt_bool(ctx, item, "skip-if-unknown-filter")?.unwrap_or(false),
            capture: opt_bool(ctx, item, "capture")?.unwrap_or(false),
            capture_duration: opt_u32(ctx, item, "capture_duration")?.unwrap_or(0),
            index: 0,
            visibility: 0,
            file: ctx.file.clone(),
            pos: item.pos,
            condition_pos: item.get("condition").map_or(item.pos, |n| n.pos),
        };
        let visibility = self.next_index();
        match existing {
            Some(i) => {
                let index = self.rules[i].index;
                self.rules[i] = RuleDef { index, visibility, ..rule };
            }
            None => self.rules.push(RuleDef { index: visibility, visibility, ..rule }),
        }
        Ok(())
    }

    fn rule_override(
        &mut self,
        ctx: &mut Ctx<'_>,
        item: &Node,
        ov: &Node,
        existing: Option<usize>,
    ) -> Result<(), Fail> {
        let Kind::Map(entries) = &ov.kind else {
            return Err(ctx.fail(Code::ErrYamlValidate, "Value is not a map"));
        };
        let mut ops: Vec<(String, bool)> = Vec::new();
        for (k, v) in entries {
            let key = k.as_str().unwrap_or("").to_string();
            let op = v.as_str().unwrap_or("");
            let append = match op {
                "append" => true,
                "replace" => false,
                other => {
                    return Err(ctx.fail(
                        Code::ErrYamlValidate,
                        format!(
                            "Invalid override operation \
                            for key '{key}': '{other}'. Allowed values are: append replace"
                        ),
                    ));
                }
            };
            if append && !APPENDABLE.contains(&key.as_str()) {
                return Err(ctx.fail(
                    Code::ErrYamlValidate,
                    format!("Key '{key}' cannot be appended to, use 'replace' instead"),
                ));
            }
            if item.get(&key).is_none() {
                let kind = if append { "append" } else { "replace" };
                return Err(ctx.fail(
                    Code::ErrYamlValidate,
                    format!(
                        "An {kind} override for '{key}' was specified but '{key}' is not defined"
                    ),
                ));
            }
            ops.push((key, append));
        }
        for k in OVERRIDABLE {
            if item.get(k).is_some() && !ops.iter().any(|(o, _)| o == k) {
                return Err(ctx.fail(
                    Code::ErrYamlValidate,
                    format!(
                        "Unexpected key '{k}': no corresponding entry under 'override' is defined."
                    ),
                ));
            }
        }
        let Some(i) = existing else {
            // Falco names the key as a placeholder in both messages.
            let text = if ops[0].1 {
                "Rule uses 'append' or 'override.<key>: append' but no rule by that name already \
                exists"
            } else {
                "An 'override.<key>: replace' to a rule was requested but no rule by that name \
                already exists"
            };
            return Err(ctx.fail(Code::ErrValidate, text));
        };
        // Appends first, then replacements.
        for pass_append in [true, false] {
            for (key, append) in ops.iter().filter(|(_, a)| *a == pass_append) {
                self.apply(ctx, item, i, key, *append)?;
            }
        }
        self.rules[i].visibility = self.next_index();
        Ok(())
    }

    fn apply(
        &mut self,
        ctx: &mut Ctx<'_>,
        item: &Node,
        i: usize,
        key: &str,
        append: bool,
    ) -> Result<(), Fail> {
        let join = |old: &mut String, new: String| {
            if append {
                if !new.is_empty() {
                    *old = format!("{old} {new}");
                }
            } else {
                *old = new;
            }
        };
        match key {
            "condition" => {
                let v = scalar(ctx, item, key)?;
                join(&mut self.rules[i].condition, v);
            }
            "output" => {
                let v = scalar(ctx, item, key)?.trim().to_string();
                join(&mut self.rules[i].output, v);
            }
            "desc" => {
                let v = scalar(ctx, item, key)?;
                join(&mut self.rules[i].desc, v);
            }
            "priority" => {
                let t = scalar(ctx, item, key)?;
                self.rules[i].priority = Priority::parse(&t)
                    .ok_or_else(|| ctx.fail(Code::ErrYamlValidate, "Invalid priority"))?;
            }
            "tags" => {
                let t = tags(ctx, item)?;
                if append {
                    self.rules[i].tags.extend(t);
                } else {
                    self.rules[i].tags = t;
                }
            }
            "exceptions" => {
                let exc = exceptions(ctx, item, append, &self.rules[i].exceptions)?;
                if !append {
                    self.rules[i].exceptions.clear();
                }
                merge_exceptions(ctx, &mut self.rules[i].exceptions, exc, append)?;
            }
            "enabled" => self.rules[i].enabled = opt_bool(ctx, item, key)?.unwrap_or(true),
            "warn_evttypes" => {
                self.rules[i].warn_evttypes = opt_bool(ctx, item, key)?.unwrap_or(true)
            }
            "skip-if-unknown-filter" => {
                self.rules[i].skip_if_unknown_filter = opt_bool(ctx, item, key)?.unwrap_or(false)
            }
            "capture" => self.rules[i].capture = opt_bool(ctx, item, key)?.unwrap_or(false),
            "capture_duration" => {
                self.rules[i].capture_duration = opt_u32(ctx, item, key)?.unwrap_or(0)
            }
            _ => {}
        }
        Ok(())
    }
}

const LIST_NAME_RE: &str = "^[^()\"'[:space:]=,]+$";

fn valid_list_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| "()\"'=,".contains(c) || c.is_whitespace())
}

fn valid_macro_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// yaml-cpp's words for the commonest YAML syntax errors, so messages read as Falco's do.
fn yaml_cpp_words(message: &str) -> String {
    match message {
        "mapping values are not allowed in this context" => "illegal map value".into(),
        other => other.into(),
    }
}

/// A required scalar value.
fn scalar(ctx: &Ctx<'_>, item: &Node, key: &str) -> Result<String, Fail> {
    match item.get(key) {
        None => {
            Err(ctx.fail(Code::ErrYamlValidate, format!("Item has no mapping for key '{key}'")))
        }
        Some(Node { kind: Kind::Null, .. }) => {
            Err(ctx.fail(Code::ErrYamlValidate, format!("Mapping for key '{key}' is empty")))
        }
        Some(Node { kind: Kind::Scalar { text, .. }, pos }) => {
            if text.is_empty() {
                return Err(Fail(ctx.message(
                    Code::ErrYamlValidate,
                    format!("Mapping for key '{key}' is empty"),
                    Some(*pos),
                )));
            }
            Ok(text.clone())
        }
        Some(n) => Err(Fail(ctx.message(
            Code::ErrYamlValidate,
            "Value is not a scalar value",
            Some(n.pos),
        ))),
    }
}

fn opt_bool(ctx: &Ctx<'_>, item: &Node, key: &str) -> Result<Option<bool>, Fail> {
    match item.get(key) {
        None | Some(Node { kind: Kind::Null, .. }) => Ok(None),
        Some(n) => n.as_str().and_then(parse_bool).map(Some).ok_or_else(|| {
            Fail(ctx.message(Code::ErrYamlValidate, "Can't decode YAML scalar value", Some(n.pos)))
        }),
    }
}

fn opt_u32(ctx: &Ctx<'_>, item: &Node, key: &str) -> Result<Option<u32>, Fail> {
    match item.get(key) {
        None | Some(Node { kind: Kind::Null, .. }) => Ok(None),
        Some(n) => n.as_str().and_then(|s| s.parse().ok()).map(Some).ok_or_else(|| {
            Fail(ctx.message(Code::ErrYamlValidate, "Can't decode YAML scalar value", Some(n.pos)))
        }),
    }
}

fn strings(ctx: &Ctx<'_>, node: &Node) -> Result<Vec<String>, Fail> {
    match &node.kind {
        Kind::Seq(v) => v
            .iter()
            .map(|n| match &n.kind {
                Kind::Scalar { text, .. } => Ok(text.clone()),
                _ => Err(Fail(ctx.message(
                    Code::ErrYamlValidate,
                    "sequence value is not scalar",
                    Some(n.pos),
                ))),
            })
            .collect(),
        _ => {
            Err(Fail(ctx.message(Code::ErrYamlValidate, "Value is not a sequence", Some(node.pos))))
        }
    }
}

fn tags(ctx: &Ctx<'_>, item: &Node) -> Result<BTreeSet<String>, Fail> {
    match item.get("tags") {
        None | Some(Node { kind: Kind::Null, .. }) => Ok(BTreeSet::new()),
        Some(n) => Ok(strings(ctx, n)?.into_iter().collect()),
    }
}

fn unknown_keys(ctx: &mut Ctx<'_>, item: &Node, known: &[&str]) {
    if let Kind::Map(entries) = &item.kind {
        for (k, _) in entries {
            let key = k.as_str().unwrap_or("");
            if !known.contains(&key) {
                let m = ctx.message(
                    Code::UnknownKey,
                    format!("Unknown key '{key}'. The key will be ignored."),
                    Some(k.pos),
                );
                ctx.warnings.push(m);
            }
        }
    }
}

/// Reads a rule item's `exceptions`. `appending` relaxes what a known exception must carry.
fn exceptions(
    ctx: &mut Ctx<'_>,
    item: &Node,
    appending: bool,
    known: &[ExceptionDef],
) -> Result<Vec<ExceptionDef>, Fail> {
    let Some(list) = item.get("exceptions") else { return Ok(Vec::new()) };
    let entries = match &list.kind {
        Kind::Seq(v) => v.clone(),
        Kind::Null => Vec::new(),
        _ => return Err(ctx.fail(Code::ErrYamlValidate, "Value is not a sequence")),
    };
    ctx.push("exceptions", "", list.pos);
    let mut out = Vec::new();
    for e in &entries {
        ctx.push("exception", "", e.pos);
        let name = scalar(ctx, e, "name")?;
        ctx.rename(&name);
        let exists = appending && known.iter().any(|k| k.name == name);
        let fields = match e.get("fields") {
            None if exists => OneOrMany::Many(Vec::new()),
            None if appending => {
                return Err(ctx.fail(
                    Code::ErrValidate,
                    "Rule exception must have fields property with a list of fields",
                ));
            }
            None => {
                return Err(ctx.fail(Code::ErrYamlValidate, "Item has no mapping for key 'fields'"));
            }
            Some(_) if exists => {
                return Err(ctx.fail(
                    Code::ErrValidate,
                    "Can not append exception fields to existing exception, only values",
                ));
            }
            Some(Node { kind: Kind::Scalar { text, .. }, .. }) => OneOrMany::One(text.clone()),
            Some(n) => OneOrMany::Many(strings(ctx, n)?),
        };
        let comps = match e.get("comps") {
            Some(_) if exists => {
                return Err(ctx.fail(
                    Code::ErrValidate,
                    "Can not append exception comps to existing exception, only values",
                ));
            }
            None => match &fields {
                OneOrMany::One(_) => OneOrMany::One("in".into()),
                OneOrMany::Many(f) => OneOrMany::Many(vec!["=".into(); f.len()]),
            },
            Some(Node { kind: Kind::Scalar { text, .. }, .. }) => {
                OneOrMany::One(text.trim().to_string())
            }
            Some(n) => OneOrMany::Many(
                strings(ctx, n)?.into_iter().map(|c| c.trim().to_string()).collect(),
            ),
        };
        if !exists {
            match (&fields, &comps) {
                (OneOrMany::Many(f), OneOrMany::Many(c)) => {
                    if f.len() != c.len() {
                        return Err(ctx.fail(
                            Code::ErrValidate,
                            "Fields and comps lists must have equal length",
                        ));
                    }
                    if let Some(bad) = c.iter().find(|c| !valid_comp(c)) {
                        return Err(ctx.fail(
                            Code::ErrValidate,
                            format!("'{bad}' is not a supported comparison operator"),
                        ));
                    }
                }
                (OneOrMany::One(_), OneOrMany::One(c)) => {
                    if !is_list_comp(c) {
                        return Err(ctx.fail(
                            Code::ErrValidate,
                            "When fields is a single value, \
                            comps must be one of (in, pmatch, intersects) or a modifier operator \
                            (e.g. startswith oneof)",
                        ));
                    }
                }
                _ => {
                    return Err(
                        ctx.fail(Code::ErrValidate, "Fields and comps must both be strings")
                    );
                }
            }
        }
        let nfields = if exists {
            known.iter().find(|k| k.name == name).map_or(0, |k| k.fields.len())
        } else {
            fields.len()
        };
        let single = matches!(fields, OneOrMany::One(_))
            || (exists
                && known.iter().any(|k| k.name == name && matches!(k.fields, OneOrMany::One(_))));
        let values = match e.get("values") {
            None | Some(Node { kind: Kind::Null, .. }) => {
                if appending {
                    ctx.warn(Code::AppendNoValues, "Overriding/appending exception with no values");
                }
                Vec::new()
            }
            Some(n) => exception_values(ctx, n, single, nfields)?,
        };
        out.push(ExceptionDef { name, fields, comps, values, pos: e.pos });
        ctx.pop();
    }
    ctx.pop();
    Ok(out)
}

fn exception_values(
    ctx: &mut Ctx<'_>,
    node: &Node,
    single: bool,
    nfields: usize,
) -> Result<Vec<Vec<ExceptionValue>>, Fail> {
    // Problems with values are reported on the exception they belong to, at the value.
    let fail =
        |ctx: &Ctx<'_>, text: &str, pos: Pos| Fail(ctx.message(Code::ErrValidate, text, Some(pos)));
    let Kind::Seq(rows) = &node.kind else {
        return Err(Fail(ctx.message(
            Code::ErrYamlValidate,
            "Value is not a sequence",
            Some(node.pos),
        )));
    };
    let mut out = Vec::new();
    for row in rows {
        if single {
            match &row.kind {
                Kind::Scalar { text, .. } => out.push(vec![ExceptionValue::Scalar(text.clone())]),
                _ => {
                    return Err(fail(
                        ctx,
                        "Expected values array to contain a list of strings",
                        row.pos,
                    ));
                }
            }
            continue;
        }
        let Kind::Seq(elems) = &row.kind else {
            return Err(fail(ctx, "Expected values array to contain a list of strings", row.pos));
        };
        if elems.len() != nfields {
            return Err(fail(ctx, "Fields and values lists must have equal length", row.pos));
        }
        let mut tuple = Vec::new();
        for el in elems {
            tuple.push(match &el.kind {
                Kind::Scalar { text, .. } => ExceptionValue::Scalar(text.clone()),
                Kind::Null => ExceptionValue::Scalar(String::new()),
                Kind::Seq(_) => ExceptionValue::List(strings(ctx, el)?),
                Kind::Map(_) => {
                    return Err(fail(
                        ctx,
                        "Expected values array to contain a list of strings",
                        el.pos,
                    ));
                }
            });
        }
        out.push(tuple);
    }
    Ok(out)
}

/// Adds `new` exceptions to `into`: appending values to ones of the same name when
/// `appending`, warning about repeated names otherwise.
fn merge_exceptions(
    ctx: &mut Ctx<'_>,
    into: &mut Vec<ExceptionDef>,
    new: Vec<ExceptionDef>,
    appending: bool,
) -> Result<(), Fail> {
    for e in new {
        match into.iter_mut().find(|k| k.name == e.name) {
            Some(k) if appending => k.values.extend(e.values),
            Some(_) => {
                ctx.push("exception", &e.name, e.pos);
                ctx.warn(
                    Code::ExceptionNameNotUnique,
                    "Multiple definitions of exception with same name",
                );
                ctx.pop();
                into.push(e);
            }
            None => into.push(e),
        }
    }
    Ok(())
}
