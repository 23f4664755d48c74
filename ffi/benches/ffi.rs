//! The C ABI's overhead: the same front-door call through the `extern "C"` functions and from
//! Rust, in one criterion group each (the Rust call is the baseline, so results read as ratios).
//!
//! `cargo bench -p certmint-ffi --bench ffi`

use std::hint::black_box;

use certmint::testing::ThrowawayCa;
use certmint::{ClientKeySupport, Deployment, KeyAlgorithm, MintRequest};
use certmint_ffi::{
    certmint_deployment, certmint_deployment_free, certmint_deployment_lookup,
    certmint_deployment_mint, certmint_deployment_new_from_config_text, certmint_minted,
    certmint_minted_free, certmint_result, CERTMINT_KEY_ALGORITHM_P256,
};
use criterion::{criterion_group, criterion_main, Criterion};

const HOST: &str = "www.example.com";

/// The same CA as a Rust deployment and as a C ABI deployment (one configuration text).
fn deployments(dir: &std::path::Path) -> (Deployment, *mut certmint_deployment) {
    let ca = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let cert = dir.join("ca.pem");
    let key = dir.join("ca-key.pem");
    std::fs::write(&cert, certmint::pem::encode_certificate(&ca.intermediate)).unwrap();
    std::fs::write(&key, ca.intermediate_key.to_pem().as_bytes()).unwrap();
    let text = format!(
        "[[ca]]\nid = \"corp\"\ncert = \"{}\"\nkey = \"{}\"\n",
        cert.display(),
        key.display()
    );
    let rust = certmint::config::from_text(&text).unwrap();
    let mut c: *mut certmint_deployment = std::ptr::null_mut();
    let r = certmint_deployment_new_from_config_text(text.as_ptr(), text.len(), &mut c);
    assert_eq!(r, certmint_result::CERTMINT_OK);
    (rust, c)
}

fn c_lookup(d: *const certmint_deployment) {
    let mut m: *mut certmint_minted = std::ptr::null_mut();
    let r =
        certmint_deployment_lookup(d, HOST.as_ptr(), HOST.len(), std::ptr::null(), 0, 0, &mut m);
    assert_eq!(r, certmint_result::CERTMINT_OK);
    certmint_minted_free(black_box(m));
}

fn bench(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("certmint-ffi-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (rust, cd) = deployments(&dir);

    // Cache hit: the Rust front door vs the same lookup through the C ABI (handle allocation,
    // UTF-8 check, panic boundary and free included).
    rust.lookup(Some(HOST), &[], ClientKeySupport::all())
        .unwrap();
    c_lookup(cd);
    let mut group = c.benchmark_group("ffi_hit");
    group.bench_function("rust_lookup", |b| {
        b.iter(|| {
            black_box(
                rust.lookup(Some(black_box(HOST)), &[], ClientKeySupport::all())
                    .unwrap(),
            )
        })
    });
    group.bench_function("c_abi_lookup", |b| b.iter(|| c_lookup(black_box(cd))));
    group.finish();

    // P-256 mint without the cache: Deployment::mint vs certmint_deployment_mint.
    let mut group = c.benchmark_group("ffi_mint_p256");
    group.bench_function("rust_mint", |b| {
        b.iter(|| {
            black_box(
                rust.mint(
                    &MintRequest::for_host(black_box(HOST))
                        .with_key_algorithm(KeyAlgorithm::EcdsaP256),
                )
                .unwrap(),
            )
        })
    });
    group.bench_function("c_abi_mint", |b| {
        b.iter(|| {
            let mut m: *mut certmint_minted = std::ptr::null_mut();
            let r = certmint_deployment_mint(
                cd,
                HOST.as_ptr(),
                HOST.len(),
                std::ptr::null(),
                0,
                CERTMINT_KEY_ALGORITHM_P256,
                &mut m,
            );
            assert_eq!(r, certmint_result::CERTMINT_OK);
            certmint_minted_free(black_box(m));
        })
    });
    group.finish();

    rust.shutdown();
    certmint_deployment_free(cd);
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
