//! [`Reader`]: a checked term read front to back, one header at a time.
//!
//! [`decode`](super::decode) gives a view whose containers are iterators: to
//! build a tree of one's own from it (Python objects, say), every container
//! is read twice, once when its parent skips over it to find the next
//! element and once when it is built. A `Reader` hands out the terms in
//! the order they are written instead, containers as a header with their
//! element count, so a builder makes each container at its final size and
//! reads every byte once.

use super::decode::{arr, be_u16, be_u32, validate};
use super::term::{self, Atom, Term};
use super::{check_version, tag, SafePolicy};
use crate::error::{Error, ErrorKind, Result};

/// What [`Reader::next`] finds next: a term that holds no other terms, or
/// the header of one that does, whose terms follow.
///
/// Small on purpose (32 bytes): a builder takes one per term. The common
/// leaves come whole; the others as an [`Other`](Item::Other) handle that
/// makes their [`Term`] on request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Item<'a> {
    /// An integer that fits an `i64` (tags 97, 98, and small bignums).
    Int(i64),
    /// A float (tag 70).
    Float(f64),
    /// An atom.
    Atom(Atom<'a>),
    /// A binary.
    Binary(&'a [u8]),
    /// `[]`.
    Nil,
    /// A tuple; its `n` elements follow.
    Tuple(usize),
    /// A map; its `n` keys and values follow, each key before its value.
    Map(usize),
    /// A list written as `LIST_EXT`; its `n` elements follow, then its
    /// tail: `[]` for a proper list, another list or a charlist that
    /// continues it, or any other term for an improper list.
    List(usize),
    /// Any other term that holds no terms: a bignum, an old-style float, a
    /// bitstring, a charlist, a pid, a port or a reference.
    Other(Other<'a>),
}

/// A leaf of a checked term other than the common ones ([`Item::Other`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Other<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Other<'a> {
    /// The term (never a list, tuple or map).
    pub fn term(&self) -> Term<'a> {
        // Checked bytes always read; `Nil` is unreachable.
        term::read(self.b, self.pos).unwrap_or(Term::Nil)
    }
}

/// The terms of one checked term, in written order: see [`reader`].
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    /// The term's bytes (version byte included), nothing after it.
    b: &'a [u8],
    pos: usize,
}

/// Checks one term (version byte first) under `policy`, exactly as
/// [`decode`](super::decode) does (same errors, same offsets), and returns
/// a [`Reader`] of it.
///
/// ```
/// use phoenix_wire::etf::{self, Item, SafePolicy, Term};
///
/// // {ok, [1, 2]}
/// let bytes = [131, 104, 2, 119, 2, b'o', b'k', 108, 0, 0, 0, 2, 97, 1, 97, 2, 106];
/// let items: Vec<Item> = etf::reader(&bytes, &SafePolicy::new())?.collect();
/// assert_eq!(items[0], Item::Tuple(2));
/// assert!(matches!(items[1], Item::Atom(a) if a == "ok"));
/// assert_eq!(&items[2..], [Item::List(2), Item::Int(1), Item::Int(2), Item::Nil]);
///
/// // Rarer leaves come as a handle to their term: here a bignum, 2^64.
/// let big = [131, 110, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
/// let mut r = etf::reader(&big, &SafePolicy::new())?;
/// let Some(Item::Other(other)) = r.next() else { panic!() };
/// assert!(matches!(other.term(), Term::Big(b) if b.to_i128() == Some(1 << 64)));
/// # Ok::<(), phoenix_wire::Error>(())
/// ```
pub fn reader<'a>(bytes: &'a [u8], policy: &SafePolicy<'_>) -> Result<Reader<'a>> {
    check_version(bytes)?;
    let end = validate(bytes, 1, policy)?;
    if policy.strict && end != bytes.len() {
        return Err(Error::new(ErrorKind::TrailingBytes, end));
    }
    Ok(Reader {
        b: bytes.get(..end).unwrap_or(bytes),
        pos: 1,
    })
}

impl<'a> Reader<'a> {
    /// The next term or header; `None` after the last term.
    ///
    /// The common leaves are read here, inline in the caller's loop (a
    /// builder calls this once per term); the others out of line.
    #[inline(always)]
    #[allow(clippy::should_implement_trait)] // It is the iterator's `next`, inlined.
    pub fn next(&mut self) -> Option<Item<'a>> {
        let (b, pos) = (self.b, self.pos);
        let p = pos + 1;
        let (item, end) = match *b.get(pos)? {
            tag::SMALL_INTEGER => (Item::Int(i64::from(*b.get(p)?)), p + 1),
            tag::INTEGER => (Item::Int(i64::from(i32::from_be_bytes(arr(b, p)?))), p + 4),
            tag::NEW_FLOAT => (Item::Float(f64::from_be_bytes(arr(b, p)?)), p + 8),
            tag::SMALL_ATOM_UTF8 => atom(b, p + 1, usize::from(*b.get(p)?), false)?,
            tag::ATOM => atom(b, p + 2, be_u16(b, p)?, true)?,
            tag::BINARY => {
                let start = p + 4;
                let end = start + be_u32(b, p)?;
                (Item::Binary(b.get(start..end)?), end)
            }
            tag::SMALL_TUPLE => (Item::Tuple(usize::from(*b.get(p)?)), p + 1),
            _ => rare(b, pos)?,
        };
        self.pos = end;
        Some(item)
    }

    /// Whether every term has been read.
    #[inline]
    pub fn is_done(&self) -> bool {
        self.pos >= self.b.len()
    }
}

/// An atom item whose `n` name bytes start at `start`.
#[inline(always)]
fn atom(b: &[u8], start: usize, n: usize, latin1: bool) -> Option<(Item<'_>, usize)> {
    let end = start + n;
    Some((Item::Atom(Atom::new(b.get(start..end)?, latin1)), end))
}

/// Every other tag, out of line: the caller's loop stays small.
#[inline(never)]
fn rare(b: &[u8], pos: usize) -> Option<(Item<'_>, usize)> {
    let p = pos + 1;
    Some(match *b.get(pos)? {
        tag::NIL => (Item::Nil, p),
        tag::LIST => (Item::List(be_u32(b, p)?), p + 4),
        tag::MAP => (Item::Map(be_u32(b, p)?), p + 4),
        tag::LARGE_TUPLE => (Item::Tuple(be_u32(b, p)?), p + 4),
        _ => return other(b, pos),
    })
}

/// The less common leaves, and small bignums that fit an `i64` (as
/// [`Term::Int`] has them).
#[inline]
fn other(b: &[u8], pos: usize) -> Option<(Item<'_>, usize)> {
    let (t, end) = term::read_next(b, pos)?;
    let item = match t {
        Term::Int(v) => Item::Int(v),
        Term::Float(v) => Item::Float(v),
        Term::Atom(a) => Item::Atom(a),
        Term::Binary(x) => Item::Binary(x),
        Term::Nil => Item::Nil,
        _ => Item::Other(Other { b, pos }),
    };
    Some((item, end))
}

impl<'a> Iterator for Reader<'a> {
    type Item = Item<'a>;

    #[inline]
    fn next(&mut self) -> Option<Item<'a>> {
        Reader::next(self)
    }
}
