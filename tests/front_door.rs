//! The front door ([`Deployment`]): origin validation for the host with the verdict cached,
//! both untrusted-origin policies, root causes a caller can match, the leaf's key beside its
//! chain, and every wait bounded (a stuck concurrent mint, an RSA pool that never fills).

mod common;

use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use certmint::cache::{CacheConfig, CacheKey, OriginVerdict, Outcome};
use certmint::keys::{KeyPool, KeyPoolConfig};
use certmint::rustls::pki_types::{CertificateDer, UnixTime};
use certmint::rustls::RootCertStore;
use certmint::testing::ThrowawayCa;
use certmint::{
    CaSpec, CertCache, ClientKeySupport, Deployment, Error, KeyAlgorithm, KeyError, MintRequest,
    UntrustedPolicy, Wait,
};
use common::*;

/// Roots holding only the public test CA that signs origins.
fn public_roots() -> RootCertStore {
    let mut roots = RootCertStore::empty();
    roots.add(public_ca().issuer.der().clone()).unwrap();
    roots
}

fn deployment(ca: &ThrowawayCa, untrusted: Option<&ThrowawayCa>) -> Deployment {
    let mut builder = Deployment::builder()
        .ca(CaSpec::from_issuer("corp", Arc::new(ca.issuer().unwrap())))
        .upstream_roots(public_roots());
    if let Some(u) = untrusted {
        builder = builder
            .untrusted_policy(UntrustedPolicy::MirrorDistrust)
            .untrusted_ca(CaSpec::from_issuer(
                "untrusted",
                Arc::new(u.issuer().unwrap()),
            ));
    }
    builder.build().unwrap()
}

/// An origin for `host` signed by a CA nobody trusts.
fn self_signed_origin(host: &str) -> CertificateDer<'static> {
    let key = rcgen::KeyPair::generate().unwrap();
    params_for(&[host]).self_signed(&key).unwrap().der().clone()
}

#[test]
fn a_trusted_origin_is_cloned_and_the_verdict_is_cached_with_the_leaf() {
    let ca = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let d = deployment(&ca, None);
    let origin = origin(&params_for(&["www.shop.example"]), KeyAlgorithm::EcdsaP256);
    let chain = [origin];
    let first = d
        .lookup(Some("www.shop.example"), &chain, ClientKeySupport::all())
        .unwrap();
    assert_eq!(first.outcome, Outcome::Minted);
    assert_eq!(first.verdict(), OriginVerdict::Trusted);
    webpki_verify(
        &first.certified_key().cert,
        &ca.root,
        "www.shop.example",
        UnixTime::now(),
    )
    .unwrap();
    // The key handed out is the one the chain was minted for.
    let leaf_spki = x509_parser::parse_x509_certificate(first.certified_key().cert[0].as_ref())
        .unwrap()
        .1
        .public_key()
        .raw
        .to_vec();
    assert_eq!(
        first.key().subject_public_key_info().as_ref(),
        &leaf_spki[..]
    );
    assert!(!first
        .key()
        .private_key()
        .pkcs8()
        .secret_pkcs8_der()
        .is_empty());
    let second = d
        .lookup(Some("www.shop.example"), &chain, ClientKeySupport::all())
        .unwrap();
    assert_eq!(second.outcome, Outcome::Hit);
    assert_eq!(
        second.verdict(),
        OriginVerdict::Trusted,
        "stored with the entry"
    );
    assert!(Arc::ptr_eq(first.certified_key(), second.certified_key()));
    d.shutdown();
}

#[test]
fn an_origin_is_validated_for_the_host_it_is_served_as() {
    let ca = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let d = deployment(&ca, None);
    let chain = [origin(
        &params_for(&["www.shop.example"]),
        KeyAlgorithm::EcdsaP256,
    )];
    // A valid chain, but not for this name: refused, and the root cause says so.
    let err = d
        .lookup(Some("www.bank.example"), &chain, ClientKeySupport::all())
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::UntrustedOrigin(certmint::rustls::Error::InvalidCertificate(_))
        ),
        "{err:?}"
    );
    // The refusal is remembered briefly and comes back as the same root cause.
    let again = d
        .lookup(Some("www.bank.example"), &chain, ClientKeySupport::all())
        .unwrap_err();
    assert!(matches!(again, Error::UntrustedOrigin(_)), "{again:?}");
    assert_eq!(d.cache_stats().cached_failures, 1);
    d.shutdown();
}

#[test]
fn untrusted_origins_are_refused_or_mirrored_under_the_untrusted_ca() {
    let ca = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let rogue = [self_signed_origin("rogue.example")];
    let refusing = deployment(&ca, None);
    assert!(matches!(
        refusing.lookup(Some("rogue.example"), &rogue, ClientKeySupport::all()),
        Err(Error::UntrustedOrigin(_))
    ));
    refusing.shutdown();

    let untrusted = ThrowawayCa::generate_named(KeyAlgorithm::EcdsaP256, "untrusted").unwrap();
    let mirroring = deployment(&ca, Some(&untrusted));
    let found = mirroring
        .lookup(Some("rogue.example"), &rogue, ClientKeySupport::all())
        .unwrap();
    assert_eq!(found.verdict(), OriginVerdict::Untrusted);
    // Signed by the untrusted CA: it verifies only against the untrusted root.
    webpki_verify(
        &found.certified_key().cert,
        &untrusted.root,
        "rogue.example",
        UnixTime::now(),
    )
    .unwrap();
    assert!(webpki_verify(
        &found.certified_key().cert,
        &ca.root,
        "rogue.example",
        UnixTime::now()
    )
    .is_err());
    mirroring.shutdown();
}

#[test]
fn errors_keep_their_root_cause_through_the_front_door() {
    let ca = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let d = deployment(&ca, None);
    let garbage = [CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x00])];
    assert!(matches!(
        d.lookup(Some("a.example"), &garbage, ClientKeySupport::all()),
        Err(Error::Origin(_))
    ));
    assert!(matches!(
        d.lookup(Some("bad host"), &[], ClientKeySupport::all()),
        Err(Error::Host(_))
    ));
    assert!(matches!(
        d.lookup(
            Some("a.example"),
            &[],
            ClientKeySupport::from_schemes(&[certmint::rustls::SignatureScheme::ED448])
        ),
        Err(Error::NoCommonKeyAlgorithm)
    ));
    assert!(matches!(
        d.mint(&MintRequest::default()),
        Err(Error::NothingToMint)
    ));
    assert!(matches!(
        d.disable_ca("corp", None),
        Err(Error::Registry(_))
    ));
    d.shutdown();
}

#[test]
fn a_builder_without_a_ca_or_with_mirroring_but_no_untrusted_ca_is_refused() {
    assert!(matches!(
        Deployment::builder().build(),
        Err(Error::Config(certmint::ConfigError {
            kind: certmint::ConfigErrorKind::NoCa,
            ..
        }))
    ));
    let ca = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let err = Deployment::builder()
        .ca(CaSpec::from_issuer("corp", Arc::new(ca.issuer().unwrap())))
        .untrusted_policy(UntrustedPolicy::MirrorDistrust)
        .build()
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Config(certmint::ConfigError {
                kind: certmint::ConfigErrorKind::MirrorNeedsCa,
                ..
            })
        ),
        "{err:?}"
    );
}

#[test]
fn a_ca_from_pem_bytes_with_a_passphrase_mints() {
    let ca = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let pass = certmint::keys::Secret::from("correct horse");
    let key = certmint::keys::encrypt_private_key(&ca.intermediate_key, &pass).unwrap();
    let cert = test_cert_pem(ca.intermediate.as_ref());
    let wrong = Deployment::builder()
        .ca(CaSpec::from_pem("corp", cert.as_bytes(), key.as_bytes())
            .with_passphrase(certmint::keys::Secret::from("wrong")))
        .build()
        .unwrap_err();
    assert!(
        matches!(wrong, Error::Key(KeyError::WrongPassphrase)),
        "{wrong:?}"
    );
    let d = Deployment::builder()
        .ca(CaSpec::from_pem("corp", cert.as_bytes(), key.as_bytes()).with_passphrase(pass))
        .build()
        .unwrap();
    let found = d
        .lookup(Some("pem.example"), &[], ClientKeySupport::all())
        .unwrap();
    webpki_verify(
        &found.certified_key().cert,
        &ca.root,
        "pem.example",
        UnixTime::now(),
    )
    .unwrap();
    d.shutdown();
}

#[test]
fn a_lookup_gives_up_on_a_stuck_concurrent_mint_with_a_typed_error() {
    let i = interception(KeyAlgorithm::EcdsaP256);
    let mut config = CacheConfig::default();
    config.wait_timeout = Duration::from_millis(200);
    let cache = Arc::new(CertCache::new(config));
    let key = CacheKey::new([1; 32], None, None, KeyAlgorithm::EcdsaP256);
    let (entered_tx, entered_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let stuck = {
        let (cache, key) = (Arc::clone(&cache), key.clone());
        std::thread::spawn(move || {
            cache.get_or_mint(&key, || {
                entered_tx.send(()).unwrap();
                // A mint that hangs (an HSM that stopped answering) until released.
                release_rx.recv().unwrap();
                i.minter.mint(&MintRequest::for_host("stuck.example"))
            })
        })
    };
    entered_rx.recv().unwrap();
    let waited = cache.get_or_mint(&key, || panic!("the stuck mint owns this key"));
    match waited {
        Err(Error::Timeout {
            what: Wait::ConcurrentMint,
            waited,
        }) => assert_eq!(waited, Duration::from_millis(200)),
        other => panic!("{other:?}"),
    }
    assert_eq!(cache.stats().wait_timeouts, 1);
    release_tx.send(()).unwrap();
    assert_eq!(stuck.join().unwrap().unwrap().outcome, Outcome::Minted);
    // Once the mint finishes, the same key is a hit.
    let hit = cache.get_or_mint(&key, || panic!("cached")).unwrap();
    assert_eq!(hit.outcome, Outcome::Hit);
}

#[test]
fn an_rsa_pool_that_never_fills_gives_up_with_a_typed_error() {
    let mut config = KeyPoolConfig::default();
    config.rsa_target = 0; // the background thread never makes an RSA key
    config.warm = vec![];
    config.rsa_wait = Duration::from_millis(200);
    let pool = KeyPool::new(config);
    match pool.take(KeyAlgorithm::Rsa2048) {
        Err(KeyError::PoolExhausted {
            algorithm: KeyAlgorithm::Rsa2048,
            waited,
        }) => assert!(waited >= Duration::from_millis(200), "{waited:?}"),
        other => panic!("{other:?}"),
    }
    pool.shutdown();
}

#[test]
fn an_unrepresentable_rsa_wait_is_clamped_not_a_panic() {
    let mut config = KeyPoolConfig::default();
    config.rsa_target = 1;
    config.warm = vec![KeyAlgorithm::Rsa2048];
    config.rsa_wait = Duration::MAX;
    let pool = KeyPool::new(config);
    let key = pool.take(KeyAlgorithm::Rsa2048).unwrap();
    assert_eq!(key.algorithm(), KeyAlgorithm::Rsa2048);
    pool.shutdown();
}

#[test]
fn after_shutdown_keys_are_made_inline() {
    let pool = KeyPool::new(KeyPoolConfig::default());
    pool.shutdown();
    // Keys the thread made before it stopped are still handed out; nothing makes more.
    let ready = pool.ready(KeyAlgorithm::EcdsaP256);
    for _ in 0..ready {
        pool.take(KeyAlgorithm::EcdsaP256).unwrap();
    }
    assert_eq!(pool.ready(KeyAlgorithm::EcdsaP256), 0);
    let before = pool.stats().generated_inline;
    pool.take(KeyAlgorithm::EcdsaP256).unwrap();
    assert_eq!(pool.stats().generated_inline, before + 1);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(pool.ready(KeyAlgorithm::EcdsaP256), 0, "no thread refills");
}

/// Why a build failed, when it is the untrusted-CA check.
fn refused_as_trusted(result: Result<Deployment, Error>) -> bool {
    matches!(
        result,
        Err(Error::Config(certmint::ConfigError {
            kind: certmint::ConfigErrorKind::UntrustedCaIsTrusted(_),
            ..
        }))
    )
}

fn mirroring(trusted: CaSpec, untrusted: CaSpec) -> Result<Deployment, Error> {
    Deployment::builder()
        .ca(trusted)
        .untrusted_policy(UntrustedPolicy::MirrorDistrust)
        .untrusted_ca(untrusted)
        .upstream_roots(public_roots())
        .build()
}

/// The throwaway root as an issuing CA of its own (what `--untrusted-ca-cert root.pem` gives).
fn root_as_issuer(ca: &ThrowawayCa) -> certmint::ca::Issuer {
    certmint::ca::Issuer::new(
        vec![ca.root.clone()],
        Arc::new(certmint::ca::SoftwareSigner::from_private_key(&ca.root_key).unwrap()),
        certmint::ca::IssuerOptions::default(),
    )
    .unwrap()
}

#[test]
fn an_untrusted_ca_that_clients_trust_is_refused() {
    let ca = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let trusted = || CaSpec::from_issuer("corp", Arc::new(ca.issuer().unwrap()));
    // The same CA in both roles.
    assert!(refused_as_trusted(mirroring(
        trusted(),
        CaSpec::from_issuer("untrusted", Arc::new(ca.issuer().unwrap()))
    )));
    // The trusted chain's own root (given with the chain here), as the untrusted CA.
    assert!(refused_as_trusted(mirroring(
        trusted(),
        CaSpec::from_issuer("untrusted", Arc::new(root_as_issuer(&ca)))
    )));
    // The root again, when the trusted CA was configured without it: it issued the trusted
    // intermediate, so clients trust it.
    let without_root = certmint::ca::Issuer::new(
        vec![ca.intermediate.clone()],
        Arc::new(certmint::ca::SoftwareSigner::from_private_key(&ca.intermediate_key).unwrap()),
        certmint::ca::IssuerOptions::default(),
    )
    .unwrap();
    assert!(refused_as_trusted(mirroring(
        CaSpec::from_issuer("corp", Arc::new(without_root)),
        CaSpec::from_issuer("untrusted", Arc::new(root_as_issuer(&ca)))
    )));
    // A CA of its own is accepted.
    let other = ThrowawayCa::generate_named(KeyAlgorithm::EcdsaP256, "really untrusted").unwrap();
    let d = mirroring(
        trusted(),
        CaSpec::from_issuer("untrusted", Arc::new(other.issuer().unwrap())),
    )
    .unwrap();
    d.shutdown();
}

/// An attachment is shared by every lookup of one entry, carries the entry's serial and
/// notAfter beside it, and is dropped with the entry once the cache lets it go.
#[test]
fn attachments_live_as_long_as_their_cache_entry() {
    struct Parsed(Arc<std::sync::atomic::AtomicBool>);
    impl Drop for Parsed {
        fn drop(&mut self) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }
    let ca = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let d = deployment(&ca, None);
    let dropped = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let first = d
        .lookup(Some("attach.example"), &[], ClientKeySupport::all())
        .unwrap();
    assert!(first.attach(Parsed(Arc::clone(&dropped))).is_some());
    // A second attach keeps the first value (and drops the new one).
    let other = Arc::new(std::sync::atomic::AtomicBool::new(false));
    assert!(Arc::ptr_eq(
        &first.attach(Parsed(Arc::clone(&other))).unwrap().0,
        &dropped
    ));
    assert!(other.load(std::sync::atomic::Ordering::SeqCst));
    let hit = d
        .lookup(Some("attach.example"), &[], ClientKeySupport::all())
        .unwrap();
    assert_eq!(hit.outcome, Outcome::Hit);
    assert!(Arc::ptr_eq(
        &hit.attachment::<Parsed>().unwrap().0,
        &dropped
    ));
    assert!(hit.attachment::<String>().is_none());
    // Serial and notAfter are the leaf's own.
    let info = certmint::inspect::CertificateInfo::parse(&hit.certified_key().cert[0]).unwrap();
    let hex: String = hit.serial().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(info.serial.replace(':', "").to_lowercase(), hex);
    assert!(hit.not_after() > UnixTime::now());
    // Purged and no lookup left: the attachment goes.
    d.purge();
    drop(first);
    assert!(!dropped.load(std::sync::atomic::Ordering::SeqCst));
    drop(hit);
    assert!(dropped.load(std::sync::atomic::Ordering::SeqCst));
    d.shutdown();
}

/// The front door refuses an oversized origin for its size before parsing it, as a direct mint
/// does (found by the C tests: a 1 MiB SEQUENCE was reported as malformed).
#[test]
fn an_oversized_origin_chain_is_refused_for_its_size() {
    let ca = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let d = deployment(&ca, None);
    let mut der = vec![0x30, 0x83, 0x10, 0x00, 0x00];
    der.resize(der.len() + (1 << 20), 0);
    let chain = [CertificateDer::from(der)];
    match d.lookup(Some("big.example"), &chain, ClientKeySupport::all()) {
        Err(Error::Origin(certmint::OriginError::TooLarge { len, max })) => {
            assert_eq!(
                (len, max),
                ((1 << 20) + 5, certmint::mint::DEFAULT_MAX_ORIGIN_LEN)
            );
        }
        other => panic!("{other:?}"),
    }
    d.shutdown();
}
