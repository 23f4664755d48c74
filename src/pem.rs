//! PEM and DER containers: reading every certificate from a file's bytes, and encoding DER as PEM.
//!
//! Private keys are read by [`keys`](crate::keys); their PEM is decoded straight into buffers
//! that are wiped on drop.

use std::path::Path;

use pem_rfc7468 as rfc7468;
use rustls::pki_types::CertificateDer;
use zeroize::Zeroizing;

use crate::error::{EncodingError, Error};
use crate::file::read_file;
use crate::x509::tlv::{TlvReader, SEQUENCE};

/// Every certificate in a PEM or DER file; errors name the file.
///
/// ```no_run
/// let chain = certmint::pem::read_certificates("intermediate.pem".as_ref())?;
/// # Ok::<(), certmint::Error>(())
/// ```
pub fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    parse_certificates(&read_file(path)?).map_err(|e| Error::from(e).in_file(path))
}

/// Whether `input` looks like PEM text rather than DER.
pub(crate) fn is_pem(input: &[u8]) -> bool {
    input.windows(11).any(|w| w == b"-----BEGIN ")
}

/// Splits PEM text into its blocks, each from `-----BEGIN` through its `-----END ...-----` line.
/// Text between blocks (as `openssl x509 -text` writes) is ignored.
pub(crate) fn blocks(input: &[u8]) -> Result<Vec<&[u8]>, EncodingError> {
    let mut out = Vec::new();
    let mut rest = input;
    while let Some(start) = find(rest, b"-----BEGIN ") {
        let block = &rest[start..];
        let index = out.len();
        let end_marker = find(block, b"-----END ").ok_or(EncodingError::Pem { index })?;
        let after_end = &block[end_marker + 9..];
        let close = find(after_end, b"-----").ok_or(EncodingError::Pem { index })?;
        let len = end_marker + 9 + close + 5;
        out.push(&block[..len]);
        rest = &block[len..];
    }
    Ok(out)
}

/// Where `needle` first occurs in `haystack`.
pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Decodes one PEM block into a zeroizing buffer, returning its label.
pub(crate) fn decode_block(
    block: &[u8],
    index: usize,
) -> Result<(String, Zeroizing<Vec<u8>>), EncodingError> {
    let mut buf = Zeroizing::new(vec![0u8; block.len()]);
    let (label, len) = {
        let (label, decoded) =
            rfc7468::decode(block, &mut buf).map_err(|_| EncodingError::Pem { index })?;
        (label.to_owned(), decoded.len())
    };
    buf.truncate(len);
    Ok((label, buf))
}

/// Reads every certificate from PEM text, or from DER (one certificate, or several
/// concatenated).
///
/// Other PEM blocks (keys, parameters) are skipped. The certificates themselves are not
/// parsed here; DER that does not split into whole elements is returned as one blob, for the
/// certificate parser to report precisely.
pub fn parse_certificates(input: &[u8]) -> Result<Vec<CertificateDer<'static>>, EncodingError> {
    if !is_pem(input) {
        if input.is_empty() {
            return Err(EncodingError::NoCertificate);
        }
        return Ok(split_der(input)
            .unwrap_or_else(|| vec![input])
            .into_iter()
            .map(|der| CertificateDer::from(der.to_vec()))
            .collect());
    }
    let mut certs = Vec::new();
    for (index, block) in blocks(input)?.into_iter().enumerate() {
        let label = rfc7468::decode_label(block).map_err(|_| EncodingError::Pem { index })?;
        if label == "CERTIFICATE" || label == "X509 CERTIFICATE" || label == "TRUSTED CERTIFICATE" {
            let (_, der) = decode_block(block, index)?;
            certs.push(CertificateDer::from(der.to_vec()));
        }
    }
    if certs.is_empty() {
        return Err(EncodingError::NoCertificate);
    }
    Ok(certs)
}

/// Splits concatenated DER SEQUENCEs; `None` unless the input is exactly that.
fn split_der(input: &[u8]) -> Option<Vec<&[u8]>> {
    let mut r = TlvReader::new(input).ok()?;
    let mut out = Vec::new();
    while !r.is_empty() {
        out.push(r.expect(SEQUENCE).ok()?.raw);
    }
    Some(out)
}

/// A certificate as PEM (`CERTIFICATE`, 64-character lines).
pub fn encode_certificate(der: &CertificateDer<'_>) -> String {
    let mut out = String::new();
    encode_into(&mut out, CERTIFICATE, der.as_ref());
    out
}

/// A CRL as PEM (`X509 CRL`, as OpenSSL writes it).
pub fn encode_crl(der: &[u8]) -> String {
    let mut out = String::new();
    encode_into(&mut out, "X509 CRL", der);
    out
}

/// A chain as concatenated PEM certificates, in order.
pub fn encode_chain(chain: &[CertificateDer<'_>]) -> String {
    let mut out = String::new();
    for cert in chain {
        encode_into(&mut out, CERTIFICATE, cert.as_ref());
    }
    out
}

const CERTIFICATE: &str = "CERTIFICATE";

/// Appends one PEM block. The labels passed here are constants the PEM encoder accepts, and the
/// output fits any `String`, so encoding cannot fail; were it to, nothing is appended.
fn encode_into(out: &mut String, label: &str, der: &[u8]) {
    if let Ok(text) = rfc7468::encode_string(label, rfc7468::LineEnding::LF, der) {
        out.push_str(&text);
    }
}

/// PEM-encodes secret DER (a private key) into a buffer wiped on drop. `label` is one of the
/// constant private-key labels, which the encoder accepts.
pub(crate) fn encode_secret(label: &str, der: &[u8]) -> Zeroizing<Vec<u8>> {
    let len = rfc7468::encoded_len(label, rfc7468::LineEnding::LF, der).unwrap_or(0);
    let mut buf = Zeroizing::new(vec![0u8; len]);
    let written = rfc7468::encode(label, rfc7468::LineEnding::LF, der, &mut buf)
        .map(|s| s.len())
        .unwrap_or(0);
    buf.truncate(written);
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_around_blocks_is_ignored_and_every_certificate_is_read() {
        let a = encode_certificate(&CertificateDer::from(vec![0x30, 0x00]));
        let b = encode_certificate(&CertificateDer::from(vec![0x30, 0x01, 0x05]));
        let text = format!("Certificate:\n  junk\n{a}subject=x\n{b}");
        let certs = parse_certificates(text.as_bytes()).unwrap();
        assert_eq!(certs.len(), 2);
        assert_eq!(certs[1].as_ref(), &[0x30, 0x01, 0x05]);
    }

    #[test]
    fn concatenated_der_splits_and_garbage_stays_whole() {
        let two = [&[0x30, 0x00][..], &[0x30, 0x01, 0x05]].concat();
        let certs = parse_certificates(&two).unwrap();
        assert_eq!(certs.len(), 2);
        assert_eq!(certs[1].as_ref(), &[0x30, 0x01, 0x05]);
        assert_eq!(parse_certificates(b"junk").unwrap()[0].as_ref(), b"junk");
    }

    #[test]
    fn broken_pem_is_a_typed_error() {
        let text = "-----BEGIN CERTIFICATE-----\nMIIB!!!\n-----END CERTIFICATE-----\n";
        assert_eq!(
            parse_certificates(text.as_bytes()),
            Err(EncodingError::Pem { index: 0 })
        );
        let unterminated = "-----BEGIN CERTIFICATE-----\nMAA=\n";
        assert_eq!(
            parse_certificates(unterminated.as_bytes()),
            Err(EncodingError::Pem { index: 0 })
        );
        assert_eq!(parse_certificates(b""), Err(EncodingError::NoCertificate));
    }
}
