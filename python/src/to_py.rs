//! Validated JSON (the codec's [`RawJson`]) to Python objects.
//!
//! The codec has already validated the text, so this only walks it with the
//! codec's lazy navigation and builds objects: `dict`, `list`, `str`, `int`
//! (any size), `float`, `bool`, `None`, as `json.loads` would. Short object
//! keys repeat across messages, so their `str` objects are cached (like
//! orjson's key cache): a hit costs a hash and a compare instead of an
//! allocation, a UTF-8 decode and a fresh hash computed by the `dict`.

use std::cell::RefCell;

use phoenix_wire::json::{JsonStr, Kind, RawJson};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFloat, PyList, PyString};

use crate::ffi;

/// Converts a validated JSON value to Python objects.
pub fn to_py<'py>(py: Python<'py>, v: RawJson<'_>) -> PyResult<Bound<'py, PyAny>> {
    KEYS.with(|cell| match cell.try_borrow_mut() {
        Ok(mut keys) => Converter {
            py,
            keys: Some(&mut keys),
        }
        .value(v),
        // Only reachable if a conversion re-entered itself; go uncached.
        Err(_) => Converter { py, keys: None }.value(v),
    })
}

/// A `str` from a JSON string's content, unescaping if needed.
pub fn json_str<'py>(py: Python<'py>, s: JsonStr<'_>) -> Bound<'py, PyAny> {
    match s.as_str() {
        Some(plain) => PyString::new(py, plain).into_any(),
        None => PyString::new(py, &s.to_cow()).into_any(),
    }
}

struct Converter<'py, 'k> {
    py: Python<'py>,
    keys: Option<&'k mut KeyCache>,
}

impl<'py> Converter<'py, '_> {
    fn value(&mut self, v: RawJson<'_>) -> PyResult<Bound<'py, PyAny>> {
        let py = self.py;
        match v.kind() {
            Kind::Null => Ok(py.None().into_bound(py)),
            Kind::Bool => Ok(pyo3::types::PyBool::new(py, v.raw() == "true")
                .to_owned()
                .into_any()),
            Kind::String => Ok(match v.as_string() {
                Some(s) => json_str(py, s),
                None => PyString::new(py, "").into_any(),
            }),
            Kind::Number => number(py, v.raw()),
            Kind::Array => {
                let items = match v.array() {
                    Some(it) => it.map(|e| self.value(e)).collect::<PyResult<Vec<_>>>()?,
                    None => Vec::new(),
                };
                Ok(PyList::new(py, items)?.into_any())
            }
            Kind::Object => {
                let d = PyDict::new(py);
                if let Some(members) = v.object() {
                    for (k, val) in members {
                        let key = self.key(k);
                        d.set_item(key, self.value(val)?)?;
                    }
                }
                Ok(d.into_any())
            }
        }
    }

    #[inline]
    fn key(&mut self, k: JsonStr<'_>) -> Bound<'py, PyAny> {
        match (k.as_str(), self.keys.as_deref_mut()) {
            (Some(plain), Some(cache)) if plain.len() <= KeyCache::MAX_LEN => {
                cache.get(self.py, plain)
            }
            _ => json_str(self.py, k),
        }
    }
}

/// A JSON number: `int` when it is an integer token (of any size), else
/// `float` (overflowing to infinity like `json.loads`).
fn number<'py>(py: Python<'py>, raw: &str) -> PyResult<Bound<'py, PyAny>> {
    if !raw.bytes().any(|b| matches!(b, b'.' | b'e' | b'E')) {
        return match raw.parse::<i64>() {
            Ok(i) => Ok(i.into_pyobject(py)?.into_any()),
            Err(_) => ffi::new_big_int(py, raw),
        };
    }
    let f: f64 = raw.parse().unwrap_or(f64::NAN);
    Ok(PyFloat::new(py, f).into_any())
}

thread_local! {
    static KEYS: RefCell<KeyCache> = RefCell::new(KeyCache::new());
}

/// A direct-mapped cache of `str` objects for short keys without escapes.
struct KeyCache {
    slots: Vec<Option<Py<PyString>>>,
}

impl KeyCache {
    const SLOTS: usize = 1024;
    const MAX_LEN: usize = 64;

    fn new() -> KeyCache {
        KeyCache {
            slots: (0..Self::SLOTS).map(|_| None).collect(),
        }
    }

    #[inline]
    fn get<'py>(&mut self, py: Python<'py>, key: &str) -> Bound<'py, PyAny> {
        let slot = hash(key.as_bytes()) as usize % Self::SLOTS;
        if let Some(Some(cached)) = self.slots.get(slot) {
            let cached = cached.bind(py);
            if ffi::str_utf8(cached).ok() == Some(key) {
                return cached.clone().into_any();
            }
        }
        let fresh = PyString::new(py, key);
        if let Some(s) = self.slots.get_mut(slot) {
            *s = Some(fresh.clone().unbind());
        }
        fresh.into_any()
    }
}

/// FNV-1a: keys are short, so a simple byte-at-a-time hash is enough.
#[inline]
fn hash(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for &b in bytes {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    h
}
