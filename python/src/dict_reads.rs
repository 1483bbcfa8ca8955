//! A dict's entries read straight from its memory, in insertion order, as
//! `PyDict_Next` reads them: that call (a checked call on the stable ABI,
//! with the split-table and key-kind cases inside) was a sixth of encoding
//! a payload of records, where orjson, reading the same dicts, spends a
//! tenth in it.
//!
//! Only the combined tables of the CPython versions whose layout is known
//! here (3.9 to 3.14) are read so, and only after [`init`] found the reads
//! agreeing with `PyDict_Next` on dicts made for the check. Split tables
//! (instance `__dict__`s), and every dict on other interpreters, go
//! through `PyDict_Next`.

use core::sync::atomic::{AtomicU8, Ordering};

use pyo3::ffi::{self as c, PyObject};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyInt, PyString};

/// `PyDictObject`, from 3.9 to 3.14: the object header, `ma_used`, a
/// 64-bit version (or watcher) tag, then the keys object and the values
/// array, which is not NULL only for split tables.
const KEYS_AT: usize = 32;
const VALUES_AT: usize = 40;

/// The keys object's layouts. 3.9 and 3.10: `dk_refcnt`, `dk_size`,
/// `dk_lookup`, `dk_usable`, `dk_nentries`, the index table (`dk_size`
/// indices of 1, 2, 4 or 8 bytes, by size), then entries of hash, key
/// and value. 3.11 to 3.14: `dk_refcnt`, the bytes `dk_log2_size`,
/// `dk_log2_index_bytes`, `dk_kind`, `dk_version`, `dk_usable`,
/// `dk_nentries`, the index table of `1 << dk_log2_index_bytes` bytes,
/// then entries of key and value when every key is a `str` (kind 1) or
/// of hash, key and value (kind 0).
const UNKNOWN: u8 = 0;
const KEYS_39: u8 = 1;
const KEYS_311: u8 = 2;
static LAYOUT: AtomicU8 = AtomicU8::new(UNKNOWN);

/// Whether [`Items`] reads entries directly on this interpreter.
pub fn on() -> bool {
    LAYOUT.load(Ordering::Relaxed) != UNKNOWN
}

/// The live keys and values of a dict, borrowed, in insertion order: read
/// from its entry array where [`init`] confirmed the layout and the dict is
/// a combined table, through `PyDict_Next` otherwise.
pub struct Items {
    entries: Option<Entries>,
    dict: *mut PyObject,
    /// The next entry (or `PyDict_Next`'s position).
    at: usize,
}

impl Items {
    /// The items of `obj`.
    ///
    /// # Safety
    /// `obj` is a live `dict` (or subclass), neither changed nor freed
    /// while the items are read.
    #[inline(always)]
    pub unsafe fn of(obj: *mut PyObject) -> Items {
        Items {
            // SAFETY: per the contract, and `LAYOUT` is only set once
            // `init` read these fields right on this interpreter.
            entries: unsafe { Entries::with(LAYOUT.load(Ordering::Relaxed), obj) },
            dict: obj,
            at: 0,
        }
    }

    /// The next key and value, borrowed from the dict.
    ///
    /// # Safety
    /// As for [`Items::of`]: the dict is alive and unchanged since.
    #[inline(always)]
    #[allow(clippy::should_implement_trait)] // `Iterator::next` cannot be unsafe
    pub unsafe fn next(&mut self) -> Option<(*mut PyObject, *mut PyObject)> {
        let Some(entries) = &self.entries else {
            return self.next_slow();
        };
        while self.at < entries.n {
            // SAFETY: `at` is below the entry count, and the dict is alive
            // and unchanged (the contract of `of`).
            let (k, v) = unsafe { entries.get(self.at) };
            self.at += 1;
            if !v.is_null() {
                return Some((k, v));
            }
        }
        None
    }

    /// `next` through `PyDict_Next`.
    #[inline(never)]
    fn next_slow(&mut self) -> Option<(*mut PyObject, *mut PyObject)> {
        let (mut k, mut v) = (core::ptr::null_mut(), core::ptr::null_mut());
        let mut pos = self.at as c::Py_ssize_t;
        // SAFETY: `dict` is a live dict (the contract of `of`); the call
        // bounds-checks `pos` and sets both pointers when it returns 1.
        let more = unsafe { c::PyDict_Next(self.dict, &mut pos, &mut k, &mut v) } != 0;
        self.at = pos as usize;
        more.then_some((k, v))
    }
}

/// The entry array of a combined dict: `n` entries of `stride` words, the
/// key at `keys[i * stride]` and the value in the word after it. A deleted
/// entry's value is NULL.
#[derive(Clone, Copy)]
struct Entries {
    keys: *const *mut PyObject,
    n: usize,
    stride: usize,
}

impl Entries {
    /// The entries of `obj` when it is a combined table and `layout` is
    /// known; None otherwise.
    ///
    /// # Safety
    /// `obj` is a live `dict` (or subclass), not changed while the entries
    /// are read, and `layout` is this interpreter's (or UNKNOWN).
    #[inline(always)]
    unsafe fn with(layout: u8, obj: *mut PyObject) -> Option<Entries> {
        let word = |p: *const u8, at: usize| -> usize {
            // SAFETY: every read is of a field the layout puts there.
            unsafe { p.add(at).cast::<usize>().read() }
        };
        let base = obj.cast::<u8>().cast_const();
        if layout == UNKNOWN || word(base, VALUES_AT) != 0 {
            return None;
        }
        let keys = word(base, KEYS_AT) as *const u8;
        let (n, entries, stride) = if layout == KEYS_39 {
            let size = word(keys, 8);
            let index_bytes = match size {
                0..=0xff => 1,
                0x100..=0xffff => 2,
                0x1_0000..=0xffff_ffff => 4,
                _ => 8,
            };
            (word(keys, 32), 40 + size * index_bytes, 3)
        } else {
            // SAFETY: the three bytes after `dk_refcnt`.
            let [log2_index_bytes, kind] = unsafe { keys.add(9).cast::<[u8; 2]>().read() };
            let stride = if kind == 1 { 2 } else { 3 };
            (word(keys, 24), 32 + (1 << log2_index_bytes), stride)
        };
        // The key is the last word but one of an entry.
        let first_key = entries + 8 * (stride - 2);
        Some(Entries {
            // SAFETY: the entry array follows the index table.
            keys: unsafe { keys.add(first_key) }.cast(),
            n,
            stride,
        })
    }

    /// The key and value of entry `i` (`i < n`); the value is NULL for
    /// a deleted entry, and its key must then not be used.
    ///
    /// # Safety
    /// `i < self.n`, and the dict is alive and unchanged.
    #[inline(always)]
    pub unsafe fn get(&self, i: usize) -> (*mut PyObject, *mut PyObject) {
        // SAFETY: per the contract, inside the entry array.
        unsafe {
            let at = self.keys.add(i * self.stride);
            (at.read(), at.add(1).read())
        }
    }
}

/// The layout this interpreter's version should have, before checking.
fn expected(py: Python<'_>) -> u8 {
    let v = py.version_info();
    match (v.major, v.minor) {
        (3, 9..=10) => KEYS_39,
        (3, 11..=14) => KEYS_311,
        _ => UNKNOWN,
    }
}

/// Turns the reads on if, for dicts of every kind made for the check
/// (`str` keys, other keys, a deleted entry, one past 256 slots so its
/// indices are two bytes), they give what `PyDict_Next` gives.
pub fn init(py: Python<'_>) {
    let layout = expected(py);
    let agrees = layout != UNKNOWN
        && probes(py).is_ok_and(|dicts| {
            dicts.iter().all(|d| {
                // SAFETY: `d` is a live dict made above, which nothing else
                // sees; `layout` is what its version is documented to use.
                unsafe { same_as_next(layout, d.as_ptr()) }
            })
        })
        // A fresh empty dict is a split table on 3.9 and 3.10 (a shared
        // empty values array): if read, it must read as empty.
        // SAFETY: as above.
        && unsafe { Entries::with(layout, PyDict::new(py).as_ptr()) }.is_none_or(|e| e.n == 0);
    LAYOUT.store(if agrees { layout } else { UNKNOWN }, Ordering::Relaxed);
}

/// The dicts [`init`] checks.
fn probes(py: Python<'_>) -> PyResult<Vec<Bound<'_, PyDict>>> {
    let str_keys = |n: usize| -> PyResult<Bound<'_, PyDict>> {
        let d = PyDict::new(py);
        for i in 0..n {
            d.set_item(PyString::new(py, &format!("key{i}")), i)?;
        }
        Ok(d)
    };
    let small = str_keys(5)?;
    let large = str_keys(700)?;
    let deleted = str_keys(9)?;
    deleted.del_item("key3")?;
    deleted.del_item("key8")?;
    let ints = PyDict::new(py);
    let mixed = PyDict::new(py);
    for i in 0..20 {
        ints.set_item(PyInt::new(py, i * 7), i)?;
        mixed.set_item(PyInt::new(py, i), "int")?;
        mixed.set_item(PyString::new(py, &format!("s{i}")), "str")?;
    }
    ints.del_item(14)?;
    Ok(vec![small, large, deleted, ints, mixed])
}

/// Whether the live entries read under `layout` are, in order, the pairs
/// `PyDict_Next` gives (a combined table that is not read fails). The entry count is checked against the dict's own
/// size before any entry is read.
///
/// # Safety
/// `obj` is a live combined dict, and `layout` is the one its version
/// documents (so that the header fields read are there).
unsafe fn same_as_next(layout: u8, obj: *mut PyObject) -> bool {
    let mut expected = Vec::new();
    let (mut pos, mut k, mut v) = (0, core::ptr::null_mut(), core::ptr::null_mut());
    // SAFETY: `obj` is a live dict.
    while unsafe { c::PyDict_Next(obj, &mut pos, &mut k, &mut v) } != 0 {
        expected.push((k, v));
    }
    // SAFETY: per the contract.
    let Some(entries) = (unsafe { Entries::with(layout, obj) }) else {
        return false;
    };
    // `pos` ended one past the last live entry; deleted entries after it
    // are the only ones it may have left out.
    let n = usize::try_from(pos).unwrap_or(0);
    if entries.n < n || entries.n > n + 2 {
        return false;
    }
    let mut got = Vec::new();
    for i in 0..entries.n {
        // SAFETY: `i` is below the entry count, which the dict's own
        // iteration bounded above.
        let (k, v) = unsafe { entries.get(i) };
        if !v.is_null() {
            got.push((k, v));
        }
    }
    got == expected
}
