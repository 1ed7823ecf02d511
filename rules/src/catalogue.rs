//! The field catalogue: every field a syscall rule or an output format may name.
//!
//! The facts (name, type, print format, flags) are data in `table/fields.tbl`, transcribed
//! from libsinsp and the container plugin; this module reads them once and answers the
//! compiler's questions: does this field exist, what does it compare as, which argument forms
//! does it take. Event-type names come from the capture format's event table.

use std::sync::LazyLock;

use dredge_format::table::table;

use crate::compile::{Catalogue, FieldSpec, FieldType};

/// One field of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDef {
    pub name: &'static str,
    /// The libs type name (`CHARBUF`, `INT64`, ...; `DYNAMIC` for `evt.rawarg`).
    pub type_name: &'static str,
    /// The libs print format (`DEC`, `HEX`, `NA`, ...).
    pub format: &'static str,
    pub flags: Vec<&'static str>,
}

impl FieldDef {
    pub fn has(&self, flag: &str) -> bool {
        self.flags.contains(&flag)
    }
}

/// Fields that compare against every ancestor when written without an index.
const ANCESTOR_FIELDS: [&str; 7] = [
    "proc.aname",
    "proc.apid",
    "proc.aexe",
    "proc.aexepath",
    "proc.acmdline",
    "proc.aargs",
    "proc.aenv",
];

/// The built-in field table.
#[derive(Debug)]
pub struct FieldTable {
    fields: Vec<FieldDef>,
}

static FIELDS: LazyLock<FieldTable> = LazyLock::new(|| {
    #[allow(clippy::expect_used, reason = "compiled-in data, checked by a unit test")]
    FieldTable::parse(include_str!("table/fields.tbl")).expect("the built-in field table parses")
});

/// The built-in catalogue.
pub fn fields() -> &'static FieldTable {
    &FIELDS
}

impl FieldTable {
    fn parse(text: &'static str) -> Result<FieldTable, String> {
        let mut fields = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let cols: Vec<&str> = line.split(' ').collect();
            let [name, type_name, format, flags] = cols[..] else {
                return Err(format!("fields.tbl line {}: {line}", n + 1));
            };
            let flags = if flags == "-" { Vec::new() } else { flags.split(',').collect() };
            fields.push(FieldDef { name, type_name, format, flags });
        }
        Ok(FieldTable { fields })
    }

    pub fn iter(&self) -> impl Iterator<Item = &FieldDef> {
        self.fields.iter()
    }

    pub fn get(&self, id: u32) -> Option<&FieldDef> {
        self.fields.get(id as usize)
    }

    /// Finds `name` exactly, or as a field with a dotted argument (`evt.arg.flags`): the
    /// field, its number and the argument from the name.
    pub fn find<'n>(&self, name: &'n str) -> Option<(u32, &FieldDef, Option<&'n str>)> {
        if let Some(i) = self.fields.iter().position(|f| f.name == name) {
            return Some((i as u32, &self.fields[i], None));
        }
        self.fields
            .iter()
            .enumerate()
            .filter(|(_, f)| f.has("arg_dotted"))
            .filter_map(|(i, f)| {
                let rest = name.strip_prefix(f.name)?.strip_prefix('.')?;
                (!rest.is_empty()).then_some((i as u32, f, Some(rest)))
            })
            .max_by_key(|(_, f, _)| f.name.len())
    }
}

/// The comparison type of `evt.rawarg.NAME`: the type of the first event parameter so named.
fn rawarg_type(param: &str) -> Option<FieldType> {
    table()
        .iter()
        .flat_map(|e| e.params.iter())
        .find(|p| p.name == param)
        .and_then(|p| FieldType::from_name(p.kind.name()))
}

impl Catalogue for FieldTable {
    fn field(&self, name: &str, arg: Option<&str>) -> Result<FieldSpec, String> {
        let missing = || format!("filter_check called with nonexistent field {name}");
        let (id, def, dotted) = self.find(name).ok_or_else(missing)?;
        let arg = arg.or(dotted);
        let takes_arg = def.has("arg_required") || def.has("arg_allowed");
        match arg {
            None if def.has("arg_required") => {
                return Err(format!("filter {name} requires an argument"));
            }
            Some(_) if !takes_arg => return Err(missing()),
            Some(a)
                if def.has("arg_index")
                    && !def.has("arg_key")
                    && !def.has("arg_dotted")
                    && a.parse::<u32>().is_err()
                    && !(def.has("arg_negative") && a.parse::<i32>().is_ok()) =>
            {
                return Err(format!("filter {name}: argument '{a}' is not a number"));
            }
            _ => {}
        }
        let ty = if def.type_name == "DYNAMIC" {
            let param = arg.unwrap_or_default();
            rawarg_type(param)
                .ok_or_else(|| format!("no event has a parameter called '{param}'"))?
        } else {
            FieldType::from_name(def.type_name)
                .ok_or_else(|| format!("field {name} has an unsupported type {}", def.type_name))?
        };
        Ok(FieldSpec {
            id,
            ty,
            list: def.has("list"),
            any_of: arg.is_none() && ANCESTOR_FIELDS.contains(&def.name),
            no_rhs: def.has("no_rhs"),
            no_transformer: def.has("no_transformer"),
        })
    }

    fn is_event_type(&self, name: &str) -> bool {
        let t = table();
        t.iter().any(|e| e.name == name)
            || (0..t.len() as u16).any(|i| t.syscall_name(i) == Some(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_table_parses_and_resolves_the_forms() {
        let f = fields();
        assert!(f.iter().count() > 250);
        let spec = f.field("proc.name", None).unwrap();
        assert_eq!(spec.ty, FieldType::Str);
        assert!(f.field("proc.aname", None).unwrap().any_of);
        assert!(!f.field("proc.aname", Some("2")).unwrap().any_of);
        assert_eq!(
            f.find("evt.arg.flags").map(|(_, d, a)| (d.name, a)),
            Some(("evt.arg", Some("flags")))
        );
        assert_eq!(f.field("evt.rawarg.res", None).unwrap().ty, FieldType::Int);
        assert_eq!(f.field("fd.sport", None).unwrap().ty, FieldType::Port);
        assert!(
            f.field("proc.nobody", None).unwrap_err().contains("nonexistent field proc.nobody")
        );
        assert!(f.field("evt.arg", None).is_err());
        assert!(f.is_event_type("openat") && f.is_event_type("madvise"));
        assert!(!f.is_event_type("some_invalid_event"));
    }
}
