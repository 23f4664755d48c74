//! Host-only mints, validity policies, key families, serial derivation, CA key formats.

mod common;

use std::sync::Arc;
use std::time::Duration;

use certmint::rustls::pki_types::{CertificateDer, UnixTime};
use certmint::{
    ca::{Issuer, SoftwareSigner},
    keys::{KeyPool, KeyPoolConfig},
    mint::{Adjustments, MintPolicy, ValidityPolicy},
    testing::ThrowawayCa,
    KeyAlgorithm, MintRequest, Minter,
};
use common::*;
use x509_parser::prelude::*;

fn parse<'a>(der: &'a CertificateDer<'_>) -> X509Certificate<'a> {
    parse_x509_certificate(der.as_ref()).unwrap().1
}

fn key_usage(c: &X509Certificate<'_>) -> (bool, bool) {
    let ku = c.key_usage().unwrap().unwrap().value;
    (ku.digital_signature(), ku.key_encipherment())
}

fn unix(secs: i64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(secs as u64))
}

#[test]
fn host_only_leaves_follow_the_documented_shape() {
    let i = interception(KeyAlgorithm::EcdsaP256);
    let now = UnixTime::now();
    let minted = i
        .minter
        .mint(&MintRequest::for_host("Shop.Example.").at(now))
        .unwrap();
    let leaf = parse(minted.leaf());
    assert_eq!(leaf.subject().to_string(), "CN=shop.example");
    assert_eq!(minted.key().algorithm(), KeyAlgorithm::EcdsaP256);
    let san = leaf.subject_alternative_name().unwrap().unwrap();
    assert_eq!(
        san.value.general_names,
        vec![GeneralName::DNSName("shop.example")]
    );
    assert_eq!(key_usage(&leaf), (true, false));
    assert!(
        leaf.extended_key_usage()
            .unwrap()
            .unwrap()
            .value
            .server_auth
    );
    assert!(!leaf.basic_constraints().unwrap().unwrap().value.ca);
    let nb = leaf.validity().not_before.timestamp();
    let na = leaf.validity().not_after.timestamp();
    let t = now.as_secs() as i64;
    assert_eq!((nb, na), (t - 3600, t + 30 * 86_400));
    webpki_verify(minted.chain(), &i.ca.root, "shop.example", now).unwrap();

    // An IP literal gets an IP SAN and verifies as one.
    let minted = i
        .minter
        .mint(&MintRequest::for_host("[2001:db8::7]"))
        .unwrap();
    let leaf = parse(minted.leaf());
    let san = leaf.subject_alternative_name().unwrap().unwrap();
    assert_eq!(
        san.value.general_names,
        vec![GeneralName::IPAddress(
            &"2001:db8::7"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets()
        )]
    );
    webpki_verify(minted.chain(), &i.ca.root, "2001:db8::7", UnixTime::now()).unwrap();

    // A host too long for a CN: empty subject, critical SAN.
    let long = format!("{}.example", "x".repeat(60));
    let minted = i.minter.mint(&MintRequest::for_host(&long)).unwrap();
    let leaf = parse(minted.leaf());
    assert_eq!(leaf.subject().iter().count(), 0);
    assert!(leaf.subject_alternative_name().unwrap().unwrap().critical);
    webpki_verify(minted.chain(), &i.ca.root, &long, UnixTime::now()).unwrap();
    if have_openssl() {
        let dir = tempfile::tempdir().unwrap();
        openssl_verify(minted.chain(), &i.ca.root, &long, dir.path()).unwrap();
    }
}

#[test]
fn host_only_mints_under_every_ca_key_type_verify() {
    let dir = tempfile::tempdir().unwrap();
    let openssl = have_openssl();
    for alg in [
        KeyAlgorithm::EcdsaP384,
        KeyAlgorithm::Ed25519,
        KeyAlgorithm::Rsa3072,
    ] {
        let i = interception(alg);
        for leaf_alg in [
            KeyAlgorithm::EcdsaP256,
            KeyAlgorithm::Rsa2048,
            KeyAlgorithm::Ed25519,
        ] {
            let req = MintRequest::for_host("every.example").with_key_algorithm(leaf_alg);
            let minted = i.minter.mint(&req).unwrap();
            assert_eq!(minted.key().algorithm(), leaf_alg);
            assert_eq!(key_usage(&parse(minted.leaf())), (true, leaf_alg.is_rsa()));
            webpki_verify(minted.chain(), &i.ca.root, "every.example", UnixTime::now())
                .unwrap_or_else(|e| panic!("{alg}/{leaf_alg}: {e:?}"));
            if openssl {
                openssl_verify(minted.chain(), &i.ca.root, "every.example", dir.path())
                    .unwrap_or_else(|e| panic!("{alg}/{leaf_alg}: {e}"));
            }
        }
    }
}

#[test]
fn a_leaf_of_another_family_gets_rederived_key_usage() {
    let i = interception(KeyAlgorithm::EcdsaP256);
    let mut p = params_for(&["family.example"]);
    p.key_usages = vec![
        rcgen::KeyUsagePurpose::DigitalSignature,
        rcgen::KeyUsagePurpose::KeyEncipherment,
    ];
    let rsa_origin = origin(&p, KeyAlgorithm::Rsa2048);
    // Same family: copied as is.
    let same = i.minter.mint(&MintRequest::clone_of(&rsa_origin)).unwrap();
    assert_eq!(same.key().algorithm(), KeyAlgorithm::Rsa2048);
    assert_eq!(key_usage(&parse(same.leaf())), (true, true));
    assert!(!same
        .adjustments()
        .contains(Adjustments::REDERIVED_KEY_USAGE));
    // An EC leaf for an RSA origin: keyEncipherment is gone (RFC 8813).
    let ec = i
        .minter
        .mint(&MintRequest::clone_of(&rsa_origin).with_key_algorithm(KeyAlgorithm::EcdsaP256))
        .unwrap();
    assert_eq!(key_usage(&parse(ec.leaf())), (true, false));
    assert!(ec
        .adjustments()
        .contains(Adjustments::REDERIVED_KEY_USAGE | Adjustments::CHANGED_KEY_FAMILY));
    // The critical flag is kept.
    assert!(parse(ec.leaf()).key_usage().unwrap().unwrap().critical);
    webpki_verify(ec.chain(), &i.ca.root, "family.example", UnixTime::now()).unwrap();
    // Another RSA size is the same family: copied.
    let bigger = i
        .minter
        .mint(&MintRequest::clone_of(&rsa_origin).with_key_algorithm(KeyAlgorithm::Rsa3072))
        .unwrap();
    assert_eq!(bigger.key().algorithm(), KeyAlgorithm::Rsa3072);
    assert!(!bigger
        .adjustments()
        .contains(Adjustments::REDERIVED_KEY_USAGE));
}

#[test]
fn the_rich_origin_reports_what_was_dropped() {
    let i = interception(KeyAlgorithm::EcdsaP256);
    let mut p = params_for(&["report.example"]);
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    p.key_usages.push(rcgen::KeyUsagePurpose::KeyCertSign);
    p.custom_extensions
        .push(rcgen::CustomExtension::from_oid_content(
            &[1, 3, 6, 1, 4, 1, 11129, 2, 4, 2],
            tlv(0x04, &[0, 0]),
        ));
    p.custom_extensions
        .push(rcgen::CustomExtension::from_oid_content(
            &[1, 3, 6, 1, 5, 5, 7, 1, 24],
            tlv(0x30, &[2, 1, 5]),
        ));
    let minted = i
        .minter
        .mint(&MintRequest::clone_of(&origin(&p, KeyAlgorithm::EcdsaP256)))
        .unwrap();
    let a = minted.adjustments();
    for expected in [
        Adjustments::DROPPED_SCT_LIST,
        Adjustments::DROPPED_MUST_STAPLE,
        Adjustments::MADE_NOT_CA,
        Adjustments::REMOVED_CA_KEY_USAGES,
    ] {
        assert!(a.contains(expected), "{a:?} lacks {expected:?}");
    }
    assert!(!a.contains(Adjustments::ADDED_SAN));
    assert!(a.descriptions().any(|d| d == "dropped SCT list"));
}

#[test]
fn a_reused_rsa_key_never_crosses_issuers() {
    // One pool for a trusted and an untrusted CA, as a proxy that mirrors distrust has.
    let pool = Arc::new(KeyPool::new({
        let mut v = KeyPoolConfig::default();
        v.background = false;
        v
    }));
    let trusted = Minter::new(
        interception(KeyAlgorithm::EcdsaP256)
            .minter
            .issuer()
            .unwrap(),
        Arc::clone(&pool),
        MintPolicy::default(),
    );
    let untrusted = Minter::new(
        interception(KeyAlgorithm::EcdsaP384)
            .minter
            .issuer()
            .unwrap(),
        Arc::clone(&pool),
        MintPolicy::default(),
    );
    let rsa = |m: &Minter, host: &str| {
        m.mint(&MintRequest::for_host(host).with_key_algorithm(KeyAlgorithm::Rsa2048))
            .unwrap()
    };
    let t1 = rsa(&trusted, "a.example");
    let u1 = rsa(&untrusted, "b.example");
    let t2 = rsa(&trusted, "c.example");
    assert!(Arc::ptr_eq(t1.key(), t2.key()), "reused within one issuer");
    assert!(!Arc::ptr_eq(t1.key(), u1.key()), "never across issuers");
}

#[test]
fn netscape_ca_bits_never_make_a_clone_a_ca() {
    let i = interception(KeyAlgorithm::EcdsaP256);
    // No basicConstraints, and nsCertType = SSL server + SSL CA.
    let mut p = params_for(&["netscape.example"]);
    p.custom_extensions
        .push(rcgen::CustomExtension::from_oid_content(
            &[2, 16, 840, 1, 113730, 1, 1],
            vec![0x03, 0x02, 0x02, 0x44],
        ));
    let origin = origin(&p, KeyAlgorithm::EcdsaP256);
    let minted = i.minter.mint(&MintRequest::clone_of(&origin)).unwrap();
    assert!(minted
        .adjustments()
        .contains(Adjustments::DROPPED_NS_CERT_TYPE_CA));
    let (_, leaf) = parse_x509_certificate(minted.leaf().as_ref()).unwrap();
    let bc = leaf.basic_constraints().unwrap().unwrap();
    assert!(bc.critical && !bc.value.ca, "explicit critical CA:FALSE");
    assert!(leaf
        .extensions()
        .iter()
        .all(|e| e.oid.to_id_string() != "2.16.840.1.113730.1.1"));
    if have_openssl() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(
            tmp.path().join("leaf.pem"),
            test_cert_pem(minted.leaf().as_ref()),
        )
        .unwrap();
        let out = String::from_utf8(openssl_ok(
            tmp.path(),
            &["x509", "-in", "leaf.pem", "-noout", "-purpose"],
        ))
        .unwrap();
        assert!(out.contains("SSL server CA : No"), "{out}");
        assert!(out.contains("SSL server : Yes"), "{out}");
    }
}

#[test]
fn a_non_critical_ca_false_becomes_critical_and_an_absent_one_is_added() {
    let i = interception(KeyAlgorithm::EcdsaP256);
    for is_ca in [rcgen::IsCa::NoCa, rcgen::IsCa::ExplicitNoCa] {
        let mut p = params_for(&["bc.example"]);
        p.is_ca = is_ca;
        let origin = origin(&p, KeyAlgorithm::EcdsaP256);
        let minted = i.minter.mint(&MintRequest::clone_of(&origin)).unwrap();
        let (_, leaf) = parse_x509_certificate(minted.leaf().as_ref()).unwrap();
        let bc = leaf.basic_constraints().unwrap().unwrap();
        assert!(bc.critical && !bc.value.ca);
        assert!(!minted.adjustments().contains(Adjustments::MADE_NOT_CA));
    }
}

fn minter_with(policy: MintPolicy, alg: KeyAlgorithm) -> Minter {
    let i = interception(alg);
    Minter::new(
        i.minter.issuer().unwrap(),
        Arc::new(KeyPool::inline()),
        policy,
    )
}

#[test]
fn validity_policies() {
    let now = UnixTime::now();
    let t = now.as_secs() as i64;
    let day = ::time::Duration::days(1);
    let mut p = params_for(&["validity.example"]);
    let start = ::time::OffsetDateTime::now_utc() - day * 100;
    p.not_before = start;
    p.not_after = start + day * 2000; // longer than 825 days
    let long = origin(&p, KeyAlgorithm::EcdsaP256);
    let o = parse(&long);
    let (onb, ona) = (
        o.validity().not_before.timestamp(),
        o.validity().not_after.timestamp(),
    );

    // Default: clamped to 825 days, containing now, within the origin's window.
    let minted = interception(KeyAlgorithm::EcdsaP256)
        .minter
        .mint(&MintRequest::clone_of(&long).at(now))
        .unwrap();
    let l = parse(minted.leaf());
    let (nb, na) = (
        l.validity().not_before.timestamp(),
        l.validity().not_after.timestamp(),
    );
    assert_eq!(na - nb, 825 * 86_400);
    assert!(nb >= onb && na <= ona && nb <= t && t < na, "{nb} {na} {t}");
    assert!(minted.adjustments().contains(Adjustments::CLAMPED_VALIDITY));

    // An ordinary origin's validity (inside the issuer's) is copied byte for byte.
    let mut p = params_for(&["validity.example"]);
    p.not_before = ::time::OffsetDateTime::now_utc() - ::time::Duration::minutes(30);
    let short = origin(&p, KeyAlgorithm::EcdsaP256);
    let minted = interception(KeyAlgorithm::EcdsaP256)
        .minter
        .mint(&MintRequest::clone_of(&short))
        .unwrap();
    assert_eq!(parse(minted.leaf()).validity(), parse(&short).validity());
    assert!(!minted.adjustments().contains(Adjustments::CLAMPED_VALIDITY));

    // Mirror exactly.
    let exact = minter_with(
        {
            let mut v = MintPolicy::default();
            v.validity = ValidityPolicy::MirrorExact;
            v
        },
        KeyAlgorithm::EcdsaP256,
    );
    let minted = exact.mint(&MintRequest::clone_of(&long)).unwrap();
    assert_eq!(parse(minted.leaf()).validity(), o.validity());

    // Fixed window.
    let fixed = minter_with(
        {
            let mut v = MintPolicy::default();
            v.validity = ValidityPolicy::Fixed {
                backdate: Duration::from_secs(600),
                lifetime: Duration::from_secs(7 * 86_400),
            };
            v
        },
        KeyAlgorithm::EcdsaP256,
    );
    let l = parse(
        fixed
            .mint(&MintRequest::clone_of(&long).at(now))
            .unwrap()
            .leaf(),
    )
    .validity()
    .clone();
    assert_eq!(
        (l.not_before.timestamp(), l.not_after.timestamp()),
        (t - 600, t + 7 * 86_400)
    );

    // Clamped to the issuer: the throwaway intermediate lives 5 years.
    let issuer = parse(&interception(KeyAlgorithm::EcdsaP256).ca.intermediate);
    let mut p = params_for(&["validity.example"]);
    p.not_after = ::time::OffsetDateTime::now_utc() + day * 6 * 365;
    let beyond = origin(&p, KeyAlgorithm::EcdsaP256);
    let exact_clamp = minter_with(
        {
            let mut v = MintPolicy::default();
            v.validity = ValidityPolicy::Mirror {
                max_lifetime: Duration::from_secs(10 * 365 * 86_400),
            };
            v
        },
        KeyAlgorithm::EcdsaP256,
    );
    let l = parse(
        exact_clamp
            .mint(&MintRequest::clone_of(&beyond))
            .unwrap()
            .leaf(),
    )
    .validity()
    .clone();
    assert_eq!(
        l.not_after.timestamp(),
        issuer.validity().not_after.timestamp()
    );

    // An expired origin gives an expired leaf, not an error.
    let mut p = params_for(&["validity.example"]);
    p.not_before = ::time::OffsetDateTime::now_utc() - day * 30;
    p.not_after = ::time::OffsetDateTime::now_utc() - day;
    let expired = origin(&p, KeyAlgorithm::EcdsaP256);
    let minted = interception(KeyAlgorithm::EcdsaP256)
        .minter
        .mint(&MintRequest::clone_of(&expired))
        .unwrap();
    assert!(minted.not_after().as_secs() < now.as_secs());
    let _ = unix(0);
}

#[test]
fn serials_take_random_bits_besides_the_content_hash() {
    // RSA leaf keys are reused, so the same origin at the same time gives the same TBS but for
    // the serial; the serial's random bits make each mint a distinct certificate.
    let i = interception(KeyAlgorithm::Rsa2048);
    let minter = Minter::new(
        i.minter.issuer().unwrap(),
        Arc::new(KeyPool::new({
            let mut v = KeyPoolConfig::default();
            v.background = false;
            v
        })),
        MintPolicy::default(),
    );
    let mut p = params_for(&["serial.example"]);
    p.subject_alt_names.clear();
    let o = origin(&p, KeyAlgorithm::Rsa2048);
    let now = UnixTime::now();
    let a = minter
        .mint(
            &MintRequest::clone_of(&o)
                .with_host("serial.example")
                .at(now),
        )
        .unwrap();
    let b = minter
        .mint(
            &MintRequest::clone_of(&o)
                .with_host("serial.example")
                .at(now),
        )
        .unwrap();
    assert!(Arc::ptr_eq(a.key(), b.key()), "the RSA key was reused");
    // Identical content, reused key: still two serials (70 random bits each), never one
    // issuer+serial with two signatures.
    assert_ne!(a.serial(), b.serial());
    assert_ne!(a.leaf(), b.leaf());
    // The last 11 octets come from the content hash: the same content, the same tail.
    assert_eq!(a.serial()[9..], b.serial()[9..]);
    // Any difference in content gives another serial: the host shapes the SAN here...
    let c = minter
        .mint(&MintRequest::clone_of(&o).with_host("other.example").at(now))
        .unwrap();
    assert_ne!(a.serial(), c.serial());
    // ... and the time shapes nothing for a mirrored validity, but does for host-only leaves.
    let d = minter
        .mint(
            &MintRequest::for_host("serial.example")
                .with_key_algorithm(KeyAlgorithm::Rsa2048)
                .at(now),
        )
        .unwrap();
    let e = minter
        .mint(
            &MintRequest::for_host("serial.example")
                .with_key_algorithm(KeyAlgorithm::Rsa2048)
                .at(unix(now.as_secs() as i64 + 1)),
        )
        .unwrap();
    assert_ne!(d.serial(), e.serial());
    // Fresh EC keys: every mint differs.
    let ec = &interception(KeyAlgorithm::EcdsaP256).minter;
    let req = MintRequest::clone_of(&o)
        .with_key_algorithm(KeyAlgorithm::EcdsaP256)
        .at(now);
    let s1 = *ec.mint(&req).unwrap().serial();
    let s2 = *ec.mint(&req).unwrap().serial();
    assert_ne!(s1, s2);
}

/// Keys as openssl writes them: SEC1 `EC PRIVATE KEY`, PKCS#1 `RSA PRIVATE KEY`, PKCS#8.
#[test]
fn ca_keys_in_every_openssl_format_are_read() {
    if !have_openssl() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| openssl_ok(dir.path(), args);
    let cases: &[(&str, &[&str], KeyAlgorithm, &str)] = &[
        (
            "p256.pem",
            &[
                "ecparam",
                "-name",
                "prime256v1",
                "-genkey",
                "-noout",
                "-out",
                "p256.pem",
            ],
            KeyAlgorithm::EcdsaP256,
            "EC PRIVATE KEY",
        ),
        (
            "p384.pem",
            &[
                "ecparam",
                "-name",
                "secp384r1",
                "-genkey",
                "-noout",
                "-out",
                "p384.pem",
            ],
            KeyAlgorithm::EcdsaP384,
            "EC PRIVATE KEY",
        ),
        (
            "ed.pem",
            &["genpkey", "-algorithm", "ed25519", "-out", "ed.pem"],
            KeyAlgorithm::Ed25519,
            "PRIVATE KEY",
        ),
        (
            "rsa.pem",
            &["genrsa", "-traditional", "-out", "rsa.pem", "2048"],
            KeyAlgorithm::Rsa2048,
            "RSA PRIVATE KEY",
        ),
        (
            "rsa8.pem",
            &[
                "genpkey",
                "-algorithm",
                "rsa",
                "-pkeyopt",
                "rsa_keygen_bits:3072",
                "-out",
                "rsa8.pem",
            ],
            KeyAlgorithm::Rsa3072,
            "PRIVATE KEY",
        ),
    ];
    for (file, gen, alg, label) in cases {
        run(gen);
        let pem = std::fs::read(dir.path().join(file)).unwrap();
        assert!(
            String::from_utf8_lossy(&pem).contains(&format!("BEGIN {label}")),
            "{file}"
        );
        let expected_spki = run(&["pkey", "-in", file, "-pubout", "-outform", "DER"]);
        let signer = SoftwareSigner::from_key_bytes(&pem).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(signer.key_algorithm(), *alg, "{file}");
        assert_eq!(
            certmint::ca::Signer::subject_public_key_info(&signer).as_ref(),
            &expected_spki[..],
            "{file}"
        );
        // DER too.
        let der = run(&["pkey", "-in", file, "-outform", "DER"]);
        let signer =
            SoftwareSigner::from_key_bytes(&der).unwrap_or_else(|e| panic!("{file} DER: {e}"));
        assert_eq!(
            certmint::ca::Signer::subject_public_key_info(&signer).as_ref(),
            &expected_spki[..]
        );
        // A CA made by openssl with this key mints leaves that openssl verifies.
        run(&[
            "req",
            "-x509",
            "-new",
            "-key",
            file,
            "-subj",
            "/CN=openssl CA",
            "-days",
            "2",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-out",
            "ca.pem",
        ]);
        let ca_pem = std::fs::read(dir.path().join("ca.pem")).unwrap();
        let issuer = Issuer::from_pem(&ca_pem, &pem).unwrap_or_else(|e| panic!("{file}: {e}"));
        let root = certmint::pem::parse_certificates(&ca_pem)
            .unwrap()
            .remove(0);
        assert_eq!(issuer.chain().len(), 1, "a self-signed CA is not served");
        let minter = Minter::new(
            Arc::new(issuer),
            Arc::new(KeyPool::inline()),
            MintPolicy::default(),
        );
        let minted = minter
            .mint(&MintRequest::for_host("openssl.example"))
            .unwrap();
        let chain = [minted.leaf().clone(), root.clone()];
        openssl_verify(&chain, &root, "openssl.example", dir.path())
            .unwrap_or_else(|e| panic!("{file}: {e}"));
    }
}

#[test]
fn the_throwaway_hierarchy_is_what_ca_init_promises() {
    let ca = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let root = parse(&ca.root);
    let inter = parse(&ca.intermediate);
    let now = ::time::OffsetDateTime::now_utc().unix_timestamp();
    let days = |c: &X509Certificate<'_>| (c.validity().not_after.timestamp() - now + 60) / 86_400;
    assert_eq!(days(&root), 3650);
    assert_eq!(days(&inter), 5 * 365);
    for c in [&root, &inter] {
        let backdate = now - c.validity().not_before.timestamp();
        assert!(
            (3590..=3700).contains(&backdate),
            "backdated 1 hour: {backdate}"
        );
        assert!(c.basic_constraints().unwrap().unwrap().value.ca);
        let ku = c.key_usage().unwrap().unwrap().value;
        assert!(ku.key_cert_sign() && ku.crl_sign());
    }
    assert_eq!(
        inter
            .basic_constraints()
            .unwrap()
            .unwrap()
            .value
            .path_len_constraint,
        Some(1)
    );
    assert!(
        inter
            .extensions()
            .iter()
            .any(|e| e.oid.to_id_string() == "2.5.29.35"),
        "AKI"
    );
    assert!(
        inter
            .extensions()
            .iter()
            .any(|e| e.oid.to_id_string() == "2.5.29.14"),
        "SKI"
    );
}
