//! `certmint_deployment`: the front door (CAs, origin validation, untrusted policy, key pool,
//! per-site cache) as an opaque handle.

use std::sync::Once;

use certmint::keys::Secret;
use certmint::rustls::pki_types::CertificateDer;
use certmint::rustls::SignatureScheme;
use certmint::{CaSpec, ClientKeySupport, Deployment, MintRequest};

use crate::error::{certmint_result, Failure};
use crate::ffi::{
    bytes, certmint_bytes, hand_out, handle, micros as us, optional_bytes, optional_text,
    require_out, text, write_out, write_sized,
};
use crate::key_algorithm::key_algorithm;
use crate::minted::certmint_minted;
use crate::panic::{guard, guard_value};

/// A deployment: the CAs, the roots origins are validated against, the untrusted-origin policy,
/// the key pool and the per-site cache. Thread-safe: one deployment may be used from any number
/// of threads at once without locking. Created by a `certmint_deployment_new_*` function, freed
/// by `certmint_deployment_free`.
pub struct certmint_deployment {
    pub(crate) inner: Deployment,
}

/// The client can verify ECDSA P-256 leaves.
pub const CERTMINT_KEY_SUPPORT_P256: u32 = 1;
/// The client can verify ECDSA P-384 leaves.
pub const CERTMINT_KEY_SUPPORT_P384: u32 = 2;
/// The client can verify Ed25519 leaves.
pub const CERTMINT_KEY_SUPPORT_ED25519: u32 = 4;
/// The client can verify RSA leaves.
pub const CERTMINT_KEY_SUPPORT_RSA: u32 = 8;
/// Every family certmint mints (the same as passing 0).
pub const CERTMINT_KEY_SUPPORT_ALL: u32 = 15;

/// Counters of a deployment's cache (`certmint_deployment_cache_stats`). Fields are only ever
/// appended; times are in microseconds.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct certmint_cache_stats {
    /// Lookups answered by a fresh entry.
    pub hits: u64,
    /// Lookups that found no usable entry and minted.
    pub misses: u64,
    /// Successful mints.
    pub mints: u64,
    /// Lookups that waited for another lookup's mint.
    pub coalesced: u64,
    /// Entries found expired (and replaced).
    pub expirations: u64,
    /// Entries evicted to stay under the size bound.
    pub evictions: u64,
    /// Failed mints.
    pub mint_errors: u64,
    /// Lookups answered by a remembered failure.
    pub cached_failures: u64,
    /// Lookups that gave up waiting for another lookup's mint.
    pub wait_timeouts: u64,
    /// Fastest mint, microseconds.
    pub mint_min_us: u64,
    /// Mean mint time, microseconds.
    pub mint_avg_us: u64,
    /// Slowest mint, microseconds.
    pub mint_max_us: u64,
    /// Entries now.
    pub entries: u64,
    /// Bytes the entries weigh now.
    pub weight: u64,
}

impl From<&certmint::cache::CacheStats> for certmint_cache_stats {
    fn from(s: &certmint::cache::CacheStats) -> Self {
        Self {
            hits: s.hits,
            misses: s.misses,
            mints: s.mints,
            coalesced: s.coalesced,
            expirations: s.expirations,
            evictions: s.evictions,
            mint_errors: s.mint_errors,
            cached_failures: s.cached_failures,
            wait_timeouts: s.wait_timeouts,
            mint_min_us: us(s.mint_min),
            mint_avg_us: us(s.mint_avg),
            mint_max_us: us(s.mint_max),
            entries: s.entries,
            weight: s.weight,
        }
    }
}

/// Registers certmint's fork handler once per process.
fn register_fork_handler() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: pthread_atfork with a valid `extern "C"` child handler; the handler only
        // restarts certmint's own threads (see `certmint_after_fork_child`).
        let rc = unsafe { libc::pthread_atfork(None, None, Some(fork_child)) };
        if rc != 0 {
            eprintln!("certmint: pthread_atfork failed ({rc}); call certmint_after_fork_child() in children");
        }
    });
}

extern "C" fn fork_child() {
    guard_value((), certmint::after_fork_child);
}

fn build(
    result: Result<Deployment, certmint::Error>,
    out: *mut *mut certmint_deployment,
) -> Result<(), Failure> {
    let inner = result?;
    register_fork_handler();
    // SAFETY: `out` was checked non-NULL by the caller and is writable per the API contract.
    unsafe { hand_out("deployment_out", out, certmint_deployment { inner }) }
}

/// Makes a deployment from a TOML configuration file (the format `certmint proxy --config`
/// reads; relative paths are relative to the file's directory).
///
/// `path`/`path_len`: the file name (UTF-8, not NUL-terminated; the bytes are read during the
/// call only). On success `*deployment_out` receives a new deployment the caller owns and frees
/// with `certmint_deployment_free`; on failure it is left untouched and `certmint_last_error`
/// names the file and line.
#[no_mangle]
pub extern "C" fn certmint_deployment_new_from_config_file(
    path: *const u8,
    path_len: usize,
    deployment_out: *mut *mut certmint_deployment,
) -> certmint_result {
    guard(|| {
        require_out("deployment_out", deployment_out)?;
        // SAFETY: (path, path_len) is readable per the API contract.
        let path = unsafe { text("path", path, path_len) }?;
        build(certmint::config::load(path.as_ref()), deployment_out)
    })
}

/// Makes a deployment from TOML configuration text held in memory (every path in it must be
/// absolute). `text`/`text_len` are read during the call only. Ownership of `*deployment_out` as
/// for `certmint_deployment_new_from_config_file`.
#[no_mangle]
pub extern "C" fn certmint_deployment_new_from_config_text(
    config: *const u8,
    config_len: usize,
    deployment_out: *mut *mut certmint_deployment,
) -> certmint_result {
    guard(|| {
        require_out("deployment_out", deployment_out)?;
        // SAFETY: (config, config_len) is readable per the API contract.
        let config = unsafe { text("config", config, config_len) }?;
        build(certmint::config::from_text(config), deployment_out)
    })
}

/// Makes a deployment with one CA, the Mozilla roots for origin validation, refusal of untrusted
/// origins, and default cache and key pool.
///
/// - `cert`/`cert_len`: the CA certificate, optionally followed by its chain (PEM or DER).
/// - `key`/`key_len`: the CA's private key (PEM or DER: PKCS#8, SEC1, PKCS#1 or encrypted
///   PKCS#8), or a `pkcs11:` URI (RFC 7512) naming a key in a token.
/// - `secret`/`secret_len`: the key file's passphrase, or the token's PIN for a `pkcs11:` key;
///   NULL to take it from `CERTMINT_CA_KEY_PASS` (files) or the URI's `pin-source` (tokens).
///
/// Every input is read during the call only; the secret's copy inside certmint is wiped when
/// no longer needed (the caller wipes its own). Ownership of `*deployment_out` as for
/// `certmint_deployment_new_from_config_file`.
#[no_mangle]
pub extern "C" fn certmint_deployment_new_from_ca(
    cert: *const u8,
    cert_len: usize,
    key: *const u8,
    key_len: usize,
    secret: *const u8,
    secret_len: usize,
    deployment_out: *mut *mut certmint_deployment,
) -> certmint_result {
    guard(|| {
        require_out("deployment_out", deployment_out)?;
        // SAFETY: each (pointer, length) pair is readable per the API contract.
        let (cert, key, secret) = unsafe {
            (
                bytes("cert", cert, cert_len)?,
                bytes("key", key, key_len)?,
                optional_bytes("secret", secret, secret_len)?,
            )
        };
        let secret = secret.map(|s| Secret::from(s.to_vec()));
        let spec = match std::str::from_utf8(key) {
            Ok(uri) if certmint::ca::is_pkcs11_uri(uri) => {
                let spec = CaSpec::from_pkcs11("default", cert, uri);
                match secret {
                    Some(pin) => spec.with_pin(pin),
                    None => spec,
                }
            }
            _ => {
                let spec = CaSpec::from_pem("default", cert, key);
                match secret {
                    Some(pass) => spec.with_passphrase(pass),
                    None => spec,
                }
            }
        };
        build(Deployment::builder().ca(spec).build(), deployment_out)
    })
}

/// Frees a deployment: stops its background threads (without waiting) and releases its CAs,
/// cache and keys. NULL is a no-op. No other thread may be using the deployment, and certificates
/// it handed out (`certmint_minted`) stay valid until they are freed themselves. Freeing twice
/// is the caller's bug (undefined behaviour).
#[no_mangle]
pub extern "C" fn certmint_deployment_free(deployment: *mut certmint_deployment) {
    guard_value((), || {
        if !deployment.is_null() {
            // SAFETY: a non-NULL pointer came from Box::into_raw in `build` and, per the API
            // contract, is freed once and is not in use elsewhere.
            drop(unsafe { Box::from_raw(deployment) });
        }
    });
}

/// Stops the deployment's background threads (key generator, clock) and waits for them. The
/// deployment stays usable (keys are then made on the calling thread). Call it before
/// `certmint_deployment_free` when a leak checker should see every thread gone.
#[no_mangle]
pub extern "C" fn certmint_deployment_shutdown(
    deployment: *const certmint_deployment,
) -> certmint_result {
    guard(|| {
        // SAFETY: NULL or a live deployment per the API contract.
        let d = unsafe { handle("deployment", deployment) }?;
        d.inner.shutdown();
        Ok(())
    })
}

/// The leaf key families a client can verify, from the TLS signature schemes (IANA
/// SignatureScheme values, host byte order) of its ClientHello: a `CERTMINT_KEY_SUPPORT_*`
/// bitmask written to `*support_out` (0 when it offers none certmint can serve).
#[no_mangle]
pub extern "C" fn certmint_key_support_from_schemes(
    schemes: *const u16,
    schemes_len: usize,
    support_out: *mut u32,
) -> certmint_result {
    guard(|| {
        require_out("support_out", support_out)?;
        let schemes: Vec<SignatureScheme> = if schemes_len == 0 {
            Vec::new()
        } else if schemes.is_null() {
            return Err(Failure::null("schemes"));
        } else {
            // SAFETY: non-NULL and `schemes_len` readable u16 values per the API contract.
            unsafe { std::slice::from_raw_parts(schemes, schemes_len) }
                .iter()
                .map(|s| SignatureScheme::from(*s))
                .collect()
        };
        let support = ClientKeySupport::from_schemes(&schemes);
        let mask = [
            (support.p256, CERTMINT_KEY_SUPPORT_P256),
            (support.p384, CERTMINT_KEY_SUPPORT_P384),
            (support.ed25519, CERTMINT_KEY_SUPPORT_ED25519),
            (support.rsa, CERTMINT_KEY_SUPPORT_RSA),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .fold(0, |acc, (_, bit)| acc | bit);
        // SAFETY: checked non-NULL above; writable per the API contract.
        unsafe { write_out("support_out", support_out, mask) }
    })
}

fn client_key_support(mask: u32) -> Result<ClientKeySupport, Failure> {
    if mask & !CERTMINT_KEY_SUPPORT_ALL != 0 {
        return Err(Failure::new(
            certmint_result::CERTMINT_INVALID_PARAMETER,
            format!("unknown key support bits {mask:#x}"),
        ));
    }
    if mask == 0 {
        return Ok(ClientKeySupport::all());
    }
    let mut support = ClientKeySupport::default();
    support.p256 = mask & CERTMINT_KEY_SUPPORT_P256 != 0;
    support.p384 = mask & CERTMINT_KEY_SUPPORT_P384 != 0;
    support.ed25519 = mask & CERTMINT_KEY_SUPPORT_ED25519 != 0;
    support.rsa = mask & CERTMINT_KEY_SUPPORT_RSA != 0;
    Ok(support)
}

/// The certificate to serve a client, from the cache or minted, after origin validation and
/// policy.
///
/// - `host`/`host_len`: the SNI (or the CONNECT host); NULL when the client sent none (the
///   deployment's fallback host is used, if configured).
/// - `origin_chain`/`origin_chain_len`: the origin's chain as DER certificates, end-entity first,
///   for server-first proxies; NULL/0 for client-first (a leaf from the host alone). It is
///   validated for `host`; an untrusted origin is refused (`CERTMINT_UNTRUSTED_ORIGIN`, the reason
///   in `certmint_last_error`) or mirrored under the untrusted CA, as configured.
/// - `key_support`: `CERTMINT_KEY_SUPPORT_*` bits the client accepts (0: any).
///
/// All inputs are read during the call only. On success `*minted_out` receives a certificate the
/// caller owns and frees with `certmint_minted_free`.
#[no_mangle]
pub extern "C" fn certmint_deployment_lookup(
    deployment: *const certmint_deployment,
    host: *const u8,
    host_len: usize,
    origin_chain: *const certmint_bytes,
    origin_chain_len: usize,
    key_support: u32,
    minted_out: *mut *mut certmint_minted,
) -> certmint_result {
    guard(|| {
        require_out("minted_out", minted_out)?;
        // SAFETY: NULL or a live deployment per the API contract.
        let d = unsafe { handle("deployment", deployment) }?;
        // SAFETY: (host, host_len) readable per the API contract.
        let host = unsafe { optional_text("host", host, host_len) }?;
        // SAFETY: (origin_chain, origin_chain_len) is an array of readable byte strings.
        let chain = unsafe { der_list(origin_chain, origin_chain_len) }?;
        let support = client_key_support(key_support)?;
        let found = d.inner.lookup(host, &chain, support)?;
        // SAFETY: checked non-NULL; writable per the API contract.
        unsafe { hand_out("minted_out", minted_out, certmint_minted::cached(found)) }
    })
}

/// The DER certificates of a C array of byte strings, borrowed (no copy).
///
/// # Safety
/// `list` must be NULL or point to `len` `certmint_bytes`, each readable as `bytes` requires.
unsafe fn der_list<'a>(
    list: *const certmint_bytes,
    len: usize,
) -> Result<Vec<CertificateDer<'a>>, Failure> {
    if len == 0 {
        return Ok(Vec::new());
    }
    if list.is_null() {
        return Err(Failure::null("origin_chain"));
    }
    // SAFETY: non-NULL, `len` elements readable per the caller's contract.
    let items = unsafe { std::slice::from_raw_parts(list, len) };
    items
        .iter()
        // SAFETY: each element's (data, len) is readable per the caller's contract.
        .map(|b| unsafe { bytes("origin_chain[i]", b.data, b.len) }.map(CertificateDer::from))
        .collect()
}

/// Mints a certificate directly: no cache, no origin validation (the caller vouches for the
/// origin). `origin`/`origin_len`: the origin's DER certificate to clone, or NULL for a leaf from
/// the host alone; `host`/`host_len`: the host (NULL when cloning without one); `key_algorithm`:
/// a `CERTMINT_KEY_ALGORITHM_*` value. Inputs are read during the call only; `*minted_out` as for
/// `certmint_deployment_lookup`.
#[no_mangle]
pub extern "C" fn certmint_deployment_mint(
    deployment: *const certmint_deployment,
    host: *const u8,
    host_len: usize,
    origin: *const u8,
    origin_len: usize,
    key_algorithm_value: u32,
    minted_out: *mut *mut certmint_minted,
) -> certmint_result {
    guard(|| {
        require_out("minted_out", minted_out)?;
        // SAFETY: NULL or a live deployment per the API contract.
        let d = unsafe { handle("deployment", deployment) }?;
        // SAFETY: both (pointer, length) pairs are readable per the API contract.
        let (host, origin) = unsafe {
            (
                optional_text("host", host, host_len)?,
                optional_bytes("origin", origin, origin_len)?,
            )
        };
        let origin = origin.map(CertificateDer::from);
        let mut request = MintRequest::default();
        if let Some(origin) = &origin {
            request = request.with_origin(origin);
        }
        if let Some(host) = host {
            request = request.with_host(host);
        }
        if let Some(algorithm) = key_algorithm(key_algorithm_value)? {
            request = request.with_key_algorithm(algorithm);
        }
        let minted = d.inner.mint(&request)?;
        // SAFETY: checked non-NULL; writable per the API contract.
        unsafe { hand_out("minted_out", minted_out, certmint_minted::direct(minted)) }
    })
}

/// Copies the cache's counters into `*stats_out`, whose size the caller gives in `stats_size`
/// (`sizeof(certmint_cache_stats)`; a smaller, older struct gets the fields it has).
#[no_mangle]
pub extern "C" fn certmint_deployment_cache_stats(
    deployment: *const certmint_deployment,
    stats_out: *mut certmint_cache_stats,
    stats_size: usize,
) -> certmint_result {
    guard(|| {
        require_out("stats_out", stats_out)?;
        // SAFETY: NULL or a live deployment per the API contract.
        let d = unsafe { handle("deployment", deployment) }?;
        let stats = certmint_cache_stats::from(&d.inner.cache_stats());
        // SAFETY: `stats_out` has `stats_size` writable bytes per the API contract.
        unsafe { write_sized("stats_out", stats_out, stats_size, &stats) }
    })
}

/// Drops every cached certificate (those already handed out stay valid until freed).
#[no_mangle]
pub extern "C" fn certmint_deployment_purge(
    deployment: *const certmint_deployment,
) -> certmint_result {
    guard(|| {
        // SAFETY: NULL or a live deployment per the API contract.
        unsafe { handle("deployment", deployment) }?.inner.purge();
        Ok(())
    })
}

/// Enables the CA with this id (UTF-8, read during the call).
#[no_mangle]
pub extern "C" fn certmint_deployment_enable_ca(
    deployment: *const certmint_deployment,
    id: *const u8,
    id_len: usize,
) -> certmint_result {
    guard(|| {
        // SAFETY: NULL or a live deployment, and a readable id, per the API contract.
        let (d, id) = unsafe { (handle("deployment", deployment)?, text("id", id, id_len)?) };
        Ok(d.inner.enable_ca(id)?)
    })
}

/// Disables the CA with this id; disabling the default CA needs `new_default` (NULL otherwise).
/// Both ids are UTF-8, read during the call.
#[no_mangle]
pub extern "C" fn certmint_deployment_disable_ca(
    deployment: *const certmint_deployment,
    id: *const u8,
    id_len: usize,
    new_default: *const u8,
    new_default_len: usize,
) -> certmint_result {
    guard(|| {
        // SAFETY: NULL or a live deployment, and readable ids, per the API contract.
        let (d, id, new_default) = unsafe {
            (
                handle("deployment", deployment)?,
                text("id", id, id_len)?,
                optional_text("new_default", new_default, new_default_len)?,
            )
        };
        Ok(d.inner.disable_ca(id, new_default)?)
    })
}

/// Makes the CA with this id (UTF-8, read during the call) the default.
#[no_mangle]
pub extern "C" fn certmint_deployment_set_default_ca(
    deployment: *const certmint_deployment,
    id: *const u8,
    id_len: usize,
) -> certmint_result {
    guard(|| {
        // SAFETY: NULL or a live deployment, and a readable id, per the API contract.
        let (d, id) = unsafe { (handle("deployment", deployment)?, text("id", id, id_len)?) };
        Ok(d.inner.set_default_ca(id)?)
    })
}

/// Restores every deployment in a child process after `fork()`: restarts the background
/// threads and reopens PKCS#11 sessions on their next use. certmint registers this with
/// `pthread_atfork` when the first deployment is made, so C programs need not call it; it is
/// exported for programs that fork through means that skip the atfork handlers. Fork while no
/// other thread is inside a certmint call.
#[no_mangle]
pub extern "C" fn certmint_after_fork_child() {
    guard_value((), certmint::after_fork_child);
}
