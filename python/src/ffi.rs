//! The few raw CPython calls the glue needs, each wrapped in a safe function.
//!
//! PyO3's safe API covers everything else; these exist because they are on
//! the hot path (reading a `str` as UTF-8 without copying it, building
//! containers item by item) or are missing from the abi3-py39 bindings.

use core::ffi::c_char;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyString;

extern "C" {
    // Part of the stable ABI only from 3.10, but exported by every CPython
    // 3.x; PyO3 leaves it out of its abi3-py39 bindings. Without it a `str`
    // can only be read as UTF-8 through a fresh `bytes` copy.
    fn PyUnicode_AsUTF8AndSize(o: *mut ffi::PyObject, size: *mut ffi::Py_ssize_t) -> *const c_char;
}

/// The UTF-8 text of a `str`, borrowed from the object (CPython caches the
/// UTF-8 form inside the string, and for ASCII strings it is the data itself).
///
/// Fails (with Python's `UnicodeEncodeError`) on lone surrogates.
#[inline]
pub fn str_utf8<'a>(s: &'a Bound<'_, PyString>) -> PyResult<&'a str> {
    let mut len: ffi::Py_ssize_t = 0;
    // SAFETY: `s` is a live `str`; the returned buffer belongs to it and is
    // neither moved nor freed while it lives (strings are immutable), and
    // `'a` is bounded by the borrow of `s`. CPython encodes it from code
    // points and refuses lone surrogates, so it is valid UTF-8; checking it
    // again cost a fifth of `encode`'s time in callgrind.
    unsafe {
        let p = PyUnicode_AsUTF8AndSize(s.as_ptr(), &mut len);
        if p.is_null() {
            return Err(PyErr::fetch(s.py()));
        }
        let bytes = core::slice::from_raw_parts(p.cast::<u8>(), len as usize);
        Ok(core::str::from_utf8_unchecked(bytes))
    }
}

/// Extends the lifetime of bytes borrowed from a Python `bytes` or `str`
/// to `'static`, for a view stored next to the object that owns them.
///
/// # Safety
/// The caller must keep a strong reference to the object that owns `data`
/// for as long as the returned slice (or anything borrowed from it) is used,
/// and must not hand out the `'static` lifetime.
pub unsafe fn extend(data: &[u8]) -> &'static [u8] {
    // SAFETY: per the contract above; `bytes` and `str` buffers never move.
    unsafe { core::slice::from_raw_parts(data.as_ptr(), data.len()) }
}

/// A new `int` from decimal digits of any length (an optional `-` first).
pub fn new_big_int<'py>(py: Python<'py>, digits: &str) -> PyResult<Bound<'py, PyAny>> {
    new_int_radix(py, digits, 10)
}

/// A new `int` from digits in `radix` (an optional `-` first).
pub fn new_int_radix<'py>(
    py: Python<'py>,
    digits: &str,
    radix: i32,
) -> PyResult<Bound<'py, PyAny>> {
    // PyLong_FromString wants a NUL-terminated string.
    let mut buf = Vec::with_capacity(digits.len() + 1);
    buf.extend_from_slice(digits.as_bytes());
    buf.push(0);
    // SAFETY: `buf` is NUL-terminated and outlives the call.
    unsafe {
        Bound::from_owned_ptr_or_err(
            py,
            ffi::PyLong_FromString(buf.as_ptr().cast(), core::ptr::null_mut(), radix),
        )
    }
}

/// A new `str` from bytes that should be UTF-8; CPython validates them while
/// decoding (a `UnicodeDecodeError` if not), so no separate Rust pass.
pub fn str_from_utf8<'py>(py: Python<'py>, bytes: &[u8]) -> PyResult<Bound<'py, PyString>> {
    // SAFETY: the pointer and length describe `bytes`; the result is a new
    // reference or NULL with an exception set.
    unsafe {
        let p =
            ffi::PyUnicode_FromStringAndSize(bytes.as_ptr().cast(), bytes.len() as ffi::Py_ssize_t);
        Ok(Bound::from_owned_ptr_or_err(py, p)?.cast_into_unchecked())
    }
}

/// The UTF-8 text of a `str` given by pointer; see [`str_utf8`].
///
/// # Safety
/// `obj` must be a live `str` (or subclass) that outlives `'a`.
#[inline]
pub unsafe fn utf8_of<'a>(py: Python<'_>, obj: *mut ffi::PyObject) -> PyResult<&'a str> {
    let mut len: ffi::Py_ssize_t = 0;
    // SAFETY: as in `str_utf8`; the caller keeps `obj` alive for `'a`.
    unsafe {
        let p = PyUnicode_AsUTF8AndSize(obj, &mut len);
        if p.is_null() {
            return Err(PyErr::fetch(py));
        }
        let bytes = core::slice::from_raw_parts(p.cast::<u8>(), len as usize);
        Ok(core::str::from_utf8_unchecked(bytes))
    }
}

/// The decimal text of an `int` (or subclass) as a new `str`, made by
/// CPython's int formatter: a subclass's `__str__`/`__repr__` is not called.
///
/// # Safety
/// `obj` must be a live `int` (or subclass).
pub unsafe fn int_decimal<'py>(
    py: Python<'py>,
    obj: *mut ffi::PyObject,
) -> PyResult<Bound<'py, PyString>> {
    // SAFETY: `PyNumber_ToBase` takes any int (its `__index__` is not called
    // for ints) and returns a new `str` or NULL with an exception set.
    unsafe {
        let s = Bound::from_owned_ptr_or_err(py, ffi::PyNumber_ToBase(obj, 10))?;
        Ok(s.cast_into_unchecked())
    }
}

/// The built-in types (and singletons) the JSON writer tells apart by
/// pointer: an exact type check is one compare.
#[derive(Clone, Copy)]
pub struct ExactTypes {
    pub str: *mut ffi::PyTypeObject,
    pub int: *mut ffi::PyTypeObject,
    pub float: *mut ffi::PyTypeObject,
    pub bool: *mut ffi::PyTypeObject,
    pub dict: *mut ffi::PyTypeObject,
    pub list: *mut ffi::PyTypeObject,
    pub none: *mut ffi::PyObject,
    pub true_: *mut ffi::PyObject,
}

impl ExactTypes {
    /// The interpreter's static types; only their addresses are taken.
    #[inline]
    pub fn get() -> ExactTypes {
        // SAFETY: taking the address of an interpreter static reads nothing.
        unsafe {
            ExactTypes {
                str: &raw mut ffi::PyUnicode_Type,
                int: &raw mut ffi::PyLong_Type,
                float: &raw mut ffi::PyFloat_Type,
                bool: &raw mut ffi::PyBool_Type,
                dict: &raw mut ffi::PyDict_Type,
                list: &raw mut ffi::PyList_Type,
                none: ffi::Py_None(),
                true_: ffi::Py_True(),
            }
        }
    }
}
