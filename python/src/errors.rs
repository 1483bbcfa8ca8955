//! `DecodeError` and `EncodeError`: `ValueError`s that carry the codec's
//! error kind (its Debug name, e.g. `"MissingField(Ref)"`) and byte offset.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

pyo3::create_exception!(
    phoenix_wire,
    DecodeError,
    PyValueError,
    "A frame or term could not be decoded.\n\n`.kind` names what was wrong (the codec's ErrorKind, e.g. \"TooFewElements\" or \"MissingField(Ref)\") and `.offset` is the byte offset in the input (in UTF-8 bytes for a str) where it was found."
);

pyo3::create_exception!(
    phoenix_wire,
    EncodeError,
    PyValueError,
    "A message could not be encoded: an unsupported payload value, invalid pre-encoded JSON, a header string over 255 bytes, ...\n\n`.kind` and `.offset` are set when the codec refused the data, else None."
);

/// A `DecodeError` for a codec error.
pub fn decode_error(py: Python<'_>, e: phoenix_wire::Error) -> PyErr {
    with_details(py, PyErr::new::<DecodeError, _>(e.to_string()), e)
}

/// An `EncodeError` for a codec error.
pub fn encode_codec_error(py: Python<'_>, e: phoenix_wire::Error) -> PyErr {
    with_details(py, PyErr::new::<EncodeError, _>(e.to_string()), e)
}

/// An `EncodeError` with a message (kind and offset stay None).
pub fn encode_error(msg: impl Into<String>) -> PyErr {
    PyErr::new::<EncodeError, _>(msg.into())
}

fn with_details(py: Python<'_>, err: PyErr, e: phoenix_wire::Error) -> PyErr {
    let value = err.value(py);
    // Setting attributes on a fresh exception instance cannot fail short of
    // memory exhaustion; the error itself is still worth raising then.
    let _ = value.setattr("kind", format!("{:?}", e.kind()));
    let _ = value.setattr("offset", e.offset());
    err
}

/// Registers both exceptions, with `kind` and `offset` defaulting to None.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    for ty in [py.get_type::<DecodeError>(), py.get_type::<EncodeError>()] {
        ty.setattr("kind", py.None())?;
        ty.setattr("offset", py.None())?;
    }
    m.add("DecodeError", py.get_type::<DecodeError>())?;
    m.add("EncodeError", py.get_type::<EncodeError>())?;
    Ok(())
}
