//! Strict JSON (RFC 8259) without allocation: validation, borrowed strings,
//! lazy navigation and a small writer.
//!
//! Phoenix text frames carry their payload as JSON. This module validates it
//! in one pass and hands back [`RawJson`], a view over the input that can be
//! walked on demand, copied through as is, or deserialized (feature `serde`).
//! Strings are [`JsonStr`]: the raw text plus whether it needs unescaping.

mod scan;
#[cfg(feature = "serde")]
mod ser;
pub(crate) mod simd;
mod string;
mod value;
mod write;

pub use scan::MAX_DEPTH_LIMIT;
#[cfg(feature = "serde")]
pub use ser::write_serialize;
pub use string::{Chars, JsonStr};
pub use value::{Array, Kind, Object, RawJson, DEFAULT_MAX_DEPTH};
pub use write::{decimal_len, write_decimal, write_i64, write_json_str, write_str};

pub(crate) use scan::Scanner;
#[cfg(feature = "bytes")]
pub(crate) use string::Form;
pub(crate) use value::{parse_i64, NULL};
pub(crate) use write::{clean_text, Digits};

/// Validates `bytes` as exactly one JSON value (strict RFC 8259, UTF-8,
/// nesting at most `max_depth` levels; surrounding whitespace allowed).
///
/// ```
/// use phoenix_wire::{json, ErrorKind};
///
/// assert!(json::validate(br#"{"a":[1,2.5e3,null]}"#, 128).is_ok());
/// let err = json::validate(b"[1,-]", 128).unwrap_err();
/// assert_eq!((err.kind(), err.offset()), (ErrorKind::InvalidNumber, 4));
/// ```
pub fn validate(bytes: &[u8], max_depth: usize) -> crate::Result<()> {
    scan::validate(bytes, max_depth)
}
