//! Several issuing CAs: enable, disable, remove, one default, selection by host and tenant,
//! disabled CAs' leaves no longer served, health.

mod common;

use std::sync::Arc;

use certmint::rustls::pki_types::UnixTime;
use certmint::{
    cache::Outcome,
    keys::KeyPool,
    mint::MintPolicy,
    registry::{CaHealth, SelectionRule},
    testing::ThrowawayCa,
    CaRegistry, CaStore, CertCache, Error, KeyAlgorithm, Minter, RegistryError, Resolver,
};
use common::*;

struct Ca {
    ca: ThrowawayCa,
    minter: Arc<Minter>,
}

fn ca(name: &str) -> Ca {
    let ca = ThrowawayCa::generate_named(KeyAlgorithm::EcdsaP256, name).unwrap();
    let minter = Arc::new(Minter::new(
        Arc::new(ca.issuer().unwrap()),
        Arc::new(KeyPool::inline()),
        MintPolicy::default(),
    ));
    Ca { ca, minter }
}

fn issued_by(chain: &[certmint::rustls::pki_types::CertificateDer<'_>], ca: &Ca) -> bool {
    chain[1] == ca.ca.intermediate
}

#[test]
fn selection_by_host_and_tenant_then_the_default() {
    let (corp, bank, acme) = (ca("corp"), ca("bank"), ca("acme"));
    let registry = Arc::new(CaRegistry::new());
    registry
        .add("corp", Arc::clone(&corp.minter), true)
        .unwrap();
    registry
        .add("bank", Arc::clone(&bank.minter), true)
        .unwrap();
    registry
        .add("acme", Arc::clone(&acme.minter), true)
        .unwrap();
    registry
        .add_rule(SelectionRule::Host {
            pattern: "*.bank.example".into(),
            ca: "bank".into(),
        })
        .unwrap();
    registry
        .add_rule(SelectionRule::Tenant {
            tenant: "acme".into(),
            ca: "acme".into(),
        })
        .unwrap();
    let resolver = Resolver::with_store(
        Arc::clone(&registry) as Arc<dyn CaStore>,
        Arc::new(CertCache::default()),
    );
    let get = |r: &Resolver, host: &str| {
        r.lookup_host(host, KeyAlgorithm::EcdsaP256)
            .unwrap()
            .certified_key()
            .cert
            .clone()
    };
    assert!(issued_by(&get(&resolver, "www.bank.example"), &bank));
    assert!(
        issued_by(&get(&resolver, "www.shop.example"), &corp),
        "the first enabled CA is the default"
    );
    let tenant = resolver.for_tenant("acme");
    assert!(issued_by(&get(&tenant, "www.shop.example"), &acme));
    let chain = get(&resolver, "www.bank.example");
    webpki_verify(&chain, &bank.ca.root, "www.bank.example", UnixTime::now()).unwrap();
    // A rule naming an unknown CA is refused.
    let err = registry
        .add_rule(SelectionRule::Host {
            pattern: "x".into(),
            ca: "nope".into(),
        })
        .unwrap_err();
    assert!(matches!(err, Error::Registry(RegistryError::UnknownCa(_))));
    assert!(matches!(
        registry.add("corp", corp.minter, true),
        Err(Error::Registry(RegistryError::DuplicateCa(_)))
    ));
}

#[test]
fn the_default_cannot_be_disabled_or_removed_without_a_successor() {
    let (a, b, c) = (ca("a"), ca("b"), ca("c"));
    let registry = CaRegistry::new();
    registry.add("a", a.minter, true).unwrap();
    registry.add("b", b.minter, true).unwrap();
    registry.add("c", c.minter, false).unwrap();
    assert!(matches!(
        registry.disable("a", None),
        Err(Error::Registry(RegistryError::DefaultNeedsSuccessor(_)))
    ));
    assert!(matches!(
        registry.remove("a", None),
        Err(Error::Registry(RegistryError::DefaultNeedsSuccessor(_)))
    ));
    assert!(
        matches!(
            registry.disable("a", Some("c")),
            Err(Error::Registry(RegistryError::DefaultNeedsSuccessor(_)))
        ),
        "c is disabled"
    );
    assert!(matches!(
        registry.set_default("c"),
        Err(Error::Registry(RegistryError::Disabled(_)))
    ));
    registry.disable("a", Some("b")).unwrap();
    let list = registry.list();
    let by_id = |id: &str| list.iter().find(|i| i.id == id).unwrap().clone();
    assert!(by_id("b").default && !by_id("a").enabled && !by_id("a").default);
    assert_eq!(
        list.iter().filter(|i| i.default).count(),
        1,
        "exactly one default"
    );
    registry.enable("c").unwrap();
    registry.remove("b", Some("c")).unwrap();
    assert!(registry.list().iter().any(|i| i.id == "c" && i.default));
    assert!(matches!(
        registry.get("b"),
        Err(Error::Registry(RegistryError::UnknownCa(_)))
    ));
    registry.disable("a", None).unwrap(); // not the default: fine
}

#[test]
fn a_disabled_ca_stops_minting_at_once_and_its_leaves_are_not_served() {
    let (a, b) = (ca("a"), ca("b"));
    let registry = Arc::new(CaRegistry::new());
    registry.add("a", Arc::clone(&a.minter), true).unwrap();
    registry.add("b", Arc::clone(&b.minter), true).unwrap();
    let cache = Arc::new(CertCache::default());
    registry.attach_cache(Arc::clone(&cache));
    let resolver = Resolver::with_store(
        Arc::clone(&registry) as Arc<dyn CaStore>,
        Arc::clone(&cache),
    );
    let first = resolver
        .lookup_host("site.example", KeyAlgorithm::EcdsaP256)
        .unwrap();
    assert!(issued_by(&first.certified_key().cert, &a));
    assert_eq!(
        resolver
            .lookup_host("site.example", KeyAlgorithm::EcdsaP256)
            .unwrap()
            .outcome,
        Outcome::Hit
    );
    let before = cache.stats().entries;
    registry.disable("a", Some("b")).unwrap();
    assert_eq!(cache.stats().entries, before - 1, "a's leaves were purged");
    let after = resolver
        .lookup_host("site.example", KeyAlgorithm::EcdsaP256)
        .unwrap();
    assert_eq!(after.outcome, Outcome::Minted);
    assert!(
        issued_by(&after.certified_key().cert, &b),
        "never a's leaf again"
    );
}

#[test]
fn health_probes_each_signer() {
    let ca_ok = ca("ok");
    let broken = ThrowawayCa::generate_named(KeyAlgorithm::EcdsaP256, "broken").unwrap();
    let (minter, signer) = flaky_minter(&broken, std::time::Duration::ZERO);
    signer.fail.store(true, std::sync::atomic::Ordering::SeqCst);
    let registry = CaRegistry::new();
    registry.add("ok", ca_ok.minter, true).unwrap();
    registry.add("broken", minter, true).unwrap();
    let health = registry.health();
    assert!(matches!(&health[0], (id, CaHealth::Ok) if id == "ok"));
    assert!(
        matches!(&health[1], (id, CaHealth::Failing(why @ Error::Signing(_))) if id == "broken" && why.to_string().contains("token unavailable")),
        "{health:?}"
    );
}

#[test]
fn an_empty_registry_has_no_default() {
    let registry = CaRegistry::new();
    assert!(matches!(
        registry.select(Some("a.example"), None),
        Err(Error::Registry(RegistryError::NoDefault))
    ));
    let _ = MintPolicy::default();
}
