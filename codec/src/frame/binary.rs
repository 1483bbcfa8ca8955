//! V2 binary frames (Phoenix ≥ 1.6): a kind byte, one-byte lengths, the
//! header strings, then the raw payload up to the end of the frame.
//!
//! | kind | direction | header |
//! |---|---|---|
//! | 0 push | to server | `jrLen refLen topicLen eventLen` |
//! | 0 push | to client | `jrLen topicLen eventLen` (no ref) |
//! | 1 reply | to client | `jrLen refLen topicLen statusLen` |
//! | 2 broadcast | to client | `topicLen eventLen` |

use crate::error::{Error, ErrorKind, Field, Result};
use crate::frame::{Direction, Frame, Payload, Ref, PHX_REPLY};
use crate::json::{Digits, JsonStr};
use crate::sink::Sink;

const PUSH: u8 = 0;
const REPLY: u8 = 1;
const BROADCAST: u8 = 2;

/// Decodes a V2 binary frame travelling in `direction`, borrowing from `bytes`.
///
/// Kind 0 is read with the layout of its direction; kinds 1 (reply) and
/// 2 (broadcast) only travel to clients, so a server ([`Direction::ToServer`])
/// accepts kind 0 alone. Empty refs read as [`Ref::Null`]. Header strings
/// must be UTF-8. A reply has event `phx_reply` and a [`Payload::Reply`].
///
/// ```
/// use phoenix_wire::frame::{self, Direction, Payload};
///
/// let bytes = b"\x02\x05\x05topiceventefg";
/// let f = frame::decode_binary(bytes, Direction::ToClient)?;
/// assert_eq!((f.topic, f.event), ("topic".into(), "event".into()));
/// assert_eq!(f.payload, Payload::Binary(b"efg"));
/// # Ok::<(), phoenix_wire::Error>(())
/// ```
pub fn decode_binary(bytes: &[u8], direction: Direction) -> Result<Frame<'_>> {
    decode(bytes, direction)
}

pub(crate) fn decode(bytes: &[u8], direction: Direction) -> Result<Frame<'_>> {
    let Some(&kind) = bytes.first() else {
        return Err(Error::new(ErrorKind::UnexpectedEof, 0));
    };
    let mut r = Reader { bytes, pos: 0 };
    match (kind, direction) {
        (PUSH, Direction::ToServer) => {
            let [jr, rf, topic, event] = r.header()?;
            Ok(Frame {
                join_ref: reference(jr),
                ref_: reference(rf),
                topic: JsonStr::new(topic),
                event: JsonStr::new(event),
                payload: Payload::Binary(r.rest()),
            })
        }
        (PUSH, Direction::ToClient) => {
            let [jr, topic, event] = r.header()?;
            Ok(Frame {
                join_ref: reference(jr),
                ref_: Ref::Null,
                topic: JsonStr::new(topic),
                event: JsonStr::new(event),
                payload: Payload::Binary(r.rest()),
            })
        }
        (REPLY, Direction::ToClient) => {
            let [jr, rf, topic, status] = r.header()?;
            Ok(Frame {
                join_ref: reference(jr),
                ref_: reference(rf),
                topic: JsonStr::new(topic),
                event: JsonStr::new(PHX_REPLY),
                payload: Payload::Reply {
                    status: JsonStr::new(status),
                    response: r.rest(),
                },
            })
        }
        (BROADCAST, Direction::ToClient) => {
            let [topic, event] = r.header()?;
            Ok(Frame {
                join_ref: Ref::Null,
                ref_: Ref::Null,
                topic: JsonStr::new(topic),
                event: JsonStr::new(event),
                payload: Payload::Binary(r.rest()),
            })
        }
        (k, _) => Err(Error::new(ErrorKind::UnknownKind(k), 0)),
    }
}

/// An empty ref in a binary header is a null one.
#[inline]
fn reference(s: &str) -> Ref<'_> {
    if s.is_empty() {
        Ref::Null
    } else {
        Ref::Str(JsonStr::new(s))
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Reads the `N` length bytes after the kind byte.
    #[inline]
    fn lengths<const N: usize>(&mut self) -> Result<[usize; N]> {
        let Some(lens) = self.bytes.get(1..1 + N) else {
            return Err(Error::new(ErrorKind::UnexpectedEof, self.bytes.len()));
        };
        let mut out = [0; N];
        for (o, l) in out.iter_mut().zip(lens) {
            *o = *l as usize;
        }
        self.pos = 1 + N;
        Ok(out)
    }

    /// Reads the `N` header lengths and the `N` strings after them.
    ///
    /// The strings are contiguous, so one UTF-8 check covers them all; when
    /// anything is off they are read one by one, which finds the same first
    /// error the frame has always reported (a truncated or non-UTF-8 string,
    /// in header order).
    #[inline]
    fn header<const N: usize>(&mut self) -> Result<[&'a str; N]> {
        let lens = self.lengths::<N>()?;
        let total: usize = lens.iter().sum();
        let start = self.pos;
        if let Some(Ok(text)) = self
            .bytes
            .get(start..start + total)
            .map(core::str::from_utf8)
        {
            let mut out = [""; N];
            let mut at = 0;
            let mut whole = true;
            for (o, &len) in out.iter_mut().zip(&lens) {
                match text.get(at..).and_then(|t| t.get(..len)) {
                    Some(s) => *o = s,
                    None => whole = false,
                }
                at += len;
            }
            if whole {
                self.pos += total;
                return Ok(out);
            }
        }
        let mut out = [""; N];
        for (o, &len) in out.iter_mut().zip(&lens) {
            *o = self.string(len)?;
        }
        Ok(out)
    }

    fn string(&mut self, len: usize) -> Result<&'a str> {
        let start = self.pos;
        let Some(raw) = self.bytes.get(start..start + len) else {
            return Err(Error::new(ErrorKind::UnexpectedEof, self.bytes.len()));
        };
        self.pos += len;
        core::str::from_utf8(raw)
            .map_err(|e| Error::new(ErrorKind::InvalidUtf8, start + e.valid_up_to()))
    }

    #[inline]
    fn rest(&self) -> &'a [u8] {
        self.bytes.get(self.pos..).unwrap_or(&[])
    }
}

// ----- encoding -----

/// A header string as it goes on the wire: decoded, with its length checked.
enum Header<'a> {
    Str(JsonStr<'a>, u8),
    Int(Digits),
}

impl<'a> Header<'a> {
    fn str(s: JsonStr<'a>, field: Field) -> Result<Header<'a>> {
        let len = s.decoded_len();
        match u8::try_from(len) {
            Ok(n) => Ok(Header::Str(s, n)),
            Err(_) => Err(Error::new(ErrorKind::TooLong, field_index(field))),
        }
    }

    fn reference(r: Ref<'a>, field: Field) -> Result<Header<'a>> {
        match r {
            Ref::Null => Ok(Header::Str(JsonStr::new(""), 0)),
            Ref::Str(s) => Header::str(s, field),
            Ref::Int(v) => Ok(Header::Int(Digits::new(v))),
        }
    }

    fn len(&self) -> u8 {
        match self {
            Header::Str(_, n) => *n,
            // At most 20 digits and a sign.
            Header::Int(d) => d.as_bytes().len() as u8,
        }
    }

    fn write<S: Sink + ?Sized>(&self, out: &mut S) -> Result<()> {
        match self {
            Header::Str(s, _) => match s.as_str() {
                Some(raw) => out.put(raw.as_bytes()),
                None => {
                    let mut buf = [0u8; 4];
                    s.chars()
                        .try_for_each(|c| out.put(c.encode_utf8(&mut buf).as_bytes()))
                }
            },
            Header::Int(d) => out.put(d.as_bytes()),
        }
    }
}

/// The offset reported for a header string that is too long: the index of
/// its length byte in the header, so the caller can tell which one it was.
fn field_index(field: Field) -> usize {
    match field {
        Field::JoinRef => 1,
        Field::Ref => 2,
        Field::Topic => 3,
        _ => 4,
    }
}

fn write_frame<S: Sink + ?Sized>(
    out: &mut S,
    kind: u8,
    headers: &[Header<'_>],
    payload: &[u8],
) -> Result<()> {
    out.put_u8(kind)?;
    for h in headers {
        out.put_u8(h.len())?;
    }
    for h in headers {
        h.write(out)?;
    }
    out.put(payload)
}

impl Frame<'_> {
    /// Writes the frame as a V2 binary frame travelling in `direction`.
    ///
    /// To the server: a [`Payload::Binary`] push (kind 0, client layout).
    /// To a client: [`Payload::Reply`] → kind 1; [`Payload::Binary`] with
    /// null refs → kind 2 broadcast, else kind 0 (server layout, which has
    /// no ref: a non-null ref is an [`ErrorKind::InvalidType`] error rather
    /// than silently dropped). Integer refs are written as decimal text, null
    /// refs as empty strings. A header string over 255 bytes is
    /// [`ErrorKind::TooLong`] (offset: the index of its length byte). A JSON
    /// payload is [`ErrorKind::PayloadMismatch`]. Nothing is written on error
    /// unless the sink fills up.
    ///
    /// ```
    /// use phoenix_wire::frame::{Direction, Frame, Payload};
    ///
    /// let mut f = Frame::new("t", "e", Payload::Binary(&[1]));
    /// f.join_ref = "0".into();
    /// f.ref_ = "1".into();
    /// let mut out = Vec::new();
    /// f.encode_binary(Direction::ToServer, &mut out)?;
    /// assert_eq!(out, [0, 1, 1, 1, 1, b'0', b'1', b't', b'e', 1]);
    /// # Ok::<(), phoenix_wire::Error>(())
    /// ```
    pub fn encode_binary<S: Sink + ?Sized>(&self, direction: Direction, out: &mut S) -> Result<()> {
        let topic = Header::str(self.topic, Field::Topic)?;
        let jr = Header::reference(self.join_ref, Field::JoinRef)?;
        let rf = Header::reference(self.ref_, Field::Ref)?;
        match (self.payload, direction) {
            (Payload::Binary(p), Direction::ToServer) => {
                let event = Header::str(self.event, Field::Event)?;
                write_frame(out, PUSH, &[jr, rf, topic, event], p)
            }
            (Payload::Binary(p), Direction::ToClient)
                if self.join_ref.is_null() && self.ref_.is_null() =>
            {
                let event = Header::str(self.event, Field::Event)?;
                write_frame(out, BROADCAST, &[topic, event], p)
            }
            (Payload::Binary(p), Direction::ToClient) => {
                if !self.ref_.is_null() {
                    return Err(Error::new(ErrorKind::InvalidType(Field::Ref), 0));
                }
                let event = Header::str(self.event, Field::Event)?;
                write_frame(out, PUSH, &[jr, topic, event], p)
            }
            (Payload::Reply { status, response }, Direction::ToClient) => {
                let status = Header::str(status, Field::Status)?;
                write_frame(out, REPLY, &[jr, rf, topic, status], response)
            }
            _ => Err(Error::new(ErrorKind::PayloadMismatch, 0)),
        }
    }
}
