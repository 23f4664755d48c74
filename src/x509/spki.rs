//! SubjectPublicKeyInfo: its parts, the key algorithm it holds, and the key identifier certmint
//! derives from it.

use std::fmt;

use super::oid;
use super::tlv::{self, TlvReader, BIT_STRING, INTEGER, OID, SEQUENCE};

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
            let curve = tlv::single(parts.parameters?).ok()?;
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
            let rsa_key = tlv::single(parts.public_key).ok()?;
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

/// A key algorithm name that is none of the spellings [`KeyAlgorithm`] accepts.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
#[error("unknown key type {0:?}: use p256, p384, ed25519, rsa2048, rsa3072 or rsa4096")]
pub struct UnknownKeyAlgorithm(pub String);

impl std::str::FromStr for KeyAlgorithm {
    type Err = UnknownKeyAlgorithm;
    /// Accepts the CLI spellings: `p256`, `p384`, `ed25519`, `rsa2048`, `rsa3072`, `rsa4096`
    /// (case-insensitive, `-` ignored).
    fn from_str(s: &str) -> Result<Self, UnknownKeyAlgorithm> {
        Ok(match s.to_ascii_lowercase().replace('-', "").as_str() {
            "p256" | "ecdsap256" => Self::EcdsaP256,
            "p384" | "ecdsap384" => Self::EcdsaP384,
            "ed25519" => Self::Ed25519,
            "rsa2048" => Self::Rsa2048,
            "rsa3072" => Self::Rsa3072,
            "rsa4096" => Self::Rsa4096,
            _ => return Err(UnknownKeyAlgorithm(s.to_owned())),
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
        let outer = tlv::single(spki).ok()?;
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
    let hash = crate::crypto::sha256(parts.public_key);
    let mut id = [0u8; 20];
    id.copy_from_slice(&hash[..20]);
    Some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

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
