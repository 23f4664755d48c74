//! Serving minted chains to rustls: [`Resolver`] (client-first, from the SNI) and
//! [`ConnectionResolver`] (server-first, a clone of the origin the proxy already fetched).
//!
//! `resolve()` runs inside the handshake on the caller's thread; in an async proxy that is a
//! runtime worker, so a miss there (which mints, tens of microseconds for EC, more for RSA under
//! an RSA CA) blocks it. Async proxies do the slow work first with [`Resolver::prepare`] on a
//! blocking pool (for example `tokio::task::spawn_blocking`), after reading the ClientHello with
//! rustls' `Acceptor` (tokio-rustls' `LazyConfigAcceptor`); the handshake is then served from the
//! cache.
//!
//! ```
//! use std::sync::Arc;
//! use certmint::{CertCache, KeyAlgorithm, KeyPool, MintPolicy, Minter, Resolver, ThrowawayCa};
//! # let ca = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256)?;
//! let minter = Arc::new(Minter::new(Arc::new(ca.issuer()?), Arc::new(KeyPool::default()), MintPolicy::default()));
//! let resolver = Arc::new(Resolver::new(minter, Arc::new(CertCache::default())));
//! let config = rustls::ServerConfig::builder_with_provider(certmint::crypto_provider())
//!     .with_safe_default_protocol_versions()
//!     .unwrap()
//!     .with_no_client_auth()
//!     .with_cert_resolver(resolver);
//! # Ok::<(), certmint::Error>(())
//! ```

use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{ServerConfig, SignatureScheme};

use crate::asn1::oid;
use crate::ca::{CaStore, SingleCa};
use crate::cache::{CacheKeyRef, CertCache, Lookup};
use crate::cert::ParsedCert;
use crate::error::Error;
use crate::host::{Host, HostRef};
use crate::key::KeyAlgorithm;
use crate::mint::{MintRequest, Minter};

/// Which leaf key families a client can verify, from its signature schemes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
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

/// A minting, caching certificate resolver. Cheap to clone; `Send + Sync`.
#[derive(Clone, Debug)]
pub struct Resolver {
    store: Arc<dyn CaStore>,
    cache: Arc<CertCache>,
    fallback_host: Option<Host>,
    tenant: Option<Arc<str>>,
}

impl Resolver {
    /// A resolver minting with one `minter` and caching in `cache`.
    pub fn new(minter: Arc<Minter>, cache: Arc<CertCache>) -> Self {
        Self::with_store(Arc::new(SingleCa(minter)), cache)
    }

    /// A resolver minting through a CA store (for example a [`CaRegistry`](crate::CaRegistry),
    /// which picks the CA per host or tenant).
    pub fn with_store(store: Arc<dyn CaStore>, cache: Arc<CertCache>) -> Self {
        Self {
            store,
            cache,
            fallback_host: None,
            tenant: None,
        }
    }

    /// The same resolver, selecting CAs for `tenant` (see
    /// [`SelectionRule::Tenant`](crate::SelectionRule::Tenant)).
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
        self.lookup(&minter, None, Some(&host), key_algorithm)
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
                let parsed = ParsedCert::parse(der.as_ref())?;
                let needs_host = minter.policy().san_from_host
                    && parsed.extension(&oid::SUBJECT_ALT_NAME).is_none();
                Some(OriginInfo {
                    fingerprint: crate::provider::sha256(der.as_ref()),
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
    /// from the client's signature schemes), offering `alpn`.
    pub fn server_config_for(
        &self,
        connection: ConnectionResolver,
        alpn: Vec<Vec<u8>>,
    ) -> Result<Arc<ServerConfig>, Error> {
        server_config(Arc::new(connection), alpn)
    }

    /// Everything an async proxy needs after reading the ClientHello, in one call (run it on a
    /// blocking pool): the prepared chain (see [`Resolver::prepare`]) and a ready server
    /// configuration serving exactly it, offering `alpn` (the protocol the origin chose).
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
    ///     resolver.prepare_server_config(sni.as_deref(), &origin_chain, &schemes, vec![])
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
        alpn: Vec<Vec<u8>>,
    ) -> Result<(Arc<ServerConfig>, Lookup), Error> {
        let lookup = self.prepare(host, origin_chain, client_schemes)?;
        let single = SingleCertAndKey::from(Arc::clone(&lookup.certified_key));
        Ok((server_config(Arc::new(single), alpn)?, lookup))
    }

    fn lookup(
        &self,
        minter: &Minter,
        origin: Option<&OriginInfo>,
        host: Option<&HostRef<'_>>,
        key_algorithm: KeyAlgorithm,
    ) -> Result<Lookup, Error> {
        let key = CacheKeyRef {
            issuer: minter.issuer_id(),
            origin: origin.map(|o| &o.fingerprint),
            host: match origin {
                Some(o) if !o.needs_host => None,
                _ => host,
            },
            key_algorithm,
        };
        self.cache.get_or_mint_with(
            &key,
            || key.to_key(),
            || {
                let now = self.cache.clock().now();
                let host_text = host.map(ToString::to_string);
                let request = MintRequest {
                    origin: origin.map(|o| &o.der),
                    host: host_text.as_deref(),
                    key_algorithm: Some(key_algorithm),
                    now: Some(now),
                };
                minter.mint(&request)
            },
        )
    }
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let host = match hello.server_name() {
            Some(name) => HostRef::parse(name).ok()?,
            None => HostRef::from(self.fallback_host.as_ref()?),
        };
        let minter = self.select(Some(&host)).ok()?;
        let alg = ClientKeySupport::from_schemes(hello.signature_schemes())
            .choose(minter.policy().host_only_key)?;
        served(self.lookup(&minter, None, Some(&host), alg))
    }
}

/// What `resolve()` hands rustls: the chain, or `None` (the handshake fails) with the reason
/// logged.
fn served(lookup: Result<Lookup, Error>) -> Option<Arc<CertifiedKey>> {
    match lookup {
        Ok(found) => Some(found.certified_key),
        Err(e) => {
            log::warn!("no certificate for the handshake: {e}");
            None
        }
    }
}

fn server_config(
    resolver: Arc<dyn ResolvesServerCert>,
    alpn: Vec<Vec<u8>>,
) -> Result<Arc<ServerConfig>, Error> {
    let mut config = ServerConfig::builder_with_provider(crate::crypto_provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = alpn;
    Ok(Arc::new(config))
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

    /// The chain for a leaf of `key_algorithm`, from the cache or minted.
    pub fn lookup(&self, key_algorithm: KeyAlgorithm) -> Result<Lookup, Error> {
        let host = self.host.as_ref().map(HostRef::from);
        self.resolver.lookup(
            &self.minter,
            self.origin.as_ref(),
            host.as_ref(),
            key_algorithm,
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
