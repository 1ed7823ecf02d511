//! Container metadata from the runtimes, looked up the first time the recorder meets a
//! container id (in the snapshot or in a clone/execve's cgroups).
//!
//! podman: `podman inspect` (about 40 ms here) gives name, image, image id and digest,
//! labels (and from them the Kubernetes pod), privileged, mounts and IP. When podman is not
//! installed or does not know the id, the container is still written with its id and
//! runtime unknown, so replay tells container from host either way. Docker's API socket and
//! CRI are not read yet (capture/NOTES.md).

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;

use dredge_format::state::{Container, User};

use crate::snapshot::users;

/// Remembers which containers have been written.
#[derive(Debug, Default)]
pub struct Resolver {
    seen: HashSet<String>,
}

impl Resolver {
    /// For a container id not met before: its description and its users and groups (read
    /// through `/proc/PID/root` of one of its processes). `None` when the id was met already.
    pub fn resolve(&mut self, id: &str, pid: i64) -> Option<(Container, Vec<User>)> {
        if id.is_empty() || !self.seen.insert(id.to_string()) {
            return None;
        }
        let container = podman_inspect(id).unwrap_or_else(|| Container {
            id: id.to_string(),
            runtime: "unknown".to_string(),
            ..Container::default()
        });
        let root = format!("/proc/{pid}/root");
        let users = users::read(Path::new(&root), id);
        Some((container, users))
    }
}

/// `podman inspect` of one container (a short id is enough), if podman knows it.
fn podman_inspect(id: &str) -> Option<Container> {
    let out = Command::new("podman").args(["inspect", "--type", "container", id]).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    dredge_format::container::from_inspect(&text)
}
