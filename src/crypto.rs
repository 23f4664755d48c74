//! The crypto backend: ring by default, aws-lc-rs with the `aws-lc-rs` feature.
//!
//! Everything that signs, hashes or draws randomness goes through here, so the choice is made in
//! one place.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::PrivateKeyDer;
use rustls::sign::SigningKey;

#[cfg(feature = "aws-lc-rs")]
pub(crate) use aws_lc_rs as backend;
#[cfg(not(feature = "aws-lc-rs"))]
pub(crate) use ring as backend;

/// The rustls crypto provider certmint builds configurations with.
///
/// Always use this (through `builder_with_provider`) rather than `ServerConfig::builder()`, which
/// panics when both ring and aws-lc-rs are compiled in.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    #[cfg(feature = "aws-lc-rs")]
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    #[cfg(not(feature = "aws-lc-rs"))]
    let provider = rustls::crypto::ring::default_provider();
    Arc::new(provider)
}

/// Loads a private key for signing, borrowing the caller's bytes (no copy is made that we cannot
/// wipe; the backend's own expanded key cannot be wiped, see the crate docs).
pub(crate) fn load_signing_key(
    key: &PrivateKeyDer<'_>,
) -> Result<Arc<dyn SigningKey>, rustls::Error> {
    #[cfg(feature = "aws-lc-rs")]
    return rustls::crypto::aws_lc_rs::sign::any_supported_type(key);
    #[cfg(not(feature = "aws-lc-rs"))]
    return rustls::crypto::ring::sign::any_supported_type(key);
}

/// SHA-256.
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    let digest = backend::digest::digest(&backend::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// Fills `out` with random bytes from the system.
pub(crate) fn fill_random(out: &mut [u8]) -> Result<(), backend::error::Unspecified> {
    use backend::rand::SecureRandom;
    backend::rand::SystemRandom::new().fill(out)
}
