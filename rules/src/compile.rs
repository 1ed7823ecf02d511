//! Compiling condition trees into filters that evaluate fast.
//!
//! Each check's field is resolved in a [`Catalogue`], its operator checked against the
//! field's type, and its literal converted once, at load time, by that type (decimal-only
//! integers, service names for ports, `true`/`false`, IP addresses and networks, hex for
//! `bcontains`), so that evaluation compares ready values: hash sets for `in`, a compiled
//! regex, split patterns for `pmatch`. Errors carry the text Falco gives.

use std::net::IpAddr;

use rustc_hash::FxHashSet;

use crate::ast::{
    Compare, Expr, Modifier, Operand, Operator, Rhs, TransformerInput, TransformerKind, Value,
};

/// How a field's values compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldType {
    Int,
    Uint,
    /// Unsigned, and the right side may be a service name (`ssh`).
    Port,
    Bool,
    Str,
    Bytes,
    Ip,
    Net,
}

impl FieldType {
    /// From the type names of the field table (`INT64`, `CHARBUF`, ...).
    pub fn from_name(name: &str) -> Option<FieldType> {
        Some(match name {
            "INT8" | "INT16" | "INT32" | "INT64" | "ERRNO" | "FD" | "PID" | "FD32" | "PID32"
            | "DOUBLE" => FieldType::Int,
            "UINT8" | "UINT16" | "UINT32" | "UINT64" | "RELTIME" | "ABSTIME" | "FLAGS8"
            | "FLAGS16" | "FLAGS32" | "MODE" | "UID" | "GID" | "SIGTYPE" | "SYSCALLID"
            | "ENUMFLAGS8" | "ENUMFLAGS16" | "ENUMFLAGS32" | "SIGSET" | "L4PROTO"
            | "SOCKFAMILY" => FieldType::Uint,
            "PORT" => FieldType::Port,
            "BOOL" => FieldType::Bool,
            "CHARBUF" | "FSPATH" | "FSRELPATH" | "CHARBUFARRAY" | "CHARBUF_PAIR_ARRAY" => {
                FieldType::Str
            }
            "BYTEBUF" => FieldType::Bytes,
            "IPV4ADDR" | "IPV6ADDR" | "IPADDR" => FieldType::Ip,
            "IPV4NET" | "IPV6NET" | "IPNET" => FieldType::Net,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            FieldType::Int | FieldType::Uint | FieldType::Port => "numeric",
            FieldType::Bool => "boolean",
            FieldType::Str => "string",
            FieldType::Bytes => "buffer",
            FieldType::Ip | FieldType::Net => "ip",
        }
    }
}

/// What the catalogue says about one field reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSpec {
    /// The catalogue's number for the field (what [`Fields`](crate::eval::Fields) switches on).
    pub id: u32,
    pub ty: FieldType,
    /// Extraction gives several values (`proc.args` lists, `fd.types`).
    pub list: bool,
    /// Several values of which any may match (un-indexed ancestor fields: `proc.aname`).
    pub any_of: bool,
    /// May not be compared with another field, on either side.
    pub no_rhs: bool,
    pub no_transformer: bool,
}

/// Resolves field names for the compiler.
pub trait Catalogue {
    /// The field `name` (as written, dotted arguments included) with bracket argument `arg`;
    /// `Err` with Falco's message when there is no such field or the argument is wrong.
    fn field(&self, name: &str, arg: Option<&str>) -> Result<FieldSpec, String>;

    /// Whether `name` is a known event type (`evt.type` values are checked at load).
    fn is_event_type(&self, _name: &str) -> bool {
        true
    }
}

/// A field as the evaluator sees it: resolved spec, argument, and transformers to apply
/// (innermost first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRef {
    pub name: String,
    pub arg: Option<String>,
    pub spec: FieldSpec,
    pub transformers: Vec<TransformerKind>,
    /// Set for the transformers over several inputs (`join`, `concat`, `getopt`): the value
    /// is computed from these, not extracted under `name`.
    pub composite: Option<Box<Composite>>,
}

/// A transformer over several inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Composite {
    /// `join(sep, (a, b, ...))`: every value of the inputs, joined by `sep`.
    Join { sep: Vec<u8>, parts: Vec<Part> },
    /// `concat(a, b, ...)`: the inputs one after the other.
    Concat(Vec<Part>),
    /// `getopt(args, "optstring")[o]`: argv parsed as getopt(3) does: the options found, or
    /// with `[o]` the argument of option `o`.
    Getopt { args: Vec<Part>, optstring: Vec<u8>, select: Option<u8> },
}

/// One input of a [`Composite`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Field(FieldRef),
    Const(Vec<u8>),
}

/// A literal converted to the field's type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Literal {
    Int(i64),
    Uint(u64),
    Bool(bool),
    Bytes(Vec<u8>),
    Ip(IpAddr),
    Net(IpAddr, u8),
}

/// The comparison a check performs.
#[derive(Debug, Clone)]
pub enum Test {
    Exists,
    Eq(Literal),
    Ne(Literal),
    Lt(Literal),
    Le(Literal),
    Gt(Literal),
    Ge(Literal),
    Contains(Vec<u8>),
    /// Lower-cased needle, compared ASCII case-insensitively.
    IContains(Vec<u8>),
    StartsWith(Vec<u8>),
    EndsWith(Vec<u8>),
    Glob(Vec<u8>),
    IGlob(Vec<u8>),
    Regex(Box<regex::bytes::Regex>),
    /// `in`: every extracted value is in the set; `intersects`: at least one is.
    In(Box<LiteralSet>),
    Intersects(Box<LiteralSet>),
    /// Paths split into components.
    PMatch(Vec<Vec<Vec<u8>>>),
    /// A string operator applied to each item of a list (`startswith oneof (...)`).
    Each(Modifier, Vec<Test>),
    /// `contains anyof (...)` / `icontains anyof (...)`: one automaton finds any of the
    /// needles in a single pass.
    ContainsAny(Box<aho_corasick::AhoCorasick>),
    /// Comparison with another field of the same event.
    Field(Operator, Box<FieldRef>),
}

/// The right side of `in`/`intersects`, in the form lookups want.
#[derive(Debug, Clone, Default)]
pub struct LiteralSet {
    pub bytes: FxHashSet<Vec<u8>>,
    pub others: Vec<Literal>,
}

impl LiteralSet {
    pub fn contains(&self, lit: &Literal) -> bool {
        match lit {
            Literal::Bytes(b) => self.bytes.contains(b),
            other => self.others.iter().any(|o| o == other),
        }
    }
}

/// One compiled check.
#[derive(Debug, Clone)]
pub struct Check {
    pub field: FieldRef,
    pub test: Test,
}

/// A compiled filter.
#[derive(Debug, Clone)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Check(Box<Check>),
}

impl Filter {
    /// Calls `f` with every field the filter reads (inputs of composite fields and fields
    /// compared with fields included).
    pub fn each_field(&self, f: &mut dyn FnMut(&FieldRef)) {
        match self {
            Filter::And(items) | Filter::Or(items) => items.iter().for_each(|i| i.each_field(f)),
            Filter::Not(inner) => inner.each_field(f),
            Filter::Check(c) => {
                c.field.each_field(f);
                if let Test::Field(_, other) = &c.test {
                    other.each_field(f);
                }
            }
        }
    }
}

impl FieldRef {
    /// Calls `f` with this field and, for a composite, every field it is made of.
    pub fn each_field(&self, f: &mut dyn FnMut(&FieldRef)) {
        f(self);
        let parts = match self.composite.as_deref() {
            Some(Composite::Join { parts, .. } | Composite::Concat(parts)) => parts.as_slice(),
            Some(Composite::Getopt { args, .. }) => args.as_slice(),
            None => &[],
        };
        for p in parts {
            if let Part::Field(field) = p {
                field.each_field(f);
            }
        }
    }
}

/// Why a condition does not compile (the text is Falco's where Falco has one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CompileError {
    pub message: String,
    /// True when the problem is an unknown field or event type: `skip-if-unknown-filter`
    /// turns exactly these into a warning.
    pub unknown: bool,
}

fn error(message: impl Into<String>) -> CompileError {
    CompileError { message: message.into(), unknown: false }
}

/// Compiles an expanded condition (no macro left) against `catalogue`.
pub fn compile(expr: &Expr, catalogue: &dyn Catalogue) -> Result<Filter, CompileError> {
    Ok(match expr {
        Expr::And { children, .. } => {
            Filter::And(children.iter().map(|c| compile(c, catalogue)).collect::<Result<_, _>>()?)
        }
        Expr::Or { children, .. } => {
            Filter::Or(children.iter().map(|c| compile(c, catalogue)).collect::<Result<_, _>>()?)
        }
        Expr::Not { child, .. } => Filter::Not(Box::new(compile(child, catalogue)?)),
        Expr::Macro { name, .. } => return Err(error(format!("unexpected identifier '{name}'"))),
        Expr::Exists(e) => {
            let field = field_ref(&e.left, catalogue)?;
            Filter::Check(Box::new(Check { field, test: Test::Exists }))
        }
        Expr::Compare(c) => Filter::Check(Box::new(compile_compare(c, catalogue)?)),
    })
}

/// The inputs of a multi-input transformer, lists flattened.
fn parts(
    inputs: &[TransformerInput],
    catalogue: &dyn Catalogue,
) -> Result<Vec<Part>, CompileError> {
    let mut out = Vec::new();
    for input in inputs {
        match input {
            TransformerInput::Field(f) => {
                out.push(Part::Field(field_ref(&Operand::Field(f.clone()), catalogue)?))
            }
            TransformerInput::Transformer(t) => {
                out.push(Part::Field(field_ref(&Operand::Transformer(t.clone()), catalogue)?))
            }
            TransformerInput::Value(v) => out.push(Part::Const(v.text.as_bytes().to_vec())),
            TransformerInput::List { items, .. } => out.extend(parts(items, catalogue)?),
        }
    }
    Ok(out)
}

fn composite(
    t: &crate::ast::Transformer,
    catalogue: &dyn Catalogue,
) -> Result<FieldRef, CompileError> {
    let name = t.kind.name();
    let constant = |input: &TransformerInput| match input {
        TransformerInput::Value(v) => Some(v.text.as_bytes().to_vec()),
        _ => None,
    };
    let (c, list) = match (t.kind, t.inputs.as_slice()) {
        (TransformerKind::Join, [sep, items]) => {
            let sep =
                constant(sep).ok_or_else(|| error("join() takes a separator string first"))?;
            (Composite::Join { sep, parts: parts(std::slice::from_ref(items), catalogue)? }, false)
        }
        (TransformerKind::Join, _) => return Err(error("join() takes exactly 2 arguments")),
        (TransformerKind::Concat, inputs) if inputs.len() >= 2 => {
            (Composite::Concat(parts(inputs, catalogue)?), false)
        }
        (TransformerKind::Concat, _) => return Err(error("concat() takes at least 2 arguments")),
        (TransformerKind::Getopt, [args, opts]) => {
            let optstring =
                constant(opts).ok_or_else(|| error("getopt() takes an option string second"))?;
            let select = match t.arg.as_deref() {
                None => None,
                Some(a) if a.len() == 1 => Some(a.as_bytes()[0]),
                Some(a) => return Err(error(format!("getopt()[{a}]: one option letter expected"))),
            };
            let args = parts(std::slice::from_ref(args), catalogue)?;
            (Composite::Getopt { args, optstring, select }, select.is_none())
        }
        (TransformerKind::Getopt, _) => return Err(error("getopt() takes exactly 2 arguments")),
        _ => return Err(error(format!("'{name}' is not a multi-input transformer"))),
    };
    if t.arg.is_some() && t.kind != TransformerKind::Getopt {
        return Err(error(format!("'{name}' transformer does not take a field argument")));
    }
    let spec = FieldSpec {
        id: u32::MAX,
        ty: FieldType::Str,
        list,
        any_of: false,
        no_rhs: false,
        no_transformer: false,
    };
    let text = format!("{t}");
    Ok(FieldRef {
        name: text,
        arg: None,
        spec,
        transformers: Vec::new(),
        composite: Some(Box::new(c)),
    })
}

fn field_ref(operand: &Operand, catalogue: &dyn Catalogue) -> Result<FieldRef, CompileError> {
    match operand {
        Operand::Field(f) => {
            let spec = catalogue
                .field(&f.name, f.arg.as_deref())
                .map_err(|m| CompileError { message: m, unknown: true })?;
            Ok(FieldRef {
                name: f.name.clone(),
                arg: f.arg.clone(),
                spec,
                transformers: Vec::new(),
                composite: None,
            })
        }
        Operand::Transformer(t)
            if matches!(
                t.kind,
                TransformerKind::Join | TransformerKind::Concat | TransformerKind::Getopt
            ) =>
        {
            composite(t, catalogue)
        }
        Operand::Transformer(t) => {
            let mut r = match t.inputs.as_slice() {
                [TransformerInput::Field(inner)] => {
                    field_ref(&Operand::Field(inner.clone()), catalogue)?
                }
                [TransformerInput::Transformer(inner)] => {
                    field_ref(&Operand::Transformer(inner.clone()), catalogue)?
                }
                _ => {
                    return Err(error(format!(
                        "'{}' transformer takes one field or transformer",
                        t.kind.name()
                    )));
                }
            };
            if t.arg.is_some() {
                return Err(error(format!(
                    "'{}' transformer does not take a field argument",
                    t.kind.name()
                )));
            }
            if r.spec.no_transformer {
                return Err(error(format!("field '{}' does not support transformers", r.name)));
            }
            let supported = match t.kind {
                TransformerKind::Tolower | TransformerKind::Toupper | TransformerKind::Basename => {
                    r.spec.ty == FieldType::Str
                }
                TransformerKind::B64 => matches!(r.spec.ty, FieldType::Str | FieldType::Bytes),
                TransformerKind::Len => {
                    matches!(r.spec.ty, FieldType::Str | FieldType::Bytes) || r.spec.list
                }
                _ => false,
            };
            if !supported {
                return Err(error(format!(
                    "can't add field transformer: type '{}' is not supported by '{}' transformer",
                    r.spec.ty.name(),
                    t.kind.name()
                )));
            }
            r.transformers.push(t.kind);
            if t.kind == TransformerKind::Len {
                r.spec.ty = FieldType::Uint;
                r.spec.list = false;
            }
            Ok(r)
        }
    }
}

/// Operators each type accepts (Falco's compatibility matrix).
fn allowed(ty: FieldType, list: bool, op: Operator) -> bool {
    use Operator as O;
    if list {
        return matches!(op, O::In | O::Intersects);
    }
    match ty {
        FieldType::Int | FieldType::Uint | FieldType::Port => {
            matches!(
                op,
                O::Eq | O::EqEq | O::Ne | O::Lt | O::Le | O::Gt | O::Ge | O::In | O::Intersects
            )
        }
        FieldType::Bool | FieldType::Ip | FieldType::Net => {
            matches!(op, O::Eq | O::EqEq | O::Ne | O::In | O::Intersects)
        }
        FieldType::Str => !matches!(op, O::BContains | O::BStartsWith),
        FieldType::Bytes => matches!(
            op,
            O::Eq
                | O::EqEq
                | O::Ne
                | O::Contains
                | O::In
                | O::StartsWith
                | O::EndsWith
                | O::Intersects
                | O::BContains
                | O::BStartsWith
        ),
    }
}

fn compile_compare(c: &Compare, catalogue: &dyn Catalogue) -> Result<Check, CompileError> {
    let field = field_ref(&c.left, catalogue)?;
    let ty = field.spec.ty;
    if !allowed(ty, field.spec.list, c.op) {
        return Err(error(format!("'{}' operator not supported for {} filters", c.op, ty.name())));
    }
    let rhs_field = |r: FieldRef| -> Result<Test, CompileError> {
        if field.spec.no_rhs || r.spec.no_rhs || matches!(c.op, Operator::PMatch | Operator::Regex)
        {
            return Err(error(format!(
                "field '{}' cannot be compared with another field here",
                field.name
            )));
        }
        if r.spec.ty != ty || r.spec.list != field.spec.list {
            return Err(error(format!(
                "field '{}' has type '{}' while the right-hand side field '{}' has incompatible \
                type '{}'",
                field.name,
                ty.name(),
                r.name,
                r.spec.ty.name()
            )));
        }
        Ok(Test::Field(c.op, Box::new(r)))
    };
    let test = match (&c.right, c.modifier) {
        (Rhs::Val { field: f, arg, .. }, _) => {
            if arg.is_some() {
                return Err(error("a field argument after val() is not allowed"));
            }
            rhs_field(field_ref(&Operand::Field(f.clone()), catalogue)?)?
        }
        (Rhs::Transformer(t), _) => {
            rhs_field(field_ref(&Operand::Transformer(t.clone()), catalogue)?)?
        }
        (Rhs::List(list), Some(Modifier::AnyOf))
            if matches!(c.op, Operator::Contains | Operator::IContains)
                && ty != FieldType::Bytes =>
        {
            let needles: Vec<&str> = list.items.iter().map(|v| v.text.as_str()).collect();
            let ac = aho_corasick::AhoCorasick::builder()
                .ascii_case_insensitive(c.op == Operator::IContains)
                .build(&needles)
                .map_err(|e| error(format!("cannot build the literal matcher: {e}")))?;
            Test::ContainsAny(Box::new(ac))
        }
        (Rhs::List(list), Some(m)) => {
            let tests = list
                .items
                .iter()
                .map(|v| single(c.op, v, &field, catalogue))
                .collect::<Result<_, _>>()?;
            Test::Each(m, tests)
        }
        (Rhs::Value(v), Some(m)) => Test::Each(m, vec![single(c.op, v, &field, catalogue)?]),
        (Rhs::List(list), None) => list_test(c.op, &list.items, &field, catalogue)?,
        (Rhs::Value(v), None)
            if matches!(c.op, Operator::In | Operator::Intersects | Operator::PMatch) =>
        {
            list_test(c.op, std::slice::from_ref(v), &field, catalogue)?
        }
        (Rhs::Value(v), None) => single(c.op, v, &field, catalogue)?,
    };
    Ok(Check { field, test })
}

fn list_test(
    op: Operator,
    items: &[Value],
    field: &FieldRef,
    catalogue: &dyn Catalogue,
) -> Result<Test, CompileError> {
    if op == Operator::PMatch {
        let paths = items.iter().map(|v| split_path(v.text.as_bytes())).collect();
        return Ok(Test::PMatch(paths));
    }
    let mut set = LiteralSet::default();
    for v in items {
        match literal(&v.text, field, catalogue)? {
            Literal::Bytes(b) => {
                set.bytes.insert(b);
            }
            other => set.others.push(other),
        }
    }
    Ok(if op == Operator::In { Test::In(Box::new(set)) } else { Test::Intersects(Box::new(set)) })
}

/// The components of a path for `pmatch` (empty ones dropped).
pub fn split_path(path: &[u8]) -> Vec<Vec<u8>> {
    path.split(|&b| b == b'/').filter(|c| !c.is_empty()).map(<[u8]>::to_vec).collect()
}

fn single(
    op: Operator,
    v: &Value,
    field: &FieldRef,
    catalogue: &dyn Catalogue,
) -> Result<Test, CompileError> {
    let text = v.text.as_bytes().to_vec();
    Ok(match op {
        Operator::Eq | Operator::EqEq => Test::Eq(literal(&v.text, field, catalogue)?),
        Operator::Ne => Test::Ne(literal(&v.text, field, catalogue)?),
        Operator::Lt => Test::Lt(literal(&v.text, field, catalogue)?),
        Operator::Le => Test::Le(literal(&v.text, field, catalogue)?),
        Operator::Gt => Test::Gt(literal(&v.text, field, catalogue)?),
        Operator::Ge => Test::Ge(literal(&v.text, field, catalogue)?),
        Operator::Contains => Test::Contains(text),
        Operator::IContains => Test::IContains(text.to_ascii_lowercase()),
        Operator::StartsWith => Test::StartsWith(text),
        Operator::EndsWith => Test::EndsWith(text),
        Operator::BContains => Test::Contains(hex(&v.text)?),
        Operator::BStartsWith => Test::StartsWith(hex(&v.text)?),
        Operator::Glob => Test::Glob(text),
        Operator::IGlob => Test::IGlob(text.to_ascii_lowercase()),
        Operator::Regex => {
            let re = regex::bytes::Regex::new(&format!("^(?:{})$", re2_braces(&v.text)))
                .map_err(|e| error(format!("invalid regex pattern: {e}")))?;
            Test::Regex(Box::new(re))
        }
        Operator::In | Operator::Intersects | Operator::PMatch => {
            list_test(op, std::slice::from_ref(v), field, catalogue)?
        }
    })
}

/// RE2 reads a `{` that does not start a repetition (`{2`, `{x}`) as a literal brace; the
/// regex crate refuses it. Escaping such braces gives RE2's meaning.
fn re2_braces(pattern: &str) -> String {
    let bytes = pattern.as_bytes();
    let mut out = String::with_capacity(pattern.len());
    let mut escaped = false;
    for (i, c) in pattern.char_indices() {
        if c == '{' && !escaped && !is_repetition(&bytes[i + 1..]) {
            out.push_str("\\{");
        } else {
            out.push(c);
        }
        escaped = c == '\\' && !escaped;
    }
    out
}

/// `n}`, `n,}` or `n,m}` at the start of `rest`.
fn is_repetition(rest: &[u8]) -> bool {
    let digits = |s: &[u8]| s.iter().take_while(|b| b.is_ascii_digit()).count();
    let n = digits(rest);
    if n == 0 {
        return false;
    }
    match rest.get(n) {
        Some(b'}') => true,
        Some(b',') => {
            let m = digits(&rest[n + 1..]);
            rest.get(n + 1 + m) == Some(&b'}')
        }
        _ => false,
    }
}

fn hex(text: &str) -> Result<Vec<u8>, CompileError> {
    let bad = || error(format!("bcontains/bstartswith value '{text}' is not a hex string"));
    if !text.len().is_multiple_of(2) {
        return Err(bad());
    }
    (0..text.len())
        .step_by(2)
        .map(|i| text.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()).ok_or_else(bad))
        .collect()
}

/// Decimal only, optional sign, nothing after: Falco's `%d%c` rule.
fn decimal(text: &str) -> Option<i128> {
    let t = text.trim_start();
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse::<i128>().ok()
}

/// Well-known service names for port fields (the ones rules use; `/etc/services` names).
fn service_port(name: &str) -> Option<u64> {
    Some(match name {
        "ftp" => 21,
        "ssh" => 22,
        "telnet" => 23,
        "smtp" => 25,
        "domain" => 53,
        "http" => 80,
        "pop3" => 110,
        "ntp" => 123,
        "imap" | "imap2" => 143,
        "snmp" => 161,
        "ldap" => 389,
        "https" => 443,
        "microsoft-ds" => 445,
        "syslog" => 514,
        "ldaps" => 636,
        "imaps" => 993,
        "pop3s" => 995,
        "mysql" => 3306,
        "postgresql" => 5432,
        _ => return None,
    })
}

/// Converts a literal by the (transformed) field's type.
fn literal(
    text: &str,
    field: &FieldRef,
    catalogue: &dyn Catalogue,
) -> Result<Literal, CompileError> {
    let not_number = || error(format!("{text} is not a valid number"));
    Ok(match field.spec.ty {
        FieldType::Int => Literal::Int(decimal(text).ok_or_else(not_number)? as i64),
        FieldType::Uint => Literal::Uint(decimal(text).ok_or_else(not_number)? as u64),
        FieldType::Port => match decimal(text) {
            Some(n) => Literal::Uint(n as u64),
            None => Literal::Uint(
                service_port(text).ok_or_else(|| error(format!("unrecognized protocol {text}")))?,
            ),
        },
        FieldType::Bool => match text {
            "true" => Literal::Bool(true),
            "false" => Literal::Bool(false),
            _ => return Err(error(format!("unrecognized boolean value {text}"))),
        },
        FieldType::Str | FieldType::Bytes => {
            if field.name == "evt.type" && !catalogue.is_event_type(text) {
                return Err(CompileError {
                    message: format!("unknown event type {text}"),
                    unknown: true,
                });
            }
            Literal::Bytes(text.as_bytes().to_vec())
        }
        FieldType::Ip => {
            Literal::Ip(text.parse().map_err(|_| error(format!("unrecognized IP address {text}")))?)
        }
        FieldType::Net => {
            let (addr, len) = text
                .split_once('/')
                .ok_or_else(|| error(format!("unrecognized IP network {text}")))?;
            let addr: IpAddr =
                addr.parse().map_err(|_| error(format!("unrecognized IP network {text}")))?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let len: u8 = len
                .parse()
                .ok()
                .filter(|l| *l <= max)
                .ok_or_else(|| error(format!("unrecognized IP network {text}")))?;
            Literal::Net(addr, len)
        }
    })
}
