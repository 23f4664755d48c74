//! Opening a CA's signing key from wherever a deployment keeps it: a key file or a PKCS#11
//! token.

use std::path::Path;
use std::sync::Arc;

use zeroize::Zeroizing;

use super::{Signer, SoftwareSigner};
use crate::error::Error;
use crate::file::read_file;
use crate::keys::Secret;

/// The signer for `key`: a `pkcs11:` URI (RFC 7512; feature `pkcs11`), or a key file (PEM or
/// DER; PKCS#8, SEC1, PKCS#1, or encrypted PKCS#8 decrypted with the passphrase from
/// `pass_file`, else `CERTMINT_CA_KEY_PASS`). The file's bytes are wiped after parsing.
pub fn load_signer(key: &Path, pass_file: Option<&Path>) -> Result<Arc<dyn Signer>, Error> {
    if let Some(_uri) = key.to_str().filter(|k| is_pkcs11_uri(k)) {
        #[cfg(feature = "pkcs11")]
        return Ok(Arc::new(super::Pkcs11Signer::open(
            &super::Pkcs11Uri::parse(_uri)?,
        )?));
        #[cfg(not(feature = "pkcs11"))]
        return Err(
            crate::error::Pkcs11Error::BadUri("pkcs11: keys need the pkcs11 feature").into(),
        );
    }
    Ok(Arc::new(software_signer_from_file(key, None, pass_file)?))
}

/// A software key from a file (PEM or DER), decrypted with `given`, else the passphrase from
/// `pass_file`, else `CERTMINT_CA_KEY_PASS`. Errors about the key name the file; the file's
/// bytes are wiped after parsing.
pub(crate) fn software_signer_from_file(
    key: &Path,
    given: Option<&Secret>,
    pass_file: Option<&Path>,
) -> Result<SoftwareSigner, Error> {
    let bytes = Zeroizing::new(read_file(key)?);
    let from_sources = match given {
        Some(_) => None,
        None => crate::keys::passphrase_from_sources(pass_file)?,
    };
    SoftwareSigner::from_key_bytes_with_passphrase(&bytes, given.or(from_sources.as_ref()))
        .map_err(|e| e.in_file(key))
}

/// Whether `text` is a PKCS#11 URI (`pkcs11:`, the scheme in any case, as RFC 3986 allows)
/// rather than a file name.
pub fn is_pkcs11_uri(text: &str) -> bool {
    text.get(..7)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("pkcs11:"))
}

/// `text` with the value of every `pin-value=` attribute (any case) replaced by `<redacted>`:
/// for anything that may print a PKCS#11 URI or a line that holds one.
pub fn redact_pins(text: &str) -> String {
    const NAME: &str = "pin-value=";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.to_ascii_lowercase().find(NAME) {
        let value_start = at + NAME.len();
        out.push_str(&rest[..value_start]);
        out.push_str("<redacted>");
        // The value runs to the next attribute separator, quote or whitespace.
        let value_len = rest[value_start..]
            .find(|c: char| matches!(c, '&' | ';' | '"' | '\'' | '#') || c.is_whitespace())
            .unwrap_or(rest.len() - value_start);
        rest = &rest[value_start + value_len..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_are_redacted_wherever_they_stand() {
        let uri = "pkcs11:token=t;object=o?module-path=/m.so&PIN-VALUE=1234&x=1";
        let red = redact_pins(uri);
        assert!(!red.contains("1234"), "{red}");
        assert!(red.ends_with("&x=1"), "{red}");
        let line = r#"key = "pkcs11:token=t?pin-value=98765432" # comment"#;
        assert!(!redact_pins(line).contains("98765432"));
        assert_eq!(redact_pins("no pin here"), "no pin here");
        // Found by fuzzing (pkcs11_uri): the PIN's characters in another attribute are that
        // attribute's, and stay; the PIN itself goes.
        let uri = "pkcs11:token=Myken?pin-value=LLLLLLLLLLLL&LLLLLLLLLLLLLLLLLLLLLng-te\u{1}";
        assert_eq!(
            redact_pins(uri),
            "pkcs11:token=Myken?pin-value=<redacted>&LLLLLLLLLLLLLLLLLLLLLng-te\u{1}"
        );
        assert!(is_pkcs11_uri("PKCS11:token=t") && is_pkcs11_uri("pkcs11:x"));
        assert!(!is_pkcs11_uri("pkcs11") && !is_pkcs11_uri("./pkcs11:x"));
    }
}
