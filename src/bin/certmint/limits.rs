//! Surviving floods: the file descriptor limit, a cap on concurrent connections (at the cap the
//! connection idle the longest is closed to make room), timeouts for slow handshakes and idle
//! relays, and a backoff on accept errors whose log is rate-limited.

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

/// Descriptors kept free for everything that is not a connection (the listener, the runtime,
/// files, a PKCS#11 module, the log).
const RESERVED_FDS: u64 = 32;

/// Raises the soft limit on open files to the hard limit and returns the soft limit now in
/// force (the starting limit if it cannot be raised).
pub(crate) fn raise_nofile_limit() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(e) => {
            log::warn!("cannot raise the open-file limit: {e}");
            rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft)
        }
    }
}

/// The default connection cap for an open-file limit: two descriptors per proxied connection
/// (client and origin), after the reserve; at least 8.
pub(crate) fn default_max_connections(nofile: u64) -> usize {
    usize::try_from(nofile.saturating_sub(RESERVED_FDS) / 2)
        .unwrap_or(usize::MAX)
        .max(8)
}

/// One admitted connection: when it last moved a byte, and how to close it from outside.
#[derive(Debug)]
pub(crate) struct Conn {
    id: u64,
    /// Milliseconds since the table's epoch.
    last_active: AtomicU64,
    close: Notify,
    epoch: Instant,
}

impl Conn {
    fn touch(&self) {
        let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_active.store(now, Ordering::Relaxed);
    }

    /// How long since the connection last moved a byte.
    pub(crate) fn idle_for(&self) -> Duration {
        let now = self.epoch.elapsed().as_millis();
        let last = u128::from(self.last_active.load(Ordering::Relaxed));
        Duration::from_millis(u64::try_from(now.saturating_sub(last)).unwrap_or(u64::MAX))
    }

    /// Resolves when the table closes this connection to make room for a new one.
    pub(crate) async fn closed(&self) {
        self.close.notified().await;
    }
}

/// The connections open now, capped.
#[derive(Debug)]
pub(crate) struct ConnectionTable {
    max: usize,
    epoch: Instant,
    next_id: AtomicU64,
    open: Mutex<HashMap<u64, Arc<Conn>>>,
    evicted: AtomicU64,
    log: RateLimitedLog,
}

impl ConnectionTable {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            max: max.max(1),
            epoch: Instant::now(),
            next_id: AtomicU64::new(0),
            open: Mutex::new(HashMap::new()),
            evicted: AtomicU64::new(0),
            log: RateLimitedLog::default(),
        }
    }

    /// Registers a new connection; at the cap, closes the one idle the longest first. Returns
    /// the connection and how many were closed to make room.
    pub(crate) fn admit(&self) -> (Arc<Conn>, usize) {
        let conn = Arc::new(Conn {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            last_active: AtomicU64::new(0),
            close: Notify::new(),
            epoch: self.epoch,
        });
        conn.touch();
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let mut evicted = 0;
        while open.len() >= self.max {
            let Some(oldest) = open.values().max_by_key(|c| c.idle_for()).map(|c| c.id) else {
                break;
            };
            if let Some(victim) = open.remove(&oldest) {
                victim.close.notify_one();
                evicted += 1;
                let total = self.evicted.fetch_add(1, Ordering::Relaxed) + 1;
                self.log.warn(|suppressed| {
                    format!(
                        "connection cap ({}) reached: closed the connection idle the longest \
                         ({total} so far{})",
                        self.max,
                        suppressed_note(suppressed)
                    )
                });
            }
        }
        open.insert(conn.id, Arc::clone(&conn));
        (conn, evicted)
    }

    /// Forgets a connection that ended.
    pub(crate) fn remove(&self, conn: &Conn) {
        self.open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&conn.id);
    }
}

fn suppressed_note(suppressed: u64) -> String {
    if suppressed == 0 {
        String::new()
    } else {
        format!("; {suppressed} similar messages suppressed")
    }
}

/// A warning logged at most once a second; the lines held back are counted in the next one.
#[derive(Debug, Default)]
pub(crate) struct RateLimitedLog {
    state: Mutex<(Option<Instant>, u64)>,
}

impl RateLimitedLog {
    pub(crate) fn warn(&self, message: impl FnOnce(u64) -> String) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        match state.0 {
            Some(last) if now.duration_since(last) < Duration::from_secs(1) => state.1 += 1,
            _ => {
                let suppressed = std::mem::take(&mut state.1);
                state.0 = Some(now);
                log::warn!("{}", message(suppressed));
            }
        }
    }
}

/// Backs off after accept errors (out of descriptors, out of memory): 10 ms doubling to 1 s,
/// reset by the next success; logged at most once a second.
#[derive(Debug, Default)]
pub(crate) struct AcceptBackoff {
    delay: Option<Duration>,
    log: RateLimitedLog,
}

impl AcceptBackoff {
    pub(crate) fn succeeded(&mut self) {
        self.delay = None;
    }

    pub(crate) async fn failed(&mut self, error: &io::Error) {
        let delay = self.delay.map_or(Duration::from_millis(10), |d| {
            (d * 2).min(Duration::from_secs(1))
        });
        self.delay = Some(delay);
        self.log.warn(|suppressed| {
            format!(
                "accept: {error}; retrying in {} ms{}",
                delay.as_millis(),
                suppressed_note(suppressed)
            )
        });
        tokio::time::sleep(delay).await;
    }
}

/// A stream that records on its connection each time bytes move.
pub(crate) struct Activity<S> {
    inner: S,
    conn: Arc<Conn>,
}

impl<S> Activity<S> {
    pub(crate) fn new(inner: S, conn: Arc<Conn>) -> Self {
        Self { inner, conn }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Activity<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.conn.touch();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Activity<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.conn.touch();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Resolves once `conn` has moved no byte for `limit`.
pub(crate) async fn idle_for_longer_than(conn: &Conn, limit: Duration) {
    let tick = (limit / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
    loop {
        tokio::time::sleep(tick).await;
        if conn.idle_for() > limit {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_follows_the_descriptor_limit() {
        assert_eq!(default_max_connections(64), 16);
        assert_eq!(default_max_connections(1024), 496);
        assert_eq!(default_max_connections(10), 8);
    }

    #[test]
    fn at_the_cap_the_connection_idle_the_longest_is_closed() {
        let table = ConnectionTable::new(2);
        let (a, _) = table.admit();
        std::thread::sleep(Duration::from_millis(20));
        let (b, _) = table.admit();
        std::thread::sleep(Duration::from_millis(20));
        a.touch(); // `a` moved a byte: `b` is now the idle one
        let (c, evicted) = table.admit();
        assert_eq!(evicted, 1);
        let open = table.open.lock().unwrap();
        assert!(open.contains_key(&a.id) && open.contains_key(&c.id));
        assert!(!open.contains_key(&b.id));
    }
}
