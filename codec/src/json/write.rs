//! Writing JSON strings the way Phoenix's encoder (Jason) does.

use crate::error::Result;
use crate::json::scan::stop_byte;
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
    let first = stop_byte(bytes, 0);
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

/// Writes a [`JsonStr`] as a quoted JSON string. An escaped string was
/// validated when it was read, so its raw text is copied as is.
#[inline(always)]
pub fn write_json_str<S: Sink + ?Sized>(out: &mut S, s: JsonStr<'_>) -> Result<()> {
    if s.is_escaped() {
        out.put_u8(b'"')?;
        out.put(s.raw().as_bytes())?;
        out.put_u8(b'"')
    } else {
        write_str(out, s.raw())
    }
}

/// Writes an integer in decimal without allocating.
pub fn write_i64<S: Sink + ?Sized>(out: &mut S, v: i64) -> Result<()> {
    out.put(Digits::new(v).as_bytes())
}

/// The decimal text of an integer, on the stack.
pub(crate) struct Digits {
    buf: [u8; 20],
    start: usize,
}

impl Digits {
    pub(crate) fn new(v: i64) -> Digits {
        // 19 digits and a sign at most.
        let mut buf = [0u8; 20];
        let mut start = buf.len();
        let mut n = v.unsigned_abs();
        loop {
            start -= 1;
            buf[start] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        if v < 0 {
            start -= 1;
            buf[start] = b'-';
        }
        Digits { buf, start }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or(&[])
    }
}
