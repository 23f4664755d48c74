//! Minimal DER plumbing: a TLV reader built on the `der` crate (which checks the encoding) that
//! keeps every element's raw bytes, and a TLV writer for the structures we emit.
//!
//! Reading keeps raw slices so the minter can copy the origin's own bytes verbatim; writing is
//! limited to concatenating tag, length and content.

use der::{Decode, Header, Reader, SliceReader};

pub(crate) const BOOLEAN: u8 = 0x01;
pub(crate) const INTEGER: u8 = 0x02;
pub(crate) const BIT_STRING: u8 = 0x03;
pub(crate) const OCTET_STRING: u8 = 0x04;
pub(crate) const NULL: u8 = 0x05;
pub(crate) const OID: u8 = 0x06;
pub(crate) const ENUMERATED: u8 = 0x0a;
pub(crate) const UTF8_STRING: u8 = 0x0c;
pub(crate) const PRINTABLE_STRING: u8 = 0x13;
pub(crate) const TELETEX_STRING: u8 = 0x14;
pub(crate) const IA5_STRING: u8 = 0x16;
pub(crate) const VISIBLE_STRING: u8 = 0x1a;
pub(crate) const UNIVERSAL_STRING: u8 = 0x1c;
pub(crate) const UTC_TIME: u8 = 0x17;
pub(crate) const GENERALIZED_TIME: u8 = 0x18;
pub(crate) const BMP_STRING: u8 = 0x1e;
pub(crate) const SEQUENCE: u8 = 0x30;
pub(crate) const SET: u8 = 0x31;

/// Context-specific constructed tag `[n]`.
pub(crate) const fn context_constructed(n: u8) -> u8 {
    0xa0 | n
}

/// Context-specific primitive tag `[n]`.
pub(crate) const fn context_primitive(n: u8) -> u8 {
    0x80 | n
}

/// One element: its first tag byte, its complete encoding and its content.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tlv<'a> {
    pub(crate) tag: u8,
    pub(crate) raw: &'a [u8],
    pub(crate) content: &'a [u8],
}

/// Reads consecutive TLVs from a slice.
pub(crate) struct TlvReader<'a> {
    bytes: &'a [u8],
    inner: SliceReader<'a>,
}

impl<'a> TlvReader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> der::Result<Self> {
        Ok(Self {
            bytes,
            inner: SliceReader::new(bytes)?,
        })
    }

    /// Reads the next element.
    pub(crate) fn next_tlv(&mut self) -> der::Result<Tlv<'a>> {
        let start = usize::try_from(self.inner.position())?;
        let header = Header::decode(&mut self.inner)?;
        let content = self.inner.read_slice(header.length)?;
        let end = usize::try_from(self.inner.position())?;
        Ok(Tlv {
            tag: self.bytes[start],
            raw: &self.bytes[start..end],
            content,
        })
    }

    /// Reads the next element and checks its tag.
    pub(crate) fn expect(&mut self, tag: u8) -> der::Result<Tlv<'a>> {
        let tlv = self.next_tlv()?;
        if tlv.tag == tag {
            Ok(tlv)
        } else {
            Err(der::ErrorKind::TagUnexpected {
                expected: None,
                actual: der::Tag::try_from(tag).unwrap_or(der::Tag::Null),
            }
            .into())
        }
    }

    /// Reads the next element if it carries `tag`.
    pub(crate) fn optional(&mut self, tag: u8) -> der::Result<Option<Tlv<'a>>> {
        if self.peek_tag() == Some(tag) {
            self.next_tlv().map(Some)
        } else {
            Ok(None)
        }
    }

    pub(crate) fn peek_tag(&self) -> Option<u8> {
        self.inner.peek_byte()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.inner.is_finished()
    }

    /// Fails unless every byte was consumed.
    pub(crate) fn finish(self) -> der::Result<()> {
        if self.inner.is_finished() {
            Ok(())
        } else {
            Err(der::ErrorKind::TrailingData {
                decoded: self.inner.position(),
                remaining: self.inner.remaining_len(),
            }
            .into())
        }
    }
}

/// Parses `bytes` as exactly one element.
pub(crate) fn single(bytes: &[u8]) -> der::Result<Tlv<'_>> {
    let mut r = TlvReader::new(bytes)?;
    let tlv = r.next_tlv()?;
    r.finish()?;
    Ok(tlv)
}

/// A reader over the elements of `value`, which must be exactly one SEQUENCE.
pub(crate) fn sequence_items(value: &[u8]) -> Option<TlvReader<'_>> {
    let seq = single(value).ok()?;
    if seq.tag != SEQUENCE {
        return None;
    }
    TlvReader::new(seq.content).ok()
}

/// A DER header (tag and length) in a fixed buffer, and how many of its octets are used.
pub(crate) fn header(tag: u8, len: usize) -> ([u8; 2 + size_of::<usize>()], usize) {
    let mut out = [0u8; 2 + size_of::<usize>()];
    out[0] = tag;
    if len < 0x80 {
        out[1] = len as u8;
        return (out, 2);
    }
    let bytes = len.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    let n = bytes.len() - skip;
    // At most size_of::<usize>() (8) length octets: the cast cannot truncate.
    out[1] = 0x80 | n as u8;
    out[2..2 + n].copy_from_slice(&bytes[skip..]);
    (out, 2 + n)
}

/// Appends `tag`, the length of `content`, and `content`.
pub(crate) fn write_tlv(out: &mut Vec<u8>, tag: u8, content: &[u8]) {
    write_len_prefixed(out, tag, content.len());
    out.extend_from_slice(content);
}

/// Appends a tag and a length, for content the caller appends next.
pub(crate) fn write_len_prefixed(out: &mut Vec<u8>, tag: u8, len: usize) {
    let (octets, n) = header(tag, len);
    out.extend_from_slice(&octets[..n]);
}

/// One element as a new vector.
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    write_tlv(&mut out, tag, content);
    out
}

/// Octets of an element with `len` octets of content, its header included.
pub(crate) fn encoded_len(len: usize) -> usize {
    header_len(len) + len
}

/// Number of bytes a header for `len` bytes of content takes.
fn header_len(len: usize) -> usize {
    if len < 0x80 {
        2
    } else {
        2 + (usize::BITS as usize / 8 - len.leading_zeros() as usize / 8)
    }
}

/// A DER INTEGER holding the unsigned big-endian `value`.
#[cfg_attr(not(feature = "pkcs11"), allow(dead_code))]
pub(crate) fn unsigned_integer(value: &[u8]) -> Vec<u8> {
    let skip = value.iter().take_while(|b| **b == 0).count();
    let trimmed = &value[skip.min(value.len().saturating_sub(1))..];
    let mut content = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.first().is_none_or(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(trimmed);
    tlv(INTEGER, &content)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_trip_through_the_der_reader() {
        for len in [0usize, 1, 127, 128, 255, 256, 65535, 65536] {
            let content = vec![0x55; len];
            let encoded = tlv(OCTET_STRING, &content);
            assert_eq!(encoded.len(), encoded_len(len));
            assert_eq!(header(OCTET_STRING, len).1, header_len(len));
            let parsed = single(&encoded).unwrap();
            assert_eq!(parsed.content, &content[..]);
            assert_eq!(parsed.raw, &encoded[..]);
        }
    }

    #[test]
    fn unsigned_integers_are_minimal_and_positive() {
        assert_eq!(unsigned_integer(&[0, 0, 1]), vec![2, 1, 1]);
        assert_eq!(unsigned_integer(&[0x80]), vec![2, 2, 0, 0x80]);
        assert_eq!(unsigned_integer(&[]), vec![2, 1, 0]);
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let mut encoded = tlv(NULL, &[]);
        encoded.push(0);
        assert!(single(&encoded).is_err());
    }
}
