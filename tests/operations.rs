//! Operating the proxy: Prometheus metrics that match the traffic, JSON log lines, reload on
//! SIGHUP, and floods of idle connections and slow handshakes.

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use certmint::rustls::pki_types::CertificateDer;
use certmint::{testing::ThrowawayCa, KeyAlgorithm};
use common::proxy::*;
use common::*;

/// One scrape of `/metrics`, parsed by a Prometheus text parser.
struct Scrape(prometheus_parse::Scrape);

impl Scrape {
    fn take(addr: SocketAddr) -> Self {
        let (head, body) = http_get(addr, "/metrics");
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(head.contains("text/plain; version=0.0.4"), "{head}");
        let text = String::from_utf8(body).unwrap();
        let lines = text.lines().map(|l| Ok(l.to_owned()));
        Self(prometheus_parse::Scrape::parse(lines).unwrap())
    }

    /// The value of the sample named `name` whose labels include `labels`.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.0
            .samples
            .iter()
            .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(v)))
            .map(|s| match &s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => *v,
                other => panic!("{name}: {other:?}"),
            })
    }

    fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.value(name, labels)
            .unwrap_or_else(|| panic!("no {name}{labels:?} in {:#?}", self.0.samples))
    }

    /// The histogram `name`'s buckets (upper bound, cumulative count).
    fn histogram(&self, name: &str) -> Vec<(f64, f64)> {
        let sample = self.0.samples.iter().find(|s| s.metric == name).unwrap();
        match &sample.value {
            prometheus_parse::Value::Histogram(buckets) => {
                buckets.iter().map(|b| (b.less_than, b.count)).collect()
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

/// A trusted origin for `host`, and its address.
fn trusted_origin(host: &str) -> Origin {
    let (cert, key) = origin_with_key(&params_for(&[host]), KeyAlgorithm::EcdsaP256);
    start_origin(origin_config(cert, &key, &[]))
}

fn self_signed_origin(host: &str) -> Origin {
    let key = origin_key(KeyAlgorithm::EcdsaP256);
    let cert = params_for(&[host]).self_signed(&key).unwrap().der().clone();
    start_origin(origin_config(cert, &key, &[]))
}

fn ok(
    proxy: &ProxyProcess,
    host: &str,
    origin: &Origin,
    root: &CertificateDer<'static>,
) -> Vec<CertificateDer<'static>> {
    let fetched = fetch(proxy.addr, host, origin.addr.port(), root, &[])
        .unwrap_or_else(|e| panic!("{host}: {e}"));
    assert!(
        fetched.response.starts_with("HTTP/1.1 200"),
        "{}",
        fetched.response
    );
    fetched.chain
}

/// Sends a request line (`CONNECT host:port`, say) and returns the proxy's status line.
fn status_for(proxy: SocketAddr, request_line: &str) -> String {
    let mut tcp = TcpStream::connect(proxy).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(tcp, "{request_line} HTTP/1.1\r\n\r\n").unwrap();
    let mut response = String::new();
    let _ = std::io::Read::read_to_string(&mut tcp, &mut response);
    response.lines().next().unwrap_or_default().to_owned()
}

#[test]
fn metrics_count_what_happened_and_json_log_lines_carry_the_fields() {
    let tmp = tempfile::tempdir().unwrap();
    let ca = interception_ca();
    let good = trusted_origin("good.test");
    let other = trusted_origin("other.test");
    let rogue = self_signed_origin("rogue.test");
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let proxy = ProxyProcess::start_with(
        tmp.path(),
        &ca,
        &[
            ("good.test", good.addr),
            ("other.test", other.addr),
            ("rogue.test", rogue.addr),
            ("gone.test", closed),
        ],
        &["--metrics-listen", "127.0.0.1:0", "--log-format", "json"],
    );
    let metrics = proxy.served("metrics");
    let before = Scrape::take(metrics);
    assert_eq!(before.get("certmint_connections_total", &[]), 0.0);
    assert_eq!(before.get("certmint_cache_misses_total", &[]), 0.0);

    ok(&proxy, "good.test", &good, &ca.root); // miss
    ok(&proxy, "good.test", &good, &ca.root); // hit
    ok(&proxy, "other.test", &other, &ca.root); // miss
    assert!(fetch(proxy.addr, "rogue.test", rogue.addr.port(), &ca.root, &[]).is_err());
    assert!(status_for(proxy.addr, "CONNECT bad_name!:443").contains("400"));
    let gone = format!("CONNECT gone.test:{}", closed.port());
    assert!(status_for(proxy.addr, &gone).contains("502"));
    assert!(status_for(proxy.addr, "GET /").contains("405"));
    // The refusals are counted when each connection's task ends: wait for the last.
    let deadline = Instant::now() + Duration::from_secs(10);
    let after = loop {
        let scrape = Scrape::take(metrics);
        if scrape.get("certmint_connections_open", &[]) == 0.0 || Instant::now() > deadline {
            break scrape;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(after.get("certmint_connections_total", &[]), 7.0);
    assert_eq!(after.get("certmint_connections_open", &[]), 0.0);
    // Three misses: the untrusted origin's is a failed mint (remembered, and counted by kind).
    assert_eq!(after.get("certmint_cache_misses_total", &[]), 3.0);
    assert_eq!(
        after.get(
            "certmint_mint_errors_total",
            &[("kind", "untrusted_origin")]
        ),
        1.0
    );
    assert_eq!(after.get("certmint_cache_hits_total", &[]), 1.0);
    assert_eq!(after.get("certmint_mints_total", &[]), 2.0);
    assert_eq!(after.get("certmint_cache_entries", &[]), 3.0);
    assert!(after.get("certmint_cache_weight_bytes", &[]) > 2000.0);
    for (reason, n) in [
        ("untrusted_origin", 1.0),
        ("bad_sni", 1.0),
        ("upstream_failure", 1.0),
        ("not_connect", 1.0),
    ] {
        assert_eq!(
            after.get("certmint_refusals_total", &[("reason", reason)]),
            n,
            "{reason}"
        );
    }
    assert_eq!(
        after.value("certmint_refusals_total", &[("reason", "connection_cap")]),
        None
    );
    // Two mints in the histogram: the +Inf bucket counts both, and the buckets only grow.
    let buckets = after.histogram("certmint_mint_duration_seconds");
    assert_eq!(buckets.last().map(|b| b.1), Some(2.0), "{buckets:?}");
    assert!(
        buckets
            .windows(2)
            .all(|w| w[0].1 <= w[1].1 && w[0].0 < w[1].0),
        "{buckets:?}"
    );
    assert_eq!(after.get("certmint_mint_duration_seconds_count", &[]), 2.0);
    assert_eq!(after.get("certmint_ca_enabled", &[("ca", "default")]), 1.0);
    assert_eq!(after.get("certmint_ca_default", &[("ca", "default")]), 1.0);
    assert_eq!(
        after.get("certmint_ca_health", &[("ca", "default"), ("state", "ok")]),
        1.0
    );
    assert_eq!(
        after.get(
            "certmint_ca_health",
            &[("ca", "default"), ("state", "failing")]
        ),
        0.0
    );
    let not_after = webpki_not_after(&ca.intermediate);
    assert_eq!(
        after.get("certmint_ca_not_after_seconds", &[("ca", "default")]),
        not_after
    );
    assert!(after
        .value("certmint_key_pool_ready", &[("algorithm", "P-256")])
        .is_some());
    assert_eq!(after.get("certmint_reloads_total", &[]), 0.0);

    // JSON log lines: one object each, with the access line's fields.
    let lines: Vec<serde_json::Value> = proxy
        .log
        .lock()
        .unwrap()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let access: Vec<&serde_json::Value> =
        lines.iter().filter(|l| l["host"] == "good.test").collect();
    assert_eq!(access.len(), 2, "{lines:#?}");
    assert_eq!(access[0]["outcome"], "miss");
    assert!(
        access[0]["mint_ms"].as_f64().is_some_and(|ms| ms > 0.0),
        "{}",
        access[0]
    );
    assert_eq!(access[1]["outcome"], "hit");
    assert!(access[1]["mint_ms"].is_null());
    assert!(access[0]["msg"]
        .as_str()
        .unwrap()
        .contains("good.test via good.test"));
    assert_eq!(access[0]["level"], "INFO");
    assert!(lines
        .iter()
        .any(|l| l["level"] == "WARN" && l["msg"].as_str().unwrap().contains("rogue.test")));
}

/// The CA certificate's notAfter as Unix seconds (read by x509-parser, not certmint).
fn webpki_not_after(cert: &CertificateDer<'_>) -> f64 {
    use x509_parser::prelude::FromDer;
    let (_, parsed) = x509_parser::certificate::X509Certificate::from_der(cert.as_ref()).unwrap();
    parsed.validity().not_after.timestamp() as f64
}

fn write_config(dir: &Path, text: &str) {
    // Written whole and renamed, as an editor or a deployment tool would.
    std::fs::write(dir.join("certmint.toml.new"), text).unwrap();
    std::fs::rename(dir.join("certmint.toml.new"), dir.join("certmint.toml")).unwrap();
}

fn hangup(proxy: &ProxyProcess) {
    let pid = proxy.child.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
}

/// Fetches `host` until its chain's issuer is `want` (at most `within`); returns how long it
/// took.
fn until_issued_by(
    proxy: &ProxyProcess,
    host: &str,
    origin: &Origin,
    root: &CertificateDer<'static>,
    want: &CertificateDer<'static>,
    within: Duration,
) -> Duration {
    let start = Instant::now();
    loop {
        if let Ok(f) = fetch(proxy.addr, host, origin.addr.port(), root, &[]) {
            if f.chain.get(1) == Some(want) {
                return start.elapsed();
            }
        }
        assert!(
            start.elapsed() < within,
            "{host} still not issued by the new CA after {within:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

const CONFIG_A: &str = r#"
[upstream]
roots = ["public.pem"]
[metrics]
listen = "127.0.0.1:0"
[untrusted]
policy = "mirror"
ca = "untrusted"
[[ca]]
id = "a"
cert = "a.pem"
key = "a-key.pem"
[[ca]]
id = "b"
cert = "b.pem"
key = "b-key.pem"
enabled = false
[[ca]]
id = "untrusted"
cert = "untrusted.pem"
key = "untrusted-key.pem"
"#;

const CONFIG_B: &str = r#"
default_ca = "b"
[upstream]
roots = ["public.pem"]
[metrics]
listen = "127.0.0.1:0"
[[ca]]
id = "a"
cert = "a.pem"
key = "a-key.pem"
enabled = false
[[ca]]
id = "b"
cert = "b.pem"
key = "b-key.pem"
"#;

#[test]
fn sighup_reloads_cas_and_policy_for_new_handshakes_and_a_bad_file_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let a = ThrowawayCa::generate_named(KeyAlgorithm::EcdsaP256, "reload a").unwrap();
    let b = ThrowawayCa::generate_named(KeyAlgorithm::EcdsaP256, "reload b").unwrap();
    let untrusted =
        ThrowawayCa::generate_named(KeyAlgorithm::EcdsaP256, "reload untrusted").unwrap();
    write_ca(dir, "a", &a, None);
    write_ca(dir, "b", &b, None);
    write_ca(dir, "untrusted", &untrusted, None);
    std::fs::write(
        dir.join("public.pem"),
        test_cert_pem(public_ca().issuer.der().as_ref()),
    )
    .unwrap();
    write_config(dir, CONFIG_A);
    let shop = trusted_origin("shop.test");
    let rogue = self_signed_origin("rogue.test");
    let proxy = ProxyProcess::from_config(
        dir,
        "certmint.toml",
        &[("shop.test", shop.addr), ("rogue.test", rogue.addr)],
        &[],
    );
    let metrics = proxy.served("metrics");
    let before = ok(&proxy, "shop.test", &shop, &a.root);
    assert_eq!(before[1], a.intermediate);
    // An untrusted origin is mirrored under the untrusted CA (a client trusting it sees it).
    let mirrored = fetch(
        proxy.addr,
        "rogue.test",
        rogue.addr.port(),
        &untrusted.root,
        &[],
    )
    .unwrap();
    assert_eq!(mirrored.chain[1], untrusted.intermediate);
    // A connection in flight across the reload: its handshake is done under a.
    let in_flight = tunnel(proxy.addr, "shop.test", shop.addr.port(), &a.root, &[]).unwrap();

    write_config(dir, CONFIG_B);
    hangup(&proxy);
    // New handshakes: b, within 2 s, though shop.test's leaf under a was cached.
    let took = until_issued_by(
        &proxy,
        "shop.test",
        &shop,
        &b.root,
        &b.intermediate,
        Duration::from_secs(2),
    );
    proxy.wait_for_log(&[
        "configuration reloaded: kept a,b",
        "2 cached leaves dropped",
    ]);
    // Untrusted origins are refused now: the mirrored leaf is not served from the cache.
    let refused = fetch(
        proxy.addr,
        "rogue.test",
        rogue.addr.port(),
        &untrusted.root,
        &[],
    );
    assert!(
        refused.is_err(),
        "a mirrored leaf was served after the policy changed to refuse"
    );
    // The connection in flight finishes on what it started with.
    let finished = get_over(in_flight, "shop.test").unwrap();
    assert!(
        finished.response.starts_with("HTTP/1.1 200"),
        "{}",
        finished.response
    );
    assert_eq!(finished.chain[1], a.intermediate);
    let scrape = Scrape::take(metrics);
    assert_eq!(scrape.get("certmint_reloads_total", &[]), 1.0);
    assert_eq!(scrape.get("certmint_ca_enabled", &[("ca", "a")]), 0.0);
    assert_eq!(scrape.get("certmint_ca_default", &[("ca", "b")]), 1.0);
    assert_eq!(
        scrape.value("certmint_ca_enabled", &[("ca", "untrusted")]),
        None
    );

    // A file that does not load: logged, counted, and the running configuration stays.
    write_config(
        dir,
        "[[ca]]\nid = \"b\"\ncert = \"missing.pem\"\nkey = \"b-key.pem\"\n",
    );
    hangup(&proxy);
    let line = proxy.wait_for_log(&["configuration reload failed", "missing.pem"]);
    assert!(line.contains("the running one is kept"), "{line}");
    let still = ok(&proxy, "shop.test", &shop, &b.root);
    assert_eq!(still[1], b.intermediate);
    let scrape = Scrape::take(metrics);
    assert_eq!(scrape.get("certmint_reload_failures_total", &[]), 1.0);
    assert_eq!(scrape.get("certmint_reloads_total", &[]), 1.0);
    eprintln!("new handshakes used the reloaded CA {took:?} after SIGHUP");
}

/// Raises this process's open-file limit to its hard limit; returns the soft limit now.
fn raise_nofile() -> u64 {
    let mut rlim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain libc calls on a local struct.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut rlim);
        rlim.rlim_cur = rlim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &rlim);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut rlim);
    }
    rlim.rlim_cur
}

/// Waits until the proxy's `certmint_connections_open` is `want` (at most 20 s).
fn until_open(metrics: SocketAddr, want: f64) -> Scrape {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let scrape = Scrape::take(metrics);
        let open = scrape.get("certmint_connections_open", &[]);
        if open == want {
            return scrape;
        }
        assert!(
            Instant::now() < deadline,
            "{open} connections open, waiting for {want}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_request_completes_while_idle_connections_and_slow_handshakes_are_held_open() {
    const IDLE: usize = 1000;
    const SLOW: usize = 100;
    if raise_nofile() < (IDLE + SLOW + 64) as u64 {
        eprintln!("skipped: the open-file limit is below {}", IDLE + SLOW + 64);
        assert!(
            std::env::var_os("CI").is_none(),
            "the open-file limit is too low in CI"
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let ca = interception_ca();
    let good = trusted_origin("good.test");
    let proxy = ProxyProcess::start_with(
        tmp.path(),
        &ca,
        &[("good.test", good.addr)],
        &[
            "--metrics-listen",
            "127.0.0.1:0",
            "--handshake-timeout",
            "5",
            "--max-connections",
            "2000",
        ],
    );
    let metrics = proxy.served("metrics");
    ok(&proxy, "good.test", &good, &ca.root); // the leaf is cached, as for a site in use
    let idle: Vec<TcpStream> = (0..IDLE)
        .map(|_| TcpStream::connect(proxy.addr).unwrap())
        .collect();
    let mut slow: Vec<TcpStream> = (0..SLOW)
        .map(|_| TcpStream::connect(proxy.addr).unwrap())
        .collect();
    let request = b"CONNECT good.test:443 HTTP/1.1\r\nHost: good.test\r\n\r\n";
    // One byte a second on each slow connection, from a thread, until the proxy drops them.
    let slow_writer = std::thread::spawn(move || {
        let started = Instant::now();
        let mut dropped = 0;
        for byte in request.iter().take(20) {
            dropped = 0;
            for tcp in &mut slow {
                if tcp.write_all(&[*byte]).is_err() {
                    dropped += 1;
                }
            }
            if dropped == slow.len() {
                break;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
        (dropped, started.elapsed())
    });
    until_open(metrics, (IDLE + SLOW) as f64);
    // Everything is open: a normal client's request goes through, quickly.
    let started = Instant::now();
    ok(&proxy, "good.test", &good, &ca.root);
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(1),
        "a request took {took:?} beside the flood"
    );
    // After the handshake timeout every idle and slow connection is dropped and counted.
    let after = until_open(metrics, 0.0);
    let timeouts = after.get(
        "certmint_refusals_total",
        &[("reason", "handshake_timeout")],
    );
    assert_eq!(timeouts, (IDLE + SLOW) as f64);
    let (dropped, writing_for) = slow_writer.join().unwrap();
    assert_eq!(
        dropped, SLOW,
        "slow connections still open after {writing_for:?}"
    );
    assert!(writing_for < Duration::from_secs(15), "{writing_for:?}");
    drop(idle);
    eprintln!("request beside {IDLE} idle + {SLOW} slow connections: {took:?}");
}

#[test]
fn at_the_connection_cap_the_oldest_idle_connection_is_closed_and_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let ca = interception_ca();
    let good = trusted_origin("good.test");
    let proxy = ProxyProcess::start_with(
        tmp.path(),
        &ca,
        &[("good.test", good.addr)],
        &["--metrics-listen", "127.0.0.1:0", "--max-connections", "50"],
    );
    let metrics = proxy.served("metrics");
    let mut idle: Vec<TcpStream> = Vec::new();
    for _ in 0..60 {
        idle.push(TcpStream::connect(proxy.addr).unwrap());
        // Accepted in order, so "idle the longest" is "opened first".
        std::thread::sleep(Duration::from_millis(5));
    }
    until_open(metrics, 50.0);
    // The first ten were closed to make room: they read end-of-file.
    for (n, tcp) in idle.iter_mut().enumerate() {
        tcp.set_read_timeout(Some(Duration::from_millis(if n < 10 { 5000 } else { 50 })))
            .unwrap();
        let mut byte = [0u8; 1];
        let closed = matches!(std::io::Read::read(tcp, &mut byte), Ok(0));
        assert_eq!(closed, n < 10, "connection {n}");
    }
    // A client still gets through (closing one more idle connection).
    ok(&proxy, "good.test", &good, &ca.root);
    let scrape = Scrape::take(metrics);
    assert_eq!(
        scrape.get("certmint_refusals_total", &[("reason", "connection_cap")]),
        11.0
    );
    assert_eq!(scrape.get("certmint_connections_total", &[]), 61.0);
}
