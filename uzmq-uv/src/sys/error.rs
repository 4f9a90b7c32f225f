//! libuv's negative return codes as `uzmq_core::Error::Uv`.

use std::ffi::{CStr, c_char, c_int};

use libuv_sys2 as uv;
use uzmq_core::{Error, Result};

/// `Ok(rc)` for a libuv return code that is not an error (>= 0), else the error.
pub(crate) fn check(rc: c_int) -> Result<c_int> {
    if rc < 0 { Err(uv_error(rc)) } else { Ok(rc) }
}

/// The `Error::Uv` for a negative libuv error code.
pub(crate) fn uv_error(code: c_int) -> Error {
    Error::Uv {
        code,
        name: err_name(code),
    }
}

/// libuv's name for `code` ("EBADF"), or libuv's own "UNKNOWN" for a code
/// libuv does not know.
fn err_name(code: c_int) -> &'static str {
    // For a code outside its table, `uv_err_name` strdup()s a fresh
    // "Unknown system error N" on every call and never frees it; ask the
    // buffer variant first so only known codes reach `uv_err_name`.
    let mut buf: [c_char; 64] = [0; 64];
    // SAFETY: `uv_err_name_r` writes at most `buflen` bytes into `buf`,
    // NUL-terminated (uv__strscpy / snprintf), and keeps no pointer to it.
    unsafe { uv::uv_err_name_r(code, buf.as_mut_ptr(), buf.len()) };
    // SAFETY: `buf` is NUL-terminated (it started zeroed and libuv
    // terminates what it writes) and lives for this borrow.
    let probe = unsafe { CStr::from_ptr(buf.as_ptr()) };
    if probe.to_bytes().starts_with(b"Unknown system error") {
        return "UNKNOWN";
    }
    // SAFETY: for a code in libuv's UV_ERRNO_MAP, `uv_err_name` returns a
    // string literal compiled into libuv (linked statically into this
    // binary): static storage, never freed or written, NUL-terminated. So
    // borrowing it for `'static` is sound. Unknown codes, for which it
    // would allocate instead, were answered above.
    let name = unsafe { CStr::from_ptr(uv::uv_err_name(code)) };
    name.to_str().unwrap_or("UNKNOWN")
}
