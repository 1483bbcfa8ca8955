//! serde mapping (feature `serde`): the Elixir-friendly table of the module
//! docs, borrowing, and errors with offsets.
#![cfg(feature = "serde")]

use std::collections::BTreeMap;

use phoenix_wire::etf::{self, SafePolicy, Term};
use phoenix_wire::ErrorKind;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Auth<'a> {
    #[serde(rename = "fedecks-device-id")]
    device_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(rename = "fedecks-token")]
    token: Option<&'a str>,
    username: Option<String>,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
enum Msg {
    #[serde(rename = "ping")]
    Ping,
    #[serde(rename = "temp")]
    Temp(f64),
    #[serde(rename = "move")]
    Move(i32, i32),
    #[serde(rename = "led")]
    Led { on: bool, level: u8 },
}

fn term(bytes: &[u8]) -> Term<'_> {
    etf::decode(bytes, &SafePolicy::new()).unwrap()
}

#[test]
fn structs_are_maps_with_binary_keys() {
    let a = Auth {
        device_id: "nerves-1",
        token: None,
        username: None,
    };
    let bytes = etf::to_vec(&a).unwrap();
    let t = term(&bytes);
    let m = t.as_map().unwrap();
    assert_eq!(m.len(), 2, "skipped field not written");
    assert_eq!(
        m.get("fedecks-device-id").unwrap().as_str(),
        Some("nerves-1")
    );
    assert_eq!(m.get("username").unwrap().as_atom().unwrap(), "nil");
    let back: Auth = etf::from_slice(&bytes).unwrap();
    assert_eq!(back, a);
}

#[test]
fn borrows_strings_and_bytes_from_the_input() {
    let a = Auth {
        device_id: "d",
        token: Some("tök"),
        username: Some("u".into()),
    };
    let bytes = etf::to_vec(&a).unwrap();
    let back: Auth = etf::from_slice(&bytes).unwrap();
    let range = bytes.as_ptr_range();
    assert!(range.contains(&back.device_id.as_ptr()));
    assert!(range.contains(&back.token.unwrap().as_ptr()));
    assert_eq!(back, a);
}

#[test]
fn elixir_struct_with_atom_keys_and_extra_fields() {
    // %{__struct__: Foo, "fedecks-device-id": "x"} — atom keys are accepted
    // and unknown keys ignored.
    let mut b = Vec::new();
    let mut e = etf::Encoder::new(&mut b);
    e.version().unwrap();
    e.map_header(3).unwrap();
    e.atom("__struct__").unwrap();
    e.atom("Elixir.Foo").unwrap();
    e.atom("fedecks-device-id").unwrap();
    e.binary(b"x").unwrap();
    e.atom("username").unwrap();
    e.binary(b"bob").unwrap();
    let a: Auth = etf::from_slice(&b).unwrap();
    assert_eq!(
        (a.device_id, a.username.as_deref(), a.token),
        ("x", Some("bob"), None)
    );
}

#[test]
fn enums_are_atoms_and_tagged_tuples() {
    let cases: [(Msg, &[u8]); 4] = [
        (Msg::Ping, &[131, 119, 4, b'p', b'i', b'n', b'g']),
        (
            Msg::Temp(2.5),
            &[
                131, 104, 2, 119, 4, b't', b'e', b'm', b'p', 70, 64, 4, 0, 0, 0, 0, 0, 0,
            ],
        ),
        (
            Msg::Move(1, -1),
            &[
                131, 104, 3, 119, 4, b'm', b'o', b'v', b'e', 97, 1, 98, 255, 255, 255, 255,
            ],
        ),
        (
            Msg::Led { on: true, level: 3 },
            &[
                131, 104, 2, 119, 3, b'l', b'e', b'd', 116, 0, 0, 0, 2, 109, 0, 0, 0, 2, b'o',
                b'n', 119, 4, b't', b'r', b'u', b'e', 109, 0, 0, 0, 5, b'l', b'e', b'v', b'e',
                b'l', 97, 3,
            ],
        ),
    ];
    for (m, bytes) in cases {
        assert_eq!(etf::to_vec(&m).unwrap(), bytes, "{m:?}");
        assert_eq!(etf::from_slice::<Msg>(bytes).unwrap(), m);
    }
    // OTP 25's atom form decodes too.
    assert_eq!(
        etf::from_slice::<Msg>(&[131, 100, 0, 4, b'p', b'i', b'n', b'g']).unwrap(),
        Msg::Ping
    );
}

#[test]
fn primitives_options_sequences_and_maps() {
    let v: (bool, Option<u8>, Option<u8>, i128, u64, char, ()) =
        (true, None, Some(7), -(1 << 100), u64::MAX, 'é', ());
    let bytes = etf::to_vec(&v).unwrap();
    assert_eq!(
        etf::from_slice::<(bool, Option<u8>, Option<u8>, i128, u64, char, ())>(&bytes).unwrap(),
        v
    );

    let list = vec![1u32, 70000, 3];
    let bytes = etf::to_vec(&list).unwrap();
    assert_eq!(etf::from_slice::<Vec<u32>>(&bytes).unwrap(), list);
    assert_eq!(etf::to_vec(&Vec::<u8>::new()).unwrap(), [131, 106]);

    // A charlist (STRING_EXT) reads as a Vec<u8>, a String or a &str.
    let cl = [
        131, 107, 0, 12, b't', b'o', b'k', b'e', b'n', b'_', b'p', b'l', b'e', b'a', b's', b'e',
    ];
    assert_eq!(etf::from_slice::<Vec<u8>>(&cl).unwrap(), b"token_please");
    assert_eq!(etf::from_slice::<&str>(&cl).unwrap(), "token_please");
    // A binary reads as Vec<u8> too, or as borrowed bytes.
    assert_eq!(
        etf::from_slice::<&[u8]>(&[131, 109, 0, 0, 0, 2, 0, 255]).unwrap(),
        [0, 255]
    );
    assert_eq!(
        etf::from_slice::<Vec<u8>>(&[131, 109, 0, 0, 0, 2, 1, 2]).unwrap(),
        [1, 2]
    );

    let mut m = BTreeMap::new();
    m.insert("a".to_string(), vec![1.5f64]);
    m.insert("b".to_string(), vec![]);
    let bytes = etf::to_vec(&m).unwrap();
    assert_eq!(
        etf::from_slice::<BTreeMap<String, Vec<f64>>>(&bytes).unwrap(),
        m
    );
}

#[test]
fn mismatches_are_serde_errors_with_offsets() {
    // %{"fedecks-device-id" => 5}: an integer where a string goes.
    let mut b = Vec::new();
    let mut e = etf::Encoder::new(&mut b);
    e.version().unwrap();
    e.map_header(1).unwrap();
    e.binary(b"fedecks-device-id").unwrap();
    e.int(5).unwrap();
    let err = etf::from_slice::<Auth>(&b).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Serde);
    assert!(err.offset() > 0 && err.offset() < b.len(), "{err}");
    // Missing field.
    let err = etf::from_slice::<Auth>(&[131, 116, 0, 0, 0, 0]).unwrap_err();
    assert_eq!((err.kind(), err.offset()), (ErrorKind::Serde, 6));
    // Unsafe input never reaches the target type.
    let err = etf::from_slice::<Auth>(&[131, 112, 0, 0, 0, 0]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ExecutableTerm);
    // An improper list is not a sequence.
    let err = etf::from_slice::<Vec<u8>>(&[131, 108, 0, 0, 0, 1, 97, 1, 97, 2]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Serde);
    // u8 out of range.
    assert!(etf::from_slice::<u8>(&[131, 98, 0, 0, 1, 0]).is_err());
    // NaN cannot be written.
    assert_eq!(
        etf::to_vec(&f64::NAN).unwrap_err().kind(),
        ErrorKind::InvalidFloat
    );
}

#[test]
fn writes_into_a_fixed_buffer() {
    let mut buf = [0u8; 8];
    let mut sink = phoenix_wire::SliceSink::new(&mut buf);
    assert_eq!(
        etf::to_writer(&mut sink, &"too long for eight")
            .unwrap_err()
            .kind(),
        ErrorKind::BufferFull
    );
    let mut sink = phoenix_wire::SliceSink::new(&mut buf);
    etf::to_writer(&mut sink, &300u16).unwrap();
    assert_eq!(sink.written(), [131, 98, 0, 0, 1, 44]);
}
