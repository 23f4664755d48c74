//! Refresh-ahead: the `certmint-refresh` thread that mints served leaves again before they
//! expire and swaps them in, at most [`CacheConfig::refresh_rate`] a second.
//!
//! Entries reach it two ways: a hit on an entry that is due hands it over (never blocking the
//! hit: a busy queue is skipped), and a scan of the whole cache every few seconds finds the
//! entries that are due and were served within [`CacheConfig::refresh_served_within`] but not
//! hit since they became due.

use std::collections::VecDeque;
use std::sync::atomic::{
    AtomicU64,
    Ordering::{Acquire, Relaxed},
};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use quick_cache::sync::{EntryAction, EntryResult};

use super::entry::{entry_for, Counters, Entry, Inner};
use super::{CacheConfig, CacheKey, Minted};
use crate::clock::Clock;

/// Retry a failed refresh after this long (the old leaf is served meanwhile).
const RETRY_AFTER: u64 = 60;

/// Each refresher gets its own number, so an entry queued by a refresher that no longer exists
/// (the parent's, after a fork) can be queued again.
static EPOCHS: AtomicU64 = AtomicU64::new(1);

/// What the refresh thread works with: the cache it refreshes (weakly: it exits when the
/// cache is dropped) and the cache's counters, settings and clock.
pub(super) struct Context {
    pub(super) inner: Weak<Inner>,
    pub(super) counters: Arc<Counters>,
    pub(super) config: CacheConfig,
    pub(super) clock: Arc<dyn Clock>,
}

#[derive(Default)]
struct Queue {
    pending: VecDeque<(CacheKey, Arc<Entry>)>,
    stop: bool,
}

/// The refresh thread's queue; the thread holds it too.
pub(super) struct Refresher {
    epoch: u64,
    queue: Mutex<Queue>,
    wake: Condvar,
}

impl std::fmt::Debug for Refresher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Refresher")
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

impl Refresher {
    /// Starts the thread. Without a thread (the system refused one), entries are simply not
    /// refreshed: they expire and are minted again on demand, as without refresh-ahead.
    pub(super) fn start(context: Context) -> Arc<Self> {
        let refresher = Arc::new(Self {
            epoch: EPOCHS.fetch_add(1, Relaxed),
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
        });
        let thread = Arc::clone(&refresher);
        let spawned = std::thread::Builder::new()
            .name("certmint-refresh".into())
            .spawn(move || thread.run(&context));
        if let Err(e) = spawned {
            log::warn!("could not start the cache's refresh thread ({e}); leaves will not be refreshed ahead of expiry");
        }
        refresher
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // Each update is one push or pop: a poisoned queue is still consistent.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a due entry unless it is queued already. Never blocks.
    pub(super) fn offer(&self, key: impl FnOnce() -> CacheKey, entry: &Arc<Entry>) {
        if entry.refresh.queued.swap(self.epoch, Relaxed) == self.epoch {
            return;
        }
        match self.queue.try_lock() {
            Ok(mut queue) => {
                queue.pending.push_back((key(), Arc::clone(entry)));
                drop(queue);
                self.wake.notify_one();
            }
            // Busy: the next hit or scan offers it again.
            Err(_) => entry.refresh.queued.store(0, Relaxed),
        }
    }

    /// Entries waiting now.
    pub(super) fn pending(&self) -> u64 {
        self.queue
            .try_lock()
            .map_or(0, |queue| queue.pending.len() as u64)
    }

    /// Tells the thread to exit (it finishes the refresh under way, if any).
    pub(super) fn stop(&self) {
        self.lock().stop = true;
        self.wake.notify_all();
    }

    fn run(&self, context: &Context) {
        let config = &context.config;
        let gap = Duration::from_secs(1) / config.refresh_rate.max(1);
        // Scan often enough that an entry is found well inside its refresh window.
        let scan_every =
            (config.refresh_ahead / 20).clamp(Duration::from_secs(1), Duration::from_secs(30));
        let mut next_slot = Instant::now();
        let mut next_scan = Instant::now() + scan_every;
        loop {
            let next = {
                let mut queue = self.lock();
                loop {
                    if queue.stop {
                        return;
                    }
                    if let Some(next) = queue.pending.pop_front() {
                        break Some(next);
                    }
                    let now = Instant::now();
                    if now >= next_scan {
                        break None;
                    }
                    queue = self
                        .wake
                        .wait_timeout(queue, next_scan - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            };
            let Some((key, entry)) = next else {
                let Some(inner) = context.inner.upgrade() else {
                    return;
                };
                self.scan(&inner, context);
                next_scan = Instant::now() + scan_every;
                continue;
            };
            // Spread out: at most one refresh per `gap` (sleeping without holding the cache,
            // so dropping it ends the thread).
            let wait = next_slot.saturating_duration_since(Instant::now());
            if !wait.is_zero() {
                std::thread::sleep(wait);
                if self.lock().stop {
                    return;
                }
            }
            let Some(inner) = context.inner.upgrade() else {
                return;
            };
            next_slot = next_slot.max(Instant::now()) + gap;
            refresh(&inner, context, &key, &entry);
        }
    }

    /// Queues every due entry that was served recently.
    fn scan(&self, inner: &Inner, context: &Context) {
        let now = context.clock.now().as_secs();
        let within = context.config.refresh_served_within.as_secs();
        let due: Vec<_> = inner
            .iter()
            .filter(|(_, entry)| {
                entry.expires_at > now
                    && entry.refresh.due_and_served(now, within)
                    && entry.refresh.queued.swap(self.epoch, Relaxed) != self.epoch
            })
            .collect();
        if !due.is_empty() {
            log::debug!("refresh: {} cached leaves due", due.len());
            self.lock().pending.extend(due);
        }
    }
}

/// Mints `old` again and swaps the new entry in, if `old` is still the cache's entry for `key`
/// and the new one lives longer.
fn refresh(inner: &Inner, context: &Context, key: &CacheKey, old: &Arc<Entry>) {
    let (Some(remint), Ok(served)) = (&old.refresh.remint, &old.outcome) else {
        return;
    };
    let counters = &context.counters;
    let generation = counters.generation.load(Acquire);
    let now = context.clock.now();
    let started = Instant::now();
    let result = remint.mint(now);
    let took = started.elapsed();
    let now = now.as_secs();
    let cert = match result {
        Ok(cert) => cert,
        Err(e) => {
            counters.refresh_errors.fetch_add(1, Relaxed);
            counters.count_error(&e);
            log::warn!(
                "refreshing a cached leaf failed (it is served until it expires; retry in {RETRY_AFTER} s): {e}"
            );
            old.refresh
                .due
                .store(now.saturating_add(RETRY_AFTER), Relaxed);
            old.refresh.queued.store(0, Relaxed);
            return;
        }
    };
    if counters.generation.load(Acquire) != generation {
        // A purge ran meanwhile: what it removed must not come back.
        return;
    }
    let minted = Minted {
        cert,
        verdict: served.verdict,
        remint: Some(remint.clone()),
    };
    let new = entry_for(&context.config, counters, minted, took, now, false);
    if new.expires_at <= old.expires_at {
        // Minting again does not help (a clone of an origin about to expire).
        old.refresh.due.store(u64::MAX, Relaxed);
        return;
    }
    let new = Arc::new(new);
    let swapped = inner.entry(key, Some(Duration::ZERO), |_, current| {
        if Arc::ptr_eq(current, old) {
            *current = Arc::clone(&new);
            EntryAction::Retain(true)
        } else {
            EntryAction::Retain(false)
        }
    });
    match swapped {
        EntryResult::Retained(true) => {
            counters.refreshes.fetch_add(1, Relaxed);
        }
        // Gone meanwhile (evicted, expired and minted again, purged): nothing to refresh.
        EntryResult::Vacant(guard) => drop(guard),
        _ => {}
    }
}
