//! Importing the shared real captures: exact counts, damage, unknown blocks.
//!
//! The captures live outside the repository (`DREDGE_SHARED`, default `../shared`); without
//! them these tests print `skipped: no shared data` and pass.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on purpose")]

use std::path::{Path, PathBuf};

use dredge_format::scap::import::import;
use dredge_format::synth::Rng;
use dredge_format::{Capture, WriterOptions};

fn shared() -> Option<PathBuf> {
    let dir = std::env::var_os("DREDGE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"));
    dir.join("captures/MANIFEST.tsv").exists().then_some(dir)
}

/// (file, bytes, gzip, raw events) for every capture in the manifest.
fn manifest(shared: &Path) -> Vec<(PathBuf, u64, bool, u64)> {
    let text = std::fs::read_to_string(shared.join("captures/MANIFEST.tsv")).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (
                shared.join("captures").join(f[0]),
                f[1].parse().unwrap(),
                f[3] == "1",
                f[7].parse().unwrap(),
            )
        })
        .collect()
}

fn options() -> WriterOptions {
    WriterOptions { level: 1, ..WriterOptions::default() }
}

#[test]
fn every_shared_capture_imports_with_its_manifest_event_count() {
    let Some(shared) = shared() else {
        std::io::Write::write_all(&mut std::io::stderr(), b"skipped: no shared data\n").ok();
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let entries = manifest(&shared);
    assert_eq!(entries.len(), 31);
    for (path, _, _, raw_events) in entries {
        let out = dir.path().join("out.dcap");
        let s = import(&path, &out, Vec::new(), options(), None).unwrap();
        assert!(s.damage.is_none(), "{}: {:?}", path.display(), s.damage);
        assert_eq!(s.events, raw_events, "{}", path.display());
        let c = Capture::open(&out).unwrap();
        assert_eq!(c.event_count(), raw_events, "{}", path.display());
        assert!(c.losses().is_empty());
        assert!(c.metadata().extra.iter().any(|(k, v)| k == "import.sha256" && v.len() == 64));
    }
}

/// End offsets of the event blocks of a plain scap file, walking only the framing.
fn event_block_ends(bytes: &[u8]) -> Vec<u64> {
    let mut ends = Vec::new();
    let mut at = 0usize;
    while at + 8 <= bytes.len() {
        let kind = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        if [0x204, 0x208, 0x216, 0x217, 0x221, 0x222].contains(&kind) {
            ends.push((at + len) as u64);
        }
        at += len;
    }
    ends
}

#[test]
fn damaged_shared_captures_import_up_to_the_damage() {
    let Some(shared) = shared() else {
        std::io::Write::write_all(&mut std::io::stderr(), b"skipped: no shared data\n").ok();
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(31);
    for (path, bytes, gzip, raw_events) in manifest(&shared) {
        let original = std::fs::read(&path).unwrap();
        let ends = if gzip { Vec::new() } else { event_block_ends(&original) };
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        for round in 0..6 {
            let mut copy = original.clone();
            let at = 1 + rng.below(bytes - 1) as usize;
            let cut = round < 3;
            if cut {
                copy.truncate(at);
            } else {
                copy[at] ^= 1 << rng.below(8);
            }
            let src = dir.path().join(&name);
            std::fs::write(&src, &copy).unwrap();
            let out = dir.path().join("out.dcap");
            let s = match import(&src, &out, Vec::new(), options(), None) {
                Ok(s) => s,
                Err(e) => {
                    // Only a file that is no longer recognisable may be refused outright.
                    assert!(e.to_string().contains(&name), "{e}");
                    continue;
                }
            };
            if let Some(e) = &s.damage {
                let msg = e.to_string();
                assert!(msg.contains(&name) && msg.contains("offset"), "{msg}");
            }
            assert!(s.events <= raw_events + 1, "{name}: {} events", s.events);
            if cut && !gzip {
                let whole = ends.iter().filter(|&&e| e <= at as u64).count() as u64;
                assert_eq!(s.events, whole, "{name} cut at {at}");
                assert!(s.damage.is_some() || whole == raw_events, "{name} cut at {at}");
            }
            Capture::open(&out).unwrap();
        }
    }
}

#[test]
fn unknown_blocks_are_skipped_and_reported() {
    let Some(shared) = shared() else {
        std::io::Write::write_all(&mut std::io::stderr(), b"skipped: no shared data\n").ok();
        return;
    };
    let src = shared.join("captures/sysflow/setuid_setuid.scap");
    let original = std::fs::read(&src).unwrap();
    // After the metadata, before the first event block: a block of a type from the future.
    let first_event = event_block_ends(&original)[0] as usize;
    let first_len = u32::from_le_bytes(original[first_event - 4..first_event].try_into().unwrap());
    let insert = first_event - first_len as usize;
    let mut block = Vec::new();
    block.extend_from_slice(&0x0000_0300u32.to_le_bytes());
    block.extend_from_slice(&20u32.to_le_bytes());
    block.extend_from_slice(b"new!\0\0\0\0");
    block.extend_from_slice(&20u32.to_le_bytes());
    let mut copy = original[..insert].to_vec();
    copy.extend_from_slice(&block);
    copy.extend_from_slice(&original[insert..]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("newer.scap");
    std::fs::write(&path, &copy).unwrap();
    let s = import(&path, &dir.path().join("o.dcap"), Vec::new(), options(), None).unwrap();
    assert_eq!(s.events, 1973);
    assert_eq!(s.skipped, vec![(insert as u64, 0x300)]);
    assert!(s.damage.is_none());
}

#[test]
fn dcap_is_at_most_six_tenths_of_gzip_over_the_sysflow_set() {
    use std::io::Write;
    let Some(shared) = shared() else {
        std::io::Write::write_all(&mut std::io::stderr(), b"skipped: no shared data\n").ok();
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (mut gz_total, mut dcap_total) = (0u64, 0u64);
    for (path, _, gzip, _) in manifest(&shared) {
        if !path.to_string_lossy().contains("/sysflow/") {
            continue;
        }
        assert!(!gzip);
        let raw = std::fs::read(&path).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&raw).unwrap();
        gz_total += gz.finish().unwrap().len() as u64;
        let out = dir.path().join("s.dcap");
        import(&path, &out, Vec::new(), WriterOptions::default(), None).unwrap();
        dcap_total += std::fs::metadata(&out).unwrap().len();
    }
    let ratio = dcap_total as f64 / gz_total as f64;
    println!("sysflow set: dcap {dcap_total} bytes, gzip {gz_total} bytes, ratio {ratio:.3}");
    assert!(ratio <= 0.6, "dcap/gzip = {ratio:.3}");
}

#[test]
fn shared_captures_normalise_to_the_current_layout() {
    use dredge_format::normalize::{Normalized, Normalizer};
    use dredge_format::table::{flag, table};
    let Some(shared) = shared() else {
        std::io::Write::write_all(&mut std::io::stderr(), b"skipped: no shared data\n").ok();
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut report = Vec::new();
    for (path, _, _, _) in manifest(&shared) {
        let out = dir.path().join("n.dcap");
        import(&path, &out, Vec::new(), options(), None).unwrap();
        let c = Capture::open(&out).unwrap();
        let mut n = Normalizer::new();
        let (mut delivered, mut converted, mut errors) = (0, 0, Vec::new());
        for block in c.event_blocks() {
            for ev in block.unwrap().iter() {
                let out = match n.push(&ev) {
                    Ok(Normalized::Unchanged(e)) => e,
                    Ok(Normalized::Converted(e)) => {
                        converted += 1;
                        e
                    }
                    Ok(Normalized::Dropped) => continue,
                    Err(e) => {
                        errors.push(e.to_string());
                        continue;
                    }
                };
                delivered += 1;
                let info = table().get(out.code()).unwrap();
                if info.has_flag(flag::CONVERTER_MANAGED)
                    && out.direction() == dredge_format::table::Direction::Exit
                {
                    assert_eq!(
                        out.params.len(),
                        info.params.len(),
                        "{}: event {} {}",
                        path.display(),
                        out.num,
                        info.name
                    );
                }
            }
        }
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        report.push(format!(
            "{name}: {delivered} delivered, {converted} converted, {} errors {:?}",
            errors.len(),
            errors.first()
        ));
        assert!(errors.is_empty(), "{name}: {errors:?}");
    }
    println!("{}", report.join("\n"));
}
