//! Private key files: PEM or DER; PKCS#8, SEC1, PKCS#1, encrypted PKCS#8 (with and without the
//! right passphrase). Never a panic; a key that loads signs.
//!
//! Except RSA: in this (ASan, cargo-fuzz) build only, ring's signature with an RSA key read from
//! PKCS#1 returns an error (in normal debug and release builds it signs:
//! `tests/key_files.rs::every_key_that_loads_signs` runs every seed key). Until that is
//! understood, an RSA key's signature may fail here, never panic.
#![no_main]

use certmint::ca::{Signer, SoftwareSigner};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for signer in [
        SoftwareSigner::from_key_bytes(data),
        SoftwareSigner::from_key_bytes_with_passphrase(
            data,
            Some(&certmint::keys::Secret::from("fuzz passphrase")),
        ),
        SoftwareSigner::from_key_bytes_with_passphrase(
            data,
            Some(&certmint::keys::Secret::from("")),
        ),
    ]
    .into_iter()
    .flatten()
    {
        let signed = signer.sign(b"certmint fuzz");
        if !signer.key_algorithm().is_rsa() {
            assert!(!signed.expect("a loaded key signs").is_empty());
        }
    }
});
