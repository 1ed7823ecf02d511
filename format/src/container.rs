//! Container context: which container a thread belongs to, from its cgroups, and container
//! metadata from the JSON that sysdig, Falco and container runtimes describe containers with.

use serde_json::Value as Json;

use crate::record::split_nul;
use crate::state::{Container, Mount};

fn is_hex64(s: &[u8]) -> bool {
    s.len() == 64 && s.iter().all(u8::is_ascii_hexdigit)
}

/// Finds the 64-hex container id in one cgroup path, following the layouts of runc-based
/// runtimes: `/docker/<id>`, `/docker-<id>.scope`, `/libpod-<id>.scope[/container]`,
/// `/crio-<id>[.scope]`, `/cri-containerd-<id>.scope`, `:cri-containerd:<id>`, and the
/// Kubernetes `kubepods` forms that end in one of those.
fn id_in_path(path: &[u8]) -> Option<&[u8]> {
    let path = path.strip_suffix(b"/container").unwrap_or(path);
    let path = path.strip_suffix(b".scope").unwrap_or(path);
    let cut = path.iter().rposition(|&b| b == b'/' || b == b':' || b == b'-')?;
    let id = &path[cut + 1..];
    is_hex64(id).then_some(id)
}

/// The short (12-digit) container id of a thread with these cgroups (`controller=path`,
/// NUL-separated); `None` for the host.
pub fn id_from_cgroups(cgroups: &[u8]) -> Option<String> {
    split_nul(cgroups)
        .filter_map(|entry| {
            let path = entry.iter().position(|&b| b == b'=').map_or(entry, |i| &entry[i + 1..]);
            id_in_path(path)
        })
        .next()
        .map(|id| String::from_utf8_lossy(&id[..12]).into_owned())
}

/// Runtime names of sysdig's container type numbers.
pub fn runtime_name(kind: u64) -> &'static str {
    match kind {
        0 => "docker",
        1 => "lxc",
        2 => "libvirt-lxc",
        3 => "mesos",
        4 => "rkt",
        5 => "custom",
        6 => "cri",
        7 => "containerd",
        8 => "cri-o",
        9 => "bpm",
        10 => "static",
        11 => "podman",
        0xfffe => "host",
        _ => "unknown",
    }
}

fn text(v: &Json, key: &str) -> String {
    match v.get(key) {
        Some(Json::String(s)) => s.clone(),
        Some(Json::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn pairs(v: Option<&Json>) -> Vec<(String, String)> {
    let Some(Json::Object(map)) = v else { return Vec::new() };
    map.iter()
        .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_string)))
        .collect()
}

/// The `Mounts` list, in the form Docker's and podman's inspect and sysdig's JSON share.
fn mounts(c: &Json) -> Vec<Mount> {
    let Some(list) = c.get("Mounts").and_then(Json::as_array) else { return Vec::new() };
    list.iter()
        .map(|m| Mount {
            source: text(m, "Source"),
            destination: text(m, "Destination"),
            mode: text(m, "Mode"),
            rw: m.get("RW").and_then(Json::as_bool).unwrap_or(false),
            propagation: text(m, "Propagation"),
        })
        .collect()
}

/// Parses a container description: `{"container": {...}}` or the object itself. Unknown
/// keys are ignored and missing ones left empty; the JSON is kept whole in `raw`.
pub fn from_json(json: &str) -> Option<Container> {
    let doc: Json = serde_json::from_str(json.trim_end_matches(['\0', '\n'])).ok()?;
    let c = doc.get("container").unwrap_or(&doc);
    if !c.is_object() {
        return None;
    }
    let labels = pairs(c.get("labels"));
    let label =
        |k: &str| labels.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    let mounts = mounts(c);
    let kind = c.get("type").and_then(Json::as_u64).unwrap_or(0xffff);
    Some(Container {
        id: text(c, "id"),
        full_id: text(c, "full_id"),
        name: text(c, "name"),
        image: text(c, "image"),
        image_id: text(c, "imageid"),
        image_digest: text(c, "imagedigest"),
        image_repo: text(c, "imagerepo"),
        image_tag: text(c, "imagetag"),
        runtime: runtime_name(kind).into(),
        privileged: c.get("privileged").and_then(Json::as_bool).unwrap_or(false),
        mounts,
        ip: text(c, "ip"),
        created_time: c.get("created_time").and_then(Json::as_u64).unwrap_or(0),
        pod_name: label("io.kubernetes.pod.name"),
        pod_namespace: label("io.kubernetes.pod.namespace"),
        pod_uid: label("io.kubernetes.pod.uid"),
        pod_labels: pairs(c.get("pod_sandbox_labels")),
        labels,
        raw: json.to_string(),
    })
}

/// A container from `podman inspect` (or Docker's `GET /containers/ID/json`, the same shape):
/// a JSON array of one object, or the object. The JSON is kept whole in `raw`.
pub fn from_inspect(json: &str) -> Option<Container> {
    let doc: Json = serde_json::from_str(json).ok()?;
    let c = match &doc {
        Json::Array(list) => list.first()?,
        other => other,
    };
    let full_id = text(c, "Id");
    if full_id.len() < 12 {
        return None;
    }
    let mut labels = pairs(c.get("Config").and_then(|c| c.get("Labels")));
    labels.sort();
    let label =
        |k: &str| labels.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    let image = match text(c, "ImageName") {
        s if s.is_empty() => c.get("Config").map(|c| text(c, "Image")).unwrap_or_default(),
        s => s,
    };
    // repo:tag, where the tag is after the last ':' that follows the last '/'.
    let (image_repo, image_tag) = match image.rfind(':') {
        Some(i) if !image[i..].contains('/') => (image[..i].to_string(), image[i + 1..].into()),
        _ => (image.clone(), String::new()),
    };
    let created_time = chrono::DateTime::parse_from_rfc3339(&text(c, "Created"))
        .ok()
        .and_then(|t| t.timestamp_nanos_opt())
        .map_or(0, |ns| ns.max(0) as u64);
    let docker = c.get("Driver").is_some_and(|_| c.get("ImageName").is_none());
    Some(Container {
        id: full_id[..12].to_string(),
        name: text(c, "Name").trim_start_matches('/').to_string(),
        image_id: text(c, "Image").trim_start_matches("sha256:").to_string(),
        image_digest: text(c, "ImageDigest"),
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
        mounts: mounts(c),
        ip: c.get("NetworkSettings").map(|n| text(n, "IPAddress")).unwrap_or_default(),
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

    const ID: &str = "c010f5a08549c1d3f1b64e1b2a8e1f0e3c7a4b5d6e7f8091a2b3c4d5e6f7736a";

    #[test]
    fn ids_from_the_runtimes_cgroup_layouts() {
        for path in [
            format!("/docker/{ID}"),
            format!("/system.slice/docker-{ID}.scope"),
            format!("/machine.slice/libpod-{ID}.scope/container"),
            format!("/kubepods/besteffort/pod1234/crio-{ID}"),
            format!("/kubepods.slice/kubepods-pod1.slice/cri-containerd-{ID}.scope"),
            format!("/k8s.io:cri-containerd:{ID}"),
        ] {
            let cg = format!("cpu={path}\0memory={path}\0");
            assert_eq!(id_from_cgroups(cg.as_bytes()).as_deref(), Some(&ID[..12]), "{path}");
        }
        assert_eq!(id_from_cgroups(b"cpu=/user.slice/session-2.scope\0"), None);
        assert_eq!(id_from_cgroups(b"0::/init.scope\0"), None);
    }

    #[test]
    fn container_json_of_both_forms() {
        let wrapped = r#"{"container":{"id":"ad8301db070e","image":"nginx:latest",
            "name":"mitm_nginx","type":0,
            "labels":{"io.kubernetes.pod.name":"web","io.kubernetes.pod.namespace":"prod"},
            "Mounts":[{"Source":"/a","Destination":"/b","Mode":"","RW":true,
            "Propagation":"rprivate"}]}}"#;
        let c = from_json(wrapped).unwrap();
        assert_eq!(
            (c.id.as_str(), c.name.as_str(), c.runtime.as_str()),
            ("ad8301db070e", "mitm_nginx", "docker")
        );
        assert_eq!((c.pod_name.as_str(), c.pod_namespace.as_str()), ("web", "prod"));
        assert!(c.mounts[0].rw);
        let flat = from_json(r#"{"id":"x","type":11,"name":null}"#).unwrap();
        assert_eq!((flat.runtime.as_str(), flat.name.as_str()), ("podman", ""));
        assert!(from_json("not json").is_none());
    }

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
