//! CRLs and the record of issued sub-CAs: CRLs checked by OpenSSL (`crl -verify`, `verify
//! -crl_check`) and GnuTLS (`certtool --verify`), sub-CAs revoked through the record and
//! replaced by a running rotating issuer, CRLs signed through a SoftHSM2 token.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use certmint::ca::{
    IssuanceRecord, Issuer, IssuerOptions, RotatingIssuer, RotationPolicy, Signer, SoftwareSigner,
};
use certmint::clock::{Clock, ManualClock};
use certmint::keys::KeyPool;
use certmint::mint::MintPolicy;
use certmint::revocation::{Crl, RevocationReason, RevocationStore, RevokedCertificate};
use certmint::rustls::pki_types::{CertificateDer, UnixTime};
use certmint::testing::ThrowawayCa;
use certmint::{Error, KeyAlgorithm, MintRequest, Minter, RevocationError};
use common::*;

fn pem(certs: &[&CertificateDer<'_>]) -> String {
    certs.iter().map(|c| test_cert_pem(c.as_ref())).collect()
}

fn have_certtool() -> bool {
    if Command::new("certtool").arg("--version").output().is_ok() {
        return true;
    }
    assert!(!require_tools(), "certtool (gnutls-bin) is required in CI");
    eprintln!("SKIPPED: certtool not found (apt-get install gnutls-bin)");
    false
}

fn issuer_of(ca: &ThrowawayCa, signer: Arc<dyn Signer>) -> Arc<Issuer> {
    let mut options = IssuerOptions::default();
    options.crl_base_url = "http://crl.test/certmint".into();
    Arc::new(
        Issuer::new(
            vec![ca.intermediate.clone(), ca.root.clone()],
            signer,
            options,
        )
        .unwrap(),
    )
}

#[test]
fn a_crl_has_the_rfc_5280_shape_and_openssl_verifies_it() {
    if !have_openssl() {
        return;
    }
    for alg in [
        KeyAlgorithm::EcdsaP256,
        KeyAlgorithm::Rsa2048,
        KeyAlgorithm::Ed25519,
    ] {
        let ca = ThrowawayCa::generate(alg).unwrap();
        let issuer = ca.issuer().unwrap();
        let now = SystemTime::now();
        let revoked = [
            RevokedCertificate::new(
                vec![0x01, 0x02, 0x03],
                UnixTime::now(),
                RevocationReason::KeyCompromise,
            ),
            RevokedCertificate::new(
                vec![0x80, 0xff],
                UnixTime::now(),
                RevocationReason::Unspecified,
            ),
        ];
        let crl = Crl::sign(&issuer, now, now + Duration::from_secs(3600), &revoked).unwrap();
        assert_eq!(crl.len(), 2);
        let ms = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        assert_eq!(crl.number(), ms);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), pem(&[&ca.intermediate])).unwrap();
        std::fs::write(dir.path().join("crl.der"), crl.der()).unwrap();
        std::fs::write(dir.path().join("crl.pem"), crl.to_pem()).unwrap();
        let (ok, text) = run_in(
            dir.path(),
            "openssl",
            &[
                "crl", "-inform", "DER", "-in", "crl.der", "-CAfile", "ca.pem", "-noout", "-text",
            ],
        );
        assert!(ok && text.contains("verify OK"), "{alg:?}: {text}");
        assert!(text.contains("Version 2"), "{text}");
        assert!(text.contains("Key Compromise"), "{text}");
        assert!(text.contains("Serial Number: 010203"), "{text}");
        assert!(text.contains("Serial Number: 80FF"), "{text}");
        assert!(
            text.contains(&format!("X509v3 CRL Number: \n                {ms}")),
            "{text}"
        );
        assert!(text.contains("X509v3 Authority Key Identifier"), "{text}");
        // The issuer is the CA's subject byte for byte (GnuTLS compares raw bytes).
        let (_, subject) = run_in(
            dir.path(),
            "openssl",
            &[
                "x509", "-in", "ca.pem", "-noout", "-subject", "-nameopt", "RFC2253",
            ],
        );
        let (_, crl_issuer) = run_in(
            dir.path(),
            "openssl",
            &[
                "crl", "-in", "crl.pem", "-noout", "-issuer", "-nameopt", "RFC2253",
            ],
        );
        assert_eq!(
            subject.trim().trim_start_matches("subject="),
            crl_issuer.trim().trim_start_matches("issuer=")
        );
        // A tampered CRL fails OpenSSL's check.
        let mut bad = crl.der().to_vec();
        let at = bad.len() - 10;
        bad[at] ^= 1;
        std::fs::write(dir.path().join("bad.der"), bad).unwrap();
        let (_, text) = run_in(
            dir.path(),
            "openssl",
            &[
                "crl", "-inform", "DER", "-in", "bad.der", "-CAfile", "ca.pem", "-noout",
            ],
        );
        assert!(!text.contains("verify OK"), "{text}");
    }
}

#[test]
fn a_crl_refuses_a_lifetime_that_ends_before_it_starts() {
    let ca = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let issuer = ca.issuer().unwrap();
    let now = SystemTime::now();
    let err = Crl::sign(&issuer, now, now, &[]).unwrap_err();
    assert!(
        matches!(err, Error::Revocation(RevocationError::BadLifetime)),
        "{err}"
    );
    assert!("nonsense".parse::<RevocationReason>().is_err());
    for r in RevocationReason::ALL {
        assert_eq!(r.name().parse::<RevocationReason>().unwrap(), r);
        assert_eq!(RevocationReason::from_code(r.code()), Some(r));
    }
}

struct Hierarchy {
    ca: ThrowawayCa,
    store: Arc<RevocationStore>,
    rotating: Arc<RotatingIssuer>,
    clock: Arc<ManualClock>,
    minter: Minter,
    _dir: tempfile::TempDir,
}

fn hierarchy(parent_signer: Option<Arc<dyn Signer>>) -> Hierarchy {
    let ca = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = RevocationStore::open(dir.path().join("revocation")).unwrap();
    let signer = parent_signer.unwrap_or_else(|| {
        Arc::new(SoftwareSigner::from_private_key(&ca.intermediate_key).unwrap())
    });
    let parent = issuer_of(&ca, signer);
    let clock = Arc::new(ManualClock::starting_now());
    let mut policy = RotationPolicy::default();
    policy.options.crl_base_url = "http://crl.test/certmint".into();
    policy.record = Some(Arc::clone(&store) as Arc<dyn IssuanceRecord>);
    let rotating = Arc::new(
        RotatingIssuer::new(parent, policy, Arc::clone(&clock) as Arc<dyn Clock>).unwrap(),
    );
    let minter = Minter::rotating(
        Arc::clone(&rotating),
        Arc::new(KeyPool::inline()),
        MintPolicy::default(),
    );
    Hierarchy {
        ca,
        store,
        rotating,
        clock,
        minter,
        _dir: dir,
    }
}

/// `openssl verify -crl_check` of `cert` under `untrusted` (PEM file names) with `crl`.
fn openssl_crl_check(dir: &Path, cert: &str, untrusted: &str, crl: &str) -> (bool, String) {
    run_in(
        dir,
        "openssl",
        &[
            "verify",
            "-crl_check",
            "-CAfile",
            "root.pem",
            "-untrusted",
            untrusted,
            "-CRLfile",
            crl,
            cert,
        ],
    )
}

#[test]
fn a_revoked_sub_ca_is_revoked_for_openssl_and_gnutls_and_is_replaced_within_seconds() {
    if !have_openssl() {
        return;
    }
    let h = hierarchy(None);
    let minted = h
        .minter
        .mint(&MintRequest::for_host("www.example.com"))
        .unwrap();
    let sub_ca = h.rotating.current().unwrap();
    assert_eq!(minted.chain()[1], *sub_ca.certificate());
    let records = h.store.sub_cas().unwrap();
    assert_eq!(records.len(), 1);
    let record = &records[0];
    assert_eq!(record.key_id, hex(sub_ca.key_id()));
    assert!(record.revoked.is_none());

    let out = tempfile::tempdir().unwrap();
    let parent = h.rotating.parent();
    let files = h.store.publish(&[parent], out.path()).unwrap();
    assert_eq!(files.len(), 2, "{files:?}");
    // The CRL files are where the certificates' CDPs point.
    let cdp_name = |c: &CertificateDer<'_>| {
        let text = test_cert_pem(c.as_ref());
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("c.pem"), text).unwrap();
        let (_, t) = run_in(
            dir.path(),
            "openssl",
            &[
                "x509",
                "-in",
                "c.pem",
                "-noout",
                "-ext",
                "crlDistributionPoints",
            ],
        );
        let url = t
            .lines()
            .find_map(|l| l.trim().strip_prefix("URI:"))
            .unwrap()
            .to_owned();
        url.rsplit('/').next().unwrap().to_owned()
    };
    let leaf_crl = cdp_name(&minted.chain()[0]);
    let sub_ca_crl = cdp_name(&minted.chain()[1]);
    assert_eq!(leaf_crl, format!("{}.crl", record.key_id));
    assert_eq!(sub_ca_crl, format!("{}.crl", hex(parent.key_id())));
    let d = out.path();
    for name in [&leaf_crl, &sub_ca_crl] {
        assert!(d.join(name).exists(), "{name}");
        let pem_name = format!("{name}.pem");
        let (ok, text) = run_in(
            d,
            "openssl",
            &["crl", "-inform", "DER", "-in", name, "-out", &pem_name],
        );
        assert!(ok, "{text}");
    }
    std::fs::write(d.join("root.pem"), pem(&[&h.ca.root])).unwrap();
    std::fs::write(d.join("intermediate.pem"), pem(&[&h.ca.intermediate])).unwrap();
    std::fs::write(d.join("sub.pem"), pem(&[&minted.chain()[1]])).unwrap();
    std::fs::write(
        d.join("chain.pem"),
        pem(&[&minted.chain()[1], &h.ca.intermediate]),
    )
    .unwrap();
    std::fs::write(d.join("leaf.pem"), pem(&[&minted.chain()[0]])).unwrap();
    let leaf_crl_pem = format!("{leaf_crl}.pem");
    let sub_crl_pem = format!("{sub_ca_crl}.pem");
    let (ok, text) = openssl_crl_check(d, "leaf.pem", "chain.pem", &leaf_crl_pem);
    assert!(ok && text.contains("OK"), "leaf before: {text}");
    let (ok, text) = openssl_crl_check(d, "sub.pem", "intermediate.pem", &sub_crl_pem);
    assert!(ok && text.contains("OK"), "sub-CA before: {text}");
    // The whole chain, every CRL checked: the test root's own CRL from `openssl ca -gencrl`
    // (the root has no CDP).
    std::fs::write(d.join("root-key.pem"), h.ca.root_key.to_pem().as_bytes()).unwrap();
    std::fs::write(d.join("index.txt"), "").unwrap();
    std::fs::write(d.join("crlnumber"), "01\n").unwrap();
    std::fs::write(
        d.join("ca.cnf"),
        "[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\ncrlnumber = crlnumber\n\
         default_md = sha256\ndefault_crl_days = 1\n",
    )
    .unwrap();
    let (ok, text) = run_in(
        d,
        "openssl",
        &[
            "ca",
            "-gencrl",
            "-config",
            "ca.cnf",
            "-keyfile",
            "root-key.pem",
            "-cert",
            "root.pem",
            "-out",
            "root.crl",
        ],
    );
    assert!(ok, "{text}");
    let crl_check_all = |leaf_crl: &str, sub_crl: &str| {
        run_in(
            d,
            "openssl",
            &[
                "verify",
                "-crl_check_all",
                "-CAfile",
                "root.pem",
                "-untrusted",
                "chain.pem",
                "-CRLfile",
                leaf_crl,
                "-CRLfile",
                sub_crl,
                "-CRLfile",
                "root.crl",
                "leaf.pem",
            ],
        )
    };
    let (ok, text) = crl_check_all(&leaf_crl_pem, &sub_crl_pem);
    assert!(ok && text.contains("leaf.pem: OK"), "chain before: {text}");
    let certtool = have_certtool();
    let gnutls = |crl: &str, chain: &str| {
        run_in(
            d,
            "certtool",
            &[
                "--verify",
                "--load-ca-certificate",
                "root.pem",
                "--load-crl",
                crl,
                "--infile",
                chain,
            ],
        )
    };
    std::fs::write(
        d.join("sub-chain.pem"),
        pem(&[&minted.chain()[1], &h.ca.intermediate]),
    )
    .unwrap();
    if certtool {
        let (ok, text) = gnutls(&sub_crl_pem, "sub-chain.pem");
        assert!(
            ok && text.contains("Chain verification output: Verified"),
            "gnutls before: {text}"
        );
    }

    // Revoke the sub-CA through the record (as `certmint ca revoke --sub-ca` does).
    let revoked = h
        .store
        .revoke_sub_ca(
            &record.key_id.to_uppercase(),
            RevocationReason::KeyCompromise,
        )
        .unwrap();
    assert_eq!(
        revoked.revoked.as_ref().unwrap().reason,
        RevocationReason::KeyCompromise
    );
    assert!(h.store.sub_cas().unwrap()[0].revoked.is_some());
    h.store.publish(&[parent], out.path()).unwrap();
    let (ok, text) = run_in(
        d,
        "openssl",
        &[
            "crl",
            "-inform",
            "DER",
            "-in",
            &sub_ca_crl,
            "-out",
            &sub_crl_pem,
        ],
    );
    assert!(ok, "{text}");
    let (ok, text) = openssl_crl_check(d, "sub.pem", "intermediate.pem", &sub_crl_pem);
    assert!(
        !ok && text.contains("certificate revoked"),
        "sub-CA after: {text}"
    );
    let (ok, text) = crl_check_all(&leaf_crl_pem, &sub_crl_pem);
    assert!(
        !ok && text.contains("certificate revoked"),
        "chain after: {text}"
    );
    if certtool {
        let (ok, text) = gnutls(&sub_crl_pem, "sub-chain.pem");
        assert!(!ok || text.contains("revoked"), "gnutls after: {text}");
        assert!(text.contains("revoked"), "gnutls after: {text}");
    }

    // The running issuer sees the revocation at its next check and replaces the sub-CA.
    h.clock
        .advance(certmint::ca::REVOCATION_CHECK + Duration::from_secs(1));
    let next = h.rotating.current().unwrap();
    assert_ne!(next.key_id(), sub_ca.key_id());
    let again = h
        .minter
        .mint(&MintRequest::for_host("www.example.com"))
        .unwrap();
    assert_eq!(again.chain()[1], *next.certificate());
    assert_eq!(h.store.sub_cas().unwrap().len(), 2);
    // Revoking a leaf of a sub-CA is refused: its CRL was signed once and its key is gone.
    let err = h
        .store
        .revoke_certificate(&again.chain()[0], RevocationReason::Superseded)
        .unwrap_err();
    assert!(
        matches!(err, Error::Revocation(RevocationError::SubCaKeyGone(_))),
        "{err}"
    );
    // Bad key ids are typed errors.
    for bad in ["zz", "abc", ""] {
        let err = h
            .store
            .revoke_sub_ca(bad, RevocationReason::Unspecified)
            .unwrap_err();
        assert!(
            matches!(err, Error::Revocation(RevocationError::NotHex { .. })),
            "{bad}: {err}"
        );
    }
    let err = h
        .store
        .revoke_sub_ca("00ff", RevocationReason::Unspecified)
        .unwrap_err();
    assert!(
        matches!(err, Error::Revocation(RevocationError::UnknownSubCa(_))),
        "{err}"
    );
}

#[test]
fn sub_cas_made_in_the_same_second_have_distinct_names() {
    let h = hierarchy(None);
    let a = h.rotating.current().unwrap();
    let b = h.rotating.rotate_now().unwrap();
    let subject = |i: &Issuer| {
        let p = x509_parser::parse_x509_certificate(i.certificate().as_ref())
            .unwrap()
            .1;
        p.subject().to_string()
    };
    assert_ne!(subject(&a), subject(&b));
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn leaves_of_a_revoked_sub_ca_are_evicted_from_the_cache() {
    use certmint::cache::{CacheConfig, Outcome};
    use certmint::{CertCache, Resolver};
    let h = hierarchy(None);
    let cache = CertCache::with_clock(
        CacheConfig::default(),
        Arc::clone(&h.clock) as Arc<dyn Clock>,
    );
    let minter = Minter::rotating(
        Arc::clone(&h.rotating),
        Arc::new(KeyPool::inline()),
        MintPolicy::default(),
    );
    let resolver = Resolver::new(Arc::new(minter), Arc::new(cache));
    let first = resolver
        .lookup_host("cached.example", KeyAlgorithm::EcdsaP256)
        .unwrap();
    let again = resolver
        .lookup_host("cached.example", KeyAlgorithm::EcdsaP256)
        .unwrap();
    assert_eq!(again.outcome, Outcome::Hit);
    let sub_ca = first.certified_key().cert[1].clone();
    let key_id = h.store.sub_cas().unwrap()[0].key_id.clone();
    h.store
        .revoke_sub_ca(&key_id, RevocationReason::KeyCompromise)
        .unwrap();
    // Before the next check the cached leaf is still served; after it, never again.
    h.clock
        .advance(certmint::ca::REVOCATION_CHECK + Duration::from_secs(1));
    let after = resolver
        .lookup_host("cached.example", KeyAlgorithm::EcdsaP256)
        .unwrap();
    assert_ne!(after.outcome, Outcome::Hit);
    assert_ne!(after.certified_key().cert[1], sub_ca);
    webpki_verify(
        &after.certified_key().cert,
        &h.ca.root,
        "cached.example",
        h.clock.now(),
    )
    .unwrap();
}

/// OpenSSL writes the request and reads our pre-signed response.
fn openssl_ocsp(
    dir: &Path,
    responder: &certmint::revocation::OcspResponder,
    sha256: bool,
) -> String {
    let mut args = vec!["ocsp", "-issuer", "intermediate.pem"];
    if sha256 {
        args.push("-sha256");
    }
    args.extend(["-cert", "sub.pem", "-no_nonce", "-reqout", "req.der"]);
    let (ok, text) = run_in(dir, "openssl", &args);
    assert!(ok, "{text}");
    let request = std::fs::read(dir.join("req.der")).unwrap();
    std::fs::write(dir.join("resp.der"), responder.respond(&request)).unwrap();
    if std::env::var_os("KEEP_OCSP").is_some() {
        let _ = std::fs::create_dir_all("/tmp/ocsp-debug");
        for f in [
            "req.der",
            "resp.der",
            "sub.pem",
            "intermediate.pem",
            "root.pem",
        ] {
            let _ = std::fs::copy(dir.join(f), Path::new("/tmp/ocsp-debug").join(f));
        }
    }
    let mut args = vec!["ocsp", "-respin", "resp.der", "-issuer", "intermediate.pem"];
    if sha256 {
        args.push("-sha256");
    }
    args.extend(["-cert", "sub.pem", "-CAfile", "root.pem", "-no_nonce"]);
    let (_, text) = run_in(dir, "openssl", &args);
    text
}

#[test]
fn ocsp_answers_good_then_revoked_for_sub_cas_and_refuses_the_rest() {
    if !have_openssl() {
        return;
    }
    let h = hierarchy(None);
    let sub_ca = h.rotating.current().unwrap();
    let d = h._dir.path();

    std::fs::write(d.join("root.pem"), pem(&[&h.ca.root])).unwrap();
    std::fs::write(d.join("intermediate.pem"), pem(&[&h.ca.intermediate])).unwrap();
    std::fs::write(d.join("sub.pem"), pem(&[sub_ca.certificate()])).unwrap();
    let parent = h.rotating.parent();
    let responder = h.store.ocsp_responder(parent).unwrap();
    assert_eq!(responder.len(), 2, "SHA-1 and SHA-256 CertIDs");
    for sha256 in [false, true] {
        let text = openssl_ocsp(d, &responder, sha256);
        assert!(text.contains("Response verify OK"), "{text}");
        assert!(text.contains("sub.pem: good"), "{text}");
    }
    h.store
        .revoke_sub_ca(&hex(sub_ca.key_id()), RevocationReason::KeyCompromise)
        .unwrap();
    let responder = h.store.ocsp_responder(parent).unwrap();
    let text = openssl_ocsp(d, &responder, false);
    assert!(text.contains("Response verify OK"), "{text}");
    assert!(text.contains("sub.pem: revoked"), "{text}");
    assert!(text.contains("Reason: keyCompromise"), "{text}");
    // A leaf is not recorded: unauthorized. Garbage and oversized requests: malformedRequest.
    let minted = h
        .minter
        .mint(&MintRequest::for_host("leaf.example"))
        .unwrap();
    std::fs::write(d.join("sub.pem"), pem(&[&minted.chain()[0]])).unwrap();
    std::fs::write(d.join("intermediate.pem"), pem(&[&minted.chain()[1]])).unwrap();
    let text = openssl_ocsp(d, &responder, false);
    assert!(text.contains("unauthorized"), "{text}");
    assert_eq!(
        responder.respond(b"\x30\x03\x02\x01"),
        [0x30, 0x03, 0x0a, 0x01, 0x01]
    );
    assert_eq!(
        responder.respond(&[0x30; 5000]),
        [0x30, 0x03, 0x0a, 0x01, 0x01]
    );
    assert_eq!(responder.respond(&[]), [0x30, 0x03, 0x0a, 0x01, 0x01]);
}
