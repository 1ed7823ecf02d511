//! Damage: every single-byte change is caught by `verify`, and a cut file is read up to the
//! cut with an exact account of what was lost.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on purpose")]

use dredge_format::synth::{Rng, write_capture};
use dredge_format::{BlockKind, Capture, WriterOptions, sign, verify};

fn small_signed_file(dir: &std::path::Path) -> (Vec<u8>, sign::SigningKey) {
    let path = dir.join("small.dcap");
    let key = sign::SigningKey::from_bytes(&[42u8; 32]);
    let options = WriterOptions { block_bytes: 1500, ..WriterOptions::default() };
    write_capture(&path, 160, 3, options, Some(&key)).unwrap();
    (std::fs::read(&path).unwrap(), key)
}

#[test]
fn untouched_file_verifies_and_signature_needs_the_right_key() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, key) = small_signed_file(dir.path());
    let good = verify::verify_bytes(&bytes, Some(&key.verifying_key())).unwrap();
    assert!(good.ok(), "{:?}", good.problems);
    assert!(matches!(
        good.signature,
        verify::SignatureCheck::Valid { matches_key: Some(true), .. }
    ));

    let other = sign::SigningKey::from_bytes(&[7u8; 32]).verifying_key();
    let bad = verify::verify_bytes(&bytes, Some(&other)).unwrap();
    assert!(!bad.ok());
    assert!(matches!(
        bad.signature,
        verify::SignatureCheck::Valid { matches_key: Some(false), .. }
    ));
}

#[test]
fn every_single_byte_change_fails_verification_naming_the_place() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, key) = small_signed_file(dir.path());
    let public = key.verifying_key();
    let blocks = Capture::open(dir.path().join("small.dcap")).unwrap().blocks().len();
    assert!(blocks >= 6, "want several blocks, got {blocks}");
    for offset in 0..bytes.len() {
        for flip in [0x01u8, 0xff] {
            let mut copy = bytes.clone();
            copy[offset] ^= flip;
            let report = match verify::verify_bytes(&copy, Some(&public)) {
                Ok(r) => r,
                Err(msg) => panic!("offset {offset}: not even read: {msg}"),
            };
            assert!(
                !report.ok(),
                "byte {offset} ^ {flip:#x} went unnoticed ({} bytes)",
                bytes.len()
            );
            let named = report.problems.first().map(|p| p.place.clone()).unwrap_or_default();
            let sig_only = report.problems.is_empty();
            assert!(
                sig_only
                    || named.starts_with("block #")
                    || ["prologue", "footer", "signature", "trailer"].contains(&named.as_str()),
                "offset {offset}: unnamed place {named:?}"
            );
        }
    }
}

/// Ground truth from the intact file: (offset, span, events) of every block before the footer.
fn layout(path: &std::path::Path) -> (Vec<(u64, u64, u64, BlockKind)>, u64) {
    let c = Capture::open(path).unwrap();
    let blocks = c
        .blocks()
        .iter()
        .map(|b| {
            let events =
                if b.header.kind == BlockKind::Events { u64::from(b.header.count) } else { 0 };
            (b.offset, b.header.span(), events, b.header.kind)
        })
        .collect();
    (blocks, c.event_count())
}

#[test]
fn cut_files_read_up_to_the_cut_with_exact_losses() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("whole.dcap");
    let options = WriterOptions { block_bytes: 4096, ..WriterOptions::default() };
    write_capture(&path, 20_000, 11, options, None).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let (blocks, total) = layout(&path);
    let header_end = blocks[0].0 + blocks[0].1;

    let mut rng = Rng::new(2024);
    for _ in 0..20 {
        let cut = header_end + rng.below(bytes.len() as u64 - header_end);
        let cut_path = dir.path().join("cut.dcap");
        std::fs::write(&cut_path, &bytes[..cut as usize]).unwrap();
        let c = Capture::open(&cut_path).unwrap();

        let whole: u64 = blocks.iter().filter(|b| b.0 + b.1 <= cut).map(|b| b.2).sum();
        let mut read = 0u64;
        for b in c.event_blocks() {
            read += b.unwrap().len() as u64;
        }
        assert_eq!(read, whole, "cut at {cut}: events read");

        let loss = c.losses().last().expect("a cut file reports a loss");
        assert!(loss.to_end, "cut at {cut}: {loss}");
        let partial = blocks.iter().find(|b| b.0 < cut && cut < b.0 + b.1);
        match partial {
            // Cut inside a block whose header survived: its events are counted exactly.
            Some(b) if cut - b.0 >= 56 => {
                assert_eq!(loss.events, Some(b.2), "cut at {cut}: {loss}")
            }
            // Cut inside a header: nothing tells how many events it held.
            Some(_) => assert_eq!(loss.events, None, "cut at {cut}: {loss}"),
            // Cut between blocks or in the footer: no event block is cut.
            None => assert!(matches!(loss.events, None | Some(0)), "cut at {cut}: {loss}"),
        }
        assert!(whole + loss.events.unwrap_or(0) <= total);
    }
}

#[test]
fn a_zeroed_block_in_an_unclosed_file_is_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("z.dcap");
    let options = WriterOptions { block_bytes: 4096, ..WriterOptions::default() };
    write_capture(&path, 10_000, 4, options, None).unwrap();
    let (blocks, total) = layout(&path);
    let mut bytes = std::fs::read(&path).unwrap();
    // Drop the trailer so the reader must scan, then zero one event block in the middle.
    bytes.truncate(bytes.len() - 24);
    let victim = blocks.iter().filter(|b| b.3 == BlockKind::Events).nth(5).copied().unwrap();
    bytes[victim.0 as usize..(victim.0 + victim.1) as usize].fill(0);
    std::fs::write(&path, &bytes).unwrap();

    let c = Capture::open(&path).unwrap();
    let read: u64 = c.event_blocks().map(|b| b.unwrap().len() as u64).sum();
    assert_eq!(read, total - victim.2);
    let loss = &c.losses()[0];
    assert_eq!((loss.offset, loss.bytes), (victim.0, victim.1));
    assert_eq!((loss.blocks, loss.events), (Some(1), Some(victim.2)));
}

#[test]
fn a_damaged_block_in_a_closed_file_costs_that_block_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.dcap");
    let options = WriterOptions { block_bytes: 4096, ..WriterOptions::default() };
    write_capture(&path, 10_000, 4, options, None).unwrap();
    let (blocks, total) = layout(&path);
    let victim = blocks.iter().filter(|b| b.3 == BlockKind::Events).nth(3).copied().unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[(victim.0 + 100) as usize] ^= 0x55;
    std::fs::write(&path, &bytes).unwrap();

    let c = Capture::open(&path).unwrap();
    let (mut read, mut errors) = (0, Vec::new());
    for b in c.event_blocks() {
        match b {
            Ok(b) => read += b.len() as u64,
            Err(e) => errors.push(e),
        }
    }
    assert_eq!(read, total - victim.2);
    assert_eq!(errors.len(), 1);
    assert_eq!((errors[0].offset, errors[0].events), (victim.0, victim.2));
    assert!(errors[0].to_string().contains("payload checksum mismatch"), "{}", errors[0]);
}

#[test]
fn unknown_block_kinds_and_trailing_fields_are_skipped() {
    use dredge_format::block::{BlockHeader, BlockKind as K};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("newer.dcap");
    let options = WriterOptions { block_bytes: 4096, ..WriterOptions::default() };
    write_capture(&path, 5_000, 8, options, None).unwrap();
    let (blocks, total) = layout(&path);
    let bytes = std::fs::read(&path).unwrap();

    // A newer writer's block of a kind this version does not know, after the header block,
    // with the later blocks renumbered, and no footer (which would list it).
    let insert_at = (blocks[0].0 + blocks[0].1) as usize;
    let payload = b"something from the future";
    let unknown = BlockHeader {
        kind: K::Unknown(0x0777),
        flags: 0,
        seq: 1,
        stored_len: payload.len() as u32,
        raw_len: payload.len() as u32,
        count: 0,
        first_event: 0,
        min_ts: 0,
        max_ts: 0,
        payload_crc: crc32c::crc32c(payload),
    };
    let mut out = bytes[..insert_at].to_vec();
    out.extend_from_slice(&unknown.encode());
    out.extend_from_slice(payload);
    for b in &blocks[1..] {
        let raw = &bytes[b.0 as usize..(b.0 + b.1) as usize];
        let mut h = BlockHeader::decode(raw[..56].try_into().unwrap()).unwrap();
        h.seq += 1;
        out.extend_from_slice(&h.encode());
        out.extend_from_slice(&raw[56..]);
    }
    std::fs::write(&path, &out).unwrap();

    let c = Capture::open(&path).unwrap();
    let read: u64 = c.event_blocks().map(|b| b.unwrap().len() as u64).sum();
    assert_eq!(read, total);
    assert!(c.blocks().iter().any(|b| b.header.kind == K::Unknown(0x0777)));
    assert_eq!(c.states().filter(|(_, s)| s.is_err()).count(), 0);
    // Only the missing footer is reported, not the unknown block.
    assert_eq!(c.losses().len(), 1, "{:?}", c.losses());
    assert!(c.losses()[0].to_end && c.losses()[0].bytes == 0);
}
