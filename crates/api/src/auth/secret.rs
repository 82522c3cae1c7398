//! API client secrets: 32 random bytes, shown once, stored as a SHA-256 hash (the
//! secret has full entropy, so a slow password hash adds nothing).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// Prefix that makes leaked secrets recognisable to secret scanners.
const PREFIX: &str = "rsk_";

/// Random bytes from the operating system.
/// # Errors
/// When the OS has no randomness to give (never on supported platforms).
pub fn random_bytes<const N: usize>() -> Result<[u8; N], getrandom::Error> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b)?;
    Ok(b)
}

/// A new client secret.
/// # Errors
/// When the OS has no randomness.
pub fn generate() -> Result<String, getrandom::Error> {
    generate_with(PREFIX)
}

/// A new 256-bit random token with a recognisable prefix (`rsk_` client secrets,
/// `rct_` double opt-in confirmation tokens).
/// # Errors
/// When the OS has no randomness.
pub fn generate_with(prefix: &str) -> Result<String, getrandom::Error> {
    Ok(format!("{prefix}{}", URL_SAFE_NO_PAD.encode(random_bytes::<32>()?)))
}

/// Lowercase hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    use std::fmt::Write;
    Sha256::digest(data).iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The stored form of a secret.
pub fn hash(secret: &str) -> String {
    sha256_hex(secret.as_bytes())
}

/// Whether `secret` matches `stored_hash`, compared in constant time.
pub fn verify(secret: &str, stored_hash: &str) -> bool {
    let h = hash(secret);
    if h.len() != stored_hash.len() {
        return false;
    }
    h.bytes()
        .zip(stored_hash.bytes())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_verifies_against_its_hash_only() {
        let s = generate().unwrap();
        assert!(s.starts_with("rsk_"));
        let h = hash(&s);
        assert!(verify(&s, &h));
        assert!(!verify("rsk_other", &h));
        assert_ne!(generate().unwrap(), s);
    }
}
