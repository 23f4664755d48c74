//! What a minted certificate looks like beyond the clone rules: validity, CRL URL, key choices
//! and the compatibility adaptations.

use std::time::Duration;

use crate::x509::KeyAlgorithm;

/// Apple platforms reject TLS server certificates valid for longer than 825 days, even under a
/// private root.
pub const MAX_LIFETIME_DAYS: u64 = 825;

/// The default size limit for an origin certificate.
pub const DEFAULT_MAX_ORIGIN_LEN: usize = 64 * 1024;

/// How a cloned leaf's validity is chosen.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValidityPolicy {
    /// The origin's validity, clamped to the issuer's validity and to at most `max_lifetime`.
    /// When the (issuer-clamped) window is longer than `max_lifetime`, it starts at the later of
    /// the origin's notBefore and one hour before the current hour, and lasts `max_lifetime`
    /// (never past the origin's notAfter). Copied byte for byte when nothing needs clamping.
    Mirror {
        /// The longest lifetime (default 825 days).
        max_lifetime: Duration,
    },
    /// The origin's validity, byte for byte, even beyond the issuer's.
    MirrorExact,
    /// `now - backdate` to `now + lifetime`, clamped to the issuer's validity, whatever the origin
    /// says.
    Fixed {
        /// How far notBefore lies in the past (for clients with slow clocks).
        backdate: Duration,
        /// How far notAfter lies in the future.
        lifetime: Duration,
    },
}

impl Default for ValidityPolicy {
    fn default() -> Self {
        Self::Mirror {
            max_lifetime: Duration::from_secs(MAX_LIFETIME_DAYS * 86_400),
        }
    }
}

/// Settings of a [`Minter`](crate::Minter). `Default` gives the documented defaults; change
/// fields on a default value.
///
/// ```
/// use std::time::Duration;
/// use certmint::mint::{MintPolicy, ValidityPolicy};
///
/// let mut policy = MintPolicy::default();
/// policy.san_from_host = false; // keep SAN-less origins SAN-less
/// policy.validity = ValidityPolicy::Mirror { max_lifetime: Duration::from_secs(90 * 86_400) };
/// // Then: Minter::new(issuer, keys, policy), or DeploymentBuilder::mint_policy(policy).
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MintPolicy {
    /// Validity of cloned leaves (default [`ValidityPolicy::Mirror`], 825 days).
    pub validity: ValidityPolicy,
    /// Compatibility: give an origin without subjectAltName one built from the host (critical
    /// when the subject is empty, RFC 5280 4.2.1.6), because Chromium ignores the common name.
    /// Without a host, the origin's common name is used when it is a valid host. Default on.
    pub san_from_host: bool,
    /// Compatibility: give an origin without extendedKeyUsage one with serverAuth, because Apple
    /// platforms require it. Default on.
    pub server_auth_eku: bool,
    /// Key for host-only leaves (default P-256).
    pub host_only_key: KeyAlgorithm,
    /// notBefore of host-only leaves lies this far in the past (default 1 hour).
    pub host_only_backdate: Duration,
    /// Host-only leaves are valid this long from now (default 30 days).
    pub host_only_lifetime: Duration,
    /// Key for origins whose key certmint cannot reproduce (DSA, RSA-PSS, other curves; default
    /// P-256).
    pub fallback_key: KeyAlgorithm,
    /// Origins larger than this are refused (default 64 KiB).
    pub max_origin_len: usize,
}

impl Default for MintPolicy {
    fn default() -> Self {
        Self {
            validity: ValidityPolicy::default(),
            san_from_host: true,
            server_auth_eku: true,
            host_only_key: KeyAlgorithm::EcdsaP256,
            host_only_backdate: Duration::from_secs(3600),
            host_only_lifetime: Duration::from_secs(30 * 86_400),
            fallback_key: KeyAlgorithm::EcdsaP256,
            max_origin_len: DEFAULT_MAX_ORIGIN_LEN,
        }
    }
}
