//! The body of a Squid `new_certificate` request: `key=value` lines, then the signing CA's
//! certificate and key as PEM, then (after a space) the origin's certificate.

use rustls::pki_types::CertificateDer;

use crate::error::{Error, SquidError};
use crate::pem::find;

/// The largest body [`Request::parse`] accepts (Squid's replies are capped near 1 MB too).
pub const MAX_BODY_LEN: usize = 1 << 20;

/// How Squid wants the leaf signed (`Sign=`; Squid picks it with `sslproxy_cert_sign`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Sign {
    /// By the CA in the request, Squid's trusted CA: the origin was trusted (the default).
    Trusted,
    /// By the CA in the request, an untrusted CA Squid made at start: the origin was not trusted,
    /// and the client should not trust the leaf either.
    Untrusted,
    /// By the leaf's own key: the origin's certificate was self-signed.
    SelfSigned,
}

/// A parsed request body. Borrows the body.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Request<'a> {
    /// `host=`: the SNI, the CONNECT host or the intercepted address (IPv6 without brackets).
    pub host: &'a str,
    /// `setCommonName=`: the leaf is made for this name alone: the origin's subject with this
    /// commonName and a subjectAltName naming only it (without an origin, a host-only leaf).
    pub common_name: Option<&'a str>,
    /// `setValidAfter=on`: the leaf's notAfter is the CA's.
    pub not_after_from_ca: bool,
    /// `setValidBefore=on`: the leaf's notBefore is the CA's.
    pub not_before_from_ca: bool,
    /// `Sign=`.
    pub sign: Sign,
    /// `SignHash=` as given (default `SHA256`).
    pub sign_hash: &'a str,
    /// The PEM text holding the signing CA's certificate and private key.
    pub signing: &'a [u8],
    /// The origin's certificate (DER), when Squid had one.
    pub origin: Option<CertificateDer<'static>>,
}

const CERTIFICATE_MARK: &[u8] = b"-----BEGIN CERTIFICATE";

impl<'a> Request<'a> {
    /// Parses a body as the stock helper (`security_file_certgen`) does: parameter lines until
    /// the first line without `=` (CR LF tolerated; the first of duplicate keys wins; unknown
    /// keys ignored), then PEM. The origin certificate is whatever follows the second
    /// `-----BEGIN CERTIFICATE`.
    ///
    /// ```
    /// use certmint::squid::{Request, Sign};
    /// let body = b"host=www.example.com\nSign=signUntrusted\nSignHash=SHA256\n-----BEGIN CERTIFICATE-----\n...";
    /// let request = Request::parse(body)?;
    /// assert_eq!((request.host, request.sign), ("www.example.com", Sign::Untrusted));
    /// assert!(request.origin.is_none());
    /// # Ok::<(), certmint::Error>(())
    /// ```
    pub fn parse(body: &'a [u8]) -> Result<Self, Error> {
        if body.len() > MAX_BODY_LEN {
            return Err(SquidError::TooLarge {
                len: body.len(),
                max: MAX_BODY_LEN,
            }
            .into());
        }
        let mut host = None;
        let mut common_name = None;
        let mut sign = None;
        let mut sign_hash = None;
        let mut not_after_from_ca = None;
        let mut not_before_from_ca = None;
        let mut at = 0;
        while at < body.len() {
            let end = body[at..]
                .iter()
                .position(|b| *b == b'\n')
                .map_or(body.len(), |i| at + i);
            let line = trim_cr(&body[at..end]);
            if line.is_empty() {
                at = end + 1;
                continue;
            }
            let Some(eq) = line.iter().position(|b| *b == b'=') else {
                break; // the PEM part starts here
            };
            let key = &line[..eq];
            let value = std::str::from_utf8(&line[eq + 1..]).map_err(|_| SquidError::NotUtf8)?;
            let slot = match key {
                b"host" => &mut host,
                b"setCommonName" => &mut common_name,
                b"Sign" => &mut sign,
                b"SignHash" => &mut sign_hash,
                b"setValidAfter" => &mut not_after_from_ca,
                b"setValidBefore" => &mut not_before_from_ca,
                _ => {
                    at = end + 1;
                    continue;
                }
            };
            slot.get_or_insert(value);
            at = end + 1;
        }
        let pem = &body[at.min(body.len())..];
        let host = host.filter(|h| !h.is_empty()).ok_or(SquidError::NoHost)?;
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let sign = match sign.unwrap_or("signTrusted") {
            "signTrusted" => Sign::Trusted,
            "signUntrusted" => Sign::Untrusted,
            "signSelf" => Sign::SelfSigned,
            other => {
                return Err(SquidError::UnknownSign {
                    value: other.chars().take(64).collect(),
                }
                .into())
            }
        };
        let first = find(pem, CERTIFICATE_MARK).ok_or(SquidError::NoSigningCertificate)?;
        let after_first = first + CERTIFICATE_MARK.len();
        let second = find(&pem[after_first..], CERTIFICATE_MARK).map(|i| after_first + i);
        let (signing, origin) = match second {
            Some(at) => (&pem[..at], Some(origin_certificate(&pem[at..])?)),
            None => (pem, None),
        };
        Ok(Self {
            host,
            common_name: common_name.filter(|c| !c.is_empty()),
            not_after_from_ca: not_after_from_ca == Some("on"),
            not_before_from_ca: not_before_from_ca == Some("on"),
            sign,
            sign_hash: sign_hash.unwrap_or("SHA256"),
            signing,
            origin,
        })
    }
}

/// The first certificate of the PEM text from `-----BEGIN CERTIFICATE` on.
fn origin_certificate(pem: &[u8]) -> Result<CertificateDer<'static>, Error> {
    let mut certs = crate::pem::parse_certificates(pem)?;
    Ok(certs.swap_remove(0))
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::ThrowawayCa;
    use crate::KeyAlgorithm;

    fn body(params: &str, origin: Option<&CertificateDer<'_>>) -> Vec<u8> {
        let ca = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let mut b = params.as_bytes().to_vec();
        b.extend(crate::pem::encode_certificate(&ca.intermediate).as_bytes());
        b.extend(ca.intermediate_key.to_pem().as_bytes());
        if let Some(origin) = origin {
            b.push(b' ');
            b.extend(crate::pem::encode_certificate(origin).as_bytes());
        }
        b
    }

    #[test]
    fn every_key_has_the_stock_helpers_meaning() {
        let ca = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let b = body(
            "host=[::1]\r\nsetCommonName=cn.example\nsetValidAfter=on\nsetValidBefore=on\n\
             Sign=signSelf\nSignHash=SHA384\nhost=second.example\nfuture=ignored\n",
            Some(&ca.intermediate),
        );
        let r = Request::parse(&b).unwrap();
        assert_eq!(r.host, "::1"); // brackets stripped, the first host wins
        assert_eq!(r.common_name, Some("cn.example"));
        assert!(r.not_after_from_ca && r.not_before_from_ca);
        assert_eq!((r.sign, r.sign_hash), (Sign::SelfSigned, "SHA384"));
        assert_eq!(r.origin.as_ref(), Some(&ca.intermediate));
        assert!(r.signing.starts_with(b"-----BEGIN CERTIFICATE"));
        assert!(!r.signing.windows(5).any(|w| w == b" ----"));
    }

    #[test]
    fn defaults_are_signtrusted_sha256_and_no_origin() {
        let r_body = body("host=www.example.com\n", None);
        let r = Request::parse(&r_body).unwrap();
        assert_eq!(
            (r.sign, r.sign_hash, r.origin),
            (Sign::Trusted, "SHA256", None)
        );
        assert!(!r.not_after_from_ca && r.common_name.is_none());
    }

    #[test]
    fn bad_requests_are_typed_errors() {
        let e = |b: &[u8]| Request::parse(b).unwrap_err();
        assert!(matches!(
            e(&body("Sign=signTrusted\n", None)),
            Error::Squid(SquidError::NoHost)
        ));
        assert!(matches!(
            e(&body("host=a\nSign=signEverything\n", None)),
            Error::Squid(SquidError::UnknownSign { .. })
        ));
        assert!(matches!(
            e(b"host=a\nSign=signTrusted\n"),
            Error::Squid(SquidError::NoSigningCertificate)
        ));
        assert!(matches!(
            e(b"host=\xff\n"),
            Error::Squid(SquidError::NotUtf8)
        ));
        assert!(matches!(
            e(&vec![b'a'; MAX_BODY_LEN + 1]),
            Error::Squid(SquidError::TooLarge { .. })
        ));
        // A broken origin PEM after the second marker.
        let mut b = body("host=a\n", None);
        b.extend(b" -----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n");
        assert!(matches!(e(&b), Error::Encoding(_)), "{:?}", e(&b));
        assert!(matches!(e(b""), Error::Squid(SquidError::NoHost)));
    }
}
