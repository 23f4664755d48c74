//! The front door: a [`Deployment`] is everything an intercepting proxy needs (trusted CAs with
//! their default and rules, the untrusted CA and policy, the roots origins are validated
//! against, the key pool and the cache), built from the TOML configuration or from a
//! [`DeploymentBuilder`] (the configuration file fills in the same builder: see
//! [`config::load`](crate::config::load)). The CLI proxy, a Rust proxy and the C ABI all start
//! here.
//!
//! ```
//! use std::sync::Arc;
//! use certmint::{testing::ThrowawayCa, CaSpec, ClientKeySupport, Deployment, KeyAlgorithm};
//! let ca = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256)?;
//! let deployment = Deployment::builder()
//!     .ca(CaSpec::from_issuer("corp", Arc::new(ca.issuer()?)))
//!     .build()?;
//! // Client-first: from the SNI alone (no origin chain to validate).
//! let found = deployment.lookup(Some("www.example.com"), &[], ClientKeySupport::all())?;
//! assert_eq!(found.certified_key().cert.len(), 2);
//! # deployment.shutdown();
//! # Ok::<(), certmint::Error>(())
//! ```

mod spec;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, RwLock, Weak};

use rustls::pki_types::CertificateDer;
use rustls::RootCertStore;

pub use spec::CaSpec;

use crate::cache::store::CertCache;
use crate::cache::{CacheConfig, CacheStats, Lookup, OriginVerdict};
use crate::clock::{Clock, SystemClock};
use crate::error::{ConfigError, ConfigErrorKind, Error};
use crate::keys::{KeyPool, KeyPoolConfig, KeyPoolStats};
use crate::mint::minter::{MintRequest, MintedCert, Minter};
use crate::mint::MintPolicy;
use crate::origin_trust::{OriginVerifier, UntrustedPolicy};
use crate::registry::store::{CaHealth, CaRegistry, CaStore, SingleCa};
use crate::registry::SelectionRule;
use crate::resolver::{ClientKeySupport, OriginCheck, Resolver};
use crate::stats::{CaStats, DeploymentStats};
use crate::x509::cert::ParsedCert;

/// Refuses an untrusted CA that clients would trust: one that shares a certificate or a key
/// with a trusted CA's chain (roots included), that issued a certificate of such a chain, or
/// whose probe leaf validates with any trusted chain certificate as a trust anchor.
fn check_distrusted(id: &str, untrusted: &Minter, trusted: &[Arc<Minter>]) -> Result<(), Error> {
    let refuse = || -> Error {
        ConfigError {
            path: None,
            line: None,
            kind: ConfigErrorKind::UntrustedCaIsTrusted(id.to_owned()),
        }
        .into()
    };
    let ours = untrusted.anchor_issuer();
    let our_spki = ours.signer().subject_public_key_info();
    let trusted_certs: Vec<CertificateDer<'static>> = trusted
        .iter()
        .flat_map(|m| {
            m.anchor_issuer()
                .all_certificates()
                .cloned()
                .collect::<Vec<_>>()
        })
        .collect();
    for cert in &trusted_certs {
        let Ok(parsed) = ParsedCert::parse(cert.as_ref()) else {
            continue;
        };
        let issued_by_us = parsed.issuer.raw == ours.subject()
            && parsed
                .authority_key_id()
                .is_none_or(|aki| aki == ours.key_id());
        if ours.all_certificates().any(|c| c == cert)
            || parsed.spki == our_spki.as_ref()
            || issued_by_us
        {
            return Err(refuse());
        }
    }
    // A probe leaf must not validate with any trusted certificate as a trust anchor.
    let probe = untrusted.mint(&MintRequest::for_host(DISTRUST_PROBE_HOST))?;
    let Ok(ee) = webpki::EndEntityCert::try_from(probe.leaf()) else {
        return Ok(());
    };
    let anchors: Vec<_> = trusted_certs
        .iter()
        .filter_map(|c| webpki::anchor_from_trusted_cert(c).ok())
        .collect();
    let verified = ee.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &anchors,
        &probe.chain()[1..],
        rustls::pki_types::UnixTime::now(),
        webpki::KeyUsage::server_auth(),
        None,
        None,
    );
    if verified.is_ok() {
        return Err(refuse());
    }
    Ok(())
}

const DISTRUST_PROBE_HOST: &str = "distrust-probe.certmint.invalid";

/// Builds a [`Deployment`]. Nothing is opened until [`DeploymentBuilder::build`].
#[derive(Debug, Default)]
pub struct DeploymentBuilder {
    cas: Vec<CaSpec>,
    default_ca: Option<String>,
    rules: Vec<SelectionRule>,
    untrusted_policy: UntrustedPolicy,
    untrusted_ca: Option<CaSpec>,
    roots: Option<RootCertStore>,
    root_files: Vec<PathBuf>,
    cache: CacheConfig,
    key_pool: KeyPoolConfig,
    mint_policy: MintPolicy,
}

impl DeploymentBuilder {
    /// An empty builder (no CA yet; at least one is required).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a trusted CA. The first enabled CA is the default unless
    /// [`DeploymentBuilder::default_ca`] names another.
    pub fn ca(mut self, ca: CaSpec) -> Self {
        self.cas.push(ca);
        self
    }

    /// The default CA's id.
    pub fn default_ca(mut self, id: &str) -> Self {
        self.default_ca = Some(id.to_owned());
        self
    }

    /// A selection rule (tried in the order added, before the default).
    pub fn rule(mut self, rule: SelectionRule) -> Self {
        self.rules.push(rule);
        self
    }

    /// What to do with origins whose chain does not validate (default: refuse).
    pub fn untrusted_policy(mut self, policy: UntrustedPolicy) -> Self {
        self.untrusted_policy = policy;
        self
    }

    /// The CA that mirrors distrust (clients must not trust it); required for
    /// [`UntrustedPolicy::MirrorDistrust`].
    pub fn untrusted_ca(mut self, ca: CaSpec) -> Self {
        self.untrusted_ca = Some(ca);
        self
    }

    /// Validate origins against these roots (default: the Mozilla roots, see
    /// [`OriginVerifier::mozilla_roots`]).
    pub fn upstream_roots(mut self, roots: RootCertStore) -> Self {
        self.roots = Some(roots);
        self
    }

    /// Adds the roots in a PEM file to those origins are validated against.
    pub fn upstream_roots_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.root_files.push(path.into());
        self
    }

    /// The cache's settings.
    pub fn cache_config(mut self, config: CacheConfig) -> Self {
        self.cache = config;
        self
    }

    /// The cache's settings, to change one field.
    pub fn cache_config_mut(&mut self) -> &mut CacheConfig {
        &mut self.cache
    }

    /// The key pool's settings.
    pub fn key_pool_config(mut self, config: KeyPoolConfig) -> Self {
        self.key_pool = config;
        self
    }

    /// The policy every CA's leaves are minted with.
    pub fn mint_policy(mut self, policy: MintPolicy) -> Self {
        self.mint_policy = policy;
        self
    }

    /// Opens every key, checks every CA, and starts the key pool.
    pub fn build(self) -> Result<Deployment, Error> {
        let system_clock = SystemClock::new();
        let clock: Arc<dyn Clock> = Arc::new(system_clock.clone());
        let keys = Arc::new(KeyPool::new(self.key_pool.clone()));
        let cache = Arc::new(CertCache::with_clock(
            self.cache.clone(),
            Arc::clone(&clock),
        ));
        let (registry, loaded) = self.load(&keys, &clock, None)?;
        let registry = Arc::new(registry);
        registry.attach_cache(Arc::clone(&cache));
        let shared: Arc<CaRegistry> = Arc::clone(&registry);
        let store: Arc<dyn CaStore> = shared;
        let resolver = Resolver::with_store(store, Arc::clone(&cache));
        let threads = Arc::new(Threads {
            clock: system_clock,
            keys: Arc::clone(&keys),
            cache: Arc::clone(&cache),
            registry: Arc::clone(&registry),
            loaded: RwLock::new(Arc::new(loaded)),
        });
        register(&threads);
        Ok(Deployment {
            registry,
            cache,
            keys,
            resolver,
            threads,
            clock,
            started_with: (self.cache, self.key_pool),
            reloads: AtomicU64::new(0),
            reload_failures: AtomicU64::new(0),
        })
    }

    /// Opens every CA (reusing `previous`'s minter for a CA that mints as before), checks the
    /// untrusted CA against the trusted ones, and reads the roots: everything a deployment's
    /// CAs and origin trust are made of, not yet in use.
    fn load(
        &self,
        keys: &Arc<KeyPool>,
        clock: &Arc<dyn Clock>,
        previous: Option<&Loaded>,
    ) -> Result<(CaRegistry, Loaded), Error> {
        if self.cas.is_empty() {
            return Err(config_error(ConfigErrorKind::NoCa));
        }
        if self.untrusted_policy == UntrustedPolicy::MirrorDistrust && self.untrusted_ca.is_none() {
            return Err(config_error(ConfigErrorKind::MirrorNeedsCa));
        }
        let open = |spec: &CaSpec, was: Option<&(CaSpec, Arc<Minter>)>| -> Result<_, Error> {
            let issuer = spec.issuer()?;
            if let Some((old_spec, old)) = was {
                let same_policy = previous.is_some_and(|p| p.mint_policy == self.mint_policy);
                if same_policy && spec.mints_like(&issuer, old_spec, old.anchor_issuer()) {
                    return Ok((spec.clone(), Arc::clone(old)));
                }
            }
            let minter = spec.minter_from(issuer, keys, &self.mint_policy, clock)?;
            Ok((spec.clone(), Arc::new(minter)))
        };
        let registry = CaRegistry::new();
        let mut cas = Vec::with_capacity(self.cas.len());
        for spec in &self.cas {
            let was = previous.and_then(|p| p.cas.iter().find(|(s, _)| s.id() == spec.id()));
            let (spec, minter) = open(spec, was)?;
            registry.add(spec.id(), Arc::clone(&minter), spec.enabled())?;
            cas.push((spec, minter));
        }
        for rule in &self.rules {
            registry.add_rule(rule.clone())?;
        }
        if let Some(id) = &self.default_ca {
            registry.set_default(id)?;
        }
        let untrusted = match (&self.untrusted_policy, &self.untrusted_ca) {
            (UntrustedPolicy::MirrorDistrust, Some(spec)) => {
                let was = previous.and_then(|p| p.untrusted.as_ref());
                let (spec, minter) = open(spec, was)?;
                check_distrusted(spec.id(), &minter, &registry.minters())?;
                Some((spec, minter))
            }
            _ => None,
        };
        let roots = match (&self.roots, self.root_files.is_empty()) {
            (None, true) => None,
            (roots, _) => {
                let mut roots = roots.clone().unwrap_or_else(RootCertStore::empty);
                for path in &self.root_files {
                    for cert in crate::pem::read_certificates(path)? {
                        roots.add(cert)?;
                    }
                }
                Some(roots)
            }
        };
        let trust_id = trust_id(roots.as_ref(), untrusted.as_ref().map(|(_, m)| m));
        let verifier = match roots {
            None => OriginVerifier::mozilla_roots()?,
            Some(roots) => OriginVerifier::new(roots)?,
        };
        let loaded = Loaded {
            cas,
            untrusted,
            verifier,
            trust_id,
            mint_policy: self.mint_policy.clone(),
        };
        Ok((registry, loaded))
    }
}

fn config_error(kind: ConfigErrorKind) -> Error {
    ConfigError {
        path: None,
        line: None,
        kind,
    }
    .into()
}

/// What origin validation decides depends on: the roots (`None`: the Mozilla roots) and the CA
/// that mirrors distrust (`None`: untrusted origins are refused).
fn trust_id(roots: Option<&RootCertStore>, untrusted: Option<&Arc<Minter>>) -> [u8; 32] {
    use crate::crypto::backend::digest;
    let mut ctx = digest::Context::new(&digest::SHA256);
    match roots {
        None => ctx.update(b"mozilla roots"),
        Some(roots) => {
            for anchor in &roots.roots {
                for part in [
                    anchor.subject.as_ref(),
                    anchor.subject_public_key_info.as_ref(),
                    anchor.name_constraints.as_deref().unwrap_or(&[]),
                ] {
                    ctx.update(&(part.len() as u64).to_be_bytes());
                    ctx.update(part);
                }
            }
        }
    }
    match untrusted {
        None => ctx.update(b"refuse"),
        Some(minter) => ctx.update(minter.issuer_id()),
    }
    let mut id = [0u8; 32];
    id.copy_from_slice(ctx.finish().as_ref());
    id
}

/// What a [`Deployment::reload`] changed. `Display` gives one line for logs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reloaded {
    /// CAs that kept their running minter (same certificate, options, rotation and mint
    /// policy) and their cached leaves.
    pub kept: Vec<String>,
    /// CAs loaded again with something changed: their cached leaves were dropped.
    pub replaced: Vec<String>,
    /// CAs that are new.
    pub added: Vec<String>,
    /// CAs no longer configured: their cached leaves were dropped.
    pub removed: Vec<String>,
    /// Cache entries dropped.
    pub purged: u64,
    /// Settings that changed but take effect only at a restart (`"cache"`, `"key pool"`).
    pub restart_needed: Vec<&'static str>,
}

impl std::fmt::Display for Reloaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = |ids: &[String]| {
            if ids.is_empty() {
                "-".to_owned()
            } else {
                ids.join(",")
            }
        };
        write!(
            f,
            "kept {}, replaced {}, added {}, removed {}; {} cached leaves dropped",
            list(&self.kept),
            list(&self.replaced),
            list(&self.added),
            list(&self.removed),
            self.purged
        )?;
        if !self.restart_needed.is_empty() {
            write!(
                f,
                "; {} settings take effect at the next restart",
                self.restart_needed.join(" and ")
            )?;
        }
        Ok(())
    }
}

/// A deployment's CAs as loaded, the untrusted CA and the origin verifier: what a reload
/// replaces as a whole.
#[derive(Debug)]
struct Loaded {
    /// Each CA's spec and the minter made from it (to tell, at a reload, which are unchanged).
    cas: Vec<(CaSpec, Arc<Minter>)>,
    /// The CA that mirrors distrust, under [`UntrustedPolicy::MirrorDistrust`].
    untrusted: Option<(CaSpec, Arc<Minter>)>,
    verifier: OriginVerifier,
    /// See [`trust_id`]: a cached leaf's origin verdict stands while this does not change.
    trust_id: [u8; 32],
    mint_policy: MintPolicy,
}

/// An intercepting proxy's certificate authority, ready to serve: its CAs, the untrusted-origin
/// policy, the roots origins are validated against, the key pool and the cache. Build one with
/// [`Deployment::builder`] or [`config::load`](crate::config::load); change its CAs, rules and
/// origin trust while it serves with [`Deployment::reload`].
///
/// `Send + Sync`; share it behind an `Arc`. Dropping it stops its background key generator
/// without waiting; [`Deployment::shutdown`] waits for it.
#[derive(Debug)]
pub struct Deployment {
    registry: Arc<CaRegistry>,
    cache: Arc<CertCache>,
    keys: Arc<KeyPool>,
    resolver: Resolver,
    threads: Arc<Threads>,
    clock: Arc<dyn Clock>,
    /// The cache and key-pool settings it was built with (a reload cannot change them).
    started_with: (CacheConfig, KeyPoolConfig),
    reloads: AtomicU64,
    reload_failures: AtomicU64,
}

/// What a deployment runs beside its callers' threads, and what a forked child must restore.
#[derive(Debug)]
struct Threads {
    clock: SystemClock,
    keys: Arc<KeyPool>,
    cache: Arc<CertCache>,
    registry: Arc<CaRegistry>,
    loaded: RwLock<Arc<Loaded>>,
}

impl Threads {
    fn loaded(&self) -> Arc<Loaded> {
        Arc::clone(&self.loaded.read().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Threads {
    fn after_fork_child(&self) {
        self.clock.after_fork_child();
        self.keys.after_fork_child();
        self.cache.after_fork_child();
        let loaded = self.loaded();
        for minter in self
            .registry
            .minters()
            .iter()
            .chain(loaded.untrusted.as_ref().map(|(_, m)| m))
        {
            minter.after_fork_child();
        }
    }
}

/// Every live deployment, for [`after_fork_child`].
static LIVE: Mutex<Vec<Weak<Threads>>> = Mutex::new(Vec::new());

fn register(threads: &Arc<Threads>) {
    let mut live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
    live.retain(|w| w.strong_count() > 0);
    live.push(Arc::downgrade(threads));
}

/// Restores every live [`Deployment`] in a child process after `fork()`: its clock thread and
/// key-pool thread are started again, the leaf keys generated before the fork are forgotten
/// (the parent would hand out the same ones), and PKCS#11 signers initialise their module again
/// and open fresh sessions on their next signature.
///
/// Call it in the child before it uses certmint (the C ABI registers it with
/// `pthread_atfork`). Fork while no other thread is inside certmint (as `pthread_atfork`'s
/// prepare handler arranges): a lock held by another thread at the moment of the fork stays
/// held in the child.
pub fn after_fork_child() {
    let live: Vec<Arc<Threads>> = LIVE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter_map(Weak::upgrade)
        .collect();
    for threads in live {
        threads.after_fork_child();
    }
}

impl Deployment {
    /// A builder.
    pub fn builder() -> DeploymentBuilder {
        DeploymentBuilder::new()
    }

    /// The chain (and its private key) to serve a client, from the cache or minted.
    ///
    /// - `host`: the SNI, or the CONNECT host for a client that sent none.
    /// - `origin_chain`: the origin's chain as the proxy received it, end-entity first (empty
    ///   for client-first proxies: a leaf from the host alone). It is validated **for `host`**
    ///   against the deployment's roots; an origin that fails is refused
    ///   ([`Error::UntrustedOrigin`]) or, under [`UntrustedPolicy::MirrorDistrust`], cloned
    ///   under the untrusted CA. The verdict is stored with the cached leaf
    ///   ([`Lookup::verdict`]): a hit does not validate again.
    /// - `client`: which key families the client can verify
    ///   ([`ClientKeySupport::from_schemes`] on its ClientHello's signature schemes).
    ///
    /// A miss mints on the calling thread (tens of microseconds for EC keys under a software
    /// CA; more for RSA or an HSM without a rotating sub-CA) and concurrent misses for one site
    /// wait at most [`CacheConfig::wait_timeout`]. Async servers call this on a blocking pool
    /// (`tokio::task::spawn_blocking`), never on a runtime worker.
    pub fn lookup(
        &self,
        host: Option<&str>,
        origin_chain: &[CertificateDer<'_>],
        client: ClientKeySupport,
    ) -> Result<Lookup, Error> {
        let connection = self.resolver.for_connection(host, origin_chain)?;
        let algorithm = connection
            .choose_key(client)
            .ok_or(Error::NoCommonKeyAlgorithm)?;
        let loaded = self.threads.loaded();
        let check = OriginCheck {
            chain: origin_chain,
            verifier: &loaded.verifier,
            untrusted: loaded.untrusted.as_ref().map(|(_, m)| m),
        };
        connection.lookup_checked(algorithm, &check)
    }

    /// Mints with the CA selected for the request's host, bypassing the cache and origin
    /// validation (for tools and tests).
    pub fn mint(&self, request: &MintRequest<'_>) -> Result<MintedCert, Error> {
        let host = request
            .host
            .map(crate::host::Host::parse)
            .transpose()?
            .map(|h| h.to_string());
        self.registry.select(host.as_deref(), None)?.mint(request)
    }

    /// A rustls certificate resolver over this deployment's CAs and cache, for client-first
    /// servers (it mints from the SNI inside the handshake).
    pub fn resolver(&self) -> &Resolver {
        &self.resolver
    }

    /// The origin verifier (for a proxy's upstream handshake, see
    /// [`danger::deferred_origin_verifier`](crate::danger::deferred_origin_verifier)).
    ///
    /// The verifier in force now: a [`Deployment::reload`] may replace it.
    pub fn origin_verifier(&self) -> OriginVerifier {
        self.threads.loaded().verifier.clone()
    }

    /// The CA registry (enable, disable, default, rules, health).
    pub fn registry(&self) -> &Arc<CaRegistry> {
        &self.registry
    }

    /// Enables a CA.
    pub fn enable_ca(&self, id: &str) -> Result<(), Error> {
        self.registry.enable(id)
    }

    /// Disables a CA (its cached leaves are purged); disabling the default needs `new_default`.
    pub fn disable_ca(&self, id: &str, new_default: Option<&str>) -> Result<(), Error> {
        self.registry.disable(id, new_default)
    }

    /// Makes an enabled CA the default.
    pub fn set_default_ca(&self, id: &str) -> Result<(), Error> {
        self.registry.set_default(id)
    }

    /// Empties the cache.
    pub fn purge(&self) {
        self.cache.retain(|_| false);
    }

    /// The cache's counters.
    pub fn cache_stats(&self) -> CacheStats {
        self.cache.stats()
    }

    /// The key pool's counters.
    pub fn key_pool_stats(&self) -> KeyPoolStats {
        self.keys.stats()
    }

    /// Every number the deployment keeps (see [`DeploymentStats`]): cheap, no signature and no
    /// I/O; [`Deployment::ca_health`] probes the keys.
    pub fn stats(&self) -> DeploymentStats {
        let loaded = self.threads.loaded();
        let ca = |minter: &Minter, id: &str, enabled: bool, default: bool, untrusted: bool| {
            let anchor = minter.anchor_issuer();
            CaStats {
                id: id.to_owned(),
                enabled,
                default,
                untrusted,
                not_after: anchor.not_after(),
                issuing_not_after: minter.issuer().ok().map(|i| i.not_after()),
                signer: anchor.signer().counters(),
            }
        };
        let list = self.registry.list();
        let mut cas: Vec<CaStats> = loaded
            .cas
            .iter()
            .filter_map(|(spec, minter)| {
                let info = list.iter().find(|i| i.id == spec.id())?;
                Some(ca(minter, &info.id, info.enabled, info.default, false))
            })
            .collect();
        if let Some((spec, minter)) = &loaded.untrusted {
            cas.push(ca(minter, spec.id(), true, false, true));
        }
        DeploymentStats {
            cache: self.cache.stats(),
            mint_latency: self.cache.mint_latency(),
            mint_errors: self.cache.mint_errors_by_kind(),
            key_pool: self.keys.stats(),
            keys_ready: self.keys.depths(),
            cas,
            reloads: self.reloads.load(Relaxed),
            reload_failures: self.reload_failures.load(Relaxed),
        }
    }

    /// Each CA's health, probed now with one signature per CA (a PKCS#11 token is asked to
    /// sign): the trusted CAs, then the untrusted CA.
    pub fn ca_health(&self) -> Vec<(String, CaHealth)> {
        let mut health = self.registry.health();
        if let Some((spec, minter)) = &self.threads.loaded().untrusted {
            let store = SingleCa::new(Arc::clone(minter));
            health.extend(
                store
                    .health()
                    .into_iter()
                    .map(|(_, h)| (spec.id().to_owned(), h)),
            );
        }
        health
    }

    /// Replaces the deployment's CAs, default, rules, untrusted-origin policy and CA, roots
    /// and mint policy with `builder`'s, while it serves. Every key is opened and every check
    /// made first: on any error nothing changes and the deployment goes on as before.
    ///
    /// - A CA whose certificate, options, rotation schedule and the mint policy are unchanged
    ///   keeps its running minter (its sub-CA, and its cached leaves); any other CA gets a new
    ///   one.
    /// - The change is one swap: a lookup sees either the old configuration or the new one.
    ///   Lookups already answered (handshakes in flight) keep what they were given.
    /// - Afterwards the cache holds no leaf of a CA that was removed, disabled or replaced, no
    ///   leaf whose origin verdict was reached under other roots or another untrusted-origin
    ///   policy, and no remembered failure.
    /// - The cache and key-pool settings are fixed when the deployment is built: a change to
    ///   them is reported in [`Reloaded::restart_needed`] and otherwise ignored.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use certmint::{testing::ThrowawayCa, CaSpec, ClientKeySupport, Deployment, KeyAlgorithm};
    /// let a = Arc::new(ThrowawayCa::generate(KeyAlgorithm::EcdsaP256)?.issuer()?);
    /// let b = Arc::new(ThrowawayCa::generate(KeyAlgorithm::EcdsaP256)?.issuer()?);
    /// let b_cert = b.certificate().clone();
    /// let deployment = Deployment::builder().ca(CaSpec::from_issuer("a", Arc::clone(&a))).build()?;
    /// deployment.lookup(Some("www.example.com"), &[], ClientKeySupport::all())?;
    /// let reloaded = deployment.reload(
    ///     Deployment::builder()
    ///         .ca(CaSpec::from_issuer("a", a).disabled())
    ///         .ca(CaSpec::from_issuer("b", b)),
    /// )?;
    /// assert_eq!(reloaded.purged, 1); // a's leaf is gone
    /// let now = deployment.lookup(Some("www.example.com"), &[], ClientKeySupport::all())?;
    /// assert_eq!(now.certified_key().cert[1], b_cert);
    /// # deployment.shutdown();
    /// # Ok::<(), certmint::Error>(())
    /// ```
    pub fn reload(&self, builder: DeploymentBuilder) -> Result<Reloaded, Error> {
        let previous = self.threads.loaded();
        let loaded = builder.load(&self.keys, &self.clock, Some(&previous));
        let (registry, loaded) = match loaded {
            Ok(loaded) => loaded,
            Err(e) => {
                self.count_failed_reload();
                return Err(e);
            }
        };
        let mut report = Reloaded::default();
        if builder.cache != self.started_with.0 {
            report.restart_needed.push("cache");
        }
        if builder.key_pool != self.started_with.1 {
            report.restart_needed.push("key pool");
        }
        let trust_changed = loaded.trust_id != previous.trust_id;
        let unchanged = |new: &Arc<Minter>, old: Option<&(CaSpec, Arc<Minter>)>| {
            old.is_some_and(|(_, m)| Arc::ptr_eq(m, new))
        };
        let mut kept: Vec<[u8; 32]> = Vec::new();
        let enabled: Vec<String> = registry
            .list()
            .into_iter()
            .filter(|info| info.enabled)
            .map(|info| info.id)
            .collect();
        for (spec, minter) in &loaded.cas {
            let old = previous.cas.iter().find(|(s, _)| s.id() == spec.id());
            match (old, unchanged(minter, old)) {
                (None, _) => report.added.push(spec.id().to_owned()),
                (Some(_), true) => report.kept.push(spec.id().to_owned()),
                (Some(_), false) => report.replaced.push(spec.id().to_owned()),
            }
            if unchanged(minter, old) && enabled.iter().any(|id| id == spec.id()) {
                kept.push(*minter.issuer_id());
            }
        }
        for (spec, _) in &previous.cas {
            if !loaded.cas.iter().any(|(s, _)| s.id() == spec.id()) {
                report.removed.push(spec.id().to_owned());
            }
        }
        if let Some((_, minter)) = &loaded.untrusted {
            if unchanged(minter, previous.untrusted.as_ref()) {
                kept.push(*minter.issuer_id());
            }
        }
        // One swap each; the registry first, so a lookup that sees the new trust finds the
        // new CAs.
        self.registry.replace_with(registry);
        *self
            .threads
            .loaded
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Arc::new(loaded);
        report.purged = self.cache.retain_served(|key, verdict| {
            verdict.is_some_and(|verdict| {
                kept.contains(&key.issuer)
                    && (!trust_changed || verdict == OriginVerdict::NotChecked)
            })
        });
        self.reloads.fetch_add(1, Relaxed);
        Ok(report)
    }

    /// Counts a reload that failed before it reached [`Deployment::reload`] (a configuration
    /// file that did not load).
    pub(crate) fn count_failed_reload(&self) {
        self.reload_failures.fetch_add(1, Relaxed);
    }

    /// Stops this deployment's background threads (key generator, clock) and waits for them
    /// (at most one key generation). Lookups keep working afterwards, generating keys inline
    /// and reading the wall clock directly. Dropping the deployment also stops them, without
    /// waiting.
    pub fn shutdown(&self) {
        self.keys.shutdown();
        self.threads.clock.shutdown();
    }

    /// Restores this deployment in a child process after `fork()` (see [`after_fork_child`]).
    pub fn after_fork_child(&self) {
        self.threads.after_fork_child();
    }
}
