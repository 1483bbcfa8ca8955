//! # phoenix-wire
//!
//! A zero-copy codec for what devices and Phoenix servers say to each other
//! over websockets: Phoenix Channels frames (V1 JSON objects, V2 JSON arrays,
//! V2 binary frames) and, for Fedecks-style links, Erlang external terms.
//!
//! Decoding borrows every string and the payload from the caller's bytes and
//! never allocates; encoding writes into a buffer the caller owns (a fixed
//! slice, a `Vec<u8>`, or any `bytes::BufMut`). Every input is survivable:
//! bad bytes give an [`Error`] with an [`ErrorKind`] and a byte offset, never
//! a panic.
//!
//! ```
//! use phoenix_wire::frame::{self, Frame, Payload};
//! use phoenix_wire::json::RawJson;
//! use phoenix_wire::Vsn;
//!
//! // A heartbeat from the Phoenix JS client, and the server's answer.
//! let hb = frame::decode_text(br#"[null,"2","phoenix","heartbeat",{}]"#, Vsn::V2)?;
//! assert_eq!(hb.topic, "phoenix");
//!
//! let mut reply = Frame::new("phoenix", "phx_reply", Payload::Json(RawJson::new(
//!     r#"{"response":{},"status":"ok"}"#)?));
//! reply.ref_ = hb.ref_;
//! let mut out = Vec::with_capacity(64);
//! reply.encode_text(Vsn::V2, &mut out)?;
//! assert_eq!(out, br#"[null,"2","phoenix","phx_reply",{"response":{},"status":"ok"}]"#);
//! # Ok::<(), phoenix_wire::Error>(())
//! ```
//!
//! ## Features
//! - `std` (default): `std::error::Error`; implies `alloc`.
//! - `alloc`: `Vec<u8>` as an output buffer, `Cow` unescaping.
//! - `serde`: [`Frame::payload_as`](frame::Frame::payload_as) and payloads from any `Serialize`.
//! - `bytes`: [`frame::OwnedFrame`] over `bytes::Bytes`; any `BufMut` as an output buffer.
//! - `inflate`: compressed Erlang terms (tag 80) via miniz_oxide, into a caller-owned buffer.
//! - `eetf`: conversions between [`etf::Term`] and `eetf::Term`.
//!
//! Without default features the crate is `#![no_std]` and the frame codec
//! needs no allocator: encode into a [`SliceSink`].
//!
//! ## Unsafe code
//! The crate denies `unsafe` except in five small modules, each block with
//! its safety argument: the SSE2 byte classification the JSON scanner uses
//! on x86_64 (`json/simd.rs`: intrinsics on 16-byte arrays, word-at-a-time
//! arithmetic elsewhere); taking an all-ASCII frame as a `str` without a
//! UTF-8 pass (`utf8.rs`); writing a frame straight into a sink's spare
//! memory without zeroing it first ([`InPlace`], `sink/in_place.rs`, and
//! for a `bytes::BufMut`, `sink/buf_mut.rs`, feature `bytes`); and
//! [`frame::OwnedFrame`]'s one `from_utf8_unchecked` over ranges it validated
//! when it was built. UTF-8 validation of whole frames uses `simdutf8`.
#![cfg_attr(not(feature = "std"), no_std)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;

mod error;
pub mod etf;
pub mod frame;
pub mod json;
mod sink;
mod utf8;

pub use error::{Error, ErrorKind, Field, Result};
pub use frame::{Direction, Frame, Payload, Ref, Vsn};
pub use sink::{InPlace, Sink, SliceSink};

// The README's example is compiled and run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
