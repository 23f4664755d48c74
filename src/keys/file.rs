//! Private key files: PEM or DER; PKCS#8, SEC1 or PKCS#1; encrypted PKCS#8 decrypted with a
//! passphrase; and encrypted PKCS#8 written for real use.
//!
//! Private key bytes are decoded straight into buffers that are wiped on drop.

use pem_rfc7468 as rfc7468;
use zeroize::Zeroizing;

use super::{PrivateKey, Secret};
use crate::error::{EncodingError, Error, KeyError};
use crate::pem::{blocks, decode_block, is_pem};
use crate::x509::tlv::{self, TlvReader, INTEGER, OCTET_STRING, SEQUENCE};

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

/// Reads exactly one private key from PEM (`PRIVATE KEY`, `ENCRYPTED PRIVATE KEY`,
/// `EC PRIVATE KEY`, `RSA PRIVATE KEY`) or DER (PKCS#8, encrypted PKCS#8, SEC1 or PKCS#1, told
/// apart by structure). An encrypted key is decrypted with `passphrase`.
pub(crate) fn parse_private_key(input: &[u8], passphrase: Option<&[u8]>) -> Result<KeyDer, Error> {
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
    let Ok(outer) = tlv::single(der) else {
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
fn decrypt(der: &[u8], passphrase: Option<&[u8]>) -> Result<KeyDer, Error> {
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
///
/// An empty passphrase is refused ([`KeyError::EmptyPassphrase`]).
pub fn encrypt_private_key(key: &PrivateKey, passphrase: &Secret) -> Result<Secret, KeyError> {
    if passphrase.is_empty() {
        return Err(KeyError::EmptyPassphrase);
    }
    let mut salt = [0u8; 16];
    let mut iv = [0u8; 16];
    crate::crypto::fill_random(&mut salt).map_err(|_| KeyError::Generation)?;
    crate::crypto::fill_random(&mut iv).map_err(|_| KeyError::Generation)?;
    let params =
        pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(PBKDF2_ITERATIONS, &salt, &iv)
            .map_err(|_| KeyError::Generation)?;
    let der = key.pkcs8();
    let info = pkcs8::PrivateKeyInfo::try_from(der.secret_pkcs8_der())
        .map_err(|_| KeyError::UnrecognizedFormat)?;
    let encrypted = info
        .encrypt_with_params(params, passphrase.as_bytes())
        .map_err(|_| KeyError::Generation)?;
    let pem = encrypted
        .to_pem("ENCRYPTED PRIVATE KEY", pkcs8::LineEnding::LF)
        .map_err(|_| KeyError::Generation)?;
    Ok(Secret::from_zeroizing(Zeroizing::new(
        pem.as_bytes().to_vec(),
    )))
}

/// PBKDF2 iterations for keys certmint encrypts (OWASP's 2023 figure for PBKDF2-HMAC-SHA256).
pub const PBKDF2_ITERATIONS: u32 = 600_000;

/// Tells PKCS#8, SEC1 and PKCS#1 apart by their first fields.
fn sniff_key_format(der: &[u8]) -> Option<KeyFormat> {
    let outer = tlv::single(der).ok()?;
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

#[cfg(test)]
mod tests {
    use super::*;

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
