//! Keys: leaf keys generated ahead of time ([`KeyPool`]), the private-key types certmint hands
//! out (zeroized on drop), private key files (plain or encrypted PKCS#8, SEC1, PKCS#1) and
//! where a CA key's passphrase comes from.
//!
//! ## What is wiped
//! Raw private key bytes that pass through certmint (files read, keys generated, PKCS#8
//! documents, passphrases, PEM text of keys) live in buffers that are wiped when dropped
//! ([`PrivateKey`], [`Secret`]). The crypto backend's parsed key objects (ring's or aws-lc-rs'
//! `EcdsaKeyPair`, `RsaKeyPair`, `Ed25519KeyPair`, held by rustls signing keys, by
//! [`LeafKey`] and by [`SoftwareSigner`](crate::ca::SoftwareSigner)) offer no way to wipe them:
//! their expanded scalars stay in memory until it is reused. Where that matters, keep CA keys in
//! an HSM.

pub(crate) mod file;
mod leaf;
#[cfg(feature = "aws-lc-rs")]
mod native;
mod parts;
mod passphrase;
mod pool;

pub use file::{encrypt_private_key, PBKDF2_ITERATIONS};
pub use leaf::{LeafKey, PrivateKey};
pub use parts::KeyParts;
pub use passphrase::{passphrase_from_sources, PASSPHRASE_ENV};
pub use pool::{KeyPool, KeyPoolConfig, KeyPoolStats};

use zeroize::Zeroizing;

/// Secret bytes (a passphrase, a PIN, the PEM text of a private key), wiped when dropped and
/// never shown by `Debug`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(Zeroizing<Vec<u8>>);

impl Secret {
    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Vec<u8>> for Secret {
    fn from(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }
}

impl From<&str> for Secret {
    fn from(text: &str) -> Self {
        Self(Zeroizing::new(text.as_bytes().to_vec()))
    }
}

impl Secret {
    /// Takes over a buffer that is already wiped on drop.
    pub(crate) fn from_zeroizing(bytes: Zeroizing<Vec<u8>>) -> Self {
        Self(bytes)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}
