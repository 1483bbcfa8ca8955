//! A value kept between calls for every thread of the interpreter, guarded
//! by the GIL: plain loads and stores, where a lock's two atomic
//! instructions cost a twentieth of a small `etf.loads`, and a
//! thread-local's lookup in a shared library (plus a `RefCell` flag) more.

use std::cell::{Cell, UnsafeCell};

use pyo3::Python;

pub(crate) struct GilCell<T> {
    busy: Cell<bool>,
    value: UnsafeCell<T>,
}

// SAFETY: the module is built for the GIL-enabled stable ABI (abi3 cannot
// be loaded by a free-threaded Python), and the fields are only used by
// `with`, which takes a `Python` token: one thread at a time, the GIL's
// release and acquire ordering their accesses. `T: Send` because the
// threads that take turns may differ.
unsafe impl<T: Send> Sync for GilCell<T> {}

impl<T> GilCell<T> {
    pub(crate) const fn new(value: T) -> Self {
        GilCell {
            busy: Cell::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// Runs `f` with the value, or with `None` while another call has it: a
    /// finalizer that ran during a conversion (an allocation can start a
    /// collection) converted something too, or another thread did while
    /// such Python code ran.
    pub(crate) fn with<R>(&self, _gil: Python<'_>, f: impl FnOnce(Option<&mut T>) -> R) -> R {
        if self.busy.replace(true) {
            return f(None);
        }
        /// Frees the value when `f` is done, even by a panic.
        struct Release<'a>(&'a Cell<bool>);
        impl Drop for Release<'_> {
            fn drop(&mut self) {
                self.0.set(false);
            }
        }
        let _release = Release(&self.busy);
        // SAFETY: `busy` was false and is now true, and the GIL (held:
        // `_gil`) orders every access to it, so no other reference to the
        // value exists until `_release` resets it.
        f(Some(unsafe { &mut *self.value.get() }))
    }
}
