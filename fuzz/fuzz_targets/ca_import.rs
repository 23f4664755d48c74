//! `certmint ca import`'s checks on a signed certificate chain (PEM or DER, as an
//! administrator would hand it over): a usable issuer or a typed error, never a panic.
#![no_main]

use std::sync::{Arc, OnceLock};

use certmint::ca::{Signer, SoftwareSigner};
use libfuzzer_sys::fuzz_target;

fn signer() -> Arc<dyn Signer> {
    static SIGNER: OnceLock<Arc<dyn Signer>> = OnceLock::new();
    Arc::clone(SIGNER.get_or_init(|| {
        // The key of corpus/ca_import/throwaway-chain-p256.pem, so that seed passes every check.
        let key = include_bytes!("../fixtures/test-key-ca-import-p256.pem");
        Arc::new(SoftwareSigner::from_key_bytes(key).expect("the fixture key"))
    }))
}

fuzz_target!(|input: (bool, &[u8])| {
    let (rotation, data) = input;
    if let Ok(chain) = certmint::pem::parse_certificates(data) {
        let _ = certmint::registry::check_import(chain, signer(), rotation);
    }
});
