//! `mint`: the cost of a full clone against one raw signature with the same CA key over a TBS of
//! the same size, measured in the same group so the result reads as a ratio.
//!
//! Run: `cargo bench --bench mint`

use std::sync::Arc;

use certmint::rustls::pki_types::CertificateDer;
use certmint::{
    keys::{KeyPool, LeafKey},
    mint::MintPolicy,
    testing::ThrowawayCa,
    KeyAlgorithm, MintRequest, Minter,
};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};

/// A realistic origin: an RSA-2048 leaf minted by a throwaway "public" CA, with several SANs.
fn origin() -> CertificateDer<'static> {
    let public = ThrowawayCa::generate_named(KeyAlgorithm::EcdsaP256, "bench public").unwrap();
    let minter = Minter::new(
        Arc::new(public.issuer().unwrap()),
        Arc::new(KeyPool::inline()),
        MintPolicy::default(),
    );
    let m = minter
        .mint(
            &MintRequest::for_host("www.bench.example").with_key_algorithm(KeyAlgorithm::EcdsaP256),
        )
        .unwrap();
    m.leaf().clone()
}

fn tbs_of(cert: &[u8]) -> Vec<u8> {
    // Certificate ::= SEQUENCE { tbsCertificate, ... }: skip the outer header, take the first TLV.
    let body = if cert[1] & 0x80 != 0 {
        &cert[2 + (cert[1] & 0x7f) as usize..]
    } else {
        &cert[2..]
    };
    let len = if body[1] & 0x80 != 0 {
        let n = (body[1] & 0x7f) as usize;
        2 + n
            + body[2..2 + n]
                .iter()
                .fold(0usize, |a, b| a << 8 | *b as usize)
    } else {
        2 + body[1] as usize
    };
    body[..len].to_vec()
}

fn bench_mint(c: &mut Criterion) {
    let origin = origin();
    let mut group = c.benchmark_group("mint");
    for (label, ca_alg) in [
        ("p256_ca", KeyAlgorithm::EcdsaP256),
        ("rsa2048_ca", KeyAlgorithm::Rsa2048),
    ] {
        let ca = ThrowawayCa::generate(ca_alg).unwrap();
        let minter = Minter::new(
            Arc::new(ca.issuer().unwrap()),
            Arc::new(KeyPool::inline()),
            MintPolicy::default(),
        );
        let request = MintRequest::clone_of(&origin);
        let sample = minter.mint(&request).unwrap();
        let tbs = tbs_of(sample.leaf().as_ref());
        let signer = Arc::clone(minter.issuer().unwrap().signer());
        group.bench_function(format!("{label}/baseline_raw_signature"), |b| {
            b.iter(|| signer.sign(std::hint::black_box(&tbs)).unwrap())
        });
        // The leaf key is generated and parsed outside the timed section, as the key pool does
        // ahead of time.
        group.bench_function(format!("{label}/clone_with_pooled_key"), |b| {
            b.iter_batched(
                || Arc::new(LeafKey::generate(KeyAlgorithm::EcdsaP256).unwrap()),
                |key| {
                    let minted = minter.mint_with_key(&request, key).unwrap();
                    minted.certified_key()
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench_mint);
criterion_main!(benches);
