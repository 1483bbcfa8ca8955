//! An arbitrary frame → every encoder → the matching decoder → the same frame.
//!
//! Strings may hold any character (quotes, backslashes, control characters,
//! non-ASCII) and come plain, as serde_json escapes them, or with every
//! character written as `\uXXXX` (surrogate pairs included). Payloads are
//! arbitrary JSON values serialized by serde_json, raw binary, or replies.
//! Binary header strings over 255 bytes must be refused with `TooLong`.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use phoenix_wire::frame::{self, Direction, Frame, Payload, Ref};
use phoenix_wire::json::{JsonStr, RawJson};
use phoenix_wire::{ErrorKind, Sink, SliceSink, Vsn};
use serde_json::Value;

#[derive(Arbitrary, Debug)]
struct Input {
    join_ref: ArbRef,
    ref_: ArbRef,
    topic: ArbStr,
    event: ArbStr,
    payload: ArbPayload,
    /// Pads the headers past 255 bytes when set, so that TooLong is reached
    /// often without the fuzzer having to grow long strings itself.
    pad: Option<(u8, u16)>,
    /// Wraps a JSON payload or response in this many arrays (mod 132), to
    /// reach the depth limit of 128 and go past it.
    wrap: u8,
}

#[derive(Arbitrary, Debug)]
enum ArbRef {
    Null,
    Str(ArbStr),
    Int(i64),
}

#[derive(Arbitrary, Debug)]
struct ArbStr {
    value: String,
    form: Form,
}

/// How a string is held by its `JsonStr`.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Form {
    Plain,
    SerdeEscaped,
    AllUnicodeEscapes,
}

#[derive(Arbitrary, Debug)]
enum ArbPayload {
    Json {
        value: ArbJson,
        pretty: bool,
    },
    Binary(Vec<u8>),
    Reply {
        status: ArbStr,
        response: ArbResponse,
    },
}

#[derive(Arbitrary, Debug)]
enum ArbResponse {
    Json(ArbJson),
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum ArbJson {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(String),
    Array(Vec<ArbJson>),
    Object(Vec<(String, ArbJson)>),
}

/// Deep enough to matter, well inside the default limit of 128 (the reply
/// wrapper and the envelope add levels).
const MAX_NEST: usize = 100;

fn to_value(j: &ArbJson, depth: usize) -> Value {
    match j {
        ArbJson::Null => Value::Null,
        ArbJson::Bool(b) => Value::Bool(*b),
        ArbJson::Int(v) => Value::from(*v),
        ArbJson::Uint(v) => Value::from(*v),
        ArbJson::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        ArbJson::Str(s) => Value::String(s.clone()),
        _ if depth >= MAX_NEST => Value::Null,
        ArbJson::Array(a) => Value::Array(a.iter().map(|v| to_value(v, depth + 1)).collect()),
        ArbJson::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), to_value(v, depth + 1)))
                .collect(),
        ),
    }
}

/// How many containers nest in `v`.
fn depth(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn wrapped(v: Value, wrap: u8) -> Value {
    (0..wrap % 132).fold(v, |v, _| Value::Array(vec![v]))
}

/// The raw JSON string content (no quotes) of `s` in the given form.
fn raw_content(s: &str, form: Form) -> String {
    match form {
        Form::Plain => s.to_owned(),
        Form::SerdeEscaped => {
            let quoted = serde_json::to_string(s).unwrap();
            quoted[1..quoted.len() - 1].to_owned()
        }
        Form::AllUnicodeEscapes => {
            let mut out = String::new();
            for unit in s.encode_utf16() {
                out.push_str(&format!("\\u{unit:04x}"));
            }
            out
        }
    }
}

fn json_str<'a>(value: &'a str, raw: &'a str, form: Form) -> JsonStr<'a> {
    match form {
        Form::Plain => JsonStr::new(value),
        _ => {
            let s = JsonStr::from_json(raw).expect("serde_json's escapes are valid");
            assert_eq!(s, *value);
            s
        }
    }
}

/// Owned text behind every borrowed part of the frame.
struct Store {
    join_ref: Option<(String, String, Form)>,
    ref_: Option<(String, String, Form)>,
    topic: (String, String, Form),
    event: (String, String, Form),
    payload_text: String,
    binary: Vec<u8>,
    status: (String, String, Form),
}

fn stored(s: &ArbStr, pad: &str) -> (String, String, Form) {
    let value = format!("{}{pad}", s.value);
    let raw = raw_content(&value, s.form);
    (value, raw, s.form)
}

fn borrow(t: &(String, String, Form)) -> JsonStr<'_> {
    json_str(&t.0, &t.1, t.2)
}

fn borrow_ref<'a>(r: &'a ArbRef, s: &'a Option<(String, String, Form)>) -> Ref<'a> {
    match (r, s) {
        (ArbRef::Null, _) => Ref::Null,
        (ArbRef::Int(v), _) => Ref::Int(*v),
        (ArbRef::Str(_), Some(t)) => Ref::Str(borrow(t)),
        (ArbRef::Str(_), None) => unreachable!(),
    }
}

fuzz_target!(|input: Input| {
    // The padding goes to one header chosen by the fuzzer.
    let (which, len) = input
        .pad
        .map_or((0, 0), |(w, l)| (w % 5, usize::from(l % 400)));
    let pad = "x".repeat(len);
    let pad_for = |i: u8| if i == which { pad.as_str() } else { "" };
    let str_ref = |r: &ArbRef, i| match r {
        ArbRef::Str(s) => Some(stored(s, pad_for(i))),
        _ => None,
    };
    let mut nesting = 0;
    let (payload_text, payload_bytes, status) = match &input.payload {
        ArbPayload::Json { value, pretty } => {
            let v = wrapped(to_value(value, 0), input.wrap);
            nesting = depth(&v);
            let text = if *pretty {
                serde_json::to_string_pretty(&v).unwrap()
            } else {
                serde_json::to_string(&v).unwrap()
            };
            (
                text,
                Vec::new(),
                (String::new(), String::new(), Form::Plain),
            )
        }
        ArbPayload::Binary(b) => (
            String::new(),
            b.clone(),
            (String::new(), String::new(), Form::Plain),
        ),
        ArbPayload::Reply { status, response } => {
            let raw = match response {
                ArbResponse::Json(j) => {
                    serde_json::to_vec(&wrapped(to_value(j, 0), input.wrap)).unwrap()
                }
                ArbResponse::Raw(b) => b.clone(),
            };
            (String::new(), raw, stored(status, pad_for(4)))
        }
    };
    let store = Store {
        join_ref: str_ref(&input.join_ref, 0),
        ref_: str_ref(&input.ref_, 1),
        topic: stored(&input.topic, pad_for(2)),
        event: stored(&input.event, pad_for(3)),
        payload_text,
        binary: payload_bytes,
        status,
    };
    let payload = match &input.payload {
        ArbPayload::Json { .. } => match RawJson::new(&store.payload_text) {
            Ok(p) => Payload::Json(p),
            Err(e) => {
                // Only nesting past the limit makes serde_json's output invalid.
                assert_eq!(e.kind(), ErrorKind::DepthLimitExceeded, "{e}");
                assert!(nesting > 128, "refused at nesting {nesting}");
                return;
            }
        },
        ArbPayload::Binary(_) => Payload::Binary(&store.binary),
        ArbPayload::Reply { .. } => Payload::Reply {
            status: borrow(&store.status),
            response: &store.binary,
        },
    };
    let f = Frame {
        join_ref: borrow_ref(&input.join_ref, &store.join_ref),
        ref_: borrow_ref(&input.ref_, &store.ref_),
        topic: borrow(&store.topic),
        event: borrow(&store.event),
        payload,
    };
    for vsn in [Vsn::V1, Vsn::V2] {
        text(&f, vsn, &input);
    }
    for direction in [Direction::ToServer, Direction::ToClient] {
        binary(&f, direction);
    }
});

fn text(f: &Frame<'_>, vsn: Vsn, input: &Input) {
    let mut out = Vec::new();
    let res = f.encode_text(vsn, &mut out);
    match f.payload {
        Payload::Binary(_) => {
            assert_eq!(res.unwrap_err().kind(), ErrorKind::PayloadMismatch);
            assert!(out.is_empty(), "a refused payload wrote {out:?}");
            return;
        }
        Payload::Reply { response, .. } => {
            // The `{"response":…}` wrapper takes one level of the decoder's 128.
            if phoenix_wire::json::validate(response, phoenix_wire::json::DEFAULT_MAX_DEPTH - 1)
                .is_err()
            {
                assert!(res.is_err());
                assert!(out.is_empty(), "a refused payload wrote {out:?}");
                return;
            }
        }
        Payload::Json(_) => {}
    }
    res.expect("encoding a text frame");
    let got = frame::decode_text(&out, vsn).expect("decoding our own text frame");
    assert_eq!(got.join_ref, f.join_ref);
    assert_eq!(got.ref_, f.ref_);
    assert_eq!(got.topic, f.topic);
    assert_eq!(got.event, f.event);
    match f.payload {
        Payload::Json(p) => {
            assert_eq!(got.payload, Payload::Json(p));
            assert_eq!(got, *f);
            // The payload put in by a writer of the caller's: same bytes.
            let mut by_writer = Vec::new();
            f.encode_text_raw_with(vsn, &mut by_writer, |o| o.put(p.raw().as_bytes()))
                .unwrap();
            assert_eq!(by_writer, out);
            // The same payload serialized by us from the value: same bytes.
            if let ArbPayload::Json {
                value,
                pretty: false,
            } = &input.payload
            {
                let mut with = Vec::new();
                let v = wrapped(to_value(value, 0), input.wrap);
                f.encode_text_with(&v, vsn, &mut with).unwrap();
                assert_eq!(with, out);
            }
        }
        Payload::Reply { status, response } => {
            let Payload::Json(p) = got.payload else {
                panic!("a text reply decoded to {:?}", got.payload);
            };
            assert_eq!(p.get("status").and_then(|s| s.as_string()), Some(status));
            let r = p.get("response").expect("the reply's response");
            assert_eq!(r.raw().as_bytes(), response.trim_ascii());
            if got.is_reply() {
                let view = got.reply().unwrap();
                assert_eq!(view.status, Some(status));
                assert_eq!(view.response, Payload::Json(r));
            }
        }
        Payload::Binary(_) => unreachable!(),
    }
    // Exact size fits; one byte less is BufferFull.
    let mut buf = vec![0u8; out.len()];
    let mut sink = SliceSink::new(&mut buf);
    f.encode_text(vsn, &mut sink).unwrap();
    assert_eq!(sink.written(), &out[..]);
    let mut short = vec![0u8; out.len() - 1];
    let e = f
        .encode_text(vsn, &mut SliceSink::new(&mut short))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BufferFull);
}

/// The header length a binary frame gives a ref.
fn ref_len(r: Ref<'_>) -> usize {
    match r {
        Ref::Null => 0,
        Ref::Str(s) => s.decoded_len(),
        Ref::Int(v) => v.to_string().len(),
    }
}

fn binary(f: &Frame<'_>, direction: Direction) {
    let mut out = Vec::new();
    let res = f.encode_binary(direction, &mut out);
    // Which headers this frame needs, and whether its payload fits at all.
    let (headers, fits): (Vec<usize>, bool) = match (f.payload, direction) {
        (Payload::Binary(_), Direction::ToServer) => (
            vec![
                ref_len(f.join_ref),
                ref_len(f.ref_),
                f.topic.decoded_len(),
                f.event.decoded_len(),
            ],
            true,
        ),
        (Payload::Binary(_), Direction::ToClient) if f.join_ref.is_null() && f.ref_.is_null() => {
            (vec![f.topic.decoded_len(), f.event.decoded_len()], true)
        }
        (Payload::Binary(_), Direction::ToClient) => (
            vec![
                ref_len(f.join_ref),
                f.topic.decoded_len(),
                f.event.decoded_len(),
            ],
            f.ref_.is_null(),
        ),
        (Payload::Reply { status, .. }, Direction::ToClient) => (
            vec![
                ref_len(f.join_ref),
                ref_len(f.ref_),
                f.topic.decoded_len(),
                status.decoded_len(),
            ],
            true,
        ),
        _ => (
            vec![f.topic.decoded_len(), ref_len(f.join_ref), ref_len(f.ref_)],
            false,
        ),
    };
    let too_long = headers.iter().any(|&n| n > 255);
    match res {
        Ok(()) => assert!(fits && !too_long, "encoded {f:?} {direction:?}"),
        Err(e) => {
            assert!(!fits || too_long, "refused {f:?} {direction:?}: {e}");
            if fits {
                assert_eq!(e.kind(), ErrorKind::TooLong);
            } else {
                // Topic and refs are measured before the payload is looked at.
                let any_long = [ref_len(f.join_ref), ref_len(f.ref_), f.topic.decoded_len()]
                    .iter()
                    .any(|&n| n > 255);
                assert!(
                    matches!(
                        e.kind(),
                        ErrorKind::PayloadMismatch | ErrorKind::InvalidType(_)
                    ) || (any_long && e.kind() == ErrorKind::TooLong),
                    "refused {f:?} {direction:?}: {e}"
                );
            }
            assert!(out.is_empty(), "a refused frame wrote {out:?}");
            return;
        }
    }
    let got = frame::decode_binary(&out, direction).expect("decoding our own binary frame");
    // What the binary encoding keeps: decoded header text, integers as
    // decimal text, empty refs as null, replies as `phx_reply`.
    let jr = norm_ref(f.join_ref);
    let rf = norm_ref(f.ref_);
    assert_eq!(norm_ref(got.join_ref), jr);
    assert_eq!(norm_ref(got.ref_), rf);
    assert_eq!(got.topic, f.topic);
    match f.payload {
        Payload::Reply { .. } => assert_eq!(got.event, "phx_reply"),
        _ => assert_eq!(got.event, f.event),
    }
    assert_eq!(got.payload, f.payload);
    let mut buf = vec![0u8; out.len()];
    let mut sink = SliceSink::new(&mut buf);
    f.encode_binary(direction, &mut sink).unwrap();
    assert_eq!(sink.written(), &out[..]);
    if let Payload::Reply { status, response } = f.payload {
        let view = got.reply().unwrap();
        assert_eq!(view.status, Some(status));
        assert_eq!(view.response, Payload::Binary(response));
    }
}

fn norm_ref(r: Ref<'_>) -> Option<String> {
    match r {
        Ref::Null => None,
        Ref::Int(v) => Some(v.to_string()),
        Ref::Str(s) if s.decoded_len() == 0 => None,
        Ref::Str(s) => Some(s.to_string()),
    }
}
