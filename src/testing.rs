//! Test support (feature `testing`): [`ThrowawayCa`], a test hierarchy (root + intermediate)
//! made in memory, for demos, tests and `certmint ca init`. Not for production.

use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyIdMethod, KeyPair,
    KeyUsagePurpose, SerialNumber,
};
use rustls::pki_types::CertificateDer;

use crate::ca::{Issuer, IssuerOptions, SoftwareSigner};
use crate::error::{Error, KeyError};
use crate::keys::PrivateKey;
use crate::x509::KeyAlgorithm;

const DAY: Duration = Duration::from_secs(86_400);

/// A root CA (10 years) and an intermediate (5 years, pathLen 1, keyCertSign + cRLSign, SKI and
/// AKI), both backdated 1 hour for clock skew.
///
/// ```
/// use certmint::{testing::ThrowawayCa, KeyAlgorithm};
/// let ca = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256)?;
/// let issuer = ca.issuer()?;
/// assert_eq!(issuer.chain().len(), 1); // the intermediate; the root is never served
/// # Ok::<(), certmint::Error>(())
/// ```
#[non_exhaustive]
pub struct ThrowawayCa {
    /// The root certificate.
    pub root: CertificateDer<'static>,
    /// The root's private key.
    pub root_key: PrivateKey,
    /// The intermediate certificate.
    pub intermediate: CertificateDer<'static>,
    /// The intermediate's private key.
    pub intermediate_key: PrivateKey,
}

impl ThrowawayCa {
    /// Generates both keys (of `algorithm`) and both certificates.
    pub fn generate(algorithm: KeyAlgorithm) -> Result<Self, Error> {
        Self::generate_named(algorithm, "certmint throwaway")
    }

    /// As [`ThrowawayCa::generate`], with `name` in the common names.
    pub fn generate_named(algorithm: KeyAlgorithm, name: &str) -> Result<Self, Error> {
        let root_key = PrivateKey::generate(algorithm)?;
        let intermediate_key = PrivateKey::generate(algorithm)?;
        let root_kp = rcgen_key(&root_key)?;
        let inter_kp = rcgen_key(&intermediate_key)?;

        let root_params = ca_params(&format!("{name} root CA"), 3650, None)?;
        let root = root_params.self_signed(&root_kp).map_err(signing)?;
        let mut inter_params = ca_params(&format!("{name} intermediate CA"), 5 * 365, Some(1))?;
        inter_params.use_authority_key_identifier_extension = true;
        let root_issuer = rcgen::Issuer::new(root_params, &root_kp);
        let intermediate = inter_params
            .signed_by(&inter_kp, &root_issuer)
            .map_err(signing)?;
        Ok(Self {
            root: root.der().clone(),
            root_key,
            intermediate: intermediate.der().clone(),
            intermediate_key,
        })
    }

    /// The intermediate as an [`Issuer`].
    pub fn issuer(&self) -> Result<Issuer, Error> {
        let signer = SoftwareSigner::from_private_key(&self.intermediate_key)?;
        Issuer::new(
            vec![self.intermediate.clone(), self.root.clone()],
            Arc::new(signer),
            IssuerOptions::default(),
        )
    }
}

fn rcgen_key(key: &PrivateKey) -> Result<KeyPair, Error> {
    let alg = match key.algorithm() {
        KeyAlgorithm::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
        KeyAlgorithm::EcdsaP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
        KeyAlgorithm::Ed25519 => &rcgen::PKCS_ED25519,
        _ => &rcgen::PKCS_RSA_SHA256,
    };
    KeyPair::from_pkcs8_der_and_sign_algo(&key.pkcs8(), alg)
        .map_err(|_| KeyError::Unsupported.into())
}

fn signing(e: rcgen::Error) -> Error {
    Error::signing(e)
}

fn ca_params(cn: &str, days: u32, path_len: Option<u8>) -> Result<CertificateParams, Error> {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(
        DnType::OrganizationName,
        "certmint test hierarchy (not for production)",
    );
    dn.push(DnType::CommonName, cn);
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(match path_len {
        Some(n) => BasicConstraints::Constrained(n),
        None => BasicConstraints::Unconstrained,
    });
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p.key_identifier_method = KeyIdMethod::Sha256;
    let now = time::OffsetDateTime::now_utc();
    p.not_before = now - Duration::from_secs(3600);
    p.not_after = now + DAY * days;
    let mut serial = [0u8; 16];
    crate::crypto::fill_random(&mut serial).map_err(|_| KeyError::Generation)?;
    serial[0] &= 0x7f;
    p.serial_number = Some(SerialNumber::from_slice(&serial));
    Ok(p)
}
