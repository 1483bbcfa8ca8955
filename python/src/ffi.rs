//! The few raw CPython calls the glue needs, each wrapped in a safe function.
//!
//! PyO3's safe API covers everything else; these exist because they are on
//! the hot path (reading a `str` as UTF-8 without copying it, building
//! containers item by item) or are missing from the abi3-py39 bindings.

use core::ffi::c_char;
use core::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

extern "C" {
    // Part of the stable ABI only from 3.10, but exported by every CPython
    // 3.x; PyO3 leaves it out of its abi3-py39 bindings. Without it a `str`
    // can only be read as UTF-8 through a fresh `bytes` copy.
    fn PyUnicode_AsUTF8AndSize(o: *mut ffi::PyObject, size: *mut ffi::Py_ssize_t) -> *const c_char;
    // Not in the limited API, but exported with this signature by every
    // CPython since 3.3 (PEP 393): an uninitialized compact string.
    pub(crate) fn PyUnicode_New(size: ffi::Py_ssize_t, maxchar: u32) -> *mut ffi::PyObject;
}

/// A new `str` from UTF-8 text.
///
/// ASCII text (nearly all JSON strings and frames) is copied straight into
/// a fresh compact string; `PyUnicode_FromStringAndSize` would decode it
/// again byte by byte, which was a fifth of a small `encode`. Other text is
/// written in one pass at its width (see [`crate::wide_strs`]); where the
/// checks at import failed, strings go the usual way.
#[inline]
pub fn new_str<'py>(py: Python<'py>, text: &str) -> Bound<'py, PyString> {
    // Below two characters CPython hands out shared singletons instead.
    if text.len() >= 2 {
        if !text.is_ascii() {
            if let Some(s) = crate::wide_strs::new(py, text) {
                return s;
            }
        } else if ascii_writes(py) {
            // SAFETY: `text` is ASCII, as `new_ascii` requires.
            if let Some(s) = unsafe { new_ascii(py, text.as_bytes()) } {
                return s;
            }
        }
    }
    PyString::new(py, text)
}

/// A new `str` from ASCII `bytes`, written into a fresh compact ASCII
/// string where [`init`] found such strings keep their characters, or else
/// through the pointer `PyUnicode_AsUTF8AndSize` returns for it: for
/// compact ASCII strings CPython's UTF-8 form is the data itself (see
/// [`ascii_writes`]). None (no exception set) if CPython refused.
///
/// # Safety
/// `bytes` is ASCII, and [`ascii_writes`] returned true.
unsafe fn new_ascii<'py>(py: Python<'py>, bytes: &[u8]) -> Option<Bound<'py, PyString>> {
    let len = ffi::Py_ssize_t::try_from(bytes.len()).ok()?;
    // SAFETY: a fresh string is ours alone until returned, so writing its
    // `len` bytes of data before anyone reads it is how PEP 393 strings
    // are meant to be filled; the pointer is its data (per the contract)
    // and the reported size bounds the write.
    unsafe {
        let obj = Bound::from_owned_ptr_or_opt(py, PyUnicode_New(len, 0x7f))?;
        // `PyUnicode_New` with a maximum below 128 makes a compact ASCII
        // string, whose characters are where `init` found them; reading its
        // `state` back right after CPython wrote it stalled the CPU.
        let at = ASCII_DATA_OFFSET.load(Ordering::Relaxed);
        let data = if at != 0 {
            obj.as_ptr().cast::<u8>().add(at)
        } else {
            let mut size: ffi::Py_ssize_t = 0;
            let data = PyUnicode_AsUTF8AndSize(obj.as_ptr(), &mut size);
            if data.is_null() || size != len {
                ffi::PyErr_Clear();
                return None;
            }
            data.cast_mut().cast::<u8>()
        };
        core::ptr::copy_nonoverlapping(bytes.as_ptr(), data, bytes.len());
        Some(obj.cast_into_unchecked())
    }
}

/// Whether [`new_ascii`] works on this interpreter: that the UTF-8 pointer
/// of a fresh ASCII string is its data. True on CPython 3.9 to 3.14; should
/// a future version cache the UTF-8 elsewhere, the first string made here
/// would read back wrong and every string takes the usual way instead.
fn ascii_writes(py: Python<'_>) -> bool {
    use std::sync::atomic::{AtomicU8, Ordering};
    static STATE: AtomicU8 = AtomicU8::new(0);
    match STATE.load(Ordering::Relaxed) {
        1 => true,
        2 => false,
        _ => {
            // SAFETY: as in `new_ascii`, on a string only this check sees.
            let works = unsafe {
                new_ascii(py, b"ok").is_some_and(|s| {
                    let read = |i| ffi::PyUnicode_ReadChar(s.as_ptr(), i);
                    read(0) == u32::from(b'o') && read(1) == u32::from(b'k')
                })
            };
            STATE.store(if works { 1 } else { 2 }, Ordering::Relaxed);
            works
        }
    }
}

/// The UTF-8 text of a `str`, borrowed from the object (CPython caches the
/// UTF-8 form inside the string, and for ASCII strings it is the data itself).
///
/// Fails (with Python's `UnicodeEncodeError`) on lone surrogates.
#[inline]
pub fn str_utf8<'a>(s: &'a Bound<'_, PyString>) -> PyResult<&'a str> {
    // SAFETY: `s` is a live `str`, borrowed for `'a`.
    unsafe { utf8_of(s.py(), s.as_ptr()) }
}

/// Where a compact ASCII string's characters start, from the object's
/// address: 48 bytes on CPython 3.9 to 3.11, 40 from 3.12 (which dropped
/// `wstr`). Measured by [`init`]; 0 until then, or if the layout was not
/// the one [`ascii_data`] reads.
static ASCII_DATA_OFFSET: AtomicUsize = AtomicUsize::new(0);

/// `PyASCIIObject`'s `length` and `state` fields (after the two-word object
/// header and `length` and `hash`), and the `compact` and `ascii` bits of
/// `state`: the same on every CPython 3 build the abi3 wheel loads on.
const LENGTH_AT: usize = 16;
const STATE_AT: usize = 32;
const COMPACT_ASCII: u32 = 0b11 << 5;

/// The text of `obj` read straight from its memory when it is a compact
/// ASCII string (what CPython makes for nearly every ASCII `str`, never for
/// subclasses); None for anything else, or when [`init`] found another
/// layout. `PyUnicode_AsUTF8AndSize` returns the same pointer for such
/// strings, through a call and checks that were a tenth of `encode`.
///
/// # Safety
/// `obj` is a live `str` (or subclass) that outlives `'a`.
#[inline]
unsafe fn ascii_data<'a>(obj: *mut ffi::PyObject) -> Option<&'a str> {
    // SAFETY: per the contract; the characters are only read, for `'a`.
    unsafe {
        let (data, len) = ascii_raw(obj)?;
        let bytes = core::slice::from_raw_parts(data, len);
        Some(core::str::from_utf8_unchecked(bytes))
    }
}

/// Where a compact ASCII string's characters are, and how many (see
/// [`ascii_data`]).
///
/// # Safety
/// `obj` is a live `str` (or subclass).
#[inline]
unsafe fn ascii_raw(obj: *mut ffi::PyObject) -> Option<(*mut u8, usize)> {
    let at = ASCII_DATA_OFFSET.load(Ordering::Relaxed);
    if at == 0 {
        return None;
    }
    let base = obj.cast::<u8>();
    // SAFETY: every `str` starts with a `PyASCIIObject`, whose `state` and
    // `length` sit where `init` checked they do; a compact ASCII string's
    // `length` characters follow at `at`, one byte each, immutable while
    // the object lives.
    unsafe {
        let state = base.add(STATE_AT).cast::<u32>().read_unaligned();
        if state & COMPACT_ASCII != COMPACT_ASCII {
            return None;
        }
        let len = base
            .add(LENGTH_AT)
            .cast::<ffi::Py_ssize_t>()
            .read_unaligned();
        Some((base.add(at), usize::try_from(len).ok()?))
    }
}

/// The characters of `s` when it is a compact ASCII string (see
/// [`ascii_data`]); None for any other `str`.
#[inline]
pub fn ascii_bytes<'a>(s: &'a Bound<'_, PyString>) -> Option<&'a [u8]> {
    // SAFETY: `s` is a live `str`, borrowed for `'a`.
    unsafe { ascii_data(s.as_ptr()) }.map(str::as_bytes)
}

/// A new reference to `obj` (what `clone` makes), counted inline instead of
/// through `Py_IncRef`, a call on the stable ABI that cost a tenth of
/// reading a payload whose strings come from the key cache.
///
/// `ob_refcnt` is the first word of every object (part of the stable ABI).
/// From 3.12 an immortal object's count must not be touched: its low 32
/// bits, read as signed, are negative (3.12 to 3.14 all test immortality so,
/// and keep flags in the high half from 3.14), so such counts, and mortal
/// ones that large, go through `Py_IncRef`. A count below 2^31 is one plain
/// CPython would increment the same way, with no carry into the high half.
#[inline(always)]
pub fn new_ref<'py, T>(obj: &Bound<'py, T>) -> Bound<'py, T> {
    let p = obj.as_ptr();
    // SAFETY: `p` is live (borrowed from `obj`) and the GIL is held (the
    // module is built for the GIL-enabled stable ABI only, where the count
    // is a plain word), so no other thread touches the count meanwhile.
    unsafe {
        let count = p.cast::<ffi::Py_ssize_t>();
        let n = count.read();
        if n as i32 >= 0 {
            count.write(n + 1);
        } else {
            ffi::Py_IncRef(p);
        }
        Bound::from_owned_ptr(obj.py(), p).cast_into_unchecked()
    }
}

/// Drops a reference, counted inline when that cannot free the object
/// (`Bound`'s drop is a `Py_DecRef` call on the stable ABI, one per dict
/// key and value). Only a count of at least two, as CPython would count
/// it (see [`new_ref`]), is decremented here; a last reference, or an
/// immortal object's, goes through `Py_DecRef`, which frees or ignores it.
#[inline(always)]
pub fn release<T>(obj: Bound<'_, T>) {
    let p = obj.into_ptr();
    // SAFETY: we owned the reference `p` (taken over from `obj`); the GIL
    // is held, as for `new_ref`. With a count of two or more, ours is not
    // the last, so nothing is to be freed; the low half does not borrow
    // from the high one.
    unsafe {
        let count = p.cast::<ffi::Py_ssize_t>();
        let n = count.read();
        if n as i32 >= 2 {
            count.write(n - 1);
        } else {
            ffi::Py_DecRef(p);
        }
    }
}

/// Where a float's value and a list's length and item array sit in their
/// objects: right after the object header (`ob_refcnt`, `ob_type`), as in
/// every GIL-enabled CPython 3 build the abi3 wheel loads on. Calls per
/// float and per list item (`PyFloat_AsDouble`, `PyList_GetItem`,
/// `PyList_SetItem`: checked calls on the stable ABI) were a twentieth of
/// encoding a payload of readings and most of building a list.
const VALUE_AT: usize = core::mem::size_of::<ffi::PyObject>();
const ITEMS_AT: usize = VALUE_AT + core::mem::size_of::<ffi::Py_ssize_t>();

/// Set by [`init`] once a float and a list made by CPython were read right
/// by [`float_value`] and [`list_items`].
static OBJECT_READS: AtomicBool = AtomicBool::new(false);

/// Whether [`float_value`] and [`list_items`] may be used.
#[inline]
pub fn object_reads() -> bool {
    OBJECT_READS.load(Ordering::Relaxed)
}

/// The value of a `float` (or subclass), read from the object.
///
/// # Safety
/// `obj` is a live `float`, and [`object_reads`] returned true.
#[inline(always)]
pub unsafe fn float_value(obj: *mut ffi::PyObject) -> f64 {
    // SAFETY: per the contract, `ob_fval` is at `VALUE_AT`.
    unsafe { obj.cast::<u8>().add(VALUE_AT).cast::<f64>().read() }
}

/// A `list`'s (or subclass's) item array and length, read from the object.
///
/// # Safety
/// `obj` is a live `list`, and [`object_reads`] returned true.
#[inline(always)]
pub unsafe fn list_items(obj: *mut ffi::PyObject) -> (*mut *mut ffi::PyObject, isize) {
    let base = obj.cast::<u8>();
    // SAFETY: per the contract, `ob_size` is at `VALUE_AT` and `ob_item`
    // at `ITEMS_AT`.
    unsafe {
        let n = base.add(VALUE_AT).cast::<ffi::Py_ssize_t>().read();
        let items = base.add(ITEMS_AT).cast::<*mut *mut ffi::PyObject>().read();
        (items, n)
    }
}

/// How an `int` keeps its size, as [`init`] found it: the word after the
/// object header is `ob_size` (digits, negative for a negative int: 3.9 to
/// 3.11) or `lv_tag` (digits << 3 | sign, 0 positive, 1 zero, 2 negative:
/// 3.12 on); the 30-bit digits follow it, least significant first.
/// `PyLong_AsLongLongAndOverflow`, a call with its own type checks on the
/// stable ABI, was half of writing an integer.
const INT_UNKNOWN: u8 = 0;
const INT_SIZE: u8 = 1;
const INT_TAG: u8 = 2;
static INT_LAYOUT: AtomicU8 = AtomicU8::new(INT_UNKNOWN);

/// The value of an exact `int` below 2^60 in magnitude (two digits), read
/// from the object; None for larger ones, or where [`init`] could not
/// confirm the layout (the caller then asks CPython).
///
/// # Safety
/// `obj` is a live object of type exactly `int`.
#[inline(always)]
pub unsafe fn small_int(obj: *mut ffi::PyObject) -> Option<i64> {
    unsafe { small_int_as(INT_LAYOUT.load(Ordering::Relaxed), obj) }
}

/// [`small_int`] for a given layout.
///
/// # Safety
/// As for [`small_int`]; a digit is read only when the size says it is
/// there.
#[inline(always)]
unsafe fn small_int_as(layout: u8, obj: *mut ffi::PyObject) -> Option<i64> {
    let base = obj.cast::<u8>();
    // SAFETY: every int has the size word after its header.
    let word = unsafe { base.add(VALUE_AT).cast::<isize>().read() };
    let (digits, negative) = match layout {
        INT_SIZE => (word.unsigned_abs(), word < 0),
        INT_TAG => ((word as usize) >> 3, word & 3 == 2),
        _ => return None,
    };
    let digit = |i: usize| -> i64 {
        // SAFETY: called only for `i < digits`, which the object holds.
        i64::from(unsafe { base.add(ITEMS_AT + 4 * i).cast::<u32>().read() })
    };
    let magnitude = match digits {
        0 => 0,
        1 => digit(0),
        2 => digit(0) | digit(1) << 30,
        _ => return None,
    };
    Some(if negative { -magnitude } else { magnitude })
}

/// Which direct reads and writes of object memory [`init`] turned on, by
/// name, for a test to tell when a CPython version turns one off (the
/// slower, checked way is then taken; nothing else changes).
pub fn layout_checks(py: Python<'_>) -> [(&'static str, bool); 9] {
    [
        (
            "ascii_reads",
            ASCII_DATA_OFFSET.load(Ordering::Relaxed) != 0,
        ),
        ("ascii_writes", ascii_writes(py)),
        ("dict_reads", crate::dict_reads::on()),
        ("float_list_reads", object_reads()),
        ("presized_dicts", NEW_PRESIZED.get().is_some()),
        ("known_hash_sets", SET_KNOWN_HASH.get().is_some()),
        ("wide_writes", crate::wide_strs::on()),
        ("gc_switch", GC_ENABLE.get().is_some()),
        (
            "int_reads",
            INT_LAYOUT.load(Ordering::Relaxed) != INT_UNKNOWN,
        ),
    ]
}

/// Finds the `int` layout [`small_int`] reads: the first under which every
/// probe reads back as CPython says (and the large ones are refused).
fn init_ints(py: Python<'_>) {
    const PROBES: [i64; 14] = [
        0,
        1,
        -1,
        7,
        -7,
        (1 << 30) - 1,
        1 << 30,
        -(1 << 30),
        (1 << 59) + 12_345,
        -(1 << 60) + 1,
        1 << 60,
        -(1 << 60),
        i64::MAX,
        i64::MIN,
    ];
    let ints = PROBES.map(|v| (v, pyo3::types::PyInt::new(py, v)));
    let reads = |layout: u8| {
        ints.iter().all(|(v, obj)| {
            let fits = v.unsigned_abs() < 1 << 60;
            // SAFETY: each is a live exact `int`, with at least one digit
            // allocated (zero too). A wrong guess reads no digit it does
            // not have: taken as a tag, a 3.11 size of one or two digits
            // is none, and one of 8 to 23 digits gives one or two; taken
            // as a size, a 3.12 tag gives one digit only for zero (tag 1)
            // and none for any other int (tags of 8 and up).
            let got = unsafe { small_int_as(layout, obj.as_ptr()) };
            got == fits.then_some(*v)
        })
    };
    let found = [INT_SIZE, INT_TAG]
        .into_iter()
        .find(|&l| reads(l))
        .unwrap_or(INT_UNKNOWN);
    INT_LAYOUT.store(found, Ordering::Relaxed);
}

/// A new `list` of the items of `stack` from `from` on, which it takes
/// over (`stack` is cut back to `from`). The item pointers are copied
/// straight into the list's array where [`init`] verified the layout
/// (`PyList_SetItem` is a call per item on the stable ABI, and an iterator
/// that gives up its items one by one was most of the rest); otherwise
/// through `PyList_SetItem`.
pub fn new_list<'py>(
    py: Python<'py>,
    stack: &mut Vec<Py<PyAny>>,
    from: usize,
) -> PyResult<Bound<'py, PyAny>> {
    let Some(items) = stack.get(from..) else {
        return Ok(pyo3::types::PyList::empty(py).into_any());
    };
    let n = items.len();
    let len = ffi::Py_ssize_t::try_from(n)?;
    // SAFETY: `PyList_New` returns a new list of `n` NULL items or NULL
    // with an exception set (then `stack` still owns the items).
    let list = unsafe { Bound::from_owned_ptr_or_err(py, ffi::PyList_New(len))? };
    // SAFETY: the list is fresh and ours alone, with `n` slots, all NULL,
    // so no reference is overwritten. `Py<PyAny>` is a transparent
    // non-null object pointer, so the items are `n` object pointers. Each
    // reference is handed to the list exactly once: `set_len` then
    // shortens the vector over those items without dropping them.
    unsafe {
        let src = items.as_ptr().cast::<*mut ffi::PyObject>();
        if object_reads() {
            // `init` found lists made by this interpreter laid out as
            // `list_items` reads them.
            core::ptr::copy_nonoverlapping(src, list_items(list.as_ptr()).0, n);
        } else {
            for i in 0..n {
                ffi::PyList_SetItem(list.as_ptr(), i as ffi::Py_ssize_t, src.add(i).read());
            }
        }
        stack.set_len(from);
    }
    Ok(list)
}

/// A CPython function found at run time by its exported name (see
/// [`exported`]): functions that not every supported version exports or
/// that the abi3 bindings leave out. The type `F` is its signature.
struct RunTime<F> {
    addr: AtomicUsize,
    f: core::marker::PhantomData<F>,
}

impl<F: Copy> RunTime<F> {
    const fn new() -> Self {
        RunTime {
            addr: AtomicUsize::new(0),
            f: core::marker::PhantomData,
        }
    }

    /// Looks `name` up; whether the interpreter exports it.
    ///
    /// # Safety
    /// The function exported as `name` has the signature `F`.
    unsafe fn find(&self, name: &core::ffi::CStr) -> bool {
        let addr = exported(name);
        self.addr.store(addr, Ordering::Relaxed);
        addr != 0
    }

    /// Forgets the function (its trial went wrong): callers take the plain
    /// way from now on.
    fn forget(&self) {
        self.addr.store(0, Ordering::Relaxed);
    }

    /// The function, if found (and not forgotten).
    #[inline(always)]
    fn get(&self) -> Option<F> {
        let addr = self.addr.load(Ordering::Relaxed);
        // SAFETY: `find`'s contract: a nonzero address is a function of
        // type `F`, a function pointer the size of `usize`.
        (addr != 0).then(|| unsafe { core::mem::transmute_copy::<usize, F>(&addr) })
    }
}

/// CPython's `_PyDict_NewPresized`, found by [`init_presized`].
static NEW_PRESIZED: RunTime<unsafe extern "C" fn(ffi::Py_ssize_t) -> *mut ffi::PyObject> =
    RunTime::new();

/// A new empty `dict` with room for `hint` items before it has to grow:
/// a record of more than five keys otherwise starts with room for five,
/// then allocates a table twice the size and moves the first five over
/// (a twentieth of converting a payload of such records). Made by
/// `_PyDict_NewPresized`, exported by every CPython 3.9 to 3.14 though
/// outside the stable ABI (`BUILD_MAP` and Cython use it), found at run
/// time; from 3.11 its table takes any key, as one of `int` keys does
/// (lookups by `str` measured the same, entries are 24 bytes instead of
/// 16). Up to five items, or where it is missing, `PyDict_New`.
pub fn new_dict(py: Python<'_>, hint: usize) -> PyResult<Bound<'_, PyDict>> {
    let Some(presized) = NEW_PRESIZED.get().filter(|_| hint > 5) else {
        return Ok(PyDict::new(py));
    };
    let hint = ffi::Py_ssize_t::try_from(hint).unwrap_or(0);
    // SAFETY: `_PyDict_NewPresized` returns a new reference to an empty
    // dict or NULL with an exception set.
    unsafe { Ok(Bound::from_owned_ptr_or_err(py, presized(hint))?.cast_into_unchecked()) }
}

/// CPython's `_PyDict_SetItem_KnownHash`, found by [`init_known_hash`].
static SET_KNOWN_HASH: RunTime<
    unsafe extern "C" fn(
        *mut ffi::PyObject,
        *mut ffi::PyObject,
        *mut ffi::PyObject,
        ffi::Py_hash_t,
    ) -> core::ffi::c_int,
> = RunTime::new();

/// `PyASCIIObject`'s `hash` (after the object header and `length`), -1
/// until computed: the same on every CPython 3, checked by
/// [`init_known_hash`] before use.
const HASH_AT: usize = 24;

/// The hash CPython keeps in the `str` `obj` (-1 until computed).
///
/// # Safety
/// `obj` is a live `str`.
#[inline(always)]
unsafe fn kept_hash(obj: *mut ffi::PyObject) -> ffi::Py_hash_t {
    // SAFETY: every `str` starts with a `PyASCIIObject`.
    unsafe {
        obj.cast::<u8>()
            .add(HASH_AT)
            .cast::<ffi::Py_hash_t>()
            .read()
    }
}

/// `dict[key] = value` for an exact `str` key, with the hash CPython keeps
/// in the key (the cached keys of payloads have one from their first
/// insert): `_PyDict_SetItem_KnownHash`, exported by 3.9 to 3.13 (checked)
/// outside the stable ABI and found at run time, skips `PyDict_SetItem`'s
/// checks and its fetch of the hash (27 against 12 instructions a member).
/// Otherwise, and for keys whose hash is not computed yet,
/// `PyDict_SetItem`. Returns what they do: 0, or -1 with an exception set.
///
/// # Safety
/// The GIL is held; `dict` is a live exact `dict`, `key` a live exact
/// `str` and `value` a live object.
#[inline]
pub unsafe fn dict_set_str(
    dict: *mut ffi::PyObject,
    key: *mut ffi::PyObject,
    value: *mut ffi::PyObject,
) -> core::ffi::c_int {
    // SAFETY: per the contract; the function is kept only where
    // `init_known_hash` found the hash at `HASH_AT` and the function
    // working.
    unsafe {
        if let Some(set) = SET_KNOWN_HASH.get() {
            let hash = kept_hash(key);
            if hash != -1 {
                return set(dict, key, value, hash);
            }
        }
        ffi::PyDict_SetItem(dict, key, value)
    }
}

/// Finds `_PyDict_SetItem_KnownHash` and keeps it for [`dict_set_str`] if
/// strings keep their hash at `HASH_AT` and items it sets are found again
/// by equal strings made apart.
fn init_known_hash(py: Python<'_>) {
    let probes = [
        "k",
        "phoenix_wire",
        "\u{e9}t\u{e9}",
        "\u{20ac}uro",
        "\u{1f600}!",
    ];
    let keys: Vec<Bound<'_, PyString>> = probes.iter().map(|p| PyString::new(py, p)).collect();
    // SAFETY: live `str`s.
    let hashes_in_place = keys.iter().all(|k| {
        k.hash()
            .is_ok_and(|h| unsafe { kept_hash(k.as_ptr()) } == h)
    });
    // SAFETY: CPython 3.9 to 3.13 declare it with this signature.
    if !hashes_in_place || !unsafe { SET_KNOWN_HASH.find(c"_PyDict_SetItem_KnownHash") } {
        SET_KNOWN_HASH.forget();
        // SAFETY: with the GIL held; clears whatever a failed hash set.
        unsafe { ffi::PyErr_Clear() };
        return;
    }
    let dict = PyDict::new(py);
    let set = keys.iter().enumerate().all(|(i, k)| {
        let value = i.into_pyobject(py).map(Bound::into_any);
        // SAFETY: a live exact dict, exact str and int.
        value.is_ok_and(|v| unsafe { dict_set_str(dict.as_ptr(), k.as_ptr(), v.as_ptr()) } == 0)
    });
    let found = probes.iter().enumerate().all(|(i, p)| {
        let again = PyString::new(py, p);
        dict.get_item(again)
            .ok()
            .flatten()
            .and_then(|v| v.extract::<usize>().ok())
            == Some(i)
    });
    if !(set && found && dict.len() == probes.len()) {
        SET_KNOWN_HASH.forget();
        // SAFETY: with the GIL held; clears whatever a failed try set.
        unsafe { ffi::PyErr_Clear() };
    }
}

/// The address of the function `name` among the loaded objects' exports
/// (the interpreter's, for the names looked up here); 0 if there is none,
/// or where `dlsym` is not available.
fn exported(name: &core::ffi::CStr) -> usize {
    #[cfg(unix)]
    // SAFETY: `dlsym` with `RTLD_DEFAULT` only looks the name up.
    return unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) } as usize;
    #[cfg(not(unix))]
    {
        let _ = name;
        0
    }
}

/// Finds `_PyDict_NewPresized` and keeps it for [`new_dict`] if it makes
/// an empty exact `dict` that takes more items than asked for.
fn init_presized(py: Python<'_>) {
    // SAFETY: CPython 3.9 to 3.14 declare it with this signature.
    if !unsafe { NEW_PRESIZED.find(c"_PyDict_NewPresized") } {
        return;
    }
    let works = new_dict(py, 40).is_ok_and(|d| {
        d.is_exact_instance_of::<PyDict>()
            && d.is_empty()
            && (0..40).all(|i| d.set_item(i, i).is_ok())
            && d.len() == 40
    });
    if !works {
        NEW_PRESIZED.forget();
        // SAFETY: with the GIL held; clears whatever a failed try set.
        unsafe { ffi::PyErr_Clear() };
    }
}

type GcSwitch = unsafe extern "C" fn() -> core::ffi::c_int;

/// `PyGC_Disable` and `PyGC_Enable` (stable ABI from 3.10), found by
/// [`init_gc_switch`]; missing on 3.9.
static GC_DISABLE: RunTime<GcSwitch> = RunTime::new();
static GC_ENABLE: RunTime<GcSwitch> = RunTime::new();

/// Runs `f` with the cycle collector's automatic runs held off, where the
/// interpreter has the switch (3.10 on): a payload of records allocates
/// thousands of dicts and lists, and each collection that starts meanwhile
/// walks all of them while they are still being built (a tenth of
/// converting a 64 KiB payload). A tree of new containers holds no cycle,
/// so nothing is missed: the allocation counts still add up, and the next
/// allocation after `f` starts the collection that is due. A collector the
/// caller had turned off stays off.
pub fn without_gc<R>(f: impl FnOnce() -> R) -> R {
    let (Some(off), Some(on)) = (GC_DISABLE.get(), GC_ENABLE.get()) else {
        return f();
    };
    /// Turns the collector back on even if `f` unwinds.
    struct Resume(Option<GcSwitch>);
    impl Drop for Resume {
        fn drop(&mut self) {
            if let Some(on) = self.0 {
                // SAFETY: as below.
                unsafe { on() };
            }
        }
    }
    // SAFETY: CPython's functions, which take no argument and return the
    // previous state; the GIL is held (every caller has a `Python` token).
    let was_on = unsafe { off() } != 0;
    let _resume = Resume(was_on.then_some(on));
    f()
}

/// Finds `PyGC_Disable` and `PyGC_Enable` (exported from 3.10); both or
/// neither are kept.
fn init_gc_switch() {
    // SAFETY: both are `int (void)` in every CPython that has them.
    let both = unsafe { GC_DISABLE.find(c"PyGC_Disable") && GC_ENABLE.find(c"PyGC_Enable") };
    if !both {
        GC_DISABLE.forget();
        GC_ENABLE.forget();
    }
}

/// Checks [`float_value`] and [`list_items`] against CPython's own calls on
/// a float and a list made for it, and turns them on if they agree; an
/// error (out of memory) counts as a mismatch.
fn init_objects(py: Python<'_>) {
    let f = pyo3::types::PyFloat::new(py, -1234.5625);
    let items = [7, 8, 9].map(|i| pyo3::types::PyInt::new(py, i));
    let Ok(list) = pyo3::types::PyList::new(py, items) else {
        return;
    };
    // SAFETY: `f` is a float and `list` a list, both alive here; only
    // their first words are read, and the item array only below the
    // length CPython reports.
    let agree = unsafe {
        let (ptr, n) = list_items(list.as_ptr());
        float_value(f.as_ptr()) == -1234.5625
            && n == ffi::PyList_Size(list.as_ptr())
            && n == 3
            && (0..3).all(|i| *ptr.offset(i) == ffi::PyList_GetItem(list.as_ptr(), i))
    };
    OBJECT_READS.store(agree, Ordering::Relaxed);
}

/// Checks every object layout read here directly against what CPython's
/// own calls report, on objects made for the check, and turns each direct
/// read on only if it agrees: floats and lists, ints, then the strings
/// [`ascii_data`] reads (against `PyUnicode_AsUTF8AndSize`).
pub fn init(py: Python<'_>) {
    init_objects(py);
    init_presized(py);
    init_known_hash(py);
    init_gc_switch();
    init_ints(py);
    crate::wide_strs::init(py);
    // (whether `state` says compact ASCII, where the UTF-8 starts from the
    // object's address); None if CPython refused or `length` disagreed.
    let probe = |text: &str| -> Option<(bool, isize)> {
        let s = PyString::new(py, text);
        let mut len: ffi::Py_ssize_t = 0;
        // SAFETY: `s` is a live `str`; only its header and UTF-8 are read.
        unsafe {
            let p = PyUnicode_AsUTF8AndSize(s.as_ptr(), &mut len);
            let base = s.as_ptr().cast::<u8>();
            let state = base.add(STATE_AT).cast::<u32>().read_unaligned();
            let length = base
                .add(LENGTH_AT)
                .cast::<ffi::Py_ssize_t>()
                .read_unaligned();
            let chars = ffi::PyUnicode_GetLength(s.as_ptr());
            if p.is_null() || length != chars {
                ffi::PyErr_Clear();
                return None;
            }
            let offset = (p as isize).wrapping_sub(base as isize);
            Some((state & COMPACT_ASCII == COMPACT_ASCII, offset))
        }
    };
    let ascii = ["ab", "phoenix", "a longer ASCII string, past a word or two"].map(probe);
    let other = ["é", "naïve café", "€uro", "😀!"].map(probe);
    let Some((true, offset)) = ascii[0] else {
        return;
    };
    let layout_ok = (36..=64).contains(&offset)
        && ascii.iter().all(|p| *p == Some((true, offset)))
        && other.iter().all(|p| matches!(p, Some((false, _))));
    if layout_ok {
        ASCII_DATA_OFFSET.store(offset.unsigned_abs(), Ordering::Relaxed);
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
/// ASCII bytes are copied as [`new_str`] does.
pub fn str_from_utf8<'py>(py: Python<'py>, bytes: &[u8]) -> PyResult<Bound<'py, PyString>> {
    if bytes.len() >= 2 && bytes.is_ascii() && ascii_writes(py) {
        // SAFETY: the bytes are ASCII, as `new_ascii` requires.
        if let Some(s) = unsafe { new_ascii(py, bytes) } {
            return Ok(s);
        }
    }
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
    // SAFETY: per the contract.
    if let Some(text) = unsafe { ascii_data(obj) } {
        return Ok(text);
    }
    let mut len: ffi::Py_ssize_t = 0;
    // SAFETY: `obj` is a live `str`; the returned buffer belongs to it and
    // is neither moved nor freed while it lives (strings are immutable),
    // and the caller keeps it alive for `'a`. CPython encodes it from code
    // points and refuses lone surrogates, so it is valid UTF-8; checking it
    // again cost a fifth of `encode`'s time in callgrind.
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
