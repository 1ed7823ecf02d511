//! The kernel side, loaded: the committed BPF object (`bpf/recorder.bpf.o`, built from
//! `bpf/recorder.bpf.c` by `bpf/build.sh`) loaded with aya, its fillers put in the tail-call
//! table, the wanted syscalls marked, and its programs attached.
//!
//! The object is committed so that building dredge needs only cargo; a test rebuilds it with
//! clang where clang is installed and fails when the two differ.

use std::collections::BTreeSet;

use aya::maps::{Array, MapData, PerCpuArray, ProgramArray, RingBuf};
use aya::programs::BtfTracePoint;
use aya::{Btf, Ebpf, EbpfLoader};

use crate::syscalls::{self, Filler};

/// The BPF object, as built by `bpf/build.sh`.
pub static OBJECT: &[u8] = aya::include_bytes_aligned!("../bpf/recorder.bpf.o");

/// What the kernel side is told before it loads.
#[derive(Debug, Clone)]
pub struct ProbeConfig {
    /// The recorder's own process, never recorded.
    pub self_tgid: u32,
    /// Bytes of I/O data kept per event.
    pub snaplen: u32,
    /// Bytes of execve arguments kept.
    pub args_max: u32,
    /// Ring buffer size in bytes (a power of two, at least a page).
    pub ring_bytes: u32,
    /// Record only tasks below the host's pid namespace (containers).
    pub containers_only: bool,
    /// The syscall numbers to record.
    pub syscalls: BTreeSet<u32>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error(
        "loading the BPF recorder needs root (or CAP_BPF and CAP_PERFMON): {0}\n\
         run dredge record as root"
    )]
    Permission(String),
    #[error(
        "this kernel exposes no BTF (/sys/kernel/btf/vmlinux): {0}; the recorder needs a \
             kernel built with CONFIG_DEBUG_INFO_BTF"
    )]
    NoBtf(String),
    #[error("BPF recorder: {0}")]
    Other(String),
}

impl ProbeError {
    fn from_display(what: &str, e: impl std::fmt::Display + std::fmt::Debug) -> ProbeError {
        let mut text = format!("{what}: {e}");
        // A refused program comes with the verifier's whole log: keep its end, which says why.
        let lines: Vec<&str> = text.lines().collect();
        if lines.len() > 16 {
            let tail = &lines[lines.len() - 12..];
            text = format!("{}\n  ...\n{}", lines[0], tail.join("\n"));
        }
        let detail = format!("{e:?}");
        // EPERM is a missing capability; the verifier's refusals come as EACCES or EINVAL.
        if detail.contains("(os error 1)") && !detail.contains("Verifier output") {
            ProbeError::Permission(text)
        } else {
            ProbeError::Other(text)
        }
    }
}

/// The loaded and attached kernel side. Dropping it detaches everything.
pub struct Probe {
    ebpf: Ebpf,
    /// Where records arrive.
    pub ring: RingBuf<MapData>,
    /// The kernel empties a tail-call table when its last user-space handle closes: hold it.
    _fillers: ProgramArray<MapData>,
}

impl Probe {
    pub fn load(config: &ProbeConfig) -> Result<Probe, ProbeError> {
        if let Some(why) = missing_capabilities() {
            return Err(ProbeError::Permission(why));
        }
        let btf = Btf::from_sys_fs().map_err(|e| ProbeError::NoBtf(e.to_string()))?;
        let cpus = aya::util::nr_cpus()
            .map_err(|(what, e)| ProbeError::Other(format!("{what}: {e}")))?
            as u32;
        let mut ebpf = EbpfLoader::new()
            .btf(Some(&btf))
            .override_global("self_tgid", &config.self_tgid, true)
            .override_global("snaplen", &config.snaplen, true)
            .override_global("args_max", &config.args_max, true)
            .override_global("containers_only", &u32::from(config.containers_only), true)
            .map_max_entries("events", config.ring_bytes)
            .map_max_entries("scratch", cpus)
            .load(&object()?)
            .map_err(|e| ProbeError::from_display("loading the BPF object", e))?;

        // Fillers first, so the dispatcher never tail-calls an empty slot once attached.
        for (_, name) in Filler::ALL {
            let prog: &mut BtfTracePoint = program(&mut ebpf, name)?;
            prog.load("sys_exit", &btf).map_err(|e| ProbeError::from_display(name, e))?;
        }
        let mut table =
            ProgramArray::try_from(ebpf.take_map("fillers").ok_or_else(|| missing("map fillers"))?)
                .map_err(|e| ProbeError::Other(e.to_string()))?;
        for (filler, name) in Filler::ALL {
            let fd = ebpf
                .program(name)
                .ok_or_else(|| missing(name))?
                .fd()
                .map_err(|e| ProbeError::Other(e.to_string()))?;
            table.set(filler as u32, fd, 0).map_err(|e| ProbeError::Other(e.to_string()))?;
        }

        let mut slots: Array<_, u32> =
            Array::try_from(ebpf.map_mut("syscalls").ok_or_else(|| missing("map syscalls"))?)
                .map_err(|e| ProbeError::Other(e.to_string()))?;
        for s in syscalls::all() {
            let wanted = config.syscalls.contains(&s.nr);
            slots.set(s.nr, s.slot(wanted), 0).map_err(|e| ProbeError::Other(e.to_string()))?;
        }
        let mut specs: Array<_, u64> =
            Array::try_from(ebpf.map_mut("specs").ok_or_else(|| missing("map specs"))?)
                .map_err(|e| ProbeError::Other(e.to_string()))?;
        for s in syscalls::all() {
            if let Some(spec) = syscalls::spec_value(s.name).map_err(ProbeError::Other)? {
                specs.set(s.nr, spec, 0).map_err(|e| ProbeError::Other(e.to_string()))?;
            }
        }

        for (name, tracepoint) in [
            ("sched_exec", "sched_process_exec"),
            ("sched_exit", "sched_process_exit"),
            ("sys_exit", "sys_exit"),
        ] {
            let prog: &mut BtfTracePoint = program(&mut ebpf, name)?;
            prog.load(tracepoint, &btf).map_err(|e| ProbeError::from_display(name, e))?;
            prog.attach().map_err(|e| ProbeError::from_display(name, e))?;
        }
        let ring = RingBuf::try_from(ebpf.take_map("events").ok_or_else(|| missing("map events"))?)
            .map_err(|e| ProbeError::Other(e.to_string()))?;
        Ok(Probe { ebpf, ring, _fillers: table })
    }

    /// Records lost so far because the ring was full, per CPU.
    pub fn drops(&self) -> Vec<u64> {
        let Some(map) = self.ebpf.map("drops") else { return Vec::new() };
        let Ok(array) = PerCpuArray::<_, u64>::try_from(map) else { return Vec::new() };
        array.get(&0, 0).map(|v| v.iter().copied().collect()).unwrap_or_default()
    }
}

/// Why this process cannot load BPF programs, judged from its effective capabilities:
/// CAP_SYS_ADMIN, or CAP_BPF with CAP_PERFMON. `None` when it can (or when it cannot tell).
fn missing_capabilities() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?.trim();
    let caps = u64::from_str_radix(hex, 16).ok()?;
    let has = |bit: u32| caps & (1 << bit) != 0;
    const SYS_ADMIN: u32 = 21;
    const PERFMON: u32 = 38;
    const BPF: u32 = 39;
    if has(SYS_ADMIN) || (has(BPF) && has(PERFMON)) {
        return None;
    }
    Some(format!(
        "this process has neither CAP_SYS_ADMIN nor CAP_BPF with CAP_PERFMON (uid {}, \
         effective capabilities {hex})",
        rustix::process::geteuid().as_raw()
    ))
}

/// The embedded object, or for kernel-side development the file `DREDGE_BPF_OBJECT` names.
fn object() -> Result<std::borrow::Cow<'static, [u8]>, ProbeError> {
    match std::env::var_os("DREDGE_BPF_OBJECT") {
        Some(path) => std::fs::read(&path).map(std::borrow::Cow::Owned).map_err(|e| {
            ProbeError::Other(format!("DREDGE_BPF_OBJECT {}: {e}", path.to_string_lossy()))
        }),
        None => Ok(std::borrow::Cow::Borrowed(OBJECT)),
    }
}

fn missing(what: &str) -> ProbeError {
    ProbeError::Other(format!("the BPF object has no {what} (bpf/recorder.bpf.o out of date?)"))
}

fn program<'a>(ebpf: &'a mut Ebpf, name: &str) -> Result<&'a mut BtfTracePoint, ProbeError> {
    ebpf.program_mut(name)
        .ok_or_else(|| missing(name))?
        .try_into()
        .map_err(|e: aya::programs::ProgramError| ProbeError::Other(format!("{name}: {e}")))
}
