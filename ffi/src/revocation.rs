//! CRLs from C: publish every current CRL of a deployment's configuration to a directory, or
//! fetch one by key id (for a C server that serves the CRL distribution point itself).

use std::ffi::c_char;
use std::sync::Arc;

use certmint::ca::Issuer;

use certmint::config::Config;
use certmint::revocation::RevocationStore;

use crate::error::{certmint_result, Failure};
use crate::ffi::{copy_out, require_out, text, write_out};
use crate::panic::guard;

/// A configuration's CAs' own issuers (what signs their CRLs) and its revocation store.
type Loaded = (Vec<Arc<Issuer>>, Arc<RevocationStore>);

/// The configuration at `path`, its CAs' own issuers, and its revocation store.
fn load(path: &str) -> Result<Loaded, Failure> {
    let config = Config::load(path.as_ref())?;
    let store = config.revocation_store()?.ok_or_else(|| {
        Failure::new(
            certmint_result::CERTMINT_CONFIG_REVOCATION_DIR_REQUIRED,
            "the configuration has no [revocation] dir",
        )
    })?;
    let issuers = config.ca_issuers()?.into_iter().map(|(_, i)| i).collect();
    Ok((issuers, store))
}

/// Writes every current CRL of the configuration at `config_path`/`config_path_len` (UTF-8,
/// not NUL-terminated) to `out_dir`/`out_dir_len` as `{key id}.crl` (DER, each written
/// atomically): a fresh 24-hour CRL signed by each configured CA's key (a file or a PKCS#11
/// token) and the stored CRL of every recorded sub-CA. `*count_out` receives the number of
/// files written. Call it at least every 12 hours. Both strings are read during the call only.
#[no_mangle]
pub extern "C" fn certmint_crl_publish(
    config_path: *const u8,
    config_path_len: usize,
    out_dir: *const u8,
    out_dir_len: usize,
    count_out: *mut usize,
) -> certmint_result {
    guard(|| {
        require_out("count_out", count_out)?;
        // SAFETY: (config_path, config_path_len) readable per the API contract.
        let path = unsafe { text("config_path", config_path, config_path_len) }?;
        // SAFETY: (out_dir, out_dir_len) readable per the API contract.
        let out = unsafe { text("out_dir", out_dir, out_dir_len) }?;
        let (issuers, store) = load(path)?;
        let refs: Vec<_> = issuers.iter().map(AsRef::as_ref).collect();
        let written = store.publish(&refs, out.as_ref())?;
        // SAFETY: checked non-NULL; writable per the API contract.
        unsafe { write_out("count_out", count_out, written.len()) }
    })
}

/// Copies the current CRL named `{key_id}.crl` (DER) into `buf` (`buf_len` bytes; a NUL is
/// appended after the DER) and its length (without the NUL) into `*written_out`: a fresh CRL
/// when `key_id` (hex, `key_id_len` bytes) is a configured CA's, the stored one for a
/// recorded sub-CA. When `buf` is too small nothing is copied, the result is
/// `CERTMINT_BUFFER_TOO_SMALL` and `*written_out` holds the size needed. An unknown key id is
/// `CERTMINT_REVOCATION_UNKNOWN_SUB_CA`.
#[no_mangle]
pub extern "C" fn certmint_crl_fetch(
    config_path: *const u8,
    config_path_len: usize,
    key_id: *const u8,
    key_id_len: usize,
    buf: *mut c_char,
    buf_len: usize,
    written_out: *mut usize,
) -> certmint_result {
    guard(|| {
        require_out("written_out", written_out)?;
        require_out("buf", buf)?;
        // SAFETY: (config_path, config_path_len) readable per the API contract.
        let path = unsafe { text("config_path", config_path, config_path_len) }?;
        // SAFETY: (key_id, key_id_len) readable per the API contract.
        let key_id = unsafe { text("key_id", key_id, key_id_len) }?;
        let (issuers, store) = load(path)?;
        let refs: Vec<_> = issuers.iter().map(AsRef::as_ref).collect();
        let der = store.current_crl(&refs, key_id)?;
        // SAFETY: (buf, buf_len) writable per the API contract; `written_out` checked.
        unsafe { copy_out(buf, buf_len, written_out, &der) }
    })
}
