//! Frames that own their bytes (feature `bytes`): `Send`, `'static`, and
//! cheap to clone, for moving decoded frames between tasks.
//!
//! The frame is decoded once; afterwards only byte ranges into the shared
//! [`Bytes`] are kept, and [`OwnedFrame::frame`] rebuilds the borrowed view
//! from them without validating again.

// The one place in the crate that needs `unsafe`: turning the ranges back
// into `&str` without a second UTF-8 pass over a payload that may be large.
#![allow(unsafe_code)]

use core::ops::Range;

use bytes::Bytes;

use crate::error::Result;
use crate::frame::{Decoder, Direction, Frame, Payload, Ref, Vsn, PHX_REPLY};
use crate::json::{Form, JsonStr, RawJson};

/// A decoded frame that holds its input: a [`Bytes`] plus offsets.
///
/// ```
/// use bytes::Bytes;
/// use phoenix_wire::frame::OwnedFrame;
/// use phoenix_wire::Vsn;
///
/// let owned = OwnedFrame::decode_text(Bytes::from_static(br#"[null,"1","t","e",{"m":1}]"#), Vsn::V2)?;
/// let moved = std::thread::spawn(move || owned.frame().topic.to_string()).join().unwrap();
/// assert_eq!(moved, "t");
/// # Ok::<(), phoenix_wire::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct OwnedFrame {
    bytes: Bytes,
    slots: Slots,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Json,
    Binary,
    Reply,
}

/// Where one part of the frame lives.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Slot {
    None,
    Text { range: Range<usize>, form: Form },
    Int(i64),
    PhxReply,
}

impl OwnedFrame {
    /// Decodes a text frame; see [`decode_text`](crate::frame::decode_text).
    pub fn decode_text(bytes: Bytes, vsn: Vsn) -> Result<OwnedFrame> {
        let slots = Slots::of(&bytes, &Decoder::new().decode_text(&bytes, vsn)?);
        Ok(OwnedFrame { bytes, slots })
    }

    /// Decodes a binary frame; see [`decode_binary`](crate::frame::decode_binary).
    pub fn decode_binary(bytes: Bytes, direction: Direction) -> Result<OwnedFrame> {
        let slots = Slots::of(&bytes, &Decoder::new().decode_binary(&bytes, direction)?);
        Ok(OwnedFrame { bytes, slots })
    }

    /// The whole frame as received.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The payload bytes (raw JSON, binary payload or reply response),
    /// sharing the frame's buffer.
    pub fn payload_bytes(&self) -> Bytes {
        match &self.slots.payload {
            Slot::Text { range, .. } => self.bytes.slice(range.clone()),
            _ => Bytes::new(),
        }
    }

    /// The borrowed view of the frame.
    pub fn frame(&self) -> Frame<'_> {
        let s = &self.slots;
        let payload = match s.kind {
            Kind::Json => Payload::Json(RawJson::from_validated(self.text(&s.payload).raw())),
            Kind::Binary => Payload::Binary(self.raw(&s.payload)),
            Kind::Reply => Payload::Reply {
                status: self.text(&s.status),
                response: self.raw(&s.payload),
            },
        };
        Frame {
            join_ref: self.reference(&s.join_ref),
            ref_: self.reference(&s.ref_),
            topic: self.text(&s.topic),
            event: self.text(&s.event),
            payload,
        }
    }

    fn raw(&self, slot: &Slot) -> &[u8] {
        match slot {
            Slot::Text { range, .. } => self.bytes.get(range.clone()).unwrap_or(&[]),
            _ => &[],
        }
    }

    fn text(&self, slot: &Slot) -> JsonStr<'_> {
        match slot {
            Slot::Text { form, .. } => {
                // SAFETY: every `Slot::Text` range was taken from a `&str` that
                // the decoder validated as UTF-8, inside this same `Bytes`,
                // whose contents never change; so the bytes are UTF-8 and the
                // range lies on character boundaries.
                let s = unsafe { core::str::from_utf8_unchecked(self.raw(slot)) };
                JsonStr::from_form(s, *form)
            }
            Slot::PhxReply => JsonStr::new(PHX_REPLY),
            _ => JsonStr::new(""),
        }
    }

    fn reference(&self, slot: &Slot) -> Ref<'_> {
        match slot {
            Slot::None => Ref::Null,
            Slot::Int(v) => Ref::Int(*v),
            _ => Ref::Str(self.text(slot)),
        }
    }
}

/// Where each part of the frame lies in the `Bytes`, computed from the
/// borrowed frame before the `Bytes` moves into the [`OwnedFrame`].
#[derive(Clone, Debug)]
struct Slots {
    join_ref: Slot,
    ref_: Slot,
    topic: Slot,
    event: Slot,
    payload: Slot,
    status: Slot,
    kind: Kind,
}

impl Slots {
    fn of(base: &[u8], f: &Frame<'_>) -> Slots {
        let (kind, payload, status) = match f.payload {
            Payload::Json(p) => (
                Kind::Json,
                span(base, p.raw().as_bytes(), Form::Plain),
                Slot::None,
            ),
            Payload::Binary(b) => (Kind::Binary, span(base, b, Form::Plain), Slot::None),
            Payload::Reply { status, response } => (
                Kind::Reply,
                span(base, response, Form::Plain),
                text(base, status),
            ),
        };
        Slots {
            join_ref: reference(base, f.join_ref),
            ref_: reference(base, f.ref_),
            topic: text(base, f.topic),
            event: text(base, f.event),
            payload,
            status,
            kind,
        }
    }
}

/// The range of `part` inside `base`; the decoder only returns sub-slices of
/// its input, except for the constant `phx_reply` event of binary replies.
fn span(base: &[u8], part: &[u8], form: Form) -> Slot {
    let start = (part.as_ptr() as usize).wrapping_sub(base.as_ptr() as usize);
    if start <= base.len() && part.len() <= base.len() - start {
        Slot::Text {
            range: start..start + part.len(),
            form,
        }
    } else {
        Slot::PhxReply
    }
}

fn text(base: &[u8], s: JsonStr<'_>) -> Slot {
    span(base, s.raw().as_bytes(), s.form())
}

fn reference(base: &[u8], r: Ref<'_>) -> Slot {
    match r {
        Ref::Null => Slot::None,
        Ref::Int(v) => Slot::Int(v),
        Ref::Str(s) => text(base, s),
    }
}
