//! Any bytes as an origin certificate, with any host: the minter returns a leaf or a typed
//! error, never panics; a leaf it returns parses back and names our issuer.
#![no_main]

use std::sync::{Arc, OnceLock};

use certmint::rustls::pki_types::CertificateDer;
use certmint::{
    keys::KeyPool, mint::MintPolicy, testing::ThrowawayCa, KeyAlgorithm, MintRequest, Minter,
};
use libfuzzer_sys::fuzz_target;

fn minter() -> &'static Minter {
    static MINTER: OnceLock<Minter> = OnceLock::new();
    MINTER.get_or_init(|| {
        let ca = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256).unwrap();
        Minter::new(
            Arc::new(ca.issuer().unwrap()),
            Arc::new(KeyPool::default()),
            MintPolicy::default(),
        )
    })
}

fuzz_target!(|input: (&[u8], Option<&str>)| {
    let (bytes, host) = input;
    let origin = CertificateDer::from(bytes);
    let mut request = MintRequest::default()
        .with_origin(&origin)
        .with_key_algorithm(KeyAlgorithm::EcdsaP256);
    if let Some(host) = host {
        request = request.with_host(host);
    }
    if let Ok(minted) = minter().mint(&request) {
        let info = certmint::inspect::CertificateInfo::parse(minted.leaf().as_ref())
            .expect("our own leaf parses");
        assert!(info.issuer.contains("certmint throwaway intermediate CA"));
    }
});
