//! Private keys: generating them ([`PrivateKey`], zeroized on drop) and the pre-parsed leaf keys
//! the minter signs handshakes with ([`LeafKey`]).

use std::fmt;
use std::sync::Arc;

use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, SubjectPublicKeyInfoDer};
use rustls::sign::SigningKey;
use zeroize::Zeroizing;

use super::{KeyParts, Secret};
use crate::crypto::{self, backend};
use crate::error::KeyError;
use crate::x509::{key_identifier, KeyAlgorithm};

#[cfg(not(feature = "aws-lc-rs"))]
fn generate_rsa(algorithm: KeyAlgorithm, bits: usize) -> Result<PrivateKey, KeyError> {
    use rsa::pkcs8::EncodePrivateKey;
    let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, bits)
        .map_err(|_| KeyError::Generation)?;
    // `SecretDocument` zeroizes itself on drop; we copy into our own zeroizing buffer.
    let doc = key.to_pkcs8_der().map_err(|_| KeyError::Generation)?;
    Ok(PrivateKey {
        algorithm,
        pkcs8: Zeroizing::new(doc.as_bytes().to_vec()),
    })
}

#[cfg(feature = "aws-lc-rs")]
fn generate_rsa(algorithm: KeyAlgorithm, bits: usize) -> Result<PrivateKey, KeyError> {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rsa::KeySize;
    let size = match bits {
        2048 => KeySize::Rsa2048,
        3072 => KeySize::Rsa3072,
        _ => KeySize::Rsa4096,
    };
    let key = aws_lc_rs::rsa::KeyPair::generate(size).map_err(|_| KeyError::Generation)?;
    let der = key.as_der().map_err(|_| KeyError::Generation)?;
    Ok(PrivateKey {
        algorithm,
        pkcs8: Zeroizing::new(der.as_ref().to_vec()),
    })
}

/// RFC 8410's PKCS#8 v1 form of an Ed25519 key, from the v2 form (RFC 5958, with the public
/// key) that ring writes: OpenSSL 3.0 cannot read v2, so C servers could not load the key. ring,
/// aws-lc-rs and rustls read v1.
fn ed25519_pkcs8_v1(v2: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    const PREFIX: [u8; 16] = [
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    let seed = match super::parts::parse(KeyAlgorithm::Ed25519, v2) {
        Ok(KeyParts::Ed25519 { seed }) if seed.len() == 32 => seed,
        _ => return Err(KeyError::Generation),
    };
    let mut v1 = Zeroizing::new(Vec::with_capacity(PREFIX.len() + seed.len()));
    v1.extend_from_slice(&PREFIX);
    v1.extend_from_slice(seed);
    Ok(v1)
}

/// A private key as PKCS#8 DER, wiped from memory when dropped.
///
/// certmint hands private keys out as this type (leaf keys, throwaway CA keys) and lends them
/// as a borrowed pki-types [`PrivatePkcs8KeyDer`] (pki-types' owned form does not wipe itself).
#[derive(Clone)]
pub struct PrivateKey {
    algorithm: KeyAlgorithm,
    pkcs8: Zeroizing<Vec<u8>>,
}

impl PrivateKey {
    /// Generates a key.
    ///
    /// RSA uses the RustCrypto `rsa` crate (ring cannot generate RSA keys), or aws-lc-rs with the
    /// `aws-lc-rs` feature. Expect tens of microseconds for EC keys and 50-500 ms for RSA-2048.
    ///
    /// ```
    /// use certmint::{keys::PrivateKey, KeyAlgorithm};
    /// let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256)?;
    /// assert_eq!(key.algorithm(), KeyAlgorithm::EcdsaP256);
    /// assert!(!key.pkcs8().secret_pkcs8_der().is_empty());
    /// # Ok::<(), certmint::KeyError>(())
    /// ```
    pub fn generate(algorithm: KeyAlgorithm) -> Result<Self, KeyError> {
        use backend::signature::{
            EcdsaKeyPair, Ed25519KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING,
            ECDSA_P384_SHA384_ASN1_SIGNING,
        };
        let rng = backend::rand::SystemRandom::new();
        let doc = match algorithm {
            KeyAlgorithm::EcdsaP256 => {
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
            }
            KeyAlgorithm::EcdsaP384 => {
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P384_SHA384_ASN1_SIGNING, &rng)
            }
            KeyAlgorithm::Ed25519 => {
                let v2 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| KeyError::Generation)?;
                return Ok(Self {
                    algorithm,
                    pkcs8: ed25519_pkcs8_v1(v2.as_ref())?,
                });
            }
            KeyAlgorithm::Rsa2048 => return generate_rsa(algorithm, 2048),
            KeyAlgorithm::Rsa3072 => return generate_rsa(algorithm, 3072),
            KeyAlgorithm::Rsa4096 => return generate_rsa(algorithm, 4096),
        }
        .map_err(|_| KeyError::Generation)?;
        Ok(Self {
            algorithm,
            pkcs8: Zeroizing::new(doc.as_ref().to_vec()),
        })
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// A key the backend generated and serialised itself.
    #[cfg(feature = "aws-lc-rs")]
    pub(super) fn from_generated(algorithm: KeyAlgorithm, pkcs8: Zeroizing<Vec<u8>>) -> Self {
        Self { algorithm, pkcs8 }
    }

    /// The PKCS#8 DER, borrowed.
    pub fn pkcs8(&self) -> PrivatePkcs8KeyDer<'_> {
        PrivatePkcs8KeyDer::from(&self.pkcs8[..])
    }

    /// The key's raw components, borrowed from its PKCS#8 (see [`KeyParts`]): for handing the
    /// key to another crypto library without that library's DER decoder.
    ///
    /// Fails with [`KeyError::UnrecognizedFormat`] if the PKCS#8 lacks the structure its
    /// algorithm calls for (never for keys certmint generated).
    pub fn parts(&self) -> Result<KeyParts<'_>, KeyError> {
        super::parts::parse(self.algorithm, &self.pkcs8).map_err(|_| KeyError::UnrecognizedFormat)
    }

    /// The key as PEM (`PRIVATE KEY`), unencrypted, in a buffer wiped on drop.
    pub fn to_pem(&self) -> Secret {
        Secret::from_zeroizing(crate::pem::encode_secret("PRIVATE KEY", &self.pkcs8))
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// A leaf private key, parsed once and ready to sign handshakes.
///
/// The PKCS#8 bytes are wiped on drop; the backend's parsed key object (inside `signing_key`)
/// is not (ring offers no way to wipe it).
pub struct LeafKey {
    private: PrivateKey,
    spki: Vec<u8>,
    key_id: [u8; 20],
    signing_key: Arc<dyn SigningKey>,
}

impl LeafKey {
    /// Generates a new key, ready to sign. With the `aws-lc-rs` feature, EC and Ed25519 keys
    /// are generated straight into a signing key (no PKCS#8 round trip: about one signature's
    /// cost, against about 1.45 with ring); otherwise the key is generated as PKCS#8 and parsed.
    pub fn generate(algorithm: KeyAlgorithm) -> Result<Self, KeyError> {
        #[cfg(feature = "aws-lc-rs")]
        if let Some(generated) = super::native::generate(algorithm) {
            let generated = generated?;
            return Self::from_parts(generated.private, generated.spki, generated.signing_key);
        }
        Self::new(PrivateKey::generate(algorithm)?)
    }

    fn from_parts(
        private: PrivateKey,
        spki: Vec<u8>,
        signing_key: Arc<dyn SigningKey>,
    ) -> Result<Self, KeyError> {
        if KeyAlgorithm::from_spki(&spki) != Some(private.algorithm) {
            return Err(KeyError::Unsupported);
        }
        let key_id = key_identifier(&spki).ok_or(KeyError::Unsupported)?;
        Ok(Self {
            private,
            spki,
            key_id,
            signing_key,
        })
    }

    /// Parses a private key for signing.
    pub fn new(private: PrivateKey) -> Result<Self, KeyError> {
        let signing_key = crypto::load_signing_key(&PrivateKeyDer::Pkcs8(private.pkcs8()))
            .map_err(|_| KeyError::Unsupported)?;
        let spki = signing_key
            .public_key()
            .ok_or(KeyError::Unsupported)?
            .as_ref()
            .to_vec();
        Self::from_parts(private, spki, signing_key)
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.private.algorithm
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn subject_public_key_info(&self) -> SubjectPublicKeyInfoDer<'_> {
        SubjectPublicKeyInfoDer::from(&self.spki[..])
    }

    pub(crate) fn spki(&self) -> &[u8] {
        &self.spki
    }

    /// The private key (for C users and for writing key files).
    pub fn private_key(&self) -> &PrivateKey {
        &self.private
    }

    /// The rustls signing key.
    pub fn signing_key(&self) -> &Arc<dyn SigningKey> {
        &self.signing_key
    }

    pub(crate) fn key_id(&self) -> &[u8; 20] {
        &self.key_id
    }
}

impl fmt::Debug for LeafKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeafKey")
            .field("algorithm", &self.private.algorithm)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_report_their_own_algorithm() {
        for alg in [
            KeyAlgorithm::EcdsaP256,
            KeyAlgorithm::EcdsaP384,
            KeyAlgorithm::Ed25519,
        ] {
            let key = LeafKey::generate(alg).unwrap();
            assert_eq!(KeyAlgorithm::from_spki(key.spki()), Some(alg));
        }
    }

    /// A generated key's PKCS#8 is the same key (what C servers and key files get), and its
    /// handshake signatures verify under its SubjectPublicKeyInfo: for the aws-lc-rs build's
    /// directly generated keys as for ring's parsed ones.
    #[test]
    fn generated_keys_sign_verifiably_and_their_pkcs8_is_the_same_key() {
        use backend::signature::{
            UnparsedPublicKey, ECDSA_P256_SHA256_ASN1, ECDSA_P384_SHA384_ASN1, ED25519,
        };
        use rustls::SignatureScheme as S;
        for (alg, scheme, point_len) in [
            (KeyAlgorithm::EcdsaP256, S::ECDSA_NISTP256_SHA256, 65),
            (KeyAlgorithm::EcdsaP384, S::ECDSA_NISTP384_SHA384, 97),
            (KeyAlgorithm::Ed25519, S::ED25519, 32),
        ] {
            let key = LeafKey::generate(alg).unwrap();
            let reparsed = LeafKey::new(key.private_key().clone()).unwrap();
            assert_eq!(reparsed.spki(), key.spki(), "{alg}");
            assert_eq!(reparsed.key_id(), key.key_id());
            let point = &key.spki()[key.spki().len() - point_len..];
            let verifier: &dyn backend::signature::VerificationAlgorithm = match alg {
                KeyAlgorithm::EcdsaP256 => &ECDSA_P256_SHA256_ASN1,
                KeyAlgorithm::EcdsaP384 => &ECDSA_P384_SHA384_ASN1,
                _ => &ED25519,
            };
            for signing in [&key, &reparsed] {
                let signer = signing.signing_key().choose_scheme(&[scheme]).unwrap();
                assert_eq!(signer.scheme(), scheme);
                let signature = signer.sign(b"handshake transcript").unwrap();
                UnparsedPublicKey::new(verifier, point)
                    .verify(b"handshake transcript", &signature)
                    .unwrap_or_else(|_| panic!("{alg}: signature does not verify"));
                assert!(signing
                    .signing_key()
                    .choose_scheme(&[S::RSA_PSS_SHA256])
                    .is_none());
            }
        }
    }
}
