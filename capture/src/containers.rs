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

use dredge_format::state::{Container, Mount, User};
use serde_json::Value as Json;

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
    from_inspect(&text)
}

fn text(v: &Json, path: &[&str]) -> String {
    let mut v = v;
    for key in path {
        match v.get(key) {
            Some(next) => v = next,
            None => return String::new(),
        }
    }
    v.as_str().map(str::to_string).unwrap_or_default()
}

fn pairs(v: Option<&Json>) -> Vec<(String, String)> {
    let Some(Json::Object(map)) = v else { return Vec::new() };
    let mut out: Vec<(String, String)> = map
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_string)))
        .collect();
    out.sort();
    out
}

/// A container from `podman inspect` (or Docker's `GET /containers/ID/json`, the same shape):
/// a JSON array of one object, or the object. The JSON is kept whole in `raw`.
pub fn from_inspect(json: &str) -> Option<Container> {
    let doc: Json = serde_json::from_str(json).ok()?;
    let c = match &doc {
        Json::Array(list) => list.first()?,
        other => other,
    };
    let full_id = text(c, &["Id"]);
    if full_id.len() < 12 {
        return None;
    }
    let labels = pairs(c.get("Config").and_then(|c| c.get("Labels")));
    let label =
        |k: &str| labels.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    let image = match text(c, &["ImageName"]) {
        s if s.is_empty() => text(c, &["Config", "Image"]),
        s => s,
    };
    // repo:tag, where the tag is after the last ':' that follows the last '/'.
    let (image_repo, image_tag) = match image.rfind(':') {
        Some(i) if !image[i..].contains('/') => (image[..i].to_string(), image[i + 1..].into()),
        _ => (image.clone(), String::new()),
    };
    let mounts = c
        .get("Mounts")
        .and_then(Json::as_array)
        .map(|list| {
            list.iter()
                .map(|m| Mount {
                    source: text(m, &["Source"]),
                    destination: text(m, &["Destination"]),
                    mode: text(m, &["Mode"]),
                    rw: m.get("RW").and_then(Json::as_bool).unwrap_or(false),
                    propagation: text(m, &["Propagation"]),
                })
                .collect()
        })
        .unwrap_or_default();
    let created_time = chrono::DateTime::parse_from_rfc3339(&text(c, &["Created"]))
        .ok()
        .and_then(|t| t.timestamp_nanos_opt())
        .map_or(0, |ns| ns.max(0) as u64);
    let docker = c.get("Driver").is_some_and(|_| c.get("ImageName").is_none());
    Some(Container {
        id: full_id[..12].to_string(),
        name: text(c, &["Name"]).trim_start_matches('/').to_string(),
        image_id: text(c, &["Image"]).trim_start_matches("sha256:").to_string(),
        image_digest: text(c, &["ImageDigest"]),
        full_id,
        image,
        image_repo,
        image_tag,
        runtime: if docker { "docker" } else { "podman" }.to_string(),
        privileged: c
            .get("HostConfig")
            .and_then(|h| h.get("Privileged"))
            .and_then(Json::as_bool)
            .unwrap_or(false),
        mounts,
        ip: text(c, &["NetworkSettings", "IPAddress"]),
        created_time,
        pod_name: label("io.kubernetes.pod.name"),
        pod_namespace: label("io.kubernetes.pod.namespace"),
        pod_uid: label("io.kubernetes.pod.uid"),
        pod_labels: Vec::new(),
        labels,
        raw: json.trim().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_podman_inspect() {
        let json = r#"[{"Id": "fdf0b74a77410136593d1be687d16bdba17f28464aae0ba194d0e9f962724dcb",
            "Created": "2026-12-04T10:54:55.166648051Z", "Name": "t2",
            "Image": "27cced2e97256d6cf19e5ae3d72f8082c86f823ffce10d7567e03adf88a20747",
            "ImageDigest": "sha256:adac", "ImageName": "localhost/bb:1",
            "Config": {"Labels": {"io.kubernetes.pod.name": "web-1", "app": "x"}},
            "HostConfig": {"Privileged": true},
            "Mounts": [{"Source": "/srv", "Destination": "/data", "Mode": "", "RW": true,
                        "Propagation": "rprivate"}],
            "NetworkSettings": {"IPAddress": "10.88.0.5"}}]"#;
        let c = from_inspect(json).unwrap();
        assert_eq!((c.id.as_str(), c.name.as_str()), ("fdf0b74a7741", "t2"));
        assert_eq!((c.image_repo.as_str(), c.image_tag.as_str()), ("localhost/bb", "1"));
        assert_eq!(c.runtime, "podman");
        assert!(c.privileged);
        assert_eq!(c.pod_name, "web-1");
        assert_eq!(c.mounts[0].destination, "/data");
        assert_eq!(c.created_time, 1_796_381_695_166_648_051);
        assert_eq!(c.ip, "10.88.0.5");
    }
}
