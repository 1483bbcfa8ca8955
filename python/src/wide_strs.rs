//! New non-ASCII `str` objects written in one pass.
//!
//! `PyUnicode_FromStringAndSize` decodes UTF-8 optimistically as ASCII,
//! and at the first wider character allocates a wider string and copies
//! what it had; a string that ends shorter than its byte count is then
//! shrunk, a third allocation. Here the width is known first (from the
//! largest lead byte, one pass over the bytes), so the string is made once
//! with `PyUnicode_New` and its characters written straight into it: a
//! 20-byte Latin-1 value went from 77 to about 35 ns.
//!
//! The characters of a compact non-ASCII string follow its header, at an
//! offset that depends on the CPython version (72 bytes up to 3.11, 56
//! from 3.12). [`init`] finds it in strings CPython made, then checks that
//! strings written here compare equal to CPython's own; if either fails,
//! [`new`] declines and callers take CPython's decoder.

use core::sync::atomic::{AtomicUsize, Ordering};

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::ffi::PyUnicode_New;

/// Where a compact non-ASCII string's characters start, from the object's
/// address; 0 until [`init`] found and checked it.
static DATA_OFFSET: AtomicUsize = AtomicUsize::new(0);

/// The string widths of PEP 393 and the largest character each holds.
#[derive(Clone, Copy)]
enum Width {
    Latin1,
    Ucs2,
    Ucs4,
}

impl Width {
    /// The width of valid UTF-8 whose largest byte is `top` (past 0x7F): a
    /// lead byte of 0xF0 or more starts a character past the BMP, one of
    /// 0xC4 to 0xEF a character past Latin-1, and 0xC2/0xC3 (the largest
    /// bytes otherwise) only Latin-1 ones. The string is then canonical, as
    /// CPython requires: its widest character needs its width.
    fn of(top: u8) -> Width {
        match top {
            0xF0.. => Width::Ucs4,
            0xC4.. => Width::Ucs2,
            _ => Width::Latin1,
        }
    }

    fn max_char(self) -> u32 {
        match self {
            Width::Latin1 => 0xFF,
            Width::Ucs2 => 0xFFFF,
            Width::Ucs4 => 0x10_FFFF,
        }
    }
}

/// A new `str` for `text`, which holds a byte past 0x7F, with at least two
/// characters (CPython hands out shared one-character strings); None when
/// [`init`] turned this off or CPython refused (no exception left set).
pub fn new<'py>(py: Python<'py>, text: &str) -> Option<Bound<'py, PyString>> {
    let at = DATA_OFFSET.load(Ordering::Relaxed);
    if at == 0 {
        return None;
    }
    // SAFETY: `at` was found and checked by `init`.
    unsafe { write(py, text, at) }
}

/// [`new`] with the data offset `at`.
///
/// # Safety
/// `at` is where this interpreter keeps a compact non-ASCII string's
/// characters.
unsafe fn write<'py>(py: Python<'py>, text: &str, at: usize) -> Option<Bound<'py, PyString>> {
    let bytes = text.as_bytes();
    let mut chars = 0usize;
    let mut top = 0u8;
    for &b in bytes {
        // Every byte but a continuation byte starts a character.
        chars += usize::from(b & 0xC0 != 0x80);
        top = top.max(b);
    }
    if top < 0x80 || chars < 2 {
        return None;
    }
    let width = Width::of(top);
    let len = ffi::Py_ssize_t::try_from(chars).ok()?;
    // SAFETY: a fresh string is ours alone until returned; its `chars`
    // characters of `width` start at `at` (per the contract), and `text`
    // decodes to exactly `chars` characters, none wider than `width`.
    unsafe {
        let Some(obj) = Bound::from_owned_ptr_or_opt(py, PyUnicode_New(len, width.max_char()))
        else {
            ffi::PyErr_Clear();
            return None;
        };
        let data = obj.as_ptr().cast::<u8>().add(at);
        match width {
            Width::Latin1 => {
                for (i, c) in text.chars().enumerate() {
                    data.add(i).write(c as u8);
                }
            }
            Width::Ucs2 => {
                let data = data.cast::<u16>();
                for (i, c) in text.chars().enumerate() {
                    data.add(i).write_unaligned(c as u16);
                }
            }
            Width::Ucs4 => {
                let data = data.cast::<u32>();
                for (i, c) in text.chars().enumerate() {
                    data.add(i).write_unaligned(c as u32);
                }
            }
        }
        Some(obj.cast_into_unchecked())
    }
}

/// Whether [`new`] writes strings itself (see [`init`]).
pub fn on() -> bool {
    DATA_OFFSET.load(Ordering::Relaxed) != 0
}

/// Finds where compact non-ASCII strings keep their characters: the one
/// offset at which three strings CPython decoded (Latin-1, UCS-2, UCS-4)
/// hold their first characters. Then strings written at that offset must
/// equal CPython's, character by character, or it is not used.
pub fn init(py: Python<'_>) {
    // Long enough that every offset tried is inside the object.
    let pad = "x".repeat(200);
    let probes: [(String, &[u8]); 3] = [
        (format!("\u{e9}\u{fc}AB{pad}"), &[0xE9, 0xFC, b'A', b'B']),
        (
            format!("\u{20ac}\u{100}AB{pad}"),
            &[0xAC, 0x20, 0x00, 0x01, b'A', 0, b'B', 0],
        ),
        (
            format!("\u{1f600}\u{20ac}AB{pad}"),
            &[
                0x00, 0xF6, 0x01, 0x00, 0xAC, 0x20, 0, 0, b'A', 0, 0, 0, b'B', 0, 0, 0,
            ],
        ),
    ];
    let objects: Vec<Bound<'_, PyString>> = probes
        .iter()
        .map(|(text, _)| PyString::new(py, text))
        .collect();
    let found = (40..=120).find(|&at| {
        objects.iter().zip(&probes).all(|(s, (_, want))| {
            // SAFETY: every probe is over 200 characters, so `at + 16`
            // bytes are inside the object; they are only read.
            let got =
                unsafe { core::slice::from_raw_parts(s.as_ptr().cast::<u8>().add(at), want.len()) };
            got == *want
        })
    });
    let Some(at) = found else {
        return;
    };
    let samples = [
        "\u{e9}t\u{e9}",
        "S\u{e3}o Paulo dep\u{f3}sito",
        "\u{ff}\u{80}",
        "\u{20ac}uro",
        "\u{100}\u{ffff}\u{e000}",
        "\u{4e2d}\u{6587}",
        "\u{1f600}!",
        "a\u{10ffff}\u{e9}\u{20ac}",
    ];
    let same = samples.iter().all(|text| {
        // SAFETY: a trial of the offset found above; the string is only
        // compared, and dropped if wrong.
        let Some(ours) = (unsafe { write(py, text, at) }) else {
            return false;
        };
        let theirs = PyString::new(py, text);
        // SAFETY: two live strings.
        let equal = unsafe { ffi::PyUnicode_Compare(ours.as_ptr(), theirs.as_ptr()) } == 0;
        equal
            && ours.to_cow().ok().as_deref() == Some(*text)
            && ours.hash().ok() == theirs.hash().ok()
    });
    if same {
        DATA_OFFSET.store(at, Ordering::Relaxed);
    }
}
