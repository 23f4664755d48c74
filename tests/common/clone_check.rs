//! The clone invariants, checked with an independent parser (x509-parser) and on raw bytes.

use certmint::rustls::pki_types::CertificateDer;
use x509_parser::prelude::*;

use super::{content, split};

pub const SKI: &str = "2.5.29.14";
pub const AKI: &str = "2.5.29.35";
pub const CDP: &str = "2.5.29.31";
pub const AIA: &str = "1.3.6.1.5.5.7.1.1";
pub const BC: &str = "2.5.29.19";
pub const KU: &str = "2.5.29.15";
pub const SAN: &str = "2.5.29.17";
pub const EKU: &str = "2.5.29.37";
/// Extensions a clone never carries.
pub const NEVER: [&str; 9] = [
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
pub const NS_CERT_TYPE: &str = "2.16.840.1.113730.1.1";
/// Extensions that are replaced or may be rewritten.
pub const REPLACED: [&str; 7] = [SKI, AKI, CDP, AIA, BC, KU, NS_CERT_TYPE];

fn ext_raw_tlvs(der: &[u8]) -> Vec<Vec<u8>> {
    let cert = split(content(der));
    let tbs = split(content(&cert[0]));
    tbs.iter()
        .find(|f| f[0] == 0xa3)
        .map(|wrapper| split(content(content(wrapper))))
        .unwrap_or_default()
}

/// Checks every rule of the clone against an independent parser (x509-parser) and the raw bytes.
pub fn assert_faithful_clone(
    name: &str,
    origin_der: &[u8],
    chain: &[CertificateDer<'_>],
    crl_suffix: &str,
    host: Option<&str>,
) {
    let (_, o) = parse_x509_certificate(origin_der).unwrap();
    let (_, l) = parse_x509_certificate(chain[0].as_ref()).unwrap();
    let (_, i) = parse_x509_certificate(chain[1].as_ref()).unwrap();
    assert_eq!(l.version(), X509Version::V3, "{name}: v3");
    assert_eq!(
        l.subject().as_raw(),
        o.subject().as_raw(),
        "{name}: subject bytes"
    );
    assert_eq!(
        l.issuer().as_raw(),
        i.subject().as_raw(),
        "{name}: issuer bytes"
    );
    let serial = l.raw_serial();
    assert_eq!(serial.len(), 20, "{name}: serial length");
    assert!(
        serial[0] & 0x80 == 0 && serial[0] != 0,
        "{name}: positive, minimal serial"
    );
    assert_ne!(l.public_key().raw, o.public_key().raw, "{name}: new key");
    assert_ne!(
        l.public_key().raw,
        i.public_key().raw,
        "{name}: never the CA key"
    );
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
        assert!(
            lnb >= cnb && lna <= cna && lna - lnb == 825 * 86_400,
            "{name}: validity"
        );
    }
    if (onb, ona) == (lnb, lna) {
        assert_eq!(l.validity(), o.validity(), "{name}: validity encoding kept");
    }

    let oid = |e: &X509Extension<'_>| e.oid.to_id_string();
    let leaf_exts = l.extensions();
    // No duplicate extension, unless the origin itself repeats it (copied as it is).
    let origin_count = |id: &str| o.extensions().iter().filter(|e| oid(e) == id).count();
    let mut seen = std::collections::HashSet::new();
    for e in leaf_exts {
        assert!(
            seen.insert(oid(e)) || origin_count(&oid(e)) > 1,
            "{name}: duplicate extension {}",
            oid(e)
        );
        assert!(
            !NEVER.contains(&oid(e).as_str()),
            "{name}: {} must be dropped",
            oid(e)
        );
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
    assert_eq!(
        aki.key_identifier.as_ref().unwrap().0,
        issuer_ski.0,
        "{name}: AKI = issuer SKI"
    );
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
    assert!(
        get(&l, AIA).is_none(),
        "{name}: no AIA configured, none emitted"
    );
    // Never a CA: an explicit, critical CA:FALSE, and no Netscape CA bits.
    let bc_ext = leaf_exts
        .iter()
        .find(|e| oid(e) == BC)
        .unwrap_or_else(|| panic!("{name}: basicConstraints present"));
    assert!(bc_ext.critical, "{name}: basicConstraints critical");
    let Some(ParsedExtension::BasicConstraints(bc)) = get(&l, BC) else {
        panic!("{name}: basicConstraints")
    };
    assert!(
        !bc.ca && bc.path_len_constraint.is_none(),
        "{name}: CA:FALSE"
    );
    if let Some(ns) = leaf_exts.iter().find(|e| oid(e) == NS_CERT_TYPE) {
        // BIT STRING: 03 len unused first-byte...; bits 5-7 are the CA bits.
        let first = ns.value.get(3).copied().unwrap_or(0);
        assert_eq!(first & 0b111, 0, "{name}: no Netscape CA bits");
    }
    if let Some(ParsedExtension::KeyUsage(ku)) = get(&l, KU) {
        assert!(
            !ku.key_cert_sign() && !ku.crl_sign(),
            "{name}: no CA usages"
        );
        assert!(ku.digital_signature(), "{name}: digitalSignature");
    }
    // Compatibility additions.
    if get(&o, SAN).is_none() {
        if let Some(host) = host {
            let Some(ParsedExtension::SubjectAlternativeName(san)) = get(&l, SAN) else {
                panic!("{name}: SAN built from the host")
            };
            let want = match host.parse::<std::net::IpAddr>() {
                Ok(_) => format!("{:?}", san.general_names[0]).contains("IPAddress"),
                Err(_) => san.general_names[0] == GeneralName::DNSName(host),
            };
            assert!(want && san.general_names.len() == 1, "{name}: SAN {san:?}");
        }
    }
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
