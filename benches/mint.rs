//! `mint`: the cost of a full clone against one raw signature with the same CA key over a TBS of
//! the same size, measured in the same group so the result reads as a ratio.
//!
//! `key_pool`: sustained misses (host-only P-256 leaves under a P-256 CA, one minting thread,
//! the key pool's background thread running), as a mint (`Minter::mint` to the `CertifiedKey`)
//! and as a cache miss through the resolver (the mint plus the cache's bookkeeping), against
//! one raw P-256 signature with the CA key; the pool's inline generations during the run say
//! whether it kept up.
//!
//! Run: `cargo bench --bench mint` (ring), `cargo bench --bench mint --features aws-lc-rs`

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

fn bench_key_pool(c: &mut Criterion) {
    use std::sync::atomic::{AtomicU64, Ordering};
    let ca = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let pool = Arc::new(KeyPool::default());
    let minter = Arc::new(Minter::new(
        Arc::new(ca.issuer().unwrap()),
        Arc::clone(&pool),
        MintPolicy::default(),
    ));
    let resolver = certmint::Resolver::new(
        Arc::clone(&minter),
        Arc::new(certmint::CertCache::default()),
    );
    let sample = minter
        .mint(&MintRequest::for_host("sample.pool.example"))
        .unwrap();
    let tbs = tbs_of(sample.leaf().as_ref());
    let signer = Arc::clone(minter.issuer().unwrap().signer());
    let next = AtomicU64::new(0);
    let mut group = c.benchmark_group("key_pool");
    group.bench_function("baseline_raw_p256_signature", |b| {
        b.iter(|| signer.sign(std::hint::black_box(&tbs)).unwrap())
    });
    // The same signature while another thread generates keys as the pool's does: both vCPUs
    // busy, as during sustained misses (on a VM, one busy vCPU slows the other).
    {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let busy = {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::hint::black_box(LeafKey::generate(KeyAlgorithm::EcdsaP256).unwrap());
                }
            })
        };
        group.bench_function("baseline_raw_p256_signature_other_vcpu_busy", |b| {
            b.iter(|| signer.sign(std::hint::black_box(&tbs)).unwrap())
        });
        stop.store(true, Ordering::Relaxed);
        busy.join().unwrap();
    }
    // What the pool's thread pays per key (generation, and with ring the PKCS#8 parse).
    group.bench_function("leaf_key_generate", |b| {
        b.iter(|| LeafKey::generate(KeyAlgorithm::EcdsaP256).unwrap())
    });
    // The same mint with its key made before the timed section and no thread beside it: what
    // a miss costs when nothing else competes for the machine.
    group.bench_function("host_only_mint_key_ready_no_pool_thread", |b| {
        b.iter_batched(
            || Arc::new(LeafKey::generate(KeyAlgorithm::EcdsaP256).unwrap()),
            |key| {
                let n = next.fetch_add(1, Ordering::Relaxed);
                minter
                    .mint_with_key(&MintRequest::for_host(&format!("k{n}.pool.example")), key)
                    .unwrap()
                    .certified_key()
            },
            BatchSize::SmallInput,
        )
    });
    let before = pool.stats();
    group.bench_function("host_only_mint_pool_running", |b| {
        b.iter(|| {
            let n = next.fetch_add(1, Ordering::Relaxed);
            minter
                .mint(&MintRequest::for_host(&format!("m{n}.pool.example")))
                .unwrap()
                .certified_key()
        })
    });
    group.bench_function("host_only_cache_miss_pool_running", |b| {
        b.iter(|| {
            let n = next.fetch_add(1, Ordering::Relaxed);
            resolver
                .lookup_host(&format!("h{n}.pool.example"), KeyAlgorithm::EcdsaP256)
                .unwrap()
        })
    });
    group.finish();
    let after = pool.stats();
    let inline = after.generated_inline - before.generated_inline;
    let ready = after.taken_ready - before.taken_ready;
    eprintln!(
        "key_pool: {} keys taken ready, {} generated inline ({:.1}%), pool target {}",
        ready,
        inline,
        100.0 * inline as f64 / (inline + ready).max(1) as f64,
        pool.target(KeyAlgorithm::EcdsaP256)
    );
}

criterion_group!(benches, bench_mint, bench_key_pool);
criterion_main!(benches);
