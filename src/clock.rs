//! Time, injectable: the cache, the resolver and (through them) the minter read the clock
//! through [`Clock`], so tests can expire entries without waiting.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
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
/// budget, so this clock reads a process-wide copy that a background thread
/// (`certmint-clock`, started on first use) refreshes every 100 ms. Expiry decisions are made
/// in whole seconds with hour-long margins, so 100 ms of staleness is immaterial.
#[derive(Clone, Copy, Debug, Default)]
#[allow(clippy::exhaustive_structs)] // a unit value; it has nothing to grow
pub struct SystemClock;

fn wall_secs() -> u64 {
    UnixTime::now().as_secs()
}

fn coarse_now() -> u64 {
    static NOW: OnceLock<Arc<AtomicU64>> = OnceLock::new();
    let now = NOW.get_or_init(|| {
        let now = Arc::new(AtomicU64::new(wall_secs()));
        let ticker = Arc::clone(&now);
        let spawned = std::thread::Builder::new()
            .name("certmint-clock".into())
            .spawn(move || loop {
                std::thread::sleep(Duration::from_millis(100));
                ticker.store(wall_secs(), Ordering::Relaxed);
            });
        if spawned.is_err() {
            log::warn!("could not start the clock thread; time will be read directly");
            now.store(0, Ordering::Relaxed);
        }
        now
    });
    match now.load(Ordering::Relaxed) {
        0 => wall_secs(),
        secs => secs,
    }
}

impl Clock for SystemClock {
    fn now(&self) -> UnixTime {
        UnixTime::since_unix_epoch(Duration::from_secs(coarse_now()))
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
