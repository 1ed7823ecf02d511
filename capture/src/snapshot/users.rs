//! Users and groups from a root's `etc/passwd` and `etc/group`: the host's (`/`) and each
//! container's (`/proc/PID/root` of one of its processes).

use std::fs;
use std::path::Path;

use dredge_format::state::User;

/// Every user and group under `root`, tagged with `container_id` (empty for the host).
/// Missing files give nothing: a minimal image may have neither.
pub fn read(root: &Path, container_id: &str) -> Vec<User> {
    let text = |name: &str| fs::read_to_string(root.join("etc").join(name)).unwrap_or_default();
    let mut out = parse_passwd(&text("passwd"), container_id);
    out.extend(parse_group(&text("group"), container_id));
    out
}

fn fields(line: &str) -> Option<Vec<&str>> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    Some(line.split(':').collect())
}

pub fn parse_passwd(text: &str, container_id: &str) -> Vec<User> {
    text.lines()
        .filter_map(fields)
        .filter_map(|f| {
            Some(User {
                is_group: false,
                uid: f.get(2)?.parse().ok()?,
                gid: f.get(3)?.parse().ok()?,
                name: f[0].to_string(),
                home: f.get(5).unwrap_or(&"").to_string(),
                shell: f.get(6).unwrap_or(&"").to_string(),
                container_id: container_id.to_string(),
            })
        })
        .collect()
}

pub fn parse_group(text: &str, container_id: &str) -> Vec<User> {
    text.lines()
        .filter_map(fields)
        .filter_map(|f| {
            Some(User {
                is_group: true,
                gid: f.get(2)?.parse().ok()?,
                name: f[0].to_string(),
                container_id: container_id.to_string(),
                ..User::default()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_passwd_and_group_lines() {
        let users =
            parse_passwd("root:x:0:0:root:/root:/bin/sh\n# c\nbad\nbob:x:1000:100::/h:\n", "c1");
        assert_eq!(users.len(), 2);
        assert_eq!((users[1].name.as_str(), users[1].uid, users[1].gid), ("bob", 1000, 100));
        assert_eq!(users[0].container_id, "c1");
        let groups = parse_group("wheel:x:10:bob\n", "");
        assert!(groups[0].is_group && groups[0].gid == 10 && groups[0].name == "wheel");
    }
}
