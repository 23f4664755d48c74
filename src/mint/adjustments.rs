//! [`Adjustments`]: what a minted leaf changed relative to its origin, beyond the issuer, serial,
//! key and key identifiers that always change.

use std::fmt;

macro_rules! adjustments {
    ($($(#[$doc:meta])* $name:ident = $bit:expr, $text:literal;)*) => {
        impl Adjustments {
            $($(#[$doc])* pub const $name: Self = Self(1 << $bit);)*
            const ALL: &'static [(Self, &'static str)] = &[$((Self::$name, $text),)*];
        }
    };
}

/// A set of adjustments, cheap to copy.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Adjustments(u32);

adjustments! {
    /// The origin's SCT list was dropped (it is bound to the origin's issuer).
    DROPPED_SCT_LIST = 0, "dropped SCT list";
    /// The origin's CT precertificate poison was dropped.
    DROPPED_CT_POISON = 1, "dropped CT poison";
    /// The origin's TLS feature (must-staple) was dropped: we staple nothing.
    DROPPED_MUST_STAPLE = 2, "dropped TLS feature (must-staple)";
    /// The origin's authorityInfoAccess was dropped (ours, if configured, is used instead).
    DROPPED_ORIGIN_AIA = 3, "dropped origin AIA";
    /// The origin's CRL distribution points were dropped (ours is used instead).
    DROPPED_ORIGIN_CDP = 4, "dropped origin CRL distribution points";
    /// freshestCRL was dropped.
    DROPPED_FRESHEST_CRL = 5, "dropped freshest CRL";
    /// issuerAltName was dropped (it names the origin's issuer).
    DROPPED_ISSUER_ALT_NAME = 6, "dropped issuer alternative name";
    /// The issuer/subject unique identifiers were dropped.
    DROPPED_UNIQUE_IDS = 7, "dropped unique identifiers";
    /// CA-only extensions (name constraints, policy constraints/mappings, inhibitAnyPolicy)
    /// were dropped.
    DROPPED_CA_EXTENSIONS = 8, "dropped CA-only extensions";
    /// basicConstraints was set to CA:FALSE (the origin claimed to be a CA).
    MADE_NOT_CA = 9, "set basicConstraints CA:FALSE";
    /// keyCertSign/cRLSign were removed from keyUsage.
    REMOVED_CA_KEY_USAGES = 10, "removed keyCertSign/cRLSign";
    /// digitalSignature was added to keyUsage (a TLS 1.3 server key must sign).
    ADDED_DIGITAL_SIGNATURE = 11, "added digitalSignature to keyUsage";
    /// keyUsage was derived for a leaf key of another family than the origin's.
    REDERIVED_KEY_USAGE = 12, "re-derived keyUsage for the leaf key";
    /// A subjectAltName was built from the host.
    ADDED_SAN = 13, "added subjectAltName from the host";
    /// extendedKeyUsage serverAuth was added.
    ADDED_SERVER_AUTH_EKU = 14, "added extendedKeyUsage serverAuth";
    /// The validity was changed by the validity policy.
    CLAMPED_VALIDITY = 15, "clamped validity";
    /// The leaf key's family differs from the origin's (asked for by the caller).
    CHANGED_KEY_FAMILY = 16, "changed key family";
    /// The origin's key algorithm is not supported; the fallback key was used.
    FALLBACK_KEY = 17, "used the fallback key algorithm";
    /// A duplicate of an extension certmint replaces was dropped.
    DROPPED_DUPLICATE = 18, "dropped a duplicate replaced extension";
    /// Netscape certType with CA bits (SSL CA, S/MIME CA, object-signing CA) was dropped:
    /// OpenSSL would otherwise treat the leaf as a CA for those purposes.
    DROPPED_NS_CERT_TYPE_CA = 19, "dropped Netscape certType with CA bits";
    /// The subject's commonName and the subjectAltName were replaced by the requested host
    /// ([`MintRequest::renamed`](crate::MintRequest::renamed), Squid's `setCommonName`).
    RENAMED_TO_HOST = 20, "renamed to the requested host";
}

impl Adjustments {
    /// No adjustment.
    pub const NONE: Self = Self(0);

    /// Whether every adjustment in `other` is in `self`.
    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether there is no adjustment.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Human-readable descriptions, in a stable order.
    pub fn descriptions(self) -> impl Iterator<Item = &'static str> {
        Self::ALL
            .iter()
            .filter(move |(a, _)| self.contains(*a))
            .map(|(_, text)| *text)
    }
}

impl std::ops::BitOr for Adjustments {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

impl std::ops::BitOrAssign for Adjustments {
    fn bitor_assign(&mut self, rhs: Self) {
        self.0 |= rhs.0;
    }
}

impl fmt::Debug for Adjustments {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.descriptions()).finish()
    }
}
