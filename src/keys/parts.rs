//! A private key's raw components, borrowed from its PKCS#8: for handing the key to another
//! crypto library without that library's DER decoder.
//!
//! OpenSSL 3.0 decodes a PKCS#8 key through its provider decoders in about 0.3 ms; importing the
//! same components with `EVP_PKEY_fromdata` takes about 12 µs. A server that installs a freshly
//! minted leaf on every new site pays that difference on each mint.

use crate::x509::tlv::{self, TlvReader, BIT_STRING, INTEGER, OCTET_STRING, SEQUENCE};
use crate::x509::KeyAlgorithm;

/// The components of a private key, borrowed from its PKCS#8 bytes (nothing is copied, so
/// nothing new needs wiping). Integers are unsigned big-endian without leading zero bytes.
///
/// ```
/// use certmint::{keys::{KeyParts, PrivateKey}, KeyAlgorithm};
/// let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256)?;
/// let KeyParts::Ec { private, public } = key.parts()? else { unreachable!() };
/// assert_eq!(private.len(), 32);
/// assert_eq!(public.map(|p| p.len()), Some(65)); // an uncompressed SEC1 point
/// # Ok::<(), certmint::KeyError>(())
/// ```
#[derive(Clone, Copy)]
#[non_exhaustive]
pub enum KeyParts<'a> {
    /// An ECDSA key ([`KeyAlgorithm::EcdsaP256`] or [`KeyAlgorithm::EcdsaP384`]).
    Ec {
        /// The private scalar, as the key encodes it (the curve's size in bytes).
        private: &'a [u8],
        /// The public point as a SEC1 octet string, when the key carries it (certmint's keys
        /// always do).
        public: Option<&'a [u8]>,
    },
    /// An Ed25519 key: its 32-byte seed.
    Ed25519 {
        /// The seed (RFC 8032's private key).
        seed: &'a [u8],
    },
    /// An RSA key (PKCS#1's RSAPrivateKey, two primes).
    Rsa {
        /// Modulus.
        n: &'a [u8],
        /// Public exponent.
        e: &'a [u8],
        /// Private exponent.
        d: &'a [u8],
        /// First prime.
        p: &'a [u8],
        /// Second prime.
        q: &'a [u8],
        /// d mod (p-1).
        dp: &'a [u8],
        /// d mod (q-1).
        dq: &'a [u8],
        /// q^-1 mod p.
        qinv: &'a [u8],
    },
}

impl std::fmt::Debug for KeyParts<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self {
            Self::Ec { .. } => "Ec",
            Self::Ed25519 { .. } => "Ed25519",
            Self::Rsa { .. } => "Rsa",
        };
        f.debug_struct("KeyParts")
            .field("kind", &kind)
            .finish_non_exhaustive()
    }
}

/// Splits `pkcs8`, a key of `algorithm`, into its parts.
pub(super) fn parse(algorithm: KeyAlgorithm, pkcs8: &[u8]) -> der::Result<KeyParts<'_>> {
    // PrivateKeyInfo / OneAsymmetricKey: version, algorithm, privateKey, [attributes], [public].
    let mut info = TlvReader::new(tlv::single(pkcs8)?.content)?;
    info.expect(INTEGER)?;
    info.expect(SEQUENCE)?;
    let private_key = info.expect(OCTET_STRING)?.content;
    Ok(match algorithm {
        KeyAlgorithm::EcdsaP256 | KeyAlgorithm::EcdsaP384 => {
            // ECPrivateKey: version 1, privateKey, [0] parameters, [1] publicKey.
            let mut ec = sequence(private_key)?;
            ec.expect(INTEGER)?;
            let private = ec.expect(OCTET_STRING)?.content;
            ec.optional(tlv::context_constructed(0))?;
            let public = match ec.optional(tlv::context_constructed(1))? {
                Some(wrapper) => Some(bit_string(tlv::single(wrapper.content)?)?),
                None => None,
            };
            KeyParts::Ec { private, public }
        }
        KeyAlgorithm::Ed25519 => {
            let seed = tlv::single(private_key)?;
            if seed.tag != OCTET_STRING {
                return Err(der::ErrorKind::Failed.into());
            }
            KeyParts::Ed25519 { seed: seed.content }
        }
        KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096 => {
            let mut rsa = sequence(private_key)?;
            rsa.expect(INTEGER)?;
            let mut next = || rsa.expect(INTEGER).map(|i| unsigned(i.content));
            KeyParts::Rsa {
                n: next()?,
                e: next()?,
                d: next()?,
                p: next()?,
                q: next()?,
                dp: next()?,
                dq: next()?,
                qinv: next()?,
            }
        }
    })
}

fn sequence(bytes: &[u8]) -> der::Result<TlvReader<'_>> {
    let seq = tlv::single(bytes)?;
    if seq.tag != SEQUENCE {
        return Err(der::ErrorKind::Failed.into());
    }
    TlvReader::new(seq.content)
}

/// A BIT STRING's bits, which must be whole bytes.
fn bit_string(tlv: tlv::Tlv<'_>) -> der::Result<&[u8]> {
    match tlv.content.split_first() {
        Some((0, bits)) if tlv.tag == BIT_STRING => Ok(bits),
        _ => Err(der::ErrorKind::Failed.into()),
    }
}

/// An INTEGER's magnitude without the sign byte DER adds before a high bit.
fn unsigned(content: &[u8]) -> &[u8] {
    match content {
        [0, rest @ ..] if !rest.is_empty() => rest,
        _ => content,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::PrivateKey;

    #[test]
    fn every_algorithm_splits_into_parts_of_its_size() {
        for algorithm in [
            KeyAlgorithm::EcdsaP256,
            KeyAlgorithm::EcdsaP384,
            KeyAlgorithm::Ed25519,
            KeyAlgorithm::Rsa2048,
        ] {
            let key = PrivateKey::generate(algorithm).unwrap();
            match (algorithm, key.parts().unwrap()) {
                (KeyAlgorithm::EcdsaP256, KeyParts::Ec { private, public }) => {
                    assert_eq!(private.len(), 32);
                    let public = public.unwrap();
                    assert_eq!((public.len(), public[0]), (65, 4));
                }
                (KeyAlgorithm::EcdsaP384, KeyParts::Ec { private, public }) => {
                    assert_eq!(private.len(), 48);
                    assert_eq!(public.unwrap().len(), 97);
                }
                (KeyAlgorithm::Ed25519, KeyParts::Ed25519 { seed }) => assert_eq!(seed.len(), 32),
                (KeyAlgorithm::Rsa2048, KeyParts::Rsa { n, e, p, q, .. }) => {
                    assert_eq!(n.len(), 256);
                    assert_ne!(n[0], 0);
                    assert_eq!(e, [1, 0, 1]);
                    assert_eq!((p.len(), q.len()), (128, 128));
                }
                (algorithm, parts) => panic!("{algorithm:?} gave {parts:?}"),
            }
        }
    }

    #[test]
    fn the_ec_public_point_is_the_one_in_the_certificate_key() {
        let key = crate::keys::LeafKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let KeyParts::Ec { public, .. } = key.private_key().parts().unwrap() else {
            panic!("not EC")
        };
        let spki = key.subject_public_key_info();
        assert!(spki.as_ref().ends_with(public.unwrap()));
    }

    #[test]
    fn ed25519_keys_are_pkcs8_v1_without_the_public_key() {
        // OpenSSL 3.0 cannot read RFC 5958's v2 (ring's form); RFC 8410's v1 is 48 bytes.
        let key = PrivateKey::generate(KeyAlgorithm::Ed25519).unwrap();
        let der = key.pkcs8().secret_pkcs8_der().to_vec();
        assert_eq!(der.len(), 48);
        assert_eq!(&der[2..5], [INTEGER, 1, 0]);
        let KeyParts::Ed25519 { seed } = key.parts().unwrap() else {
            panic!("not Ed25519")
        };
        assert_eq!(seed, &der[16..]);
        // ...and it still signs.
        crate::keys::LeafKey::new(key).unwrap();
    }

    #[test]
    fn a_key_whose_bytes_do_not_match_its_algorithm_is_an_error() {
        let rsa = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        assert!(parse(KeyAlgorithm::Rsa2048, rsa.pkcs8().secret_pkcs8_der()).is_err());
        assert!(parse(KeyAlgorithm::EcdsaP256, b"\x30\x03\x02\x01\x00").is_err());
        assert!(parse(KeyAlgorithm::Ed25519, &[]).is_err());
    }
}
