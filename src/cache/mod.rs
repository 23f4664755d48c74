//! The per-site certificate cache ([`CertCache`](crate::CertCache)): minted chains per site, kept until they expire, minted once per site even
//! under concurrent handshakes, bounded in memory by weight.
//!
//! - **Key** ([`CacheKey`]): the issuer's identity (SHA-256 of its certificate), the origin's
//!   fingerprint (SHA-256 of its DER, or none for host-only mints), the normalised host whenever
//!   it shapes the leaf, and the leaf key algorithm. An origin that rotates its certificate gets
//!   a fresh mint; a different issuer never gets another issuer's leaf.
//! - **Expiry:** min(leaf notAfter, issuer notAfter) minus [`CacheConfig::expiry_margin`]. A
//!   leaf already inside the margin (a dying or dead origin) is kept for
//!   [`CacheConfig::min_lifetime`] so it cannot make every handshake mint. An expired entry is
//!   never served: the lookup that finds it re-mints, and concurrent lookups wait for that mint.
//! - **Single flight:** concurrent misses for one key mint once; the others wait and share the
//!   result. A failed mint is remembered for [`CacheConfig::failure_lifetime`] and returned to
//!   the waiters and to later lookups in that window.
//! - **Refresh ahead:** a leaf served within [`CacheConfig::refresh_served_within`] whose expiry
//!   is less than [`CacheConfig::refresh_ahead`] away is minted again by a background thread
//!   (`certmint-refresh`), at most [`CacheConfig::refresh_rate`] a second, and swapped in; the
//!   old leaf is served until then, so no handshake waits for it. A refresh that would not
//!   extend the entry's life (a clone whose origin is about to expire) is not retried.
//! - **Bound:** total weight (bytes of chain + key + a fixed overhead) never exceeds
//!   [`CacheConfig::max_weight`]; quick_cache evicts (S3-FIFO) to stay under it.

mod entry;
mod refresh;
pub(crate) mod store;

use std::any::Any;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use quick_cache::Equivalent;
use rustls::pki_types::UnixTime;
use rustls::sign::CertifiedKey;

use crate::ca::SERIAL_LEN;
use crate::error::Error;
use crate::host::{Host, HostRef};
use crate::keys::LeafKey;
use crate::mint::minter::MintedCert;
use crate::x509::KeyAlgorithm;

/// Bytes counted per entry on top of its chain and key: the parsed key object, the entry
/// itself and the cache's bookkeeping.
pub const ENTRY_OVERHEAD: u64 = 1024;

/// Cache settings. `Default` gives the documented defaults; change fields on a default value.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheConfig {
    /// Upper bound on the total weight (default 64 MiB).
    pub max_weight: u64,
    /// Expected number of entries, for sizing (default 16,384).
    pub estimated_entries: usize,
    /// Entries expire this long before min(leaf notAfter, issuer notAfter) (default 1 hour).
    pub expiry_margin: Duration,
    /// The shortest time an entry is kept, for leaves already inside the margin (default 5
    /// minutes).
    pub min_lifetime: Duration,
    /// How long a failed mint is remembered (default 10 s).
    pub failure_lifetime: Duration,
    /// How long a failed mint is remembered when its error is transient
    /// ([`Error::is_transient`](crate::Error::is_transient): a token gone or failing), at most
    /// `failure_lifetime` (default 2 s): long enough that a failing HSM is not retried on
    /// every handshake, short enough that minting resumes within seconds of its return.
    pub transient_failure_lifetime: Duration,
    /// The longest a lookup waits for another thread's mint of the same site before giving up
    /// with [`Error::Timeout`] (default 10 s).
    pub wait_timeout: Duration,
    /// A served leaf is minted again in the background when its entry's expiry is less than
    /// this far away (default 10 minutes, so 70 minutes before the leaf's notAfter with the
    /// default margin); zero turns refresh-ahead off.
    pub refresh_ahead: Duration,
    /// Only leaves served (looked up) within this window are refreshed (default 1 hour); the
    /// others expire.
    pub refresh_served_within: Duration,
    /// Refreshes per second at most (default 50), spread evenly, so a mass expiry (after a
    /// sub-CA rotation, say) cannot starve handshakes of CPU or HSM time.
    pub refresh_rate: u32,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            max_weight: 64 * 1024 * 1024,
            estimated_entries: 16_384,
            expiry_margin: Duration::from_secs(3600),
            min_lifetime: Duration::from_secs(300),
            failure_lifetime: Duration::from_secs(10),
            transient_failure_lifetime: Duration::from_secs(2),
            wait_timeout: Duration::from_secs(10),
            refresh_ahead: Duration::from_secs(600),
            refresh_served_within: Duration::from_secs(3600),
            refresh_rate: 50,
        }
    }
}

/// The upper bounds of the mint-latency histogram's buckets
/// ([`CertCache::mint_latency`](crate::CertCache::mint_latency)):
/// 100 µs to 5 s, roughly 1-2.5-5 per decade. Mints slower than the last bound fall in one more
/// bucket.
pub const MINT_LATENCY_BUCKETS: [Duration; 15] = [
    Duration::from_micros(100),
    Duration::from_micros(250),
    Duration::from_micros(500),
    Duration::from_millis(1),
    Duration::from_micros(2500),
    Duration::from_millis(5),
    Duration::from_millis(10),
    Duration::from_millis(25),
    Duration::from_millis(50),
    Duration::from_millis(100),
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_millis(2500),
    Duration::from_secs(5),
];

/// The mint-latency histogram: successful mints per bucket of [`MINT_LATENCY_BUCKETS`].
///
/// ```
/// let latency = certmint::cache::MintLatency::default();
/// assert_eq!(latency.cumulative().count(), certmint::cache::MINT_LATENCY_BUCKETS.len());
/// assert_eq!(latency.count(), 0);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MintLatency {
    /// Mints per bucket (not cumulative): `counts[i]` took at most
    /// `MINT_LATENCY_BUCKETS[i]` and more than the bound before it; the last counts the mints
    /// slower than every bound.
    pub counts: [u64; MINT_LATENCY_BUCKETS.len() + 1],
    /// The time all mints took together.
    pub total: Duration,
}

impl MintLatency {
    /// Every mint.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// (upper bound, mints at most that slow) for each bound, as Prometheus histograms count.
    pub fn cumulative(&self) -> impl Iterator<Item = (Duration, u64)> + '_ {
        MINT_LATENCY_BUCKETS
            .iter()
            .zip(self.counts.iter().scan(0, |sum, n| {
                *sum += n;
                Some(*sum)
            }))
            .map(|(bound, n)| (*bound, n))
    }
}

/// What a cached leaf is keyed by.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct CacheKey {
    /// SHA-256 of the issuing certificate.
    pub issuer: [u8; 32],
    /// SHA-256 of the origin certificate, for clones.
    pub origin: Option<[u8; 32]>,
    /// The host, whenever it shapes the leaf.
    pub host: Option<Host>,
    /// The leaf key's algorithm.
    pub key_algorithm: KeyAlgorithm,
}

impl CacheKey {
    /// A key: the issuer's identity, the origin's fingerprint (clones), the host (when it shapes
    /// the leaf) and the leaf key's algorithm.
    pub fn new(
        issuer: [u8; 32],
        origin: Option<[u8; 32]>,
        host: Option<Host>,
        key_algorithm: KeyAlgorithm,
    ) -> Self {
        Self {
            issuer,
            origin,
            host,
            key_algorithm,
        }
    }
}

/// A borrowed [`CacheKey`]: hit-path lookups allocate nothing. Hashes exactly as the owned
/// key does (same fields, same order, `Host` and `HostRef` hash alike).
#[derive(Hash)]
pub(crate) struct CacheKeyRef<'a> {
    pub(crate) issuer: &'a [u8; 32],
    pub(crate) origin: Option<&'a [u8; 32]>,
    pub(crate) host: Option<&'a HostRef<'a>>,
    pub(crate) key_algorithm: KeyAlgorithm,
}

impl CacheKeyRef<'_> {
    pub(crate) fn to_key(&self) -> CacheKey {
        CacheKey {
            issuer: *self.issuer,
            origin: self.origin.copied(),
            host: self.host.map(|h| h.clone().into_owned()),
            key_algorithm: self.key_algorithm,
        }
    }
}

impl Equivalent<CacheKey> for CacheKeyRef<'_> {
    fn equivalent(&self, key: &CacheKey) -> bool {
        self.key_algorithm == key.key_algorithm
            && *self.issuer == key.issuer
            && self.origin == key.origin.as_ref()
            && match (self.host, &key.host) {
                (None, None) => true,
                (Some(a), Some(b)) => a.matches(b),
                _ => false,
            }
    }
}

/// How a lookup was answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// A fresh entry was in the cache.
    Hit,
    /// This lookup minted (the key was absent, or its entry had expired).
    Minted,
    /// Another lookup was minting this key; this one waited for its result.
    Coalesced,
}

/// A served chain, its private key, and how it was found.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Lookup {
    /// The cached leaf (one reference count per lookup).
    pub(crate) served: Arc<Served>,
    /// Hit, minted or coalesced.
    pub outcome: Outcome,
    /// Time spent minting, when this lookup minted.
    pub mint_time: Option<Duration>,
}

/// A minted chain as the cache keeps it.
#[derive(Debug)]
pub(crate) struct Served {
    pub(crate) certified_key: Arc<CertifiedKey>,
    pub(crate) key: Arc<LeafKey>,
    pub(crate) verdict: OriginVerdict,
    pub(crate) serial: [u8; SERIAL_LEN],
    pub(crate) not_after: UnixTime,
    /// The caller's data about this entry (see [`Lookup::attach`]).
    pub(crate) attachment: OnceLock<Attachment>,
}

/// What [`Lookup::attach`] stores: any `Send + Sync` value.
pub(crate) struct Attachment(Box<dyn Any + Send + Sync>);

impl std::fmt::Debug for Attachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Attachment")
    }
}

impl Lookup {
    /// The chain and key for rustls.
    pub fn certified_key(&self) -> &Arc<CertifiedKey> {
        &self.served.certified_key
    }

    /// The leaf's private key (C servers load it into their TLS library beside the chain).
    pub fn key(&self) -> &Arc<LeafKey> {
        &self.served.key
    }

    /// What origin validation decided when the leaf was minted (stored with the entry: a hit
    /// does not validate again).
    pub fn verdict(&self) -> OriginVerdict {
        self.served.verdict
    }

    /// The leaf's serial number (20 octets).
    pub fn serial(&self) -> &[u8; SERIAL_LEN] {
        &self.served.serial
    }

    /// The leaf's notAfter.
    pub fn not_after(&self) -> UnixTime {
        self.served.not_after
    }

    /// Attaches `value` to the cached entry this lookup found, unless something is attached
    /// already, and returns what is attached when it is a `T`. Every later lookup of the same
    /// entry sees it ([`Lookup::attachment`]); it is dropped with the entry (evicted, expired or
    /// purged, once the last lookup holding it is gone).
    ///
    /// For a server's own parsed form of the chain and key (an OpenSSL `X509`/`EVP_PKEY`, say),
    /// so a cache hit does not parse them again. Attachments do not count towards the cache's
    /// weight bound.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use certmint::{testing::ThrowawayCa, CaSpec, ClientKeySupport, Deployment, KeyAlgorithm};
    /// # let ca = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256)?;
    /// # let deployment = Deployment::builder().ca(CaSpec::from_issuer("corp", Arc::new(ca.issuer()?))).build()?;
    /// struct Parsed(usize); // stands for a TLS library's parsed chain
    /// let first = deployment.lookup(Some("a.example"), &[], ClientKeySupport::all())?;
    /// assert!(first.attachment::<Parsed>().is_none());
    /// first.attach(Parsed(first.certified_key().cert.len()));
    /// let hit = deployment.lookup(Some("a.example"), &[], ClientKeySupport::all())?;
    /// assert_eq!(hit.attachment::<Parsed>().map(|p| p.0), Some(2));
    /// # Ok::<(), certmint::Error>(())
    /// ```
    pub fn attach<T: Any + Send + Sync>(&self, value: T) -> Option<&T> {
        self.served
            .attachment
            .get_or_init(|| Attachment(Box::new(value)))
            .0
            .downcast_ref()
    }

    /// What is attached to this entry, when it is a `T` (see [`Lookup::attach`]).
    pub fn attachment<T: Any + Send + Sync>(&self) -> Option<&T> {
        self.served.attachment.get()?.0.downcast_ref()
    }
}

/// A mint's result as the cache stores it: the certificate, the origin verdict, and how to
/// mint it again (for refresh-ahead; `None` for entries that cannot be refreshed).
pub(crate) struct Minted {
    pub(crate) cert: MintedCert,
    pub(crate) verdict: OriginVerdict,
    pub(crate) remint: Option<Remint>,
}

/// How to mint an entry again: owns what its first mint used (the minter chosen for it, the
/// origin certificate, the host), so the refresh thread can repeat it.
#[derive(Clone)]
pub(crate) struct Remint {
    mint: Arc<dyn Fn(UnixTime) -> Result<MintedCert, Error> + Send + Sync>,
    /// Bytes it holds, counted in its entry's weight.
    weight: u64,
}

impl Remint {
    /// `mint(now)` mints the entry's leaf anew; `weight` is the bytes the closure owns.
    pub(crate) fn new(
        weight: usize,
        mint: impl Fn(UnixTime) -> Result<MintedCert, Error> + Send + Sync + 'static,
    ) -> Self {
        Self {
            mint: Arc::new(mint),
            weight: u64::try_from(weight).unwrap_or(u64::MAX),
        }
    }

    /// Mints, as of `now`.
    pub(crate) fn mint(&self, now: UnixTime) -> Result<MintedCert, Error> {
        (self.mint)(now)
    }
}

impl std::fmt::Debug for Remint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remint")
            .field("weight", &self.weight)
            .finish_non_exhaustive()
    }
}

/// What origin validation decided for a cached leaf.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OriginVerdict {
    /// No origin chain was validated (a host-only leaf, or a caller that mints directly).
    NotChecked,
    /// The origin's chain validated for the host; the leaf is signed by a trusted CA.
    Trusted,
    /// The origin's chain did not validate; the leaf mirrors the distrust under the untrusted
    /// CA.
    Untrusted,
}

/// Counters, read cheaply at any time. `Display` gives one line for logs:
///
/// ```
/// let stats = certmint::cache::CacheStats::default();
/// assert!(stats.to_string().starts_with("hits 0, misses 0"));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// Lookups answered by a fresh entry.
    pub hits: u64,
    /// Lookups that found no usable entry (absent or expired) and minted.
    pub misses: u64,
    /// Successful mints.
    pub mints: u64,
    /// Lookups that waited for another lookup's mint.
    pub coalesced: u64,
    /// Entries found expired (and replaced).
    pub expirations: u64,
    /// Entries evicted to stay under the weight bound.
    pub evictions: u64,
    /// Failed mints.
    pub mint_errors: u64,
    /// Lookups answered by a remembered failure.
    pub cached_failures: u64,
    /// Lookups that gave up waiting for another lookup's mint.
    pub wait_timeouts: u64,
    /// Entries minted again ahead of expiry and swapped in (refresh-ahead).
    pub refreshes: u64,
    /// Refreshes that failed (the old leaf is served until it expires; counted in
    /// `mint_errors` too).
    pub refresh_errors: u64,
    /// Entries waiting for the refresh thread now.
    pub refresh_pending: u64,
    /// Fastest mint (zero before the first).
    pub mint_min: Duration,
    /// Mean mint time.
    pub mint_avg: Duration,
    /// Slowest mint.
    pub mint_max: Duration,
    /// Entries now.
    pub entries: u64,
    /// Weight now.
    pub weight: u64,
}

impl std::fmt::Display for CacheStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        write!(
            f,
            "hits {}, misses {}, mints {} (min {:.2} ms, avg {:.2} ms, max {:.2} ms), coalesced {}, \
             expirations {}, evictions {}, mint errors {}, remembered failures {}, wait timeouts {}, \
             refreshes {} ({} failed, {} pending), entries {}, weight {} B",
            self.hits,
            self.misses,
            self.mints,
            ms(self.mint_min),
            ms(self.mint_avg),
            ms(self.mint_max),
            self.coalesced,
            self.expirations,
            self.evictions,
            self.mint_errors,
            self.cached_failures,
            self.wait_timeouts,
            self.refreshes,
            self.refresh_errors,
            self.refresh_pending,
            self.entries,
            self.weight
        )
    }
}
