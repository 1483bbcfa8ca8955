//! [`Reader`]: a checked term read front to back, one header at a time.
//!
//! [`decode`](super::decode) gives a view whose containers are iterators: to
//! build a tree of one's own from it (Python objects, say), every container
//! is read twice, once when its parent skips over it to find the next
//! element and once when it is built. A `Reader` hands out the terms in
//! the order they are written instead, containers as a header with their
//! element count, so a builder makes each container at its final size and
//! reads every byte once.

use super::decode::{be_u32, validate};
use super::term::{self, Term};
use super::{check_version, tag, SafePolicy};
use crate::error::{Error, ErrorKind, Result};

/// What [`Reader::next`] finds next.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Item<'a> {
    /// A term that holds no other terms: anything but a list, tuple or map
    /// (so also `[]` and charlists, [`Term::Nil`] and [`Term::Charlist`]).
    Leaf(Term<'a>),
    /// A tuple; its `n` elements follow.
    Tuple(usize),
    /// A map; its `n` keys and values follow, each key before its value.
    Map(usize),
    /// A list written as `LIST_EXT`; its `n` elements follow, then its
    /// tail: `[]` for a proper list, another list or a charlist that
    /// continues it, or any other term for an improper list.
    List(usize),
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
/// assert!(matches!(items[1], Item::Leaf(Term::Atom(a)) if a == "ok"));
/// assert_eq!(items[2], Item::List(2));
/// assert_eq!(&items[3..], [Item::Leaf(Term::Int(1)), Item::Leaf(Term::Int(2)), Item::Leaf(Term::Nil)]);
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
    #[inline]
    #[allow(clippy::should_implement_trait)] // It is the iterator's `next`, inlined.
    pub fn next(&mut self) -> Option<Item<'a>> {
        let (b, pos) = (self.b, self.pos);
        let p = pos + 1;
        let (item, end) = match *b.get(pos)? {
            tag::SMALL_TUPLE => (Item::Tuple(usize::from(*b.get(p)?)), p + 1),
            tag::LARGE_TUPLE => (Item::Tuple(be_u32(b, p)?), p + 4),
            tag::MAP => (Item::Map(be_u32(b, p)?), p + 4),
            tag::LIST => (Item::List(be_u32(b, p)?), p + 4),
            _ => {
                let (t, end) = term::read_next(b, pos)?;
                (Item::Leaf(t), end)
            }
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

impl<'a> Iterator for Reader<'a> {
    type Item = Item<'a>;

    #[inline]
    fn next(&mut self) -> Option<Item<'a>> {
        Reader::next(self)
    }
}
