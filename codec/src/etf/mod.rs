//! Safe, zero-copy Erlang external term format (ETF): what Fedecks devices
//! and servers exchange in binary websocket frames.
//!
//! [`decode`] checks the whole term once against a [`SafePolicy`] and then
//! hands back a [`Term`], a view that borrows every atom, binary and string
//! from the input; tuples, lists and maps are lazy iterators over it, and
//! [`Term::walk`] visits everything in one pass. Nothing is allocated and
//! nothing is interned. To build a tree of one's own, [`reader`] checks the
//! same way and then hands out the terms in written order, containers as
//! headers with their counts; [`visit`] checks and calls a closure per
//! term in one pass. [`Encoder`] writes terms into any
//! [`Sink`](crate::Sink) the caller owns.
//!
//! ```
//! use phoenix_wire::etf::{self, SafePolicy, Term};
//!
//! // The Fedecks server's reply to 'token_please': {'token', <<"t0k3n">>}
//! // as OTP 25 encodes it.
//! let bytes = [131, 104, 2, 100, 0, 5, b't', b'o', b'k', b'e', b'n',
//!              109, 0, 0, 0, 5, b't', b'0', b'k', b'3', b'n'];
//! let term = etf::decode(&bytes, &SafePolicy::new())?;
//! let reply = term.as_tuple().unwrap();
//! assert_eq!(reply.get(0).and_then(|t| t.as_atom()).unwrap(), "token");
//! assert_eq!(reply.get(1).and_then(|t| t.as_binary()), Some(&b"t0k3n"[..]));
//! # Ok::<(), phoenix_wire::Error>(())
//! ```
//!
//! # What "safe" means here
//! Every rule of OTP's `binary_to_term(B, [safe])` and more: no funs or
//! exports ever ([`ExecutableTerm`](crate::ErrorKind::ExecutableTerm)), pids,
//! ports and references only when allowed, atoms optionally restricted to
//! an allow-list, nesting depth capped, every length checked against the
//! bytes that remain, non-finite floats, bad UTF-8, bad bit counts and
//! duplicate map keys rejected, distribution headers, `ATOM_CACHE_REF` and
//! `LOCAL_EXT` refused, trailing bytes rejected or reported. Compressed
//! terms inflate only into a buffer the caller gives, up to a size the
//! policy bounds. Every error is an [`Error`](crate::Error) with the byte
//! offset at which it was found.
#![cfg_attr(
    feature = "inflate",
    doc = "\nCompressed terms (tag 80) go through [`decode_compressed`]."
)]

mod decode;
#[cfg(feature = "eetf")]
mod eetf;
mod encode;
#[cfg(feature = "inflate")]
mod inflate;
mod policy;
mod read;
#[cfg(feature = "serde")]
mod serde;
mod term;

#[cfg(feature = "serde")]
pub use self::serde::{from_slice, from_slice_with, from_term, to_vec, to_writer};
pub use encode::{encode, EncodeOptions, Encoder};
#[cfg(feature = "inflate")]
pub use inflate::decode_compressed;
#[cfg(all(feature = "inflate", feature = "alloc"))]
pub use inflate::{compress, decode_compressed_vec};
pub use policy::{SafePolicy, DEFAULT_MAX_DEPTH, DEFAULT_MAX_INFLATED_SIZE, MAX_DEPTH_LIMIT};
pub use read::{reader, Item, Other, Reader};
pub use term::{
    Atom, AtomChars, Big, BitBinary, List, ListIter, Map, MapIter, Pid, Port, Reference, Term,
    Tuple, TupleIter, Walk,
};

use crate::error::{Error, ErrorKind, Result};

/// The version byte that starts every term.
pub const VERSION: u8 = 131;

/// The tags of the external term format (the byte after the version byte
/// and before every nested term), for code that reads bytes
/// [`decode`] or [`reader`] has checked.
#[allow(missing_docs)] // Each is its name in OTP's documentation, with `_EXT` dropped.
pub mod tag {
    pub const NEW_FLOAT: u8 = 70;
    pub const DIST_HEADER: u8 = 68;
    pub const BIT_BINARY: u8 = 77;
    pub const COMPRESSED: u8 = 80;
    pub const ATOM_CACHE_REF: u8 = 82;
    pub const NEW_PID: u8 = 88;
    pub const NEW_PORT: u8 = 89;
    pub const NEWER_REFERENCE: u8 = 90;
    pub const SMALL_INTEGER: u8 = 97;
    pub const INTEGER: u8 = 98;
    pub const FLOAT: u8 = 99;
    pub const ATOM: u8 = 100;
    pub const REFERENCE: u8 = 101;
    pub const PORT: u8 = 102;
    pub const PID: u8 = 103;
    pub const SMALL_TUPLE: u8 = 104;
    pub const LARGE_TUPLE: u8 = 105;
    pub const NIL: u8 = 106;
    pub const STRING: u8 = 107;
    pub const LIST: u8 = 108;
    pub const BINARY: u8 = 109;
    pub const SMALL_BIG: u8 = 110;
    pub const LARGE_BIG: u8 = 111;
    pub const NEW_FUN: u8 = 112;
    pub const EXPORT: u8 = 113;
    pub const NEW_REFERENCE: u8 = 114;
    pub const SMALL_ATOM: u8 = 115;
    pub const MAP: u8 = 116;
    pub const FUN: u8 = 117;
    pub const ATOM_UTF8: u8 = 118;
    pub const SMALL_ATOM_UTF8: u8 = 119;
    pub const V4_PORT: u8 = 120;
    pub const LOCAL: u8 = 121;
}

/// Decodes one term (version byte first) under `policy`.
///
/// With a strict policy (the default) the term must fill `bytes`; otherwise
/// later bytes are ignored, as OTP does (see [`decode_used`]). A compressed
/// term cannot be borrowed from the input: it fails with
/// [`UnsupportedCompression`](ErrorKind::UnsupportedCompression); use
/// `decode_compressed` (feature `inflate`).
///
/// ```
/// use phoenix_wire::etf::{self, SafePolicy, Term};
/// use phoenix_wire::ErrorKind;
///
/// // OTP 25: %{"a" => [1, 2.5, :foo]}
/// let bytes = [131, 116, 0, 0, 0, 1, 109, 0, 0, 0, 1, 97, 108, 0, 0, 0, 3, 97, 1,
///              70, 64, 4, 0, 0, 0, 0, 0, 0, 100, 0, 3, 102, 111, 111, 106];
/// let t = etf::decode(&bytes, &SafePolicy::new())?;
/// let list = t.as_map().unwrap().get("a").unwrap().as_list().unwrap();
/// let items: Vec<Term> = list.iter().collect();
/// assert_eq!(items[1].as_f64(), Some(2.5));
/// assert_eq!(items[2].as_atom().unwrap(), "foo");
///
/// // eetf 0.12 tries to reserve 4 G elements for this; it is 6 bytes long.
/// let err = etf::decode(&[131, 108, 255, 255, 255, 255], &SafePolicy::new()).unwrap_err();
/// assert_eq!((err.kind(), err.offset()), (ErrorKind::UnexpectedEof, 2));
/// # Ok::<(), phoenix_wire::Error>(())
/// ```
pub fn decode<'a>(bytes: &'a [u8], policy: &SafePolicy<'_>) -> Result<Term<'a>> {
    decode_used(bytes, policy).map(|(t, _)| t)
}

/// Decodes one term and says how many bytes it took, the version byte
/// included, like `binary_to_term(B, [used])`. Trailing bytes are an error
/// only under a strict policy.
///
/// ```
/// use phoenix_wire::etf::{self, SafePolicy};
///
/// let lenient = SafePolicy::new().strict(false);
/// let (t, used) = etf::decode_used(&[131, 97, 7, 0xde, 0xad], &lenient)?;
/// assert_eq!((t.as_i64(), used), (Some(7), 3));
/// # Ok::<(), phoenix_wire::Error>(())
/// ```
pub fn decode_used<'a>(bytes: &'a [u8], policy: &SafePolicy<'_>) -> Result<(Term<'a>, usize)> {
    check_version(bytes)?;
    let end = decode::validate(bytes, 1, policy)?;
    finish(bytes, 1, end, policy)
}

/// Checks one term (version byte first) under `policy` and calls `f` with
/// every term inside it in the order they are written, this one first: the
/// terms [`Term::walk`] yields from [`decode`]'s result, but in a single pass
/// over the bytes, each handed over as soon as its own bytes are checked.
/// Returns how many bytes the term took, the version byte included (with a
/// strict policy, all of them).
///
/// Errors are the ones [`decode`] gives, with the same kinds and offsets.
/// They can come after `f` has seen part of the term: a duplicate map key
/// is found once the whole map has been seen, trailing bytes once the whole
/// term has. So keep what `f` saw only when `visit` returns `Ok`. Nothing
/// is allocated for maps of at most 32 keys, and the nesting is tracked
/// without input-driven recursion, as in [`decode`].
///
/// ```
/// use phoenix_wire::etf::{self, SafePolicy, Term};
/// use phoenix_wire::ErrorKind;
///
/// // {ok, [1, 2]}
/// let bytes = [131, 104, 2, 119, 2, b'o', b'k', 108, 0, 0, 0, 2, 97, 1, 97, 2, 106];
/// let mut ints = 0;
/// let used = etf::visit(&bytes, &SafePolicy::new(), |t| ints += t.as_i64().unwrap_or(0))?;
/// assert_eq!((ints, used), (3, bytes.len()));
///
/// // Same verdict as `decode`: here a fun inside a list.
/// let err = etf::visit(&[131, 108, 0, 0, 0, 1, 112, 106], &SafePolicy::new(), |_| {}).unwrap_err();
/// assert_eq!((err.kind(), err.offset()), (ErrorKind::ExecutableTerm, 6));
/// # Ok::<(), phoenix_wire::Error>(())
/// ```
pub fn visit<'a>(
    bytes: &'a [u8],
    policy: &SafePolicy<'_>,
    mut f: impl FnMut(Term<'a>),
) -> Result<usize> {
    check_version(bytes)?;
    let end = decode::validate_with(bytes, 1, policy, &mut f)?;
    if policy.strict && end != bytes.len() {
        return Err(Error::new(ErrorKind::TrailingBytes, end));
    }
    Ok(end)
}

/// Requires the version byte and refuses what is not a term at all.
fn check_version(bytes: &[u8]) -> Result<()> {
    match bytes.first() {
        None => Err(Error::new(ErrorKind::UnexpectedEof, 0)),
        Some(&VERSION) => Ok(()),
        Some(&b) => Err(Error::new(ErrorKind::BadVersion(b), 0)),
    }
}

/// Applies the trailing-bytes rule and builds the view of a validated term.
fn finish<'a>(
    bytes: &'a [u8],
    start: usize,
    end: usize,
    policy: &SafePolicy<'_>,
) -> Result<(Term<'a>, usize)> {
    if policy.strict && end != bytes.len() {
        return Err(Error::new(ErrorKind::TrailingBytes, end));
    }
    // The validator accepted the bytes, so the view can always be built.
    let term = term::read(bytes, start).ok_or(Error::new(ErrorKind::InvalidTerm, start))?;
    Ok((term, end))
}
