//! Phoenix Channels frames: decode borrowing from the input, encode into a
//! caller-owned buffer.
//!
//! | family | decode | encode |
//! |---|---|---|
//! | V1 JSON object (text) | [`decode_text`] (bytes) or [`decode_text_str`] with [`Vsn::V1`] | [`Frame::encode_text`] |
//! | V2 JSON array (text) | [`decode_text`] (bytes) or [`decode_text_str`] with [`Vsn::V2`] | [`Frame::encode_text`] |
//! | V2 binary, kinds 0/1/2 | [`decode_binary`] with a [`Direction`] | [`Frame::encode_binary`] |
//!
//! [`decode_text_str_into`] decodes a text frame into memory the caller
//! keeps it in (a slot in a Python object, say) instead of returning it.
//!
//! ```
//! use phoenix_wire::frame::{self, Frame, Payload, Ref};
//! use phoenix_wire::Vsn;
//!
//! let f = frame::decode_text(br#"["1","2","room:lobby","new_msg",{"body":"hi"}]"#, Vsn::V2)?;
//! assert_eq!(f.topic, "room:lobby");
//! assert_eq!(f.ref_, Ref::from("2"));
//! let Payload::Json(body) = f.payload else { unreachable!() };
//! assert_eq!(body.get("body").unwrap().raw(), r#""hi""#);
//!
//! let mut out = Vec::new();
//! f.encode_text(Vsn::V2, &mut out)?;
//! assert_eq!(out, br#"["1","2","room:lobby","new_msg",{"body":"hi"}]"#);
//! # Ok::<(), phoenix_wire::Error>(())
//! ```

mod binary;
#[cfg(feature = "bytes")]
mod owned;
mod text;

pub use binary::decode_binary;
#[cfg(feature = "bytes")]
pub use owned::OwnedFrame;
pub use text::{decode_text, decode_text_str, decode_text_str_into};

use crate::error::{Error, ErrorKind, Result};
use crate::json::{self, JsonStr, RawJson};

/// The serializer version a socket negotiated with its `vsn` query parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Vsn {
    /// `vsn=1.x` or no `vsn`: JSON objects.
    V1,
    /// `vsn=2.x`: JSON arrays in text frames, binary frames for raw payloads.
    V2,
}

impl Vsn {
    /// The version named by a `vsn` query value ("2.0.0" → `V2`), by its
    /// major number; `None` for versions this crate does not speak.
    ///
    /// ```
    /// use phoenix_wire::Vsn;
    /// assert_eq!(Vsn::from_query("2.0.0"), Some(Vsn::V2));
    /// assert_eq!(Vsn::from_query("1.0.0"), Some(Vsn::V1));
    /// assert_eq!(Vsn::from_query("9.0.0"), None);
    /// ```
    pub fn from_query(vsn: &str) -> Option<Vsn> {
        match vsn.split('.').next()? {
            "1" => Some(Vsn::V1),
            "2" => Some(Vsn::V2),
            _ => None,
        }
    }
}

/// Which way a binary frame travels; kind 0 has a different layout each way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Client (device, browser) to server.
    ToServer,
    /// Server to client.
    ToClient,
}

/// A message reference (`ref` or `join_ref`): Phoenix echoes it as sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ref<'a> {
    /// `null`, or an empty ref in a binary frame.
    Null,
    /// A string ref (the JS client's kind).
    Str(JsonStr<'a>),
    /// An integer ref (microcontroller clients send `"ref": 0`).
    Int(i64),
}

impl Ref<'_> {
    /// Whether this is [`Ref::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Ref::Null)
    }
}

impl<'a> From<&'a str> for Ref<'a> {
    fn from(s: &'a str) -> Self {
        Ref::Str(JsonStr::new(s))
    }
}

impl From<i64> for Ref<'_> {
    fn from(v: i64) -> Self {
        Ref::Int(v)
    }
}

impl<'a, T: Into<Ref<'a>>> From<Option<T>> for Ref<'a> {
    fn from(v: Option<T>) -> Self {
        v.map_or(Ref::Null, Into::into)
    }
}

/// What a frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload<'a> {
    /// A JSON value (text frames), validated.
    Json(RawJson<'a>),
    /// Raw bytes: the rest of a binary push (kind 0) or broadcast (kind 2).
    Binary(&'a [u8]),
    /// A binary reply (kind 1): the status and the raw response bytes.
    /// Encoded in a text frame, `response` must be JSON and is written as
    /// `{"response":…,"status":…}`.
    Reply {
        /// The reply status, e.g. `ok` or `error`.
        status: JsonStr<'a>,
        /// The response bytes.
        response: &'a [u8],
    },
}

/// One Phoenix Channels message, every part borrowed from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The ref of the join this message belongs to.
    pub join_ref: Ref<'a>,
    /// The message's own ref; replies carry the ref of what they answer.
    pub ref_: Ref<'a>,
    /// The topic, e.g. `room:lobby` or `phoenix`.
    pub topic: JsonStr<'a>,
    /// The event, e.g. `phx_join`, `heartbeat`, `new_msg`.
    pub event: JsonStr<'a>,
    /// The payload.
    pub payload: Payload<'a>,
}

/// The status and response of a `phx_reply` frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply<'a> {
    /// The status (`ok`, `error`, …); `None` when it is null, missing or not
    /// a string (the raw payload still has it).
    pub status: Option<JsonStr<'a>>,
    /// The response: JSON for text frames (`null` when missing), bytes for
    /// binary replies.
    pub response: Payload<'a>,
}

/// The event of reply frames.
pub const PHX_REPLY: &str = "phx_reply";

impl<'a> Frame<'a> {
    /// A frame with null refs, e.g. a broadcast.
    pub fn new(topic: &'a str, event: &'a str, payload: Payload<'a>) -> Frame<'a> {
        Frame {
            join_ref: Ref::Null,
            ref_: Ref::Null,
            topic: JsonStr::new(topic),
            event: JsonStr::new(event),
            payload,
        }
    }

    /// Whether this is a `phx_reply`.
    pub fn is_reply(&self) -> bool {
        self.event == PHX_REPLY
    }

    /// The status and response of a `phx_reply` frame.
    ///
    /// ```
    /// use phoenix_wire::{frame, Vsn};
    ///
    /// let f = frame::decode_text(
    ///     br#"[null,"2","phoenix","phx_reply",{"response":{},"status":"ok"}]"#, Vsn::V2)?;
    /// let reply = f.reply()?;
    /// assert_eq!(reply.status.unwrap(), "ok");
    /// # Ok::<(), phoenix_wire::Error>(())
    /// ```
    ///
    /// Errors: [`ErrorKind::NotAReply`] when the event is not `phx_reply`,
    /// [`ErrorKind::ExpectedObject`] when a JSON payload is not an object
    /// (offsets count from the payload's start).
    pub fn reply(&self) -> Result<Reply<'a>> {
        if !self.is_reply() {
            return Err(Error::new(ErrorKind::NotAReply, 0));
        }
        match self.payload {
            Payload::Reply { status, response } => Ok(Reply {
                status: Some(status),
                response: Payload::Binary(response),
            }),
            Payload::Json(p) => {
                let members = p.object().ok_or(Error::new(ErrorKind::ExpectedObject, 0))?;
                let mut reply = Reply {
                    status: None,
                    response: Payload::Json(json::NULL),
                };
                for (k, v) in members {
                    if k == "status" {
                        reply.status = v.as_string();
                    } else if k == "response" {
                        reply.response = Payload::Json(v);
                    }
                }
                Ok(reply)
            }
            Payload::Binary(_) => Err(Error::new(ErrorKind::ExpectedObject, 0)),
        }
    }

    /// Deserializes a JSON payload into `T`, borrowing from the input where
    /// `T` borrows.
    ///
    /// ```
    /// use phoenix_wire::{frame, Vsn};
    /// #[derive(serde::Deserialize)]
    /// struct Progress { value: u8 }
    ///
    /// let f = frame::decode_text(br#"["1","5","device","fwup_progress",{"value":42}]"#, Vsn::V2)?;
    /// assert_eq!(f.payload_as::<Progress>()?.value, 42);
    /// # Ok::<(), phoenix_wire::Error>(())
    /// ```
    #[cfg(feature = "serde")]
    pub fn payload_as<T: serde::Deserialize<'a>>(&self) -> Result<T> {
        match self.payload {
            Payload::Json(p) => p.deserialize(),
            _ => Err(Error::new(ErrorKind::PayloadMismatch, 0)),
        }
    }
}

/// Decoding settings; [`decode_text`] and [`decode_binary`] use the defaults.
///
/// ```
/// use phoenix_wire::{frame::Decoder, ErrorKind, Vsn};
///
/// let strict = Decoder::new().max_depth(2);
/// let err = strict.decode_text(br#"[null,null,"t","e",{"a":{"b":{}}}]"#, Vsn::V2).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::DepthLimitExceeded);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoder {
    max_depth: usize,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new()
    }
}

impl Decoder {
    /// Defaults: payload nesting up to [`json::DEFAULT_MAX_DEPTH`] levels.
    pub const fn new() -> Decoder {
        Decoder {
            max_depth: json::DEFAULT_MAX_DEPTH,
        }
    }

    /// Sets how deep a JSON payload may nest (capped at
    /// [`json::MAX_DEPTH_LIMIT`]).
    #[must_use]
    pub const fn max_depth(mut self, levels: usize) -> Decoder {
        self.max_depth = levels;
        self
    }

    /// Decodes a text frame; see [`decode_text`].
    pub fn decode_text<'a>(&self, bytes: &'a [u8], vsn: Vsn) -> Result<Frame<'a>> {
        text::decode(bytes, vsn, self.max_depth)
    }

    /// Decodes a text frame that is already a `str`; see [`decode_text_str`].
    pub fn decode_text_str<'a>(&self, text: &'a str, vsn: Vsn) -> Result<Frame<'a>> {
        text::decode_str(text, vsn, self.max_depth)
    }

    /// Decodes a binary frame; see [`decode_binary`].
    pub fn decode_binary<'a>(&self, bytes: &'a [u8], direction: Direction) -> Result<Frame<'a>> {
        binary::decode(bytes, direction)
    }
}
