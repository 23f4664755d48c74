//! A [`Signer`] over a private key held in memory.

use std::sync::Arc;

use rustls::pki_types::{
    PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer,
    SubjectPublicKeyInfoDer,
};
use rustls::sign::SigningKey;

use super::{SignatureAlgorithm, Signer};
use crate::crypto;
use crate::error::{Error, KeyError};
use crate::keys::file::{self, KeyFormat};
use crate::keys::{PrivateKey, Secret};
use crate::x509::KeyAlgorithm;

/// A CA key in memory: P-256, P-384, Ed25519 or RSA 2048-4096, read from PKCS#8, SEC1
/// (`EC PRIVATE KEY`) or PKCS#1 (`RSA PRIVATE KEY`), PEM or DER.
///
/// The bytes read are held in a zeroizing buffer only while the key is parsed and are wiped
/// afterwards. The parsed key inside the crypto backend (ring's `EcdsaKeyPair`, `RsaKeyPair`,
/// `Ed25519KeyPair`) cannot be wiped and lives until this signer is dropped; keep CA keys in
/// PKCS#11 where that matters.
pub struct SoftwareSigner {
    key: Arc<dyn SigningKey>,
    signer: Box<dyn rustls::sign::Signer>,
    algorithm: SignatureAlgorithm,
    key_algorithm: KeyAlgorithm,
    spki: Vec<u8>,
}

impl SoftwareSigner {
    /// Reads a private key from PEM or DER.
    ///
    /// ```
    /// # use certmint::{ca::SoftwareSigner, keys::PrivateKey, KeyAlgorithm};
    /// let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256)?;
    /// let signer = SoftwareSigner::from_key_bytes(&key.to_pem().as_bytes())?;
    /// assert_eq!(signer.key_algorithm(), KeyAlgorithm::EcdsaP256);
    /// # Ok::<(), certmint::Error>(())
    /// ```
    pub fn from_key_bytes(input: &[u8]) -> Result<Self, Error> {
        Self::from_key_bytes_with_passphrase(input, None)
    }

    /// Reads a private key that may be encrypted (PKCS#8 PBES2, as `openssl pkcs8 -topk8 -v2
    /// aes-256-cbc` writes it, with PBKDF2-HMAC-SHA256 or scrypt).
    pub fn from_key_bytes_with_passphrase(
        input: &[u8],
        passphrase: Option<&Secret>,
    ) -> Result<Self, Error> {
        let parsed = file::parse_private_key(input, passphrase.map(Secret::as_bytes))?;
        let der: PrivateKeyDer<'_> = match parsed.format {
            KeyFormat::Pkcs8 => PrivatePkcs8KeyDer::from(&parsed.der[..]).into(),
            KeyFormat::Sec1 => PrivateSec1KeyDer::from(&parsed.der[..]).into(),
            KeyFormat::Pkcs1 => PrivatePkcs1KeyDer::from(&parsed.der[..]).into(),
        };
        let key = crypto::load_signing_key(&der).map_err(|_| KeyError::Unsupported)?;
        Self::from_signing_key(key)
    }

    /// A signer over a key certmint generated or handed out.
    pub fn from_private_key(key: &PrivateKey) -> Result<Self, Error> {
        let der = PrivateKeyDer::Pkcs8(key.pkcs8());
        Self::from_signing_key(crypto::load_signing_key(&der).map_err(|_| KeyError::Unsupported)?)
    }

    /// Wraps a rustls signing key.
    pub fn from_signing_key(key: Arc<dyn SigningKey>) -> Result<Self, Error> {
        let spki = key
            .public_key()
            .ok_or(KeyError::Unsupported)?
            .as_ref()
            .to_vec();
        let key_algorithm = KeyAlgorithm::from_spki(&spki).ok_or(KeyError::Unsupported)?;
        let algorithm = SignatureAlgorithm::for_key(key_algorithm);
        let signer = key
            .choose_scheme(&[algorithm.tls_scheme()])
            .ok_or(KeyError::Unsupported)?;
        Ok(Self {
            key,
            signer,
            algorithm,
            key_algorithm,
            spki,
        })
    }

    /// The same key signing with `algorithm` instead of [`SignatureAlgorithm::for_key`]'s
    /// choice: SHA-384 or SHA-512 with an RSA key. Errors: [`KeyError::Unsupported`] when the
    /// key cannot sign with `algorithm` (ECDSA keys sign with their curve's digest only).
    ///
    /// ```
    /// # use certmint::{ca::{Signer, SignatureAlgorithm, SoftwareSigner}, keys::PrivateKey, KeyAlgorithm};
    /// let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256)?;
    /// let signer = SoftwareSigner::from_private_key(&key)?;
    /// assert!(signer.with_algorithm(SignatureAlgorithm::RsaPkcs1Sha384).is_err());
    /// # Ok::<(), certmint::Error>(())
    /// ```
    pub fn with_algorithm(self, algorithm: SignatureAlgorithm) -> Result<Self, Error> {
        if algorithm == self.algorithm {
            return Ok(self);
        }
        let signer = self
            .key
            .choose_scheme(&[algorithm.tls_scheme()])
            .ok_or(KeyError::Unsupported)?;
        Ok(Self {
            signer,
            algorithm,
            ..self
        })
    }

    /// The key's algorithm.
    pub fn key_algorithm(&self) -> KeyAlgorithm {
        self.key_algorithm
    }

    /// The underlying rustls key.
    pub fn signing_key(&self) -> &Arc<dyn SigningKey> {
        &self.key
    }
}

impl Signer for SoftwareSigner {
    fn algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }

    fn subject_public_key_info(&self) -> SubjectPublicKeyInfoDer<'_> {
        SubjectPublicKeyInfoDer::from(&self.spki[..])
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        self.signer.sign(message).map_err(Error::signing)
    }
}

impl std::fmt::Debug for SoftwareSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftwareSigner")
            .field("key_algorithm", &self.key_algorithm)
            .finish_non_exhaustive()
    }
}
