//! `fork()` after a deployment exists: the child restores certmint with
//! `certmint::after_fork_child()`, then mints a new leaf that verifies, under a software CA and
//! under a SoftHSM2 CA (the token signs every leaf: no rotating sub-CA), while the parent keeps
//! minting too. Run without libtest's harness, so only this thread (and certmint's own) exist
//! when the process forks.

mod common;

use std::path::Path;
use std::sync::Arc;

use certmint::ca::{Issuer, IssuerOptions, Pkcs11Signer, Pkcs11Uri};
use certmint::rustls::pki_types::UnixTime;
use certmint::testing::ThrowawayCa;
use certmint::{CaSpec, ClientKeySupport, Deployment, KeyAlgorithm};
use common::*;

const PIN: &str = "24681357";

/// Mints a fresh leaf for `host`, verifies it up to `root`, and returns its key's SPKI.
fn mint_and_verify(
    d: &Deployment,
    host: &str,
    root: &certmint::rustls::pki_types::CertificateDer<'_>,
) -> Result<Vec<u8>, String> {
    let found = d
        .lookup(Some(host), &[], ClientKeySupport::all())
        .map_err(|e| e.to_string())?;
    webpki_verify(&found.certified_key().cert, root, host, UnixTime::now())
        .map_err(|e| format!("{e:?}"))?;
    Ok(found.key().subject_public_key_info().as_ref().to_vec())
}

/// Whether `check` holds within 10 s (a new thread names itself once it runs).
fn eventually(check: impl Fn() -> bool) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !check() {
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    true
}

/// Waits until the deployment's pool has generated keys ahead, so a child that did not forget
/// them would hand out the parent's next key.
fn wait_for_ready_keys(d: &Deployment) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while d.key_pool_stats().generated_background < 4 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(d.key_pool_stats().generated_background >= 4);
}

/// Forks; the child restores certmint (its clock and key-pool threads run again), mints and
/// verifies, writes its leaf key's SPKI to `spki_out`, and exits 0 on success. Returns the
/// child's exit status.
fn in_child(
    d: &Deployment,
    host: &str,
    root: &certmint::rustls::pki_types::CertificateDer<'_>,
    spki_out: &Path,
) -> i32 {
    // SAFETY: the child only calls into certmint and exits with _exit; this process runs no
    // other test threads (harness = false).
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // No thread survives fork().
        let before = threads_named("certmint-");
        certmint::after_fork_child();
        let code = if before != 0 {
            eprintln!("child: {before} certmint threads before restoring");
            2
        } else if !eventually(|| {
            threads_named("certmint-clock") == 1 && threads_named("certmint-keypoo") == 1
        }) {
            eprintln!("child: the clock and key-pool threads were not started again");
            3
        } else {
            match mint_and_verify(d, host, root) {
                Ok(spki) => match std::fs::write(spki_out, spki) {
                    Ok(()) => 0,
                    Err(e) => {
                        eprintln!("child: {e}");
                        4
                    }
                },
                Err(e) => {
                    eprintln!("child: {e}");
                    1
                }
            }
        };
        // SAFETY: ends the child without running the parent's exit handlers twice.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waits for the child just forked.
    let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(waited, pid);
    assert!(libc::WIFEXITED(status), "child died: {status}");
    libc::WEXITSTATUS(status)
}

/// The child mints and verifies after restoring; parent and child never share a leaf key.
fn check_fork(
    d: &Deployment,
    domain: &str,
    root: &certmint::rustls::pki_types::CertificateDer<'_>,
) {
    wait_for_ready_keys(d);
    let tmp = tempfile::tempdir().unwrap();
    let spki_file = tmp.path().join("child.spki");
    let child = in_child(d, &format!("child.{domain}"), root, &spki_file);
    assert_eq!(child, 0, "the child failed ({child}); see its stderr above");
    let child_spki = std::fs::read(&spki_file).unwrap();
    let parent_spki = mint_and_verify(d, &format!("parent.{domain}"), root).unwrap();
    assert_ne!(
        child_spki, parent_spki,
        "the child handed out a key generated before the fork"
    );
}

fn software_ca() {
    let ca = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let d = Deployment::builder()
        .ca(CaSpec::from_issuer("sw", Arc::new(ca.issuer().unwrap())))
        .build()
        .unwrap();
    mint_and_verify(&d, "before.fork.example", &ca.root).unwrap();
    check_fork(&d, "fork.example", &ca.root);
    d.shutdown();
    println!("software CA: the child minted and verified after fork");
}

fn softhsm_ca() -> bool {
    let Some(_tokens) = softhsm_tokens(&["t-fork"], PIN) else {
        println!("SKIPPED (SoftHSM2 CA): SoftHSM2 not installed");
        return false;
    };
    let uri = Pkcs11Uri::parse(&format!(
        "pkcs11:token=t-fork;object=fork-ca;type=private?module-path={SOFTHSM_MODULE}&pin-value={PIN}"
    ))
    .unwrap();
    let signer = Pkcs11Signer::generate(&uri, KeyAlgorithm::EcdsaP256).unwrap();
    let root = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let cert = issue_under(
        &root,
        &ca_params("HSM fork CA", Some(0)),
        &SpkiKey::new(&signer),
    );
    let issuer = Issuer::new(
        vec![cert, root.intermediate.clone()],
        Arc::new(signer),
        IssuerOptions::default(),
    )
    .unwrap();
    let d = Deployment::builder()
        .ca(CaSpec::from_issuer("hsm", Arc::new(issuer)))
        .build()
        .unwrap();
    mint_and_verify(&d, "before.hsm.example", &root.root).unwrap();
    check_fork(&d, "hsm.example", &root.root);
    d.shutdown();
    println!("SoftHSM2 CA: the child minted (token signature) and verified after fork");
    true
}

fn main() {
    software_ca();
    softhsm_ca();
    println!("fork: ok");
}
