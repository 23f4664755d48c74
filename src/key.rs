//! Key algorithms, leaf key generation and the pre-parsed leaf keys the minter uses.

use std::fmt;
use std::sync::Arc;

use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::SigningKey;
use zeroize::Zeroizing;

use crate::asn1::{self, oid, TlvReader, BIT_STRING, INTEGER, OID, SEQUENCE};
use crate::error::KeyError;
use crate::provider::{self, backend};

/// The key families and sizes certmint mints leaves with (and CAs sign with).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum KeyAlgorithm {
    /// ECDSA on P-256.
    EcdsaP256,
    /// ECDSA on P-384.
    EcdsaP384,
    /// Ed25519 (not accepted by NSS or Chromium as a server key).
    Ed25519,
    /// RSA, 2048-bit modulus.
    Rsa2048,
    /// RSA, 3072-bit modulus.
    Rsa3072,
    /// RSA, 4096-bit modulus.
    Rsa4096,
}

impl KeyAlgorithm {
    /// Every algorithm, in a stable order.
    pub const ALL: [Self; 6] = [
        Self::EcdsaP256,
        Self::EcdsaP384,
        Self::Ed25519,
        Self::Rsa2048,
        Self::Rsa3072,
        Self::Rsa4096,
    ];

    /// Whether this is one of the RSA sizes.
    pub fn is_rsa(self) -> bool {
        matches!(self, Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096)
    }

    /// The RSA size that holds a modulus of `bits` bits: 2048 for anything up to 2048 (rustls
    /// cannot use smaller keys), 3072 up to 3072, otherwise 4096.
    pub fn rsa_for_bits(bits: usize) -> Self {
        match bits {
            0..=2048 => Self::Rsa2048,
            2049..=3072 => Self::Rsa3072,
            _ => Self::Rsa4096,
        }
    }

    /// Whether two algorithms are the same family (RSA of any size counts as one family).
    pub fn same_family(self, other: Self) -> bool {
        self == other || (self.is_rsa() && other.is_rsa())
    }

    /// Reads the algorithm of a DER SubjectPublicKeyInfo. Returns `None` for anything certmint
    /// cannot mint (DSA, RSA-PSS keys, other curves, Ed448...).
    pub fn from_spki(spki: &[u8]) -> Option<Self> {
        let parts = SpkiParts::parse(spki)?;
        if parts.algorithm == oid::EC_PUBLIC_KEY.as_bytes() {
            let curve = asn1::single(parts.parameters?).ok()?;
            if curve.tag != OID {
                return None;
            }
            if curve.content == oid::SECP256R1.as_bytes() {
                Some(Self::EcdsaP256)
            } else if curve.content == oid::SECP384R1.as_bytes() {
                Some(Self::EcdsaP384)
            } else {
                None
            }
        } else if parts.algorithm == oid::ED25519.as_bytes() {
            Some(Self::Ed25519)
        } else if parts.algorithm == oid::RSA_ENCRYPTION.as_bytes() {
            let rsa_key = asn1::single(parts.public_key).ok()?;
            let mut r = TlvReader::new(rsa_key.content).ok()?;
            let modulus = r.expect(INTEGER).ok()?.content;
            let skip = modulus.iter().take_while(|b| **b == 0).count();
            let significant = &modulus[skip..];
            let bits = significant.len() * 8
                - significant
                    .first()
                    .map_or(0, |b| b.leading_zeros() as usize);
            Some(Self::rsa_for_bits(bits))
        } else {
            None
        }
    }

    /// Generates a new key of this algorithm as PKCS#8 DER.
    ///
    /// RSA uses the RustCrypto `rsa` crate (ring cannot generate RSA keys), or aws-lc-rs with the
    /// `aws-lc-rs` feature. Expect tens of microseconds for EC keys and 50-500 ms for RSA-2048.
    pub fn generate_pkcs8(self) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        use backend::signature::{
            EcdsaKeyPair, Ed25519KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING,
            ECDSA_P384_SHA384_ASN1_SIGNING,
        };
        let rng = backend::rand::SystemRandom::new();
        let doc = match self {
            Self::EcdsaP256 => EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng),
            Self::EcdsaP384 => EcdsaKeyPair::generate_pkcs8(&ECDSA_P384_SHA384_ASN1_SIGNING, &rng),
            Self::Ed25519 => Ed25519KeyPair::generate_pkcs8(&rng),
            Self::Rsa2048 => return generate_rsa(2048),
            Self::Rsa3072 => return generate_rsa(3072),
            Self::Rsa4096 => return generate_rsa(4096),
        }
        .map_err(|_| KeyError::Generation)?;
        Ok(Zeroizing::new(doc.as_ref().to_vec()))
    }
}

#[cfg(not(feature = "aws-lc-rs"))]
fn generate_rsa(bits: usize) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    use rsa::pkcs8::EncodePrivateKey;
    let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, bits)
        .map_err(|_| KeyError::Generation)?;
    // `SecretDocument` zeroizes itself on drop; we copy into our own zeroizing buffer.
    let doc = key.to_pkcs8_der().map_err(|_| KeyError::Generation)?;
    Ok(Zeroizing::new(doc.as_bytes().to_vec()))
}

#[cfg(feature = "aws-lc-rs")]
fn generate_rsa(bits: usize) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rsa::KeySize;
    let size = match bits {
        2048 => KeySize::Rsa2048,
        3072 => KeySize::Rsa3072,
        _ => KeySize::Rsa4096,
    };
    let key = aws_lc_rs::rsa::KeyPair::generate(size).map_err(|_| KeyError::Generation)?;
    let der = key.as_der().map_err(|_| KeyError::Generation)?;
    Ok(Zeroizing::new(der.as_ref().to_vec()))
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::EcdsaP256 => "P-256",
            Self::EcdsaP384 => "P-384",
            Self::Ed25519 => "Ed25519",
            Self::Rsa2048 => "RSA-2048",
            Self::Rsa3072 => "RSA-3072",
            Self::Rsa4096 => "RSA-4096",
        })
    }
}

impl std::str::FromStr for KeyAlgorithm {
    type Err = KeyError;
    /// Accepts the CLI spellings: `p256`, `p384`, `ed25519`, `rsa2048`, `rsa3072`, `rsa4096`.
    fn from_str(s: &str) -> Result<Self, KeyError> {
        Ok(match s.to_ascii_lowercase().replace('-', "").as_str() {
            "p256" | "ecdsap256" => Self::EcdsaP256,
            "p384" | "ecdsap384" => Self::EcdsaP384,
            "ed25519" => Self::Ed25519,
            "rsa2048" => Self::Rsa2048,
            "rsa3072" => Self::Rsa3072,
            "rsa4096" => Self::Rsa4096,
            _ => return Err(KeyError::Unsupported),
        })
    }
}

/// The pieces of a SubjectPublicKeyInfo.
pub(crate) struct SpkiParts<'a> {
    pub(crate) algorithm: &'a [u8],
    pub(crate) parameters: Option<&'a [u8]>,
    /// The subjectPublicKey BIT STRING's bits (without the unused-bits octet).
    pub(crate) public_key: &'a [u8],
}

impl<'a> SpkiParts<'a> {
    pub(crate) fn parse(spki: &'a [u8]) -> Option<Self> {
        let outer = asn1::single(spki).ok()?;
        if outer.tag != SEQUENCE {
            return None;
        }
        let mut r = TlvReader::new(outer.content).ok()?;
        let alg = r.expect(SEQUENCE).ok()?;
        let bits = r.expect(BIT_STRING).ok()?;
        r.finish().ok()?;
        let mut a = TlvReader::new(alg.content).ok()?;
        let algorithm = a.expect(OID).ok()?.content;
        let parameters = if a.is_empty() {
            None
        } else {
            Some(a.next_tlv().ok()?.raw)
        };
        let (unused, public_key) = bits.content.split_first()?;
        (*unused == 0).then_some(Self {
            algorithm,
            parameters,
            public_key,
        })
    }
}

/// The key identifier certmint uses for subject and authority key identifiers: the leftmost 160
/// bits of the SHA-256 hash of the subjectPublicKey bits (RFC 7093 section 2, method 1).
pub(crate) fn key_identifier(spki: &[u8]) -> Option<[u8; 20]> {
    let parts = SpkiParts::parse(spki)?;
    let hash = provider::sha256(parts.public_key);
    let mut id = [0u8; 20];
    id.copy_from_slice(&hash[..20]);
    Some(id)
}

/// A leaf private key, parsed once and ready to sign handshakes.
///
/// The PKCS#8 bytes are wiped on drop; the backend's parsed key object (inside `signing_key`)
/// is not (ring offers no way to wipe it).
pub struct LeafKey {
    algorithm: KeyAlgorithm,
    pkcs8: Zeroizing<Vec<u8>>,
    spki: Vec<u8>,
    key_id: [u8; 20],
    signing_key: Arc<dyn SigningKey>,
}

impl LeafKey {
    /// Generates and parses a new key.
    pub fn generate(algorithm: KeyAlgorithm) -> Result<Self, KeyError> {
        Self::from_pkcs8(algorithm, algorithm.generate_pkcs8()?)
    }

    /// Parses a PKCS#8 key of a known algorithm.
    pub(crate) fn from_pkcs8(
        algorithm: KeyAlgorithm,
        pkcs8: Zeroizing<Vec<u8>>,
    ) -> Result<Self, KeyError> {
        let signing_key =
            provider::load_signing_key(&PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(&pkcs8[..])))
                .map_err(|_| KeyError::Unsupported)?;
        let spki = signing_key
            .public_key()
            .ok_or(KeyError::Unsupported)?
            .as_ref()
            .to_vec();
        if KeyAlgorithm::from_spki(&spki) != Some(algorithm) {
            return Err(KeyError::Unsupported);
        }
        let key_id = key_identifier(&spki).ok_or(KeyError::Unsupported)?;
        Ok(Self {
            algorithm,
            pkcs8,
            spki,
            key_id,
            signing_key,
        })
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn subject_public_key_info(&self) -> &[u8] {
        &self.spki
    }

    /// The private key as PKCS#8 DER, borrowed (for C users and for writing key files).
    pub fn pkcs8_der(&self) -> PrivatePkcs8KeyDer<'_> {
        PrivatePkcs8KeyDer::from(&self.pkcs8[..])
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
            .field("algorithm", &self.algorithm)
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
            assert_eq!(
                KeyAlgorithm::from_spki(key.subject_public_key_info()),
                Some(alg)
            );
        }
    }

    #[test]
    fn rsa_sizes_round_to_supported_ones() {
        assert_eq!(KeyAlgorithm::rsa_for_bits(1024), KeyAlgorithm::Rsa2048);
        assert_eq!(KeyAlgorithm::rsa_for_bits(2048), KeyAlgorithm::Rsa2048);
        assert_eq!(KeyAlgorithm::rsa_for_bits(2049), KeyAlgorithm::Rsa3072);
        assert_eq!(KeyAlgorithm::rsa_for_bits(8192), KeyAlgorithm::Rsa4096);
        assert!(KeyAlgorithm::Rsa2048.same_family(KeyAlgorithm::Rsa4096));
        assert!(!KeyAlgorithm::Rsa2048.same_family(KeyAlgorithm::EcdsaP256));
    }

    #[test]
    fn garbage_spki_is_not_an_algorithm() {
        assert_eq!(KeyAlgorithm::from_spki(b"\x30\x00"), None);
        assert_eq!(KeyAlgorithm::from_spki(b""), None);
    }
}
