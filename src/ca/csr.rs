//! Requesting an intermediate from the organisation's own CA: a PKCS#10 request for a CA
//! certificate, and the checks on the certificate that comes back.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue, IsCa, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

use super::{Issuer, IssuerOptions, RcgenKey, Signer};
use crate::error::{Error, IssuerError};
use crate::mint::{KeyPool, MintPolicy, MintRequest, Minter};

/// Why a distinguished name string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad DN: {0}")]
pub struct DnError(pub String);

/// Parses an RFC 4514 DN as `openssl x509 -nameopt RFC2253` prints it (`CN=...,O=...,C=...`,
/// most significant RDN last) into the DER order (rightmost RDN first). Values become
/// UTF8String, except countryName (PrintableString). Backslash escapes are honoured.
///
/// ```
/// let dn = certmint::parse_dn("CN=Corp Interception CA,O=Example\\, Inc.,C=US").unwrap();
/// assert_eq!(dn.iter().count(), 3);
/// ```
pub fn parse_dn(text: &str) -> Result<DistinguishedName, DnError> {
    let mut rdns = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let next = chars
                    .next()
                    .ok_or_else(|| DnError("dangling backslash".into()))?;
                current.push('\\');
                current.push(next);
            }
            ',' => rdns.push(std::mem::take(&mut current)),
            '+' => return Err(DnError("multi-valued RDNs are not supported".into())),
            c => current.push(c),
        }
    }
    rdns.push(current);
    let mut dn = DistinguishedName::new();
    let mut seen = Vec::new();
    for rdn in rdns.iter().rev() {
        let (ty, value) = rdn
            .split_once('=')
            .ok_or_else(|| DnError(format!("{rdn:?} is not TYPE=value")))?;
        let ty = ty.trim();
        let value = unescape(value.trim());
        if value.is_empty() {
            return Err(DnError(format!("{ty} is empty")));
        }
        let dn_type = match ty.to_ascii_uppercase().as_str() {
            "CN" => DnType::CommonName,
            "O" => DnType::OrganizationName,
            "OU" => DnType::OrganizationalUnitName,
            "C" => DnType::CountryName,
            "ST" => DnType::StateOrProvinceName,
            "L" => DnType::LocalityName,
            "DC" => DnType::CustomDnType(vec![0, 9, 2342, 19_200_300, 100, 1, 25]),
            "SERIALNUMBER" => DnType::CustomDnType(vec![2, 5, 4, 5]),
            _ => return Err(DnError(format!("unsupported attribute type {ty:?}"))),
        };
        if seen.contains(&dn_type) {
            return Err(DnError(format!("{ty} appears twice")));
        }
        seen.push(dn_type.clone());
        let value = if dn_type == DnType::CountryName {
            if value.len() != 2 || !value.chars().all(|c| c.is_ascii_alphabetic()) {
                return Err(DnError(format!(
                    "C must be a two-letter country code, not {value:?}"
                )));
            }
            DnValue::PrintableString(
                value
                    .as_str()
                    .try_into()
                    .map_err(|_| DnError("bad country".into()))?,
            )
        } else {
            DnValue::Utf8String(value)
        };
        dn.push(dn_type, value);
    }
    Ok(dn)
}

fn unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A PEM PKCS#10 request, signed by `signer`, for a CA certificate with `subject`,
/// basicConstraints CA:TRUE and `path_len`, keyUsage keyCertSign + cRLSign.
pub fn certificate_request(
    signer: &dyn Signer,
    subject: DistinguishedName,
    path_len: u8,
) -> Result<String, Error> {
    let mut params = CertificateParams::default();
    params.distinguished_name = subject;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(path_len));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let key = RcgenKey::new(signer);
    let csr = params
        .serialize_request(&key)
        .map_err(|e| Error::Signing(e.to_string()))?;
    csr.pem().map_err(|e| Error::Signing(e.to_string()))
}

/// Checks a certificate the organisation's CA signed for `signer`'s key: usable as an issuing
/// CA (see [`Issuer::new`]), its pathLen allows the rotating sub-CA when `rotation` is on, and
/// its chain (`chain`: the certificate, its intermediates, ending at a self-signed root)
/// verifies: a probe leaf minted with it (through a sub-CA when `rotation` is on, so every
/// pathLen constraint above is exercised) validates with rustls-webpki up to that root.
pub fn check_import(
    chain: Vec<CertificateDer<'static>>,
    signer: Arc<dyn Signer>,
    rotation: bool,
) -> Result<Arc<Issuer>, Error> {
    let root = chain
        .last()
        .filter(|c| crate::cert::ParsedCert::parse(c.as_ref()).is_ok_and(|p| p.is_self_issued()))
        .cloned()
        .ok_or(IssuerError::NoRoot)?;
    let issuer = Issuer::new(chain, signer, IssuerOptions::default())?;
    if rotation && issuer.path_len() == Some(0) {
        return Err(IssuerError::PathLenTooShort.into());
    }
    let issuer = Arc::new(issuer);
    let minter = Minter::new(
        Arc::clone(&issuer),
        Arc::new(KeyPool::inline()),
        MintPolicy::default(),
    );
    let probe = minter.mint(&MintRequest::for_host("import-probe.certmint.invalid"))?;
    let anchor = webpki::anchor_from_trusted_cert(&root)
        .map_err(|e| IssuerError::ChainInvalid(format!("{e:?}")))?;
    let ee = webpki::EndEntityCert::try_from(probe.leaf())
        .map_err(|e| IssuerError::ChainInvalid(format!("{e:?}")))?;
    ee.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &[anchor],
        &probe.chain()[1..],
        UnixTime::now(),
        webpki::KeyUsage::server_auth(),
        None,
        None,
    )
    .map_err(|e| IssuerError::ChainInvalid(format!("{e:?}")))?;
    let name = ServerName::try_from("import-probe.certmint.invalid")
        .map_err(|e| IssuerError::ChainInvalid(e.to_string()))?;
    ee.verify_is_valid_for_subject_name(&name)
        .map_err(|e| IssuerError::ChainInvalid(format!("{e:?}")))?;
    Ok(issuer)
}
