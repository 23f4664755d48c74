//! The one result enum of the C ABI. Each code's message is the first line of its
//! documentation: `build.rs` reads this file and writes the table behind
//! `certmint_result::message` and `certmint_result::ALL`, so a code cannot lack a message.

/// The result of every fallible call. `CERTMINT_OK` is 0; every other value is a failure whose
/// message `certmint_result_message` gives, and whose detail for this call `certmint_last_error`
/// gives. Codes are numbered in ranges: 0-99 the ABI itself, then one hundred per library layer,
/// one code per error kind, `..._OTHER` (x99) for kinds a newer certmint may add.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum certmint_result {
    /// success
    CERTMINT_OK = 0,
    /// a required pointer parameter was NULL
    CERTMINT_NULL_PARAMETER = 1,
    /// certmint panicked (a bug); the call had no effect that can be relied on
    CERTMINT_PANIC = 2,
    /// a parameter is out of range or not valid UTF-8 where text is required
    CERTMINT_INVALID_PARAMETER = 3,
    /// the caller's buffer is too small; the size needed was written to the length out-parameter
    CERTMINT_BUFFER_TOO_SMALL = 4,

    /// origin certificate: empty
    CERTMINT_ORIGIN_EMPTY = 100,
    /// origin certificate: larger than the configured limit
    CERTMINT_ORIGIN_TOO_LARGE = 101,
    /// origin certificate: malformed DER
    CERTMINT_ORIGIN_MALFORMED = 102,
    /// origin certificate: data after the certificate
    CERTMINT_ORIGIN_TRAILING_DATA = 103,
    /// origin certificate: unsupported X.509 version
    CERTMINT_ORIGIN_UNSUPPORTED_VERSION = 104,
    /// origin certificate: unusable
    CERTMINT_ORIGIN_OTHER = 199,

    /// host name: empty
    CERTMINT_HOST_EMPTY = 200,
    /// host name: longer than 253 characters
    CERTMINT_HOST_TOO_LONG = 201,
    /// host name: an empty label
    CERTMINT_HOST_EMPTY_LABEL = 202,
    /// host name: a label longer than 63 characters
    CERTMINT_HOST_LABEL_TOO_LONG = 203,
    /// host name: not ASCII (give IDNs as A-labels)
    CERTMINT_HOST_NOT_ASCII = 204,
    /// host name: a numeric host that is not a valid IPv4 address
    CERTMINT_HOST_INVALID_IPV4 = 205,
    /// host name: a character not allowed in host names
    CERTMINT_HOST_INVALID_CHARACTER = 206,
    /// host name: not acceptable
    CERTMINT_HOST_OTHER = 299,

    /// private key: format not recognised
    CERTMINT_KEY_UNRECOGNIZED_FORMAT = 300,
    /// private key: encrypted, and no passphrase was given
    CERTMINT_KEY_ENCRYPTED = 301,
    /// private key: wrong passphrase
    CERTMINT_KEY_WRONG_PASSPHRASE = 302,
    /// private key: unsupported encryption scheme
    CERTMINT_KEY_UNSUPPORTED_ENCRYPTION = 303,
    /// private key: the passphrase source could not be read
    CERTMINT_KEY_PASSPHRASE_SOURCE = 304,
    /// private key: empty passphrase
    CERTMINT_KEY_EMPTY_PASSPHRASE = 305,
    /// private key: a passphrase is required to encrypt
    CERTMINT_KEY_NO_PASSPHRASE = 306,
    /// private key: unsupported algorithm
    CERTMINT_KEY_UNSUPPORTED = 307,
    /// private key: generation failed
    CERTMINT_KEY_GENERATION = 308,
    /// private key: no RSA key became ready in time
    CERTMINT_KEY_POOL_EXHAUSTED = 309,
    /// private key: unusable
    CERTMINT_KEY_OTHER = 399,

    /// issuing CA: no certificate supplied
    CERTMINT_ISSUER_NO_CERTIFICATE = 400,
    /// issuing CA: the certificate could not be parsed
    CERTMINT_ISSUER_MALFORMED = 401,
    /// issuing CA: not a CA certificate
    CERTMINT_ISSUER_NOT_CA = 402,
    /// issuing CA: keyUsage lacks keyCertSign
    CERTMINT_ISSUER_NO_KEY_CERT_SIGN = 403,
    /// issuing CA: no subjectKeyIdentifier
    CERTMINT_ISSUER_NO_SUBJECT_KEY_IDENTIFIER = 404,
    /// issuing CA: expired
    CERTMINT_ISSUER_EXPIRED = 405,
    /// issuing CA: not valid yet
    CERTMINT_ISSUER_NOT_YET_VALID = 406,
    /// issuing CA: the private key does not match the certificate
    CERTMINT_ISSUER_KEY_MISMATCH = 407,
    /// issuing CA: extendedKeyUsage lacks serverAuth
    CERTMINT_ISSUER_EKU_WITHOUT_SERVER_AUTH = 408,
    /// issuing CA: the chain does not end at a self-signed root
    CERTMINT_ISSUER_NO_ROOT = 409,
    /// issuing CA: the chain does not verify
    CERTMINT_ISSUER_CHAIN_INVALID = 410,
    /// issuing CA: pathLen 0 forbids the rotating sub-CA
    CERTMINT_ISSUER_PATH_LEN_TOO_SHORT = 411,
    /// issuing CA: its key algorithm cannot sign here
    CERTMINT_ISSUER_UNSUPPORTED_KEY = 412,
    /// issuing CA: unusable
    CERTMINT_ISSUER_OTHER = 499,

    /// encoding: malformed PEM
    CERTMINT_ENCODING_PEM = 500,
    /// encoding: no certificate found
    CERTMINT_ENCODING_NO_CERTIFICATE = 501,
    /// encoding: no private key found
    CERTMINT_ENCODING_NO_PRIVATE_KEY = 502,
    /// encoding: more than one private key found
    CERTMINT_ENCODING_SEVERAL_PRIVATE_KEYS = 503,
    /// encoding: unreadable
    CERTMINT_ENCODING_OTHER = 599,

    /// the CA's signer failed to sign
    CERTMINT_SIGNING = 600,

    /// a distinguished name was refused
    CERTMINT_BAD_DN = 700,

    /// PKCS#11: bad pkcs11: URI
    CERTMINT_PKCS11_BAD_URI = 800,
    /// PKCS#11: the module could not be loaded
    CERTMINT_PKCS11_MODULE_LOAD = 801,
    /// PKCS#11: no PIN given
    CERTMINT_PKCS11_NO_PIN = 802,
    /// PKCS#11: the PIN source could not be read
    CERTMINT_PKCS11_PIN_SOURCE = 803,
    /// PKCS#11: wrong PIN
    CERTMINT_PKCS11_WRONG_PIN = 804,
    /// PKCS#11: PIN locked
    CERTMINT_PKCS11_PIN_LOCKED = 805,
    /// PKCS#11: token not found
    CERTMINT_PKCS11_TOKEN_NOT_FOUND = 806,
    /// PKCS#11: key not found
    CERTMINT_PKCS11_KEY_NOT_FOUND = 807,
    /// PKCS#11: more than one key matches
    CERTMINT_PKCS11_AMBIGUOUS_KEY = 808,
    /// PKCS#11: a key with that label or id exists
    CERTMINT_PKCS11_KEY_EXISTS = 809,
    /// PKCS#11: unsupported key type
    CERTMINT_PKCS11_UNSUPPORTED_KEY = 810,
    /// PKCS#11: the device failed
    CERTMINT_PKCS11_DEVICE = 811,
    /// PKCS#11: the token's signature did not verify
    CERTMINT_PKCS11_BAD_SIGNATURE = 812,
    /// PKCS#11: failed
    CERTMINT_PKCS11_OTHER = 899,

    /// CA registry: no CA with that id
    CERTMINT_REGISTRY_UNKNOWN_CA = 900,
    /// CA registry: a CA with that id exists
    CERTMINT_REGISTRY_DUPLICATE_CA = 901,
    /// CA registry: disabling the default CA needs a new default
    CERTMINT_REGISTRY_DEFAULT_NEEDS_SUCCESSOR = 902,
    /// CA registry: that CA is disabled
    CERTMINT_REGISTRY_DISABLED = 903,
    /// CA registry: no default CA
    CERTMINT_REGISTRY_NO_DEFAULT = 904,
    /// CA registry: refused
    CERTMINT_REGISTRY_OTHER = 999,

    /// configuration: syntax error
    CERTMINT_CONFIG_SYNTAX = 1000,
    /// configuration: two CAs with one id
    CERTMINT_CONFIG_DUPLICATE_CA = 1001,
    /// configuration: a reference to an unknown CA
    CERTMINT_CONFIG_UNKNOWN_CA = 1002,
    /// configuration: a rule needs exactly one of host or tenant
    CERTMINT_CONFIG_RULE_NEEDS_ONE_OF_HOST_OR_TENANT = 1003,
    /// configuration: unknown untrusted-origin policy
    CERTMINT_CONFIG_BAD_UNTRUSTED_POLICY = 1004,
    /// configuration: mirroring needs an untrusted CA
    CERTMINT_CONFIG_MIRROR_NEEDS_CA = 1005,
    /// configuration: the untrusted CA is trusted by clients
    CERTMINT_CONFIG_UNTRUSTED_CA_IS_TRUSTED = 1006,
    /// configuration: bad cache size
    CERTMINT_CONFIG_BAD_CACHE_SIZE = 1007,
    /// configuration: bad rotation settings
    CERTMINT_CONFIG_BAD_ROTATION = 1008,
    /// configuration: a relative path in in-memory configuration text
    CERTMINT_CONFIG_RELATIVE_PATH = 1009,
    /// configuration: PKCS#11 is not available in this build
    CERTMINT_CONFIG_PKCS11_UNAVAILABLE = 1010,
    /// configuration: no CA
    CERTMINT_CONFIG_NO_CA = 1011,
    /// configuration: [mint] lifetimes must be between 1 and 825 days
    CERTMINT_CONFIG_BAD_LIFETIME = 1012,
    /// configuration: a [ca.rotation] in configuration text needs [revocation] dir
    CERTMINT_CONFIG_REVOCATION_DIR_REQUIRED = 1013,
    /// configuration: invalid
    CERTMINT_CONFIG_OTHER = 1099,

    /// TLS: rustls refused a configuration
    CERTMINT_TLS = 1100,
    /// the origin's chain does not validate for the host, and the policy is to refuse it
    CERTMINT_UNTRUSTED_ORIGIN = 1200,
    /// gave up waiting (another thread's mint of the same site)
    CERTMINT_TIMEOUT = 1300,
    /// the client offers no signature scheme certmint can serve
    CERTMINT_NO_COMMON_KEY_ALGORITHM = 1400,
    /// nothing to mint from: give an origin certificate, a host, or both
    CERTMINT_NOTHING_TO_MINT = 1500,
    /// reading or writing a file failed
    CERTMINT_IO = 1600,

    /// Squid request: the body is larger than the helper accepts
    CERTMINT_SQUID_TOO_LARGE = 1700,
    /// Squid request: a parameter line is not UTF-8
    CERTMINT_SQUID_NOT_UTF8 = 1701,
    /// Squid request: no host= parameter
    CERTMINT_SQUID_NO_HOST = 1702,
    /// Squid request: unknown Sign= value
    CERTMINT_SQUID_UNKNOWN_SIGN = 1703,
    /// Squid request: SignHash= names SHA-1 or MD5, which certmint refuses
    CERTMINT_SQUID_WEAK_SIGN_HASH = 1704,
    /// Squid request: SignHash= is not supported with this CA's key
    CERTMINT_SQUID_UNSUPPORTED_SIGN_HASH = 1705,
    /// Squid request: no signing CA certificate
    CERTMINT_SQUID_NO_SIGNING_CERTIFICATE = 1706,
    /// Squid request: an untrusted origin, refused by the untrusted-origin policy
    CERTMINT_SQUID_UNTRUSTED_REFUSED = 1707,
    /// Squid request: refused
    CERTMINT_SQUID_OTHER = 1799,

    /// revocation: a CRL's nextUpdate must be after its thisUpdate
    CERTMINT_REVOCATION_BAD_LIFETIME = 1800,
    /// revocation: the CA's signer returned a CRL signature that does not verify
    CERTMINT_REVOCATION_BAD_SIGNATURE = 1801,
    /// revocation: unknown revocation reason
    CERTMINT_REVOCATION_UNKNOWN_REASON = 1802,
    /// revocation: no recorded sub-CA or configured CA has this key id
    CERTMINT_REVOCATION_UNKNOWN_SUB_CA = 1803,
    /// revocation: a serial or key id is not hexadecimal
    CERTMINT_REVOCATION_NOT_HEX = 1804,
    /// revocation: leaves of a sub-CA cannot be revoked one by one (revoke the sub-CA)
    CERTMINT_REVOCATION_SUB_CA_KEY_GONE = 1805,
    /// revocation: a record in the revocation directory could not be read
    CERTMINT_REVOCATION_BAD_RECORD = 1806,
    /// revocation: failed
    CERTMINT_REVOCATION_OTHER = 1899,
    /// an error of a kind this version of the C ABI does not name
    CERTMINT_OTHER = 9999,
}

include!(concat!(env!("OUT_DIR"), "/result_messages.rs"));
