//! What the cache stores: an [`Entry`] per key (the served chain or a remembered failure, its
//! expiry and its refresh bookkeeping), the counters, and how a mint becomes an entry.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use quick_cache::sync::Cache;
use quick_cache::{Lifecycle, Weighter};

use super::{
    CacheConfig, CacheKey, Lookup, Minted, Outcome, Remint, Served, ENTRY_OVERHEAD,
    MINT_LATENCY_BUCKETS,
};
use crate::error::Error;

/// A counter split across cache lines, so threads counting hits at once do not contend on one
/// line; read by summing.
#[derive(Debug, Default)]
pub(super) struct StripedCounter {
    stripes: [PaddedU64; 16],
}

#[derive(Debug, Default)]
#[repr(align(128))]
struct PaddedU64(AtomicU64);

impl StripedCounter {
    pub(super) fn add(&self, n: u64) {
        thread_local! {
            static STRIPE: usize = {
                static NEXT: AtomicU64 = AtomicU64::new(0);
                NEXT.fetch_add(1, Relaxed) as usize % 16
            };
        }
        let stripe = STRIPE.with(|s| *s);
        self.stripes[stripe].0.fetch_add(n, Relaxed);
    }

    pub(super) fn load(&self) -> u64 {
        self.stripes.iter().map(|s| s.0.load(Relaxed)).sum()
    }
}

#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) hits: StripedCounter,
    pub(super) misses: AtomicU64,
    pub(super) mints: AtomicU64,
    pub(super) coalesced: AtomicU64,
    pub(super) expirations: AtomicU64,
    pub(super) evictions: AtomicU64,
    pub(super) mint_errors: AtomicU64,
    pub(super) cached_failures: AtomicU64,
    pub(super) wait_timeouts: AtomicU64,
    pub(super) refreshes: AtomicU64,
    pub(super) refresh_errors: AtomicU64,
    pub(super) mint_total_ns: AtomicU64,
    pub(super) mint_min_ns: AtomicU64,
    pub(super) mint_max_ns: AtomicU64,
    /// Mints per latency bucket ([`MINT_LATENCY_BUCKETS`], then one for slower mints).
    pub(super) mint_buckets: [AtomicU64; MINT_LATENCY_BUCKETS.len() + 1],
    /// Failed mints by [`Error::kind_name`] (rare: a lock is fine).
    pub(super) errors_by_kind: std::sync::Mutex<Vec<(&'static str, u64)>>,
    /// Incremented for every entry inserted; lets a lookup tell whether it waited.
    pub(super) sequence: AtomicU64,
    /// Incremented by every [`CertCache::retain_served`]: a mint that began before it is
    /// handed to its callers but not kept (it may be from the configuration that purge
    /// replaced).
    pub(super) generation: AtomicU64,
}

impl Counters {
    pub(super) fn count_error(&self, error: &Error) {
        self.mint_errors.fetch_add(1, Relaxed);
        let kind = error.kind_name();
        let mut kinds = self
            .errors_by_kind
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match kinds.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += 1,
            None => kinds.push((kind, 1)),
        }
    }

    pub(super) fn record_mint(&self, took: Duration) {
        let ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX).max(1);
        self.mints.fetch_add(1, Relaxed);
        self.mint_total_ns.fetch_add(ns, Relaxed);
        self.mint_max_ns.fetch_max(ns, Relaxed);
        let bucket = MINT_LATENCY_BUCKETS
            .iter()
            .position(|bound| took <= *bound)
            .unwrap_or(MINT_LATENCY_BUCKETS.len());
        self.mint_buckets[bucket].fetch_add(1, Relaxed);
        // 0 means "no mint yet".
        let _ = self
            .mint_min_ns
            .fetch_update(Relaxed, Relaxed, |min| (min == 0 || ns < min).then_some(ns));
    }
}

/// One cached outcome.
#[derive(Debug)]
pub(super) struct Entry {
    pub(super) outcome: Result<Arc<Served>, Error>,
    /// Unix seconds after which the entry is not served.
    pub(super) expires_at: u64,
    pub(super) weight: u64,
    pub(super) sequence: u64,
    /// When (and how) the leaf is minted again in the background.
    pub(super) refresh: RefreshState,
}

impl Entry {
    /// The chain (or the remembered failure) as a lookup's answer.
    pub(super) fn lookup(
        &self,
        outcome: Outcome,
        mint_time: Option<Duration>,
    ) -> Result<Lookup, Error> {
        match &self.outcome {
            Ok(served) => Ok(Lookup {
                served: Arc::clone(served),
                outcome,
                mint_time,
            }),
            Err(e) => Err(e.clone()),
        }
    }
}

#[derive(Clone)]
pub(super) struct EntryWeighter;

impl Weighter<CacheKey, Arc<Entry>> for EntryWeighter {
    fn weight(&self, _key: &CacheKey, value: &Arc<Entry>) -> u64 {
        value.weight
    }
}

#[derive(Clone)]
pub(super) struct CountEvictions(pub(super) Arc<Counters>);

impl Lifecycle<CacheKey, Arc<Entry>> for CountEvictions {
    type RequestState = Evicted<Arc<Entry>>;

    fn on_evict(&self, state: &mut Self::RequestState, _key: CacheKey, value: Arc<Entry>) {
        self.0.evictions.fetch_add(1, Relaxed);
        state.keep(value);
    }
}

/// Entries one insert evicted, held until the insert returns: quick_cache calls `on_evict`
/// under the shard's write lock and drops the request state after releasing it, so freeing an
/// evicted leaf and its key (a few microseconds) does not hold up lookups on that shard. Room
/// for two, as quick_cache's own default; a third is freed at once.
pub(super) struct Evicted<T>([Option<T>; 2]);

impl<T> Default for Evicted<T> {
    fn default() -> Self {
        Self([None, None])
    }
}

impl<T> Evicted<T> {
    fn keep(&mut self, value: T) {
        if let Some(slot) = self.0.iter_mut().find(|slot| slot.is_none()) {
            *slot = Some(value);
        }
    }
}

pub(super) type Inner =
    Cache<CacheKey, Arc<Entry>, EntryWeighter, quick_cache::DefaultHashBuilder, CountEvictions>;

/// An entry's refresh bookkeeping.
#[derive(Debug)]
pub(crate) struct RefreshState {
    /// How to mint it again; `None` for entries that are never refreshed.
    pub(super) remint: Option<Remint>,
    /// Unix seconds from which it is due (`u64::MAX`: never).
    pub(super) due: AtomicU64,
    /// Unix seconds it was last served.
    last_served: AtomicU64,
    /// The epoch of the refresher it is queued with (0: not queued).
    pub(super) queued: AtomicU64,
}

impl RefreshState {
    /// Never refreshed; served at `now`.
    pub(crate) fn never(now: u64) -> Self {
        Self {
            remint: None,
            due: AtomicU64::new(u64::MAX),
            last_served: AtomicU64::new(now),
            queued: AtomicU64::new(0),
        }
    }

    /// Refreshed by `remint` from `due`; served (minted) at `now`.
    pub(crate) fn at(due: u64, now: u64, remint: Remint) -> Self {
        Self {
            remint: Some(remint),
            due: AtomicU64::new(due),
            last_served: AtomicU64::new(now),
            queued: AtomicU64::new(0),
        }
    }

    /// Whether a refresh thread is needed for this entry.
    pub(crate) fn refreshable(&self) -> bool {
        self.remint.is_some() && self.due.load(Relaxed) != u64::MAX
    }

    /// Notes a serve at `now`; true when the entry is due for refresh. One relaxed load on a
    /// hit that is not due, and at most one store a second per entry.
    pub(crate) fn served(&self, now: u64) -> bool {
        if self.last_served.load(Relaxed) != now {
            self.last_served.store(now, Relaxed);
        }
        now >= self.due.load(Relaxed)
    }

    pub(super) fn due_and_served(&self, now: u64, served_within: u64) -> bool {
        now >= self.due.load(Relaxed)
            && self.last_served.load(Relaxed).saturating_add(served_within) > now
    }
}

/// The entry for a successful mint that took `took` (counted), as of `now`; `overtaken`
/// makes it born expired.
pub(super) fn entry_for(
    config: &CacheConfig,
    counters: &Counters,
    minted: Minted,
    took: Duration,
    now: u64,
    overtaken: bool,
) -> Entry {
    counters.record_mint(took);
    let Minted {
        cert: minted,
        verdict,
        remint,
    } = minted;
    let not_after = minted
        .not_after()
        .as_secs()
        .min(minted.issuer_not_after().as_secs());
    let natural = not_after.saturating_sub(config.expiry_margin.as_secs());
    let floor = now.saturating_add(config.min_lifetime.as_secs());
    let expires_at = if overtaken { 0 } else { natural.max(floor) };
    let certified_key = minted.certified_key();
    let bytes = certified_key.cert.iter().map(|c| c.len()).sum::<usize>()
        + minted.private_key().pkcs8().secret_pkcs8_der().len();
    let remint =
        remint.filter(|_| !overtaken && !config.refresh_ahead.is_zero() && config.refresh_rate > 0);
    let weight = u64::try_from(bytes)
        .unwrap_or(u64::MAX)
        .saturating_add(ENTRY_OVERHEAD)
        .saturating_add(remint.as_ref().map_or(0, |r| r.weight));
    // A leaf held only by the minimum lifetime (its notAfter is inside the margin) cannot
    // be extended by minting again.
    let refresh = match remint {
        Some(remint) if natural > floor => RefreshState::at(
            natural.saturating_sub(config.refresh_ahead.as_secs()),
            now,
            remint,
        ),
        _ => RefreshState::never(now),
    };
    Entry {
        outcome: Ok(Arc::new(Served {
            certified_key: Arc::new(certified_key),
            key: minted.shared_key(),
            verdict,
            serial: *minted.serial(),
            not_after: minted.not_after(),
            attachment: std::sync::OnceLock::new(),
        })),
        expires_at,
        weight,
        sequence: counters.sequence.fetch_add(1, Relaxed) + 1,
        refresh,
    }
}

/// The entry for a failed mint, counted, as of `now`: remembered for the failure lifetime (the
/// shorter transient one for a token or signer that failed); `overtaken` makes it born expired.
pub(super) fn failure_entry(
    config: &CacheConfig,
    counters: &Counters,
    error: Error,
    now: u64,
    overtaken: bool,
) -> Entry {
    counters.count_error(&error);
    let remembered = if error.is_transient() {
        config
            .transient_failure_lifetime
            .min(config.failure_lifetime)
    } else {
        config.failure_lifetime
    };
    Entry {
        outcome: Err(error),
        expires_at: if overtaken {
            0
        } else {
            now.saturating_add(remembered.as_secs().max(1))
        },
        weight: ENTRY_OVERHEAD,
        sequence: counters.sequence.fetch_add(1, Relaxed) + 1,
        refresh: RefreshState::never(now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicted_entries_are_held_until_the_request_ends() {
        let values: Vec<_> = (0..3).map(Arc::new).collect();
        let mut state = Evicted::default();
        for v in &values {
            state.keep(Arc::clone(v));
        }
        // Two held by the request state, the third freed at once.
        let counts: Vec<_> = values.iter().map(Arc::strong_count).collect();
        assert_eq!(counts, [2, 2, 1]);
        drop(state);
        assert!(values.iter().all(|v| Arc::strong_count(v) == 1));
    }
}
