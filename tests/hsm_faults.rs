//! HSM faults: a SoftHSM2 key signs every leaf directly (no rotating sub-CA, so the token is on
//! the signing path). SoftHSM2's token directory is moved away and back; then a
//! fault-injecting PKCS#11 module (tests/pkcs11_fault, built here with the system C compiler)
//! in front of SoftHSM2 makes the token absent, closes every session, finalises the module
//! under certmint, and returns wrong signatures.
//!
//! Expected: typed errors; never a certificate that does not verify; cached leaves served
//! throughout; new mints again within 5 s of the token's return; health and the signer
//! counters show what happened.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use certmint::ca::{Pkcs11Signer, Pkcs11Uri};
use certmint::cache::Outcome;
use certmint::registry::CaHealth;
use certmint::rustls::pki_types::{CertificateDer, UnixTime};
use certmint::{
    testing::ThrowawayCa, CaSpec, ClientKeySupport, Deployment, Error, KeyAlgorithm, Pkcs11Error,
};
use common::*;

const PIN: &str = "24681357";

/// Builds the fault module; `None` (after printing why) without a C compiler outside CI.
fn build_fault_module(dir: &Path) -> Option<PathBuf> {
    let out = dir.join("libcertmint-fault-pkcs11.so");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pkcs11_fault/fault.c");
    let built = Command::new("cc")
        .args(["-shared", "-fPIC", "-O1", "-Wall", "-Werror", "-o"])
        .arg(&out)
        .arg(&source)
        .arg("-ldl")
        .output();
    match built {
        Ok(o) if o.status.success() => Some(out),
        Ok(o) => panic!("cc failed: {}", String::from_utf8_lossy(&o.stderr)),
        Err(e) => {
            assert!(!require_tools(), "a C compiler (cc) is required in CI: {e}");
            eprintln!("SKIPPED: no C compiler to build the fault-injecting PKCS#11 module");
            None
        }
    }
}

struct Faults {
    control: PathBuf,
    epoch: u32,
}

impl Faults {
    /// Sets the module's mode; the epoch makes one-shot faults (sessions, finalize) fire once.
    fn set(&mut self, mode: &str) {
        self.epoch += 1;
        std::fs::write(&self.control, format!("{mode} {}\n", self.epoch)).unwrap();
    }
}

fn lookup(deployment: &Deployment, host: &str) -> Result<certmint::cache::Lookup, Error> {
    deployment.lookup(Some(host), &[], ClientKeySupport::all())
}

/// A served chain verifies under the root (the served chain ends at the HSM CA; its issuer,
/// the throwaway intermediate, is added as a client would have it).
fn verifies(found: &certmint::cache::Lookup, root: &ThrowawayCa, host: &str) {
    let mut chain: Vec<CertificateDer<'static>> = found.certified_key().cert.clone();
    chain.push(root.intermediate.clone());
    webpki_verify(&chain, &root.root, host, UnixTime::now())
        .unwrap_or_else(|e| panic!("{host}: a served chain does not verify: {e:?}"));
}

/// Mints `host` until it works (at most 5 s after the token's return), then checks the chain.
fn resumes_within_5_s(deployment: &Deployment, root: &ThrowawayCa, host: &str) -> Duration {
    let started = Instant::now();
    loop {
        match lookup(deployment, host) {
            Ok(found) => {
                verifies(&found, root, host);
                return started.elapsed();
            }
            Err(e) => {
                assert!(e.is_transient(), "{host}: {e}");
                assert!(
                    started.elapsed() < Duration::from_secs(5),
                    "{host}: still failing 5 s after the token returned: {e}"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

fn health(deployment: &Deployment) -> CaHealth {
    deployment.ca_health().remove(0).1
}

fn signer_counters(deployment: &Deployment) -> certmint::ca::SignerCounters {
    deployment.stats().cas[0].signer.expect("a token signer")
}

#[test]
fn token_faults_give_typed_errors_cached_leaves_keep_serving_and_minting_resumes() {
    let Some(tokens) = softhsm_tokens(&["t-fault"], PIN) else {
        return;
    };
    let Some(module) = build_fault_module(tokens.path()) else {
        return;
    };
    let mut faults = Faults {
        control: tokens.path().join("fault-control"),
        epoch: 0,
    };
    faults.set("ok");
    std::env::set_var("FAULT_PKCS11_MODULE", SOFTHSM_MODULE);
    std::env::set_var("FAULT_PKCS11_CONTROL", &faults.control);

    let uri = format!(
        "pkcs11:token=t-fault;object=issuing;type=private?module-path={}",
        module.display()
    );
    let signer = Pkcs11Signer::generate(
        &Pkcs11Uri::parse(&format!("{uri}&pin-value={PIN}")).unwrap(),
        KeyAlgorithm::EcdsaP256,
    )
    .unwrap();
    let root = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let cert = test_cert_pem(
        issue_under(
            &root,
            &ca_params("HSM issuing CA", Some(0)),
            &SpkiKey::new(&signer),
        )
        .as_ref(),
    );
    drop(signer);
    let deployment = Deployment::builder()
        .ca(CaSpec::from_pkcs11("hsm", cert.as_bytes(), &uri).with_pin(PIN.into()))
        .build()
        .unwrap();

    let cached = lookup(&deployment, "cached.example").unwrap();
    verifies(&cached, &root, "cached.example");
    assert!(matches!(health(&deployment), CaHealth::Ok));
    let serves_cached = || {
        let hit = lookup(&deployment, "cached.example").unwrap();
        assert_eq!((hit.outcome, hit.serial()), (Outcome::Hit, cached.serial()));
    };

    // 1. SoftHSM2's token directory disappears (really: renamed away), then comes back.
    let tokens_dir = tokens.path().join("tokens");
    let away = tokens.path().join("tokens.away");
    std::fs::rename(&tokens_dir, &away).unwrap();
    let err = lookup(&deployment, "dir-gone.example").unwrap_err();
    assert!(
        matches!(
            err,
            Error::Pkcs11(Pkcs11Error::Device(_) | Pkcs11Error::TokenNotFound { .. })
        ),
        "{err:?}"
    );
    serves_cached();
    assert!(matches!(
        health(&deployment),
        CaHealth::Failing(Error::Pkcs11(_))
    ));
    std::fs::rename(&away, &tokens_dir).unwrap();
    let took = resumes_within_5_s(&deployment, &root, "dir-gone.example");
    eprintln!("minting resumed {took:?} after the token directory returned");
    assert!(matches!(health(&deployment), CaHealth::Ok));

    // 2. The token disappears as a device reports it (no token in the slot, sessions gone).
    faults.set("absent");
    let err = lookup(&deployment, "absent.example").unwrap_err();
    assert!(
        matches!(
            err,
            Error::Pkcs11(Pkcs11Error::Device(_) | Pkcs11Error::TokenNotFound { .. })
        ),
        "{err:?}"
    );
    assert!(err.is_transient());
    serves_cached();
    assert!(
        matches!(health(&deployment), CaHealth::Failing(Error::Pkcs11(_))),
        "health shows the token gone"
    );
    let during = signer_counters(&deployment);
    assert!(during.errors >= 2, "{during:?}");
    // It comes back: the host that failed (its failure remembered briefly) and a new one mint.
    faults.set("ok");
    let took = resumes_within_5_s(&deployment, &root, "absent.example");
    eprintln!("minting resumed {took:?} after the token returned");
    lookup(&deployment, "back.example").unwrap();
    assert!(matches!(health(&deployment), CaHealth::Ok));

    // 3. Every session is closed (an HSM fail-over), and 4. the module is finalised under
    // certmint: each recovered within the same mint (initialised again, logged in again).
    for (mode, host) in [
        ("sessions", "sessions.example"),
        ("finalize", "finalized.example"),
    ] {
        let before = signer_counters(&deployment).reconnects;
        faults.set(mode);
        let found = lookup(&deployment, host).unwrap_or_else(|e| panic!("{mode}: {e}"));
        verifies(&found, &root, host);
        assert!(signer_counters(&deployment).reconnects > before, "{mode}");
        serves_cached();
    }

    // 5. The token answers with wrong signatures: every one is caught, none is served.
    faults.set("wrong");
    let errors_before = signer_counters(&deployment).errors;
    for host in ["wrong1.example", "wrong2.example"] {
        let err = lookup(&deployment, host).unwrap_err();
        assert!(
            matches!(err, Error::Pkcs11(Pkcs11Error::BadSignature)),
            "{host}: {err:?}"
        );
    }
    assert!(matches!(
        health(&deployment),
        CaHealth::Failing(Error::Pkcs11(Pkcs11Error::BadSignature))
    ));
    assert!(signer_counters(&deployment).errors >= errors_before + 3);
    serves_cached();
    faults.set("ok");
    resumes_within_5_s(&deployment, &root, "wrong1.example");

    // What the metrics endpoint reads: failed mints by kind, signer counters.
    let kinds = deployment.resolver().cache().mint_errors_by_kind();
    assert!(
        kinds.iter().any(|(kind, n)| *kind == "pkcs11" && *n >= 3),
        "{kinds:?}"
    );
    let counters = signer_counters(&deployment);
    assert!(
        counters.reconnects >= 2 && counters.signatures >= 6,
        "{counters:?}"
    );
    deployment.shutdown();
}
