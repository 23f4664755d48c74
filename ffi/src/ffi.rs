//! Plumbing for crossing the boundary: (pointer, length) byte strings, out-parameters, caller
//! buffers and opaque handles. Every `unsafe` block of the crate that touches a C pointer goes
//! through these helpers, each with the contract it relies on.

use std::ffi::c_char;

use crate::error::{certmint_result, Failure};

/// A borrowed byte string from C: `data` points to `len` readable bytes (or is anything when
/// `len` is 0). Used for lists of DER certificates.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct certmint_bytes {
    /// The first byte.
    pub data: *const u8,
    /// How many bytes.
    pub len: usize,
}

/// The bytes at (`data`, `len`), for the duration of the call.
///
/// # Safety
/// `data` must be NULL or point to `len` bytes readable for the lifetime `'a` and not written
/// meanwhile; `len` must not exceed `isize::MAX`.
pub(crate) unsafe fn bytes<'a>(
    name: &str,
    data: *const u8,
    len: usize,
) -> Result<&'a [u8], Failure> {
    if len == 0 {
        // No byte is read, so any pointer (even NULL) is accepted for an empty string.
        return Ok(&[]);
    }
    if data.is_null() {
        return Err(Failure::null(name));
    }
    if len > isize::MAX as usize {
        return Err(Failure::new(
            certmint_result::CERTMINT_INVALID_PARAMETER,
            format!("{name}: length {len} is too large"),
        ));
    }
    // SAFETY: non-NULL, `len` bytes readable and unaliased by writes per the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(data, len) })
}

/// As [`bytes`], but NULL (with any length) means "not given".
///
/// # Safety
/// As [`bytes`].
pub(crate) unsafe fn optional_bytes<'a>(
    name: &str,
    data: *const u8,
    len: usize,
) -> Result<Option<&'a [u8]>, Failure> {
    if data.is_null() {
        return Ok(None);
    }
    // SAFETY: forwarded contract.
    unsafe { bytes(name, data, len) }.map(Some)
}

/// The UTF-8 text at (`data`, `len`).
///
/// # Safety
/// As [`bytes`].
pub(crate) unsafe fn text<'a>(name: &str, data: *const u8, len: usize) -> Result<&'a str, Failure> {
    // SAFETY: forwarded contract.
    let raw = unsafe { bytes(name, data, len) }?;
    std::str::from_utf8(raw).map_err(|_| {
        Failure::new(
            certmint_result::CERTMINT_INVALID_PARAMETER,
            format!("{name} is not UTF-8"),
        )
    })
}

/// As [`text`], but NULL means "not given".
///
/// # Safety
/// As [`bytes`].
pub(crate) unsafe fn optional_text<'a>(
    name: &str,
    data: *const u8,
    len: usize,
) -> Result<Option<&'a str>, Failure> {
    if data.is_null() {
        return Ok(None);
    }
    // SAFETY: forwarded contract.
    unsafe { text(name, data, len) }.map(Some)
}

/// The handle behind `ptr`, borrowed for the call.
///
/// # Safety
/// `ptr` must be NULL or a pointer this library returned for a `T` and that has not been freed.
pub(crate) unsafe fn handle<'a, T>(name: &str, ptr: *const T) -> Result<&'a T, Failure> {
    // SAFETY: per the caller's contract a non-NULL `ptr` points to a live `T` from Box::into_raw.
    unsafe { ptr.as_ref() }.ok_or_else(|| Failure::null(name))
}

/// Gives C ownership of `value` through `out`.
///
/// # Safety
/// `out` must be NULL or point to writable storage for one pointer.
pub(crate) unsafe fn hand_out<T>(name: &str, out: *mut *mut T, value: T) -> Result<(), Failure> {
    if out.is_null() {
        return Err(Failure::null(name));
    }
    // SAFETY: `out` is non-NULL and writable per the caller's contract. The Box is released to
    // C, which gives it back to the matching *_free.
    unsafe { out.write(Box::into_raw(Box::new(value))) };
    Ok(())
}

/// Checks that an out-parameter is not NULL before any work is done.
pub(crate) fn require_out<T>(name: &str, out: *mut T) -> Result<(), Failure> {
    if out.is_null() {
        Err(Failure::null(name))
    } else {
        Ok(())
    }
}

/// Writes `value` through `out`.
///
/// # Safety
/// `out` must be NULL or point to writable storage for one `T`.
pub(crate) unsafe fn write_out<T>(name: &str, out: *mut T, value: T) -> Result<(), Failure> {
    require_out(name, out)?;
    // SAFETY: non-NULL and writable per the caller's contract.
    unsafe { out.write(value) };
    Ok(())
}

/// Copies a plain-old-data struct into the caller's `out`, whose size the caller gives in
/// `size` (`sizeof` the struct it was compiled with): a smaller, older struct gets the fields
/// it has, since fields are only ever appended.
///
/// # Safety
/// `out` must be NULL or point to `size` writable bytes; `T` must be a `#[repr(C)]` struct of
/// plain data.
pub(crate) unsafe fn write_sized<T: Copy>(
    name: &str,
    out: *mut T,
    size: usize,
    value: &T,
) -> Result<(), Failure> {
    require_out(name, out)?;
    let n = size.min(std::mem::size_of::<T>());
    // SAFETY: `out` is non-NULL with `size` writable bytes per the caller's contract; at most
    // that many bytes of a plain-old-data value are copied.
    unsafe {
        std::ptr::copy_nonoverlapping((value as *const T).cast::<u8>(), out.cast::<u8>(), n);
    }
    Ok(())
}

/// Lends (`data`, `len`) of a byte string that lives as long as its handle.
///
/// # Safety
/// `data_out` and `len_out` must each be NULL or writable.
pub(crate) unsafe fn lend(
    data_out: *mut *const u8,
    len_out: *mut usize,
    bytes: &[u8],
) -> Result<(), Failure> {
    require_out("data_out", data_out)?;
    require_out("len_out", len_out)?;
    // SAFETY: both non-NULL and writable per the caller's contract.
    unsafe {
        data_out.write(bytes.as_ptr());
        len_out.write(bytes.len());
    }
    Ok(())
}

/// Copies `text` into the caller's buffer (`buf`, `len`) with a terminating NUL and writes the
/// text's length (without the NUL) to `out_n`. When the buffer is too small nothing is copied
/// and the result is `CERTMINT_BUFFER_TOO_SMALL`, with the size needed (including the NUL) in
/// `out_n`.
///
/// # Safety
/// `buf` must be NULL or point to `len` writable bytes; `out_n` NULL or writable.
pub(crate) unsafe fn copy_out(
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
    text: &[u8],
) -> Result<(), Failure> {
    require_out("out_n", out_n)?;
    if buf.is_null() {
        return Err(Failure::null("buf"));
    }
    if text.len() >= len {
        // SAFETY: out_n is non-NULL and writable per the caller's contract.
        unsafe { out_n.write(text.len() + 1) };
        return Err(Failure::new(
            certmint_result::CERTMINT_BUFFER_TOO_SMALL,
            format!(
                "the buffer holds {len} bytes; {} are needed",
                text.len() + 1
            ),
        ));
    }
    // SAFETY: `buf` has `len` > text.len() writable bytes; the regions cannot overlap (the text
    // is ours). out_n is writable.
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), text.len());
        buf.add(text.len()).write(0);
        out_n.write(text.len());
    }
    Ok(())
}

/// A duration in whole microseconds (saturating), as the C structs carry times.
pub(crate) fn micros(t: std::time::Duration) -> u64 {
    u64::try_from(t.as_micros()).unwrap_or(u64::MAX)
}
