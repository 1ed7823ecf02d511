//! Findings, events and spans as Parquet, for SQL engines (DuckDB, pyarrow, Spark).
//!
//! Findings: one row per finding, with the event's process, user and container resolved at the
//! moment the rule matched, and where the event came from (capture digest, block, event
//! number).
//! `output_fields` is a struct with one typed child per field any enabled rule's output names
//! (plus `evt.time`), so every row of a file has the same shape. Lists are standard 3-level
//! Parquet lists (`list` / `element`) and there are no maps: what every engine reads alike.
//! The schema is `docs/parquet.md`; its name and version are in the file's key-value metadata
//! (`dredge.schema`).

use std::fs::File;
use std::path::Path;
use std::sync::{Arc, LazyLock};

use arrow_array::builder::{
    BooleanBuilder, Int64Builder, ListBuilder, StringBuilder, TimestampNanosecondBuilder,
    UInt32Builder, UInt64Builder,
};
use arrow_array::{
    ArrayRef, BooleanArray, Int64Array, ListArray, RecordBatch, StringArray, StructArray,
    TimestampNanosecondArray, UInt32Array, UInt64Array,
};
use arrow_buffer::{OffsetBuffer, ScalarBuffer};
use arrow_schema::{ArrowError, DataType, Field, Fields, Schema, TimeUnit};
use dredge_rules::alert::value_text;
use dredge_rules::catalogue::fields as catalogue;
use dredge_rules::compile::{Catalogue, FieldRef, FieldType};
use dredge_rules::eval::{Extracted, Fields as EventValues, Val};
use dredge_rules::output::Piece;
use dredge_rules::ruleset::{Rule, Ruleset};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use serde_json::Value;

/// The schema's name and version, in the file's metadata under `dredge.schema`.
pub const FINDINGS_SCHEMA: &str = "dredge.findings/1";

/// Rows per record batch (and so the most a writer holds before flushing).
const BATCH_ROWS: usize = 65_536;

/// How a child of `output_fields` is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Int,
    Uint,
    Bool,
    Text,
    /// List fields (`proc.args`) and un-indexed ancestor fields (`proc.aname`).
    List,
    /// `evt.time`: nanoseconds, UTC.
    Time,
}

/// One child of the `output_fields` struct: the field as an output names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputColumn {
    pub key: String,
    pub ty: ColumnType,
}

/// The children of `output_fields` for the enabled rules of `ruleset`: `evt.time`, then every
/// field their outputs name, in first-seen order.
pub fn output_columns(ruleset: &Ruleset) -> Vec<OutputColumn> {
    let mut columns = vec![OutputColumn { key: "evt.time".into(), ty: ColumnType::Time }];
    for rule in ruleset.enabled() {
        for piece in &rule.output {
            let Piece::Field { name, arg, spec, .. } = piece else { continue };
            let key = match arg {
                Some(a) => format!("{name}[{a}]"),
                None => name.clone(),
            };
            if columns.iter().any(|c| c.key == key) {
                continue;
            }
            let ty = if spec.list || spec.any_of {
                ColumnType::List
            } else {
                match spec.ty {
                    FieldType::Int => ColumnType::Int,
                    FieldType::Uint | FieldType::Port => ColumnType::Uint,
                    FieldType::Bool => ColumnType::Bool,
                    _ => ColumnType::Text,
                }
            };
            columns.push(OutputColumn { key, ty });
        }
    }
    columns
}

/// A finding with its context, ready to become a row.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Finding {
    pub time_ns: u64,
    pub rule: String,
    pub priority: String,
    pub source: String,
    pub tags: Vec<String>,
    /// The alert's text line, as `replay` prints it.
    pub output: String,
    /// The output's fields with their typed values (as in Falco's JSON `output_fields`).
    pub output_fields: Vec<(String, Value)>,
    pub hostname: String,
    pub container_id: Option<String>,
    pub container_name: Option<String>,
    pub container_image: Option<String>,
    pub k8s_pod_name: Option<String>,
    pub k8s_ns_name: Option<String>,
    pub proc_name: Option<String>,
    pub proc_pid: Option<i64>,
    pub proc_ppid: Option<i64>,
    pub proc_exepath: Option<String>,
    pub proc_cmdline: Option<String>,
    /// Parent first, up to the oldest ancestor the state knows.
    pub proc_ancestors: Vec<String>,
    pub user_name: Option<String>,
    pub evt_type: String,
    /// Hex SHA-256 from the capture's footer; absent for captures without one.
    pub capture_digest: Option<String>,
    /// Sequence number of the event block holding the event.
    pub block: Option<u32>,
    /// The event's ordinal in its capture, from 0 (`evt.num` minus one).
    pub event: u64,
}

/// The context fields every finding carries, resolved once.
struct ContextFields {
    container_id: Option<FieldRef>,
    container_name: Option<FieldRef>,
    container_image: Option<FieldRef>,
    k8s_pod_name: Option<FieldRef>,
    k8s_ns_name: Option<FieldRef>,
    proc_name: Option<FieldRef>,
    proc_pid: Option<FieldRef>,
    proc_ppid: Option<FieldRef>,
    proc_exepath: Option<FieldRef>,
    proc_cmdline: Option<FieldRef>,
    proc_aname: Option<FieldRef>,
    user_name: Option<FieldRef>,
    evt_type: Option<FieldRef>,
}

fn field_ref(name: &str) -> Option<FieldRef> {
    let spec = catalogue().field(name, None).ok()?;
    Some(FieldRef {
        name: name.to_string(),
        arg: None,
        spec,
        transformers: Vec::new(),
        composite: None,
    })
}

static CONTEXT: LazyLock<ContextFields> = LazyLock::new(|| ContextFields {
    container_id: field_ref("container.id"),
    container_name: field_ref("container.name"),
    container_image: field_ref("container.image"),
    k8s_pod_name: field_ref("k8s.pod.name"),
    k8s_ns_name: field_ref("k8s.ns.name"),
    proc_name: field_ref("proc.name"),
    proc_pid: field_ref("proc.pid"),
    proc_ppid: field_ref("proc.ppid"),
    proc_exepath: field_ref("proc.exepath"),
    proc_cmdline: field_ref("proc.cmdline"),
    proc_aname: field_ref("proc.aname"),
    user_name: field_ref("user.name"),
    evt_type: field_ref("evt.type"),
});

fn text(values: &dyn EventValues, field: &Option<FieldRef>) -> Option<String> {
    match values.extract(field.as_ref()?) {
        Extracted::One(v) => Some(value_text(&v)),
        _ => None,
    }
}

fn number(values: &dyn EventValues, field: &Option<FieldRef>) -> Option<i64> {
    text(values, field)?.parse().ok()
}

impl Finding {
    /// The finding for `rule` matching the event behind `values`; `output` is the alert's text
    /// line, `output_fields` its typed values. Provenance (`hostname`, `capture_digest`,
    /// `block`, `event`) is the caller's to fill.
    pub fn new(
        rule: &Rule,
        time_ns: u64,
        values: &dyn EventValues,
        output: String,
        output_fields: Vec<(String, Value)>,
    ) -> Finding {
        let c = &*CONTEXT;
        let proc_ancestors = match c.proc_aname.as_ref().map(|f| values.extract(f)) {
            Some(Extracted::Many(vs)) => vs.iter().map(value_text).collect(),
            Some(Extracted::One(v)) => vec![value_text(&v)],
            _ => Vec::new(),
        };
        Finding {
            time_ns,
            rule: rule.def.name.clone(),
            priority: rule.def.priority.name().to_string(),
            source: rule.def.source.clone(),
            tags: rule.def.tags.iter().cloned().collect(),
            output,
            output_fields,
            container_id: text(values, &c.container_id),
            container_name: text(values, &c.container_name),
            container_image: text(values, &c.container_image),
            k8s_pod_name: text(values, &c.k8s_pod_name),
            k8s_ns_name: text(values, &c.k8s_ns_name),
            proc_name: text(values, &c.proc_name),
            proc_pid: number(values, &c.proc_pid),
            proc_ppid: number(values, &c.proc_ppid),
            proc_exepath: text(values, &c.proc_exepath),
            proc_cmdline: text(values, &c.proc_cmdline),
            proc_ancestors,
            user_name: text(values, &c.user_name),
            evt_type: text(values, &c.evt_type).unwrap_or_default(),
            ..Finding::default()
        }
    }
}

fn utc_ns() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
}

/// The element of every list column, named as the Parquet spec and Spark name it.
fn list_item() -> Arc<Field> {
    Arc::new(Field::new("element", DataType::Utf8, true))
}

fn string_list() -> DataType {
    DataType::List(list_item())
}

fn output_struct(columns: &[OutputColumn]) -> Fields {
    columns.iter().map(|c| Field::new(&c.key, column_type(c.ty), true)).collect()
}

/// The Arrow schema of a findings file whose `output_fields` has `columns`.
pub fn findings_schema(columns: &[OutputColumn]) -> Schema {
    let s = |name: &str| Field::new(name, DataType::Utf8, true);
    let i = |name: &str| Field::new(name, DataType::Int64, true);
    Schema::new(vec![
        Field::new("time", utc_ns(), false),
        Field::new("rule", DataType::Utf8, false),
        Field::new("priority", DataType::Utf8, false),
        Field::new("source", DataType::Utf8, false),
        Field::new("tags", string_list(), false),
        Field::new("output", DataType::Utf8, false),
        Field::new("output_fields", DataType::Struct(output_struct(columns)), false),
        Field::new("hostname", DataType::Utf8, false),
        s("container_id"),
        s("container_name"),
        s("container_image"),
        s("k8s_pod_name"),
        s("k8s_ns_name"),
        s("proc_name"),
        i("proc_pid"),
        i("proc_ppid"),
        s("proc_exepath"),
        s("proc_cmdline"),
        Field::new("proc_ancestors", string_list(), false),
        s("user_name"),
        Field::new("evt_type", DataType::Utf8, false),
        s("capture_digest"),
        Field::new("block", DataType::UInt32, true),
        Field::new("event", DataType::UInt64, false),
    ])
    .with_metadata([("dredge.schema".to_string(), FINDINGS_SCHEMA.to_string())].into())
}

fn list_array<'a>(rows: impl Iterator<Item = Option<&'a [String]>>) -> ArrayRef {
    let mut b = ListBuilder::new(StringBuilder::new()).with_field(list_item());
    for row in rows {
        match row {
            Some(items) => {
                for item in items {
                    b.values().append_value(item);
                }
                b.append(true);
            }
            None => b.append(false),
        }
    }
    Arc::new(b.finish())
}

/// The text of a JSON value as a list item or text column (strings without quotes).
fn json_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn output_child(column: &OutputColumn, rows: &[Finding]) -> ArrayRef {
    let value = |f: &Finding| -> Option<Value> {
        if column.ty == ColumnType::Time {
            return Some(Value::from(f.time_ns));
        }
        f.output_fields.iter().find(|(k, _)| *k == column.key).map(|(_, v)| v.clone())
    };
    match column.ty {
        ColumnType::Int => Arc::new(Int64Array::from_iter(rows.iter().map(|f| {
            let v = value(f)?;
            v.as_i64().or_else(|| json_text(&v).parse().ok())
        }))),
        ColumnType::Uint => Arc::new(UInt64Array::from_iter(rows.iter().map(|f| {
            let v = value(f)?;
            v.as_u64().or_else(|| json_text(&v).parse().ok())
        }))),
        ColumnType::Bool => {
            Arc::new(BooleanArray::from_iter(rows.iter().map(|f| value(f)?.as_bool())))
        }
        ColumnType::Text => Arc::new(StringArray::from_iter(rows.iter().map(|f| {
            let v = value(f)?;
            (!v.is_null()).then(|| json_text(&v))
        }))),
        ColumnType::List => {
            let lists: Vec<Option<Vec<String>>> = rows
                .iter()
                .map(|f| match value(f)? {
                    Value::Null => None,
                    Value::Array(items) => Some(items.iter().map(json_text).collect()),
                    one => Some(vec![json_text(&one)]),
                })
                .collect();
            list_array(lists.iter().map(|l| l.as_deref()))
        }
        ColumnType::Time => Arc::new(
            TimestampNanosecondArray::from_iter_values(rows.iter().map(|f| f.time_ns as i64))
                .with_timezone("UTC"),
        ),
    }
}

fn batch(
    schema: &Arc<Schema>,
    columns: &[OutputColumn],
    rows: &[Finding],
) -> Result<RecordBatch, arrow_schema::ArrowError> {
    let strs = |get: fn(&Finding) -> Option<&str>| -> ArrayRef {
        Arc::new(StringArray::from_iter(rows.iter().map(get)))
    };
    let ints = |get: fn(&Finding) -> Option<i64>| -> ArrayRef {
        Arc::new(Int64Array::from_iter(rows.iter().map(get)))
    };
    let times: ArrayRef = Arc::new(
        TimestampNanosecondArray::from_iter_values(rows.iter().map(|f| f.time_ns as i64))
            .with_timezone("UTC"),
    );
    let children: Vec<ArrayRef> = columns.iter().map(|c| output_child(c, rows)).collect();
    let output_fields: ArrayRef =
        Arc::new(StructArray::try_new(output_struct(columns), children, None)?);
    RecordBatch::try_new(
        schema.clone(),
        vec![
            times,
            strs(|f| Some(&f.rule)),
            strs(|f| Some(&f.priority)),
            strs(|f| Some(&f.source)),
            list_array(rows.iter().map(|f| Some(f.tags.as_slice()))),
            strs(|f| Some(&f.output)),
            output_fields,
            strs(|f| Some(&f.hostname)),
            strs(|f| f.container_id.as_deref()),
            strs(|f| f.container_name.as_deref()),
            strs(|f| f.container_image.as_deref()),
            strs(|f| f.k8s_pod_name.as_deref()),
            strs(|f| f.k8s_ns_name.as_deref()),
            strs(|f| f.proc_name.as_deref()),
            ints(|f| f.proc_pid),
            ints(|f| f.proc_ppid),
            strs(|f| f.proc_exepath.as_deref()),
            strs(|f| f.proc_cmdline.as_deref()),
            list_array(rows.iter().map(|f| Some(f.proc_ancestors.as_slice()))),
            strs(|f| f.user_name.as_deref()),
            strs(|f| Some(&f.evt_type)),
            strs(|f| f.capture_digest.as_deref()),
            Arc::new(UInt32Array::from_iter(rows.iter().map(|f| f.block))),
            Arc::new(UInt64Array::from_iter_values(rows.iter().map(|f| f.event))),
        ],
    )
}

/// Writes `findings` to `path` (zstd-compressed Parquet, schema [`findings_schema`]).
pub fn write_findings(
    path: &Path,
    columns: &[OutputColumn],
    findings: &[Finding],
) -> Result<(), parquet::errors::ParquetError> {
    let schema = Arc::new(findings_schema(columns));
    let props = writer_properties(FINDINGS_SCHEMA)?;
    let file = File::create(path)?;
    let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(props))?;
    for rows in findings.chunks(BATCH_ROWS) {
        writer.write(&batch(&schema, columns, rows)?)?;
    }
    writer.close()?;
    Ok(())
}

/// The events schema's name and version, in the file's metadata under `dredge.schema`.
pub const EVENTS_SCHEMA: &str = "dredge.events/1";

/// The columns of an events file: column name, the field it holds, how it is stored. A
/// `block` column (uint32) follows them.
pub const EVENT_COLUMNS: &[(&str, &str, ColumnType)] = &[
    ("time", "evt.rawtime", ColumnType::Time),
    ("evt_num", "evt.num", ColumnType::Uint),
    ("evt_cpu", "evt.cpu", ColumnType::Int),
    ("evt_type", "evt.type", ColumnType::Text),
    ("evt_dir", "evt.dir", ColumnType::Text),
    ("evt_res", "evt.res", ColumnType::Text),
    ("evt_rawres", "evt.rawres", ColumnType::Int),
    ("evt_args", "evt.args", ColumnType::Text),
    ("thread_tid", "thread.tid", ColumnType::Int),
    ("proc_pid", "proc.pid", ColumnType::Int),
    ("proc_ppid", "proc.ppid", ColumnType::Int),
    ("proc_name", "proc.name", ColumnType::Text),
    ("proc_exepath", "proc.exepath", ColumnType::Text),
    ("proc_cmdline", "proc.cmdline", ColumnType::Text),
    ("proc_ancestors", "proc.aname", ColumnType::List),
    ("user_name", "user.name", ColumnType::Text),
    ("user_uid", "user.uid", ColumnType::Uint),
    ("container_id", "container.id", ColumnType::Text),
    ("container_name", "container.name", ColumnType::Text),
    ("container_image", "container.image", ColumnType::Text),
    ("k8s_pod_name", "k8s.pod.name", ColumnType::Text),
    ("k8s_ns_name", "k8s.ns.name", ColumnType::Text),
    ("fd_num", "fd.num", ColumnType::Int),
    ("fd_type", "fd.type", ColumnType::Text),
    ("fd_name", "fd.name", ColumnType::Text),
    ("fd_l4proto", "fd.l4proto", ColumnType::Text),
    ("fd_cip", "fd.cip", ColumnType::Text),
    ("fd_cport", "fd.cport", ColumnType::Uint),
    ("fd_sip", "fd.sip", ColumnType::Text),
    ("fd_sport", "fd.sport", ColumnType::Uint),
];

/// One column being filled.
enum ColumnBuilder {
    Int(Int64Builder),
    Uint(UInt64Builder),
    Bool(BooleanBuilder),
    Text(StringBuilder),
    List(ListBuilder<StringBuilder>),
    Time(TimestampNanosecondBuilder),
}

impl ColumnBuilder {
    fn new(ty: ColumnType) -> ColumnBuilder {
        match ty {
            ColumnType::Int => ColumnBuilder::Int(Int64Builder::new()),
            ColumnType::Uint => ColumnBuilder::Uint(UInt64Builder::new()),
            ColumnType::Bool => ColumnBuilder::Bool(BooleanBuilder::new()),
            ColumnType::Text => ColumnBuilder::Text(StringBuilder::new()),
            ColumnType::List => {
                ColumnBuilder::List(ListBuilder::new(StringBuilder::new()).with_field(list_item()))
            }
            ColumnType::Time => {
                ColumnBuilder::Time(TimestampNanosecondBuilder::new().with_timezone("UTC"))
            }
        }
    }

    /// Appends a field's values: numbers as numbers, everything else as its output text.
    fn append(&mut self, values: Extracted<'_>) {
        let unsigned = |v: &Val<'_>| match v {
            Val::Uint(u) => Some(*u),
            Val::Int(i) => u64::try_from(*i).ok(),
            _ => None,
        };
        let signed = |v: &Val<'_>| match v {
            Val::Int(i) => Some(*i),
            Val::Uint(u) => i64::try_from(*u).ok(),
            _ => None,
        };
        let one = match &values {
            Extracted::One(v) => Some(v),
            _ => None,
        };
        match self {
            ColumnBuilder::Int(b) => b.append_option(one.and_then(signed)),
            ColumnBuilder::Uint(b) => b.append_option(one.and_then(unsigned)),
            ColumnBuilder::Time(b) => {
                b.append_option(one.and_then(unsigned).and_then(|u| i64::try_from(u).ok()))
            }
            ColumnBuilder::Bool(b) => b.append_option(one.and_then(|v| match v {
                Val::Bool(x) => Some(*x),
                _ => None,
            })),
            ColumnBuilder::Text(b) => match &values {
                Extracted::Missing => b.append_null(),
                Extracted::One(v) => b.append_value(value_text(v)),
                Extracted::Many(vs) => {
                    b.append_value(vs.iter().map(value_text).collect::<Vec<_>>().join(" "))
                }
            },
            ColumnBuilder::List(b) => match values {
                Extracted::Missing => b.append(false),
                Extracted::One(v) => {
                    b.values().append_value(value_text(&v));
                    b.append(true);
                }
                Extracted::Many(vs) => {
                    for v in &vs {
                        b.values().append_value(value_text(v));
                    }
                    b.append(true);
                }
            },
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            ColumnBuilder::Int(b) => Arc::new(b.finish()),
            ColumnBuilder::Uint(b) => Arc::new(b.finish()),
            ColumnBuilder::Bool(b) => Arc::new(b.finish()),
            ColumnBuilder::Text(b) => Arc::new(b.finish()),
            ColumnBuilder::List(b) => Arc::new(b.finish()),
            ColumnBuilder::Time(b) => Arc::new(b.finish()),
        }
    }
}

fn column_type(ty: ColumnType) -> DataType {
    match ty {
        ColumnType::Int => DataType::Int64,
        ColumnType::Uint => DataType::UInt64,
        ColumnType::Bool => DataType::Boolean,
        ColumnType::Text => DataType::Utf8,
        ColumnType::List => string_list(),
        ColumnType::Time => utc_ns(),
    }
}

/// The Arrow schema of an events file.
pub fn events_schema() -> Schema {
    let mut fields: Vec<Field> = EVENT_COLUMNS
        .iter()
        .map(|(name, _, ty)| Field::new(*name, column_type(*ty), true))
        .collect();
    fields.push(Field::new("block", DataType::UInt32, false));
    Schema::new(fields)
        .with_metadata([("dredge.schema".to_string(), EVENTS_SCHEMA.to_string())].into())
}

fn writer_properties(schema_name: &str) -> Result<WriterProperties, parquet::errors::ParquetError> {
    Ok(WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
        .set_key_value_metadata(Some(vec![KeyValue::new(
            "dredge.schema".to_string(),
            schema_name.to_string(),
        )]))
        .build())
}

/// Streams events to a Parquet file (schema [`events_schema`]), a record batch at a time.
pub struct EventsWriter {
    writer: ArrowWriter<File>,
    schema: Arc<Schema>,
    fields: Vec<Option<FieldRef>>,
    columns: Vec<ColumnBuilder>,
    blocks: UInt32Builder,
    pending: usize,
    rows: u64,
}

impl EventsWriter {
    pub fn create(path: &Path) -> Result<EventsWriter, parquet::errors::ParquetError> {
        let schema = Arc::new(events_schema());
        let writer = ArrowWriter::try_new(
            File::create(path)?,
            schema.clone(),
            Some(writer_properties(EVENTS_SCHEMA)?),
        )?;
        Ok(EventsWriter {
            writer,
            schema,
            fields: EVENT_COLUMNS.iter().map(|(_, field, _)| field_ref(field)).collect(),
            columns: EVENT_COLUMNS.iter().map(|(_, _, ty)| ColumnBuilder::new(*ty)).collect(),
            blocks: UInt32Builder::new(),
            pending: 0,
            rows: 0,
        })
    }

    /// Adds the event behind `values`, from event block `block`.
    pub fn push(
        &mut self,
        block: u32,
        values: &dyn EventValues,
    ) -> Result<(), parquet::errors::ParquetError> {
        for (field, column) in self.fields.iter().zip(&mut self.columns) {
            let extracted = field.as_ref().map_or(Extracted::Missing, |f| values.extract(f));
            column.append(extracted);
        }
        self.blocks.append_value(block);
        self.pending += 1;
        if self.pending == BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), parquet::errors::ParquetError> {
        let mut arrays: Vec<ArrayRef> = self.columns.iter_mut().map(|c| c.finish()).collect();
        arrays.push(Arc::new(self.blocks.finish()));
        self.writer.write(&RecordBatch::try_new(self.schema.clone(), arrays)?)?;
        self.rows += self.pending as u64;
        self.pending = 0;
        Ok(())
    }

    /// Writes what is pending and the file's footer; returns the number of rows.
    pub fn finish(mut self) -> Result<u64, parquet::errors::ParquetError> {
        if self.pending > 0 {
            self.flush()?;
        }
        self.writer.close()?;
        Ok(self.rows)
    }
}

/// The spans schema's name and version, in the file's metadata under `dredge.schema`.
pub const SPANS_SCHEMA: &str = "dredge.spans/1";

/// One span (see [`crate::spans`]), ready to become a row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpanRow {
    /// Its number: spans are numbered in the order they were opened.
    pub span: u32,
    pub parent: Option<u32>,
    pub id: i64,
    pub tags: Vec<String>,
    pub enter_args: Vec<(String, String)>,
    pub exit_args: Vec<(String, String)>,
    /// Enter and exit times, ns since the epoch; `None` for a side never seen.
    pub start_ns: Option<u64>,
    pub end_ns: Option<u64>,
    /// The thread that opened it (or closed it, for an exit without an enter), its process and
    /// container.
    pub tid: i64,
    pub pid: Option<i64>,
    pub proc_name: Option<String>,
    pub container_id: Option<String>,
    pub container_name: Option<String>,
}

/// The Arrow schema of a spans file.
pub fn spans_schema() -> Schema {
    let s = |name: &str| Field::new(name, DataType::Utf8, true);
    Schema::new(vec![
        Field::new("span", DataType::UInt32, false),
        Field::new("parent", DataType::UInt32, true),
        Field::new("id", DataType::Int64, false),
        Field::new("tags", string_list(), false),
        Field::new("path", DataType::Utf8, false),
        Field::new("enter_args", pair_list(), false),
        Field::new("exit_args", pair_list(), false),
        Field::new("start", utc_ns(), true),
        Field::new("end", utc_ns(), true),
        Field::new("duration_ns", DataType::UInt64, true),
        Field::new("state", DataType::Utf8, false),
        Field::new("tid", DataType::Int64, false),
        Field::new("pid", DataType::Int64, true),
        s("proc_name"),
        s("container_id"),
        s("container_name"),
    ])
    .with_metadata([("dredge.schema".to_string(), SPANS_SCHEMA.to_string())].into())
}

/// The children of an argument: its name and value.
fn pair_fields() -> Fields {
    Fields::from(vec![
        Field::new("name", DataType::Utf8, false),
        Field::new("value", DataType::Utf8, false),
    ])
}

/// A list of (name, value) structs.
fn pair_list() -> DataType {
    DataType::List(Arc::new(Field::new("element", DataType::Struct(pair_fields()), false)))
}

fn pair_array<'a>(rows: impl Iterator<Item = &'a [(String, String)]>) -> ArrayRef {
    let (mut names, mut values) = (StringBuilder::new(), StringBuilder::new());
    let mut offsets = vec![0i32];
    let mut count = 0;
    for row in rows {
        for (n, v) in row {
            names.append_value(n);
            values.append_value(v);
        }
        count += row.len() as i32;
        offsets.push(count);
    }
    let children: Vec<ArrayRef> = vec![Arc::new(names.finish()), Arc::new(values.finish())];
    let entries = StructArray::new(pair_fields(), children, None);
    let element = Arc::new(Field::new("element", DataType::Struct(pair_fields()), false));
    let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
    Arc::new(ListArray::new(element, offsets, Arc::new(entries), None))
}

fn spans_batch(schema: &Arc<Schema>, rows: &[SpanRow]) -> Result<RecordBatch, ArrowError> {
    let strs = |get: fn(&SpanRow) -> Option<&str>| -> ArrayRef {
        Arc::new(StringArray::from_iter(rows.iter().map(get)))
    };
    let times = |get: fn(&SpanRow) -> Option<u64>| -> ArrayRef {
        let ns = rows.iter().map(|r| get(r).map(|t| t as i64));
        Arc::new(TimestampNanosecondArray::from_iter(ns).with_timezone("UTC"))
    };
    let duration = |r: &SpanRow| Some(r.end_ns?.saturating_sub(r.start_ns?));
    let state = |r: &SpanRow| match (r.start_ns, r.end_ns) {
        (Some(_), Some(_)) => "closed",
        (Some(_), None) => "open",
        _ => "no enter",
    };
    RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(UInt32Array::from_iter_values(rows.iter().map(|r| r.span))),
            Arc::new(UInt32Array::from_iter(rows.iter().map(|r| r.parent))),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.id))),
            list_array(rows.iter().map(|r| Some(r.tags.as_slice()))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.tags.join(".")))),
            pair_array(rows.iter().map(|r| r.enter_args.as_slice())),
            pair_array(rows.iter().map(|r| r.exit_args.as_slice())),
            times(|r| r.start_ns),
            times(|r| r.end_ns),
            Arc::new(UInt64Array::from_iter(rows.iter().map(duration))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(state))),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.tid))),
            Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.pid))),
            strs(|r| r.proc_name.as_deref()),
            strs(|r| r.container_id.as_deref()),
            strs(|r| r.container_name.as_deref()),
        ],
    )
}

/// Writes `spans` to `path` (zstd-compressed Parquet, schema [`spans_schema`]).
pub fn write_spans(path: &Path, spans: &[SpanRow]) -> Result<(), parquet::errors::ParquetError> {
    let schema = Arc::new(spans_schema());
    let mut writer = ArrowWriter::try_new(
        File::create(path)?,
        schema.clone(),
        Some(writer_properties(SPANS_SCHEMA)?),
    )?;
    for rows in spans.chunks(BATCH_ROWS) {
        writer.write(&spans_batch(&schema, rows)?)?;
    }
    writer.close()?;
    Ok(())
}
