//! Python objects to compact JSON, written the way Phoenix's encoder (Jason)
//! writes the same data: no spaces, strings escaped by the codec's Jason-
//! compatible writer, floats in Erlang's shortest form (`1.0e20`, `0.1`).
//!
//! | Python | JSON |
//! |---|---|
//! | `None`, `True`, `False` | `null`, `true`, `false` |
//! | `int` (any size) | integer |
//! | `float` (finite) | number, Erlang's `float_to_binary(F, [short])` text |
//! | `str` | string |
//! | `dict` (keys `str` or `int`) | object, in insertion order |
//! | `list`, `tuple` | array |
//!
//! Anything else, NaN and infinities, lone surrogates and nesting deeper
//! than the codec's payload limit are refused.

use phoenix_wire::json::{self, write_str};
use pyo3::ffi::{self as c, PyObject};
use pyo3::prelude::*;

use crate::errors::encode_error;
use crate::ffi;

/// Appends the JSON text of `obj` to `out`.
pub fn write_json(out: &mut Vec<u8>, obj: &Bound<'_, PyAny>) -> PyResult<()> {
    out.reserve(256);
    let mut w = Writer {
        py: obj.py(),
        out,
        types: ffi::ExactTypes::get(),
    };
    // SAFETY: `obj` is a live object, borrowed for the whole call.
    unsafe { w.value(obj.as_ptr(), json::DEFAULT_MAX_DEPTH) }
}

/// Walks the objects with borrowed pointers, as `PyDict_Next` and
/// `PyList_GetItem` hand them out: no reference counting per item.
///
/// That is sound because the walk never runs Python code: it only reads
/// exact built-in types and `str`/`int`/`float`/`dict`/`list`/`tuple`
/// subclasses through C functions that do not call back into Python
/// (`PyDict_Next` reads a dict subclass's storage directly, big ints are
/// formatted without their `__str__`), and it allocates no objects that the
/// garbage collector tracks. So nothing can drop an item while it is read.
/// After an error nothing borrowed is read again.
struct Writer<'o, 'py> {
    py: Python<'py>,
    out: &'o mut Vec<u8>,
    types: ffi::ExactTypes,
}

impl Writer<'_, '_> {
    /// # Safety
    /// `obj` is a live object that stays alive during the call.
    unsafe fn value(&mut self, obj: *mut PyObject, depth: usize) -> PyResult<()> {
        let t = &self.types;
        // SAFETY: `obj` is live.
        let ty = unsafe { c::Py_TYPE(obj) };
        // Exact types first: they are nearly all of what payloads hold, and
        // an exact check is a pointer compare (a subclass check is a call).
        if ty == t.str {
            return unsafe { self.str(obj) };
        }
        if ty == t.int {
            return unsafe { self.int(obj) };
        }
        if ty == t.float {
            return unsafe { self.float(obj) };
        }
        if obj == t.none {
            self.out.extend_from_slice(b"null");
            return Ok(());
        }
        if ty == t.bool {
            let text: &[u8] = if obj == t.true_ { b"true" } else { b"false" };
            self.out.extend_from_slice(text);
            return Ok(());
        }
        let Some(depth) = depth.checked_sub(1) else {
            return Err(encode_error(
                "payload nests too deeply (or refers to itself)",
            ));
        };
        if ty == t.dict {
            return unsafe { self.dict(obj, depth) };
        }
        if ty == t.list {
            return unsafe { self.list(obj, depth) };
        }
        unsafe { self.subclass(obj, depth) }
    }

    /// Subclasses (IntEnum, str enums, OrderedDict, named tuples, ...) and
    /// tuples; anything else is refused.
    ///
    /// # Safety
    /// As for `value`.
    #[cold]
    unsafe fn subclass(&mut self, obj: *mut PyObject, depth: usize) -> PyResult<()> {
        // SAFETY: `obj` is live; the checks read its type's flags.
        unsafe {
            if c::PyLong_Check(obj) != 0 && c::PyBool_Check(obj) == 0 {
                return self.int(obj);
            }
            if c::PyFloat_Check(obj) != 0 {
                return self.float(obj);
            }
            if c::PyUnicode_Check(obj) != 0 {
                return self.str(obj);
            }
            if c::PyDict_Check(obj) != 0 {
                return self.dict(obj, depth);
            }
            if c::PyList_Check(obj) != 0 {
                return self.list(obj, depth);
            }
            if c::PyTuple_Check(obj) != 0 {
                return self.tuple(obj, depth);
            }
            let any = Bound::from_borrowed_ptr(self.py, obj);
            let ty = any.get_type().name()?;
            Err(encode_error(format!("type {ty} is not JSON serializable")))
        }
    }

    /// # Safety
    /// `obj` is a live `str` (or subclass).
    #[inline]
    unsafe fn str(&mut self, obj: *mut PyObject) -> PyResult<()> {
        // SAFETY: per the contract; the text lives as long as `obj`.
        let text = unsafe { ffi::utf8_of(self.py, obj) }
            .map_err(|_| encode_error("str holds a lone surrogate"))?;
        write_json_str(self.out, text);
        Ok(())
    }

    /// # Safety
    /// `obj` is a live `int` (or subclass).
    unsafe fn int(&mut self, obj: *mut PyObject) -> PyResult<()> {
        let mut overflow = 0;
        // SAFETY: `obj` is an int, so no `__index__` is called.
        let v = unsafe { c::PyLong_AsLongLongAndOverflow(obj, &mut overflow) };
        if overflow == 0 && !(v == -1 && unsafe { !c::PyErr_Occurred().is_null() }) {
            self.out
                .extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
            return Ok(());
        }
        // Bigger than i64: Python's own decimal text (Jason writes bignums
        // the same way), never a subclass's `__str__`.
        let text = unsafe { ffi::int_decimal(self.py, obj) }?;
        self.out.extend_from_slice(ffi::str_utf8(&text)?.as_bytes());
        Ok(())
    }

    /// # Safety
    /// `obj` is a live `float` (or subclass).
    #[inline]
    unsafe fn float(&mut self, obj: *mut PyObject) -> PyResult<()> {
        // SAFETY: `obj` is a float, so no `__float__` is called.
        let f = unsafe { c::PyFloat_AsDouble(obj) };
        if !f.is_finite() {
            return Err(encode_error(format!("{f} is not valid JSON")));
        }
        write_erlang_float(self.out, f);
        Ok(())
    }

    /// # Safety
    /// `obj` is a live `dict` (or subclass).
    unsafe fn dict(&mut self, obj: *mut PyObject, depth: usize) -> PyResult<()> {
        self.out.push(b'{');
        let mut pos: c::Py_ssize_t = 0;
        let mut k: *mut PyObject = core::ptr::null_mut();
        let mut v: *mut PyObject = core::ptr::null_mut();
        let mut first = true;
        // SAFETY: `obj` is a dict; the items are borrowed from it, and it is
        // not changed while they are read (see `Writer`).
        while unsafe { c::PyDict_Next(obj, &mut pos, &mut k, &mut v) } != 0 {
            if !first {
                self.out.push(b',');
            }
            first = false;
            unsafe {
                self.key(k)?;
                self.out.push(b':');
                self.value(v, depth)?;
            }
        }
        self.out.push(b'}');
        Ok(())
    }

    /// # Safety
    /// `k` is a live object.
    #[inline]
    unsafe fn key(&mut self, k: *mut PyObject) -> PyResult<()> {
        // SAFETY: `k` is live; the checks read its type.
        unsafe {
            if c::Py_TYPE(k) == self.types.str || c::PyUnicode_Check(k) != 0 {
                return self.str(k);
            }
            if c::PyLong_Check(k) != 0 && c::PyBool_Check(k) == 0 {
                // Jason and `json.dumps` both turn integer keys into strings.
                self.out.push(b'"');
                self.int(k)?;
                self.out.push(b'"');
                return Ok(());
            }
            let any = Bound::from_borrowed_ptr(self.py, k);
            let ty = any.get_type().name()?;
            Err(encode_error(format!(
                "dict key of type {ty} is not a str or int"
            )))
        }
    }

    /// # Safety
    /// `obj` is a live `list` (or subclass).
    unsafe fn list(&mut self, obj: *mut PyObject, depth: usize) -> PyResult<()> {
        self.out.push(b'[');
        // SAFETY: `obj` is a list; it does not change during the walk, so
        // every index below its length holds a live item.
        unsafe {
            for i in 0..c::PyList_Size(obj) {
                if i > 0 {
                    self.out.push(b',');
                }
                self.value(c::PyList_GetItem(obj, i), depth)?;
            }
        }
        self.out.push(b']');
        Ok(())
    }

    /// # Safety
    /// `obj` is a live `tuple` (or subclass).
    unsafe fn tuple(&mut self, obj: *mut PyObject, depth: usize) -> PyResult<()> {
        self.out.push(b'[');
        // SAFETY: tuples are immutable; every index below the length holds
        // a live item.
        unsafe {
            for i in 0..c::PyTuple_Size(obj) {
                if i > 0 {
                    self.out.push(b',');
                }
                self.value(c::PyTuple_GetItem(obj, i), depth)?;
            }
        }
        self.out.push(b']');
        Ok(())
    }
}

/// Writes `s` as a JSON string. Strings that need no escape (nearly all)
/// are copied in one piece; the others go through the codec's
/// Jason-compatible escaper.
#[inline]
fn write_json_str(out: &mut Vec<u8>, s: &str) {
    if needs_escape(s.as_bytes()) {
        // Writing into a Vec cannot fail.
        let _ = write_str(out, s);
        return;
    }
    push_quoted(out, s.as_bytes());
}

/// Appends `"`, `s` and `"`. Payload strings are mostly short, and a
/// `memcpy` call for each cost more than the copy: up to 16 bytes are
/// moved as two overlapping words.
#[inline]
fn push_quoted(out: &mut Vec<u8>, s: &[u8]) {
    let n = s.len();
    out.reserve(n + 2);
    let len = out.len();
    // SAFETY: after `reserve` the buffer has room for `n + 2` more bytes
    // at `len`; all of them are written before `set_len` makes them part
    // of the vector. Reads stay inside `s` (the words overlap rather than
    // run past its end).
    unsafe {
        let dst = out.as_mut_ptr().add(len);
        let src = s.as_ptr();
        dst.write(b'"');
        let body = dst.add(1);
        if (8..=16).contains(&n) {
            let a = src.cast::<u64>().read_unaligned();
            let b = src.add(n - 8).cast::<u64>().read_unaligned();
            body.cast::<u64>().write_unaligned(a);
            body.add(n - 8).cast::<u64>().write_unaligned(b);
        } else if (4..8).contains(&n) {
            let a = src.cast::<u32>().read_unaligned();
            let b = src.add(n - 4).cast::<u32>().read_unaligned();
            body.cast::<u32>().write_unaligned(a);
            body.add(n - 4).cast::<u32>().write_unaligned(b);
        } else if n < 4 {
            // Spelled out: LLVM turns a loop back into a `memcpy` call.
            if n > 0 {
                body.write(src.read());
            }
            if n > 1 {
                body.add(1).write(src.add(1).read());
            }
            if n > 2 {
                body.add(2).write(src.add(2).read());
            }
        } else {
            core::ptr::copy_nonoverlapping(src, body, n);
        }
        body.add(n).write(b'"');
        out.set_len(len + n + 2);
    }
}

/// Whether `bytes` holds a quote, a backslash or a C0 control, checked
/// eight bytes at a time (the last word overlaps the one before; short
/// strings are padded with spaces). UTF-8 bytes beyond ASCII never match.
#[inline]
fn needs_escape(bytes: &[u8]) -> bool {
    let n = bytes.len();
    let word = |i: usize| {
        let mut w = [0u8; 8];
        if let Some(src) = bytes.get(i..i + 8) {
            w.copy_from_slice(src);
        }
        u64::from_le_bytes(w)
    };
    if n < 8 {
        let mut w = [b' '; 8];
        if let Some(dst) = w.get_mut(..n) {
            dst.copy_from_slice(bytes);
        }
        return special(u64::from_le_bytes(w)) != 0;
    }
    let mut i = 0;
    while i + 8 < n {
        if special(word(i)) != 0 {
            return true;
        }
        i += 8;
    }
    special(word(n - 8)) != 0
}

/// A high bit in every byte of `w` below 0x20 or equal to `"` or `\`
/// (exact as a yes/no answer, which is all `needs_escape` asks).
#[inline]
fn special(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    // Below 0x20: a byte >= 0x80 has its high bit set in `w`, which `!w`
    // clears.
    let ctl = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    ctl | zero(w ^ (ONES * u64::from(b'"'))) | zero(w ^ (ONES * u64::from(b'\\')))
}

/// Writes a finite float as Erlang's `float_to_binary(F, [short])` (which
/// Jason uses): the shortest digits that read back to the same float, in
/// plain notation when that is no longer than scientific notation (ties go
/// to plain), always scientific from 2^53 on; a `.0` or `e` is always there.
pub fn write_erlang_float(out: &mut Vec<u8>, f: f64) {
    if f == 0.0 {
        out.extend_from_slice(if f.is_sign_negative() {
            b"-0.0"
        } else {
            b"0.0"
        });
        return;
    }
    let (digits, exp) = Decimal::short_decimal(f.abs()).unwrap_or_else(|| {
        // ryu gives the shortest round-trip digits ("1e20", "0.1",
        // "1.5e-7"); only the digits and the decimal exponent are kept.
        let mut buf = ryu::Buffer::new();
        Decimal::parse(buf.format_finite(f.abs()))
    });
    let digits = digits.as_slice();
    let (first, rest) = digits.split_at(1);
    if f < 0.0 {
        out.push(b'-');
    }
    let mut exp_buf = itoa::Buffer::new();
    let exp_text = exp_buf.format(exp).as_bytes();
    // Scientific: d.ddd e exp, with ".0" when there is a single digit.
    let sci_len = 1 + 1 + rest.len().max(1) + 1 + exp_text.len();
    // Plain: the decimal point sits after `exp + 1` digits.
    let place = exp + 1;
    let n = digits.len() as i32;
    let plain_len = if place <= 0 {
        2 + (-place) as usize + digits.len()
    } else if place >= n {
        place as usize + 2
    } else {
        digits.len() + 1
    };
    let plain = f.abs() < 9_007_199_254_740_992.0 && plain_len <= sci_len;
    if !plain {
        out.extend_from_slice(first);
        out.push(b'.');
        out.extend_from_slice(if rest.is_empty() { b"0" } else { rest });
        out.push(b'e');
        out.extend_from_slice(exp_text);
    } else if place <= 0 {
        out.extend_from_slice(b"0.");
        out.extend(core::iter::repeat_n(b'0', (-place) as usize));
        out.extend_from_slice(digits);
    } else if place >= n {
        out.extend_from_slice(digits);
        out.extend(core::iter::repeat_n(b'0', (place - n) as usize));
        out.extend_from_slice(b".0");
    } else {
        let (int, frac) = digits.split_at(place as usize);
        out.extend_from_slice(int);
        out.push(b'.');
        out.extend_from_slice(frac);
    }
}

/// The significant digits of a positive float's shortest text, without
/// leading or trailing zeros, on the stack.
struct Decimal {
    buf: [u8; 24],
    len: usize,
}

/// Exact powers of ten as `f64` (every one up to 1e22 is representable).
const POW10: [f64; 18] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17,
];

impl Decimal {
    /// The shortest digits of a positive finite `a` that is `m / 10^k` for
    /// an integer `m < 2^50` and a small `k` (readings such as `1234.567`,
    /// nearly all floats in payloads), found with a few float operations
    /// instead of ryu; None for any other float.
    ///
    /// Trying `k = 0, 1, 2, ...`, the first `m = round(a * 10^k)` with
    /// `m / 10^k == a` has the fewest digits: an IEEE division of two
    /// exact values is correctly rounded, so that is exactly the test "the
    /// decimal m·10^-k reads back as `a`"; and below 2^50 the computed
    /// `a * 10^k` is within 0.2 of the exact product, while any decimal at
    /// scale `k` that reads back as `a` is within 0.125 of it, so no such
    /// decimal is missed at a smaller `k`.
    #[inline]
    fn short_decimal(a: f64) -> Option<(Decimal, i32)> {
        const LIMIT: f64 = (1u64 << 50) as f64;
        for (k, &p) in POW10.iter().enumerate() {
            let scaled = a * p;
            if scaled >= LIMIT {
                return None;
            }
            // Round half up: `scaled + 0.5` is exact below 2^50, and the
            // cast truncates (a libm `round` call cost more than the rest).
            let m = (scaled + 0.5) as u64;
            if m >= 1 && m as f64 / p == a {
                return Some(Decimal::from_int(m, k as i32));
            }
        }
        None
    }

    /// The digits of `m * 10^-k` (`m > 0`), trailing zeros dropped.
    fn from_int(m: u64, k: i32) -> (Decimal, i32) {
        let mut itoa_buf = itoa::Buffer::new();
        let text = itoa_buf.format(m).as_bytes();
        let mut d = Decimal {
            buf: [0; 24],
            len: 0,
        };
        let mut len = text.len();
        while len > 1 && text.get(len - 1) == Some(&b'0') {
            len -= 1;
        }
        if let (Some(dst), Some(src)) = (d.buf.get_mut(..len), text.get(..len)) {
            dst.copy_from_slice(src);
            d.len = len;
        }
        (d, text.len() as i32 - 1 - k)
    }

    /// Splits ryu's text into significant digits and the exponent of the
    /// first digit (`1.5e-7` → `15`, -7; `0.0025` → `25`, -3).
    fn parse(text: &str) -> (Decimal, i32) {
        let (mantissa, exp) = text.split_once('e').unwrap_or((text, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let mut d = Decimal {
            buf: [0; 24],
            len: 0,
        };
        // The first digit's exponent, before leading zeros are dropped.
        let mut first_exp = exp + int.len() as i32 - 1;
        let mut leading = true;
        for &c in int.as_bytes().iter().chain(frac.as_bytes()) {
            if leading && c == b'0' {
                first_exp -= 1;
                continue;
            }
            leading = false;
            if let Some(slot) = d.buf.get_mut(d.len) {
                *slot = c;
                d.len += 1;
            }
        }
        while d.len > 1 && d.buf.get(d.len - 1) == Some(&b'0') {
            d.len -= 1;
        }
        (d, first_exp)
    }

    fn as_slice(&self) -> &[u8] {
        self.buf.get(..self.len.max(1)).unwrap_or(b"0")
    }
}
