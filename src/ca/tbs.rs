//! Assembling and signing a TBSCertificate, shared by leaves and the rotating sub-CAs, and the
//! signed-structure wrapper CRLs and OCSP responses use too.

use rustls::pki_types::CertificateDer;

use super::{Issuer, Signer};
use crate::error::Error;
use crate::x509::tlv::{self, context_constructed, BIT_STRING, INTEGER, SEQUENCE};

/// Length of every serial number certmint writes, in octets.
pub const SERIAL_LEN: usize = 20;

/// Leading serial octets drawn from the CSPRNG: 9 octets, of which the first keeps 6 random
/// bits, so 70 random bits.
const RANDOM_LEN: usize = 9;

/// The BIT STRING of the largest signature certmint makes (RSA-4096), with its header.
const SIGNATURE_ROOM: usize = 512 + 5;

/// Builds the v3 TBSCertificate from pre-encoded parts, derives its serial from its content,
/// has `issuer` sign it, and returns the certificate and its serial.
///
/// The serial is 20 octets: 70 bits from the system's CSPRNG (the CA/Browser Forum asks for at
/// least 64), then the leftmost 88 bits of the SHA-256 of the complete TBS built with a
/// placeholder serial (so the issuer, validity, subject, key and every extension are covered).
/// Re-minting identical content (a reused RSA leaf key, attacker-chosen origin fields) therefore
/// never gives one issuer+serial two different signatures. Top bit clear (positive), second bit
/// set (never zero, and the encoding stays minimal).
pub(crate) fn sign_certificate(
    issuer: &Issuer,
    subject: &[u8],
    validity: &[u8],
    spki: &[u8],
    extensions: &[u8],
) -> Result<(CertificateDer<'static>, [u8; SERIAL_LEN]), Error> {
    sign_certificate_by(
        issuer.subject(),
        issuer.algorithm_identifier(),
        issuer.signer().as_ref(),
        subject,
        validity,
        spki,
        extensions,
    )
}

/// As [`sign_certificate`], with the issuer's name and signer given apart: a self-signed
/// certificate names its own subject and signs with its own key.
pub(crate) fn sign_certificate_by(
    issuer_name: &[u8],
    algorithm_identifier: &[u8],
    signer: &dyn Signer,
    subject: &[u8],
    validity: &[u8],
    spki: &[u8],
    extensions: &[u8],
) -> Result<(CertificateDer<'static>, [u8; SERIAL_LEN]), Error> {
    const VERSION_3: [u8; 5] = [0xa0, 0x03, 0x02, 0x01, 0x02];
    let serial_header = [INTEGER, SERIAL_LEN as u8];
    let extensions_len = tlv::header_len(extensions.len()) + extensions.len();
    let body_len = VERSION_3.len()
        + serial_header.len()
        + SERIAL_LEN
        + algorithm_identifier.len()
        + issuer_name.len()
        + validity.len()
        + subject.len()
        + spki.len()
        + tlv::header_len(extensions_len)
        + extensions_len;
    // Room for what `signed` appends too (the algorithm and a signature of up to RSA-4096),
    // so the buffer is allocated once.
    let mut tbs = Vec::with_capacity(body_len + 8 + algorithm_identifier.len() + SIGNATURE_ROOM);
    tlv::write_len_prefixed(&mut tbs, SEQUENCE, body_len);
    tbs.extend_from_slice(&VERSION_3);
    tbs.extend_from_slice(&serial_header);
    let serial_at = tbs.len();
    tbs.extend_from_slice(&[0u8; SERIAL_LEN]);
    tbs.extend_from_slice(algorithm_identifier);
    tbs.extend_from_slice(issuer_name);
    tbs.extend_from_slice(validity);
    tbs.extend_from_slice(subject);
    tbs.extend_from_slice(spki);
    tlv::write_len_prefixed(&mut tbs, context_constructed(3), extensions_len);
    tlv::write_tlv(&mut tbs, SEQUENCE, extensions);

    let digest = crate::crypto::sha256(&tbs);
    let mut serial = [0u8; SERIAL_LEN];
    crate::crypto::fill_random(&mut serial[..RANDOM_LEN])
        .map_err(|_| crate::error::KeyError::Generation)?;
    serial[RANDOM_LEN..].copy_from_slice(&digest[..SERIAL_LEN - RANDOM_LEN]);
    serial[0] = (serial[0] & 0x7f) | 0x40;
    tbs[serial_at..serial_at + SERIAL_LEN].copy_from_slice(&serial);

    let signature = signer.sign(&tbs)?;
    let certificate = signed(tbs, algorithm_identifier, &signature);
    Ok((CertificateDer::from(certificate), serial))
}

/// A signed structure (Certificate, CertificateList, BasicOCSPResponse): `SEQUENCE { tbs,
/// signatureAlgorithm, signature BIT STRING }`.
pub(crate) fn signed(tbs: Vec<u8>, algorithm_identifier: &[u8], signature: &[u8]) -> Vec<u8> {
    let mut body = tbs;
    body.extend_from_slice(algorithm_identifier);
    tlv::write_len_prefixed(&mut body, BIT_STRING, signature.len() + 1);
    body.push(0);
    body.extend_from_slice(signature);
    tlv::tlv(SEQUENCE, &body)
}
