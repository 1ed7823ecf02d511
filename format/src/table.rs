//! The event table: every event type's name, direction, category, flags and parameters.
//!
//! The table is data (`table/events.tbl`, `table/syscalls.tbl`), transcribed from the driver
//! ABI that sysdig and Falco share, so `evt.type`, `evt.arg.NAME` and argument rendering can
//! match theirs. It is parsed once, on first use; a unit test checks that it parses, so a bad
//! edit fails the build's tests rather than a user's run. Extending it means adding lines.

use std::sync::LazyLock;

use crate::param::ParamType;

/// Whether an event marks a syscall's entry or its return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Direction {
    Enter,
    Exit,
}

impl Direction {
    /// Even codes enter, odd codes exit: the rule the table itself follows.
    pub fn of(code: u16) -> Direction {
        if code & 1 == 0 { Direction::Enter } else { Direction::Exit }
    }

    /// sysdig's one-character form.
    pub fn symbol(self) -> char {
        match self {
            Direction::Enter => '>',
            Direction::Exit => '<',
        }
    }
}

/// Event flag bits (the table's FLAGS column), as named there.
pub mod flag {
    pub const CREATES_FD: u32 = 1 << 0;
    pub const DESTROYS_FD: u32 = 1 << 1;
    pub const USES_FD: u32 = 1 << 2;
    pub const READS_FROM_FD: u32 = 1 << 3;
    pub const WRITES_TO_FD: u32 = 1 << 4;
    pub const MODIFIES_STATE: u32 = 1 << 5;
    pub const UNUSED: u32 = 1 << 6;
    pub const WAITS: u32 = 1 << 7;
    pub const SKIPPARSERESET: u32 = 1 << 8;
    pub const OLD_VERSION: u32 = 1 << 9;
    pub const USES_FD_INDIRECTLY: u32 = 1 << 10;
    pub const LARGE_PAYLOAD: u32 = 1 << 11;
    pub const CONVERTER_MANAGED: u32 = 1 << 12;
    pub const TMP_CONVERTER_MANAGED: u32 = 1 << 13;
    pub const DROP_SIMPLE_CONS: u32 = 1 << 14;

    pub(super) const NAMES: [(&str, u32); 15] = [
        ("creates_fd", CREATES_FD),
        ("destroys_fd", DESTROYS_FD),
        ("uses_fd", USES_FD),
        ("reads_from_fd", READS_FROM_FD),
        ("writes_to_fd", WRITES_TO_FD),
        ("modifies_state", MODIFIES_STATE),
        ("unused", UNUSED),
        ("waits", WAITS),
        ("skipparsereset", SKIPPARSERESET),
        ("old_version", OLD_VERSION),
        ("uses_fd_indirectly", USES_FD_INDIRECTLY),
        ("large_payload", LARGE_PAYLOAD),
        ("converter_managed", CONVERTER_MANAGED),
        ("tmp_converter_managed", TMP_CONVERTER_MANAGED),
        ("drop_simple_cons", DROP_SIMPLE_CONS),
    ];
}

/// One parameter of an event type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamInfo {
    pub name: &'static str,
    pub kind: ParamType,
    /// sysdig's print format (`DEC`, `HEX`, `OCT`, `NA`, ...).
    pub format: &'static str,
    /// For flag, enum and mode parameters, the name of the value table; for `DYN`, the
    /// dynamic table.
    pub table: Option<&'static str>,
    /// For `FSRELPATH`, the index of the parameter holding the directory fd.
    pub dirfd: Option<usize>,
}

/// One event type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventInfo {
    pub code: u16,
    /// The name `evt.type` shows (`open`, `execve`, `switch`...).
    pub name: &'static str,
    pub direction: Direction,
    /// Category bits joined by `|` (`file|syscall`).
    pub category: &'static str,
    pub flags: u32,
    pub params: Vec<ParamInfo>,
}

impl EventInfo {
    pub fn has_flag(&self, bit: u32) -> bool {
        self.flags & bit != 0
    }

    pub fn param_index(&self, name: &str) -> Option<usize> {
        self.params.iter().position(|p| p.name == name)
    }
}

/// The whole table, indexed by code.
#[derive(Debug)]
pub struct EventTable {
    events: Vec<EventInfo>,
    syscalls: Vec<&'static str>,
    /// Value names of flag and enum parameters, by table name, in table order.
    flags: std::collections::HashMap<&'static str, Vec<(u64, &'static str)>>,
}

static TABLE: LazyLock<EventTable> = LazyLock::new(|| {
    #[allow(clippy::expect_used, reason = "compiled-in data, checked by a unit test")]
    EventTable::parse(
        include_str!("table/events.tbl"),
        include_str!("table/syscalls.tbl"),
        include_str!("table/flags.tbl"),
    )
    .expect("the built-in event table parses")
});

/// The built-in event table.
pub fn table() -> &'static EventTable {
    &TABLE
}

impl EventTable {
    fn parse(
        events: &'static str,
        syscalls: &'static str,
        flags: &'static str,
    ) -> Result<EventTable, String> {
        let mut table =
            EventTable { events: Vec::new(), syscalls: Vec::new(), flags: Default::default() };
        let mut current: Option<&'static str> = None;
        for (n, line) in data_lines(flags) {
            if let Some(name) = line.strip_prefix('@') {
                current = Some(name);
                continue;
            }
            let (value, name) = line.split_once(' ').ok_or(format!("flags.tbl line {n}"))?;
            let value: u64 = value.parse().map_err(|_| format!("flags.tbl line {n}"))?;
            let table_name = current.ok_or(format!("flags.tbl line {n}: no table"))?;
            table.flags.entry(table_name).or_default().push((value, name));
        }
        for (n, line) in data_lines(events) {
            let info = parse_event(line).map_err(|e| format!("events.tbl line {n}: {e}"))?;
            if usize::from(info.code) != table.events.len() {
                return Err(format!("events.tbl line {n}: code {} out of order", info.code));
            }
            table.events.push(info);
        }
        for (n, line) in data_lines(syscalls) {
            let (code, name) = line.split_once(' ').ok_or(format!("syscalls.tbl line {n}"))?;
            if code.parse::<usize>().ok() != Some(table.syscalls.len()) {
                return Err(format!("syscalls.tbl line {n}: code {code} out of order"));
            }
            table.syscalls.push(name);
        }
        Ok(table)
    }

    pub fn get(&self, code: u16) -> Option<&EventInfo> {
        self.events.get(usize::from(code))
    }

    /// Number of event codes the table knows (codes at or above it are unknown).
    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &EventInfo> {
        self.events.iter()
    }

    /// The event's name, or `unknown` for a code the table does not know.
    pub fn name(&self, code: u16) -> &'static str {
        self.get(code).map_or("unknown", |e| e.name)
    }

    /// sysdig's rendering of a flags value: the names of the bits set, `|`-joined
    /// (`O_RDONLY|O_CLOEXEC`); for an enum table, the one name equal to the value.
    pub fn flag_names(&self, table: &str, value: u64, is_enum: bool) -> String {
        let Some(entries) = self.flags.get(table) else { return String::new() };
        if is_enum {
            return entries
                .iter()
                .find(|(v, _)| *v == value)
                .map_or(String::new(), |(_, n)| n.to_string());
        }
        // In table order, each flag whose bits are all still set takes them (so a combined
        // value such as FUTEX_WAIT_BITSET is not also read as its parts); a zero flag names
        // only a zero value. As libsinsp renders flags.
        let mut rest = value;
        let mut names: Vec<&str> = Vec::new();
        for (v, n) in entries {
            let hit = if *v == 0 { value == 0 } else { rest != 0 && rest & v == *v };
            if hit {
                names.push(n);
                rest &= !v;
            }
        }
        names.join("|")
    }

    /// The syscall name for a `SYSCALLID` value (the generic `syscall` event).
    pub fn syscall_name(&self, id: u16) -> Option<&'static str> {
        self.syscalls.get(usize::from(id)).copied()
    }
}

fn data_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
}

fn parse_event(line: &'static str) -> Result<EventInfo, String> {
    let mut cols = line.split(' ');
    let mut next = |what: &str| cols.next().ok_or(format!("missing {what}"));
    let code: u16 = next("code")?.parse().map_err(|_| "bad code".to_string())?;
    let name = next("name")?;
    let direction = match next("direction")? {
        ">" => Direction::Enter,
        "<" => Direction::Exit,
        other => return Err(format!("bad direction {other:?}")),
    };
    if direction != Direction::of(code) {
        return Err("direction disagrees with the code's parity".into());
    }
    let category = next("category")?;
    let mut flags = 0;
    for f in next("flags")?.split(',').filter(|f| *f != "-") {
        let bit = flag::NAMES.iter().find(|(n, _)| *n == f).ok_or(format!("flag {f:?}"))?;
        flags |= bit.1;
    }
    let params = cols.map(parse_param).collect::<Result<Vec<_>, _>>()?;
    Ok(EventInfo { code, name, direction, category, flags, params })
}

fn parse_param(spec: &'static str) -> Result<ParamInfo, String> {
    let mut parts = spec.split(':');
    let name = parts.next().ok_or(format!("param {spec:?}"))?;
    let kind = parts.next().and_then(ParamType::from_name).ok_or(format!("type in {spec:?}"))?;
    let format = parts.next().ok_or(format!("format in {spec:?}"))?;
    let (mut table, mut dirfd) = (None, None);
    if let Some(extra) = parts.next() {
        match extra.strip_prefix("dirfd=") {
            Some(n) => dirfd = Some(n.parse().map_err(|_| format!("dirfd in {spec:?}"))?),
            None => table = Some(extra),
        }
    }
    Ok(ParamInfo { name, kind, format, table, dirfd })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_table_parses_and_is_complete() {
        let t = table();
        assert_eq!(t.len(), 454);
        assert_eq!(t.name(3), "open");
        assert_eq!(t.name(293), "execve");
        assert_eq!(t.name(152), "switch");
        assert_eq!(t.name(9999), "unknown");
        assert_eq!(t.syscall_name(0), Some("unknown"));
        assert_eq!(t.flag_names("file_flags", 4097, false), "O_RDONLY|O_CLOEXEC");
    }

    #[test]
    fn execve_exit_has_the_current_parameters() {
        let e = table().get(293).unwrap();
        assert_eq!(e.direction, Direction::Exit);
        assert_eq!(e.params.len(), 31);
        assert_eq!(e.params[0].kind, ParamType::Errno);
        assert_eq!(e.param_index("filename"), Some(30));
    }

    #[test]
    fn fsrelpath_names_its_dirfd() {
        let e = table().get(307).unwrap();
        let name = &e.params[e.param_index("name").unwrap()];
        assert_eq!(name.kind, ParamType::FsRelPath);
        assert_eq!(name.dirfd, Some(1));
    }

    #[test]
    fn large_payload_types_are_flagged() {
        for code in [322, 324, 402] {
            assert!(table().get(code).unwrap().has_flag(flag::LARGE_PAYLOAD), "{code}");
        }
    }
}
