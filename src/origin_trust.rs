//! Deciding whether an origin deserves a trusted clone.
//!
//! A proxy validates the origin's chain against the roots it trusts before minting. An origin
//! that fails is either refused ([`UntrustedPolicy::Refuse`], the default), or cloned under a
//! separate "untrusted" CA that clients do not trust ([`UntrustedPolicy::MirrorDistrust`], as
//! Squid's `signUntrusted` does), so the client still sees a certificate error instead of a
//! trusted certificate for a site its user should not trust.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::error::Error;

/// What to do with an origin whose chain does not validate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
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
        let inner =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), crate::crypto_provider())
                .build()
                .map_err(|e| Error::Tls(rustls::Error::General(e.to_string())))?;
        Ok(Self { inner })
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

    /// A rustls certificate verifier for the upstream handshake that accepts any chain (the
    /// proxy then calls [`OriginVerifier::verify`] and applies its [`UntrustedPolicy`]) but
    /// still checks the handshake signature, so the origin proves it holds the key.
    pub fn deferred() -> Arc<dyn ServerCertVerifier> {
        Arc::new(Deferred {
            provider: crate::crypto_provider(),
        })
    }
}

#[derive(Debug)]
struct Deferred {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Deferred {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
