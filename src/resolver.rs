//! Serving minted chains to rustls: [`Resolver`] and [`ConnectionResolver`]; their manual is
//! on the types (this module is private, its items re-exported at the crate root).

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, ServerName};
use rustls::server::{ClientHello, ResolvesServerCert, WantsServerCert};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{ConfigBuilder, ServerConfig, SignatureScheme, WantsVerifier};

use crate::cache::store::CertCache;
use crate::cache::{CacheKeyRef, Lookup, Minted, OriginVerdict, Remint};
use crate::error::{Error, HostError, OriginError};
use crate::host::{Host, HostRef};
use crate::mint::minter::{MintRequest, Minter};
use crate::origin_trust::OriginVerifier;
use crate::registry::store::CaStore;
use crate::registry::SingleCa;
use crate::x509::cert::ParsedCert;
use crate::x509::{oid, KeyAlgorithm};

/// A rustls server configuration builder with certmint's crypto provider and rustls' safe
/// default protocol versions.
///
/// Use this (or `ServerConfig::builder_with_provider(certmint::crypto_provider())`) rather than
/// `ServerConfig::builder()`, which panics when a program links both ring and aws-lc-rs (as one
/// does that uses certmint beside tokio-rustls' default features) and has not installed a
/// process-wide default provider.
pub fn server_config_builder() -> Result<ConfigBuilder<ServerConfig, WantsVerifier>, Error> {
    Ok(
        ServerConfig::builder_with_provider(crate::crypto::crypto_provider())
            .with_safe_default_protocol_versions()?,
    )
}

/// Which leaf key families a client can verify, from its signature schemes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientKeySupport {
    /// ECDSA with P-256.
    pub p256: bool,
    /// ECDSA with P-384.
    pub p384: bool,
    /// Ed25519.
    pub ed25519: bool,
    /// RSA (PKCS#1 or PSS).
    pub rsa: bool,
}

impl ClientKeySupport {
    /// Reads a ClientHello's signature schemes.
    pub fn from_schemes(schemes: &[SignatureScheme]) -> Self {
        use SignatureScheme as S;
        let mut s = Self::default();
        for scheme in schemes {
            match *scheme {
                S::ECDSA_NISTP256_SHA256 => s.p256 = true,
                S::ECDSA_NISTP384_SHA384 => s.p384 = true,
                S::ED25519 => s.ed25519 = true,
                S::RSA_PSS_SHA256
                | S::RSA_PSS_SHA384
                | S::RSA_PSS_SHA512
                | S::RSA_PKCS1_SHA256
                | S::RSA_PKCS1_SHA384
                | S::RSA_PKCS1_SHA512 => s.rsa = true,
                _ => {}
            }
        }
        s
    }

    /// A client that accepts everything (for callers without a ClientHello).
    pub fn all() -> Self {
        Self {
            p256: true,
            p384: true,
            ed25519: true,
            rsa: true,
        }
    }

    fn supports(self, alg: KeyAlgorithm) -> bool {
        match alg {
            KeyAlgorithm::EcdsaP256 => self.p256,
            KeyAlgorithm::EcdsaP384 => self.p384,
            KeyAlgorithm::Ed25519 => self.ed25519,
            _ => self.rsa,
        }
    }

    /// The leaf key algorithm to mint for this client: `preferred` (the origin's, or the
    /// host-only default) when the client can verify it, else P-256, RSA-2048, P-384 in that
    /// order; never Ed25519 unless offered (NSS and Chromium do not). `None` when the client
    /// offers nothing certmint can serve.
    pub fn choose(self, preferred: KeyAlgorithm) -> Option<KeyAlgorithm> {
        [
            preferred,
            KeyAlgorithm::EcdsaP256,
            KeyAlgorithm::Rsa2048,
            KeyAlgorithm::EcdsaP384,
        ]
        .into_iter()
        .find(|alg| self.supports(*alg))
    }
}

/// A minting, caching certificate resolver: rustls' [`ResolvesServerCert`] for client-first
/// proxies (a leaf from the SNI), and the source of [`ConnectionResolver`]s for server-first
/// ones (a clone of the origin the proxy already fetched). Cheap to clone; `Send + Sync`.
///
/// A handshake it cannot serve (no SNI and no fallback host, an unusable SNI, no CA, no key
/// family the client accepts, a refused origin) gets no certificate, so rustls ends it with an
/// alert; the reason is logged at `warn`.
///
/// `resolve()` runs inside the handshake on the caller's thread; in an async proxy that is a
/// runtime worker, so a miss there (which mints, tens of microseconds for EC, more for RSA under
/// an RSA CA) blocks it. Async proxies do the slow work first with [`Resolver::prepare`] on a
/// blocking pool (for example `tokio::task::spawn_blocking`), after reading the ClientHello with
/// rustls' `Acceptor` (tokio-rustls' `LazyConfigAcceptor`); the handshake is then served from the
/// cache.
///
/// ```
/// use std::sync::Arc;
/// use certmint::{keys::KeyPool, mint::MintPolicy, testing::ThrowawayCa};
/// use certmint::{CertCache, KeyAlgorithm, Minter, Resolver};
/// # let ca = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256)?;
/// let minter = Arc::new(Minter::new(Arc::new(ca.issuer()?), Arc::new(KeyPool::default()), MintPolicy::default()));
/// let resolver = Arc::new(Resolver::new(minter, Arc::new(CertCache::default())));
/// let config = certmint::server_config_builder()?
///     .with_no_client_auth()
///     .with_cert_resolver(resolver);
/// # Ok::<(), certmint::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Resolver {
    store: Arc<dyn CaStore>,
    cache: Arc<CertCache>,
    fallback_host: Option<Host>,
    tenant: Option<Arc<str>>,
    /// The configuration per-connection server configs start from.
    base_config: Option<Arc<ServerConfig>>,
}

impl Resolver {
    /// A resolver minting with one `minter` and caching in `cache`.
    pub fn new(minter: Arc<Minter>, cache: Arc<CertCache>) -> Self {
        Self::with_store(Arc::new(SingleCa::new(minter)), cache)
    }

    /// A resolver minting through a CA store (for example a [`CaRegistry`](crate::CaRegistry),
    /// which picks the CA per host or tenant).
    pub fn with_store(store: Arc<dyn CaStore>, cache: Arc<CertCache>) -> Self {
        Self {
            store,
            cache,
            fallback_host: None,
            tenant: None,
            base_config: None,
        }
    }

    /// Per-connection server configurations ([`Resolver::prepare_server_config`]) start from
    /// a copy of `config` (its protocol versions, session storage, key log...), with the
    /// certificate resolver and ALPN replaced. Without it they start from
    /// [`server_config_builder`].
    pub fn with_base_server_config(mut self, config: Arc<ServerConfig>) -> Self {
        self.base_config = Some(config);
        self
    }

    /// The same resolver, selecting CAs for `tenant` (see
    /// [`SelectionRule::Tenant`](crate::registry::SelectionRule::Tenant)).
    pub fn for_tenant(&self, tenant: &str) -> Self {
        Self {
            tenant: Some(Arc::from(tenant)),
            ..self.clone()
        }
    }

    /// The name used for clients that send no SNI (for example the proxy's CONNECT host or a
    /// configured default). Without one, such handshakes fail.
    pub fn with_fallback_host(mut self, host: &str) -> Result<Self, Error> {
        self.fallback_host = Some(Host::parse(host)?);
        Ok(self)
    }

    /// The default CA's minter.
    pub fn minter(&self) -> Result<Arc<Minter>, Error> {
        self.store.select(None, self.tenant.as_deref())
    }

    /// The CA store.
    pub fn store(&self) -> &Arc<dyn CaStore> {
        &self.store
    }

    fn select(&self, host: Option<&HostRef<'_>>) -> Result<Arc<Minter>, Error> {
        let text;
        let host = match host {
            Some(HostRef::Dns(name)) => Some(&**name),
            Some(ip) => {
                text = ip.to_string();
                Some(text.as_str())
            }
            None => None,
        };
        self.store.select(host, self.tenant.as_deref())
    }

    /// The cache.
    pub fn cache(&self) -> &Arc<CertCache> {
        &self.cache
    }

    /// The cached chain for a host-only leaf, minting it on a miss. This is what `resolve()`
    /// does for client-first handshakes; benchmarks and sync callers use it directly.
    pub fn lookup_host(&self, host: &str, key_algorithm: KeyAlgorithm) -> Result<Lookup, Error> {
        let host = HostRef::parse(host)?;
        let minter = self.select(Some(&host))?;
        self.lookup(&minter, None, Some(&host), key_algorithm, None)
    }

    /// The slow work for one connection, done before the handshake: parse the host and the
    /// origin (if any), choose the leaf key for the client's signature schemes, mint or fetch
    /// from the cache. Run it on a blocking pool from async code.
    pub fn prepare(
        &self,
        host: Option<&str>,
        origin_chain: &[CertificateDer<'_>],
        client_schemes: &[SignatureScheme],
    ) -> Result<Lookup, Error> {
        let connection = self.for_connection(host, origin_chain)?;
        let alg = connection
            .choose_key(ClientKeySupport::from_schemes(client_schemes))
            .ok_or(Error::NoCommonKeyAlgorithm)?;
        connection.lookup(alg)
    }

    /// A resolver for one connection whose origin chain the proxy has fetched (server-first),
    /// or for `host` alone when `origin_chain` is empty.
    pub fn for_connection(
        &self,
        host: Option<&str>,
        origin_chain: &[CertificateDer<'_>],
    ) -> Result<ConnectionResolver, Error> {
        let host = match host {
            Some(h) => Some(Host::parse(h)?),
            None => self.fallback_host.clone(),
        };
        let minter = self.select(host.as_ref().map(HostRef::from).as_ref())?;
        let origin = match origin_chain.first() {
            None => None,
            Some(der) => {
                // The same size limit as a direct mint, before any parsing.
                let max = minter.policy().max_origin_len;
                if der.as_ref().len() > max {
                    return Err(OriginError::TooLarge {
                        len: der.as_ref().len(),
                        max,
                    }
                    .into());
                }
                let parsed = ParsedCert::parse(der.as_ref())?;
                let needs_host = minter.policy().san_from_host
                    && parsed.extension(&oid::SUBJECT_ALT_NAME).is_none();
                Some(OriginInfo {
                    fingerprint: crate::crypto::sha256(der.as_ref()),
                    algorithm: KeyAlgorithm::from_spki(parsed.spki),
                    needs_host,
                    der: CertificateDer::from(der.as_ref().to_vec()),
                })
            }
        };
        if origin.is_none() && host.is_none() {
            return Err(Error::NothingToMint);
        }
        Ok(ConnectionResolver {
            resolver: self.clone(),
            minter,
            host,
            origin,
        })
    }

    /// A rustls server configuration serving one connection's clone (resolved per handshake
    /// from the client's signature schemes), offering `alpn` (or no ALPN).
    pub fn server_config_for(
        &self,
        connection: ConnectionResolver,
        alpn: Option<&[u8]>,
    ) -> Result<Arc<ServerConfig>, Error> {
        self.server_config(Arc::new(connection), alpn)
    }

    fn server_config(
        &self,
        resolver: Arc<dyn ResolvesServerCert>,
        alpn: Option<&[u8]>,
    ) -> Result<Arc<ServerConfig>, Error> {
        let mut config = match &self.base_config {
            Some(base) => {
                let mut config = (**base).clone();
                config.cert_resolver = resolver;
                config
            }
            None => with_resolver(server_config_builder()?.with_no_client_auth(), resolver),
        };
        config.alpn_protocols = alpn.map(|p| vec![p.to_vec()]).unwrap_or_default();
        Ok(Arc::new(config))
    }

    /// Everything an async proxy needs after reading the ClientHello, in one call (run it on a
    /// blocking pool): the prepared chain (see [`Resolver::prepare`]) and a ready server
    /// configuration serving exactly it, offering `alpn` (the protocol the origin chose, or
    /// `None`). The configuration starts from [`Resolver::with_base_server_config`]'s, if set.
    ///
    /// ```no_run
    /// # async fn f(resolver: certmint::Resolver, tcp: tokio::net::TcpStream,
    /// #            origin_chain: Vec<rustls::pki_types::CertificateDer<'static>>) -> std::io::Result<()> {
    /// let acceptor = tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), tcp);
    /// let start = acceptor.await?;
    /// let hello = start.client_hello();
    /// let sni = hello.server_name().map(str::to_owned);
    /// let schemes = hello.signature_schemes().to_vec();
    /// let (config, _lookup) = tokio::task::spawn_blocking(move || {
    ///     resolver.prepare_server_config(sni.as_deref(), &origin_chain, &schemes, None)
    /// })
    /// .await?
    /// .map_err(std::io::Error::other)?;
    /// let tls = start.into_stream(config).await?;
    /// # Ok(()) }
    /// ```
    pub fn prepare_server_config(
        &self,
        host: Option<&str>,
        origin_chain: &[CertificateDer<'_>],
        client_schemes: &[SignatureScheme],
        alpn: Option<&[u8]>,
    ) -> Result<(Arc<ServerConfig>, Lookup), Error> {
        let lookup = self.prepare(host, origin_chain, client_schemes)?;
        Ok((self.server_config_serving(&lookup, alpn)?, lookup))
    }

    /// A server configuration serving exactly `lookup`'s chain, offering `alpn` (or no ALPN);
    /// it starts from [`Resolver::with_base_server_config`]'s configuration, if set.
    pub fn server_config_serving(
        &self,
        lookup: &Lookup,
        alpn: Option<&[u8]>,
    ) -> Result<Arc<ServerConfig>, Error> {
        let single = SingleCertAndKey::from(Arc::clone(lookup.certified_key()));
        self.server_config(Arc::new(single), alpn)
    }

    fn lookup(
        &self,
        minter: &Arc<Minter>,
        origin: Option<&OriginInfo>,
        host: Option<&HostRef<'_>>,
        key_algorithm: KeyAlgorithm,
        check: Option<&OriginCheck<'_>>,
    ) -> Result<Lookup, Error> {
        // Leaves of a sub-CA revoked elsewhere are not served again.
        self.cache.evict_issued_by(&minter.poll_revoked());
        let key = CacheKeyRef {
            issuer: minter.issuer_id(),
            origin: origin.map(|o| &o.fingerprint),
            // A checked origin is judged for its host, so the host is always part of the key.
            host: match origin {
                Some(o) if !o.needs_host && check.is_none() => None,
                _ => host,
            },
            key_algorithm,
        };
        self.cache.get_or_mint_with(
            &key,
            || key.to_key(),
            || {
                let now = self.cache.clock().now();
                let (minter, verdict) = match check {
                    None => (minter, OriginVerdict::NotChecked),
                    Some(check) => check.judge(minter, host, now)?,
                };
                let remint = remint(minter, origin, host, key_algorithm);
                Ok(Minted {
                    cert: remint.mint(now)?,
                    verdict,
                    remint: Some(remint),
                })
            },
        )
    }
}

/// The mint of one cache entry, owning what it needs so the cache can repeat it ahead of the
/// leaf's expiry (the origin verdict stands, as for a hit).
fn remint(
    minter: &Arc<Minter>,
    origin: Option<&OriginInfo>,
    host: Option<&HostRef<'_>>,
    key_algorithm: KeyAlgorithm,
) -> Remint {
    let minter = Arc::clone(minter);
    let origin = origin.map(|o| o.der.clone());
    let host = host.map(ToString::to_string);
    let weight = origin.as_ref().map_or(0, |o| o.len()) + host.as_ref().map_or(0, String::len);
    Remint::new(weight, move |now| {
        minter.mint(&MintRequest {
            origin: origin.as_ref(),
            host: host.as_deref(),
            key_algorithm: Some(key_algorithm),
            now: Some(now),
            ..MintRequest::default()
        })
    })
}

impl ResolvesServerCert for Resolver {
    /// Every refusal is logged with its reason (rustls then aborts the handshake with an
    /// alert).
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let host = match (hello.server_name(), &self.fallback_host) {
            (Some(name), _) => match HostRef::parse(name) {
                Ok(host) => host,
                Err(e) => {
                    log::warn!(
                        "no certificate for the handshake: unusable SNI {:?}: {e}",
                        name
                    );
                    return None;
                }
            },
            (None, Some(fallback)) => HostRef::from(fallback),
            (None, None) => {
                log::warn!(
                    "no certificate for the handshake: the client sent no SNI and no fallback \
                     host is set (Resolver::with_fallback_host)"
                );
                return None;
            }
        };
        let minter = match self.select(Some(&host)) {
            Ok(minter) => minter,
            Err(e) => return served(Err(e)),
        };
        let Some(alg) = ClientKeySupport::from_schemes(hello.signature_schemes())
            .choose(minter.policy().host_only_key)
        else {
            return served(Err(Error::NoCommonKeyAlgorithm));
        };
        served(self.lookup(&minter, None, Some(&host), alg, None))
    }
}

/// What `resolve()` hands rustls: the chain, or `None` (the handshake fails) with the reason
/// logged.
fn served(lookup: Result<Lookup, Error>) -> Option<Arc<CertifiedKey>> {
    match lookup {
        Ok(found) => Some(Arc::clone(found.certified_key())),
        Err(e) => {
            log::warn!("no certificate for the handshake: {e}");
            None
        }
    }
}

fn with_resolver(
    builder: ConfigBuilder<ServerConfig, WantsServerCert>,
    resolver: Arc<dyn ResolvesServerCert>,
) -> ServerConfig {
    builder.with_cert_resolver(resolver)
}

/// How an origin's chain is judged before its clone is minted.
pub(crate) struct OriginCheck<'a> {
    /// The origin's chain, end-entity first.
    pub(crate) chain: &'a [CertificateDer<'a>],
    pub(crate) verifier: &'a OriginVerifier,
    /// The CA that mirrors distrust; `None` refuses untrusted origins.
    pub(crate) untrusted: Option<&'a Arc<Minter>>,
}

impl OriginCheck<'_> {
    /// The minter to use and the verdict, or the refusal.
    fn judge<'m>(
        &'m self,
        trusted: &'m Arc<Minter>,
        host: Option<&HostRef<'_>>,
        now: rustls::pki_types::UnixTime,
    ) -> Result<(&'m Arc<Minter>, OriginVerdict), Error> {
        let host = host.ok_or(HostError::Empty)?;
        let name = match host {
            // A normalised host is always a valid DNS name for rustls.
            HostRef::Dns(name) => ServerName::try_from(name.to_string())
                .map_err(|_| Error::UntrustedOrigin(rustls::Error::General("bad name".into())))?,
            HostRef::Ip(ip) => ServerName::IpAddress((*ip).into()),
        };
        match self.verifier.verify(self.chain, &name, now) {
            Ok(()) => Ok((trusted, OriginVerdict::Trusted)),
            Err(reason) => match self.untrusted {
                Some(untrusted) => {
                    log::warn!(
                        "{host}: origin untrusted ({reason}); minting with the untrusted CA"
                    );
                    Ok((untrusted, OriginVerdict::Untrusted))
                }
                None => Err(Error::UntrustedOrigin(reason)),
            },
        }
    }
}

#[derive(Clone, Debug)]
struct OriginInfo {
    der: CertificateDer<'static>,
    fingerprint: [u8; 32],
    algorithm: Option<KeyAlgorithm>,
    needs_host: bool,
}

/// Serves one connection: a clone of its origin (server-first), or its host alone.
#[derive(Clone, Debug)]
pub struct ConnectionResolver {
    resolver: Resolver,
    minter: Arc<Minter>,
    host: Option<Host>,
    origin: Option<OriginInfo>,
}

impl ConnectionResolver {
    /// The leaf key algorithm for a client: the origin's family when the client supports it.
    pub fn choose_key(&self, client: ClientKeySupport) -> Option<KeyAlgorithm> {
        let policy = self.minter.policy();
        let preferred = match &self.origin {
            Some(o) => o.algorithm.unwrap_or(policy.fallback_key),
            None => policy.host_only_key,
        };
        client.choose(preferred)
    }

    /// The chain for a leaf of `key_algorithm`, from the cache or minted. The origin is not
    /// validated here (the caller has done it, or mints host-only leaves);
    /// [`Deployment::lookup`](crate::Deployment::lookup) validates.
    pub fn lookup(&self, key_algorithm: KeyAlgorithm) -> Result<Lookup, Error> {
        self.lookup_inner(key_algorithm, None)
    }

    /// As [`ConnectionResolver::lookup`], judging the origin's chain on a miss; the verdict is
    /// cached with the leaf.
    pub(crate) fn lookup_checked(
        &self,
        key_algorithm: KeyAlgorithm,
        check: &OriginCheck<'_>,
    ) -> Result<Lookup, Error> {
        self.lookup_inner(key_algorithm, Some(check))
    }

    fn lookup_inner(
        &self,
        key_algorithm: KeyAlgorithm,
        check: Option<&OriginCheck<'_>>,
    ) -> Result<Lookup, Error> {
        let host = self.host.as_ref().map(HostRef::from);
        self.resolver.lookup(
            &self.minter,
            self.origin.as_ref(),
            host.as_ref(),
            key_algorithm,
            check.filter(|_| self.origin.is_some()),
        )
    }
}

impl ResolvesServerCert for ConnectionResolver {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let alg = self.choose_key(ClientKeySupport::from_schemes(
            client_hello.signature_schemes(),
        ))?;
        served(self.lookup(alg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SignatureScheme as S;

    #[test]
    fn key_choice_follows_the_client() {
        let ec_only = ClientKeySupport::from_schemes(&[S::ECDSA_NISTP256_SHA256]);
        assert_eq!(
            ec_only.choose(KeyAlgorithm::Rsa4096),
            Some(KeyAlgorithm::EcdsaP256)
        );
        let rsa_only = ClientKeySupport::from_schemes(&[S::RSA_PSS_SHA256, S::RSA_PKCS1_SHA256]);
        assert_eq!(
            rsa_only.choose(KeyAlgorithm::EcdsaP256),
            Some(KeyAlgorithm::Rsa2048)
        );
        assert_eq!(
            rsa_only.choose(KeyAlgorithm::Rsa3072),
            Some(KeyAlgorithm::Rsa3072)
        );
        let no_ed = ClientKeySupport::from_schemes(&[S::ECDSA_NISTP256_SHA256, S::RSA_PSS_SHA256]);
        assert_eq!(
            no_ed.choose(KeyAlgorithm::Ed25519),
            Some(KeyAlgorithm::EcdsaP256)
        );
        let ed = ClientKeySupport::from_schemes(&[S::ED25519]);
        assert_eq!(ed.choose(KeyAlgorithm::EcdsaP256), None);
        assert_eq!(
            ed.choose(KeyAlgorithm::Ed25519),
            Some(KeyAlgorithm::Ed25519)
        );
        assert_eq!(
            ClientKeySupport::from_schemes(&[]).choose(KeyAlgorithm::EcdsaP256),
            None
        );
    }
}
