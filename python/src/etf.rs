//! `phoenix_wire.etf`: Erlang external terms to and from Python objects,
//! through the codec's validating decoder and its encoder.
//!
//! | term | Python |
//! |---|---|
//! | integer, bignum | `int` |
//! | float | `float` |
//! | atoms `true`, `false`, `nil` | `True`, `False`, `None` |
//! | other atoms | `Atom` (a `str` subclass) |
//! | binary | `bytes` (`str` with `binaries="str"` when it is UTF-8) |
//! | bitstring | `BitBinary` |
//! | `[]`, proper list, charlist | `list` (a charlist is a list of `int`) |
//! | improper list | `ImproperList` |
//! | tuple | `tuple` |
//! | map | `dict` |
//! | pid, port, reference | `Pid`, `Port`, `Reference` (only when allowed) |
//!
//! `dumps` writes the reverse; `str` becomes a binary (an Elixir string).

use std::ffi::CStr;
use std::mem::MaybeUninit;

use phoenix_wire::etf::{
    self, tag, Atom, EncodeOptions, Encoder, List, Map, SafePolicy, Term, Tuple, TupleIter,
};
use phoenix_wire::Sink;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyType,
};
use pyo3::{Borrowed, PyTypeInfo};

use crate::errors::{decode_error, encode_codec_error, encode_error, DecodeError};
use crate::fastcall::{self, Sig};
use crate::ffi;
use crate::gil_cell::GilCell;

/// The Python classes of `phoenix_wire.etf`, registered by that module.
struct Types {
    atom: Py<PyType>,
    improper: Py<PyType>,
    bit_binary: Py<PyType>,
    pid: Py<PyType>,
    port: Py<PyType>,
    reference: Py<PyType>,
}

static TYPES: PyOnceLock<Types> = PyOnceLock::new();

fn types(py: Python<'_>) -> PyResult<&Types> {
    TYPES
        .get(py)
        .ok_or_else(|| PyTypeError::new_err("import phoenix_wire.etf first"))
}

/// Called once by `phoenix_wire/etf.py` with its classes.
#[pyfunction]
fn _register(
    py: Python<'_>,
    atom: Py<PyType>,
    improper: Py<PyType>,
    bit_binary: Py<PyType>,
    pid: Py<PyType>,
    port: Py<PyType>,
    reference: Py<PyType>,
) {
    let _ = TYPES.set(
        py,
        Types {
            atom,
            improper,
            bit_binary,
            pid,
            port,
            reference,
        },
    );
}

/// The atoms every BEAM node knows, so always allowed: Python's own
/// `True`, `False` and `None` are made of them.
const BUILTIN_ATOMS: [&str; 3] = ["true", "false", "nil"];

const LOADS_DOC: &CStr = c"loads(data, *, safe=True, atoms=None, allow_pids=False, binaries='bytes', max_depth=128, max_inflated=16777216)
--

Decodes one Erlang term (version byte 131 first; compressed terms too).

Safe by default: funs and exports are never accepted; pids, ports and
references only with allow_pids=True (or safe=False); with `atoms` set, only
those atoms (plus true, false, nil) are accepted, like binary_to_term(B,
[safe]) on a node that knows just them. Nesting is capped at `max_depth` (at
most 256) and a compressed term may inflate to at most `max_inflated` bytes.
Trailing bytes are an error. Binaries are bytes, or with binaries=\"str\" a
str when they are UTF-8. Raises DecodeError with the codec's kind and byte
offset.";

fastcall_fn!(loads_fast, |py, call| {
    // The common call, `loads(data)`: no keyword parsing, the default
    // policy (a third of a small `loads` went to parsing options).
    if call.nargs == 1 && call.kwnames.is_null() {
        // SAFETY: CPython passed one positional argument, borrowed for
        // the duration of the call.
        let data = unsafe { Borrowed::from_ptr(py, *call.args) };
        return Ok(loads(py, &data, &SafePolicy::new(), false, false)?.unbind());
    }
    const SIG: Sig<7> = Sig {
        name: "loads",
        params: [
            "data",
            "safe",
            "atoms",
            "allow_pids",
            "binaries",
            "max_depth",
            "max_inflated",
        ],
        positional: 1,
        required: 1,
    };
    // SAFETY: the arguments CPython passed to this fastcall function.
    let a = unsafe { SIG.parse(py, call)? };
    let flag = |i: usize, default: bool| a[i].as_ref().map_or(Ok(default), |v| v.is_truthy());
    let size =
        |i: usize, default: usize| a[i].as_ref().map_or(Ok(default), |v| v.extract::<usize>());
    let out = loads_with(
        py,
        fastcall::req(&a[0])?,
        flag(1, true)?,
        a[2].as_ref(),
        flag(3, false)?,
        fastcall::opt_str("loads", "binaries", &a[4])?,
        size(5, etf::DEFAULT_MAX_DEPTH)?,
        size(6, etf::DEFAULT_MAX_INFLATED_SIZE)?,
    )?;
    Ok(out.unbind())
});

/// `loads` with its keyword arguments (see `LOADS_DOC`).
#[allow(clippy::too_many_arguments)]
fn loads_with<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    safe: bool,
    atoms: Option<&Bound<'py, PyAny>>,
    allow_pids: bool,
    binaries: Option<&Bound<'py, PyString>>,
    max_depth: usize,
    max_inflated: usize,
) -> PyResult<Bound<'py, PyAny>> {
    let binaries_as_str = match binaries.map(ffi::str_utf8).transpose()? {
        None | Some("bytes") => false,
        Some("str") => true,
        Some(other) => {
            return Err(PyValueError::new_err(format!(
                "binaries must be \"bytes\" or \"str\", not {other:?}"
            )))
        }
    };
    let names: Option<Vec<String>> = match atoms {
        Some(list) if safe && !list.is_none() => {
            let mut names = BUILTIN_ATOMS.map(String::from).to_vec();
            for a in list.try_iter()? {
                names.push(a?.extract::<String>()?);
            }
            Some(names)
        }
        _ => None,
    };
    let refs: Option<Vec<&str>> = names
        .as_ref()
        .map(|n| n.iter().map(String::as_str).collect());
    let base = SafePolicy::new()
        .max_depth(max_depth)
        .max_inflated_size(max_inflated)
        .allow_pids_ports_refs(allow_pids || !safe);
    let policy = match &refs {
        Some(list) => base.allow_atoms(list),
        None => base,
    };
    loads(py, data, &policy, binaries_as_str, false)
}

/// `loads` through the codec's view only, never the direct reader: the
/// reference the tests compare the direct reader with.
#[pyfunction]
#[pyo3(signature = (data, allow_pids=false, binaries_as_str=false))]
fn _loads_slow<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    allow_pids: bool,
    binaries_as_str: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let policy = SafePolicy::new().allow_pids_ports_refs(allow_pids);
    loads(py, data, &policy, binaries_as_str, true)
}

/// Decodes `data` under `policy` and converts the term: with the direct
/// reader unless `slow`, and through the codec's view where it stops.
fn loads<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    policy: &SafePolicy<'_>,
    binaries_as_str: bool,
    slow: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let owned;
    let bytes: &[u8] = if let Ok(b) = data.cast::<PyBytes>() {
        b.as_bytes()
    } else if let Ok(b) = data.cast::<PyByteArray>() {
        owned = b.to_vec();
        &owned
    } else {
        return Err(PyTypeError::new_err("data must be bytes"));
    };
    let setup = Setup {
        py,
        types: types(py)?,
        binaries_as_str,
        untrack: bytes.len() >= UNTRACK_FROM,
    };
    if !slow && bytes.get(1) != Some(&tag::COMPRESSED) {
        // Validation only (the direct reader needs no view), then the
        // direct reader over the validated input.
        etf::visit(bytes, policy, |_| {}).map_err(|e| decode_error(py, e))?;
        let mut reader = Reader { b: bytes, pos: 1 };
        match with_scratch(setup.py, |scratch| setup.to_py(scratch).fast(&mut reader)) {
            Ok(v) => return Ok(v),
            Err(Stop::Py(e)) => return Err(*e),
            Err(Stop::Slow) => {}
        }
    }
    loads_view(bytes, policy, setup)
}

/// [`loads`] through the codec's view (out of line: the direct reader's
/// path stays small).
#[inline(never)]
fn loads_view<'py>(
    bytes: &[u8],
    policy: &SafePolicy<'_>,
    setup: Setup<'py, '_>,
) -> PyResult<Bound<'py, PyAny>> {
    let mut inflated = Vec::new();
    let term = etf::decode_compressed_vec(bytes, policy, &mut inflated)
        .map_err(|e| decode_error(setup.py, e))?;
    with_scratch(setup.py, |scratch| {
        let out = setup.to_py(scratch).term(&term);
        // On an error the elements of unfinished lists are still here.
        scratch.stack.clear();
        out
    })
}

/// What a conversion needs besides the scratch.
#[derive(Clone, Copy)]
struct Setup<'py, 't> {
    py: Python<'py>,
    types: &'t Types,
    binaries_as_str: bool,
    /// Whether tuples of atomic items are untracked (see [`UNTRACK_FROM`]).
    untrack: bool,
}

impl<'py, 't> Setup<'py, 't> {
    fn to_py<'s>(self, scratch: &'s mut Scratch) -> ToPy<'py, 's>
    where
        't: 's,
    {
        ToPy {
            py: self.py,
            types: self.types,
            binaries_as_str: self.binaries_as_str,
            untrack: self.untrack,
            scratch,
        }
    }
}

/// Runs `f` with the process's scratch, or with a fresh one when another
/// conversion holds it: a finalizer that ran during a conversion called
/// `loads`, or another thread did while Python code ran.
fn with_scratch<R>(py: Python<'_>, f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(py, |scratch| match scratch {
        Some(scratch) => f(scratch),
        None => f(&mut Scratch::new()),
    })
}

/// One scratch (the atom and key caches) for every thread.
static SCRATCH: GilCell<Scratch> = GilCell::new(Scratch::new());

/// What conversions keep between calls.
struct Scratch {
    atoms: AtomCache,
    keys: KeyCache,
    /// Elements of the lists being built, innermost last: a list's length
    /// is only known once its elements are read, and one buffer for every
    /// list of every call saves an allocation per call.
    stack: Vec<Py<PyAny>>,
}

impl Scratch {
    const fn new() -> Scratch {
        Scratch {
            atoms: Slots::new(),
            keys: Slots::new(),
            stack: Vec::new(),
        }
    }
}

struct ToPy<'py, 't> {
    py: Python<'py>,
    types: &'t Types,
    binaries_as_str: bool,
    /// Whether tuples of atomic items are untracked (see [`UNTRACK_FROM`]).
    untrack: bool,
    scratch: &'t mut Scratch,
}

/// Terms of at least this many bytes have their tuples of atomic items
/// (ints, floats, binaries, atoms) untracked by the garbage collector as
/// they are made. Such a tuple cannot be part of a reference cycle, and
/// CPython itself untracks most of them at the next collection; but a
/// large term makes thousands of tuples, which set off collections while
/// it is built, each walking every tuple made so far (a fifth of the time
/// of a list of 10 000 tuples). Small terms make too few tuples for a
/// collection to start; untracking them costs more than it saves.
const UNTRACK_FROM: usize = 16 * 1024;

/// A direct-mapped table of Python objects made from short byte strings,
/// allocated on first use (never in the fallback scratch of a re-entered
/// call) and bounded: hostile inputs with many distinct names only evict
/// entries, they never grow it. The objects are immutable, so sharing them
/// is invisible.
struct Slots<E> {
    slots: Vec<Option<E>>,
}

/// How many entries a [`Slots`] table has.
const SLOTS: usize = 512;

/// The slot of `raw` in a [`Slots`] table: its length and first, middle
/// and last bytes, mixed (no loop, no copy). Names that share all four
/// only evict each other.
#[inline]
fn slot(raw: &[u8]) -> usize {
    let byte = |i: usize| u32::from(raw.get(i).copied().unwrap_or(0));
    let n = raw.len();
    let key = (n as u32) ^ byte(0) << 8 ^ byte(n / 2) << 16 ^ byte(n.wrapping_sub(1)) << 24;
    (key.wrapping_mul(0x9E37_79B1) >> 23) as usize % SLOTS
}

impl<E> Slots<E> {
    const fn new() -> Self {
        Slots { slots: Vec::new() }
    }

    #[inline]
    fn entry(&self, slot: usize) -> Option<&E> {
        self.slots.get(slot)?.as_ref()
    }

    fn put(&mut self, slot: usize, entry: E) {
        if self.slots.is_empty() {
            self.slots = (0..SLOTS).map(|_| None).collect();
        }
        if let Some(e) = self.slots.get_mut(slot) {
            *e = Some(entry);
        }
    }
}

/// Made `Atom` objects by name: making one calls a Python class, which
/// costs more than everything else an atom needs, and messages repeat the
/// same few atoms.
type AtomCache = Slots<AtomEntry>;

/// An atom's bytes as found, whether they are Latin-1, and its `Atom`.
type AtomEntry = (Box<[u8]>, bool, Py<PyAny>);

impl AtomCache {
    fn get(&self, slot: usize, raw: &[u8], latin1: bool) -> Option<&Py<PyAny>> {
        match self.entry(slot) {
            Some((name, l, atom)) if **name == *raw && *l == latin1 => Some(atom),
            _ => None,
        }
    }
}

/// The binaries made for map keys (`bytes`, or `str` with
/// `binaries="str"`), by their bytes: messages repeat the same keys, and a
/// shared key also keeps the hash Python computed for it the first time
/// (hashing and making the keys of a small map cost a fifth of its
/// `loads`). Keys of at most [`KEY_MAX`] bytes, stored inline: a miss
/// allocates nothing.
type KeyCache = Slots<KeyEntry>;

/// Map keys longer than this are made each time.
const KEY_MAX: usize = 32;

/// How many keys of one map may miss the [`KeyCache`] before the rest of
/// the map is read without it (keeping a missed key costs about as much
/// as making it).
const KEY_MISSES: usize = 16;

struct KeyEntry {
    len: usize,
    bytes: [u8; KEY_MAX],
    as_str: bool,
    key: Py<PyAny>,
}

impl KeyCache {
    fn get(&self, slot: usize, raw: &[u8], as_str: bool) -> Option<&Py<PyAny>> {
        match self.entry(slot) {
            Some(e) if e.as_str == as_str && e.bytes.get(..e.len) == Some(raw) => Some(&e.key),
            _ => None,
        }
    }

    /// Keeps `key`, made from `raw` (at most [`KEY_MAX`] bytes).
    fn keep(&mut self, slot: usize, raw: &[u8], as_str: bool, key: Py<PyAny>) {
        let mut bytes = [0; KEY_MAX];
        let Some(dst) = bytes.get_mut(..raw.len()) else {
            return;
        };
        dst.copy_from_slice(raw);
        let len = raw.len();
        self.put(
            slot,
            KeyEntry {
                len,
                bytes,
                as_str,
                key,
            },
        );
    }
}

impl<'py> ToPy<'py, '_> {
    /// The common terms inline; containers and the rest out of line.
    #[inline]
    fn term(&mut self, t: &Term<'_>) -> PyResult<Bound<'py, PyAny>> {
        let py = self.py;
        match *t {
            Term::Int(i) => Ok(i.into_pyobject(py)?.into_any()),
            Term::Float(f) => Ok(PyFloat::new(py, f).into_any()),
            Term::Atom(a) => self.atom(a),
            Term::Binary(b) if !self.binaries_as_str => Ok(PyBytes::new(py, b).into_any()),
            Term::Tuple(tup) => self.tuple(tup),
            Term::List(l) => self.list(l),
            Term::Map(m) => self.map(m),
            _ => self.other(t),
        }
    }

    #[inline(never)]
    fn other(&mut self, t: &Term<'_>) -> PyResult<Bound<'py, PyAny>> {
        let py = self.py;
        Ok(match *t {
            Term::Binary(b) => match core::str::from_utf8(b) {
                Ok(s) if self.binaries_as_str => PyString::new(py, s).into_any(),
                _ => PyBytes::new(py, b).into_any(),
            },
            Term::Nil => PyList::empty(py).into_any(),
            Term::Big(b) => match b.to_i128() {
                Some(v) => v.into_pyobject(py)?.into_any(),
                None => big_int(py, b.is_negative(), b.magnitude())?,
            },
            Term::BitBinary(b) => self
                .types
                .bit_binary
                .bind(py)
                .call1((PyBytes::new(py, b.bytes()), b.last_bits()))?,
            Term::Charlist(s) => PyList::new(py, s.iter().copied())?.into_any(),
            Term::Pid(p) => {
                let node = self.atom(p.node)?;
                self.types
                    .pid
                    .bind(py)
                    .call1((node, p.id, p.serial, p.creation))?
            }
            Term::Port(p) => {
                let node = self.atom(p.node)?;
                self.types.port.bind(py).call1((node, p.id, p.creation))?
            }
            Term::Ref(r) => {
                let node = self.atom(r.node)?;
                let ids = PyTuple::new(py, r.ids().collect::<Vec<_>>())?;
                self.types
                    .reference
                    .bind(py)
                    .call1((node, r.creation, ids))?
            }
            // The terms `term` converts itself; never passed on.
            Term::Int(_)
            | Term::Float(_)
            | Term::Atom(_)
            | Term::Tuple(_)
            | Term::List(_)
            | Term::Map(_) => self.term(t)?,
        })
    }

    /// A tuple made at its final size and filled in place.
    #[inline(never)]
    fn tuple(&mut self, tup: Tuple<'_>) -> PyResult<Bound<'py, PyAny>> {
        if self.untrack {
            return self.tuple_untracked(tup);
        }
        // Small tuples (most of them: keyword lists, records, replies) in
        // one call; setting items one by one cost twice as much.
        let mut it = tup.iter();
        match tup.len() {
            2 => {
                let a = self.next(&mut it)?;
                let b = self.next(&mut it)?;
                return raw::tuple2(&a, &b);
            }
            3 => {
                let a = self.next(&mut it)?;
                let b = self.next(&mut it)?;
                let c = self.next(&mut it)?;
                return raw::tuple3(&a, &b, &c);
            }
            _ => {}
        }
        let out = raw::new_tuple(self.py, tup.len())?;
        for (i, x) in it.enumerate() {
            let v = self.term(&x)?;
            raw::tuple_set(&out, i, v)?;
        }
        Ok(out)
    }

    /// [`tuple`](Self::tuple) for large terms: a tuple whose elements are
    /// all ints, floats, binaries or atoms (objects that hold no other)
    /// cannot be part of a reference cycle, so it is untracked by the
    /// garbage collector at once (see [`UNTRACK_FROM`]).
    #[inline(never)]
    fn tuple_untracked(&mut self, tup: Tuple<'_>) -> PyResult<Bound<'py, PyAny>> {
        let mut it = tup.iter();
        let mut atomic = true;
        let out = match tup.len() {
            0 => return raw::new_tuple(self.py, 0),
            2 => {
                let a = self.next_atomic(&mut it, &mut atomic)?;
                let b = self.next_atomic(&mut it, &mut atomic)?;
                raw::tuple2(&a, &b)?
            }
            3 => {
                let a = self.next_atomic(&mut it, &mut atomic)?;
                let b = self.next_atomic(&mut it, &mut atomic)?;
                let c = self.next_atomic(&mut it, &mut atomic)?;
                raw::tuple3(&a, &b, &c)?
            }
            n => {
                let out = raw::new_tuple(self.py, n)?;
                for i in 0..n {
                    let v = self.next_atomic(&mut it, &mut atomic)?;
                    raw::tuple_set(&out, i, v)?;
                }
                out
            }
        };
        if atomic {
            raw::untrack(&out);
        }
        Ok(out)
    }

    /// [`next`](Self::next), clearing `atomic` unless the element is an
    /// int, float, binary or atom.
    #[inline]
    fn next_atomic(
        &mut self,
        it: &mut TupleIter<'_>,
        atomic: &mut bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        match it.next() {
            Some(x) => {
                *atomic &= matches!(
                    x,
                    Term::Int(_) | Term::Float(_) | Term::Atom(_) | Term::Binary(_) | Term::Big(_)
                );
                self.term(&x)
            }
            None => Err(PyValueError::new_err("tuple shorter than its arity")),
        }
    }

    /// The next element of a tuple whose length said there is one.
    #[inline]
    fn next(&mut self, it: &mut TupleIter<'_>) -> PyResult<Bound<'py, PyAny>> {
        match it.next() {
            Some(x) => self.term(&x),
            None => Err(PyValueError::new_err("tuple shorter than its arity")),
        }
    }

    #[inline(never)]
    fn list(&mut self, l: List<'_>) -> PyResult<Bound<'py, PyAny>> {
        let py = self.py;
        let base = self.scratch.stack.len();
        let mut it = l.iter();
        for x in it.by_ref() {
            let v = self.term(&x)?;
            self.scratch.stack.push(v.unbind());
        }
        let n = self.scratch.stack.len() - base;
        let list = raw::new_list(py, n)?;
        for (i, v) in self.scratch.stack.drain(base..).enumerate() {
            raw::list_set(&list, i, v.into_bound(py))?;
        }
        match it.tail() {
            None => Ok(list),
            Some(tail) => {
                let tail = self.term(&tail)?;
                self.types.improper.bind(py).call1((list, tail))
            }
        }
    }

    #[inline(never)]
    fn map(&mut self, m: Map<'_>) -> PyResult<Bound<'py, PyAny>> {
        let py = self.py;
        let d = PyDict::new(py);
        for (k, v) in m.iter() {
            let k = self.term(&k)?;
            let v = self.term(&v)?;
            set_map_item(&d, &k, v)?;
        }
        Ok(d.into_any())
    }

    fn atom(&mut self, a: Atom<'_>) -> PyResult<Bound<'py, PyAny>> {
        self.atom_raw(a.raw(), a.is_latin1())
    }

    /// The atom whose name is `raw`, Latin-1 or (validated) UTF-8.
    #[inline]
    fn atom_raw(&mut self, raw: &[u8], latin1: bool) -> PyResult<Bound<'py, PyAny>> {
        let py = self.py;
        // ASCII names: the same bytes in Latin-1 and UTF-8 atoms.
        match raw {
            b"true" => return Ok(PyBool::new(py, true).to_owned().into_any()),
            b"false" => return Ok(PyBool::new(py, false).to_owned().into_any()),
            b"nil" => return Ok(py.None().into_bound(py)),
            _ => {}
        }
        let slot = slot(raw);
        if let Some(atom) = self.scratch.atoms.get(slot, raw, latin1) {
            return Ok(atom.bind(py).clone());
        }
        let name = match core::str::from_utf8(raw) {
            Ok(s) if !latin1 || s.is_ascii() => PyString::new(py, s),
            // Latin-1: one character per byte.
            _ => PyString::new(py, &raw.iter().map(|&c| char::from(c)).collect::<String>()),
        };
        let atom = self.types.atom.bind(py).call1((name,))?;
        self.scratch
            .atoms
            .put(slot, (raw.into(), latin1, atom.clone().unbind()));
        Ok(atom)
    }
}

/// Why the direct reader stopped: a term it leaves to the codec's view
/// (or bytes it did not expect), or a Python error to raise.
///
/// The error is boxed so that a `Fast` result fits two registers: a
/// `PyErr` is several words, and every element's result would otherwise
/// go through memory.
enum Stop {
    Slow,
    Py(Box<PyErr>),
}

impl From<PyErr> for Stop {
    fn from(e: PyErr) -> Stop {
        Stop::Py(Box::new(e))
    }
}

type Fast<T> = Result<T, Stop>;

/// A position in bytes the codec has validated. Every read is still
/// checked: one that fails stops the direct reader, never panics.
struct Reader<'b> {
    b: &'b [u8],
    pos: usize,
}

impl<'b> Reader<'b> {
    #[inline(always)]
    fn take(&mut self, n: usize) -> Fast<&'b [u8]> {
        let s = self.b.get(self.pos..).and_then(|s| s.get(..n));
        let s = s.ok_or(Stop::Slow)?;
        self.pos += n;
        Ok(s)
    }

    #[inline(always)]
    fn be<const N: usize>(&mut self) -> Fast<[u8; N]> {
        self.take(N)?.try_into().map_err(|_| Stop::Slow)
    }

    #[inline(always)]
    fn u8(&mut self) -> Fast<u8> {
        let v = *self.b.get(self.pos).ok_or(Stop::Slow)?;
        self.pos += 1;
        Ok(v)
    }

    #[inline(always)]
    fn u16(&mut self) -> Fast<usize> {
        Ok(usize::from(u16::from_be_bytes(self.be()?)))
    }

    #[inline(always)]
    fn u32(&mut self) -> Fast<usize> {
        usize::try_from(u32::from_be_bytes(self.be()?)).map_err(|_| Stop::Slow)
    }

    /// The tag of the next term, not consumed.
    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }
}

/// The direct reader: the common tags of a term the codec has validated,
/// read straight from its bytes into Python objects in one pass (no view
/// per term, containers never skipped over to find the next element).
/// Any other tag (bignums, old floats, bitstrings, pids, ports,
/// references) stops it with [`Stop::Slow`], and the caller converts the
/// codec's view instead.
impl<'py> ToPy<'py, '_> {
    /// The term at `r`, which it moves past.
    #[inline]
    fn fast(&mut self, r: &mut Reader<'_>) -> Fast<Bound<'py, PyAny>> {
        let py = self.py;
        Ok(match r.u8()? {
            tag::SMALL_INTEGER => int(py, i64::from(r.u8()?)),
            tag::INTEGER => int(py, i64::from(i32::from_be_bytes(r.be()?))),
            tag::NEW_FLOAT => PyFloat::new(py, f64::from_be_bytes(r.be()?)).into_any(),
            t @ (tag::ATOM | tag::SMALL_ATOM | tag::ATOM_UTF8 | tag::SMALL_ATOM_UTF8) => {
                let n = match t {
                    tag::SMALL_ATOM | tag::SMALL_ATOM_UTF8 => usize::from(r.u8()?),
                    _ => r.u16()?,
                };
                self.atom_raw(r.take(n)?, matches!(t, tag::ATOM | tag::SMALL_ATOM))?
            }
            tag::BINARY => {
                let n = r.u32()?;
                self.binary(r.take(n)?)
            }
            tag::SMALL_TUPLE => {
                let n = usize::from(r.u8()?);
                self.fast_tuple(r, n)?
            }
            t => self.fast_rest(r, t)?,
        })
    }

    /// [`fast`](Self::fast) for the less common tags, out of line.
    #[inline(never)]
    fn fast_rest(&mut self, r: &mut Reader<'_>, t: u8) -> Fast<Bound<'py, PyAny>> {
        let py = self.py;
        Ok(match t {
            tag::LARGE_TUPLE => {
                let n = r.u32()?;
                self.fast_tuple(r, n)?
            }
            tag::MAP => {
                let n = r.u32()?;
                self.fast_map(r, n)?
            }
            tag::LIST => {
                let n = r.u32()?;
                self.fast_list(r, n)?
            }
            tag::NIL => PyList::empty(py).into_any(),
            tag::STRING => {
                let n = r.u16()?;
                PyList::new(py, r.take(n)?.iter().copied())?.into_any()
            }
            _ => return Err(Stop::Slow),
        })
    }

    /// A binary as `bytes`, or as `str` when asked and it is UTF-8.
    #[inline]
    fn binary(&self, b: &[u8]) -> Bound<'py, PyAny> {
        if self.binaries_as_str {
            if let Ok(s) = core::str::from_utf8(b) {
                return PyString::new(self.py, s).into_any();
            }
        }
        PyBytes::new(self.py, b).into_any()
    }

    /// The next element of a tuple; when untracking, clears `atomic`
    /// unless it is an int, float, binary or atom (see
    /// [`tuple_untracked`](Self::tuple_untracked)).
    #[inline(always)]
    fn fast_elem(&mut self, r: &mut Reader<'_>, atomic: &mut bool) -> Fast<Bound<'py, PyAny>> {
        if self.untrack {
            *atomic &= matches!(
                r.peek(),
                Some(
                    tag::SMALL_INTEGER
                        | tag::INTEGER
                        | tag::NEW_FLOAT
                        | tag::BINARY
                        | tag::ATOM
                        | tag::SMALL_ATOM
                        | tag::ATOM_UTF8
                        | tag::SMALL_ATOM_UTF8
                )
            );
        }
        // The common leaves inline (tuples mostly hold them: records,
        // keyword pairs, replies); a call of `fast` per element cost a
        // twentieth of a tuple of three. The atom tags OTP 25 (ATOM_EXT)
        // and OTP 26 (SMALL_ATOM_UTF8_EXT) write.
        let py = self.py;
        match r.peek() {
            Some(tag::SMALL_INTEGER) => {
                r.pos += 1;
                Ok(int(py, i64::from(r.u8()?)))
            }
            Some(tag::INTEGER) => {
                r.pos += 1;
                Ok(int(py, i64::from(i32::from_be_bytes(r.be()?))))
            }
            Some(tag::NEW_FLOAT) => {
                r.pos += 1;
                Ok(PyFloat::new(py, f64::from_be_bytes(r.be()?)).into_any())
            }
            Some(tag::BINARY) => {
                r.pos += 1;
                let n = r.u32()?;
                Ok(self.binary(r.take(n)?))
            }
            Some(tag::ATOM) => {
                r.pos += 1;
                let n = r.u16()?;
                Ok(self.atom_raw(r.take(n)?, true)?)
            }
            Some(tag::SMALL_ATOM_UTF8) => {
                r.pos += 1;
                let n = usize::from(r.u8()?);
                Ok(self.atom_raw(r.take(n)?, false)?)
            }
            _ => self.fast(r),
        }
    }

    /// A tuple of `n` elements, made at its final size (see [`tuple`](Self::tuple)).
    #[inline(never)]
    fn fast_tuple(&mut self, r: &mut Reader<'_>, n: usize) -> Fast<Bound<'py, PyAny>> {
        let mut atomic = true;
        let out = match n {
            2 => {
                let a = self.fast_elem(r, &mut atomic)?;
                let b = self.fast_elem(r, &mut atomic)?;
                raw::tuple2(&a, &b)?
            }
            3 => {
                let a = self.fast_elem(r, &mut atomic)?;
                let b = self.fast_elem(r, &mut atomic)?;
                let c = self.fast_elem(r, &mut atomic)?;
                raw::tuple3(&a, &b, &c)?
            }
            _ => {
                let out = raw::new_tuple(self.py, n)?;
                for i in 0..n {
                    let v = self.fast_elem(r, &mut atomic)?;
                    raw::tuple_set(&out, i, v)?;
                }
                out
            }
        };
        if self.untrack && atomic && n > 0 {
            raw::untrack(&out);
        }
        Ok(out)
    }

    /// A map of `n` pairs.
    #[inline(never)]
    fn fast_map(&mut self, r: &mut Reader<'_>, n: usize) -> Fast<Bound<'py, PyAny>> {
        let d = PyDict::new(self.py);
        // Misses the key cache may still take in this map: a map of many
        // distinct keys (an index, not a message) stops using it soon.
        let mut misses = KEY_MISSES;
        for _ in 0..n {
            let k = if r.peek() == Some(tag::BINARY) {
                r.pos += 1;
                let n = r.u32()?;
                self.key(r.take(n)?, &mut misses)
            } else {
                self.fast(r)?
            };
            let v = self.fast(r)?;
            set_map_item(&d, &k, v)?;
        }
        Ok(d.into_any())
    }

    /// A binary that is a map key, from the [`KeyCache`] when it is short
    /// and the map has `misses` left.
    #[inline]
    fn key(&mut self, raw: &[u8], misses: &mut usize) -> Bound<'py, PyAny> {
        if raw.len() > KEY_MAX || *misses == 0 {
            return self.binary(raw);
        }
        let slot = slot(raw);
        let as_str = self.binaries_as_str;
        if let Some(key) = self.scratch.keys.get(slot, raw, as_str) {
            return key.bind(self.py).clone();
        }
        *misses -= 1;
        let key = self.binary(raw);
        self.scratch
            .keys
            .keep(slot, raw, as_str, key.clone().unbind());
        key
    }

    /// A list of `n` elements (its header's count), made at that size,
    /// then its tail.
    #[inline(never)]
    fn fast_list(&mut self, r: &mut Reader<'_>, n: usize) -> Fast<Bound<'py, PyAny>> {
        if n == 0 {
            // A list of no elements is just its tail (as the codec sees it).
            return self.fast(r);
        }
        let list = raw::new_list(self.py, n)?;
        // In a large term, the collections set off while the list fills
        // would each walk all of it (a twentieth of a list of 10 000
        // tuples): it is hidden from the collector until it is full.
        if self.untrack {
            raw::untrack(&list);
        }
        for i in 0..n {
            let v = self.fast(r)?;
            raw::list_set(&list, i, v)?;
        }
        if self.untrack {
            raw::track(&list);
        }
        if r.peek() == Some(tag::NIL) {
            r.pos += 1;
            return Ok(list);
        }
        self.fast_tail(r, list)
    }

    /// The rest of a list whose tail is not `[]`: a charlist or a list
    /// continues it, anything else is an improper tail.
    #[cold]
    #[inline(never)]
    fn fast_tail(
        &mut self,
        r: &mut Reader<'_>,
        list: Bound<'py, PyAny>,
    ) -> Fast<Bound<'py, PyAny>> {
        let items = list.cast::<PyList>().map_err(PyErr::from)?;
        loop {
            match r.peek() {
                Some(tag::NIL) => {
                    r.pos += 1;
                    return Ok(list);
                }
                Some(tag::STRING) => {
                    r.pos += 1;
                    let n = r.u16()?;
                    for &c in r.take(n)? {
                        items.append(c)?;
                    }
                    return Ok(list);
                }
                Some(tag::LIST) => {
                    r.pos += 1;
                    for _ in 0..r.u32()? {
                        items.append(self.fast(r)?)?;
                    }
                }
                _ => {
                    let tail = self.fast(r)?;
                    return Ok(self.types.improper.bind(self.py).call1((list, tail))?);
                }
            }
        }
    }
}

/// The few raw CPython calls `loads` and `dumps` need (containers built at
/// their final size, borrowed items, numbers read without a Python call),
/// each wrapped in a safe function.
mod raw {
    use pyo3::ffi;
    use pyo3::prelude::*;
    use pyo3::types::{PyDict, PyList};
    use pyo3::Borrowed;

    /// A new tuple of `n` empty slots, each to be set once by `tuple_set`.
    pub fn new_tuple(py: Python<'_>, n: usize) -> PyResult<Bound<'_, PyAny>> {
        // SAFETY: a new reference or NULL with an exception set. Empty slots
        // are NULL, which CPython's tuple code (dealloc, GC traversal)
        // accepts, as it does for every tuple built this way.
        unsafe { Bound::from_owned_ptr_or_err(py, ffi::PyTuple_New(ssize(n)?)) }
    }

    /// A new list of `n` empty slots, each to be set once by `list_set`.
    pub fn new_list(py: Python<'_>, n: usize) -> PyResult<Bound<'_, PyAny>> {
        // SAFETY: as for `new_tuple`.
        unsafe { Bound::from_owned_ptr_or_err(py, ffi::PyList_New(ssize(n)?)) }
    }

    /// The tuple `(a, b)`.
    pub fn tuple2<'py>(
        a: &Bound<'py, PyAny>,
        b: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        // SAFETY: PyTuple_Pack takes `n` object pointers and adds a reference
        // to each; the result is a new reference or NULL with an exception.
        unsafe {
            Bound::from_owned_ptr_or_err(a.py(), ffi::PyTuple_Pack(2, a.as_ptr(), b.as_ptr()))
        }
    }

    /// The tuple `(a, b, c)`.
    pub fn tuple3<'py>(
        a: &Bound<'py, PyAny>,
        b: &Bound<'py, PyAny>,
        c: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        // SAFETY: as for `tuple2`.
        unsafe {
            Bound::from_owned_ptr_or_err(
                a.py(),
                ffi::PyTuple_Pack(3, a.as_ptr(), b.as_ptr(), c.as_ptr()),
            )
        }
    }

    /// Stops the garbage collector from tracking `t`, a new tuple whose
    /// items hold no references (so it cannot be part of a cycle), or a
    /// new list until [`track`] (nothing else can reach it meanwhile).
    #[inline]
    pub fn untrack(t: &Bound<'_, PyAny>) {
        // SAFETY: `t` is a live GC object (a tuple or list); untracking
        // only removes it from the collector's lists (nothing if it is not
        // in them).
        unsafe { ffi::PyObject_GC_UnTrack(t.as_ptr().cast()) }
    }

    /// Has the collector track again a new list that [`untrack`] hid.
    #[inline]
    pub fn track(l: &Bound<'_, PyAny>) {
        // SAFETY: `l` is a live list that `untrack` untracked after
        // PyList_New made it; nothing else has a reference to it, so nothing
        // tracked it since, as PyObject_GC_Track requires.
        unsafe { ffi::PyObject_GC_Track(l.as_ptr().cast()) }
    }

    /// Puts `v` in slot `i` of a tuple made by `new_tuple`.
    #[inline]
    pub fn tuple_set(t: &Bound<'_, PyAny>, i: usize, v: Bound<'_, PyAny>) -> PyResult<()> {
        // SAFETY: `t` is a tuple; PyTuple_SetItem checks the type and the
        // index, and steals the reference to `v` (also on failure).
        check(t.py(), unsafe {
            ffi::PyTuple_SetItem(t.as_ptr(), ssize(i)?, v.into_ptr())
        })
    }

    /// Puts `v` in slot `i` of a list made by `new_list`.
    #[inline]
    pub fn list_set(l: &Bound<'_, PyAny>, i: usize, v: Bound<'_, PyAny>) -> PyResult<()> {
        // SAFETY: as for `tuple_set`, with PyList_SetItem.
        check(l.py(), unsafe {
            ffi::PyList_SetItem(l.as_ptr(), ssize(i)?, v.into_ptr())
        })
    }

    /// Item `i` of `l`, borrowed: valid only until Python code runs that
    /// could change the list. An index past a list that shrank is an error.
    pub fn list_item<'a, 'py>(
        l: &'a Bound<'py, PyList>,
        i: usize,
    ) -> PyResult<Borrowed<'a, 'py, PyAny>> {
        // SAFETY: `l` is a list; PyList_GetItem checks the index and returns
        // a borrowed reference or NULL with IndexError set.
        unsafe { Borrowed::from_ptr_or_err(l.py(), ffi::PyList_GetItem(l.as_ptr(), ssize(i)?)) }
    }

    /// The next key and value of `d` from `*pos` (0 to start), borrowed:
    /// valid only until Python code runs that could change the dict.
    pub fn dict_next<'a, 'py>(
        d: &'a Bound<'py, PyDict>,
        pos: &mut ffi::Py_ssize_t,
    ) -> Option<(Borrowed<'a, 'py, PyAny>, Borrowed<'a, 'py, PyAny>)> {
        let mut k = core::ptr::null_mut();
        let mut v = core::ptr::null_mut();
        // SAFETY: `d` is a dict; PyDict_Next bounds-checks `pos` against the
        // dict as it is now (it stays memory-safe if the dict changed) and
        // on success sets both borrowed pointers.
        unsafe {
            if ffi::PyDict_Next(d.as_ptr(), pos, &mut k, &mut v) == 0 {
                return None;
            }
            Some((Borrowed::from_ptr(d.py(), k), Borrowed::from_ptr(d.py(), v)))
        }
    }

    /// The value of an `int` (or subclass) that fits an `i64`.
    pub fn small_int(i: &Bound<'_, PyAny>) -> Option<i64> {
        // SAFETY: `i` is live, and an exact `int` where it is read.
        if i.get_type_ptr() == core::ptr::addr_of_mut!(ffi::PyLong_Type) {
            if let Some(v) = unsafe { crate::ffi::small_int(i.as_ptr()) } {
                return Some(v);
            }
        }
        let mut overflow = 0;
        // SAFETY: `i` is an int; on overflow the flag is set and no
        // exception is raised, and an int's value is read without calling
        // Python code.
        let v = unsafe { ffi::PyLong_AsLongLongAndOverflow(i.as_ptr(), &mut overflow) };
        (overflow == 0).then_some(v)
    }

    /// The value of a `float` (or subclass).
    pub fn float_value(f: &Bound<'_, PyAny>) -> f64 {
        // SAFETY: `f` is a float: PyFloat_AsDouble reads its value and
        // cannot fail.
        unsafe { ffi::PyFloat_AsDouble(f.as_ptr()) }
    }

    #[inline]
    fn ssize(n: usize) -> PyResult<ffi::Py_ssize_t> {
        ffi::Py_ssize_t::try_from(n)
            .map_err(|_| pyo3::exceptions::PyOverflowError::new_err("too many elements"))
    }

    #[inline]
    fn check(py: Python<'_>, status: core::ffi::c_int) -> PyResult<()> {
        if status == 0 {
            Ok(())
        } else {
            Err(fetch(py))
        }
    }

    /// The error CPython set (kept out of line: it never happens on the
    /// hot paths).
    #[cold]
    #[inline(never)]
    fn fetch(py: Python<'_>) -> PyErr {
        PyErr::fetch(py)
    }
}

/// The `int` `v`.
#[inline(always)]
fn int(py: Python<'_>, v: i64) -> Bound<'_, PyAny> {
    let Ok(i) = v.into_pyobject(py);
    i.into_any()
}

/// `d[k] = v`; a key Python cannot hash is a DecodeError.
fn set_map_item<'py>(
    d: &Bound<'py, PyDict>,
    k: &Bound<'py, PyAny>,
    v: Bound<'py, PyAny>,
) -> PyResult<()> {
    let Err(e) = d.set_item(k, v) else {
        return Ok(());
    };
    let py = d.py();
    if !e.is_instance_of::<PyTypeError>(py) {
        return Err(e);
    }
    let err =
        PyErr::new::<DecodeError, _>(format!("map key {} is not hashable in Python", k.repr()?));
    let value = err.value(py);
    value.setattr("kind", "UnhashableMapKey")?;
    value.setattr("offset", 0)?;
    Err(err)
}

/// An `int` from a sign and a little-endian magnitude of any size.
fn big_int<'py>(py: Python<'py>, negative: bool, magnitude: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(magnitude.len() * 2 + 2);
    if negative {
        text.push('-');
    }
    text.push('0');
    for &b in magnitude.iter().rev() {
        text.push(char::from(HEX[usize::from(b >> 4)]));
        text.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    ffi::new_int_radix(py, &text, 16)
}

const DUMPS_DOC: &CStr = c"dumps(obj, *, compressed=False, atom_tags='utf8', deterministic=False)
--

Encodes `obj` as an Erlang term (version byte first) and returns bytes.

str becomes a binary, bytes a binary, list a list, tuple a tuple, dict a
map, None/True/False the atoms nil/true/false, int an integer or bignum,
float a float; Atom, ImproperList, BitBinary, Pid, Port and Reference their
terms. atom_tags=\"utf8\" writes atoms as OTP 26+ does, \"legacy\" as OTP 25
does. deterministic=True sorts map keys in Erlang term order so that equal
values give equal bytes; `compressed` (True or a zlib level 0..9) writes a
compressed term. Raises EncodeError.";

fastcall_fn!(dumps_fast, |py, call| {
    // The common call, `dumps(obj)`: no keyword parsing.
    if call.nargs == 1 && call.kwnames.is_null() {
        // SAFETY: CPython passed one positional argument, borrowed for
        // the duration of the call.
        let obj = unsafe { Borrowed::from_ptr(py, *call.args) };
        return Ok(dumps(py, &obj, None, None, false)?.into_any().unbind());
    }
    const SIG: Sig<4> = Sig {
        name: "dumps",
        params: ["obj", "compressed", "atom_tags", "deterministic"],
        positional: 1,
        required: 1,
    };
    // SAFETY: the arguments CPython passed to this fastcall function.
    let a = unsafe { SIG.parse(py, call)? };
    let deterministic = a[3].as_ref().map_or(Ok(false), |v| v.is_truthy())?;
    let out = dumps(
        py,
        fastcall::req(&a[0])?,
        a[1].as_ref(),
        fastcall::opt_str("dumps", "atom_tags", &a[2])?,
        deterministic,
    )?;
    Ok(out.into_any().unbind())
});

/// `dumps` (see `DUMPS_DOC`).
fn dumps<'py>(
    py: Python<'py>,
    obj: &Bound<'py, PyAny>,
    compressed: Option<&Bound<'py, PyAny>>,
    atom_tags: Option<&Bound<'py, PyString>>,
    deterministic: bool,
) -> PyResult<Bound<'py, PyBytes>> {
    let legacy = match atom_tags.map(ffi::str_utf8).transpose()? {
        None | Some("utf8") => false,
        Some("legacy") => true,
        Some(other) => {
            return Err(PyValueError::new_err(format!(
                "atom_tags must be \"utf8\" or \"legacy\", not {other:?}"
            )))
        }
    };
    let level = compression_level(compressed)?;
    let opts = EncodeOptions::new().legacy_atoms(legacy);
    let codec = |e| encode_codec_error(py, e);
    let mut stack = MaybeUninit::uninit();
    let mut out = Out::new(&mut stack);
    let mut enc = Encoder::with_options(&mut out, opts);
    enc.version().map_err(codec)?;
    FromPy::new(py)?.write(&mut enc, obj.as_borrowed(), etf::DEFAULT_MAX_DEPTH)?;
    if !deterministic && level.is_none() {
        return Ok(PyBytes::new(py, out.as_slice()));
    }
    let mut bytes = out.as_slice();
    let mut sorted = Vec::new();
    if deterministic {
        // Re-encode through the codec's view with sorted map keys: the
        // codec owns Erlang term order.
        let policy = SafePolicy::new()
            .allow_pids_ports_refs(true)
            .max_depth(etf::MAX_DEPTH_LIMIT);
        let term = etf::decode(bytes, &policy).map_err(codec)?;
        let mut enc = Encoder::with_options(&mut sorted, opts.sort_map_keys(true));
        enc.version().map_err(codec)?;
        enc.term(&term).map_err(codec)?;
        bytes = &sorted;
    }
    let mut packed = Vec::new();
    if let Some(level) = level {
        etf::compress(bytes, level, &mut packed).map_err(codec)?;
        bytes = &packed;
    }
    Ok(PyBytes::new(py, bytes))
}

/// Where `dumps` writes: an array on the stack while the term fits (most
/// messages do; no allocation and no thread-local lookup per call), then
/// a `Vec`. The array is left uninitialized: zeroing it cost a twentieth
/// of a small `dumps`.
struct Out<'b> {
    /// The caller's uninitialized array (a field of its own would be
    /// zeroed by rustc when `Out` is built).
    stack: &'b mut MaybeUninit<[u8; STACK_OUT]>,
    /// How many bytes of `stack` are written (all of them initialized).
    len: usize,
    heap: Vec<u8>,
}

/// Bytes of output kept on the stack.
const STACK_OUT: usize = 512;

impl<'b> Out<'b> {
    fn new(stack: &'b mut MaybeUninit<[u8; STACK_OUT]>) -> Out<'b> {
        Out {
            stack,
            len: 0,
            heap: Vec::new(),
        }
    }

    fn as_slice(&self) -> &[u8] {
        if !self.heap.is_empty() {
            return &self.heap;
        }
        // SAFETY: `put` initialized the first `len` bytes of `stack`, and
        // keeps `len <= STACK_OUT`.
        unsafe { core::slice::from_raw_parts(self.stack.as_ptr().cast::<u8>(), self.len) }
    }

    /// Moves what the stack holds to the heap, with room for `more`.
    #[cold]
    fn spill(&mut self, more: usize) {
        let held = self.as_slice().len();
        let mut heap = Vec::with_capacity((held + more).max(4 * STACK_OUT));
        heap.extend_from_slice(self.as_slice());
        self.heap = heap;
    }
}

impl Sink for Out<'_> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) -> phoenix_wire::Result<()> {
        if self.heap.is_empty() {
            if bytes.len() <= STACK_OUT - self.len {
                // SAFETY: the `bytes.len()` bytes from `len` are inside
                // `stack` (checked above; `len <= STACK`), and a borrowed
                // slice cannot overlap the buffer we own.
                unsafe {
                    let dst = self.stack.as_mut_ptr().cast::<u8>().add(self.len);
                    core::ptr::copy_nonoverlapping(bytes.as_ptr(), dst, bytes.len());
                }
                self.len += bytes.len();
                return Ok(());
            }
            self.spill(bytes.len());
        }
        self.heap.extend_from_slice(bytes);
        Ok(())
    }
}

fn compression_level(c: Option<&Bound<'_, PyAny>>) -> PyResult<Option<u8>> {
    let Some(c) = c.filter(|c| !c.is_none()) else {
        return Ok(None);
    };
    if let Ok(b) = c.cast::<PyBool>() {
        return Ok(b.is_true().then_some(6));
    }
    match c.extract::<u8>() {
        Ok(level) if level <= 9 => Ok(Some(level)),
        _ => Err(PyValueError::new_err(
            "compressed must be a bool or a zlib level 0..=9",
        )),
    }
}

struct FromPy<'py, 't> {
    py: Python<'py>,
    types: &'t Types,
    /// The exact types written without a Python call, compared by pointer.
    exact: Exact,
}

/// Type objects, for exact-type dispatch by pointer compare.
#[derive(Clone, Copy)]
struct Exact {
    str: *mut pyo3::ffi::PyTypeObject,
    int: *mut pyo3::ffi::PyTypeObject,
    float: *mut pyo3::ffi::PyTypeObject,
    bytes: *mut pyo3::ffi::PyTypeObject,
    tuple: *mut pyo3::ffi::PyTypeObject,
    list: *mut pyo3::ffi::PyTypeObject,
    dict: *mut pyo3::ffi::PyTypeObject,
    atom: *mut pyo3::ffi::PyTypeObject,
}

type Enc<'s, 'b> = Encoder<'s, Out<'b>>;

/// Why the values below are borrowed: only the exact builtin types (and
/// `Atom`) are written from a borrowed reference, and writing them runs no
/// Python code, so nothing can free them meanwhile. Containers and every
/// other object are held by a strong reference while they are written,
/// because writing their contents may run Python code (`isinstance`,
/// attribute reads, `__abs__`) that could mutate or free them.
impl<'py, 't> FromPy<'py, 't> {
    fn new(py: Python<'py>) -> PyResult<FromPy<'py, 't>>
    where
        'py: 't,
    {
        let types = types(py)?;
        Ok(FromPy {
            py,
            types,
            exact: Exact {
                str: PyString::type_object_raw(py),
                int: PyInt::type_object_raw(py),
                float: PyFloat::type_object_raw(py),
                bytes: PyBytes::type_object_raw(py),
                tuple: PyTuple::type_object_raw(py),
                list: PyList::type_object_raw(py),
                dict: PyDict::type_object_raw(py),
                atom: types.atom.as_ptr().cast(),
            },
        })
    }

    fn write(
        &self,
        e: &mut Enc<'_, '_>,
        obj: Borrowed<'_, 'py, PyAny>,
        depth: usize,
    ) -> PyResult<()> {
        let codec = |err| encode_codec_error(self.py, err);
        let ty = obj.get_type_ptr();
        let x = &self.exact;
        if ty == x.str {
            // SAFETY: the exact type was checked.
            let s = unsafe { obj.cast_unchecked::<PyString>() };
            return e.binary(ffi::str_utf8(&s)?.as_bytes()).map_err(codec);
        }
        if ty == x.atom {
            // SAFETY: `Atom` is a `str` subclass.
            let s = unsafe { obj.cast_unchecked::<PyString>() };
            return e.atom(ffi::str_utf8(&s)?).map_err(codec);
        }
        if ty == x.int {
            return self.int(e, &obj);
        }
        if ty == x.float {
            return e.float(raw::float_value(&obj)).map_err(codec);
        }
        if ty == x.tuple {
            // SAFETY: the exact type was checked.
            return self.tuple(e, unsafe { &obj.to_owned().cast_into_unchecked() }, depth);
        }
        if ty == x.list {
            // SAFETY: the exact type was checked.
            return self.list(e, unsafe { &obj.to_owned().cast_into_unchecked() }, depth);
        }
        if ty == x.dict {
            // SAFETY: the exact type was checked.
            return self.dict(e, unsafe { &obj.to_owned().cast_into_unchecked() }, depth);
        }
        if ty == x.bytes {
            // SAFETY: the exact type was checked.
            let b = unsafe { obj.cast_unchecked::<PyBytes>() };
            return e.binary(b.as_bytes()).map_err(codec);
        }
        self.write_other(e, &obj.to_owned(), depth)
    }

    /// Whether writing an object of type `ty` runs no Python code.
    fn is_plain_leaf(&self, ty: *mut pyo3::ffi::PyTypeObject) -> bool {
        let x = &self.exact;
        ty == x.str || ty == x.atom || ty == x.int || ty == x.float || ty == x.bytes
    }

    /// Everything but the exact types of `write`, checked as before the
    /// exact-type dispatch existed: subclasses keep their base's term.
    fn write_other(
        &self,
        e: &mut Enc<'_, '_>,
        obj: &Bound<'py, PyAny>,
        depth: usize,
    ) -> PyResult<()> {
        let codec = |err| encode_codec_error(self.py, err);
        if obj.is_none() {
            return e.atom("nil").map_err(codec);
        }
        if let Ok(b) = obj.cast_exact::<PyBool>() {
            return e.bool(b.is_true()).map_err(codec);
        }
        if let Ok(b) = obj.cast::<PyBytes>() {
            return e.binary(b.as_bytes()).map_err(codec);
        }
        let t = self.types;
        let py = self.py;
        // Atom (and its subclasses) before str: it is a str subclass.
        if obj.is_instance_of::<PyString>() && obj.is_instance(t.atom.bind(py))? {
            let s = obj.cast::<PyString>()?;
            return e.atom(ffi::str_utf8(s)?).map_err(codec);
        }
        if let Ok(l) = obj.cast::<PyList>() {
            return self.list(e, l, depth);
        }
        if let Ok(tup) = obj.cast::<PyTuple>() {
            return self.tuple(e, tup, depth);
        }
        if let Ok(d) = obj.cast::<PyDict>() {
            return self.dict(e, d, depth);
        }
        if let Ok(s) = obj.cast::<PyString>() {
            return e.binary(ffi::str_utf8(s)?.as_bytes()).map_err(codec);
        }
        if let Ok(i) = obj.cast::<PyInt>() {
            return self.int(e, i);
        }
        if let Ok(f) = obj.cast::<PyFloat>() {
            return e.float(f.value()).map_err(codec);
        }
        if let Ok(b) = obj.cast::<PyByteArray>() {
            return e.binary(&b.to_vec()).map_err(codec);
        }
        self.write_record(e, obj, depth)
    }

    /// The dataclasses of `phoenix_wire.etf`, or an error.
    fn write_record(
        &self,
        e: &mut Enc<'_, '_>,
        obj: &Bound<'py, PyAny>,
        depth: usize,
    ) -> PyResult<()> {
        let codec = |err| encode_codec_error(self.py, err);
        let t = self.types;
        let py = self.py;
        if obj.is_instance(t.improper.bind(py))? {
            let depth = deeper(depth)?;
            let items = obj.getattr("items")?;
            let items = items.cast::<PyList>()?;
            if !items.is_empty() {
                e.list_header(items.len()).map_err(codec)?;
                for item in items.iter() {
                    self.write(e, item.as_borrowed(), depth)?;
                }
            }
            return self.write(e, obj.getattr("tail")?.as_borrowed(), depth);
        }
        if obj.is_instance(t.bit_binary.bind(py))? {
            let data = obj.getattr("data")?;
            let bits: u8 = obj.getattr("bits")?.extract()?;
            return e
                .bit_binary(data.cast::<PyBytes>()?.as_bytes(), bits)
                .map_err(codec);
        }
        if obj.is_instance(t.pid.bind(py))? {
            let node = obj.getattr("node")?;
            let node = ffi::str_utf8(node.cast::<PyString>()?)?;
            let (id, serial, creation) = (
                obj.getattr("id")?.extract()?,
                obj.getattr("serial")?.extract()?,
                obj.getattr("creation")?.extract()?,
            );
            return e.pid(node, id, serial, creation).map_err(codec);
        }
        if obj.is_instance(t.port.bind(py))? {
            let node = obj.getattr("node")?;
            let node = ffi::str_utf8(node.cast::<PyString>()?)?;
            let (id, creation) = (
                obj.getattr("id")?.extract()?,
                obj.getattr("creation")?.extract()?,
            );
            return e.port(node, id, creation).map_err(codec);
        }
        if obj.is_instance(t.reference.bind(py))? {
            let node = obj.getattr("node")?;
            let node = ffi::str_utf8(node.cast::<PyString>()?)?;
            let creation = obj.getattr("creation")?.extract()?;
            let ids: Vec<u32> = obj.getattr("ids")?.extract()?;
            return e.reference(node, creation, &ids).map_err(codec);
        }
        let ty = obj.get_type().name()?;
        Err(encode_error(format!("type {ty} has no Erlang term form")))
    }

    fn tuple(&self, e: &mut Enc<'_, '_>, tup: &Bound<'py, PyTuple>, depth: usize) -> PyResult<()> {
        let depth = deeper(depth)?;
        let n = tup.len();
        e.tuple_header(n)
            .map_err(|err| encode_codec_error(self.py, err))?;
        for i in 0..n {
            // SAFETY: `i < n`, and tuples never change size. Tuples are
            // immutable and `tup` is held, so the item lives.
            let item = unsafe { tup.get_borrowed_item_unchecked(i) };
            self.write(e, item, depth)?;
        }
        Ok(())
    }

    fn list(&self, e: &mut Enc<'_, '_>, l: &Bound<'py, PyList>, depth: usize) -> PyResult<()> {
        let codec = |err| encode_codec_error(self.py, err);
        let depth = deeper(depth)?;
        let n = l.len();
        if n == 0 {
            return e.nil().map_err(codec);
        }
        // OTP writes a list of bytes as STRING_EXT ("charlist"); do the
        // same so our bytes match term_to_binary's (e.g. Fedecks' 'token').
        if let Some(bytes) = self.as_byte_list(l) {
            return e.charlist(&bytes).map_err(codec);
        }
        e.list_header(n).map_err(codec)?;
        for i in 0..n {
            // An item is only used until the next Python code could run
            // (see `write`); a list that shrank meanwhile fails here.
            let item = raw::list_item(l, i).map_err(|_| changed("list"))?;
            self.write(e, item, depth)?;
        }
        if l.len() != n {
            return Err(changed("list"));
        }
        e.nil().map_err(codec)
    }

    fn dict(&self, e: &mut Enc<'_, '_>, d: &Bound<'py, PyDict>, depth: usize) -> PyResult<()> {
        let depth = deeper(depth)?;
        let n = d.len();
        e.map_header(n)
            .map_err(|err| encode_codec_error(self.py, err))?;
        let mut pos = 0;
        let mut written = 0;
        while let Some((k, v)) = raw::dict_next(d, &mut pos) {
            written += 1;
            if written > n {
                return Err(changed("dict"));
            }
            if self.is_plain_leaf(k.get_type_ptr()) {
                self.write(e, k, depth)?;
                self.write(e, v, depth)?;
            } else {
                // Writing the key may run Python code that drops the value.
                let v = v.to_owned();
                self.write(e, k, depth)?;
                self.write(e, v.as_borrowed(), depth)?;
            }
        }
        if written != n || d.len() != n {
            return Err(changed("dict"));
        }
        Ok(())
    }

    fn int(&self, e: &mut Enc<'_, '_>, i: &Bound<'py, PyAny>) -> PyResult<()> {
        let codec = |err| encode_codec_error(self.py, err);
        if let Some(v) = raw::small_int(i) {
            return e.int(v).map_err(codec);
        }
        // Beyond i64: the magnitude's little-endian bytes, from Python.
        let negative = i.lt(0)?;
        let magnitude = i.call_method0("__abs__")?;
        let bits: usize = magnitude.call_method0("bit_length")?.extract()?;
        let bytes = magnitude.call_method1("to_bytes", (bits.div_ceil(8), "little"))?;
        e.big(negative, bytes.cast::<PyBytes>()?.as_bytes())
            .map_err(codec)
    }

    /// The elements of `l` as bytes, if every one is an exact `int` in
    /// 0..=255 (not a `bool`, which is an atom) and the list fits a
    /// STRING_EXT. Runs no Python code.
    fn as_byte_list(&self, l: &Bound<'py, PyList>) -> Option<Vec<u8>> {
        let n = l.len();
        if n > usize::from(u16::MAX) {
            return None;
        }
        let byte = |i: usize| {
            let x = raw::list_item(l, i).ok()?;
            if x.get_type_ptr() != self.exact.int {
                return None;
            }
            u8::try_from(raw::small_int(&x)?).ok()
        };
        // Most lists are not byte lists: look at the first before allocating.
        let first = byte(0)?;
        let mut out = Vec::with_capacity(n);
        out.push(first);
        for i in 1..n {
            out.push(byte(i)?);
        }
        Some(out)
    }
}

/// One level deeper, or the error for a term nested too deeply.
fn deeper(depth: usize) -> PyResult<usize> {
    depth
        .checked_sub(1)
        .ok_or_else(|| encode_error("term nests too deeply (or refers to itself)"))
}

fn changed(what: &str) -> PyErr {
    encode_error(format!("{what} changed size during dumps"))
}

/// Adds the `etf` submodule's functions to `_native`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let etf = PyModule::new(m.py(), "etf")?;
    fastcall::add(&etf, c"loads", LOADS_DOC, loads_fast)?;
    fastcall::add(&etf, c"dumps", DUMPS_DOC, dumps_fast)?;
    etf.add_function(wrap_pyfunction!(_register, &etf)?)?;
    etf.add_function(wrap_pyfunction!(_loads_slow, &etf)?)?;
    m.add_submodule(&etf)
}
