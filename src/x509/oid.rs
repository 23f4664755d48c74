//! The one table of object identifiers certmint reads, writes or names: extensions, key and
//! signature algorithms, extended key usages and name attributes, each with the short name
//! `certmint inspect` prints (OpenSSL's spelling) and, for name attributes, the RFC 4514 keyword.

use der::asn1::ObjectIdentifier as Oid;

macro_rules! oids {
    ($($name:ident = $dotted:literal, $text:literal;)*) => {
        $(pub(crate) const $name: Oid = Oid::new_unwrap($dotted);)*

        /// Every OID above with its display name.
        const NAMED: &[(Oid, &str)] = &[$(($name, $text),)*];
    };
}

oids! {
    SUBJECT_KEY_IDENTIFIER = "2.5.29.14", "subjectKeyIdentifier";
    KEY_USAGE = "2.5.29.15", "keyUsage";
    SUBJECT_ALT_NAME = "2.5.29.17", "subjectAltName";
    ISSUER_ALT_NAME = "2.5.29.18", "issuerAltName";
    BASIC_CONSTRAINTS = "2.5.29.19", "basicConstraints";
    NAME_CONSTRAINTS = "2.5.29.30", "nameConstraints";
    CRL_DISTRIBUTION_POINTS = "2.5.29.31", "cRLDistributionPoints";
    CERTIFICATE_POLICIES = "2.5.29.32", "certificatePolicies";
    POLICY_MAPPINGS = "2.5.29.33", "policyMappings";
    AUTHORITY_KEY_IDENTIFIER = "2.5.29.35", "authorityKeyIdentifier";
    CRL_NUMBER = "2.5.29.20", "cRLNumber";
    CRL_REASON = "2.5.29.21", "reasonCode";
    POLICY_CONSTRAINTS = "2.5.29.36", "policyConstraints";
    EXT_KEY_USAGE = "2.5.29.37", "extendedKeyUsage";
    FRESHEST_CRL = "2.5.29.46", "freshestCRL";
    INHIBIT_ANY_POLICY = "2.5.29.54", "inhibitAnyPolicy";
    AUTHORITY_INFO_ACCESS = "1.3.6.1.5.5.7.1.1", "authorityInfoAccess";
    TLS_FEATURE = "1.3.6.1.5.5.7.1.24", "tlsFeature";
    SCT_LIST = "1.3.6.1.4.1.11129.2.4.2", "ctSCTList";
    CT_POISON = "1.3.6.1.4.1.11129.2.4.3", "ctPoison";
    NS_CERT_TYPE = "2.16.840.1.113730.1.1", "nsCertType";
    SERVER_AUTH = "1.3.6.1.5.5.7.3.1", "serverAuth";
    CLIENT_AUTH = "1.3.6.1.5.5.7.3.2", "clientAuth";
    ANY_EXTENDED_KEY_USAGE = "2.5.29.37.0", "anyExtendedKeyUsage";
    AD_OCSP = "1.3.6.1.5.5.7.48.1", "OCSP";
    AD_CA_ISSUERS = "1.3.6.1.5.5.7.48.2", "caIssuers";
    EC_PUBLIC_KEY = "1.2.840.10045.2.1", "id-ecPublicKey";
    SECP256R1 = "1.2.840.10045.3.1.7", "prime256v1";
    SECP384R1 = "1.3.132.0.34", "secp384r1";
    ED25519 = "1.3.101.112", "Ed25519";
    RSA_ENCRYPTION = "1.2.840.113549.1.1.1", "rsaEncryption";
    ECDSA_WITH_SHA256 = "1.2.840.10045.4.3.2", "ecdsa-with-SHA256";
    ECDSA_WITH_SHA384 = "1.2.840.10045.4.3.3", "ecdsa-with-SHA384";
    SHA256_WITH_RSA = "1.2.840.113549.1.1.11", "sha256WithRSAEncryption";
    SHA384_WITH_RSA = "1.2.840.113549.1.1.12", "sha384WithRSAEncryption";
    SHA512_WITH_RSA = "1.2.840.113549.1.1.13", "sha512WithRSAEncryption";
    COMMON_NAME = "2.5.4.3", "CN";
    SERIAL_NUMBER = "2.5.4.5", "serialNumber";
    COUNTRY_NAME = "2.5.4.6", "C";
    LOCALITY_NAME = "2.5.4.7", "L";
    STATE_OR_PROVINCE_NAME = "2.5.4.8", "ST";
    STREET_ADDRESS = "2.5.4.9", "STREET";
    ORGANIZATION_NAME = "2.5.4.10", "O";
    ORGANIZATIONAL_UNIT_NAME = "2.5.4.11", "OU";
    DOMAIN_COMPONENT = "0.9.2342.19200300.100.1.25", "DC";
    USER_ID = "0.9.2342.19200300.100.1.1", "UID";
    EMAIL_ADDRESS = "1.2.840.113549.1.9.1", "emailAddress";
}

/// The name attributes certmint writes in distinguished names it builds (`certmint ca csr
/// --subject`), by their RFC 4514 keyword.
pub(crate) const DN_ATTRIBUTES: [Oid; 8] = [
    COMMON_NAME,
    ORGANIZATION_NAME,
    ORGANIZATIONAL_UNIT_NAME,
    COUNTRY_NAME,
    STATE_OR_PROVINCE_NAME,
    LOCALITY_NAME,
    DOMAIN_COMPONENT,
    SERIAL_NUMBER,
];

/// The display name of an OID given as DER content octets, if it is in the table.
pub(crate) fn name_of(content: &[u8]) -> Option<&'static str> {
    NAMED
        .iter()
        .find(|(oid, _)| oid.as_bytes() == content)
        .map(|(_, name)| *name)
}

/// The OID displayed as `name` (ASCII case-insensitive), if it is in the table.
pub(crate) fn by_name(name: &str) -> Option<Oid> {
    NAMED
        .iter()
        .find(|(_, n)| n.eq_ignore_ascii_case(name))
        .map(|(oid, _)| *oid)
}

/// The dotted form of an OID given as DER content octets (`#hex` when it is not a valid OID).
pub(crate) fn dotted(content: &[u8]) -> String {
    Oid::from_bytes(content).map_or_else(|_| format!("#{}", super::hex(content)), |o| o.to_string())
}

/// The display name of an OID, or its dotted form.
pub(crate) fn display(content: &[u8]) -> String {
    name_of(content).map_or_else(|| dotted(content), str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_round_trip() {
        for (oid, name) in NAMED {
            assert_eq!(by_name(name), Some(*oid), "{name}");
            assert_eq!(name_of(oid.as_bytes()), Some(*name));
        }
        assert_eq!(
            display(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01]),
            "1.2.840.113549.1"
        );
    }
}
