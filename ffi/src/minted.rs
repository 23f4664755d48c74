//! `certmint_minted`: a minted certificate handed to C (its chain, the leaf's key, serial,
//! notAfter, the origin verdict) and the attachment slot servers use to keep their parsed form.

use std::ffi::{c_char, c_void};
use std::sync::OnceLock;

use certmint::cache::{Lookup, OriginVerdict, Outcome};
use certmint::keys::{KeyParts, PrivateKey};
use certmint::rustls::pki_types::{CertificateDer, UnixTime};
use certmint::MintedCert;

use crate::error::{certmint_result, Failure};
use crate::ffi::{copy_out, handle, lend, require_out, write_out};
use crate::key_algorithm::{key_algorithm_code, CERTMINT_KEY_ALGORITHM_DEFAULT};
use crate::panic::{guard, guard_value};

/// A minted certificate: the chain (leaf first, then the intermediates, never the root) and the
/// leaf's private key. Returned by `certmint_deployment_lookup` (shared with the cache) or
/// `certmint_deployment_mint` (its own); the caller frees it with `certmint_minted_free`. Every
/// pointer lent by its accessors stays valid until then. Thread-safe for reading.
pub struct certmint_minted {
    inner: Inner,
}

enum Inner {
    Cached(Lookup),
    Direct {
        cert: MintedCert,
        attachment: OnceLock<UserData>,
    },
}

/// A C pointer and the function that frees it, attached to a cached entry.
struct UserData {
    data: *mut c_void,
    destroy: Option<extern "C" fn(*mut c_void)>,
}

// SAFETY: `certmint_minted_attach` documents that the attached data must be usable and
// destroyable from any thread (the entry may be dropped on whichever thread evicts it).
unsafe impl Send for UserData {}
// SAFETY: as above; certmint never dereferences `data`, it only hands it back.
unsafe impl Sync for UserData {}

impl Drop for UserData {
    fn drop(&mut self) {
        if let Some(destroy) = self.destroy {
            destroy(self.data);
        }
    }
}

/// How the certificate was found (`certmint_minted_outcome`): from the cache.
pub const CERTMINT_OUTCOME_HIT: u32 = 0;
/// Minted by this call.
pub const CERTMINT_OUTCOME_MINTED: u32 = 1;
/// Minted by a concurrent call for the same site, which this one waited for.
pub const CERTMINT_OUTCOME_COALESCED: u32 = 2;

/// What origin validation decided (`certmint_minted_verdict`): no origin chain was checked (a
/// host-only leaf, or `certmint_deployment_mint`).
pub const CERTMINT_VERDICT_NOT_CHECKED: u32 = 0;
/// The origin validated; the leaf is signed by a trusted CA.
pub const CERTMINT_VERDICT_TRUSTED: u32 = 1;
/// The origin did not validate; the leaf mirrors the distrust under the untrusted CA.
pub const CERTMINT_VERDICT_UNTRUSTED: u32 = 2;

impl certmint_minted {
    pub(crate) fn cached(lookup: Lookup) -> Self {
        Self {
            inner: Inner::Cached(lookup),
        }
    }

    pub(crate) fn direct(cert: MintedCert) -> Self {
        Self {
            inner: Inner::Direct {
                cert,
                attachment: OnceLock::new(),
            },
        }
    }

    fn chain(&self) -> &[CertificateDer<'static>] {
        match &self.inner {
            Inner::Cached(l) => &l.certified_key().cert,
            Inner::Direct { cert, .. } => cert.chain(),
        }
    }

    fn private_key(&self) -> &PrivateKey {
        match &self.inner {
            Inner::Cached(l) => l.key().private_key(),
            Inner::Direct { cert, .. } => cert.private_key(),
        }
    }

    fn serial(&self) -> &[u8] {
        match &self.inner {
            Inner::Cached(l) => l.serial(),
            Inner::Direct { cert, .. } => cert.serial(),
        }
    }

    fn not_after(&self) -> UnixTime {
        match &self.inner {
            Inner::Cached(l) => l.not_after(),
            Inner::Direct { cert, .. } => cert.not_after(),
        }
    }

    fn attachment(&self) -> Option<&UserData> {
        match &self.inner {
            Inner::Cached(l) => l.attachment::<UserData>(),
            Inner::Direct { attachment, .. } => attachment.get(),
        }
    }

    fn attach(&self, data: UserData) -> Option<&UserData> {
        match &self.inner {
            Inner::Cached(l) => l.attach(data),
            Inner::Direct { attachment, .. } => Some(attachment.get_or_init(|| data)),
        }
    }
}

/// Frees a certificate handed out by certmint. NULL is a no-op; freeing twice is the caller's
/// bug. An attachment stays with the cache entry (for cached certificates) until the cache drops
/// the entry; a directly minted certificate's attachment is destroyed now.
#[no_mangle]
pub extern "C" fn certmint_minted_free(minted: *mut certmint_minted) {
    guard_value((), || {
        if !minted.is_null() {
            // SAFETY: a non-NULL pointer came from Box::into_raw (`hand_out`) and, per the API
            // contract, is freed once.
            drop(unsafe { Box::from_raw(minted) });
        }
    });
}

/// The number of certificates in the chain (leaf + intermediates); 0 for NULL.
#[no_mangle]
pub extern "C" fn certmint_minted_chain_len(minted: *const certmint_minted) -> usize {
    guard_value(0, || {
        // SAFETY: NULL or a live certificate per the API contract.
        unsafe { minted.as_ref() }.map_or(0, |m| m.chain().len())
    })
}

/// Lends the DER of chain certificate `index` (0: the leaf) through `*der_out`/`*der_len_out`,
/// valid until `minted` is freed. An index past the end is `CERTMINT_INVALID_PARAMETER`.
#[no_mangle]
pub extern "C" fn certmint_minted_chain_der(
    minted: *const certmint_minted,
    index: usize,
    der_out: *mut *const u8,
    der_len_out: *mut usize,
) -> certmint_result {
    guard(|| {
        // SAFETY: NULL or a live certificate per the API contract.
        let m = unsafe { handle("minted", minted) }?;
        let cert = m.chain().get(index).ok_or_else(|| {
            Failure::new(
                certmint_result::CERTMINT_INVALID_PARAMETER,
                format!(
                    "index {index} is past the chain's {} certificates",
                    m.chain().len()
                ),
            )
        })?;
        // SAFETY: out-parameters writable per the API contract; the DER lives in `m`.
        unsafe { lend(der_out, der_len_out, cert.as_ref()) }
    })
}

/// Lends the leaf's private key as PKCS#8 DER through `*der_out`/`*der_len_out`, valid until
/// `minted` is freed. The bytes are secret: do not copy them where they outlive their use
/// (certmint wipes its copy when the key's last user is gone).
#[no_mangle]
pub extern "C" fn certmint_minted_key_der(
    minted: *const certmint_minted,
    der_out: *mut *const u8,
    der_len_out: *mut usize,
) -> certmint_result {
    guard(|| {
        // SAFETY: NULL or a live certificate per the API contract.
        let m = unsafe { handle("minted", minted) }?;
        let pkcs8 = m.private_key().pkcs8();
        // SAFETY: out-parameters writable per the API contract. `pkcs8` borrows the key's own
        // buffer (PrivateKey::pkcs8 lends, it does not copy), which lives as long as `m`.
        unsafe { lend(der_out, der_len_out, pkcs8.secret_pkcs8_der()) }
    })
}

/// Which component `certmint_minted_key_part` lends. EC keys: the private scalar.
pub const CERTMINT_KEY_PART_EC_PRIVATE: u32 = 1;
/// EC keys: the public point (SEC1, uncompressed).
pub const CERTMINT_KEY_PART_EC_PUBLIC: u32 = 2;
/// Ed25519 keys: the 32-byte seed.
pub const CERTMINT_KEY_PART_ED25519_SEED: u32 = 3;
/// RSA keys: the modulus.
pub const CERTMINT_KEY_PART_RSA_N: u32 = 4;
/// RSA keys: the public exponent.
pub const CERTMINT_KEY_PART_RSA_E: u32 = 5;
/// RSA keys: the private exponent.
pub const CERTMINT_KEY_PART_RSA_D: u32 = 6;
/// RSA keys: the first prime.
pub const CERTMINT_KEY_PART_RSA_P: u32 = 7;
/// RSA keys: the second prime.
pub const CERTMINT_KEY_PART_RSA_Q: u32 = 8;
/// RSA keys: d mod (p-1).
pub const CERTMINT_KEY_PART_RSA_DP: u32 = 9;
/// RSA keys: d mod (q-1).
pub const CERTMINT_KEY_PART_RSA_DQ: u32 = 10;
/// RSA keys: q^-1 mod p.
pub const CERTMINT_KEY_PART_RSA_QINV: u32 = 11;

/// The leaf key's algorithm: a `CERTMINT_KEY_ALGORITHM_*` value (`CERTMINT_KEY_ALGORITHM_DEFAULT`
/// for NULL).
#[no_mangle]
pub extern "C" fn certmint_minted_key_algorithm(minted: *const certmint_minted) -> u32 {
    guard_value(CERTMINT_KEY_ALGORITHM_DEFAULT, || {
        // SAFETY: NULL or a live certificate per the API contract.
        unsafe { minted.as_ref() }.map_or(CERTMINT_KEY_ALGORITHM_DEFAULT, |m| {
            key_algorithm_code(m.private_key().algorithm())
        })
    })
}

/// Lends one raw component of the leaf's private key (a `CERTMINT_KEY_PART_*` value; unsigned
/// big-endian integers without leading zeros, as in the PKCS#8) through `*out`/`*out_len`,
/// valid until `minted` is freed: for importing the key without a DER decoder (OpenSSL 3.0's
/// `EVP_PKEY_fromdata` takes ~12 µs where decoding the PKCS#8 takes ~0.3 ms). A part the key's
/// algorithm does not have (an RSA part of an EC key), or an EC public point the key does not
/// carry, is `CERTMINT_INVALID_PARAMETER`. The bytes are secret, as for `certmint_minted_key_der`.
#[no_mangle]
pub extern "C" fn certmint_minted_key_part(
    minted: *const certmint_minted,
    part: u32,
    out: *mut *const u8,
    out_len: *mut usize,
) -> certmint_result {
    guard(|| {
        // SAFETY: NULL or a live certificate per the API contract.
        let m = unsafe { handle("minted", minted) }?;
        require_out("out", out)?;
        require_out("out_len", out_len)?;
        let key = m.private_key();
        let parts = key
            .parts()
            .map_err(|e| Failure::from(certmint::Error::from(e)))?;
        let bytes = match (parts, part) {
            (KeyParts::Ec { private, .. }, CERTMINT_KEY_PART_EC_PRIVATE) => Some(private),
            (KeyParts::Ec { public, .. }, CERTMINT_KEY_PART_EC_PUBLIC) => public,
            (KeyParts::Ed25519 { seed }, CERTMINT_KEY_PART_ED25519_SEED) => Some(seed),
            (KeyParts::Rsa { n, .. }, CERTMINT_KEY_PART_RSA_N) => Some(n),
            (KeyParts::Rsa { e, .. }, CERTMINT_KEY_PART_RSA_E) => Some(e),
            (KeyParts::Rsa { d, .. }, CERTMINT_KEY_PART_RSA_D) => Some(d),
            (KeyParts::Rsa { p, .. }, CERTMINT_KEY_PART_RSA_P) => Some(p),
            (KeyParts::Rsa { q, .. }, CERTMINT_KEY_PART_RSA_Q) => Some(q),
            (KeyParts::Rsa { dp, .. }, CERTMINT_KEY_PART_RSA_DP) => Some(dp),
            (KeyParts::Rsa { dq, .. }, CERTMINT_KEY_PART_RSA_DQ) => Some(dq),
            (KeyParts::Rsa { qinv, .. }, CERTMINT_KEY_PART_RSA_QINV) => Some(qinv),
            _ => None,
        }
        .ok_or_else(|| {
            Failure::new(
                certmint_result::CERTMINT_INVALID_PARAMETER,
                format!("a {} key has no part {part}", key.algorithm()),
            )
        })?;
        // SAFETY: out-parameters writable per the API contract; `bytes` borrows the key's own
        // buffer (KeyParts borrows, it does not copy), which lives as long as `m`.
        unsafe { lend(out, out_len, bytes) }
    })
}

/// Copies the chain as PEM (leaf first) into `buf` (`buf_len` bytes) with a terminating NUL;
/// `*written_out` receives its length without the NUL. When `buf` is too small nothing is copied,
/// the result is `CERTMINT_BUFFER_TOO_SMALL` and `*written_out` holds the size needed.
#[no_mangle]
pub extern "C" fn certmint_minted_chain_pem(
    minted: *const certmint_minted,
    buf: *mut c_char,
    buf_len: usize,
    written_out: *mut usize,
) -> certmint_result {
    guard(|| {
        // SAFETY: NULL or a live certificate per the API contract.
        let m = unsafe { handle("minted", minted) }?;
        let pem = certmint::pem::encode_chain(m.chain());
        // SAFETY: buffer and out-parameter per the API contract.
        unsafe { copy_out(buf, buf_len, written_out, pem.as_bytes()) }
    })
}

/// Copies the leaf's private key as PEM (`PRIVATE KEY`, unencrypted) into `buf`, as
/// `certmint_minted_chain_pem` does. The buffer then holds a secret: wipe it after use.
#[no_mangle]
pub extern "C" fn certmint_minted_key_pem(
    minted: *const certmint_minted,
    buf: *mut c_char,
    buf_len: usize,
    written_out: *mut usize,
) -> certmint_result {
    guard(|| {
        // SAFETY: NULL or a live certificate per the API contract.
        let m = unsafe { handle("minted", minted) }?;
        let pem = m.private_key().to_pem(); // wiped when dropped
                                            // SAFETY: buffer and out-parameter per the API contract.
        unsafe { copy_out(buf, buf_len, written_out, pem.as_bytes()) }
    })
}

/// Lends the leaf's serial number (big-endian, 20 octets) through `*serial_out`/`*len_out`,
/// valid until `minted` is freed.
#[no_mangle]
pub extern "C" fn certmint_minted_serial(
    minted: *const certmint_minted,
    serial_out: *mut *const u8,
    len_out: *mut usize,
) -> certmint_result {
    guard(|| {
        // SAFETY: NULL or a live certificate per the API contract.
        let m = unsafe { handle("minted", minted) }?;
        // SAFETY: out-parameters writable per the API contract; the serial lives in `m`.
        unsafe { lend(serial_out, len_out, m.serial()) }
    })
}

/// Writes the leaf's notAfter (seconds since the Unix epoch) to `*not_after_out`.
#[no_mangle]
pub extern "C" fn certmint_minted_not_after(
    minted: *const certmint_minted,
    not_after_out: *mut u64,
) -> certmint_result {
    guard(|| {
        // SAFETY: NULL or a live certificate per the API contract.
        let m = unsafe { handle("minted", minted) }?;
        // SAFETY: writable per the API contract.
        unsafe { write_out("not_after_out", not_after_out, m.not_after().as_secs()) }
    })
}

/// What origin validation decided: a `CERTMINT_VERDICT_*` value (`CERTMINT_VERDICT_NOT_CHECKED`
/// for NULL).
#[no_mangle]
pub extern "C" fn certmint_minted_verdict(minted: *const certmint_minted) -> u32 {
    guard_value(CERTMINT_VERDICT_NOT_CHECKED, || {
        // SAFETY: NULL or a live certificate per the API contract.
        match unsafe { minted.as_ref() }.map(|m| &m.inner) {
            Some(Inner::Cached(l)) => match l.verdict() {
                OriginVerdict::Trusted => CERTMINT_VERDICT_TRUSTED,
                OriginVerdict::Untrusted => CERTMINT_VERDICT_UNTRUSTED,
                _ => CERTMINT_VERDICT_NOT_CHECKED,
            },
            _ => CERTMINT_VERDICT_NOT_CHECKED,
        }
    })
}

/// How a lookup was answered: a `CERTMINT_OUTCOME_*` value (`CERTMINT_OUTCOME_MINTED` for
/// `certmint_deployment_mint` and for NULL).
#[no_mangle]
pub extern "C" fn certmint_minted_outcome(minted: *const certmint_minted) -> u32 {
    guard_value(CERTMINT_OUTCOME_MINTED, || {
        // SAFETY: NULL or a live certificate per the API contract.
        match unsafe { minted.as_ref() }.map(|m| &m.inner) {
            Some(Inner::Cached(l)) => match l.outcome {
                Outcome::Hit => CERTMINT_OUTCOME_HIT,
                Outcome::Coalesced => CERTMINT_OUTCOME_COALESCED,
                _ => CERTMINT_OUTCOME_MINTED,
            },
            _ => CERTMINT_OUTCOME_MINTED,
        }
    })
}

/// The data attached to this certificate's cache entry (`certmint_minted_attach`), or NULL.
#[no_mangle]
pub extern "C" fn certmint_minted_attachment(minted: *const certmint_minted) -> *mut c_void {
    guard_value(std::ptr::null_mut(), || {
        // SAFETY: NULL or a live certificate per the API contract.
        unsafe { minted.as_ref() }
            .and_then(certmint_minted::attachment)
            .map_or(std::ptr::null_mut(), |u| u.data)
    })
}

/// Attaches `data` to this certificate's cache entry, so every later lookup of the entry finds it
/// with `certmint_minted_attachment` (a server keeps its parsed certificate and key there, so a
/// cache hit does not parse them again). certmint takes ownership of `data`: `destroy` (which may
/// be NULL) is called once, on whichever thread drops the entry, when the cache has dropped it and
/// no `certmint_minted` of it is left. If something is attached already, `data` is destroyed at
/// once and the existing attachment returned; otherwise `data` is returned. `data` and `destroy`
/// must be safe to use from any thread. Returns NULL (after destroying `data`) when `minted` is
/// NULL.
#[no_mangle]
pub extern "C" fn certmint_minted_attach(
    minted: *const certmint_minted,
    data: *mut c_void,
    destroy: Option<extern "C" fn(*mut c_void)>,
) -> *mut c_void {
    guard_value(std::ptr::null_mut(), || {
        let user = UserData { data, destroy };
        // SAFETY: NULL or a live certificate per the API contract.
        match unsafe { minted.as_ref() } {
            Some(m) => m.attach(user).map_or(std::ptr::null_mut(), |u| u.data),
            None => std::ptr::null_mut(), // `user` is dropped: `data` destroyed
        }
    })
}
