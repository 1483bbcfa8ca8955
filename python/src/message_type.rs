//! The Python type `phoenix_wire.Message`, made by hand around [`Message`].
//!
//! A `#[pyclass]` cost more than the decode it wraps: PyO3 allocates every
//! instance through `object.__new__` and `PyType_GenericAlloc`, zeroed and
//! tracked by the cycle collector, and frees it through its own dealloc
//! trampoline; that was a third of a small `decode`. This type is a plain
//! heap type: an instance is the object header followed by the Rust value,
//! allocated with `PyObject_Malloc` and not tracked by the collector (a
//! `Message` only refers to its input and to objects it made, so it can be
//! part of a cycle only if the caller puts it inside its own payload; a
//! `#[pyclass]` did not traverse its fields either). It is final, cannot be
//! made from Python, and its attributes are read-only getters.

use core::ffi::{c_int, c_void, CStr};
use core::sync::atomic::{AtomicPtr, Ordering};

use pyo3::exceptions::{PySystemError, PyTypeError};
use pyo3::ffi::{self, PyObject};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyString};

use crate::fastcall::trampoline;
use crate::gil_cell::GilCell;
use crate::message::Message;

/// An instance: CPython's header, then the message.
#[repr(C)]
struct MessageObject {
    ob_base: PyObject,
    message: Message,
}

/// The type, created once by [`register`] and kept for the process.
static TYPE: AtomicPtr<ffi::PyTypeObject> = AtomicPtr::new(core::ptr::null_mut());

/// A new Python `Message` whose message `init` writes into the object's
/// memory: a block kept in [`FREE`] (still an instance's, header and
/// type reference included), or one allocated first. On an error from
/// `init` (which then leaves nothing in it to drop) the block goes back.
#[inline(always)]
pub fn new_object(
    py: Python<'_>,
    init: impl FnOnce(*mut Message) -> PyResult<()>,
) -> PyResult<Py<PyAny>> {
    let ty = TYPE.load(Ordering::Acquire);
    if ty.is_null() {
        return Err(PySystemError::new_err("phoenix_wire.Message is not ready"));
    }
    // SAFETY: a kept block is a whole instance whose message was released,
    // still holding its reference to the type; it becomes an object again
    // once `init` has written the message and its count is set to one (the
    // header's first word; the type is already in the second). A new block
    // is sized for a `MessageObject` and becomes an object once `init` has
    // written the message and `PyObject_Init` has filled in the header
    // (count one, type, and a reference to the heap type that `dealloc`
    // gives back). Until then either is raw memory, given back as such on
    // an error. The result is a new reference.
    unsafe {
        let kept = FREE.with(py, |free| free.and_then(FreeList::pop));
        let obj = match kept {
            Some(obj) => obj,
            None => ffi::PyObject_Malloc(core::mem::size_of::<MessageObject>()).cast(),
        };
        if obj.is_null() {
            ffi::PyErr_NoMemory();
            return Err(PyErr::fetch(py));
        }
        // One call site: `init` inlines the decoder.
        if let Err(e) = init(core::ptr::addr_of_mut!((*obj).message)) {
            if kept.is_some() {
                keep_or_free(py, obj);
            } else {
                ffi::PyObject_Free(obj.cast());
            }
            return Err(e);
        }
        if kept.is_some() {
            obj.cast::<ffi::Py_ssize_t>().write(1);
        } else {
            ffi::PyObject_Init(obj.cast(), ty);
        }
        Ok(Bound::from_owned_ptr(py, obj.cast()).unbind())
    }
}

/// Instances whose message was released, kept whole for the next ones
/// (as CPython keeps freed floats and tuples): allocating and freeing the
/// block, and taking and returning its reference to the type, were a
/// tenth of decoding a heartbeat. At most [`FreeList::MAX`] are kept, a few
/// KiB, each with a reference to the type (which lives for the process).
/// A reused instance gets its count set directly, not through
/// `_Py_NewReference` (outside the stable ABI), so tracemalloc keeps the
/// block's first allocation as where it came from.
static FREE: GilCell<FreeList> = GilCell::new(FreeList {
    blocks: [core::ptr::null_mut(); FreeList::MAX],
    len: 0,
});

struct FreeList {
    blocks: [*mut MessageObject; FreeList::MAX],
    len: usize,
}

// SAFETY: the blocks are instances no one refers to, handed between
// threads only under the GIL (the list lives in a `GilCell`).
unsafe impl Send for FreeList {}

impl FreeList {
    const MAX: usize = 16;

    fn pop(&mut self) -> Option<*mut MessageObject> {
        self.len = self.len.checked_sub(1)?;
        Some(self.blocks[self.len])
    }

    /// Keeps `block`, or hands it back if the list is full.
    fn push(&mut self, block: *mut MessageObject) -> Result<(), *mut MessageObject> {
        let slot = self.blocks.get_mut(self.len).ok_or(block)?;
        *slot = block;
        self.len += 1;
        Ok(())
    }
}

/// Keeps an instance whose message was released in [`FREE`], or frees its
/// block and returns its reference to the type.
///
/// # Safety
/// `obj` is such an instance, made by [`new_object`], that no one refers
/// to any more; the GIL is held.
unsafe fn keep_or_free(py: Python<'_>, obj: *mut MessageObject) {
    let kept = FREE.with(py, |free| free.map(|f| f.push(obj)));
    if !matches!(kept, Some(Ok(()))) {
        // SAFETY: per the contract; the type is read before the block goes.
        unsafe {
            let ty = ffi::Py_TYPE(obj.cast());
            ffi::PyObject_Free(obj.cast());
            ffi::Py_DecRef(ty.cast());
        }
    }
}

/// The message inside an instance.
///
/// # Safety
/// `obj` is a live instance of the type (it is final: never a subclass),
/// and the reference does not outlive it.
unsafe fn message_of<'a>(obj: *mut PyObject) -> &'a Message {
    // SAFETY: per the contract, `obj` points to a `MessageObject`.
    unsafe { &(*obj.cast::<MessageObject>()).message }
}

unsafe extern "C" fn dealloc(obj: *mut PyObject) {
    // SAFETY: CPython calls `tp_dealloc` once, with the GIL held, when the
    // last reference to an instance is gone: the message is released
    // exactly once where it lies, then the instance, which no one refers
    // to, is kept or freed.
    unsafe {
        let py = Python::assume_attached();
        let obj = obj.cast::<MessageObject>();
        Message::release_in_place(core::ptr::addr_of_mut!((*obj).message), py);
        keep_or_free(py, obj);
    }
}

/// Defines a `getter` (CPython's getset signature) that returns what the
/// named [`Message`] accessor returns.
macro_rules! getter {
    ($name:ident, $method:ident) => {
        unsafe extern "C" fn $name(obj: *mut PyObject, _closure: *mut c_void) -> *mut PyObject {
            trampoline(|py| {
                // SAFETY: CPython calls a type's getters with an instance.
                let m = unsafe { message_of(obj) };
                Ok(m.$method(py)?.unbind())
            })
        }
    };
}

getter!(get_join_ref, join_ref);
getter!(get_ref, ref_);
getter!(get_topic, topic);
getter!(get_event, event);
getter!(get_payload, payload);
getter!(get_payload_raw, payload_raw);
getter!(get_status, status);
getter!(get_response, response);

unsafe extern "C" fn repr(obj: *mut PyObject) -> *mut PyObject {
    trampoline(|py| {
        // SAFETY: `tp_repr` is called with an instance.
        let m = unsafe { message_of(obj) };
        Ok(PyString::new(py, &m.repr(py)?).into_any().unbind())
    })
}

/// `==` and `!=` between two messages; anything else is NotImplemented.
unsafe extern "C" fn richcompare(a: *mut PyObject, b: *mut PyObject, op: c_int) -> *mut PyObject {
    trampoline(|py| {
        let ty = TYPE.load(Ordering::Acquire);
        // SAFETY: both are live objects; only their types are read.
        let both = unsafe { ffi::Py_TYPE(a) == ty && ffi::Py_TYPE(b) == ty };
        if !both || (op != ffi::Py_EQ && op != ffi::Py_NE) {
            return Ok(py.NotImplemented());
        }
        // SAFETY: both are instances (checked above).
        let eq = unsafe { message_of(a).eq(py, message_of(b))? };
        Ok(PyBool::new(py, eq == (op == ffi::Py_EQ))
            .to_owned()
            .into_any()
            .unbind())
    })
}

unsafe extern "C" fn no_new(
    _ty: *mut ffi::PyTypeObject,
    _args: *mut PyObject,
    _kwargs: *mut PyObject,
) -> *mut PyObject {
    trampoline(|_| {
        Err(PyTypeError::new_err(
            "cannot create 'phoenix_wire.Message' instances: use decode()",
        ))
    })
}

const DOC: &CStr = c"A decoded Phoenix Channels message.

Made by decode/decode_text; the frame was validated once, and its fields
become Python objects only when read. payload is converted on first access
and cached.";

type Getter = unsafe extern "C" fn(*mut PyObject, *mut c_void) -> *mut PyObject;

/// The attributes: name, getter, docstring.
const ATTRIBUTES: [(&CStr, Getter, &CStr); 8] = [
    (c"join_ref", get_join_ref, c"The ref of the join this message belongs to: str, int or None."),
    (c"ref", get_ref, c"The message's own ref (replies carry the ref they answer): str, int or None."),
    (c"topic", get_topic, c"The topic, e.g. \"room:lobby\"."),
    (c"event", get_event, c"The event, e.g. \"phx_join\"; binary replies read as \"phx_reply\"."),
    (
        c"payload",
        get_payload,
        c"The payload: Python objects for a text frame (converted on first access, then cached), bytes for a binary frame (for a binary reply, the response bytes).",
    ),
    (
        c"payload_raw",
        get_payload_raw,
        c"The payload exactly as it was on the wire: raw JSON text or the binary payload, as bytes.",
    ),
    (
        c"status",
        get_status,
        c"A reply's status (\"ok\", \"error\", ...); None for other messages or when a JSON reply has no string status.",
    ),
    (
        c"response",
        get_response,
        c"A reply's response: Python objects for a JSON reply (None when it has none), bytes for a binary reply; None for other messages.",
    ),
];

/// Creates the type (once per process) and adds it to `m` as `Message`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let mut ty = TYPE.load(Ordering::Acquire);
    if ty.is_null() {
        ty = create(py)?;
    }
    // SAFETY: `ty` is the live type object, kept for the process.
    let ty = unsafe { Bound::from_borrowed_ptr(py, ty.cast()) };
    m.add("Message", ty)
}

fn create(py: Python<'_>) -> PyResult<*mut ffi::PyTypeObject> {
    // CPython keeps a pointer to the getset table: it lives for the process,
    // as the type does.
    let mut table: Vec<ffi::PyGetSetDef> = ATTRIBUTES
        .iter()
        .map(|&(name, get, doc)| ffi::PyGetSetDef {
            name: name.as_ptr(),
            get: Some(get),
            set: None,
            doc: doc.as_ptr(),
            closure: core::ptr::null_mut(),
        })
        .collect();
    table.push(ffi::PyGetSetDef::default());
    let getset = Box::leak(table.into_boxed_slice());
    let slot = |slot: c_int, pfunc: *mut c_void| ffi::PyType_Slot { slot, pfunc };
    let mut slots = [
        slot(ffi::Py_tp_doc, DOC.as_ptr().cast_mut().cast()),
        slot(ffi::Py_tp_dealloc, dealloc as *mut c_void),
        slot(ffi::Py_tp_getset, getset.as_mut_ptr().cast()),
        slot(ffi::Py_tp_repr, repr as *mut c_void),
        slot(ffi::Py_tp_richcompare, richcompare as *mut c_void),
        slot(ffi::Py_tp_new, no_new as *mut c_void),
        ffi::PyType_Slot::default(),
    ];
    let mut spec = ffi::PyType_Spec {
        // Static: CPython keeps pointing into the name.
        name: c"phoenix_wire.Message".as_ptr(),
        basicsize: core::mem::size_of::<MessageObject>() as c_int,
        itemsize: 0,
        // Neither BASETYPE (final) nor HAVE_GC (see the module docs).
        flags: ffi::Py_TPFLAGS_DEFAULT as _,
        slots: slots.as_mut_ptr(),
    };
    // SAFETY: the spec, its slots and everything they point to are valid
    // for the call; the name, docstrings and getset table for the process.
    // The result is a new reference or NULL with an exception set.
    let ty = unsafe { Bound::from_owned_ptr_or_err(py, ffi::PyType_FromSpec(&mut spec))? };
    // The reference is kept for the process, as a static type would be.
    let raw = ty.into_ptr().cast::<ffi::PyTypeObject>();
    match TYPE.compare_exchange(
        core::ptr::null_mut(),
        raw,
        Ordering::AcqRel,
        Ordering::Acquire,
    ) {
        Ok(_) => Ok(raw),
        Err(existing) => {
            // SAFETY: `raw` is our own reference, unused elsewhere.
            unsafe { ffi::Py_DecRef(raw.cast()) };
            Ok(existing)
        }
    }
}
