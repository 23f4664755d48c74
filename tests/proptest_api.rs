//! No panic is reachable from a public call: every entry point that takes outside input gets
//! arbitrary input (and extreme settings) and must answer with a value or a typed error.

mod common;

use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use certmint::ca::{DistinguishedName, Issuer, IssuerOptions, Pkcs11Uri, SoftwareSigner};
use certmint::keys::{KeyPool, Secret};
use certmint::mint::{MintPolicy, ValidityPolicy};
use certmint::rustls::pki_types::{CertificateDer, UnixTime};
use certmint::rustls::SignatureScheme;
use certmint::testing::ThrowawayCa;
use certmint::{CaSpec, ClientKeySupport, Deployment, Host, KeyAlgorithm, MintRequest, Minter};
use proptest::prelude::*;

fn deployment() -> &'static Deployment {
    static D: OnceLock<Deployment> = OnceLock::new();
    D.get_or_init(|| {
        let ca = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256).unwrap();
        Deployment::builder()
            .ca(CaSpec::from_issuer("corp", Arc::new(ca.issuer().unwrap())))
            .build()
            .unwrap()
    })
}

fn ca() -> &'static ThrowawayCa {
    static CA: OnceLock<ThrowawayCa> = OnceLock::new();
    CA.get_or_init(|| ThrowawayCa::generate(KeyAlgorithm::EcdsaP256).unwrap())
}

fn any_algorithm() -> impl Strategy<Value = KeyAlgorithm> {
    prop_oneof![
        Just(KeyAlgorithm::EcdsaP256),
        Just(KeyAlgorithm::EcdsaP384),
        Just(KeyAlgorithm::Ed25519),
    ]
}

fn any_duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        Just(Duration::ZERO),
        Just(Duration::MAX),
        Just(Duration::from_secs(u64::MAX)),
        any::<u64>().prop_map(Duration::from_secs),
    ]
}

/// A real origin, sometimes mutated, sometimes replaced by garbage.
fn any_origin() -> impl Strategy<Value = Vec<u8>> {
    let real = common::origin(
        &common::params_for(&["prop.example"]),
        KeyAlgorithm::EcdsaP256,
    )
    .as_ref()
    .to_vec();
    prop_oneof![
        Just(real.clone()),
        (0..real.len(), any::<u8>()).prop_map(move |(i, b)| {
            let mut m = real.clone();
            m[i] ^= b | 1;
            m
        }),
        proptest::collection::vec(any::<u8>(), 0..300),
    ]
}

proptest! {
    // 256 cases by default; PROPTEST_CASES=N for a longer hunt.
    #![proptest_config(ProptestConfig::default())]

    #[test]
    fn text_parsers_never_panic(text in ".{0,200}") {
        let _ = Host::parse(&text);
        let _ = DistinguishedName::parse(&text);
        let _ = KeyAlgorithm::from_str(&text);
        let _ = Pkcs11Uri::parse(&text);
        let _ = Pkcs11Uri::parse(&format!("pkcs11:{text}"));
        if let Ok(config) = certmint::config::Config::from_text(&text) {
            let _ = config.into_builder();
        }
    }

    #[test]
    fn byte_parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = certmint::pem::parse_certificates(&bytes);
        let _ = SoftwareSigner::from_key_bytes(&bytes);
        let _ = SoftwareSigner::from_key_bytes_with_passphrase(&bytes, Some(&Secret::from("pw")));
        let _ = certmint::inspect::CertificateInfo::parse(&bytes);
        let _ = Issuer::from_pem(&bytes, &bytes);
        let signer = Arc::new(SoftwareSigner::from_private_key(&ca().intermediate_key).unwrap());
        let _ = Issuer::new(vec![CertificateDer::from(bytes.clone())], signer, IssuerOptions::default());
        let _ = Deployment::builder().ca(CaSpec::from_pem("x", &bytes, &bytes)).build();
    }

    #[test]
    fn the_front_door_answers_any_lookup(
        host in prop::option::of(".{0,80}"),
        origin in any_origin(),
        with_origin in any::<bool>(),
        schemes in proptest::collection::vec(any::<u16>(), 0..6),
    ) {
        let schemes: Vec<SignatureScheme> = schemes.into_iter().map(SignatureScheme::from).collect();
        let chain = if with_origin { vec![CertificateDer::from(origin)] } else { vec![] };
        let _ = deployment().lookup(
            host.as_deref(),
            &chain,
            ClientKeySupport::from_schemes(&schemes),
        );
    }

    #[test]
    fn the_minter_answers_any_request_under_any_policy(
        origin in prop::option::of(any_origin()),
        host in prop::option::of(".{0,80}"),
        algorithm in prop::option::of(any_algorithm()),
        now in any::<u64>(),
        lifetime in any_duration(),
        backdate in any_duration(),
        mirror in any::<bool>(),
        max_origin_len in any::<usize>(),
    ) {
        let mut policy = MintPolicy::default();
        policy.host_only_lifetime = lifetime;
        policy.host_only_backdate = backdate;
        policy.max_origin_len = max_origin_len;
        policy.validity = if mirror {
            ValidityPolicy::Mirror { max_lifetime: lifetime }
        } else {
            ValidityPolicy::Fixed { backdate, lifetime }
        };
        let minter = Minter::new(
            Arc::new(ca().issuer().unwrap()),
            Arc::new(KeyPool::inline()),
            policy,
        );
        let origin = origin.map(CertificateDer::from);
        let mut request = MintRequest::default().at(UnixTime::since_unix_epoch(Duration::from_secs(now)));
        if let Some(o) = &origin {
            request = request.with_origin(o);
        }
        if let Some(h) = &host {
            request = request.with_host(h);
        }
        if let Some(a) = algorithm {
            request = request.with_key_algorithm(a);
        }
        let _ = minter.mint(&request);
    }
}
