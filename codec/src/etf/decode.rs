//! The validating pass: every check of the safe policy, once, before any
//! view of the term is handed out.
//!
//! Open containers are counted in small fixed arrays, one per 16 levels of
//! nesting, so the stack use is bounded by the policy's depth limit (at
//! most [`MAX_DEPTH_LIMIT`](super::MAX_DEPTH_LIMIT)) whatever the input. Each declared length is checked against
//! the bytes that remain before anything is read, and nothing is reserved.

use super::policy::SafePolicy;
use super::tag;
use super::term::{self, eq_at, key_hash, read_next, skip, Atom, Term};
use crate::error::{Error, ErrorKind, Result};

/// Reads `N` bytes at `at`, if there are that many.
#[inline(always)]
pub(crate) fn arr<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
    b.get(at..at.checked_add(N)?)?.try_into().ok()
}

#[inline(always)]
pub(crate) fn be_u16(b: &[u8], at: usize) -> Option<usize> {
    arr::<2>(b, at).map(|a| usize::from(u16::from_be_bytes(a)))
}

#[inline(always)]
pub(crate) fn be_u32(b: &[u8], at: usize) -> Option<usize> {
    arr::<4>(b, at).and_then(|a| usize::try_from(u32::from_be_bytes(a)).ok())
}

/// Parses the 31-byte text of an old `FLOAT_EXT` (`%.20e`, NUL padded).
pub(crate) fn parse_old_float(text: &[u8]) -> Option<f64> {
    let end = text.iter().position(|&c| c == 0).unwrap_or(text.len());
    let s = core::str::from_utf8(text.get(..end)?).ok()?;
    let v: f64 = s.trim_start_matches(' ').parse().ok()?;
    v.is_finite().then_some(v)
}

/// Validates the term starting at `start` and returns where it ends.
pub(crate) fn validate(bytes: &[u8], start: usize, policy: &SafePolicy<'_>) -> Result<usize> {
    validate_with(bytes, start, policy, &mut |_| {})
}

/// Validates the term starting at `start`, handing every term to `f` in
/// written order as soon as its own bytes are checked (what
/// [`Term::walk`] yields), and returns where it ends.
pub(crate) fn validate_with<'a, F: FnMut(Term<'a>)>(
    bytes: &'a [u8],
    start: usize,
    policy: &SafePolicy<'_>,
    f: &mut F,
) -> Result<usize> {
    let mut v = Validator {
        b: bytes,
        pos: start,
        p: policy,
        any_atom: policy.atoms.is_none(),
        f,
    };
    // The outermost term first: a leaf, or a container `one` checks whole
    // (a tuple or small map of leaves, the common small message), needs no
    // array of levels, and zeroing one would cost as much as the term.
    let (end, count, map) = v.one(bytes, start, 0, policy.max_depth)?;
    v.pos = end;
    if count > 0 {
        v.run(1, count, map)?;
    }
    Ok(v.pos)
}

struct Validator<'a, 'p, F> {
    b: &'a [u8],
    pos: usize,
    p: &'p SafePolicy<'p>,
    /// No allow-list: the common case skips the atom lookup.
    any_atom: bool,
    f: &'p mut F,
}

/// One open container: how many terms the container around it still
/// holds (this one included), and for a map the offset of its tag plus
/// one (0 otherwise), to check its keys on close.
#[derive(Clone, Copy, Default)]
struct Level {
    left: usize,
    map: usize,
}

#[inline]
fn err<T>(kind: ErrorKind, at: usize) -> Result<T> {
    Err(Error::new(kind, at))
}

#[cold]
fn eof<T>(at: usize) -> Result<T> {
    err(ErrorKind::UnexpectedEof, at)
}

/// The `n` bytes at `at`, if there are that many (no overflow on 32-bit).
#[inline(always)]
fn bytes_at(b: &[u8], at: usize, n: usize) -> Option<&[u8]> {
    b.get(at..)?.get(..n)
}

impl<'a, F: FnMut(Term<'a>)> Validator<'a, '_, F> {
    #[inline(always)]
    fn remaining(&self) -> usize {
        self.b.len().saturating_sub(self.pos)
    }

    /// Moves past `n` bytes, which must be there.
    #[inline(always)]
    fn advance(&mut self, n: usize) -> Result<()> {
        if self.remaining() < n {
            return eof(self.pos);
        }
        self.pos += n;
        Ok(())
    }

    #[inline(always)]
    fn u8(&mut self) -> Result<u8> {
        match self.b.get(self.pos) {
            Some(&v) => {
                self.pos += 1;
                Ok(v)
            }
            None => eof(self.pos),
        }
    }

    /// Reads a length field of `width` bytes and checks that `count` units
    /// of `unit` bytes plus `extra` bytes can follow. A length that cannot
    /// fit is reported at the length field.
    #[inline(always)]
    fn len(&mut self, width: usize, unit: usize, extra: usize) -> Result<usize> {
        let at = self.pos;
        let n = match width {
            1 => self.b.get(at).map(|&v| usize::from(v)),
            2 => be_u16(self.b, at),
            _ => be_u32(self.b, at),
        };
        let Some(n) = n else {
            return eof(at);
        };
        self.pos += width;
        let need = n.checked_mul(unit).and_then(|x| x.checked_add(extra));
        match need {
            Some(need) if need <= self.remaining() => Ok(n),
            _ => eof(at),
        }
    }

    /// Validates `left` terms at nesting depth `depth0` (the elements of
    /// the map whose tag is at `map - 1`, if `map` is not 0). Open
    /// containers are counted in a small array of [`CHUNK`] levels; a
    /// container that opens deeper is validated by a nested call with a
    /// fresh array, so the recursion is at most `MAX_DEPTH_LIMIT / CHUNK +
    /// 1` frames deep and no input can exhaust the stack, while a shallow
    /// term touches only 256 bytes of it. A level keeps the count of the
    /// container around it and its own map offset; the innermost count
    /// and the depth live in locals, so a leaf costs one decrement.
    fn run(&mut self, depth0: usize, mut left: usize, map0: usize) -> Result<()> {
        let mut stack = [Level::default(); CHUNK];
        let mut n = 0usize;
        // The hot state lives in locals: through `self` every store made by
        // `f` could alias it, and it would be reloaded for every term.
        let b = self.b;
        let mut pos = self.pos;
        let mut depth = depth0;
        let max_depth = self.p.max_depth;
        loop {
            // The terms of the innermost container, until one opens a
            // container that holds something or the container is complete.
            let (count, m) = loop {
                let (end, count, m) = self.one(b, pos, depth, max_depth)?;
                pos = end;
                if count > 0 {
                    break (count, m);
                }
                left -= 1;
                if left == 0 {
                    break (0, 0);
                }
            };
            if count > 0 {
                if let Some(slot) = stack.get_mut(n) {
                    *slot = Level { left, map: m };
                    n += 1;
                    depth += 1;
                    left = count;
                    continue;
                }
                self.pos = pos;
                self.run(depth + 1, count, m)?;
                pos = self.pos;
                left -= 1;
                if left > 0 {
                    continue;
                }
            }
            // The innermost container is complete; it counts as one term
            // of the container around it.
            loop {
                let Some(up) = n.checked_sub(1) else {
                    if map0 != 0 {
                        self.check_keys(map0 - 1)?;
                    }
                    self.pos = pos;
                    return Ok(());
                };
                n = up;
                depth -= 1;
                let level = stack.get(n).copied().unwrap_or_default();
                if level.map != 0 {
                    self.check_keys(level.map - 1)?;
                }
                left = level.left.saturating_sub(1);
                if left > 0 {
                    break;
                }
            }
        }
    }

    /// Validates the bytes of the term at `at` (not what a container
    /// holds) and hands its view to `f`. Returns where those bytes end,
    /// and for a container how many terms it holds and (for a map) its
    /// offset plus one; the caller then validates those. The common tags
    /// are read here from fixed-size headers; the rest go to [`rare`].
    ///
    /// [`rare`]: Self::rare
    #[inline(always)]
    fn one(
        &mut self,
        b: &'a [u8],
        at: usize,
        depth: usize,
        max_depth: usize,
    ) -> Result<(usize, usize, usize)> {
        if let Some(end) = self.leaf(b, at)? {
            return Ok((end, 0, 0));
        }
        // `leaf` has read the tag.
        let t = b.get(at).copied().unwrap_or_default();
        let p = at + 1;
        match t {
            tag::SMALL_TUPLE => {
                let Some(&n) = b.get(p) else {
                    return eof(p);
                };
                let n = usize::from(n);
                if n > b.len() - (p + 1) {
                    return eof(p);
                }
                let view = Some(term::tuple(b, p + 1, n));
                let (mut q, _, _) = self.open(depth < max_depth, at, view, (p + 1, n, 0))?;
                // Elements that are common leaves are checked right here,
                // so a tuple of leaves needs no level; the caller takes
                // the others from the first that is not one.
                let mut left = n;
                while left > 0 {
                    match self.leaf(b, q)? {
                        Some(end) => q = end,
                        None => break,
                    }
                    left -= 1;
                }
                Ok((q, left, 0))
            }
            tag::LARGE_TUPLE | tag::MAP | tag::LIST => self.open_large(b, t, at, depth < max_depth),
            _ => {
                self.pos = at;
                self.rare(t, depth)?;
                Ok((self.pos, 0, 0))
            }
        }
    }

    /// The pairs of a small map whose tag is at `at`, checked as it opens
    /// when they are all common leaves (string or atom keys and values, as
    /// in most structs): then no level is needed, and duplicate keys are
    /// compared as read, as the general check would (`==`, in order).
    /// Otherwise returns where it stopped and what is left, and the caller
    /// checks the rest and then all the keys.
    #[inline(never)]
    fn map_of_leaves(&mut self, b: &'a [u8], at: usize, n: usize) -> Result<(usize, usize, usize)> {
        // Where each key starts and ends.
        let mut keys = [(0usize, 0usize); MAP_INLINE];
        // The first key equal to an earlier one, reported only once every
        // pair is known to be valid (a bad value after it comes first).
        let mut dup = None;
        let mut q = at + 5;
        for i in 0..n {
            let Some(value) = self.leaf(b, q)? else {
                return Ok((q, 2 * (n - i), at + 1));
            };
            let Some(end) = self.leaf(b, value)? else {
                return Ok((value, 2 * (n - i) - 1, at + 1));
            };
            let key = (q, value);
            let earlier = keys.get(..i).unwrap_or(&[]);
            if dup.is_none() && earlier.iter().any(|&k| same_leaf(b, k, key)) {
                dup = Some(q);
            }
            if let Some(slot) = keys.get_mut(i) {
                *slot = key;
            }
            q = end;
        }
        match dup {
            Some(pos) => err(ErrorKind::DuplicateMapKey, pos),
            None => Ok((q, 0, 0)),
        }
    }

    /// A common leaf at `at`: validated, handed to `f`, and where it ends.
    /// `None` for anything else, which the caller reads.
    #[inline(always)]
    fn leaf(&mut self, b: &'a [u8], at: usize) -> Result<Option<usize>> {
        let Some(&t) = b.get(at) else {
            return eof(at);
        };
        let p = at + 1;
        let (term, end) = match t {
            tag::SMALL_INTEGER => match b.get(p) {
                Some(&v) => (Term::Int(i64::from(v)), p + 1),
                None => return eof(p),
            },
            tag::INTEGER => match arr::<4>(b, p) {
                Some(v) => (Term::Int(i64::from(i32::from_be_bytes(v))), p + 4),
                None => return eof(p),
            },
            tag::NEW_FLOAT => {
                let Some(bits) = arr::<8>(b, p) else {
                    return eof(p);
                };
                let v = f64::from_be_bytes(bits);
                if !v.is_finite() {
                    return err(ErrorKind::InvalidFloat, at);
                }
                (Term::Float(v), p + 8)
            }
            tag::SMALL_ATOM_UTF8 => self.atom::<1, false>(b, at)?,
            tag::ATOM => self.atom::<2, true>(b, at)?,
            tag::SMALL_ATOM => self.atom::<1, true>(b, at)?,
            tag::ATOM_UTF8 => self.atom::<2, false>(b, at)?,
            tag::BINARY => {
                let Some(n) = be_u32(b, p) else {
                    return eof(p);
                };
                let Some(s) = bytes_at(b, p + 4, n) else {
                    return eof(p);
                };
                (Term::Binary(s), p + 4 + n)
            }
            tag::NIL => (Term::Nil, p),
            _ => return Ok(None),
        };
        (self.f)(term);
        Ok(Some(end))
    }

    /// A tuple, list or map with a 4-byte length.
    #[inline(always)]
    fn open_large(
        &mut self,
        b: &'a [u8],
        t: u8,
        at: usize,
        deeper: bool,
    ) -> Result<(usize, usize, usize)> {
        let p = at + 1;
        let Some(n) = be_u32(b, p) else {
            return eof(p);
        };
        let body = p + 4;
        let room = b.len() - body;
        match t {
            tag::LARGE_TUPLE if n <= room => {
                self.open(deeper, at, Some(term::tuple(b, body, n)), (body, n, 0))
            }
            tag::MAP if n <= room / 2 => {
                let next = (body, 2 * n, at + 1);
                let next = self.open(deeper, at, Some(term::map(b, body, n)), next)?;
                if n <= MAP_INLINE {
                    return self.map_of_leaves(b, at, n);
                }
                Ok(next)
            }
            // A list of no elements is just its tail: only the tail is seen.
            tag::LIST if n < room => {
                let view = (n > 0).then(|| term::list(b, body, n));
                self.open(deeper, at, view, (body, n + 1, 0))
            }
            _ => eof(p),
        }
    }

    /// Checks the depth limit for the container at `at` (`deeper`: one
    /// more level is allowed), then hands its view to `f`; `next` is what
    /// [`one`](Self::one) returns.
    #[inline(always)]
    fn open(
        &mut self,
        deeper: bool,
        at: usize,
        view: Option<Term<'a>>,
        next: (usize, usize, usize),
    ) -> Result<(usize, usize, usize)> {
        if !deeper {
            return err(ErrorKind::DepthLimitExceeded, at);
        }
        if let Some(view) = view {
            (self.f)(view);
        }
        Ok(next)
    }

    /// The leaves that are rare in practice, and the tags that are refused.
    #[inline(never)]
    fn rare(&mut self, t: u8, depth: usize) -> Result<()> {
        let at = self.pos;
        self.pos = at + 1;
        match t {
            tag::FLOAT => {
                let text = self
                    .b
                    .get(self.pos..self.pos + 31)
                    .ok_or(Error::new(ErrorKind::UnexpectedEof, self.pos))?;
                if parse_old_float(text).is_none() {
                    return err(ErrorKind::InvalidFloat, at);
                }
                self.advance(31)?;
            }
            tag::BIT_BINARY => {
                let n = self.len(4, 1, 1)?;
                let bits = self.u8()?;
                if (n == 0) != (bits == 0) || bits > 8 {
                    return err(ErrorKind::InvalidBitCount, self.pos - 1);
                }
                self.advance(n)?;
            }
            tag::STRING => {
                let n = self.len(2, 1, 0)?;
                self.advance(n)?;
            }
            tag::SMALL_BIG => {
                let n = self.len(1, 1, 1)?;
                self.advance(n + 1)?;
            }
            tag::LARGE_BIG => {
                let n = self.len(4, 1, 1)?;
                self.advance(n + 1)?;
            }
            tag::NEW_PID
            | tag::NEW_PORT
            | tag::V4_PORT
            | tag::NEWER_REFERENCE
            | tag::NEW_REFERENCE
            | tag::REFERENCE
            | tag::PORT
            | tag::PID => self.identifier(t, at)?,
            tag::NEW_FUN | tag::EXPORT | tag::FUN => return err(ErrorKind::ExecutableTerm, at),
            tag::ATOM_CACHE_REF => return err(ErrorKind::AtomCacheRef, at),
            tag::LOCAL => return err(ErrorKind::LocalExt, at),
            tag::DIST_HEADER if depth == 0 && at == 1 => {
                return err(ErrorKind::DistributionHeader, at)
            }
            tag::COMPRESSED => return err(ErrorKind::UnsupportedCompression, at),
            other => return err(ErrorKind::UnknownTag(other), at),
        }
        // Checked above, so the view can be built.
        let view = term::read(self.b, at).ok_or(Error::new(ErrorKind::InvalidTerm, at))?;
        (self.f)(view);
        Ok(())
    }

    /// Rejects duplicate keys (Erlang exact equality) in the validated map
    /// whose tag is at `map`.
    ///
    /// Keys are compared by a hash of their canonical form first, so a map
    /// of n keys costs n hashes plus one full comparison per collision. Up
    /// to [`SMALL_MAP`] hashes live on the stack; larger maps keep them in
    /// one `Vec` (with `alloc`), or rehash earlier keys (without).
    // Out of line: the validator's loop keeps more in registers without it.
    #[inline(never)]
    fn check_keys(&self, map: usize) -> Result<()> {
        let n = be_u32(self.b, map + 1).unwrap_or(0);
        let mut pos = map + 5;
        if n < 2 {
            return Ok(());
        }
        if n <= SIMPLE_KEYS {
            if let Some(verdict) = check_simple(self.b, n, pos) {
                return verdict;
            }
        }
        if n > SMALL_MAP {
            return self.check_large(n, pos);
        }
        let mut seen = [(0u64, 0usize); SMALL_MAP];
        for i in 0..n {
            let h = key_hash(self.b, pos);
            for &(h2, k2) in seen.get(..i).unwrap_or(&[]) {
                if h2 == h && eq_at(self.b, pos, k2) {
                    return err(ErrorKind::DuplicateMapKey, pos);
                }
            }
            if let Some(slot) = seen.get_mut(i) {
                *slot = (h, pos);
            }
            pos = next_pair(self.b, pos);
        }
        Ok(())
    }

    #[cfg(feature = "alloc")]
    fn check_large(&self, n: usize, mut pos: usize) -> Result<()> {
        let mut keys = alloc::vec::Vec::with_capacity(n);
        for _ in 0..n {
            keys.push((key_hash(self.b, pos), pos));
            pos = next_pair(self.b, pos);
        }
        keys.sort_unstable();
        // Report the duplicate that comes first in the input, as the
        // small-map check does.
        let mut first: Option<usize> = None;
        let mut rest = keys.as_slice();
        while let Some(&(h, _)) = rest.first() {
            let run_len = rest.iter().take_while(|x| x.0 == h).count();
            let (run, tail) = rest.split_at(run_len);
            for (x, &(_, a)) in run.iter().enumerate() {
                for &(_, b) in run.get(x + 1..).unwrap_or(&[]) {
                    if eq_at(self.b, a, b) {
                        let later = a.max(b);
                        first = Some(first.map_or(later, |w| w.min(later)));
                    }
                }
            }
            rest = tail;
        }
        match first {
            Some(k) => err(ErrorKind::DuplicateMapKey, k),
            None => Ok(()),
        }
    }

    #[cfg(not(feature = "alloc"))]
    fn check_large(&self, n: usize, first: usize) -> Result<()> {
        // Without an allocator, earlier keys are rehashed: quadratic, but
        // only for maps over SMALL_MAP keys on targets that have no heap.
        let mut pos = first;
        for i in 0..n {
            let h = key_hash(self.b, pos);
            let mut p = first;
            for _ in 0..i {
                if key_hash(self.b, p) == h && eq_at(self.b, p, pos) {
                    return err(ErrorKind::DuplicateMapKey, pos);
                }
                p = next_pair(self.b, p);
            }
            pos = next_pair(self.b, pos);
        }
        Ok(())
    }

    /// An atom with a `W`-byte length, Latin-1 or UTF-8, whose tag is at
    /// `at`: its view and where it ends.
    #[inline(always)]
    fn atom<const W: usize, const LATIN1: bool>(
        &self,
        b: &'a [u8],
        at: usize,
    ) -> Result<(Term<'a>, usize)> {
        let p = at + 1;
        let n = if W == 1 {
            b.get(p).map(|&v| usize::from(v))
        } else {
            be_u16(b, p)
        };
        let Some(n) = n else {
            return eof(p);
        };
        let start = p + W;
        let Some(bytes) = bytes_at(b, start, n) else {
            return eof(p);
        };
        if LATIN1 {
            if n > 255 {
                return err(ErrorKind::AtomTooLong, at);
            }
        } else if !bytes.is_ascii() {
            utf8_atom(bytes, at, start)?;
        } else if n > 255 {
            return err(ErrorKind::AtomTooLong, at);
        }
        if !self.any_atom {
            allowed(self.p, bytes, LATIN1, at)?;
        }
        Ok((Term::Atom(Atom::new(bytes, LATIN1)), start + n))
    }

    /// The node name of a pid, port or reference: an atom, never anything else.
    fn node(&mut self) -> Result<()> {
        let (b, at) = (self.b, self.pos);
        let (_, end) = match b.get(at) {
            Some(&tag::ATOM) => self.atom::<2, true>(b, at)?,
            Some(&tag::SMALL_ATOM) => self.atom::<1, true>(b, at)?,
            Some(&tag::ATOM_UTF8) => self.atom::<2, false>(b, at)?,
            Some(&tag::SMALL_ATOM_UTF8) => self.atom::<1, false>(b, at)?,
            Some(_) => return err(ErrorKind::InvalidTerm, at),
            None => return eof(at),
        };
        self.pos = end;
        Ok(())
    }

    fn identifier(&mut self, t: u8, at: usize) -> Result<()> {
        if !self.p.pids_ports_refs {
            return err(ErrorKind::DisallowedTerm(t), at);
        }
        match t {
            tag::NEWER_REFERENCE | tag::NEW_REFERENCE => {
                let len_at = self.pos;
                let n = self.len(2, 4, 0)?;
                if n == 0 || n > 5 {
                    return err(ErrorKind::InvalidTerm, len_at);
                }
                self.node()?;
                let creation = if t == tag::NEWER_REFERENCE { 4 } else { 1 };
                self.advance(creation + 4 * n)
            }
            _ => {
                self.node()?;
                self.advance(match t {
                    tag::NEW_PID => 12,
                    tag::NEW_PORT => 8,
                    tag::V4_PORT => 12,
                    tag::PID => 9,
                    _ => 5, // PORT, REFERENCE: u32 id, u8 creation
                })
            }
        }
    }
}

/// The UTF-8 checks of a non-ASCII atom's `bytes`, which start at `start`
/// (its tag is at `at`). Out of line, like [`allowed`]: rare, and the
/// validator's loop keeps more in registers without them.
#[inline(never)]
fn utf8_atom(bytes: &[u8], at: usize, start: usize) -> Result<()> {
    let s = match core::str::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => return err(ErrorKind::InvalidUtf8, start + e.valid_up_to()),
    };
    if bytes.len() > 255 && s.chars().count() > 255 {
        return err(ErrorKind::AtomTooLong, at);
    }
    Ok(())
}

/// The allow-list check of an atom whose tag is at `at`.
#[inline(never)]
fn allowed(p: &SafePolicy<'_>, bytes: &[u8], latin1: bool, at: usize) -> Result<()> {
    if p.atom_allowed(bytes, latin1) {
        Ok(())
    } else {
        err(ErrorKind::AtomNotAllowed, at)
    }
}

/// Erlang exact equality of the validated leaves whose bytes are `x` and
/// `y` (start, end). Two leaves written with the same tag are equal exactly
/// when their bytes are, floats aside (`0.0 =:= -0.0`); the usual keys
/// (binaries, atoms of one encoding) are compared so, inline, and anything
/// else through the general [`Term`] comparison.
#[inline(always)]
fn same_leaf(b: &[u8], x: (usize, usize), y: (usize, usize)) -> bool {
    let (tx, ty) = (b.get(x.0), b.get(y.0));
    if tx == ty && tx != Some(&tag::NEW_FLOAT) {
        return b.get(x.0..x.1) == b.get(y.0..y.1);
    }
    eq_at(b, x.0, y.0)
}

/// Nesting levels per validator frame.
const CHUNK: usize = 16;

/// Maps with at most this many keys check duplicates without the heap.
pub(crate) const SMALL_MAP: usize = 32;

/// Maps with at most this many pairs are read as they open when their
/// keys and values are all common leaves.
const MAP_INLINE: usize = 4;

/// Maps with at most this many keys try [`check_simple`] first.
const SIMPLE_KEYS: usize = 16;

/// The duplicate-key check for the common maps, whose keys are all
/// binaries, ASCII atoms or small integers: such keys are equal exactly
/// when their kind and bytes are, so they are compared directly, without
/// hashing. `None` when a key is of another kind (a binary key could then
/// equal a bitstring of whole bytes, a small integer an `INTEGER_EXT`):
/// the caller runs the general check. A duplicate found before that point
/// is the first one in the input, as the general check reports it.
fn check_simple(b: &[u8], n: usize, mut pos: usize) -> Option<Result<()>> {
    let mut keys: [(u8, &[u8]); SIMPLE_KEYS] = [(0, &[]); SIMPLE_KEYS];
    for i in 0..n {
        let (kind, bytes, value) = simple_key(b, pos)?;
        if keys.get(..i)?.iter().any(|&(k, x)| k == kind && x == bytes) {
            return Some(err(ErrorKind::DuplicateMapKey, pos));
        }
        *keys.get_mut(i)? = (kind, bytes);
        pos = read_next(b, value)?.1;
    }
    Some(Ok(()))
}

/// The kind and bytes of the (validated) key at `pos` if it is a binary,
/// an ASCII atom (the same bytes in every atom encoding) or a
/// `SMALL_INTEGER_EXT`, and where its value starts.
#[inline]
fn simple_key(b: &[u8], pos: usize) -> Option<(u8, &[u8], usize)> {
    let p = pos + 1;
    let (kind, start, n) = match *b.get(pos)? {
        tag::BINARY => (0, p + 4, be_u32(b, p)?),
        tag::SMALL_ATOM_UTF8 | tag::SMALL_ATOM => (1, p + 1, usize::from(*b.get(p)?)),
        tag::ATOM | tag::ATOM_UTF8 => (1, p + 2, be_u16(b, p)?),
        tag::SMALL_INTEGER => (2, p, 1),
        _ => return None,
    };
    let bytes = bytes_at(b, start, n)?;
    if kind == 1 && !bytes.is_ascii() {
        return None;
    }
    Some((kind, bytes, start + n))
}

/// The key after the (validated) pair whose key is at `pos`.
fn next_pair(b: &[u8], pos: usize) -> usize {
    skip(b, pos).and_then(|v| skip(b, v)).unwrap_or(b.len())
}
