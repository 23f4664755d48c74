//! Distinguished names: reading them (attributes, strings, RFC 4514 text), and building the
//! few certmint writes (a leaf subject with one commonName, a CSR subject parsed from RFC 4514).

use std::fmt::Write as _;

use der::asn1::ObjectIdentifier as Oid;

use super::hex;
use super::oid;
use super::tlv::{self, Tlv, TlvReader, OID, PRINTABLE_STRING, SEQUENCE, SET, UTF8_STRING};
use crate::error::DnError;

/// One AttributeTypeAndValue: the type's OID content and the value.
pub(crate) type Attribute<'a> = (&'a [u8], Tlv<'a>);

/// The RDNs of a DER Name, each a list of attributes.
pub(crate) fn name_attributes(name: &[u8]) -> Option<Vec<Vec<Attribute<'_>>>> {
    let mut rdns = tlv::sequence_items(name)?;
    let mut out = Vec::new();
    while !rdns.is_empty() {
        let rdn = rdns.expect(SET).ok()?;
        let mut atvs = TlvReader::new(rdn.content).ok()?;
        let mut attributes = Vec::new();
        while !atvs.is_empty() {
            let atv = atvs.expect(SEQUENCE).ok()?;
            let mut parts = TlvReader::new(atv.content).ok()?;
            let ty = parts.expect(OID).ok()?;
            attributes.push((ty.content, parts.next_tlv().ok()?));
        }
        out.push(attributes);
    }
    Some(out)
}

/// The text of a DirectoryString (and IA5String), whatever its string type; `None` for other
/// types or invalid text.
pub(crate) fn directory_string(value: Tlv<'_>) -> Option<String> {
    match value.tag {
        UTF8_STRING | PRINTABLE_STRING | tlv::IA5_STRING | tlv::VISIBLE_STRING => {
            String::from_utf8(value.content.to_vec()).ok()
        }
        tlv::TELETEX_STRING => Some(value.content.iter().map(|b| char::from(*b)).collect()),
        tlv::BMP_STRING => {
            let units: Vec<u16> = value
                .content
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16(&units).ok()
        }
        tlv::UNIVERSAL_STRING => value
            .content
            .chunks_exact(4)
            .map(|c| char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
        _ => None,
    }
}

/// The first commonName in a Name, if it is a string.
pub(crate) fn common_name(name: &[u8]) -> Option<String> {
    name_attributes(name)?
        .into_iter()
        .flatten()
        .find(|(ty, _)| *ty == oid::COMMON_NAME.as_bytes())
        .and_then(|(_, value)| directory_string(value))
}

/// A Name holding one commonName (UTF8String).
pub(crate) fn name_with_common_name(cn: &str) -> Vec<u8> {
    let mut atv = tlv::tlv(OID, oid::COMMON_NAME.as_bytes());
    tlv::write_tlv(&mut atv, UTF8_STRING, cn.as_bytes());
    let rdn = tlv::tlv(SET, &tlv::tlv(SEQUENCE, &atv));
    tlv::tlv(SEQUENCE, &rdn)
}

/// `name` with its first commonName removed (and its RDN, when that was the RDN's only
/// attribute) and `cn` appended as a last RDN (UTF8String), as Squid's `replaceCommonName`
/// does; `cn: None` only removes. `None` when `name` is not a readable Name.
pub(crate) fn with_common_name(name: &[u8], cn: Option<&str>) -> Option<Vec<u8>> {
    let mut rdns = tlv::sequence_items(name)?;
    let mut content = Vec::with_capacity(name.len() + cn.map_or(0, |c| c.len() + 16));
    let mut removed = false;
    while !rdns.is_empty() {
        let rdn = rdns.expect(SET).ok()?;
        let mut atvs = TlvReader::new(rdn.content).ok()?;
        let mut kept = Vec::with_capacity(rdn.content.len());
        while !atvs.is_empty() {
            let atv = atvs.expect(SEQUENCE).ok()?;
            let ty = TlvReader::new(atv.content).ok()?.expect(OID).ok()?;
            if !removed && ty.content == oid::COMMON_NAME.as_bytes() {
                removed = true;
            } else {
                kept.extend_from_slice(atv.raw);
            }
        }
        if kept.len() == rdn.content.len() {
            content.extend_from_slice(rdn.raw);
        } else if !kept.is_empty() {
            // A SET OF stays sorted when one element is taken out.
            tlv::write_tlv(&mut content, SET, &kept);
        }
    }
    if let Some(cn) = cn {
        let rdns = name_with_common_name(cn);
        content.extend_from_slice(tlv::single(&rdns).ok()?.content);
    }
    Some(tlv::tlv(SEQUENCE, &content))
}

/// RFC 4514 string of a DER Name (RDNs in reverse order, multi-valued RDNs joined by `+`).
pub(crate) fn rfc4514(name: &[u8]) -> String {
    let Some(rdns) = name_attributes(name) else {
        return format!("#{}", hex(name));
    };
    let mut parts: Vec<String> = rdns
        .iter()
        .map(|rdn| {
            rdn.iter()
                .map(|(ty, value)| format!("{}={}", oid::display(ty), attribute_value(*value)))
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    parts.reverse();
    parts.join(",")
}

fn attribute_value(value: Tlv<'_>) -> String {
    let Some(text) = directory_string(value) else {
        return format!("#{}", hex(value.raw));
    };
    let mut out = String::with_capacity(text.len());
    let last = text.chars().count().saturating_sub(1);
    for (i, c) in text.chars().enumerate() {
        let escape = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && matches!(c, '#' | ' '))
            || (i == last && c == ' ');
        if escape {
            out.push('\\');
            out.push(c);
        } else if c.is_control() {
            let _ = write!(out, "\\{:02X}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

/// A distinguished name for a CA certificate request, parsed from RFC 4514 text as `openssl x509
/// -nameopt RFC2253` prints it (`CN=...,O=...,C=...`, most significant RDN last).
///
/// Supported attributes: CN, O, OU, C, ST, L, DC, serialNumber, each at most once, one per RDN.
/// Values are written as UTF8String, except countryName (PrintableString, two letters).
/// Backslash escapes are honoured.
///
/// ```
/// use certmint::ca::DistinguishedName;
/// let dn: DistinguishedName = "CN=Corp Interception CA,O=Example\\, Inc.,C=US".parse()?;
/// assert_eq!(dn.len(), 3);
/// assert_eq!(dn.to_string(), "CN=Corp Interception CA,O=Example\\, Inc.,C=US");
/// # Ok::<(), certmint::DnError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DistinguishedName {
    /// (attribute type, value), most significant first (DER order).
    attributes: Vec<(Oid, String)>,
}

impl DistinguishedName {
    /// Parses RFC 4514 text.
    pub fn parse(text: &str) -> Result<Self, DnError> {
        if text.starts_with('/') && text.contains('=') {
            let mut parts: Vec<&str> = text.split('/').filter(|p| !p.is_empty()).collect();
            parts.reverse();
            return Err(DnError::SlashForm {
                given: text.to_owned(),
                suggestion: parts.join(","),
            });
        }
        let mut rdns = Vec::new();
        let mut current = String::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    let next = chars.next().ok_or(DnError::DanglingBackslash)?;
                    current.push('\\');
                    current.push(next);
                }
                ',' => rdns.push(std::mem::take(&mut current)),
                '+' => return Err(DnError::MultiValuedRdn),
                c => current.push(c),
            }
        }
        rdns.push(current);
        let mut attributes: Vec<(Oid, String)> = Vec::new();
        for rdn in rdns.iter().rev() {
            let (ty, value) = rdn.split_once('=').ok_or(DnError::NotTypeValue)?;
            let ty = ty.trim();
            let value = unescape(value.trim());
            let oid = oid::by_name(ty)
                .filter(|o| oid::DN_ATTRIBUTES.contains(o))
                .ok_or_else(|| DnError::UnsupportedAttribute(ty.to_owned()))?;
            let keyword = oid::display(oid.as_bytes());
            if value.is_empty() {
                return Err(DnError::EmptyValue(keyword));
            }
            if attributes.iter().any(|(o, _)| *o == oid) {
                return Err(DnError::Repeated(keyword));
            }
            if oid == oid::COUNTRY_NAME
                && (value.len() != 2 || !value.chars().all(|c| c.is_ascii_alphabetic()))
            {
                return Err(DnError::BadCountry);
            }
            attributes.push((oid, value));
        }
        Ok(Self { attributes })
    }

    /// The number of attributes.
    pub fn len(&self) -> usize {
        self.attributes.len()
    }

    /// Whether the name is empty.
    pub fn is_empty(&self) -> bool {
        self.attributes.is_empty()
    }

    /// The DER Name.
    pub fn to_der(&self) -> Vec<u8> {
        let mut rdns = Vec::new();
        for (ty, value) in &self.attributes {
            let mut atv = tlv::tlv(OID, ty.as_bytes());
            let string_type = if *ty == oid::COUNTRY_NAME {
                PRINTABLE_STRING
            } else {
                UTF8_STRING
            };
            tlv::write_tlv(&mut atv, string_type, value.as_bytes());
            tlv::write_tlv(&mut rdns, SET, &tlv::tlv(SEQUENCE, &atv));
        }
        tlv::tlv(SEQUENCE, &rdns)
    }

    /// The attributes, most significant first.
    pub(crate) fn attributes(&self) -> impl Iterator<Item = (&Oid, &str)> {
        self.attributes.iter().map(|(o, v)| (o, v.as_str()))
    }
}

impl std::str::FromStr for DistinguishedName {
    type Err = DnError;
    fn from_str(s: &str) -> Result<Self, DnError> {
        Self::parse(s)
    }
}

impl std::fmt::Display for DistinguishedName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&rfc4514(&self.to_der()))
    }
}

fn unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_name_is_found_in_a_multi_valued_rdn() {
        let mut atv_o = tlv::tlv(OID, &[0x55, 4, 10]);
        tlv::write_tlv(&mut atv_o, PRINTABLE_STRING, b"Org");
        let mut atv_cn = tlv::tlv(OID, oid::COMMON_NAME.as_bytes());
        tlv::write_tlv(&mut atv_cn, UTF8_STRING, b"host.example");
        let mut set = tlv::tlv(SEQUENCE, &atv_o);
        set.extend(tlv::tlv(SEQUENCE, &atv_cn));
        let name = tlv::tlv(SEQUENCE, &tlv::tlv(SET, &set));
        assert_eq!(common_name(&name).as_deref(), Some("host.example"));
    }

    #[test]
    fn the_first_common_name_is_replaced_and_moved_last() {
        // The stock Squid helper turns `O=…,C=US,CN=x` into `…,CN=new`: RDNs are printed most
        // significant last, so the replaced CN comes first in RFC 4514 text.
        let dn = DistinguishedName::parse("CN=old.example,O=Org,C=US").unwrap();
        let renamed = with_common_name(&dn.to_der(), Some("new.example")).unwrap();
        assert_eq!(rfc4514(&renamed), "CN=new.example,O=Org,C=US");
        let first_is_cn = DistinguishedName::parse("O=Org,CN=old.example").unwrap();
        let renamed = with_common_name(&first_is_cn.to_der(), Some("new.example")).unwrap();
        assert_eq!(rfc4514(&renamed), "CN=new.example,O=Org");
        // A multi-valued RDN loses only its CN; an RDN without one is kept byte for byte.
        let mut atv_o = tlv::tlv(OID, &[0x55, 4, 10]);
        tlv::write_tlv(&mut atv_o, PRINTABLE_STRING, b"Org");
        let mut atv_cn = tlv::tlv(OID, oid::COMMON_NAME.as_bytes());
        tlv::write_tlv(&mut atv_cn, UTF8_STRING, b"old.example");
        let mut set = tlv::tlv(SEQUENCE, &atv_o);
        set.extend(tlv::tlv(SEQUENCE, &atv_cn));
        let name = tlv::tlv(SEQUENCE, &tlv::tlv(SET, &set));
        let removed = with_common_name(&name, None).unwrap();
        assert_eq!(rfc4514(&removed), "O=Org");
        assert_eq!(common_name(&removed), None);
        // No CN at all: the new one is appended; an unreadable name is refused.
        let no_cn = DistinguishedName::parse("O=Org").unwrap().to_der();
        let added = with_common_name(&no_cn, Some("a.example")).unwrap();
        assert_eq!(rfc4514(&added), "CN=a.example,O=Org");
        assert_eq!(with_common_name(b"\x30\x03\x31", Some("a")), None);
    }

    #[test]
    fn names_print_most_significant_last_with_escapes() {
        let dn = DistinguishedName::parse("CN=a\\,b,C=US").unwrap();
        assert_eq!(rfc4514(&dn.to_der()), "CN=a\\,b,C=US");
    }

    #[test]
    fn each_bad_dn_has_its_own_error() {
        let e = |s: &str| DistinguishedName::parse(s).unwrap_err();
        assert_eq!(e("CN=a\\"), DnError::DanglingBackslash);
        assert_eq!(e("CN=a+O=b"), DnError::MultiValuedRdn);
        assert_eq!(e("CN"), DnError::NotTypeValue);
        assert_eq!(e("XX=a"), DnError::UnsupportedAttribute("XX".into()));
        assert_eq!(e("CN=a,CN=b"), DnError::Repeated("CN".into()));
        assert_eq!(e("CN="), DnError::EmptyValue("CN".into()));
        assert_eq!(e("C=USA"), DnError::BadCountry);
        let slash = e("/C=GB/O=Example Ltd/CN=Proxy CA");
        assert_eq!(
            slash,
            DnError::SlashForm {
                given: "/C=GB/O=Example Ltd/CN=Proxy CA".into(),
                suggestion: "CN=Proxy CA,O=Example Ltd,C=GB".into(),
            }
        );
        // The suggestion itself parses.
        let DnError::SlashForm { suggestion, .. } = slash else {
            unreachable!()
        };
        assert_eq!(DistinguishedName::parse(&suggestion).unwrap().len(), 3);
    }
}
