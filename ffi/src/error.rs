//! The one result enum of the C ABI, its messages, and the mapping from certmint's errors.
//!
//! Codes are numbered in ranges: 0-99 the ABI itself, then one hundred per library layer, one
//! code per error kind, `..._OTHER` (x99) for kinds a newer certmint may add. The detail of the
//! last failure on a thread (which file, which line, why the origin was refused) is kept as
//! text; see `certmint_last_error`.

use std::cell::RefCell;

pub use crate::result::certmint_result;

use certmint::{
    ConfigErrorKind, EncodingError, Error, HostError, IssuerError, KeyError, OriginError,
    Pkcs11Error, RegistryError, RevocationError, SquidError,
};

/// The code for a library error (file wrappers are looked through: the code says what was
/// wrong; the detail text names the file).
pub(crate) fn result_for(error: &Error) -> certmint_result {
    use certmint_result as R;
    match error.without_file() {
        Error::Origin(e) => match e {
            OriginError::Empty => R::CERTMINT_ORIGIN_EMPTY,
            OriginError::TooLarge { .. } => R::CERTMINT_ORIGIN_TOO_LARGE,
            OriginError::Malformed { .. } => R::CERTMINT_ORIGIN_MALFORMED,
            OriginError::TrailingData { .. } => R::CERTMINT_ORIGIN_TRAILING_DATA,
            OriginError::UnsupportedVersion => R::CERTMINT_ORIGIN_UNSUPPORTED_VERSION,
            _ => R::CERTMINT_ORIGIN_OTHER,
        },
        Error::Host(e) => match e {
            HostError::Empty => R::CERTMINT_HOST_EMPTY,
            HostError::TooLong { .. } => R::CERTMINT_HOST_TOO_LONG,
            HostError::EmptyLabel => R::CERTMINT_HOST_EMPTY_LABEL,
            HostError::LabelTooLong => R::CERTMINT_HOST_LABEL_TOO_LONG,
            HostError::NotAscii => R::CERTMINT_HOST_NOT_ASCII,
            HostError::InvalidIpv4 => R::CERTMINT_HOST_INVALID_IPV4,
            HostError::InvalidCharacter { .. } => R::CERTMINT_HOST_INVALID_CHARACTER,
            _ => R::CERTMINT_HOST_OTHER,
        },
        Error::Key(e) => key_result(e),
        Error::Issuer(e) => match e {
            IssuerError::NoCertificate => R::CERTMINT_ISSUER_NO_CERTIFICATE,
            IssuerError::Malformed { .. } => R::CERTMINT_ISSUER_MALFORMED,
            IssuerError::NotCa => R::CERTMINT_ISSUER_NOT_CA,
            IssuerError::NoKeyCertSign => R::CERTMINT_ISSUER_NO_KEY_CERT_SIGN,
            IssuerError::NoSubjectKeyIdentifier => R::CERTMINT_ISSUER_NO_SUBJECT_KEY_IDENTIFIER,
            IssuerError::Expired { .. } => R::CERTMINT_ISSUER_EXPIRED,
            IssuerError::NotYetValid { .. } => R::CERTMINT_ISSUER_NOT_YET_VALID,
            IssuerError::KeyMismatch { .. } => R::CERTMINT_ISSUER_KEY_MISMATCH,
            IssuerError::EkuWithoutServerAuth => R::CERTMINT_ISSUER_EKU_WITHOUT_SERVER_AUTH,
            IssuerError::NoRoot => R::CERTMINT_ISSUER_NO_ROOT,
            IssuerError::ChainInvalid { .. } => R::CERTMINT_ISSUER_CHAIN_INVALID,
            IssuerError::PathLenTooShort => R::CERTMINT_ISSUER_PATH_LEN_TOO_SHORT,
            IssuerError::UnsupportedKey => R::CERTMINT_ISSUER_UNSUPPORTED_KEY,
            _ => R::CERTMINT_ISSUER_OTHER,
        },
        Error::Encoding(e) => match e {
            EncodingError::Pem { .. } => R::CERTMINT_ENCODING_PEM,
            EncodingError::NoCertificate => R::CERTMINT_ENCODING_NO_CERTIFICATE,
            EncodingError::NoPrivateKey => R::CERTMINT_ENCODING_NO_PRIVATE_KEY,
            EncodingError::SeveralPrivateKeys => R::CERTMINT_ENCODING_SEVERAL_PRIVATE_KEYS,
            _ => R::CERTMINT_ENCODING_OTHER,
        },
        Error::Signing(_) => R::CERTMINT_SIGNING,
        Error::Dn(_) => R::CERTMINT_BAD_DN,
        Error::Pkcs11(e) => pkcs11_result(e),
        Error::Registry(e) => match e {
            RegistryError::UnknownCa { .. } => R::CERTMINT_REGISTRY_UNKNOWN_CA,
            RegistryError::DuplicateCa { .. } => R::CERTMINT_REGISTRY_DUPLICATE_CA,
            RegistryError::DefaultNeedsSuccessor { .. } => {
                R::CERTMINT_REGISTRY_DEFAULT_NEEDS_SUCCESSOR
            }
            RegistryError::Disabled { .. } => R::CERTMINT_REGISTRY_DISABLED,
            RegistryError::NoDefault => R::CERTMINT_REGISTRY_NO_DEFAULT,
            _ => R::CERTMINT_REGISTRY_OTHER,
        },
        Error::Config(e) => config_result(&e.kind),
        Error::Tls(_) => R::CERTMINT_TLS,
        Error::UntrustedOrigin(_) => R::CERTMINT_UNTRUSTED_ORIGIN,
        Error::Timeout { .. } => R::CERTMINT_TIMEOUT,
        Error::NoCommonKeyAlgorithm => R::CERTMINT_NO_COMMON_KEY_ALGORITHM,
        Error::NothingToMint => R::CERTMINT_NOTHING_TO_MINT,
        Error::Io { .. } => R::CERTMINT_IO,
        Error::Squid(e) => match e {
            SquidError::TooLarge { .. } => R::CERTMINT_SQUID_TOO_LARGE,
            SquidError::NotUtf8 => R::CERTMINT_SQUID_NOT_UTF8,
            SquidError::NoHost => R::CERTMINT_SQUID_NO_HOST,
            SquidError::UnknownSign { .. } => R::CERTMINT_SQUID_UNKNOWN_SIGN,
            SquidError::WeakSignHash { .. } => R::CERTMINT_SQUID_WEAK_SIGN_HASH,
            SquidError::UnsupportedSignHash { .. } => R::CERTMINT_SQUID_UNSUPPORTED_SIGN_HASH,
            SquidError::NoSigningCertificate => R::CERTMINT_SQUID_NO_SIGNING_CERTIFICATE,
            SquidError::UntrustedRefused => R::CERTMINT_SQUID_UNTRUSTED_REFUSED,
            _ => R::CERTMINT_SQUID_OTHER,
        },
        Error::Revocation(e) => match e {
            RevocationError::BadLifetime => R::CERTMINT_REVOCATION_BAD_LIFETIME,
            RevocationError::BadSignature => R::CERTMINT_REVOCATION_BAD_SIGNATURE,
            RevocationError::UnknownReason(_) => R::CERTMINT_REVOCATION_UNKNOWN_REASON,
            RevocationError::UnknownSubCa(_) => R::CERTMINT_REVOCATION_UNKNOWN_SUB_CA,
            RevocationError::NotHex { .. } => R::CERTMINT_REVOCATION_NOT_HEX,
            RevocationError::SubCaKeyGone(_) => R::CERTMINT_REVOCATION_SUB_CA_KEY_GONE,
            RevocationError::BadRecord { .. } => R::CERTMINT_REVOCATION_BAD_RECORD,
            _ => R::CERTMINT_REVOCATION_OTHER,
        },
        _ => R::CERTMINT_OTHER,
    }
}

fn key_result(e: &KeyError) -> certmint_result {
    use certmint_result as R;
    match e {
        KeyError::UnrecognizedFormat => R::CERTMINT_KEY_UNRECOGNIZED_FORMAT,
        KeyError::Encrypted => R::CERTMINT_KEY_ENCRYPTED,
        KeyError::WrongPassphrase => R::CERTMINT_KEY_WRONG_PASSPHRASE,
        KeyError::UnsupportedEncryption => R::CERTMINT_KEY_UNSUPPORTED_ENCRYPTION,
        KeyError::PassphraseSource { .. } => R::CERTMINT_KEY_PASSPHRASE_SOURCE,
        KeyError::EmptyPassphrase => R::CERTMINT_KEY_EMPTY_PASSPHRASE,
        KeyError::NoPassphrase => R::CERTMINT_KEY_NO_PASSPHRASE,
        KeyError::Unsupported => R::CERTMINT_KEY_UNSUPPORTED,
        KeyError::Generation => R::CERTMINT_KEY_GENERATION,
        KeyError::PoolExhausted { .. } => R::CERTMINT_KEY_POOL_EXHAUSTED,
        _ => R::CERTMINT_KEY_OTHER,
    }
}

fn pkcs11_result(e: &Pkcs11Error) -> certmint_result {
    use certmint_result as R;
    match e {
        Pkcs11Error::BadUri { .. } => R::CERTMINT_PKCS11_BAD_URI,
        Pkcs11Error::ModuleLoad { .. } => R::CERTMINT_PKCS11_MODULE_LOAD,
        Pkcs11Error::NoPin => R::CERTMINT_PKCS11_NO_PIN,
        Pkcs11Error::PinSource { .. } => R::CERTMINT_PKCS11_PIN_SOURCE,
        Pkcs11Error::WrongPin => R::CERTMINT_PKCS11_WRONG_PIN,
        Pkcs11Error::PinLocked => R::CERTMINT_PKCS11_PIN_LOCKED,
        Pkcs11Error::TokenNotFound { .. } => R::CERTMINT_PKCS11_TOKEN_NOT_FOUND,
        Pkcs11Error::KeyNotFound { .. } => R::CERTMINT_PKCS11_KEY_NOT_FOUND,
        Pkcs11Error::AmbiguousKey { .. } => R::CERTMINT_PKCS11_AMBIGUOUS_KEY,
        Pkcs11Error::KeyExists { .. } => R::CERTMINT_PKCS11_KEY_EXISTS,
        Pkcs11Error::UnsupportedKey => R::CERTMINT_PKCS11_UNSUPPORTED_KEY,
        Pkcs11Error::Device { .. } => R::CERTMINT_PKCS11_DEVICE,
        Pkcs11Error::BadSignature => R::CERTMINT_PKCS11_BAD_SIGNATURE,
        _ => R::CERTMINT_PKCS11_OTHER,
    }
}

fn config_result(kind: &ConfigErrorKind) -> certmint_result {
    use certmint_result as R;
    match kind {
        ConfigErrorKind::Syntax { .. } => R::CERTMINT_CONFIG_SYNTAX,
        ConfigErrorKind::DuplicateCa { .. } => R::CERTMINT_CONFIG_DUPLICATE_CA,
        ConfigErrorKind::UnknownCa { .. } => R::CERTMINT_CONFIG_UNKNOWN_CA,
        ConfigErrorKind::RuleNeedsOneOfHostOrTenant => {
            R::CERTMINT_CONFIG_RULE_NEEDS_ONE_OF_HOST_OR_TENANT
        }
        ConfigErrorKind::BadUntrustedPolicy { .. } => R::CERTMINT_CONFIG_BAD_UNTRUSTED_POLICY,
        ConfigErrorKind::MirrorNeedsCa => R::CERTMINT_CONFIG_MIRROR_NEEDS_CA,
        ConfigErrorKind::UntrustedCaIsTrusted { .. } => R::CERTMINT_CONFIG_UNTRUSTED_CA_IS_TRUSTED,
        ConfigErrorKind::BadCacheSize => R::CERTMINT_CONFIG_BAD_CACHE_SIZE,
        ConfigErrorKind::BadRotation => R::CERTMINT_CONFIG_BAD_ROTATION,
        ConfigErrorKind::RelativePath { .. } => R::CERTMINT_CONFIG_RELATIVE_PATH,
        ConfigErrorKind::Pkcs11Unavailable => R::CERTMINT_CONFIG_PKCS11_UNAVAILABLE,
        ConfigErrorKind::NoCa => R::CERTMINT_CONFIG_NO_CA,
        ConfigErrorKind::BadLifetime => R::CERTMINT_CONFIG_BAD_LIFETIME,
        ConfigErrorKind::RevocationDirRequired => R::CERTMINT_CONFIG_REVOCATION_DIR_REQUIRED,
        _ => R::CERTMINT_CONFIG_OTHER,
    }
}

thread_local! {
    /// The detail of the last failure on this thread.
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

/// A failure on its way to C: the code, and the text kept as this thread's last error.
pub(crate) struct Failure {
    pub(crate) code: certmint_result,
    pub(crate) detail: String,
}

impl Failure {
    /// A failure of the ABI itself (NULL, bad parameter, small buffer), with its detail.
    pub(crate) fn new(code: certmint_result, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
        }
    }

    /// A NULL where `name` must point somewhere.
    pub(crate) fn null(name: &str) -> Self {
        Self::new(
            certmint_result::CERTMINT_NULL_PARAMETER,
            format!("{name} is NULL"),
        )
    }

    /// Records the detail as this thread's last error and gives the code.
    pub(crate) fn into_result(self) -> certmint_result {
        set_last_error(self.detail);
        self.code
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Self {
            code: result_for(&error),
            detail: error.to_string(),
        }
    }
}

pub(crate) fn set_last_error(detail: String) {
    LAST_ERROR.with(|last| *last.borrow_mut() = detail);
}

pub(crate) fn with_last_error<T>(f: impl FnOnce(&str) -> T) -> T {
    LAST_ERROR.with(|last| f(&last.borrow()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_distinct_value_and_a_message() {
        let mut seen = std::collections::HashSet::new();
        for code in certmint_result::ALL {
            assert!(seen.insert(*code as u32), "{code:?}");
            assert!(!code.message().is_empty(), "{code:?}");
            assert_eq!(certmint_result::from_u32(*code as u32), Some(*code));
        }
        assert_eq!(certmint_result::from_u32(12345), None);
    }
}
