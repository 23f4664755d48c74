//! The varied origin corpus: every origin is cloned, the clone is compared field by field and
//! byte by byte with its origin, and verified by rustls-webpki and `openssl verify`.

mod common;

use certmint::rustls::pki_types::{CertificateDer, UnixTime};
use certmint::{KeyAlgorithm, MintRequest};
use common::clone_check::{assert_faithful_clone, SKI};
use common::*;
use rcgen::{CustomExtension, DnType, DnValue, IsCa, KeyUsagePurpose, SanType};
use x509_parser::prelude::*;

#[derive(Clone, Copy, Debug)]
enum Expect {
    /// Valid for the host, as the origin is.
    Valid,
    /// Expired, as the origin is.
    Expired,
    /// Carries an unknown critical extension, as the origin does.
    UnknownCritical,
}

struct Case {
    name: &'static str,
    origin: CertificateDer<'static>,
    host: &'static str,
    expect: Expect,
}

fn corpus() -> Vec<Case> {
    let now = ::time::OffsetDateTime::now_utc();
    let mut cases = Vec::new();
    let mut add = |name, origin, host, expect| {
        cases.push(Case {
            name,
            origin,
            host,
            expect,
        })
    };

    // Rich RSA-2048 origin: policies, SCTs, must-staple, its own AIA and CDP.
    let mut p = params_for(&["www.rich.example", "rich.example", "api.rich.example"]);
    p.distinguished_name
        .push(DnType::OrganizationName, "Rich Example Ltd");
    p.distinguished_name.push(
        DnType::CountryName,
        DnValue::PrintableString("GB".try_into().unwrap()),
    );
    p.key_usages.push(KeyUsagePurpose::KeyEncipherment);
    p.crl_distribution_points = vec![rcgen::CrlDistributionPoint {
        uris: vec!["http://crl.public.example/ca.crl".into()],
    }];
    let policies = tlv(
        0x30,
        &tlv(0x30, &tlv(0x06, &[0x67, 0x81, 0x0c, 0x01, 0x02, 0x01])),
    );
    p.custom_extensions
        .push(CustomExtension::from_oid_content(&[2, 5, 29, 32], policies));
    let aia = tlv(
        0x30,
        &tlv(
            0x30,
            &[
                tlv(0x06, &[0x2b, 6, 1, 5, 5, 7, 0x30, 1]),
                tlv(0x86, b"http://ocsp.public.example"),
            ]
            .concat(),
        ),
    );
    p.custom_extensions.push(CustomExtension::from_oid_content(
        &[1, 3, 6, 1, 5, 5, 7, 1, 1],
        aia,
    ));
    p.custom_extensions.push(CustomExtension::from_oid_content(
        &[1, 3, 6, 1, 4, 1, 11129, 2, 4, 2],
        tlv(0x04, &[0, 4, 0, 2, 0xaa, 0xbb]),
    ));
    p.custom_extensions.push(CustomExtension::from_oid_content(
        &[1, 3, 6, 1, 5, 5, 7, 1, 24],
        tlv(0x30, &[2, 1, 5]),
    ));
    p.custom_extensions.push(CustomExtension::from_oid_content(
        &[2, 5, 29, 46],
        tlv(0x30, &[]),
    ));
    add(
        "rsa2048-rich",
        origin(&p, KeyAlgorithm::Rsa2048),
        "api.rich.example",
        Expect::Valid,
    );

    add(
        "rsa3072",
        origin(&params_for(&["rsa3072.example"]), KeyAlgorithm::Rsa3072),
        "rsa3072.example",
        Expect::Valid,
    );
    add(
        "rsa4096",
        origin(&params_for(&["rsa4096.example"]), KeyAlgorithm::Rsa4096),
        "rsa4096.example",
        Expect::Valid,
    );

    // P-256 with IP SANs and a wildcard.
    let mut p = params_for(&["*.wild.example"]);
    p.subject_alt_names
        .push(SanType::IpAddress("192.0.2.10".parse().unwrap()));
    p.subject_alt_names
        .push(SanType::IpAddress("2001:db8::10".parse().unwrap()));
    let wild = origin(&p, KeyAlgorithm::EcdsaP256);
    add(
        "p256-wildcard",
        wild.clone(),
        "a.wild.example",
        Expect::Valid,
    );
    add("p256-ipv4", wild.clone(), "192.0.2.10", Expect::Valid);
    add("p256-ipv6", wild, "2001:db8::10", Expect::Valid);

    // P-384 with unusual string types.
    let mut p = params_for(&["strings.example"]);
    p.distinguished_name.push(
        DnType::OrganizationName,
        DnValue::BmpString("Bmp Ünïcode".try_into().unwrap()),
    );
    p.distinguished_name.push(
        DnType::LocalityName,
        DnValue::PrintableString("Printable Town".try_into().unwrap()),
    );
    p.distinguished_name.push(
        DnType::OrganizationalUnitName,
        DnValue::Utf8String("Ütf8 Ünit".into()),
    );
    add(
        "p384-strings",
        origin(&p, KeyAlgorithm::EcdsaP384),
        "strings.example",
        Expect::Valid,
    );

    add(
        "ed25519",
        origin(&params_for(&["ed.example"]), KeyAlgorithm::Ed25519),
        "ed.example",
        Expect::Valid,
    );
    add(
        "idn",
        origin(
            &params_for(&["xn--bcher-kva.example"]),
            KeyAlgorithm::EcdsaP256,
        ),
        "xn--bcher-kva.example",
        Expect::Valid,
    );

    // Unknown extensions: non-critical is copied and harmless; critical is copied and fatal.
    let mut p = params_for(&["unknown.example"]);
    p.custom_extensions.push(CustomExtension::from_oid_content(
        &[1, 3, 6, 1, 4, 1, 99999, 1],
        tlv(0x0c, b"hello"),
    ));
    add(
        "unknown-noncritical",
        origin(&p, KeyAlgorithm::EcdsaP256),
        "unknown.example",
        Expect::Valid,
    );
    let mut ext = CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 99999, 2], tlv(0x05, &[]));
    ext.set_criticality(true);
    p.custom_extensions.push(ext);
    add(
        "unknown-critical",
        origin(&p, KeyAlgorithm::EcdsaP256),
        "unknown.example",
        Expect::UnknownCritical,
    );

    // No extensions at all: SAN comes from the host, EKU is added.
    let mut p = params_for(&["bare.example"]);
    p.subject_alt_names.clear();
    p.key_usages.clear();
    p.extended_key_usages.clear();
    p.use_authority_key_identifier_extension = false;
    add(
        "no-extensions",
        origin(&p, KeyAlgorithm::EcdsaP256),
        "bare.example",
        Expect::Valid,
    );

    // 200 SANs.
    let names: Vec<String> = (0..200).map(|i| format!("host{i}.many.example")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    add(
        "200-sans",
        origin(&params_for(&refs), KeyAlgorithm::EcdsaP256),
        "host199.many.example",
        Expect::Valid,
    );

    // Expired.
    let mut p = params_for(&["expired.example"]);
    p.not_before = now - ::time::Duration::days(400);
    p.not_after = now - ::time::Duration::days(10);
    add(
        "expired",
        origin(&p, KeyAlgorithm::EcdsaP256),
        "expired.example",
        Expect::Expired,
    );

    // Self-signed origin.
    let p = params_for(&["selfsigned.example"]);
    let key = origin_key(KeyAlgorithm::EcdsaP256);
    add(
        "self-signed",
        p.self_signed(&key).unwrap().der().clone(),
        "selfsigned.example",
        Expect::Valid,
    );

    // A CA certificate as origin, with name constraints.
    let mut p = params_for(&["ca.example"]);
    p.is_ca = IsCa::Ca(rcgen::BasicConstraints::Constrained(3));
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.name_constraints = Some(rcgen::NameConstraints {
        permitted_subtrees: vec![rcgen::GeneralSubtree::DnsName("example".into())],
        excluded_subtrees: vec![],
    });
    add(
        "ca-origin",
        origin(&p, KeyAlgorithm::EcdsaP256),
        "ca.example",
        Expect::Valid,
    );

    // Multi-valued RDN, a negative serial and unique identifiers, via DER surgery.
    let base = origin(&params_for(&["multi.example"]), KeyAlgorithm::EcdsaP256);
    let multi = resign(&base, |f| {
        let cn: &[u8] = &[0x55, 4, 3];
        let serial_number: &[u8] = &[0x55, 4, 5];
        let ou: &[u8] = &[0x55, 4, 11];
        let rdns = [
            multi_valued_rdn(&[
                (cn, 0x0c, b"multi.example"),
                (serial_number, 0x13, b"12345"),
            ]),
            multi_valued_rdn(&[(ou, 0x0c, b"Team A")]),
            multi_valued_rdn(&[(ou, 0x0c, b"Team B")]),
        ];
        f[5] = tlv(0x30, &rdns.concat());
        f[1] = tlv(0x02, &[0xff, 0x01]); // negative serial
        let ext = f.pop().unwrap();
        f.push(tlv(0x81, &[0x00, 0xde, 0xad]));
        f.push(tlv(0x82, &[0x00, 0xbe, 0xef]));
        f.push(ext);
    });
    add(
        "multi-rdn-negative-serial-uids",
        multi,
        "multi.example",
        Expect::Valid,
    );
    let long_serial = resign(&base, |f| f[1] = tlv(0x02, &[0x11; 32]));
    add("long-serial", long_serial, "multi.example", Expect::Valid);

    // A v1 certificate: no version field, no extensions.
    let v1 = resign(&base, |f| {
        f.remove(0);
        f.pop();
    });
    add("v1", v1, "multi.example", Expect::Valid);

    // Empty subject with a critical SAN.
    let mut p = params_for(&["nosubject.example"]);
    p.distinguished_name = rcgen::DistinguishedName::new();
    add(
        "empty-subject",
        origin(&p, KeyAlgorithm::EcdsaP256),
        "nosubject.example",
        Expect::Valid,
    );
    cases
}

#[test]
fn every_origin_in_the_corpus_is_cloned_faithfully_and_verifies_like_the_origin() {
    let openssl = have_openssl();
    let dir = tempfile::tempdir().unwrap();
    let public_root = public_ca().issuer.der().clone();
    for ca_alg in [KeyAlgorithm::EcdsaP256, KeyAlgorithm::Rsa2048] {
        let interception = interception(ca_alg);
        let root = &interception.ca.root;
        let crl_suffix = format!("/{}.crl", hex_of_ski(&interception.ca.intermediate));
        for case in corpus() {
            let label = format!("{} under {ca_alg}", case.name);
            let minted = interception
                .minter
                .mint(&MintRequest::clone_of(&case.origin).with_host(case.host))
                .unwrap_or_else(|e| panic!("{label}: {e}"));
            assert_eq!(
                minted.chain().len(),
                2,
                "{label}: leaf + intermediate, no root"
            );
            assert_faithful_clone(
                &label,
                case.origin.as_ref(),
                minted.chain(),
                &crl_suffix,
                Some(case.host),
            );
            let now = UnixTime::now();
            let got = webpki_verify(minted.chain(), root, case.host, now);
            // The origin under its own CA, for comparison.
            let origin_chain = [case.origin.clone(), public_root.clone()];
            let origin_got = webpki_verify(&origin_chain[..1], &public_root, case.host, now);
            match case.expect {
                Expect::Valid => {
                    assert_eq!(got, Ok(()), "{label}: webpki");
                }
                Expect::Expired => {
                    assert!(
                        matches!(got, Err(webpki::Error::CertExpired { .. })),
                        "{label}: {got:?}"
                    );
                    assert!(
                        matches!(origin_got, Err(webpki::Error::CertExpired { .. })),
                        "{label}: origin {origin_got:?}"
                    );
                }
                Expect::UnknownCritical => {
                    assert_eq!(
                        got,
                        Err(webpki::Error::UnsupportedCriticalExtension),
                        "{label}"
                    );
                    assert_eq!(
                        origin_got,
                        Err(webpki::Error::UnsupportedCriticalExtension),
                        "{label}: origin"
                    );
                }
            }
            if openssl {
                let result = openssl_verify(minted.chain(), root, case.host, dir.path());
                match case.expect {
                    Expect::Valid => assert_eq!(result, Ok(()), "{label}: openssl"),
                    Expect::Expired => {
                        let err = result.expect_err(&label);
                        assert!(err.contains("certificate has expired"), "{label}: {err}");
                    }
                    Expect::UnknownCritical => {
                        let err = result.expect_err(&label);
                        assert!(
                            err.contains("unhandled critical extension"),
                            "{label}: {err}"
                        );
                    }
                }
            }
        }
    }
}

fn hex_of_ski(cert: &CertificateDer<'_>) -> String {
    let (_, c) = parse_x509_certificate(cert.as_ref()).unwrap();
    match c
        .extensions()
        .iter()
        .find(|e| e.oid.to_id_string() == SKI)
        .map(|e| e.parsed_extension())
    {
        Some(ParsedExtension::SubjectKeyIdentifier(id)) => {
            id.0.iter().map(|b| format!("{b:02x}")).collect()
        }
        _ => panic!("no SKI"),
    }
}
