//! YAML the way Falco reads rules files: every scalar kept as its literal text, every node
//! with its position, several documents per file.
//!
//! Falco's loader asks for a typed value only where a key needs one, so a list item written
//! `0x10` stays the string `0x10`. Parsing into a typed YAML value would lose that; this module
//! builds a small tree from the parser's events instead, with the line and column that every
//! error message must name.

use std::collections::HashMap;

use libyaml_safer::{EventData, Mark, Parser, ScalarStyle};

/// A position in a rules file: byte offset, 1-based line and column.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pos {
    pub offset: usize,
    pub line: usize,
    pub column: usize,
}

impl Pos {
    fn of(m: Mark) -> Pos {
        Pos { offset: m.index as usize, line: m.line as usize + 1, column: m.column as usize + 1 }
    }
}

/// A YAML node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// An empty value, `~` or `null`.
    Null,
    /// A scalar's text exactly as written (after YAML quoting rules); `quoted` if it was in
    /// quotes or a block, so `"null"` stays a string.
    Scalar {
        text: String,
        quoted: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub kind: Kind,
    pub pos: Pos,
}

impl Node {
    /// The value of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            Kind::Map(entries) => entries
                .iter()
                .find(|(k, _)| matches!(&k.kind, Kind::Scalar { text, .. } if text == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.kind, Kind::Null)
    }
}

/// A YAML syntax error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("YAML error at line {}, column {}: {message}", pos.line, pos.column)]
pub struct YamlError {
    pub pos: Pos,
    pub message: String,
}

enum Open {
    Seq(Vec<Node>, Pos, Option<String>),
    Map(Vec<(Node, Node)>, Option<Node>, Pos, Option<String>),
}

#[derive(Default)]
struct Builder {
    docs: Vec<Node>,
    stack: Vec<Open>,
    anchors: HashMap<String, Node>,
}

impl Builder {
    fn add(&mut self, node: Node, anchor: Option<String>) {
        if let Some(a) = anchor {
            self.anchors.insert(a, node.clone());
        }
        match self.stack.last_mut() {
            Some(Open::Seq(items, _, _)) => items.push(node),
            Some(Open::Map(entries, key, _, _)) => match key.take() {
                Some(k) => entries.push((k, node)),
                None => *key = Some(node),
            },
            None => self.docs.push(node),
        }
    }
}

/// Deeper nesting is refused: trees are dropped recursively, and no rules file needs more.
pub const MAX_DEPTH: usize = 256;

/// Parses every document of a YAML stream.
pub fn parse(text: &str) -> Result<Vec<Node>, YamlError> {
    let mut input = text.as_bytes();
    let mut parser = Parser::new();
    parser.set_input_string(&mut input);
    let mut b = Builder::default();
    for event in &mut parser {
        let event = event.map_err(|e| YamlError {
            pos: e.problem_mark().map(Pos::of).unwrap_or_default(),
            message: e.problem().to_string(),
        })?;
        let pos = Pos::of(event.start_mark);
        match event.data {
            EventData::Scalar { anchor, value, style, .. } => {
                let quoted = style != ScalarStyle::Plain;
                let null = !quoted && matches!(value.as_str(), "" | "~" | "null" | "Null" | "NULL");
                let kind = if null { Kind::Null } else { Kind::Scalar { text: value, quoted } };
                b.add(Node { kind, pos }, anchor);
            }
            EventData::SequenceStart { .. } | EventData::MappingStart { .. }
                if b.stack.len() >= MAX_DEPTH =>
            {
                let message = format!("nested more than {MAX_DEPTH} levels deep");
                return Err(YamlError { pos, message });
            }
            EventData::SequenceStart { anchor, .. } => {
                b.stack.push(Open::Seq(Vec::new(), pos, anchor))
            }
            EventData::MappingStart { anchor, .. } => {
                b.stack.push(Open::Map(Vec::new(), None, pos, anchor))
            }
            EventData::SequenceEnd | EventData::MappingEnd => match b.stack.pop() {
                Some(Open::Seq(items, pos, anchor)) => {
                    b.add(Node { kind: Kind::Seq(items), pos }, anchor)
                }
                Some(Open::Map(entries, _, pos, anchor)) => {
                    b.add(Node { kind: Kind::Map(entries), pos }, anchor)
                }
                None => {}
            },
            EventData::Alias { anchor } => {
                let node =
                    b.anchors.get(&anchor).cloned().unwrap_or(Node { kind: Kind::Null, pos });
                b.add(Node { pos, ..node }, None);
            }
            EventData::StreamStart { .. }
            | EventData::StreamEnd
            | EventData::DocumentStart { .. }
            | EventData::DocumentEnd { .. } => {}
        }
    }
    Ok(b.docs)
}
