//! `dredge verify`: check a capture's checksums, digest and signature.

use std::path::PathBuf;

use dredge_format::{sign, verify};

/// Check every block checksum, the file digest and, with --key, the signature.
#[derive(clap::Args)]
pub struct Args {
    /// The capture.
    file: PathBuf,
    /// The public key the capture must be signed with (PEM, or 64 hex digits).
    #[arg(long)]
    key: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    if super::is_scap(&args.file) {
        return verify_scap(&args);
    }
    let key = args.key.as_deref().map(sign::load_verifying_key).transpose()?;
    let report = verify::verify(&args.file, key.as_ref())?;
    let name = args.file.display();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for p in &report.problems {
            println!("{name}: {p}");
        }
        let sig = match &report.signature {
            verify::SignatureCheck::Unsigned => "unsigned".to_string(),
            verify::SignatureCheck::Valid { fingerprint, matches_key: None } => {
                format!("signed by key {fingerprint} (pass --key to check whose)")
            }
            verify::SignatureCheck::Valid { fingerprint, matches_key: Some(true) } => {
                format!("signed by the given key {fingerprint}")
            }
            verify::SignatureCheck::Valid { fingerprint, matches_key: Some(false) } => {
                format!("signed by key {fingerprint}, NOT the given key")
            }
            verify::SignatureCheck::Invalid { fingerprint } => {
                format!("signature by key {fingerprint} is INVALID")
            }
        };
        let verdict = if report.ok() { "OK" } else { "FAILED" };
        println!(
            "{name}: {verdict}: {} blocks, {} events, {} bytes, {sig}",
            report.blocks, report.events, report.bytes
        );
    }
    let unsigned_but_key = key.is_some() && report.signature == verify::SignatureCheck::Unsigned;
    if unsigned_but_key && !args.json {
        println!("{name}: FAILED: a key was given but the capture is not signed");
    }
    Ok(if report.ok() && !unsigned_but_key { crate::exit::OK } else { crate::exit::INTEGRITY })
}

/// A scap file has no checksums or signature: check that its structure reads to the end.
fn verify_scap(args: &Args) -> anyhow::Result<u8> {
    let opened = super::open_capture(&args.file)?;
    let name = args.file.display();
    let summary = opened.imported.as_ref();
    let events = summary.map_or(0, |s| s.events);
    match summary.and_then(|s| s.damage.as_ref()) {
        Some(e) => {
            println!("{e}");
            println!(
                "{name}: FAILED: damaged scap capture ({events} events readable before the damage)"
            );
            Ok(crate::exit::INTEGRITY)
        }
        None => {
            println!(
                "{name}: structure OK: scap capture, {events} events; scap files carry no \
                 checksums or signature, so nothing more can be verified"
            );
            Ok(if args.key.is_some() { crate::exit::INTEGRITY } else { crate::exit::OK })
        }
    }
}
