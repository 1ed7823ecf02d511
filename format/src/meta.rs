//! Capture metadata: who recorded what, where and how. Stored in the header block (block 0).

use serde::Serialize;

use crate::record::{FieldWriter, Fields, Record};
use crate::wire::DecodeError;

/// What a capture says about itself. All fields are optional in the file: a reader of an
/// older or newer capture sees empty values for what it lacks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Metadata {
    pub hostname: String,
    pub kernel_release: String,
    pub boot_id: String,
    pub machine_id: String,
    pub cpu_count: u32,
    pub memory_bytes: u64,
    /// Boot time, ns since the epoch.
    pub boot_time: u64,
    /// When recording started, ns since the epoch.
    pub capture_start: u64,
    /// The dredge version that wrote the file.
    pub dredge_version: String,
    /// The command line that produced the capture.
    pub command_line: Vec<String>,
    /// The capture filter, if any (empty: everything).
    pub filter: String,
    /// Bytes of I/O data kept per event (sysdig's `-s`).
    pub snaplen: u32,
    /// The user that recorded (name and uid, as `name (uid)`).
    pub recorded_by: String,
    /// Where the events come from: `record`, `import:FILE`, `synth:...`.
    pub source: String,
    /// Free-form extras a writer wants to keep.
    pub extra: Vec<(String, String)>,
}

impl Record for Metadata {
    fn write_fields(&self, w: &mut FieldWriter<'_>) {
        w.bytes(self.hostname.as_bytes())
            .bytes(self.kernel_release.as_bytes())
            .bytes(self.boot_id.as_bytes())
            .bytes(self.machine_id.as_bytes())
            .u64(self.cpu_count.into())
            .u64(self.memory_bytes)
            .u64(self.boot_time)
            .u64(self.capture_start)
            .bytes(self.dredge_version.as_bytes())
            .list(&self.command_line, |w, a| {
                w.bytes(a.as_bytes());
            })
            .bytes(self.filter.as_bytes())
            .u64(self.snaplen.into())
            .bytes(self.recorded_by.as_bytes())
            .bytes(self.source.as_bytes())
            .pairs(&self.extra);
    }

    fn read_fields(f: &mut Fields<'_>) -> Result<Self, DecodeError> {
        Ok(Metadata {
            hostname: f.string()?,
            kernel_release: f.string()?,
            boot_id: f.string()?,
            machine_id: f.string()?,
            cpu_count: f.u32()?,
            memory_bytes: f.u64()?,
            boot_time: f.u64()?,
            capture_start: f.u64()?,
            dredge_version: f.string()?,
            command_line: f.list(|f| f.string())?,
            filter: f.string()?,
            snaplen: f.u32()?,
            recorded_by: f.string()?,
            source: f.string()?,
            extra: f.pairs()?,
        })
    }
}
