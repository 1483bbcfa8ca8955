//! Validated JSON (the codec's [`RawJson`]) to Python objects.
//!
//! The codec has validated the text (strict RFC 8259, nesting bounded) when
//! it decoded the frame, so this is a single forward pass that only builds
//! objects, as `json.loads` would: `dict`, `list`, `str`, `int` (any size),
//! `float`, `bool`, `None`. It does not use `RawJson`'s lazy iterators
//! because those find the end of every member before handing it out, so a
//! value nested `d` levels deep would be scanned `d` times; here every byte
//! is read once. Strings with escapes are decoded here too, into a reused
//! buffer (envelope strings by the codec's [`JsonStr`]).
//!
//! Short object keys repeat across messages, so their `str` objects are
//! cached (as orjson does): a hit costs a hash and a compare instead of an
//! allocation, a UTF-8 decode and a fresh hash computed by the `dict`.
//! Records of one shape repeat their keys in order, so each key is first
//! compared with the one last seen at its place, and lent to the `dict`
//! from there. Short string values go through the same cache.

use std::borrow::Cow;

use phoenix_wire::json::{JsonStr, RawJson};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyList, PyNone, PyString};

use crate::ffi;
use crate::gil_cell::GilCell;

/// Converts a validated JSON value to Python objects; large ones (from
/// [`HOLD_GC_FROM`] bytes) with the cycle collector held off meanwhile (see
/// [`ffi::without_gc`]).
pub fn to_py<'py>(py: Python<'py>, v: RawJson<'_>) -> PyResult<Bound<'py, PyAny>> {
    if v.raw().len() >= HOLD_GC_FROM {
        return ffi::without_gc(|| convert(py, v));
    }
    convert(py, v)
}

/// Payloads this long may make hundreds of containers, and a collection
/// during their conversion; shorter ones skip the two calls.
const HOLD_GC_FROM: usize = 4096;

fn convert<'py>(py: Python<'py>, v: RawJson<'_>) -> PyResult<Bound<'py, PyAny>> {
    with_scratch(py, |keys, stack, buf| {
        let base = stack.len();
        let mut p = Parser {
            py,
            text: v.raw(),
            s: v.raw().as_bytes(),
            pos: 0,
            keys,
            stack,
            buf,
            error: None,
            sizes: [0; 8],
        };
        let out = p.root();
        // Only an error leaves elements behind.
        p.stack.truncate(base);
        out.map_err(|Failed| p.error.take().unwrap_or_else(|| invalid(0)))
    })
}

/// A `str` for an envelope string (topic, event, ref, status): these repeat
/// from message to message, so short plain ones come from the key cache.
pub fn envelope_str<'py>(py: Python<'py>, s: JsonStr<'_>) -> Bound<'py, PyAny> {
    match s.as_str() {
        Some(plain) if plain.len() <= KeyCache::MAX_LEN => {
            with_scratch(py, |keys, _, _| match keys {
                Some(cache) => cache.get(py, plain),
                None => ffi::new_str(py, plain).into_any(),
            })
        }
        _ => json_str(py, s),
    }
}

/// A `str` from a JSON string's content, unescaping if needed.
pub fn json_str<'py>(py: Python<'py>, s: JsonStr<'_>) -> Bound<'py, PyAny> {
    match s.as_str() {
        Some(plain) => ffi::new_str(py, plain).into_any(),
        None => {
            let mut buf = Vec::with_capacity(s.raw().len());
            match unescape(s.raw().as_bytes(), &mut buf)
                .and_then(|()| std::str::from_utf8(&buf).ok())
            {
                Some(text) => ffi::new_str(py, text).into_any(),
                // Not from the codec's validator after all: its slow path.
                None => PyString::new(py, &s.to_cow()).into_any(),
            }
        }
    }
}

/// Decodes the escapes of a JSON string's raw content into `out`: runs
/// without a backslash are copied whole (the codec's character iterator
/// built the value one `char` at a time). The codec validated the text, so
/// every escape is complete and surrogates come in pairs; None if not.
fn unescape(raw: &[u8], out: &mut Vec<u8>) -> Option<()> {
    let mut i = 0;
    while let Some(skip) = memchr::memchr(b'\\', raw.get(i..)?) {
        out.extend_from_slice(raw.get(i..i + skip)?);
        i += skip;
        let simple = match *raw.get(i + 1)? {
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'u' => None,
            other => Some(other),
        };
        if let Some(b) = simple {
            out.push(b);
            i += 2;
            continue;
        }
        let hi = hex4(raw.get(i + 2..i + 6)?)?;
        let (code, used) = if (0xD800..0xDC00).contains(&hi) {
            let lo = hex4(raw.get(i + 8..i + 12)?)?;
            let lo = lo.checked_sub(0xDC00).filter(|lo| *lo < 0x400)?;
            (0x10000 + ((hi - 0xD800) << 10) + lo, 12)
        } else {
            (hi, 6)
        };
        let c = char::from_u32(code)?;
        out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
        i += used;
    }
    out.extend_from_slice(raw.get(i..)?);
    Some(())
}

/// Four hex digits.
fn hex4(digits: &[u8]) -> Option<u32> {
    digits
        .iter()
        .try_fold(0u32, |v, &d| Some(v << 4 | (d as char).to_digit(16)?))
}

/// String values up to this many bytes go through the key cache as well:
/// statuses, kinds and units repeat as often as keys do, while long values
/// are mostly unique and would only evict keys.
const MAX_CACHED_VALUE: usize = 16;

/// A dict starts with room for at most this many keys: one large object
/// makes at most the next at its depth larger than it needs.
const MAX_SIZE_HINT: u8 = 64;

/// The codec's own limit is far lower; this only keeps recursion bounded
/// should a caller ever hand over unvalidated text.
const MAX_DEPTH: usize = phoenix_wire::json::MAX_DEPTH_LIMIT;

struct Parser<'a, 'py, 'k> {
    py: Python<'py>,
    /// The validated JSON text, and the same as bytes for scanning.
    text: &'a str,
    s: &'a [u8],
    pos: usize,
    keys: Option<&'k mut KeyCache>,
    /// Elements of the arrays being built, innermost last (see `Scratch`).
    stack: &'k mut Vec<Py<PyAny>>,
    /// Where strings with escapes are decoded (see `Scratch`).
    buf: &'k mut Vec<u8>,
    /// Why the conversion stopped, once it has.
    error: Option<PyErr>,
    /// How many keys (up to [`MAX_SIZE_HINT`]) the last object finished at
    /// each of the first eight depths had.
    sizes: [u8; 8],
}

/// A conversion that stopped; the reason waits in `Parser::error`. A
/// `PyErr` is several words, and returning it through every level of the
/// recursion made each value's result go through memory; this `Result` is
/// one register.
struct Failed;

type Step<T> = Result<T, Failed>;

/// For PyO3's conversions that cannot fail.
impl From<std::convert::Infallible> for Failed {
    fn from(never: std::convert::Infallible) -> Failed {
        match never {}
    }
}

#[cold]
fn invalid(at: usize) -> PyErr {
    PyValueError::new_err(format!("invalid JSON at byte {at}"))
}

impl<'a, 'py> Parser<'a, 'py, '_> {
    /// Stops the conversion: the text is not valid JSON at byte `at`.
    #[cold]
    #[inline(never)]
    fn invalid(&mut self, at: usize) -> Failed {
        self.error = Some(invalid(at));
        Failed
    }

    /// Stops the conversion with Python's error.
    #[cold]
    #[inline(never)]
    fn failed(&mut self, e: PyErr) -> Failed {
        self.error = Some(e);
        Failed
    }

    #[inline]
    fn peek(&mut self) -> u8 {
        // Payloads are mostly compact: one compare settles it (JSON's
        // whitespace is all at or below the space).
        match self.s.get(self.pos) {
            Some(&b) if b > b' ' => b,
            _ => self.skip_whitespace(),
        }
    }

    #[cold]
    fn skip_whitespace(&mut self) -> u8 {
        while let Some(&b) = self.s.get(self.pos) {
            if !matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                return b;
            }
            self.pos += 1;
        }
        0
    }

    /// The whole payload: `value` out of line, so that the setup around it
    /// stays small for the small payloads most messages carry.
    #[inline(never)]
    fn root(&mut self) -> Step<Bound<'py, PyAny>> {
        self.value(0)
    }

    /// One value. Inlined into the array and object loops (and the top
    /// level), so that a scalar element costs no call: the call to a
    /// function that can build containers saved and restored six registers
    /// and kept a large frame for every number and string.
    #[inline(always)]
    fn value(&mut self, depth: usize) -> Step<Bound<'py, PyAny>> {
        let py = self.py;
        match self.peek() {
            b'"' => match self.string()? {
                (raw, false) => Ok(self.str_value(raw)),
                (raw, true) => self.unescaped(raw),
            },
            b'{' => self.object(depth + 1),
            b'[' => self.array(depth + 1),
            b't' => {
                self.pos += 4;
                Ok(ffi::new_ref(&PyBool::new(py, true)).into_any())
            }
            b'f' => {
                self.pos += 5;
                Ok(ffi::new_ref(&PyBool::new(py, false)).into_any())
            }
            b'n' => {
                self.pos += 4;
                Ok(ffi::new_ref(&PyNone::get(py)).into_any())
            }
            _ => self.number(),
        }
    }

    /// The string at `pos` (which is its opening quote): its content
    /// between the quotes, and whether that holds escapes.
    #[inline(always)]
    fn string(&mut self) -> Step<(&'a str, bool)> {
        let start = self.pos + 1;
        let (end, escaped) = self
            .closing_quote(start)
            .ok_or_else(|| self.invalid(self.pos))?;
        self.pos = end + 1;
        // SAFETY: `start - 1` and `end` hold quotes (`peek` and
        // `closing_quote` saw them), with `end` found at or after `start`,
        // so `start..end` is in bounds, and quotes are ASCII, so both ends
        // are character boundaries of the UTF-8 `text`. (Checking both
        // boundaries of every string and key was 3% of a conversion.)
        let raw = unsafe { self.text.get_unchecked(start..end) };
        Ok((raw, escaped))
    }

    /// A `str` from a string's content with escapes, decoded into the
    /// scratch buffer: the codec validated them with the frame, so this is
    /// one pass and no allocation besides the `str` (it was a check by the
    /// codec's `JsonStr`, a fresh `Vec`, and the decode). Short results come
    /// from the cache, as plain strings do.
    #[cold]
    #[inline(never)]
    fn unescaped(&mut self, raw: &str) -> Step<Bound<'py, PyAny>> {
        self.buf.clear();
        let text =
            unescape(raw.as_bytes(), self.buf).and_then(|()| std::str::from_utf8(self.buf).ok());
        match (text, self.keys.as_deref_mut()) {
            (Some(text), Some(cache)) if text.len() <= MAX_CACHED_VALUE => {
                Ok(cache.get(self.py, text))
            }
            (Some(text), _) => Ok(ffi::new_str(self.py, text).into_any()),
            // Not from the codec's validator after all.
            (None, _) => Err(self.invalid(self.pos)),
        }
    }

    /// The index of the quote that ends the string whose content starts at
    /// `i`, and whether the string holds escapes.
    #[inline]
    fn closing_quote(&self, mut i: usize) -> Option<(usize, bool)> {
        let mut escaped = false;
        loop {
            // Sixteen bytes at a time while they last, then eight, then
            // one at a time.
            if let Some(mask) = quote_or_backslash16(self.s, i) {
                if mask == 0 {
                    i += 16;
                    continue;
                }
                let hit = i + mask.trailing_zeros() as usize;
                if *self.s.get(hit)? == b'"' {
                    return Some((hit, escaped));
                }
                escaped = true;
                i = hit + 2;
                continue;
            }
            let hit = match self.s.get(i..i + 8) {
                Some(chunk) => {
                    let word = u64::from_le_bytes(chunk.try_into().ok()?);
                    let mask = has_byte(word, b'"') | has_byte(word, b'\\');
                    if mask == 0 {
                        i += 8;
                        continue;
                    }
                    i + (mask.trailing_zeros() / 8) as usize
                }
                None => {
                    i + self
                        .s
                        .get(i..)?
                        .iter()
                        .position(|&b| b == b'"' || b == b'\\')?
                }
            };
            if *self.s.get(hit)? == b'"' {
                return Some((hit, escaped));
            }
            // Skip the escaped byte too: `\"` must not end the string.
            escaped = true;
            i = hit + 2;
        }
    }

    /// A `str` for a string value: short plain ones come from the cache.
    /// Inlined into the container loops, like `value`.
    #[inline(always)]
    fn str_value(&mut self, plain: &str) -> Bound<'py, PyAny> {
        match self.keys.as_deref_mut() {
            Some(cache) if plain.len() <= MAX_CACHED_VALUE => cache.get(self.py, plain),
            _ => ffi::new_str(self.py, plain).into_any(),
        }
    }

    /// A number, read in one pass: integers of up to 18 digits and floats
    /// of up to 15 significant digits with a small exponent (nearly all in
    /// payloads) are built from the digits directly; the rest are parsed
    /// from their text.
    #[inline(always)]
    fn number(&mut self) -> Step<Bound<'py, PyAny>> {
        let start = self.pos;
        let neg = self.s.get(start) == Some(&b'-');
        let mut i = start + usize::from(neg);
        let mut mant: u64 = 0;
        let digits = digit_run(self.s, i, &mut mant);
        i += digits;
        // One test sends fractions, exponents and long or missing digits
        // on: the common integer is done after it.
        let next = self.s.get(i).copied().unwrap_or(0);
        if next == b'.' || next | 0x20 == b'e' || digits.wrapping_sub(1) >= 18 {
            return self.number_tail(start, i, mant, digits, neg);
        }
        self.pos = i;
        // Below 10^18, so it fits an i64 either way.
        let v = mant as i64;
        Ok(if neg { -v } else { v }.into_pyobject(self.py)?.into_any())
    }

    /// The rest of a number from `i`, after `digits` integer digits that
    /// make `mant`: a fraction and an exponent, or else an integer of no
    /// digits (invalid) or more than 18.
    #[inline(always)]
    fn number_tail(
        &mut self,
        start: usize,
        mut i: usize,
        mut mant: u64,
        mut digits: usize,
        neg: bool,
    ) -> Step<Bound<'py, PyAny>> {
        let mut frac = 0i64;
        let mut float = false;
        if self.s.get(i) == Some(&b'.') {
            float = true;
            let n = digit_run(self.s, i + 1, &mut mant);
            i += 1 + n;
            digits += n;
            frac = n as i64;
        }
        let mut exp = 0i64;
        if matches!(self.s.get(i), Some(b'e' | b'E')) {
            float = true;
            i += 1;
            let exp_neg = self.s.get(i) == Some(&b'-');
            if matches!(self.s.get(i), Some(b'-' | b'+')) {
                i += 1;
            }
            let mut e = 0u64;
            while let Some(&b) = self.s.get(i).filter(|b| b.is_ascii_digit()) {
                // Clamped: any exponent this large overflows or underflows.
                e = (e * 10 + u64::from(b - b'0')).min(1_000_000);
                i += 1;
            }
            exp = if exp_neg { -(e as i64) } else { e as i64 };
        }
        self.pos = i;
        if digits == 0 {
            return Err(self.invalid(start));
        }
        if float {
            if let Some(f) = exact_float(mant, digits, exp - frac) {
                return Ok(PyFloat::new(self.py, if neg { -f } else { f }).into_any());
            }
        }
        let text = self.text.get(start..i).ok_or_else(|| self.invalid(start))?;
        if !float {
            return match text.parse::<i64>() {
                Ok(v) => Ok(v.into_pyobject(self.py)?.into_any()),
                Err(_) => ffi::new_big_int(self.py, text).map_err(|e| self.failed(e)),
            };
        }
        // Correctly rounded, overflowing to infinity like `json.loads`.
        let f: f64 = text.parse().map_err(|_| self.invalid(start))?;
        Ok(PyFloat::new(self.py, f).into_any())
    }

    #[inline(never)]
    fn array(&mut self, depth: usize) -> Step<Bound<'py, PyAny>> {
        if depth > MAX_DEPTH {
            return Err(self.invalid(self.pos));
        }
        self.pos += 1;
        let base = self.stack.len();
        if self.peek() == b']' {
            self.pos += 1;
            return Ok(PyList::empty(self.py).into_any());
        }
        loop {
            let v = self.value(depth)?;
            self.stack.push(v.unbind());
            match self.peek() {
                b',' => self.pos += 1,
                b']' => {
                    self.pos += 1;
                    break;
                }
                _ => return Err(self.invalid(self.pos)),
            }
        }
        ffi::new_list(self.py, self.stack, base).map_err(|e| self.failed(e))
    }

    #[inline(never)]
    fn object(&mut self, depth: usize) -> Step<Bound<'py, PyAny>> {
        if depth > MAX_DEPTH {
            return Err(self.invalid(self.pos));
        }
        self.pos += 1;
        // Objects at one depth are mostly records of one shape: each starts
        // with room for as many keys as the last one had.
        let hint = self.sizes.get(depth).copied().unwrap_or(0);
        let dict = ffi::new_dict(self.py, usize::from(hint)).map_err(|e| self.failed(e))?;
        let mut count = 0u8;
        if self.peek() == b'}' {
            self.pos += 1;
            return Ok(dict.into_any());
        }
        loop {
            if self.peek() != b'"' {
                return Err(self.invalid(self.pos));
            }
            // The key last seen at this place, if the text holds it: then
            // its closing quote is not searched for, so the next token's
            // position waits on no load.
            let start = self.pos + 1;
            let expected = self
                .keys
                .as_deref()
                .and_then(|c| c.expected_at(self.py, self.s, start, depth, usize::from(count)));
            let (raw, escaped) = match expected {
                Some(end) => {
                    self.pos = end + 1;
                    // SAFETY: `start - 1` and `end` hold quotes (`peek`
                    // and `expected_at` saw them) with `start <= end`, so
                    // this is in bounds and on character boundaries.
                    (unsafe { self.text.get_unchecked(start..end) }, false)
                }
                None => self.string()?,
            };
            if self.peek() != b':' {
                return Err(self.invalid(self.pos));
            }
            self.pos += 1;
            let v = self.value(depth)?;
            // The key's `str` after the value: one from the cache is then
            // lent to the dict, which takes its own reference, with no
            // reference of ours taken and given back. (Values are deeper,
            // so they leave this place's key alone.)
            let kept = match expected {
                Some(_) => self.keys.as_deref().and_then(|c| c.kept_at(depth, count)),
                None => None,
            };
            let key = match (kept, escaped) {
                (Some(kept), _) => Cow::Borrowed(kept.bind(self.py).as_any()),
                (None, false) => Cow::Owned(self.key(raw, depth, count)),
                (None, true) => Cow::Owned(self.unescaped(raw)?),
            };
            // SAFETY: a fresh exact dict, an exact `str` (from the cache,
            // `new_str` or `unescaped`) and a live value; the dict takes
            // its own references (ours are released after).
            let failed = unsafe { ffi::dict_set_str(dict.as_ptr(), key.as_ptr(), v.as_ptr()) } != 0;
            if let Cow::Owned(key) = key {
                ffi::release(key);
            }
            ffi::release(v);
            if failed {
                let e = PyErr::fetch(self.py);
                return Err(self.failed(e));
            }
            count = count.saturating_add(1);
            match self.peek() {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    break;
                }
                _ => return Err(self.invalid(self.pos)),
            }
        }
        if let Some(size) = self.sizes.get_mut(depth) {
            *size = count.min(MAX_SIZE_HINT);
        }
        Ok(dict.into_any())
    }

    /// The `str` for the key `plain`, the `index`th of an object at `depth`.
    #[inline]
    fn key(&mut self, plain: &str, depth: usize, index: u8) -> Bound<'py, PyAny> {
        match self.keys.as_deref_mut() {
            Some(cache) if plain.len() <= KeyCache::MAX_LEN => {
                cache.key_at(self.py, plain, depth, usize::from(index))
            }
            _ => ffi::new_str(self.py, plain).into_any(),
        }
    }
}

/// The digits at `s[start..]`: how many there are (0 if none), with `mant`
/// taking each (times ten, wrapping past 19 digits, which only the slow
/// paths read). Eight bytes are classified and added from one load while
/// eight are left: a loop per digit ended on a mispredicted branch for
/// nearly every number, since their lengths vary.
#[inline(always)]
fn digit_run(s: &[u8], start: usize, mant: &mut u64) -> usize {
    let mut i = start;
    while let Some(chunk) = s.get(i..).and_then(|r| r.first_chunk::<8>()) {
        let (n, v) = leading_digits(u64::from_le_bytes(*chunk));
        let scale = POW10_INT.get(n).copied().unwrap_or(0);
        *mant = mant.wrapping_mul(scale).wrapping_add(v);
        i += n;
        if n < 8 {
            return i - start;
        }
    }
    while let Some(&b) = s.get(i).filter(|b| b.is_ascii_digit()) {
        *mant = mant.wrapping_mul(10).wrapping_add(u64::from(b - b'0'));
        i += 1;
    }
    i - start
}

/// `10^n` for the digit counts `leading_digits` gives.
const POW10_INT: [u64; 9] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
];

/// How many of the bytes of `word` (the first in its lowest byte) are ASCII
/// digits before the first that is not, and the number they spell.
#[inline(always)]
fn leading_digits(word: u64) -> (usize, u64) {
    // Digits become 0..=9; a byte is one if its high nibble is clear and
    // stays clear with 6 added. An addition may carry into the next byte,
    // but only out of a byte already flagged, so the lowest flag is exact.
    let t = word ^ 0x3030_3030_3030_3030;
    let flags = (t | t.wrapping_add(0x0606_0606_0606_0606)) & 0xF0F0_F0F0_F0F0_F0F0;
    let n = (flags.trailing_zeros() / 8) as usize;
    if n == 0 {
        return (0, 0);
    }
    // The `n` digits moved to the top bytes, as if behind leading zeros,
    // then combined pairwise: 2, 4, then 8 digits per lane.
    let d = t << (64 - 8 * n);
    let d = (d.wrapping_mul(10) + (d >> 8)) & 0x00FF_00FF_00FF_00FF;
    let d = (d.wrapping_mul(100) + (d >> 16)) & 0x0000_FFFF_0000_FFFF;
    let d = (d.wrapping_mul(10_000) + (d >> 32)) & 0xFFFF_FFFF;
    (n, d)
}

/// Exact powers of ten as `f64` (all up to 1e22 are representable).
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// `mant * 10^exp` when one IEEE operation gives it correctly rounded
/// (Clinger's fast path): the digits fit 53 bits exactly (at most 15 of
/// them) and `10^|exp|` is exact, so the product or quotient of two exact
/// values is rounded once, as a full parse would round it.
#[inline]
fn exact_float(mant: u64, digits: usize, exp: i64) -> Option<f64> {
    if digits > 15 {
        return None;
    }
    let p = *POW10.get(usize::try_from(exp.unsigned_abs()).ok()?)?;
    let m = mant as f64;
    Some(if exp >= 0 { m * p } else { m / p })
}

/// Runs `f` with the process's key cache and array stack, or with no cache
/// and a fresh stack when another conversion holds them: a finalizer that
/// ran during a conversion (an allocation can start a collection) read a
/// payload, or another thread did while such Python code ran.
fn with_scratch<R>(
    py: Python<'_>,
    f: impl FnOnce(Option<&mut KeyCache>, &mut Vec<Py<PyAny>>, &mut Vec<u8>) -> R,
) -> R {
    SCRATCH.with(py, |scratch| match scratch {
        Some(s) => f(Some(&mut s.keys), &mut s.stack, &mut s.buf),
        None => f(None, &mut Vec::new(), &mut Vec::new()),
    })
}

/// What conversions keep between calls, for every thread: where the
/// thread-local and `RefCell` it replaced cost a call and a flag per
/// conversion.
static SCRATCH: GilCell<Scratch> = GilCell::new(Scratch {
    keys: KeyCache::new(),
    stack: Vec::new(),
    buf: Vec::new(),
});

struct Scratch {
    keys: KeyCache,
    /// Elements of the arrays being built, innermost last: a list's length
    /// is only known at its end, and one buffer for every list of every
    /// conversion saves an allocation per array.
    stack: Vec<Py<PyAny>>,
    /// Strings with escapes decoded, one at a time.
    buf: Vec<u8>,
}

/// One cache entry, 32 bytes: a key's length and the words it hashes
/// from, which are the whole key up to 16 bytes, and its `str`. Longer
/// keys are compared against that `str`'s own characters.
struct Entry {
    len: usize,
    words: (u64, u64),
    s: Option<Py<PyString>>,
}

impl Entry {
    const EMPTY: Entry = Entry {
        len: 0,
        words: (0, 0),
        s: None,
    };

    /// The cached `str` if it is `key`'s.
    #[inline(always)]
    fn hit<'a, 'py>(
        &'a self,
        py: Python<'py>,
        key: &[u8],
        words: (u64, u64),
    ) -> Option<&'a Bound<'py, PyString>> {
        let s = self.s.as_ref()?.bind(py);
        // Equal words are all of a short key; a longer one is compared
        // with the `str`'s characters, as when it was kept.
        let same = self.len == key.len() && self.words == words && KeyCache::keeps(s, key);
        same.then_some(s)
    }
}

/// Two entries sharing a cache line: a key may sit in either, so two keys
/// of one hash do not evict each other (direct-mapped, the 350 distinct
/// strings of the 64 KiB benchmark payload missed a hundred times a call;
/// four ways, two lines a set, missed none but were slower).
#[repr(align(64))]
struct Set([Entry; KeyCache::WAYS]);

/// A two-way set-associative cache of `str` objects for short keys (and
/// short string values) without escapes. Entries hold no bytes of their
/// own, so the table is 32 KiB: with inline copies of up to 64 bytes it
/// was three times that, and its loads missed.
struct KeyCache {
    sets: [Set; KeyCache::SETS],
    /// The key last seen at each place (depth, then position) of the
    /// objects of the first few depths: records of one shape repeat their
    /// keys in order, so a key is mostly found here by a compare with one
    /// entry, which unlike the set does not wait on the key's hash.
    places: [[Entry; KeyCache::PLACE_KEYS]; KeyCache::PLACE_DEPTHS],
}

impl KeyCache {
    const SETS: usize = 512;
    const WAYS: usize = 2;
    const MAX_LEN: usize = 64;
    /// Keys up to this long are all in `Entry::words`.
    const IN_WORDS: usize = 16;

    const PLACE_DEPTHS: usize = 8;
    const PLACE_KEYS: usize = 16;

    const fn new() -> KeyCache {
        const EMPTY: Set = Set([Entry::EMPTY; KeyCache::WAYS]);
        const NO_KEYS: [Entry; KeyCache::PLACE_KEYS] = [Entry::EMPTY; KeyCache::PLACE_KEYS];
        KeyCache {
            sets: [EMPTY; KeyCache::SETS],
            places: [NO_KEYS; KeyCache::PLACE_DEPTHS],
        }
    }

    #[inline(always)]
    fn get<'py>(&mut self, py: Python<'py>, text: &str) -> Bound<'py, PyAny> {
        let words = words(text.as_bytes());
        Self::lookup(&mut self.sets, py, text, words).into_any()
    }

    /// Where the key at `start` (after its opening quote) ends, if it is
    /// the one last seen at its place (the `index`th of an object at
    /// `depth`): the index of its closing quote. The place's key is plain,
    /// so text that equals it holds no quote or backslash, and the quote
    /// right after it is the closing one.
    #[inline(always)]
    fn expected_at(
        &self,
        py: Python<'_>,
        s: &[u8],
        start: usize,
        depth: usize,
        index: usize,
    ) -> Option<usize> {
        let place = self.places.get(depth)?.get(index)?;
        let end = start.checked_add(place.len)?;
        if s.get(end) != Some(&b'"') {
            return None;
        }
        let key = s.get(start..end)?;
        place.hit(py, key, words(key)).map(|_| end)
    }

    /// The key last seen at a place (see [`expected_at`](Self::expected_at)).
    #[inline(always)]
    fn kept_at(&self, depth: usize, index: u8) -> Option<&Py<PyString>> {
        self.places.get(depth)?.get(usize::from(index))?.s.as_ref()
    }

    /// [`get`](Self::get) for an object key, the `index`th of an object at
    /// `depth` (one [`expected_at`](Self::expected_at) did not find there),
    /// which it then keeps as the key last seen at that place.
    #[inline]
    fn key_at<'py>(
        &mut self,
        py: Python<'py>,
        text: &str,
        depth: usize,
        index: usize,
    ) -> Bound<'py, PyAny> {
        let words = words(text.as_bytes());
        let s = Self::lookup(&mut self.sets, py, text, words);
        let place = self.places.get_mut(depth).and_then(|d| d.get_mut(index));
        if let Some(place) = place.filter(|_| Self::keeps(&s, text.as_bytes())) {
            Self::put(place, py, &s, text.as_bytes(), words);
        }
        s.into_any()
    }

    /// The `str` for `text` (whose words are `words`) from its set, or a
    /// new one, kept there if it can be (see [`insert`](Self::insert)).
    #[inline(always)]
    fn lookup<'py>(
        sets: &mut [Set; KeyCache::SETS],
        py: Python<'py>,
        text: &str,
        words: (u64, u64),
    ) -> Bound<'py, PyString> {
        let key = text.as_bytes();
        let at = set_of(words, key.len());
        let Some(Set(set)) = sets.get_mut(at) else {
            return ffi::new_str(py, text);
        };
        for entry in set.iter() {
            if let Some(s) = entry.hit(py, key, words) {
                return ffi::new_ref(s);
            }
        }
        Self::insert(set, py, text, words)
    }

    /// A miss: a new `str`, kept first in its set (the others move one
    /// down, the last is dropped) if it can be (see [`keeps`](Self::keeps)).
    #[cold]
    #[inline(never)]
    fn insert<'py>(
        set: &mut [Entry; KeyCache::WAYS],
        py: Python<'py>,
        text: &str,
        words: (u64, u64),
    ) -> Bound<'py, PyString> {
        let fresh = ffi::new_str(py, text);
        if Self::keeps(&fresh, text.as_bytes()) {
            set.rotate_right(1);
            Self::put(&mut set[0], py, &fresh, text.as_bytes(), words);
        }
        fresh
    }

    /// Whether `s`, the `str` of `key`, can be kept: its characters can be
    /// compared later (always up to 16 bytes; longer only if ASCII).
    #[inline(always)]
    fn keeps(s: &Bound<'_, PyString>, key: &[u8]) -> bool {
        key.len() <= Self::IN_WORDS || ffi::ascii_bytes(s) == Some(key)
    }

    /// Puts `s`, the `str` of `key` (whose words are `words`), in `slot`,
    /// releasing the one there.
    #[cold]
    fn put(
        slot: &mut Entry,
        py: Python<'_>,
        s: &Bound<'_, PyString>,
        key: &[u8],
        words: (u64, u64),
    ) {
        let entry = Entry {
            len: key.len(),
            words,
            s: Some(s.clone().unbind()),
        };
        let old = core::mem::replace(slot, entry);
        // Released here, with the GIL known to be held.
        drop(old.s.map(|s| s.into_bound(py)));
    }
}

/// The first and last eight bytes of `bytes` (overlapping when shorter
/// than 16); under eight, the first and last four (overlapping) in one
/// word, and under four the first, middle and last byte, and 0: together
/// with the length they are all of a key of up to 16 bytes.
///
/// Short keys are read with loads rather than copied into a zeroed word:
/// the copy was a `memcpy` call whose byte stores the word's load then
/// waited on (a quarter of the conversion of a small payload in `perf`).
#[inline]
fn words(bytes: &[u8]) -> (u64, u64) {
    if let (Some(h), Some(t)) = (bytes.first_chunk::<8>(), bytes.last_chunk::<8>()) {
        return (u64::from_le_bytes(*h), u64::from_le_bytes(*t));
    }
    if let (Some(h), Some(t)) = (bytes.first_chunk::<4>(), bytes.last_chunk::<4>()) {
        let (h, t) = (u32::from_le_bytes(*h), u32::from_le_bytes(*t));
        return (u64::from(h) | u64::from(t) << 32, 0);
    }
    let byte = |i: usize| u64::from(bytes.get(i).copied().unwrap_or(0));
    let n = bytes.len();
    if n == 0 {
        return (0, 0);
    }
    (byte(0) | byte(n / 2) << 8 | byte(n - 1) << 16, 0)
}

/// A bit for every byte of `s[i..i + 16]` that is a quote or a backslash,
/// or None when fewer than 16 bytes are left.
#[cfg(target_arch = "x86_64")]
#[inline]
fn quote_or_backslash16(s: &[u8], i: usize) -> Option<u32> {
    use core::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    let chunk = s.get(i..i + 16)?;
    // SAFETY: `chunk` is 16 readable bytes; SSE2 is part of the x86-64
    // baseline, so every CPU this code runs on has it.
    unsafe {
        let w = _mm_loadu_si128(chunk.as_ptr().cast());
        let quote = _mm_cmpeq_epi8(w, _mm_set1_epi8(b'"' as i8));
        let backslash = _mm_cmpeq_epi8(w, _mm_set1_epi8(b'\\' as i8));
        Some(_mm_movemask_epi8(_mm_or_si128(quote, backslash)) as u32)
    }
}

/// Other targets use the eight-byte path only.
#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn quote_or_backslash16(_s: &[u8], _i: usize) -> Option<u32> {
    None
}

/// A high bit set in every byte of `word` that equals `b` (the lowest
/// such byte is always flagged exactly; higher ones may be approximate,
/// which is all `trailing_zeros` needs).
#[inline]
fn has_byte(word: u64, b: u8) -> u64 {
    let x = word ^ (0x0101_0101_0101_0101 * u64::from(b));
    x.wrapping_sub(0x0101_0101_0101_0101) & !x & 0x8080_8080_8080_8080
}

/// A cache set from the length and the first and last eight bytes:
/// constant time, and keys that differ only in the middle are rare enough
/// that a collision just costs a miss. The set is the product's top bits,
/// the only ones every input bit reaches (bits 40 and up, as taken before,
/// ignored the last two characters of a seven-byte id like `s-01234`, so
/// such ids evicted each other a hundred times a call).
#[inline]
fn set_of((head, tail): (u64, u64), len: usize) -> usize {
    let h = (head ^ tail.rotate_left(29) ^ len as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (h >> (64 - KeyCache::SETS.trailing_zeros())) as usize
}
