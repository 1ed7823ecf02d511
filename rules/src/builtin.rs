//! dredge's built-in rule set: the rules `replay` runs when no rules file is given, and whose
//! event types `record` captures by default.
//!
//! The files live in `rules/builtin/` (Falco's rule syntax, written for dredge) and are
//! embedded in the binary. `10-process.yaml` defines the lists and macros the others share, so
//! it comes first (the numbers give a directory's order, so `dredge rules check rules/builtin`
//! loads them the same way); `90-context.yaml` comes last, so that with Falco's default rule
//! matching its context rules yield an event to the more specific ones. Each file defines its
//! own lists and macros where it uses them: a file loaded on its own then has nothing unused,
//! which `rules check` would warn about.

/// Each built-in file: its name and text, in load order.
pub const FILES: &[(&str, &str)] = &[
    ("10-process.yaml", include_str!("../builtin/10-process.yaml")),
    ("20-files.yaml", include_str!("../builtin/20-files.yaml")),
    ("30-network.yaml", include_str!("../builtin/30-network.yaml")),
    ("40-system.yaml", include_str!("../builtin/40-system.yaml")),
    ("90-context.yaml", include_str!("../builtin/90-context.yaml")),
];

/// The built-in files as owned (name, text) pairs, the form the loader takes.
pub fn files() -> Vec<(String, String)> {
    FILES.iter().map(|(n, t)| (format!("builtin/{n}"), t.to_string())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ruleset::load;

    #[test]
    fn the_builtin_set_loads_without_errors_or_warnings() {
        let loaded = load(&files());
        let errors: Vec<String> =
            loaded.files.iter().flat_map(|f| &f.errors).map(|m| m.to_string()).collect();
        let warnings: Vec<String> =
            loaded.files.iter().flat_map(|f| &f.warnings).map(|m| m.to_string()).collect();
        assert!(errors.is_empty(), "{errors:#?}");
        assert!(warnings.is_empty(), "{warnings:#?}");
        assert!(loaded.ruleset.rules.len() >= 30, "{}", loaded.ruleset.rules.len());
    }
}
