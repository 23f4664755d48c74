//! Dropping a key pool never waits for its background thread (which may be inside a
//! seconds-long RSA generation); `shutdown()` does. Alone in its test binary, so no other
//! test's pool threads are counted.

use std::time::{Duration, Instant};

use certmint::keys::{KeyPool, KeyPoolConfig};
use certmint::KeyAlgorithm;

mod common;

/// The pool's worker threads ("certmint-keypool" as the kernel keeps it: 15 characters).
fn pool_threads() -> usize {
    common::threads_named("certmint-keypoo")
}

#[test]
fn drop_leaves_the_worker_to_finish_alone_and_shutdown_joins_it() {
    if !std::path::Path::new("/proc/self/task").exists() {
        eprintln!("skipped: needs /proc/self/task (Linux)");
        return;
    }
    let busy = || {
        let mut config = KeyPoolConfig::default();
        config.warm = vec![KeyAlgorithm::Rsa4096];
        config.rsa_target = 8;
        let pool = KeyPool::new(config);
        // Give the worker time to start its first RSA-4096 generation.
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(pool_threads(), 1);
        pool
    };
    // Drop: returns while the worker is still inside its generation.
    drop(busy());
    assert_eq!(pool_threads(), 1, "drop did not wait for the worker");
    let deadline = Instant::now() + Duration::from_secs(120);
    while pool_threads() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(pool_threads(), 0, "the worker exits on its own");
    // Shutdown: the worker is gone when it returns.
    let pool = busy();
    pool.shutdown();
    // Joined: the thread has run its last instruction. The kernel removes it from
    // /proc/self/task a moment later (its tid is cleared before it is reaped), so allow
    // 100 ms for that, far less than the RSA-4096 generation a drop leaves running.
    let settle = Instant::now() + Duration::from_millis(100);
    while pool_threads() > 0 && Instant::now() < settle {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(pool_threads(), 0, "shutdown joined the worker");
}
