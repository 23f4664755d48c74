//! `certmint_squid_helper`: the Rust half of `certmint-squid-crtd` (Squid's `sslcrtd_program`).
//! The C program reads and frames Squid's requests; this parses each body and composes the
//! reply.

use std::ffi::c_char;

use certmint::squid::{SquidHelper, SquidSettings};

use crate::error::certmint_result;
use crate::ffi::{bytes, copy_out, hand_out, handle, optional_text, require_out};
use crate::panic::{guard, guard_value};

/// Answers Squid certificate-generator requests. Made by `certmint_squid_helper_new`, freed by
/// `certmint_squid_helper_free`. Thread-safe.
pub struct certmint_squid_helper {
    inner: SquidHelper,
}

/// Makes a helper. `config_path`/`config_path_len`: a certmint configuration file whose
/// minting policy (`[mint]`), default CA's CRL/OCSP/caIssuers URLs and `[untrusted] policy`
/// apply to every leaf (its CA keys are not read: Squid's CA signs), or NULL for the defaults.
/// On success `*helper_out` is the caller's, to free with `certmint_squid_helper_free`.
#[no_mangle]
pub extern "C" fn certmint_squid_helper_new(
    config_path: *const u8,
    config_path_len: usize,
    helper_out: *mut *mut certmint_squid_helper,
) -> certmint_result {
    guard(|| {
        require_out("helper_out", helper_out)?;
        // SAFETY: (config_path, config_path_len) is NULL or readable per the API contract.
        let path = unsafe { optional_text("config_path", config_path, config_path_len) }?;
        let settings = match path {
            Some(path) => certmint::config::Config::load(path.as_ref())?.squid_settings(),
            None => SquidSettings::default(),
        };
        let helper = certmint_squid_helper {
            inner: SquidHelper::new(settings),
        };
        // SAFETY: checked non-NULL; writable per the API contract.
        unsafe { hand_out("helper_out", helper_out, helper) }
    })
}

/// Frees a helper (stopping its key generator). NULL is a no-op; freeing twice is the caller's
/// bug.
#[no_mangle]
pub extern "C" fn certmint_squid_helper_free(helper: *mut certmint_squid_helper) {
    guard_value((), || {
        if !helper.is_null() {
            // SAFETY: a non-NULL pointer came from Box::into_raw (`hand_out`) and, per the API
            // contract, is freed once and is not in use elsewhere.
            drop(unsafe { Box::from_raw(helper) });
        }
    });
}

/// Answers one `new_certificate` request: `body`/`body_len` is the request body (the `<len>`
/// bytes after the length, read during the call only). The reply body (the leaf's PEM, then
/// its private key's PEM) is copied into `buf` (`buf_len` bytes) with a terminating NUL, and
/// `*written_out` receives its length without the NUL; when `buf` is too small nothing is
/// copied, the result is `CERTMINT_BUFFER_TOO_SMALL` and `*written_out` holds the size needed.
/// The reply holds a private key: wipe `buf` after writing it to Squid. A refused request
/// returns its code (`CERTMINT_SQUID_*`, or the CA's or origin's error), the reason in
/// `certmint_last_error`: answer Squid `ERR` with it.
#[no_mangle]
pub extern "C" fn certmint_squid_helper_answer(
    helper: *const certmint_squid_helper,
    body: *const u8,
    body_len: usize,
    buf: *mut c_char,
    buf_len: usize,
    written_out: *mut usize,
) -> certmint_result {
    guard(|| {
        require_out("written_out", written_out)?;
        require_out("buf", buf)?;
        // SAFETY: NULL or a live helper per the API contract.
        let h = unsafe { handle("helper", helper) }?;
        // SAFETY: (body, body_len) is readable per the API contract.
        let body = unsafe { bytes("body", body, body_len) }?;
        let reply = h.inner.answer(body)?;
        // SAFETY: (buf, buf_len) writable per the API contract; `written_out` checked.
        unsafe { copy_out(buf, buf_len, written_out, reply.as_bytes()) }
    })
}
