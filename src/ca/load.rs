//! Opening a CA's signing key from wherever a deployment keeps it: a key file or a PKCS#11
//! token.

use std::path::Path;
use std::sync::Arc;

use zeroize::Zeroizing;

use super::{Signer, SoftwareSigner};
use crate::error::Error;
use crate::file::read_file;

/// The signer for `key`: a `pkcs11:` URI (RFC 7512; feature `pkcs11`), or a key file (PEM or
/// DER; PKCS#8, SEC1, PKCS#1, or encrypted PKCS#8 decrypted with the passphrase from
/// `pass_file`, else `CERTMINT_CA_KEY_PASS`). The file's bytes are wiped after parsing.
pub fn load_signer(key: &Path, pass_file: Option<&Path>) -> Result<Arc<dyn Signer>, Error> {
    if let Some(_uri) = key.to_str().filter(|k| k.starts_with("pkcs11:")) {
        #[cfg(feature = "pkcs11")]
        return Ok(Arc::new(super::Pkcs11Signer::open(
            &super::Pkcs11Uri::parse(_uri)?,
        )?));
        #[cfg(not(feature = "pkcs11"))]
        return Err(
            crate::error::Pkcs11Error::BadUri("pkcs11: keys need the pkcs11 feature").into(),
        );
    }
    let bytes = Zeroizing::new(read_file(key)?);
    let pass = crate::keys::passphrase_from_sources(pass_file)?;
    Ok(Arc::new(SoftwareSigner::from_key_bytes_with_passphrase(
        &bytes,
        pass.as_ref(),
    )?))
}
