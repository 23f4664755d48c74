//! Where a CA key's passphrase comes from: a file (one trailing newline stripped) takes
//! precedence over the `CERTMINT_CA_KEY_PASS` environment variable. There is never a prompt.

use std::path::Path;

use super::Secret;
use crate::error::KeyError;

/// The environment variable read when no passphrase file is given.
pub const PASSPHRASE_ENV: &str = "CERTMINT_CA_KEY_PASS";

/// The passphrase from `file`, else from [`PASSPHRASE_ENV`], else `None`. An empty passphrase
/// (a file holding nothing but a newline, an empty variable) is refused
/// ([`KeyError::EmptyPassphrase`]).
pub fn passphrase_from_sources(file: Option<&Path>) -> Result<Option<Secret>, KeyError> {
    if let Some(path) = file {
        let mut bytes = zeroize::Zeroizing::new(std::fs::read(path).map_err(|e| {
            KeyError::PassphraseSource {
                path: path.to_owned(),
                kind: e.kind(),
            }
        })?);
        if bytes.ends_with(b"\n") {
            bytes.pop();
            if bytes.ends_with(b"\r") {
                bytes.pop();
            }
        }
        return non_empty(Secret::from_zeroizing(bytes)).map(Some);
    }
    std::env::var_os(PASSPHRASE_ENV)
        .map(|v| non_empty(Secret::from(v.into_encoded_bytes())))
        .transpose()
}

/// Refuses an empty passphrase.
pub(crate) fn non_empty(passphrase: Secret) -> Result<Secret, KeyError> {
    if passphrase.is_empty() {
        Err(KeyError::EmptyPassphrase)
    } else {
        Ok(passphrase)
    }
}
