//! The one public error type, [`Error`], and the nested enums for each layer.
//!
//! Error text never contains key material, passphrases, PINs or the bytes of a bad input beyond
//! a position or a length.
//!
//! This module sits at the bottom of the crate: it names a few vocabulary types (the key
//! algorithm, rustls and pki-types types) and nothing above them.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::UnixTime;

use crate::x509::KeyAlgorithm;

/// Everything that can go wrong in certmint.
///
/// Errors are cheap to clone (foreign errors are shared behind an `Arc`), so a failed mint
/// that the cache remembers, or that several waiting handshakes share, comes back to each caller
/// as the same root cause: `matches!(e, Error::Origin(_))` works whether the error was fresh or
/// remembered.
///
/// ```
/// use certmint::{Error, HostError, MintRequest};
/// # let ca = certmint::testing::ThrowawayCa::generate(certmint::KeyAlgorithm::EcdsaP256)?;
/// # let minter = certmint::Minter::new(std::sync::Arc::new(ca.issuer()?),
/// #     std::sync::Arc::new(certmint::keys::KeyPool::inline()), Default::default());
/// match minter.mint(&MintRequest::for_host("bad host")) {
///     Err(Error::Host(HostError::InvalidCharacter { character, .. })) => {
///         assert_eq!(character, ' '); // refuse this client; a bad SNI is not our failure
///     }
///     other => panic!("{other:?}"),
/// }
/// # Ok::<(), certmint::Error>(())
/// ```
#[derive(Clone, Debug, thiserror::Error)]
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
    /// The CA's signer failed to produce a signature; the signer's own error is the source.
    #[error("signing failed: {0}")]
    Signing(OtherError),
    /// A distinguished name string was refused.
    #[error("bad distinguished name: {0}")]
    Dn(#[from] DnError),
    /// A PKCS#11 token or key could not be used.
    #[error("PKCS#11: {0}")]
    Pkcs11(#[from] Pkcs11Error),
    /// The CA registry refused an operation or has no CA to use.
    #[error("CA registry: {0}")]
    Registry(#[from] RegistryError),
    /// The configuration is invalid.
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    /// rustls refused a configuration.
    #[error("TLS: {0}")]
    Tls(#[from] rustls::Error),
    /// The origin's chain does not validate for the host, and the untrusted-origin policy is to
    /// refuse it. The source says why (unknown issuer, expired, not valid for the name...).
    #[error("origin not trusted: {0}")]
    UntrustedOrigin(rustls::Error),
    /// A bounded wait ran out: another thread's mint of the same site, for example.
    #[error("gave up waiting for {what} after {} ms", waited.as_millis())]
    Timeout {
        /// What was waited for.
        what: Wait,
        /// How long.
        waited: Duration,
    },
    /// The client offers no signature scheme for any key certmint can mint.
    #[error("the client offers no signature scheme certmint can serve")]
    NoCommonKeyAlgorithm,
    /// Neither an origin certificate nor a host was given.
    #[error("nothing to mint from: give an origin certificate, a host, or both")]
    NothingToMint,
    /// A file's contents were refused: which file, and why (the source). Errors from files a
    /// deployment or [`Issuer::from_files`](crate::ca::Issuer::from_files) reads come wrapped
    /// in this variant; [`Error::without_file`] gives the reason itself.
    #[error("{}: {source}", path.display())]
    File {
        /// The file concerned.
        path: PathBuf,
        /// What is wrong with its contents.
        source: Box<Error>,
    },
    /// A Squid certificate-generator request was refused.
    #[error("Squid request: {0}")]
    Squid(#[from] SquidError),
    /// A CRL, revocation or the record of issued sub-CAs failed.
    #[error("revocation: {0}")]
    Revocation(#[from] RevocationError),
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        source: Arc<std::io::Error>,
    },
}

impl Error {
    /// A short, stable name for the kind of error (`"pkcs11"`, `"untrusted_origin"`,
    /// `"timeout"`...), for metrics labels and log fields; a file's error is named by its
    /// reason.
    ///
    /// ```
    /// assert_eq!(certmint::Error::NoCommonKeyAlgorithm.kind_name(), "no_common_key_algorithm");
    /// ```
    pub fn kind_name(&self) -> &'static str {
        match self {
            Self::Origin(_) => "origin",
            Self::Host(_) => "host",
            Self::Key(_) => "key",
            Self::Issuer(_) => "issuer",
            Self::Encoding(_) => "encoding",
            Self::Signing(_) => "signing",
            Self::Dn(_) => "dn",
            Self::Pkcs11(_) => "pkcs11",
            Self::Registry(_) => "registry",
            Self::Config(_) => "config",
            Self::Tls(_) => "tls",
            Self::UntrustedOrigin(_) => "untrusted_origin",
            Self::Timeout { .. } => "timeout",
            Self::NoCommonKeyAlgorithm => "no_common_key_algorithm",
            Self::NothingToMint => "nothing_to_mint",
            Self::File { source, .. } => source.kind_name(),
            Self::Squid(_) => "squid",
            Self::Revocation(_) => "revocation",
            Self::Io { .. } => "io",
        }
    }

    /// Whether the same operation may succeed if simply tried again soon: a signer or token
    /// that failed (a token gone, a session lost, a wrong signature discarded) or a wait that
    /// timed out. Configuration, input and trust errors are not transient.
    ///
    /// ```
    /// use certmint::{Error, Pkcs11Error};
    /// assert!(Error::Pkcs11(Pkcs11Error::BadSignature).is_transient());
    /// assert!(!Error::Pkcs11(Pkcs11Error::WrongPin).is_transient());
    /// assert!(!Error::NoCommonKeyAlgorithm.is_transient());
    /// ```
    pub fn is_transient(&self) -> bool {
        match self.without_file() {
            Self::Signing(_) | Self::Timeout { .. } => true,
            Self::Pkcs11(e) => matches!(
                e,
                Pkcs11Error::Device(_)
                    | Pkcs11Error::TokenNotFound { .. }
                    | Pkcs11Error::BadSignature
            ),
            _ => false,
        }
    }

    /// The reason itself, without the [`Error::File`] wrappers that name the file it was in.
    ///
    /// ```
    /// use certmint::{EncodingError, Error};
    ///
    /// let empty = std::env::temp_dir().join("certmint-doc-empty.pem");
    /// std::fs::write(&empty, b"")?;
    /// let err = certmint::pem::read_certificates(&empty).unwrap_err();
    /// assert!(err.to_string().contains("certmint-doc-empty.pem"));
    /// assert!(matches!(err.without_file(), Error::Encoding(EncodingError::NoCertificate)));
    /// # std::fs::remove_file(&empty)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn without_file(&self) -> &Self {
        match self {
            Self::File { source, .. } => source.without_file(),
            other => other,
        }
    }

    /// Wraps `self` as an error about the contents of `path` (errors that already name a file
    /// are returned as they are).
    pub fn in_file(self, path: &std::path::Path) -> Self {
        match self {
            Self::File { .. } | Self::Io { .. } => self,
            other => Self::File {
                path: path.to_owned(),
                source: Box::new(other),
            },
        }
    }

    /// A file error.
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_owned(),
            source: Arc::new(source),
        }
    }

    /// A signer's failure, keeping its error as the source.
    pub(crate) fn signing(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Signing(OtherError::new(e))
    }
}

/// What a bounded wait was waiting for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Wait {
    /// Another thread minting the same site.
    ConcurrentMint,
}

impl fmt::Display for Wait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ConcurrentMint => "another thread's mint of this site",
        })
    }
}

/// A foreign error (from a signer, a token, a parser certmint uses), kept whole as the source.
#[derive(Clone)]
#[allow(clippy::exhaustive_structs)] // a wrapper by design, as rustls' `OtherError`
pub struct OtherError(pub Arc<dyn std::error::Error + Send + Sync>);

impl OtherError {
    /// Wraps `e`.
    pub fn new(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self(Arc::new(e))
    }

    #[cfg_attr(not(feature = "pkcs11"), allow(dead_code))]
    pub(crate) fn msg(text: &'static str) -> Self {
        Self::new(Message(text))
    }
}

impl fmt::Debug for OtherError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for OtherError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for OtherError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

/// A fixed message as an error.
#[derive(Debug)]
#[cfg_attr(not(feature = "pkcs11"), allow(dead_code))]
struct Message(&'static str);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Message {}

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
    /// The host's last label is a number, so it must be an IPv4 address (as browsers read
    /// `127.1` or `0x7f.0.0.1`), and it is not a valid one.
    #[error("numeric host that is not a valid IPv4 address")]
    InvalidIpv4,
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
    #[error("the key is encrypted: give its passphrase (a passphrase file, e.g. --ca-key-pass-file or key_pass_file, or CERTMINT_CA_KEY_PASS)")]
    Encrypted,
    /// The passphrase does not decrypt the key (or the encrypted key is corrupt).
    #[error("wrong passphrase, or the encrypted key is corrupt")]
    WrongPassphrase,
    /// The key is encrypted with an algorithm certmint does not support (e.g. PBKDF2 with
    /// HMAC-SHA1, DES).
    #[error("unsupported key encryption algorithm (use PBES2 with PBKDF2-HMAC-SHA256 or scrypt, and AES)")]
    UnsupportedEncryption,
    /// The passphrase file could not be read.
    #[error("cannot read the passphrase from {}: {kind}", path.display())]
    PassphraseSource {
        /// The file.
        path: PathBuf,
        /// Why.
        kind: std::io::ErrorKind,
    },
    /// The passphrase is empty (an empty file, a file holding only a newline, an empty
    /// variable): refused, never used to encrypt or decrypt.
    #[error("the passphrase is empty")]
    EmptyPassphrase,
    /// A passphrase is needed (to write an encrypted key) and none was given.
    #[error("keys are written encrypted and no passphrase was given: give a passphrase file or set CERTMINT_CA_KEY_PASS")]
    NoPassphrase,
    /// The key's algorithm or parameters are not supported.
    #[error("unsupported key algorithm or size")]
    Unsupported,
    /// Key generation failed.
    #[error("key generation failed")]
    Generation,
    /// No RSA key of the requested size became available in time, and falling back to P-256 is
    /// not enabled.
    #[error("no {algorithm} key became available within {} ms", waited.as_millis())]
    PoolExhausted {
        /// The requested algorithm.
        algorithm: KeyAlgorithm,
        /// How long the caller waited.
        waited: Duration,
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
    #[error("expired at {} (Unix time)", not_after.as_secs())]
    Expired {
        /// Its notAfter.
        not_after: UnixTime,
    },
    /// The certificate is not valid yet.
    #[error("not valid before {} (Unix time)", not_before.as_secs())]
    NotYetValid {
        /// Its notBefore.
        not_before: UnixTime,
    },
    /// The private key does not belong to the certificate.
    #[error("the private key does not match the public key of the certificate {subject:?}")]
    KeyMismatch {
        /// The certificate's subject (RFC 4514), to tell which certificate was meant.
        subject: String,
    },
    /// extendedKeyUsage is present without serverAuth, so clients would reject the chain.
    #[error("extendedKeyUsage lacks serverAuth; clients would reject every leaf")]
    EkuWithoutServerAuth,
    /// The chain does not end at a self-signed root.
    #[error("the chain does not end at a self-signed root (give it with --chain)")]
    NoRoot,
    /// The chain does not verify.
    #[error("the chain does not verify: {0}")]
    ChainInvalid(ChainError),
    /// basicConstraints pathLen 0 forbids the sub-CA that rotation needs.
    #[error("pathLen 0 forbids signing the rotating sub-CA (use pathLen 1 or more)")]
    PathLenTooShort,
    /// The CA's key algorithm cannot sign certificates here.
    #[error("unsupported CA key algorithm")]
    UnsupportedKey,
}

/// Why a CA's chain did not verify (a probe leaf checked with rustls-webpki).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// No certificate in the chain leads to the root.
    #[error("unknown issuer")]
    UnknownIssuer,
    /// A certificate in the chain has expired.
    #[error("a certificate has expired")]
    Expired,
    /// A certificate in the chain is not valid yet.
    #[error("a certificate is not valid yet")]
    NotValidYet,
    /// A basicConstraints pathLen in the chain is exceeded.
    #[error("path length constraint exceeded")]
    PathLenConstraintViolated,
    /// A signature in the chain does not verify.
    #[error("bad signature")]
    BadSignature,
    /// The probe leaf is not valid for its name (name constraints).
    #[error("not valid for the probe's name")]
    NameMismatch,
    /// The root is not a usable trust anchor.
    #[error("the root cannot be a trust anchor")]
    BadRoot,
    /// Another reason, as rustls-webpki names it.
    #[error("{0}")]
    Other(&'static str),
}

/// Why a distinguished name string was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DnError {
    /// A backslash ends the text.
    #[error("dangling backslash")]
    DanglingBackslash,
    /// A `+` joins attributes into one RDN.
    #[error("multi-valued RDNs are not supported")]
    MultiValuedRdn,
    /// An RDN is not `TYPE=value`.
    #[error("an RDN is not TYPE=value")]
    NotTypeValue,
    /// The attribute type is not one certmint writes (CN, O, OU, C, ST, L, DC, serialNumber).
    #[error("unsupported attribute type {0:?}")]
    UnsupportedAttribute(String),
    /// An attribute has no value.
    #[error("{0} is empty")]
    EmptyValue(String),
    /// An attribute appears twice.
    #[error("{0} appears twice")]
    Repeated(String),
    /// countryName is not two letters.
    #[error("C must be a two-letter country code")]
    BadCountry,
    /// The text is in OpenSSL's `/C=GB/O=Org/CN=Name` form rather than RFC 4514.
    #[error("{given:?} is OpenSSL's slash form; write it as RFC 4514, most significant last: {suggestion:?}")]
    SlashForm {
        /// The text as given.
        given: String,
        /// The same name in RFC 4514 form.
        suggestion: String,
    },
}

/// Why a configuration was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
#[error("{}{}{kind}", source_name(.path), .line.map(|l| format!("line {l}: ")).unwrap_or_default())]
pub struct ConfigError {
    /// The file, or `None` for in-memory text.
    pub path: Option<PathBuf>,
    /// The 1-based line, when the problem is on one line.
    pub line: Option<usize>,
    /// What is wrong.
    pub kind: ConfigErrorKind,
}

fn source_name(path: &Option<PathBuf>) -> String {
    match path {
        Some(p) => format!("{}: ", p.display()),
        None => "<text>: ".to_owned(),
    }
}

/// What is wrong with a configuration.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigErrorKind {
    /// The TOML does not parse, or a key is unknown or of the wrong type (the parser's words).
    #[error("{0}")]
    Syntax(String),
    /// Two CAs share an id.
    #[error("duplicate CA id {0:?}")]
    DuplicateCa(String),
    /// A reference to a CA id that no `[[ca]]` has.
    #[error("no [[ca]] with id {0:?}")]
    UnknownCa(String),
    /// A `[[rule]]` needs exactly one of `host` or `tenant`.
    #[error("a [[rule]] needs exactly one of host or tenant")]
    RuleNeedsOneOfHostOrTenant,
    /// `[untrusted] policy` is not `refuse` or `mirror`.
    #[error("policy must be \"refuse\" or \"mirror\", not {0:?}")]
    BadUntrustedPolicy(String),
    /// `policy = "mirror"` without `[untrusted] ca`.
    #[error("policy \"mirror\" needs [untrusted] ca")]
    MirrorNeedsCa,
    /// The untrusted CA (for mirrored distrust) is one clients would trust: it shares a
    /// certificate or key with a trusted CA's chain, issues one of its certificates, or a probe
    /// leaf from it validates against the trusted chains.
    #[error("the untrusted CA {0:?} is trusted by clients (it shares a certificate or key with a trusted CA, or issues one): give a CA no client trusts")]
    UntrustedCaIsTrusted(String),
    /// `[cache] max_mib` is 0 or more than 1,048,576 (1 TiB).
    #[error("cache max_mib must be between 1 and 1048576")]
    BadCacheSize,
    /// Rotation periods that cannot work.
    #[error("rotation: renew_after_days must be between 1 and lifetime_days - 1")]
    BadRotation,
    /// A `[mint]` lifetime outside 1..=825 days (Apple's limit).
    #[error("[mint] lifetimes must be between 1 and 825 days")]
    BadLifetime,
    /// A CA rotates sub-CAs but the configuration (text held in memory) has no `[revocation]
    /// dir` to record them in: a sub-CA that is not recorded cannot be revoked.
    #[error("a [ca.rotation] needs [revocation] dir = \"DIR\" in configuration text (sub-CAs are recorded there so they can be revoked)")]
    RevocationDirRequired,
    /// A relative path in configuration text that has no directory to be relative to.
    #[error("relative path {0:?} in configuration text: give an absolute path")]
    RelativePath(PathBuf),
    /// A `pkcs11:` key without the `pkcs11` feature.
    #[error("pkcs11: keys need the pkcs11 feature")]
    Pkcs11Unavailable,
    /// No CA is configured.
    #[error("no CA configured")]
    NoCa,
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
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Pkcs11Error {
    /// The `pkcs11:` URI is malformed or incomplete.
    #[error("bad URI: {0}")]
    BadUri(&'static str),
    /// The module could not be loaded or initialised.
    #[error("cannot load module {}: {source}", path.display())]
    ModuleLoad {
        /// The module's path.
        path: PathBuf,
        /// The loader's or the module's error.
        source: OtherError,
    },
    /// No PIN: neither in the URI nor in `CERTMINT_PKCS11_PIN`.
    #[error("no PIN: give pin-value or pin-source in the URI, or set CERTMINT_PKCS11_PIN")]
    NoPin,
    /// The PIN file could not be read.
    #[error("cannot read the PIN from {}: {kind}", path.display())]
    PinSource {
        /// The file.
        path: PathBuf,
        /// Why.
        kind: std::io::ErrorKind,
    },
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
    /// More than one key matches the URI: give a unique label, or the id.
    #[error("{count} keys match {object:?}: give a unique object label or id")]
    AmbiguousKey {
        /// The label (or hex id) looked for.
        object: String,
        /// How many matched.
        count: usize,
    },
    /// An object with this label or id exists already; a new key under it is refused.
    #[error("the token already holds an object {object:?}: choose another label or id")]
    KeyExists {
        /// The label (or hex id).
        object: String,
    },
    /// The key's type or parameters are not supported.
    #[error("unsupported key type")]
    UnsupportedKey,
    /// The token failed an operation; the module's error is the source.
    #[error("token error: {0}")]
    Device(OtherError),
    /// The token returned a signature that does not verify; it was discarded.
    #[error("the token returned a signature that does not verify")]
    BadSignature,
}

/// Why a Squid `sslcrtd_program` request was refused (see [`crate::squid`]). Squid shows the
/// message in cache.log; each would recur, so the helper answers `ERR`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SquidError {
    /// The body is larger than the helper accepts.
    #[error("the request body is {len} bytes, more than the {max} accepted")]
    TooLarge {
        /// The body's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A parameter line is not UTF-8.
    #[error("a parameter line is not UTF-8")]
    NotUtf8,
    /// No `host=` parameter.
    #[error("no host= parameter")]
    NoHost,
    /// `Sign=` names no signing algorithm Squid has.
    #[error("unknown Sign={value:?} (signTrusted, signUntrusted or signSelf)")]
    UnknownSign {
        /// The value given.
        value: String,
    },
    /// `SignHash=` asks for a digest certmint refuses to sign with.
    #[error("SignHash={hash} is refused: SHA-1 and MD5 signatures are forgeable")]
    WeakSignHash {
        /// The value given.
        hash: String,
    },
    /// `SignHash=` asks for a digest the CA's key does not sign with here.
    #[error("SignHash={hash} is not supported with this CA: its key signs with {supported}")]
    UnsupportedSignHash {
        /// The value given.
        hash: String,
        /// The digest the key signs with.
        supported: &'static str,
    },
    /// The body carries no signing certificate.
    #[error("no signing CA certificate in the request")]
    NoSigningCertificate,
    /// A `signUntrusted` request, and the configuration's untrusted-origin policy is `refuse`.
    #[error("the origin is not trusted and the untrusted-origin policy is to refuse it")]
    UntrustedRefused,
}

/// Why a CRL could not be made or a revocation recorded (see [`crate::revocation`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RevocationError {
    /// nextUpdate is not after thisUpdate.
    #[error("a CRL's nextUpdate must be after its thisUpdate")]
    BadLifetime,
    /// The signer returned a CRL signature that does not verify; it was discarded.
    #[error("the CA's signer returned a CRL signature that does not verify")]
    BadSignature,
    /// A revocation reason certmint does not know.
    #[error("unknown revocation reason {0:?} (unspecified, key-compromise, ca-compromise, affiliation-changed, superseded, cessation-of-operation, certificate-hold, privilege-withdrawn)")]
    UnknownReason(String),
    /// No recorded sub-CA has this key identifier.
    #[error("no recorded sub-CA has key id {0}")]
    UnknownSubCa(String),
    /// A serial or key identifier is not hexadecimal.
    #[error("{what} is not hexadecimal: {given:?}")]
    NotHex {
        /// What was given (serial, key id).
        what: &'static str,
        /// The text (cut to 80 characters).
        given: String,
    },
    /// A leaf under a sub-CA cannot be revoked: the sub-CA's CRL was signed once when it was
    /// made and its key is gone. Revoke the sub-CA instead.
    #[error("leaves of sub-CA {0} cannot be revoked one by one: its CRL was signed when it was made and its key is gone; revoke the sub-CA")]
    SubCaKeyGone(String),
    /// A record in the revocation directory could not be read.
    #[error("record {}: {reason}", path.display())]
    BadRecord {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
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
