//! [`Deployment::reload`]: CAs added, disabled, default changed, untrusted policy changed, with
//! the cache purged of what no longer holds; a failed reload changes nothing; lookups racing a
//! reload never leave a leaf of the old configuration behind.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use certmint::ca::Issuer;
use certmint::cache::{OriginVerdict, Outcome};
use certmint::rustls::pki_types::CertificateDer;
use certmint::rustls::RootCertStore;
use certmint::testing::ThrowawayCa;
use certmint::{
    CaSpec, ClientKeySupport, Deployment, DeploymentBuilder, Error, KeyAlgorithm, UntrustedPolicy,
};
use common::*;

fn issuer() -> (Arc<Issuer>, CertificateDer<'static>) {
    let ca = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let issuer = Arc::new(ca.issuer().unwrap());
    let cert = issuer.certificate().clone();
    (issuer, cert)
}

fn public_roots() -> RootCertStore {
    let mut roots = RootCertStore::empty();
    roots.add(public_ca().issuer.der().clone()).unwrap();
    roots
}

fn host_leaf_issuer(d: &Deployment, host: &str) -> (CertificateDer<'static>, Outcome) {
    let found = d.lookup(Some(host), &[], ClientKeySupport::all()).unwrap();
    (found.certified_key().cert[1].clone(), found.outcome)
}

fn two_cas(a: &Arc<Issuer>, b: &Arc<Issuer>) -> DeploymentBuilder {
    Deployment::builder()
        .ca(CaSpec::from_issuer("a", Arc::clone(a)))
        .ca(CaSpec::from_issuer("b", Arc::clone(b)).disabled())
}

#[test]
fn an_unchanged_ca_keeps_its_cached_leaves_and_a_disabled_one_loses_them() {
    let (a, a_cert) = issuer();
    let (b, b_cert) = issuer();
    let d = two_cas(&a, &b).build().unwrap();
    assert_eq!(
        host_leaf_issuer(&d, "one.example"),
        (a_cert.clone(), Outcome::Minted)
    );

    // Same configuration: nothing changes, the leaf is still a hit.
    let same = d.reload(two_cas(&a, &b)).unwrap();
    assert_eq!((same.kept.len(), same.purged), (2, 0), "{same}");
    assert_eq!(
        host_leaf_issuer(&d, "one.example"),
        (a_cert.clone(), Outcome::Hit)
    );

    // b enabled and made the default, a disabled: a's leaf is gone, b mints.
    let swapped = d
        .reload(
            Deployment::builder()
                .ca(CaSpec::from_issuer("a", Arc::clone(&a)).disabled())
                .ca(CaSpec::from_issuer("b", Arc::clone(&b))),
        )
        .unwrap();
    assert_eq!(swapped.purged, 1, "{swapped}");
    assert_eq!(
        host_leaf_issuer(&d, "one.example"),
        (b_cert.clone(), Outcome::Minted)
    );
    let stats = d.stats();
    assert_eq!(stats.reloads, 2);
    let info: Vec<_> = stats
        .cas
        .iter()
        .map(|c| (c.id.as_str(), c.enabled, c.default))
        .collect();
    assert_eq!(info, [("a", false, false), ("b", true, true)]);

    // A third CA added and made the default: b's leaf stays cached (b is unchanged and
    // enabled) but new lookups go to c.
    let (c, c_cert) = issuer();
    let added = d
        .reload(
            Deployment::builder()
                .ca(CaSpec::from_issuer("b", Arc::clone(&b)))
                .ca(CaSpec::from_issuer("c", c))
                .default_ca("c"),
        )
        .unwrap();
    assert_eq!(
        (added.added.clone(), added.removed.clone()),
        (vec!["c".to_owned()], vec!["a".to_owned()])
    );
    assert_eq!(added.purged, 0, "{added}");
    assert_eq!(
        host_leaf_issuer(&d, "two.example"),
        (c_cert, Outcome::Minted)
    );
    d.shutdown();
}

#[test]
fn a_reload_that_fails_changes_nothing() {
    let (a, a_cert) = issuer();
    let (b, _) = issuer();
    let d = two_cas(&a, &b).build().unwrap();
    host_leaf_issuer(&d, "one.example");
    let missing = std::env::temp_dir().join("certmint-reload-missing-key.pem");
    let bad = [
        // A key file that does not exist.
        Deployment::builder().ca(CaSpec::from_files("x", &missing, &missing)),
        // A default that is not configured.
        two_cas(&a, &b).default_ca("nope"),
        // A default that is disabled.
        two_cas(&a, &b).default_ca("b"),
        // No CA at all.
        Deployment::builder(),
    ];
    for (n, builder) in bad.into_iter().enumerate() {
        let err = d.reload(builder).unwrap_err();
        assert!(!err.to_string().is_empty());
        assert_eq!(d.stats().reload_failures, n as u64 + 1);
        // Still a's leaf, from the cache.
        assert_eq!(
            host_leaf_issuer(&d, "one.example"),
            (a_cert.clone(), Outcome::Hit)
        );
    }
    assert_eq!(d.stats().reloads, 0);
    d.shutdown();
}

#[test]
fn a_changed_untrusted_policy_drops_the_leaves_judged_under_the_old_one() {
    let ca = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let trusted = Arc::new(ca.issuer().unwrap());
    let untrusted_ca = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let untrusted = Arc::new(untrusted_ca.issuer().unwrap());
    let mirror = || {
        Deployment::builder()
            .ca(CaSpec::from_issuer("corp", Arc::clone(&trusted)))
            .upstream_roots(public_roots())
            .untrusted_policy(UntrustedPolicy::MirrorDistrust)
            .untrusted_ca(CaSpec::from_issuer("untrusted", Arc::clone(&untrusted)))
    };
    let d = mirror().build().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let self_signed = [params_for(&["bad.example"])
        .self_signed(&key)
        .unwrap()
        .der()
        .clone()];
    let good = [origin(
        &params_for(&["good.example"]),
        KeyAlgorithm::EcdsaP256,
    )];
    let client = ClientKeySupport::all();
    let bad = d.lookup(Some("bad.example"), &self_signed, client).unwrap();
    assert_eq!(bad.verdict(), OriginVerdict::Untrusted);
    let fine = d.lookup(Some("good.example"), &good, client).unwrap();
    assert_eq!(fine.verdict(), OriginVerdict::Trusted);
    assert_eq!(
        d.lookup(Some("bad.example"), &self_signed, client)
            .unwrap()
            .outcome,
        Outcome::Hit
    );

    // Refuse untrusted origins from now on: the mirrored leaf must not be served from the
    // cache, and the trusted clone judged under the old policy is dropped too.
    let refused = d
        .reload(
            Deployment::builder()
                .ca(CaSpec::from_issuer("corp", Arc::clone(&trusted)))
                .upstream_roots(public_roots()),
        )
        .unwrap();
    assert_eq!(refused.purged, 2, "{refused}");
    let err = d
        .lookup(Some("bad.example"), &self_signed, client)
        .unwrap_err();
    assert!(matches!(err, Error::UntrustedOrigin(_)), "{err:?}");
    assert_eq!(
        d.lookup(Some("good.example"), &good, client)
            .unwrap()
            .outcome,
        Outcome::Minted
    );
    assert!(!d.stats().cas.iter().any(|c| c.untrusted));

    // And back to mirroring.
    d.reload(mirror()).unwrap();
    let again = d.lookup(Some("bad.example"), &self_signed, client).unwrap();
    assert_eq!(
        (again.verdict(), again.outcome),
        (OriginVerdict::Untrusted, Outcome::Minted)
    );
    d.shutdown();
}

#[test]
fn lookups_racing_a_reload_leave_no_leaf_of_a_disabled_ca() {
    let (a, _) = issuer();
    let (b, b_cert) = issuer();
    let d = Arc::new(two_cas(&a, &b).build().unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..2)
        .map(|t| {
            let d = Arc::clone(&d);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    // 50 hosts, again and again: misses and hits across the reload.
                    let host = format!("h{}.t{t}.example", n % 50);
                    d.lookup(Some(&host), &[], ClientKeySupport::all()).unwrap();
                    n += 1;
                }
                n
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(100));
    d.reload(
        Deployment::builder()
            .ca(CaSpec::from_issuer("a", Arc::clone(&a)).disabled())
            .ca(CaSpec::from_issuer("b", Arc::clone(&b))),
    )
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(100));
    stop.store(true, Ordering::Relaxed);
    let lookups: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert!(lookups > 100, "only {lookups} lookups ran");
    for t in 0..2 {
        for n in 0..50 {
            let (issuer, _) = host_leaf_issuer(&d, &format!("h{n}.t{t}.example"));
            assert_eq!(
                issuer, b_cert,
                "h{n}.t{t} still has a leaf of the disabled CA"
            );
        }
    }
    d.shutdown();
}
