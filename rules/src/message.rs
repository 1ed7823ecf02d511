//! Load results: errors and warnings with Falco's codes, each with where it happened.

use std::fmt;

use crate::yaml::Pos;

/// Falco's result codes for rule loading (`LOAD_ERR_*` errors, `LOAD_*` warnings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    ErrFileRead,
    ErrYamlParse,
    ErrYamlValidate,
    ErrCompileCondition,
    ErrCompileOutput,
    ErrValidate,
    ErrExtension,
    UnknownSource,
    UnsafeNaCheck,
    NoEvttype,
    UnknownFilter,
    UnusedMacro,
    UnusedList,
    UnknownItem,
    DeprecatedItem,
    WarningExtension,
    AppendNoValues,
    ExceptionNameNotUnique,
    InvalidMacroName,
    InvalidListName,
    CompileCondition,
    UnknownKey,
}

impl Code {
    /// The name Falco prints (`LOAD_ERR_YAML_PARSE`, `LOAD_UNUSED_MACRO`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Code::ErrFileRead => "LOAD_ERR_FILE_READ",
            Code::ErrYamlParse => "LOAD_ERR_YAML_PARSE",
            Code::ErrYamlValidate => "LOAD_ERR_YAML_VALIDATE",
            Code::ErrCompileCondition => "LOAD_ERR_COMPILE_CONDITION",
            Code::ErrCompileOutput => "LOAD_ERR_COMPILE_OUTPUT",
            Code::ErrValidate => "LOAD_ERR_VALIDATE",
            Code::ErrExtension => "LOAD_ERR_EXTENSION",
            Code::UnknownSource => "LOAD_UNKNOWN_SOURCE",
            Code::UnsafeNaCheck => "LOAD_UNSAFE_NA_CHECK",
            Code::NoEvttype => "LOAD_NO_EVTTYPE",
            Code::UnknownFilter => "LOAD_UNKNOWN_FILTER",
            Code::UnusedMacro => "LOAD_UNUSED_MACRO",
            Code::UnusedList => "LOAD_UNUSED_LIST",
            Code::UnknownItem => "LOAD_UNKNOWN_ITEM",
            Code::DeprecatedItem => "LOAD_DEPRECATED_ITEM",
            Code::WarningExtension => "LOAD_WARNING_EXTENSION",
            Code::AppendNoValues => "LOAD_APPEND_NO_VALUES",
            Code::ExceptionNameNotUnique => "LOAD_EXCEPTION_NAME_NOT_UNIQUE",
            Code::InvalidMacroName => "LOAD_INVALID_MACRO_NAME",
            Code::InvalidListName => "LOAD_INVALID_LIST_NAME",
            Code::CompileCondition => "LOAD_COMPILE_CONDITION",
            Code::UnknownKey => "LOAD_UNKNOWN_KEY",
        }
    }

    pub fn is_error(self) -> bool {
        self.name().starts_with("LOAD_ERR_")
    }
}

/// One step of a message's context, from the file down to the offending value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// Falco's item type: `rules content`, `rule`, `macro condition`, `exception`, ...
    pub item_type: &'static str,
    pub item_name: String,
    pub file: String,
    pub pos: Pos,
}

/// An error or warning from loading rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub code: Code,
    pub text: String,
    /// Outermost first.
    pub locations: Vec<Location>,
    /// The lines of the file around the innermost location.
    pub snippet: String,
}

impl Message {
    /// The innermost location.
    pub fn location(&self) -> Option<&Location> {
        self.locations.last()
    }
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(l) = self.location() {
            write!(f, "{}:{}:{}: ", l.file, l.pos.line, l.pos.column)?;
        }
        let kind = if self.code.is_error() { "error" } else { "warning" };
        write!(f, "{kind} ({}): {}", self.code.name(), self.text)?;
        if let Some(l) = self.location() {
            let name =
                if l.item_name.is_empty() { String::new() } else { format!(" '{}'", l.item_name) };
            write!(f, " (in {}{name})", l.item_type)?;
        }
        Ok(())
    }
}

/// The text around a position: the line it is on, with a caret under the column.
pub fn snippet(text: &str, pos: Pos) -> String {
    let line = text.lines().nth(pos.line.saturating_sub(1)).unwrap_or("");
    let caret = " ".repeat(pos.column.saturating_sub(1));
    format!("{line}\n{caret}^")
}
