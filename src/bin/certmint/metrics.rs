//! The proxy's Prometheus metrics (`[metrics] listen`, `--metrics-listen`): `GET /metrics` in the
//! Prometheus text format, encoded by prometheus-client.
//!
//! Two sources: the proxy's own counters (connections, refusals by reason), kept in
//! prometheus-client's atomic types, and the deployment's numbers
//! ([`certmint::Deployment::stats`]: cache, mint latency, mint errors, key pool, CAs, PKCS#11
//! signatures), read at each scrape by a collector. CA health probes a signature per CA, so it
//! is probed at most every 10 s.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use certmint::registry::CaHealth;
use certmint::Deployment;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

use crate::http::status;

/// Why the proxy turned a connection away or cut it short.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The origin's chain did not validate and untrusted origins are refused.
    UntrustedOrigin,
    /// The CONNECT target or the SNI is not a valid host name or IP literal.
    BadSni,
    /// The origin could not be reached, or its TLS handshake failed.
    UpstreamFailure,
    /// Closed to make room at the connection cap.
    ConnectionCap,
    /// The client took longer than the handshake timeout (CONNECT, ClientHello, handshake).
    HandshakeTimeout,
    /// Not a CONNECT request.
    NotConnect,
    /// No certificate could be minted (a CA or token failure; see the mint errors).
    MintFailure,
}

impl Refusal {
    fn label(self) -> &'static str {
        match self {
            Self::UntrustedOrigin => "untrusted_origin",
            Self::BadSni => "bad_sni",
            Self::UpstreamFailure => "upstream_failure",
            Self::ConnectionCap => "connection_cap",
            Self::HandshakeTimeout => "handshake_timeout",
            Self::NotConnect => "not_connect",
            Self::MintFailure => "mint_failure",
        }
    }
}

type Labels = [(&'static str, &'static str); 1];

/// The proxy's own counters.
#[derive(Debug, Default)]
pub(crate) struct ProxyMetrics {
    connections_total: Counter,
    connections_open: Gauge,
    refusals: Family<Labels, Counter>,
}

impl ProxyMetrics {
    pub(crate) fn opened(&self) {
        self.connections_total.inc();
        self.connections_open.inc();
    }

    pub(crate) fn closed(&self) {
        self.connections_open.dec();
    }

    pub(crate) fn refused(&self, why: Refusal) {
        self.refusals
            .get_or_create(&[("reason", why.label())])
            .inc();
    }
}

/// Everything `/metrics` shows.
pub(crate) struct Metrics {
    registry: Registry,
}

impl Metrics {
    pub(crate) fn new(proxy: &ProxyMetrics, deployment: Arc<Deployment>) -> Self {
        let mut registry = Registry::with_prefix("certmint");
        registry.register(
            "connections",
            "Client connections accepted",
            proxy.connections_total.clone(),
        );
        registry.register(
            "connections_open",
            "Client connections open now",
            proxy.connections_open.clone(),
        );
        registry.register(
            "refusals",
            "Connections refused or cut short, by reason",
            proxy.refusals.clone(),
        );
        registry.register_collector(Box::new(DeploymentCollector {
            deployment,
            health: Mutex::new(None),
        }));
        Self { registry }
    }

    /// The Prometheus text format (version 0.0.4).
    pub(crate) fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// Serves `GET /metrics` on `listener` until the task is dropped.
pub(crate) async fn serve(metrics: Arc<Metrics>, listener: TcpListener) {
    crate::http::serve(listener, move |request: Request<Incoming>| {
        let metrics = Arc::clone(&metrics);
        async move {
            if request.method() != Method::GET {
                return status(StatusCode::METHOD_NOT_ALLOWED);
            }
            if request.uri().path() != "/metrics" {
                return status(StatusCode::NOT_FOUND);
            }
            // The collector may probe CA keys (a token signature): off the runtime's workers.
            match tokio::task::spawn_blocking(move || metrics.encode()).await {
                Ok(Ok(text)) => Response::builder()
                    .header(
                        hyper::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )
                    .body(Full::new(Bytes::from(text)))
                    .unwrap_or_else(|_| status(StatusCode::INTERNAL_SERVER_ERROR)),
                _ => status(StatusCode::INTERNAL_SERVER_ERROR),
            }
        }
    })
    .await;
}

/// How long a CA health probe stands.
const HEALTH_FOR: Duration = Duration::from_secs(10);

/// Each CA's health state (`ok`, `expiring_soon`, `failing`) and when it was probed.
type Probed = (Instant, Vec<(String, &'static str)>);

/// Reads the deployment's numbers at each scrape.
#[derive(Debug)]
struct DeploymentCollector {
    deployment: Arc<Deployment>,
    health: Mutex<Option<Probed>>,
}

impl DeploymentCollector {
    /// Each CA's health state, probed at most every [`HEALTH_FOR`].
    fn health(&self) -> Vec<(String, &'static str)> {
        let mut cached = self.health.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, health)) = &*cached {
            if at.elapsed() < HEALTH_FOR {
                return health.clone();
            }
        }
        let health: Vec<_> = self
            .deployment
            .ca_health()
            .into_iter()
            .map(|(id, h)| {
                let state = match h {
                    CaHealth::Ok => "ok",
                    CaHealth::ExpiringSoon => "expiring_soon",
                    _ => "failing",
                };
                (id, state)
            })
            .collect();
        *cached = Some((Instant::now(), health.clone()));
        health
    }
}

/// Labels of one sample.
type Sample<M> = (Vec<(&'static str, String)>, M);

/// One metric family of constant samples: `name`, `help`, and (labels, value) samples.
fn family<M: EncodeMetric>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    kind: MetricType,
    samples: Vec<Sample<M>>,
) -> Result<(), std::fmt::Error> {
    let mut metric = encoder.encode_descriptor(name, help, None, kind)?;
    for (labels, value) in &samples {
        value.encode(metric.encode_family(labels)?)?;
    }
    Ok(())
}

fn counter(n: u64) -> ConstCounter<u64> {
    ConstCounter::new(n)
}

fn gauge(n: u64) -> ConstGauge<i64> {
    ConstGauge::new(i64::try_from(n).unwrap_or(i64::MAX))
}

fn one<M>(value: M) -> Vec<Sample<M>> {
    vec![(Vec::new(), value)]
}

impl Collector for DeploymentCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        use MetricType::{Counter as C, Gauge as G};
        let stats = self.deployment.stats();
        let cache = &stats.cache;
        let counters: [(&str, &str, u64); 12] = [
            (
                "cache_hits",
                "Lookups answered by a fresh cached leaf",
                cache.hits,
            ),
            ("cache_misses", "Lookups that minted", cache.misses),
            ("mints", "Leaves minted", cache.mints),
            (
                "cache_coalesced",
                "Lookups that waited for another lookup's mint of the same site",
                cache.coalesced,
            ),
            (
                "cache_evictions",
                "Entries evicted to stay under the cache bound",
                cache.evictions,
            ),
            (
                "cache_expirations",
                "Entries found expired and minted again",
                cache.expirations,
            ),
            (
                "cache_remembered_failures",
                "Lookups answered by a remembered mint failure",
                cache.cached_failures,
            ),
            (
                "cache_wait_timeouts",
                "Lookups that gave up waiting for another lookup's mint",
                cache.wait_timeouts,
            ),
            (
                "cache_refreshes",
                "Cached leaves minted again ahead of expiry and swapped in",
                cache.refreshes,
            ),
            (
                "cache_refresh_errors",
                "Refreshes that failed (the old leaf is served until it expires)",
                cache.refresh_errors,
            ),
            (
                "reloads",
                "Configuration reloads that took effect",
                stats.reloads,
            ),
            (
                "reload_failures",
                "Configuration reloads refused (the running one was kept)",
                stats.reload_failures,
            ),
        ];
        for (name, help, value) in counters {
            family(&mut encoder, name, help, C, one(counter(value)))?;
        }
        let gauges: [(&str, &str, u64); 3] = [
            ("cache_entries", "Entries in the cache", cache.entries),
            (
                "cache_refresh_pending",
                "Entries waiting for the refresh thread",
                cache.refresh_pending,
            ),
            (
                "cache_weight_bytes",
                "Bytes the cache holds (its bounded weight)",
                cache.weight,
            ),
        ];
        for (name, help, value) in gauges {
            family(&mut encoder, name, help, G, one(gauge(value)))?;
        }
        let errors: Vec<_> = stats
            .mint_errors
            .iter()
            .map(|(kind, n)| (vec![("kind", (*kind).to_owned())], counter(*n)))
            .collect();
        family(
            &mut encoder,
            "mint_errors",
            "Failed mints, by kind of error",
            C,
            errors,
        )?;

        let latency = &stats.mint_latency;
        let mut buckets: Vec<(f64, u64)> = certmint::cache::MINT_LATENCY_BUCKETS
            .iter()
            .zip(&latency.counts)
            .map(|(bound, n)| (bound.as_secs_f64(), *n))
            .collect();
        buckets.push((f64::INFINITY, latency.counts[latency.counts.len() - 1]));
        let mut histogram = encoder.encode_descriptor(
            "mint_duration_seconds",
            "Time to mint a leaf (successful mints)",
            None,
            MetricType::Histogram,
        )?;
        histogram.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
            latency.total.as_secs_f64(),
            latency.count(),
            &buckets,
            None,
        )?;

        let ready: Vec<_> = stats
            .keys_ready
            .iter()
            .map(|(alg, n)| (vec![("algorithm", alg.to_string())], gauge(*n as u64)))
            .collect();
        family(
            &mut encoder,
            "key_pool_ready",
            "Leaf keys ready in the pool, by algorithm",
            G,
            ready,
        )?;
        let pool = &stats.key_pool;
        let made = vec![
            (
                vec![("where", "background".to_owned())],
                counter(pool.generated_background),
            ),
            (
                vec![("where", "inline".to_owned())],
                counter(pool.generated_inline),
            ),
        ];
        family(
            &mut encoder,
            "key_pool_generated",
            "Leaf keys generated, in the background or inline (the pool was empty)",
            C,
            made,
        )?;

        let ca = |id: &str| vec![("ca", id.to_owned())];
        let flag = |b: bool| gauge(u64::from(b));
        let enabled: Vec<_> = stats
            .cas
            .iter()
            .map(|c| (ca(&c.id), flag(c.enabled)))
            .collect();
        family(
            &mut encoder,
            "ca_enabled",
            "1 if the CA is enabled",
            G,
            enabled,
        )?;
        let default: Vec<_> = stats
            .cas
            .iter()
            .map(|c| (ca(&c.id), flag(c.default)))
            .collect();
        family(
            &mut encoder,
            "ca_default",
            "1 for the default CA",
            G,
            default,
        )?;
        let untrusted: Vec<_> = stats
            .cas
            .iter()
            .map(|c| (ca(&c.id), flag(c.untrusted)))
            .collect();
        family(
            &mut encoder,
            "ca_untrusted",
            "1 for the CA that mirrors distrust",
            G,
            untrusted,
        )?;
        let not_after: Vec<_> = stats
            .cas
            .iter()
            .map(|c| (ca(&c.id), gauge(c.not_after.as_secs())))
            .collect();
        family(
            &mut encoder,
            "ca_not_after_seconds",
            "The CA certificate's notAfter (Unix time)",
            G,
            not_after,
        )?;
        let issuing: Vec<_> = stats
            .cas
            .iter()
            .map(|c| {
                (
                    ca(&c.id),
                    gauge(c.issuing_not_after.map_or(0, |t| t.as_secs())),
                )
            })
            .collect();
        family(
            &mut encoder,
            "ca_issuing_not_after_seconds",
            "notAfter of what signs leaves now: the current rotating sub-CA, or the CA itself (0: none usable)",
            G,
            issuing,
        )?;
        let health: Vec<_> = self
            .health()
            .into_iter()
            .flat_map(|(id, state)| {
                ["ok", "expiring_soon", "failing"].map(|s| {
                    (
                        vec![("ca", id.clone()), ("state", s.to_owned())],
                        flag(s == state),
                    )
                })
            })
            .collect();
        family(
            &mut encoder,
            "ca_health",
            "1 for the CA's health state now (a signature probe, at most every 10 s)",
            G,
            health,
        )?;
        let hsm = |pick: fn(&certmint::ca::SignerCounters) -> u64| -> Vec<_> {
            stats
                .cas
                .iter()
                .filter_map(|c| Some((ca(&c.id), counter(pick(c.signer.as_ref()?)))))
                .collect()
        };
        family(
            &mut encoder,
            "hsm_signatures",
            "Signatures made by a CA's PKCS#11 token",
            C,
            hsm(|s| s.signatures),
        )?;
        family(
            &mut encoder,
            "hsm_errors",
            "Signatures a CA's PKCS#11 token failed to make (refused, unreachable, or wrong)",
            C,
            hsm(|s| s.errors),
        )?;
        family(
            &mut encoder,
            "hsm_reconnects",
            "Times a CA's PKCS#11 signer reconnected to its token",
            C,
            hsm(|s| s.reconnects),
        )?;
        Ok(())
    }
}
