//! The clone rules, in one place: which parts of the origin are copied byte for byte, which are
//! replaced, which are dropped, and why.
//!
//! | origin field | leaf |
//! |---|---|
//! | subject | copied byte for byte |
//! | validity | copied, or clamped by [`ValidityPolicy`] |
//! | subjectKeyIdentifier / authorityKeyIdentifier | replaced (leaf key / issuer key), in place |
//! | cRLDistributionPoints | replaced by ours, in place; added when absent |
//! | authorityInfoAccess | replaced by the issuer's, or dropped |
//! | basicConstraints | always an explicit, critical CA:FALSE, in place (added when absent) |
//! | Netscape certType with CA bits | dropped (OpenSSL reads those bits as CA powers) |
//! | keyUsage | copied; keyCertSign/cRLSign removed; re-derived for another key family |
//! | SCTs, CT poison, TLS feature, freshestCRL, issuerAltName | dropped (bound to the origin's issuer, or promises we cannot keep) |
//! | nameConstraints, policyConstraints, policyMappings, inhibitAnyPolicy | dropped (CA-only) |
//! | unique identifiers | dropped |
//! | everything else | copied byte for byte, with its criticality, in order |
//!
//! A clone [renamed](crate::MintRequest::renamed) to a host (Squid's `setCommonName`) also has
//! the subject's commonName replaced by the host and a subjectAltName naming the host alone.

use std::borrow::Cow;

use super::policy::{MintPolicy, ValidityPolicy};
use super::Adjustments;
use crate::ca::Issuer;
use crate::host::Host;
use crate::keys::LeafKey;
use crate::x509::asn1_time::{duration_secs, encode_validity, Seconds};
use crate::x509::cert::{Extension, ParsedCert};
use crate::x509::ext::{self, KeyUsage, SanEntry};
use crate::x509::{name, oid, tlv, KeyAlgorithm};

/// The parts of a leaf's TBS that depend on the origin or host.
pub(crate) struct LeafFields<'a> {
    pub(crate) subject: Cow<'a, [u8]>,
    pub(crate) validity: Cow<'a, [u8]>,
    pub(crate) not_before: Seconds,
    pub(crate) not_after: Seconds,
    pub(crate) extensions: Vec<u8>,
    pub(crate) adjustments: Adjustments,
}

/// What to do with one origin extension.
enum Rule {
    Copy,
    ReplaceSubjectKeyId,
    ReplaceAuthorityKeyId,
    ReplaceCrlDistributionPoints,
    ReplaceAuthorityInfoAccess,
    BasicConstraints,
    KeyUsage,
    NsCertType,
    Drop(Adjustments),
}

fn rule(e: &Extension<'_>) -> Rule {
    let is = |o: &der::asn1::ObjectIdentifier| e.oid == o.as_bytes();
    if is(&oid::SUBJECT_KEY_IDENTIFIER) {
        Rule::ReplaceSubjectKeyId
    } else if is(&oid::AUTHORITY_KEY_IDENTIFIER) {
        Rule::ReplaceAuthorityKeyId
    } else if is(&oid::CRL_DISTRIBUTION_POINTS) {
        Rule::ReplaceCrlDistributionPoints
    } else if is(&oid::AUTHORITY_INFO_ACCESS) {
        Rule::ReplaceAuthorityInfoAccess
    } else if is(&oid::BASIC_CONSTRAINTS) {
        Rule::BasicConstraints
    } else if is(&oid::KEY_USAGE) {
        Rule::KeyUsage
    } else if is(&oid::NS_CERT_TYPE) {
        Rule::NsCertType
    } else if is(&oid::SCT_LIST) {
        Rule::Drop(Adjustments::DROPPED_SCT_LIST)
    } else if is(&oid::CT_POISON) {
        Rule::Drop(Adjustments::DROPPED_CT_POISON)
    } else if is(&oid::TLS_FEATURE) {
        Rule::Drop(Adjustments::DROPPED_MUST_STAPLE)
    } else if is(&oid::FRESHEST_CRL) {
        Rule::Drop(Adjustments::DROPPED_FRESHEST_CRL)
    } else if is(&oid::ISSUER_ALT_NAME) {
        Rule::Drop(Adjustments::DROPPED_ISSUER_ALT_NAME)
    } else if is(&oid::NAME_CONSTRAINTS)
        || is(&oid::POLICY_CONSTRAINTS)
        || is(&oid::POLICY_MAPPINGS)
        || is(&oid::INHIBIT_ANY_POLICY)
    {
        Rule::Drop(Adjustments::DROPPED_CA_EXTENSIONS)
    } else {
        Rule::Copy
    }
}

/// The fields of a faithful clone of `origin`.
pub(crate) fn clone_fields<'a>(
    origin: &ParsedCert<'a>,
    host: Option<&Host>,
    key: &LeafKey,
    origin_key: Option<KeyAlgorithm>,
    issuer: &Issuer,
    policy: &MintPolicy,
    now: Seconds,
) -> LeafFields<'a> {
    let mut adjustments = Adjustments::NONE;
    let (not_before, not_after, validity) = clone_validity(origin, issuer, policy, now);
    if matches!(validity, Cow::Owned(_)) {
        adjustments |= Adjustments::CLAMPED_VALIDITY;
    }
    let same_family = origin_key.is_some_and(|o| o.same_family(key.algorithm()));
    if origin_key.is_some() && !same_family {
        adjustments |= Adjustments::CHANGED_KEY_FAMILY;
    }

    let claims_ca = origin.extensions.iter().any(|e| match rule(e) {
        Rule::BasicConstraints => ext::decode_basic_constraints(e.value).is_none_or(|(ca, _)| ca),
        Rule::KeyUsage => KeyUsage::decode(e.value)
            .is_some_and(|u| u.has(KeyUsage::KEY_CERT_SIGN) || u.has(KeyUsage::CRL_SIGN)),
        Rule::NsCertType => ns_cert_type_claims_ca(e.value),
        Rule::Drop(a) => a == Adjustments::DROPPED_CA_EXTENSIONS,
        _ => false,
    });

    let mut out = Vec::with_capacity(origin.der.len());
    let (mut ski, mut aki, mut cdp, mut aia, mut bc, mut ku) =
        (false, false, false, false, false, false);
    for e in &origin.extensions {
        let first = |seen: &mut bool| !std::mem::replace(seen, true);
        match rule(e) {
            Rule::Copy => out.extend_from_slice(e.raw),
            Rule::Drop(a) => adjustments |= a,
            Rule::ReplaceSubjectKeyId => {
                if first(&mut ski) {
                    ext::subject_key_id(&mut out, key.key_id());
                } else {
                    adjustments |= Adjustments::DROPPED_DUPLICATE;
                }
            }
            Rule::ReplaceAuthorityKeyId => {
                if first(&mut aki) {
                    out.extend_from_slice(&issuer.issued().authority_key_id);
                } else {
                    adjustments |= Adjustments::DROPPED_DUPLICATE;
                }
            }
            Rule::ReplaceCrlDistributionPoints => {
                adjustments |= Adjustments::DROPPED_ORIGIN_CDP;
                if first(&mut cdp) {
                    out.extend_from_slice(&issuer.issued().crl_distribution_points);
                }
            }
            Rule::ReplaceAuthorityInfoAccess => {
                adjustments |= Adjustments::DROPPED_ORIGIN_AIA;
                if first(&mut aia) {
                    if let Some(ours) = &issuer.issued().authority_info_access {
                        out.extend_from_slice(ours);
                    }
                }
            }
            Rule::BasicConstraints => {
                let mut ours = Vec::with_capacity(16);
                ext::basic_constraints_not_ca(&mut ours, true);
                if !first(&mut bc) {
                    adjustments |= Adjustments::DROPPED_DUPLICATE;
                } else if e.raw == ours.as_slice() {
                    out.extend_from_slice(e.raw);
                } else {
                    // Always explicit and critical; a claim to be a CA is an adjustment, a
                    // non-critical or DEFAULT-encoded CA:FALSE is what always changes.
                    if claims_ca || ext::decode_basic_constraints(e.value) != Some((false, None)) {
                        adjustments |= Adjustments::MADE_NOT_CA;
                    }
                    out.extend(ours);
                }
            }
            Rule::NsCertType => {
                if ns_cert_type_claims_ca(e.value) {
                    adjustments |= Adjustments::DROPPED_NS_CERT_TYPE_CA;
                } else {
                    out.extend_from_slice(e.raw);
                }
            }
            Rule::KeyUsage => {
                if !first(&mut ku) {
                    adjustments |= Adjustments::DROPPED_DUPLICATE;
                    continue;
                }
                match KeyUsage::decode(e.value).filter(|_| same_family) {
                    Some(original) => {
                        let mut usage = original;
                        if usage.has(KeyUsage::KEY_CERT_SIGN) || usage.has(KeyUsage::CRL_SIGN) {
                            usage.0 &= !(KeyUsage::KEY_CERT_SIGN | KeyUsage::CRL_SIGN);
                            adjustments |= Adjustments::REMOVED_CA_KEY_USAGES;
                        }
                        if !usage.has(KeyUsage::DIGITAL_SIGNATURE) {
                            usage.0 |= KeyUsage::DIGITAL_SIGNATURE;
                            adjustments |= Adjustments::ADDED_DIGITAL_SIGNATURE;
                        }
                        if usage == original {
                            out.extend_from_slice(e.raw);
                        } else {
                            ext::key_usage(&mut out, usage, e.critical);
                        }
                    }
                    None => {
                        adjustments |= Adjustments::REDERIVED_KEY_USAGE;
                        ext::key_usage(&mut out, derived_key_usage(key.algorithm()), e.critical);
                    }
                }
            }
        }
    }
    if !bc {
        if claims_ca {
            adjustments |= Adjustments::MADE_NOT_CA;
        }
        ext::basic_constraints_not_ca(&mut out, true);
    }
    if !ski {
        ext::subject_key_id(&mut out, key.key_id());
    }
    if !aki {
        out.extend_from_slice(&issuer.issued().authority_key_id);
    }
    if !cdp {
        out.extend_from_slice(&issuer.issued().crl_distribution_points);
    }
    if let (false, Some(ours)) = (aia, &issuer.issued().authority_info_access) {
        out.extend_from_slice(ours);
    }
    let has = |o: &der::asn1::ObjectIdentifier| origin.extension(o).is_some();
    if policy.san_from_host && !has(&oid::SUBJECT_ALT_NAME) {
        let from_cn = || name::common_name(origin.subject.raw).and_then(|cn| Host::parse(&cn).ok());
        if let Some(name) = host.cloned().or_else(from_cn) {
            let subject_empty = origin.subject.content.is_empty();
            ext::subject_alt_name(&mut out, san_entry(&name), subject_empty);
            adjustments |= Adjustments::ADDED_SAN;
        }
    }
    if policy.server_auth_eku && !has(&oid::EXT_KEY_USAGE) {
        ext::ext_key_usage_server_auth(&mut out);
        adjustments |= Adjustments::ADDED_SERVER_AUTH_EKU;
    }
    if origin.has_unique_ids {
        adjustments |= Adjustments::DROPPED_UNIQUE_IDS;
    }
    LeafFields {
        subject: Cow::Borrowed(origin.subject.raw),
        validity,
        not_before,
        not_after,
        extensions: out,
        adjustments,
    }
}

/// Whether a Netscape certType value (a BIT STRING) sets any CA bit: SSL CA (bit 5), S/MIME CA
/// (bit 6) or object-signing CA (bit 7). Unreadable values count as claiming.
fn ns_cert_type_claims_ca(value: &[u8]) -> bool {
    match tlv::single(value) {
        Ok(bits) if bits.tag == tlv::BIT_STRING => bits
            .content
            .get(1)
            .is_some_and(|first| first & 0b0000_0111 != 0),
        _ => true,
    }
}

/// keyUsage for a TLS server key of `alg`: digitalSignature, plus keyEncipherment for RSA (RFC
/// 8813 forbids it for EC keys).
fn derived_key_usage(alg: KeyAlgorithm) -> KeyUsage {
    let mut usage = KeyUsage::DIGITAL_SIGNATURE;
    if alg.is_rsa() {
        usage |= KeyUsage::KEY_ENCIPHERMENT;
    }
    KeyUsage(usage)
}

fn clone_validity<'a>(
    origin: &ParsedCert<'a>,
    issuer: &Issuer,
    policy: &MintPolicy,
    now: Seconds,
) -> (Seconds, Seconds, Cow<'a, [u8]>) {
    let (nb, na) = match &policy.validity {
        ValidityPolicy::MirrorExact => {
            return (
                origin.not_before,
                origin.not_after,
                Cow::Borrowed(origin.validity),
            )
        }
        ValidityPolicy::Mirror { max_lifetime } => {
            let (mut nb, mut na) = issuer.clamp(origin.not_before, origin.not_after);
            let max = duration_secs(*max_lifetime);
            if na.saturating_sub(nb) > max {
                let hour_ago = now - now.rem_euclid(3600) - 3600;
                nb = nb.max(hour_ago);
                na = na.min(nb.saturating_add(max));
            }
            (nb, na)
        }
        ValidityPolicy::Fixed { backdate, lifetime } => issuer.clamp(
            now.saturating_sub(duration_secs(*backdate)),
            now.saturating_add(duration_secs(*lifetime)),
        ),
    };
    if (nb, na) == (origin.not_before, origin.not_after) {
        (nb, na, Cow::Borrowed(origin.validity))
    } else {
        (nb, na, Cow::Owned(encode_validity(nb, na)))
    }
}

/// Renames a clone to `host` (Squid's `setCommonName`): the subject's first commonName is
/// replaced by the host (appended as the last RDN; left out when longer than the 64 characters
/// X.520 allows), and the subjectAltName names the host alone, in place of the origin's.
pub(crate) fn rename_to(fields: &mut LeafFields<'_>, host: &Host) {
    let text = host.to_string();
    let cn = (text.len() <= 64).then_some(text.as_str());
    fields.subject = Cow::Owned(
        name::with_common_name(&fields.subject, cn)
            .unwrap_or_else(|| name::name_with_common_name(cn.unwrap_or_default())),
    );
    let subject_empty = tlv::single(&fields.subject).is_ok_and(|s| s.content.is_empty());
    let mut ours = Vec::new();
    ext::subject_alt_name(&mut ours, san_entry(host), subject_empty);
    let mut out = Vec::with_capacity(fields.extensions.len() + ours.len());
    let mut placed = false;
    if let Ok(mut reader) = tlv::TlvReader::new(&fields.extensions) {
        while let Ok(e) = reader.next_tlv() {
            let is_san = tlv::sequence_items(e.raw)
                .and_then(|mut items| items.expect(tlv::OID).ok())
                .is_some_and(|o| o.content == oid::SUBJECT_ALT_NAME.as_bytes());
            if !is_san {
                out.extend_from_slice(e.raw);
            } else if !std::mem::replace(&mut placed, true) {
                out.extend_from_slice(&ours);
            }
        }
    }
    if !placed {
        out.extend(ours);
    }
    fields.extensions = out;
    fields.adjustments |= Adjustments::RENAMED_TO_HOST;
}

/// The fields of a leaf minted from the host alone.
pub(crate) fn host_only_fields(
    host: &Host,
    key: &LeafKey,
    issuer: &Issuer,
    policy: &MintPolicy,
    now: Seconds,
) -> LeafFields<'static> {
    let (not_before, not_after) = issuer.clamp(
        now.saturating_sub(duration_secs(policy.host_only_backdate)),
        now.saturating_add(duration_secs(policy.host_only_lifetime)),
    );
    let text = host.to_string();
    // ub-common-name is 64 characters; a longer host lives in the SAN alone, under an empty
    // subject, which makes the SAN critical.
    let subject = if text.len() <= 64 {
        name::name_with_common_name(&text)
    } else {
        tlv::tlv(tlv::SEQUENCE, &[])
    };
    let mut out = Vec::with_capacity(512);
    ext::basic_constraints_not_ca(&mut out, true);
    ext::key_usage(&mut out, derived_key_usage(key.algorithm()), true);
    ext::ext_key_usage_server_auth(&mut out);
    ext::subject_alt_name(&mut out, san_entry(host), text.len() > 64);
    ext::subject_key_id(&mut out, key.key_id());
    issuer.issued().append_to(&mut out);
    LeafFields {
        subject: Cow::Owned(subject),
        validity: Cow::Owned(encode_validity(not_before, not_after)),
        not_before,
        not_after,
        extensions: out,
        adjustments: Adjustments::NONE,
    }
}

/// A host as a subjectAltName entry.
fn san_entry(host: &Host) -> SanEntry<'_> {
    match host {
        Host::Dns(name) => SanEntry::Dns(name),
        Host::Ip(ip) => SanEntry::Ip(*ip),
    }
}
