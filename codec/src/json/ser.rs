//! Serializing the caller's types straight into a [`Sink`] (feature `serde`).

use crate::error::{Error, ErrorKind, Result};
use crate::sink::Sink;

/// Serializes `value` as compact JSON into `out`, through serde_json.
///
/// With `std` the bytes stream into the sink; without it serde_json needs an
/// intermediate `Vec`, which is then copied into the sink.
///
/// ```
/// let mut out = Vec::new();
/// phoenix_wire::json::write_serialize(&mut out, &serde_json::json!({"a": [1, 2]})).unwrap();
/// assert_eq!(out, br#"{"a":[1,2]}"#);
/// ```
pub fn write_serialize<S, T>(out: &mut S, value: &T) -> Result<()>
where
    S: Sink + ?Sized,
    T: serde::Serialize + ?Sized,
{
    #[cfg(feature = "std")]
    {
        let mut w = IoSink { out, err: None };
        match serde_json::to_writer(&mut w, value) {
            Ok(()) => Ok(()),
            Err(_) => Err(w.err.unwrap_or(Error::new(ErrorKind::Serde, 0))),
        }
    }
    #[cfg(not(feature = "std"))]
    {
        let bytes = serde_json::to_vec(value).map_err(|_| Error::new(ErrorKind::Serde, 0))?;
        out.put(&bytes)
    }
}

/// Adapts a sink to `std::io::Write`, keeping the sink's own error.
#[cfg(feature = "std")]
struct IoSink<'s, S: ?Sized> {
    out: &'s mut S,
    err: Option<Error>,
}

#[cfg(feature = "std")]
impl<S: Sink + ?Sized> std::io::Write for IoSink<'_, S> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.out.put(buf) {
            Ok(()) => Ok(buf.len()),
            Err(e) => {
                self.err = Some(e);
                Err(std::io::Error::other("sink full"))
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
