//! Reading X.509 certificates leniently while keeping every field's own bytes.
//!
//! Strictness belongs to what we emit: here any serial (long, negative, zero), any string type,
//! unknown and duplicate extensions are accepted, as browsers accept them. Only the DER framing
//! itself must be sound.

use super::asn1_time::{self, Seconds};
use super::tlv::{
    self, context_constructed, context_primitive, Tlv, TlvReader, BOOLEAN, INTEGER, OCTET_STRING,
    SEQUENCE,
};
use crate::error::OriginError;

/// A certificate, split into the raw TLVs of its TBS fields.
#[derive(Debug)]
pub(crate) struct ParsedCert<'a> {
    /// The whole certificate.
    pub(crate) der: &'a [u8],
    /// 0 for v1, 1 for v2, 2 for v3.
    pub(crate) version: u8,
    /// Content octets of the serial INTEGER.
    pub(crate) serial: &'a [u8],
    pub(crate) issuer: Tlv<'a>,
    pub(crate) validity: &'a [u8],
    pub(crate) not_before: Seconds,
    pub(crate) not_after: Seconds,
    pub(crate) subject: Tlv<'a>,
    pub(crate) spki: &'a [u8],
    /// Whether issuerUniqueID or subjectUniqueID is present.
    pub(crate) has_unique_ids: bool,
    pub(crate) extensions: Vec<Extension<'a>>,
    /// The outer signatureAlgorithm, raw.
    pub(crate) signature_algorithm: &'a [u8],
}

/// One extension: its raw TLV and parsed parts.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Extension<'a> {
    pub(crate) raw: &'a [u8],
    /// Content octets of the extnID OBJECT IDENTIFIER.
    pub(crate) oid: &'a [u8],
    pub(crate) critical: bool,
    /// Content octets of extnValue.
    pub(crate) value: &'a [u8],
}

fn malformed(what: &'static str) -> impl Fn(der::Error) -> OriginError {
    move |_| OriginError::Malformed { what }
}

impl<'a> ParsedCert<'a> {
    /// Parses one DER certificate. Trailing bytes are an error.
    pub(crate) fn parse(der: &'a [u8]) -> Result<Self, OriginError> {
        if der.is_empty() {
            return Err(OriginError::Empty);
        }
        let mut outer = TlvReader::new(der).map_err(malformed("certificate"))?;
        let cert = outer.expect(SEQUENCE).map_err(malformed("certificate"))?;
        if !outer.is_empty() {
            return Err(OriginError::TrailingData {
                len: der.len() - cert.raw.len(),
            });
        }
        let mut c = TlvReader::new(cert.content).map_err(malformed("certificate"))?;
        let tbs = c.expect(SEQUENCE).map_err(malformed("tbsCertificate"))?;
        let signature_algorithm = c
            .expect(SEQUENCE)
            .map_err(malformed("signatureAlgorithm"))?
            .raw;
        c.expect(tlv::BIT_STRING)
            .map_err(malformed("signatureValue"))?;
        c.finish().map_err(malformed("certificate"))?;

        let mut t = TlvReader::new(tbs.content).map_err(malformed("tbsCertificate"))?;
        let version = match t
            .optional(context_constructed(0))
            .map_err(malformed("version"))?
        {
            None => 0,
            Some(v) => {
                let int = tlv::single(v.content).map_err(malformed("version"))?;
                match (int.tag, int.content) {
                    (INTEGER, [n @ 0..=2]) => *n,
                    _ => return Err(OriginError::UnsupportedVersion),
                }
            }
        };
        let serial = t
            .expect(INTEGER)
            .map_err(malformed("serialNumber"))?
            .content;
        t.expect(SEQUENCE).map_err(malformed("signature"))?;
        let issuer = t.expect(SEQUENCE).map_err(malformed("issuer"))?;
        let validity = t.expect(SEQUENCE).map_err(malformed("validity"))?;
        let (not_before, not_after) = parse_validity(validity.content)?;
        let subject = t.expect(SEQUENCE).map_err(malformed("subject"))?;
        let spki = t
            .expect(SEQUENCE)
            .map_err(malformed("subjectPublicKeyInfo"))?
            .raw;
        // Unique identifiers: read and dropped.
        let issuer_uid = t
            .optional(context_primitive(1))
            .map_err(malformed("issuerUniqueID"))?;
        let subject_uid = t
            .optional(context_primitive(2))
            .map_err(malformed("subjectUniqueID"))?;
        let mut extensions = Vec::new();
        if let Some(wrapper) = t
            .optional(context_constructed(3))
            .map_err(malformed("extensions"))?
        {
            let list = tlv::single(wrapper.content).map_err(malformed("extensions"))?;
            if list.tag != SEQUENCE {
                return Err(OriginError::Malformed { what: "extensions" });
            }
            let mut r = TlvReader::new(list.content).map_err(malformed("extensions"))?;
            while !r.is_empty() {
                extensions.push(parse_extension(&mut r)?);
            }
        }
        t.finish().map_err(malformed("tbsCertificate"))?;
        Ok(Self {
            der,
            version,
            serial,
            issuer,
            validity: validity.raw,
            not_before,
            not_after,
            subject,
            spki,
            has_unique_ids: issuer_uid.is_some() || subject_uid.is_some(),
            extensions,
            signature_algorithm,
        })
    }

    /// The first extension with this OID.
    pub(crate) fn extension(&self, oid: &der::asn1::ObjectIdentifier) -> Option<&Extension<'a>> {
        self.extensions.iter().find(|e| e.oid == oid.as_bytes())
    }

    /// The keyIdentifier of its authorityKeyIdentifier, if it has one.
    pub(crate) fn authority_key_id(&self) -> Option<&'a [u8]> {
        self.extension(&super::oid::AUTHORITY_KEY_IDENTIFIER)
            .and_then(|e| super::ext::decode_authority_key_id(e.value))
    }

    /// Whether issuer and subject are the same name (a self-issued certificate).
    pub(crate) fn is_self_issued(&self) -> bool {
        self.issuer.raw == self.subject.raw
    }
}

fn parse_validity(content: &[u8]) -> Result<(Seconds, Seconds), OriginError> {
    let err = OriginError::Malformed { what: "validity" };
    let mut r = TlvReader::new(content).map_err(|_| err.clone())?;
    let nb = r.next_tlv().map_err(|_| err.clone())?;
    let na = r.next_tlv().map_err(|_| err.clone())?;
    r.finish().map_err(|_| err.clone())?;
    let not_before = asn1_time::parse(nb.tag, nb.content).ok_or(err.clone())?;
    let not_after = asn1_time::parse(na.tag, na.content).ok_or(err)?;
    Ok((not_before, not_after))
}

pub(super) fn parse_extension<'a>(r: &mut TlvReader<'a>) -> Result<Extension<'a>, OriginError> {
    let err = OriginError::Malformed { what: "extension" };
    let ext = r.expect(SEQUENCE).map_err(|_| err.clone())?;
    let mut e = TlvReader::new(ext.content).map_err(|_| err.clone())?;
    let oid = e.expect(tlv::OID).map_err(|_| err.clone())?.content;
    let critical = match e.optional(BOOLEAN).map_err(|_| err.clone())? {
        None => false,
        Some(b) => match b.content {
            [0] => false,
            [_] => true,
            _ => return Err(err),
        },
    };
    let value = e.expect(OCTET_STRING).map_err(|_| err.clone())?.content;
    e.finish().map_err(|_| err)?;
    Ok(Extension {
        raw: ext.raw,
        oid,
        critical,
        value,
    })
}
