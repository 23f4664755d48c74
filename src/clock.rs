//! Time, injectable: the cache, the resolver and (through them) the minter read the clock
//! through [`Clock`], so tests can expire entries without waiting.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rustls::pki_types::UnixTime;

/// A source of the current time.
pub trait Clock: std::fmt::Debug + Send + Sync {
    /// Now.
    fn now(&self) -> UnixTime;
}

/// The system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixTime {
        UnixTime::now()
    }
}

/// A clock that moves only when told to (for tests).
///
/// ```
/// use certmint::{Clock, ManualClock};
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
