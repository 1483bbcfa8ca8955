//! Decoding and encoding the forms the spec names, byte for byte as OTP 25
//! writes them.
// `Vec<u8>` is an output buffer only with `alloc`.
#![cfg(feature = "alloc")]

use phoenix_wire::etf::{self, EncodeOptions, Encoder, SafePolicy, Term};
use phoenix_wire::{ErrorKind, SliceSink};

fn dec(b: &[u8]) -> Term<'_> {
    etf::decode(b, &SafePolicy::new().allow_pids_ports_refs(true))
        .unwrap_or_else(|e| panic!("{b:?}: {e}"))
}

fn reencode(t: &Term<'_>, legacy: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = Encoder::with_options(&mut out, EncodeOptions::new().legacy_atoms(legacy));
    enc.version().unwrap();
    enc.term(t).unwrap();
    out
}

/// Examples from spec/etf.md section 3, as OTP 25 writes them.
const OTP25: &[&[u8]] = &[
    &[131, 100, 0, 5, b'h', b'e', b'l', b'l', b'o'],
    &[131, 98, 255, 255, 255, 255],
    &[131, 110, 4, 0, 0, 0, 0, 128],
    &[131, 116, 0, 0, 0, 1, 109, 0, 0, 0, 1, 97, 97, 1],
    &[
        131, 116, 0, 0, 0, 1, 109, 0, 0, 0, 1, 97, 108, 0, 0, 0, 3, 97, 1, 70, 64, 4, 0, 0, 0, 0,
        0, 0, 100, 0, 3, 102, 111, 111, 106,
    ],
    &[131, 108, 0, 0, 0, 1, 97, 1, 97, 2],
    &[
        131, 107, 0, 12, b't', b'o', b'k', b'e', b'n', b'_', b'p', b'l', b'e', b'a', b's', b'e',
    ],
    &[
        131, 104, 2, 100, 0, 5, b't', b'o', b'k', b'e', b'n', 109, 0, 0, 0, 3, 1, 2, 3,
    ],
];

#[test]
fn otp25_examples_round_trip_byte_for_byte() {
    for &b in OTP25 {
        let t = dec(b);
        assert_eq!(reencode(&t, true), b, "{t:?}");
        // OTP 26 forms decode to the same term.
        let new = reencode(&t, false);
        assert_eq!(dec(&new), t);
    }
}

#[test]
fn spec_examples_have_the_right_values() {
    assert_eq!(dec(OTP25[0]).as_atom().unwrap(), "hello");
    assert_eq!(dec(OTP25[1]).as_i64(), Some(-1));
    assert_eq!(dec(OTP25[2]).as_i64(), Some(1 << 31));
    let m = dec(OTP25[3]).as_map().unwrap();
    assert_eq!(m.get("a").and_then(|v| v.as_i64()), Some(1));
    let l = dec(OTP25[5]).as_list().unwrap();
    assert_eq!(l.iter().collect::<Vec<_>>(), [Term::Int(1)]);
    assert_eq!(l.tail(), Some(Term::Int(2)));
    assert!(!l.is_proper());
}

#[test]
fn integers_take_otp_smallest_forms() {
    let enc = |v: i128| {
        let mut out = Vec::new();
        Encoder::new(&mut out).int128(v).unwrap();
        out
    };
    assert_eq!(enc(0), [97, 0]);
    assert_eq!(enc(255), [97, 255]);
    assert_eq!(enc(256), [98, 0, 0, 1, 0]);
    assert_eq!(enc(-1), [98, 255, 255, 255, 255]);
    assert_eq!(enc(i32::MIN as i128), [98, 128, 0, 0, 0]);
    assert_eq!(enc(1 << 31), [110, 4, 0, 0, 0, 0, 128]);
    assert_eq!(enc(-(1 << 31) - 1), [110, 4, 1, 1, 0, 0, 128]);
    assert_eq!(enc(i64::MIN as i128), [110, 8, 1, 0, 0, 0, 0, 0, 0, 0, 128]);
    assert_eq!(
        enc(u64::MAX as i128),
        [110, 8, 0, 255, 255, 255, 255, 255, 255, 255, 255]
    );
    assert_eq!(enc(-(1i128 << 100)).len(), 3 + 13);
    // A 300-byte magnitude needs LARGE_BIG.
    let mut out = Vec::new();
    let mut mag = vec![0u8; 300];
    mag[299] = 1;
    Encoder::new(&mut out).big(true, &mag).unwrap();
    assert_eq!(&out[..6], [111, 0, 0, 1, 44, 1]);
}

#[test]
fn bignums_decode_to_int_or_big() {
    let t = dec(&[131, 110, 8, 1, 0, 0, 0, 0, 0, 0, 0, 128]);
    assert_eq!(t.as_i64(), Some(i64::MIN));
    let t = dec(&[131, 110, 8, 0, 0, 0, 0, 0, 0, 0, 0, 128]);
    let Term::Big(b) = t else { panic!("{t:?}") };
    assert_eq!(b.to_i128(), Some(1 << 63));
    let t = dec(&[131, 110, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    let Term::Big(b) = t else { panic!("{t:?}") };
    assert_eq!(b.to_i128(), Some(1 << 64));
    assert_eq!(b.to_i64(), None);
    // Zero-length and negative-zero bignums are 0; high zero bytes are dropped.
    assert_eq!(dec(&[131, 110, 0, 0]), Term::Int(0));
    assert_eq!(dec(&[131, 110, 2, 1, 0, 0]), Term::Int(0));
    assert_eq!(dec(&[131, 111, 0, 0, 0, 3, 0, 5, 0, 0]), Term::Int(5));
    // Any non-zero sign byte is negative.
    assert_eq!(dec(&[131, 110, 1, 7, 5]), Term::Int(-5));
}

#[test]
fn negative_integers_in_lists_stay_integers() {
    // eetf 0.12 turns [-1] into a byte string.
    let mut out = Vec::new();
    let mut enc = Encoder::new(&mut out);
    enc.version().unwrap();
    enc.list_header(1).unwrap();
    enc.int(-1).unwrap();
    enc.nil().unwrap();
    assert_eq!(out, [131, 108, 0, 0, 0, 1, 98, 255, 255, 255, 255, 106]);
    let t = dec(&out);
    assert_eq!(reencode(&t, false), out);
    // A list of bytes becomes a STRING, as OTP writes it.
    let t = dec(&[131, 108, 0, 0, 0, 2, 97, 104, 97, 105, 106]);
    assert_eq!(reencode(&t, false), [131, 107, 0, 2, 104, 105]);
    assert_eq!(t, dec(&[131, 107, 0, 2, 104, 105]));
}

#[test]
fn list_tails_that_are_lists_concatenate() {
    // [1 | [2 | "c"]] written as nested LIST tails, equal to [1, 2, 99].
    let t = dec(&[
        131, 108, 0, 0, 0, 1, 97, 1, 108, 0, 0, 0, 1, 97, 2, 107, 0, 1, 99,
    ]);
    assert_eq!(t, dec(&[131, 107, 0, 3, 1, 2, 99]));
    assert!(t.as_list().unwrap().is_proper());
    // A zero-length LIST is just its tail.
    assert_eq!(dec(&[131, 108, 0, 0, 0, 0, 97, 7]), Term::Int(7));
    assert_eq!(dec(&[131, 108, 0, 0, 0, 0, 106]), Term::Nil);
    assert_eq!(dec(&[131, 107, 0, 0]), Term::Nil);
}

#[test]
fn atoms_compare_by_character_across_encodings() {
    let latin1 = dec(&[131, 100, 0, 2, b'h', 0xe9]);
    let utf8 = dec(&[131, 119, 3, b'h', 0xc3, 0xa9]);
    assert_eq!(latin1, utf8);
    let a = latin1.as_atom().unwrap();
    assert!(a.is_latin1());
    assert_eq!(a.as_str(), None, "not borrowable as UTF-8");
    assert_eq!(a, "hé");
    assert_eq!(a.to_string(), "hé");
    assert_eq!(utf8.as_atom().unwrap().as_str(), Some("hé"));
    assert_eq!(
        dec(&[131, 115, 2, b'o', b'k']).as_atom().unwrap().as_str(),
        Some("ok")
    );
    // Re-encoded without the legacy option: UTF-8.
    assert_eq!(reencode(&latin1, false), [131, 119, 3, b'h', 0xc3, 0xa9]);
    assert_eq!(reencode(&utf8, true), [131, 100, 0, 2, b'h', 0xe9]);
    // Unicode beyond Latin-1 stays UTF-8 in legacy mode, as OTP 25 writes it.
    let snow = dec(&[131, 119, 3, 0xe2, 0x98, 0x83]);
    assert_eq!(reencode(&snow, true), [131, 119, 3, 0xe2, 0x98, 0x83]);
}

#[test]
fn floats_and_bitstrings_round_trip() {
    let f = dec(&[131, 70, 64, 9, 33, 251, 84, 68, 45, 24]);
    assert_eq!(f.as_f64(), Some(std::f64::consts::PI));
    let bits = [131, 77, 0, 0, 0, 2, 3, 0xff, 0b1110_0000];
    assert_eq!(reencode(&dec(&bits), false), bits);
    // Unused low bits are zeroed on encode and ignored by equality.
    let dirty = [131, 77, 0, 0, 0, 2, 3, 0xff, 0b1111_1111];
    assert_eq!(dec(&dirty), dec(&bits));
    assert_eq!(reencode(&dec(&dirty), false), bits);
    let mut out = Vec::new();
    let e = Encoder::new(&mut out).float(f64::NAN).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidFloat);
}

#[test]
fn pids_ports_refs_round_trip() {
    let node = b"\x77\x0dnonode@nohost";
    let mut pid = vec![131, 88];
    pid.extend_from_slice(node);
    pid.extend_from_slice(&[0, 0, 0, 80, 0, 0, 0, 0, 0, 0, 0, 0]);
    let mut reference = vec![131, 90, 0, 3];
    reference.extend_from_slice(node);
    reference.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]);
    let mut port = vec![131, 89];
    port.extend_from_slice(node);
    port.extend_from_slice(&[0, 0, 0, 3, 0, 0, 0, 0]);
    for b in [pid, reference, port] {
        let t = dec(&b);
        assert_eq!(reencode(&t, false), b, "{t:?}");
    }
    let Term::Pid(p) = dec(&[131, 103, 119, 1, b'n', 0, 0, 0, 7, 0, 0, 0, 1, 2]) else {
        panic!()
    };
    assert_eq!((p.id, p.serial, p.creation), (7, 1, 2));
    assert_eq!(p.node, "n");
}

#[test]
fn map_keys_sorted_in_term_order_on_request() {
    // %{b: 1, "a" => 2, 1 => 3, 1.0 => 4}: number < atom < binary; 1 before 1.0.
    let mut src = Vec::new();
    let mut enc = Encoder::new(&mut src);
    enc.version().unwrap();
    enc.map_header(4).unwrap();
    enc.atom("b").unwrap();
    enc.int(1).unwrap();
    enc.binary(b"a").unwrap();
    enc.int(2).unwrap();
    enc.float(1.0).unwrap();
    enc.int(4).unwrap();
    enc.int(1).unwrap();
    enc.int(3).unwrap();
    let t = dec(&src);
    let mut out = Vec::new();
    let mut enc = Encoder::with_options(&mut out, EncodeOptions::new().sort_map_keys(true));
    enc.version().unwrap();
    enc.term(&t).unwrap();
    let sorted = dec(&out);
    let vals: Vec<i64> = sorted
        .as_map()
        .unwrap()
        .iter()
        .map(|(_, v)| v.as_i64().unwrap())
        .collect();
    assert_eq!(vals, [3, 4, 1, 2]);
    assert_eq!(sorted, t, "same map, other order");
}

#[test]
fn encoding_into_a_full_slice_fails_cleanly() {
    let t = dec(OTP25[4]);
    let mut small = [0u8; 10];
    let mut sink = SliceSink::new(&mut small);
    let e = etf::encode(&t, &mut sink).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BufferFull);
    let mut exact = [0u8; 35];
    let mut sink = SliceSink::new(&mut exact);
    etf::encode(&t, &mut sink).unwrap();
    assert_eq!(dec(sink.written()), t);
}

#[test]
fn deep_duplicate_keys_at_the_depth_limit() {
    // Two equal keys nested 255 deep (the deepest a policy allows, with the
    // map around them): the comparison must not blow the stack.
    let mut key = Vec::new();
    for _ in 0..etf::MAX_DEPTH_LIMIT - 1 {
        key.extend_from_slice(&[104, 1]);
    }
    key.push(106);
    let mut m = vec![131, 116, 0, 0, 0, 2];
    for v in [1u8, 2] {
        m.extend_from_slice(&key);
        m.extend_from_slice(&[97, v]);
    }
    let p = SafePolicy::new().max_depth(etf::MAX_DEPTH_LIMIT);
    let e = etf::decode(&m, &p).unwrap_err();
    assert_eq!(
        (e.kind(), e.offset()),
        (ErrorKind::DuplicateMapKey, 6 + key.len() + 2)
    );
}

#[test]
fn charlists_longer_than_65535_become_lists() {
    let bytes = vec![7u8; 70_000];
    let mut out = Vec::new();
    let mut enc = Encoder::new(&mut out);
    enc.version().unwrap();
    enc.charlist(&bytes).unwrap();
    assert_eq!(&out[..6], [131, 108, 0, 1, 17, 112]);
    let t = dec(&out);
    assert_eq!(t.as_list().unwrap().iter().count(), 70_000);
}

#[test]
fn walk_visits_every_term_once_in_written_order() {
    // {ok, [1 | 2], %{"a" => {}}, "hi"} with a LARGE_TUPLE of arity 2 inside.
    let mut b = Vec::new();
    let mut e = Encoder::new(&mut b);
    e.version().unwrap();
    e.tuple_header(4).unwrap();
    e.atom("ok").unwrap();
    e.list_header(1).unwrap();
    e.int(1).unwrap();
    e.int(2).unwrap();
    e.map_header(1).unwrap();
    e.binary(b"a").unwrap();
    e.tuple_header(0).unwrap();
    e.charlist(b"hi").unwrap();
    let t = dec(&b);
    let kinds: Vec<String> = t
        .walk()
        .map(|x| format!("{x:?}").chars().take(4).collect())
        .collect();
    assert_eq!(
        kinds,
        ["Tupl", "Atom", "List", "Int(", "Int(", "Map(", "Bina", "Tupl", "Char"]
    );
    // Its count matches a walk through the container iterators.
    fn count(t: &Term<'_>) -> usize {
        1 + match *t {
            Term::List(l) => {
                l.iter().map(|e| count(&e)).sum::<usize>() + l.tail().map_or(1, |t| count(&t))
            }
            Term::Tuple(tu) => tu.iter().map(|e| count(&e)).sum(),
            Term::Map(m) => m.iter().map(|(k, v)| count(&k) + count(&v)).sum(),
            _ => 0,
        }
    }
    assert_eq!(t.walk().count(), count(&t));
    // A LARGE_TUPLE of small arity, nested as a walk root.
    let large = [131, 105, 0, 0, 0, 2, 97, 1, 104, 1, 97, 2];
    let t = dec(&large);
    assert_eq!(t.walk().count(), 4); // {1, {2}}
    let inner = t.as_tuple().unwrap().get(1).unwrap();
    assert_eq!(
        inner.walk().filter_map(|x| x.as_i64()).collect::<Vec<_>>(),
        [2]
    );
    // A leaf walks as itself.
    assert_eq!(dec(&[131, 97, 7]).walk().count(), 1);
}

#[test]
fn atoms_are_written_by_their_characters_at_every_length() {
    // ASCII names are copied as they are; a name with one non-ASCII
    // character anywhere (the encoder tests short names by whole words)
    // is transcoded to Latin-1 for ATOM_EXT, or written as UTF-8.
    for len in 0..=40usize {
        for special in (0..len).map(Some).chain([None]) {
            let name: String = (0..len)
                .map(|i| {
                    if Some(i) == special {
                        'é'
                    } else {
                        (b'a' + (i % 26) as u8) as char
                    }
                })
                .collect();
            let latin1: Vec<u8> = name.chars().map(|c| c as u32 as u8).collect();
            let mut legacy = vec![131, 100, 0, len as u8];
            legacy.extend_from_slice(&latin1);
            let mut utf8 = vec![131, 119, name.len() as u8];
            utf8.extend_from_slice(name.as_bytes());
            for (opts, want) in [
                (EncodeOptions::new().legacy_atoms(true), legacy),
                (EncodeOptions::new(), utf8),
            ] {
                let mut out = Vec::new();
                let mut e = Encoder::with_options(&mut out, opts);
                e.version().unwrap();
                e.atom(&name).unwrap();
                assert_eq!(out, want, "{name:?}");
            }
        }
    }
}
