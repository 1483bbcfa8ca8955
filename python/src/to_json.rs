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
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use crate::errors::encode_error;
use crate::ffi;

/// Appends the JSON text of `obj` to `out`.
pub fn write_json(out: &mut Vec<u8>, obj: &Bound<'_, PyAny>) -> PyResult<()> {
    out.reserve(256);
    Writer { out }.value(obj, json::DEFAULT_MAX_DEPTH)
}

struct Writer<'o> {
    out: &'o mut Vec<u8>,
}

impl Writer<'_> {
    fn value(&mut self, obj: &Bound<'_, PyAny>, depth: usize) -> PyResult<()> {
        // Exact types first: they are nearly all of what payloads hold, and
        // an exact check is a pointer compare (a subclass check is a call).
        if let Ok(s) = obj.cast_exact::<PyString>() {
            return self.str(s);
        }
        if let Ok(i) = obj.cast_exact::<PyInt>() {
            return self.int(i);
        }
        if let Ok(f) = obj.cast_exact::<PyFloat>() {
            return self.float(f.value());
        }
        if obj.is_none() {
            self.out.extend_from_slice(b"null");
            return Ok(());
        }
        if let Ok(b) = obj.cast_exact::<PyBool>() {
            let text: &[u8] = if b.is_true() { b"true" } else { b"false" };
            self.out.extend_from_slice(text);
            return Ok(());
        }
        let Some(depth) = depth.checked_sub(1) else {
            return Err(encode_error(
                "payload nests too deeply (or refers to itself)",
            ));
        };
        if let Ok(d) = obj.cast_exact::<PyDict>() {
            return self.dict(d, depth);
        }
        if let Ok(l) = obj.cast_exact::<PyList>() {
            return self.seq(l.iter(), depth);
        }
        // Subclasses (IntEnum, str enums, OrderedDict, named tuples, ...).
        if let Ok(i) = obj.cast::<PyInt>() {
            return self.int(i);
        }
        if let Ok(f) = obj.cast::<PyFloat>() {
            return self.float(f.value());
        }
        if let Ok(s) = obj.cast::<PyString>() {
            return self.str(s);
        }
        if let Ok(d) = obj.cast::<PyDict>() {
            return self.dict(d, depth);
        }
        if let Ok(l) = obj.cast::<PyList>() {
            return self.seq(l.iter(), depth);
        }
        if let Ok(t) = obj.cast::<PyTuple>() {
            return self.seq(t.iter(), depth);
        }
        let ty = obj.get_type().name()?;
        Err(encode_error(format!("type {ty} is not JSON serializable")))
    }

    fn str(&mut self, s: &Bound<'_, PyString>) -> PyResult<()> {
        let text = ffi::str_utf8(s).map_err(|_| encode_error("str holds a lone surrogate"))?;
        // Writing into a Vec cannot fail.
        write_str(self.out, text).map_err(|e| encode_error(e.to_string()))
    }

    fn int(&mut self, i: &Bound<'_, PyInt>) -> PyResult<()> {
        match i.extract::<i64>() {
            Ok(v) => json::write_i64(self.out, v).map_err(|e| encode_error(e.to_string())),
            // Bigger than i64: Python's own decimal text (Jason writes
            // bignums the same way).
            Err(_) => {
                let text = i.str()?;
                self.out.extend_from_slice(ffi::str_utf8(&text)?.as_bytes());
                Ok(())
            }
        }
    }

    fn float(&mut self, f: f64) -> PyResult<()> {
        if !f.is_finite() {
            return Err(encode_error(format!("{f} is not valid JSON")));
        }
        write_erlang_float(self.out, f);
        Ok(())
    }

    fn dict(&mut self, d: &Bound<'_, PyDict>, depth: usize) -> PyResult<()> {
        self.out.push(b'{');
        for (n, (k, v)) in d.iter().enumerate() {
            if n > 0 {
                self.out.push(b',');
            }
            if let Ok(s) = k.cast::<PyString>() {
                self.str(s)?;
            } else if let (Ok(i), false) = (k.cast::<PyInt>(), k.is_instance_of::<PyBool>()) {
                // Jason and `json.dumps` both turn integer keys into strings.
                self.out.push(b'"');
                self.int(i)?;
                self.out.push(b'"');
            } else {
                let ty = k.get_type().name()?;
                return Err(encode_error(format!(
                    "dict key of type {ty} is not a str or int"
                )));
            }
            self.out.push(b':');
            self.value(&v, depth)?;
        }
        self.out.push(b'}');
        Ok(())
    }

    fn seq<'py>(
        &mut self,
        items: impl Iterator<Item = Bound<'py, PyAny>>,
        depth: usize,
    ) -> PyResult<()> {
        self.out.push(b'[');
        for (n, item) in items.enumerate() {
            if n > 0 {
                self.out.push(b',');
            }
            self.value(&item, depth)?;
        }
        self.out.push(b']');
        Ok(())
    }
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
    // ryu gives the shortest round-trip digits ("1e20", "0.1", "1.5e-7");
    // only the digits and the decimal exponent are kept from its text.
    let mut buf = ryu::Buffer::new();
    let (digits, exp) = Decimal::parse(buf.format_finite(f.abs()));
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

impl Decimal {
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
