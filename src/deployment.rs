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

use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};

use rustls::pki_types::CertificateDer;
use rustls::RootCertStore;

use crate::ca::{load_signer, Issuer, IssuerOptions, RotatingIssuer, RotationPolicy, Signer};
use crate::cache::store::CertCache;
use crate::cache::{CacheConfig, CacheStats, Lookup};
use crate::clock::{Clock, SystemClock};
use crate::error::{ConfigError, ConfigErrorKind, Error};
use crate::keys::{KeyPool, KeyPoolConfig, KeyPoolStats, Secret};
use crate::mint::minter::{MintRequest, MintedCert, Minter};
use crate::mint::MintPolicy;
use crate::origin_trust::{OriginVerifier, UntrustedPolicy};
use crate::registry::store::{CaRegistry, CaStore};
use crate::registry::SelectionRule;
use crate::resolver::{ClientKeySupport, OriginCheck, Resolver};
use crate::x509::cert::ParsedCert;

/// Where one CA's certificate and key come from.
#[derive(Clone, Debug)]
enum CaSource {
    /// A certificate file and a key file or `pkcs11:` URI.
    Files { cert: PathBuf, key: PathBuf },
    /// Certificate bytes (PEM or DER) and key bytes (PEM or DER).
    Bytes { cert: Vec<u8>, key: Secret },
    /// Certificate bytes and a key in a PKCS#11 token.
    #[cfg(feature = "pkcs11")]
    Pkcs11 { cert: Vec<u8>, uri: String },
    /// An issuer already loaded.
    Issuer(Arc<Issuer>),
}

/// Where an encrypted key's passphrase comes from.
#[derive(Clone, Debug)]
enum PassphraseSource {
    /// A file (one trailing newline stripped), else `CERTMINT_CA_KEY_PASS`.
    FileOrEnv(Option<PathBuf>),
    /// Given directly.
    Given(Secret),
}

/// Where a PKCS#11 key's PIN comes from, when the caller gives it rather than the URI.
#[cfg(feature = "pkcs11")]
#[derive(Clone, Debug)]
enum PinOverride {
    Value(Secret),
    File(PathBuf),
}

/// One CA of a deployment: where it comes from, whether it is enabled, what its certificates
/// carry (CRL and AIA URLs) and whether leaves are signed by a rotating sub-CA.
#[derive(Clone, Debug)]
pub struct CaSpec {
    id: String,
    source: CaSource,
    passphrase: PassphraseSource,
    #[cfg(feature = "pkcs11")]
    pin: Option<PinOverride>,
    enabled: bool,
    options: IssuerOptions,
    rotation: Option<RotationPolicy>,
}

impl CaSpec {
    fn new(id: &str, source: CaSource) -> Self {
        Self {
            id: id.to_owned(),
            source,
            passphrase: PassphraseSource::FileOrEnv(None),
            #[cfg(feature = "pkcs11")]
            pin: None,
            enabled: true,
            options: IssuerOptions::default(),
            rotation: None,
        }
    }

    /// A CA from a certificate file (the issuing certificate, optionally followed by its
    /// chain; PEM or DER) and a key file (PEM or DER; PKCS#8, SEC1, PKCS#1 or encrypted PKCS#8)
    /// or a `pkcs11:` URI (RFC 7512; feature `pkcs11`).
    pub fn from_files(id: &str, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        Self::new(
            id,
            CaSource::Files {
                cert: cert.into(),
                key: key.into(),
            },
        )
    }

    /// A CA from certificate and key bytes held in memory (PEM or DER).
    pub fn from_pem(id: &str, cert: &[u8], key: &[u8]) -> Self {
        Self::new(
            id,
            CaSource::Bytes {
                cert: cert.to_vec(),
                key: Secret::from(key.to_vec()),
            },
        )
    }

    /// A CA whose key is in a PKCS#11 token, named by a `pkcs11:` URI (the PIN from the URI's
    /// `pin-value` or `pin-source`, else `CERTMINT_PKCS11_PIN`).
    #[cfg(feature = "pkcs11")]
    pub fn from_pkcs11(id: &str, cert: &[u8], uri: &str) -> Self {
        Self::new(
            id,
            CaSource::Pkcs11 {
                cert: cert.to_vec(),
                uri: uri.to_owned(),
            },
        )
    }

    /// A CA already loaded as an [`Issuer`].
    pub fn from_issuer(id: &str, issuer: Arc<Issuer>) -> Self {
        Self::new(id, CaSource::Issuer(issuer))
    }

    /// The encrypted key's passphrase is in this file (one trailing newline stripped).
    pub fn with_passphrase_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.passphrase = PassphraseSource::FileOrEnv(Some(path.into()));
        self
    }

    /// The encrypted key's passphrase.
    pub fn with_passphrase(mut self, passphrase: Secret) -> Self {
        self.passphrase = PassphraseSource::Given(passphrase);
        self
    }

    /// The PKCS#11 key's PIN, overriding the URI's `pin-value`/`pin-source` and
    /// `CERTMINT_PKCS11_PIN`.
    #[cfg(feature = "pkcs11")]
    pub fn with_pin(mut self, pin: Secret) -> Self {
        self.pin = Some(PinOverride::Value(pin));
        self
    }

    /// The PKCS#11 key's PIN is in this file (one trailing newline stripped), overriding the
    /// URI's `pin-value`/`pin-source` and `CERTMINT_PKCS11_PIN`.
    #[cfg(feature = "pkcs11")]
    pub fn with_pin_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.pin = Some(PinOverride::File(path.into()));
        self
    }

    /// Opens a key in a token, applying the PIN given to this spec, if any.
    #[cfg(feature = "pkcs11")]
    fn open_pkcs11(&self, uri: &str) -> Result<Arc<dyn Signer>, Error> {
        let mut uri = crate::ca::Pkcs11Uri::parse(uri)?;
        match &self.pin {
            Some(PinOverride::Value(pin)) => uri.pin_value = Some(pin.clone()),
            Some(PinOverride::File(path)) => {
                uri.pin_value = None;
                uri.pin_source = Some(path.clone());
            }
            None => {}
        }
        Ok(Arc::new(crate::ca::Pkcs11Signer::open(&uri)?))
    }

    /// CRL and AIA URLs for what this CA signs.
    pub fn with_options(mut self, options: IssuerOptions) -> Self {
        self.options = options;
        self
    }

    /// Leaves are signed by a short-lived sub-CA this CA certifies, renewed on `policy`'s
    /// schedule. The sub-CAs carry `policy`'s CRL/AIA options when set, else this CA's.
    pub fn with_rotation(mut self, policy: RotationPolicy) -> Self {
        self.rotation = Some(policy);
        self
    }

    /// Added disabled: in the deployment, but not used until enabled.
    pub fn disabled(mut self) -> Self {
        self.enabled = false;
        self
    }

    /// The CA's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn passphrase(&self) -> Result<Option<Secret>, Error> {
        match &self.passphrase {
            PassphraseSource::Given(secret) => Ok(Some(secret.clone())),
            PassphraseSource::FileOrEnv(file) => {
                Ok(crate::keys::passphrase_from_sources(file.as_deref())?)
            }
        }
    }

    /// Opens the key and reads the chain of this CA itself (not its rotating sub-CA), checking
    /// both: what signs the CA's own CRL.
    pub(crate) fn issuer(&self) -> Result<Arc<Issuer>, Error> {
        Ok(match &self.source {
            CaSource::Issuer(issuer) => Arc::clone(issuer),
            CaSource::Files { cert, key } => {
                let chain = crate::pem::read_certificates(cert)?;
                let signer: Arc<dyn Signer> = match &self.passphrase {
                    #[cfg(feature = "pkcs11")]
                    _ if is_pkcs11(key) => self.open_pkcs11(&key.to_string_lossy())?,
                    PassphraseSource::FileOrEnv(file) => load_signer(key, file.as_deref())?,
                    PassphraseSource::Given(pass) => {
                        Arc::new(crate::ca::software_signer_from_file(key, Some(pass), None)?)
                    }
                };
                Arc::new(
                    Issuer::new(chain, signer, self.options.clone())
                        .map_err(|e| crate::ca::in_issuer_files(e, cert, key))?,
                )
            }
            CaSource::Bytes { cert, key } => {
                let chain = crate::pem::parse_certificates(cert)?;
                let pass = self.passphrase()?;
                let signer = crate::ca::SoftwareSigner::from_key_bytes_with_passphrase(
                    key.as_bytes(),
                    pass.as_ref(),
                )?;
                Arc::new(Issuer::new(chain, Arc::new(signer), self.options.clone())?)
            }
            #[cfg(feature = "pkcs11")]
            CaSource::Pkcs11 { cert, uri } => {
                let chain = crate::pem::parse_certificates(cert)?;
                Arc::new(Issuer::new(
                    chain,
                    self.open_pkcs11(uri)?,
                    self.options.clone(),
                )?)
            }
        })
    }

    /// Opens the key, reads the chain, checks both, and makes the minter.
    fn minter(
        &self,
        keys: &Arc<KeyPool>,
        policy: &MintPolicy,
        clock: &Arc<dyn Clock>,
    ) -> Result<Minter, Error> {
        let issuer = self.issuer()?;
        Ok(match &self.rotation {
            None => Minter::new(issuer, Arc::clone(keys), policy.clone()),
            Some(rotation) => {
                let mut rotation = rotation.clone();
                if rotation.options == IssuerOptions::default() {
                    rotation.options = self.options.clone();
                }
                let rotating = RotatingIssuer::new(issuer, rotation, Arc::clone(clock))?;
                Minter::rotating(Arc::new(rotating), Arc::clone(keys), policy.clone())
            }
        })
    }
}

#[cfg(feature = "pkcs11")]
fn is_pkcs11(key: &std::path::Path) -> bool {
    key.to_str().is_some_and(crate::ca::is_pkcs11_uri)
}

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
        if self.cas.is_empty() {
            return Err(ConfigError {
                path: None,
                line: None,
                kind: ConfigErrorKind::NoCa,
            }
            .into());
        }
        if self.untrusted_policy == UntrustedPolicy::MirrorDistrust && self.untrusted_ca.is_none() {
            return Err(ConfigError {
                path: None,
                line: None,
                kind: ConfigErrorKind::MirrorNeedsCa,
            }
            .into());
        }
        let system_clock = SystemClock::new();
        let clock: Arc<dyn Clock> = Arc::new(system_clock.clone());
        let keys = Arc::new(KeyPool::new(self.key_pool.clone()));
        let cache = Arc::new(CertCache::with_clock(
            self.cache.clone(),
            Arc::clone(&clock),
        ));
        let registry = Arc::new(CaRegistry::new());
        registry.attach_cache(Arc::clone(&cache));
        for ca in &self.cas {
            let minter = ca.minter(&keys, &self.mint_policy, &clock)?;
            registry.add(&ca.id, Arc::new(minter), ca.enabled)?;
        }
        for rule in self.rules {
            registry.add_rule(rule)?;
        }
        if let Some(id) = &self.default_ca {
            registry.set_default(id)?;
        }
        let untrusted = match (&self.untrusted_policy, &self.untrusted_ca) {
            (UntrustedPolicy::MirrorDistrust, Some(ca)) => {
                let minter = Arc::new(ca.minter(&keys, &self.mint_policy, &clock)?);
                check_distrusted(ca.id(), &minter, &registry.minters())?;
                Some(minter)
            }
            _ => None,
        };
        let verifier = match (self.roots, self.root_files.is_empty()) {
            (None, true) => OriginVerifier::mozilla_roots()?,
            (roots, _) => {
                let mut roots = roots.unwrap_or_else(RootCertStore::empty);
                for path in &self.root_files {
                    for cert in crate::pem::read_certificates(path)? {
                        roots.add(cert)?;
                    }
                }
                OriginVerifier::new(roots)?
            }
        };
        let shared: Arc<CaRegistry> = Arc::clone(&registry);
        let store: Arc<dyn CaStore> = shared;
        let resolver = Resolver::with_store(store, Arc::clone(&cache));
        let threads = Arc::new(Threads {
            clock: system_clock,
            keys: Arc::clone(&keys),
            registry: Arc::clone(&registry),
            untrusted: untrusted.clone(),
        });
        register(&threads);
        Ok(Deployment {
            registry,
            cache,
            keys,
            resolver,
            untrusted,
            verifier,
            threads,
        })
    }
}

/// An intercepting proxy's certificate authority, ready to serve: its CAs, the untrusted-origin
/// policy, the roots origins are validated against, the key pool and the cache. Build one with
/// [`Deployment::builder`] or [`config::load`](crate::config::load).
///
/// `Send + Sync`; share it behind an `Arc`. Dropping it stops its background key generator
/// without waiting; [`Deployment::shutdown`] waits for it.
#[derive(Debug)]
pub struct Deployment {
    registry: Arc<CaRegistry>,
    cache: Arc<CertCache>,
    keys: Arc<KeyPool>,
    resolver: Resolver,
    untrusted: Option<Arc<Minter>>,
    verifier: OriginVerifier,
    threads: Arc<Threads>,
}

/// What a deployment runs beside its callers' threads, and what a forked child must restore.
#[derive(Debug)]
struct Threads {
    clock: SystemClock,
    keys: Arc<KeyPool>,
    registry: Arc<CaRegistry>,
    untrusted: Option<Arc<Minter>>,
}

impl Threads {
    fn after_fork_child(&self) {
        self.clock.after_fork_child();
        self.keys.after_fork_child();
        for minter in self.registry.minters().iter().chain(&self.untrusted) {
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
        let check = OriginCheck {
            chain: origin_chain,
            verifier: &self.verifier,
            untrusted: self.untrusted.as_deref(),
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
    pub fn origin_verifier(&self) -> &OriginVerifier {
        &self.verifier
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
