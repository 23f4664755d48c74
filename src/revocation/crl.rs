//! RFC 5280 v2 CRLs, signed through the issuing CA's [`Signer`](crate::ca::Signer) and
//! verified before they are handed out.

use std::time::{Duration, SystemTime};

use rustls::pki_types::UnixTime;

use crate::ca::Issuer;
use crate::error::{Error, RevocationError};
use crate::x509::asn1_time::{self, Seconds};
use crate::x509::tlv::{self, context_constructed, ENUMERATED, INTEGER, SEQUENCE};
use crate::x509::{ext, oid};

/// Why a certificate was revoked (RFC 5280 CRLReason; `removeFromCRL` is not offered: certmint
/// never un-revokes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RevocationReason {
    /// No reason given (written as no reasonCode, as RFC 5280 recommends).
    Unspecified,
    /// The certificate's key was compromised.
    KeyCompromise,
    /// A CA's key was compromised.
    CaCompromise,
    /// The subject's affiliation changed.
    AffiliationChanged,
    /// The certificate was replaced.
    Superseded,
    /// The certificate is no longer needed (a retired node).
    CessationOfOperation,
    /// The certificate is on hold.
    CertificateHold,
    /// A privilege was withdrawn.
    PrivilegeWithdrawn,
}

impl RevocationReason {
    /// Every reason, with the name [`RevocationReason::name`] gives.
    pub const ALL: [Self; 8] = [
        Self::Unspecified,
        Self::KeyCompromise,
        Self::CaCompromise,
        Self::AffiliationChanged,
        Self::Superseded,
        Self::CessationOfOperation,
        Self::CertificateHold,
        Self::PrivilegeWithdrawn,
    ];

    /// The CRLReason code.
    pub fn code(self) -> u8 {
        match self {
            Self::Unspecified => 0,
            Self::KeyCompromise => 1,
            Self::CaCompromise => 2,
            Self::AffiliationChanged => 3,
            Self::Superseded => 4,
            Self::CessationOfOperation => 5,
            Self::CertificateHold => 6,
            Self::PrivilegeWithdrawn => 9,
        }
    }

    /// The reason for a code; `None` for codes certmint does not write.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }

    /// The RFC 5280 name in kebab case (`key-compromise`), as the CLI takes it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified",
            Self::KeyCompromise => "key-compromise",
            Self::CaCompromise => "ca-compromise",
            Self::AffiliationChanged => "affiliation-changed",
            Self::Superseded => "superseded",
            Self::CessationOfOperation => "cessation-of-operation",
            Self::CertificateHold => "certificate-hold",
            Self::PrivilegeWithdrawn => "privilege-withdrawn",
        }
    }
}

impl std::str::FromStr for RevocationReason {
    type Err = RevocationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| RevocationError::UnknownReason(s.chars().take(40).collect()))
    }
}

/// One revoked certificate on a CRL.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RevokedCertificate {
    /// The certificate's serial number (big-endian magnitude, as in the certificate).
    pub serial: Vec<u8>,
    /// When it was revoked.
    pub revoked_at: UnixTime,
    /// Why.
    pub reason: RevocationReason,
}

impl RevokedCertificate {
    /// The certificate with `serial` (big-endian magnitude), revoked at `revoked_at` for
    /// `reason`.
    pub fn new(serial: Vec<u8>, revoked_at: UnixTime, reason: RevocationReason) -> Self {
        Self {
            serial,
            revoked_at,
            reason,
        }
    }
}

/// A signed CRL.
#[derive(Clone, Debug)]
pub struct Crl {
    der: Vec<u8>,
    this_update: UnixTime,
    next_update: UnixTime,
    number: u64,
    entries: usize,
}

impl Crl {
    /// Builds and signs a CRL for `issuer`: its subject byte for byte as the CRL issuer, an
    /// authorityKeyIdentifier with its key id, a CRL number equal to `this_update` in
    /// milliseconds since the epoch (monotonic across processes and nodes without a shared
    /// counter), and `revoked` in order. The signature comes from the issuer's
    /// [`Signer`](crate::ca::Signer) (software, PKCS#11 or a rotating sub-CA's key) and is
    /// verified against the issuer's public key before the CRL is returned.
    ///
    /// Errors: [`RevocationError::BadLifetime`] when `next_update` is not after `this_update`;
    /// [`RevocationError::BadSignature`] when the signature does not verify; the signer's own
    /// errors.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use certmint::{revocation::Crl, testing::ThrowawayCa, KeyAlgorithm};
    /// let ca = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256)?;
    /// let issuer = ca.issuer()?;
    /// let now = SystemTime::now();
    /// let crl = Crl::sign(&issuer, now, now + Duration::from_secs(86_400), &[])?;
    /// assert!(crl.to_pem().starts_with("-----BEGIN X509 CRL-----"));
    /// # Ok::<(), certmint::Error>(())
    /// ```
    pub fn sign(
        issuer: &Issuer,
        this_update: SystemTime,
        next_update: SystemTime,
        revoked: &[RevokedCertificate],
    ) -> Result<Self, Error> {
        let since = |t: SystemTime| t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        let (this, next) = (since(this_update), since(next_update));
        if next.as_secs() <= this.as_secs() {
            return Err(RevocationError::BadLifetime.into());
        }
        let number = u64::try_from(this.as_millis()).unwrap_or(u64::MAX);
        let tbs = tbs_cert_list(issuer, secs(this), secs(next), number, revoked);
        let der = sign_verified(issuer, tbs)?;
        Ok(Self {
            der,
            this_update: UnixTime::since_unix_epoch(Duration::from_secs(this.as_secs())),
            next_update: UnixTime::since_unix_epoch(Duration::from_secs(next.as_secs())),
            number,
            entries: revoked.len(),
        })
    }

    /// The CRL's DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The CRL as PEM (`X509 CRL`).
    pub fn to_pem(&self) -> String {
        crate::pem::encode_crl(&self.der)
    }

    /// thisUpdate.
    pub fn this_update(&self) -> UnixTime {
        self.this_update
    }

    /// nextUpdate: clients keep this CRL until then.
    pub fn next_update(&self) -> UnixTime {
        self.next_update
    }

    /// The CRL number (thisUpdate in milliseconds).
    pub fn number(&self) -> u64 {
        self.number
    }

    /// How many certificates it lists.
    pub fn len(&self) -> usize {
        self.entries
    }

    /// Whether it lists none.
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }
}

/// How long an issuing CA's CRL lives; it is re-signed after half of it.
pub const CRL_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// Whole seconds since the epoch.
pub(crate) fn secs(d: Duration) -> Seconds {
    Seconds::try_from(d.as_secs()).unwrap_or(Seconds::MAX)
}

/// A certificate serial's magnitude: the INTEGER content without its sign octet.
pub(crate) fn trim_serial(serial: &[u8]) -> &[u8] {
    match serial {
        [0, rest @ ..] if !rest.is_empty() => rest,
        _ => serial,
    }
}

/// `tbs` signed by `issuer`'s signer, the signature checked against its public key before the
/// structure is returned (CRLs and OCSP responses).
pub(crate) fn sign_verified(issuer: &Issuer, tbs: Vec<u8>) -> Result<Vec<u8>, Error> {
    let signer = issuer.signer();
    let algorithm = signer.algorithm();
    let signature = signer.sign(&tbs)?;
    if !algorithm.verify(signer.subject_public_key_info().as_ref(), &tbs, &signature) {
        return Err(RevocationError::BadSignature.into());
    }
    Ok(crate::ca::tbs::signed(
        tbs,
        &algorithm.algorithm_identifier(),
        &signature,
    ))
}

/// The DER TBSCertList.
fn tbs_cert_list(
    issuer: &Issuer,
    this_update: Seconds,
    next_update: Seconds,
    number: u64,
    revoked: &[RevokedCertificate],
) -> Vec<u8> {
    const VERSION_2: [u8; 3] = [INTEGER, 0x01, 0x01];
    let mut body = Vec::with_capacity(256 + revoked.len() * 48);
    body.extend_from_slice(&VERSION_2);
    body.extend_from_slice(issuer.algorithm_identifier());
    body.extend_from_slice(issuer.subject());
    body.extend(asn1_time::encode(this_update));
    body.extend(asn1_time::encode(next_update));
    if !revoked.is_empty() {
        let mut list = Vec::with_capacity(revoked.len() * 48);
        for entry in revoked {
            let mut e = tlv::unsigned_integer(&entry.serial);
            e.extend(asn1_time::encode(asn1_time::seconds(entry.revoked_at)));
            if entry.reason != RevocationReason::Unspecified {
                let value = tlv::tlv(ENUMERATED, &[entry.reason.code()]);
                let reason = ext::extension(&oid::CRL_REASON, false, &value);
                tlv::write_tlv(&mut e, SEQUENCE, &reason);
            }
            tlv::write_tlv(&mut list, SEQUENCE, &e);
        }
        tlv::write_tlv(&mut body, SEQUENCE, &list);
    }
    let mut extensions = issuer.issued().authority_key_id.clone();
    let number = tlv::unsigned_integer(&number.to_be_bytes());
    extensions.extend(ext::extension(&oid::CRL_NUMBER, false, &number));
    let extensions = tlv::tlv(SEQUENCE, &extensions);
    tlv::write_tlv(&mut body, context_constructed(0), &extensions);
    tlv::tlv(SEQUENCE, &body)
}
