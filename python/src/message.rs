//! `Message`: one decoded frame, holding the caller's `str`/`bytes` and the
//! codec's borrowed view of it; Python objects are made on access.

use core::mem::MaybeUninit;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::OnceLock;

use phoenix_wire::frame::{self, Reply};
use phoenix_wire::{Direction, Frame, Payload, Ref, Vsn};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};

const _: () = {
    const fn shared_between_threads<T: Send + Sync>() {}
    shared_between_threads::<Message>();
};

use crate::errors::decode_error;
use crate::ffi;
use crate::to_py::{envelope_str, to_py};

/// A decoded Phoenix Channels message.
///
/// Made by `decode`/`decode_text`; the frame was validated once, and its
/// fields become Python objects only when read. `payload` is converted on
/// first access and cached. Python sees it through `message_type`, which
/// shares it between threads (hence `Sync`, checked below) and never
/// mutates it but through its set-once cells.
pub struct Message {
    view: View,
    /// See `ObjCell` and `cached`.
    payload: ObjCell,
    response: ObjCell,
}

/// The input object and the codec's view of it, kept together so the view
/// can never outlive the bytes it borrows.
struct View {
    /// The `str` or `bytes` the frame was decoded from (both immutable).
    owner: Py<PyAny>,
    frame: Frame<'static>,
    /// The reply's status and response, found on first use: most messages
    /// are not replies, and finding out cost a twentieth of `decode`.
    reply: OnceLock<Option<Reply<'static>>>,
}

impl View {
    #[inline]
    fn frame(&self) -> &Frame<'_> {
        &self.frame
    }

    #[inline]
    fn reply(&self) -> Option<&Reply<'_>> {
        self.reply
            .get_or_init(|| {
                if self.frame.is_reply() {
                    self.frame.reply().ok()
                } else {
                    None
                }
            })
            .as_ref()
    }
}

impl Message {
    /// Decodes `data`, the contents of `owner` (an immutable `str` or
    /// `bytes`), straight into `slot`: `decode` writes the frame where the
    /// Python object keeps it, and the other fields follow. Built on the
    /// stack and moved in, a message was copied (250 bytes) with loads
    /// that waited on the stores still in flight that had just written it:
    /// a tenth of a heartbeat's `decode`.
    ///
    /// # Safety
    /// `slot` is valid for writing a `Message`. After `Ok` it holds one;
    /// after `Err` it holds nothing that needs dropping.
    #[inline(always)]
    unsafe fn init(
        slot: *mut Message,
        owner: &Bound<'_, PyAny>,
        data: &[u8],
        decode: impl FnOnce(&mut MaybeUninit<Frame<'static>>, &'static [u8]) -> phoenix_wire::Result<()>,
    ) -> PyResult<()> {
        // SAFETY: `data` is the buffer of `owner`, whose buffer never
        // moves; the message keeps `owner` alive as long as the frame and
        // reply, and only lends them out with lifetimes bounded by `&self`
        // (see `View::frame` and `View::reply`). `slot` is writable (the
        // contract); each field is written once, the frame first, so an
        // error leaves nothing behind.
        unsafe {
            let frame = core::ptr::addr_of_mut!((*slot).view.frame);
            decode(&mut *frame.cast(), ffi::extend(data))
                .map_err(|e| decode_error(owner.py(), e))?;
            core::ptr::addr_of_mut!((*slot).view.owner).write(owner.clone().unbind());
            core::ptr::addr_of_mut!((*slot).view.reply).write(OnceLock::new());
            core::ptr::addr_of_mut!((*slot).payload).write(ObjCell::new());
            core::ptr::addr_of_mut!((*slot).response).write(ObjCell::new());
        }
        Ok(())
    }

    /// [`init`](Self::init) for a text frame held by `owner`, a `str` whose
    /// UTF-8 is `text` (so not checked again): what websocket libraries
    /// hand over.
    ///
    /// # Safety
    /// As for `init`.
    #[inline(always)]
    pub unsafe fn init_text_str(
        slot: *mut Message,
        owner: &Bound<'_, PyAny>,
        text: &str,
        vsn: Vsn,
    ) -> PyResult<()> {
        // SAFETY: the caller's contract; `d` is `text`'s bytes, so UTF-8.
        unsafe {
            Message::init(slot, owner, text.as_bytes(), |out, d| {
                frame::decode_text_str_into(core::str::from_utf8_unchecked(d), vsn, out)
            })
        }
    }

    /// [`init`](Self::init) for a text frame held by `owner` as `bytes`.
    ///
    /// # Safety
    /// As for `init`.
    #[inline(always)]
    pub unsafe fn init_text(
        slot: *mut Message,
        owner: &Bound<'_, PyAny>,
        data: &[u8],
        vsn: Vsn,
    ) -> PyResult<()> {
        // SAFETY: the caller's contract.
        unsafe {
            Message::init(slot, owner, data, |out, d| {
                put(out, frame::decode_text(d, vsn))
            })
        }
    }

    /// [`init`](Self::init) for a binary frame held by `owner` (a `bytes`).
    ///
    /// # Safety
    /// As for `init`.
    #[inline(always)]
    pub unsafe fn init_binary(
        slot: *mut Message,
        owner: &Bound<'_, PyAny>,
        data: &[u8],
        dir: Direction,
    ) -> PyResult<()> {
        // SAFETY: the caller's contract.
        unsafe {
            Message::init(slot, owner, data, |out, d| {
                put(out, frame::decode_binary(d, dir))
            })
        }
    }
}

/// A decoder's returned frame, written into `slot`.
#[inline(always)]
fn put(
    slot: &mut MaybeUninit<Frame<'static>>,
    decoded: phoenix_wire::Result<Frame<'static>>,
) -> phoenix_wire::Result<()> {
    slot.write(decoded?);
    Ok(())
}

fn ref_to_py<'py>(py: Python<'py>, r: &Ref<'_>) -> PyResult<Bound<'py, PyAny>> {
    match r {
        Ref::Null => Ok(py.None().into_bound(py)),
        Ref::Str(s) => Ok(envelope_str(py, *s)),
        Ref::Int(i) => Ok(i.into_pyobject(py)?.into_any()),
    }
}

/// A payload as Python sees it: JSON converted, raw bytes as `bytes`.
fn payload_to_py<'py>(py: Python<'py>, p: &Payload<'_>) -> PyResult<Bound<'py, PyAny>> {
    match p {
        Payload::Json(raw) => to_py(py, *raw),
        Payload::Binary(b) | Payload::Reply { response: b, .. } => {
            Ok(PyBytes::new(py, b).into_any())
        }
    }
}

/// A Python object stored once, then read by any thread: a pointer that
/// owns one reference. (`PyOnceLock` and `std`'s `OnceLock` both go
/// through a `Once` state machine to store, which was a twentieth of
/// reading a small payload; here it is one compare-and-swap.)
struct ObjCell(AtomicPtr<pyo3::ffi::PyObject>);

impl ObjCell {
    const fn new() -> ObjCell {
        ObjCell(AtomicPtr::new(core::ptr::null_mut()))
    }

    fn get<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyAny>> {
        let p = self.0.load(Ordering::Acquire);
        // SAFETY: a stored pointer is a reference the cell owns until it is
        // dropped or taken, which needs `&mut self`.
        unsafe { Bound::from_borrowed_ptr_or_opt(py, p) }
    }

    /// Stores `v` unless another object was stored first; returns the
    /// stored one.
    fn set<'py>(&self, v: Bound<'py, PyAny>) -> Bound<'py, PyAny> {
        let py = v.py();
        let p = v.clone().into_ptr();
        match self.0.compare_exchange(
            core::ptr::null_mut(),
            p,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => v,
            // SAFETY: `p` is the reference taken above, stored nowhere;
            // `existing` is owned by the cell, which outlives this borrow.
            Err(existing) => unsafe {
                drop(Bound::from_owned_ptr(py, p));
                Bound::from_borrowed_ptr(py, existing)
            },
        }
    }

    /// The stored object, taken out of the cell.
    fn take(&mut self, py: Python<'_>) -> Option<Py<PyAny>> {
        let p = core::mem::replace(self.0.get_mut(), core::ptr::null_mut());
        // SAFETY: the cell owned that reference and no longer holds it.
        unsafe { Bound::from_owned_ptr_or_opt(py, p) }.map(Bound::unbind)
    }
}

impl Drop for ObjCell {
    fn drop(&mut self) {
        // Messages give their objects back in `release_in_place`, with the GIL; a
        // cell dropped otherwise (never holding an object in practice)
        // attaches to the interpreter to do it.
        if !self.0.get_mut().is_null() {
            Python::attach(|py| drop(self.take(py)));
        }
    }
}

/// The value in `cell`, made by `make` on first use.
///
/// `make` runs with the cell unlocked: an initializer that blocked could
/// deadlock against a thread waiting for the GIL, and a conversion that ran
/// Python code could re-enter. Two threads may both convert; the first to
/// store wins and both return its object.
fn cached<'py>(
    py: Python<'py>,
    cell: &ObjCell,
    make: impl FnOnce() -> PyResult<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    if let Some(v) = cell.get(py) {
        return Ok(v);
    }
    Ok(cell.set(make()?))
}

/// The accessors behind the Python type's attributes (see `message_type`).
impl Message {
    /// `join_ref`: `str`, `int` or None.
    pub fn join_ref<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        ref_to_py(py, &self.view.frame().join_ref)
    }

    /// `ref`: `str`, `int` or None.
    pub fn ref_<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        ref_to_py(py, &self.view.frame().ref_)
    }

    /// `topic`.
    pub fn topic<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(envelope_str(py, self.view.frame().topic))
    }

    /// `event`.
    pub fn event<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(envelope_str(py, self.view.frame().event))
    }

    /// `payload`: converted on first access, then cached.
    pub fn payload<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        cached(py, &self.payload, || {
            payload_to_py(py, &self.view.frame().payload)
        })
    }

    /// `payload_raw`: the payload's wire bytes.
    pub fn payload_raw<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let bytes = match self.view.frame().payload {
            Payload::Json(raw) => PyBytes::new(py, raw.raw().as_bytes()),
            Payload::Binary(b) | Payload::Reply { response: b, .. } => PyBytes::new(py, b),
        };
        Ok(bytes.into_any())
    }

    /// `status`: a reply's status, else None.
    pub fn status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(match self.view.reply().and_then(|r| r.status) {
            Some(status) => envelope_str(py, status),
            None => py.None().into_bound(py),
        })
    }

    /// `response`: a reply's response (cached), else None.
    pub fn response<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let Some(reply) = self.view.reply() else {
            return Ok(py.None().into_bound(py));
        };
        cached(py, &self.response, || payload_to_py(py, &reply.response))
    }

    /// `repr()`.
    pub fn repr(&self, py: Python<'_>) -> PyResult<String> {
        let f = self.view.frame();
        let mut s = format!(
            "Message(join_ref={}, ref={}, topic={}, event={}, payload={}",
            self.join_ref(py)?.repr()?,
            self.ref_(py)?.repr()?,
            self.topic(py)?.repr()?,
            self.event(py)?.repr()?,
            self.payload(py)?.repr()?,
        );
        if let Payload::Reply { status, .. } = f.payload {
            s.push_str(&format!(", status={}", envelope_str(py, status).repr()?));
        }
        s.push(')');
        Ok(s)
    }

    /// `==`: every field equal (payloads compared as Python objects).
    pub fn eq(&self, py: Python<'_>, other: &Message) -> PyResult<bool> {
        self.fields(py)?.eq(other.fields(py)?)
    }

    /// Drops the message where it lies, releasing its Python references
    /// directly: it is called from the type's `tp_dealloc`, where CPython
    /// holds the GIL but PyO3 does not know it (a plain drop would queue
    /// the decrefs). Moving the message out first copied its 250 bytes
    /// with a `memcpy` whose wide loads waited on the narrow stores that
    /// had just written them (a tenth of a heartbeat's `decode`).
    ///
    /// # Safety
    /// `this` points to a live message, which is never used again.
    pub unsafe fn release_in_place(this: *mut Message, py: Python<'_>) {
        // SAFETY: per the contract, every field is live and dropped once.
        // The view borrows from its owner: its frame and reply (which own
        // nothing) go first.
        unsafe {
            core::ptr::drop_in_place(core::ptr::addr_of_mut!((*this).view.frame));
            core::ptr::drop_in_place(core::ptr::addr_of_mut!((*this).view.reply));
            drop(
                core::ptr::addr_of!((*this).view.owner)
                    .read()
                    .into_bound(py),
            );
            for cell in [
                core::ptr::addr_of_mut!((*this).payload),
                core::ptr::addr_of_mut!((*this).response),
            ] {
                if let Some(v) = (*cell).take(py) {
                    drop(v.into_bound(py));
                }
                core::ptr::drop_in_place(cell);
            }
        }
    }
}

impl Message {
    fn fields<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(
            py,
            [
                self.join_ref(py)?,
                self.ref_(py)?,
                self.topic(py)?,
                self.event(py)?,
                self.status(py)?,
                self.payload(py)?,
            ],
        )
    }
}
