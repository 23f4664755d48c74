//! Dangerous configuration that should be audited and used with extreme care: what here
//! disables a safety check.
//!
//! As in rustls, nothing in this module is needed for ordinary use; each item says what it
//! turns off and what the caller must do instead.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// A rustls certificate verifier for a proxy's upstream handshake that **accepts any origin
/// chain** (it still checks the handshake signature, so the origin proves it holds the key).
///
/// The caller must then validate the chain itself with
/// [`OriginVerifier::verify`](crate::OriginVerifier::verify) and apply its
/// [`UntrustedPolicy`](crate::UntrustedPolicy) before minting: without that, a proxy
/// would give any impostor a trusted clone. [`Deployment::lookup`](crate::Deployment::lookup)
/// does this for you.
pub fn deferred_origin_verifier() -> Arc<dyn ServerCertVerifier> {
    Arc::new(Deferred {
        provider: crate::crypto::crypto_provider(),
    })
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
