//! Requesting an intermediate from the organisation's own CA: a PKCS#10 request for a CA
//! certificate. (The checks on the certificate that comes back are
//! [`check_import`](crate::check_import).)

use rcgen::{BasicConstraints, CertificateParams, DnType, DnValue, IsCa, KeyUsagePurpose};

use super::rcgen_signer::RcgenSigner;
use super::Signer;
use crate::error::{Error, KeyError};
use crate::x509::{oid, DistinguishedName};

/// A PEM PKCS#10 request, signed by `signer`, for a CA certificate with `subject`,
/// basicConstraints CA:TRUE and `path_len`, keyUsage keyCertSign + cRLSign.
///
/// Ed25519 keys are refused ([`KeyError::Unsupported`]): many organisation CAs cannot sign
/// them.
pub fn certificate_request(
    signer: &dyn Signer,
    subject: &DistinguishedName,
    path_len: u8,
) -> Result<String, Error> {
    if signer.algorithm() == super::SignatureAlgorithm::Ed25519 {
        return Err(KeyError::Unsupported.into());
    }
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen_name(subject);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(path_len));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let key = RcgenSigner::new(signer)?;
    let csr = params.serialize_request(&key).map_err(Error::signing)?;
    csr.pem().map_err(Error::signing)
}

/// The same name in rcgen's model (which keeps the order attributes are pushed in).
fn rcgen_name(subject: &DistinguishedName) -> rcgen::DistinguishedName {
    let mut dn = rcgen::DistinguishedName::new();
    for (ty, value) in subject.attributes() {
        let known = [
            (oid::COMMON_NAME, DnType::CommonName),
            (oid::ORGANIZATION_NAME, DnType::OrganizationName),
            (
                oid::ORGANIZATIONAL_UNIT_NAME,
                DnType::OrganizationalUnitName,
            ),
            (oid::COUNTRY_NAME, DnType::CountryName),
            (oid::STATE_OR_PROVINCE_NAME, DnType::StateOrProvinceName),
            (oid::LOCALITY_NAME, DnType::LocalityName),
        ];
        let dn_type = known
            .into_iter()
            .find(|(o, _)| o == ty)
            .map(|(_, t)| t)
            .unwrap_or_else(|| DnType::CustomDnType(ty.arcs().map(u64::from).collect()));
        let value = match (*ty == oid::COUNTRY_NAME)
            .then(|| rcgen::string::PrintableString::try_from(value).ok())
            .flatten()
        {
            Some(printable) => DnValue::PrintableString(printable),
            None => DnValue::Utf8String(value.to_owned()),
        };
        dn.push(dn_type, value);
    }
    dn
}
