//! serde for Erlang terms (feature `serde`), mapped the way Elixir peers
//! expect by default.
//!
//! | Rust | Erlang / Elixir term | decodes from |
//! |---|---|---|
//! | `bool` | `true`, `false` | the same atoms |
//! | integers, `i128`, `u128` | integer (smallest OTP form) | any integer in range |
//! | `f32`, `f64` | float | float |
//! | `&str`, `String`, `char` | binary (Elixir string) | binary, atom, charlist |
//! | bytes (`serde_bytes`, `serialize_bytes`) | binary | binary, charlist |
//! | `None`, `()` , unit struct | `nil` | `nil` (also `undefined` for `None`) |
//! | `Some(x)`, newtype struct | `x` | `x` |
//! | `Vec<T>`, slices, sets | list | list, charlist, tuple, binary (for `Vec<u8>`) |
//! | tuple, tuple struct | tuple | tuple, list |
//! | struct | map with **binary keys** (`%{"field" => ...}`) | map with binary or atom keys |
//! | `HashMap`/`BTreeMap` | map | map |
//! | unit variant `E::A` | atom `:A` | atom or binary |
//! | newtype variant `E::A(x)` | `{:A, x}` | the same |
//! | tuple variant `E::A(x, y)` | `{:A, x, y}` | the same |
//! | struct variant `E::A { f }` | `{:A, %{"f" => ...}}` | the same |
//!
//! serde writes a plain `&[u8]` or `Vec<u8>` as a sequence (a list of
//! integers); mark byte fields `#[serde(with = "serde_bytes")]` to write a
//! binary. Reading, `&[u8]` borrows a binary as is.
//!
//! Binary keys are what Fedecks peers expect: they decode with `[:safe]`,
//! which refuses atoms they do not already know. Rename variants with
//! `#[serde(rename = "...")]` to get lowercase atoms (`:token`).
//!
//! Deserializing borrows `&str` and `&[u8]` from the input. Errors from the
//! target type are [`ErrorKind::Serde`](crate::ErrorKind::Serde) with the
//! offset of the term that did not fit.
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use phoenix_wire::etf;
//!
//! // The Fedecks auth map a device sends (base64 in `x-fedecks-auth`).
//! #[derive(Serialize, Deserialize, Debug, PartialEq)]
//! struct Auth<'a> {
//!     #[serde(rename = "fedecks-device-id")]
//!     device_id: &'a str,
//!     username: &'a str,
//!     password: &'a str,
//! }
//!
//! let auth = Auth { device_id: "nerves-1234", username: "marvin", password: "paranoid" };
//! let bytes = etf::to_vec(&auth)?;
//! // %{"fedecks-device-id" => "nerves-1234", "username" => ..., "password" => ...}
//! assert_eq!(&bytes[..12], [131, 116, 0, 0, 0, 3, 109, 0, 0, 0, 17, b'f']);
//! let back: Auth = etf::from_slice(&bytes)?;
//! assert_eq!(back, auth);
//!
//! // The server's reply, {'token', <<...>>}, as OTP 25 writes it.
//! #[derive(Deserialize, Serialize, Debug, PartialEq)]
//! enum Reply<'a> {
//!     #[serde(rename = "token")]
//!     Token(#[serde(with = "serde_bytes")] &'a [u8]),
//! }
//! let reply = [131, 104, 2, 100, 0, 5, b't', b'o', b'k', b'e', b'n', 109, 0, 0, 0, 3, 1, 2, 3];
//! let Reply::Token(token) = etf::from_slice(&reply)?;
//! assert_eq!(token, [1, 2, 3]);
//! // We write the OTP 26 atom form; OTP decodes both to the same term.
//! assert_eq!(etf::to_vec(&Reply::Token(token))?,
//!            [131, 104, 2, 119, 5, b't', b'o', b'k', b'e', b'n', 109, 0, 0, 0, 3, 1, 2, 3]);
//! # Ok::<(), phoenix_wire::Error>(())
//! ```

mod de;
mod ser;

pub use de::{from_slice, from_slice_with, from_term};
pub use ser::{to_vec, to_writer};

use crate::error::{Error, ErrorKind};
use core::fmt::Display;

// serde errors carry no message (errors never allocate); the kind and the
// offset say what and where.
impl ::serde::de::Error for Error {
    fn custom<T: Display>(_msg: T) -> Self {
        Error::new(ErrorKind::Serde, 0)
    }
}

impl ::serde::ser::Error for Error {
    fn custom<T: Display>(_msg: T) -> Self {
        Error::new(ErrorKind::Serde, 0)
    }
}

#[cfg(not(feature = "std"))]
impl ::serde::de::StdError for Error {}
