//! A flood of distinct names through the front door: memory stays within the cache bound plus
//! 32 MiB, only the bad names fail (each with its own error), and a hot set of 100 hosts asked
//! between flood requests stays cached (hit rate ≥ 99%).
//!
//! Release mode, in its own process so its resident memory is its own: `cargo test --release
//! --test flood -- --ignored` (CI runs it; 50,000 names, or `CERTMINT_FLOOD_NAMES`). The
//! benchmark `cargo bench --bench flood` runs 1,000,000.

use std::sync::Arc;

use certmint::cache::Outcome;
use certmint::testing::ThrowawayCa;
use certmint::{CaSpec, ClientKeySupport, Deployment, Error, KeyAlgorithm};

/// This process's resident set, in bytes (Linux).
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

#[test]
#[ignore = "release mode, own process: cargo test --release --test flood -- --ignored"]
fn a_flood_of_distinct_names_stays_bounded_and_the_hot_set_stays_cached() {
    let names: u64 = std::env::var("CERTMINT_FLOOD_NAMES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(50_000);
    const BOUND: u64 = 16 * 1024 * 1024;
    const HOT: u64 = 100;
    let ca = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let mut builder =
        Deployment::builder().ca(CaSpec::from_issuer("corp", Arc::new(ca.issuer().unwrap())));
    builder.cache_config_mut().max_weight = BOUND;
    let d = builder.build().unwrap();
    let client = ClientKeySupport::all();
    let (mut hot_hits, mut hot_lookups, mut bad, mut peak) = (0u64, 0u64, 0u64, 0u64);
    // A cheap, deterministic spread of names (xorshift), so no two runs differ.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for i in 0..names {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        // One name in 1,000 is not a valid host name.
        let flood = if i % 1000 == 999 {
            format!("bad_{state:x}!.flood.example")
        } else {
            format!("h{state:016x}.flood.example")
        };
        match d.lookup(Some(&flood), &[], client) {
            Ok(found) => assert_eq!(found.outcome, Outcome::Minted, "{flood}"),
            Err(Error::Host(_)) if flood.starts_with("bad_") => bad += 1,
            Err(e) => panic!("{flood}: {e}"),
        }
        let hot = format!("hot{}.example", i % HOT);
        let found = d.lookup(Some(&hot), &[], client).unwrap();
        hot_lookups += 1;
        if found.outcome == Outcome::Hit {
            hot_hits += 1;
        }
        if i % 1000 == 0 {
            peak = peak.max(rss());
        }
    }
    peak = peak.max(rss());
    let stats = d.stats();
    let hit_rate = hot_hits as f64 / hot_lookups as f64;
    eprintln!(
        "{names} names: peak RSS {:.1} MiB (bound {} MiB + 32), cache {} entries / {:.1} MiB, \
         {} evictions, hot hit rate {:.4}, {bad} bad names refused",
        peak as f64 / 1048576.0,
        BOUND / 1048576,
        stats.cache.entries,
        stats.cache.weight as f64 / 1048576.0,
        stats.cache.evictions,
        hit_rate
    );
    assert_eq!(bad, names / 1000);
    assert!(stats.cache.weight <= BOUND);
    assert!(
        stats.cache.evictions > 0,
        "the flood did not reach the bound"
    );
    assert!(peak < BOUND + 32 * 1024 * 1024, "peak RSS {peak} B");
    assert!(hit_rate >= 0.99, "hot set hit rate {hit_rate}");
    d.shutdown();
}
