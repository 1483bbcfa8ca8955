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
use pyo3::exceptions::PySystemError;
use pyo3::ffi::{self as c, PyObject};
use pyo3::prelude::*;

use crate::dict_reads::Items;
use crate::errors::encode_error;
use crate::ffi;
use crate::gil_cell::GilCell;
use crate::key_texts::KeyTexts;

/// Appends the JSON text of `obj` to `out`.
pub fn write_json(out: &mut Vec<u8>, obj: &Bound<'_, PyAny>) -> PyResult<()> {
    out.reserve(256);
    let py = obj.py();
    KEY_TEXTS.with(py, |key_texts| {
        let mut w = Writer {
            py,
            out,
            types: ffi::ExactTypes::get(),
            err: None,
            direct: ffi::object_reads(),
            key_texts,
        };
        // SAFETY: `obj` is a live object, borrowed for the whole call.
        match unsafe { w.value(obj.as_ptr(), json::DEFAULT_MAX_DEPTH) } {
            Ok(()) => Ok(()),
            Err(Failed) => Err(w
                .err
                .take()
                .unwrap_or_else(|| PySystemError::new_err("encode failed without an error"))),
        }
    })
}

/// The key texts every encode shares (None for an encode that runs while
/// another has them, which only a finalizer or another thread could start).
static KEY_TEXTS: GilCell<KeyTexts> = GilCell::new(KeyTexts::new());

/// Walks the objects with borrowed pointers, as `PyDict_Next` and a list's
/// item array (or `PyList_GetItem`) hand them out: no reference counting
/// per item.
///
/// That is sound because the walk never runs Python code: it only reads
/// exact built-in types and `str`/`int`/`float`/`dict`/`list`/`tuple`
/// subclasses through C functions that do not call back into Python
/// (`PyDict_Next` reads a dict subclass's storage directly, big ints are
/// formatted without their `__str__`), and it allocates no objects that the
/// garbage collector tracks. So nothing can drop an item while it is read.
/// (A key let go by [`KeyTexts`] is freed only if nothing else holds it,
/// so never one of a dict being written, and freeing a `str` runs no
/// code.) After an error nothing borrowed is read again.
struct Writer<'o, 'py> {
    py: Python<'py>,
    out: &'o mut Vec<u8>,
    types: ffi::ExactTypes,
    /// The error behind a [`Failed`] step.
    err: Option<PyErr>,
    /// Whether floats and lists are read straight from their objects (see
    /// [`ffi::object_reads`]).
    direct: bool,
    key_texts: Option<&'o mut KeyTexts>,
}

/// A step of the walk that failed; the error is kept in [`Writer::err`].
///
/// Each step returns a `Result<(), Failed>`, one register: a `PyResult`
/// is several words, returned through memory at every level of the walk
/// and for every item, and made each step set up a large stack frame for
/// moving errors that almost never happen.
struct Failed;

/// What each step of the walk returns.
type Step = Result<(), Failed>;

impl Writer<'_, '_> {
    /// Keeps `e` for [`write_json`] to raise, and fails the step.
    #[cold]
    #[inline(never)]
    fn fail(&mut self, e: PyErr) -> Failed {
        self.err = Some(e);
        Failed
    }

    /// `r`'s value, or the step fails with its error.
    #[inline]
    fn check<T>(&mut self, r: PyResult<T>) -> Result<T, Failed> {
        r.map_err(|e| self.fail(e))
    }

    /// Fails the step with an `EncodeError` naming `obj`'s type, as
    /// `{before}{type}{after}`.
    #[cold]
    #[inline(never)]
    fn refuse_type(&mut self, obj: *mut PyObject, before: &str, after: &str) -> Failed {
        // SAFETY: `obj` is a live object (every caller's contract).
        let any = unsafe { Bound::from_borrowed_ptr(self.py, obj) };
        let e = match any.get_type().name() {
            Ok(ty) => encode_error(format!("{before}{ty}{after}")),
            Err(e) => e,
        };
        self.fail(e)
    }

    /// Writes any value: scalars here, inlined into the loops over dict
    /// and list items (a call per item was a tenth of a payload of small
    /// records), containers and the rest in [`Writer::nested`].
    ///
    /// # Safety
    /// `obj` is a live object that stays alive during the call.
    #[inline(always)]
    unsafe fn value(&mut self, obj: *mut PyObject, depth: usize) -> Step {
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
        // SAFETY: per the contract.
        unsafe { self.nested(obj, depth) }
    }

    /// Dicts, lists and everything that is not an exact scalar type.
    ///
    /// # Safety
    /// As for `value`.
    #[inline(never)]
    unsafe fn nested(&mut self, obj: *mut PyObject, depth: usize) -> Step {
        let t = &self.types;
        // SAFETY: `obj` is live.
        let ty = unsafe { c::Py_TYPE(obj) };
        let Some(depth) = depth.checked_sub(1) else {
            let e = encode_error("payload nests too deeply (or refers to itself)");
            return Err(self.fail(e));
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
    unsafe fn subclass(&mut self, obj: *mut PyObject, depth: usize) -> Step {
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
            Err(self.refuse_type(obj, "type ", " is not JSON serializable"))
        }
    }

    /// # Safety
    /// `obj` is a live `str` (or subclass).
    #[inline(always)]
    unsafe fn str(&mut self, obj: *mut PyObject) -> Step {
        // SAFETY: per the contract; the text lives as long as `obj`.
        match unsafe { ffi::utf8_of(self.py, obj) } {
            Ok(text) => {
                write_json_str(self.out, text);
                Ok(())
            }
            Err(_) => Err(self.fail(encode_error("str holds a lone surrogate"))),
        }
    }

    /// # Safety
    /// `obj` is a live `int` (or subclass).
    #[inline(always)]
    unsafe fn int(&mut self, obj: *mut PyObject) -> Step {
        // SAFETY: `obj` is live, and an exact `int` where it is read.
        if unsafe { c::Py_TYPE(obj) } == self.types.int {
            if let Some(v) = unsafe { ffi::small_int(obj) } {
                write_int(self.out, v);
                return Ok(());
            }
        }
        let mut overflow = 0;
        // SAFETY: `obj` is an int, so no `__index__` is called.
        let v = unsafe { c::PyLong_AsLongLongAndOverflow(obj, &mut overflow) };
        if overflow == 0 && !(v == -1 && unsafe { !c::PyErr_Occurred().is_null() }) {
            write_int(self.out, v);
            return Ok(());
        }
        // SAFETY: per the contract.
        unsafe { self.big_int(obj) }
    }

    /// An `int` beyond `i64`: Python's own decimal text (Jason writes
    /// bignums the same way), never a subclass's `__str__`. Out of line, so
    /// that `int` needs no stack frame for Python objects and errors.
    ///
    /// # Safety
    /// `obj` is a live `int` (or subclass).
    #[cold]
    #[inline(never)]
    unsafe fn big_int(&mut self, obj: *mut PyObject) -> Step {
        // SAFETY: per the contract.
        let text = unsafe { ffi::int_decimal(self.py, obj) };
        let text = self.check(text)?;
        let digits = self.check(ffi::str_utf8(&text))?;
        self.out.extend_from_slice(digits.as_bytes());
        Ok(())
    }

    /// # Safety
    /// `obj` is a live `float` (or subclass).
    #[inline]
    unsafe fn float(&mut self, obj: *mut PyObject) -> Step {
        let f = if self.direct {
            // SAFETY: `obj` is a float, laid out as `ffi::init` checked.
            unsafe { ffi::float_value(obj) }
        } else {
            // SAFETY: `obj` is a float, so no `__float__` is called.
            unsafe { c::PyFloat_AsDouble(obj) }
        };
        if !f.is_finite() {
            return Err(self.fail(encode_error(format!("{f} is not valid JSON"))));
        }
        write_erlang_float(self.out, f);
        Ok(())
    }

    /// # Safety
    /// `obj` is a live `dict` (or subclass).
    unsafe fn dict(&mut self, obj: *mut PyObject, depth: usize) -> Step {
        // Written with each key, in the same reservation: `{` before the
        // first, `,` before the others.
        let mut sep = b'{';
        // SAFETY: `obj` is a dict; the items are borrowed from it, and it is
        // not changed while they are read (see `Writer`).
        unsafe {
            let mut items = Items::of(obj);
            while let Some((k, v)) = items.next() {
                self.key(k, sep)?;
                sep = b',';
                self.value(v, depth)?;
            }
        }
        if sep == b'{' {
            self.out.push(b'{');
        }
        self.out.push(b'}');
        Ok(())
    }

    /// # Safety
    /// `k` is a live object.
    #[inline(always)]
    unsafe fn key(&mut self, k: *mut PyObject, sep: u8) -> Step {
        if let Some(texts) = &self.key_texts {
            if texts.write(self.out, k, sep) {
                return Ok(());
            }
        }
        // SAFETY: per the contract.
        unsafe { self.new_key(k, sep) }
    }

    /// A key not in [`KeyTexts`]: written, and kept there if it is an
    /// exact `str`.
    ///
    /// # Safety
    /// `k` is a live object.
    #[inline(never)]
    unsafe fn new_key(&mut self, k: *mut PyObject, sep: u8) -> Step {
        // SAFETY: `k` is live; the checks read its type.
        unsafe {
            let exact = c::Py_TYPE(k) == self.types.str;
            if exact || c::PyUnicode_Check(k) != 0 {
                let Ok(text) = ffi::utf8_of(self.py, k) else {
                    return Err(self.fail(encode_error("str holds a lone surrogate")));
                };
                let start = self.out.len();
                write_quoted::<true>(self.out, text, sep);
                if let (true, Some(texts)) = (exact, self.key_texts.as_deref_mut()) {
                    // What follows `sep` is the key's text.
                    texts.insert(k, &self.out[start + 1..]);
                }
                return Ok(());
            }
            if c::PyLong_Check(k) != 0 && c::PyBool_Check(k) == 0 {
                // Jason and `json.dumps` both turn integer keys into strings.
                self.out.extend_from_slice(&[sep, b'"']);
                self.int(k)?;
                self.out.extend_from_slice(b"\":");
                return Ok(());
            }
            Err(self.refuse_type(k, "dict key of type ", " is not a str or int"))
        }
    }

    /// # Safety
    /// `obj` is a live `list` (or subclass).
    unsafe fn list(&mut self, obj: *mut PyObject, depth: usize) -> Step {
        // SAFETY: `obj` is a list; it does not change during the walk, so
        // every index below its length holds a live item. With direct
        // reads its item array and length are read where `ffi::init`
        // checked they are (a list subclass starts with a list's fields).
        unsafe {
            if self.direct {
                let (items, n) = ffi::list_items(obj);
                return self.array(n, |i| *items.offset(i), depth);
            }
            self.array(c::PyList_Size(obj), |i| c::PyList_GetItem(obj, i), depth)
        }
    }

    /// # Safety
    /// `obj` is a live `tuple` (or subclass).
    unsafe fn tuple(&mut self, obj: *mut PyObject, depth: usize) -> Step {
        // SAFETY: tuples are immutable; every index below the length holds
        // a live item.
        unsafe { self.array(c::PyTuple_Size(obj), |i| c::PyTuple_GetItem(obj, i), depth) }
    }

    /// A JSON array of the `n` items `item` gives.
    ///
    /// # Safety
    /// `item(i)` is a live object for every `i` in `0..n`.
    #[inline(always)]
    unsafe fn array(
        &mut self,
        n: isize,
        item: impl Fn(isize) -> *mut PyObject,
        depth: usize,
    ) -> Step {
        self.out.push(b'[');
        for i in 0..n {
            if i > 0 {
                self.out.push(b',');
            }
            // SAFETY: the caller's promise.
            unsafe { self.value(item(i), depth)? };
        }
        self.out.push(b']');
        Ok(())
    }
}

/// Writes `s` as a JSON string.
#[inline]
fn write_json_str(out: &mut Vec<u8>, s: &str) {
    write_quoted::<false>(out, s, 0);
}

/// Writes `s` as a JSON string, as a value, or with `KEY` as an object key:
/// `sep` (`{` or `,`) before it and `:` after it, in the same reservation
/// and length update as the string (three separate pushes per item cost
/// more than copying a short key). Strings that need no escape (nearly
/// all) are copied in one piece; the others go through the codec's
/// Jason-compatible escaper.
#[inline]
fn write_quoted<const KEY: bool>(out: &mut Vec<u8>, s: &str, sep: u8) {
    let bytes = s.as_bytes();
    let copied = if bytes.len() < 16 {
        copy_quoted_short::<KEY>(out, bytes, sep)
    } else {
        copy_quoted_long::<KEY>(out, bytes, sep)
    };
    if !copied {
        write_slow::<KEY>(out, s, sep);
    }
}

/// [`write_quoted`] for strings the copies refused (escapes, or long ones
/// where there is no SSE2).
#[cold]
#[inline(never)]
fn write_slow<const KEY: bool>(out: &mut Vec<u8>, s: &str, sep: u8) {
    if KEY {
        out.push(sep);
    }
    if needs_escape(s.as_bytes()) {
        // Writing into a Vec cannot fail.
        let _ = write_str(out, s);
    } else {
        push_quoted(out, s.as_bytes());
    }
    if KEY {
        out.push(b':');
    }
}

/// [`copy_quoted16`] where there is SSE2; elsewhere long strings take the
/// slow path.
#[inline(always)]
fn copy_quoted_long<const KEY: bool>(out: &mut Vec<u8>, s: &[u8], sep: u8) -> bool {
    #[cfg(target_arch = "x86_64")]
    return copy_quoted16::<KEY>(out, s, sep);
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (out, s, sep);
        false
    }
}

/// Writes the frame around a string of `n` bytes copied at `dst`: the
/// quotes, and with `KEY` `sep` before and `:` after.
///
/// # Safety
/// `KEY as usize + 1` bytes before `dst` and `n + 1 + KEY as usize` from
/// it are writable.
#[inline(always)]
unsafe fn put_frame<const KEY: bool>(dst: *mut u8, n: usize, sep: u8) {
    // SAFETY: per the contract.
    unsafe {
        dst.sub(1).write(b'"');
        dst.add(n).write(b'"');
        if KEY {
            dst.sub(2).write(sep);
            dst.add(n + 1).write(b':');
        }
    }
}

/// Appends `s` (under 16 bytes: most keys and many values) quoted, with
/// each byte loaded once: two overlapping words (or single bytes below
/// four) are checked for bytes that need escaping and stored as they are.
/// Checking and then copying loaded and branched on the length twice, a
/// quarter of writing a short string. With `KEY`, framed as a key (see
/// [`write_quoted`]). Returns false, with `out` as it was, if `s` needs an
/// escape.
#[inline(always)]
fn copy_quoted_short<const KEY: bool>(out: &mut Vec<u8>, s: &[u8], sep: u8) -> bool {
    let n = s.len();
    if n >= 16 {
        return false;
    }
    // The string, its quotes, and with `KEY` the separator and colon.
    let framed = n + 2 + 2 * usize::from(KEY);
    out.reserve(framed);
    let start = out.len();
    // SAFETY: after `reserve` there is room for `framed` bytes at `start`.
    // Every load reads inside `s` (the two words overlap rather than run
    // past its end) and every store writes inside the `n` bytes at `dst`;
    // `put_frame` writes the rest, and `set_len` runs only once all
    // `framed` bytes are written. On an early return the bytes written
    // stay spare capacity.
    unsafe {
        let src = s.as_ptr();
        let dst = out.as_mut_ptr().add(start + 1 + usize::from(KEY));
        let word = if n >= 8 {
            let lo = src.cast::<u64>().read_unaligned();
            let hi = src.add(n - 8).cast::<u64>().read_unaligned();
            dst.cast::<u64>().write_unaligned(lo);
            dst.add(n - 8).cast::<u64>().write_unaligned(hi);
            special(lo) | special(hi)
        } else if n >= 4 {
            let lo = src.cast::<u32>().read_unaligned();
            let hi = src.add(n - 4).cast::<u32>().read_unaligned();
            dst.cast::<u32>().write_unaligned(lo);
            dst.add(n - 4).cast::<u32>().write_unaligned(hi);
            special(u64::from(lo) | u64::from(hi) << 32)
        } else if n > 0 {
            // Bytes 0, n / 2 and n - 1 are every byte of a string of one
            // to three bytes, read and written without a loop; checked
            // over spaces, which never need escaping.
            let (a, b, c) = (src.read(), src.add(n / 2).read(), src.add(n - 1).read());
            dst.write(a);
            dst.add(n / 2).write(b);
            dst.add(n - 1).write(c);
            special(u64::from_le_bytes([a, b, c, b' ', b' ', b' ', b' ', b' ']))
        } else {
            0
        };
        if word != 0 {
            return false;
        }
        put_frame::<KEY>(dst, n, sep);
        out.set_len(start + framed);
    }
    true
}

/// Appends `s` (at least 16 bytes) quoted, checking and copying sixteen
/// bytes at a time in one pass: a scan and then a separate copy (a
/// `memcpy` call past 32 bytes) read every string twice, and were a fifth
/// of encoding a payload of short strings. With `KEY`, framed as a key
/// (see [`write_quoted`]). Returns false, with `out` as it was, if `s`
/// needs an escape.
#[cfg(target_arch = "x86_64")]
#[inline]
fn copy_quoted16<const KEY: bool>(out: &mut Vec<u8>, s: &[u8], sep: u8) -> bool {
    use core::arch::x86_64::{_mm_loadu_si128, _mm_storeu_si128};
    let n = s.len();
    if n < 16 {
        return false;
    }
    // The string, its quotes, and with `KEY` the separator and colon.
    let framed = n + 2 + 2 * usize::from(KEY);
    out.reserve(framed);
    let start = out.len();
    // SAFETY: after `reserve` there is room for `framed` bytes at `start`;
    // every load reads 16 bytes of `s` starting at most at `n - 16` (the
    // last overlaps the one before), and every store writes 16 bytes
    // inside the `n` bytes at `dst`; `put_frame` writes the rest. `set_len`
    // runs only once all `framed` bytes are written; on an early return
    // the bytes written past the length are spare capacity, which the slow
    // path then overwrites.
    unsafe {
        let dst = out.as_mut_ptr().add(start + 1 + usize::from(KEY));
        let copy = |i: usize| {
            let w = _mm_loadu_si128(s.as_ptr().add(i).cast());
            _mm_storeu_si128(dst.add(i).cast(), w);
            special16(w)
        };
        let mut i = 0;
        while i + 16 < n {
            if copy(i) {
                return false;
            }
            i += 16;
        }
        if copy(n - 16) {
            return false;
        }
        put_frame::<KEY>(dst, n, sep);
        out.set_len(start + framed);
    }
    true
}

/// Whether any of the 16 bytes is a quote, a backslash or a C0 control.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn special16(w: core::arch::x86_64::__m128i) -> bool {
    use core::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_max_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    // SAFETY: SSE2 is part of the x86-64 baseline, so every CPU this code
    // runs on has it.
    unsafe {
        let quote = _mm_cmpeq_epi8(w, _mm_set1_epi8(b'"' as i8));
        let backslash = _mm_cmpeq_epi8(w, _mm_set1_epi8(b'\\' as i8));
        // max(w, 0x1f) == 0x1f exactly for the bytes up to 0x1f.
        let ctl = _mm_set1_epi8(0x1f);
        let control = _mm_cmpeq_epi8(_mm_max_epu8(w, ctl), ctl);
        _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control)) != 0
    }
}

/// Appends `"`, `s` and `"` with one capacity check.
#[inline]
fn push_quoted(out: &mut Vec<u8>, s: &[u8]) {
    let n = s.len();
    if n > 32 {
        out.reserve(n + 2);
        out.push(b'"');
        out.extend_from_slice(s);
        out.push(b'"');
        return;
    }
    out.reserve(n + 2);
    let len = out.len();
    // SAFETY: after `reserve` there is room for `n + 2` bytes at `len`;
    // `copy_small` writes the `n` in the middle (n <= 32), and all of them
    // are written before `set_len` makes them part of the vector.
    unsafe {
        let dst = out.as_mut_ptr().add(len);
        dst.write(b'"');
        copy_small(s.as_ptr(), dst.add(1), n);
        dst.add(n + 1).write(b'"');
        out.set_len(len + n + 2);
    }
}

/// Copies `n <= 32` bytes. Payload strings and numbers are mostly short,
/// and a `memcpy` call for each cost more than the copy: two overlapping
/// 16- or 8-byte words (or halves, or single bytes) instead.
///
/// # Safety
/// `src` is readable and `dst` writable for `n` bytes, `n <= 32`, and they
/// do not overlap.
#[inline(always)]
unsafe fn copy_small(src: *const u8, dst: *mut u8, n: usize) {
    // SAFETY: every read and write below stays inside the first `n` bytes
    // (the words overlap rather than run past the end).
    unsafe {
        if n >= 16 {
            let a = src.cast::<u128>().read_unaligned();
            let b = src.add(n - 16).cast::<u128>().read_unaligned();
            dst.cast::<u128>().write_unaligned(a);
            dst.add(n - 16).cast::<u128>().write_unaligned(b);
        } else if n >= 8 {
            let a = src.cast::<u64>().read_unaligned();
            let b = src.add(n - 8).cast::<u64>().read_unaligned();
            dst.cast::<u64>().write_unaligned(a);
            dst.add(n - 8).cast::<u64>().write_unaligned(b);
        } else if n >= 4 {
            let a = src.cast::<u32>().read_unaligned();
            let b = src.add(n - 4).cast::<u32>().read_unaligned();
            dst.cast::<u32>().write_unaligned(a);
            dst.add(n - 4).cast::<u32>().write_unaligned(b);
        } else {
            // Spelled out: LLVM turns a loop back into a `memcpy` call.
            if n > 0 {
                dst.write(src.read());
            }
            if n > 1 {
                dst.add(1).write(src.add(1).read());
            }
            if n > 2 {
                dst.add(2).write(src.add(2).read());
            }
        }
    }
}

/// Whether `bytes` holds a quote, a backslash or a C0 control (UTF-8
/// bytes beyond ASCII never match): sixteen bytes at a time with SSE2,
/// which every x86-64 CPU has.
#[cfg(target_arch = "x86_64")]
#[inline]
fn needs_escape(bytes: &[u8]) -> bool {
    use core::arch::x86_64::_mm_loadu_si128;
    let n = bytes.len();
    if n < 16 {
        return needs_escape_swar(bytes);
    }
    let special = special16;
    // SAFETY: each load reads 16 bytes starting at `i <= n - 16`, inside
    // `bytes` (the last one overlaps the one before).
    let load = |i: usize| unsafe { _mm_loadu_si128(bytes.as_ptr().add(i).cast()) };
    let mut i = 0;
    while i + 16 < n {
        if special(load(i)) {
            return true;
        }
        i += 16;
    }
    special(load(n - 16))
}

/// [`needs_escape`] on other targets.
#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn needs_escape(bytes: &[u8]) -> bool {
    needs_escape_swar(bytes)
}

/// [`needs_escape`] eight bytes at a time in a `u64` (the last word
/// overlaps the one before; short strings are padded with spaces).
#[inline]
fn needs_escape_swar(bytes: &[u8]) -> bool {
    let n = bytes.len();
    let word = |i: usize| {
        let mut w = [0u8; 8];
        if let Some(src) = bytes.get(i..i + 8) {
            w.copy_from_slice(src);
        }
        u64::from_le_bytes(w)
    };
    if n < 8 {
        return special(small_word(bytes)) != 0;
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

/// Every byte of a slice shorter than eight bytes in one word, without a
/// `memcpy` call: two overlapping halves from four bytes on, else the
/// bytes one by one over spaces (which never need escaping).
#[inline]
fn small_word(bytes: &[u8]) -> u64 {
    let half = |i: usize| {
        let mut w = [0u8; 4];
        if let Some(src) = bytes.get(i..i + 4) {
            w.copy_from_slice(src);
        }
        u64::from(u32::from_le_bytes(w))
    };
    let n = bytes.len();
    if n >= 4 {
        return half(0) | (half(n - 4) << 32);
    }
    let mut w = [b' '; 8];
    for (dst, &b) in w.iter_mut().zip(bytes.iter().take(3)) {
        *dst = b;
    }
    u64::from_le_bytes(w)
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
    match scaled(f.abs()) {
        Some((m, k)) => write_scaled(out, f < 0.0, m, k),
        None => write_other_float(out, f),
    }
}

/// Writes `v` in decimal, straight into the spare capacity, as the codec's
/// [`json::write_decimal`] writes into a slice: from the last digit back,
/// two at a time from a table. The codec's writer needs initialized bytes,
/// and zeroing them first (or copying its text out of a buffer of its own)
/// made an integer cost nearly twice as much. (A codec writer generic over
/// `u8` and `MaybeUninit<u8>` slots, tried in session 6 to share one table
/// and one body, was slower too: 5.95 / 7.46 / 10.87 ns per list element
/// for small, 5-digit and negative 7-digit ints, against 4.92 / 5.31 /
/// 7.07 ns here: its bounds checks sit on every pair.)
#[inline]
fn write_int(out: &mut Vec<u8>, v: i64) {
    let mut m = v.unsigned_abs();
    let n = json::decimal_len(v);
    out.reserve(n);
    let len = out.len();
    // SAFETY: `n` bytes (the sign and the digits) are reserved at `len`;
    // every write below is inside them, and each of them is written once
    // (the sign first, the digits from the end back to it).
    unsafe {
        let base = out.as_mut_ptr().add(len);
        base.write(b'-');
        let mut end = base.add(n);
        let pair = |end: *mut u8, d: u64| {
            let at = 2 * d as usize;
            end.cast::<[u8; 2]>()
                .write_unaligned([PAIRS[at], PAIRS[at + 1]]);
        };
        while m >= 10_000 {
            let r = m % 10_000;
            m /= 10_000;
            end = end.sub(4);
            pair(end, r / 100);
            pair(end.add(2), r % 100);
        }
        if m >= 100 {
            end = end.sub(2);
            pair(end, m % 100);
            m /= 100;
        }
        if m >= 10 {
            pair(end.sub(2), m);
        } else {
            end.sub(1).write(b'0' + m as u8);
        }
        out.set_len(len + n);
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

/// [`write_erlang_float`] for zero and the floats [`scaled`] refuses: from
/// ryu's shortest digits.
#[cold]
#[inline(never)]
fn write_other_float(out: &mut Vec<u8>, f: f64) {
    if f == 0.0 {
        out.extend_from_slice(if f.is_sign_negative() {
            b"-0.0"
        } else {
            b"0.0"
        });
        return;
    }
    // ryu gives the shortest round-trip digits ("1e20", "0.1", "1.5e-7");
    // only the digits and the decimal exponent are kept.
    let mut buf = ryu::Buffer::new();
    let (digits, exp) = Decimal::parse(buf.format_finite(f.abs()));
    let mut t = Text::new(out);
    if f < 0.0 {
        t.byte(b'-');
    }
    let n = digits.len.max(1);
    let place = exp + 1;
    let plain = f.abs() < 9_007_199_254_740_992.0 && plain_is_shorter(n, exp);
    if !plain {
        t.digits(&digits, 0, 1);
        t.byte(b'.');
        if n == 1 {
            t.byte(b'0');
        } else {
            t.digits(&digits, 1, n - 1);
        }
        t.byte(b'e');
        t.int(exp);
    } else if place <= 0 {
        t.byte(b'0');
        t.byte(b'.');
        t.zeros(place.unsigned_abs() as usize);
        t.digits(&digits, 0, n);
    } else if place as usize >= n {
        t.digits(&digits, 0, n);
        t.zeros(place as usize - n);
        t.byte(b'.');
        t.byte(b'0');
    } else {
        let place = place as usize;
        t.digits(&digits, 0, place);
        t.byte(b'.');
        t.digits(&digits, place, n - place);
    }
    t.finish();
}

/// Whether Erlang writes `n` significant digits whose first has the
/// decimal exponent `exp` in plain notation (below 2^53): when that is no
/// longer than scientific notation, `d.ddde±x` (`d.0e±x` for one digit).
#[inline(always)]
fn plain_is_shorter(n: usize, exp: i32) -> bool {
    let e = exp.unsigned_abs();
    let exp_len = 1 + usize::from(exp < 0) + usize::from(e >= 10) + usize::from(e >= 100);
    let sci_len = 1 + 1 + (n - 1).max(1) + 1 + exp_len;
    // Plain: the decimal point sits after `exp + 1` digits.
    let place = exp + 1;
    let plain_len = if place <= 0 {
        2 + place.unsigned_abs() as usize + n
    } else if place as usize >= n {
        place as usize + 2
    } else {
        n + 1
    };
    plain_len <= sci_len
}

/// Exact powers of ten as `f64` (every one up to 1e22 is representable).
const POW10: [f64; 18] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17,
];

/// A positive `a` as `m / 10^k` for an integer `0 < m < 2^50` and
/// `k <= 17`, such that `m` without its trailing zeros is the shortest
/// decimal that reads back as `a` (readings such as `1234.567`: nearly all
/// floats in payloads); None for zero and any other float.
///
/// One scale `k` is tried, the largest (up to 17) that the exponent of `a`
/// shows keeps `a * 10^k` below 2^50. `m = round(a * 10^k)` passes
/// `m / 10^k == a` exactly when the decimal m·10^-k reads back as `a` (an
/// IEEE division of two exact values is correctly rounded). Below 2^50 the
/// computed product is within 1/16 of the exact one, and any decimal at a
/// scale up to `k` that reads back as `a` is within 1/8 of it (half an ulp
/// of `a`, times 10^k), so it is that same `m`; a decimal at a larger
/// scale that reads back has more digits than `m`. (Trying each scale from
/// 0 up, a division each, until one read back cost more for readings with
/// many decimals.)
#[inline(always)]
fn scaled(a: f64) -> Option<(u64, i32)> {
    // `a < 2^(e2 + 1)`; for zero and subnormals `e2` is too small, which
    // only makes `m` zero.
    let e2 = ((a.to_bits() >> 52) & 0x7ff) as i32 - 1023;
    let room = 49 - e2;
    if room < 0 {
        return None;
    }
    // floor(room * log10(2)), rounded down (78913 / 2^18 is just below
    // log10(2)), so that 10^k <= 2^room and a * 10^k < 2^50.
    let k = ((room * 78913) >> 18).min(17);
    let p = *POW10.get(k as usize)?;
    // Adding 2^52 rounds the product to an integer, which is then the low
    // bits of the sum (2^52 <= sum < 2^53, where floats are the integers):
    // shorter than a conversion instruction, and every float is waiting
    // for the one before it to know where its text starts. (How a tie is
    // rounded does not matter: a decimal that reads back as `a` is within
    // 3/16 of the product, so a tie fails the check either way.)
    const TWO52: f64 = 4_503_599_627_370_496.0;
    let sum = a * p + TWO52;
    let m = sum.to_bits() & ((1 << 52) - 1);
    (m >= 1 && (sum - TWO52) / p == a).then_some((m, k))
}

/// How many of the decimal digits of `x` (`0 <= x < 10^8`) at the end are
/// zeros, 8 for zero. Each power of ten is tested at once, each with a
/// multiplication by the inverse of 5^j modulo 2^32 and a rotation (the
/// result is small exactly when 10^j divides `x`), rather than a chain of
/// divisions.
#[inline(always)]
fn trailing_zeros8(x: u32) -> u32 {
    // The inverses of 5, 25, ..., 5^7 modulo 2^32.
    const INV: [u32; 7] = [
        0xcccc_cccd,
        0xc28f_5c29,
        0x26e9_78d5,
        0x3afb_7e91,
        0x0bcb_e61d,
        0x68c2_6139,
        0xae8d_46a5,
    ];
    if x == 0 {
        return 8;
    }
    let mut count = 0;
    let mut pow = 1u32;
    for (j, inv) in INV.iter().enumerate() {
        pow *= 10;
        let j = j as u32 + 1;
        count += u32::from(x.wrapping_mul(*inv).rotate_right(j) <= u32::MAX / pow);
    }
    count
}

/// The eight decimal digits of `x < 10^8` as byte values 0-9 in a word,
/// the most significant in the lowest byte (first in memory): halves,
/// quarters and single digits split in parallel lanes by multiplying with
/// reciprocals, without a division or a store per digit.
#[inline(always)]
fn digits8(x: u64) -> u64 {
    // Four-digit halves in 32-bit lanes.
    let v = (x / 10_000) | ((x % 10_000) << 32);
    // Two-digit quarters in 16-bit lanes: 5243 / 2^19 is 1/100 closely
    // enough for every lane value below 10^4.
    let q = ((v * 5243) >> 19) & 0x0000_007f_0000_007f;
    let v = q | (v - q * 100) << 16;
    // Digits in bytes: 103 / 2^10 is 1/10 for lane values below 100.
    let q = ((v * 103) >> 10) & 0x000f_000f_000f_000f;
    q | (v - q * 10) << 8
}

/// Writes `m · 10^-k` (`0 < m < 2^50`, `m` without trailing zeros the
/// shortest digits, from [`scaled`]) with a `-` if `neg`, as
/// [`write_erlang_float`] does.
///
/// All sixteen digits of `m`, zero-padded, are made in one 128-bit
/// register, and the text is written as overlapping 16-byte stores into
/// the spare capacity, each part shifted into place: digits written to the
/// stack and read back by wider loads stalled the CPU (a store cannot be
/// forwarded to a wider load). The text's length is worked out from `m`
/// directly, not from the digits, because each item of a payload waits for
/// the one before to know where its text starts.
#[inline(always)]
fn write_scaled(out: &mut Vec<u8>, neg: bool, m: u64, k: i32) {
    const ZEROS: u128 = u128::from_le_bytes([b'0'; 16]);
    let (hi, lo) = (m / 100_000_000, m % 100_000_000);
    let raw = u128::from(digits8(hi)) | u128::from(digits8(lo)) << 64;
    // Counted from `m` rather than from `raw`, which takes longer to make:
    // the next item's place in the output waits for this text's length.
    // `m < 2^50` fits an `i64`.
    let lead = 16 - json::decimal_len(m as i64) as u32;
    let trail = match trailing_zeros8(lo as u32) {
        8 => 8 + trailing_zeros8(hi as u32),
        t => t,
    };
    // The significant digits, as text from the first byte on.
    let sig = (raw | ZEROS) >> (8 * lead);
    let n = (16 - lead - trail) as usize;
    // The decimal exponent of the first significant digit.
    let exp = 15 - lead as i32 - k;
    let place = exp + 1;
    // Every store below ends within 40 bytes of the start: `m` has 1 to
    // 16 digits and `k <= 17`, so -17 <= exp <= 15, and each 16-byte store
    // starts at most 19 bytes in (the sign, `0.`, 16 zeros; or the sign,
    // a digit, the point and 16 more).
    out.reserve(40);
    let len = out.len();
    // SAFETY: `len + 40` is within the capacity just reserved.
    let base = unsafe { out.as_mut_ptr().add(len) };
    let put = |at: usize, v: u128| {
        // SAFETY: `at + 16 <= 40` for every store below (see above), in
        // the reserved spare capacity.
        unsafe { base.add(at).cast::<u128>().write_unaligned(v) }
    };
    let s = usize::from(neg);
    // When there is no sign, the first digit's store overwrites it.
    put(0, u128::from(b'-'));
    let end = if !plain_is_shorter(n, exp) {
        // d.ddd e exp (d.0 for one digit): the point and up to 15 digits
        // at `s + 1`, then the first digit; |exp| <= 17.
        let rest = (sig >> 8) | (u128::from(n == 1) * u128::from(b'0'));
        put(s + 1, u128::from(b'.') | rest << 8);
        // SAFETY: `s < 40`, in the reserved capacity.
        unsafe { base.add(s).write(sig as u8) };
        let at = s + 1 + n.max(2);
        let e = exp.unsigned_abs();
        let digits = if e >= 10 {
            u32::from(b'0' + (e / 10) as u8) | u32::from(b'0' + (e % 10) as u8) << 8
        } else {
            u32::from(b'0' + e as u8)
        };
        let (text, text_len) = if exp < 0 {
            (u32::from_le_bytes([b'e', b'-', 0, 0]) | digits << 16, 3)
        } else {
            (u32::from(b'e') | digits << 8, 2)
        };
        put(at, u128::from(text));
        at + text_len + usize::from(e >= 10)
    } else if place <= 0 {
        // 0.000ddd: at most 3 zeros after the point, or scientific is
        // shorter.
        let zeros = place.unsigned_abs() as usize;
        put(s, ZEROS & !0xff00 | u128::from(b'.') << 8);
        put(s + 2 + zeros, sig);
        s + 2 + zeros + n
    } else if place as usize >= n {
        // ddd000.0 (`place <= 16`).
        let place = place as usize;
        put(s, sig);
        put(s + n, ZEROS);
        put(s + place, u128::from(b'.') | u128::from(b'0') << 8);
        s + place + 2
    } else {
        // ddd.ddd: the digits, then the point and the digits after it.
        let place = place as usize;
        put(s, sig);
        put(s + place, u128::from(b'.') | (sig >> (8 * place)) << 8);
        s + n + 1
    };
    // SAFETY: the `end` bytes at `len` were all written above, inside the
    // reserved capacity.
    unsafe { out.set_len(len + end) };
}

/// A float's text, written straight into the output's spare capacity.
/// Digits and zeros are copied as fixed 24-byte blocks of which only the
/// wanted part is kept (the rest is overwritten or left past the end), so
/// no copy has a run-time length. (Built on the stack and then copied out,
/// its byte stores were read back by wider loads, which the CPU cannot
/// forward: a fifth of writing a float.)
struct Text<'o> {
    out: &'o mut Vec<u8>,
    /// Bytes written past `out.len()`.
    len: usize,
}

impl<'o> Text<'o> {
    /// Room for any float's text: at most 1 + 17 + 1 + 1 + 5 bytes in
    /// scientific form, 24 + 2 + 17 in plain form, and a 24-byte block
    /// written at the end of either.
    const ROOM: usize = 96;

    fn new(out: &'o mut Vec<u8>) -> Text<'o> {
        out.reserve(Self::ROOM);
        Text { out, len: 0 }
    }

    #[inline]
    fn byte(&mut self, b: u8) {
        if let Some(dst) = self.out.spare_capacity_mut().get_mut(self.len) {
            dst.write(b);
            self.len += 1;
        }
    }

    /// `count` digits of `d` from `from` (at most 24 are kept).
    #[inline]
    fn digits(&mut self, d: &Decimal, from: usize, count: usize) {
        let src = d
            .buf
            .get(from..from + 24)
            .and_then(|s| <&[u8; 24]>::try_from(s).ok());
        self.block(src, count);
    }

    /// `count` zeros (at most 24 are kept).
    #[inline]
    fn zeros(&mut self, count: usize) {
        self.block(Some(&[b'0'; 24]), count);
    }

    #[inline]
    fn block(&mut self, src: Option<&[u8; 24]>, count: usize) {
        let spare = self.out.spare_capacity_mut();
        if let (Some(src), Some(dst)) = (src, spare.get_mut(self.len..self.len + 24)) {
            for (d, s) in dst.iter_mut().zip(src) {
                d.write(*s);
            }
            self.len += count.min(24);
        }
    }

    /// A decimal exponent (|exp| < 1000).
    #[inline]
    fn int(&mut self, exp: i32) {
        if exp < 0 {
            self.byte(b'-');
        }
        let e = exp.unsigned_abs();
        if e >= 100 {
            self.byte(b'0' + (e / 100 % 10) as u8);
        }
        if e >= 10 {
            self.byte(b'0' + (e / 10 % 10) as u8);
        }
        self.byte(b'0' + (e % 10) as u8);
    }

    /// Makes the text part of the output.
    fn finish(self) {
        let len = self.out.len() + self.len;
        // SAFETY: `byte` and `block` wrote every one of the `self.len` bytes
        // after the old length, inside the capacity `new` reserved (writes
        // past it are refused by the bounds checks above).
        unsafe { self.out.set_len(len) };
    }
}

/// The significant digits of a positive float's shortest text, without
/// leading or trailing zeros, on the stack.
struct Decimal {
    /// Zero-padded to 48 so that any 24-byte window from a digit is there.
    buf: [u8; 48],
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
            buf: [0; 48],
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
}
