//! The syntax tree of a Falco condition, and its canonical text form.
//!
//! A condition is what follows `condition:` in a rule or macro: checks on event fields joined
//! by `and`, `or` and `not`, with macro names standing for whole sub-conditions. The parser
//! ([`crate::parse_condition`]) builds this tree; the loader will replace [`Expr::Macro`]
//! nodes by the macros' own trees, and the compiler will resolve fields and literals against
//! the field catalogue. Nothing here knows which fields exist: `evt.type` and `a.b` are both
//! just dotted names at this stage.
//!
//! Lists never appear in the tree. Falco substitutes list names into the condition text before
//! parsing, so `proc.name in (shell_binaries)` reaches the parser with the items already
//! spelled out. A bare name after a list operator (`proc.name in shell_binaries`) is kept as
//! a one-item [`Rhs::Value`], exactly as libsinsp does.
//!
//! `Display` prints the canonical form that libsinsp's `ast::as_string` produces and that
//! Falco's loader tests compare against: `and`/`or` nodes wrapped in one pair of parentheses,
//! single spaces around operators, lists as `(a, b)`, transformer arguments joined by `,`
//! without spaces, and values quoted only when they hold a blank, `=`, a quote, a backslash
//! or NUL. The canonical form is for comparison and display; it is not guaranteed to parse
//! back (a quoted value holding `(` prints bare, as it does in libsinsp).

use std::fmt;
use std::fmt::Write as _;

/// Where a node starts in the condition text.
///
/// Counted as libsinsp counts, so positions agree with Falco's messages: `offset` is the byte
/// offset from 0, `column` counts bytes from 1, and each `\r` or `\n` starts a new line (a
/// `\r\n` pair therefore counts as two line breaks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Position {
    pub offset: usize,
    pub line: u32,
    pub column: u32,
}

impl Position {
    /// The first byte of a text.
    pub const START: Position = Position { offset: 0, line: 1, column: 1 };

    /// The position after stepping over `bytes` from this one.
    pub fn after(self, bytes: &[u8]) -> Position {
        bytes.iter().fold(self, |pos, &byte| pos.step(byte))
    }

    pub(crate) fn step(self, byte: u8) -> Position {
        if byte == b'\n' || byte == b'\r' {
            Position { offset: self.offset + 1, line: self.line.saturating_add(1), column: 1 }
        } else {
            Position { offset: self.offset + 1, column: self.column.saturating_add(1), ..self }
        }
    }
}

impl Default for Position {
    fn default() -> Position {
        Position::START
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{} (offset {})", self.line, self.column, self.offset)
    }
}

/// A condition, or one part of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// `a and b and c`: a chain of `and` is one node; parentheses start a new one.
    And { children: Vec<Expr>, pos: Position },
    /// `a or b or c`, flattened like [`Expr::And`].
    Or { children: Vec<Expr>, pos: Position },
    /// `not a`. An even run of `not` cancels out and leaves no node.
    Not { child: Box<Expr>, pos: Position },
    /// `proc.name exists`: true when the field can be extracted from the event.
    Exists(Box<Exists>),
    /// `proc.name startswith oneof (a, b)`: a field (or transformer) compared with a value.
    Compare(Box<Compare>),
    /// A macro name standing for a whole check (`spawned_process`).
    Macro { name: String, pos: Position },
}

impl Expr {
    /// Where the node starts in the condition text.
    pub fn pos(&self) -> Position {
        match self {
            Expr::And { pos, .. }
            | Expr::Or { pos, .. }
            | Expr::Not { pos, .. }
            | Expr::Macro { pos, .. } => *pos,
            Expr::Exists(exists) => exists.pos,
            Expr::Compare(compare) => compare.pos,
        }
    }
}

/// A check that a field can be extracted: `proc.name exists`.
///
/// Checks are boxed in [`Expr`] to keep the tree's nodes, and the parser's stack frames,
/// small.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exists {
    pub left: Operand,
    pub pos: Position,
}

/// A comparison: `proc.name = cat`, `fd.name startswith oneof (/etc, /var)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compare {
    pub left: Operand,
    pub op: Operator,
    /// `oneof`, `anyof` or `allof` after a string operator; the right side is then a list or
    /// a list name.
    pub modifier: Option<Modifier>,
    pub right: Rhs,
    pub pos: Position,
}

/// The left side of a check: a field, or a transformer applied to fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    Field(Field),
    Transformer(Transformer),
}

impl Operand {
    pub fn pos(&self) -> Position {
        match self {
            Operand::Field(field) => field.pos,
            Operand::Transformer(transformer) => transformer.pos,
        }
    }
}

/// A field reference: `proc.name`, `proc.aname[2]`, `evt.arg[flags]`, `proc.env["HOME"]`.
///
/// Dotted argument forms such as `evt.arg.flags` or `k8s.pod.label.app` stay in `name`; the
/// field catalogue splits them later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    /// The text between `[` and `]`, unescaped if it was quoted (`[""]` gives `Some("")`).
    pub arg: Option<String>,
    pub pos: Position,
}

/// A field transformer call: `tolower(proc.name)`, `join("-", (fd.name, proc.pid))`,
/// `getopt(proc.args, "abc")[b]`. Transformers nest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transformer {
    pub kind: TransformerKind,
    /// The arguments between the parentheses, at least one.
    pub inputs: Vec<TransformerInput>,
    /// A field argument after the closing parenthesis (`getopt(...)[o]`).
    pub arg: Option<String>,
    pub pos: Position,
}

/// The transformers of libsinsp (`val` is not one of them: see [`Rhs::Val`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransformerKind {
    Tolower,
    Toupper,
    B64,
    Basename,
    Len,
    Join,
    Concat,
    Getopt,
}

impl TransformerKind {
    /// Every transformer, in the order the parser tries them.
    pub const ALL: [TransformerKind; 8] = [
        TransformerKind::Tolower,
        TransformerKind::Toupper,
        TransformerKind::B64,
        TransformerKind::Basename,
        TransformerKind::Len,
        TransformerKind::Join,
        TransformerKind::Concat,
        TransformerKind::Getopt,
    ];

    /// The name as written in a condition.
    pub fn name(self) -> &'static str {
        match self {
            TransformerKind::Tolower => "tolower",
            TransformerKind::Toupper => "toupper",
            TransformerKind::B64 => "b64",
            TransformerKind::Basename => "basename",
            TransformerKind::Len => "len",
            TransformerKind::Join => "join",
            TransformerKind::Concat => "concat",
            TransformerKind::Getopt => "getopt",
        }
    }
}

/// One argument of a transformer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransformerInput {
    Field(Field),
    Transformer(Transformer),
    /// A quoted string or a number (bare words are not allowed here).
    Value(Value),
    /// `(a.b, "x", 1)`: items are fields, transformers, quoted strings or numbers, never
    /// lists.
    List {
        items: Vec<TransformerInput>,
        pos: Position,
    },
}

/// The right side of a comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rhs {
    /// One literal. After a list operator or a modifier, a bare name becomes such a
    /// one-item value.
    Value(Value),
    /// `(a, "b", 'c')`, possibly empty.
    List(List),
    /// `val(proc.pname)`: compare with another field of the same event. A field argument
    /// after the parenthesis parses but is rejected by the compiler.
    Val { field: Field, arg: Option<String>, pos: Position },
    /// `tolower(proc.pname)`: compare with a transformed field.
    Transformer(Transformer),
}

/// A literal as written: its text after unescaping, and how it was spelled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Value {
    pub text: String,
    pub kind: ValueKind,
    pub pos: Position,
}

/// How a literal was spelled. The compiler converts every kind by the field's type; the kind
/// only matters for warnings and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueKind {
    /// A run of characters without blanks, quotes, `(`, `)`, `=` or `,`.
    Bare,
    /// `"..."` or `'...'`.
    Quoted,
    /// A decimal or hexadecimal number, where the grammar asks for one (after `<`, `<=`,
    /// `>`, `>=`, and in transformer arguments).
    Number,
}

/// A parenthesised list of literals: `(a, "b", 'c')`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct List {
    pub items: Vec<Value>,
    pub pos: Position,
}

/// A binary check operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    /// `=`
    Eq,
    /// `==`, the same check as `=`; kept apart so the canonical form prints what was written.
    EqEq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    Contains,
    IContains,
    BContains,
    StartsWith,
    BStartsWith,
    EndsWith,
    Glob,
    IGlob,
    Regex,
    In,
    Intersects,
    PMatch,
}

impl Operator {
    /// Operators whose right side is a number (or a transformer), in matching order.
    pub const NUMERIC: [Operator; 4] = [Operator::Le, Operator::Lt, Operator::Ge, Operator::Gt];

    /// Operators whose right side is one string (or a transformer, or a modifier and a list),
    /// in matching order.
    pub const STRING: [Operator; 12] = [
        Operator::EqEq,
        Operator::Eq,
        Operator::Ne,
        Operator::Glob,
        Operator::IGlob,
        Operator::Contains,
        Operator::IContains,
        Operator::BContains,
        Operator::StartsWith,
        Operator::BStartsWith,
        Operator::EndsWith,
        Operator::Regex,
    ];

    /// Operators whose right side is a list (or a list name, or a transformer), in matching
    /// order.
    pub const LIST: [Operator; 3] = [Operator::Intersects, Operator::In, Operator::PMatch];

    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Eq => "=",
            Operator::EqEq => "==",
            Operator::Ne => "!=",
            Operator::Lt => "<",
            Operator::Le => "<=",
            Operator::Gt => ">",
            Operator::Ge => ">=",
            Operator::Contains => "contains",
            Operator::IContains => "icontains",
            Operator::BContains => "bcontains",
            Operator::StartsWith => "startswith",
            Operator::BStartsWith => "bstartswith",
            Operator::EndsWith => "endswith",
            Operator::Glob => "glob",
            Operator::IGlob => "iglob",
            Operator::Regex => "regex",
            Operator::In => "in",
            Operator::Intersects => "intersects",
            Operator::PMatch => "pmatch",
        }
    }

    /// Word operators must be followed by a blank (`contains x`, not `containsx`); symbols and
    /// the list operators need none (`a.b =x`, `a.b in(x)`).
    pub fn needs_blank(self) -> bool {
        Operator::STRING.contains(&self)
            && self.as_str().starts_with(|c: char| c.is_ascii_alphabetic())
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a string operator with a list applies to the items (libs 0.25 and later).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Modifier {
    /// Exactly one item matches.
    OneOf,
    /// At least one item matches.
    AnyOf,
    /// Every item matches.
    AllOf,
}

impl Modifier {
    pub const ALL: [Modifier; 3] = [Modifier::OneOf, Modifier::AnyOf, Modifier::AllOf];

    pub fn as_str(self) -> &'static str {
        match self {
            Modifier::OneOf => "oneof",
            Modifier::AnyOf => "anyof",
            Modifier::AllOf => "allof",
        }
    }
}

impl fmt::Display for Modifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Writes a literal as libsinsp's printer does: bare unless it holds one of the bytes below,
/// else double-quoted with `\`, `"` and the control characters escaped. Spaces, `=`, `'` and
/// NUL make it quoted but stay raw inside the quotes. An empty value prints as nothing.
pub fn write_value(f: &mut impl fmt::Write, text: &str) -> fmt::Result {
    let needs_quotes = text.bytes().any(|b| {
        matches!(b, b' ' | b'=' | b'\\' | b'"' | b'\'' | 0 | 8 | 12 | b'\n' | b'\r' | b'\t')
    });
    if !needs_quotes {
        return f.write_str(text);
    }

    f.write_char('"')?;
    for c in text.chars() {
        match c {
            '\u{8}' => f.write_str("\\b")?,
            '\u{c}' => f.write_str("\\f")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            '\\' => f.write_str("\\\\")?,
            '"' => f.write_str("\\\"")?,
            other => f.write_char(other)?,
        }
    }
    f.write_char('"')
}

fn write_field_arg(f: &mut fmt::Formatter<'_>, arg: Option<&str>) -> fmt::Result {
    match arg {
        None => Ok(()),
        Some("") => f.write_str("[\"\"]"),
        Some(text) => {
            f.write_char('[')?;
            write_value(f, text)?;
            f.write_char(']')
        }
    }
}

fn write_joined<T: fmt::Display>(
    f: &mut fmt::Formatter<'_>,
    items: &[T],
    sep: &str,
) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::And { children, .. } => {
                f.write_char('(')?;
                write_joined(f, children, " and ")?;
                f.write_char(')')
            }
            Expr::Or { children, .. } => {
                f.write_char('(')?;
                write_joined(f, children, " or ")?;
                f.write_char(')')
            }
            Expr::Not { child, .. } => write!(f, "not {child}"),
            Expr::Exists(exists) => exists.fmt(f),
            Expr::Compare(compare) => compare.fmt(f),
            Expr::Macro { name, .. } => f.write_str(name),
        }
    }
}

impl fmt::Display for Exists {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} exists", self.left)
    }
}

impl fmt::Display for Compare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ", self.left, self.op)?;
        if let Some(modifier) = self.modifier {
            write!(f, "{modifier} ")?;
        }
        write!(f, "{}", self.right)
    }
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Field(field) => field.fmt(f),
            Operand::Transformer(transformer) => transformer.fmt(f),
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        write_field_arg(f, self.arg.as_deref())
    }
}

impl fmt::Display for Transformer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.kind.name())?;
        write_joined(f, &self.inputs, ",")?;
        f.write_char(')')?;
        write_field_arg(f, self.arg.as_deref())
    }
}

impl fmt::Display for TransformerInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransformerInput::Field(field) => field.fmt(f),
            TransformerInput::Transformer(transformer) => transformer.fmt(f),
            TransformerInput::Value(value) => value.fmt(f),
            TransformerInput::List { items, .. } => {
                f.write_char('(')?;
                write_joined(f, items, ",")?;
                f.write_char(')')
            }
        }
    }
}

impl fmt::Display for Rhs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rhs::Value(value) => value.fmt(f),
            Rhs::List(list) => list.fmt(f),
            Rhs::Val { field, arg, .. } => {
                write!(f, "val({field})")?;
                write_field_arg(f, arg.as_deref())
            }
            Rhs::Transformer(transformer) => transformer.fmt(f),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_value(f, &self.text)
    }
}

impl fmt::Display for List {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('(')?;
        write_joined(f, &self.items, ", ")?;
        f.write_char(')')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn printed(text: &str) -> String {
        let mut out = String::new();
        let _ = write_value(&mut out, text);
        out
    }

    #[test]
    fn values_quote_only_when_needed() {
        assert_eq!(printed("/usr/bin/*"), "/usr/bin/*");
        assert_eq!(printed("runc:[0:PARENT]"), "runc:[0:PARENT]");
        assert_eq!(printed("curl 127.0.0.1"), "\"curl 127.0.0.1\"");
        assert_eq!(printed("a=b"), "\"a=b\"");
        assert_eq!(printed("it's"), "\"it's\"");
        assert_eq!(printed("say \"hi\""), "\"say \\\"hi\\\"\"");
        assert_eq!(printed("a\\b"), "\"a\\\\b\"");
        assert_eq!(printed("tab\there\n"), "\"tab\\there\\n\"");
        assert_eq!(printed("nul\0"), "\"nul\0\"");
        assert_eq!(printed(""), "");
    }

    #[test]
    fn positions_count_bytes_and_line_breaks() {
        let pos = Position::START.after("ab\ncé".as_bytes());
        assert_eq!(pos, Position { offset: 6, line: 2, column: 4 });
        let pos = Position::START.after(b"a\r\nb");
        assert_eq!(pos, Position { offset: 4, line: 3, column: 2 });
    }

    #[test]
    fn word_operators_need_a_blank() {
        assert!(Operator::Contains.needs_blank());
        assert!(Operator::Regex.needs_blank());
        assert!(!Operator::Eq.needs_blank());
        assert!(!Operator::Le.needs_blank());
        assert!(!Operator::In.needs_blank());
        assert!(!Operator::PMatch.needs_blank());
    }
}
