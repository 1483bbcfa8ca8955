//! Hostile input: deep nesting, huge lengths, every byte value. Each case
//! expects a typed error at the right offset; none may panic or hang.

#![cfg(feature = "std")]
use phoenix_wire::frame::{self, Decoder, Direction};
use phoenix_wire::json::{self, RawJson, DEFAULT_MAX_DEPTH, MAX_DEPTH_LIMIT};
use phoenix_wire::{ErrorKind, Vsn};

const PREFIX: &str = r#"[null,null,"t","e","#;

fn nested(open: &str, n: usize) -> String {
    let mut s = String::with_capacity(PREFIX.len() + n * open.len());
    s.push_str(PREFIX);
    for _ in 0..n {
        s.push_str(open);
    }
    s
}

#[test]
fn a_million_nested_arrays_stop_at_the_limit() {
    let s = nested("[", 1_000_000);
    let err = frame::decode_text(s.as_bytes(), Vsn::V2).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DepthLimitExceeded);
    assert_eq!(err.offset(), PREFIX.len() + DEFAULT_MAX_DEPTH);
}

#[test]
fn a_million_nested_objects_stop_at_the_limit() {
    let s = nested(r#"{"a":"#, 1_000_000);
    let err = frame::decode_text(s.as_bytes(), Vsn::V2).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DepthLimitExceeded);
    assert_eq!(err.offset(), PREFIX.len() + DEFAULT_MAX_DEPTH * 5);
}

#[test]
fn the_depth_setting_is_capped() {
    let s = nested("[", 1_000_000);
    let err = Decoder::new()
        .max_depth(usize::MAX)
        .decode_text(s.as_bytes(), Vsn::V2)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DepthLimitExceeded);
    assert_eq!(err.offset(), PREFIX.len() + MAX_DEPTH_LIMIT);
}

#[test]
fn deep_but_allowed_nesting_decodes() {
    let mut s = nested("[", DEFAULT_MAX_DEPTH);
    s.push_str(&"]".repeat(DEFAULT_MAX_DEPTH));
    s.push(']');
    assert!(frame::decode_text(s.as_bytes(), Vsn::V2).is_ok());
    let at_cap = format!(
        "{}{}",
        "[".repeat(MAX_DEPTH_LIMIT),
        "]".repeat(MAX_DEPTH_LIMIT)
    );
    assert!(RawJson::with_max_depth(&at_cap, usize::MAX).is_ok());
}

#[test]
fn deep_nesting_in_v1_and_ignored_members() {
    let deep = "[".repeat(1_000_000);
    let v1 = format!(r#"{{"topic":"t","extra":{deep}"#);
    let err = frame::decode_text(v1.as_bytes(), Vsn::V1).unwrap_err();
    assert_eq!(
        (err.kind(), err.offset()),
        (ErrorKind::DepthLimitExceeded, 21 + DEFAULT_MAX_DEPTH)
    );
    let extra = format!(r#"[null,null,"t","e",{{}},{deep}"#);
    let err = frame::decode_text(extra.as_bytes(), Vsn::V2).unwrap_err();
    assert_eq!(
        (err.kind(), err.offset()),
        (ErrorKind::DepthLimitExceeded, 22 + DEFAULT_MAX_DEPTH)
    );
}

#[test]
fn huge_inputs_of_one_byte_fail_fast() {
    for b in [b'[', b'{', b'"', b'-', b'0', b' ', b'\\', b','] {
        let s = vec![b; 4 << 20];
        assert!(frame::decode_text(&s, Vsn::V2).is_err(), "byte {b}");
        assert!(frame::decode_text(&s, Vsn::V1).is_err(), "byte {b}");
        assert!(json::validate(&s, DEFAULT_MAX_DEPTH).is_err(), "byte {b}");
    }
}

#[test]
fn a_long_valid_string_payload() {
    let body = "é\\n\\u00e9x".repeat(100_000);
    let s = format!(r#"{PREFIX}"{body}"]"#);
    let f = frame::decode_text(s.as_bytes(), Vsn::V2).unwrap();
    let phoenix_wire::Payload::Json(p) = f.payload else {
        panic!()
    };
    let decoded = p.as_string().unwrap().to_cow();
    assert_eq!(decoded.chars().count(), 400_000);
}

#[test]
fn every_single_byte_and_pair() {
    for a in 0..=255u8 {
        for input in [vec![a], vec![a, b'['], vec![b'[', a], vec![a, a]] {
            for vsn in [Vsn::V1, Vsn::V2] {
                let err = frame::decode_text(&input, vsn).unwrap_err();
                assert!(err.offset() <= input.len());
            }
            for dir in [Direction::ToServer, Direction::ToClient] {
                if let Err(e) = frame::decode_binary(&input, dir) {
                    assert!(e.offset() <= input.len());
                }
            }
        }
    }
}

#[test]
fn binary_lengths_past_the_end() {
    // Every header claims 255 bytes; the frame has none of them.
    for (frame, dir) in [
        (&[0u8, 255, 255, 255, 255][..], Direction::ToServer),
        (&[0u8, 255, 255, 255][..], Direction::ToClient),
        (&[1u8, 255, 255, 255, 255][..], Direction::ToClient),
        (&[2u8, 255, 255][..], Direction::ToClient),
    ] {
        let err = frame::decode_binary(frame, dir).unwrap_err();
        assert_eq!(
            (err.kind(), err.offset()),
            (ErrorKind::UnexpectedEof, frame.len())
        );
    }
}

#[test]
fn encoding_refuses_what_the_wire_cannot_carry() {
    use phoenix_wire::frame::{Frame, Payload};
    let long = "x".repeat(256);
    let f = Frame::new(&long, "e", Payload::Binary(b"p"));
    let mut out = Vec::new();
    let err = f.encode_binary(Direction::ToServer, &mut out).unwrap_err();
    assert_eq!((err.kind(), err.offset()), (ErrorKind::TooLong, 3));
    assert!(out.is_empty(), "nothing written on error");

    let ok = "x".repeat(255);
    Frame::new(&ok, "e", Payload::Binary(b"p"))
        .encode_binary(Direction::ToServer, &mut out)
        .unwrap();
    assert_eq!(out.len(), 5 + 255 + 1 + 1);

    let err = f.encode_text(Vsn::V2, &mut Vec::new()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PayloadMismatch);

    let bad_reply = Frame::new(
        "t",
        "phx_reply",
        Payload::Reply {
            status: "ok".into(),
            response: b"{",
        },
    );
    let mut out = Vec::new();
    let err = bad_reply.encode_text(Vsn::V2, &mut out).unwrap_err();
    assert_eq!((err.kind(), err.offset()), (ErrorKind::UnexpectedEof, 1));
    assert!(out.is_empty());

    // A push to a client has no ref in its layout: refusing beats dropping it.
    let mut push = Frame::new("t", "e", Payload::Binary(b""));
    push.join_ref = "1".into();
    push.ref_ = "2".into();
    let err = push
        .encode_binary(Direction::ToClient, &mut Vec::new())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidType(phoenix_wire::Field::Ref));
}

#[test]
fn a_full_slice_sink_is_an_error_not_a_panic() {
    use phoenix_wire::frame::{Frame, Payload};
    use phoenix_wire::SliceSink;
    let f = Frame::new(
        "room:lobby",
        "new_msg",
        Payload::Json(RawJson::new(r#"{"body":"hi"}"#).unwrap()),
    );
    let mut full = Vec::new();
    f.encode_text(Vsn::V2, &mut full).unwrap();
    for size in 0..full.len() {
        let mut buf = vec![0u8; size];
        let mut sink = SliceSink::new(&mut buf);
        let err = f.encode_text(Vsn::V2, &mut sink).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BufferFull);
        assert!(full.starts_with(sink.written()));
    }
    let mut buf = vec![0u8; full.len()];
    let mut sink = SliceSink::new(&mut buf);
    f.encode_text(Vsn::V2, &mut sink).unwrap();
    assert_eq!(sink.written(), &full[..]);
}
