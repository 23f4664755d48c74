//! The PKCS#11 backend against a real SoftHSM2 token, each test on its own token.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, OnceLock};

use certmint::rustls::pki_types::UnixTime;
use certmint::{
    ca::{Issuer, IssuerOptions, Pkcs11Signer, Pkcs11Uri, Signer},
    keys::KeyPool,
    mint::MintPolicy,
    testing::ThrowawayCa,
    Error, KeyAlgorithm, MintRequest, Minter, Pkcs11Error,
};
use common::*;

const MODULE: &str = SOFTHSM_MODULE;
const PIN: &str = "98765432";
const TOKENS: [&str; 15] = [
    // Tests that run certmint in a child process get a token of their own: SoftHSM2 fails
    // (CKR_GENERAL_ERROR) when one process reads a token another is writing.
    "t-cli",
    "t-csr",
    "t-config",
    "t-locked",
    "t-twice",
    "t-deploy",
    "t-ec",
    "t-rsa",
    "t-pin",
    "t-missing",
    "t-failover",
    "t-threads",
    "t-p384",
    "t-ca",
    "t-crl",
];

struct Hsm {
    _dir: tempfile::TempDir,
}

/// A private SoftHSM2 token directory with one initialised token per test; `None` (after
/// printing why) when SoftHSM2 is not installed outside CI.
fn hsm() -> Option<&'static Hsm> {
    static HSM: OnceLock<Option<Hsm>> = OnceLock::new();
    HSM.get_or_init(|| softhsm_tokens(&TOKENS, PIN).map(|dir| Hsm { _dir: dir }))
        .as_ref()
}

fn uri(token: &str, object: &str, pin: &str) -> Pkcs11Uri {
    Pkcs11Uri::parse(&format!(
        "pkcs11:token={token};object={object};type=private?module-path={MODULE}&pin-value={pin}"
    ))
    .unwrap()
}

/// A CA certificate for the HSM key, issued by the throwaway hierarchy's intermediate.
fn ca_for(
    signer: &Pkcs11Signer,
    root: &ThrowawayCa,
) -> certmint::rustls::pki_types::CertificateDer<'static> {
    let p = ca_params("HSM issuing CA", Some(0));
    issue_under(root, &p, &SpkiKey::new(signer))
}

fn mint_and_verify(signer: Arc<Pkcs11Signer>, root: &ThrowawayCa, host: &str) {
    let cert = ca_for(&signer, root);
    let issuer = Issuer::new(
        vec![cert, root.intermediate.clone()],
        signer,
        IssuerOptions::default(),
    )
    .unwrap();
    let minter = Minter::new(
        Arc::new(issuer),
        Arc::new(KeyPool::inline()),
        MintPolicy::default(),
    );
    let minted = minter.mint(&MintRequest::for_host(host)).unwrap();
    webpki_verify(minted.chain(), &root.root, host, UnixTime::now()).unwrap();
    if have_openssl() {
        let dir = tempfile::tempdir().unwrap();
        openssl_verify(minted.chain(), &root.root, host, dir.path()).unwrap();
    }
}

#[test]
fn keys_generated_in_the_token_sign_chains_that_verify() {
    if hsm().is_none() {
        return;
    }
    let root = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256).unwrap();
    for (token, alg) in [
        ("t-ec", KeyAlgorithm::EcdsaP256),
        ("t-p384", KeyAlgorithm::EcdsaP384),
        ("t-rsa", KeyAlgorithm::Rsa2048),
    ] {
        let signer = Pkcs11Signer::generate(&uri(token, "issuing", PIN), alg).unwrap();
        assert_eq!(signer.key_algorithm(), alg);
        mint_and_verify(Arc::new(signer), &root, "hsm.example");
        // Re-opening by URI finds the same key.
        let again = Pkcs11Signer::open(&uri(token, "issuing", PIN)).unwrap();
        assert_eq!(again.key_algorithm(), alg);
    }
}

#[test]
fn the_generated_key_is_sensitive_and_not_extractable() {
    if hsm().is_none() {
        return;
    }
    Pkcs11Signer::generate(&uri("t-locked", "locked", PIN), KeyAlgorithm::EcdsaP256).unwrap();
    // pkcs11-tool (OpenSC) shows the attributes when installed.
    let Ok(out) = Command::new("pkcs11-tool")
        .args([
            "--module",
            MODULE,
            "--token-label",
            "t-locked",
            "--login",
            "--pin",
            PIN,
            "--list-objects",
            "--type",
            "privkey",
        ])
        .output()
    else {
        assert!(!require_tools(), "pkcs11-tool (opensc) is required in CI");
        return;
    };
    let all = String::from_utf8_lossy(&out.stdout);
    // Other tests add keys to this token meanwhile: look at this key's object only.
    let text = all
        .split("Private Key Object")
        .find(|object| object.lines().any(|l| l.trim() == "label:      locked"))
        .unwrap_or_else(|| panic!("no key labelled locked: {all}"));
    assert!(
        text.contains("sensitive") && text.contains("never extractable"),
        "{text}"
    );
    // A CA key signs, and does nothing else.
    let usage = text
        .lines()
        .find(|l| l.trim_start().starts_with("Usage:"))
        .unwrap_or_default();
    assert!(usage.contains("sign"), "{text}");
    for power in ["decrypt", "unwrap", "derive"] {
        assert!(!usage.contains(power), "{power}: {text}");
    }
}

#[test]
fn a_second_key_under_an_existing_label_is_refused_and_the_first_keeps_working() {
    if hsm().is_none() {
        return;
    }
    let root = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let first =
        Pkcs11Signer::generate(&uri("t-ca", "only-once", PIN), KeyAlgorithm::EcdsaP256).unwrap();
    let spki = first.subject_public_key_info().as_ref().to_vec();
    let again = Pkcs11Signer::generate(&uri("t-ca", "only-once", PIN), KeyAlgorithm::EcdsaP256)
        .unwrap_err();
    assert!(
        matches!(again, Error::Pkcs11(Pkcs11Error::KeyExists { .. })),
        "{again:?}"
    );
    // The first key is still the one the label names, and still mints.
    let reopened = Pkcs11Signer::open(&uri("t-ca", "only-once", PIN)).unwrap();
    assert_eq!(reopened.subject_public_key_info().as_ref(), &spki[..]);
    mint_and_verify(Arc::new(reopened), &root, "once.hsm.example");
}

#[test]
fn a_wrong_pin_is_a_typed_error_and_not_retried() {
    if hsm().is_none() {
        return;
    }
    Pkcs11Signer::generate(&uri("t-pin", "k", PIN), KeyAlgorithm::EcdsaP256).unwrap();
    let err = Pkcs11Signer::open(&uri("t-pin", "k", "00000000")).unwrap_err();
    assert!(
        matches!(err, Error::Pkcs11(Pkcs11Error::WrongPin)),
        "{err:?}"
    );
    assert!(!format!("{err} {err:?}").contains("00000000"));
    // One failure did not lock the token.
    Pkcs11Signer::open(&uri("t-pin", "k", PIN)).unwrap();
}

#[test]
fn missing_token_key_module_and_pin_are_typed_errors() {
    if hsm().is_none() {
        return;
    }
    let err = Pkcs11Signer::open(&uri("no-such-token", "k", PIN)).unwrap_err();
    assert!(
        matches!(err, Error::Pkcs11(Pkcs11Error::TokenNotFound { .. })),
        "{err:?}"
    );
    let err = Pkcs11Signer::open(&uri("t-missing", "no-such-key", PIN)).unwrap_err();
    assert!(
        matches!(err, Error::Pkcs11(Pkcs11Error::KeyNotFound { .. })),
        "{err:?}"
    );
    let bad_module =
        Pkcs11Uri::parse("pkcs11:token=t;object=o?module-path=/nonexistent/lib.so&pin-value=1")
            .unwrap();
    let err = Pkcs11Signer::open(&bad_module).unwrap_err();
    assert!(
        matches!(err, Error::Pkcs11(Pkcs11Error::ModuleLoad { .. })),
        "{err:?}"
    );
    let no_pin = Pkcs11Uri::parse(&format!(
        "pkcs11:token=t-missing;object=k?module-path={MODULE}"
    ))
    .unwrap();
    std::env::remove_var(certmint::ca::PKCS11_PIN_ENV);
    let err = Pkcs11Signer::open(&no_pin).unwrap_err();
    assert!(matches!(err, Error::Pkcs11(Pkcs11Error::NoPin)), "{err:?}");
}

/// Closes every session of the slot through a second handle on the module, as an HSM
/// fail-over does.
fn close_all_sessions(slot: u64) {
    // SAFETY: C_GetFunctionList and C_CloseAllSessions are called as PKCS#11 specifies, on the
    // module this process has already initialised; the library is kept loaded.
    unsafe {
        let lib = Box::leak(Box::new(libloading::Library::new(MODULE).unwrap()));
        let get: libloading::Symbol<
            unsafe extern "C" fn(*mut *mut cryptoki_sys::CK_FUNCTION_LIST) -> cryptoki_sys::CK_RV,
        > = lib.get(b"C_GetFunctionList").unwrap();
        let mut list = std::ptr::null_mut();
        assert_eq!(get(&mut list), 0);
        let close = (*list).C_CloseAllSessions.unwrap();
        assert_eq!(close(slot as cryptoki_sys::CK_SLOT_ID), 0);
    }
}

#[test]
fn sessions_closed_under_the_signer_are_reopened_and_it_keeps_minting() {
    if hsm().is_none() {
        return;
    }
    let root = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let signer = Arc::new(
        Pkcs11Signer::generate(&uri("t-failover", "issuing", PIN), KeyAlgorithm::EcdsaP256)
            .unwrap(),
    );
    let cert = ca_for(&signer, &root);
    let issuer = Issuer::new(
        vec![cert, root.intermediate.clone()],
        Arc::clone(&signer) as Arc<dyn Signer>,
        IssuerOptions::default(),
    )
    .unwrap();
    let minter = Minter::new(
        Arc::new(issuer),
        Arc::new(KeyPool::inline()),
        MintPolicy::default(),
    );
    for round in 0..3 {
        close_all_sessions(signer.slot_id());
        let minted = minter
            .mint(&MintRequest::for_host("failover.example"))
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        webpki_verify(
            minted.chain(),
            &root.root,
            "failover.example",
            UnixTime::now(),
        )
        .unwrap();
        assert_eq!(
            signer.reconnects(),
            round + 1,
            "the lost session was noticed and replaced"
        );
    }
}

#[test]
fn concurrent_signatures_use_a_pool_of_sessions() {
    if hsm().is_none() {
        return;
    }
    let signer = Arc::new(
        Pkcs11Signer::generate(&uri("t-threads", "issuing", PIN), KeyAlgorithm::EcdsaP256).unwrap(),
    );
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let signer = Arc::clone(&signer);
            std::thread::spawn(move || {
                for j in 0..25 {
                    let msg = format!("message {i}/{j}");
                    signer.sign(msg.as_bytes()).unwrap(); // verified inside before it returns
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert!(
        signer.idle_sessions() > 1,
        "sessions were pooled: {}",
        signer.idle_sessions()
    );
    let _ = PathBuf::new();
}

#[test]
#[cfg(feature = "cli")]
fn the_cli_mints_with_a_pkcs11_uri_for_the_ca_key() {
    if hsm().is_none() {
        return;
    }
    let root = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let signer =
        Pkcs11Signer::generate(&uri("t-cli", "cli-issuing", PIN), KeyAlgorithm::EcdsaP256).unwrap();
    let cert = ca_for(&signer, &root);
    let tmp = tempfile::tempdir().unwrap();
    let chain = [cert, root.intermediate.clone()]
        .iter()
        .map(|c| test_cert_pem(c.as_ref()))
        .collect::<String>();
    std::fs::write(tmp.path().join("hsm-ca.pem"), chain).unwrap();
    let key_uri =
        format!("pkcs11:token=t-cli;object=cli-issuing;type=private?module-path={MODULE}");
    // `certmint mint` with the token's key, for `sni`, into `out`, logging in with `pin`.
    let mint = |sni: &str, out: &str, pin: &str, extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_certmint"))
            .args([
                "mint",
                "--ca-cert",
                "hsm-ca.pem",
                "--ca-key",
                &key_uri,
                "--sni",
                sni,
                "--out",
                out,
            ])
            .args(extra)
            .env(certmint::ca::PKCS11_PIN_ENV, pin)
            .current_dir(tmp.path())
            .output()
            .unwrap()
    };
    let out = mint(
        "cli.hsm.example",
        "leaf.pem",
        PIN,
        &["--key-out", "leaf.key"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let chain =
        certmint::pem::parse_certificates(&std::fs::read(tmp.path().join("leaf.pem")).unwrap())
            .unwrap();
    assert_eq!(chain.len(), 3, "leaf, HSM CA, throwaway intermediate");
    webpki_verify(&chain, &root.root, "cli.hsm.example", UnixTime::now()).unwrap();
    if have_openssl() {
        openssl_verify(&chain, &root.root, "cli.hsm.example", tmp.path()).unwrap();
    }
    // A wrong PIN: exit 1, one line, nothing written.
    let out = mint("x.example", "other.pem", "11111111", &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("rejected the PIN") && !err.contains("11111111"),
        "{err}"
    );
    assert!(!tmp.path().join("other.pem").exists());
}

#[test]
#[cfg(feature = "cli")]
fn a_csr_for_a_key_generated_in_the_token_imports_and_mints() {
    if hsm().is_none() || !have_openssl() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let run = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_certmint"))
            .args(args)
            .env(certmint::ca::PKCS11_PIN_ENV, PIN)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "certmint {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let openssl = |args: &[&str]| String::from_utf8_lossy(&openssl_ok(dir, args)).into_owned();
    let key_uri =
        format!("pkcs11:token=t-csr;object=csr-issuing;type=private?module-path={MODULE}");
    run(&["ca", "init", "--dir", "org"]);
    run(&[
        "ca",
        "csr",
        "--subject",
        "CN=HSM Interception CA,O=Example,C=US",
        "--key-out",
        &key_uri,
        "--key-type",
        "p384",
        "--out",
        "hsm.csr",
    ]);
    let text = openssl(&["req", "-in", "hsm.csr", "-noout", "-verify", "-text"]);
    assert!(
        text.contains("CA:TRUE, pathlen:1") && text.contains("secp384r1"),
        "{text}"
    );
    openssl_sign_csr(dir, "hsm.csr", "hsm.pem", true);
    let snippet = run(&[
        "ca",
        "import",
        "--cert",
        "hsm.pem",
        "--ca-key",
        &key_uri,
        "--chain",
        "org/root.pem",
        "--rotation",
    ]);
    assert!(snippet.contains(&key_uri), "{snippet}");
    // A PIN in the URI never reaches the snippet; the command warns that `ps` shows it; the
    // scheme is accepted in capitals.
    let with_pin = format!(
        "PKCS11:token=t-csr;object=csr-issuing;type=private?module-path={MODULE}&pin-value={PIN}"
    );
    let o = Command::new(env!("CARGO_BIN_EXE_certmint"))
        .args([
            "ca",
            "import",
            "--cert",
            "hsm.pem",
            "--ca-key",
            &with_pin,
            "--chain",
            "org/root.pem",
        ])
        .current_dir(dir)
        .output()
        .unwrap();
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert!(o.status.success(), "{err}");
    assert!(!out.contains(PIN) && !err.contains(PIN), "{out}{err}");
    assert!(out.contains("pin-value=<redacted>"), "{out}");
    assert!(err.contains("visible to other users"), "{err}");
    run(&[
        "mint",
        "--ca-cert",
        "hsm.pem",
        "--ca-key",
        &key_uri,
        "--sni",
        "hsm-csr.example",
        "--out",
        "leaf.pem",
        "--key-out",
        "leaf.key",
    ]);
    let chain =
        certmint::pem::parse_certificates(&std::fs::read(dir.join("leaf.pem")).unwrap()).unwrap();
    let root = certmint::pem::parse_certificates(&std::fs::read(dir.join("org/root.pem")).unwrap())
        .unwrap()
        .remove(0);
    openssl_verify(&chain, &root, "hsm-csr.example", dir).unwrap();
}

#[test]
#[cfg(feature = "config")]
fn a_configuration_file_can_name_a_pkcs11_key_with_rotation() {
    if hsm().is_none() {
        return;
    }
    // The token's CA sits directly under a root, so the rotating sub-CA fits every pathLen.
    let rp = ca_params("config test root", None);
    let root =
        rcgen::CertifiedIssuer::self_signed(rp, rcgen::KeyPair::generate().unwrap()).unwrap();
    let signer = Pkcs11Signer::generate(
        &uri("t-config", "config-issuing", PIN),
        KeyAlgorithm::EcdsaP256,
    )
    .unwrap();
    let p = ca_params("HSM rotating parent", Some(1));
    let cert = p
        .signed_by(&SpkiKey::new(&signer), &root)
        .unwrap()
        .der()
        .clone();
    let tmp = tempfile::tempdir().unwrap();
    let pem = test_cert_pem(cert.as_ref());
    std::fs::write(tmp.path().join("hsm.pem"), pem).unwrap();
    let text = format!(
        "[[ca]]\nid = \"hsm\"\ncert = \"hsm.pem\"\nkey = \"pkcs11:token=t-config;object=config-issuing;type=private?module-path={MODULE}&pin-value={PIN}\"\n[ca.rotation]\nlifetime_days = 7\nrenew_after_days = 6\n"
    );
    std::fs::write(tmp.path().join("certmint.toml"), text).unwrap();
    let deployment = certmint::config::load(&tmp.path().join("certmint.toml")).unwrap();
    let found = deployment
        .resolver()
        .lookup_host("config.hsm.example", KeyAlgorithm::EcdsaP256)
        .unwrap();
    assert_eq!(found.certified_key().cert.len(), 3, "leaf, sub-CA, HSM CA");
    webpki_verify(
        &found.certified_key().cert,
        root.der(),
        "config.hsm.example",
        UnixTime::now(),
    )
    .unwrap();
}

#[test]
fn a_deployment_opens_a_token_key_with_a_pin_the_caller_gives() {
    if hsm().is_none() {
        return;
    }
    let root = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256).unwrap();
    // A URI without a PIN: the caller supplies it.
    let bare = format!("pkcs11:token=t-deploy;object=front-door;type=private?module-path={MODULE}");
    // First, while nothing in this process is logged in to the token (PKCS#11 login state is
    // per application and token, so a later wrong PIN would meet "already logged in"): the
    // login fails before the certificate is looked at.
    let any_cert = test_cert_pem(root.intermediate.as_ref());
    let wrong = certmint::Deployment::builder()
        .ca(
            certmint::CaSpec::from_pkcs11("hsm", any_cert.as_bytes(), &bare)
                .with_pin(certmint::keys::Secret::from("00000000")),
        )
        .build()
        .unwrap_err();
    assert!(
        matches!(wrong, Error::Pkcs11(Pkcs11Error::WrongPin)),
        "{wrong:?}"
    );
    let signer =
        Pkcs11Signer::generate(&uri("t-deploy", "front-door", PIN), KeyAlgorithm::EcdsaP256)
            .unwrap();
    let cert = test_cert_pem(ca_for(&signer, &root).as_ref());
    let deployment = certmint::Deployment::builder()
        .ca(certmint::CaSpec::from_pkcs11("hsm", cert.as_bytes(), &bare)
            .with_pin(certmint::keys::Secret::from(PIN)))
        .build()
        .unwrap();
    let found = deployment
        .lookup(
            Some("pin.hsm.example"),
            &[],
            certmint::ClientKeySupport::all(),
        )
        .unwrap();
    let mut chain = found.certified_key().cert.clone();
    chain.push(root.intermediate.clone());
    webpki_verify(&chain, &root.root, "pin.hsm.example", UnixTime::now()).unwrap();
    // The token's signatures are counted (the metrics' certmint_hsm_signatures_total).
    let before = deployment.stats().cas[0]
        .signer
        .expect("a token's counters");
    assert!(before.signatures >= 1 && before.errors == 0, "{before:?}");
    deployment
        .lookup(
            Some("two.hsm.example"),
            &[],
            certmint::ClientKeySupport::all(),
        )
        .unwrap();
    let after = deployment.stats().cas[0].signer.unwrap();
    assert_eq!(after.signatures, before.signatures + 1);
    deployment.shutdown();
}

#[test]
fn a_label_two_keys_share_is_ambiguous_not_the_first_match() {
    if hsm().is_none() {
        return;
    }
    // Another tool (pkcs11-tool does not check) made two keys under one label.
    for _ in 0..2 {
        let Ok(out) = Command::new("pkcs11-tool")
            .args([
                "--module",
                MODULE,
                "--token-label",
                "t-twice",
                "--login",
                "--pin",
                PIN,
                "--keypairgen",
                "--key-type",
                "EC:prime256v1",
                "--label",
                "twice",
            ])
            .output()
        else {
            assert!(!require_tools(), "pkcs11-tool (opensc) is required in CI");
            return;
        };
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let err = Pkcs11Signer::open(&uri("t-twice", "twice", PIN)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Pkcs11(Pkcs11Error::AmbiguousKey { count: 2, .. })
        ),
        "{err:?}"
    );
}

#[test]
fn crls_are_signed_through_the_token_and_openssl_verifies_them() {
    use certmint::revocation::{RevocationReason, RevocationStore};
    if hsm().is_none() || !have_openssl() {
        return;
    }
    let root = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256).unwrap();
    for (object, alg) in [
        ("crl-ec", KeyAlgorithm::EcdsaP256),
        ("crl-rsa", KeyAlgorithm::Rsa2048),
    ] {
        let signer = Arc::new(Pkcs11Signer::generate(&uri("t-crl", object, PIN), alg).unwrap());
        let cert = ca_for(&signer, &root);
        let issuer = Issuer::new(
            vec![cert.clone(), root.intermediate.clone()],
            signer,
            IssuerOptions::default(),
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = RevocationStore::open(dir.path().join("record")).unwrap();
        let key_id: String = issuer.key_id().iter().map(|b| format!("{b:02x}")).collect();
        store
            .revoke_serial(&key_id, "4a5b", RevocationReason::CessationOfOperation)
            .unwrap();
        let crl = store.crl_for(&issuer).unwrap();
        assert_eq!(crl.len(), 1);
        std::fs::write(dir.path().join("ca.pem"), test_cert_pem(cert.as_ref())).unwrap();
        std::fs::write(dir.path().join("crl.der"), crl.der()).unwrap();
        let (_, text) = run_in(
            dir.path(),
            "openssl",
            &[
                "crl", "-inform", "DER", "-in", "crl.der", "-CAfile", "ca.pem", "-noout", "-text",
            ],
        );
        assert!(text.contains("verify OK"), "{alg:?}: {text}");
        assert!(
            text.contains("Serial Number: 4A5B") && text.contains("Cessation Of Operation"),
            "{text}"
        );
    }
}

#[test]
fn ocsp_responses_are_signed_through_the_token_and_openssl_verifies_them() {
    use certmint::ca::{IssuanceRecord, RotatingIssuer, RotationPolicy};
    use certmint::revocation::{RevocationReason, RevocationStore};
    if hsm().is_none() || !have_openssl() {
        return;
    }
    let root = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let signer = Arc::new(
        Pkcs11Signer::generate(&uri("t-crl", "ocsp-ec", PIN), KeyAlgorithm::EcdsaP256).unwrap(),
    );
    let cert = issue_under(
        &root,
        &ca_params("HSM OCSP CA", Some(1)),
        &SpkiKey::new(signer.as_ref()),
    );
    let parent = Arc::new(
        Issuer::new(
            vec![cert.clone(), root.intermediate.clone()],
            signer,
            IssuerOptions::default(),
        )
        .unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let store = RevocationStore::open(dir.path().join("record")).unwrap();
    let mut policy = RotationPolicy::default();
    policy.record = Some(Arc::clone(&store) as Arc<dyn IssuanceRecord>);
    let rotating = RotatingIssuer::new(
        Arc::clone(&parent),
        policy,
        Arc::new(certmint::clock::SystemClock::new()),
    )
    .unwrap();
    let sub = rotating.current().unwrap();
    let d = dir.path();
    std::fs::write(d.join("ca.pem"), test_cert_pem(cert.as_ref())).unwrap();
    std::fs::write(d.join("sub.pem"), test_cert_pem(sub.certificate().as_ref())).unwrap();
    let trusted = format!(
        "{}{}",
        test_cert_pem(root.root.as_ref()),
        test_cert_pem(root.intermediate.as_ref())
    );
    std::fs::write(d.join("trusted.pem"), trusted).unwrap();
    let openssl = |args: &[&str]| run_in(d, "openssl", args).1;
    openssl(&[
        "ocsp",
        "-issuer",
        "ca.pem",
        "-cert",
        "sub.pem",
        "-no_nonce",
        "-reqout",
        "req.der",
    ]);
    let request = std::fs::read(d.join("req.der")).unwrap();
    let check = |expect: &str| {
        let responder = store.ocsp_responder(&parent).unwrap();
        std::fs::write(d.join("resp.der"), responder.respond(&request)).unwrap();
        let text = openssl(&[
            "ocsp",
            "-respin",
            "resp.der",
            "-issuer",
            "ca.pem",
            "-cert",
            "sub.pem",
            "-CAfile",
            "trusted.pem",
            "-no_nonce",
        ]);
        assert!(text.contains("Response verify OK"), "{text}");
        assert!(text.contains(&format!("sub.pem: {expect}")), "{text}");
    };
    check("good");
    let key_id: String = sub.key_id().iter().map(|b| format!("{b:02x}")).collect();
    store
        .revoke_sub_ca(&key_id, RevocationReason::KeyCompromise)
        .unwrap();
    check("revoked");
}
