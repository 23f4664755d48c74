//! The panic boundary every exported function runs inside: a panic becomes `CERTMINT_PANIC`
//! (or a documented default value), never an unwind into C.

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::{certmint_result, set_last_error, Failure};

/// Runs `f`, turning its failure into a code (with the detail kept for `certmint_last_error`)
/// and a panic into `CERTMINT_PANIC`.
pub(crate) fn guard(f: impl FnOnce() -> Result<(), Failure>) -> certmint_result {
    // AssertUnwindSafe: after a panic the call's result is CERTMINT_PANIC and nothing it was
    // building is handed to C; shared state inside certmint tolerates poisoned locks.
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => certmint_result::CERTMINT_OK,
        Ok(Err(failure)) => failure.into_result(),
        Err(payload) => {
            set_last_error(format!("panic: {}", panic_text(payload.as_ref())));
            certmint_result::CERTMINT_PANIC
        }
    }
}

/// Runs `f`, returning `on_panic` if it panics: for the few exports that return a value rather
/// than a result (lengths, pointers, void).
pub(crate) fn guard_value<T>(on_panic: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        set_last_error(format!("panic: {}", panic_text(payload.as_ref())));
        on_panic
    })
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}
