//! [`CertCache`]: the quick_cache-backed store, its single-flight misses, expiry and counters.

use std::sync::atomic::{
    AtomicU64,
    Ordering::{AcqRel, Acquire, Relaxed},
};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use quick_cache::sync::{Cache, EntryAction, EntryResult};
use quick_cache::Equivalent;
use rustls::pki_types::CertificateDer;
use rustls::sign::CertifiedKey;

use super::entry::{
    entry_for, failure_entry, CountEvictions, Counters, Entry, EntryWeighter, Inner,
};
use super::refresh::Refresher;
use super::{
    CacheConfig, CacheKey, CacheStats, Lookup, MintLatency, Minted, OriginVerdict, Outcome,
};
use crate::clock::{Clock, SystemClock};
use crate::error::{Error, Wait};
use crate::mint::minter::MintedCert;

/// The per-site cache. `Send + Sync`; share it behind an `Arc`.
///
/// Entries live until shortly before their leaf (or its issuer) expires, the total size is
/// bounded ([`CacheConfig::max_weight`](crate::cache::CacheConfig::max_weight)), and concurrent lookups of
/// one key mint once. A [`Deployment`](crate::Deployment) and a [`Resolver`](crate::Resolver)
/// use it for you; direct use looks like this:
///
/// ```
/// use std::sync::Arc;
/// use certmint::cache::{CacheConfig, CacheKey};
/// use certmint::{keys::KeyPool, mint::MintPolicy, testing::ThrowawayCa};
/// use certmint::{CertCache, Host, KeyAlgorithm, MintRequest, Minter};
///
/// let ca = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256)?;
/// let minter = Minter::new(Arc::new(ca.issuer()?), Arc::new(KeyPool::inline()), MintPolicy::default());
/// let cache = CertCache::new(CacheConfig::default());
/// let key = CacheKey::new(
///     *minter.issuer_id(),
///     None, // no origin: a host-only leaf
///     Some(Host::parse("www.example.com")?),
///     KeyAlgorithm::EcdsaP256,
/// );
/// let mint = || minter.mint(&MintRequest::for_host("www.example.com"));
/// let first = cache.get_or_mint(&key, mint)?;
/// let again = cache.get_or_mint(&key, mint)?; // a hit: the same chain
/// assert!(Arc::ptr_eq(first.certified_key(), again.certified_key()));
/// assert_eq!((cache.stats().mints, cache.stats().hits), (1, 1));
/// # Ok::<(), certmint::Error>(())
/// ```
pub struct CertCache {
    inner: Arc<Inner>,
    config: CacheConfig,
    counters: Arc<Counters>,
    clock: Arc<dyn Clock>,
    /// The refresh-ahead thread's queue, started with the first refreshable entry.
    refresher: RwLock<Option<Arc<Refresher>>>,
}

impl CertCache {
    /// A cache with `config`, reading the system clock.
    pub fn new(config: CacheConfig) -> Self {
        Self::with_clock(config, Arc::new(SystemClock::new()))
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
            inner: Arc::new(inner),
            config,
            counters,
            clock,
            refresher: RwLock::new(None),
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
            Ok(served) if entry.expires_at > now => {
                self.counters.hits.add(1);
                self.served(&entry, now, || key.clone());
                Some(Arc::clone(&served.certified_key))
            }
            _ => None,
        }
    }

    /// Notes that `entry` was served at `now` and, when it is due for refresh, hands it to the
    /// refresh thread. Never blocks: a busy queue is left for the next hit or the thread's
    /// own scan.
    fn served(&self, entry: &Arc<Entry>, now: u64, key: impl FnOnce() -> CacheKey) {
        if !entry.refresh.served(now) {
            return;
        }
        if let Ok(refresher) = self.refresher.try_read() {
            if let Some(refresher) = refresher.as_ref() {
                refresher.offer(key, entry);
            }
        }
    }

    /// Starts the refresh thread, once.
    fn start_refresher(&self) {
        if self.refresher.read().map(|r| r.is_some()).unwrap_or(true) {
            return;
        }
        let mut slot = self.refresher.write().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            *slot = Some(Refresher::start(self.refresh_context()));
        }
    }

    fn refresh_context(&self) -> super::refresh::Context {
        super::refresh::Context {
            inner: Arc::downgrade(&self.inner),
            counters: Arc::clone(&self.counters),
            config: self.config.clone(),
            clock: Arc::clone(&self.clock),
        }
    }

    /// In a child process after `fork()`: the refresh thread does not exist there; a new one
    /// starts if the parent had one (entries queued in the parent are found by its scan).
    pub(crate) fn after_fork_child(&self) {
        let mut slot = self.refresher.write().unwrap_or_else(|e| e.into_inner());
        if slot.is_some() {
            *slot = Some(Refresher::start(self.refresh_context()));
        }
    }

    /// The entry for `key`, minting it with `mint` when absent or expired. Concurrent calls for
    /// one key run `mint` once; the others wait for its result, at most
    /// [`CacheConfig::wait_timeout`], then give up with [`Error::Timeout`].
    ///
    /// A failed mint's error is returned to this caller, to the waiters and to later callers
    /// until [`CacheConfig::failure_lifetime`] has passed: the same root cause each time.
    pub fn get_or_mint(
        &self,
        key: &CacheKey,
        mint: impl FnOnce() -> Result<MintedCert, Error>,
    ) -> Result<Lookup, Error> {
        self.get_or_mint_with(
            key,
            || key.clone(),
            || {
                mint().map(|cert| Minted {
                    cert,
                    verdict: OriginVerdict::NotChecked,
                    remint: None,
                })
            },
        )
    }

    /// As [`CertCache::get_or_mint`], looking up by a borrowed key, building the owned key
    /// only on a miss, and storing the origin verdict with the entry.
    pub(crate) fn get_or_mint_with<Q: std::hash::Hash + Equivalent<CacheKey>>(
        &self,
        key: &Q,
        owned_key: impl FnOnce() -> CacheKey,
        mint: impl FnOnce() -> Result<Minted, Error>,
    ) -> Result<Lookup, Error> {
        let now = self.clock.now().as_secs();
        // Fast path: a read lock.
        if let Some(entry) = self.inner.get(key) {
            if entry.expires_at > now {
                self.served(&entry, now, owned_key);
                return self.answer(&entry, Outcome::Hit);
            }
        }
        let sequence_before = self.counters.sequence.load(Relaxed);
        let generation = self.counters.generation.load(Acquire);
        let key = owned_key();
        let wait = self.config.wait_timeout;
        let result = self.inner.entry(&key, Some(wait), |_, entry| {
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
            EntryResult::Timeout => {
                self.counters.wait_timeouts.fetch_add(1, Relaxed);
                log::warn!(
                    "gave up after {} ms waiting for another thread's mint of the same site",
                    wait.as_millis()
                );
                return Err(Error::Timeout {
                    what: Wait::ConcurrentMint,
                    waited: wait,
                });
            }
            // Not produced by this callback; mint uncached.
            EntryResult::Removed(..) => {
                let entry = self.mint_entry(mint, now, generation);
                return self.finish(entry);
            }
        };
        self.counters.misses.fetch_add(1, Relaxed);
        let entry = self.mint_entry(mint, now, generation);
        if entry.0.refresh.refreshable() {
            self.start_refresher();
        }
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

    /// Runs `mint` and wraps its outcome as an entry; one that a purge overtook (the cache's
    /// generation is no longer `generation`) is born expired: its callers get it, later
    /// lookups mint again.
    fn mint_entry(
        &self,
        mint: impl FnOnce() -> Result<Minted, Error>,
        now: u64,
        generation: u64,
    ) -> (Arc<Entry>, Duration) {
        let started = Instant::now();
        let result = mint();
        let took = started.elapsed();
        let overtaken = self.counters.generation.load(Acquire) != generation;
        let entry = match result {
            Ok(minted) => entry_for(&self.config, &self.counters, minted, took, now, overtaken),
            Err(e) => failure_entry(&self.config, &self.counters, e, now, overtaken),
        };
        (Arc::new(entry), took)
    }

    fn finish(&self, (entry, took): (Arc<Entry>, Duration)) -> Result<Lookup, Error> {
        entry.lookup(Outcome::Minted, Some(took))
    }

    /// Removes every entry for which `keep` returns false (for example, every leaf of an issuer
    /// that was disabled).
    pub fn retain(&self, keep: impl Fn(&CacheKey) -> bool) {
        self.inner.retain(|key, _| keep(key));
    }

    /// Keeps the entries for which `keep(key, verdict)` is true (`verdict` is `None` for a
    /// remembered failure) and returns how many were removed. A mint under way keeps its
    /// result only if it began after this call: whatever this purge removes cannot come back
    /// from a lookup that started before it.
    pub(crate) fn retain_served(
        &self,
        keep: impl Fn(&CacheKey, Option<OriginVerdict>) -> bool,
    ) -> u64 {
        self.counters.generation.fetch_add(1, AcqRel);
        let removed = AtomicU64::new(0);
        self.inner.retain(|key, entry| {
            let kept = keep(
                key,
                entry.outcome.as_ref().ok().map(|served| served.verdict),
            );
            if !kept {
                removed.fetch_add(1, Relaxed);
            }
            kept
        });
        removed.into_inner()
    }

    /// Removes every entry whose served chain contains one of `issuers` (the leaves a revoked
    /// sub-CA signed).
    pub fn evict_issued_by(&self, issuers: &[CertificateDer<'_>]) {
        if issuers.is_empty() {
            return;
        }
        self.inner.retain(|_, entry| match &entry.outcome {
            Ok(served) => !served
                .certified_key
                .cert
                .iter()
                .skip(1)
                .any(|c| issuers.iter().any(|i| i.as_ref() == c.as_ref())),
            Err(_) => true,
        });
    }

    /// Mint latencies: how many mints fell in each of
    /// [`MINT_LATENCY_BUCKETS`](super::MINT_LATENCY_BUCKETS) (and above), and their total time.
    pub fn mint_latency(&self) -> MintLatency {
        let c = &self.counters;
        MintLatency {
            counts: std::array::from_fn(|i| c.mint_buckets[i].load(Relaxed)),
            total: Duration::from_nanos(c.mint_total_ns.load(Relaxed)),
        }
    }

    /// Failed mints by the kind of error ([`Error::kind_name`]), in the order first seen.
    pub fn mint_errors_by_kind(&self) -> Vec<(&'static str, u64)> {
        self.counters
            .errors_by_kind
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
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
            wait_timeouts: c.wait_timeouts.load(Relaxed),
            refreshes: c.refreshes.load(Relaxed),
            refresh_errors: c.refresh_errors.load(Relaxed),
            refresh_pending: self
                .refresher
                .try_read()
                .ok()
                .and_then(|r| r.as_ref().map(|r| r.pending()))
                .unwrap_or(0),
            mint_min: Duration::from_nanos(c.mint_min_ns.load(Relaxed)),
            mint_avg: Duration::from_nanos(
                c.mint_total_ns
                    .load(Relaxed)
                    .checked_div(mints)
                    .unwrap_or(0),
            ),
            mint_max: Duration::from_nanos(c.mint_max_ns.load(Relaxed)),
            entries: self.inner.len() as u64,
            weight: self.inner.weight(),
        }
    }
}

impl Drop for CertCache {
    fn drop(&mut self) {
        // Never blocks: the thread sees the stop (or that the cache is gone) and exits.
        if let Some(refresher) = self
            .refresher
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            refresher.stop();
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
