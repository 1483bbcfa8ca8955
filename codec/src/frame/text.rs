//! Text frames: V1 JSON objects and V2 JSON arrays.

use core::mem::MaybeUninit;

use crate::error::{Error, ErrorKind, Field, Result};
use crate::frame::{Frame, Payload, Ref, Vsn};
use crate::json::{self, parse_i64, JsonStr, RawJson, Scanner};
use crate::sink::{InPlace, Sink};

/// Decodes a text frame (V1 object or V2 array, as negotiated), borrowing
/// every string and the payload from `bytes`.
///
/// Phoenix's rules apply: a V2 frame needs at least five elements (extras
/// are validated and ignored); a V1 frame needs `topic`, `event`, `payload`
/// and `ref` (null allowed), `join_ref` is optional, unknown keys are
/// ignored and a repeated envelope key is an error. Topic and event must be
/// strings; refs strings, integers or null. The payload is validated as
/// strict JSON nested at most [`json::DEFAULT_MAX_DEPTH`] deep; use
/// [`Decoder`](crate::frame::Decoder) for another limit.
///
/// ```
/// use phoenix_wire::{frame::{self, Ref}, Vsn};
///
/// let f = frame::decode_text(
///     br#"{"topic":"phoenix","event":"heartbeat","payload":{},"ref":0}"#, Vsn::V1)?;
/// assert_eq!((f.event, f.ref_), ("heartbeat".into(), Ref::Int(0)));
/// assert!(f.join_ref.is_null());
/// # Ok::<(), phoenix_wire::Error>(())
/// ```
pub fn decode_text(bytes: &[u8], vsn: Vsn) -> Result<Frame<'_>> {
    decode(bytes, vsn, json::DEFAULT_MAX_DEPTH)
}

/// [`decode_text`] for a frame that is already a `str`, as websocket
/// libraries hand over text frames: the same frame and errors, without
/// checking UTF-8 again.
///
/// ```
/// use phoenix_wire::{frame, Vsn};
///
/// let f = frame::decode_text_str(r#"[null,"2","phoenix","heartbeat",{}]"#, Vsn::V2)?;
/// assert_eq!(f.event, "heartbeat");
/// # Ok::<(), phoenix_wire::Error>(())
/// ```
// Inlinable across crates, as `decode_text_str_into` is.
#[inline]
pub fn decode_text_str(text: &str, vsn: Vsn) -> Result<Frame<'_>> {
    decode_str(text, vsn, json::DEFAULT_MAX_DEPTH)
}

/// Checks UTF-8, then reads the frame.
#[inline]
pub(crate) fn decode(bytes: &[u8], vsn: Vsn, max_depth: usize) -> Result<Frame<'_>> {
    decode_str(crate::utf8::to_str(bytes)?, vsn, max_depth)
}

// Inlined into every entry point so the frame is built in the caller's
// slot and the reader's cursor stays in a register.
#[inline]
pub(crate) fn decode_str(text: &str, vsn: Vsn, max_depth: usize) -> Result<Frame<'_>> {
    let mut r = Reader::new(text, max_depth);
    // Each reader checks that nothing but whitespace follows the frame
    // before building it, so the frame is built once, in the return slot.
    match vsn {
        Vsn::V1 => r.v1(),
        Vsn::V2 => r.v2(|f| f),
    }
}

/// [`decode_text_str`] writing the frame into `out`, memory the caller
/// keeps it in (a Python object, say); on an error `out` is left as it
/// was. A V2 frame's fields are stored there directly: returned, the frame
/// is assembled in a return slot and then copied, by loads wider than the
/// stores that just wrote it, which the CPU cannot forward (a tenth of
/// decoding a heartbeat from Python).
///
/// ```
/// use core::mem::MaybeUninit;
/// use phoenix_wire::{frame, Vsn};
///
/// let mut slot = MaybeUninit::uninit();
/// frame::decode_text_str_into(r#"[null,"2","phoenix","heartbeat",{}]"#, Vsn::V2, &mut slot)?;
/// // SAFETY: `decode_text_str_into` returned Ok, so it wrote the frame.
/// let f = unsafe { slot.assume_init() };
/// assert_eq!(f.topic, "phoenix");
/// # Ok::<(), phoenix_wire::Error>(())
/// ```
#[inline]
pub fn decode_text_str_into<'a>(
    text: &'a str,
    vsn: Vsn,
    out: &mut MaybeUninit<Frame<'a>>,
) -> Result<()> {
    let mut r = Reader::new(text, json::DEFAULT_MAX_DEPTH);
    match vsn {
        Vsn::V1 => {
            out.write(r.v1()?);
        }
        Vsn::V2 => r.v2(|f| {
            out.write(f);
        })?,
    }
    Ok(())
}

struct Reader<'a> {
    s: Scanner<'a>,
    text: &'a str,
    max_depth: usize,
}

impl<'a> Reader<'a> {
    #[inline(always)]
    fn new(text: &'a str, max_depth: usize) -> Reader<'a> {
        Reader {
            s: Scanner::new(text.as_bytes(), 0),
            text,
            max_depth,
        }
    }

    #[inline(always)]
    fn slice(&self, start: usize, end: usize) -> &'a str {
        // Two one-sided slicings inline to a few compares; `get(start..end)`
        // stays an out-of-line call.
        let tail = self.text.get(start..).unwrap_or("");
        tail.get(..end.saturating_sub(start)).unwrap_or("")
    }

    /// The next value must be of another type than found: report the syntax
    /// error if it is not JSON at all, else the type error.
    #[cold]
    fn wrong_type<T>(&mut self, field: Field) -> Result<T> {
        let at = self.s.pos;
        self.s.value(self.max_depth)?;
        Err(Error::new(ErrorKind::InvalidType(field), at))
    }

    #[inline(always)]
    fn string(&mut self, field: Field) -> Result<JsonStr<'a>> {
        match self.s.peek_non_ws() {
            Some(b'"') => {
                let (start, end, escaped) = self.s.string()?;
                Ok(JsonStr::from_raw(self.slice(start, end), escaped))
            }
            _ => self.wrong_type(field),
        }
    }

    #[inline(always)]
    fn reference(&mut self, field: Field) -> Result<Ref<'a>> {
        match self.s.peek_non_ws() {
            Some(b'"') => {
                let (start, end, escaped) = self.s.string()?;
                Ok(Ref::Str(JsonStr::from_raw(self.slice(start, end), escaped)))
            }
            Some(b'n') => {
                self.s.literal(b"null")?;
                Ok(Ref::Null)
            }
            Some(b'-' | b'0'..=b'9') => {
                let start = self.s.pos;
                let integer = self.s.number()?;
                match parse_i64(self.slice(start, self.s.pos)) {
                    Some(v) if integer => Ok(Ref::Int(v)),
                    _ => Err(Error::new(ErrorKind::InvalidType(field), start)),
                }
            }
            _ => self.wrong_type(field),
        }
    }

    #[inline(always)]
    fn payload(&mut self) -> Result<RawJson<'a>> {
        self.s.peek_non_ws();
        let start = self.s.pos;
        // `{}` is the payload of heartbeats, leaves and most join replies:
        // no need to set up the validator for it.
        if self.max_depth > 0 && self.s.bytes.get(start..start + 2) == Some(b"{}") {
            self.s.pos += 2;
            return Ok(RawJson::from_validated(self.slice(start, start + 2)));
        }
        self.s.value(self.max_depth)?;
        Ok(RawJson::from_validated(self.slice(start, self.s.pos)))
    }

    /// Consumes the `,` between the first five elements of a V2 array.
    #[inline(always)]
    fn separator(&mut self) -> Result<()> {
        match self.s.peek_non_ws() {
            Some(b',') => {
                self.s.pos += 1;
                Ok(())
            }
            Some(b']') => Err(Error::new(ErrorKind::TooFewElements, self.s.pos)),
            Some(_) => Err(Error::new(ErrorKind::ExpectedCommaOrEnd, self.s.pos)),
            None => Err(Error::new(ErrorKind::UnexpectedEof, self.s.pos)),
        }
    }

    /// The four elements before the payload, each with the `,` after it.
    #[inline(always)]
    fn head(&mut self) -> Result<(Ref<'a>, Ref<'a>, JsonStr<'a>, JsonStr<'a>)> {
        if self.s.peek_non_ws() == Some(b']') {
            return Err(Error::new(ErrorKind::TooFewElements, self.s.pos));
        }
        let join_ref = self.reference(Field::JoinRef)?;
        self.separator()?;
        let ref_ = self.reference(Field::Ref)?;
        self.separator()?;
        let topic = self.string(Field::Topic)?;
        self.separator()?;
        let event = self.string(Field::Event)?;
        self.separator()?;
        Ok((join_ref, ref_, topic, event))
    }

    /// [`head`](Self::head) for what the JS client and Phoenix send: no
    /// whitespace, refs strings or null. Skips the general path's
    /// per-element dispatch; `None` on anything else, and the caller then
    /// reads the elements with `head` from the same position (reporting
    /// whatever error it always has).
    #[inline(always)]
    fn compact_head(&mut self) -> Option<(Ref<'a>, Ref<'a>, JsonStr<'a>, JsonStr<'a>)> {
        let join_ref = self.compact_ref()?;
        let ref_ = self.compact_ref()?;
        let topic = self.compact_str()?;
        let event = self.compact_str()?;
        Some((join_ref, ref_, topic, event))
    }

    /// A string right at the cursor, then `,`.
    #[inline(always)]
    fn compact_str(&mut self) -> Option<JsonStr<'a>> {
        if self.s.bytes.get(self.s.pos) != Some(&b'"') {
            return None;
        }
        let (start, end, escaped) = self.s.string().ok()?;
        if self.s.bytes.get(self.s.pos) != Some(&b',') {
            return None;
        }
        self.s.pos += 1;
        Some(JsonStr::from_raw(self.slice(start, end), escaped))
    }

    /// A string or `null` right at the cursor, then `,`.
    #[inline(always)]
    fn compact_ref(&mut self) -> Option<Ref<'a>> {
        let at = self.s.pos;
        match self.s.bytes.get(at) {
            Some(b'"') => self.compact_str().map(Ref::Str),
            Some(b'n') if self.s.bytes.get(at..at + 5) == Some(b"null,") => {
                self.s.pos = at + 5;
                Some(Ref::Null)
            }
            _ => None,
        }
    }

    /// Reads a V2 frame and hands it to `take` (which returns it, or
    /// stores it where the caller wants it).
    #[inline(always)]
    fn v2<R>(&mut self, take: impl FnOnce(Frame<'a>) -> R) -> Result<R> {
        match self.s.peek_non_ws() {
            Some(b'[') => self.s.pos += 1,
            Some(_) => return Err(Error::new(ErrorKind::ExpectedArray, self.s.pos)),
            None => return Err(Error::new(ErrorKind::UnexpectedEof, self.s.pos)),
        }
        let start = self.s.pos;
        let (join_ref, ref_, topic, event) = match self.compact_head() {
            Some(head) => head,
            None => {
                self.s.pos = start;
                self.head()?
            }
        };
        let payload = self.payload()?;
        // Phoenix ignores elements past the fifth; they must still be JSON.
        loop {
            match self.s.peek_non_ws() {
                Some(b']') => {
                    self.s.pos += 1;
                    break;
                }
                Some(b',') => {
                    self.s.pos += 1;
                    self.s.value(self.max_depth)?;
                }
                Some(_) => return Err(Error::new(ErrorKind::ExpectedCommaOrEnd, self.s.pos)),
                None => return Err(Error::new(ErrorKind::UnexpectedEof, self.s.pos)),
            }
        }
        self.s.finish()?;
        Ok(take(Frame {
            join_ref,
            ref_,
            topic,
            event,
            payload: Payload::Json(payload),
        }))
    }

    fn v1(&mut self) -> Result<Frame<'a>> {
        match self.s.peek_non_ws() {
            Some(b'{') => self.s.pos += 1,
            Some(_) => return Err(Error::new(ErrorKind::ExpectedObject, self.s.pos)),
            None => return Err(Error::new(ErrorKind::UnexpectedEof, self.s.pos)),
        }
        let mut join_ref = None;
        let mut ref_ = None;
        let mut topic = None;
        let mut event = None;
        let mut payload = None;
        let mut first = true;
        let close = loop {
            match self.s.peek_non_ws() {
                Some(b'}') => break self.s.pos,
                Some(b',') if !first => self.s.pos += 1,
                Some(_) if first => {}
                Some(_) => return Err(Error::new(ErrorKind::ExpectedCommaOrEnd, self.s.pos)),
                None => return Err(Error::new(ErrorKind::UnexpectedEof, self.s.pos)),
            }
            first = false;
            self.s.peek_non_ws();
            let key_at = self.s.pos;
            let (start, end, escaped) = self.s.key()?;
            let key = JsonStr::from_raw(self.slice(start, end), escaped);
            let Some(field) = envelope_field(key) else {
                self.s.value(self.max_depth)?;
                continue;
            };
            let seen = match field {
                Field::JoinRef => set(&mut join_ref, self.reference(field)?),
                Field::Ref => set(&mut ref_, self.reference(field)?),
                Field::Topic => set(&mut topic, self.string(field)?),
                Field::Event => set(&mut event, self.string(field)?),
                _ => set(&mut payload, self.payload()?),
            };
            if seen {
                return Err(Error::new(ErrorKind::DuplicateField(field), key_at));
            }
        };
        self.s.pos += 1;
        let missing = |f| Error::new(ErrorKind::MissingField(f), close);
        let topic = topic.ok_or(missing(Field::Topic))?;
        let event = event.ok_or(missing(Field::Event))?;
        let payload = payload.ok_or(missing(Field::Payload))?;
        let ref_ = ref_.ok_or(missing(Field::Ref))?;
        self.s.finish()?;
        Ok(Frame {
            topic,
            event,
            payload: Payload::Json(payload),
            ref_,
            join_ref: join_ref.unwrap_or(Ref::Null),
        })
    }
}

/// Stores `v`; returns whether a value was there already.
#[inline]
fn set<T>(slot: &mut Option<T>, v: T) -> bool {
    slot.replace(v).is_some()
}

#[inline]
fn envelope_field(key: JsonStr<'_>) -> Option<Field> {
    const FIELDS: [(&str, Field); 5] = [
        ("topic", Field::Topic),
        ("event", Field::Event),
        ("payload", Field::Payload),
        ("ref", Field::Ref),
        ("join_ref", Field::JoinRef),
    ];
    FIELDS
        .iter()
        .find(|(name, _)| key == *name)
        .map(|(_, f)| *f)
}

// ----- encoding -----

/// Checks that a payload can go into a text frame, before anything is written.
fn check_payload(payload: &Payload<'_>) -> Result<()> {
    match payload {
        Payload::Json(_) => Ok(()),
        // The `{"response":…}` wrapper adds a level: one less keeps the
        // frame decodable with the default limit.
        Payload::Reply { response, .. } => json::validate(response, json::DEFAULT_MAX_DEPTH - 1),
        Payload::Binary(_) => Err(Error::new(ErrorKind::PayloadMismatch, 0)),
    }
}

/// Writes a checked payload.
fn write_payload<S: Sink + ?Sized>(out: &mut S, payload: &Payload<'_>) -> Result<()> {
    match *payload {
        Payload::Json(p) => out.put(p.raw().as_bytes()),
        Payload::Reply { status, response } => {
            out.put(b"{\"response\":")?;
            out.put(trim_ws(response))?;
            out.put(b",\"status\":")?;
            json::write_json_str(out, status)?;
            out.put_u8(b'}')
        }
        Payload::Binary(_) => Err(Error::new(ErrorKind::PayloadMismatch, 0)),
    }
}

fn trim_ws(b: &[u8]) -> &[u8] {
    let is_ws = |c: &u8| matches!(c, b' ' | b'\n' | b'\r' | b'\t');
    let start = b.iter().position(|c| !is_ws(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !is_ws(c)).map_or(start, |i| i + 1);
    b.get(start..end).unwrap_or(&[])
}

/// Writes a V2 frame with a raw JSON payload.
///
/// When no header string needs escapes (always so for strings read from
/// JSON), the frame's length is known up front: envelope, payload and `]`
/// are written in place in one [`Sink::put_in_place`]. Otherwise, or when the sink has no contiguous room, the frame goes
/// in piece by piece. A full sink may be left holding part of the frame.
#[inline(always)]
fn write_v2_json<S: Sink + ?Sized>(f: &Frame<'_>, payload: &[u8], out: &mut S) -> Result<()> {
    if let Some(head) = clean_head_len(f) {
        let fill = &mut |room: &mut InPlace<'_>| put_frame(room, f, payload);
        if out.put_in_place(head + payload.len() + 1, fill)? {
            return Ok(());
        }
    }
    write_v2_json_by_pieces(f, payload, out)
}

/// [`write_v2_json`] one piece at a time, escaping the envelope's strings
/// as needed. Out of line: keeping it away from the in-place path keeps
/// that path's registers free (fewer spills, a shorter prologue).
#[inline(never)]
#[cold]
fn write_v2_json_by_pieces<S: Sink + ?Sized>(
    f: &Frame<'_>,
    payload: &[u8],
    out: &mut S,
) -> Result<()> {
    write_v2_head::<_, false>(out, f)?;
    out.put(payload)?;
    out.put_u8(b']')
}

/// The length of `[join_ref,ref,topic,event,` of a V2 frame, or `None`
/// when a string in it needs escapes. Then [`put_head`] can write it.
#[inline(always)]
fn clean_head_len(f: &Frame<'_>) -> Option<usize> {
    let strings = clean_len(f.topic)? + clean_len(f.event)?;
    Some(ref_len(f.join_ref)? + ref_len(f.ref_)? + strings + 5)
}

/// The length of `s` quoted, when it needs no escapes.
#[inline(always)]
fn clean_len(s: JsonStr<'_>) -> Option<usize> {
    Some(json::clean_text(s)?.len() + 2)
}

#[inline(always)]
fn ref_len(r: Ref<'_>) -> Option<usize> {
    match r {
        Ref::Null => Some(4),
        Ref::Int(v) => Some(json::decimal_len(v)),
        Ref::Str(s) => clean_len(s),
    }
}

/// Writes a whole V2 frame with a raw payload, measured by
/// [`clean_head_len`]. For the usual pairs of refs (what clients and
/// Phoenix send) the frame goes in as two [`InPlace::put_all`]s, the refs
/// and then the rest: a constant piece is then a store or two and only
/// the strings and the payload vary. Other frames go piece by piece.
#[inline(always)]
fn put_frame(room: &mut InPlace<'_>, f: &Frame<'_>, payload: &[u8]) {
    match (f.join_ref, f.ref_) {
        (Ref::Null, Ref::Str(r)) => room.put_all([b"[null,\"", r.raw().as_bytes(), b"\",\""]),
        (Ref::Str(j), Ref::Str(r)) => {
            room.put_all([
                b"[\"",
                j.raw().as_bytes(),
                b"\",\"",
                r.raw().as_bytes(),
                b"\",\"",
            ]);
        }
        (Ref::Null, Ref::Null) => room.put(b"[null,null,\""),
        _ => {
            put_head(room, f);
            room.put(payload);
            room.put_u8(b']');
            return;
        }
    }
    let (topic, event) = (f.topic.raw().as_bytes(), f.event.raw().as_bytes());
    room.put_all([topic, b"\",\"", event, b"\",", payload, b"]"]);
}

/// Writes `[join_ref,ref,topic,event,` of a frame that [`clean_head_len`]
/// measured: its strings go in as they are.
#[inline(always)]
fn put_head(room: &mut InPlace<'_>, f: &Frame<'_>) {
    // Each constant piece carries the punctuation around it (`[null,`,
    // `","`): ten writes for a heartbeat or a push instead of thirteen.
    match f.join_ref {
        Ref::Null => room.put(b"[null,"),
        Ref::Str(s) => put_quoted(room, b"[\"", s, b"\","),
        Ref::Int(v) => {
            room.put_u8(b'[');
            put_int(room, v);
            room.put_u8(b',');
        }
    }
    match f.ref_ {
        Ref::Null => room.put(b"null,\""),
        Ref::Str(s) => put_quoted(room, b"\"", s, b"\",\""),
        Ref::Int(v) => {
            put_int(room, v);
            room.put(b",\"");
        }
    }
    room.put(f.topic.raw().as_bytes());
    room.put(b"\",\"");
    room.put(f.event.raw().as_bytes());
    room.put(b"\",");
}

/// Writes `open`, the text of `s` as it is, then `close`.
#[inline(always)]
fn put_quoted(room: &mut InPlace<'_>, open: &[u8], s: JsonStr<'_>, close: &[u8]) {
    room.put(open);
    room.put(s.raw().as_bytes());
    room.put(close);
}

/// Writes `v` in decimal.
#[inline(always)]
fn put_int(room: &mut InPlace<'_>, v: i64) {
    let mut digits = [0u8; 20];
    let len = json::decimal_len(v);
    if let Some(dst) = digits.get_mut(..len) {
        json::write_decimal(dst, v);
        room.put(dst);
    }
}

/// Writes a quoted string whose text needs no escape: read from JSON, or a
/// Rust string without `"`, `\` or control characters. Fails on any other,
/// for the caller to take the escaping path.
#[inline(always)]
fn put_clean_str<S: Sink + ?Sized>(out: &mut S, s: JsonStr<'_>) -> Result<()> {
    let text = json::clean_text(s).ok_or(Error::new(ErrorKind::InvalidEscape, 0))?;
    out.put_u8(b'"')?;
    out.put(text.as_bytes())?;
    out.put_u8(b'"')
}

/// Writes a string of the envelope: copied as is when `CLEAN` (failing if it
/// needs escapes), escaped as needed otherwise.
#[inline(always)]
fn write_head_str<S, const CLEAN: bool>(out: &mut S, s: JsonStr<'_>) -> Result<()>
where
    S: Sink + ?Sized,
{
    if CLEAN {
        put_clean_str(out, s)
    } else {
        json::write_json_str(out, s)
    }
}

#[inline(always)]
fn write_ref<S, const CLEAN: bool>(out: &mut S, r: Ref<'_>) -> Result<()>
where
    S: Sink + ?Sized,
{
    match r {
        Ref::Null => out.put(b"null"),
        Ref::Str(s) => write_head_str::<S, CLEAN>(out, s),
        Ref::Int(v) => json::write_i64(out, v),
    }
}

/// Writes `[join_ref,ref,topic,event,` of a V2 frame; see
/// [`write_head_str`] for `CLEAN`.
#[inline(always)]
fn write_v2_head<S, const CLEAN: bool>(out: &mut S, f: &Frame<'_>) -> Result<()>
where
    S: Sink + ?Sized,
{
    out.put_u8(b'[')?;
    write_ref::<S, CLEAN>(out, f.join_ref)?;
    out.put_u8(b',')?;
    write_ref::<S, CLEAN>(out, f.ref_)?;
    out.put_u8(b',')?;
    write_head_str::<S, CLEAN>(out, f.topic)?;
    out.put_u8(b',')?;
    write_head_str::<S, CLEAN>(out, f.event)?;
    out.put_u8(b',')
}

/// Writes the envelope of `f` with `payload` writing the payload in place.
pub(crate) fn write_text<S, P>(f: &Frame<'_>, vsn: Vsn, out: &mut S, payload: P) -> Result<()>
where
    S: Sink + ?Sized,
    P: FnOnce(&mut S) -> Result<()>,
{
    match vsn {
        Vsn::V2 => {
            // The envelope is short: assembled on the stack, it reaches the
            // sink in one piece instead of ten. Longer ones go straight in.
            match clean_head_len(f) {
                Some(len) => {
                    if !out.put_in_place(len, &mut |room| put_head(room, f))? {
                        write_v2_head::<_, true>(out, f)?;
                    }
                }
                None => write_v2_head::<_, false>(out, f)?,
            }
            payload(out)?;
            out.put_u8(b']')
        }
        // Keys in Jason's (sorted) order; Phoenix never writes join_ref, so a
        // null one is left out and the output matches Phoenix byte for byte.
        Vsn::V1 => {
            out.put(b"{\"event\":")?;
            json::write_json_str(out, f.event)?;
            if !f.join_ref.is_null() {
                out.put(b",\"join_ref\":")?;
                write_ref::<_, false>(out, f.join_ref)?;
            }
            out.put(b",\"payload\":")?;
            payload(out)?;
            out.put(b",\"ref\":")?;
            write_ref::<_, false>(out, f.ref_)?;
            out.put(b",\"topic\":")?;
            json::write_json_str(out, f.topic)?;
            out.put_u8(b'}')
        }
    }
}

impl Frame<'_> {
    /// Writes the frame as a text frame of `vsn` into `out`.
    ///
    /// The output matches Phoenix's serializers byte for byte: V2 as
    /// `[join_ref,ref,topic,event,payload]`, V1 with keys in the order
    /// `event, payload, ref, topic` (plus `join_ref` when it is not null),
    /// replies as `{"response":…,"status":…}`. A [`Payload::Binary`] cannot
    /// be written as text ([`ErrorKind::PayloadMismatch`]); the response of
    /// a [`Payload::Reply`] must be JSON. Nothing is written when the
    /// payload is refused; on a full sink, part of the frame may be.
    ///
    /// ```
    /// use phoenix_wire::frame::{Frame, Payload};
    /// use phoenix_wire::json::RawJson;
    /// use phoenix_wire::Vsn;
    ///
    /// let f = Frame::new("t", "e", Payload::Json(RawJson::new(r#"{"m":1}"#)?));
    /// let mut out = Vec::new();
    /// f.encode_text(Vsn::V2, &mut out)?;
    /// assert_eq!(out, br#"[null,null,"t","e",{"m":1}]"#);
    /// out.clear();
    /// f.encode_text(Vsn::V1, &mut out)?;
    /// assert_eq!(out, br#"{"event":"e","payload":{"m":1},"ref":null,"topic":"t"}"#);
    /// # Ok::<(), phoenix_wire::Error>(())
    /// ```
    pub fn encode_text<S: Sink + ?Sized>(&self, vsn: Vsn, out: &mut S) -> Result<()> {
        if let (Vsn::V2, Payload::Json(p)) = (vsn, self.payload) {
            return write_v2_json(self, p.raw().as_bytes(), out);
        }
        check_payload(&self.payload)?;
        write_text(self, vsn, out, |out| write_payload(out, &self.payload))
    }

    /// Writes the frame as a text frame of `vsn`, with the payload written
    /// by `payload` straight into `out`, in place of `self.payload` (which
    /// is ignored): for a JSON writer of your own, with no copy of its
    /// output. What `payload` writes is not checked and must be exactly one
    /// JSON value; an error it returns stops the frame there, leaving what
    /// was written so far in `out`.
    ///
    /// ```
    /// use phoenix_wire::frame::{Frame, Payload};
    /// use phoenix_wire::json::RawJson;
    /// use phoenix_wire::{Sink, Vsn};
    ///
    /// let f = Frame::new("device", "fwup_progress", Payload::Json(RawJson::EMPTY_OBJECT));
    /// let mut out = Vec::new();
    /// f.encode_text_raw_with(Vsn::V2, &mut out, |out| out.put(br#"{"value":42}"#))?;
    /// assert_eq!(out, br#"[null,null,"device","fwup_progress",{"value":42}]"#);
    /// # Ok::<(), phoenix_wire::Error>(())
    /// ```
    pub fn encode_text_raw_with<S, P>(&self, vsn: Vsn, out: &mut S, payload: P) -> Result<()>
    where
        S: Sink + ?Sized,
        P: FnOnce(&mut S) -> Result<()>,
    {
        write_text(self, vsn, out, payload)
    }

    /// Writes the frame as a text frame of `vsn`, with `payload` serialized
    /// as JSON in place of `self.payload` (which is ignored).
    ///
    /// ```
    /// use phoenix_wire::frame::{Frame, Payload};
    /// use phoenix_wire::json::RawJson;
    /// use phoenix_wire::Vsn;
    ///
    /// #[derive(serde::Serialize)]
    /// struct Progress { value: u8 }
    ///
    /// let f = Frame::new("device", "fwup_progress", Payload::Json(RawJson::EMPTY_OBJECT));
    /// let mut out = Vec::new();
    /// f.encode_text_with(&Progress { value: 42 }, Vsn::V2, &mut out)?;
    /// assert_eq!(out, br#"[null,null,"device","fwup_progress",{"value":42}]"#);
    /// # Ok::<(), phoenix_wire::Error>(())
    /// ```
    #[cfg(feature = "serde")]
    pub fn encode_text_with<T, S>(&self, payload: &T, vsn: Vsn, out: &mut S) -> Result<()>
    where
        T: serde::Serialize + ?Sized,
        S: Sink + ?Sized,
    {
        write_text(self, vsn, out, |out| json::write_serialize(out, payload))
    }
}
