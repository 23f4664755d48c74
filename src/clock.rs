//! Time, injectable: the cache, the resolver and (through them) the minter read the clock
//! through [`Clock`], so tests can expire entries without waiting.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rustls::pki_types::UnixTime;

/// A source of the current time.
pub trait Clock: std::fmt::Debug + Send + Sync {
    /// Now.
    fn now(&self) -> UnixTime;
}

/// The system's wall clock, to the second.
///
/// Reading the wall clock costs about 33 ns on the project's VM, a third of a cache hit's
/// budget, so this clock reads a copy that a background thread (`certmint-clock`) refreshes
/// every 100 ms. Expiry decisions are made in whole seconds with hour-long margins, so 100 ms
/// of staleness is immaterial.
///
/// Clones share one thread. It stops by itself within 100 ms once the last clone is dropped
/// (the dropper never waits); [`SystemClock::shutdown`] stops it and waits. After `fork()`,
/// the child has no thread: [`SystemClock::after_fork_child`] (called by
/// [`after_fork_child`](crate::after_fork_child)) starts a new one.
#[derive(Clone, Debug)]
pub struct SystemClock {
    ticker: Arc<Ticker>,
}

#[derive(Debug)]
struct Ticker {
    /// Unix seconds; 0 when no thread keeps it fresh (time is then read directly).
    secs: AtomicU64,
    stop: AtomicBool,
    thread: Mutex<Option<JoinHandle<()>>>,
}

fn wall_secs() -> u64 {
    UnixTime::now().as_secs()
}

impl SystemClock {
    /// A clock and its refresh thread.
    pub fn new() -> Self {
        let ticker = Arc::new(Ticker {
            secs: AtomicU64::new(wall_secs()),
            stop: AtomicBool::new(false),
            thread: Mutex::new(None),
        });
        start(&ticker);
        Self { ticker }
    }

    /// Stops the refresh thread and waits for it; time is read directly afterwards.
    pub fn shutdown(&self) {
        self.ticker.stop.store(true, Ordering::SeqCst);
        self.ticker.secs.store(0, Ordering::SeqCst);
        let handle = lock(&self.ticker.thread).take();
        if let Some(handle) = handle {
            handle.thread().unpark();
            let _ = handle.join();
        }
    }

    /// In a child process after `fork()`: starts a new refresh thread (the parent's did not
    /// survive the fork).
    pub fn after_fork_child(&self) {
        // The parent's thread does not exist here: forget its handle rather than join it.
        if let Some(stale) = lock(&self.ticker.thread).take() {
            std::mem::forget(stale);
        }
        if !self.ticker.stop.load(Ordering::SeqCst) {
            start(&self.ticker);
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Starts the refresh thread; it holds only a weak reference, so dropping the last clock ends
/// it. When no thread can be started, time is read directly.
fn start(ticker: &Arc<Ticker>) {
    ticker.secs.store(wall_secs(), Ordering::SeqCst);
    let weak = Arc::downgrade(ticker);
    let spawned = std::thread::Builder::new()
        .name("certmint-clock".into())
        .spawn(move || loop {
            std::thread::park_timeout(Duration::from_millis(100));
            let Some(ticker) = weak.upgrade() else {
                return;
            };
            if ticker.stop.load(Ordering::SeqCst) {
                return;
            }
            ticker.secs.store(wall_secs(), Ordering::Relaxed);
        });
    match spawned {
        Ok(handle) => *lock(&ticker.thread) = Some(handle),
        Err(_) => {
            log::warn!("could not start the clock thread; time will be read directly");
            ticker.secs.store(0, Ordering::SeqCst);
        }
    }
}

impl Clock for SystemClock {
    fn now(&self) -> UnixTime {
        let secs = match self.ticker.secs.load(Ordering::Relaxed) {
            0 => wall_secs(),
            secs => secs,
        };
        UnixTime::since_unix_epoch(Duration::from_secs(secs))
    }
}

/// A clock that moves only when told to (for tests).
///
/// ```
/// use certmint::clock::{Clock, ManualClock};
/// let clock = ManualClock::starting_now();
/// let before = clock.now();
/// clock.advance(std::time::Duration::from_secs(3600));
/// assert_eq!(clock.now().as_secs(), before.as_secs() + 3600);
/// ```
#[derive(Debug, Default)]
pub struct ManualClock {
    secs: AtomicU64,
}

impl ManualClock {
    /// A clock showing the current system time.
    pub fn starting_now() -> Self {
        Self {
            secs: AtomicU64::new(UnixTime::now().as_secs()),
        }
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        self.secs.fetch_add(by.as_secs(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> UnixTime {
        UnixTime::since_unix_epoch(Duration::from_secs(self.secs.load(Ordering::SeqCst)))
    }
}
