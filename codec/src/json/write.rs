//! Writing JSON strings the way Phoenix's encoder (Jason) does.

use crate::error::Result;
use crate::json::JsonStr;
use crate::sink::Sink;

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// The escape for an ASCII byte, or `None` if it is written as is.
/// Matches Jason's default (`escape: :json`): quote, backslash and the C0
/// controls; `/` and non-ASCII characters are written raw.
#[inline(always)]
fn escape_for(b: u8) -> Option<&'static [u8]> {
    Some(match b {
        b'"' => b"\\\"",
        b'\\' => b"\\\\",
        b'\n' => b"\\n",
        b'\r' => b"\\r",
        b'\t' => b"\\t",
        0x08 => b"\\b",
        0x0c => b"\\f",
        0..=0x1f => b"",
        _ => return None,
    })
}

/// Writes `s` as a quoted JSON string.
///
/// ```
/// use phoenix_wire::json::write_str;
///
/// let mut out = Vec::new();
/// write_str(&mut out, "a\"b\n\u{1}é").unwrap();
/// assert_eq!(out, r#""a\"b\n\u0001é""#.as_bytes());
/// ```
#[inline(always)]
pub fn write_str<S: Sink + ?Sized>(out: &mut S, s: &str) -> Result<()> {
    out.put_u8(b'"')?;
    write_str_content(out, s)?;
    out.put_u8(b'"')
}

/// Writes the escaped content of `s` without quotes.
#[inline(always)]
fn write_str_content<S: Sink + ?Sized>(out: &mut S, s: &str) -> Result<()> {
    let bytes = s.as_bytes();
    // Most strings need no escape: find that out a word at a time and
    // write them in one piece.
    let first = first_escape(bytes);
    if first == bytes.len() {
        return out.put(bytes);
    }
    write_escaped(out, bytes, first)
}

/// Writes `bytes` escaping every byte that needs it, the first at `first`.
#[inline(never)]
fn write_escaped<S: Sink + ?Sized>(out: &mut S, bytes: &[u8], first: usize) -> Result<()> {
    out.put(bytes.get(..first).unwrap_or(&[]))?;
    let mut start = first;
    for (i, &b) in bytes.iter().enumerate().skip(first) {
        let Some(esc) = escape_for(b) else { continue };
        out.put(&bytes[start..i])?;
        if esc.is_empty() {
            out.put(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 0xf) as usize],
            ])?;
        } else {
            out.put(esc)?;
        }
        start = i + 1;
    }
    out.put(&bytes[start..])
}

/// Writes a [`JsonStr`] as a quoted JSON string. A string read from JSON
/// was validated then, so its raw text is copied as is; a Rust string is
/// escaped like [`write_str`].
#[inline(always)]
pub fn write_json_str<S: Sink + ?Sized>(out: &mut S, s: JsonStr<'_>) -> Result<()> {
    match s.json_text() {
        Some(text) => {
            out.put_u8(b'"')?;
            out.put(text.as_bytes())?;
            out.put_u8(b'"')
        }
        None => write_str(out, s.raw()),
    }
}

/// The text of `s` when it goes between quotes as is: the raw text of a
/// string read from JSON (validated then), or a Rust string that holds
/// nothing to escape.
#[inline(always)]
pub(crate) fn clean_text<'a>(s: JsonStr<'a>) -> Option<&'a str> {
    match s.json_text() {
        Some(text) => Some(text),
        None if !needs_escape(s.raw().as_bytes()) => Some(s.raw()),
        None => None,
    }
}

/// The index of the first byte of `bytes` that a JSON string cannot hold
/// raw (`"`, `\` or a C0 control), or `bytes.len()` when there is none.
/// Eight bytes at a time: header strings are short and almost never need it.
#[inline]
pub(crate) fn first_escape(bytes: &[u8]) -> usize {
    let mut words = bytes.chunks_exact(8);
    let mut at = 0;
    for word in &mut words {
        let mut x = [0u8; 8];
        x.copy_from_slice(word);
        let hits = escape_hits(u64::from_le_bytes(x));
        if hits != 0 {
            return at + (hits.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    let tail = words.remainder();
    if tail.is_empty() {
        return at;
    }
    // Header strings are mostly shorter than a word: one more SWAR test,
    // not a loop over the bytes.
    let hits = match tail_word(tail) {
        Some(word) => escape_hits(word),
        None => {
            return at
                + tail
                    .iter()
                    .take_while(|&&b| escape_for(b).is_none())
                    .count()
        }
    };
    if hits != 0 {
        return at + (hits.trailing_zeros() / 8) as usize;
    }
    at + tail.len()
}

/// Whether a JSON string needs escapes to hold `bytes`. Header strings
/// are short: up to 16 bytes take one or two word tests without a loop.
#[inline(always)]
fn needs_escape(bytes: &[u8]) -> bool {
    let n = bytes.len();
    let word = |b: Option<&[u8]>| {
        let x: [u8; 8] = b.and_then(|b| b.try_into().ok()).unwrap_or([b'A'; 8]);
        escape_hits(u64::from_le_bytes(x))
    };
    match n {
        0 => false,
        1..=7 => tail_word(bytes).map_or(true, |w| escape_hits(w) != 0),
        8..=16 => word(bytes.get(..8)) | word(bytes.get(n - 8..)) != 0,
        _ => first_escape(bytes) < n,
    }
}

/// The 1 to 7 bytes of `tail` as a little-endian word, padded with `A`
/// (which needs no escape); `None` for another length. Two overlapping
/// loads: no bytes are stored to be read back as a word (that would stall).
#[inline(always)]
fn tail_word(tail: &[u8]) -> Option<u64> {
    const PAD: u64 = 0x4141_4141_4141_4141;
    let n = tail.len();
    let (lo, hi, width) = match n {
        1 => return tail.first().map(|&b| u64::from(b) | PAD << 8),
        2..=3 => {
            let word = |b: &[u8]| Some(u64::from(u16::from_le_bytes(b.try_into().ok()?)));
            (word(tail.get(..2)?)?, word(tail.get(n - 2..)?)?, 2)
        }
        4..=7 => {
            let word = |b: &[u8]| Some(u64::from(u32::from_le_bytes(b.try_into().ok()?)));
            (word(tail.get(..4)?)?, word(tail.get(n - 4..)?)?, 4)
        }
        _ => return None,
    };
    // Where the loads overlap they hold the same bytes, so OR keeps them.
    Some(lo | hi << ((n - width) * 8) | PAD << (n * 8))
}

/// A word with the high bit set in every byte of `x` that needs an escape.
/// Above the lowest hit, bits may be set spuriously (borrows carry upwards),
/// so only the lowest one is meaningful.
#[inline(always)]
fn escape_hits(x: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below = |v: u64, n: u8| v.wrapping_sub(ONES * n as u64) & !v & HIGH;
    below(x ^ (ONES * b'"' as u64), 1) | below(x ^ (ONES * b'\\' as u64), 1) | below(x, 0x20)
}

/// Writes an integer in decimal without allocating.
pub fn write_i64<S: Sink + ?Sized>(out: &mut S, v: i64) -> Result<()> {
    out.put(Digits::new(v).as_bytes())
}

/// The length of the decimal text of `v`, sign included: what
/// [`write_decimal`] writes.
///
/// ```
/// use phoenix_wire::json::decimal_len;
///
/// assert_eq!(decimal_len(0), 1);
/// assert_eq!(decimal_len(-100), 4);
/// assert_eq!(decimal_len(i64::MIN), 20);
/// ```
#[inline(always)]
pub fn decimal_len(v: i64) -> usize {
    const POW: [u64; 20] = {
        let mut p = [1u64; 20];
        let mut i = 1;
        while i < 20 {
            p[i] = p[i - 1] * 10;
            i += 1;
        }
        p
    };
    // Zero has one digit, as 1 has: `m | 1` has the digits of `m` for any
    // other `m` (a power of ten is even). From the highest bit, no chain
    // of divisions: 1233 / 4096 is just above log10(2), so the guess is
    // exact or one short.
    let m = v.unsigned_abs() | 1;
    let guess = ((64 - m.leading_zeros()) * 1233) >> 12;
    let next = POW.get(guess as usize).copied().unwrap_or(u64::MAX);
    guess as usize + usize::from(m >= next) + usize::from(v < 0)
}

/// Writes the decimal text of `v` into `dst`, which must be
/// [`decimal_len`]`(v)` bytes long (a shorter `dst` gets the text's tail,
/// a longer one leading zeros). From the last digit backwards, two at a
/// time from a table, each straight into `dst`: digits made in a buffer of
/// their own and copied out with wider loads stalled on every integer.
///
/// ```
/// use phoenix_wire::json::{decimal_len, write_decimal};
///
/// let v = -1_732_170_000_123;
/// let mut text = vec![0u8; decimal_len(v)];
/// write_decimal(&mut text, v);
/// assert_eq!(text, b"-1732170000123");
/// ```
#[inline]
pub fn write_decimal(dst: &mut [u8], v: i64) {
    let mut m = v.unsigned_abs();
    let mut end = dst.len();
    let mut pair = |end: usize, d: u64| {
        let at = 2 * d as usize;
        if let (Some(to), Some(from)) = (dst.get_mut(end - 2..end), PAIRS.get(at..at + 2)) {
            to.copy_from_slice(from);
        }
    };
    while m >= 10_000 && end >= 4 {
        let r = m % 10_000;
        m /= 10_000;
        pair(end, r % 100);
        pair(end - 2, r / 100);
        end -= 4;
    }
    if m >= 100 && end >= 2 {
        pair(end, m % 100);
        m /= 100;
        end -= 2;
    }
    if m >= 10 && end >= 2 {
        pair(end, m);
    } else if let Some(d) = end.checked_sub(1).and_then(|i| dst.get_mut(i)) {
        *d = b'0' + m as u8;
    }
    if v < 0 {
        if let Some(sign) = dst.first_mut() {
            *sign = b'-';
        }
    }
}

/// "00" to "99".
static PAIRS: [u8; 200] = {
    let mut t = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        t[2 * i] = b'0' + (i / 10) as u8;
        t[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    t
};

/// The decimal text of an integer, on the stack.
pub(crate) struct Digits {
    buf: [u8; 20],
    start: usize,
}

impl Digits {
    pub(crate) fn new(v: i64) -> Digits {
        // 19 digits and a sign at most.
        let mut buf = [0u8; 20];
        let start = buf.len() - decimal_len(v);
        if let Some(dst) = buf.get_mut(start..) {
            write_decimal(dst, v);
        }
        Digits { buf, start }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or(&[])
    }
}
