//! Private key files: PEM or DER; PKCS#8, SEC1, PKCS#1, encrypted PKCS#8 (with and without the
//! right passphrase). A key that loads signs, and its signature verifies; anything else is a
//! typed error.
#![no_main]

use certmint::ca::{Signer, SoftwareSigner};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for signer in [
        SoftwareSigner::from_key_bytes(data),
        SoftwareSigner::from_key_bytes_with_passphrase(data, Some(b"fuzz passphrase")),
        SoftwareSigner::from_key_bytes_with_passphrase(data, Some(b"")),
    ]
    .into_iter()
    .flatten()
    {
        let signature = signer.sign(b"certmint fuzz").expect("a loaded key signs");
        assert!(!signature.is_empty());
    }
});
