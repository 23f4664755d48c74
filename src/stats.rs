//! What a [`Deployment`](crate::Deployment) reports about itself, as plain numbers: the cache,
//! mint latency and errors, the key pool, and each CA ([`Deployment::stats`](crate::Deployment::stats)).
//! No exporter is built in: a proxy turns these into its metrics (the CLI serves them to
//! Prometheus), and the C ABI returns them as a struct.

use rustls::pki_types::UnixTime;

use crate::ca::SignerCounters;
use crate::cache::{CacheStats, MintLatency};
use crate::keys::KeyPoolStats;
use crate::x509::KeyAlgorithm;

/// A deployment's numbers at one moment. Counters count from the deployment's start.
///
/// ```
/// use std::sync::Arc;
/// use certmint::{testing::ThrowawayCa, CaSpec, ClientKeySupport, Deployment, KeyAlgorithm};
/// let ca = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256)?;
/// let deployment = Deployment::builder().ca(CaSpec::from_issuer("corp", Arc::new(ca.issuer()?))).build()?;
/// deployment.lookup(Some("a.example"), &[], ClientKeySupport::all())?;
/// deployment.lookup(Some("a.example"), &[], ClientKeySupport::all())?;
/// let stats = deployment.stats();
/// assert_eq!((stats.cache.misses, stats.cache.hits), (1, 1));
/// assert_eq!(stats.mint_latency.count(), 1);
/// assert!(stats.cas.iter().any(|ca| ca.id == "corp" && ca.default));
/// # deployment.shutdown();
/// # Ok::<(), certmint::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeploymentStats {
    /// Hits, misses, mints, coalesced waits, evictions, expirations, mint errors, entries and
    /// weight.
    pub cache: CacheStats,
    /// Successful mints by latency.
    pub mint_latency: MintLatency,
    /// Failed mints by [`Error::kind_name`](crate::Error::kind_name).
    pub mint_errors: Vec<(&'static str, u64)>,
    /// The key pool's counters.
    pub key_pool: KeyPoolStats,
    /// Leaf keys ready now, per algorithm in use.
    pub keys_ready: Vec<(KeyAlgorithm, usize)>,
    /// Every CA: the trusted ones in configuration order, then the untrusted CA, if any.
    pub cas: Vec<CaStats>,
    /// Successful reloads ([`Deployment::reload`](crate::Deployment::reload)).
    pub reloads: u64,
    /// Reloads refused (the running configuration was kept).
    pub reload_failures: u64,
}

/// One CA's state.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CaStats {
    /// The CA's id.
    pub id: String,
    /// Whether it is enabled (the untrusted CA: whether untrusted origins are mirrored).
    pub enabled: bool,
    /// Whether it is the default CA.
    pub default: bool,
    /// Whether this is the CA that mirrors distrust.
    pub untrusted: bool,
    /// The CA certificate's notAfter.
    pub not_after: UnixTime,
    /// The notAfter of what signs leaves now: the current rotating sub-CA, or the CA itself.
    /// `None` when the rotating issuer has no usable sub-CA.
    pub issuing_not_after: Option<UnixTime>,
    /// The CA key's signer counters (a PKCS#11 token's signatures and errors); `None` for a
    /// software key.
    pub signer: Option<SignerCounters>,
}
