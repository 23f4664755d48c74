//! Property tests: arbitrary origins keep the clone invariants; arbitrary bytes never panic;
//! issuer + serial always identifies one TBSCertificate.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use certmint::rustls::pki_types::{CertificateDer, UnixTime};
use certmint::{
    keys::KeyPool,
    mint::{MintPolicy, ValidityPolicy},
    KeyAlgorithm, MintRequest, Minter,
};
use common::clone_check::assert_faithful_clone;
use common::*;
use proptest::prelude::*;
use rcgen::{CustomExtension, ExtendedKeyUsagePurpose, IsCa, KeyUsagePurpose, SanType};

#[derive(Debug, Clone)]
struct OriginSpec {
    hosts: Vec<String>,
    ips: Vec<[u8; 4]>,
    cn: Option<String>,
    usages: (bool, bool, bool, bool),
    eku: u8,
    ca: u8,
    custom: Vec<(u64, bool, Vec<u8>)>,
    start_days_ago: i64,
    lifetime_days: i64,
    key: KeyAlgorithm,
}

fn origin_spec() -> impl Strategy<Value = OriginSpec> {
    (
        prop::collection::vec("[a-z][a-z0-9-]{0,12}\\.(example|test)", 0..4),
        prop::collection::vec(any::<[u8; 4]>(), 0..2),
        prop::option::of("[a-zA-Z0-9 .,+\"=-]{1,30}"),
        any::<(bool, bool, bool, bool)>(),
        0u8..4,
        0u8..3,
        prop::collection::vec(
            (
                1u64..1000,
                any::<bool>(),
                prop::collection::vec(any::<u8>(), 0..40),
            ),
            0..3,
        ),
        0i64..2000,
        1i64..4000,
        prop::sample::select(vec![
            KeyAlgorithm::EcdsaP256,
            KeyAlgorithm::EcdsaP384,
            KeyAlgorithm::Ed25519,
            KeyAlgorithm::Rsa2048,
        ]),
    )
        .prop_map(
            |(hosts, ips, cn, usages, eku, ca, custom, start_days_ago, lifetime_days, key)| {
                OriginSpec {
                    hosts,
                    ips,
                    cn,
                    usages,
                    eku,
                    ca,
                    custom,
                    start_days_ago,
                    lifetime_days,
                    key,
                }
            },
        )
}

fn build(spec: &OriginSpec) -> CertificateDer<'static> {
    let mut p = rcgen::CertificateParams::new(spec.hosts.clone()).unwrap();
    p.subject_alt_names
        .extend(spec.ips.iter().map(|ip| SanType::IpAddress((*ip).into())));
    p.distinguished_name = rcgen::DistinguishedName::new();
    if let Some(cn) = &spec.cn {
        p.distinguished_name
            .push(rcgen::DnType::CommonName, cn.as_str());
    }
    let (ds, ke, kcs, crl) = spec.usages;
    for (on, u) in [
        (ds, KeyUsagePurpose::DigitalSignature),
        (ke, KeyUsagePurpose::KeyEncipherment),
        (kcs, KeyUsagePurpose::KeyCertSign),
        (crl, KeyUsagePurpose::CrlSign),
    ] {
        if on {
            p.key_usages.push(u);
        }
    }
    p.extended_key_usages = match spec.eku {
        0 => vec![],
        1 => vec![ExtendedKeyUsagePurpose::ServerAuth],
        2 => vec![ExtendedKeyUsagePurpose::ClientAuth],
        _ => vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ],
    };
    p.is_ca = match spec.ca {
        0 => IsCa::NoCa,
        1 => IsCa::ExplicitNoCa,
        _ => IsCa::Ca(rcgen::BasicConstraints::Constrained(2)),
    };
    for (arc, critical, content) in &spec.custom {
        let mut e =
            CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 55555, *arc], content.clone());
        e.set_criticality(*critical);
        p.custom_extensions.push(e);
    }
    p.use_authority_key_identifier_extension = true;
    let now = ::time::OffsetDateTime::now_utc();
    p.not_before = now - ::time::Duration::days(spec.start_days_ago);
    p.not_after = p.not_before + ::time::Duration::days(spec.lifetime_days);
    origin(&p, spec.key)
}

/// A minter, two origins, and every serial seen with its TBS.
type SerialState = (
    Minter,
    Vec<CertificateDer<'static>>,
    Mutex<HashMap<Vec<u8>, Vec<u8>>>,
);

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_origins_keep_the_clone_invariants(spec in origin_spec()) {
        let i = interception(KeyAlgorithm::EcdsaP256);
        let der = build(&spec);
        let host = spec.hosts.first().cloned();
        let mut req = MintRequest::clone_of(&der);
        if let Some(h) = &host {
            req = req.with_host(h);
        }
        let minted = i.minter.mint(&req).unwrap();
        let issuer = i.minter.issuer().unwrap();
        let suffix = issuer.crl_url();
        assert_faithful_clone("arbitrary", der.as_ref(), minted.chain(), suffix, host.as_deref());
        // Where the origin is valid for its host under its CA, so is the clone under ours.
        if let Some(h) = &host {
            let now = UnixTime::now();
            let public_root = public_ca().issuer.der().clone();
            if webpki_verify(std::slice::from_ref(&der), &public_root, h, now).is_ok() {
                prop_assert_eq!(webpki_verify(minted.chain(), &i.ca.root, h, now), Ok(()));
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..3000)) {
        let i = interception(KeyAlgorithm::EcdsaP256);
        let der = CertificateDer::from(bytes);
        let _ = i.minter.mint(&MintRequest::clone_of(&der));
        let _ = certmint::inspect::CertificateInfo::parse(der.as_ref());
        let _ = certmint::ca::SoftwareSigner::from_key_bytes(der.as_ref());
    }

    #[test]
    fn mutated_certificates_never_panic(at in any::<prop::sample::Index>(), byte in any::<u8>(), cut in any::<prop::sample::Index>()) {
        static BASE: OnceLock<CertificateDer<'static>> = OnceLock::new();
        let base = BASE.get_or_init(|| build(&OriginSpec {
            hosts: vec!["mutate.example".into()], ips: vec![[192, 0, 2, 1]], cn: Some("mutate".into()),
            usages: (true, true, false, false), eku: 3, ca: 1, custom: vec![(7, true, vec![1, 2, 3])],
            start_days_ago: 1, lifetime_days: 90, key: KeyAlgorithm::EcdsaP256,
        }));
        let mut bytes = base.to_vec();
        let i = at.index(bytes.len());
        bytes[i] = byte;
        bytes.truncate(cut.index(bytes.len()) + 1);
        let der = CertificateDer::from(bytes);
        let minter = &interception(KeyAlgorithm::EcdsaP256).minter;
        let _ = minter.mint(&MintRequest::clone_of(&der).with_host("mutate.example"));
        let _ = certmint::inspect::CertificateInfo::parse(der.as_ref());
    }

    #[test]
    fn issuer_and_serial_identify_one_tbs(
        host in prop::sample::select(vec!["a.example", "b.example", "c.example"]),
        offset in 0u64..3,
        fixed in any::<bool>(),
        which in 0usize..2,
    ) {
        static STATE: OnceLock<SerialState> = OnceLock::new();
        let (minter, origins, seen) = STATE.get_or_init(|| {
            let i = interception(KeyAlgorithm::Rsa2048);
            let minter = Minter::new(i.minter.issuer().unwrap(), Arc::new(KeyPool::inline()), MintPolicy::default());
            let mut p = params_for(&["unused.example"]);
            p.subject_alt_names.clear();
            let a = origin(&p, KeyAlgorithm::Rsa2048);
            p.distinguished_name.push(rcgen::DnType::OrganizationName, "Other");
            let b = origin(&p, KeyAlgorithm::Rsa2048);
            (minter, vec![a, b], Mutex::new(HashMap::new()))
        });
        let now = UnixTime::since_unix_epoch(Duration::from_secs(UnixTime::now().as_secs() / 1000 * 1000 + offset));
        let policy_minter;
        let m = if fixed {
            policy_minter = Minter::new(
                minter.issuer().unwrap(),
                Arc::clone(minter.key_pool()),
                { let mut v = MintPolicy::default(); v.validity = ValidityPolicy::Fixed { backdate: Duration::ZERO, lifetime: Duration::from_secs(86_400) }; v },
            );
            &policy_minter
        } else {
            minter
        };
        let minted = m.mint(&MintRequest::clone_of(&origins[which]).with_host(host).at(now)).unwrap();
        let tbs = split(content(minted.leaf().as_ref()))[0].clone();
        let mut seen = seen.lock().unwrap();
        let previous = seen.entry(minted.serial().to_vec()).or_insert_with(|| tbs.clone());
        prop_assert_eq!(&*previous, &tbs, "one serial, two different certificates");
    }
}
