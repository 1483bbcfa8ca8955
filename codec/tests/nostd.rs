//! What a microcontroller build without an allocator gets: this file uses
//! only the API available with `--no-default-features` (no `alloc`), and
//! runs in that configuration from `make test-nostd`.

use phoenix_wire::etf::{self, Encoder, SafePolicy};
use phoenix_wire::frame::{self, Direction, Frame, Payload};
use phoenix_wire::json::RawJson;
use phoenix_wire::{ErrorKind, SliceSink, Vsn};

#[test]
fn frames_round_trip_through_a_fixed_buffer() {
    let hb = frame::decode_text(
        br#"{"topic":"phoenix","event":"heartbeat","payload":{},"ref":0}"#,
        Vsn::V1,
    )
    .unwrap();
    let mut storage = [0u8; 128];
    let mut sink = SliceSink::new(&mut storage);
    hb.encode_text(Vsn::V2, &mut sink).unwrap();
    assert_eq!(sink.written(), br#"[null,0,"phoenix","heartbeat",{}]"#);

    let push = Frame {
        join_ref: "1".into(),
        ref_: "2".into(),
        ..Frame::new("room:1", "blob", Payload::Binary(&[0xde, 0xad]))
    };
    let mut storage = [0u8; 32];
    let mut sink = SliceSink::new(&mut storage);
    push.encode_binary(Direction::ToServer, &mut sink).unwrap();
    let back = frame::decode_binary(sink.written(), Direction::ToServer).unwrap();
    assert_eq!(back, push);

    let mut tiny = [0u8; 8];
    let err = push
        .encode_binary(Direction::ToServer, &mut SliceSink::new(&mut tiny))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BufferFull);
}

#[test]
fn payloads_are_walked_without_an_allocator() {
    let f = frame::decode_text(
        br#"[null,"3","device","update",{"firmware_meta":{"version":"1.5.0"}}]"#,
        Vsn::V2,
    )
    .unwrap();
    let Payload::Json(p) = f.payload else {
        panic!("text payload")
    };
    let version = p
        .get("firmware_meta")
        .and_then(|m| m.get("version"))
        .and_then(|v| v.as_string());
    assert_eq!(version.unwrap(), "1.5.0");
    assert!(RawJson::new("[1,2").is_err());
}

#[test]
fn terms_decode_and_encode_without_an_allocator() {
    // `'token_please'` as a Fedecks client sends it.
    let term = etf::decode(b"\x83\x6b\x00\x0ctoken_please", &SafePolicy::new()).unwrap();
    assert!(matches!(term, etf::Term::Charlist(b"token_please")));

    let mut storage = [0u8; 64];
    let mut sink = SliceSink::new(&mut storage);
    let mut enc = Encoder::new(&mut sink);
    enc.version().unwrap();
    enc.tuple_header(2).unwrap();
    enc.charlist(b"token").unwrap();
    enc.binary(b"t0k3n").unwrap();
    assert_eq!(
        sink.written(),
        b"\x83\x68\x02\x6b\x00\x05token\x6d\x00\x00\x00\x05t0k3n"
    );
}
