//! [`CertCache`]: minted chains per site, kept until they expire, minted once per site even
//! under concurrent handshakes, bounded in memory by weight.
//!
//! - **Key** ([`CacheKey`]): the issuer's identity (SHA-256 of its certificate), the origin's
//!   fingerprint (SHA-256 of its DER, or none for host-only mints), the normalised host whenever
//!   it shapes the leaf, and the leaf key algorithm. An origin that rotates its certificate gets
//!   a fresh mint; a different issuer never gets another issuer's leaf.
//! - **Expiry:** min(leaf notAfter, issuer notAfter) minus [`CacheConfig::expiry_margin`]. A
//!   leaf already inside the margin (a dying or dead origin) is kept for
//!   [`CacheConfig::min_lifetime`] so it cannot make every handshake mint. An expired entry is
//!   never served: the lookup that finds it re-mints, and concurrent lookups wait for that mint.
//! - **Single flight:** concurrent misses for one key mint once; the others wait and share the
//!   result. A failed mint is remembered for [`CacheConfig::failure_lifetime`] and returned to
//!   the waiters and to later lookups in that window.
//! - **Bound:** total weight (bytes of chain + key + a fixed overhead) never exceeds
//!   [`CacheConfig::max_weight`]; quick_cache evicts (S3-FIFO) to stay under it.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use quick_cache::sync::{Cache, EntryAction, EntryResult};
use quick_cache::{Equivalent, Lifecycle, Weighter};
use rustls::sign::CertifiedKey;

use crate::clock::{Clock, SystemClock};
use crate::error::Error;
use crate::host::{Host, HostRef};
use crate::key::KeyAlgorithm;
use crate::mint::MintedCert;

/// Bytes counted per entry on top of its chain and key: the parsed key object, the entry
/// itself and the cache's bookkeeping.
pub const ENTRY_OVERHEAD: u64 = 1024;

/// Cache settings. `Default` gives the documented defaults.
#[derive(Clone, Debug)]
pub struct CacheConfig {
    /// Upper bound on the total weight (default 64 MiB).
    pub max_weight: u64,
    /// Expected number of entries, for sizing (default 16,384).
    pub estimated_entries: usize,
    /// Entries expire this long before min(leaf notAfter, issuer notAfter) (default 1 hour).
    pub expiry_margin: Duration,
    /// The shortest time an entry is kept, for leaves already inside the margin (default 5
    /// minutes).
    pub min_lifetime: Duration,
    /// How long a failed mint is remembered (default 10 s).
    pub failure_lifetime: Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            max_weight: 64 * 1024 * 1024,
            estimated_entries: 16_384,
            expiry_margin: Duration::from_secs(3600),
            min_lifetime: Duration::from_secs(300),
            failure_lifetime: Duration::from_secs(10),
        }
    }
}

/// What a cached leaf is keyed by.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CacheKey {
    /// SHA-256 of the issuing certificate.
    pub issuer: [u8; 32],
    /// SHA-256 of the origin certificate, for clones.
    pub origin: Option<[u8; 32]>,
    /// The host, whenever it shapes the leaf.
    pub host: Option<Host>,
    /// The leaf key's algorithm.
    pub key_algorithm: KeyAlgorithm,
}

/// A borrowed [`CacheKey`]: hit-path lookups allocate nothing. Hashes exactly as the owned
/// key does (same fields, same order, `Host` and `HostRef` hash alike).
#[derive(Hash)]
pub(crate) struct CacheKeyRef<'a> {
    pub(crate) issuer: &'a [u8; 32],
    pub(crate) origin: Option<&'a [u8; 32]>,
    pub(crate) host: Option<&'a HostRef<'a>>,
    pub(crate) key_algorithm: KeyAlgorithm,
}

impl CacheKeyRef<'_> {
    pub(crate) fn to_key(&self) -> CacheKey {
        CacheKey {
            issuer: *self.issuer,
            origin: self.origin.copied(),
            host: self.host.map(|h| h.clone().into_owned()),
            key_algorithm: self.key_algorithm,
        }
    }
}

impl Equivalent<CacheKey> for CacheKeyRef<'_> {
    fn equivalent(&self, key: &CacheKey) -> bool {
        self.key_algorithm == key.key_algorithm
            && *self.issuer == key.issuer
            && self.origin == key.origin.as_ref()
            && match (self.host, &key.host) {
                (None, None) => true,
                (Some(a), Some(b)) => a.matches(b),
                _ => false,
            }
    }
}

/// How a lookup was answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A fresh entry was in the cache.
    Hit,
    /// This lookup minted (the key was absent, or its entry had expired).
    Minted,
    /// Another lookup was minting this key; this one waited for its result.
    Coalesced,
}

/// A served chain and how it was found.
#[derive(Clone, Debug)]
pub struct Lookup {
    /// The chain and key for rustls.
    pub certified_key: Arc<CertifiedKey>,
    /// Hit, minted or coalesced.
    pub outcome: Outcome,
    /// Time spent minting, when this lookup minted.
    pub mint_time: Option<Duration>,
}

/// Counters, read cheaply at any time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Lookups answered by a fresh entry.
    pub hits: u64,
    /// Lookups that found no usable entry (absent or expired) and minted.
    pub misses: u64,
    /// Successful mints.
    pub mints: u64,
    /// Lookups that waited for another lookup's mint.
    pub coalesced: u64,
    /// Entries found expired (and replaced).
    pub expirations: u64,
    /// Entries evicted to stay under the weight bound.
    pub evictions: u64,
    /// Failed mints.
    pub mint_errors: u64,
    /// Lookups answered by a remembered failure.
    pub cached_failures: u64,
    /// Fastest mint, in nanoseconds (0 before the first).
    pub mint_min_ns: u64,
    /// Mean mint time, in nanoseconds.
    pub mint_avg_ns: u64,
    /// Slowest mint, in nanoseconds.
    pub mint_max_ns: u64,
    /// Entries now.
    pub entries: u64,
    /// Weight now.
    pub weight: u64,
}

/// A counter split across cache lines, so threads counting hits at once do not contend on one
/// line; read by summing.
#[derive(Debug, Default)]
struct StripedCounter {
    stripes: [PaddedU64; 16],
}

#[derive(Debug, Default)]
#[repr(align(128))]
struct PaddedU64(AtomicU64);

impl StripedCounter {
    fn add(&self, n: u64) {
        thread_local! {
            static STRIPE: usize = {
                static NEXT: AtomicU64 = AtomicU64::new(0);
                NEXT.fetch_add(1, Relaxed) as usize % 16
            };
        }
        let stripe = STRIPE.with(|s| *s);
        self.stripes[stripe].0.fetch_add(n, Relaxed);
    }

    fn load(&self) -> u64 {
        self.stripes.iter().map(|s| s.0.load(Relaxed)).sum()
    }
}

#[derive(Debug, Default)]
struct Counters {
    hits: StripedCounter,
    misses: AtomicU64,
    mints: AtomicU64,
    coalesced: AtomicU64,
    expirations: AtomicU64,
    evictions: AtomicU64,
    mint_errors: AtomicU64,
    cached_failures: AtomicU64,
    mint_total_ns: AtomicU64,
    mint_min_ns: AtomicU64,
    mint_max_ns: AtomicU64,
    /// Incremented for every entry inserted; lets a lookup tell whether it waited.
    sequence: AtomicU64,
}

/// One cached outcome.
#[derive(Debug)]
struct Entry {
    outcome: Result<Arc<CertifiedKey>, Arc<Error>>,
    /// Unix seconds after which the entry is not served.
    expires_at: u64,
    weight: u64,
    sequence: u64,
}

impl Entry {
    /// The chain (or the remembered failure) as a lookup's answer.
    fn lookup(&self, outcome: Outcome, mint_time: Option<Duration>) -> Result<Lookup, Error> {
        match &self.outcome {
            Ok(ck) => Ok(Lookup {
                certified_key: Arc::clone(ck),
                outcome,
                mint_time,
            }),
            Err(e) => Err(Error::MintFailed(Arc::clone(e))),
        }
    }
}

#[derive(Clone)]
struct EntryWeighter;

impl Weighter<CacheKey, Arc<Entry>> for EntryWeighter {
    fn weight(&self, _key: &CacheKey, value: &Arc<Entry>) -> u64 {
        value.weight
    }
}

#[derive(Clone)]
struct CountEvictions(Arc<Counters>);

impl Lifecycle<CacheKey, Arc<Entry>> for CountEvictions {
    type RequestState = ();

    fn on_evict(&self, _state: &mut (), _key: CacheKey, _value: Arc<Entry>) {
        self.0.evictions.fetch_add(1, Relaxed);
    }
}

type Inner =
    Cache<CacheKey, Arc<Entry>, EntryWeighter, quick_cache::DefaultHashBuilder, CountEvictions>;

/// The per-site cache. `Send + Sync`; share it behind an `Arc`.
pub struct CertCache {
    inner: Inner,
    config: CacheConfig,
    counters: Arc<Counters>,
    clock: Arc<dyn Clock>,
}

impl CertCache {
    /// A cache with `config`, reading the system clock.
    pub fn new(config: CacheConfig) -> Self {
        Self::with_clock(config, Arc::new(SystemClock))
    }

    /// A cache reading `clock`.
    pub fn with_clock(config: CacheConfig, clock: Arc<dyn Clock>) -> Self {
        let counters = Arc::new(Counters::default());
        let inner = Cache::with(
            config.estimated_entries,
            config.max_weight,
            EntryWeighter,
            quick_cache::DefaultHashBuilder::default(),
            CountEvictions(Arc::clone(&counters)),
        );
        Self {
            inner,
            config,
            counters,
            clock,
        }
    }

    /// The clock this cache reads.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The settings.
    pub fn config(&self) -> &CacheConfig {
        &self.config
    }

    /// A fresh entry for `key`, without minting. Counts a hit when found.
    pub fn get(&self, key: &CacheKey) -> Option<Arc<CertifiedKey>> {
        let now = self.clock.now().as_secs();
        let entry = self.inner.get(key)?;
        match &entry.outcome {
            Ok(ck) if entry.expires_at > now => {
                self.counters.hits.add(1);
                Some(Arc::clone(ck))
            }
            _ => None,
        }
    }

    /// The entry for `key`, minting it with `mint` when absent or expired. Concurrent calls for
    /// one key run `mint` once; the others wait for its result.
    ///
    /// A failed mint is returned as [`Error::MintFailed`] to this caller, to the waiters and to
    /// later callers until [`CacheConfig::failure_lifetime`] has passed.
    pub fn get_or_mint(
        &self,
        key: &CacheKey,
        mint: impl FnOnce() -> Result<MintedCert, Error>,
    ) -> Result<Lookup, Error> {
        self.get_or_mint_with(key, || key.clone(), mint)
    }

    /// As [`CertCache::get_or_mint`], looking up by a borrowed key and building the owned key
    /// only on a miss.
    pub(crate) fn get_or_mint_with<Q: std::hash::Hash + Equivalent<CacheKey>>(
        &self,
        key: &Q,
        owned_key: impl FnOnce() -> CacheKey,
        mint: impl FnOnce() -> Result<MintedCert, Error>,
    ) -> Result<Lookup, Error> {
        let now = self.clock.now().as_secs();
        // Fast path: a read lock.
        if let Some(entry) = self.inner.get(key) {
            if entry.expires_at > now {
                return self.answer(&entry, Outcome::Hit);
            }
        }
        let sequence_before = self.counters.sequence.load(Relaxed);
        let key = owned_key();
        let result = self.inner.entry(&key, None, |_, entry| {
            if entry.expires_at > now {
                EntryAction::Retain(Arc::clone(entry))
            } else {
                EntryAction::ReplaceWithGuard
            }
        });
        let guard = match result {
            EntryResult::Retained(entry) => {
                let outcome = if entry.sequence > sequence_before {
                    Outcome::Coalesced
                } else {
                    Outcome::Hit
                };
                return self.answer(&entry, outcome);
            }
            EntryResult::Replaced(guard, _) => {
                self.counters.expirations.fetch_add(1, Relaxed);
                guard
            }
            EntryResult::Vacant(guard) => guard,
            // Not produced by this callback or without a timeout; mint uncached.
            EntryResult::Removed(..) | EntryResult::Timeout => {
                let entry = self.mint_entry(mint, now);
                return self.finish(entry);
            }
        };
        self.counters.misses.fetch_add(1, Relaxed);
        let entry = self.mint_entry(mint, now);
        let _ = guard.insert(Arc::clone(&entry.0));
        self.finish(entry)
    }

    /// Counts a lookup answered from the cache, and answers it.
    fn answer(&self, entry: &Entry, outcome: Outcome) -> Result<Lookup, Error> {
        let counter = match (&entry.outcome, outcome) {
            (Err(_), _) => &self.counters.cached_failures,
            (Ok(_), Outcome::Coalesced) => &self.counters.coalesced,
            (Ok(_), _) => {
                self.counters.hits.add(1);
                return entry.lookup(outcome, None);
            }
        };
        counter.fetch_add(1, Relaxed);
        entry.lookup(outcome, None)
    }

    /// Runs `mint` and wraps its outcome as an entry.
    fn mint_entry(
        &self,
        mint: impl FnOnce() -> Result<MintedCert, Error>,
        now: u64,
    ) -> (Arc<Entry>, Duration) {
        let started = Instant::now();
        let result = mint();
        let took = started.elapsed();
        let sequence = self.counters.sequence.fetch_add(1, Relaxed) + 1;
        let entry = match result {
            Ok(minted) => {
                self.record_mint(took);
                let not_after = minted
                    .not_after()
                    .as_secs()
                    .min(minted.issuer_not_after().as_secs());
                let expires_at = not_after
                    .saturating_sub(self.config.expiry_margin.as_secs())
                    .max(now + self.config.min_lifetime.as_secs());
                let certified_key = minted.certified_key();
                let weight = certified_key
                    .cert
                    .iter()
                    .map(|c| c.len() as u64)
                    .sum::<u64>()
                    + minted.private_key_pkcs8().secret_pkcs8_der().len() as u64
                    + ENTRY_OVERHEAD;
                Entry {
                    outcome: Ok(Arc::new(certified_key)),
                    expires_at,
                    weight,
                    sequence,
                }
            }
            Err(e) => {
                self.counters.mint_errors.fetch_add(1, Relaxed);
                Entry {
                    outcome: Err(Arc::new(e)),
                    expires_at: now + self.config.failure_lifetime.as_secs().max(1),
                    weight: ENTRY_OVERHEAD,
                    sequence,
                }
            }
        };
        (Arc::new(entry), took)
    }

    fn finish(&self, (entry, took): (Arc<Entry>, Duration)) -> Result<Lookup, Error> {
        entry.lookup(Outcome::Minted, Some(took))
    }

    fn record_mint(&self, took: Duration) {
        let ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX).max(1);
        let c = &self.counters;
        c.mints.fetch_add(1, Relaxed);
        c.mint_total_ns.fetch_add(ns, Relaxed);
        c.mint_max_ns.fetch_max(ns, Relaxed);
        // 0 means "no mint yet".
        let _ = c
            .mint_min_ns
            .fetch_update(Relaxed, Relaxed, |min| (min == 0 || ns < min).then_some(ns));
    }

    /// Removes every entry for which `keep` returns false (for example, every leaf of an issuer
    /// that was disabled).
    pub fn retain(&self, keep: impl Fn(&CacheKey) -> bool) {
        self.inner.retain(|key, _| keep(key));
    }

    /// The counters.
    pub fn stats(&self) -> CacheStats {
        let c = &self.counters;
        let mints = c.mints.load(Relaxed);
        CacheStats {
            hits: c.hits.load(),
            misses: c.misses.load(Relaxed),
            mints,
            coalesced: c.coalesced.load(Relaxed),
            expirations: c.expirations.load(Relaxed),
            evictions: c.evictions.load(Relaxed),
            mint_errors: c.mint_errors.load(Relaxed),
            cached_failures: c.cached_failures.load(Relaxed),
            mint_min_ns: c.mint_min_ns.load(Relaxed),
            mint_avg_ns: c
                .mint_total_ns
                .load(Relaxed)
                .checked_div(mints)
                .unwrap_or(0),
            mint_max_ns: c.mint_max_ns.load(Relaxed),
            entries: self.inner.len() as u64,
            weight: self.inner.weight(),
        }
    }
}

impl Default for CertCache {
    fn default() -> Self {
        Self::new(CacheConfig::default())
    }
}

impl std::fmt::Debug for CertCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertCache")
            .field("config", &self.config)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}
