//! Borrowed JSON strings that unescape lazily.

use core::fmt;

use crate::error::{Error, ErrorKind, Result};
use crate::json::scan::{escape, hex4};

/// A string borrowed from the input: the raw text between the quotes and
/// whether it holds escapes.
///
/// Most strings on the wire have no escapes, and then [`as_str`](Self::as_str)
/// is the value itself. Escaped strings (Python's `json.dumps` writes
/// `\u00e9` for `é`) are decoded only when asked: compared with a `&str`
/// without allocating, unescaped into a caller buffer, or into a `Cow`.
///
/// ```
/// use phoenix_wire::json::JsonStr;
///
/// let s = JsonStr::from_json(r"caf\u00e9").unwrap();
/// assert!(s.is_escaped());
/// assert_eq!(s, "café"); // no allocation
/// let mut buf = [0u8; 16];
/// assert_eq!(s.unescape_into(&mut buf).unwrap(), "café");
/// assert_eq!(JsonStr::new("plain").as_str(), Some("plain"));
/// ```
#[derive(Clone, Copy)]
pub struct JsonStr<'a> {
    raw: &'a str,
    form: Form,
}

/// What the raw text of a [`JsonStr`] is, which decides how it is written
/// back as JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Form {
    /// A Rust string: the value itself, escaped when written as JSON.
    Plain,
    /// Validated JSON string content without escapes: it is both the value
    /// and valid JSON text, so it is written without a scan.
    Json,
    /// Validated JSON string content with escapes, written as is.
    Escaped,
}

impl<'a> JsonStr<'a> {
    /// A string whose value is `s` exactly (no escapes to decode).
    #[inline]
    pub const fn new(s: &'a str) -> JsonStr<'a> {
        JsonStr {
            raw: s,
            form: Form::Plain,
        }
    }

    /// The string whose raw JSON content (without the quotes) is `raw`;
    /// validates its escapes and rejects raw control characters.
    pub fn from_json(raw: &'a str) -> Result<JsonStr<'a>> {
        // A bare quote would have ended the string on the wire.
        let bytes = raw.as_bytes();
        let mut escaped = false;
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'"' => return Err(Error::new(ErrorKind::InvalidEscape, i)),
                b'\\' => {
                    escaped = true;
                    i = escape(bytes, i)?;
                }
                0..=0x1f => return Err(Error::new(ErrorKind::ControlCharacter, i)),
                _ => i += 1,
            }
        }
        Ok(JsonStr::from_raw(raw, escaped))
    }

    /// A string read from JSON: `raw` is the content between the quotes of
    /// a string the caller validated (no raw `"` or control characters, every
    /// escape well formed), so the encoders copy it without a scan.
    #[inline]
    pub(crate) fn from_raw(raw: &'a str, escaped: bool) -> JsonStr<'a> {
        debug_assert!(
            !raw.bytes()
                .any(|b| b < 0x20 || (!escaped && matches!(b, b'"' | b'\\'))),
            "not validated JSON string content: {raw:?}"
        );
        let form = if escaped { Form::Escaped } else { Form::Json };
        JsonStr { raw, form }
    }

    /// Rebuilds a string from its parts (see [`form`](Self::form)).
    #[cfg(feature = "bytes")]
    #[inline]
    pub(crate) const fn from_form(raw: &'a str, form: Form) -> JsonStr<'a> {
        JsonStr { raw, form }
    }

    /// What the raw text is; with [`raw`](Self::raw) it rebuilds the string.
    #[cfg(feature = "bytes")]
    #[inline]
    pub(crate) const fn form(&self) -> Form {
        self.form
    }

    /// The raw text when it is valid JSON string content, to be copied
    /// between quotes as is; `None` for a Rust string that needs a scan.
    #[inline]
    pub(crate) const fn json_text(&self) -> Option<&'a str> {
        match self.form {
            Form::Plain => None,
            Form::Json | Form::Escaped => Some(self.raw),
        }
    }

    /// The raw text between the quotes, escapes as written.
    #[inline]
    pub const fn raw(&self) -> &'a str {
        self.raw
    }

    /// Whether the raw text holds escapes (and so differs from the value).
    #[inline]
    pub const fn is_escaped(&self) -> bool {
        matches!(self.form, Form::Escaped)
    }

    /// The value, when it can be borrowed as is (no escapes).
    #[inline]
    pub const fn as_str(&self) -> Option<&'a str> {
        if self.is_escaped() {
            None
        } else {
            Some(self.raw)
        }
    }

    /// The decoded characters, without allocating.
    #[inline]
    pub fn chars(&self) -> Chars<'a> {
        Chars {
            rest: self.raw,
            escaped: self.is_escaped(),
        }
    }

    /// The length in bytes of the decoded value.
    pub fn decoded_len(&self) -> usize {
        if self.is_escaped() {
            self.chars().map(char::len_utf8).sum()
        } else {
            self.raw.len()
        }
    }

    /// Writes the decoded value into `buf` and returns it; fails with
    /// [`ErrorKind::BufferFull`] when `buf` is too small.
    pub fn unescape_into<'b>(&self, buf: &'b mut [u8]) -> Result<&'b str> {
        let mut len = 0;
        if !self.is_escaped() {
            let dst = buf
                .get_mut(..self.raw.len())
                .ok_or(Error::new(ErrorKind::BufferFull, 0))?;
            dst.copy_from_slice(self.raw.as_bytes());
            len = self.raw.len();
        } else {
            for c in self.chars() {
                let n = c.len_utf8();
                let dst = buf
                    .get_mut(len..len + n)
                    .ok_or(Error::new(ErrorKind::BufferFull, len))?;
                c.encode_utf8(dst);
                len += n;
            }
        }
        // Only whole characters were written, so this cannot fail.
        core::str::from_utf8(&buf[..len]).map_err(|_| Error::new(ErrorKind::InvalidUtf8, 0))
    }

    /// The decoded value; allocates only when the string holds escapes.
    #[cfg(feature = "alloc")]
    pub fn to_cow(&self) -> alloc::borrow::Cow<'a, str> {
        if self.is_escaped() {
            alloc::borrow::Cow::Owned(self.chars().collect())
        } else {
            alloc::borrow::Cow::Borrowed(self.raw)
        }
    }
}

impl<'a> From<&'a str> for JsonStr<'a> {
    fn from(s: &'a str) -> Self {
        JsonStr::new(s)
    }
}

impl PartialEq<str> for JsonStr<'_> {
    fn eq(&self, other: &str) -> bool {
        if !self.is_escaped() {
            return self.raw == other;
        }
        let mut rest = other;
        for c in self.chars() {
            let mut it = rest.chars();
            if it.next() != Some(c) {
                return false;
            }
            rest = it.as_str();
        }
        rest.is_empty()
    }
}

impl PartialEq<&str> for JsonStr<'_> {
    fn eq(&self, other: &&str) -> bool {
        *self == **other
    }
}

impl PartialEq for JsonStr<'_> {
    fn eq(&self, other: &JsonStr<'_>) -> bool {
        if !self.is_escaped() && !other.is_escaped() {
            return self.raw == other.raw;
        }
        self.chars().eq(other.chars())
    }
}

impl Eq for JsonStr<'_> {}

impl fmt::Debug for JsonStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for c in self.chars() {
            fmt::Display::fmt(&c.escape_debug(), f)?;
        }
        f.write_str("\"")
    }
}

/// Writes the decoded value.
impl fmt::Display for JsonStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.is_escaped() {
            return f.write_str(self.raw);
        }
        let mut buf = [0u8; 4];
        for c in self.chars() {
            f.write_str(c.encode_utf8(&mut buf))?;
        }
        Ok(())
    }
}

/// Iterator over the decoded characters of a [`JsonStr`].
#[derive(Clone, Debug)]
pub struct Chars<'a> {
    rest: &'a str,
    escaped: bool,
}

impl Iterator for Chars<'_> {
    type Item = char;

    #[inline]
    fn next(&mut self) -> Option<char> {
        let mut it = self.rest.chars();
        let c = it.next()?;
        if c != '\\' || !self.escaped {
            self.rest = it.as_str();
            return Some(c);
        }
        let bytes = self.rest.as_bytes();
        let (c, used) = match bytes.get(1).copied() {
            Some(b'b') => ('\u{8}', 2),
            Some(b'f') => ('\u{c}', 2),
            Some(b'n') => ('\n', 2),
            Some(b'r') => ('\r', 2),
            Some(b't') => ('\t', 2),
            Some(b'u') => decode_u(bytes),
            Some(b) => (b as char, 2),
            None => ('\\', 1),
        };
        self.rest = self.rest.get(used..).unwrap_or("");
        Some(c)
    }
}

/// Decodes `\uXXXX` (and its low surrogate, if any) at the start of `bytes`.
/// The input was validated; anything odd decodes as U+FFFD rather than fail.
fn decode_u(bytes: &[u8]) -> (char, usize) {
    let Ok(hi) = hex4(bytes, 2) else {
        return ('\u{fffd}', bytes.len().min(6));
    };
    if (0xD800..0xDC00).contains(&hi) {
        if let Ok(lo) = hex4(bytes, 8) {
            let c = 0x10000 + (((hi as u32) - 0xD800) << 10) + ((lo as u32).wrapping_sub(0xDC00));
            return (char::from_u32(c).unwrap_or('\u{fffd}'), 12);
        }
    }
    (char::from_u32(hi as u32).unwrap_or('\u{fffd}'), 6)
}
