//! Refresh-ahead: served leaves are minted again in the background before they expire, capped
//! in rate, and a failing refresh leaves the old leaf in service.

mod common;

use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::time::{Duration, Instant};

use certmint::cache::{CacheConfig, Outcome};
use certmint::clock::{Clock, ManualClock};
use certmint::{CertCache, KeyAlgorithm, Resolver};
use common::*;

const DAY: u64 = 86_400;
/// Host-only leaves live 30 days (the default policy); entries expire an hour earlier.
const ENTRY_LIFE: u64 = 30 * DAY - 3600;

fn resolver(config: CacheConfig, clock: &Arc<ManualClock>) -> (Resolver, Arc<FlakySigner>) {
    let (minter, signer) = flaky_minter(&interception(KeyAlgorithm::EcdsaP256).ca, Duration::ZERO);
    let cache = CertCache::with_clock(config, Arc::clone(clock) as _);
    (Resolver::new(minter, Arc::new(cache)), signer)
}

/// Waits (at most 20 s) until `done` holds.
fn wait_for(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn leaf(resolver: &Resolver, host: &str) -> certmint::cache::Lookup {
    resolver.lookup_host(host, KeyAlgorithm::EcdsaP256).unwrap()
}

#[test]
fn a_served_leaf_is_minted_again_before_it_expires_and_no_lookup_waits() {
    let clock = Arc::new(ManualClock::starting_now());
    let (resolver, _) = resolver(CacheConfig::default(), &clock);
    let first = leaf(&resolver, "refresh.example");
    assert_eq!(first.outcome, Outcome::Minted);

    // Not yet due (more than 10 minutes left): a plain hit, nothing refreshed.
    clock.advance(Duration::from_secs(ENTRY_LIFE - 11 * 60));
    assert_eq!(leaf(&resolver, "refresh.example").outcome, Outcome::Hit);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(resolver.cache().stats().refreshes, 0);

    // Due: this lookup is answered from the cache at once, with the old leaf; the refresh runs
    // behind it.
    clock.advance(Duration::from_secs(2 * 60));
    let due = leaf(&resolver, "refresh.example");
    assert_eq!(due.outcome, Outcome::Hit);
    assert_eq!(due.serial(), first.serial());
    wait_for("the refresh", || resolver.cache().stats().refreshes == 1);

    let refreshed = leaf(&resolver, "refresh.example");
    assert_eq!(refreshed.outcome, Outcome::Hit);
    assert_ne!(refreshed.serial(), first.serial());
    assert!(refreshed.not_after().as_secs() > first.not_after().as_secs() + 20 * DAY);
    let chain = &refreshed.certified_key().cert;
    let ca = &interception(KeyAlgorithm::EcdsaP256).ca;
    webpki_verify(chain, &ca.root, "refresh.example", clock.now())
        .expect("the refreshed chain verifies");
    let stats = resolver.cache().stats();
    assert_eq!((stats.misses, stats.mints, stats.expirations), (1, 2, 0));

    // Past the old leaf's expiry the new one is still served: no lookup ever minted again.
    clock.advance(Duration::from_secs(3600));
    assert_eq!(leaf(&resolver, "refresh.example").outcome, Outcome::Hit);
    assert_eq!(resolver.cache().stats().misses, 1);
}

#[test]
fn refreshes_are_capped_in_rate_and_only_recently_served_leaves_are_refreshed() {
    let clock = Arc::new(ManualClock::starting_now());
    let mut config = CacheConfig::default();
    // A short window, so the background scan runs every second.
    config.refresh_ahead = Duration::from_secs(20);
    config.refresh_rate = 20;
    let (resolver, _) = resolver(config, &clock);
    let hosts: Vec<String> = (0..40).map(|i| format!("busy{i}.example")).collect();
    for host in &hosts {
        leaf(&resolver, host);
    }
    leaf(&resolver, "idle.example");
    leaf(&resolver, "quiet.example");

    // 30 minutes before the window: "quiet" is served, then not again.
    clock.advance(Duration::from_secs(ENTRY_LIFE - 20 - 1800));
    leaf(&resolver, "quiet.example");
    // Inside the window: the busy hosts are served; "idle" was last served 30 days ago.
    clock.advance(Duration::from_secs(1800 + 10));
    let started = Instant::now();
    for host in &hosts {
        assert_eq!(leaf(&resolver, host).outcome, Outcome::Hit);
    }
    // 40 busy hosts (queued by their hits) and "quiet" (found by the scan).
    wait_for("41 refreshes", || resolver.cache().stats().refreshes == 41);
    let took = started.elapsed();
    // At most 20 a second, spread evenly: 41 refreshes take at least 40 gaps of 50 ms.
    assert!(took >= Duration::from_millis(40 * 50 - 50), "{took:?}");

    // Several more scans: "idle" is never refreshed, and is still served until it expires.
    std::thread::sleep(Duration::from_millis(2500));
    let stats = resolver.cache().stats();
    assert_eq!((stats.refreshes, stats.refresh_pending), (41, 0), "{stats}");
    let idle = leaf(&resolver, "idle.example");
    assert_eq!(idle.outcome, Outcome::Hit);
    clock.advance(Duration::from_secs(11));
    assert_eq!(leaf(&resolver, "idle.example").outcome, Outcome::Minted);
    assert_eq!(leaf(&resolver, "busy0.example").outcome, Outcome::Hit);
    assert_eq!(leaf(&resolver, "quiet.example").outcome, Outcome::Hit);
}

#[test]
fn a_failed_refresh_keeps_the_old_leaf_in_service_and_is_retried() {
    let clock = Arc::new(ManualClock::starting_now());
    let (resolver, signer) = resolver(CacheConfig::default(), &clock);
    let first = leaf(&resolver, "flaky.example");
    clock.advance(Duration::from_secs(ENTRY_LIFE - 5 * 60));
    signer.fail.store(true, SeqCst);
    assert_eq!(leaf(&resolver, "flaky.example").serial(), first.serial());
    wait_for("the failed refresh", || {
        resolver.cache().stats().refresh_errors == 1
    });
    let again = leaf(&resolver, "flaky.example");
    assert_eq!(
        (again.outcome, again.serial()),
        (Outcome::Hit, first.serial())
    );
    let stats = resolver.cache().stats();
    assert_eq!((stats.refreshes, stats.mint_errors), (0, 1), "{stats}");
    assert_eq!(resolver.cache().mint_errors_by_kind(), vec![("signing", 1)]);

    // Retried a minute later, once the signer works again.
    signer.fail.store(false, SeqCst);
    clock.advance(Duration::from_secs(61));
    leaf(&resolver, "flaky.example");
    wait_for("the retried refresh", || {
        resolver.cache().stats().refreshes == 1
    });
    assert_ne!(leaf(&resolver, "flaky.example").serial(), first.serial());
}

#[test]
fn a_clone_that_cannot_outlive_its_origin_is_not_refreshed_again_and_again() {
    let clock = Arc::new(ManualClock::starting_now());
    let (resolver, signer) = resolver(CacheConfig::default(), &clock);
    // An origin valid for two more days: its clone's validity is the origin's.
    let mut p = params_for(&["short.example"]);
    p.not_before = ::time::OffsetDateTime::now_utc() - ::time::Duration::days(1);
    p.not_after =
        ::time::OffsetDateTime::from_unix_timestamp((clock.now().as_secs() + 2 * DAY) as i64)
            .unwrap();
    let der = origin(&p, KeyAlgorithm::EcdsaP256);
    let connection = resolver
        .for_connection(Some("short.example"), std::slice::from_ref(&der))
        .unwrap();
    let first = connection.lookup(KeyAlgorithm::EcdsaP256).unwrap();
    clock.advance(Duration::from_secs(2 * DAY - 3600 - 5 * 60));
    let calls = signer.calls.load(SeqCst);
    for _ in 0..3 {
        let hit = connection.lookup(KeyAlgorithm::EcdsaP256).unwrap();
        assert_eq!((hit.outcome, hit.serial()), (Outcome::Hit, first.serial()));
        std::thread::sleep(Duration::from_millis(300));
    }
    // One attempt (its leaf would expire no later), then none: the entry is not due again.
    assert_eq!(signer.calls.load(SeqCst), calls + 1);
    assert_eq!(resolver.cache().stats().refreshes, 0);
}
