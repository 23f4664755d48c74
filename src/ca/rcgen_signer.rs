//! Lets any [`Signer`] sign through rcgen (CSRs), so a PKCS#11 key can sign what rcgen builds.
//! Internal: rcgen's types never appear in certmint's API.

use super::{SignatureAlgorithm, Signer};
use crate::error::{Error, KeyError};
use crate::x509::SpkiParts;

/// A [`Signer`] seen as an rcgen signing key.
pub(crate) struct RcgenSigner<'a> {
    signer: &'a dyn Signer,
    public_key: Vec<u8>,
}

impl<'a> RcgenSigner<'a> {
    /// Wraps `signer`; fails if its public key cannot be read.
    pub(crate) fn new(signer: &'a dyn Signer) -> Result<Self, Error> {
        let spki = signer.subject_public_key_info();
        let public_key = SpkiParts::parse(spki.as_ref())
            .ok_or(KeyError::Unsupported)?
            .public_key
            .to_vec();
        Ok(Self { signer, public_key })
    }
}

impl rcgen::PublicKeyData for RcgenSigner<'_> {
    fn der_bytes(&self) -> &[u8] {
        &self.public_key
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        match self.signer.algorithm() {
            SignatureAlgorithm::EcdsaP256Sha256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            SignatureAlgorithm::EcdsaP384Sha384 => &rcgen::PKCS_ECDSA_P384_SHA384,
            SignatureAlgorithm::Ed25519 => &rcgen::PKCS_ED25519,
            SignatureAlgorithm::RsaPkcs1Sha256 => &rcgen::PKCS_RSA_SHA256,
            SignatureAlgorithm::RsaPkcs1Sha384 => &rcgen::PKCS_RSA_SHA384,
            SignatureAlgorithm::RsaPkcs1Sha512 => &rcgen::PKCS_RSA_SHA512,
        }
    }
}

impl rcgen::SigningKey for RcgenSigner<'_> {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        self.signer
            .sign(msg)
            .map_err(|_| rcgen::Error::RemoteKeyError)
    }
}
