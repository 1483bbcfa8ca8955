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

use std::cell::RefCell;
use std::ffi::CStr;

use phoenix_wire::etf::{self, Atom, EncodeOptions, Encoder, SafePolicy, Term};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyType,
};

use crate::errors::{decode_error, encode_codec_error, encode_error, DecodeError};
use crate::fastcall::{self, Call, Sig};
use crate::ffi;

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

unsafe extern "C" fn loads_fast(
    _module: *mut pyo3::ffi::PyObject,
    args: *const *mut pyo3::ffi::PyObject,
    nargs: pyo3::ffi::Py_ssize_t,
    kwnames: *mut pyo3::ffi::PyObject,
) -> *mut pyo3::ffi::PyObject {
    fastcall::trampoline(|py| {
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
        let a = unsafe {
            SIG.parse(
                py,
                Call {
                    args,
                    nargs,
                    kwnames,
                },
            )?
        };
        let flag = |i: usize, default: bool| a[i].as_ref().map_or(Ok(default), |v| v.is_truthy());
        let size =
            |i: usize, default: usize| a[i].as_ref().map_or(Ok(default), |v| v.extract::<usize>());
        let out = loads(
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
    })
}

/// `loads` (see `LOADS_DOC`).
#[allow(clippy::too_many_arguments)]
fn loads<'py>(
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
    let owned;
    let bytes: &[u8] = if let Ok(b) = data.cast::<PyBytes>() {
        b.as_bytes()
    } else if let Ok(b) = data.cast::<PyByteArray>() {
        owned = b.to_vec();
        &owned
    } else {
        return Err(PyTypeError::new_err("data must be bytes"));
    };
    let mut inflated = Vec::new();
    let term = etf::decode_compressed_vec(bytes, &policy, &mut inflated)
        .map_err(|e| decode_error(py, e))?;
    ATOMS.with(|cell| {
        let mut guard = cell.try_borrow_mut().ok();
        let mut conv = ToPy {
            py,
            types: types(py)?,
            binaries_as_str,
            atoms: guard.as_deref_mut(),
            stack: Vec::new(),
        };
        conv.term(&term)
    })
}

struct ToPy<'py, 't> {
    py: Python<'py>,
    types: &'t Types,
    binaries_as_str: bool,
    /// `None` only if a conversion re-entered itself.
    atoms: Option<&'t mut AtomCache>,
    /// Elements of the tuples and lists being built, innermost last: one
    /// buffer for the whole conversion instead of one per container.
    stack: Vec<Bound<'py, PyAny>>,
}

thread_local! {
    static ATOMS: RefCell<AtomCache> = RefCell::new(AtomCache::new());
}

/// Made `Atom` objects by name: making one calls a Python class, which
/// costs more than everything else an atom needs, and messages repeat the
/// same few atoms. Atoms are immutable, so sharing them is invisible.
/// Direct-mapped and bounded: hostile inputs with many distinct atoms only
/// evict entries, they never grow the cache.
struct AtomCache {
    slots: Vec<Option<AtomEntry>>,
}

/// An atom's bytes as found, whether they are Latin-1, and its `Atom`.
type AtomEntry = (Box<[u8]>, bool, Py<PyAny>);

impl AtomCache {
    const SLOTS: usize = 512;

    fn new() -> AtomCache {
        AtomCache {
            slots: (0..Self::SLOTS).map(|_| None).collect(),
        }
    }

    fn slot(a: &Atom<'_>) -> usize {
        let h = a.raw().iter().fold(0x811c_9dc5u32, |h, &b| {
            (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
        });
        h as usize % Self::SLOTS
    }
}

impl<'py> ToPy<'py, '_> {
    fn term(&mut self, t: &Term<'_>) -> PyResult<Bound<'py, PyAny>> {
        let py = self.py;
        Ok(match *t {
            Term::Int(i) => i.into_pyobject(py)?.into_any(),
            Term::Big(b) => match b.to_i128() {
                Some(v) => v.into_pyobject(py)?.into_any(),
                None => big_int(py, b.is_negative(), b.magnitude())?,
            },
            Term::Float(f) => PyFloat::new(py, f).into_any(),
            Term::Atom(a) => self.atom(a)?,
            Term::Binary(b) => match (self.binaries_as_str, core::str::from_utf8(b)) {
                (true, Ok(s)) => PyString::new(py, s).into_any(),
                _ => PyBytes::new(py, b).into_any(),
            },
            Term::BitBinary(b) => self
                .types
                .bit_binary
                .bind(py)
                .call1((PyBytes::new(py, b.bytes()), b.last_bits()))?,
            Term::Nil => PyList::empty(py).into_any(),
            Term::Charlist(s) => PyList::new(py, s.iter().copied())?.into_any(),
            Term::List(l) => {
                let mut it = l.iter();
                let base = self.stack.len();
                for x in it.by_ref() {
                    let v = self.term(&x)?;
                    self.stack.push(v);
                }
                let list = PyList::new(py, self.stack.drain(base..))?;
                match it.tail() {
                    None => list.into_any(),
                    Some(tail) => {
                        let tail = self.term(&tail)?;
                        self.types.improper.bind(py).call1((list, tail))?
                    }
                }
            }
            Term::Tuple(tup) => {
                let base = self.stack.len();
                for x in tup.iter() {
                    let v = self.term(&x)?;
                    self.stack.push(v);
                }
                PyTuple::new(py, self.stack.drain(base..))?.into_any()
            }
            Term::Map(m) => {
                let d = PyDict::new(py);
                for (k, v) in m.iter() {
                    let k = self.term(&k)?;
                    let v = self.term(&v)?;
                    if let Err(e) = d.set_item(&k, v) {
                        if e.is_instance_of::<PyTypeError>(py) {
                            let err = PyErr::new::<DecodeError, _>(format!(
                                "map key {} is not hashable in Python",
                                k.repr()?
                            ));
                            let value = err.value(py);
                            value.setattr("kind", "UnhashableMapKey")?;
                            value.setattr("offset", 0)?;
                            return Err(err);
                        }
                        return Err(e);
                    }
                }
                d.into_any()
            }
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
        })
    }

    fn atom(&mut self, a: Atom<'_>) -> PyResult<Bound<'py, PyAny>> {
        let py = self.py;
        // ASCII names: the same bytes in Latin-1 and UTF-8 atoms.
        match a.raw() {
            b"true" => return Ok(PyBool::new(py, true).to_owned().into_any()),
            b"false" => return Ok(PyBool::new(py, false).to_owned().into_any()),
            b"nil" => return Ok(py.None().into_bound(py)),
            _ => {}
        }
        let slot = AtomCache::slot(&a);
        if let Some(Some(Some((raw, latin1, atom)))) =
            self.atoms.as_deref().map(|c| c.slots.get(slot))
        {
            if **raw == *a.raw() && *latin1 == a.is_latin1() {
                return Ok(atom.bind(py).clone());
            }
        }
        let name = match a.as_str() {
            Some(s) => PyString::new(py, s),
            None => PyString::new(py, &a.chars().collect::<String>()),
        };
        let atom = self.types.atom.bind(py).call1((name,))?;
        if let Some(entry) = self
            .atoms
            .as_deref_mut()
            .and_then(|c| c.slots.get_mut(slot))
        {
            *entry = Some((a.raw().into(), a.is_latin1(), atom.clone().unbind()));
        }
        Ok(atom)
    }
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

unsafe extern "C" fn dumps_fast(
    _module: *mut pyo3::ffi::PyObject,
    args: *const *mut pyo3::ffi::PyObject,
    nargs: pyo3::ffi::Py_ssize_t,
    kwnames: *mut pyo3::ffi::PyObject,
) -> *mut pyo3::ffi::PyObject {
    fastcall::trampoline(|py| {
        const SIG: Sig<4> = Sig {
            name: "dumps",
            params: ["obj", "compressed", "atom_tags", "deterministic"],
            positional: 1,
            required: 1,
        };
        // SAFETY: the arguments CPython passed to this fastcall function.
        let a = unsafe {
            SIG.parse(
                py,
                Call {
                    args,
                    nargs,
                    kwnames,
                },
            )?
        };
        let deterministic = a[3].as_ref().map_or(Ok(false), |v| v.is_truthy())?;
        let out = dumps(
            py,
            fastcall::req(&a[0])?,
            a[1].as_ref(),
            fastcall::opt_str("dumps", "atom_tags", &a[2])?,
            deterministic,
        )?;
        Ok(out.into_any().unbind())
    })
}

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
    crate::with_scratch(|out, second| {
        {
            let mut enc = Encoder::with_options(&mut *out, opts);
            enc.version().map_err(codec)?;
            FromPy {
                py,
                types: types(py)?,
            }
            .write(&mut enc, obj, etf::DEFAULT_MAX_DEPTH)?;
        }
        let mut out: &mut Vec<u8> = out;
        if deterministic {
            // Re-encode through the codec's view with sorted map keys: the
            // codec owns Erlang term order.
            let policy = SafePolicy::new()
                .allow_pids_ports_refs(true)
                .max_depth(etf::MAX_DEPTH_LIMIT);
            let term = etf::decode(out, &policy).map_err(codec)?;
            let mut enc = Encoder::with_options(&mut *second, opts.sort_map_keys(true));
            enc.version().map_err(codec)?;
            enc.term(&term).map_err(codec)?;
            core::mem::swap(out, second);
            second.clear();
        }
        if let Some(level) = level {
            etf::compress(out, level, &mut *second).map_err(codec)?;
            out = second;
        }
        Ok(PyBytes::new(py, out))
    })
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
}

type Enc<'s> = Encoder<'s, Vec<u8>>;

impl<'py> FromPy<'py, '_> {
    fn write(&self, e: &mut Enc<'_>, obj: &Bound<'py, PyAny>, depth: usize) -> PyResult<()> {
        let codec = |err| encode_codec_error(self.py, err);
        if let Ok(s) = obj.cast_exact::<PyString>() {
            return e.binary(ffi::str_utf8(s)?.as_bytes()).map_err(codec);
        }
        if let Ok(i) = obj.cast_exact::<PyInt>() {
            return self.int(e, i);
        }
        if obj.is_none() {
            return e.atom("nil").map_err(codec);
        }
        if let Ok(b) = obj.cast_exact::<PyBool>() {
            return e.bool(b.is_true()).map_err(codec);
        }
        if let Ok(f) = obj.cast_exact::<PyFloat>() {
            return e.float(f.value()).map_err(codec);
        }
        if let Ok(b) = obj.cast::<PyBytes>() {
            return e.binary(b.as_bytes()).map_err(codec);
        }
        let t = self.types;
        let py = self.py;
        // Atom before str: it is a str subclass. An exact type compare first:
        // `isinstance` is a Python call.
        let is_str = obj.is_instance_of::<PyString>();
        if obj.get_type_ptr().cast() == t.atom.as_ptr()
            || (is_str && obj.is_instance(t.atom.bind(py))?)
        {
            let s = obj.cast::<PyString>()?;
            return e.atom(ffi::str_utf8(s)?).map_err(codec);
        }
        let Some(depth) = depth.checked_sub(1) else {
            return Err(encode_error("term nests too deeply (or refers to itself)"));
        };
        if let Ok(l) = obj.cast::<PyList>() {
            if l.is_empty() {
                return e.nil().map_err(codec);
            }
            // OTP writes a list of bytes as STRING_EXT ("charlist"); do the
            // same so our bytes match term_to_binary's (e.g. Fedecks' 'token').
            if let Some(bytes) = as_byte_list(l) {
                return e.charlist(&bytes).map_err(codec);
            }
            e.list_header(l.len()).map_err(codec)?;
            for item in l.iter() {
                self.write(e, &item, depth)?;
            }
            return e.nil().map_err(codec);
        }
        if let Ok(tup) = obj.cast::<PyTuple>() {
            e.tuple_header(tup.len()).map_err(codec)?;
            return tup.iter().try_for_each(|x| self.write(e, &x, depth));
        }
        if let Ok(d) = obj.cast::<PyDict>() {
            e.map_header(d.len()).map_err(codec)?;
            for (k, v) in d.iter() {
                self.write(e, &k, depth)?;
                self.write(e, &v, depth)?;
            }
            return Ok(());
        }
        if let Ok(s) = obj.cast::<PyString>() {
            return e.binary(ffi::str_utf8(s)?.as_bytes()).map_err(codec);
        }
        if let Ok(b) = obj.cast::<PyBool>() {
            return e.bool(b.is_true()).map_err(codec);
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
        if obj.is_instance(t.improper.bind(py))? {
            let items = obj.getattr("items")?;
            let items = items.cast::<PyList>()?;
            if !items.is_empty() {
                e.list_header(items.len()).map_err(codec)?;
                for item in items.iter() {
                    self.write(e, &item, depth)?;
                }
            }
            return self.write(e, &obj.getattr("tail")?, depth);
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

    fn int(&self, e: &mut Enc<'_>, i: &Bound<'py, PyInt>) -> PyResult<()> {
        let codec = |err| encode_codec_error(self.py, err);
        if let Ok(v) = i.extract::<i64>() {
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
}

/// Adds the `etf` submodule's functions to `_native`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let etf = PyModule::new(m.py(), "etf")?;
    fastcall::add(&etf, c"loads", LOADS_DOC, loads_fast)?;
    fastcall::add(&etf, c"dumps", DUMPS_DOC, dumps_fast)?;
    etf.add_function(wrap_pyfunction!(_register, &etf)?)?;
    m.add_submodule(&etf)
}

/// The elements of `l` as bytes, if every one is an exact `int` in 0..=255
/// (not a `bool`, which is an atom) and the list fits a STRING_EXT.
fn as_byte_list(l: &Bound<'_, PyList>) -> Option<Vec<u8>> {
    if l.len() > u16::MAX as usize {
        return None;
    }
    l.iter()
        .map(|x| x.cast_exact::<PyInt>().ok()?.extract::<u8>().ok())
        .collect()
}
