//! Reading and writing the X.509 pieces certmint works with, at the bottom of the crate: DER
//! TLVs, the OID table, ASN.1 times, certificates read leniently with their raw bytes,
//! extensions, names and SubjectPublicKeyInfo. Nothing here signs or knows about CAs.

pub(crate) mod asn1_time;
pub(crate) mod cert;
pub(crate) mod ext;
pub(crate) mod name;
pub(crate) mod oid;
pub(crate) mod spki;
pub(crate) mod tlv;

pub use name::DistinguishedName;
pub use spki::{KeyAlgorithm, UnknownKeyAlgorithm};

pub(crate) use spki::{key_identifier, SpkiParts};

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}
