//! The validating scanner: one pass over bytes already known to be UTF-8.
//!
//! Callers validate UTF-8 for the whole input first (`core::str::from_utf8`
//! has a fast ASCII path), so the scanner only looks at ASCII structure and
//! never decodes characters outside escapes. Nesting is tracked in a fixed
//! bit stack instead of recursion, so no input can exhaust the call stack.

use crate::error::{Error, ErrorKind, Result};
use crate::json::simd;

/// The deepest nesting any caller may ask for; the bit stack holds this many levels.
pub const MAX_DEPTH_LIMIT: usize = 1024;

/// The scanner's cursor over UTF-8 validated bytes.
#[derive(Clone)]
pub(crate) struct Scanner<'a> {
    pub bytes: &'a [u8],
    pub pos: usize,
    blocks: Blocks,
}

#[inline]
fn err<T>(kind: ErrorKind, at: usize) -> Result<T> {
    Err(Error::new(kind, at))
}

/// Whether each byte of a word is below `n` (n <= 128): the lowest set high
/// bit marks the first such byte (higher marks may be borrow artefacts).
#[inline(always)]
const fn has_less(x: u64, n: u8) -> u64 {
    x.wrapping_sub(0x0101_0101_0101_0101 * n as u64) & !x & 0x8080_8080_8080_8080
}

/// Whether each byte of a word is above `n` (n < 128): the lowest set high
/// bit marks the first such byte (carries only reach higher bytes).
#[inline(always)]
const fn has_more(x: u64, n: u8) -> u64 {
    (x.wrapping_add(0x0101_0101_0101_0101 * (127 - n) as u64) | x) & 0x8080_8080_8080_8080
}

#[inline(always)]
const fn has_byte(x: u64, b: u8) -> u64 {
    has_less(x ^ (0x0101_0101_0101_0101 * b as u64), 1)
}

impl<'a> Scanner<'a> {
    #[inline]
    pub fn new(bytes: &'a [u8], pos: usize) -> Self {
        Scanner {
            bytes,
            pos,
            blocks: Blocks::new(),
        }
    }

    /// Skips JSON whitespace and returns the next byte without consuming it.
    #[inline(always)]
    pub fn peek_non_ws(&mut self) -> Option<u8> {
        self.pos = skip_ws(self.bytes, self.pos);
        self.bytes.get(self.pos).copied()
    }

    /// Requires that only whitespace remains.
    #[inline]
    pub fn finish(&mut self) -> Result<()> {
        match self.peek_non_ws() {
            None => Ok(()),
            Some(_) => err(ErrorKind::TrailingBytes, self.pos),
        }
    }

    /// Scans a string whose opening quote is at `self.pos`. Returns the
    /// content's byte range and whether it holds escapes; leaves `pos` after
    /// the closing quote.
    #[inline(always)]
    pub fn string(&mut self) -> Result<(usize, usize, bool)> {
        let start = self.pos + 1;
        // Frames shorter than a block (heartbeats) search each envelope
        // string on its own: a padded copy of the input costs more than the
        // few searches it would serve.
        let (end, escaped) = if self.bytes.len() < 64 {
            string_end_by::<true>(self.bytes, start, &mut self.blocks)?
        } else {
            string_end(self.bytes, start, &mut self.blocks)?
        };
        self.pos = end + 1;
        Ok((start, end, escaped))
    }

    /// Scans a number at `self.pos`; returns its end and whether it is an
    /// integer (no fraction, no exponent).
    #[inline]
    pub fn number(&mut self) -> Result<bool> {
        let (end, integer) = number_end(self.bytes, self.pos, &mut self.blocks)?;
        self.pos = end;
        Ok(integer)
    }

    /// Scans the literal `word` (`true`, `false`, `null`) at `self.pos`.
    #[inline(always)]
    pub fn literal(&mut self, word: &'static [u8]) -> Result<()> {
        self.pos = literal_end(self.bytes, self.pos, word)?;
        Ok(())
    }

    /// Scans one scalar (not a container) starting at the current byte.
    #[inline(always)]
    fn scalar(&mut self, b: u8) -> Result<()> {
        self.pos = scalar_end(self.bytes, self.pos, b, &mut self.blocks)?;
        Ok(())
    }

    /// Scans an object key (after whitespace) and the colon after it.
    #[inline(always)]
    pub fn key(&mut self) -> Result<(usize, usize, bool)> {
        self.pos = skip_ws(self.bytes, self.pos);
        let start = self.pos + 1;
        let (end, escaped, after) = key_end(self.bytes, self.pos, &mut self.blocks)?;
        self.pos = after;
        Ok((start, end, escaped))
    }

    /// Validates one complete value (after whitespace) with at most
    /// `max_depth` levels of nested containers; leaves `pos` after it.
    pub fn value(&mut self, max_depth: usize) -> Result<()> {
        self.pos = value_end::<true>(self.bytes, self.pos, max_depth, &mut self.blocks)?;
        Ok(())
    }

    /// Moves past one value already known to be valid, without re-checking
    /// anything but structure. Used by lazy navigation of validated payloads.
    pub fn skip_valid(&mut self) -> Result<()> {
        let mut depth = 0usize;
        loop {
            let Some(b) = self.peek_non_ws() else {
                return err(ErrorKind::UnexpectedEof, self.pos);
            };
            match b {
                b'[' | b'{' => {
                    depth += 1;
                    self.pos += 1;
                }
                b']' | b'}' => {
                    depth = depth.saturating_sub(1);
                    self.pos += 1;
                }
                b',' | b':' => self.pos += 1,
                _ => self.scalar(b)?,
            }
            if depth == 0 {
                return Ok(());
            }
        }
    }
}

/// The index of the first byte at or after `i` that is not JSON whitespace.
#[inline(always)]
fn skip_ws(bytes: &[u8], i: usize) -> usize {
    // Compact JSON (what Phoenix and its clients send) has no whitespace:
    // one comparison decides.
    match bytes.get(i) {
        Some(&b) if b > b' ' => i,
        _ => skip_ws_run(bytes, i),
    }
}

#[inline]
fn skip_ws_run(bytes: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\r' | b'\t') = bytes.get(i) {
        i += 1;
    }
    i
}

/// Scans string content starting at `i` (after the opening quote); returns
/// the index of the closing quote and whether the content holds escapes.
#[inline(always)]
fn string_end(bytes: &[u8], i: usize, blocks: &mut Blocks) -> Result<(usize, bool)> {
    string_end_by::<false>(bytes, i, blocks)
}

/// [`string_end`], searching from the blocks, or when `SHORT` (for inputs
/// shorter than a block), with [`stop_byte`].
#[inline(always)]
fn string_end_by<const SHORT: bool>(
    bytes: &[u8],
    mut i: usize,
    blocks: &mut Blocks,
) -> Result<(usize, bool)> {
    let mut escaped = false;
    loop {
        i = if SHORT {
            stop_byte(bytes, i)
        } else {
            blocks.stop(bytes, i)
        };
        let Some(&b) = bytes.get(i) else {
            return err(ErrorKind::UnexpectedEof, i);
        };
        match b {
            b'"' => return Ok((i, escaped)),
            b'\\' => {
                escaped = true;
                i = escape(bytes, i)?;
            }
            _ => return err(ErrorKind::ControlCharacter, i),
        }
    }
}

/// Flags (high bit of each byte) the quotes, backslashes and control bytes
/// of a little-endian word; the lowest flag marks the first such byte.
#[inline(always)]
pub(crate) const fn stops(x: u64) -> u64 {
    has_byte(x, b'"') | has_byte(x, b'\\') | has_less(x, 0x20)
}

/// The eight bytes at `i` as a little-endian word, if there are eight.
#[inline(always)]
fn word_at(bytes: &[u8], i: usize) -> Option<u64> {
    let chunk = bytes.get(i..)?.get(..8)?;
    Some(u64::from_le_bytes(chunk.try_into().ok()?))
}

/// Bit masks of 64-byte blocks of the input, each computed once for every
/// token that ends in it: finding where a string or a run of digits ends
/// is then mostly a shift and a trailing-zero count, instead of a fresh
/// load-classify-count chain per token that each next token waits on.
#[derive(Clone, Copy)]
pub(crate) struct Blocks {
    /// Quotes, backslashes and control bytes ([`simd::stops64`]).
    stops: Block,
    /// Bytes that are not ASCII digits ([`simd::non_digits64`]).
    non_digits: Block,
}

/// One block's mask: bit `k` for byte `start + k`, none past the input.
#[derive(Clone, Copy)]
struct Block {
    start: usize,
    bits: u64,
}

impl Block {
    /// No block yet. Its start is past any slice index (slices hold at
    /// most `isize::MAX` bytes), so `at - start` wraps to far more than 64
    /// for every `at` and the first search computes a block.
    const NONE: Block = Block {
        start: usize::MAX / 2 + 1,
        bits: 0,
    };

    /// The first flagged byte at or after `i`, or `bytes.len()` (`i` when
    /// `i` is past the end), computing blocks with `mask` where `i` is past
    /// this one. A block has no bits past the input, so a search from the
    /// end finds nothing in it: the end of the input is only checked when
    /// a block runs out, not per search.
    #[inline(always)]
    fn next(&mut self, bytes: &[u8], i: usize, mask: fn(&[u8], usize) -> u64) -> usize {
        let mut at = i;
        loop {
            // One compare for both "before this block" (wraps to a huge
            // offset) and "past it".
            let off = match at.wrapping_sub(self.start) {
                off if off < 64 => off,
                _ => {
                    if at >= bytes.len() {
                        return at;
                    }
                    self.start = at;
                    self.bits = mask(bytes, at);
                    0
                }
            };
            let hits = self.bits >> off;
            if hits != 0 {
                return at + hits.trailing_zeros() as usize;
            }
            at = self.start + 64;
            if at >= bytes.len() {
                return bytes.len().max(i);
            }
        }
    }
}

impl Blocks {
    /// No blocks yet: the first search computes them.
    #[inline(always)]
    pub const fn new() -> Self {
        Blocks {
            stops: Block::NONE,
            non_digits: Block::NONE,
        }
    }

    /// [`stop_byte`], from the blocks.
    #[inline(always)]
    fn stop(&mut self, bytes: &[u8], i: usize) -> usize {
        self.stops.next(bytes, i, simd::stops64)
    }

    /// [`digits`], from the blocks.
    #[inline(always)]
    fn digit_end(&mut self, bytes: &[u8], i: usize) -> usize {
        // Inputs shorter than a block: a padded copy would cost more than
        // the few numbers it would serve.
        if bytes.len() < 64 {
            return digits(bytes, i);
        }
        self.non_digits.next(bytes, i, simd::non_digits64)
    }
}

/// The index of the first quote, backslash or control byte at or after `i`,
/// or `bytes.len()`: where a string ends when reading, and the first byte
/// that needs an escape when writing. Sixteen bytes per step (see
/// [`simd`](super::simd)) while there are sixteen; the last few bytes of the
/// input a word, then a byte, at a time.
#[inline(always)]
pub(crate) fn stop_byte(bytes: &[u8], mut i: usize) -> usize {
    while let Some(chunk) = chunk::<16>(bytes, i) {
        let hits = simd::stops16(chunk);
        if hits != 0 {
            return i + hits.trailing_zeros() as usize;
        }
        i += 16;
    }
    // Fewer than 16 bytes left: the input's last 16, shifted past what is
    // before `i` (the bits must be exact there, hence `exact16`).
    let len = bytes.len();
    if let Some(Ok(last)) = len
        .checked_sub(16)
        .and_then(|start| bytes.get(start..))
        .map(<&[u8; 16]>::try_from)
    {
        if i >= len {
            return i;
        }
        let hits = simd::exact16(last) >> (i - (len - 16));
        return if hits != 0 {
            i + hits.trailing_zeros() as usize
        } else {
            len
        };
    }
    if let Some(x) = word_at(bytes, i) {
        let hits = stops(x);
        if hits != 0 {
            return i + (hits.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&b) = bytes.get(i) {
        if b == b'"' || b == b'\\' || b < 0x20 {
            return i;
        }
        i += 1;
    }
    i
}

/// The `N` bytes at `i`, if there are `N`.
#[inline(always)]
fn chunk<const N: usize>(bytes: &[u8], i: usize) -> Option<&[u8; N]> {
    bytes.get(i..)?.get(..N)?.try_into().ok()
}

/// Scans a number starting at `i`; returns its end and whether it is an
/// integer (no fraction, no exponent).
#[inline(always)]
fn number_end(bytes: &[u8], mut i: usize, blocks: &mut Blocks) -> Result<(usize, bool)> {
    if bytes.get(i) == Some(&b'-') {
        i += 1;
    }
    match bytes.get(i) {
        Some(b'0') => {
            i += 1;
            // "01", "-00": a digit glued to a leading zero is not another
            // token. (Runs of digits below end at a non-digit, so only a
            // leading zero can be followed by one.)
            if let Some(b'0'..=b'9') = bytes.get(i) {
                return err(ErrorKind::InvalidNumber, i);
            }
        }
        Some(b'1'..=b'9') => i = blocks.digit_end(bytes, i + 1),
        Some(_) => return err(ErrorKind::InvalidNumber, i),
        None => return err(ErrorKind::UnexpectedEof, i),
    }
    let mut integer = true;
    if bytes.get(i) == Some(&b'.') {
        integer = false;
        i = required_digits(bytes, i + 1, blocks)?;
    }
    if let Some(b'e' | b'E') = bytes.get(i) {
        integer = false;
        i += 1;
        if let Some(b'+' | b'-') = bytes.get(i) {
            i += 1;
        }
        i = required_digits(bytes, i, blocks)?;
    }
    Ok((i, integer))
}

/// Scans the literal `word` at `i`; returns the index after it.
#[inline(always)]
fn literal_end(bytes: &[u8], i: usize, word: &'static [u8]) -> Result<usize> {
    let end = i + word.len();
    match bytes.get(i..end) {
        Some(s) if s == word => Ok(end),
        _ => literal_error(bytes, i, word),
    }
}

/// Points at the first byte of a misspelled literal that differs.
#[cold]
fn literal_error(bytes: &[u8], start: usize, word: &'static [u8]) -> Result<usize> {
    let mut i = start;
    while bytes.get(i).is_some_and(|b| Some(b) == word.get(i - start)) {
        i += 1;
    }
    let kind = if i >= bytes.len() {
        ErrorKind::UnexpectedEof
    } else {
        ErrorKind::InvalidLiteral
    };
    err(kind, i)
}

/// Scans the scalar whose first byte `b` is at `i`; returns the index after it.
#[inline(always)]
fn scalar_end(bytes: &[u8], i: usize, b: u8, blocks: &mut Blocks) -> Result<usize> {
    match b {
        b'"' => string_end(bytes, i + 1, blocks).map(|(end, _)| end + 1),
        b'-' | b'0'..=b'9' => number_end(bytes, i, blocks).map(|(end, _)| end),
        b't' => literal_end(bytes, i, b"true"),
        b'f' => literal_end(bytes, i, b"false"),
        b'n' => literal_end(bytes, i, b"null"),
        _ => err(ErrorKind::ExpectedValue, i),
    }
}

/// Scans an object key whose opening quote should be at `i` (whitespace
/// already skipped) and the colon after it. Returns the index of the closing
/// quote, whether the key holds escapes, and the index after the colon.
#[inline(always)]
fn key_end(bytes: &[u8], i: usize, blocks: &mut Blocks) -> Result<(usize, bool, usize)> {
    match bytes.get(i) {
        Some(b'"') => {}
        Some(_) => return err(ErrorKind::ExpectedKey, i),
        None => return err(ErrorKind::UnexpectedEof, i),
    }
    let (end, escaped) = string_end(bytes, i + 1, blocks)?;
    let colon = skip_ws(bytes, end + 1);
    match bytes.get(colon) {
        Some(b':') => Ok((end, escaped, colon + 1)),
        Some(_) => err(ErrorKind::ExpectedColon, colon),
        None => err(ErrorKind::UnexpectedEof, colon),
    }
}

/// Validates one complete value at `i` (after whitespace) nested at most
/// `max_depth` levels deep; returns the index after it.
///
/// The cursor is a local so that it lives in a register across the loop; the
/// nesting is a bit stack (bit set: that level is an object) with the
/// innermost level's kind cached in `in_object`. With `COMPACT`, runs of
/// compact object members take [`compact_members`]; the tests check that
/// this changes no verdict, error kind or offset.
fn value_end<const COMPACT: bool>(
    bytes: &[u8],
    mut i: usize,
    max_depth: usize,
    blocks: &mut Blocks,
) -> Result<usize> {
    let max_depth = max_depth.min(MAX_DEPTH_LIMIT);
    let mut stack = [0u64; MAX_DEPTH_LIMIT / 64];
    let mut depth = 0usize;
    let mut in_object = false;
    'value: loop {
        i = skip_ws(bytes, i);
        let Some(&b) = bytes.get(i) else {
            return err(ErrorKind::UnexpectedEof, i);
        };
        match b {
            b'[' | b'{' => {
                if depth >= max_depth {
                    return err(ErrorKind::DepthLimitExceeded, i);
                }
                let object = b == b'{';
                i = skip_ws(bytes, i + 1);
                let close = if object { b'}' } else { b']' };
                if bytes.get(i) == Some(&close) {
                    i += 1;
                } else {
                    if let Some(word) = stack.get_mut(depth / 64) {
                        let bit = 1u64 << (depth % 64);
                        *word = if object { *word | bit } else { *word & !bit };
                    }
                    depth += 1;
                    in_object = object;
                    if !object {
                        match compact_elements::<COMPACT>(bytes, i, blocks)? {
                            Resume::After(at) => i = at,
                            Resume::Key(at) | Resume::Value(at) => {
                                i = at;
                                continue 'value;
                            }
                        }
                    } else {
                        match compact_members::<COMPACT>(bytes, i, blocks)? {
                            Resume::Key(at) => {
                                i = key_end(bytes, at, blocks)?.2;
                                continue 'value;
                            }
                            Resume::Value(at) => {
                                i = at;
                                continue 'value;
                            }
                            Resume::After(at) => i = at,
                        }
                    }
                }
            }
            b'"' => i = string_end(bytes, i + 1, blocks)?.0 + 1,
            b'-' | b'0'..=b'9' => i = number_end(bytes, i, blocks)?.0,
            _ => i = scalar_end(bytes, i, b, blocks)?,
        }
        // After a complete value: close containers or move to the next element.
        loop {
            if depth == 0 {
                return Ok(i);
            }
            i = skip_ws(bytes, i);
            match bytes.get(i) {
                Some(b',') => {
                    i += 1;
                    if !in_object {
                        match compact_elements::<COMPACT>(bytes, i, blocks)? {
                            Resume::After(at) => {
                                i = at;
                                continue;
                            }
                            Resume::Key(at) | Resume::Value(at) => {
                                i = at;
                                continue 'value;
                            }
                        }
                    }
                    match compact_members::<COMPACT>(bytes, i, blocks)? {
                        Resume::Key(at) => i = key_end(bytes, skip_ws(bytes, at), blocks)?.2,
                        Resume::Value(at) => i = at,
                        Resume::After(at) => {
                            i = at;
                            continue;
                        }
                    }
                    continue 'value;
                }
                Some(b']') if !in_object => {}
                Some(b'}') if in_object => {}
                Some(_) => return err(ErrorKind::ExpectedCommaOrEnd, i),
                None => return err(ErrorKind::UnexpectedEof, i),
            }
            i += 1;
            depth -= 1;
            if let Some(d) = depth.checked_sub(1) {
                in_object = stack
                    .get(d / 64)
                    .is_some_and(|w| w & (1u64 << (d % 64)) != 0);
            }
        }
    }
}

/// Where [`compact_members`] hands over to the general loop.
enum Resume {
    /// At the start of a member (its key).
    Key(usize),
    /// At a member's value, after its key and colon.
    Value(usize),
    /// Right after a member's value.
    After(usize),
}

/// Object members as compact JSON writes them, `"key":scalar` joined by `,`
/// with no whitespace: most members of everyday payloads. Starts where a
/// key should begin and takes members while they have that shape, without
/// the general loop's per-token dispatch; hands over at a container value,
/// whitespace, an escape, or anything wrong, which the general path then
/// reads (and reports) exactly as it always has.
#[inline(always)]
fn compact_members<const ON: bool>(
    bytes: &[u8],
    mut i: usize,
    blocks: &mut Blocks,
) -> Result<Resume> {
    loop {
        if !ON || bytes.get(i) != Some(&b'"') {
            return Ok(Resume::Key(i));
        }
        let key_end = blocks.stop(bytes, i + 1);
        // Both bytes in one compare: a 2-byte load, not two checked loads.
        if bytes.get(key_end..key_end + 2) != Some(b"\":") {
            return Ok(Resume::Key(i));
        }
        let v = key_end + 2;
        let Some(end) = compact_scalar(bytes, v, blocks)? else {
            return Ok(Resume::Value(v));
        };
        match bytes.get(end..end + 2) {
            Some(b",\"") => i = end + 1,
            _ => return Ok(Resume::After(end)),
        }
    }
}

/// Array elements as compact JSON writes them: scalars joined by `,` with
/// no whitespace (`["fleet","v1",null]`, `[1,2,3]`). Like
/// [`compact_members`], hands over to the general path at anything else:
/// [`Resume::Value`] at an element it did not take, [`Resume::After`] right
/// after the last one it took.
#[inline(always)]
fn compact_elements<const ON: bool>(
    bytes: &[u8],
    mut i: usize,
    blocks: &mut Blocks,
) -> Result<Resume> {
    loop {
        if !ON {
            return Ok(Resume::Value(i));
        }
        let Some(end) = compact_scalar(bytes, i, blocks)? else {
            return Ok(Resume::Value(i));
        };
        match bytes.get(end) {
            Some(b',') => i = end + 1,
            _ => return Ok(Resume::After(end)),
        }
    }
}

/// The scalar at `at` when compact paths can take it whole: a string
/// without escapes, a number or a literal. Its end, or `None` where the
/// general path must read the value (a container, an escape, whitespace or
/// a syntax error it then reports). Errors in numbers and literals are the
/// general path's own, at the same offsets.
#[inline(always)]
fn compact_scalar(bytes: &[u8], at: usize, blocks: &mut Blocks) -> Result<Option<usize>> {
    let end = match bytes.get(at) {
        Some(b'"') => match blocks.stop(bytes, at + 1) {
            e if bytes.get(e) == Some(&b'"') => e + 1,
            _ => return Ok(None),
        },
        Some(b'-' | b'0'..=b'9') => number_end(bytes, at, blocks)?.0,
        Some(b't') => literal_end(bytes, at, b"true")?,
        Some(b'f') => literal_end(bytes, at, b"false")?,
        Some(b'n') => literal_end(bytes, at, b"null")?,
        _ => return Ok(None),
    };
    Ok(Some(end))
}

/// The end of a run of ASCII digits starting at `i`: a word at a time (one
/// mask and a trailing-zero count find the end of most runs at once), the
/// last few bytes of the input one by one.
#[inline(always)]
fn digits(bytes: &[u8], mut i: usize) -> usize {
    while let Some(x) = word_at(bytes, i) {
        let other = has_less(x, b'0') | has_more(x, b'9');
        if other != 0 {
            return i + (other.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(b'0'..=b'9') = bytes.get(i) {
        i += 1;
    }
    i
}

#[inline(always)]
fn required_digits(bytes: &[u8], i: usize, blocks: &mut Blocks) -> Result<usize> {
    let end = blocks.digit_end(bytes, i);
    if end > i {
        return Ok(end);
    }
    match bytes.get(i) {
        Some(_) => err(ErrorKind::InvalidNumber, i),
        None => err(ErrorKind::UnexpectedEof, i),
    }
}

/// Reads four hex digits at `i`.
#[inline]
pub(crate) fn hex4(bytes: &[u8], i: usize) -> Result<u16> {
    let mut v = 0u16;
    for k in 0..4 {
        let Some(&b) = bytes.get(i + k) else {
            return err(ErrorKind::UnexpectedEof, i + k);
        };
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => return err(ErrorKind::InvalidEscape, i + k),
        };
        v = (v << 4) | d as u16;
    }
    Ok(v)
}

/// Validates the escape whose backslash is at `i`; returns the index after it.
/// Surrogates must come as a high/low `\u` pair.
#[inline]
pub(crate) fn escape(bytes: &[u8], i: usize) -> Result<usize> {
    match bytes.get(i + 1) {
        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(i + 2),
        Some(b'u') => {
            let unit = hex4(bytes, i + 2)?;
            match unit {
                0xD800..=0xDBFF => {
                    let j = i + 6;
                    if bytes.get(j) != Some(&b'\\') || bytes.get(j + 1) != Some(&b'u') {
                        return if j + 1 >= bytes.len() {
                            err(ErrorKind::UnexpectedEof, bytes.len())
                        } else {
                            err(ErrorKind::InvalidSurrogate, i)
                        };
                    }
                    match hex4(bytes, j + 2)? {
                        0xDC00..=0xDFFF => Ok(j + 6),
                        _ => err(ErrorKind::InvalidSurrogate, j),
                    }
                }
                0xDC00..=0xDFFF => err(ErrorKind::InvalidSurrogate, i),
                _ => Ok(i + 6),
            }
        }
        Some(_) => err(ErrorKind::InvalidEscape, i + 1),
        None => err(ErrorKind::UnexpectedEof, i + 1),
    }
}

/// Validates `bytes` as exactly one JSON value (surrounding whitespace allowed).
pub(crate) fn validate(bytes: &[u8], max_depth: usize) -> Result<()> {
    crate::utf8::to_str(bytes)?;
    let mut s = Scanner::new(bytes, 0);
    s.value(max_depth)?;
    s.finish()
}

#[cfg(test)]
mod tests {
    use super::{digits, stop_byte, value_end, Blocks};

    /// The first byte at or after `i` that `stop` flags, one byte at a time.
    fn naive_end(bytes: &[u8], i: usize, stop: impl Fn(u8) -> bool) -> usize {
        match bytes.get(i..) {
            Some(rest) => rest
                .iter()
                .position(|&b| stop(b))
                .map_or(bytes.len(), |p| i + p),
            None => i,
        }
    }

    /// Every fast search (per string, per block) finds what a byte-by-byte
    /// search finds, for string ends and digit-run ends: every start
    /// position of inputs of every length up to 200 (the block, overlapping
    /// tail and short-input paths), walked forwards, backwards and with one
    /// set of blocks reused.
    #[test]
    fn blocks_find_what_a_search_from_scratch_finds() {
        let alphabet = [
            b'a', b'"', b'\\', 0x01, 0x1f, 0x20, 0xc3, 0xa9, b'z', 0x7f, b'/', b':',
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for len in 0..200 {
            for density in [2u64, 8, 64] {
                let bytes: Vec<u8> = (0..len)
                    .map(|_| {
                        let r = next();
                        if r % density == 0 {
                            alphabet[(r / density % alphabet.len() as u64) as usize]
                        } else {
                            b"x0123456789"[(r / density % 11) as usize]
                        }
                    })
                    .collect();
                let mut kept = Blocks::new();
                for i in (0..=len + 2).chain((0..=len + 2).rev()) {
                    let want = naive_end(&bytes, i, |b| b == b'"' || b == b'\\' || b < 0x20);
                    assert_eq!(stop_byte(&bytes, i), want, "len {len} at {i}");
                    assert_eq!(kept.stop(&bytes, i), want, "len {len} at {i}");
                    assert_eq!(Blocks::new().stop(&bytes, i), want, "len {len} at {i}");
                    let want = naive_end(&bytes, i, |b| !b.is_ascii_digit());
                    assert_eq!(digits(&bytes, i), want, "len {len} at {i}");
                    assert_eq!(kept.digit_end(&bytes, i), want, "len {len} at {i}");
                    assert_eq!(Blocks::new().digit_end(&bytes, i), want, "len {len} at {i}");
                }
            }
        }
    }

    /// The compact member and element fast paths against the general loop
    /// alone: same
    /// verdict, end, error kind and offset for every single-byte change and
    /// every truncation of documents made of compact members.
    /// Numbers are read with a word at a time in inputs shorter than a
    /// block and with blocks in longer ones: both give the same verdict,
    /// error kind and offset, for good numbers and bad ones, closed or cut
    /// off at the end of the input.
    #[test]
    fn numbers_read_the_same_in_short_and_long_inputs() {
        let tokens = [
            "0",
            "-0",
            "7",
            "-12",
            "0.5",
            "-0.25",
            "1e5",
            "1E+5",
            "2.5e-3",
            "0e1",
            "01",
            "-01",
            "00",
            "-",
            "-a",
            "1.",
            "1.a",
            "-0.",
            "2.e3",
            "1e",
            "1e+",
            "1e+a",
            "1.5e",
            "0x",
            "12345678901234567890.5e-10",
            "123456789012345678901234567890",
        ];
        let pad = format!("\"{}\",", "x".repeat(80));
        for tok in tokens {
            for close in ["]", ",1]", ""] {
                let short = format!("[{tok}{close}");
                let long = format!("[{pad}{tok}{close}");
                assert!(short.len() < 64 && long.len() >= 64);
                let shift = pad.len();
                let run = |s: &str| value_end::<true>(s.as_bytes(), 0, 16, &mut Blocks::new());
                let want = run(&short)
                    .map(|end| end + shift)
                    .map_err(|e| (e.kind(), e.offset() + shift));
                let got = run(&long).map_err(|e| (e.kind(), e.offset()));
                assert_eq!(got, want, "{long}");
                // And the verdict is serde_json's.
                let peer = serde_json::from_str::<serde_json::Value>(&long).is_ok();
                assert_eq!(got.is_ok(), peer, "{long}");
            }
        }
    }

    #[test]
    fn compact_paths_change_nothing() {
        let docs: [&[u8]; 8] = [
            br#"{"a":"x","bb":12,"c":-0.5e3,"d":{"e":"f","g":[1,"h"]},"i":"j"}"#,
            br#"{"k":"a\"b","l":"\u00e9\ud83d\ude00","m":1e+2,"n":true,"o":null}"#,
            br#"{"long key that spans more than sixteen bytes":"and a value that does too, twice over"}"#,
            br#"[{"a":1,"b":2},{"a":3,"b":"4"},{}]"#,
            br#"{"a":0,"b":01,"c":"d"}"#,
            br#"{"a" :1,"b": 2 ,"c":"\x","d":"e"}"#,
            br#"[["a","b\n",null,true,false],[1,-2.5e3,0],[],[[1],[2,3]],"x"]"#,
            br#"[1,2 ,3, 4,"5",[6,{"7":8}],-]"#,
        ];
        // Longer than a block, with strings across block boundaries, so
        // the block paths (inputs of 64 bytes or more) run too.
        let long_object = br#"{"id":1,"sensor":"s-00042","kind":"temperature","location":{"name":"Z\u00fcrich caf\u00e9","lat":-12.5,"lon":7.25e-3},"ok":true,"tags":["fleet","v1",null,"a very long tag that crosses the next block boundary"],"samples":[1,22,333],"note":"end"}"#;
        let long_array = br#"["one","two","three","four","five","six","seven","eight","nine","ten",1,"\"",2,"x\\",[],{},"eleven","twelve"]"#;
        let docs: Vec<&[u8]> = docs
            .iter()
            .copied()
            .chain([&long_object[..], &long_array[..]])
            .collect();
        let subs = *b"\"\\:,{}[]0-9.eE+ atnu\x01\x7f";
        let mut checked = 0;
        for doc in docs {
            for end in 0..=doc.len() {
                let cut = &doc[..end];
                assert_eq!(
                    value_end::<true>(cut, 0, 16, &mut Blocks::new()),
                    value_end::<false>(cut, 0, 16, &mut Blocks::new())
                );
            }
            for at in 0..doc.len() {
                for &b in &subs {
                    let mut m = doc.to_vec();
                    m[at] = b;
                    let fast = value_end::<true>(&m, 0, 16, &mut Blocks::new());
                    let general = value_end::<false>(&m, 0, 16, &mut Blocks::new());
                    assert_eq!(fast, general, "{}", String::from_utf8_lossy(&m));
                    checked += 1;
                }
            }
        }
        assert!(checked > 1000);
    }
}
