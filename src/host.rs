//! Host names as certmint accepts them: normalised DNS names or IP literals.

use std::borrow::Cow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;

use crate::error::HostError;

/// A normalised host: a lower-case DNS name without a trailing dot, or an IP address.
///
/// ```
/// use certmint::Host;
/// assert_eq!(Host::parse("WWW.Example.COM.").unwrap().to_string(), "www.example.com");
/// assert!(Host::parse("[2001:db8::1]").unwrap().is_ip());
/// assert!(Host::parse("bücher.example").is_err()); // give A-labels: xn--bcher-kva.example
/// assert!(Host::parse("a.example, DNS:evil.example").is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[allow(clippy::exhaustive_enums)] // a host is a DNS name or an IP address; there is no third kind
pub enum Host {
    /// A DNS name.
    Dns(String),
    /// An IP literal.
    Ip(IpAddr),
}

/// The longest DNS name, in bytes, without the trailing dot.
pub const MAX_HOST_LEN: usize = 253;

impl Host {
    /// Parses and normalises a host name or IP literal (`[...]` brackets allowed for IPv6).
    ///
    /// DNS names may contain ASCII letters, digits, `-` and `_` (seen on real sites); wildcards,
    /// spaces, commas, slashes, control characters and non-ASCII characters are refused, so a
    /// host can never inject a name into a certificate.
    pub fn parse(input: &str) -> Result<Self, HostError> {
        HostRef::parse(input).map(HostRef::into_owned)
    }

    /// Whether this is an IP literal.
    pub fn is_ip(&self) -> bool {
        matches!(self, Self::Ip(_))
    }
}

impl Hash for Host {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            Self::Dns(name) => hash_dns(name, state),
            Self::Ip(ip) => hash_ip(ip, state),
        }
    }
}

// `Host` and `HostRef` hash identically, so a borrowed key finds an owned one in the cache.
fn hash_dns<H: Hasher>(name: &str, state: &mut H) {
    state.write_u8(0);
    name.hash(state);
}

fn hash_ip<H: Hasher>(ip: &IpAddr, state: &mut H) {
    state.write_u8(1);
    ip.hash(state);
}

/// A normalised host that borrows its input when it is already normalised (the hot path
/// allocates nothing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum HostRef<'a> {
    Dns(Cow<'a, str>),
    Ip(IpAddr),
}

impl<'a> HostRef<'a> {
    pub(crate) fn parse(input: &'a str) -> Result<Self, HostError> {
        if input.is_empty() {
            return Err(HostError::Empty);
        }
        if let Some(inner) = input.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            if let Ok(ip) = inner.parse::<std::net::Ipv6Addr>() {
                return Ok(Self::Ip(IpAddr::V6(ip)));
            }
        }
        if input.as_bytes().contains(&b':') {
            if let Ok(ip) = input.parse::<IpAddr>() {
                return Ok(Self::Ip(ip));
            }
        }
        // As the WHATWG URL standard reads hosts: a name whose last label is a number is an
        // IPv4 address (`127.1`, `0x7f.0.0.1`, `1.2.3.4.`) or an error, never a DNS name.
        if ends_in_a_number(input) {
            return parse_ipv4(input).map(|ip| Self::Ip(IpAddr::V4(ip)));
        }
        if !input.is_ascii() {
            return Err(HostError::NotAscii);
        }
        let name = input.strip_suffix('.').unwrap_or(input);
        if name.len() > MAX_HOST_LEN {
            return Err(HostError::TooLong { len: name.len() });
        }
        let mut upper = false;
        let mut label_len = 0usize;
        for (position, b) in name.bytes().enumerate() {
            match b {
                b'.' => {
                    if label_len == 0 {
                        return Err(HostError::EmptyLabel);
                    }
                    label_len = 0;
                    continue;
                }
                b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' => {}
                b'A'..=b'Z' => upper = true,
                _ => {
                    return Err(HostError::InvalidCharacter {
                        character: char::from(b),
                        position,
                    })
                }
            }
            label_len += 1;
            if label_len > 63 {
                return Err(HostError::LabelTooLong);
            }
        }
        if label_len == 0 {
            return Err(HostError::EmptyLabel);
        }
        Ok(Self::Dns(if upper {
            Cow::Owned(name.to_ascii_lowercase())
        } else {
            Cow::Borrowed(name)
        }))
    }

    pub(crate) fn into_owned(self) -> Host {
        match self {
            Self::Dns(name) => Host::Dns(name.into_owned()),
            Self::Ip(ip) => Host::Ip(ip),
        }
    }

    /// Whether this is the same host as `owned`.
    pub(crate) fn matches(&self, owned: &Host) -> bool {
        match (self, owned) {
            (Self::Dns(a), Host::Dns(b)) => a == b,
            (Self::Ip(a), Host::Ip(b)) => a == b,
            _ => false,
        }
    }
}

/// Whether the last label (ignoring one trailing dot) is a number: all decimal digits, or `0x`
/// followed by hexadecimal digits (WHATWG URL, "ends in a number").
fn ends_in_a_number(input: &str) -> bool {
    let trimmed = input.strip_suffix('.').unwrap_or(input);
    let last = trimmed.rsplit('.').next().unwrap_or(trimmed);
    if !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    let hex = last.strip_prefix("0x").or_else(|| last.strip_prefix("0X"));
    hex.is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The WHATWG URL IPv4 parser: one to four parts, each decimal, octal (leading `0`) or hex
/// (`0x`); the last part fills the remaining bytes.
fn parse_ipv4(input: &str) -> Result<std::net::Ipv4Addr, HostError> {
    let invalid = || HostError::InvalidIpv4;
    let trimmed = input.strip_suffix('.').unwrap_or(input);
    let parts: Vec<&str> = trimmed.split('.').collect();
    if parts.len() > 4 {
        return Err(invalid());
    }
    let mut numbers = Vec::with_capacity(parts.len());
    for part in &parts {
        numbers.push(ipv4_number(part).ok_or_else(invalid)?);
    }
    let (last, init) = numbers.split_last().ok_or_else(invalid)?;
    if init.iter().any(|n| *n > 255) {
        return Err(invalid());
    }
    let last_bits = 8 * (5 - numbers.len() as u32);
    if last_bits < 64 && *last >= 1u64 << last_bits {
        return Err(invalid());
    }
    let mut address = *last;
    for (i, n) in init.iter().enumerate() {
        address += n << (8 * (3 - i as u32));
    }
    u32::try_from(address)
        .map(std::net::Ipv4Addr::from)
        .map_err(|_| invalid())
}

/// One IPv4 part: `0x`/`0X` hex, leading-`0` octal, or decimal; `None` if it is not a number
/// or does not fit 32 bits.
fn ipv4_number(part: &str) -> Option<u64> {
    let (digits, radix) =
        if let Some(hex) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
            (hex, 16)
        } else if part.len() > 1 && part.starts_with('0') {
            (&part[1..], 8)
        } else {
            (part, 10)
        };
    if digits.is_empty() {
        // "0x" alone is zero; an empty part is not a number.
        return (radix == 16).then_some(0);
    }
    let n = u64::from_str_radix(digits, radix).ok()?;
    (n <= u64::from(u32::MAX)).then_some(n)
}

impl<'a> From<&'a Host> for HostRef<'a> {
    fn from(host: &'a Host) -> Self {
        match host {
            Host::Dns(name) => Self::Dns(Cow::Borrowed(name)),
            Host::Ip(ip) => Self::Ip(*ip),
        }
    }
}

impl fmt::Display for HostRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dns(name) => f.write_str(name),
            Self::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

impl Hash for HostRef<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            Self::Dns(name) => hash_dns(name, state),
            Self::Ip(ip) => hash_ip(ip, state),
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dns(name) => f.write_str(name),
            Self::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

impl std::str::FromStr for Host {
    type Err = HostError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_and_trailing_dot() {
        assert_eq!(
            Host::parse("Mail.Example.ORG.").unwrap(),
            Host::Dns("mail.example.org".into())
        );
        assert_eq!(
            Host::parse("xn--bcher-kva.example").unwrap(),
            Host::Dns("xn--bcher-kva.example".into())
        );
    }

    #[test]
    fn recognises_ip_literals() {
        assert_eq!(
            Host::parse("192.0.2.7").unwrap(),
            Host::Ip("192.0.2.7".parse().unwrap())
        );
        assert_eq!(
            Host::parse("[::1]").unwrap(),
            Host::Ip("::1".parse().unwrap())
        );
        assert_eq!(
            Host::parse("::1").unwrap(),
            Host::Ip("::1".parse().unwrap())
        );
    }

    #[test]
    fn numeric_hosts_are_ipv4_addresses_as_browsers_read_them_or_errors() {
        for (input, ip) in [
            ("127.1", "127.0.0.1"),
            ("1.2.3.4.", "1.2.3.4"),
            ("0x7f.0.0.1", "127.0.0.1"),
            ("0177.0.0.1", "127.0.0.1"),
            ("2130706433", "127.0.0.1"),
            ("192.168.257", "192.168.1.1"),
            ("0x7F000001", "127.0.0.1"),
        ] {
            assert_eq!(
                Host::parse(input),
                Ok(Host::Ip(ip.parse().unwrap())),
                "{input}"
            );
        }
        for bad in [
            "999.1.1.1",
            "1.2.3.4.5",
            "256.0.0.1",
            "4294967296",
            "example.123",
            "1..2",
            "0x1g.1",
            "09.1.1.1",
        ] {
            assert_eq!(Host::parse(bad), Err(HostError::InvalidIpv4), "{bad}");
        }
        // A name whose last label is not a number stays a DNS name.
        assert_eq!(
            Host::parse("123.example"),
            Ok(Host::Dns("123.example".into()))
        );
    }

    #[test]
    fn borrowed_and_owned_hosts_hash_alike() {
        use std::hash::BuildHasher;
        let state = std::collections::hash_map::RandomState::new();
        for input in ["www.example.com", "WWW.Example.com.", "192.0.2.1", "[::1]"] {
            let owned = Host::parse(input).unwrap();
            let borrowed = HostRef::parse(input).unwrap();
            assert!(borrowed.matches(&owned));
            assert_eq!(state.hash_one(&owned), state.hash_one(&borrowed), "{input}");
        }
        assert!(matches!(
            HostRef::parse("a.example").unwrap(),
            HostRef::Dns(Cow::Borrowed(_))
        ));
    }

    #[test]
    fn refuses_each_kind_of_bad_host() {
        assert_eq!(Host::parse(""), Err(HostError::Empty));
        assert_eq!(Host::parse("."), Err(HostError::EmptyLabel));
        assert_eq!(Host::parse("a.example.."), Err(HostError::EmptyLabel));
        assert_eq!(Host::parse(".a.example"), Err(HostError::EmptyLabel));
        assert_eq!(Host::parse("a..b"), Err(HostError::EmptyLabel));
        assert_eq!(Host::parse(&"a".repeat(64)), Err(HostError::LabelTooLong));
        let long = [
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(63),
        ]
        .join(".");
        assert_eq!(Host::parse(&long), Err(HostError::TooLong { len: 255 }));
        assert_eq!(Host::parse("bücher.example"), Err(HostError::NotAscii));
        for (bad, ch, pos) in [
            ("a,b", ',', 1),
            ("a b", ' ', 1),
            ("a/b", '/', 1),
            ("a\nb", '\n', 1),
            ("a\0b", '\0', 1),
            ("*.example.com", '*', 0),
            ("a:443", ':', 1),
        ] {
            assert_eq!(
                Host::parse(bad),
                Err(HostError::InvalidCharacter {
                    character: ch,
                    position: pos
                })
            );
        }
    }
}
