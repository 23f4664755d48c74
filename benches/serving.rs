//! The serving path, each group with its baseline in the same process:
//! - `lookup_hit`: a cache hit through the resolver's public lookup (keyed by host) vs a raw
//!   `quick_cache` get of a key of the same type;
//! - `lookup_miss`: a lookup that mints vs one raw signature with the CA key;
//! - `lookup_hit_threads`: hit throughput on 1 and 2 threads, distinct keys per thread;
//! - `handshake`: a full in-memory TLS 1.3 handshake through the resolver, hot (served from the
//!   cache) and cold (a distinct SNI each time: a mint per handshake), vs the same handshake
//!   with a static `CertifiedKey`;
//! - `name_flood`: a distinct-name lookup (a mint, the cache at its bound, so each one evicts)
//!   followed by a lookup of one of 100 hot hosts, vs a hot lookup alone;
//! - `mass_expiry`: a lookup of one of 100 hot hosts while 10,000 served entries are due for
//!   refresh at once (the refresh thread working through them at its default cap of 50 a
//!   second), vs the same lookup before they were due.
//!
//! Run: `cargo bench --bench serving`

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use certmint::rustls::pki_types::ServerName;
use certmint::rustls::sign::SingleCertAndKey;
use certmint::rustls::{self, ClientConfig, RootCertStore, ServerConfig};
use certmint::{
    cache::CacheKey, keys::KeyPool, mint::MintPolicy, testing::ThrowawayCa, CertCache, Host,
    KeyAlgorithm, Minter, Resolver,
};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn setup() -> (ThrowawayCa, Resolver) {
    let ca = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let minter = Minter::new(
        Arc::new(ca.issuer().unwrap()),
        Arc::new(KeyPool::default()),
        MintPolicy::default(),
    );
    let resolver = Resolver::new(Arc::new(minter), Arc::new(CertCache::default()));
    (ca, resolver)
}

fn lookup_hit(c: &mut Criterion) {
    let (_ca, resolver) = setup();
    resolver
        .lookup_host("www.hit.example", KeyAlgorithm::EcdsaP256)
        .unwrap();
    let raw: quick_cache::sync::Cache<CacheKey, Arc<u64>> = quick_cache::sync::Cache::new(1024);
    let key = CacheKey::new(
        [7; 32],
        None,
        Some(Host::parse("www.hit.example").unwrap()),
        KeyAlgorithm::EcdsaP256,
    );
    raw.insert(key.clone(), Arc::new(1));
    let mut g = c.benchmark_group("lookup_hit");
    g.bench_function("baseline_quick_cache_get", |b| {
        b.iter(|| raw.get(std::hint::black_box(&key)).unwrap())
    });
    g.bench_function("resolver_lookup_host", |b| {
        b.iter(|| {
            resolver
                .lookup_host(
                    std::hint::black_box("www.hit.example"),
                    KeyAlgorithm::EcdsaP256,
                )
                .unwrap()
        })
    });
    g.finish();
}

fn lookup_miss(c: &mut Criterion) {
    let (_ca, resolver) = setup();
    let signer = Arc::clone(resolver.minter().unwrap().issuer().unwrap().signer());
    let sample = resolver
        .lookup_host("sample.miss.example", KeyAlgorithm::EcdsaP256)
        .unwrap();
    let tbs_len = sample.certified_key().cert[0].len() - 80;
    let tbs = vec![0x5a; tbs_len];
    let counter = AtomicU64::new(0);
    let mut g = c.benchmark_group("lookup_miss");
    g.bench_function("baseline_raw_signature", |b| {
        b.iter(|| signer.sign(std::hint::black_box(&tbs)).unwrap())
    });
    g.bench_function("resolver_lookup_host_new", |b| {
        b.iter(|| {
            let n = counter.fetch_add(1, Ordering::Relaxed);
            resolver
                .lookup_host(&format!("h{n}.miss.example"), KeyAlgorithm::EcdsaP256)
                .unwrap()
        })
    });
    g.finish();
}

fn lookup_hit_threads(c: &mut Criterion) {
    let (_ca, resolver) = setup();
    let resolver = Arc::new(resolver);
    let hosts: Vec<String> = (0..2).map(|t| format!("t{t}.threads.example")).collect();
    for h in &hosts {
        resolver.lookup_host(h, KeyAlgorithm::EcdsaP256).unwrap();
    }
    let mut g = c.benchmark_group("lookup_hit_threads");
    for threads in [1usize, 2] {
        g.throughput(Throughput::Elements(threads as u64));
        g.bench_function(format!("{threads}_thread"), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                std::thread::scope(|s| {
                    for host in hosts.iter().take(threads) {
                        let resolver = &resolver;
                        s.spawn(move || {
                            for _ in 0..iters {
                                resolver.lookup_host(host, KeyAlgorithm::EcdsaP256).unwrap();
                            }
                        });
                    }
                });
                start.elapsed()
            })
        });
    }
    g.finish();
}

fn handshake_once(client: &Arc<ClientConfig>, server: &Arc<ServerConfig>, name: &str) {
    let mut c = rustls::ClientConnection::new(
        Arc::clone(client),
        ServerName::try_from(name.to_owned()).unwrap(),
    )
    .unwrap();
    let mut s = rustls::ServerConnection::new(Arc::clone(server)).unwrap();
    let mut buf = Vec::with_capacity(8192);
    while c.is_handshaking() || s.is_handshaking() {
        buf.clear();
        while c.wants_write() {
            c.write_tls(&mut buf).unwrap();
        }
        if !buf.is_empty() {
            s.read_tls(&mut &buf[..]).unwrap();
            s.process_new_packets().unwrap();
        }
        buf.clear();
        while s.wants_write() {
            s.write_tls(&mut buf).unwrap();
        }
        if !buf.is_empty() {
            c.read_tls(&mut &buf[..]).unwrap();
            c.process_new_packets().unwrap();
        }
    }
}

fn handshake(c: &mut Criterion) {
    let (ca, resolver) = setup();
    let lookup = resolver
        .lookup_host("www.hs.example", KeyAlgorithm::EcdsaP256)
        .unwrap();
    let provider = certmint::crypto_provider();
    let server = |r: Arc<dyn rustls::server::ResolvesServerCert>| {
        let mut cfg = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_no_client_auth()
            .with_cert_resolver(r);
        cfg.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
        cfg.send_tls13_tickets = 0;
        Arc::new(cfg)
    };
    let static_server = server(Arc::new(SingleCertAndKey::from(Arc::clone(
        lookup.certified_key(),
    ))));
    let cached_server = server(Arc::new(resolver));
    let mut roots = RootCertStore::empty();
    roots.add(ca.root.clone()).unwrap();
    let mut client = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    client.resumption = rustls::client::Resumption::disabled();
    let client = Arc::new(client);
    let mut g = c.benchmark_group("handshake");
    g.measurement_time(Duration::from_secs(10));
    // The static and cached handshakes alternate inside each measurement (only one of the pair
    // is timed), so both see the same machine: on this shared VM, runs minutes apart differ by
    // more than the 5% the comparison is about.
    let paired = |timed: &Arc<ServerConfig>, other: &Arc<ServerConfig>, iters: u64| {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            handshake_once(&client, other, "www.hs.example");
            let start = Instant::now();
            handshake_once(&client, timed, "www.hs.example");
            total += start.elapsed();
        }
        total
    };
    g.bench_function("baseline_static_certified_key", |b| {
        b.iter_custom(|iters| paired(&static_server, &cached_server, iters))
    });
    g.bench_function("served_from_cache", |b| {
        b.iter_custom(|iters| paired(&cached_server, &static_server, iters))
    });
    let next = AtomicU64::new(0);
    g.bench_function("cold_distinct_sni", |b| {
        b.iter(|| {
            let n = next.fetch_add(1, Ordering::Relaxed);
            handshake_once(&client, &cached_server, &format!("c{n}.cold.example"))
        })
    });
    g.finish();
}

fn name_flood(c: &mut Criterion) {
    let ca = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let minter = Minter::new(
        Arc::new(ca.issuer().unwrap()),
        Arc::new(KeyPool::default()),
        MintPolicy::default(),
    );
    let mut config = certmint::cache::CacheConfig::default();
    config.max_weight = 4 * 1024 * 1024;
    let resolver = Resolver::new(Arc::new(minter), Arc::new(CertCache::new(config)));
    let hot: Vec<String> = (0..100).map(|n| format!("hot{n}.example")).collect();
    // Fill the cache to its bound first, so every flood name evicts.
    for n in 0..3000 {
        resolver
            .lookup_host(&format!("fill{n}.flood.example"), KeyAlgorithm::EcdsaP256)
            .unwrap();
    }
    let next = AtomicU64::new(0);
    let mut g = c.benchmark_group("name_flood");
    g.bench_function("baseline_hot_lookup", |b| {
        b.iter(|| {
            let n = next.fetch_add(1, Ordering::Relaxed) as usize;
            resolver
                .lookup_host(&hot[n % 100], KeyAlgorithm::EcdsaP256)
                .unwrap()
        })
    });
    // Only the hot lookup is timed; a distinct name is minted (and one entry evicted) before
    // each.
    g.bench_function("hot_lookup_between_flood_names", |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            for _ in 0..iters {
                let n = next.fetch_add(1, Ordering::Relaxed);
                resolver
                    .lookup_host(&format!("n{n}.flood.example"), KeyAlgorithm::EcdsaP256)
                    .unwrap();
                let start = Instant::now();
                let hit = resolver
                    .lookup_host(&hot[n as usize % 100], KeyAlgorithm::EcdsaP256)
                    .unwrap();
                timed += start.elapsed();
                std::hint::black_box(hit);
            }
            timed
        })
    });
    g.bench_function("distinct_name_then_hot_lookup", |b| {
        b.iter(|| {
            let n = next.fetch_add(1, Ordering::Relaxed);
            resolver
                .lookup_host(&format!("n{n}.flood.example"), KeyAlgorithm::EcdsaP256)
                .unwrap();
            resolver
                .lookup_host(&hot[n as usize % 100], KeyAlgorithm::EcdsaP256)
                .unwrap()
        })
    });
    g.finish();
    let stats = resolver.cache().stats();
    eprintln!(
        "name_flood: {} entries, {:.1} MiB of {} MiB, {} evictions",
        stats.entries,
        stats.weight as f64 / 1048576.0,
        4,
        stats.evictions
    );
}

fn mass_expiry(c: &mut Criterion) {
    use certmint::clock::ManualClock;
    let ca = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let minter = Minter::new(
        Arc::new(ca.issuer().unwrap()),
        Arc::new(KeyPool::default()),
        MintPolicy::default(),
    );
    let clock = Arc::new(ManualClock::starting_now());
    let cache = CertCache::with_clock(
        certmint::cache::CacheConfig::default(),
        Arc::clone(&clock) as _,
    );
    let resolver = Resolver::new(Arc::new(minter), Arc::new(cache));
    let hot: Vec<String> = (0..100).map(|n| format!("hot{n}.example")).collect();
    let many: Vec<String> = (0..10_000)
        .map(|n| format!("m{n}.expiry.example"))
        .collect();
    for host in hot.iter().chain(&many) {
        resolver.lookup_host(host, KeyAlgorithm::EcdsaP256).unwrap();
    }
    let next = AtomicU64::new(0);
    let hot_lookup = || {
        let n = next.fetch_add(1, Ordering::Relaxed) as usize;
        resolver
            .lookup_host(&hot[n % 100], KeyAlgorithm::EcdsaP256)
            .unwrap()
    };
    let mut g = c.benchmark_group("mass_expiry");
    g.bench_function("baseline_hot_lookup_nothing_due", |b| b.iter(hot_lookup));
    // Host-only leaves live 30 days, entries expire an hour earlier, refresh is due 10 minutes
    // before that: move to 5 minutes before expiry and serve all 10,000 once (they are due).
    clock.advance(Duration::from_secs(30 * 86_400 - 3600 - 300));
    for host in &many {
        resolver.lookup_host(host, KeyAlgorithm::EcdsaP256).unwrap();
    }
    let before = resolver.cache().stats();
    let started = Instant::now();
    g.bench_function("hot_lookup_10000_due", |b| b.iter(hot_lookup));
    g.finish();
    let after = resolver.cache().stats();
    eprintln!(
        "mass_expiry: {} refreshes in {:.1} s while measuring ({} still pending), {} misses",
        after.refreshes - before.refreshes,
        started.elapsed().as_secs_f64(),
        after.refresh_pending,
        after.misses - before.misses,
    );
}

criterion_group!(
    benches,
    lookup_hit,
    lookup_miss,
    lookup_hit_threads,
    handshake,
    name_flood,
    mass_expiry
);
criterion_main!(benches);
