//! Vectorcall entry points for the per-message functions.
//!
//! Under the Python 3.9 stable ABI, PyO3 registers functions with the old
//! tuple-and-dict calling convention (`METH_FASTCALL` joined the limited API
//! only in 3.10): every call builds an argument tuple, and with keywords a
//! dict. Measured on `decode`, that was 20 % of a bare call and 45 % of a
//! call with `vsn=`. Every CPython since 3.7 understands
//! `METH_FASTCALL | METH_KEYWORDS`, so `decode`, `decode_text` and `encode`
//! are registered here by hand with that convention; the abi3 wheel still
//! loads on 3.9 (tested on 3.9, 3.11 and 3.13).

use core::ffi::{c_int, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::exceptions::{PySystemError, PyTypeError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyString, PyTuple};

use crate::ffi::str_utf8;

const METH_KEYWORDS: c_int = 0x0002;
const METH_FASTCALL: c_int = 0x0080;

/// `PyCFunctionFastWithKeywords`: self, the argument vector, the number of
/// positional arguments, and a tuple naming the keyword arguments that
/// follow them in the vector (or NULL).
pub type FastFn = unsafe extern "C" fn(
    *mut ffi::PyObject,
    *const *mut ffi::PyObject,
    ffi::Py_ssize_t,
    *mut ffi::PyObject,
) -> *mut ffi::PyObject;

/// Defines `$name` as a `METH_FASTCALL | METH_KEYWORDS` function (a
/// [`FastFn`]) whose body runs in [`trampoline`] with the GIL token and the
/// [`Call`] CPython made: each function writes only its argument handling.
///
/// ```ignore
/// fastcall_fn!(decode_fast, |py, call| {
///     // SAFETY: the arguments CPython passed to this fastcall function.
///     let a = unsafe { SIG.parse(py, call)? };
///     ...
/// });
/// ```
macro_rules! fastcall_fn {
    ($name:ident, |$py:ident, $call:ident| $body:block) => {
        unsafe extern "C" fn $name(
            _module: *mut pyo3::ffi::PyObject,
            args: *const *mut pyo3::ffi::PyObject,
            nargs: pyo3::ffi::Py_ssize_t,
            kwnames: *mut pyo3::ffi::PyObject,
        ) -> *mut pyo3::ffi::PyObject {
            $crate::fastcall::trampoline(|$py| {
                let $call = $crate::fastcall::Call {
                    args,
                    nargs,
                    kwnames,
                };
                $body
            })
        }
    };
}

/// Adds `func` to `m` as a builtin function. `doc` starts with the text
/// signature (`name(a, /, *, b=...)\n--\n\n`) so `inspect.signature` works.
pub fn add(
    m: &Bound<'_, PyModule>,
    name: &'static CStr,
    doc: &'static CStr,
    func: FastFn,
) -> PyResult<()> {
    let py = m.py();
    // SAFETY: CPython calls `ml_meth` with the signature `ml_flags` names;
    // C extensions store fastcall functions in this field the same way
    // (the union's other variants are absent from the 3.9 limited API).
    let meth = unsafe { core::mem::transmute::<FastFn, ffi::PyCFunction>(func) };
    // The definition must outlive the function object: it lives for the
    // process, one per function per module initialization.
    let def = Box::leak(Box::new(ffi::PyMethodDef {
        ml_name: name.as_ptr(),
        ml_meth: ffi::PyMethodDefPointer { PyCFunction: meth },
        ml_flags: METH_FASTCALL | METH_KEYWORDS,
        ml_doc: doc.as_ptr(),
    }));
    let module_name = m.name()?;
    // SAFETY: `def` is valid for 'static; the result is a new reference or
    // NULL with an exception set.
    let f = unsafe {
        Bound::from_owned_ptr_or_err(
            py,
            ffi::PyCFunction_NewEx(def, core::ptr::null_mut(), module_name.as_ptr()),
        )?
    };
    m.add(name.to_str().unwrap_or("?"), f)
}

/// Runs the body of a fastcall function: turns its result into a new
/// reference, or NULL with the Python exception set; a panic becomes a
/// `SystemError` instead of unwinding into CPython.
pub fn trampoline(body: impl FnOnce(Python<'_>) -> PyResult<Py<PyAny>>) -> *mut ffi::PyObject {
    // SAFETY: CPython calls builtin functions with the GIL held.
    let py = unsafe { Python::assume_attached() };
    match catch_unwind(AssertUnwindSafe(|| body(py))) {
        Ok(Ok(v)) => v.into_ptr(),
        Ok(Err(e)) => {
            raise(e);
            core::ptr::null_mut()
        }
        Err(_) => {
            raise(PySystemError::new_err(
                "internal error (panic) in phoenix_wire",
            ));
            core::ptr::null_mut()
        }
    }
}

/// Sets `e` as the current exception, attached to the interpreter the way
/// PyO3 counts it. The token `trampoline` assumes is not counted, so the
/// objects a lazily built error drops as it is raised (its type and
/// message) were queued for later instead of freed: a message string per
/// failed call piled up until some PyO3-wrapped function ran. Attaching
/// frees them at once and empties that queue; it costs a
/// `PyGILState_Ensure`, so only errors take this path.
#[cold]
#[inline(never)]
fn raise(e: PyErr) {
    Python::attach(|py| e.restore(py));
}

/// A function's parameters: `params[..positional]` may come by position
/// or keyword, the rest by keyword only; the first `required` must be given.
pub struct Sig<const N: usize> {
    /// The function's name, for error messages.
    pub name: &'static str,
    /// The parameter names, in order.
    pub params: [&'static str; N],
    /// How many may be given by position.
    pub positional: usize,
    /// How many must be given.
    pub required: usize,
}

/// What CPython passed to a `METH_FASTCALL | METH_KEYWORDS` function.
pub struct Call {
    /// Positional values, then one value per keyword name.
    pub args: *const *mut ffi::PyObject,
    /// The number of positional values.
    pub nargs: ffi::Py_ssize_t,
    /// A tuple of the keyword names, or NULL.
    pub kwnames: *mut ffi::PyObject,
}

impl<const N: usize> Sig<N> {
    /// The arguments of `call`, by parameter, as new references.
    ///
    /// # Safety
    /// `call` must be exactly what CPython passed to the function.
    pub unsafe fn parse<'py>(
        &self,
        py: Python<'py>,
        call: Call,
    ) -> PyResult<[Option<Bound<'py, PyAny>>; N]> {
        // SAFETY: per the contract; the references are taken before return.
        let borrowed = unsafe { self.parse_borrowed(py, call)? };
        Ok(borrowed.map(|a| a.map(|a| a.to_owned())))
    }

    /// The arguments of `call`, by parameter, borrowed from the call (no
    /// reference counting: taking and dropping a reference per argument was
    /// a tenth of `encode`'s glue).
    ///
    /// # Safety
    /// `call` must be exactly what CPython passed to the function, and the
    /// result (`'a`) must not outlive the call.
    pub unsafe fn parse_borrowed<'a, 'py>(
        &self,
        py: Python<'py>,
        call: Call,
    ) -> PyResult<[Option<Borrowed<'a, 'py, PyAny>>; N]> {
        let fname = self.name;
        let mut out: [Option<Borrowed<'a, 'py, PyAny>>; N] = [const { None }; N];
        let nargs = usize::try_from(call.nargs).unwrap_or(0);
        if nargs > self.positional {
            return Err(PyTypeError::new_err(format!(
                "{fname}() takes {} positional argument{} but {nargs} were given",
                self.positional,
                if self.positional == 1 { "" } else { "s" }
            )));
        }
        // SAFETY: CPython passes `nargs` positional values, then one value
        // per keyword name, all borrowed for the duration of the call.
        let arg = |i: usize| unsafe { Borrowed::from_ptr(py, *call.args.add(i)) };
        for (i, slot) in out.iter_mut().enumerate().take(nargs) {
            *slot = Some(arg(i));
        }
        if !call.kwnames.is_null() {
            // SAFETY: `kwnames` is a tuple of str, borrowed for the call.
            let kw = unsafe { Bound::from_borrowed_ptr(py, call.kwnames) };
            let kw = kw.cast::<PyTuple>()?;
            for (k, key) in kw.iter().enumerate() {
                let key = str_utf8(key.cast::<PyString>()?)?;
                let Some(j) = self.params.iter().position(|n| *n == key) else {
                    return Err(PyTypeError::new_err(format!(
                        "{fname}() got an unexpected keyword argument '{key}'"
                    )));
                };
                if out[j].is_some() {
                    return Err(PyTypeError::new_err(format!(
                        "{fname}() got multiple values for argument '{key}'"
                    )));
                }
                out[j] = Some(arg(nargs + k));
            }
        }
        let given = self.params.iter().zip(&out).take(self.required);
        if let Some((missing, _)) = given.clone().find(|(_, v)| v.is_none()) {
            return Err(PyTypeError::new_err(format!(
                "{fname}() missing required argument '{missing}'"
            )));
        }
        Ok(out)
    }
}

/// A parsed argument: owned ([`Sig::parse`]) or borrowed
/// ([`Sig::parse_borrowed`]).
pub trait Arg<'py> {
    /// The argument as a `Bound`.
    fn bound(&self) -> &Bound<'py, PyAny>;
}

impl<'py> Arg<'py> for Bound<'py, PyAny> {
    fn bound(&self) -> &Bound<'py, PyAny> {
        self
    }
}

impl<'py> Arg<'py> for Borrowed<'_, 'py, PyAny> {
    fn bound(&self) -> &Bound<'py, PyAny> {
        self
    }
}

/// An optional `str` argument (None counts as absent).
pub fn opt_str<'a, 'py>(
    fname: &str,
    name: &str,
    v: &'a Option<impl Arg<'py>>,
) -> PyResult<Option<&'a Bound<'py, PyString>>> {
    match v.as_ref().map(Arg::bound) {
        None => Ok(None),
        Some(v) if v.is_none() => Ok(None),
        Some(v) => v
            .cast::<PyString>()
            .map(Some)
            .map_err(|_| PyTypeError::new_err(format!("{fname}() argument '{name}' must be str"))),
    }
}

/// A required argument that `parse` has checked is present.
pub fn req<'a, 'py>(v: &'a Option<impl Arg<'py>>) -> PyResult<&'a Bound<'py, PyAny>> {
    v.as_ref()
        .map(Arg::bound)
        .ok_or_else(|| PySystemError::new_err("argument missing after parsing"))
}
