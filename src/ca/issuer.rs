//! [`Issuer`]: a signer, its certificate and the chain above it, checked once at load.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, UnixTime};

use super::{SignatureAlgorithm, Signer, SoftwareSigner};
use crate::error::{Error, IssuerError};
use crate::keys::Secret;
use crate::x509::asn1_time::{self, Seconds};
use crate::x509::cert::ParsedCert;
use crate::x509::ext::{self, KeyUsage};
use crate::x509::{hex, oid, KeyAlgorithm, SpkiParts};

/// The default CRL base URL. The `.invalid` top-level domain never resolves (RFC 6761), so
/// clients that insist on fetching the CRL fail fast until a real URL is configured.
pub const DEFAULT_CRL_BASE_URL: &str = "http://crl.certmint.invalid";

/// Optional settings of an issuing CA.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct IssuerOptions {
    /// Every certificate this CA issues carries the CRL distribution point
    /// `{crl_base_url}/{this CA's key id in lower-case hex}.crl` (default
    /// [`DEFAULT_CRL_BASE_URL`], which never resolves).
    pub crl_base_url: String,
    /// URLs where clients can fetch the issuing certificate (AIA caIssuers).
    pub ca_issuers_urls: Vec<String>,
    /// OCSP responder URLs (AIA OCSP).
    pub ocsp_urls: Vec<String>,
    /// Accept a CA certificate without subjectKeyIdentifier, deriving its key identifier from
    /// its key (RFC 7093 method 1: the leftmost 160 bits of the SHA-256 of the key bits, as for
    /// certmint's own keys) for the leaves' authority key identifier. Default off (such a
    /// certificate is refused); on for CA certificates certmint does not choose, such as the
    /// untrusted CA Squid generates at start.
    pub key_id_from_key: bool,
}

impl IssuerOptions {
    /// Sets the CRL base URL.
    pub fn with_crl_base_url(mut self, url: impl Into<String>) -> Self {
        self.crl_base_url = url.into();
        self
    }

    /// Sets the AIA caIssuers URLs.
    pub fn with_ca_issuers_urls(mut self, urls: Vec<String>) -> Self {
        self.ca_issuers_urls = urls;
        self
    }

    /// Sets the AIA OCSP URLs.
    pub fn with_ocsp_urls(mut self, urls: Vec<String>) -> Self {
        self.ocsp_urls = urls;
        self
    }
}

impl Default for IssuerOptions {
    fn default() -> Self {
        Self {
            crl_base_url: DEFAULT_CRL_BASE_URL.to_owned(),
            ca_issuers_urls: Vec::new(),
            ocsp_urls: Vec::new(),
            key_id_from_key: false,
        }
    }
}

/// The extensions every certificate of one issuer carries, encoded once.
#[derive(Clone, Debug)]
pub(crate) struct IssuedExtensions {
    pub(crate) authority_key_id: Vec<u8>,
    pub(crate) crl_url: String,
    pub(crate) crl_distribution_points: Vec<u8>,
    pub(crate) authority_info_access: Option<Vec<u8>>,
}

impl IssuedExtensions {
    /// Appends authorityKeyIdentifier, cRLDistributionPoints and (when configured)
    /// authorityInfoAccess: what every certificate this issuer signs carries.
    pub(crate) fn append_to(&self, extensions: &mut Vec<u8>) {
        extensions.extend_from_slice(&self.authority_key_id);
        extensions.extend_from_slice(&self.crl_distribution_points);
        if let Some(aia) = &self.authority_info_access {
            extensions.extend_from_slice(aia);
        }
    }

    fn new(key_id: &[u8], options: &IssuerOptions) -> Self {
        let crl_url = format!(
            "{}/{}.crl",
            options.crl_base_url.trim_end_matches('/'),
            hex(key_id)
        );
        Self {
            authority_key_id: ext::authority_key_id(key_id),
            crl_distribution_points: ext::crl_distribution_points(std::slice::from_ref(&crl_url)),
            crl_url,
            authority_info_access: ext::authority_info_access(
                &options.ca_issuers_urls,
                &options.ocsp_urls,
            ),
        }
    }
}

/// An issuing CA: its certificate, the chain above it up to (excluding) the root, and a
/// [`Signer`] for its key.
///
/// Construction refuses, with an [`IssuerError`], a certificate that is not a CA
/// (basicConstraints CA:TRUE and keyUsage with keyCertSign), has no
/// subjectKeyIdentifier, is outside its validity period, does not match the key, or has an
/// extendedKeyUsage without serverAuth. A CA with nameConstraints is accepted with a warning
/// (leaves for names outside the constraints will fail validation).
pub struct Issuer {
    chain: Vec<CertificateDer<'static>>,
    signer: Arc<dyn Signer>,
    subject: Vec<u8>,
    key_id: Vec<u8>,
    not_before: Seconds,
    not_after: Seconds,
    algorithm_identifier: Vec<u8>,
    issued: IssuedExtensions,
    fingerprint: [u8; 32],
    path_len: Option<u64>,
    /// Self-signed roots given with the chain: never served, kept for checks.
    roots: Vec<CertificateDer<'static>>,
}

impl Issuer {
    /// Builds an issuer from its chain (issuing certificate first; further certificates up to the
    /// root; self-signed roots are dropped from what is served) and its signer, checked now.
    pub fn new(
        chain: Vec<CertificateDer<'static>>,
        signer: Arc<dyn Signer>,
        options: IssuerOptions,
    ) -> Result<Self, Error> {
        Self::new_at(chain, signer, options, UnixTime::now())
    }

    /// As [`Issuer::new`], checking validity at `now`.
    pub fn new_at(
        mut chain: Vec<CertificateDer<'static>>,
        signer: Arc<dyn Signer>,
        options: IssuerOptions,
        now: UnixTime,
    ) -> Result<Self, Error> {
        let first = chain.first().ok_or(IssuerError::NoCertificate)?;
        let cert = ParsedCert::parse(first.as_ref()).map_err(IssuerError::from)?;
        check_issuing_certificate(&cert, signer.as_ref(), asn1_time::seconds(now))?;
        let key_id = match cert
            .extension(&oid::SUBJECT_KEY_IDENTIFIER)
            .and_then(|e| ext::decode_subject_key_id(e.value))
        {
            Some(id) => id.to_vec(),
            None if options.key_id_from_key => crate::x509::key_identifier(cert.spki)
                .ok_or(IssuerError::NoSubjectKeyIdentifier)?
                .to_vec(),
            None => return Err(IssuerError::NoSubjectKeyIdentifier.into()),
        };
        if cert.extension(&oid::NAME_CONSTRAINTS).is_some() {
            log::warn!(
                "issuing CA carries nameConstraints: leaves for names outside them will not validate"
            );
        }
        let path_len = cert
            .extension(&oid::BASIC_CONSTRAINTS)
            .and_then(|e| ext::decode_basic_constraints(e.value))
            .and_then(|(_, path_len)| path_len);
        let subject = cert.subject.raw.to_vec();
        let issued = IssuedExtensions::new(&key_id, &options);
        let (not_before, not_after) = (cert.not_before, cert.not_after);
        let fingerprint = crate::crypto::sha256(first.as_ref());
        let algorithm_identifier = signer.algorithm().algorithm_identifier();
        // Everything after the issuing certificate, without self-signed roots: clients have the
        // root already and sending it only costs bytes.
        let (roots, rest): (Vec<_>, Vec<_>) = chain
            .split_off(1)
            .into_iter()
            .partition(|c| ParsedCert::parse(c.as_ref()).is_ok_and(|p| p.is_self_issued()));
        chain.extend(rest);
        Ok(Self {
            chain,
            roots,
            signer,
            subject,
            key_id,
            not_before,
            not_after,
            algorithm_identifier,
            issued,
            fingerprint,
            path_len,
        })
    }

    /// Reads the certificate chain (PEM or DER) and a software key (PEM or DER).
    ///
    /// ```no_run
    /// let issuer = certmint::ca::Issuer::from_pem(
    ///     &std::fs::read("intermediate.pem")?,
    ///     &std::fs::read("intermediate-key.pem")?,
    /// )?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_pem(cert_chain: &[u8], key: &[u8]) -> Result<Self, Error> {
        Self::from_pem_with_passphrase(cert_chain, key, None)
    }

    /// As [`Issuer::from_pem`], for a key that may be encrypted: with `passphrase`, or, when it
    /// is `None`, the one in `CERTMINT_CA_KEY_PASS` (the rule every certmint loader follows).
    pub fn from_pem_with_passphrase(
        cert_chain: &[u8],
        key: &[u8],
        passphrase: Option<&Secret>,
    ) -> Result<Self, Error> {
        let chain = crate::pem::parse_certificates(cert_chain)?;
        let from_env = match passphrase {
            Some(_) => None,
            None => crate::keys::passphrase_from_sources(None)?,
        };
        let signer = Arc::new(SoftwareSigner::from_key_bytes_with_passphrase(
            key,
            passphrase.or(from_env.as_ref()),
        )?);
        Self::new(chain, signer, IssuerOptions::default())
    }

    /// Reads the certificate chain and key from files (an encrypted key's passphrase from
    /// `CERTMINT_CA_KEY_PASS`).
    pub fn from_files(cert_chain: &Path, key: &Path) -> Result<Self, Error> {
        Self::from_files_with_passphrase(cert_chain, key, None)
    }

    /// As [`Issuer::from_files`], for a key that may be encrypted.
    pub fn from_files_with_passphrase(
        cert_chain: &Path,
        key: &Path,
        passphrase: Option<&Secret>,
    ) -> Result<Self, Error> {
        let chain = crate::pem::read_certificates(cert_chain)?;
        let signer = super::load::software_signer_from_file(key, passphrase, None)?;
        Self::new(chain, Arc::new(signer), IssuerOptions::default())
            .map_err(|e| in_issuer_files(e, cert_chain, key))
    }

    /// Replaces the CRL and AIA settings for what this issuer signs from now on.
    pub fn with_options(mut self, options: IssuerOptions) -> Self {
        self.issued = IssuedExtensions::new(&self.key_id, &options);
        self
    }

    /// basicConstraints pathLenConstraint, if any.
    pub fn path_len(&self) -> Option<u64> {
        self.path_len
    }

    /// The CRL distribution point URL every certificate of this issuer carries.
    pub fn crl_url(&self) -> &str {
        &self.issued.crl_url
    }

    /// The issuing certificate.
    pub fn certificate(&self) -> &CertificateDer<'static> {
        &self.chain[0]
    }

    /// The issuing certificate followed by the rest of the chain, without the root: what a
    /// server sends after the leaf.
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }

    /// The signer.
    pub fn signer(&self) -> &Arc<dyn Signer> {
        &self.signer
    }

    /// The signature algorithm leaves are signed with.
    pub fn signature_algorithm(&self) -> SignatureAlgorithm {
        self.signer.algorithm()
    }

    /// The subjectKeyIdentifier, which minted leaves carry as their authorityKeyIdentifier.
    pub fn key_id(&self) -> &[u8] {
        &self.key_id
    }

    /// SHA-256 of the issuing certificate's DER: this issuer's identity in caches.
    pub fn fingerprint(&self) -> &[u8; 32] {
        &self.fingerprint
    }

    /// The issuing certificate's notAfter.
    pub fn not_after(&self) -> UnixTime {
        asn1_time::unix_time(self.not_after)
    }

    /// `[not_before, not_after]` intersected with this issuer's validity. A window that ends
    /// before it starts (an origin that expired before the issuer existed) collapses to its end,
    /// so the leaf is expired just as the origin is.
    pub(crate) fn clamp(&self, not_before: Seconds, not_after: Seconds) -> (Seconds, Seconds) {
        let nb = not_before.max(self.not_before);
        let na = not_after.min(self.not_after);
        (nb.min(na), na)
    }

    /// Every certificate this issuer was given: its chain and the roots it does not serve.
    pub(crate) fn all_certificates(&self) -> impl Iterator<Item = &CertificateDer<'static>> {
        self.chain.iter().chain(&self.roots)
    }

    pub(crate) fn subject(&self) -> &[u8] {
        &self.subject
    }

    pub(crate) fn validity(&self) -> (Seconds, Seconds) {
        (self.not_before, self.not_after)
    }

    pub(crate) fn algorithm_identifier(&self) -> &[u8] {
        &self.algorithm_identifier
    }

    pub(crate) fn issued(&self) -> &IssuedExtensions {
        &self.issued
    }
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuer")
            .field("signer", &self.signer)
            .field("chain_len", &self.chain.len())
            .finish_non_exhaustive()
    }
}

/// Names the file an [`Issuer::new`] error is about: the key file for a key that does not match,
/// the certificate file for everything else.
pub(crate) fn in_issuer_files(error: Error, cert_chain: &Path, key: &Path) -> Error {
    match error {
        Error::Issuer(IssuerError::KeyMismatch { .. }) => error.in_file(key),
        other => other.in_file(cert_chain),
    }
}

fn check_issuing_certificate(
    cert: &ParsedCert<'_>,
    signer: &dyn Signer,
    now: Seconds,
) -> Result<(), IssuerError> {
    let is_ca = cert
        .extension(&oid::BASIC_CONSTRAINTS)
        .and_then(|e| ext::decode_basic_constraints(e.value))
        .is_some_and(|(ca, _)| ca);
    if !is_ca {
        return Err(IssuerError::NotCa);
    }
    // RFC 5280 4.2.1.3: a CA certificate that signs certificates has keyUsage keyCertSign.
    let usage = cert
        .extension(&oid::KEY_USAGE)
        .map(|e| KeyUsage::decode(e.value).unwrap_or_default());
    if !usage.is_some_and(|u| u.has(KeyUsage::KEY_CERT_SIGN)) {
        return Err(IssuerError::NoKeyCertSign);
    }
    if cert
        .extension(&oid::SUBJECT_KEY_IDENTIFIER)
        .and_then(|e| ext::decode_subject_key_id(e.value))
        .is_none_or(<[u8]>::is_empty)
    {
        return Err(IssuerError::NoSubjectKeyIdentifier);
    }
    if now > cert.not_after {
        return Err(IssuerError::Expired {
            not_after: asn1_time::unix_time(cert.not_after),
        });
    }
    if now < cert.not_before {
        return Err(IssuerError::NotYetValid {
            not_before: asn1_time::unix_time(cert.not_before),
        });
    }
    let ours_der = signer.subject_public_key_info();
    let ours = SpkiParts::parse(ours_der.as_ref());
    let theirs = SpkiParts::parse(cert.spki);
    match (ours, theirs) {
        (Some(a), Some(b))
            if a.algorithm == b.algorithm
                && a.public_key == b.public_key
                && KeyAlgorithm::from_spki(cert.spki).is_some() => {}
        _ => {
            return Err(IssuerError::KeyMismatch {
                subject: crate::x509::name::rfc4514(cert.subject.raw),
            })
        }
    }
    if let Some(eku) = cert.extension(&oid::EXT_KEY_USAGE) {
        let list = ext::decode_oid_list(eku.value).unwrap_or_default();
        if !list.contains(&oid::SERVER_AUTH.as_bytes()) {
            return Err(IssuerError::EkuWithoutServerAuth);
        }
    }
    Ok(())
}
