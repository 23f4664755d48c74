//! Describing certificates as stable `field: value` lines (or JSON), for `certmint inspect`, the
//! demo and tests.
//!
//! ```
//! # use certmint::{testing::ThrowawayCa, KeyAlgorithm};
//! let ca = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256)?;
//! let info = certmint::inspect::CertificateInfo::parse(&ca.root)?;
//! assert!(info.subject.contains("CN=certmint throwaway root CA"));
//! assert_eq!(info.key, "P-256");
//! # Ok::<(), certmint::Error>(())
//! ```

use std::fmt::Write as _;

use der::asn1::ObjectIdentifier;

use crate::error::Error;
use crate::x509::asn1_time;
use crate::x509::cert::ParsedCert;
use crate::x509::ext::{self, KeyUsage};
use crate::x509::name::rfc4514;
use crate::x509::tlv::{self, TlvReader, OID};
use crate::x509::{hex, oid, KeyAlgorithm};

/// The fields of one certificate, as text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CertificateInfo {
    /// `v1`, `v2` or `v3`.
    pub version: String,
    /// Subject, RFC 4514 (most significant RDN last, as `openssl -nameopt RFC2253` prints).
    pub subject: String,
    /// Issuer, RFC 4514.
    pub issuer: String,
    /// Serial number content octets, hex.
    pub serial: String,
    /// notBefore, RFC 3339.
    pub not_before: String,
    /// notAfter, RFC 3339.
    pub not_after: String,
    /// Key algorithm (`P-256`, `RSA-2048`...) or `unknown`.
    pub key: String,
    /// Signature algorithm name or OID.
    pub signature_algorithm: String,
    /// subjectAltName entries (`DNS:...`, `IP:...`).
    pub subject_alt_names: Vec<String>,
    /// basicConstraints (`CA:TRUE, pathlen:1`), if present.
    pub basic_constraints: Option<String>,
    /// keyUsage names, if present.
    pub key_usage: Option<Vec<String>>,
    /// extendedKeyUsage names or OIDs, if present.
    pub extended_key_usage: Option<Vec<String>>,
    /// subjectKeyIdentifier, hex.
    pub subject_key_id: Option<String>,
    /// authorityKeyIdentifier keyIdentifier, hex.
    pub authority_key_id: Option<String>,
    /// Every extension in order: `OID name [critical]`.
    pub extensions: Vec<String>,
    /// SHA-256 of the DER, hex.
    pub sha256: String,
}

impl CertificateInfo {
    /// Describes one DER certificate.
    pub fn parse(der: &[u8]) -> Result<Self, Error> {
        let c = ParsedCert::parse(der)?;
        let find = |o: &ObjectIdentifier| c.extension(o).map(|e| e.value);
        let names = |list: Vec<&[u8]>| list.into_iter().map(oid::display).collect::<Vec<_>>();
        Ok(Self {
            version: format!("v{}", c.version + 1),
            subject: rfc4514(c.subject.raw),
            issuer: rfc4514(c.issuer.raw),
            serial: hex(c.serial),
            not_before: asn1_time::rfc3339(c.not_before),
            not_after: asn1_time::rfc3339(c.not_after),
            key: KeyAlgorithm::from_spki(c.spki).map_or("unknown".into(), |k| k.to_string()),
            signature_algorithm: tlv::single(c.signature_algorithm)
                .ok()
                .and_then(|seq| TlvReader::new(seq.content).ok()?.expect(OID).ok())
                .map_or("unknown".into(), |o| oid::display(o.content)),
            subject_alt_names: find(&oid::SUBJECT_ALT_NAME)
                .and_then(ext::decode_general_names)
                .map(|v| v.iter().map(ToString::to_string).collect())
                .unwrap_or_default(),
            basic_constraints: find(&oid::BASIC_CONSTRAINTS).map(|v| {
                match ext::decode_basic_constraints(v) {
                    Some((true, Some(n))) => format!("CA:TRUE, pathlen:{n}"),
                    Some((true, None)) => "CA:TRUE".into(),
                    Some((false, _)) => "CA:FALSE".into(),
                    None => "malformed".into(),
                }
            }),
            key_usage: find(&oid::KEY_USAGE).map(|v| {
                KeyUsage::decode(v)
                    .map(|u| u.names().into_iter().map(String::from).collect())
                    .unwrap_or_else(|| vec!["malformed".into()])
            }),
            extended_key_usage: find(&oid::EXT_KEY_USAGE).map(|v| {
                ext::decode_oid_list(v)
                    .map(names)
                    .unwrap_or_else(|| vec!["malformed".into()])
            }),
            subject_key_id: find(&oid::SUBJECT_KEY_IDENTIFIER)
                .and_then(ext::decode_subject_key_id)
                .map(hex),
            authority_key_id: find(&oid::AUTHORITY_KEY_IDENTIFIER)
                .and_then(ext::decode_authority_key_id)
                .map(hex),
            extensions: c
                .extensions
                .iter()
                .map(|e| {
                    let name = oid::display(e.oid);
                    let dotted = oid::dotted(e.oid);
                    let mut s = if name == dotted {
                        dotted
                    } else {
                        format!("{dotted} {name}")
                    };
                    if e.critical {
                        s.push_str(" critical");
                    }
                    s
                })
                .collect(),
            sha256: hex(&crate::crypto::sha256(der)),
        })
    }

    /// `field: value` lines; lists are comma-separated, absent fields omitted, one
    /// `extension:` line per extension.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let mut line = |k: &str, v: &str| {
            let _ = writeln!(out, "{k}: {v}");
        };
        line("version", &self.version);
        line("subject", &self.subject);
        line("issuer", &self.issuer);
        line("serial", &self.serial);
        line("not_before", &self.not_before);
        line("not_after", &self.not_after);
        line("key", &self.key);
        line("signature_algorithm", &self.signature_algorithm);
        if !self.subject_alt_names.is_empty() {
            line("subject_alt_names", &self.subject_alt_names.join(", "));
        }
        if let Some(bc) = &self.basic_constraints {
            line("basic_constraints", bc);
        }
        if let Some(ku) = &self.key_usage {
            line("key_usage", &ku.join(", "));
        }
        if let Some(eku) = &self.extended_key_usage {
            line("extended_key_usage", &eku.join(", "));
        }
        if let Some(id) = &self.subject_key_id {
            line("subject_key_id", id);
        }
        if let Some(id) = &self.authority_key_id {
            line("authority_key_id", id);
        }
        for e in &self.extensions {
            line("extension", e);
        }
        line("sha256", &self.sha256);
        out
    }

    /// A JSON object with the same fields.
    pub fn to_json(&self) -> String {
        let s = |v: &str| json_string(v);
        let list =
            |v: &[String]| format!("[{}]", v.iter().map(|x| s(x)).collect::<Vec<_>>().join(","));
        let opt = |v: &Option<String>| v.as_deref().map_or("null".into(), s);
        let opt_list = |v: &Option<Vec<String>>| v.as_deref().map_or("null".into(), list);
        format!(
            "{{\"version\":{},\"subject\":{},\"issuer\":{},\"serial\":{},\"not_before\":{},\"not_after\":{},\"key\":{},\"signature_algorithm\":{},\"subject_alt_names\":{},\"basic_constraints\":{},\"key_usage\":{},\"extended_key_usage\":{},\"subject_key_id\":{},\"authority_key_id\":{},\"extensions\":{},\"sha256\":{}}}",
            s(&self.version),
            s(&self.subject),
            s(&self.issuer),
            s(&self.serial),
            s(&self.not_before),
            s(&self.not_after),
            s(&self.key),
            s(&self.signature_algorithm),
            list(&self.subject_alt_names),
            opt(&self.basic_constraints),
            opt_list(&self.key_usage),
            opt_list(&self.extended_key_usage),
            opt(&self.subject_key_id),
            opt(&self.authority_key_id),
            list(&self.extensions),
            s(&self.sha256),
        )
    }
}

fn json_string(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_string("a\"b\\\n"), "\"a\\\"b\\\\\\u000a\"");
    }
}
