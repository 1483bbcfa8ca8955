//! Raw bytes into every decoder of the crate.
//!
//! Nothing may panic, and whatever decodes must hold together: errors point
//! inside the input, a decoded frame re-encodes to bytes that decode to the
//! same frame (and re-encode to the same bytes), the owned, borrowed and
//! `str` decoders agree, and the lazy walk of a payload agrees with
//! serde_json on every string, integer and array element.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use phoenix_wire::frame::{self, Decoder, Direction, Frame, OwnedFrame, Payload};
use phoenix_wire::json::{self, JsonStr, Kind, RawJson};
use phoenix_wire::{Error, ErrorKind, SliceSink, Vsn};
use serde_json::value::RawValue;

fuzz_target!(|data: &[u8]| {
    for vsn in [Vsn::V1, Vsn::V2] {
        text(data, vsn);
    }
    for direction in [Direction::ToServer, Direction::ToClient] {
        binary(data, direction);
    }
    raw_json(data);
});

fn check_offset(data: &[u8], e: &Error) {
    assert!(
        e.offset() <= data.len(),
        "offset {} past the input ({} bytes): {e}",
        e.offset(),
        data.len()
    );
    // Display must not panic either.
    let _ = e.to_string();
}

fn text(data: &[u8], vsn: Vsn) {
    let decoded = frame::decode_text(data, vsn);
    // A frame that is already a `str` reads the same, returned or written
    // into a slot.
    if let Ok(s) = core::str::from_utf8(data) {
        assert_eq!(frame::decode_text_str(s, vsn), decoded);
        let mut slot = core::mem::MaybeUninit::uninit();
        let into = frame::decode_text_str_into(s, vsn, &mut slot)
            // SAFETY: Ok means the frame was written into the slot.
            .map(|()| unsafe { slot.assume_init() });
        assert_eq!(into, decoded);
    }
    // A tighter depth limit only ever turns success into DepthLimitExceeded.
    let depth = data.first().map_or(0, |b| usize::from(b % 8));
    match Decoder::new().max_depth(depth).decode_text(data, vsn) {
        Ok(f) => assert_eq!(Ok(f), decoded),
        Err(e) => {
            check_offset(data, &e);
            if e.kind() != ErrorKind::DepthLimitExceeded {
                assert_eq!(Err(e), decoded);
            }
        }
    }
    let owned = OwnedFrame::decode_text(Bytes::copy_from_slice(data), vsn);
    let f = match decoded {
        Ok(f) => f,
        Err(e) => {
            check_offset(data, &e);
            assert_eq!(owned.err(), Some(e));
            return;
        }
    };
    let owned = owned.expect("the owned decoder refused what the borrowed one took");
    assert_eq!(owned.frame(), f);
    let Payload::Json(payload) = f.payload else {
        panic!("a text frame with a non-JSON payload: {f:?}");
    };
    assert_eq!(owned.payload_bytes(), payload.raw().as_bytes());

    // A text frame is one JSON value; the envelope adds one level.
    assert_eq!(json::validate(data, json::DEFAULT_MAX_DEPTH + 1), Ok(()));
    for s in [f.topic, f.event] {
        header_string(s);
    }
    for r in [f.join_ref, f.ref_] {
        if let frame::Ref::Str(s) = r {
            header_string(s);
        }
    }

    // Re-encode in both versions: same frame back, and a fixed point.
    for out_vsn in [Vsn::V1, Vsn::V2] {
        let mut out = Vec::new();
        f.encode_text(out_vsn, &mut out)
            .expect("re-encoding a decoded frame");
        let again = frame::decode_text(&out, out_vsn).expect("decoding our own encoding");
        assert_eq!(again, f);
        let mut out2 = Vec::new();
        again.encode_text(out_vsn, &mut out2).unwrap();
        assert_eq!(out, out2);
        if out_vsn == vsn && vsn == Vsn::V2 {
            // Exact size works; one byte short is BufferFull, never a panic.
            let mut buf = vec![0u8; out.len()];
            let mut sink = SliceSink::new(&mut buf);
            f.encode_text(out_vsn, &mut sink).unwrap();
            assert_eq!(sink.written(), &out[..]);
            let mut short = vec![0u8; out.len() - 1];
            let e = f
                .encode_text(out_vsn, &mut SliceSink::new(&mut short))
                .unwrap_err();
            assert_eq!(e.kind(), ErrorKind::BufferFull);
        }
    }
    // A JSON payload cannot go into a binary frame.
    for d in [Direction::ToServer, Direction::ToClient] {
        let e = f.encode_binary(d, &mut Vec::new()).unwrap_err();
        assert!(matches!(
            e.kind(),
            ErrorKind::PayloadMismatch | ErrorKind::TooLong | ErrorKind::InvalidType(_)
        ));
    }
    reply(&f);
    walk(payload, 0);
    // serde: every payload is a raw value; a `Value` may refuse (depth past
    // serde_json's 127, numbers past f64) but points inside the payload.
    let raw: &RawValue = f.payload_as().expect("a payload as &RawValue");
    assert_eq!(raw.get(), payload.raw());
    if let Err(e) = f.payload_as::<serde_json::Value>() {
        assert_eq!(e.kind(), ErrorKind::Serde);
        assert!(e.offset() <= payload.raw().len(), "{e}");
    }
}

/// A string read from a text frame is valid JSON string content.
fn header_string(s: JsonStr<'_>) {
    let again = JsonStr::from_json(s.raw()).expect("decoded string content is valid");
    assert_eq!(again.is_escaped(), s.is_escaped());
    string(s);
}

fn binary(data: &[u8], direction: Direction) {
    let decoded = frame::decode_binary(data, direction);
    let owned = OwnedFrame::decode_binary(Bytes::copy_from_slice(data), direction);
    let f = match decoded {
        Ok(f) => f,
        Err(e) => {
            check_offset(data, &e);
            assert_eq!(owned.err(), Some(e));
            return;
        }
    };
    let owned = owned.expect("the owned decoder refused what the borrowed one took");
    assert_eq!(owned.frame(), f);

    let mut out = Vec::new();
    f.encode_binary(direction, &mut out)
        .expect("re-encoding a decoded binary frame");
    let again = frame::decode_binary(&out, direction).expect("decoding our own encoding");
    assert_eq!(again, f);
    // Kind 0 to a client with no join_ref comes back as a kind 2 broadcast;
    // everything else is byte-identical.
    if out.first() == data.first() {
        assert_eq!(out, data);
    }
    if let Payload::Reply { response, .. } = f.payload {
        // A JSON response can go into a text frame as well.
        let mut text = Vec::new();
        match f.encode_text(Vsn::V2, &mut text) {
            Ok(()) => {
                assert_eq!(json::validate(response, json::DEFAULT_MAX_DEPTH), Ok(()));
                let t = frame::decode_text(&text, Vsn::V2).expect("decoding our reply");
                let r = t.reply().expect("a reply view of our reply");
                let want = f.reply().unwrap();
                assert_eq!(r.status, want.status);
                let (Payload::Json(got), Payload::Binary(raw)) = (r.response, want.response) else {
                    panic!("reply views of unexpected shapes");
                };
                assert_eq!(got.raw().as_bytes(), raw.trim_ascii());
            }
            Err(e) => assert!(
                json::validate(response, json::DEFAULT_MAX_DEPTH).is_err(),
                "{e}"
            ),
        }
    }
    reply(&f);
}

fn reply(f: &Frame<'_>) {
    let r = f.reply();
    if !f.is_reply() {
        assert_eq!(r.unwrap_err().kind(), ErrorKind::NotAReply);
        return;
    }
    match (f.payload, r) {
        (Payload::Json(p), Ok(r)) => {
            assert_eq!(p.kind(), Kind::Object);
            if let Payload::Json(resp) = r.response {
                let inside = p.raw().as_ptr() as usize;
                let at = resp.raw().as_ptr() as usize;
                assert!(
                    resp == json::RawJson::new("null").unwrap()
                        || (at >= inside && at < inside + p.raw().len())
                );
            }
        }
        (Payload::Json(p), Err(e)) => {
            assert_ne!(p.kind(), Kind::Object);
            assert_eq!(e.kind(), ErrorKind::ExpectedObject);
        }
        (Payload::Reply { status, response }, Ok(r)) => {
            assert_eq!(r.status, Some(status));
            assert_eq!(r.response, Payload::Binary(response));
        }
        (Payload::Binary(_), Err(e)) => assert_eq!(e.kind(), ErrorKind::ExpectedObject),
        (p, r) => panic!("reply view {r:?} of payload {p:?}"),
    }
}

fn raw_json(data: &[u8]) {
    let valid = json::validate(data, json::DEFAULT_MAX_DEPTH);
    let raw = RawJson::from_slice(data);
    match (&valid, &raw) {
        (Ok(()), Ok(v)) => {
            let text = core::str::from_utf8(data).unwrap();
            assert_eq!(v.raw(), text.trim_matches([' ', '\n', '\r', '\t']));
            walk(*v, 0);
        }
        (Err(a), Err(b)) => {
            check_offset(data, a);
            assert_eq!(a, b);
        }
        _ => panic!("validate {valid:?} but RawJson::from_slice {raw:?}"),
    }
}

/// Walks every value lazily and checks each against serde_json.
fn walk(v: RawJson<'_>, depth: usize) {
    assert!(depth <= json::DEFAULT_MAX_DEPTH + 1);
    let raw = v.raw();
    match v.kind() {
        Kind::Null => assert!(v.is_null() && raw == "null"),
        Kind::Bool => assert_eq!(v.as_bool(), Some(raw == "true")),
        Kind::Number => {
            // serde_json reads `-0` as the float -0.0; as an integer it is 0.
            let want = match raw {
                "-0" => Some(0),
                _ => serde_json::from_str::<i64>(raw).ok(),
            };
            assert_eq!(v.as_i64(), want);
            let f = v.as_f64().expect("a number reads as f64");
            assert_eq!(f.to_bits(), raw.parse::<f64>().unwrap().to_bits());
        }
        Kind::String => {
            let s = v.as_string().expect("a string reads as a string");
            string(s);
            let want: String = serde_json::from_str(raw).expect("serde_json reads our string");
            assert_eq!(s.to_cow(), want);
        }
        Kind::Array => {
            let elems: Vec<RawJson<'_>> = v.array().expect("an array").collect();
            if depth < 100 {
                let want: Vec<&RawValue> =
                    serde_json::from_str(raw).expect("serde_json reads our array");
                let want: Vec<&str> = want.iter().map(|r| r.get()).collect();
                let got: Vec<&str> = elems.iter().map(|e| e.raw()).collect();
                assert_eq!(got, want);
            }
            for (i, e) in elems.iter().enumerate() {
                assert_eq!(v.index(i), Some(*e));
                walk(*e, depth + 1);
            }
            assert_eq!(v.index(elems.len()), None);
            assert!(v.object().is_none() && v.as_string().is_none());
        }
        Kind::Object => {
            let members: Vec<_> = v.object().expect("an object").collect();
            for (k, val) in &members {
                string(*k);
                // `get` finds the first member with an equal key.
                let key = k.to_cow();
                let first = members.iter().find(|(k2, _)| *k2 == *key).map(|m| m.1);
                assert_eq!(v.get(&key), first);
                walk(*val, depth + 1);
            }
            assert!(v.array().is_none() && v.as_i64().is_none());
        }
    }
}

/// Every way of reading a string gives the same characters.
fn string(s: JsonStr<'_>) {
    let cow = s.to_cow();
    let chars: String = s.chars().collect();
    assert_eq!(cow, chars);
    assert_eq!(s.decoded_len(), cow.len());
    assert!(s == *cow);
    assert_eq!(s, JsonStr::new(&cow));
    assert_eq!(s.to_string(), *cow);
    assert_eq!(s.as_str().is_some(), !s.is_escaped());
    let mut buf = vec![0u8; cow.len()];
    assert_eq!(s.unescape_into(&mut buf).unwrap(), cow);
    if !cow.is_empty() {
        let mut short = vec![0u8; cow.len() - 1];
        assert_eq!(
            s.unescape_into(&mut short).unwrap_err().kind(),
            ErrorKind::BufferFull
        );
    }
}
