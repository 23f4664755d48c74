//! Every parser that takes untrusted bytes: certificate files, key files (with and without a
//! passphrase), host names and DNs (configuration files, PKCS#11 URIs and keys have targets of their own).
//! None may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = certmint::pem::parse_certificates(data);
    let _ = certmint::ca::SoftwareSigner::from_key_bytes(data);
    let _ = certmint::ca::SoftwareSigner::from_key_bytes_with_passphrase(
        data,
        Some(&certmint::keys::Secret::from("pw")),
    );
    let _ = certmint::inspect::CertificateInfo::parse(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = certmint::Host::parse(text);
        let _ = certmint::ca::DistinguishedName::parse(text);
    }
});
