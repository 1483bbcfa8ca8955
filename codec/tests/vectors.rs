//! Conformance: every vector in tests/vectors/frames.json, decoded, checked
//! field by field, re-encoded where the vector says how, and truncated at
//! every byte.

#![cfg(all(feature = "std", feature = "bytes"))]
use phoenix_wire::frame::{self, Decoder, Direction, Frame, Payload, Ref};
use phoenix_wire::json::JsonStr;
use phoenix_wire::{Error, Sink, Vsn};
use serde_json::Value;

fn vectors() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/frames.json");
    let text = std::fs::read_to_string(path).expect("tests/vectors/frames.json");
    serde_json::from_str(&text).expect("vectors are JSON")
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// `decode_text_str_into`, into a slot that holds another frame first:
/// the frame it wrote, or its error, after checking that an error left the
/// slot as it was.
fn decode_into(text: &str, vsn: Vsn) -> Result<Frame<'_>, Error> {
    let before = frame::decode_text_str(r#"[null,"7","sentinel","e",{"a":1}]"#, Vsn::V2).unwrap();
    let mut slot = core::mem::MaybeUninit::new(before);
    let result = frame::decode_text_str_into(text, vsn, &mut slot);
    // SAFETY: the slot was initialized, and `decode_text_str_into` only
    // ever writes a whole frame into it.
    let after = unsafe { slot.assume_init() };
    match result {
        Ok(()) => Ok(after),
        Err(e) => {
            assert_eq!(after, before, "an error changed the slot");
            Err(e)
        }
    }
}

fn vsn(v: &Value) -> Vsn {
    match v["vsn"].as_u64() {
        Some(1) => Vsn::V1,
        Some(2) => Vsn::V2,
        other => panic!("bad vsn {other:?}"),
    }
}

fn direction(v: &Value) -> Direction {
    match v["direction"].as_str() {
        Some("to_server") => Direction::ToServer,
        Some("to_client") => Direction::ToClient,
        other => panic!("bad direction {other:?}"),
    }
}

fn input(v: &Value) -> Vec<u8> {
    match (v["frame"].as_str(), v["frame_hex"].as_str()) {
        (Some(s), _) => s.as_bytes().to_vec(),
        (None, Some(h)) => hex(h),
        _ => panic!("vector without input: {v}"),
    }
}

fn assert_str(name: &str, what: &str, got: JsonStr<'_>, want: &Value) {
    let want = want
        .as_str()
        .unwrap_or_else(|| panic!("{name}: {what} must be a string"));
    assert_eq!(got, want, "{name}: {what}");
    assert_eq!(got.to_cow(), want, "{name}: {what} (cow)");
}

fn assert_ref(name: &str, what: &str, got: Ref<'_>, want: &Value) {
    match (got, want) {
        (Ref::Null, Value::Null) => {}
        (Ref::Str(s), Value::String(w)) => assert_eq!(s, w.as_str(), "{name}: {what}"),
        (Ref::Int(i), Value::Number(n)) => assert_eq!(Some(i), n.as_i64(), "{name}: {what}"),
        _ => panic!("{name}: {what}: got {got:?}, want {want}"),
    }
}

/// The refs, topic and event of a decoded frame against a vector's `expect`.
fn assert_envelope(name: &str, f: &Frame<'_>, exp: &Value) {
    assert_ref(name, "join_ref", f.join_ref, &exp["join_ref"]);
    assert_ref(name, "ref", f.ref_, &exp["ref"]);
    assert_str(name, "topic", f.topic, &exp["topic"]);
    assert_str(name, "event", f.event, &exp["event"]);
}

fn assert_error(name: &str, got: Result<Frame<'_>, Error>, want: &Value) {
    let err = match got {
        Ok(f) => panic!("{name}: decoded {f:?}, want error {want}"),
        Err(e) => e,
    };
    assert_eq!(
        format!("{:?}", err.kind()),
        want["kind"].as_str().unwrap(),
        "{name}: kind ({err})"
    );
    assert_eq!(
        err.offset() as u64,
        want["offset"].as_u64().unwrap(),
        "{name}: offset ({err})"
    );
}

#[test]
fn text_vectors() {
    let all = vectors();
    let cases = all["text"].as_array().unwrap();
    assert!(cases.len() >= 60, "vector file lost cases");
    for v in cases {
        let name = v["name"].as_str().unwrap();
        let bytes = input(v);
        let result = frame::decode_text(&bytes, vsn(v));
        // A frame that is already a `str` reads the same, errors included.
        if let Ok(text) = core::str::from_utf8(&bytes) {
            assert_eq!(
                frame::decode_text_str(text, vsn(v)),
                result,
                "{name}: as str"
            );
            assert_eq!(decode_into(text, vsn(v)), result, "{name}: into a slot");
        }
        if let Some(want) = v.get("error") {
            assert_error(name, result, want);
            continue;
        }
        let f = result.unwrap_or_else(|e| panic!("{name}: {e}"));
        let exp = &v["expect"];
        assert_envelope(name, &f, exp);
        let Payload::Json(p) = f.payload else {
            panic!("{name}: text payload not JSON")
        };
        let got: Value = serde_json::from_str(p.raw()).unwrap();
        assert_eq!(got, exp["payload"], "{name}: payload");
        if let Some(reply) = exp.get("reply") {
            let r = f.reply().unwrap();
            match reply["status"].as_str() {
                Some(s) => assert_eq!(r.status.unwrap(), s, "{name}: status"),
                None => assert!(r.status.is_none(), "{name}: status"),
            }
            let Payload::Json(resp) = r.response else {
                panic!("{name}: response")
            };
            assert_eq!(
                serde_json::from_str::<Value>(resp.raw()).unwrap(),
                reply["response"]
            );
        } else {
            assert_eq!(f.is_reply(), f.reply().is_ok(), "{name}: reply view");
        }
        if let Some(encoded) = v["encoded"].as_str() {
            let mut out = Vec::new();
            f.encode_text(vsn(v), &mut out).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), encoded, "{name}: encoded");
        }
        // Whatever we write, we read back as the same frame, in both versions.
        for other in [Vsn::V1, Vsn::V2] {
            let mut out = Vec::new();
            f.encode_text(other, &mut out).unwrap();
            let back = frame::decode_text(&out, other).unwrap();
            assert_eq!(back, f, "{name}: round trip through {other:?}");
            // The same bytes when the payload is written by the caller.
            if let Payload::Json(p) = f.payload {
                let mut by_writer = Vec::new();
                f.encode_text_raw_with(other, &mut by_writer, |o| o.put(p.raw().as_bytes()))
                    .unwrap();
                assert_eq!(by_writer, out, "{name}: payload writer, {other:?}");
            }
        }
    }
}

#[test]
fn binary_vectors() {
    let all = vectors();
    for v in all["binary"].as_array().unwrap() {
        let name = v["name"].as_str().unwrap();
        let bytes = hex(v["hex"].as_str().unwrap());
        let dir = direction(v);
        let result = frame::decode_binary(&bytes, dir);
        if let Some(want) = v.get("error") {
            assert_error(name, result, want);
            continue;
        }
        let f = result.unwrap_or_else(|e| panic!("{name}: {e}"));
        let exp = &v["expect"];
        assert_envelope(name, &f, exp);
        let want_payload = hex(exp["payload_hex"].as_str().unwrap());
        match (f.payload, exp.get("status")) {
            (Payload::Binary(b), None) => assert_eq!(b, want_payload, "{name}: payload"),
            (Payload::Reply { status, response }, Some(s)) => {
                assert_eq!(status, s.as_str().unwrap(), "{name}: status");
                assert_eq!(response, want_payload, "{name}: response");
                let r = f.reply().unwrap();
                assert_eq!(r.response, Payload::Binary(&want_payload));
            }
            (p, s) => panic!("{name}: payload {p:?} with status {s:?}"),
        }
        if v["roundtrip"].as_bool() == Some(true) {
            let mut out = Vec::new();
            f.encode_binary(dir, &mut out).unwrap();
            assert_eq!(out, bytes, "{name}: re-encoded");
        }
    }
}

/// A prefix of a text frame (trailing whitespace aside) never decodes.
#[test]
fn text_truncated_at_every_byte() {
    let all = vectors();
    let mut checked = 0;
    for v in all["text"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v.get("expect").is_some())
    {
        let bytes = input(v);
        let end = bytes.iter().rposition(|b| !b" \t\r\n".contains(b)).unwrap() + 1;
        for cut in 0..end {
            let err = frame::decode_text(&bytes[..cut], vsn(v))
                .expect_err(&format!("{}: prefix of {cut} bytes decoded", v["name"]));
            if let Ok(text) = core::str::from_utf8(&bytes[..cut]) {
                assert_eq!(
                    frame::decode_text_str(text, vsn(v)),
                    Err(err),
                    "{}",
                    v["name"]
                );
                assert_eq!(decode_into(text, vsn(v)), Err(err), "{}", v["name"]);
            }
            assert!(
                err.offset() <= cut,
                "{}: offset {} past the end {cut}",
                v["name"],
                err.offset()
            );
            checked += 1;
        }
    }
    assert!(checked > 1000);
}

/// A binary frame cut inside its header is an error; cut inside the payload
/// it is the same frame with a shorter payload.
#[test]
fn binary_truncated_at_every_byte() {
    let all = vectors();
    for v in all["binary"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v.get("expect").is_some())
    {
        let bytes = hex(v["hex"].as_str().unwrap());
        let payload_len = v["expect"]["payload_hex"].as_str().unwrap().len() / 2;
        let header_len = bytes.len() - payload_len;
        for cut in 0..bytes.len() {
            let got = frame::decode_binary(&bytes[..cut], direction(v));
            if cut < header_len {
                let err = got.expect_err("header cut short must fail");
                assert!(err.offset() <= cut);
            } else {
                let f = got.unwrap();
                let payload = match f.payload {
                    Payload::Binary(b) | Payload::Reply { response: b, .. } => b,
                    Payload::Json(_) => panic!("binary frame with JSON payload"),
                };
                assert_eq!(payload, &bytes[header_len..cut]);
            }
        }
    }
}

/// The owned frame gives back exactly what the borrowed decoder gives.
#[test]
fn owned_frames_match_borrowed() {
    use bytes::Bytes;
    use phoenix_wire::frame::OwnedFrame;
    let all = vectors();
    for v in all["text"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v.get("expect").is_some())
    {
        let bytes = input(v);
        let owned = OwnedFrame::decode_text(Bytes::from(bytes.clone()), vsn(v)).unwrap();
        assert_eq!(owned.frame(), frame::decode_text(&bytes, vsn(v)).unwrap());
        let Payload::Json(p) = owned.frame().payload else {
            panic!()
        };
        assert_eq!(owned.payload_bytes(), p.raw().as_bytes());
    }
    for v in all["binary"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v.get("expect").is_some())
    {
        let bytes = hex(v["hex"].as_str().unwrap());
        let owned = OwnedFrame::decode_binary(Bytes::from(bytes.clone()), direction(v)).unwrap();
        assert_eq!(
            owned.frame(),
            frame::decode_binary(&bytes, direction(v)).unwrap()
        );
        let clone = owned.clone();
        let topic = std::thread::spawn(move || clone.frame().topic.to_string())
            .join()
            .unwrap();
        assert_eq!(topic, v["expect"]["topic"].as_str().unwrap());
    }
    let bad = OwnedFrame::decode_text(Bytes::from_static(b"[1]"), Vsn::V2).unwrap_err();
    assert_eq!(bad.offset(), 2);
}

#[test]
fn decoder_depth_setting() {
    let deep = br#"[null,null,"t","e",[[[[1]]]]]"#;
    assert!(Decoder::new()
        .max_depth(4)
        .decode_text(deep, Vsn::V2)
        .is_ok());
    let err = Decoder::new()
        .max_depth(3)
        .decode_text(deep, Vsn::V2)
        .unwrap_err();
    assert_eq!(
        (format!("{:?}", err.kind()), err.offset()),
        ("DepthLimitExceeded".into(), 22)
    );
}
