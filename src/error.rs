//! The one public error type, [`Error`], and the nested enums for each layer.
//!
//! Error text never contains key material, passphrases or the bytes of a bad input beyond a
//! position or a length.

use std::path::PathBuf;

/// Everything that can go wrong in certmint.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The origin certificate could not be used.
    #[error("origin certificate: {0}")]
    Origin(#[from] OriginError),
    /// The host name (SNI or CONNECT host) is not acceptable.
    #[error("host name: {0}")]
    Host(#[from] HostError),
    /// A private key could not be read, generated or used.
    #[error("private key: {0}")]
    Key(#[from] KeyError),
    /// The issuing CA certificate cannot issue TLS server certificates.
    #[error("issuing CA: {0}")]
    Issuer(#[from] IssuerError),
    /// A PEM or DER container could not be read.
    #[error("encoding: {0}")]
    Encoding(#[from] EncodingError),
    /// The CA's signer failed to produce a signature.
    #[error("signing failed: {0}")]
    Signing(String),
    /// A distinguished name string was refused.
    #[error(transparent)]
    Dn(#[from] crate::ca::DnError),
    /// A PKCS#11 token or key could not be used.
    #[error("PKCS#11: {0}")]
    Pkcs11(#[from] Pkcs11Error),
    /// The CA registry refused an operation or has no CA to use.
    #[error("CA registry: {0}")]
    Registry(#[from] RegistryError),
    /// The configuration file is invalid.
    #[cfg(feature = "config")]
    #[error("configuration: {0}")]
    Config(#[from] crate::config::ConfigError),
    /// A mint failed; the failure is shared with every lookup that waited for it, and
    /// remembered briefly so a failing site is not retried on every handshake.
    #[error("mint failed: {0}")]
    MintFailed(std::sync::Arc<Error>),
    /// rustls refused a configuration.
    #[error("TLS: {0}")]
    Tls(#[from] rustls::Error),
    /// The client offers no signature scheme for any key certmint can mint.
    #[error("the client offers no signature scheme certmint can serve")]
    NoCommonKeyAlgorithm,
    /// Neither an origin certificate nor a host was given.
    #[error("nothing to mint from: give an origin certificate, a host, or both")]
    NothingToMint,
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// Why an origin certificate was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OriginError {
    /// The input was empty.
    #[error("empty input")]
    Empty,
    /// The input exceeds the configured size limit.
    #[error("{len} bytes is over the limit of {max} bytes")]
    TooLarge {
        /// The input's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The DER structure is broken.
    #[error("malformed DER in {what}")]
    Malformed {
        /// The part of the certificate being read.
        what: &'static str,
    },
    /// Bytes follow the certificate.
    #[error("{len} bytes of trailing data after the certificate")]
    TrailingData {
        /// How many bytes follow.
        len: usize,
    },
    /// The version field is not v1, v2 or v3.
    #[error("unsupported certificate version")]
    UnsupportedVersion,
}

/// Why a host name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// The host is empty.
    #[error("empty")]
    Empty,
    /// The host is longer than 253 bytes.
    #[error("{len} bytes is longer than 253")]
    TooLong {
        /// Its length.
        len: usize,
    },
    /// A label is empty (two dots in a row, or a leading dot).
    #[error("empty label")]
    EmptyLabel,
    /// A label is longer than 63 bytes.
    #[error("a label is longer than 63 bytes")]
    LabelTooLong,
    /// The host contains non-ASCII characters: IDNs must be given as A-labels (`xn--`).
    #[error("non-ASCII characters: give internationalised names as A-labels (xn--)")]
    NotAscii,
    /// The host contains a character that is not allowed in a host name.
    #[error("character {character:?} at byte {position} is not allowed in a host name")]
    InvalidCharacter {
        /// The offending character (escaped when displayed).
        character: char,
        /// Its byte offset.
        position: usize,
    },
}

/// Why a private key could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The bytes are not a private key in a format certmint reads.
    #[error("not a PKCS#8, SEC1 or PKCS#1 private key")]
    UnrecognizedFormat,
    /// The key is encrypted and no passphrase was supplied.
    #[error("the key is encrypted; supply its passphrase")]
    Encrypted,
    /// The passphrase does not decrypt the key (or the encrypted key is corrupt).
    #[error("wrong passphrase, or the encrypted key is corrupt")]
    WrongPassphrase,
    /// The key is encrypted with an algorithm certmint does not support (e.g. PBKDF2 with
    /// HMAC-SHA1, DES).
    #[error("unsupported key encryption algorithm (use PBES2 with PBKDF2-HMAC-SHA256 or scrypt, and AES)")]
    UnsupportedEncryption,
    /// No passphrase could be read from its source.
    #[error("cannot read the passphrase: {0}")]
    PassphraseSource(String),
    /// The key's algorithm or parameters are not supported.
    #[error("unsupported key algorithm or size")]
    Unsupported,
    /// Key generation failed.
    #[error("key generation failed")]
    Generation,
    /// No RSA key of the requested size became available in time, and falling back to P-256 is
    /// not enabled.
    #[error("no {algorithm} key became available within {waited_ms} ms")]
    PoolExhausted {
        /// The requested algorithm.
        algorithm: crate::KeyAlgorithm,
        /// How long the caller waited.
        waited_ms: u128,
    },
}

/// Why a certificate cannot be used as the issuing CA.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IssuerError {
    /// No certificate was supplied.
    #[error("no certificate supplied")]
    NoCertificate,
    /// The certificate itself could not be parsed.
    #[error("certificate: {0}")]
    Malformed(OriginError),
    /// basicConstraints is missing or says CA:FALSE.
    #[error("not a CA certificate (basicConstraints CA:TRUE is required)")]
    NotCa,
    /// keyUsage is present without keyCertSign.
    #[error("keyUsage lacks keyCertSign")]
    NoKeyCertSign,
    /// No subjectKeyIdentifier: leaves could not carry a matching authorityKeyIdentifier.
    #[error("no subjectKeyIdentifier extension (RFC 5280 requires one on CA certificates)")]
    NoSubjectKeyIdentifier,
    /// The certificate has expired.
    #[error("expired at {not_after}")]
    Expired {
        /// Its notAfter, RFC 3339.
        not_after: String,
    },
    /// The certificate is not valid yet.
    #[error("not valid before {not_before}")]
    NotYetValid {
        /// Its notBefore, RFC 3339.
        not_before: String,
    },
    /// The private key does not belong to the certificate.
    #[error("the private key does not match the certificate's public key")]
    KeyMismatch,
    /// extendedKeyUsage is present without serverAuth, so clients would reject the chain.
    #[error("extendedKeyUsage lacks serverAuth; clients would reject every leaf")]
    EkuWithoutServerAuth,
    /// The chain does not end at a self-signed root.
    #[error("the chain does not end at a self-signed root (give it with --chain)")]
    NoRoot,
    /// The chain does not verify.
    #[error("the chain does not verify: {0}")]
    ChainInvalid(String),
    /// basicConstraints pathLen 0 forbids the sub-CA that rotation needs.
    #[error("pathLen 0 forbids signing the rotating sub-CA (use pathLen 1 or more)")]
    PathLenTooShort,
    /// The CA's key algorithm cannot sign certificates here.
    #[error("unsupported CA key algorithm")]
    UnsupportedKey,
}

/// Why a PEM or DER container could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodingError {
    /// A PEM block is malformed (bad base64, missing END line, bad label).
    #[error("malformed PEM block #{index}")]
    Pem {
        /// Zero-based index of the block.
        index: usize,
    },
    /// No certificate was found in the input.
    #[error("no certificate found")]
    NoCertificate,
    /// No private key was found in the input.
    #[error("no private key found")]
    NoPrivateKey,
    /// More than one private key was found.
    #[error("more than one private key found")]
    SeveralPrivateKeys,
}

impl From<OriginError> for IssuerError {
    fn from(e: OriginError) -> Self {
        Self::Malformed(e)
    }
}

/// Why a PKCS#11 key could not be used. Never contains the PIN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Pkcs11Error {
    /// The `pkcs11:` URI is malformed or incomplete.
    #[error("bad URI: {0}")]
    BadUri(String),
    /// The module could not be loaded or initialised.
    #[error("cannot load module {}: {reason}", path.display())]
    ModuleLoad {
        /// The module's path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// No PIN: neither in the URI nor in `CERTMINT_PKCS11_PIN`.
    #[error("no PIN: give pin-value or pin-source in the URI, or set CERTMINT_PKCS11_PIN")]
    NoPin,
    /// The PIN file could not be read.
    #[error("cannot read the PIN: {0}")]
    PinSource(String),
    /// The token rejected the PIN. Not retried: tokens lock after a few failures.
    #[error("the token rejected the PIN (not retried)")]
    WrongPin,
    /// The token is locked after too many wrong PINs.
    #[error("the PIN is locked")]
    PinLocked,
    /// No initialised token matches the URI.
    #[error("no token {token:?}")]
    TokenNotFound {
        /// The label or serial looked for.
        token: String,
    },
    /// The token holds no private key matching the URI.
    #[error("no private key {object:?} in the token")]
    KeyNotFound {
        /// The label (or hex id) looked for.
        object: String,
    },
    /// The key's type or parameters are not supported.
    #[error("unsupported key type")]
    UnsupportedKey,
    /// The token failed an operation.
    #[error("token error: {0}")]
    Device(String),
    /// The token returned a signature that does not verify; it was discarded.
    #[error("the token returned a signature that does not verify")]
    BadSignature,
}

/// Why the CA registry refused an operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// No CA has this id.
    #[error("no CA {0:?}")]
    UnknownCa(String),
    /// A CA with this id exists already.
    #[error("a CA {0:?} exists already")]
    DuplicateCa(String),
    /// The default CA cannot be disabled or removed without naming another enabled CA.
    #[error("{0:?} is the default CA: name another enabled CA as the new default")]
    DefaultNeedsSuccessor(String),
    /// The CA is disabled.
    #[error("CA {0:?} is disabled")]
    Disabled(String),
    /// No CA is enabled, so there is no default.
    #[error("no default CA (no CA is enabled)")]
    NoDefault,
}
