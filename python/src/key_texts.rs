//! The written text of recent object keys (`"name":`), found by the key
//! object's address: payloads repeat the same key objects record after
//! record (`json.loads` and our decoder share them, literals are shared
//! constants), so a hit is a compare and one copy, without reading the key
//! object or checking its characters for escapes again. Writing keys was
//! a fifth of encoding a payload of records.
//!
//! An entry holds a reference to its key, so the address cannot be reused
//! by another object while the entry lives, and a `str` never changes.

use pyo3::ffi::{self as c, PyObject};

/// Keys whose text (quotes and colon included) is longer are not kept.
pub const MAX_TEXT: usize = 32;

/// One key's text: 48 bytes, two to a set.
#[derive(Clone, Copy)]
struct Entry {
    /// The key, with a reference of ours; null for an empty entry.
    key: *mut PyObject,
    len: usize,
    /// `"name":`, then unused bytes (copied along, then overwritten).
    text: [u8; MAX_TEXT],
}

impl Entry {
    const EMPTY: Entry = Entry {
        key: core::ptr::null_mut(),
        len: 0,
        text: [0; MAX_TEXT],
    };
}

/// A two-way set-associative table of key texts: two keys of one set do not
/// evict each other, and 64 sets hold the keys of a payload's records
/// (tens, mostly) in 6 KiB.
pub struct KeyTexts {
    sets: [[Entry; 2]; KeyTexts::SETS],
}

// SAFETY: the raw pointers are references to `str` objects, used only
// with the GIL held (the table lives in a `GilCell`).
unsafe impl Send for KeyTexts {}

impl KeyTexts {
    const SETS: usize = 64;

    pub const fn new() -> KeyTexts {
        KeyTexts {
            sets: [[Entry::EMPTY; 2]; KeyTexts::SETS],
        }
    }

    #[inline(always)]
    fn set_of(key: *mut PyObject) -> usize {
        // Objects are 16-byte aligned; the product's top bits mix in all
        // the others.
        let h = (key as usize as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        (h >> (64 - KeyTexts::SETS.trailing_zeros())) as usize
    }

    /// Appends `sep` and the text of `key` if it is kept here; false (and
    /// `out` unchanged) if not.
    #[inline(always)]
    pub fn write(&self, out: &mut Vec<u8>, key: *mut PyObject, sep: u8) -> bool {
        let set = &self.sets[Self::set_of(key)];
        let Some(entry) = set.iter().find(|e| e.key == key) else {
            return false;
        };
        out.reserve(1 + MAX_TEXT);
        let len = out.len();
        // SAFETY: `1 + MAX_TEXT` bytes are reserved at `len`; the whole
        // text array is copied, and only `1 + entry.len` bytes (all
        // written) are taken into the length.
        unsafe {
            let dst = out.as_mut_ptr().add(len);
            dst.write(sep);
            dst.add(1)
                .cast::<[u8; MAX_TEXT]>()
                .write_unaligned(entry.text);
            out.set_len(len + 1 + entry.len);
        }
        true
    }

    /// Keeps `text` as the text of `key`, first in its set; the entry it
    /// displaces, if any, lets its key go.
    ///
    /// # Safety
    /// `key` is a live, exact `str` whose JSON key text is `text`, and the
    /// GIL is held.
    #[cold]
    #[inline(never)]
    pub unsafe fn insert(&mut self, key: *mut PyObject, text: &[u8]) {
        if text.len() > MAX_TEXT {
            return;
        }
        let mut entry = Entry {
            key,
            len: text.len(),
            text: [0; MAX_TEXT],
        };
        entry.text[..text.len()].copy_from_slice(text);
        let set = &mut self.sets[Self::set_of(key)];
        let old = set[1].key;
        set[1] = set[0];
        set[0] = entry;
        // SAFETY: `key` is live, and the entry now holds a reference to it;
        // `old` was held by the entry that was dropped (a `str` frees no
        // other object and runs no Python code).
        unsafe {
            c::Py_IncRef(key);
            if !old.is_null() {
                c::Py_DecRef(old);
            }
        }
    }
}
