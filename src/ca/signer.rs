//! The [`Signer`] trait (anything that can sign for an issuing CA) and the signature algorithms
//! certmint signs with.

use std::fmt::Debug;

use rustls::pki_types::SubjectPublicKeyInfoDer;

use crate::x509::oid;
use crate::x509::tlv::{self, NULL, OID, SEQUENCE};
use crate::x509::KeyAlgorithm;

/// The signature algorithms certmint signs certificates with. By default it follows the CA's
/// key ([`SignatureAlgorithm::for_key`]): P-256 → ecdsa-with-SHA256, P-384 → ecdsa-with-SHA384,
/// Ed25519 → Ed25519, RSA → sha256WithRSAEncryption. An RSA software key can also sign with
/// SHA-384 or SHA-512 ([`SoftwareSigner::with_algorithm`](crate::ca::SoftwareSigner::with_algorithm)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignatureAlgorithm {
    /// ecdsa-with-SHA256 (P-256 keys).
    EcdsaP256Sha256,
    /// ecdsa-with-SHA384 (P-384 keys).
    EcdsaP384Sha384,
    /// Ed25519.
    Ed25519,
    /// sha256WithRSAEncryption (PKCS#1 v1.5), any RSA size.
    RsaPkcs1Sha256,
    /// sha384WithRSAEncryption (PKCS#1 v1.5), any RSA size.
    RsaPkcs1Sha384,
    /// sha512WithRSAEncryption (PKCS#1 v1.5), any RSA size.
    RsaPkcs1Sha512,
}

impl SignatureAlgorithm {
    /// The algorithm a key of `key` signs certificates with.
    pub fn for_key(key: KeyAlgorithm) -> Self {
        match key {
            KeyAlgorithm::EcdsaP256 => Self::EcdsaP256Sha256,
            KeyAlgorithm::EcdsaP384 => Self::EcdsaP384Sha384,
            KeyAlgorithm::Ed25519 => Self::Ed25519,
            KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096 => {
                Self::RsaPkcs1Sha256
            }
        }
    }

    /// The longest signatureValue this algorithm gives (RSA: a 4,096-bit key; a larger key's
    /// signature still fits, in a buffer grown once).
    pub(crate) fn max_signature_len(self) -> usize {
        match self {
            // Ecdsa-Sig-Value: SEQUENCE of two INTEGERs of up to 33 and 49 octets.
            Self::EcdsaP256Sha256 => 72,
            Self::EcdsaP384Sha384 => 104,
            Self::Ed25519 => 64,
            Self::RsaPkcs1Sha256 | Self::RsaPkcs1Sha384 | Self::RsaPkcs1Sha512 => 512,
        }
    }

    /// The DER AlgorithmIdentifier (RSA with explicit NULL parameters, as RFC 4055 requires).
    pub(crate) fn algorithm_identifier(self) -> Vec<u8> {
        let (oid, null) = match self {
            Self::EcdsaP256Sha256 => (oid::ECDSA_WITH_SHA256, false),
            Self::EcdsaP384Sha384 => (oid::ECDSA_WITH_SHA384, false),
            Self::Ed25519 => (oid::ED25519, false),
            Self::RsaPkcs1Sha256 => (oid::SHA256_WITH_RSA, true),
            Self::RsaPkcs1Sha384 => (oid::SHA384_WITH_RSA, true),
            Self::RsaPkcs1Sha512 => (oid::SHA512_WITH_RSA, true),
        };
        let mut content = tlv::tlv(OID, oid.as_bytes());
        if null {
            tlv::write_tlv(&mut content, NULL, &[]);
        }
        tlv::tlv(SEQUENCE, &content)
    }

    /// Whether `signature` (an X.509 signatureValue: DER `Ecdsa-Sig-Value` for ECDSA) over
    /// `message` verifies under the SubjectPublicKeyInfo `spki`. Signatures from a CA store
    /// (token signatures, CRLs) are checked with this before they are used.
    pub(crate) fn verify(self, spki: &[u8], message: &[u8], signature: &[u8]) -> bool {
        use crate::crypto::backend::signature::{self as sig, UnparsedPublicKey};
        let Some(parts) = crate::x509::spki::SpkiParts::parse(spki) else {
            return false;
        };
        let verifier: &dyn sig::VerificationAlgorithm = match self {
            Self::EcdsaP256Sha256 => &sig::ECDSA_P256_SHA256_ASN1,
            Self::EcdsaP384Sha384 => &sig::ECDSA_P384_SHA384_ASN1,
            Self::Ed25519 => &sig::ED25519,
            Self::RsaPkcs1Sha256 => &sig::RSA_PKCS1_2048_8192_SHA256,
            Self::RsaPkcs1Sha384 => &sig::RSA_PKCS1_2048_8192_SHA384,
            Self::RsaPkcs1Sha512 => &sig::RSA_PKCS1_2048_8192_SHA512,
        };
        UnparsedPublicKey::new(verifier, parts.public_key)
            .verify(message, signature)
            .is_ok()
    }

    /// The matching TLS signature scheme.
    pub(crate) fn tls_scheme(self) -> rustls::SignatureScheme {
        use rustls::SignatureScheme as S;
        match self {
            Self::EcdsaP256Sha256 => S::ECDSA_NISTP256_SHA256,
            Self::EcdsaP384Sha384 => S::ECDSA_NISTP384_SHA384,
            Self::Ed25519 => S::ED25519,
            Self::RsaPkcs1Sha256 => S::RSA_PKCS1_SHA256,
            Self::RsaPkcs1Sha384 => S::RSA_PKCS1_SHA384,
            Self::RsaPkcs1Sha512 => S::RSA_PKCS1_SHA512,
        }
    }
}

/// Signs certificates (and later CRLs) for an issuing CA: a software key, a PKCS#11 token, or a
/// rotating sub-CA.
///
/// `sign` receives the complete DER TBSCertificate and returns the X.509 signatureValue
/// contents (DER `Ecdsa-Sig-Value` for ECDSA). A failure is returned as
/// [`Error::Signing`](crate::Error::Signing) (or a more precise variant, such as
/// [`Error::Pkcs11`](crate::Error::Pkcs11)) carrying the signer's own error.
pub trait Signer: Debug + Send + Sync {
    /// The algorithm `sign` produces.
    fn algorithm(&self) -> SignatureAlgorithm;
    /// The signer's public key as a DER SubjectPublicKeyInfo.
    fn subject_public_key_info(&self) -> SubjectPublicKeyInfoDer<'_>;
    /// Signs `message`.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, crate::error::Error>;

    /// Restores the signer in a child process after `fork()`. A PKCS#11 signer initialises the
    /// module again and opens fresh sessions on its next signature; a software key needs
    /// nothing (the default).
    fn after_fork_child(&self) {}

    /// What the signer has done, for signers worth watching (a PKCS#11 token); `None` for a
    /// software key (the default).
    fn counters(&self) -> Option<SignerCounters> {
        None
    }
}

/// A signer's counters ([`Signer::counters`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignerCounters {
    /// Signatures made (and verified).
    pub signatures: u64,
    /// Signatures that failed: the token refused, was unreachable, or its signature did not
    /// verify.
    pub errors: u64,
    /// Times the signer reconnected to its token (sessions lost, module re-initialised).
    pub reconnects: u64,
}
