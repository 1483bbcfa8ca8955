//! `phoenix_wire._native`: the Python face of the `phoenix-wire` codec.
//!
//! Thin glue only: argument checking, and conversion between Python objects
//! and the codec's views. Every protocol decision (frame layouts, key order,
//! validation, error kinds and offsets) is the codec's.

#[macro_use]
mod fastcall;
mod dict_reads;
mod errors;
mod etf;
mod ffi;
mod gil_cell;
mod key_texts;
mod message;
mod message_type;
mod to_json;
mod to_py;
mod wide_strs;

use std::borrow::Cow;
use std::ffi::CStr;

use phoenix_wire::frame::PHX_REPLY;
use phoenix_wire::json::{JsonStr, RawJson};
use phoenix_wire::{Direction, Frame, Payload, Ref, Vsn};
use pyo3::exceptions::{PySystemError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyInt, PyList, PyString};

use errors::{encode_codec_error, encode_error};
use fastcall::Sig;
use gil_cell::GilCell;
use message::Message;

const DEFAULT_VSN: &str = "2.0.0";

fn vsn_of(vsn: Option<&Bound<'_, PyString>>) -> PyResult<Vsn> {
    let Some(vsn) = vsn else { return Ok(Vsn::V2) };
    let text = ffi::str_utf8(vsn)?;
    Vsn::from_query(text)
        .ok_or_else(|| PyValueError::new_err(format!("unsupported vsn {text:?} (1.x or 2.x)")))
}

fn direction_of(
    direction: Option<&Bound<'_, PyString>>,
    default: Direction,
) -> PyResult<Direction> {
    let Some(direction) = direction else {
        return Ok(default);
    };
    match ffi::str_utf8(direction)? {
        "to_client" => Ok(Direction::ToClient),
        "to_server" => Ok(Direction::ToServer),
        other => Err(PyValueError::new_err(format!(
            "direction must be \"to_client\" or \"to_server\", not {other:?}"
        ))),
    }
}

const DECODE_DOC: &CStr = c"decode(frame, *, vsn='2.0.0', direction='to_client')
--

Decodes a frame as a websocket library hands it over.

A str is a text frame: a V1 JSON object or a V2 JSON array, as `vsn` says
(by its major number). bytes is a V2 binary frame laid out for `direction`
(\"to_client\" reads pushes, replies and broadcasts from a server;
\"to_server\" reads a client's push). Raises DecodeError (a ValueError with
.kind and .offset, counted in UTF-8 bytes) for anything that is not a valid
frame.";

fastcall_fn!(decode_fast, |py, call| {
    // `decode(s)` with an exact `str`, as websocket libraries hand text
    // frames over: no keywords to parse, no type check by call, and V2.
    // (The general parse, its `Option`s returned through memory, and
    // `PyUnicode_Check` through `PyType_GetFlags` on the stable ABI, were
    // a tenth of decoding a heartbeat.)
    if call.nargs == 1 && call.kwnames.is_null() {
        // SAFETY: CPython passed one positional argument.
        let frame = unsafe { Borrowed::from_ptr(py, *call.args) };
        if let Ok(text) = frame.cast_exact::<PyString>() {
            return text_message(&frame, &text, Vsn::V2);
        }
    }
    const SIG: Sig<3> = Sig {
        name: "decode",
        params: ["frame", "vsn", "direction"],
        positional: 1,
        required: 1,
    };
    // SAFETY: the arguments CPython passed to this fastcall function.
    let a = unsafe { SIG.parse_borrowed(py, call)? };
    let vsn = fastcall::opt_str("decode", "vsn", &a[1])?;
    let direction = fastcall::opt_str("decode", "direction", &a[2])?;
    let frame = fastcall::req(&a[0])?;
    if let Ok(text) = frame.cast::<PyString>() {
        return text_message(frame, text, vsn_of(vsn)?);
    }
    if let Ok(bytes) = frame.cast::<PyBytes>() {
        let direction = direction_of(direction, Direction::ToClient)?;
        if vsn_of(vsn)? == Vsn::V1 {
            return Err(PyValueError::new_err("vsn 1.x has no binary frames"));
        }
        // SAFETY: `slot` is a message's memory, as `init_binary` needs.
        return message_type::new_object(py, |slot| unsafe {
            Message::init_binary(slot, frame, bytes.as_bytes(), direction)
        });
    }
    Err(PyTypeError::new_err(format!(
        "frame must be str (text frame) or bytes (binary frame), not {}",
        frame.get_type().name()?
    )))
});

/// A `Message` for the text frame `frame`, a `str` (`text` is the same
/// object, as a `str`).
#[inline(always)]
fn text_message(
    frame: &Bound<'_, PyAny>,
    text: &Bound<'_, PyString>,
    vsn: Vsn,
) -> PyResult<Py<PyAny>> {
    let data = ffi::str_utf8(text)?;
    // SAFETY: `slot` is a message's memory, as `init_text_str` needs.
    message_type::new_object(frame.py(), |slot| unsafe {
        Message::init_text_str(slot, frame, data, vsn)
    })
}

const DECODE_TEXT_DOC: &CStr = c"decode_text(frame, *, vsn='2.0.0')
--

Decodes a text frame given as UTF-8 bytes (V1 or V2 by `vsn`). Raises
DecodeError.";

fastcall_fn!(decode_text_fast, |py, call| {
    const SIG: Sig<2> = Sig {
        name: "decode_text",
        params: ["frame", "vsn"],
        positional: 1,
        required: 1,
    };
    // SAFETY: the arguments CPython passed to this fastcall function.
    let a = unsafe { SIG.parse_borrowed(py, call)? };
    let frame = fastcall::req(&a[0])?
        .cast::<PyBytes>()
        .map_err(|_| PyTypeError::new_err("decode_text() argument 'frame' must be bytes"))?;
    let vsn = fastcall::opt_str("decode_text", "vsn", &a[1])?;
    let vsn = vsn_of(vsn)?;
    // SAFETY: `slot` is a message's memory, as `init_text` needs.
    message_type::new_object(py, |slot| unsafe {
        Message::init_text(slot, frame.as_any(), frame.as_bytes(), vsn)
    })
});

/// A ref argument: None, `str` or `int`.
///
/// Inlined, as are `str_arg` and `frame_of`: returned through memory, the
/// `PyResult`s of the codec's small padded types were copied with loads
/// wider than the stores that wrote them, which the CPU cannot forward (a
/// tenth of a small `encode` in `perf`, invisible to callgrind).
#[inline(always)]
fn ref_of<'a>(obj: &'a Bound<'_, PyAny>, what: &str) -> PyResult<Ref<'a>> {
    if obj.is_none() {
        return Ok(Ref::Null);
    }
    if let Some(s) = as_str(obj) {
        return Ok(Ref::Str(JsonStr::new(ffi::str_utf8(s)?)));
    }
    if let (Ok(i), false) = (
        obj.cast::<PyInt>(),
        obj.is_instance_of::<pyo3::types::PyBool>(),
    ) {
        return i
            .extract::<i64>()
            .map(Ref::Int)
            .map_err(|_| encode_error(format!("{what} does not fit in 64 bits")));
    }
    Err(PyTypeError::new_err(format!(
        "{what} must be None, str or int"
    )))
}

/// `obj` as a `str`: an exact `str` by one pointer compare (nearly every
/// argument), a subclass through `PyUnicode_Check` (a call under the
/// stable ABI, a tenth of a heartbeat's glue over its three strings).
#[inline(always)]
fn as_str<'a, 'py>(obj: &'a Bound<'py, PyAny>) -> Option<&'a Bound<'py, PyString>> {
    if let Ok(s) = obj.cast_exact::<PyString>() {
        return Some(s);
    }
    obj.cast::<PyString>().ok()
}

/// A payload argument as pre-encoded `bytes`, or None for objects; an
/// exact `dict` or `list` (nearly every payload) is told apart by pointer
/// compares, without a `PyBytes_Check` call.
#[inline(always)]
fn as_bytes<'a, 'py>(obj: &'a Bound<'py, PyAny>) -> Option<&'a Bound<'py, PyBytes>> {
    if let Ok(b) = obj.cast_exact::<PyBytes>() {
        return Some(b);
    }
    if obj.is_exact_instance_of::<PyDict>() || obj.is_exact_instance_of::<PyList>() {
        return None;
    }
    obj.cast::<PyBytes>().ok()
}

/// A JSON payload argument: pre-encoded JSON `bytes`, or Python objects
/// serialized into `buf`.
fn json_of<'a>(obj: &'a Bound<'_, PyAny>, buf: &'a mut Vec<u8>) -> PyResult<&'a [u8]> {
    if let Some(b) = as_bytes(obj) {
        return Ok(b.as_bytes());
    }
    to_json::write_json(buf, obj)?;
    Ok(buf)
}

/// Raw bytes for a binary payload: borrowed from `bytes`, copied from a
/// (mutable) `bytearray`.
fn bytes_of<'a>(obj: &'a Bound<'_, PyAny>, what: &str) -> PyResult<Cow<'a, [u8]>> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Cow::Borrowed(b.as_bytes()));
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Ok(Cow::Owned(b.to_vec()));
    }
    Err(PyTypeError::new_err(format!("{what} must be bytes")))
}

fn text_out<'py>(
    py: Python<'py>,
    f: &Frame<'_>,
    vsn: Vsn,
    out: &mut Vec<u8>,
) -> PyResult<Bound<'py, PyString>> {
    out.reserve(64 + payload_len(&f.payload));
    f.encode_text(vsn, out)
        .map_err(|e| encode_codec_error(py, e))?;
    // CPython checks the UTF-8 as it builds the str.
    ffi::str_from_utf8(py, out)
}

/// Buffers for a payload's JSON and for the frame, reused across calls:
/// two allocations and two frees were a tenth of a small `encode` (and a
/// thread-local's lookup in a shared library, where they were kept before,
/// a fiftieth).
static SCRATCH: GilCell<(Vec<u8>, Vec<u8>)> = GilCell::new((Vec::new(), Vec::new()));

/// Runs `f` with the (emptied) scratch buffers, or fresh ones if they are in
/// use; buffers grown past 1 MiB are given back afterwards.
///
/// An error travels beside the result rather than in it: a `PyResult` is
/// several words, and moving one out through the closures (stores read
/// back by wider loads, which the CPU cannot forward) was a twentieth of a
/// small `encode`; an `Option` of an object is one register.
pub(crate) fn with_scratch<T>(
    py: Python<'_>,
    f: impl FnOnce(&mut Vec<u8>, &mut Vec<u8>) -> PyResult<T>,
) -> PyResult<T> {
    let mut err = None;
    let ok = scratch(py, |a, b| f(a, b).map_err(|e| err = Some(e)).ok());
    ok.ok_or_else(|| err.unwrap_or_else(|| PySystemError::new_err("scratch lost an error")))
}

fn scratch<R>(py: Python<'_>, f: impl FnOnce(&mut Vec<u8>, &mut Vec<u8>) -> R) -> R {
    const KEEP: usize = 1 << 20;
    SCRATCH.with(py, |bufs| match bufs {
        Some((a, b)) => {
            a.clear();
            b.clear();
            let r = f(a, b);
            for buf in [a, b] {
                if buf.capacity() > KEEP {
                    *buf = Vec::new();
                }
            }
            r
        }
        None => f(&mut Vec::new(), &mut Vec::new()),
    })
}

fn binary_out<'py>(
    py: Python<'py>,
    f: &Frame<'_>,
    dir: Direction,
) -> PyResult<Bound<'py, PyBytes>> {
    with_scratch(py, |out, _| {
        out.reserve(8 + payload_len(&f.payload));
        f.encode_binary(dir, out)
            .map_err(|e| encode_codec_error(py, e))?;
        Ok(PyBytes::new(py, out))
    })
}

fn payload_len(p: &Payload<'_>) -> usize {
    match p {
        Payload::Json(raw) => raw.raw().len(),
        Payload::Binary(b) | Payload::Reply { response: b, .. } => b.len(),
    }
}

/// The frame an encoder writes, from the caller's refs and topic.
#[inline(always)]
fn frame_of<'a>(
    join_ref: &'a Bound<'_, PyAny>,
    r#ref: &'a Bound<'_, PyAny>,
    topic: &'a Bound<'_, PyString>,
    event: &'a str,
    payload: Payload<'a>,
) -> PyResult<Frame<'a>> {
    // The strings are made `JsonStr`s here, in the frame: a `JsonStr`
    // passed in was copied with the same stall as a returned one.
    let topic = str_arg(topic)?;
    Ok(Frame {
        join_ref: ref_of(join_ref, "join_ref")?,
        ref_: ref_of(r#ref, "ref")?,
        topic: JsonStr::new(topic),
        event: JsonStr::new(event),
        payload,
    })
}

#[inline(always)]
fn str_arg<'a>(s: &'a Bound<'_, PyString>) -> PyResult<&'a str> {
    ffi::str_utf8(s)
}

const ENCODE_DOC: &CStr = c"encode(join_ref, ref, topic, event, payload, *, vsn='2.0.0')
--

Encodes a text frame and returns it as str.

join_ref/ref are None, str or int; payload is Python objects (serialized to
compact JSON the way Phoenix's Jason does) or pre-encoded JSON bytes
(validated). V2 writes [join_ref,ref,topic,event,payload], V1 an object with
Phoenix's key order. Raises EncodeError.";

fastcall_fn!(encode_fast, |py, call| {
    const SIG: Sig<6> = Sig {
        name: "encode",
        params: ["join_ref", "ref", "topic", "event", "payload", "vsn"],
        positional: 5,
        required: 5,
    };
    let must_be_str =
        |name: &str| PyTypeError::new_err(format!("encode() argument '{name}' must be str"));
    if call.nargs == 5 && call.kwnames.is_null() {
        // The usual call, five arguments by position: taken straight from
        // the vector, without the general parser's table of optional
        // arguments (a tenth of a heartbeat's glue).
        // SAFETY: CPython passes `nargs` live arguments, borrowed for the
        // duration of the call, which the borrows below do not outlive.
        let arg = |i: usize| unsafe { Borrowed::from_ptr(py, *call.args.add(i)) };
        let (topic, event) = (arg(2), arg(3));
        let out = encode(
            py,
            &arg(0),
            &arg(1),
            as_str(&topic).ok_or_else(|| must_be_str("topic"))?,
            as_str(&event).ok_or_else(|| must_be_str("event"))?,
            &arg(4),
            None,
        )?;
        return Ok(out.into_any().unbind());
    }
    // SAFETY: the arguments CPython passed to this fastcall function.
    let a = unsafe { SIG.parse_borrowed(py, call)? };
    let string = |i: usize, name: &str| -> PyResult<&Bound<'_, PyString>> {
        as_str(fastcall::req(&a[i])?).ok_or_else(|| must_be_str(name))
    };
    let vsn = fastcall::opt_str("encode", "vsn", &a[5])?;
    let out = encode(
        py,
        fastcall::req(&a[0])?,
        fastcall::req(&a[1])?,
        string(2, "topic")?,
        string(3, "event")?,
        fastcall::req(&a[4])?,
        vsn,
    )?;
    Ok(out.into_any().unbind())
});

/// `encode` (see `ENCODE_DOC`); `broadcast` uses it too.
fn encode<'py>(
    py: Python<'py>,
    join_ref: &Bound<'py, PyAny>,
    r#ref: &Bound<'py, PyAny>,
    topic: &Bound<'py, PyString>,
    event: &Bound<'py, PyString>,
    payload: &Bound<'py, PyAny>,
    vsn: Option<&Bound<'py, PyString>>,
) -> PyResult<Bound<'py, PyString>> {
    let vsn = vsn_of(vsn)?;
    with_scratch(py, |_, out| {
        // Pre-encoded JSON is validated, then copied in.
        if let Some(b) = as_bytes(payload) {
            let raw = RawJson::from_slice(b.as_bytes()).map_err(|e| encode_codec_error(py, e))?;
            let f = frame_of(join_ref, r#ref, topic, str_arg(event)?, Payload::Json(raw))?;
            return text_out(py, &f, vsn, out);
        }
        // An empty dict (every heartbeat, many replies) is the codec's `{}`,
        // written with the frame in one go rather than through the writer.
        let empty = payload.is_exact_instance_of::<PyDict>()
            // SAFETY: `payload` is a dict; `PyDict_Size` only reads it.
            && unsafe { pyo3::ffi::PyDict_Size(payload.as_ptr()) } == 0;
        // Otherwise Python objects are written as JSON straight into the
        // frame, after its head: no copy of the payload from a buffer of its
        // own, and no second check of what our own writer wrote.
        let f = frame_of(
            join_ref,
            r#ref,
            topic,
            str_arg(event)?,
            Payload::Json(RawJson::EMPTY_OBJECT),
        )?;
        if empty {
            return text_out(py, &f, vsn, out);
        }
        let mut failed = None;
        let written = f.encode_text_raw_with(vsn, out, |out| {
            to_json::write_json(out, payload).map_err(|e| {
                failed = Some(e);
                // Stands for the error kept in `failed`.
                phoenix_wire::Error::new(phoenix_wire::ErrorKind::PayloadMismatch, 0)
            })
        });
        match (written, failed) {
            (_, Some(e)) => Err(e),
            (Err(e), None) => Err(encode_codec_error(py, e)),
            // CPython checks the UTF-8 as it builds the str.
            (Ok(()), None) => ffi::str_from_utf8(py, out),
        }
    })
}

/// Encodes a V2 binary frame and returns it as `bytes`.
///
/// "to_server" (the default) writes a client push (kind 0). "to_client"
/// writes a broadcast (kind 2) when both refs are None, else a server push
/// (kind 0, which has no ref: `ref` must then be None). Header strings are
/// limited to 255 UTF-8 bytes; integer refs are written as decimal text.
#[pyfunction]
#[pyo3(signature = (join_ref, r#ref, topic, event, payload, *, direction = None))]
fn encode_binary<'py>(
    py: Python<'py>,
    join_ref: &Bound<'py, PyAny>,
    r#ref: &Bound<'py, PyAny>,
    topic: &Bound<'py, PyString>,
    event: &Bound<'py, PyString>,
    payload: &Bound<'py, PyAny>,
    direction: Option<&Bound<'py, PyString>>,
) -> PyResult<Bound<'py, PyBytes>> {
    let direction = direction_of(direction, Direction::ToServer)?;
    let body = bytes_of(payload, "payload")?;
    let f = frame_of(
        join_ref,
        r#ref,
        topic,
        str_arg(event)?,
        Payload::Binary(&body),
    )?;
    binary_out(py, &f, direction)
}

/// Encodes a `phx_reply` text frame: payload `{"response":…,"status":…}`.
///
/// `response` is Python objects or pre-encoded JSON `bytes`.
#[pyfunction]
#[pyo3(signature = (join_ref, r#ref, topic, status, response, *, vsn = None))]
fn reply<'py>(
    py: Python<'py>,
    join_ref: &Bound<'py, PyAny>,
    r#ref: &Bound<'py, PyAny>,
    topic: &Bound<'py, PyString>,
    status: &Bound<'py, PyString>,
    response: &Bound<'py, PyAny>,
    vsn: Option<&Bound<'py, PyString>>,
) -> PyResult<Bound<'py, PyString>> {
    let vsn = vsn_of(vsn)?;
    with_scratch(py, |buf, out| {
        let json = json_of(response, buf)?;
        let f = frame_of(
            join_ref,
            r#ref,
            topic,
            PHX_REPLY,
            Payload::Reply {
                status: JsonStr::new(str_arg(status)?),
                response: json,
            },
        )?;
        text_out(py, &f, vsn, out)
    })
}

/// Encodes a binary reply (V2 kind 1, server to client) with raw
/// `response` bytes, and returns it as `bytes`.
#[pyfunction]
#[pyo3(signature = (join_ref, r#ref, topic, status, response))]
fn reply_binary<'py>(
    py: Python<'py>,
    join_ref: &Bound<'py, PyAny>,
    r#ref: &Bound<'py, PyAny>,
    topic: &Bound<'py, PyString>,
    status: &Bound<'py, PyString>,
    response: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyBytes>> {
    let body = bytes_of(response, "response")?;
    let f = frame_of(
        join_ref,
        r#ref,
        topic,
        PHX_REPLY,
        Payload::Reply {
            status: JsonStr::new(str_arg(status)?),
            response: &body,
        },
    )?;
    binary_out(py, &f, Direction::ToClient)
}

/// Encodes a broadcast text frame (both refs null).
#[pyfunction]
#[pyo3(signature = (topic, event, payload, *, vsn = None))]
fn broadcast<'py>(
    py: Python<'py>,
    topic: &Bound<'py, PyString>,
    event: &Bound<'py, PyString>,
    payload: &Bound<'py, PyAny>,
    vsn: Option<&Bound<'py, PyString>>,
) -> PyResult<Bound<'py, PyString>> {
    let none = py.None().into_bound(py);
    encode(py, &none, &none, topic, event, payload, vsn)
}

/// `_layout_checks()`: which direct reads and writes of CPython objects are
/// on (see `ffi::init`); private, for the test suite.
#[pyfunction]
fn _layout_checks(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    for (name, on) in ffi::layout_checks(py) {
        d.set_item(name, on)?;
    }
    Ok(d)
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    ffi::init(m.py());
    dict_reads::init(m.py());
    errors::register(m)?;
    etf::register(m)?;
    message_type::register(m)?;
    fastcall::add(m, c"decode", DECODE_DOC, decode_fast)?;
    fastcall::add(m, c"decode_text", DECODE_TEXT_DOC, decode_text_fast)?;
    fastcall::add(m, c"encode", ENCODE_DOC, encode_fast)?;
    m.add_function(wrap_pyfunction!(encode_binary, m)?)?;
    m.add_function(wrap_pyfunction!(reply, m)?)?;
    m.add_function(wrap_pyfunction!(reply_binary, m)?)?;
    m.add_function(wrap_pyfunction!(broadcast, m)?)?;
    m.add_function(wrap_pyfunction!(_layout_checks, m)?)?;
    m.add("DEFAULT_VSN", DEFAULT_VSN)?;
    Ok(())
}
