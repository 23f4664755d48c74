//! Deciding whether an origin deserves a trusted clone.
//!
//! A proxy validates the origin's chain against the roots it trusts before minting. An origin
//! that fails is either refused ([`UntrustedPolicy::Refuse`], the default), or cloned under a
//! separate "untrusted" CA that clients do not trust ([`UntrustedPolicy::MirrorDistrust`], as
//! Squid's `signUntrusted` does), so the client still sees a certificate error instead of a
//! trusted certificate for a site its user should not trust.

use std::sync::Arc;

use rustls::client::danger::ServerCertVerifier;
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::RootCertStore;

use crate::error::Error;

/// What to do with an origin whose chain does not validate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum UntrustedPolicy {
    /// Abort the client's handshake (default).
    #[default]
    Refuse,
    /// Clone it under the untrusted CA, which clients do not trust.
    MirrorDistrust,
}

/// Validates origin chains with rustls-webpki against a set of roots.
#[derive(Debug, Clone)]
pub struct OriginVerifier {
    inner: Arc<WebPkiServerVerifier>,
}

impl OriginVerifier {
    /// A verifier trusting `roots`.
    pub fn new(roots: RootCertStore) -> Result<Self, Error> {
        let inner = WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            crate::crypto::crypto_provider(),
        )
        .build()
        .map_err(|e| Error::Tls(rustls::Error::General(e.to_string())))?;
        Ok(Self { inner })
    }

    /// A verifier trusting the Mozilla root program's roots (as packaged by `webpki-roots`):
    /// the default wherever certmint validates origins and no roots are configured (library,
    /// CLI and C ABI alike), so behaviour does not depend on the host's trust store.
    pub fn mozilla_roots() -> Result<Self, Error> {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        Self::new(roots)
    }

    /// The verifier as a rustls [`ServerCertVerifier`].
    pub fn as_server_cert_verifier(&self) -> Arc<dyn ServerCertVerifier> {
        let verifier: Arc<WebPkiServerVerifier> = Arc::clone(&self.inner);
        verifier
    }

    /// Checks `chain` (end-entity first) for `server_name` at `now`: the error says why it is
    /// not trusted (unknown issuer, expired, not valid for the name...).
    pub fn verify(
        &self,
        chain: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        now: UnixTime,
    ) -> Result<(), rustls::Error> {
        let (end_entity, intermediates) = chain
            .split_first()
            .ok_or(rustls::Error::NoCertificatesPresented)?;
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, &[], now)
            .map(|_| ())
    }
}
