//! `Term<'a>`: a view over validated bytes. Containers are lazy iterators
//! that read their elements from the input on demand; nothing is copied.
//!
//! The view only ever sees bytes that passed the validator, so its reads
//! cannot fail; they still go through checked accessors and end an
//! iteration early instead of panicking should that ever be untrue.

use core::cmp::Ordering;
use core::fmt;

use super::decode::{arr, be_u16, be_u32, parse_old_float};
use super::tag;

/// A decoded term, borrowing from the input (or from the inflate buffer of
/// a compressed term).
///
/// Equal Erlang terms compare equal (`=:=`), whatever encoding they came in:
/// `SMALL_BIG 5` equals `Int(5)`, a Latin-1 atom equals the same UTF-8 atom,
/// `STRING "ab"` equals the `LIST [97, 98]`. Integers that fit an `i64` are
/// always [`Term::Int`]; an empty `STRING` is [`Term::Nil`]; a `BIT_BINARY`
/// of whole bytes is a [`Term::Binary`].
#[derive(Clone, Copy, Debug)]
pub enum Term<'a> {
    /// An integer that fits an `i64` (tags 97, 98, and small bignums).
    Int(i64),
    /// An integer outside the `i64` range (tags 110, 111).
    Big(Big<'a>),
    /// A finite float (tags 70 and 99).
    Float(f64),
    /// An atom (tags 100, 115, 118, 119).
    Atom(Atom<'a>),
    /// A binary: an Elixir string or raw bytes (tag 109).
    Binary(&'a [u8]),
    /// A bitstring whose last byte is partly used (tag 77).
    BitBinary(BitBinary<'a>),
    /// The empty list `[]` (tag 106).
    Nil,
    /// A non-empty list of bytes, an Elixir charlist (tag 107).
    Charlist(&'a [u8]),
    /// A non-empty list, proper or improper (tag 108).
    List(List<'a>),
    /// A tuple (tags 104, 105).
    Tuple(Tuple<'a>),
    /// A map (tag 116).
    Map(Map<'a>),
    /// A pid (tags 88, 103); only if the policy allows it.
    Pid(Pid<'a>),
    /// A port (tags 89, 102, 120); only if the policy allows it.
    Port(Port<'a>),
    /// A reference (tags 90, 101, 114); only if the policy allows it.
    Ref(Reference<'a>),
}

impl<'a> Term<'a> {
    /// The integer, if this is one that fits an `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Term::Int(v) => Some(v),
            _ => None,
        }
    }

    /// The float, if this is one.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Term::Float(v) => Some(v),
            _ => None,
        }
    }

    /// The atom, if this is one.
    pub fn as_atom(&self) -> Option<Atom<'a>> {
        match *self {
            Term::Atom(a) => Some(a),
            _ => None,
        }
    }

    /// `true`/`false` for the atoms `true` and `false`.
    pub fn as_bool(&self) -> Option<bool> {
        let a = self.as_atom()?;
        if a == "true" {
            Some(true)
        } else if a == "false" {
            Some(false)
        } else {
            None
        }
    }

    /// The bytes of a binary.
    pub fn as_binary(&self) -> Option<&'a [u8]> {
        match *self {
            Term::Binary(b) => Some(b),
            _ => None,
        }
    }

    /// A binary as UTF-8 text (an Elixir string).
    pub fn as_str(&self) -> Option<&'a str> {
        core::str::from_utf8(self.as_binary()?).ok()
    }

    /// The list view of `[]`, a charlist or a list.
    pub fn as_list(&self) -> Option<List<'a>> {
        let state = match *self {
            Term::Nil => State::Done,
            Term::Charlist(s) => State::Chars(s),
            Term::List(l) => return Some(l),
            _ => return None,
        };
        Some(List { b: &[], state })
    }

    /// The tuple, if this is one.
    pub fn as_tuple(&self) -> Option<Tuple<'a>> {
        match *self {
            Term::Tuple(t) => Some(t),
            _ => None,
        }
    }

    /// The map, if this is one.
    pub fn as_map(&self) -> Option<Map<'a>> {
        match *self {
            Term::Map(m) => Some(m),
            _ => None,
        }
    }

    /// Every term inside this one, this one first, in the order they are
    /// written (depth first: a container, then its elements). One pass over
    /// the bytes, without recursion or a stack, so it is the cheapest way
    /// to visit everything; use the container iterators to know which
    /// element belongs where. A list's tail follows its elements (a proper
    /// list ends with [`Term::Nil`]); a charlist is one term.
    ///
    /// ```
    /// use phoenix_wire::etf::{self, SafePolicy, Term};
    ///
    /// // {ok, [1, 2]}
    /// let t = etf::decode(&[131, 104, 2, 119, 2, b'o', b'k', 108, 0, 0, 0, 2, 97, 1, 97, 2, 106],
    ///                     &SafePolicy::new())?;
    /// let ints: i64 = t.walk().filter_map(|t| t.as_i64()).sum();
    /// assert_eq!(ints, 3);
    /// assert_eq!(t.walk().count(), 6); // tuple, ok, list, 1, 2, []
    /// # Ok::<(), phoenix_wire::Error>(())
    /// ```
    pub fn walk(&self) -> Walk<'a> {
        let (b, pos) = match *self {
            Term::List(List {
                b,
                state: State::Cons { pos, .. },
            }) => (b, header_start(b, pos, 5)),
            Term::Tuple(t) => {
                // SMALL_TUPLE (2-byte header) or LARGE_TUPLE (5 bytes, any arity).
                let small = t.pos >= 2
                    && t.b.get(t.pos - 2..t.pos) == Some(&[tag::SMALL_TUPLE, t.arity as u8][..]);
                (t.b, header_start(t.b, t.pos, if small { 2 } else { 5 }))
            }
            Term::Map(m) => (m.b, header_start(m.b, m.pos, 5)),
            // Anything else is a single term.
            _ => {
                return Walk {
                    b: &[],
                    pos: 0,
                    pending: 0,
                    single: Some(*self),
                }
            }
        };
        Walk {
            b,
            pos,
            pending: 1,
            single: None,
        }
    }

    /// Compares in Erlang term order: number < atom < reference < port <
    /// pid < tuple < map < `[]` < list < bitstring. An integer and a float
    /// of equal value order the integer first (the order OTP uses for map
    /// keys). Maps of equal size compare their pairs in stored order, which
    /// is an approximation of OTP's key-sorted comparison.
    pub fn cmp_term(&self, other: &Term<'_>) -> Ordering {
        cmp_terms(self, other)
    }
}

/// An atom's text, as found in the input: UTF-8 (tags 118, 119) or Latin-1
/// (tags 100, 115, written by OTP 25 and older).
#[derive(Clone, Copy)]
pub struct Atom<'a> {
    bytes: &'a [u8],
    latin1: bool,
}

impl<'a> Atom<'a> {
    /// The text as `&str` when it can be borrowed: always for UTF-8 atoms,
    /// and for Latin-1 atoms that are pure ASCII (nearly all of them).
    /// Otherwise use [`chars`](Self::chars).
    pub fn as_str(&self) -> Option<&'a str> {
        if self.latin1 && !self.bytes.is_ascii() {
            return None;
        }
        core::str::from_utf8(self.bytes).ok()
    }

    /// The characters, decoding Latin-1 without allocating.
    pub fn chars(&self) -> AtomChars<'a> {
        if self.latin1 {
            AtomChars::Latin1(self.bytes.iter())
        } else {
            AtomChars::Utf8(core::str::from_utf8(self.bytes).unwrap_or("").chars())
        }
    }

    /// The bytes as found in the input.
    pub fn raw(&self) -> &'a [u8] {
        self.bytes
    }

    /// Whether the bytes are Latin-1 (tags 100 and 115) rather than UTF-8.
    pub fn is_latin1(&self) -> bool {
        self.latin1
    }

    pub(crate) fn new(bytes: &'a [u8], latin1: bool) -> Self {
        Atom { bytes, latin1 }
    }
}

impl PartialEq for Atom<'_> {
    fn eq(&self, other: &Atom<'_>) -> bool {
        if self.latin1 == other.latin1 {
            self.bytes == other.bytes
        } else {
            self.chars().eq(other.chars())
        }
    }
}

impl PartialEq<str> for Atom<'_> {
    fn eq(&self, other: &str) -> bool {
        super::policy::atom_eq_str(self.bytes, self.latin1, other)
    }
}

impl PartialEq<&str> for Atom<'_> {
    fn eq(&self, other: &&str) -> bool {
        *self == **other
    }
}

impl fmt::Display for Atom<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.chars().try_for_each(|c| fmt::Write::write_char(f, c))
    }
}

impl fmt::Debug for Atom<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{self}'")
    }
}

/// The characters of an [`Atom`].
#[derive(Clone, Debug)]
pub enum AtomChars<'a> {
    /// Of a Latin-1 atom.
    Latin1(core::slice::Iter<'a, u8>),
    /// Of a UTF-8 atom.
    Utf8(core::str::Chars<'a>),
}

impl Iterator for AtomChars<'_> {
    type Item = char;
    #[inline]
    fn next(&mut self) -> Option<char> {
        match self {
            AtomChars::Latin1(it) => it.next().map(|&b| char::from(b)),
            AtomChars::Utf8(it) => it.next(),
        }
    }
}

/// An integer outside the `i64` range: a sign and a little-endian magnitude.
#[derive(Clone, Copy, Debug)]
pub struct Big<'a> {
    negative: bool,
    magnitude: &'a [u8],
}

impl<'a> Big<'a> {
    /// Whether the value is below zero.
    pub fn is_negative(&self) -> bool {
        self.negative
    }

    /// The magnitude, least significant byte first, without high zero bytes.
    pub fn magnitude(&self) -> &'a [u8] {
        self.magnitude
    }

    /// The value, if it fits an `i128`.
    pub fn to_i128(&self) -> Option<i128> {
        let m = self.to_u128()?;
        if self.negative {
            0i128
                .checked_sub_unsigned(m)
                .or((m == 1u128 << 127).then_some(i128::MIN))
        } else {
            i128::try_from(m).ok()
        }
    }

    /// The value, if it fits an `i64` (never, for a `Big` from the decoder;
    /// there for symmetry).
    pub fn to_i64(&self) -> Option<i64> {
        i64::try_from(self.to_i128()?).ok()
    }

    /// The magnitude, if it fits a `u128`.
    pub fn to_u128(&self) -> Option<u128> {
        if self.magnitude.len() > 16 {
            return None;
        }
        Some(
            self.magnitude
                .iter()
                .rev()
                .fold(0u128, |acc, &b| acc << 8 | u128::from(b)),
        )
    }

    /// An approximation as `f64` (for term order against floats).
    pub fn to_f64(&self) -> f64 {
        let m = self
            .magnitude
            .iter()
            .rev()
            .fold(0f64, |acc, &b| acc * 256.0 + f64::from(b));
        if self.negative {
            -m
        } else {
            m
        }
    }

    pub(crate) fn new(negative: bool, magnitude: &'a [u8]) -> Self {
        Big {
            negative,
            magnitude,
        }
    }
}

impl PartialEq for Big<'_> {
    fn eq(&self, other: &Big<'_>) -> bool {
        self.negative == other.negative && self.magnitude == other.magnitude
    }
}

/// A bitstring: whole bytes, of which the last one holds only `bits` bits
/// (its high bits, as in Erlang).
#[derive(Clone, Copy, Debug)]
pub struct BitBinary<'a> {
    bytes: &'a [u8],
    bits: u8,
}

impl<'a> BitBinary<'a> {
    /// The bytes; the last one holds [`last_bits`](Self::last_bits) bits.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// How many (high) bits of the last byte belong to the value: 1..=7.
    pub fn last_bits(&self) -> u8 {
        self.bits
    }

    fn masked_last(&self) -> u8 {
        let mask = 0xffu8 << (8 - u32::from(self.bits.clamp(1, 8)));
        self.bytes.last().map_or(0, |&b| b & mask)
    }

    fn body(&self) -> &'a [u8] {
        self.bytes.split_last().map_or(&[], |(_, rest)| rest)
    }
}

impl PartialEq for BitBinary<'_> {
    fn eq(&self, other: &BitBinary<'_>) -> bool {
        self.bits == other.bits
            && self.bytes.len() == other.bytes.len()
            && self.body() == other.body()
            && self.masked_last() == other.masked_last()
    }
}

/// A pid: node, id, serial and creation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pid<'a> {
    /// The node's name.
    pub node: Atom<'a>,
    /// The process number.
    pub id: u32,
    /// The serial.
    pub serial: u32,
    /// The node incarnation.
    pub creation: u32,
}

/// A port: node, id and creation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Port<'a> {
    /// The node's name.
    pub node: Atom<'a>,
    /// The port number.
    pub id: u64,
    /// The node incarnation.
    pub creation: u32,
}

/// A reference: node, creation and one to five id words.
#[derive(Clone, Copy, Debug)]
pub struct Reference<'a> {
    /// The node's name.
    pub node: Atom<'a>,
    /// The node incarnation.
    pub creation: u32,
    words: &'a [u8],
}

impl<'a> Reference<'a> {
    /// The id words, as found in the input (big-endian `u32`s).
    pub fn ids(&self) -> impl Iterator<Item = u32> + 'a {
        self.words
            .chunks_exact(4)
            .map(|c| c.try_into().map_or(0, u32::from_be_bytes))
    }
}

impl PartialEq for Reference<'_> {
    fn eq(&self, other: &Reference<'_>) -> bool {
        self.node == other.node && self.creation == other.creation && self.words == other.words
    }
}

/// A list: lazily read from the input. `[]` and charlists have list views
/// too (see [`Term::as_list`]).
///
/// ```
/// use phoenix_wire::etf::{self, SafePolicy, Term};
///
/// // [1 | 2], an improper list.
/// let t = etf::decode(&[131, 108, 0, 0, 0, 1, 97, 1, 97, 2], &SafePolicy::new())?;
/// let list = t.as_list().unwrap();
/// assert_eq!(list.iter().filter_map(|x| x.as_i64()).collect::<Vec<_>>(), [1]);
/// assert_eq!(list.tail().and_then(|t| t.as_i64()), Some(2));
/// # Ok::<(), phoenix_wire::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct List<'a> {
    b: &'a [u8],
    state: State<'a>,
}

#[derive(Clone, Copy, Debug)]
enum State<'a> {
    /// Bytes of a charlist still to yield.
    Chars(&'a [u8]),
    /// `left` elements from `pos`, then the tail.
    Cons { pos: usize, left: usize },
    /// Ended on `[]`.
    Done,
    /// Ended on the improper tail at `pos`.
    Improper(usize),
}

impl<'a> List<'a> {
    /// The elements, in order (a tail that is itself a list continues them).
    pub fn iter(&self) -> ListIter<'a> {
        ListIter(*self)
    }

    /// Whether there are no elements (only `[]` is empty).
    pub fn is_empty(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// The improper tail, or `None` for a proper list. Walks the list.
    pub fn tail(&self) -> Option<Term<'a>> {
        let mut it = self.iter();
        for _ in it.by_ref() {}
        it.tail()
    }

    /// Where the elements start in memory (for error offsets).
    #[cfg(feature = "serde")]
    pub(crate) fn data_addr(&self) -> Option<usize> {
        match self.state {
            State::Cons { pos, .. } => Some(self.b.as_ptr() as usize + pos),
            State::Chars(s) => Some(s.as_ptr() as usize),
            _ => None,
        }
    }

    /// Whether the list ends in `[]`. Walks the list.
    pub fn is_proper(&self) -> bool {
        self.tail().is_none()
    }
}

impl<'a> IntoIterator for List<'a> {
    type Item = Term<'a>;
    type IntoIter = ListIter<'a>;
    fn into_iter(self) -> ListIter<'a> {
        self.iter()
    }
}

/// The elements of a [`List`].
#[derive(Clone, Debug)]
pub struct ListIter<'a>(List<'a>);

impl<'a> ListIter<'a> {
    /// Once the iterator is exhausted: the improper tail, if any.
    pub fn tail(&self) -> Option<Term<'a>> {
        match self.0.state {
            State::Improper(pos) => read(self.0.b, pos),
            _ => None,
        }
    }
}

impl<'a> Iterator for ListIter<'a> {
    type Item = Term<'a>;

    #[inline]
    fn next(&mut self) -> Option<Term<'a>> {
        let b = self.0.b;
        loop {
            match self.0.state {
                State::Chars(s) => {
                    let (&c, rest) = s.split_first()?;
                    self.0.state = if rest.is_empty() {
                        State::Done
                    } else {
                        State::Chars(rest)
                    };
                    return Some(Term::Int(i64::from(c)));
                }
                State::Cons { pos, left: 0 } => {
                    self.0.state = match read(b, pos) {
                        Some(Term::Nil) | None => State::Done,
                        Some(Term::Charlist(s)) => State::Chars(s),
                        Some(Term::List(l)) => l.state,
                        Some(_) => State::Improper(pos),
                    };
                }
                State::Cons { pos, left } => {
                    let Some((t, next)) = read_next(b, pos) else {
                        self.0.state = State::Done;
                        return None;
                    };
                    self.0.state = State::Cons {
                        pos: next,
                        left: left - 1,
                    };
                    return Some(t);
                }
                State::Done | State::Improper(_) => return None,
            }
        }
    }
}

/// A tuple, read lazily from the input.
#[derive(Clone, Copy, Debug)]
pub struct Tuple<'a> {
    b: &'a [u8],
    pos: usize,
    arity: usize,
}

impl<'a> Tuple<'a> {
    /// The number of elements.
    pub fn len(&self) -> usize {
        self.arity
    }

    /// Whether this is `{}`.
    pub fn is_empty(&self) -> bool {
        self.arity == 0
    }

    /// The elements, in order.
    pub fn iter(&self) -> TupleIter<'a> {
        TupleIter {
            b: self.b,
            pos: self.pos,
            left: self.arity,
        }
    }

    /// The element at `index` (walks the ones before it).
    pub fn get(&self, index: usize) -> Option<Term<'a>> {
        self.iter().nth(index)
    }

    /// Where the elements start in memory (for error offsets).
    #[cfg(feature = "serde")]
    pub(crate) fn data_addr(&self) -> usize {
        self.b.as_ptr() as usize + self.pos
    }
}

impl<'a> IntoIterator for Tuple<'a> {
    type Item = Term<'a>;
    type IntoIter = TupleIter<'a>;
    fn into_iter(self) -> TupleIter<'a> {
        self.iter()
    }
}

/// The elements of a [`Tuple`].
#[derive(Clone, Debug)]
pub struct TupleIter<'a> {
    b: &'a [u8],
    pos: usize,
    left: usize,
}

impl<'a> Iterator for TupleIter<'a> {
    type Item = Term<'a>;

    #[inline]
    fn next(&mut self) -> Option<Term<'a>> {
        if self.left == 0 {
            return None;
        }
        let (t, next) = read_next(self.b, self.pos)?;
        self.pos = next;
        self.left -= 1;
        Some(t)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left))
    }
}

/// A map, read lazily from the input, pairs in the order they were encoded.
///
/// ```
/// use phoenix_wire::etf::{self, SafePolicy};
///
/// // %{"a" => 1}
/// let t = etf::decode(&[131, 116, 0, 0, 0, 1, 109, 0, 0, 0, 1, 97, 97, 1], &SafePolicy::new())?;
/// let map = t.as_map().unwrap();
/// assert_eq!(map.get("a").and_then(|v| v.as_i64()), Some(1));
/// # Ok::<(), phoenix_wire::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Map<'a> {
    b: &'a [u8],
    pos: usize,
    arity: usize,
}

impl<'a> Map<'a> {
    /// The number of pairs.
    pub fn len(&self) -> usize {
        self.arity
    }

    /// Whether this is `%{}`.
    pub fn is_empty(&self) -> bool {
        self.arity == 0
    }

    /// The pairs, in encoded order.
    pub fn iter(&self) -> MapIter<'a> {
        MapIter(TupleIter {
            b: self.b,
            pos: self.pos,
            left: self.arity,
        })
    }

    /// The value under the binary (Elixir string) key `key`.
    pub fn get(&self, key: &str) -> Option<Term<'a>> {
        self.find(|k| k.as_binary() == Some(key.as_bytes()))
    }

    /// The value under the atom key `key`.
    pub fn get_atom(&self, key: &str) -> Option<Term<'a>> {
        self.find(|k| k.as_atom().is_some_and(|a| a == key))
    }

    /// The value under a key equal to `key`.
    pub fn get_term(&self, key: &Term<'_>) -> Option<Term<'a>> {
        self.find(|k| k == key)
    }

    /// Where the pairs start in memory (for error offsets).
    #[cfg(feature = "serde")]
    pub(crate) fn data_addr(&self) -> usize {
        self.b.as_ptr() as usize + self.pos
    }

    fn find(&self, mut pred: impl FnMut(&Term<'a>) -> bool) -> Option<Term<'a>> {
        self.iter().find(|(k, _)| pred(k)).map(|(_, v)| v)
    }
}

impl<'a> IntoIterator for Map<'a> {
    type Item = (Term<'a>, Term<'a>);
    type IntoIter = MapIter<'a>;
    fn into_iter(self) -> MapIter<'a> {
        self.iter()
    }
}

/// The pairs of a [`Map`].
#[derive(Clone, Debug)]
pub struct MapIter<'a>(TupleIter<'a>);

impl<'a> Iterator for MapIter<'a> {
    type Item = (Term<'a>, Term<'a>);

    #[inline]
    fn next(&mut self) -> Option<(Term<'a>, Term<'a>)> {
        let it = &mut self.0;
        if it.left == 0 {
            return None;
        }
        let (k, vpos) = read_next(it.b, it.pos)?;
        let (v, next) = read_next(it.b, vpos)?;
        it.pos = next;
        it.left -= 1;
        Some((k, v))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.0.left))
    }
}

/// Where the header of a container whose elements start at `pos` began.
fn header_start(_b: &[u8], pos: usize, header: usize) -> usize {
    pos.saturating_sub(header)
}

/// The terms of [`Term::walk`], depth first.
#[derive(Clone, Debug)]
pub struct Walk<'a> {
    b: &'a [u8],
    pos: usize,
    pending: usize,
    single: Option<Term<'a>>,
}

impl<'a> Iterator for Walk<'a> {
    type Item = Term<'a>;

    #[inline]
    fn next(&mut self) -> Option<Term<'a>> {
        if self.pending == 0 {
            return self.single.take();
        }
        let b = self.b;
        let mut p = self.pos;
        // A list of no elements is just its tail (as `read` sees it): step
        // over its header so the tail is yielded once.
        while b.get(p) == Some(&tag::LIST) && be_u32(b, p + 1)? == 0 {
            p += 5;
        }
        let t = *b.get(p)?;
        // Containers: yield the view, then step into their elements.
        let (inner, header) = match t {
            tag::SMALL_TUPLE => (usize::from(*b.get(p + 1)?), 2),
            tag::LARGE_TUPLE => (be_u32(b, p + 1)?, 5),
            tag::MAP => (be_u32(b, p + 1)?.checked_mul(2)?, 5),
            tag::LIST => (be_u32(b, p + 1)?.checked_add(1)?, 5),
            _ => {
                let (term, end) = read_next(b, p)?;
                self.pos = end;
                self.pending -= 1;
                return Some(term);
            }
        };
        let term = read(b, p)?;
        self.pos = p + header;
        self.pending = self.pending - 1 + inner;
        Some(term)
    }
}

// ----- reading validated bytes -----

/// The view of a tuple of `arity` elements starting at `pos`.
#[inline(always)]
pub(crate) fn tuple(b: &[u8], pos: usize, arity: usize) -> Term<'_> {
    Term::Tuple(Tuple { b, pos, arity })
}

/// The view of a map of `arity` pairs starting at `pos`.
#[inline(always)]
pub(crate) fn map(b: &[u8], pos: usize, arity: usize) -> Term<'_> {
    Term::Map(Map { b, pos, arity })
}

/// The view of a list of `left` (> 0) elements starting at `pos`.
#[inline(always)]
pub(crate) fn list(b: &[u8], pos: usize, left: usize) -> Term<'_> {
    Term::List(List {
        b,
        state: State::Cons { pos, left },
    })
}

#[inline(always)]
fn be_u32_raw(b: &[u8], at: usize) -> Option<u32> {
    arr::<4>(b, at).map(u32::from_be_bytes)
}

/// The atom at `pos` (tag included) and where it ends.
#[inline]
fn read_atom(b: &[u8], pos: usize) -> Option<(Atom<'_>, usize)> {
    let (latin1, width) = match *b.get(pos)? {
        tag::ATOM => (true, 2),
        tag::SMALL_ATOM => (true, 1),
        tag::ATOM_UTF8 => (false, 2),
        tag::SMALL_ATOM_UTF8 => (false, 1),
        _ => return None,
    };
    let n = if width == 1 {
        usize::from(*b.get(pos + 1)?)
    } else {
        be_u16(b, pos + 1)?
    };
    let start = pos + 1 + width;
    Some((Atom::new(b.get(start..start + n)?, latin1), start + n))
}

/// The sign and trimmed magnitude of a bignum body at `at` (`n` bytes).
fn big_at(b: &[u8], sign_at: usize, n: usize) -> Option<Term<'_>> {
    let neg = *b.get(sign_at)? != 0;
    let raw = b.get(sign_at + 1..sign_at + 1 + n)?;
    let len = raw.iter().rposition(|&x| x != 0).map_or(0, |i| i + 1);
    let mag = raw.get(..len)?;
    if len <= 8 {
        let m = mag
            .iter()
            .rev()
            .fold(0u64, |acc, &x| acc << 8 | u64::from(x));
        if !neg {
            if let Ok(v) = i64::try_from(m) {
                return Some(Term::Int(v));
            }
        } else if m <= 1u64 << 63 {
            return Some(Term::Int(0i64.wrapping_sub_unsigned(m)));
        }
    }
    Some(Term::Big(Big::new(neg, mag)))
}

/// The term at `pos` and where it ends. Common leaves know their end from
/// their header; containers are skipped over.
#[inline]
pub(crate) fn read_next(b: &[u8], pos: usize) -> Option<(Term<'_>, usize)> {
    let p = pos + 1;
    match *b.get(pos)? {
        tag::SMALL_INTEGER => Some((Term::Int(i64::from(*b.get(p)?)), p + 1)),
        tag::INTEGER => Some((Term::Int(i64::from(i32::from_be_bytes(arr(b, p)?))), p + 4)),
        tag::NEW_FLOAT => Some((Term::Float(f64::from_be_bytes(arr(b, p)?)), p + 8)),
        tag::ATOM | tag::SMALL_ATOM | tag::ATOM_UTF8 | tag::SMALL_ATOM_UTF8 => {
            let (a, end) = read_atom(b, pos)?;
            Some((Term::Atom(a), end))
        }
        tag::BINARY => {
            let end = p + 4 + be_u32(b, p)?;
            Some((Term::Binary(b.get(p + 4..end)?), end))
        }
        tag::NIL => Some((Term::Nil, p)),
        _ => Some((read(b, pos)?, skip(b, pos)?)),
    }
}

/// The view of the (validated) term at `pos`.
pub(crate) fn read(b: &[u8], mut pos: usize) -> Option<Term<'_>> {
    loop {
        let p = pos + 1;
        return Some(match *b.get(pos)? {
            tag::SMALL_INTEGER => Term::Int(i64::from(*b.get(p)?)),
            tag::INTEGER => Term::Int(i64::from(i32::from_be_bytes(arr(b, p)?))),
            tag::NEW_FLOAT => Term::Float(f64::from_be_bytes(arr(b, p)?)),
            tag::FLOAT => Term::Float(parse_old_float(b.get(p..p + 31)?)?),
            tag::ATOM | tag::SMALL_ATOM | tag::ATOM_UTF8 | tag::SMALL_ATOM_UTF8 => {
                Term::Atom(read_atom(b, pos)?.0)
            }
            tag::BINARY => Term::Binary(b.get(p + 4..p + 4 + be_u32(b, p)?)?),
            tag::BIT_BINARY => {
                let n = be_u32(b, p)?;
                let bits = *b.get(p + 4)?;
                let bytes = b.get(p + 5..p + 5 + n)?;
                if bits == 8 || n == 0 {
                    Term::Binary(bytes)
                } else {
                    Term::BitBinary(BitBinary { bytes, bits })
                }
            }
            tag::NIL => Term::Nil,
            tag::STRING => match b.get(p + 2..p + 2 + be_u16(b, p)?)? {
                [] => Term::Nil,
                s => Term::Charlist(s),
            },
            tag::LIST => match be_u32(b, p)? {
                // A list of no elements is just its tail.
                0 => {
                    pos = p + 4;
                    continue;
                }
                n => Term::List(List {
                    b,
                    state: State::Cons {
                        pos: p + 4,
                        left: n,
                    },
                }),
            },
            tag::SMALL_TUPLE => Term::Tuple(Tuple {
                b,
                pos: p + 1,
                arity: usize::from(*b.get(p)?),
            }),
            tag::LARGE_TUPLE => Term::Tuple(Tuple {
                b,
                pos: p + 4,
                arity: be_u32(b, p)?,
            }),
            tag::MAP => Term::Map(Map {
                b,
                pos: p + 4,
                arity: be_u32(b, p)?,
            }),
            tag::SMALL_BIG => big_at(b, p + 1, usize::from(*b.get(p)?))?,
            tag::LARGE_BIG => big_at(b, p + 4, be_u32(b, p)?)?,
            t @ (tag::NEW_PID | tag::PID) => {
                let (node, q) = read_atom(b, p)?;
                let creation = if t == tag::PID {
                    u32::from(*b.get(q + 8)?)
                } else {
                    be_u32_raw(b, q + 8)?
                };
                Term::Pid(Pid {
                    node,
                    id: be_u32_raw(b, q)?,
                    serial: be_u32_raw(b, q + 4)?,
                    creation,
                })
            }
            t @ (tag::NEW_PORT | tag::PORT | tag::V4_PORT) => {
                let (node, q) = read_atom(b, p)?;
                let (id, c) = if t == tag::V4_PORT {
                    (u64::from_be_bytes(arr(b, q)?), q + 8)
                } else {
                    (u64::from(be_u32_raw(b, q)?), q + 4)
                };
                let creation = if t == tag::PORT {
                    u32::from(*b.get(c)?)
                } else {
                    be_u32_raw(b, c)?
                };
                Term::Port(Port { node, id, creation })
            }
            t @ (tag::NEWER_REFERENCE | tag::NEW_REFERENCE | tag::REFERENCE) => {
                let (n, q) = if t == tag::REFERENCE {
                    (1, p)
                } else {
                    (be_u16(b, p)?, p + 2)
                };
                let (node, q) = read_atom(b, q)?;
                let (creation, w) = match t {
                    tag::NEWER_REFERENCE => (be_u32_raw(b, q)?, q + 4),
                    tag::NEW_REFERENCE => (u32::from(*b.get(q)?), q + 1),
                    _ => (u32::from(*b.get(q + 4)?), q),
                };
                Term::Ref(Reference {
                    node,
                    creation,
                    words: b.get(w..w + 4 * n)?,
                })
            }
            _ => return None,
        });
    }
}

/// Where the (validated) term at `pos` ends. Iterative: one counter of
/// terms still to pass replaces a stack.
pub(crate) fn skip(b: &[u8], pos: usize) -> Option<usize> {
    let mut pending: usize = 1;
    let mut p = pos;
    while pending > 0 {
        pending -= 1;
        let t = *b.get(p)?;
        p += 1;
        p += match t {
            tag::SMALL_INTEGER => 1,
            tag::INTEGER => 4,
            tag::NEW_FLOAT => 8,
            tag::FLOAT => 31,
            tag::ATOM | tag::ATOM_UTF8 => 2 + be_u16(b, p)?,
            tag::SMALL_ATOM | tag::SMALL_ATOM_UTF8 => 1 + usize::from(*b.get(p)?),
            tag::BINARY => 4 + be_u32(b, p)?,
            tag::BIT_BINARY => 5 + be_u32(b, p)?,
            tag::NIL => 0,
            tag::STRING => 2 + be_u16(b, p)?,
            tag::LIST => {
                pending = pending.checked_add(be_u32(b, p)?.checked_add(1)?)?;
                4
            }
            tag::SMALL_TUPLE => {
                pending = pending.checked_add(usize::from(*b.get(p)?))?;
                1
            }
            tag::LARGE_TUPLE => {
                pending = pending.checked_add(be_u32(b, p)?)?;
                4
            }
            tag::MAP => {
                pending = pending.checked_add(be_u32(b, p)?.checked_mul(2)?)?;
                4
            }
            tag::SMALL_BIG => 2 + usize::from(*b.get(p)?),
            tag::LARGE_BIG => 5 + be_u32(b, p)?,
            tag::NEW_PID => read_atom(b, p)?.1 - p + 12,
            tag::PID => read_atom(b, p)?.1 - p + 9,
            tag::NEW_PORT => read_atom(b, p)?.1 - p + 8,
            tag::V4_PORT => read_atom(b, p)?.1 - p + 12,
            tag::PORT | tag::REFERENCE => read_atom(b, p)?.1 - p + 5,
            tag::NEWER_REFERENCE => read_atom(b, p + 2)?.1 - p + 4 + 4 * be_u16(b, p)?,
            tag::NEW_REFERENCE => read_atom(b, p + 2)?.1 - p + 1 + 4 * be_u16(b, p)?,
            _ => return None,
        };
    }
    (p <= b.len()).then_some(p)
}

// ----- equality, order, hashing -----

impl PartialEq for Term<'_> {
    /// Erlang exact equality (`=:=`); `0.0` equals `-0.0` as in OTP 25.
    fn eq(&self, other: &Term<'_>) -> bool {
        use Term::*;
        match (self, other) {
            (Int(a), Int(b)) => a == b,
            (Big(a), Big(b)) => a == b,
            (Float(a), Float(b)) => a == b,
            (Atom(a), Atom(b)) => a == b,
            (Binary(a), Binary(b)) => a == b,
            (BitBinary(a), BitBinary(b)) => a == b,
            (Tuple(a), Tuple(b)) => a.len() == b.len() && a.iter().eq(b.iter()),
            (Map(a), Map(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .all(|(k, v)| b.get_term(&k).is_some_and(|w| w == v))
            }
            (Pid(a), Pid(b)) => a == b,
            (Port(a), Port(b)) => a == b,
            (Ref(a), Ref(b)) => a == b,
            _ => match (self.as_list(), other.as_list()) {
                (Some(a), Some(b)) => {
                    let (mut x, mut y) = (a.iter(), b.iter());
                    loop {
                        match (x.next(), y.next()) {
                            (None, None) => return x.tail() == y.tail(),
                            (Some(p), Some(q)) if p == q => {}
                            _ => return false,
                        }
                    }
                }
                _ => false,
            },
        }
    }
}

/// Whether the validated terms at `a` and `b` are equal.
pub(crate) fn eq_at(b: &[u8], x: usize, y: usize) -> bool {
    matches!((read(b, x), read(b, y)), (Some(p), Some(q)) if p == q)
}

fn rank(t: &Term<'_>) -> u8 {
    match t {
        Term::Int(_) | Term::Big(_) | Term::Float(_) => 0,
        Term::Atom(_) => 1,
        Term::Ref(_) => 2,
        Term::Port(_) => 4,
        Term::Pid(_) => 5,
        Term::Tuple(_) => 6,
        Term::Map(_) => 7,
        Term::Nil => 8,
        Term::Charlist(_) | Term::List(_) => 9,
        Term::Binary(_) | Term::BitBinary(_) => 10,
    }
}

fn cmp_numbers(a: &Term<'_>, b: &Term<'_>) -> Ordering {
    use Term::*;
    let as_f = |t: &Term<'_>| match *t {
        Int(v) => v as f64,
        Big(v) => v.to_f64(),
        Float(v) => v,
        _ => 0.0,
    };
    match (a, b) {
        (Int(x), Int(y)) => x.cmp(y),
        (Float(x), Float(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
        (Big(x), Big(y)) => match (x.negative, y.negative) {
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
            (neg, _) => {
                let m = x
                    .magnitude
                    .len()
                    .cmp(&y.magnitude.len())
                    .then_with(|| x.magnitude.iter().rev().cmp(y.magnitude.iter().rev()));
                if neg {
                    m.reverse()
                } else {
                    m
                }
            }
        },
        (Big(x), Int(_)) => {
            if x.negative {
                Ordering::Less
            } else {
                Ordering::Greater
            }
        }
        (Int(_), Big(y)) => {
            if y.negative {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
        _ => {
            let o = as_f(a).partial_cmp(&as_f(b)).unwrap_or(Ordering::Equal);
            // Equal values: the integer first (map key order).
            o.then_with(|| matches!(a, Float(_)).cmp(&matches!(b, Float(_))))
        }
    }
}

fn cmp_terms(a: &Term<'_>, b: &Term<'_>) -> Ordering {
    use Term::*;
    let r = rank(a).cmp(&rank(b));
    if r != Ordering::Equal {
        return r;
    }
    match (a, b) {
        (Atom(x), Atom(y)) => x.chars().cmp(y.chars()),
        (Tuple(x), Tuple(y)) => x
            .len()
            .cmp(&y.len())
            .then_with(|| cmp_seq(x.iter(), y.iter())),
        (Map(x), Map(y)) => x.len().cmp(&y.len()).then_with(|| {
            cmp_seq(x.iter().map(|p| p.0), y.iter().map(|p| p.0))
                .then_with(|| cmp_seq(x.iter().map(|p| p.1), y.iter().map(|p| p.1)))
        }),
        (Pid(x), Pid(y)) => (x.node.chars().cmp(y.node.chars()))
            .then((x.serial, x.id, x.creation).cmp(&(y.serial, y.id, y.creation))),
        (Port(x), Port(y)) => x
            .node
            .chars()
            .cmp(y.node.chars())
            .then((x.id, x.creation).cmp(&(y.id, y.creation))),
        (Ref(x), Ref(y)) => x
            .node
            .chars()
            .cmp(y.node.chars())
            .then_with(|| x.ids().cmp(y.ids())),
        (Binary(_) | BitBinary(_), _) => {
            fn bits<'t>(t: &Term<'t>) -> (&'t [u8], u8) {
                match *t {
                    Term::Binary(s) => (s, 8u8),
                    Term::BitBinary(v) => (v.bytes, v.bits),
                    _ => (&[], 8),
                }
            }
            let ((xs, xb), (ys, yb)) = (bits(a), bits(b));
            xs.cmp(ys).then(xb.cmp(&yb))
        }
        _ if rank(a) == 0 => cmp_numbers(a, b),
        _ => match (a.as_list(), b.as_list()) {
            (Some(x), Some(y)) => {
                let (mut p, mut q) = (x.iter(), y.iter());
                loop {
                    match (p.next(), q.next()) {
                        (None, None) => {
                            return match (p.tail(), q.tail()) {
                                (Some(s), Some(t)) => cmp_terms(&s, &t),
                                (s, t) => s.is_some().cmp(&t.is_some()),
                            }
                        }
                        (None, Some(_)) => return Ordering::Less,
                        (Some(_), None) => return Ordering::Greater,
                        (Some(s), Some(t)) => match cmp_terms(&s, &t) {
                            Ordering::Equal => {}
                            o => return o,
                        },
                    }
                }
            }
            _ => Ordering::Equal,
        },
    }
}

fn cmp_seq<'x, 'y>(
    mut a: impl Iterator<Item = Term<'x>>,
    mut b: impl Iterator<Item = Term<'y>>,
) -> Ordering {
    loop {
        match (a.next(), b.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => match cmp_terms(&x, &y) {
                Ordering::Equal => {}
                o => return o,
            },
        }
    }
}

/// A small multiplicative hasher: map keys are few and short.
struct H(u64);

impl H {
    #[inline(always)]
    fn word(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    fn bytes(&mut self, s: &[u8]) {
        self.word(s.len() as u64);
        let mut chunks = s.chunks_exact(8);
        for c in chunks.by_ref() {
            self.word(c.try_into().map_or(0, u64::from_le_bytes));
        }
        let mut last = [0u8; 8];
        let rest = chunks.remainder();
        if let Some(dst) = last.get_mut(..rest.len()) {
            dst.copy_from_slice(rest);
        }
        self.word(u64::from_le_bytes(last));
    }

    fn int(&mut self, neg: bool, mag_le: &[u8]) {
        let len = mag_le.iter().rposition(|&x| x != 0).map_or(0, |i| i + 1);
        self.word(1 + u64::from(neg && len > 0));
        self.bytes(mag_le.get(..len).unwrap_or(&[]));
    }
}

/// A hash of the canonical form of the (validated) term at `pos`: equal
/// terms hash equal whatever their encoding. Streams over the bytes with
/// the same counter as [`skip`]; nested maps and pids, ports and references
/// hash by kind only (their equality is settled by the full comparison).
pub(crate) fn key_hash(b: &[u8], pos: usize) -> u64 {
    let mut h = H(0);
    let mut pending: usize = 1;
    let mut p = pos;
    while pending > 0 {
        pending -= 1;
        let Some(&t) = b.get(p) else { break };
        match t {
            tag::SMALL_INTEGER | tag::INTEGER | tag::SMALL_BIG | tag::LARGE_BIG => match read(b, p)
            {
                Some(Term::Int(v)) => h.int(v < 0, &v.unsigned_abs().to_le_bytes()),
                Some(Term::Big(v)) => h.int(v.negative, v.magnitude),
                _ => break,
            },
            tag::NEW_FLOAT | tag::FLOAT => {
                let v = read(b, p).and_then(|t| t.as_f64()).unwrap_or(0.0);
                h.word(3);
                h.word(if v == 0.0 { 0 } else { v.to_bits() });
            }
            tag::ATOM | tag::SMALL_ATOM | tag::ATOM_UTF8 | tag::SMALL_ATOM_UTF8 => {
                h.word(4);
                if let Some((a, _)) = read_atom(b, p) {
                    a.chars().for_each(|c| h.word(u64::from(u32::from(c))));
                }
                h.word(5);
            }
            tag::BINARY | tag::BIT_BINARY => match read(b, p) {
                Some(Term::Binary(s)) => {
                    h.word(6);
                    h.bytes(s);
                }
                Some(Term::BitBinary(v)) => {
                    h.word(7 + u64::from(v.bits));
                    h.bytes(v.body());
                    h.word(u64::from(v.masked_last()));
                }
                _ => break,
            },
            tag::NIL => h.word(20),
            tag::STRING => {
                if let Some(Term::Charlist(s)) = read(b, p) {
                    s.iter().for_each(|&c| h.int(false, &[c]));
                }
                h.word(20);
            }
            tag::LIST => {
                let Some(n) = be_u32(b, p + 1) else { break };
                pending = pending.saturating_add(n.saturating_add(1));
                p += 5;
                continue;
            }
            tag::SMALL_TUPLE | tag::LARGE_TUPLE => {
                let Some(Term::Tuple(tu)) = read(b, p) else {
                    break;
                };
                h.word(21);
                h.word(tu.arity as u64);
                pending = pending.saturating_add(tu.arity);
                p = tu.pos;
                continue;
            }
            tag::MAP => {
                let Some(Term::Map(m)) = read(b, p) else {
                    break;
                };
                h.word(22);
                h.word(m.arity as u64);
            }
            _ => h.word(23),
        }
        match skip(b, p) {
            Some(next) => p = next,
            None => break,
        }
    }
    h.0
}
