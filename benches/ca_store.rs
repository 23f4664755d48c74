//! `ca_store`: what the HSM costs a mint. Every mint in one process, same origin, same leaf key
//! kind; only the issuer differs:
//! - `software_store`: a software intermediate signs each leaf (the baseline);
//! - `hsm_store_rotating_sub_ca`: the intermediate's key is in SoftHSM2 and signs only the
//!   rotating sub-CA; leaves are signed by the in-memory sub-CA (target ≤ 1.1x the baseline);
//! - `hsm_direct`: for contrast, each leaf signed by the SoftHSM2 key itself.
//!
//!
//! Group `ocsp`: answering a request from pre-signed responses, and pre-signing for 10 sub-CAs,
//! against one raw signature by the intermediate's key.
//!
//! Group `crl`: signing an intermediate's CRL listing 100 revoked sub-CAs (built, signed and
//! verified before it is returned), software key and SoftHSM2 key, each against one raw
//! signature by the same key over a message of the CRL's size.
//!
//! Needs SoftHSM2 (`apt-get install softhsm2`). Run: `cargo bench --features pkcs11 --bench ca_store`

use std::sync::Arc;
use std::time::SystemTime;

use certmint::revocation::{
    Crl, RevocationReason, RevocationStore, RevokedCertificate, CRL_LIFETIME,
};
use certmint::rustls::pki_types::UnixTime;

#[path = "../tests/common/mod.rs"]
#[allow(unused_imports)]
mod common;

use certmint::{
    ca::{Issuer, IssuerOptions, Pkcs11Signer, Pkcs11Uri, RotatingIssuer, RotationPolicy},
    clock::SystemClock,
    keys::{KeyPool, LeafKey},
    mint::MintPolicy,
    testing::ThrowawayCa,
    KeyAlgorithm, MintRequest, Minter,
};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

fn hsm_signer() -> Pkcs11Signer {
    let tokens = common::softhsm_tokens(&["bench"], "87654321")
        .expect("SoftHSM2 (apt-get install softhsm2)");
    // The token directory must outlive the benchmark.
    std::mem::forget(tokens);
    let uri = Pkcs11Uri::parse(&format!(
        "pkcs11:token=bench;object=issuing;type=private?module-path={MODULE}&pin-value=87654321"
    ))
    .unwrap();
    Pkcs11Signer::generate(&uri, KeyAlgorithm::EcdsaP256).unwrap()
}

/// The HSM key's CA certificate, directly under a root so the rotating sub-CA fits every
/// pathLen constraint.
fn ca_cert_for(
    signer: &Pkcs11Signer,
    root: &rcgen::CertifiedIssuer<'_, rcgen::KeyPair>,
) -> certmint::rustls::pki_types::CertificateDer<'static> {
    let mut p = rcgen::CertificateParams::default();
    p.distinguished_name
        .push(rcgen::DnType::CommonName, "HSM intermediate");
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(1));
    p.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    p.key_identifier_method = rcgen::KeyIdMethod::Sha256;
    let now = time::OffsetDateTime::now_utc();
    p.not_before = now - time::Duration::hours(1);
    p.not_after = now + time::Duration::days(365);
    p.signed_by(&common::SpkiKey::new(signer), root)
        .unwrap()
        .der()
        .clone()
}

fn bench(c: &mut Criterion) {
    let org = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let hsm = Arc::new(hsm_signer());
    let mut rp = rcgen::CertificateParams::default();
    rp.distinguished_name
        .push(rcgen::DnType::CommonName, "bench root");
    rp.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    rp.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let hsm_root =
        rcgen::CertifiedIssuer::self_signed(rp, rcgen::KeyPair::generate().unwrap()).unwrap();
    let hsm_issuer = Arc::new(
        Issuer::new(
            vec![ca_cert_for(&hsm, &hsm_root)],
            Arc::clone(&hsm) as _,
            IssuerOptions::default(),
        )
        .unwrap(),
    );
    let keys = Arc::new(KeyPool::inline());
    let software = Minter::new(
        Arc::new(org.issuer().unwrap()),
        Arc::clone(&keys),
        MintPolicy::default(),
    );
    let rotating = RotatingIssuer::new(
        Arc::clone(&hsm_issuer),
        RotationPolicy::default(),
        Arc::new(SystemClock::new()),
    )
    .unwrap();
    let hsm_store = Minter::rotating(Arc::new(rotating), Arc::clone(&keys), MintPolicy::default());
    let direct = Minter::new(hsm_issuer, keys, MintPolicy::default());

    let origin = software
        .mint(&MintRequest::for_host("www.bench.example"))
        .unwrap()
        .leaf()
        .clone();
    let request = MintRequest::clone_of(&origin);
    // The measured chains are real: the HSM-backed one verifies up to its root.
    let sample = hsm_store
        .mint(&request.with_host("www.bench.example"))
        .unwrap();
    let anchor = webpki::anchor_from_trusted_cert(hsm_root.der()).unwrap();
    webpki::EndEntityCert::try_from(sample.leaf())
        .unwrap()
        .verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &[anchor],
            &sample.chain()[1..],
            certmint::rustls::pki_types::UnixTime::now(),
            webpki::KeyUsage::server_auth(),
            None,
            None,
        )
        .expect("the HSM-backed chain verifies");
    let mut g = c.benchmark_group("ca_store");
    for (name, minter) in [
        ("software_store", &software),
        ("hsm_store_rotating_sub_ca", &hsm_store),
        ("hsm_direct", &direct),
    ] {
        g.bench_function(name, |b| {
            b.iter_batched(
                || Arc::new(LeafKey::generate(KeyAlgorithm::EcdsaP256).unwrap()),
                |key| minter.mint_with_key(&request, key).unwrap().certified_key(),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();

    // CRLs: a 100-entry intermediate CRL, software and token keys.
    let revoked: Vec<RevokedCertificate> = (0u32..100)
        .map(|i| {
            let mut serial = vec![0x40; 20];
            serial[16..].copy_from_slice(&i.to_be_bytes());
            RevokedCertificate::new(serial, UnixTime::now(), RevocationReason::KeyCompromise)
        })
        .collect();
    let software_issuer = org.issuer().unwrap();
    let hsm_crl_issuer = Issuer::new(
        vec![ca_cert_for(&hsm, &hsm_root)],
        Arc::clone(&hsm) as _,
        IssuerOptions::default(),
    )
    .unwrap();
    let mut g = c.benchmark_group("crl");
    for (name, issuer) in [("software", &software_issuer), ("hsm", &hsm_crl_issuer)] {
        let now = SystemTime::now();
        let sample = Crl::sign(issuer, now, now + CRL_LIFETIME, &revoked).unwrap();
        let message = vec![0x5a; sample.der().len()];
        g.bench_function(format!("{name}/baseline_raw_signature"), |b| {
            b.iter(|| issuer.signer().sign(&message).unwrap())
        });
        g.bench_function(format!("{name}/crl_100_entries"), |b| {
            b.iter(|| {
                let now = SystemTime::now();
                Crl::sign(issuer, now, now + CRL_LIFETIME, &revoked).unwrap()
            })
        });
    }
    g.finish();

    // OCSP: answering from pre-signed responses, against one raw signature (what signing per
    // request would cost at least), and pre-signing for 10 sub-CAs.
    let store_dir = tempfile::tempdir().unwrap();
    let store = RevocationStore::open(store_dir.path()).unwrap();
    let parent = Arc::new(org.issuer().unwrap());
    let rotating = RotatingIssuer::new(
        Arc::clone(&parent),
        RotationPolicy::default(),
        Arc::new(SystemClock::new()),
    )
    .unwrap();
    for _ in 0..10 {
        let sub = rotating.rotate_now().unwrap();
        store.record_sub_ca(&sub, &parent).unwrap();
    }
    let sub = rotating.current().unwrap();
    let request = ocsp_request(&org.intermediate, sub.certificate());
    let responder = store.ocsp_responder(&parent).unwrap();
    // A hit (a signed `good`), not an `unauthorized` status (5 bytes).
    assert!(
        responder.respond(&request).len() > 100,
        "the request must hit a response"
    );
    let mut g = c.benchmark_group("ocsp");
    let message = vec![0x5a; 200];
    g.bench_function("baseline_raw_signature", |b| {
        b.iter(|| parent.signer().sign(&message).unwrap())
    });
    g.bench_function("respond_presigned", |b| {
        b.iter(|| responder.respond(&request))
    });
    g.bench_function("presign_10_sub_cas", |b| {
        b.iter(|| store.ocsp_responder(&parent).unwrap())
    });
    g.finish();
}

/// A one-certificate OCSP request (SHA-1 CertID), as `openssl ocsp` writes it.
fn ocsp_request(
    issuer: &certmint::rustls::pki_types::CertificateDer<'_>,
    cert: &certmint::rustls::pki_types::CertificateDer<'_>,
) -> Vec<u8> {
    use x509_parser::prelude::*;
    let (_, issuer) = X509Certificate::from_der(issuer.as_ref()).unwrap();
    let (_, cert) = X509Certificate::from_der(cert.as_ref()).unwrap();
    let sha1 = |data: &[u8]| {
        ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, data)
            .as_ref()
            .to_vec()
    };
    let tlv = |tag: u8, content: &[u8]| {
        let mut out = vec![tag];
        if content.len() < 128 {
            out.push(content.len() as u8);
        } else {
            out.extend([0x81, content.len() as u8]);
        }
        out.extend_from_slice(content);
        out
    };
    let mut id = tlv(
        0x30,
        &[0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00],
    );
    id.extend(tlv(0x04, &sha1(issuer.subject().as_raw())));
    id.extend(tlv(
        0x04,
        &sha1(&issuer.public_key().subject_public_key.data),
    ));
    id.extend(tlv(0x02, cert.raw_serial()));
    tlv(0x30, &tlv(0x30, &tlv(0x30, &tlv(0x30, &tlv(0x30, &id)))))
}

criterion_group!(benches, bench);
criterion_main!(benches);
