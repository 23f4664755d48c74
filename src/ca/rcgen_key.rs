//! Lets any [`Signer`] sign through rcgen (CA certificates, CSRs, later CRLs), so a PKCS#11 key
//! can sign what rcgen builds.

use super::{SignatureAlgorithm, Signer};
use crate::key::SpkiParts;

/// A [`Signer`] seen as an rcgen signing key.
pub struct RcgenKey<'a> {
    signer: &'a dyn Signer,
    public_key: Vec<u8>,
}

impl<'a> RcgenKey<'a> {
    /// Wraps `signer`.
    pub fn new(signer: &'a dyn Signer) -> Self {
        let public_key = SpkiParts::parse(signer.subject_public_key_info())
            .map(|p| p.public_key.to_vec())
            .unwrap_or_default();
        Self { signer, public_key }
    }
}

impl rcgen::PublicKeyData for RcgenKey<'_> {
    fn der_bytes(&self) -> &[u8] {
        &self.public_key
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        match self.signer.algorithm() {
            SignatureAlgorithm::EcdsaP256Sha256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            SignatureAlgorithm::EcdsaP384Sha384 => &rcgen::PKCS_ECDSA_P384_SHA384,
            SignatureAlgorithm::Ed25519 => &rcgen::PKCS_ED25519,
            SignatureAlgorithm::RsaPkcs1Sha256 => &rcgen::PKCS_RSA_SHA256,
        }
    }
}

impl rcgen::SigningKey for RcgenKey<'_> {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        self.signer
            .sign(msg)
            .map_err(|_| rcgen::Error::RemoteKeyError)
    }
}
