//! Signing keys: ed25519, stored as PEM (PKCS#8 private keys, SPKI public keys) so that
//! `openssl genpkey -algorithm ed25519` keys work as they are.

use std::fs;
use std::path::Path;

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
pub use ed25519_dalek::{SigningKey, VerifyingKey};

use crate::error::Error;

fn read_text(path: &Path) -> Result<String, Error> {
    fs::read_to_string(path).map_err(|e| Error::io(path, e))
}

fn key_error(path: &Path, detail: impl Into<String>) -> Error {
    Error::Key { path: path.to_path_buf(), detail: detail.into() }
}

/// Loads a private key from a PKCS#8 PEM file.
pub fn load_signing_key(path: &Path) -> Result<SigningKey, Error> {
    let text = read_text(path)?;
    SigningKey::from_pkcs8_pem(&text)
        .map_err(|e| key_error(path, format!("not an ed25519 private key in PEM form ({e})")))
}

/// Loads a public key: SPKI PEM, a private key (its public half), or 64 hex digits.
pub fn load_verifying_key(path: &Path) -> Result<VerifyingKey, Error> {
    let text = read_text(path)?;
    if let Ok(key) = VerifyingKey::from_public_key_pem(&text) {
        return Ok(key);
    }
    if let Ok(key) = SigningKey::from_pkcs8_pem(&text) {
        return Ok(key.verifying_key());
    }
    let hex = text.trim();
    if let Some(bytes) = parse_hex32(hex) {
        return VerifyingKey::from_bytes(&bytes).map_err(|e| key_error(path, e.to_string()));
    }
    Err(key_error(path, "not an ed25519 public key (PEM or 64 hex digits)"))
}

fn parse_hex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// A fresh key from the operating system's random source.
pub fn generate_key() -> Result<SigningKey, getrandom::Error> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed)?;
    Ok(SigningKey::from_bytes(&seed))
}

/// The private key in PKCS#8 PEM.
pub fn signing_key_pem(key: &SigningKey) -> String {
    key.to_pkcs8_pem(LineEnding::LF).map(|pem| pem.to_string()).unwrap_or_default()
}

/// The public key in SPKI PEM.
pub fn verifying_key_pem(key: &VerifyingKey) -> String {
    key.to_public_key_pem(LineEnding::LF).unwrap_or_default()
}

/// A short printable name for a public key: the first 16 hex digits of its SHA-256.
pub fn fingerprint(key: &[u8; 32]) -> String {
    crate::footer::hex(&crate::footer::digest(key)[..8])
}
