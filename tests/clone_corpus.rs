//! The varied origin corpus: every origin is cloned, the clone is compared field by field and
//! byte by byte with its origin, and verified by rustls-webpki and `openssl verify`.

mod common;

use certmint::rustls::pki_types::{CertificateDer, UnixTime};
use certmint::{KeyAlgorithm, MintRequest};
use common::*;
use rcgen::{CustomExtension, DnType, DnValue, IsCa, KeyUsagePurpose, SanType};
use x509_parser::prelude::*;

const SKI: &str = "2.5.29.14";
const AKI: &str = "2.5.29.35";
const CDP: &str = "2.5.29.31";
const AIA: &str = "1.3.6.1.5.5.7.1.1";
const BC: &str = "2.5.29.19";
const KU: &str = "2.5.29.15";
const SAN: &str = "2.5.29.17";
const EKU: &str = "2.5.29.37";
/// Extensions a clone never carries.
const NEVER: [&str; 9] = [
    "1.3.6.1.4.1.11129.2.4.2", // SCT list
    "1.3.6.1.4.1.11129.2.4.3", // CT poison
    "1.3.6.1.5.5.7.1.24",      // TLS feature (must-staple)
    "2.5.29.46",               // freshest CRL
    "2.5.29.18",               // issuerAltName
    "2.5.29.30",               // nameConstraints
    "2.5.29.36",               // policyConstraints
    "2.5.29.33",               // policyMappings
    "2.5.29.54",               // inhibitAnyPolicy
];
/// Extensions that are replaced or may be rewritten.
const REPLACED: [&str; 6] = [SKI, AKI, CDP, AIA, BC, KU];

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

fn ext_raw_tlvs(der: &[u8]) -> Vec<Vec<u8>> {
    let cert = split(content(der));
    let tbs = split(content(&cert[0]));
    tbs.iter()
        .find(|f| f[0] == 0xa3)
        .map(|wrapper| split(content(content(wrapper))))
        .unwrap_or_default()
}

/// Checks every rule of the clone against an independent parser (x509-parser) and the raw bytes.
fn assert_faithful_clone(name: &str, origin_der: &[u8], chain: &[CertificateDer<'_>], crl_suffix: &str) {
    let (_, o) = parse_x509_certificate(origin_der).unwrap();
    let (_, l) = parse_x509_certificate(chain[0].as_ref()).unwrap();
    let (_, i) = parse_x509_certificate(chain[1].as_ref()).unwrap();
    assert_eq!(l.version(), X509Version::V3, "{name}: v3");
    assert_eq!(l.subject().as_raw(), o.subject().as_raw(), "{name}: subject bytes");
    assert_eq!(l.issuer().as_raw(), i.subject().as_raw(), "{name}: issuer bytes");
    let serial = l.raw_serial();
    assert_eq!(serial.len(), 20, "{name}: serial length");
    assert!(serial[0] & 0x80 == 0 && serial[0] != 0, "{name}: positive, minimal serial");
    assert_ne!(l.public_key().raw, o.public_key().raw, "{name}: new key");
    assert_ne!(l.public_key().raw, i.public_key().raw, "{name}: never the CA key");
    assert!(l.tbs_certificate.issuer_uid.is_none() && l.tbs_certificate.subject_uid.is_none());
    // Validity: the origin's, clamped to the issuer's (and to 825 days).
    let ts = |t: &ASN1Time| t.timestamp();
    let (onb, ona) = (ts(&o.validity().not_before), ts(&o.validity().not_after));
    let (inb, ina) = (ts(&i.validity().not_before), ts(&i.validity().not_after));
    let (lnb, lna) = (ts(&l.validity().not_before), ts(&l.validity().not_after));
    let (cnb, cna) = (onb.max(inb), ona.min(ina));
    if cna - cnb <= 825 * 86_400 {
        assert_eq!((lnb, lna), (cnb.min(cna), cna), "{name}: validity");
    } else {
        assert!(lnb >= cnb && lna <= cna && lna - lnb == 825 * 86_400, "{name}: validity");
    }
    if (onb, ona) == (lnb, lna) {
        assert_eq!(l.validity(), o.validity(), "{name}: validity encoding kept");
    }

    let oid = |e: &X509Extension<'_>| e.oid.to_id_string();
    let leaf_exts = l.extensions();
    let mut seen = std::collections::HashSet::new();
    for e in leaf_exts {
        assert!(seen.insert(oid(e)), "{name}: duplicate extension {}", oid(e));
        assert!(!NEVER.contains(&oid(e).as_str()), "{name}: {} must be dropped", oid(e));
    }
    // Copied extensions: same OID, criticality and value, same relative order, same bytes.
    let copied: Vec<_> = o
        .extensions()
        .iter()
        .filter(|e| !NEVER.contains(&oid(e).as_str()) && !REPLACED.contains(&oid(e).as_str()))
        .map(|e| (oid(e), e.critical, e.value.to_vec()))
        .collect();
    let copied_oids: Vec<_> = copied.iter().map(|c| c.0.clone()).collect();
    let in_leaf: Vec<_> = leaf_exts
        .iter()
        .filter(|e| copied_oids.contains(&oid(e)))
        .map(|e| (oid(e), e.critical, e.value.to_vec()))
        .collect();
    assert_eq!(in_leaf, copied, "{name}: copied extensions");
    for raw in ext_raw_tlvs(origin_der) {
        let oid_bytes = content(&split(content(&raw))[0]).to_vec();
        let dotted = der_oid(&oid_bytes);
        if copied_oids.contains(&dotted) {
            assert!(
                chain[0].as_ref().windows(raw.len()).any(|w| w == &raw[..]),
                "{name}: {dotted} bytes copied verbatim"
            );
        }
    }
    // Replaced: key identifiers, CDP.
    let Some(ParsedExtension::SubjectKeyIdentifier(ski)) = get(&l, SKI) else {
        panic!("{name}: SKI")
    };
    let Some(ParsedExtension::SubjectKeyIdentifier(issuer_ski)) = get(&i, SKI) else {
        panic!("issuer SKI")
    };
    if let Some(ParsedExtension::SubjectKeyIdentifier(origin_ski)) = get(&o, SKI) {
        assert_ne!(ski.0, origin_ski.0, "{name}: SKI recomputed");
    }
    let Some(ParsedExtension::AuthorityKeyIdentifier(aki)) = get(&l, AKI) else {
        panic!("{name}: AKI")
    };
    assert_eq!(aki.key_identifier.as_ref().unwrap().0, issuer_ski.0, "{name}: AKI = issuer SKI");
    let Some(ParsedExtension::CRLDistributionPoints(cdp)) = get(&l, CDP) else {
        panic!("{name}: CDP")
    };
    let urls: Vec<String> = cdp
        .points
        .iter()
        .flat_map(|p| match &p.distribution_point {
            Some(DistributionPointName::FullName(names)) => names
                .iter()
                .filter_map(|n| match n {
                    GeneralName::URI(u) => Some(u.to_string()),
                    _ => None,
                })
                .collect(),
            _ => vec![],
        })
        .collect();
    assert_eq!(urls.len(), 1, "{name}: one CRL URL");
    assert!(urls[0].ends_with(crl_suffix), "{name}: CRL URL {}", urls[0]);
    assert!(get(&l, AIA).is_none(), "{name}: no AIA configured, none emitted");
    // Never a CA.
    if let Some(ParsedExtension::BasicConstraints(bc)) = get(&l, BC) {
        assert!(!bc.ca && bc.path_len_constraint.is_none(), "{name}: CA:FALSE");
    }
    if let Some(ParsedExtension::KeyUsage(ku)) = get(&l, KU) {
        assert!(!ku.key_cert_sign() && !ku.crl_sign(), "{name}: no CA usages");
        assert!(ku.digital_signature(), "{name}: digitalSignature");
    }
    // Compatibility additions.
    assert!(get(&l, SAN).is_some() || o.subject().iter().next().is_none(), "{name}: SAN");
    assert!(get(&l, EKU).is_some(), "{name}: EKU");
}

fn get<'a>(c: &'a X509Certificate<'a>, id: &str) -> Option<ParsedExtension<'a>> {
    c.extensions()
        .iter()
        .find(|e| e.oid.to_id_string() == id)
        .map(|e| e.parsed_extension().clone())
}

fn der_oid(content_bytes: &[u8]) -> String {
    der_parser::oid::Oid::new(content_bytes.into()).to_id_string()
}

fn corpus() -> Vec<Case> {
    let now = ::time::OffsetDateTime::now_utc();
    let mut cases = Vec::new();
    let mut add = |name, origin, host, expect| cases.push(Case { name, origin, host, expect });

    // Rich RSA-2048 origin: policies, SCTs, must-staple, its own AIA and CDP.
    let mut p = params_for(&["www.rich.example", "rich.example", "api.rich.example"]);
    p.distinguished_name.push(DnType::OrganizationName, "Rich Example Ltd");
    p.distinguished_name.push(DnType::CountryName, DnValue::PrintableString("GB".try_into().unwrap()));
    p.key_usages.push(KeyUsagePurpose::KeyEncipherment);
    p.crl_distribution_points = vec![rcgen::CrlDistributionPoint {
        uris: vec!["http://crl.public.example/ca.crl".into()],
    }];
    let policies = tlv(0x30, &tlv(0x30, &tlv(0x06, &[0x67, 0x81, 0x0c, 0x01, 0x02, 0x01])));
    p.custom_extensions.push(CustomExtension::from_oid_content(&[2, 5, 29, 32], policies));
    let aia = tlv(0x30, &tlv(0x30, &[tlv(0x06, &[0x2b, 6, 1, 5, 5, 7, 0x30, 1]), tlv(0x86, b"http://ocsp.public.example")].concat()));
    p.custom_extensions.push(CustomExtension::from_oid_content(&[1, 3, 6, 1, 5, 5, 7, 1, 1], aia));
    p.custom_extensions.push(CustomExtension::from_oid_content(
        &[1, 3, 6, 1, 4, 1, 11129, 2, 4, 2],
        tlv(0x04, &[0, 4, 0, 2, 0xaa, 0xbb]),
    ));
    p.custom_extensions.push(CustomExtension::from_oid_content(
        &[1, 3, 6, 1, 5, 5, 7, 1, 24],
        tlv(0x30, &[2, 1, 5]),
    ));
    p.custom_extensions.push(CustomExtension::from_oid_content(&[2, 5, 29, 46], tlv(0x30, &[])));
    add("rsa2048-rich", origin(&p, KeyAlgorithm::Rsa2048), "api.rich.example", Expect::Valid);

    add("rsa3072", origin(&params_for(&["rsa3072.example"]), KeyAlgorithm::Rsa3072), "rsa3072.example", Expect::Valid);
    add("rsa4096", origin(&params_for(&["rsa4096.example"]), KeyAlgorithm::Rsa4096), "rsa4096.example", Expect::Valid);

    // P-256 with IP SANs and a wildcard.
    let mut p = params_for(&["*.wild.example"]);
    p.subject_alt_names.push(SanType::IpAddress("192.0.2.10".parse().unwrap()));
    p.subject_alt_names.push(SanType::IpAddress("2001:db8::10".parse().unwrap()));
    let wild = origin(&p, KeyAlgorithm::EcdsaP256);
    add("p256-wildcard", wild.clone(), "a.wild.example", Expect::Valid);
    add("p256-ipv4", wild.clone(), "192.0.2.10", Expect::Valid);
    add("p256-ipv6", wild, "2001:db8::10", Expect::Valid);

    // P-384 with unusual string types.
    let mut p = params_for(&["strings.example"]);
    p.distinguished_name.push(DnType::OrganizationName, DnValue::BmpString("Bmp Ünïcode".try_into().unwrap()));
    p.distinguished_name.push(DnType::LocalityName, DnValue::PrintableString("Printable Town".try_into().unwrap()));
    p.distinguished_name.push(DnType::OrganizationalUnitName, DnValue::Utf8String("Ütf8 Ünit".into()));
    add("p384-strings", origin(&p, KeyAlgorithm::EcdsaP384), "strings.example", Expect::Valid);

    add("ed25519", origin(&params_for(&["ed.example"]), KeyAlgorithm::Ed25519), "ed.example", Expect::Valid);
    add("idn", origin(&params_for(&["xn--bcher-kva.example"]), KeyAlgorithm::EcdsaP256), "xn--bcher-kva.example", Expect::Valid);

    // Unknown extensions: non-critical is copied and harmless; critical is copied and fatal.
    let mut p = params_for(&["unknown.example"]);
    p.custom_extensions.push(CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 99999, 1], tlv(0x0c, b"hello")));
    add("unknown-noncritical", origin(&p, KeyAlgorithm::EcdsaP256), "unknown.example", Expect::Valid);
    let mut ext = CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 99999, 2], tlv(0x05, &[]));
    ext.set_criticality(true);
    p.custom_extensions.push(ext);
    add("unknown-critical", origin(&p, KeyAlgorithm::EcdsaP256), "unknown.example", Expect::UnknownCritical);

    // No extensions at all: SAN comes from the host, EKU is added.
    let mut p = params_for(&["bare.example"]);
    p.subject_alt_names.clear();
    p.key_usages.clear();
    p.extended_key_usages.clear();
    p.use_authority_key_identifier_extension = false;
    add("no-extensions", origin(&p, KeyAlgorithm::EcdsaP256), "bare.example", Expect::Valid);

    // 200 SANs.
    let names: Vec<String> = (0..200).map(|i| format!("host{i}.many.example")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    add("200-sans", origin(&params_for(&refs), KeyAlgorithm::EcdsaP256), "host199.many.example", Expect::Valid);

    // Expired.
    let mut p = params_for(&["expired.example"]);
    p.not_before = now - ::time::Duration::days(400);
    p.not_after = now - ::time::Duration::days(10);
    add("expired", origin(&p, KeyAlgorithm::EcdsaP256), "expired.example", Expect::Expired);

    // Self-signed origin.
    let p = params_for(&["selfsigned.example"]);
    let key = origin_key(KeyAlgorithm::EcdsaP256);
    add("self-signed", p.self_signed(&key).unwrap().der().clone(), "selfsigned.example", Expect::Valid);

    // A CA certificate as origin, with name constraints.
    let mut p = params_for(&["ca.example"]);
    p.is_ca = IsCa::Ca(rcgen::BasicConstraints::Constrained(3));
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.name_constraints = Some(rcgen::NameConstraints {
        permitted_subtrees: vec![rcgen::GeneralSubtree::DnsName("example".into())],
        excluded_subtrees: vec![],
    });
    add("ca-origin", origin(&p, KeyAlgorithm::EcdsaP256), "ca.example", Expect::Valid);

    // Multi-valued RDN, a negative serial and unique identifiers, via DER surgery.
    let base = origin(&params_for(&["multi.example"]), KeyAlgorithm::EcdsaP256);
    let multi = resign(&base, |f| {
        let cn: &[u8] = &[0x55, 4, 3];
        let serial_number: &[u8] = &[0x55, 4, 5];
        let ou: &[u8] = &[0x55, 4, 11];
        let rdns = [
            multi_valued_rdn(&[(cn, 0x0c, b"multi.example"), (serial_number, 0x13, b"12345")]),
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
    add("multi-rdn-negative-serial-uids", multi, "multi.example", Expect::Valid);
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
    add("empty-subject", origin(&p, KeyAlgorithm::EcdsaP256), "nosubject.example", Expect::Valid);
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
            assert_eq!(minted.chain().len(), 2, "{label}: leaf + intermediate, no root");
            assert_faithful_clone(&label, case.origin.as_ref(), minted.chain(), &crl_suffix);
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
                    assert!(matches!(got, Err(webpki::Error::CertExpired { .. })), "{label}: {got:?}");
                    assert!(matches!(origin_got, Err(webpki::Error::CertExpired { .. })), "{label}: origin {origin_got:?}");
                }
                Expect::UnknownCritical => {
                    assert_eq!(got, Err(webpki::Error::UnsupportedCriticalExtension), "{label}");
                    assert_eq!(origin_got, Err(webpki::Error::UnsupportedCriticalExtension), "{label}: origin");
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
                        assert!(err.contains("unhandled critical extension"), "{label}: {err}");
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
