//! With aws-lc-rs: EC and Ed25519 leaf keys generated straight into a signing key, without the
//! PKCS#8 round trip (serialise, parse, check the pair, re-derive the public key) that
//! [`LeafKey::new`](super::LeafKey::new) costs. This is what lets one key-pool thread keep up
//! with one minting thread (see BENCHMARKS.md, "key pool"). ring offers no such path: its key
//! pairs come only from PKCS#8.

use std::sync::Arc;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING,
    ECDSA_P384_SHA384_ASN1_SIGNING,
};
use rustls::pki_types::SubjectPublicKeyInfoDer;
use rustls::sign::{Signer, SigningKey};
use rustls::{SignatureAlgorithm, SignatureScheme};
use zeroize::Zeroizing;

use super::PrivateKey;
use crate::error::KeyError;
use crate::x509::KeyAlgorithm;

/// A freshly generated key: its PKCS#8 (for C servers and key files), its SubjectPublicKeyInfo
/// and its rustls signing key.
pub(super) struct Generated {
    pub(super) private: PrivateKey,
    pub(super) spki: Vec<u8>,
    pub(super) signing_key: Arc<dyn SigningKey>,
}

/// Generates an EC or Ed25519 key; `None` for RSA (generated through PKCS#8 as before).
pub(super) fn generate(algorithm: KeyAlgorithm) -> Option<Result<Generated, KeyError>> {
    let pair = match algorithm {
        KeyAlgorithm::EcdsaP256 => EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING)
            .map(|k| Pair::Ecdsa(k, SignatureScheme::ECDSA_NISTP256_SHA256)),
        KeyAlgorithm::EcdsaP384 => EcdsaKeyPair::generate(&ECDSA_P384_SHA384_ASN1_SIGNING)
            .map(|k| Pair::Ecdsa(k, SignatureScheme::ECDSA_NISTP384_SHA384)),
        KeyAlgorithm::Ed25519 => Ed25519KeyPair::generate().map(Pair::Ed25519),
        _ => return None,
    };
    Some(pair.map_err(|_| KeyError::Generation).and_then(|pair| {
        // PKCS#8 v1 for Ed25519 too: what OpenSSL 3.0 reads.
        let (pkcs8, spki) = match &pair {
            Pair::Ecdsa(k, _) => (k.to_pkcs8v1(), k.public_key().as_der()),
            Pair::Ed25519(k) => (k.to_pkcs8v1(), k.public_key().as_der()),
        };
        let pkcs8 = pkcs8.map_err(|_| KeyError::Generation)?;
        let spki = spki.map_err(|_| KeyError::Generation)?.as_ref().to_vec();
        Ok(Generated {
            private: PrivateKey::from_generated(algorithm, Zeroizing::new(pkcs8.as_ref().to_vec())),
            signing_key: Arc::new(NativeKey {
                pair: Arc::new(pair),
                spki: spki.clone(),
            }),
            spki,
        })
    }))
}

enum Pair {
    Ecdsa(EcdsaKeyPair, SignatureScheme),
    Ed25519(Ed25519KeyPair),
}

impl Pair {
    fn scheme(&self) -> SignatureScheme {
        match self {
            Self::Ecdsa(_, scheme) => *scheme,
            Self::Ed25519(_) => SignatureScheme::ED25519,
        }
    }
}

/// rustls' view of a generated key: offers its one scheme.
struct NativeKey {
    pair: Arc<Pair>,
    spki: Vec<u8>,
}

impl std::fmt::Debug for NativeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativeKey")
            .field("scheme", &self.pair.scheme())
            .finish_non_exhaustive()
    }
}

impl SigningKey for NativeKey {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn Signer>> {
        if !offered.contains(&self.pair.scheme()) {
            return None;
        }
        Some(Box::new(NativeSigner {
            pair: Arc::clone(&self.pair),
        }))
    }

    fn public_key(&self) -> Option<SubjectPublicKeyInfoDer<'_>> {
        Some(SubjectPublicKeyInfoDer::from(&self.spki[..]))
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        match &*self.pair {
            Pair::Ecdsa(..) => SignatureAlgorithm::ECDSA,
            Pair::Ed25519(_) => SignatureAlgorithm::ED25519,
        }
    }
}

struct NativeSigner {
    pair: Arc<Pair>,
}

impl std::fmt::Debug for NativeSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativeSigner")
            .field("scheme", &self.pair.scheme())
            .finish_non_exhaustive()
    }
}

impl Signer for NativeSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, rustls::Error> {
        match &*self.pair {
            Pair::Ecdsa(key, _) => key
                .sign(&SystemRandom::new(), message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| rustls::Error::General("ECDSA signing failed".into())),
            Pair::Ed25519(key) => Ok(key.sign(message).as_ref().to_vec()),
        }
    }

    fn scheme(&self) -> SignatureScheme {
        self.pair.scheme()
    }
}
