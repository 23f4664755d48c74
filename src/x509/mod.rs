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

/// `text` with every control character (and backslash) escaped as `\xNN` or `\u{..}`, for
/// printing names from untrusted certificates.
pub(crate) fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    use std::fmt::Write as _;
    if !text.chars().any(|c| c.is_control() || c == '\\') {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            c if c.is_control() && (c as u32) < 0x100 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(super::escape_controls("a.example"), "a.example");
        assert_eq!(
            super::escape_controls("a\nforged: line\x1b[31m\\"),
            "a\\x0aforged: line\\x1b[31m\\\\"
        );
    }
}
