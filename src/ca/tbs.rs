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
    /// Room before the TBS for the Certificate's own header (a certificate under 16 MiB).
    const HEADER_ROOM: usize = 4;
    let serial_header = [INTEGER, SERIAL_LEN as u8];
    let extensions_len = tlv::encoded_len(extensions.len());
    let body_len = VERSION_3.len()
        + serial_header.len()
        + SERIAL_LEN
        + algorithm_identifier.len()
        + issuer_name.len()
        + validity.len()
        + subject.len()
        + spki.len()
        + tlv::encoded_len(extensions_len);
    let tbs_len = tlv::encoded_len(body_len);
    // The whole certificate is assembled in this one buffer: its header, the TBS, then the
    // algorithm and the signature (one allocation per mint; small allocations in a large,
    // fragmented heap showed up in the miss profile).
    let signature_room = 5 + signer.algorithm().max_signature_len();
    let mut cert =
        Vec::with_capacity(HEADER_ROOM + tbs_len + algorithm_identifier.len() + signature_room);
    cert.extend_from_slice(&[0; HEADER_ROOM]);
    tlv::write_len_prefixed(&mut cert, SEQUENCE, body_len);
    cert.extend_from_slice(&VERSION_3);
    cert.extend_from_slice(&serial_header);
    let serial_at = cert.len();
    cert.extend_from_slice(&[0u8; SERIAL_LEN]);
    cert.extend_from_slice(algorithm_identifier);
    cert.extend_from_slice(issuer_name);
    cert.extend_from_slice(validity);
    cert.extend_from_slice(subject);
    cert.extend_from_slice(spki);
    tlv::write_len_prefixed(&mut cert, context_constructed(3), extensions_len);
    tlv::write_tlv(&mut cert, SEQUENCE, extensions);

    let digest = crate::crypto::sha256(&cert[HEADER_ROOM..]);
    let mut serial = [0u8; SERIAL_LEN];
    crate::crypto::fill_random(&mut serial[..RANDOM_LEN])
        .map_err(|_| crate::error::KeyError::Generation)?;
    serial[RANDOM_LEN..].copy_from_slice(&digest[..SERIAL_LEN - RANDOM_LEN]);
    serial[0] = (serial[0] & 0x7f) | 0x40;
    cert[serial_at..serial_at + SERIAL_LEN].copy_from_slice(&serial);

    let signature = signer.sign(&cert[HEADER_ROOM..])?;
    append_signature(&mut cert, algorithm_identifier, &signature);
    let (header, header_len) = tlv::header(SEQUENCE, cert.len() - HEADER_ROOM);
    let certificate = if header_len <= HEADER_ROOM {
        let at = HEADER_ROOM - header_len;
        cert[at..HEADER_ROOM].copy_from_slice(&header[..header_len]);
        cert.drain(..at);
        cert
    } else {
        tlv::tlv(SEQUENCE, &cert[HEADER_ROOM..])
    };
    Ok((CertificateDer::from(certificate), serial))
}

/// Appends `signatureAlgorithm, signature BIT STRING` to a TBS.
fn append_signature(body: &mut Vec<u8>, algorithm_identifier: &[u8], signature: &[u8]) {
    body.extend_from_slice(algorithm_identifier);
    tlv::write_len_prefixed(body, BIT_STRING, signature.len() + 1);
    body.push(0);
    body.extend_from_slice(signature);
}

/// A signed structure (Certificate, CertificateList, BasicOCSPResponse): `SEQUENCE { tbs,
/// signatureAlgorithm, signature BIT STRING }`.
pub(crate) fn signed(tbs: Vec<u8>, algorithm_identifier: &[u8], signature: &[u8]) -> Vec<u8> {
    let mut body = tbs;
    append_signature(&mut body, algorithm_identifier, signature);
    tlv::tlv(SEQUENCE, &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ca::SoftwareSigner;
    use crate::keys::PrivateKey;
    use crate::x509::KeyAlgorithm;

    /// Certificates whose content needs a 1-, 2- and 3-octet length (the header written into
    /// the room before the TBS) and one too large for that room: each is one well-formed
    /// SEQUENCE of TBS, algorithm and a signature that verifies.
    #[test]
    fn certificates_of_every_header_size_are_well_formed() {
        for (alg, extensions_len) in [
            (KeyAlgorithm::Ed25519, 0),
            (KeyAlgorithm::Ed25519, 60),
            (KeyAlgorithm::EcdsaP256, 300),
            (KeyAlgorithm::EcdsaP256, 70_000),
        ] {
            let signer =
                SoftwareSigner::from_private_key(&PrivateKey::generate(alg).unwrap()).unwrap();
            let algorithm = signer.algorithm();
            let spki = signer.subject_public_key_info().as_ref().to_vec();
            let name = tlv::tlv(SEQUENCE, &[]);
            let extensions = tlv::tlv(tlv::OCTET_STRING, &vec![0x55; extensions_len]);
            let (cert, _serial) = sign_certificate_by(
                &name,
                &algorithm.algorithm_identifier(),
                &signer,
                &name,
                &crate::x509::asn1_time::encode_validity(0, 1),
                &spki,
                &extensions,
            )
            .unwrap();
            let outer = tlv::single(cert.as_ref()).unwrap();
            assert_eq!(outer.tag, SEQUENCE);
            let mut items = tlv::TlvReader::new(outer.content).unwrap();
            let tbs = items.expect(SEQUENCE).unwrap().raw;
            let alg_id = items.expect(SEQUENCE).unwrap().raw;
            let signature = items.expect(BIT_STRING).unwrap().content;
            items.finish().unwrap();
            assert_eq!(alg_id, algorithm.algorithm_identifier());
            assert!(
                algorithm.verify(&spki, tbs, &signature[1..]),
                "{alg:?} {extensions_len}"
            );
            let header = cert.len() - outer.content.len();
            match outer.content.len() {
                0..=0x7f => assert_eq!(header, 2),
                0x80..=0xff => assert_eq!(header, 3),
                0x100..=0xffff => assert_eq!(header, 4),
                _ => assert_eq!(header, 5),
            }
        }
    }
}
