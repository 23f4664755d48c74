//! The rotating issuing sub-CA: automatic, atomic, clamped, no re-mint storm, parent signs once
//! per rotation.

mod common;

use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::time::Duration;

use certmint::rustls::pki_types::UnixTime;
use certmint::{
    ca::{Issuer, IssuerOptions, RotatingIssuer, RotationPolicy, Signer},
    cache::{CacheConfig, Outcome},
    clock::{Clock, ManualClock},
    keys::KeyPool,
    mint::MintPolicy,
    testing::ThrowawayCa,
    CertCache, KeyAlgorithm, Minter, Resolver,
};
use common::*;
use x509_parser::prelude::*;

const DAY: u64 = 86_400;

struct Setup {
    ca: ThrowawayCa,
    parent_signer: Arc<FlakySigner>,
    rotating: Arc<RotatingIssuer>,
    resolver: Resolver,
    clock: Arc<ManualClock>,
}

fn setup() -> Setup {
    let ca = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let parent_signer = Arc::new(FlakySigner {
        inner: certmint::ca::SoftwareSigner::from_private_key(&ca.intermediate_key).unwrap(),
        calls: Default::default(),
        fail: Default::default(),
        delay: Duration::ZERO,
    });
    let parent = Issuer::new(
        vec![ca.intermediate.clone(), ca.root.clone()],
        Arc::clone(&parent_signer) as Arc<dyn Signer>,
        {
            let mut v = IssuerOptions::default();
            v.crl_base_url = "http://crl.corp.example/certmint".into();
            v
        },
    )
    .unwrap();
    let clock = Arc::new(ManualClock::starting_now());
    let policy = {
        let mut v = RotationPolicy::default();
        v.options = {
            let mut v = IssuerOptions::default();
            v.crl_base_url = "http://crl.corp.example/certmint".into();
            v
        };
        v
    };
    let rotating = Arc::new(
        RotatingIssuer::new(
            Arc::new(parent),
            policy,
            Arc::clone(&clock) as Arc<dyn Clock>,
        )
        .unwrap(),
    );
    let minter = Minter::rotating(
        Arc::clone(&rotating),
        Arc::new(KeyPool::inline()),
        MintPolicy::default(),
    );
    let cache = CertCache::with_clock(CacheConfig::default(), Arc::clone(&clock) as Arc<dyn Clock>);
    let resolver = Resolver::new(Arc::new(minter), Arc::new(cache));
    Setup {
        ca,
        parent_signer,
        rotating,
        resolver,
        clock,
    }
}

fn parse(der: &[u8]) -> X509Certificate<'_> {
    parse_x509_certificate(der).unwrap().1
}

fn crl_urls(c: &X509Certificate<'_>) -> Vec<String> {
    c.extensions()
        .iter()
        .filter_map(|e| match e.parsed_extension() {
            ParsedExtension::CRLDistributionPoints(cdp) => Some(cdp),
            _ => None,
        })
        .flat_map(|cdp| cdp.points.iter())
        .filter_map(|p| match &p.distribution_point {
            Some(DistributionPointName::FullName(names)) => names.iter().find_map(|n| match n {
                GeneralName::URI(u) => Some(u.to_string()),
                _ => None,
            }),
            _ => None,
        })
        .collect()
}

#[test]
fn leaves_chain_through_a_short_lived_sub_ca_with_the_documented_shape() {
    let s = setup();
    assert_eq!(
        s.parent_signer.calls.load(SeqCst),
        1,
        "the parent signed the first sub-CA only"
    );
    let found = s
        .resolver
        .lookup_host("rot.example", KeyAlgorithm::EcdsaP256)
        .unwrap();
    let chain = &found.certified_key().cert;
    assert_eq!(chain.len(), 3, "leaf, sub-CA, intermediate; never the root");
    let now = s.clock.now();
    webpki_verify(chain, &s.ca.root, "rot.example", now).unwrap();
    if have_openssl() {
        let dir = tempfile::tempdir().unwrap();
        openssl_verify(chain, &s.ca.root, "rot.example", dir.path()).unwrap();
    }
    assert_eq!(
        s.parent_signer.calls.load(SeqCst),
        1,
        "minting does not touch the parent"
    );
    let sub = parse(chain[1].as_ref());
    let inter = parse(s.ca.intermediate.as_ref());
    let bc = sub.basic_constraints().unwrap().unwrap().value;
    assert!(bc.ca && bc.path_len_constraint == Some(0));
    let ku = sub.key_usage().unwrap().unwrap().value;
    assert!(ku.key_cert_sign() && ku.crl_sign());
    let t = now.as_secs() as i64;
    assert_eq!(
        sub.validity().not_before.timestamp(),
        t - 3600,
        "backdated 1 hour"
    );
    assert_eq!(
        sub.validity().not_after.timestamp(),
        t + 7 * DAY as i64,
        "7 days"
    );
    // Leaves are clamped to their sub-CA (host-only leaves would live 30 days).
    let leaf = parse(chain[0].as_ref());
    assert_eq!(
        leaf.validity().not_after.timestamp(),
        sub.validity().not_after.timestamp()
    );
    // Revocation model: the leaf names the sub-CA's CRL, the sub-CA names the intermediate's.
    let hex = |c: &X509Certificate<'_>| match c.extensions().iter().find_map(|e| {
        match e.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(id) => {
                Some(id.0.iter().map(|b| format!("{b:02x}")).collect::<String>())
            }
            _ => None,
        }
    }) {
        Some(h) => h,
        None => panic!("no SKI"),
    };
    assert_eq!(
        crl_urls(&leaf),
        vec![format!(
            "http://crl.corp.example/certmint/{}.crl",
            hex(&sub)
        )]
    );
    assert_eq!(
        crl_urls(&sub),
        vec![format!(
            "http://crl.corp.example/certmint/{}.crl",
            hex(&inter)
        )]
    );
}

#[test]
fn rotation_is_automatic_and_old_leaves_keep_being_served() {
    let s = setup();
    let first = s
        .resolver
        .lookup_host("a.rot.example", KeyAlgorithm::EcdsaP256)
        .unwrap();
    let first_sub = first.certified_key().cert[1].clone();
    // Day 6 + 1 s: due.
    s.clock.advance(Duration::from_secs(6 * DAY + 1));
    let b = s
        .resolver
        .lookup_host("b.rot.example", KeyAlgorithm::EcdsaP256)
        .unwrap();
    assert_eq!(b.outcome, Outcome::Minted);
    assert_ne!(
        b.certified_key().cert[1],
        first_sub,
        "new mints use the new sub-CA at once"
    );
    assert_eq!(s.rotating.rotations(), 2);
    assert_eq!(
        s.parent_signer.calls.load(SeqCst),
        2,
        "the parent signs once per rotation"
    );
    webpki_verify(
        &b.certified_key().cert,
        &s.ca.root,
        "b.rot.example",
        s.clock.now(),
    )
    .unwrap();
    // No re-mint storm: the old leaf is still served from the cache, and still valid.
    let again = s
        .resolver
        .lookup_host("a.rot.example", KeyAlgorithm::EcdsaP256)
        .unwrap();
    assert_eq!(again.outcome, Outcome::Hit);
    assert_eq!(again.certified_key().cert[0], first.certified_key().cert[0]);
    webpki_verify(
        &again.certified_key().cert,
        &s.ca.root,
        "a.rot.example",
        s.clock.now(),
    )
    .unwrap();
    // Once the old sub-CA is within the margin of its end, the old leaf is re-minted.
    s.clock.advance(Duration::from_secs(DAY - 3600));
    let renewed = s
        .resolver
        .lookup_host("a.rot.example", KeyAlgorithm::EcdsaP256)
        .unwrap();
    assert_eq!(renewed.outcome, Outcome::Minted);
    assert_eq!(renewed.certified_key().cert[1], b.certified_key().cert[1]);
    webpki_verify(
        &renewed.certified_key().cert,
        &s.ca.root,
        "a.rot.example",
        s.clock.now(),
    )
    .unwrap();
}

#[test]
fn mints_keep_working_during_a_rotation_and_the_parent_signs_once() {
    let s = setup();
    s.clock.advance(Duration::from_secs(6 * DAY + 1));
    let resolver = Arc::new(s.resolver);
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let resolver = Arc::clone(&resolver);
            std::thread::spawn(move || {
                for i in 0..20 {
                    resolver
                        .lookup_host(&format!("h{t}-{i}.rot.example"), KeyAlgorithm::EcdsaP256)
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(s.rotating.rotations(), 2);
    assert_eq!(s.parent_signer.calls.load(SeqCst), 2);
}

#[test]
fn a_failed_rotation_keeps_the_current_sub_ca_until_it_expires() {
    let s = setup();
    s.clock.advance(Duration::from_secs(6 * DAY + 1));
    s.parent_signer.fail.store(true, SeqCst);
    // The HSM is down at renewal time: minting carries on with the current sub-CA.
    let found = s
        .resolver
        .lookup_host("down.rot.example", KeyAlgorithm::EcdsaP256)
        .unwrap();
    webpki_verify(
        &found.certified_key().cert,
        &s.ca.root,
        "down.rot.example",
        s.clock.now(),
    )
    .unwrap();
    assert_eq!(s.rotating.rotations(), 1);
    // Back up: the next attempt (after the retry delay) rotates.
    s.parent_signer.fail.store(false, SeqCst);
    s.clock.advance(Duration::from_secs(61));
    s.resolver
        .lookup_host("up.rot.example", KeyAlgorithm::EcdsaP256)
        .unwrap();
    assert_eq!(s.rotating.rotations(), 2);
    // A parent that cannot sign a sub-CA (pathLen 0) is refused up front.
    let _ = UnixTime::now();
}

#[test]
fn a_parent_with_path_len_zero_is_refused() {
    let root = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let p = ca_params("pathlen 0", Some(0));
    let cert = issue_under(&root, &p, &key);
    let signer = certmint::ca::SoftwareSigner::from_key_bytes(&key.serialize_der()).unwrap();
    let parent = Issuer::new(vec![cert], Arc::new(signer), IssuerOptions::default()).unwrap();
    let err = RotatingIssuer::new(
        Arc::new(parent),
        RotationPolicy::default(),
        Arc::new(certmint::clock::SystemClock::new()),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            certmint::Error::Issuer(certmint::IssuerError::PathLenTooShort)
        ),
        "{err:?}"
    );
}
