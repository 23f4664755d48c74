//! The Squid helper's Rust half (`certmint::squid`): requests as Squid 5.7 writes them, replies
//! checked with rustls-webpki against the request's CA.

mod common;

use certmint::pem::{encode_certificate, parse_certificates};
use certmint::rustls::pki_types::{CertificateDer, UnixTime};
use certmint::squid::{SquidHelper, SquidSettings};
use certmint::testing::ThrowawayCa;
use certmint::{Error, KeyAlgorithm, SquidError};
use common::*;

/// A request body as Squid composes it (`composeRequest`): parameters, the signing CA's
/// certificate and key, then a space and the origin's certificate.
fn request(params: &str, ca: &ThrowawayCa, origin: Option<&CertificateDer<'_>>) -> Vec<u8> {
    let mut b = params.as_bytes().to_vec();
    b.extend(encode_certificate(&ca.intermediate).as_bytes());
    b.extend(ca.intermediate_key.to_pem().as_bytes());
    if let Some(origin) = origin {
        b.push(b' ');
        b.extend(encode_certificate(origin).as_bytes());
    }
    b
}

/// The leaf and the key of a reply.
fn reply_parts(reply: &[u8]) -> (CertificateDer<'static>, Vec<u8>) {
    let text = std::str::from_utf8(reply).unwrap();
    assert!(text.starts_with("-----BEGIN CERTIFICATE-----\n"), "{text}");
    assert_eq!(
        text.matches("BEGIN CERTIFICATE").count(),
        1,
        "no chain: {text}"
    );
    let key_at = text
        .find("-----BEGIN PRIVATE KEY-----")
        .expect("a PKCS#8 key");
    let leaf = parse_certificates(&reply[..key_at]).unwrap().remove(0);
    (leaf, reply[key_at..].to_vec())
}

fn spki_of(cert: &CertificateDer<'_>) -> Vec<u8> {
    let tbs = split(content(cert.as_ref())).remove(0);
    split(content(&tbs)).remove(6)
}

#[test]
fn a_trusted_clone_verifies_under_the_requests_ca_with_a_fresh_key() {
    let ca = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let origin = origin(
        &params_for(&["www.example.com", "example.com"]),
        KeyAlgorithm::Rsa2048,
    );
    let helper = SquidHelper::new(SquidSettings::default());
    let body = request(
        "host=www.example.com\nSign=signTrusted\nSignHash=SHA256\n",
        &ca,
        Some(&origin),
    );
    let reply = helper.answer(&body).unwrap();
    let (leaf, key) = reply_parts(reply.as_bytes());
    let chain = [leaf.clone(), ca.intermediate.clone()];
    webpki_verify(&chain, &ca.root, "example.com", UnixTime::now()).unwrap();
    // The origin's family (RSA), and neither the CA's key nor the origin's.
    let signer = certmint::ca::SoftwareSigner::from_key_bytes(&key).unwrap();
    assert_eq!(signer.key_algorithm(), KeyAlgorithm::Rsa2048);
    assert_ne!(spki_of(&leaf), spki_of(&ca.intermediate));
    assert_ne!(spki_of(&leaf), spki_of(&origin));
    // An identical request is answered from the cache; the same origin under signUntrusted
    // is not.
    assert_eq!(helper.answer(&body).unwrap(), reply);
    let untrusted = request(
        "host=www.example.com\nSign=signUntrusted\nSignHash=SHA256\n",
        &ca,
        Some(&origin),
    );
    assert_ne!(helper.answer(&untrusted).unwrap(), reply);
    helper.shutdown();
}

#[test]
fn client_first_mints_for_the_host_and_set_common_name_overrides_it() {
    let ca = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let helper = SquidHelper::new(SquidSettings::default());
    let reply = helper
        .answer(&request("host=shop.example\nSign=signTrusted\n", &ca, None))
        .unwrap();
    let (leaf, _) = reply_parts(reply.as_bytes());
    let chain = [leaf, ca.intermediate.clone()];
    webpki_verify(&chain, &ca.root, "shop.example", UnixTime::now()).unwrap();

    // With an origin, setCommonName keeps the origin's fields (as the stock helper does) but
    // replaces its commonName and names only the given host in the subjectAltName.
    let mut params = params_for(&["www.example.com", "example.com"]);
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "Origin Org");
    let origin = origin(&params, KeyAlgorithm::EcdsaP256);
    let reply = helper
        .answer(&request(
            "host=cn.example\nsetCommonName=cn.example\nSign=signTrusted\n",
            &ca,
            Some(&origin),
        ))
        .unwrap();
    let (leaf, _) = reply_parts(reply.as_bytes());
    let chain = [leaf.clone(), ca.intermediate.clone()];
    webpki_verify(&chain, &ca.root, "cn.example", UnixTime::now()).unwrap();
    for other in ["www.example.com", "example.com"] {
        assert!(webpki_verify(&chain, &ca.root, other, UnixTime::now()).is_err());
    }
    let subject =
        |c: &CertificateDer<'_>| split(content(&split(content(c.as_ref()))[0]))[5].clone();
    let (leaf_subject, origin_subject) = (subject(&leaf), subject(&origin));
    let has = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
    assert!(has(&leaf_subject, b"Origin Org") && has(&origin_subject, b"Origin Org"));
    assert!(has(&leaf_subject, b"cn.example") && !has(&leaf_subject, b"www.example.com"));
    // The origin's notAfter is kept (notBefore is clamped to the new CA's): a clone, not a
    // host-only leaf.
    let not_after = |c: &CertificateDer<'_>| {
        let tbs = split(content(c.as_ref())).remove(0);
        let validity = split(content(&tbs)).remove(4);
        split(content(&validity)).remove(1)
    };
    assert_eq!(not_after(&leaf), not_after(&origin));
    helper.shutdown();
}

#[test]
fn a_wildcard_host_from_a_peeked_origin_still_clones() {
    // After `peek`, Squid sends the origin's common name as host=, wildcard included.
    let ca = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let origin = origin(&params_for(&["*.multi.example"]), KeyAlgorithm::EcdsaP256);
    let helper = SquidHelper::new(SquidSettings::default());
    let reply = helper
        .answer(&request(
            "host=*.multi.example
",
            &ca,
            Some(&origin),
        ))
        .unwrap();
    let (leaf, _) = reply_parts(reply.as_bytes());
    let chain = [leaf, ca.intermediate.clone()];
    webpki_verify(&chain, &ca.root, "h1.multi.example", UnixTime::now()).unwrap();
    // Without an origin there is nothing to clone: the host must be a host.
    let err = helper
        .answer(&request(
            "host=*.multi.example
",
            &ca,
            None,
        ))
        .unwrap_err();
    assert!(matches!(err, Error::Host(_)), "{err}");
    helper.shutdown();
}

#[test]
fn set_valid_after_and_before_take_the_cas_validity() {
    let ca = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let origin = origin(&params_for(&["www.example.com"]), KeyAlgorithm::EcdsaP256);
    let helper = SquidHelper::new(SquidSettings::default());
    let reply = helper
        .answer(&request(
            "host=www.example.com\nsetValidAfter=on\nsetValidBefore=on\nSign=signTrusted\n",
            &ca,
            Some(&origin),
        ))
        .unwrap();
    let (leaf, _) = reply_parts(reply.as_bytes());
    let leaf = certmint::inspect::CertificateInfo::parse(&leaf).unwrap();
    let ca_info = certmint::inspect::CertificateInfo::parse(&ca.intermediate).unwrap();
    assert_eq!(leaf.not_before, ca_info.not_before);
    assert_eq!(leaf.not_after, ca_info.not_after);
    helper.shutdown();
}

#[test]
fn sign_self_gives_a_leaf_that_verifies_under_itself_alone() {
    let ca = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let origin = origin(&params_for(&["self.example"]), KeyAlgorithm::EcdsaP256);
    let helper = SquidHelper::new(SquidSettings::default());
    let reply = helper
        .answer(&request(
            "host=self.example\nSign=signSelf\n",
            &ca,
            Some(&origin),
        ))
        .unwrap();
    let (leaf, _) = reply_parts(reply.as_bytes());
    let info = certmint::inspect::CertificateInfo::parse(&leaf).unwrap();
    assert_eq!(info.issuer, info.subject);
    // Not under the CA...
    let chain = [leaf.clone(), ca.intermediate.clone()];
    assert!(webpki_verify(&chain, &ca.root, "self.example", UnixTime::now()).is_err());
    // ...but its signature is its own key's: openssl verifies it against itself.
    if have_openssl() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("leaf.pem"), encode_certificate(&leaf)).unwrap();
        let out = std::process::Command::new("openssl")
            .args([
                "verify",
                "-partial_chain",
                "-check_ss_sig",
                "-CAfile",
                "leaf.pem",
                "leaf.pem",
            ])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("leaf.pem: OK"),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    helper.shutdown();
}

#[test]
fn sign_hash_is_honoured_or_refused() {
    let p256 = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let p384 = ThrowawayCa::generate(KeyAlgorithm::EcdsaP384).unwrap();
    let helper = SquidHelper::new(SquidSettings::default());
    for (ca, hash, ok) in [
        (&p256, "SHA256", true),
        (&p256, "sha256", true),
        (&p384, "SHA384", true),
        (&p256, "SHA384", false),
        (&p384, "SHA256", false),
    ] {
        let r = helper.answer(&request(
            &format!("host=a.example\nSignHash={hash}\n"),
            ca,
            None,
        ));
        match (ok, r) {
            (true, Ok(_)) => {}
            (false, Err(Error::Squid(SquidError::UnsupportedSignHash { .. }))) => {}
            (_, other) => panic!("{hash}: {:?}", other.map(|_| ())),
        }
    }
    // An RSA CA signs with the digest asked for; the leaf says so and verifies.
    let rsa = ThrowawayCa::generate(KeyAlgorithm::Rsa2048).unwrap();
    for (hash, oid_last) in [("SHA256", 11u8), ("SHA384", 12), ("sha512", 13)] {
        let reply = helper
            .answer(&request(
                &format!("host=rsa.example\nSignHash={hash}\n"),
                &rsa,
                None,
            ))
            .unwrap_or_else(|e| panic!("{hash}: {e}"));
        let (leaf, _) = reply_parts(reply.as_bytes());
        let outer = split(content(leaf.as_ref()));
        // sha{256,384,512}WithRSAEncryption: 1.2.840.113549.1.1.{11,12,13}, in the TBS and
        // the outer signatureAlgorithm.
        let oid = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, oid_last];
        assert_eq!(content(&split(content(&outer[1]))[0]), oid, "{hash}");
        assert_eq!(split(content(&outer[0]))[2], outer[1], "{hash}");
        let chain = [leaf, rsa.intermediate.clone()];
        webpki_verify(&chain, &rsa.root, "rsa.example", UnixTime::now())
            .unwrap_or_else(|e| panic!("{hash}: {e:?}"));
    }
    let err = helper
        .answer(&request("host=rsa.example\nSignHash=SHA224\n", &rsa, None))
        .unwrap_err();
    assert!(
        matches!(&err, Error::Squid(SquidError::UnsupportedSignHash { supported, .. }) if supported.contains("SHA512")),
        "{err}"
    );
    for weak in ["SHA1", "MD5", "sha-1"] {
        let err = helper
            .answer(&request(
                &format!("host=a.example\nSignHash={weak}\n"),
                &p256,
                None,
            ))
            .unwrap_err();
        assert!(
            matches!(err, Error::Squid(SquidError::WeakSignHash { .. })),
            "{err}"
        );
    }
    helper.shutdown();
}

#[test]
fn a_refusing_policy_refuses_sign_untrusted_and_bad_cas_are_typed_errors() {
    let ca = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let mut settings = SquidSettings::default();
    settings.refuse_untrusted = true;
    let helper = SquidHelper::new(settings);
    let err = helper
        .answer(&request("host=a.example\nSign=signUntrusted\n", &ca, None))
        .unwrap_err();
    assert!(
        matches!(err, Error::Squid(SquidError::UntrustedRefused)),
        "{err}"
    );
    // A key that does not match the certificate.
    let other = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let mut body = b"host=a.example\n".to_vec();
    body.extend(encode_certificate(&ca.intermediate).as_bytes());
    body.extend(other.intermediate_key.to_pem().as_bytes());
    let err = helper.answer(&body).unwrap_err();
    assert!(matches!(err, Error::Issuer(_)), "{err}");
    // No key at all.
    let mut body = b"host=a.example\n".to_vec();
    body.extend(encode_certificate(&ca.intermediate).as_bytes());
    let err = helper.answer(&body).unwrap_err();
    assert!(matches!(err, Error::Encoding(_) | Error::Key(_)), "{err}");
    helper.shutdown();
}
