//! The certificate extensions certmint reads or writes, each as a decoder and/or an encoder.

use std::net::IpAddr;

use super::oid;
use super::tlv::{
    self, context_constructed, context_primitive, TlvReader, BIT_STRING, BOOLEAN, INTEGER,
    OCTET_STRING, OID, SEQUENCE,
};

/// keyUsage bits, numbered as in RFC 5280 (bit 0 = digitalSignature).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct KeyUsage(pub(crate) u16);

impl KeyUsage {
    pub(crate) const DIGITAL_SIGNATURE: u16 = 1 << 0;
    pub(crate) const KEY_ENCIPHERMENT: u16 = 1 << 2;
    pub(crate) const KEY_CERT_SIGN: u16 = 1 << 5;
    pub(crate) const CRL_SIGN: u16 = 1 << 6;

    pub(crate) const NAMES: [&'static str; 9] = [
        "digitalSignature",
        "nonRepudiation",
        "keyEncipherment",
        "dataEncipherment",
        "keyAgreement",
        "keyCertSign",
        "cRLSign",
        "encipherOnly",
        "decipherOnly",
    ];

    pub(crate) fn has(self, bit: u16) -> bool {
        self.0 & bit != 0
    }

    /// Decodes the extnValue (a BIT STRING).
    pub(crate) fn decode(value: &[u8]) -> Option<Self> {
        let bits = tlv::single(value).ok()?;
        if bits.tag != BIT_STRING {
            return None;
        }
        let (_unused, bytes) = bits.content.split_first()?;
        let mut out = 0u16;
        for (i, byte) in bytes.iter().take(2).enumerate() {
            for bit in 0..8 {
                if byte & (0x80 >> bit) != 0 {
                    out |= 1 << (i * 8 + bit);
                }
            }
        }
        Some(Self(out))
    }

    /// Encodes as a DER named bit list (trailing zero bits removed).
    #[cfg(test)]
    pub(crate) fn encode(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(5);
        self.write(&mut out);
        out
    }

    /// Appends the BIT STRING (2 to 5 octets).
    fn write(self, out: &mut Vec<u8>) {
        let mut bytes = [0u8; 2];
        for bit in 0..9 {
            if self.0 & (1 << bit) != 0 {
                bytes[bit / 8] |= 0x80 >> (bit % 8);
            }
        }
        let len = if bytes[1] != 0 {
            2
        } else if bytes[0] != 0 {
            1
        } else {
            0
        };
        let unused = if len == 0 {
            0
        } else {
            bytes[len - 1].trailing_zeros() as u8
        };
        tlv::write_len_prefixed(out, BIT_STRING, 1 + len);
        out.push(unused);
        out.extend_from_slice(&bytes[..len]);
    }

    /// Length of the BIT STRING [`KeyUsage::write`] appends.
    fn encoded_len(self) -> usize {
        let highest = 16 - (self.0 & 0x1ff).leading_zeros() as usize; // bits 0..=8 are written
        2 + 1 + highest.div_ceil(8)
    }

    pub(crate) fn names(self) -> Vec<&'static str> {
        (0..9)
            .filter(|b| self.0 & (1 << b) != 0)
            .map(|b| Self::NAMES[b])
            .collect()
    }
}

/// Decodes basicConstraints into (cA, pathLenConstraint).
pub(crate) fn decode_basic_constraints(value: &[u8]) -> Option<(bool, Option<u64>)> {
    let mut r = tlv::sequence_items(value)?;
    let ca = match r.optional(BOOLEAN).ok()? {
        Some(b) => b.content.first().is_some_and(|v| *v != 0),
        None => false,
    };
    let path_len = match r.optional(INTEGER).ok()? {
        Some(i) if i.content.len() <= 8 => Some(
            i.content
                .iter()
                .fold(0u64, |acc, b| acc << 8 | u64::from(*b)),
        ),
        Some(_) => return None,
        None => None,
    };
    r.finish().ok()?;
    Some((ca, path_len))
}

/// Decodes a SEQUENCE OF OBJECT IDENTIFIER (extendedKeyUsage) into OID content slices.
pub(crate) fn decode_oid_list(value: &[u8]) -> Option<Vec<&[u8]>> {
    let mut r = tlv::sequence_items(value)?;
    let mut out = Vec::new();
    while !r.is_empty() {
        out.push(r.expect(OID).ok()?.content);
    }
    Some(out)
}

/// Decodes the keyIdentifier OCTET STRING of a subjectKeyIdentifier.
pub(crate) fn decode_subject_key_id(value: &[u8]) -> Option<&[u8]> {
    let id = tlv::single(value).ok()?;
    (id.tag == OCTET_STRING).then_some(id.content)
}

/// Decodes the keyIdentifier of an authorityKeyIdentifier, if present.
pub(crate) fn decode_authority_key_id(value: &[u8]) -> Option<&[u8]> {
    let seq = tlv::single(value).ok()?;
    let mut r = TlvReader::new(seq.content).ok()?;
    r.optional(context_primitive(0)).ok()?.map(|t| t.content)
}

/// A name from a subjectAltName, for display and for tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum GeneralName {
    Dns(String),
    Ip(IpAddr),
    Email(String),
    Uri(String),
    Other(u8),
}

impl std::fmt::Display for GeneralName {
    /// Names come from untrusted certificates: control characters are shown escaped, so a name
    /// can never forge a line or drive a terminal.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Dns(s) => write!(f, "DNS:{}", super::escape_controls(s)),
            Self::Ip(ip) => write!(f, "IP:{ip}"),
            Self::Email(s) => write!(f, "email:{}", super::escape_controls(s)),
            Self::Uri(s) => write!(f, "URI:{}", super::escape_controls(s)),
            Self::Other(tag) => write!(f, "other:[{}]", tag & 0x1f),
        }
    }
}

/// Decodes GeneralNames (the subjectAltName extnValue).
pub(crate) fn decode_general_names(value: &[u8]) -> Option<Vec<GeneralName>> {
    let mut r = tlv::sequence_items(value)?;
    let mut out = Vec::new();
    while !r.is_empty() {
        let name = r.next_tlv().ok()?;
        let text = || String::from_utf8_lossy(name.content).into_owned();
        out.push(match name.tag {
            0x81 => GeneralName::Email(text()),
            0x82 => GeneralName::Dns(text()),
            0x86 => GeneralName::Uri(text()),
            0x87 => match name.content.len() {
                4 => GeneralName::Ip(IpAddr::from(<[u8; 4]>::try_from(name.content).ok()?)),
                16 => GeneralName::Ip(IpAddr::from(<[u8; 16]>::try_from(name.content).ok()?)),
                _ => GeneralName::Other(name.tag),
            },
            tag => GeneralName::Other(tag),
        });
    }
    Some(out)
}

/// One Extension TLV.
pub(crate) fn extension(
    oid: &der::asn1::ObjectIdentifier,
    critical: bool,
    value: &[u8],
) -> Vec<u8> {
    let mut out = Vec::new();
    write_extension(&mut out, oid, critical, value);
    out
}

/// Appends an Extension holding `value`.
pub(crate) fn write_extension(
    out: &mut Vec<u8>,
    oid: &der::asn1::ObjectIdentifier,
    critical: bool,
    value: &[u8],
) {
    write_extension_with(out, oid, critical, value.len(), |out| {
        out.extend_from_slice(value)
    });
}

/// Appends an Extension whose `value_len` value octets `write_value` appends: the extensions
/// of every mint are written straight into one buffer, without a vector per element.
fn write_extension_with(
    out: &mut Vec<u8>,
    oid: &der::asn1::ObjectIdentifier,
    critical: bool,
    value_len: usize,
    write_value: impl FnOnce(&mut Vec<u8>),
) {
    let oid = oid.as_bytes();
    let content_len =
        tlv::encoded_len(oid.len()) + if critical { 3 } else { 0 } + tlv::encoded_len(value_len);
    out.reserve(tlv::encoded_len(content_len));
    tlv::write_len_prefixed(out, SEQUENCE, content_len);
    tlv::write_tlv(out, OID, oid);
    if critical {
        tlv::write_tlv(out, BOOLEAN, &[0xff]);
    }
    tlv::write_len_prefixed(out, OCTET_STRING, value_len);
    let start = out.len();
    write_value(out);
    debug_assert_eq!(out.len() - start, value_len, "extension value length");
}

/// Appends a subjectKeyIdentifier.
pub(crate) fn subject_key_id(out: &mut Vec<u8>, id: &[u8]) {
    let value_len = tlv::encoded_len(id.len());
    write_extension_with(out, &oid::SUBJECT_KEY_IDENTIFIER, false, value_len, |out| {
        tlv::write_tlv(out, OCTET_STRING, id)
    });
}

/// Appends an Extension whose value is `SEQUENCE { one element }` (extKeyUsage with one
/// purpose, subjectAltName with one name).
fn write_extension_of_one(
    out: &mut Vec<u8>,
    oid: &der::asn1::ObjectIdentifier,
    critical: bool,
    tag: u8,
    content: &[u8],
) {
    let inner = tlv::encoded_len(content.len());
    write_extension_with(out, oid, critical, tlv::encoded_len(inner), |out| {
        tlv::write_len_prefixed(out, SEQUENCE, inner);
        tlv::write_tlv(out, tag, content);
    });
}

pub(crate) fn authority_key_id(id: &[u8]) -> Vec<u8> {
    let value = tlv::tlv(SEQUENCE, &tlv::tlv(context_primitive(0), id));
    extension(&oid::AUTHORITY_KEY_IDENTIFIER, false, &value)
}

/// Appends a keyUsage.
pub(crate) fn key_usage(out: &mut Vec<u8>, usage: KeyUsage, critical: bool) {
    write_extension_with(out, &oid::KEY_USAGE, critical, usage.encoded_len(), |out| {
        usage.write(out)
    });
}

/// Appends basicConstraints CA:FALSE (an empty SEQUENCE).
pub(crate) fn basic_constraints_not_ca(out: &mut Vec<u8>, critical: bool) {
    write_extension(out, &oid::BASIC_CONSTRAINTS, critical, &[SEQUENCE, 0]);
}

/// basicConstraints CA:TRUE with a path length.
pub(crate) fn basic_constraints_ca(path_len: u8) -> Vec<u8> {
    let mut value = tlv::tlv(BOOLEAN, &[0xff]);
    tlv::write_tlv(&mut value, INTEGER, &[path_len]);
    extension(&oid::BASIC_CONSTRAINTS, true, &tlv::tlv(SEQUENCE, &value))
}

/// Appends extKeyUsage serverAuth.
pub(crate) fn ext_key_usage_server_auth(out: &mut Vec<u8>) {
    let purpose = oid::SERVER_AUTH.as_bytes();
    write_extension_of_one(out, &oid::EXT_KEY_USAGE, false, OID, purpose);
}

/// A subjectAltName entry: a dNSName or an iPAddress.
#[derive(Clone, Copy, Debug)]
pub(crate) enum SanEntry<'a> {
    Dns(&'a str),
    Ip(IpAddr),
}

/// Appends a subjectAltName with one name.
pub(crate) fn subject_alt_name(out: &mut Vec<u8>, entry: SanEntry<'_>, critical: bool) {
    let (v4, v6);
    let (tag, name): (u8, &[u8]) = match entry {
        SanEntry::Dns(name) => (context_primitive(2), name.as_bytes()),
        SanEntry::Ip(IpAddr::V4(ip)) => {
            v4 = ip.octets();
            (context_primitive(7), &v4)
        }
        SanEntry::Ip(IpAddr::V6(ip)) => {
            v6 = ip.octets();
            (context_primitive(7), &v6)
        }
    };
    write_extension_of_one(out, &oid::SUBJECT_ALT_NAME, critical, tag, name);
}

/// cRLDistributionPoints with one fullName URI per URL.
pub(crate) fn crl_distribution_points(urls: &[String]) -> Vec<u8> {
    let mut points = Vec::new();
    for url in urls {
        let uri = tlv::tlv(context_primitive(6), url.as_bytes());
        let full_name = tlv::tlv(context_constructed(0), &uri);
        let dp_name = tlv::tlv(context_constructed(0), &full_name);
        tlv::write_tlv(&mut points, SEQUENCE, &dp_name);
    }
    extension(
        &oid::CRL_DISTRIBUTION_POINTS,
        false,
        &tlv::tlv(SEQUENCE, &points),
    )
}

/// authorityInfoAccess with caIssuers and OCSP URLs; `None` when both are empty.
pub(crate) fn authority_info_access(ca_issuers: &[String], ocsp: &[String]) -> Option<Vec<u8>> {
    if ca_issuers.is_empty() && ocsp.is_empty() {
        return None;
    }
    let mut descriptions = Vec::new();
    for (method, urls) in [(&oid::AD_OCSP, ocsp), (&oid::AD_CA_ISSUERS, ca_issuers)] {
        for url in urls {
            let mut d = tlv::tlv(OID, method.as_bytes());
            tlv::write_tlv(&mut d, context_primitive(6), url.as_bytes());
            tlv::write_tlv(&mut descriptions, SEQUENCE, &d);
        }
    }
    Some(extension(
        &oid::AUTHORITY_INFO_ACCESS,
        false,
        &tlv::tlv(SEQUENCE, &descriptions),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_usage_round_trips_and_is_minimal() {
        for bits in [0u16, 1, 0b101, 0b110_0000, 0b1_0000_0001, 0x1ff] {
            let enc = KeyUsage(bits).encode();
            let inner = tlv::single(&enc).unwrap();
            if bits != 0 {
                let last = *inner.content.last().unwrap();
                assert_ne!(last, 0, "{bits:b}");
                assert!(last.trailing_zeros() as u8 == inner.content[0]);
            }
            assert_eq!(KeyUsage::decode(&enc), Some(KeyUsage(bits)));
        }
        // digitalSignature + keyEncipherment as OpenSSL writes it: 03 02 05 a0
        assert_eq!(
            KeyUsage(KeyUsage::DIGITAL_SIGNATURE | KeyUsage::KEY_ENCIPHERMENT).encode(),
            vec![3, 2, 5, 0xa0]
        );
    }

    #[test]
    fn extensions_written_in_place_read_back() {
        let mut out = Vec::new();
        basic_constraints_not_ca(&mut out, true);
        let bc = out.len();
        for bits in [0u16, 1, 0b101, 0b1_0000_0001, 1 << 10] {
            key_usage(&mut out, KeyUsage(bits), false);
        }
        ext_key_usage_server_auth(&mut out);
        let long = "a".repeat(200) + ".example";
        for (entry, critical) in [
            (SanEntry::Dns("www.example.com"), false),
            (SanEntry::Dns(&long), true),
            (SanEntry::Ip("192.0.2.1".parse().unwrap()), false),
            (SanEntry::Ip("2001:db8::1".parse().unwrap()), false),
        ] {
            subject_alt_name(&mut out, entry, critical);
        }
        subject_key_id(&mut out, &[7; 20]);

        let mut reader = TlvReader::new(&out).unwrap();
        let mut next = || {
            let e = super::super::cert::parse_extension(&mut reader).unwrap();
            (e.oid.to_vec(), e.critical, e.value.to_vec())
        };
        let (o, critical, value) = next();
        assert_eq!(
            (o.as_slice(), critical),
            (oid::BASIC_CONSTRAINTS.as_bytes(), true)
        );
        assert_eq!(decode_basic_constraints(&value), Some((false, None)));
        assert_eq!(bc, 2 + 5 + 3 + 4);
        for bits in [0u16, 1, 0b101, 0b1_0000_0001, 0] {
            let (o, critical, value) = next();
            assert_eq!((o.as_slice(), critical), (oid::KEY_USAGE.as_bytes(), false));
            assert_eq!(KeyUsage::decode(&value), Some(KeyUsage(bits)));
        }
        let (o, _, value) = next();
        assert_eq!(o, oid::EXT_KEY_USAGE.as_bytes());
        assert_eq!(
            decode_oid_list(&value).unwrap(),
            [oid::SERVER_AUTH.as_bytes()]
        );
        for (name, critical) in [
            (GeneralName::Dns("www.example.com".into()), false),
            (GeneralName::Dns(long.clone()), true),
            (GeneralName::Ip("192.0.2.1".parse().unwrap()), false),
            (GeneralName::Ip("2001:db8::1".parse().unwrap()), false),
        ] {
            let (o, c, value) = next();
            assert_eq!(
                (o.as_slice(), c),
                (oid::SUBJECT_ALT_NAME.as_bytes(), critical)
            );
            assert_eq!(decode_general_names(&value).unwrap(), [name]);
        }
        let (o, _, value) = next();
        assert_eq!(o, oid::SUBJECT_KEY_IDENTIFIER.as_bytes());
        assert_eq!(decode_subject_key_id(&value), Some(&[7u8; 20][..]));
        assert!(reader.is_empty());
        // The same bytes as the element-by-element form.
        assert_eq!(
            extension(
                &oid::SUBJECT_KEY_IDENTIFIER,
                false,
                &tlv::tlv(OCTET_STRING, &[7; 20])
            ),
            out[out.len() - 31..]
        );
    }

    #[test]
    fn basic_constraints_decode() {
        assert_eq!(decode_basic_constraints(&[0x30, 0]), Some((false, None)));
        assert_eq!(
            decode_basic_constraints(&[0x30, 6, 1, 1, 0xff, 2, 1, 1]),
            Some((true, Some(1)))
        );
        assert_eq!(decode_basic_constraints(&[0x04, 0]), None);
    }
}
