//! Every bad input gets a typed error, never a panic.

mod common;

use std::sync::Arc;

use certmint::rustls::pki_types::CertificateDer;
use certmint::{
    ca::{Issuer, IssuerOptions, SoftwareSigner},
    mint::Adjustments,
    EncodingError, Error, HostError, IssuerError, KeyAlgorithm, KeyError, MintRequest, OriginError,
};
use common::*;
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyIdMethod, KeyUsagePurpose};

fn minter() -> &'static certmint::Minter {
    &interception(KeyAlgorithm::EcdsaP256).minter
}

fn mint_origin(der: &[u8]) -> Result<certmint::MintedCert, Error> {
    let der = CertificateDer::from(der.to_vec());
    minter().mint(&MintRequest::clone_of(&der))
}

fn good_origin() -> CertificateDer<'static> {
    origin(&params_for(&["good.example"]), KeyAlgorithm::EcdsaP256)
}

#[test]
fn empty_origin_is_refused() {
    assert!(matches!(
        mint_origin(b""),
        Err(Error::Origin(OriginError::Empty))
    ));
}

#[test]
fn truncated_origin_is_malformed_at_every_length() {
    let der = good_origin();
    for len in 1..der.len() {
        match mint_origin(&der[..len]) {
            Err(Error::Origin(OriginError::Malformed { .. })) => {}
            other => panic!("truncated to {len}: {other:?}"),
        }
    }
}

#[test]
fn trailing_bytes_are_refused() {
    let mut der = good_origin().to_vec();
    der.extend_from_slice(&[0x05, 0x00]);
    assert!(matches!(
        mint_origin(&der),
        Err(Error::Origin(OriginError::TrailingData { len: 2 }))
    ));
}

#[test]
fn garbage_is_malformed() {
    for input in [
        &b"hello world"[..],
        &[0x30, 0x03, 0x02, 0x01, 0x01],
        &[0x30, 0x80, 0, 0],
        &[0xff; 40],
    ] {
        assert!(
            matches!(
                mint_origin(input),
                Err(Error::Origin(OriginError::Malformed { .. }))
            ),
            "{input:?}"
        );
    }
}

#[test]
fn oversized_origin_is_refused() {
    let names: Vec<String> = (0..2500)
        .map(|i| format!("host-number-{i:05}.big.example"))
        .collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let der = origin(&params_for(&refs), KeyAlgorithm::EcdsaP256);
    assert!(der.len() > certmint::mint::DEFAULT_MAX_ORIGIN_LEN);
    match mint_origin(&der) {
        Err(Error::Origin(OriginError::TooLarge { len, max })) => {
            assert_eq!((len, max), (der.len(), 64 * 1024));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unsupported_version_is_refused() {
    let der = resign(&good_origin(), |f| f[0] = tlv(0xa0, &tlv(0x02, &[7])));
    assert!(matches!(
        mint_origin(&der),
        Err(Error::Origin(OriginError::UnsupportedVersion))
    ));
}

#[test]
fn unsupported_origin_key_falls_back_to_p256() {
    // An X25519 SubjectPublicKeyInfo: no certificate key certmint can reproduce.
    let spki = tlv(
        0x30,
        &[
            tlv(0x30, &tlv(0x06, &[0x2b, 0x65, 0x6e])),
            tlv(0x03, &[0; 33]),
        ]
        .concat(),
    );
    let der = resign(&good_origin(), |f| f[6] = spki);
    let minted = mint_origin(&der).unwrap();
    assert_eq!(minted.key().algorithm(), KeyAlgorithm::EcdsaP256);
    assert!(minted.adjustments().contains(Adjustments::FALLBACK_KEY));
}

#[test]
fn nothing_to_mint_is_an_error() {
    assert!(matches!(
        minter().mint(&MintRequest::default()),
        Err(Error::NothingToMint)
    ));
}

#[test]
fn bad_hosts_are_refused_with_their_reason() {
    let long = [
        "a".repeat(60),
        "b".repeat(60),
        "c".repeat(60),
        "d".repeat(60),
        "e".repeat(60),
    ]
    .join(".");
    let cases: Vec<(&str, HostError)> = vec![
        ("", HostError::Empty),
        (&long, HostError::TooLong { len: long.len() }),
        ("bücher.example", HostError::NotAscii),
        (
            "evil.example\r\nX: y",
            HostError::InvalidCharacter {
                character: '\r',
                position: 12,
            },
        ),
        (
            "a.example,DNS:evil.example",
            HostError::InvalidCharacter {
                character: ',',
                position: 9,
            },
        ),
        (
            "a example",
            HostError::InvalidCharacter {
                character: ' ',
                position: 1,
            },
        ),
        (
            "a/example",
            HostError::InvalidCharacter {
                character: '/',
                position: 1,
            },
        ),
        ("a..example", HostError::EmptyLabel),
    ];
    let origin = good_origin();
    for (host, expected) in cases {
        for request in [
            MintRequest::for_host(host),
            MintRequest::clone_of(&origin).with_host(host),
        ] {
            match minter().mint(&request) {
                Err(Error::Host(got)) => assert_eq!(got, expected, "{host:?}"),
                other => panic!("{host:?}: {other:?}"),
            }
        }
    }
}

// ---------------------------------------------------------------- issuing CA checks

fn ca_params() -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name
        .push(rcgen::DnType::CommonName, "Test Issuing CA");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.key_identifier_method = KeyIdMethod::Sha256;
    let now = ::time::OffsetDateTime::now_utc();
    p.not_before = now - ::time::Duration::days(1);
    p.not_after = now + ::time::Duration::days(30);
    p
}

fn issuer_from(params: &CertificateParams) -> Result<Issuer, Error> {
    let pkcs8 = KeyAlgorithm::EcdsaP256.generate_test_key();
    let key = rcgen::KeyPair::try_from(&pkcs8[..]).unwrap();
    let cert = params.self_signed(&key).unwrap().der().clone();
    let signer = SoftwareSigner::from_key_bytes(&pkcs8).unwrap();
    Issuer::new(vec![cert], Arc::new(signer), IssuerOptions::default())
}

fn issuer_error(params: &CertificateParams) -> IssuerError {
    match issuer_from(params) {
        Err(Error::Issuer(e)) => e,
        other => panic!("expected an issuer error, got {other:?}"),
    }
}

#[test]
fn a_proper_ca_is_accepted() {
    issuer_from(&ca_params()).unwrap();
}

#[test]
fn a_ca_with_name_constraints_is_accepted_with_a_warning() {
    let mut p = ca_params();
    p.name_constraints = Some(rcgen::NameConstraints {
        permitted_subtrees: vec![rcgen::GeneralSubtree::DnsName("corp.example".into())],
        excluded_subtrees: vec![],
    });
    issuer_from(&p).unwrap();
}

#[test]
fn a_non_ca_is_refused() {
    let mut p = ca_params();
    p.is_ca = IsCa::ExplicitNoCa;
    assert_eq!(issuer_error(&p), IssuerError::NotCa);
    p.is_ca = IsCa::NoCa;
    assert_eq!(issuer_error(&p), IssuerError::NotCa);
}

#[test]
fn a_ca_without_key_cert_sign_is_refused() {
    let mut p = ca_params();
    p.key_usages = vec![KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    assert_eq!(issuer_error(&p), IssuerError::NoKeyCertSign);
}

#[test]
fn a_ca_without_subject_key_identifier_is_refused() {
    // rcgen always writes an SKI for CAs; remove it by surgery (self-signature left broken: the
    // check under test does not verify it).
    let pkcs8 = KeyAlgorithm::EcdsaP256.generate_test_key();
    let key = rcgen::KeyPair::try_from(&pkcs8[..]).unwrap();
    let der = ca_params().self_signed(&key).unwrap().der().to_vec();
    let cert = split(content(&der));
    let mut fields = split(content(&cert[0]));
    let ext_index = fields.len() - 1;
    let exts: Vec<Vec<u8>> = split(content(content(&fields[ext_index])))
        .into_iter()
        .filter(|e| !e.windows(5).any(|w| w == [0x06, 0x03, 0x55, 0x1d, 0x0e]))
        .collect();
    fields[ext_index] = tlv(0xa3, &tlv(0x30, &exts.concat()));
    let body = [
        tlv(0x30, &fields.concat()),
        cert[1].clone(),
        cert[2].clone(),
    ]
    .concat();
    let stripped = CertificateDer::from(tlv(0x30, &body));
    let signer = SoftwareSigner::from_key_bytes(&pkcs8).unwrap();
    match Issuer::new(vec![stripped], Arc::new(signer), IssuerOptions::default()) {
        Err(Error::Issuer(IssuerError::NoSubjectKeyIdentifier)) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_expired_or_future_ca_is_refused() {
    let now = ::time::OffsetDateTime::now_utc();
    let mut p = ca_params();
    p.not_before = now - ::time::Duration::days(30);
    p.not_after = now - ::time::Duration::days(1);
    assert!(matches!(issuer_error(&p), IssuerError::Expired { .. }));
    p.not_before = now + ::time::Duration::days(1);
    p.not_after = now + ::time::Duration::days(30);
    assert!(matches!(issuer_error(&p), IssuerError::NotYetValid { .. }));
}

#[test]
fn a_ca_whose_eku_lacks_server_auth_is_refused() {
    let mut p = ca_params();
    p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    assert_eq!(issuer_error(&p), IssuerError::EkuWithoutServerAuth);
    p.extended_key_usages
        .push(rcgen::ExtendedKeyUsagePurpose::ServerAuth);
    issuer_from(&p).unwrap();
}

#[test]
fn a_key_that_does_not_match_the_ca_is_refused() {
    let pkcs8 = KeyAlgorithm::EcdsaP256.generate_test_key();
    let key = rcgen::KeyPair::try_from(&pkcs8[..]).unwrap();
    let cert = ca_params().self_signed(&key).unwrap().der().clone();
    let other =
        SoftwareSigner::from_key_bytes(&KeyAlgorithm::EcdsaP256.generate_test_key()).unwrap();
    match Issuer::new(vec![cert], Arc::new(other), IssuerOptions::default()) {
        Err(Error::Issuer(IssuerError::KeyMismatch { subject })) => {
            assert!(subject.contains("CN="), "{subject}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn no_certificate_is_refused() {
    let signer =
        SoftwareSigner::from_key_bytes(&KeyAlgorithm::EcdsaP256.generate_test_key()).unwrap();
    assert!(matches!(
        Issuer::new(vec![], Arc::new(signer), IssuerOptions::default()),
        Err(Error::Issuer(IssuerError::NoCertificate))
    ));
}

// ---------------------------------------------------------------- key files

#[test]
fn bad_key_files_get_typed_errors_without_key_material() {
    let err = SoftwareSigner::from_key_bytes(b"definitely not a key").unwrap_err();
    assert!(
        matches!(err, Error::Key(KeyError::UnrecognizedFormat)),
        "{err:?}"
    );
    let encrypted =
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n";
    assert!(matches!(
        SoftwareSigner::from_key_bytes(encrypted.as_bytes()),
        Err(Error::Key(KeyError::Encrypted))
    ));
    let cert_only = test_cert_pem(good_origin().as_ref());
    assert!(matches!(
        SoftwareSigner::from_key_bytes(cert_only.as_bytes()),
        Err(Error::Encoding(EncodingError::NoPrivateKey))
    ));
    let pkcs8 = KeyAlgorithm::EcdsaP256.generate_test_key();
    let one = test_key_pem(&pkcs8);
    let two = format!("{one}{one}");
    assert!(matches!(
        SoftwareSigner::from_key_bytes(two.as_bytes()),
        Err(Error::Encoding(EncodingError::SeveralPrivateKeys))
    ));
    // A truncated key: the error names no bytes of it.
    let truncated = &pkcs8[..pkcs8.len() - 10];
    let err = SoftwareSigner::from_key_bytes(truncated).unwrap_err();
    let text = err.to_string();
    assert!(
        !text.contains(&format!("{:02x}", pkcs8[40])) || text.len() < 60,
        "{text}"
    );
    assert!(matches!(err, Error::Key(_)), "{err:?}");
    // A well-formed key of an algorithm certmint does not sign with (P-521).
    let p521 = pkcs8_with_curve(&[0x2b, 0x81, 0x04, 0x00, 0x23]);
    assert!(matches!(
        SoftwareSigner::from_key_bytes(&p521),
        Err(Error::Key(KeyError::Unsupported))
    ));
}

fn pkcs8_with_curve(curve: &[u8]) -> Vec<u8> {
    let alg = tlv(
        0x30,
        &[
            tlv(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]),
            tlv(0x06, curve),
        ]
        .concat(),
    );
    let sec1 = tlv(0x30, &[tlv(0x02, &[1]), tlv(0x04, &[7; 66])].concat());
    tlv(0x30, &[tlv(0x02, &[0]), alg, tlv(0x04, &sec1)].concat())
}

#[test]
fn bad_pem_is_a_typed_error() {
    let text = "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
    assert_eq!(
        certmint::pem::parse_certificates(text.as_bytes()),
        Err(EncodingError::Pem { index: 0 })
    );
}

/// Errors about a file's contents name the file: the certificate file for a bad chain, the key
/// file for a bad key or a key that does not match (whose error also names the certificate).
#[test]
fn file_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let pkcs8 = KeyAlgorithm::EcdsaP256.generate_test_key();
    let key = rcgen::KeyPair::try_from(&pkcs8[..]).unwrap();
    let cert_pem = ca_params().self_signed(&key).unwrap().pem();
    let cert = dir.path().join("ca-cert.pem");
    let empty = dir.path().join("empty.pem");
    let other_key = dir.path().join("other-key.pem");
    let garbage_key = dir.path().join("garbage-key.pem");
    std::fs::write(&cert, &cert_pem).unwrap();
    std::fs::write(&empty, b"").unwrap();
    let other = rcgen::KeyPair::try_from(&KeyAlgorithm::EcdsaP256.generate_test_key()[..]).unwrap();
    std::fs::write(&other_key, other.serialize_pem()).unwrap();
    std::fs::write(&garbage_key, b"not a key").unwrap();

    let err = Issuer::from_files(&empty, &other_key).unwrap_err();
    assert!(err.to_string().contains("empty.pem"), "{err}");
    assert!(matches!(
        err.without_file(),
        Error::Encoding(EncodingError::NoCertificate)
    ));

    let err = Issuer::from_files(&cert, &other_key).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("other-key.pem") && text.contains("CN=Test Issuing CA"),
        "{text}"
    );
    assert!(matches!(
        err.without_file(),
        Error::Issuer(IssuerError::KeyMismatch { .. })
    ));

    let err = Issuer::from_files(&cert, &garbage_key).unwrap_err();
    assert!(err.to_string().contains("garbage-key.pem"), "{err}");
    assert!(matches!(err.without_file(), Error::Key(_)), "{err:?}");

    // The front door names the same files.
    let err = certmint::Deployment::builder()
        .ca(certmint::CaSpec::from_files("ca", &cert, &other_key))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("other-key.pem"), "{err}");
    let err = certmint::Deployment::builder()
        .ca(certmint::CaSpec::from_files("ca", &empty, &other_key))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("empty.pem"), "{err}");
}
