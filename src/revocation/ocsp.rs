//! [`OcspResponder`]: an RFC 6960 responder for the sub-CAs an intermediate issued, with every
//! response signed ahead (refreshed with the CRL), so the intermediate's key (an HSM) is never
//! asked to sign for a client.
//!
//! It answers `good`, or `revoked` with time and reason, for the recorded sub-CAs, looked up
//! by SHA-1 or SHA-256 CertID; requests about leaves and unknown serials get `unauthorized`
//! (leaves are not recorded); malformed requests get `malformedRequest`. No nonce: responses
//! are pre-signed. The responder is the intermediate itself (responderID by key hash).

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use rustls::pki_types::CertificateDer;

use super::crl::{
    secs, sign_verified, trim_serial, RevocationReason, RevokedCertificate, CRL_LIFETIME,
};
use crate::ca::Issuer;
use crate::crypto::backend::digest;
use crate::error::{Error, RevocationError};
use crate::x509::asn1_time::{self, Seconds};
use crate::x509::cert::ParsedCert;
use crate::x509::spki::SpkiParts;
use crate::x509::tlv::{
    self, context_constructed, TlvReader, ENUMERATED, OCTET_STRING, OID, SEQUENCE,
};

/// The largest request accepted (a CertID is about 100 bytes).
pub const MAX_OCSP_REQUEST: usize = 4096;

/// id-pkix-ocsp-basic (1.3.6.1.5.5.7.48.1.1).
const OCSP_BASIC: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01];
/// id-sha1 (1.3.14.3.2.26).
const SHA1: &[u8] = &[0x2b, 0x0e, 0x03, 0x02, 0x1a];
/// id-sha256 (2.16.840.1.101.3.4.2.1).
const SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];

const MALFORMED_REQUEST: u8 = 1;
const UNAUTHORIZED: u8 = 6;

/// A CertID as looked up: hash algorithm OID, issuer name hash, issuer key hash, serial
/// magnitude.
type CertIdKey = (Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>);

/// Pre-signed OCSP responses for the sub-CAs one intermediate issued.
#[derive(Debug, Default)]
pub struct OcspResponder {
    responses: HashMap<CertIdKey, Vec<u8>>,
}

impl OcspResponder {
    /// Signs a response for each of `sub_cas` (each with its revocation, if revoked), under
    /// SHA-1 and SHA-256 CertIDs, valid from `this_update` to `next_update`, with `issuer`'s
    /// signer; each signature is verified before it is kept. Sub-CAs `issuer` did not issue
    /// are skipped.
    pub fn sign(
        issuer: &Issuer,
        sub_cas: &[(CertificateDer<'_>, Option<RevokedCertificate>)],
        this_update: SystemTime,
        next_update: SystemTime,
    ) -> Result<Self, Error> {
        let secs =
            |t: SystemTime| secs(t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default());
        let (this, next) = (secs(this_update), secs(next_update));
        if next <= this {
            return Err(RevocationError::BadLifetime.into());
        }
        let issuer_cert = ParsedCert::parse(issuer.certificate().as_ref())?;
        let key_bits = SpkiParts::parse(issuer_cert.spki)
            .ok_or(RevocationError::BadSignature)?
            .public_key;
        let mut responses = HashMap::new();
        for (cert, revoked) in sub_cas {
            let parsed = ParsedCert::parse(cert.as_ref())?;
            if parsed.issuer.raw != issuer.subject() {
                continue;
            }
            let serial = trim_serial(parsed.serial).to_vec();
            for (oid, algorithm) in [
                (SHA1, &digest::SHA1_FOR_LEGACY_USE_ONLY),
                (SHA256, &digest::SHA256),
            ] {
                let name_hash = digest::digest(algorithm, issuer.subject())
                    .as_ref()
                    .to_vec();
                let key_hash = digest::digest(algorithm, key_bits).as_ref().to_vec();
                let cert_id = cert_id(oid, &name_hash, &key_hash, &serial);
                let response =
                    basic_response(issuer, key_bits, &cert_id, revoked.as_ref(), this, next)?;
                responses.insert(
                    (oid.to_vec(), name_hash, key_hash, serial.clone()),
                    response,
                );
            }
        }
        Ok(Self { responses })
    }

    /// Adds `other`'s responses (another intermediate's), so one responder answers for all.
    pub fn merge(&mut self, other: Self) {
        self.responses.extend(other.responses);
    }

    /// How many (sub-CA, hash) pairs it answers for.
    pub fn len(&self) -> usize {
        self.responses.len()
    }

    /// Whether it answers for none.
    pub fn is_empty(&self) -> bool {
        self.responses.is_empty()
    }

    /// The DER OCSPResponse for a DER OCSPRequest: the pre-signed response when the request
    /// asks about exactly one recorded sub-CA, `unauthorized` for anything else it does not
    /// know, `malformedRequest` for what it cannot read (oversized included). Never panics.
    pub fn respond(&self, request: &[u8]) -> Vec<u8> {
        if request.len() > MAX_OCSP_REQUEST {
            return status_only(MALFORMED_REQUEST);
        }
        match parse_request(request) {
            None => status_only(MALFORMED_REQUEST),
            Some(ids) => match ids.as_slice() {
                [id] => self
                    .responses
                    .get(id)
                    .cloned()
                    .unwrap_or_else(|| status_only(UNAUTHORIZED)),
                _ => status_only(UNAUTHORIZED),
            },
        }
    }
}

/// The CertIDs of a DER OCSPRequest (`None` when it is not one).
fn parse_request(der: &[u8]) -> Option<Vec<CertIdKey>> {
    let outer = tlv::single(der).ok()?;
    if outer.tag != SEQUENCE {
        return None;
    }
    let mut request = TlvReader::new(outer.content).ok()?;
    let tbs = request.expect(SEQUENCE).ok()?;
    let mut fields = TlvReader::new(tbs.content).ok()?;
    let _version = fields.optional(context_constructed(0)).ok()?;
    let _requestor = fields.optional(context_constructed(1)).ok()?;
    let list = fields.expect(SEQUENCE).ok()?;
    let mut requests = TlvReader::new(list.content).ok()?;
    let mut out = Vec::new();
    while !requests.is_empty() {
        let one = requests.expect(SEQUENCE).ok()?;
        let mut parts = TlvReader::new(one.content).ok()?;
        let cert_id = parts.expect(SEQUENCE).ok()?;
        let mut id = TlvReader::new(cert_id.content).ok()?;
        let algorithm = id.expect(SEQUENCE).ok()?;
        let oid = TlvReader::new(algorithm.content).ok()?.expect(OID).ok()?;
        let name_hash = id.expect(OCTET_STRING).ok()?;
        let key_hash = id.expect(OCTET_STRING).ok()?;
        let serial = id.expect(tlv::INTEGER).ok()?;
        out.push((
            oid.content.to_vec(),
            name_hash.content.to_vec(),
            key_hash.content.to_vec(),
            trim_serial(serial.content).to_vec(),
        ));
        if out.len() > 16 {
            return None;
        }
    }
    (!out.is_empty()).then_some(out)
}

fn cert_id(oid: &[u8], name_hash: &[u8], key_hash: &[u8], serial: &[u8]) -> Vec<u8> {
    let mut algorithm = tlv::tlv(OID, oid);
    tlv::write_tlv(&mut algorithm, tlv::NULL, &[]);
    let mut content = tlv::tlv(SEQUENCE, &algorithm);
    tlv::write_tlv(&mut content, OCTET_STRING, name_hash);
    tlv::write_tlv(&mut content, OCTET_STRING, key_hash);
    content.extend(tlv::unsigned_integer(serial));
    tlv::tlv(SEQUENCE, &content)
}

/// A successful OCSPResponse holding one signed BasicOCSPResponse.
fn basic_response(
    issuer: &Issuer,
    key_bits: &[u8],
    cert_id: &[u8],
    revoked: Option<&RevokedCertificate>,
    this_update: Seconds,
    next_update: Seconds,
) -> Result<Vec<u8>, Error> {
    let status = match revoked {
        None => tlv::tlv(tlv::context_primitive(0), &[]),
        Some(r) => {
            let mut info = asn1_time::encode_generalized(asn1_time::seconds(r.revoked_at));
            if r.reason != RevocationReason::Unspecified {
                let reason = tlv::tlv(ENUMERATED, &[r.reason.code()]);
                tlv::write_tlv(&mut info, context_constructed(0), &reason);
            }
            tlv::tlv(context_constructed(1), &info)
        }
    };
    let mut single = cert_id.to_vec();
    single.extend(status);
    single.extend(asn1_time::encode_generalized(this_update));
    tlv::write_tlv(
        &mut single,
        context_constructed(0),
        &asn1_time::encode_generalized(next_update),
    );
    let responder_key_hash = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, key_bits);
    let mut data = tlv::tlv(
        context_constructed(2),
        &tlv::tlv(OCTET_STRING, responder_key_hash.as_ref()),
    );
    data.extend(asn1_time::encode_generalized(this_update));
    tlv::write_tlv(&mut data, SEQUENCE, &tlv::tlv(SEQUENCE, &single));
    let basic = sign_verified(issuer, tlv::tlv(SEQUENCE, &data))?;
    let mut bytes = tlv::tlv(OID, OCSP_BASIC);
    tlv::write_tlv(&mut bytes, OCTET_STRING, &basic);
    let mut response = tlv::tlv(ENUMERATED, &[0]);
    tlv::write_tlv(
        &mut response,
        context_constructed(0),
        &tlv::tlv(SEQUENCE, &bytes),
    );
    Ok(tlv::tlv(SEQUENCE, &response))
}

/// An OCSPResponse with a status and no body.
fn status_only(status: u8) -> Vec<u8> {
    tlv::tlv(SEQUENCE, &tlv::tlv(ENUMERATED, &[status]))
}

/// How long pre-signed responses are valid (refreshed with the CRL, every 12 hours).
pub const OCSP_LIFETIME: Duration = CRL_LIFETIME;
