//! UTF-8 validation of whole frames.
//!
//! Every text frame is checked once, up front, so the scanners only look at
//! ASCII structure. That pass is a large share of decoding small frames,
//! so all-ASCII frames (most) are recognised by a few vector ORs, and the
//! rest go through `simdutf8` (SIMD, with run-time CPU detection under
//! `std`); the exact offset of an error comes from `core`'s validator, on the
//! error path only.

use crate::error::{Error, ErrorKind, Result};

/// `bytes` as a `str`, or [`ErrorKind::InvalidUtf8`] at the first byte that
/// is not part of a valid UTF-8 sequence.
#[inline]
pub(crate) fn to_str(bytes: &[u8]) -> Result<&str> {
    // Most frames are all ASCII, which a few vector ORs confirm faster than
    // any UTF-8 validator (and without its run-time dispatch).
    if crate::json::simd::is_ascii(bytes) {
        // SAFETY: every byte is below 0x80, and ASCII is valid UTF-8.
        #[allow(unsafe_code)]
        return Ok(unsafe { core::str::from_utf8_unchecked(bytes) });
    }
    match simdutf8::basic::from_utf8(bytes) {
        Ok(s) => Ok(s),
        Err(_) => Err(invalid(bytes)),
    }
}

#[cold]
fn invalid(bytes: &[u8]) -> Error {
    let at = match core::str::from_utf8(bytes) {
        Ok(_) => 0,
        Err(e) => e.valid_up_to(),
    };
    Error::new(ErrorKind::InvalidUtf8, at)
}
