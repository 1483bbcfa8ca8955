//! Validated raw JSON with lazy, non-allocating navigation.

use core::fmt;

use crate::error::Result;
use crate::json::scan::Scanner;
use crate::json::JsonStr;

/// The nesting depth allowed by default: 128 levels of arrays and objects.
pub const DEFAULT_MAX_DEPTH: usize = 128;

/// What kind of JSON value a [`RawJson`] holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `null`
    Null,
    /// `true` or `false`
    Bool,
    /// a number
    Number,
    /// a string
    String,
    /// an array
    Array,
    /// an object
    Object,
}

/// One JSON value, validated (strict RFC 8259) and borrowed as written.
///
/// Navigation is lazy: [`get`](Self::get), [`array`](Self::array) and
/// [`object`](Self::object) walk the raw text on demand and never allocate.
///
/// ```
/// use phoenix_wire::json::{Kind, RawJson};
///
/// let v = RawJson::new(r#" {"status":"ok","response":{"ids":[1,2,3]}} "#).unwrap();
/// assert_eq!(v.raw(), r#"{"status":"ok","response":{"ids":[1,2,3]}}"#);
/// assert_eq!(v.get("status").and_then(|s| s.as_string()).unwrap(), "ok");
/// let ids = v.get("response").and_then(|r| r.get("ids")).unwrap();
/// assert_eq!(ids.kind(), Kind::Array);
/// let sum: i64 = ids.array().unwrap().filter_map(|n| n.as_i64()).sum();
/// assert_eq!(sum, 6);
/// assert!(RawJson::new("[01]").is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RawJson<'a> {
    raw: &'a str,
}

/// The literal `null`, for replies without a response.
pub(crate) const NULL: RawJson<'static> = RawJson { raw: "null" };

impl<'a> RawJson<'a> {
    /// `{}`, Phoenix's payload for heartbeats, leaves and empty responses.
    pub const EMPTY_OBJECT: RawJson<'static> = RawJson { raw: "{}" };

    /// Validates `text` as one JSON value (surrounding whitespace allowed and
    /// trimmed), nested at most [`DEFAULT_MAX_DEPTH`] deep.
    pub fn new(text: &'a str) -> Result<RawJson<'a>> {
        Self::with_max_depth(text, DEFAULT_MAX_DEPTH)
    }

    /// Like [`new`](Self::new) for bytes: also checks UTF-8.
    pub fn from_slice(bytes: &'a [u8]) -> Result<RawJson<'a>> {
        Self::new(crate::utf8::to_str(bytes)?)
    }

    /// Like [`new`](Self::new) with a nesting limit of `max_depth` levels
    /// (at most [`MAX_DEPTH_LIMIT`](crate::json::MAX_DEPTH_LIMIT)).
    pub fn with_max_depth(text: &'a str, max_depth: usize) -> Result<RawJson<'a>> {
        let bytes = text.as_bytes();
        let mut s = Scanner::new(bytes, 0);
        s.peek_non_ws();
        let start = s.pos;
        s.value(max_depth)?;
        let end = s.pos;
        s.finish()?;
        Ok(RawJson {
            raw: text.get(start..end).unwrap_or(""),
        })
    }

    /// Wraps `text` without validating it: for JSON the caller's own writer
    /// has just produced, where validating it again would only cost time
    /// (a fifth of encoding a Python payload).
    ///
    /// The caller vouches that `text` is exactly one valid JSON value with
    /// no surrounding whitespace. Nothing unsafe happens if it is not, but
    /// the text is then written into frames as it is, and the accessors
    /// (`get`, `array`, ...) may give wrong answers; use [`new`](Self::new)
    /// for text from anywhere else.
    ///
    /// ```
    /// use phoenix_wire::json::RawJson;
    ///
    /// let v = RawJson::trusted(r#"{"a":[1,2]}"#);
    /// assert_eq!(v.raw(), r#"{"a":[1,2]}"#);
    /// assert_eq!(v, RawJson::new(r#"{"a":[1,2]}"#)?);
    /// assert_eq!(v.get("a").and_then(|a| a.index(1)).and_then(|n| n.as_i64()), Some(2));
    /// # Ok::<(), phoenix_wire::Error>(())
    /// ```
    #[inline]
    pub const fn trusted(text: &'a str) -> RawJson<'a> {
        RawJson { raw: text }
    }

    /// Wraps text that the caller's scanner has already validated.
    #[inline]
    pub(crate) const fn from_validated(raw: &'a str) -> RawJson<'a> {
        RawJson { raw }
    }

    /// The value's text exactly as written (no surrounding whitespace).
    #[inline]
    pub const fn raw(&self) -> &'a str {
        self.raw
    }

    /// The kind of value, from its first byte.
    #[inline]
    pub fn kind(&self) -> Kind {
        match self.raw.as_bytes().first() {
            Some(b'n') => Kind::Null,
            Some(b't' | b'f') => Kind::Bool,
            Some(b'"') => Kind::String,
            Some(b'[') => Kind::Array,
            Some(b'{') => Kind::Object,
            _ => Kind::Number,
        }
    }

    /// Whether the value is `null`.
    #[inline]
    pub fn is_null(&self) -> bool {
        self.raw == "null"
    }

    /// The value of a `true` or `false`.
    pub fn as_bool(&self) -> Option<bool> {
        match self.raw {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        }
    }

    /// The value of a string.
    pub fn as_string(&self) -> Option<JsonStr<'a>> {
        let inner = self.raw.strip_prefix('"')?.strip_suffix('"')?;
        Some(JsonStr::from_raw(inner, inner.as_bytes().contains(&b'\\')))
    }

    /// The value of an integer that fits `i64` (no fraction or exponent).
    pub fn as_i64(&self) -> Option<i64> {
        parse_i64(self.raw)
    }

    /// The value of a number as the nearest `f64` (infinite past its range).
    pub fn as_f64(&self) -> Option<f64> {
        match self.kind() {
            Kind::Number => self.raw.parse().ok(),
            _ => None,
        }
    }

    /// The value at `key` of an object (the first, if the key repeats).
    /// Keys are compared after unescaping.
    pub fn get(&self, key: &str) -> Option<RawJson<'a>> {
        self.object()?.find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// The element at `index` of an array.
    pub fn index(&self, index: usize) -> Option<RawJson<'a>> {
        self.array()?.nth(index)
    }

    /// The elements of an array, or `None` if this is not one.
    pub fn array(&self) -> Option<Array<'a>> {
        (self.kind() == Kind::Array).then(|| Array {
            s: Scanner::new(self.raw.as_bytes(), 1),
            raw: self.raw,
            done: false,
        })
    }

    /// The members of an object, or `None` if this is not one.
    pub fn object(&self) -> Option<Object<'a>> {
        (self.kind() == Kind::Object).then(|| Object {
            s: Scanner::new(self.raw.as_bytes(), 1),
            raw: self.raw,
            done: false,
        })
    }

    /// Deserializes the value into `T`, borrowing strings from the input where
    /// `T` asks for `&str` (and the string has no escapes).
    #[cfg(feature = "serde")]
    pub fn deserialize<T: serde::Deserialize<'a>>(&self) -> Result<T> {
        serde_json::from_str(self.raw).map_err(|e| {
            // serde_json points at a line and column; turn that into a byte offset.
            let mut offset = 0;
            for (n, line) in self.raw.split_inclusive('\n').enumerate() {
                if n + 1 == e.line() {
                    offset += e.column().saturating_sub(1).min(line.len());
                    break;
                }
                offset += line.len();
            }
            crate::Error::new(crate::error::ErrorKind::Serde, offset)
        })
    }
}

/// Reads an integer token; `None` for fractions, exponents and overflow.
pub(crate) fn parse_i64(text: &str) -> Option<i64> {
    let (neg, digits) = match text.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, text),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut v: i64 = 0;
    for b in digits.bytes() {
        let d = (b - b'0') as i64;
        v = v.checked_mul(10)?;
        v = if neg {
            v.checked_sub(d)?
        } else {
            v.checked_add(d)?
        };
    }
    Some(v)
}

impl fmt::Debug for RawJson<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RawJson({})", self.raw)
    }
}

impl fmt::Display for RawJson<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.raw)
    }
}

/// Moves past the next value of a validated container; `None` at its end.
fn next_value<'a>(s: &mut Scanner<'a>, raw: &'a str) -> Option<RawJson<'a>> {
    s.peek_non_ws();
    let start = s.pos;
    s.skip_valid().ok()?;
    Some(RawJson::from_validated(raw.get(start..s.pos)?))
}

/// Consumes the `,` before the next element; returns whether one follows.
fn more(s: &mut Scanner<'_>) -> bool {
    // Right after the opening bracket there is no comma to consume.
    let first = s.pos == 1;
    match s.peek_non_ws() {
        Some(b']' | b'}') | None => false,
        Some(b',') if !first => {
            s.pos += 1;
            true
        }
        Some(_) => first,
    }
}

/// Iterator over the elements of a JSON array.
#[derive(Clone)]
pub struct Array<'a> {
    s: Scanner<'a>,
    raw: &'a str,
    done: bool,
}

impl<'a> Iterator for Array<'a> {
    type Item = RawJson<'a>;

    fn next(&mut self) -> Option<RawJson<'a>> {
        if self.done || !more(&mut self.s) {
            self.done = true;
            return None;
        }
        next_value(&mut self.s, self.raw)
    }
}

/// Iterator over the members of a JSON object, as (key, value) pairs.
#[derive(Clone)]
pub struct Object<'a> {
    s: Scanner<'a>,
    raw: &'a str,
    done: bool,
}

impl<'a> Iterator for Object<'a> {
    type Item = (JsonStr<'a>, RawJson<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || !more(&mut self.s) {
            self.done = true;
            return None;
        }
        let (start, end, escaped) = self.s.key().ok()?;
        let key = JsonStr::from_raw(self.raw.get(start..end)?, escaped);
        Some((key, next_value(&mut self.s, self.raw)?))
    }
}
