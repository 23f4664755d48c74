//! Reading certificates and private keys from PEM or DER.
//!
//! Private key bytes are decoded straight into [`Zeroizing`] buffers.

use pem_rfc7468 as rfc7468;
use rustls::pki_types::CertificateDer;
use zeroize::Zeroizing;

use crate::asn1::{self, TlvReader, INTEGER, OCTET_STRING, SEQUENCE};
use crate::error::{EncodingError, KeyError};

/// The encodings of a private key certmint reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyFormat {
    Pkcs8,
    Sec1,
    Pkcs1,
}

/// A private key's DER bytes, wiped on drop.
pub(crate) struct KeyDer {
    pub(crate) format: KeyFormat,
    pub(crate) der: Zeroizing<Vec<u8>>,
}

/// Whether `input` looks like PEM text rather than DER.
fn is_pem(input: &[u8]) -> bool {
    input.windows(11).any(|w| w == b"-----BEGIN ")
}

/// Splits PEM text into its blocks, each from `-----BEGIN` through its `-----END ...-----` line.
/// Text between blocks (as `openssl x509 -text` writes) is ignored.
fn blocks(input: &[u8]) -> Result<Vec<&[u8]>, EncodingError> {
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

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Decodes one PEM block into a zeroizing buffer, returning its label.
fn decode_block(block: &[u8], index: usize) -> Result<(String, Zeroizing<Vec<u8>>), EncodingError> {
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

/// Reads exactly one private key from PEM (`PRIVATE KEY`, `ENCRYPTED PRIVATE KEY`,
/// `EC PRIVATE KEY`, `RSA PRIVATE KEY`) or DER (PKCS#8, encrypted PKCS#8, SEC1 or PKCS#1, told
/// apart by structure). An encrypted key is decrypted with `passphrase`.
pub(crate) fn parse_private_key(
    input: &[u8],
    passphrase: Option<&[u8]>,
) -> Result<KeyDer, crate::Error> {
    if !is_pem(input) {
        if is_encrypted_pkcs8(input) {
            return decrypt(input, passphrase);
        }
        let format = sniff_key_format(input).ok_or(KeyError::UnrecognizedFormat)?;
        return Ok(KeyDer {
            format,
            der: Zeroizing::new(input.to_vec()),
        });
    }
    let mut found: Option<KeyDer> = None;
    for (index, block) in blocks(input)?.into_iter().enumerate() {
        let label = rfc7468::decode_label(block).map_err(|_| EncodingError::Pem { index })?;
        let format = match label {
            "PRIVATE KEY" => KeyFormat::Pkcs8,
            "EC PRIVATE KEY" => KeyFormat::Sec1,
            "RSA PRIVATE KEY" => KeyFormat::Pkcs1,
            "ENCRYPTED PRIVATE KEY" => KeyFormat::Pkcs8,
            _ => continue,
        };
        if found.is_some() {
            return Err(EncodingError::SeveralPrivateKeys.into());
        }
        let (_, der) = decode_block(block, index)?;
        if label == "ENCRYPTED PRIVATE KEY" {
            found = Some(decrypt(&der, passphrase)?);
            continue;
        }
        if sniff_key_format(&der) != Some(format) {
            return Err(KeyError::UnrecognizedFormat.into());
        }
        found = Some(KeyDer { format, der });
    }
    found.ok_or_else(|| EncodingError::NoPrivateKey.into())
}

/// EncryptedPrivateKeyInfo ::= SEQUENCE { AlgorithmIdentifier, OCTET STRING }.
fn is_encrypted_pkcs8(der: &[u8]) -> bool {
    let Ok(outer) = asn1::single(der) else {
        return false;
    };
    let Ok(mut r) = TlvReader::new(outer.content) else {
        return false;
    };
    outer.tag == SEQUENCE
        && r.expect(SEQUENCE).is_ok()
        && r.expect(OCTET_STRING).is_ok()
        && r.finish().is_ok()
}

/// Decrypts an EncryptedPrivateKeyInfo (PBES2: PBKDF2 or scrypt, AES-CBC) into a zeroizing
/// buffer. A wrong passphrase and a corrupt ciphertext are indistinguishable by design of
/// PBES2; both are [`KeyError::WrongPassphrase`], unless the structure itself is broken.
fn decrypt(der: &[u8], passphrase: Option<&[u8]>) -> Result<KeyDer, crate::Error> {
    let passphrase = passphrase.ok_or(KeyError::Encrypted)?;
    let info =
        pkcs8::EncryptedPrivateKeyInfo::try_from(der).map_err(|_| KeyError::UnrecognizedFormat)?;
    let plain = info.decrypt(passphrase).map_err(|e| match e {
        pkcs8::Error::EncryptedPrivateKey(pkcs8::pkcs5::Error::UnsupportedAlgorithm { .. }) => {
            KeyError::UnsupportedEncryption
        }
        _ => KeyError::WrongPassphrase,
    })?;
    let der = Zeroizing::new(plain.as_bytes().to_vec());
    if sniff_key_format(&der) != Some(KeyFormat::Pkcs8) {
        return Err(KeyError::WrongPassphrase.into());
    }
    Ok(KeyDer {
        format: KeyFormat::Pkcs8,
        der,
    })
}

/// Encrypts a PKCS#8 private key as certmint writes keys for real use: PBES2 with
/// PBKDF2-HMAC-SHA256 at [`PBKDF2_ITERATIONS`] iterations, a random 16-byte salt and AES-256-CBC
/// (readable by `openssl pkey`). Returns PEM (`ENCRYPTED PRIVATE KEY`).
pub fn encrypt_private_key(pkcs8: &[u8], passphrase: &[u8]) -> Result<Zeroizing<String>, KeyError> {
    let mut salt = [0u8; 16];
    let mut iv = [0u8; 16];
    crate::provider::fill_random(&mut salt).map_err(|_| KeyError::Generation)?;
    crate::provider::fill_random(&mut iv).map_err(|_| KeyError::Generation)?;
    let params =
        pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(PBKDF2_ITERATIONS, &salt, &iv)
            .map_err(|_| KeyError::Generation)?;
    let info = pkcs8::PrivateKeyInfo::try_from(pkcs8).map_err(|_| KeyError::UnrecognizedFormat)?;
    let encrypted = info
        .encrypt_with_params(params, passphrase)
        .map_err(|_| KeyError::Generation)?;
    encrypted
        .to_pem("ENCRYPTED PRIVATE KEY", pkcs8::LineEnding::LF)
        .map_err(|_| KeyError::Generation)
}

/// PBKDF2 iterations for keys certmint encrypts (OWASP's 2023 figure for PBKDF2-HMAC-SHA256).
pub const PBKDF2_ITERATIONS: u32 = 600_000;

/// Tells PKCS#8, SEC1 and PKCS#1 apart by their first fields.
fn sniff_key_format(der: &[u8]) -> Option<KeyFormat> {
    let outer = asn1::single(der).ok()?;
    if outer.tag != SEQUENCE {
        return None;
    }
    let mut r = TlvReader::new(outer.content).ok()?;
    let version = r.expect(INTEGER).ok()?;
    let second = r.next_tlv().ok()?;
    match (version.content, second.tag) {
        ([0] | [1], SEQUENCE) => Some(KeyFormat::Pkcs8),
        ([1], OCTET_STRING) => Some(KeyFormat::Sec1),
        ([0] | [1], INTEGER) => Some(KeyFormat::Pkcs1),
        _ => None,
    }
}

/// PEM-encodes DER under `label`, with 64-character lines.
pub fn encode(label: &str, der: &[u8]) -> String {
    rfc7468::encode_string(label, rfc7468::LineEnding::LF, der)
        .unwrap_or_else(|_| unreachable!("PEM labels used by certmint are valid"))
}

/// PEM-encodes a private key into a zeroizing string.
pub fn encode_private_key(label: &str, der: &[u8]) -> Zeroizing<String> {
    let len = rfc7468::encoded_len(label, rfc7468::LineEnding::LF, der)
        .unwrap_or_else(|_| unreachable!("PEM labels used by certmint are valid"));
    let mut buf = Zeroizing::new(vec![0u8; len]);
    let written = rfc7468::encode(label, rfc7468::LineEnding::LF, der, &mut buf)
        .unwrap_or_else(|_| unreachable!("buffer sized by encoded_len"))
        .len();
    buf.truncate(written);
    Zeroizing::new(String::from_utf8(buf.to_vec()).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_around_blocks_is_ignored_and_every_certificate_is_read() {
        let a = encode("CERTIFICATE", &[0x30, 0x00]);
        let b = encode("CERTIFICATE", &[0x30, 0x01, 0x05]);
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

    #[test]
    fn key_formats_are_sniffed() {
        // PKCS#1-shaped, SEC1-shaped and PKCS#8-shaped skeletons.
        assert_eq!(
            sniff_key_format(&[0x30, 0x06, 2, 1, 0, 2, 1, 5]),
            Some(KeyFormat::Pkcs1)
        );
        assert_eq!(
            sniff_key_format(&[0x30, 0x05, 2, 1, 1, 4, 0]),
            Some(KeyFormat::Sec1)
        );
        assert_eq!(
            sniff_key_format(&[0x30, 0x05, 2, 1, 0, 0x30, 0]),
            Some(KeyFormat::Pkcs8)
        );
        assert_eq!(sniff_key_format(b"not a key"), None);
    }
}
