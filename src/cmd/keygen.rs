//! `dredge keygen`: make an ed25519 key pair for signing captures.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use anyhow::Context;
use dredge_format::sign;

/// Create an ed25519 key pair: PREFIX.key (private, mode 0600) and PREFIX.pub.
#[derive(clap::Args)]
pub struct Args {
    /// Path prefix of the two files.
    prefix: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let key = sign::generate_key().context("no random source")?;
    let private = args.prefix.with_extension("key");
    let public = args.prefix.with_extension("pub");
    let write = |path: &PathBuf, text: &str, mode: u32| -> anyhow::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(path)
            .with_context(|| format!("{}: cannot create", path.display()))?;
        f.write_all(text.as_bytes()).with_context(|| format!("{}: cannot write", path.display()))
    };
    write(&private, &sign::signing_key_pem(&key), 0o600)?;
    write(&public, &sign::verifying_key_pem(&key.verifying_key()), 0o644)?;
    println!(
        "{} and {} written; fingerprint {}",
        private.display(),
        public.display(),
        sign::fingerprint(&key.verifying_key().to_bytes())
    );
    Ok(crate::exit::OK)
}
