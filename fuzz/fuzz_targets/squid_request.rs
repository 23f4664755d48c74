//! Squid helper requests: `Request::parse` on arbitrary bodies, then (when they parse) the
//! whole answer path with a fixed CA whose PEM is spliced in, so the origin certificate part is
//! what the fuzzer controls. Never a panic; errors are fine.
#![no_main]

use std::sync::OnceLock;

use certmint::squid::{Request, SquidHelper, SquidSettings};
use libfuzzer_sys::fuzz_target;

struct Fixture {
    helper: SquidHelper,
    ca: Vec<u8>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let ca = certmint::testing::ThrowawayCa::generate(certmint::KeyAlgorithm::EcdsaP256)
            .expect("a throwaway CA");
        let mut pem = certmint::pem::encode_certificate(&ca.intermediate).into_bytes();
        pem.extend_from_slice(ca.intermediate_key.to_pem().as_bytes());
        Fixture {
            helper: SquidHelper::new(SquidSettings::default()),
            ca: pem,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = Request::parse(data);
    // The fuzzer's bytes as parameters and origin around a real CA.
    let split = data.iter().position(|b| *b == 0).unwrap_or(data.len());
    let f = fixture();
    let mut body = data[..split].to_vec();
    body.push(b'\n');
    body.extend_from_slice(&f.ca);
    body.extend_from_slice(b" -----BEGIN CERTIFICATE-----\n");
    body.extend_from_slice(data.get(split + 1..).unwrap_or_default());
    let _ = f.helper.answer(&body);
});
