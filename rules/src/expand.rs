//! Phase two of loading, first half: from collected text to one condition tree per rule.
//!
//! Falco compiles the whole collection after every file. Lists are expanded (a list may name
//! lists defined before it changed), then substituted into condition text (Falco does this
//! textually, before parsing, and rules rely on its quirks); macro conditions are parsed and
//! each macro reference is replaced by the tree of a macro visible to it; a rule's exceptions
//! become ` and not (...)` clauses of its text before it is parsed and expanded the same way.
//! What comes out is a tree per rule with no macro left in it, ready for field compilation.

use std::collections::{HashMap, HashSet};

use crate::ast::Expr;
use crate::collect::{Collection, ExceptionDef, ExceptionValue, MacroDef, OneOrMany, RuleDef};
use crate::message::{Code, Location, Message, snippet};
use crate::parser::{DEFAULT_MAX_DEPTH, Parser};
use crate::yaml::Pos;

/// Event sources dredge can evaluate rules for.
pub const KNOWN_SOURCES: [&str; 1] = ["syscall"];

/// A rule with its condition expanded.
#[derive(Debug, Clone)]
pub struct ExpandedRule {
    pub def: RuleDef,
    /// The condition text after exceptions and list substitution, as parsed.
    pub text: String,
    pub condition: Expr,
}

/// The result of expanding a collection.
#[derive(Debug, Default, Clone)]
pub struct Expansion {
    pub rules: Vec<ExpandedRule>,
    pub errors: Vec<Message>,
    pub warnings: Vec<Message>,
}

struct Expander<'c> {
    texts: &'c HashMap<String, String>,
    /// Expanded list items by name.
    lists: Vec<(String, Vec<String>)>,
    macros: HashMap<&'c str, &'c MacroDef>,
    expanded: HashMap<String, Expr>,
    used_lists: HashSet<String>,
    used_macros: HashSet<String>,
}

fn location(item_type: &'static str, name: &str, file: &str, pos: Pos) -> Location {
    Location { item_type, item_name: name.to_string(), file: file.to_string(), pos }
}

impl Expander<'_> {
    fn message(&self, code: Code, text: String, loc: Location) -> Message {
        let source = self.texts.get(&loc.file).map_or("", String::as_str);
        let snippet = snippet(source, loc.pos);
        Message { code, text, locations: vec![loc], snippet }
    }

    /// Replaces every delimited occurrence of a list name by its items, as Falco does.
    fn substitute(&mut self, text: &str) -> String {
        let mut out = text.to_string();
        for (name, items) in &self.lists {
            if !out.contains(name.as_str()) {
                continue;
            }
            let replaced = substitute_list(&out, name, items);
            if replaced != out {
                self.used_lists.insert(name.clone());
                out = replaced;
            }
        }
        out
    }

    /// The expanded tree of macro `name` as visible from something with `visibility`.
    fn macro_tree(&mut self, name: &str, stack: &mut Vec<String>) -> Result<Expr, String> {
        if let Some(e) = self.expanded.get(name) {
            return Ok(e.clone());
        }
        if stack.iter().any(|s| s == name) {
            return Err(format!("reference loop in macro '{name}'"));
        }
        let Some(def) = self.macros.get(name).copied() else {
            return Err(format!("Undefined macro '{name}' used in filter."));
        };
        let text = self.substitute(&def.condition);
        let tree =
            Parser::new(&text).max_depth(DEFAULT_MAX_DEPTH).parse().map_err(|e| e.to_string())?;
        stack.push(name.to_string());
        let tree = self.expand(tree, Some(def.visibility), stack)?;
        stack.pop();
        self.expanded.insert(name.to_string(), tree.clone());
        Ok(tree)
    }

    /// Replaces macro references in `tree`. `visibility` limits which macros a macro sees;
    /// rules (`None`) see every macro.
    fn expand(
        &mut self,
        tree: Expr,
        visibility: Option<usize>,
        stack: &mut Vec<String>,
    ) -> Result<Expr, String> {
        Ok(match tree {
            Expr::Macro { name, .. } => {
                let visible = self
                    .macros
                    .get(name.as_str())
                    .is_some_and(|m| visibility.is_none_or(|v| m.index < v));
                if !visible {
                    return Err(format!("Undefined macro '{name}' used in filter."));
                }
                self.used_macros.insert(name.clone());
                self.macro_tree(&name, stack)?
            }
            Expr::And { children, pos } => {
                Expr::And { children: self.expand_all(children, visibility, stack)?, pos }
            }
            Expr::Or { children, pos } => {
                Expr::Or { children: self.expand_all(children, visibility, stack)?, pos }
            }
            Expr::Not { child, pos } => {
                Expr::Not { child: Box::new(self.expand(*child, visibility, stack)?), pos }
            }
            other => other,
        })
    }

    fn expand_all(
        &mut self,
        items: Vec<Expr>,
        visibility: Option<usize>,
        stack: &mut Vec<String>,
    ) -> Result<Vec<Expr>, String> {
        items.into_iter().map(|e| self.expand(e, visibility, stack)).collect()
    }
}

/// Expands `collection`: every macro (for their errors), then every rule.
/// `texts` maps file names to their contents, for snippets.
pub fn expand(collection: &Collection, texts: &HashMap<String, String>) -> Expansion {
    let mut ex = Expander {
        texts,
        lists: expand_lists(collection),
        macros: collection.macros.iter().map(|m| (m.name.as_str(), m)).collect(),
        expanded: HashMap::new(),
        used_lists: HashSet::new(),
        used_macros: HashSet::new(),
    };
    // Lists named inside other lists count as used.
    for l in &collection.lists {
        for item in &l.items {
            if let Some(other) =
                collection.lists.iter().find(|o| &o.name == item && o.index < l.visibility)
            {
                ex.used_lists.insert(other.name.clone());
            }
        }
    }
    let mut out = Expansion::default();

    let mut macros: Vec<&MacroDef> = collection.macros.iter().collect();
    macros.sort_by_key(|m| m.index);
    for m in macros {
        let mut stack = Vec::new();
        if let Err(text) = ex.macro_tree(&m.name, &mut stack) {
            let code = if text.starts_with("Undefined") || text.starts_with("reference loop") {
                Code::ErrValidate
            } else {
                Code::ErrCompileCondition
            };
            let loc = location("macro", &m.name, &m.file, m.pos);
            out.errors.push(ex.message(code, text, loc));
            return out;
        }
    }

    let mut rules: Vec<&RuleDef> = collection.rules.iter().collect();
    rules.sort_by_key(|r| r.index);
    for r in rules {
        let loc = || location("rule", &r.name, &r.file, r.pos);
        if !KNOWN_SOURCES.contains(&r.source.as_str()) {
            let w = ex.message(
                Code::UnknownSource,
                format!("Unknown source {}, skipping", r.source),
                loc(),
            );
            out.warnings.push(w);
            continue;
        }
        let with_exceptions = exceptions_text(&r.condition, &r.exceptions);
        let text = ex.substitute(&with_exceptions);
        let parsed = Parser::new(&text).max_depth(DEFAULT_MAX_DEPTH).parse();
        let tree = match parsed {
            Ok(t) => t,
            Err(e) => {
                out.errors.push(ex.message(Code::ErrCompileCondition, e.to_string(), loc()));
                return out;
            }
        };
        let mut def = r.clone();
        if def.output.contains("%container.info") {
            def.output = def.output.replace("%container.info", "").trim().to_string();
            let w = ex.message(
                Code::DeprecatedItem,
                "%container.info is deprecated and no more useful, and will be dropped by Falco \
                1.0.0. The container plugin will automatically add required fields to the \
                output message."
                    .into(),
                loc(),
            );
            out.warnings.push(w);
        }
        match ex.expand(tree, None, &mut Vec::new()) {
            Ok(condition) => out.rules.push(ExpandedRule { def, text, condition }),
            Err(text) => {
                out.errors.push(ex.message(Code::ErrValidate, text, loc()));
                return out;
            }
        }
    }

    for m in &collection.macros {
        if !ex.used_macros.contains(&m.name) {
            let loc = location("macro", &m.name, &m.file, m.pos);
            out.warnings.push(ex.message(
                Code::UnusedMacro,
                "Macro not referred to by any other rule/macro".into(),
                loc,
            ));
        }
    }
    for l in &collection.lists {
        if !ex.used_lists.contains(&l.name) {
            let loc = location("list", &l.name, &l.file, l.pos);
            out.warnings.push(ex.message(
                Code::UnusedList,
                "List not referred to by any other rule/macro".into(),
                loc,
            ));
        }
    }
    out
}

/// Each list's items with names of lists it may see replaced by their raw items (one level).
fn expand_lists(c: &Collection) -> Vec<(String, Vec<String>)> {
    let mut lists: Vec<_> = c.lists.iter().collect();
    lists.sort_by_key(|l| l.index);
    lists
        .iter()
        .map(|l| {
            let mut items = Vec::new();
            for item in &l.items {
                match c.lists.iter().find(|o| &o.name == item && o.index < l.visibility) {
                    Some(other) => items.extend(other.items.iter().cloned()),
                    None => items.push(item.clone()),
                }
            }
            (l.name.clone(), items)
        })
        .collect()
}

const DELIMITERS: &[u8] = b" \t\n\r(),=";

/// Falco's textual list substitution: the name, delimited on both sides by the start or end
/// of the text or one of ` \t\n\r(),=`, is replaced by its items joined with `", "`, the
/// blanks around it eaten; items with a space that are not already quoted get double quotes.
/// An empty list also takes a neighbouring comma, so `(a, empty, b)` stays a list.
pub fn substitute_list(text: &str, name: &str, items: &[String]) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let joined = {
        let quoted: Vec<String> = items
            .iter()
            .map(|it| {
                if it.contains(' ') && !it.starts_with('\'') && !it.starts_with('"') {
                    format!("\"{it}\"")
                } else {
                    it.clone()
                }
            })
            .collect();
        quoted.join(", ")
    };
    while i < text.len() {
        let found = text[i..].find(name).map(|f| f + i);
        let Some(start) = found else {
            out.push_str(&text[i..]);
            break;
        };
        let end = start + name.len();
        let before_ok = start == 0 || DELIMITERS.contains(&bytes[start - 1]);
        let after_ok = end == text.len() || DELIMITERS.contains(&bytes[end]);
        if !(before_ok && after_ok) {
            out.push_str(&text[i..end]);
            i = end;
            continue;
        }
        // Eat blanks on both sides of the name.
        let mut head = &text[i..start];
        head = head.trim_end_matches([' ', '\t', '\n', '\r']);
        let mut tail_start = end;
        while tail_start < text.len() && matches!(bytes[tail_start], b' ' | b'\t' | b'\n' | b'\r') {
            tail_start += 1;
        }
        if items.is_empty() {
            // Drop one neighbouring comma so the list stays well formed.
            if text[tail_start..].starts_with(',') {
                tail_start += 1;
                while tail_start < text.len()
                    && matches!(bytes[tail_start], b' ' | b'\t' | b'\n' | b'\r')
                {
                    tail_start += 1;
                }
            } else if head.ends_with(',') {
                head = head[..head.len() - 1].trim_end_matches([' ', '\t', '\n', '\r']);
            }
            out.push_str(head);
            out.push(' ');
        } else {
            out.push_str(head);
            out.push(' ');
            out.push_str(&joined);
            out.push(' ');
        }
        i = tail_start;
    }
    out
}

/// Quotes a value for condition text if it holds a space and is not quoted already.
fn quote(v: &str) -> String {
    if v.contains(' ') && !v.starts_with('\'') && !v.starts_with('"') {
        format!("\"{v}\"")
    } else {
        v.to_string()
    }
}

fn value_text(v: &ExceptionValue, comp: &str) -> String {
    let list_op = matches!(comp, "in" | "intersects" | "pmatch") || comp.contains(' ');
    match v {
        ExceptionValue::List(items) => {
            format!("({})", items.iter().map(|i| quote(i)).collect::<Vec<_>>().join(", "))
        }
        ExceptionValue::Scalar(s) if list_op && !s.starts_with('(') => format!("({s})"),
        ExceptionValue::Scalar(s) => quote(s),
    }
}

/// The rule's condition with its exceptions appended as ` and not (...)` clauses.
pub fn exceptions_text(condition: &str, exceptions: &[ExceptionDef]) -> String {
    if exceptions.is_empty() {
        return condition.to_string();
    }
    let mut out = format!("({condition})");
    for e in exceptions {
        if e.values.is_empty() {
            continue;
        }
        let clause = match (&e.fields, &e.comps) {
            (OneOrMany::One(field), OneOrMany::One(comp)) => {
                let values: Vec<String> = e
                    .values
                    .iter()
                    .filter_map(|t| match t.first() {
                        Some(ExceptionValue::Scalar(s)) => Some(quote(s)),
                        _ => None,
                    })
                    .collect();
                format!("({field} {comp} ({}))", values.join(", "))
            }
            (OneOrMany::Many(fields), OneOrMany::Many(comps)) => {
                let tuples: Vec<String> = e
                    .values
                    .iter()
                    .map(|tuple| {
                        let terms: Vec<String> = fields
                            .iter()
                            .zip(comps)
                            .zip(tuple)
                            .map(|((f, c), v)| format!(" {f} {c} {}", value_text(v, c)))
                            .collect();
                        format!("({})", terms.join(" and").trim_start())
                    })
                    .collect();
                format!("({})", tuples.join(" or "))
            }
            _ => continue,
        };
        out.push_str(" and not ");
        out.push_str(&clause);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn lists_are_substituted_where_delimited() {
        let l = items(&["ash", "bash"]);
        assert_eq!(
            substitute_list("proc.name in (shells)", "shells", &l),
            "proc.name in ( ash, bash )"
        );
        assert_eq!(substitute_list("proc.name=shells", "shells", &l), "proc.name= ash, bash ");
        assert_eq!(substitute_list("x in (my_shells)", "shells", &l), "x in (my_shells)");
        assert_eq!(substitute_list("x in (a, shells, b)", "shells", &l), "x in (a, ash, bash , b)");
        assert_eq!(substitute_list("x in (a, e, b)", "e", &[]), "x in (a, b)");
        assert_eq!(substitute_list("x in (e)", "e", &items(&["a b"])), "x in ( \"a b\" )");
    }
}
