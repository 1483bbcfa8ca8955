//! The text encoders' fast path (envelope measured, written in place with
//! `Sink::put_in_place`, strings read from JSON copied without a scan)
//! against an independent reference: a tiny Jason-style encoder written here
//! from Jason's rules (`escape: :json`: `"`, `\` and C0 controls escaped,
//! `\b \t \n \f \r` short, the rest as `\u00XX` upper-case; `/`, DEL and
//! non-ASCII raw). Every frame is encoded through each kind of sink and from
//! both kinds of strings (Rust strings that need a scan, and the same frame
//! decoded back from JSON), for V1 and V2.

#![cfg(feature = "std")]

#[cfg(feature = "bytes")]
use bytes::BufMut;
#[cfg(feature = "bytes")]
use phoenix_wire::frame::OwnedFrame;
use phoenix_wire::frame::{self, Frame, Payload, Ref};
use phoenix_wire::json::{JsonStr, RawJson};
#[cfg(feature = "bytes")]
use phoenix_wire::Direction;
use phoenix_wire::{ErrorKind, InPlace, Sink, SliceSink, Vsn};
use proptest::prelude::*;

/// A ref as the tests build it.
#[derive(Clone, Debug)]
enum TRef {
    Null,
    Int(i64),
    Str(String),
}

impl TRef {
    fn as_ref(&self) -> Ref<'_> {
        match self {
            TRef::Null => Ref::Null,
            TRef::Int(v) => Ref::Int(*v),
            TRef::Str(s) => Ref::Str(JsonStr::new(s)),
        }
    }
}

/// Jason's string escaping, character by character.
fn jason_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            '\u{8}' => o.push_str("\\b"),
            '\u{c}' => o.push_str("\\f"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04X}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn jason_ref(r: &TRef) -> String {
    match r {
        TRef::Null => "null".into(),
        TRef::Int(v) => v.to_string(),
        TRef::Str(s) => jason_str(s),
    }
}

/// What Phoenix writes for this frame.
fn reference(jr: &TRef, r: &TRef, topic: &str, event: &str, payload: &str, vsn: Vsn) -> Vec<u8> {
    let (jr_s, r_s, t, e) = (
        jason_ref(jr),
        jason_ref(r),
        jason_str(topic),
        jason_str(event),
    );
    match vsn {
        Vsn::V2 => format!("[{jr_s},{r_s},{t},{e},{payload}]").into_bytes(),
        _ => {
            let join = match jr {
                TRef::Null => String::new(),
                _ => format!(",\"join_ref\":{jr_s}"),
            };
            format!("{{\"event\":{e}{join},\"payload\":{payload},\"ref\":{r_s},\"topic\":{t}}}")
                .into_bytes()
        }
    }
}

/// A sink that only knows `put`: the default `put_in_place` declines, so
/// the encoders take their piece-by-piece path.
struct PutOnly(Vec<u8>);

impl Sink for PutOnly {
    fn put(&mut self, bytes: &[u8]) -> phoenix_wire::Result<()> {
        self.0.extend_from_slice(bytes);
        Ok(())
    }
}

/// Encodes `f` through every kind of sink; all must give the same bytes.
fn encode_everywhere(f: &Frame<'_>, vsn: Vsn) -> Vec<u8> {
    let mut fresh = Vec::new(); // room for 64 bytes at first: in place or not
    f.encode_text(vsn, &mut fresh).unwrap();
    let mut sized = Vec::with_capacity(fresh.len() + 7);
    sized.extend_from_slice(b"prefix:"); // appends after what is there
    f.encode_text(vsn, &mut sized).unwrap();
    assert_eq!(&sized[7..], &fresh[..]);
    #[cfg(feature = "bytes")]
    {
        let mut bytes_mut = bytes::BytesMut::with_capacity(fresh.len());
        f.encode_text(vsn, &mut bytes_mut).unwrap();
        assert_eq!(&bytes_mut[..], &fresh[..]);
    }
    let mut put_only = PutOnly(Vec::new());
    f.encode_text(vsn, &mut put_only).unwrap();
    assert_eq!(put_only.0, fresh);
    let dyn_sink: &mut dyn Sink = &mut put_only;
    f.encode_text(vsn, dyn_sink).unwrap();
    assert_eq!(&put_only.0[fresh.len()..], &fresh[..]);
    let mut storage = vec![0xAAu8; fresh.len()];
    let mut slice = SliceSink::new(&mut storage);
    f.encode_text(vsn, &mut slice).unwrap();
    assert_eq!(slice.written(), &fresh[..]);
    fresh
}

/// Checks one frame built from Rust strings, then the same frame decoded
/// from the reference bytes (strings read from JSON) and re-encoded.
fn check(jr: &TRef, r: &TRef, topic: &str, event: &str, payload: &str) {
    for vsn in [Vsn::V2, Vsn::V1] {
        let want = reference(jr, r, topic, event, payload, vsn);
        let mut f = Frame::new(topic, event, Payload::Json(RawJson::new(payload).unwrap()));
        f.join_ref = jr.as_ref();
        f.ref_ = r.as_ref();
        let got = encode_everywhere(&f, vsn);
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want)
        );
        let decoded = frame::decode_text(&want, vsn).unwrap();
        assert_eq!(decoded.topic, topic);
        assert_eq!(decoded.event, event);
        assert_eq!(
            encode_everywhere(&decoded, vsn),
            want,
            "re-encoding a decoded frame"
        );
    }
}

const SAMPLES: &[&str] = &[
    "",
    "a",
    "ab",
    "abc",
    "room:lobby",
    "phoenix",
    "heartbeat",
    "exactly-16-bytes",
    "seventeen-bytes!!",
    "quote\"inside",
    "\"",
    "back\\slash",
    "\\",
    "nl\nand\ttab\rcr\u{8}bs\u{c}ff",
    "\u{0}\u{1}\u{1f}",
    "slash/ and del\u{7f}",
    "caf\u{e9} \u{1F600} \u{2028}\u{2029}",
    "\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\"",
    "twenty-three plain bytes",
    "seven b\u{1}",
];

#[test]
fn header_strings_escaped_unescaped_non_ascii_and_controls() {
    for s in SAMPLES {
        check(&TRef::Null, &TRef::Null, s, "e", "{}");
        check(&TRef::Null, &TRef::Null, "t", s, "{}");
        check(
            &TRef::Str(s.to_string()),
            &TRef::Str(s.to_string()),
            s,
            s,
            r#"{"a":1}"#,
        );
    }
}

#[test]
fn every_control_character_and_every_position() {
    for c in (0u8..0x20).chain([b'"', b'\\', 0x7f]) {
        for at in 0..20 {
            let mut s = "x".repeat(20);
            s.replace_range(at..at + 1, &(c as char).to_string());
            check(&TRef::Null, &TRef::Int(1), &s, "e", "{}");
        }
    }
}

#[test]
fn escapes_are_found_at_every_length_and_position() {
    // Whole words, tails of 1 to 7 bytes (read as overlapping halves) and
    // every byte position in them.
    for len in 1..=24 {
        for at in 0..len {
            for c in [0u8, 0x1f, b'"', b'\\'] {
                let mut s = vec![b'a'; len];
                s[at] = c;
                let s = String::from_utf8(s).unwrap();
                let mut out = Vec::new();
                phoenix_wire::json::write_str(&mut out, &s).unwrap();
                assert_eq!(String::from_utf8(out).unwrap(), jason_str(&s), "{s:?}");
            }
        }
    }
    // Bytes just above and below the special ones are written raw.
    for len in 0..=24 {
        let s: String = " !#[]~\u{7f}\u{e9}".chars().cycle().take(len).collect();
        let mut out = Vec::new();
        phoenix_wire::json::write_str(&mut out, &s).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), format!("\"{s}\""));
    }
}

#[test]
fn integer_and_null_refs() {
    let ints = [
        0,
        1,
        9,
        10,
        99,
        100,
        12345,
        -1,
        -9,
        -10,
        -100,
        999_999_999_999,
        i64::MAX,
        i64::MIN,
        i64::MIN + 1,
    ];
    for v in ints {
        check(&TRef::Int(v), &TRef::Int(v), "t", "e", "{}");
        check(&TRef::Null, &TRef::Int(v), "t", "e", "[1,2]");
        check(&TRef::Int(v), &TRef::Null, "t", "e", "null");
    }
    for p in 0..19 {
        let v = 10i64.pow(p);
        check(&TRef::Int(v - 1), &TRef::Int(-v), "t", "e", "0");
    }
}

/// The usual pairs of refs (`null` and a string, two strings, two
/// `null`s) take one `InPlace::put_all` for the whole frame, the others go
/// piece by piece: every pair of kinds, with refs, topic, event and
/// payload of every length the copy of a piece treats differently.
#[test]
fn every_pair_of_ref_kinds_with_pieces_of_every_length() {
    for n in 0..=40 {
        let s = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH"[..n].to_string();
        // A different text in each place, so that a piece written in
        // another's place shows.
        let other: String = s.chars().rev().collect();
        let join_refs = [TRef::Null, TRef::Int(n as i64 * 37), TRef::Str(s.clone())];
        let refs = [TRef::Null, TRef::Int(-(n as i64)), TRef::Str(other.clone())];
        let payload = format!("\"{}\"", s.to_lowercase());
        for jr in &join_refs {
            for r in &refs {
                check(jr, r, &s.to_uppercase(), &other.to_lowercase(), &payload);
                check(jr, r, "t", &s, "{}");
            }
        }
    }
}

#[test]
fn payload_sizes_around_the_in_place_limit() {
    // The envelope `[null,null,"t","e",` is 19 bytes and `]` one more: these
    // payloads make whole frames from 21 bytes to well past 256.
    for n in (0..300).chain([1000, 70_000]) {
        let payload = format!("\"{}\"", "p".repeat(n));
        check(&TRef::Null, &TRef::Null, "t", "e", &payload);
        check(&TRef::Str("1".into()), &TRef::Int(2), "t\"", "e", &payload);
    }
}

#[test]
fn long_header_strings() {
    let long = "L".repeat(300);
    let long_escaped = "\"".repeat(200);
    check(&TRef::Null, &TRef::Null, &long, &long, "{}");
    check(
        &TRef::Str(long.clone()),
        &TRef::Null,
        "t",
        &long_escaped,
        "{}",
    );
}

#[cfg(feature = "bytes")]
#[test]
fn a_binary_frame_with_raw_strings_is_escaped_when_written_as_text() {
    // Binary frames carry their strings raw: re-encoded as text, they must be
    // escaped even though they came from a decoder.
    let mut bin = Vec::new();
    let mut f = Frame::new("to\"pic", "ev\\ent\n", Payload::Binary(b"\x00\x01"));
    f.join_ref = Ref::Str(JsonStr::new("j\"1"));
    f.ref_ = Ref::Str(JsonStr::new("r\u{1}"));
    f.encode_binary(Direction::ToServer, &mut bin).unwrap();
    let want = br#"[null,"r\u0001","to\"pic","ev\\ent\n",{}]"#.to_vec();
    let borrowed = frame::decode_binary(&bin, Direction::ToServer).unwrap();
    let owned =
        OwnedFrame::decode_binary(bytes::Bytes::from(bin.clone()), Direction::ToServer).unwrap();
    for decoded in [borrowed, owned.frame()] {
        let mut f = decoded;
        f.payload = Payload::Json(RawJson::EMPTY_OBJECT);
        f.join_ref = Ref::Null;
        assert_eq!(encode_everywhere(&f, Vsn::V2), want);
        let mut v1 = Vec::new();
        f.encode_text(Vsn::V1, &mut v1).unwrap();
        assert_eq!(
            v1,
            br#"{"event":"ev\\ent\n","payload":{},"ref":"r\u0001","topic":"to\"pic"}"#
        );
    }
}

#[cfg(feature = "bytes")]
#[test]
fn an_owned_text_frame_re_encodes_like_the_borrowed_one() {
    for s in SAMPLES {
        let want = reference(
            &TRef::Str(s.to_string()),
            &TRef::Int(7),
            s,
            s,
            "[]",
            Vsn::V2,
        );
        let owned = OwnedFrame::decode_text(bytes::Bytes::from(want.clone()), Vsn::V2).unwrap();
        assert_eq!(encode_everywhere(&owned.frame(), Vsn::V2), want);
    }
}

#[cfg(feature = "serde")]
#[test]
fn replies_and_serialized_payloads_share_the_envelope() {
    for s in SAMPLES {
        let mut f = Frame::new(
            s,
            "phx_reply",
            Payload::Reply {
                status: JsonStr::new("ok"),
                response: b" {\"a\":1} ",
            },
        );
        f.ref_ = Ref::Str(JsonStr::new(s));
        let want = format!(
            "[null,{},{},\"phx_reply\",{{\"response\":{{\"a\":1}},\"status\":\"ok\"}}]",
            jason_str(s),
            jason_str(s)
        );
        assert_eq!(encode_everywhere(&f, Vsn::V2), want.as_bytes());
        let mut with = Vec::new();
        f.encode_text_with(&serde_json::json!([s]), Vsn::V2, &mut with)
            .unwrap();
        let want = format!(
            "[null,{},{},\"phx_reply\",[{}]]",
            jason_str(s),
            jason_str(s),
            serde_json::to_string(s).unwrap()
        );
        assert_eq!(String::from_utf8(with).unwrap(), want);
    }
}

#[test]
fn a_full_sink_keeps_a_prefix_and_says_buffer_full() {
    for (topic, payload) in [("t", "{}".to_string()), ("t\"", "7".repeat(400))] {
        let f = Frame::new(topic, "e", Payload::Json(RawJson::new(&payload).unwrap()));
        let mut full = Vec::new();
        f.encode_text(Vsn::V2, &mut full).unwrap();
        for size in 0..full.len() {
            let mut buf = vec![0u8; size];
            let mut sink = SliceSink::new(&mut buf);
            let err = f.encode_text(Vsn::V2, &mut sink).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::BufferFull);
            assert!(full.starts_with(sink.written()));
            #[cfg(feature = "bytes")]
            {
                let mut limited = bytes::BytesMut::new().limit(size);
                let err = f.encode_text(Vsn::V2, &mut limited).unwrap_err();
                assert_eq!(err.kind(), ErrorKind::BufferFull);
                assert!(full.starts_with(limited.get_ref()));
            }
        }
    }
}

#[test]
fn put_in_place_keeps_exactly_what_fill_wrote() {
    let mut v = b"ab".to_vec();
    let fill = &mut |room: &mut InPlace<'_>| {
        room.put(b"cd");
        room.put_u8(b'e');
    };
    assert!(Sink::put_in_place(&mut v, 3, fill).unwrap());
    assert_eq!(v, b"abcde");
    // Short or overlong: nothing kept, the sink as it was.
    assert!(!Sink::put_in_place(&mut v, 3, &mut |room| room.put(b"fg")).unwrap());
    assert!(!Sink::put_in_place(&mut v, 1, &mut |room| room.put(b"fg")).unwrap());
    assert_eq!(v, b"abcde");
    #[cfg(feature = "bytes")]
    {
        let mut b = bytes::BytesMut::with_capacity(16);
        assert!(b.put_in_place(2, &mut |room| room.put(b"hi")).unwrap());
        assert!(b.put_in_place(0, &mut |_| {}).unwrap());
        assert!(!b.put_in_place(2, &mut |room| room.put(b"x")).unwrap());
        assert!(!b.put_in_place(1, &mut |room| room.put(b"xy")).unwrap());
        assert!(b.put_in_place(2, &mut |room| room.put(b"jk")).unwrap());
        assert_eq!(&b[..], b"hijk");
        let mut limited = bytes::BytesMut::new().limit(3);
        let err = limited
            .put_in_place(4, &mut |_| panic!("no room"))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BufferFull);
        assert!(limited.get_ref().is_empty());
    }
    let mut storage = [9u8; 6];
    let mut s = SliceSink::new(&mut storage);
    s.put(b"x").unwrap();
    let err = s.put_in_place(6, &mut |_| panic!("no room")).unwrap_err();
    assert_eq!((err.kind(), err.offset()), (ErrorKind::BufferFull, 1));
    assert!(!s.put_in_place(3, &mut |room| room.put(b"yz")).unwrap());
    assert_eq!(s.written(), b"x");
    assert!(s
        .put_in_place(5, &mut |room| {
            room.put(b"yzw");
            room.put(b"uv");
        })
        .unwrap());
    assert_eq!(s.written(), b"xyzwuv");
    let mut p = PutOnly(Vec::new());
    assert!(!p.put_in_place(2, &mut |_| panic!("declined")).unwrap());
    assert!(p.0.is_empty());
}

fn tref() -> impl Strategy<Value = TRef> {
    prop_oneof![
        Just(TRef::Null),
        any::<i64>().prop_map(TRef::Int),
        text().prop_map(TRef::Str),
    ]
}

/// Strings mixing plain ASCII with everything that needs care.
fn text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => "[a-z0-9:_-]{0,12}",
        1 => Just("\"".to_string()),
        1 => Just("\\".to_string()),
        1 => (0u32..0x20).prop_map(|c| char::from_u32(c).unwrap().to_string()),
        1 => any::<char>().prop_map(|c| c.to_string()),
    ];
    prop::collection::vec(piece, 0..6).prop_map(|v| v.concat())
}

proptest! {
    #[test]
    fn random_frames_match_the_reference(
        jr in tref(),
        r in tref(),
        topic in text(),
        event in text(),
        payload_len in 0usize..300,
    ) {
        let payload = format!("\"{}\"", "x".repeat(payload_len));
        check(&jr, &r, &topic, &event, &payload);
    }
}

/// Integers in decimal, as `i64`'s `Display` writes them: every length,
/// both signs and the ends of the range, through `write_decimal`,
/// `write_i64` and a frame's integer refs.
#[test]
fn integers_are_written_as_display_writes_them() {
    use phoenix_wire::json::{decimal_len, write_decimal, write_i64};
    let mut values = vec![0i64, i64::MAX, i64::MIN, i64::MIN + 1];
    for k in 0..19 {
        let p = 10i64.pow(k);
        values.extend([p - 1, p, p + 1, 7 * p + 3]);
    }
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        values.push((x >> (x % 64)) as i64);
    }
    let negated: Vec<i64> = values.iter().map(|v| v.wrapping_neg()).collect();
    values.extend(negated);
    for v in values {
        let want = v.to_string();
        assert_eq!(decimal_len(v), want.len(), "{v}");
        let mut text = vec![0u8; want.len()];
        write_decimal(&mut text, v);
        assert_eq!(text, want.as_bytes());
        let mut out = Vec::new();
        write_i64(&mut out, v).unwrap();
        assert_eq!(out, want.as_bytes());
        let f = Frame {
            join_ref: Ref::Int(v),
            ..Frame::new("t", "e", Payload::Json(RawJson::EMPTY_OBJECT))
        };
        let mut frame = Vec::new();
        f.encode_text(Vsn::V2, &mut frame).unwrap();
        assert_eq!(frame, format!("[{v},null,\"t\",\"e\",{{}}]").as_bytes());
    }
}
