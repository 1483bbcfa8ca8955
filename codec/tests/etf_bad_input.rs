//! One test per item of the "safe" list (spec etf.md section 4) and per
//! known eetf failure: each must be a typed error at the right offset, the
//! same from `etf::decode` and from `etf::visit`.

use phoenix_wire::etf::{self, SafePolicy, Term};
use phoenix_wire::ErrorKind::{self, *};

mod common;

/// `etf::decode`, checked against `etf::visit` (see `common`).
fn decode<'a>(bytes: &'a [u8], policy: &SafePolicy<'_>) -> Result<Term<'a>, phoenix_wire::Error> {
    common::decode_and_visit(bytes, policy).map(|(t, _)| t)
}

fn fails(bytes: &[u8], policy: &SafePolicy<'_>) -> (ErrorKind, usize) {
    let e = decode(bytes, policy).expect_err("must be rejected");
    (e.kind(), e.offset())
}

fn fails_default(bytes: &[u8]) -> (ErrorKind, usize) {
    fails(bytes, &SafePolicy::new())
}

// ----- envelope -----

#[test]
fn empty_input_and_bad_version() {
    assert_eq!(fails_default(&[]), (UnexpectedEof, 0));
    assert_eq!(fails_default(&[130, 97, 1]), (BadVersion(130), 0));
    assert_eq!(fails_default(&[131]), (UnexpectedEof, 1));
}

#[test]
fn distribution_header_is_not_a_term() {
    // eetf 0.12 panics on these two.
    assert_eq!(fails_default(&[131, 68]), (DistributionHeader, 1));
    assert_eq!(fails_default(&[131, 68, 0, 0, 0]), (DistributionHeader, 1));
}

#[test]
fn atom_cache_ref_is_rejected() {
    assert_eq!(fails_default(&[131, 82, 0]), (AtomCacheRef, 1));
    assert_eq!(fails_default(&[131, 104, 1, 82, 0]), (AtomCacheRef, 3));
}

#[test]
fn local_ext_is_rejected() {
    assert_eq!(fails_default(&[131, 121, 0, 0, 0, 0]), (LocalExt, 1));
}

#[test]
fn unknown_tags_are_rejected() {
    for t in [0u8, 65, 69, 71, 81, 122, 200, 255] {
        assert_eq!(fails_default(&[131, t]), (UnknownTag(t), 1), "tag {t}");
    }
    // A distribution header inside a term is just an unknown tag.
    assert_eq!(fails_default(&[131, 104, 1, 68]), (UnknownTag(68), 3));
}

#[test]
fn compressed_term_needs_the_inflating_entry_point() {
    let bytes = [131, 80, 0, 0, 0, 2, 120, 156, 75, 100, 0, 0, 0, 200, 0, 98];
    assert_eq!(fails_default(&bytes), (UnsupportedCompression, 1));
    // Tag 80 anywhere but first is never valid.
    assert_eq!(
        fails_default(&[131, 104, 1, 80, 0, 0, 0, 1]),
        (UnsupportedCompression, 3)
    );
}

// ----- 1. atoms -----

#[test]
fn allow_list_rejects_unknown_atoms_in_every_encoding() {
    let p = SafePolicy::new().allow_atoms(&["ok", "é"]);
    assert!(decode(&[131, 119, 2, b'o', b'k'], &p).is_ok());
    assert!(decode(&[131, 100, 0, 2, b'o', b'k'], &p).is_ok());
    assert!(
        decode(&[131, 115, 1, 0xe9], &p).is_ok(),
        "Latin-1 é matches UTF-8 \"é\""
    );
    assert!(decode(&[131, 118, 0, 2, 0xc3, 0xa9], &p).is_ok());
    assert_eq!(fails(&[131, 119, 2, b'o', b'x'], &p), (AtomNotAllowed, 1));
    assert_eq!(fails(&[131, 100, 0, 1, b'o'], &p), (AtomNotAllowed, 1));
    assert_eq!(
        fails(&[131, 104, 2, 97, 1, 115, 3, b'o', b'k', b'k'], &p),
        (AtomNotAllowed, 5)
    );
    // The default accepts any atom (views are borrowed, nothing is interned).
    assert!(decode(&[131, 119, 3, b'a', b'n', b'y'], &SafePolicy::new()).is_ok());
}

#[test]
fn allow_list_applies_to_node_names() {
    // <0.1.0> on 'evil@host'
    let mut pid = vec![131, 88, 119, 9];
    pid.extend_from_slice(b"evil@host");
    pid.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    let p = SafePolicy::new()
        .allow_pids_ports_refs(true)
        .allow_atoms(&["nonode@nohost"]);
    assert_eq!(fails(&pid, &p), (AtomNotAllowed, 2));
    assert!(decode(&pid, &SafePolicy::new().allow_pids_ports_refs(true)).is_ok());
}

#[test]
fn atoms_longer_than_255_characters() {
    let mut a = vec![131, 100, 1, 0];
    a.extend(std::iter::repeat(b'a').take(256));
    assert_eq!(fails_default(&a), (AtomTooLong, 1));
    // 255 two-byte characters are fine in ATOM_UTF8_EXT, 256 are not.
    let mut ok = vec![131, 118, 1, 254];
    ok.extend("é".repeat(255).bytes());
    assert!(decode(&ok, &SafePolicy::new()).is_ok());
    let mut long = vec![131, 118, 2, 0];
    long.extend("é".repeat(256).bytes());
    assert_eq!(fails_default(&long), (AtomTooLong, 1));
}

#[test]
fn invalid_utf8_in_utf8_atoms() {
    assert_eq!(
        fails_default(&[131, 119, 3, b'a', 0xff, b'b']),
        (InvalidUtf8, 4)
    );
    assert_eq!(
        fails_default(&[131, 118, 0, 2, 0xc3, 0x28]),
        (InvalidUtf8, 4)
    );
    // The same bytes are a fine Latin-1 atom.
    let t = decode(&[131, 115, 3, b'a', 0xff, b'b'], &SafePolicy::new()).unwrap();
    assert_eq!(t.as_atom().unwrap().to_string(), "aÿb");
}

// ----- 2. executable and identity terms -----

#[test]
fn funs_and_exports_are_never_accepted() {
    let lenient = SafePolicy::new().allow_pids_ports_refs(true).strict(false);
    for t in [112u8, 113, 117] {
        assert_eq!(
            fails(&[131, t, 0, 0, 0, 0], &lenient),
            (ExecutableTerm, 1),
            "tag {t}"
        );
        assert_eq!(
            fails(&[131, 108, 0, 0, 0, 1, t, 0, 0, 0, 0], &lenient),
            (ExecutableTerm, 6)
        );
    }
    // fun erlang:node/0 as OTP writes it: an EXPORT.
    let export = [
        131, 113, 100, 0, 6, 101, 114, 108, 97, 110, 103, 100, 0, 4, 110, 111, 100, 101, 97, 0,
    ];
    assert_eq!(fails(&export, &lenient), (ExecutableTerm, 1));
}

fn pid_port_ref_samples() -> Vec<(u8, Vec<u8>)> {
    let node = [
        119, 13, b'n', b'o', b'n', b'o', b'd', b'e', b'@', b'n', b'o', b'h', b'o', b's', b't',
    ];
    let with = |tag: u8, pre: &[u8], post: &[u8]| {
        let mut v = vec![131, tag];
        v.extend_from_slice(pre);
        v.extend_from_slice(&node);
        v.extend_from_slice(post);
        (tag, v)
    };
    vec![
        with(88, &[], &[0, 0, 0, 80, 0, 0, 0, 0, 0, 0, 0, 0]),
        with(103, &[], &[0, 0, 0, 80, 0, 0, 0, 0, 0]),
        with(89, &[], &[0, 0, 0, 3, 0, 0, 0, 0]),
        with(102, &[], &[0, 0, 0, 3, 0]),
        with(120, &[], &[0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0]),
        with(
            90,
            &[0, 3],
            &[0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3],
        ),
        with(114, &[0, 1], &[0, 0, 0, 0, 9]),
        with(101, &[], &[0, 0, 0, 9, 0]),
    ]
}

#[test]
fn pids_ports_refs_only_when_allowed() {
    let allow = SafePolicy::new().allow_pids_ports_refs(true);
    for (tag, bytes) in pid_port_ref_samples() {
        assert_eq!(fails_default(&bytes), (DisallowedTerm(tag), 1), "tag {tag}");
        let t = decode(&bytes, &allow).unwrap_or_else(|e| panic!("tag {tag}: {e}"));
        assert!(matches!(t, Term::Pid(_) | Term::Port(_) | Term::Ref(_)));
    }
}

#[test]
fn references_with_more_than_five_words() {
    let mut r = vec![131, 90, 0, 6, 119, 1, b'n', 0, 0, 0, 0];
    r.extend([0u8; 24]);
    let allow = SafePolicy::new().allow_pids_ports_refs(true);
    assert_eq!(fails(&r, &allow), (InvalidTerm, 2));
    assert_eq!(
        fails(&[131, 90, 0, 0, 119, 1, b'n', 0, 0, 0, 0], &allow),
        (InvalidTerm, 2)
    );
    // A node that is not an atom.
    assert_eq!(
        fails(
            &[131, 88, 97, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            &allow
        ),
        (InvalidTerm, 2)
    );
}

// ----- 3. lengths against remaining bytes -----

#[test]
fn huge_declared_lengths_are_rejected_before_reading() {
    // eetf 0.12 reserves attacker-sized buffers for the first one.
    let cases: [(&[u8], usize); 9] = [
        (&[131, 108, 255, 255, 255, 255], 2),
        (&[131, 108, 255, 255, 255, 255, 97, 1, 106], 2),
        (&[131, 109, 255, 255, 255, 255, 0], 2),
        (&[131, 77, 255, 255, 255, 255, 1, 0], 2),
        (&[131, 105, 255, 255, 255, 255, 97, 1], 2),
        (&[131, 116, 127, 255, 255, 255, 97, 1, 97, 2], 2),
        (&[131, 107, 255, 255, 1], 2),
        (&[131, 111, 255, 255, 255, 255, 0, 1], 2),
        (&[131, 104, 255, 97, 1], 2),
    ];
    for (bytes, off) in cases {
        assert_eq!(fails_default(bytes), (UnexpectedEof, off), "{bytes:?}");
    }
}

#[test]
fn every_truncation_of_a_valid_term_is_an_error() {
    // %{"a" => [1, 2.5, :foo], "b" => {<<1,2,3>>, 70000, -1, 2^64}}
    let full: &[u8] = &[
        131, 116, 0, 0, 0, 2, 109, 0, 0, 0, 1, 97, 108, 0, 0, 0, 3, 97, 1, 70, 64, 4, 0, 0, 0, 0,
        0, 0, 100, 0, 3, 102, 111, 111, 106, 109, 0, 0, 0, 1, 98, 104, 4, 109, 0, 0, 0, 3, 1, 2, 3,
        98, 0, 1, 17, 112, 98, 255, 255, 255, 255, 110, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
    ];
    assert!(decode(full, &SafePolicy::new()).is_ok());
    for n in 0..full.len() {
        let e = decode(&full[..n], &SafePolicy::new()).unwrap_err();
        assert_eq!(e.kind(), UnexpectedEof, "prefix {n}");
        assert!(e.offset() <= n, "prefix {n}: offset {}", e.offset());
    }
}

// ----- 4. depth -----

#[test]
fn a_million_nested_tuples_hit_the_depth_limit() {
    let mut deep = vec![131];
    for _ in 0..1_000_000 {
        deep.extend_from_slice(&[104, 1]);
    }
    deep.push(106);
    // The 129th tuple opens at 1 + 2 * 128.
    assert_eq!(fails_default(&deep), (DepthLimitExceeded, 257));
    let p = SafePolicy::new().max_depth(10);
    assert_eq!(fails(&deep, &p), (DepthLimitExceeded, 21));
    // Limits above MAX_DEPTH_LIMIT are lowered to it.
    let p = SafePolicy::new().max_depth(usize::MAX);
    assert_eq!(
        fails(&deep, &p),
        (DepthLimitExceeded, 1 + 2 * etf::MAX_DEPTH_LIMIT)
    );
}

#[test]
fn deep_lists_and_maps_hit_the_depth_limit_too() {
    let mut deep = vec![131];
    for _ in 0..200 {
        deep.extend_from_slice(&[108, 0, 0, 0, 1]);
    }
    deep.push(106);
    deep.extend(std::iter::repeat(106).take(200));
    assert_eq!(fails_default(&deep), (DepthLimitExceeded, 1 + 5 * 128));
    let mut maps = vec![131];
    for _ in 0..200 {
        maps.extend_from_slice(&[116, 0, 0, 0, 1, 97, 1]);
    }
    maps.push(106);
    assert_eq!(fails_default(&maps), (DepthLimitExceeded, 1 + 7 * 128));
    // Exactly at the limit is fine.
    let mut ok = vec![131];
    for _ in 0..128 {
        ok.extend_from_slice(&[104, 1]);
    }
    ok.push(106);
    assert!(decode(&ok, &SafePolicy::new()).is_ok());
}

// ----- 6. values -----

#[test]
fn non_finite_floats() {
    for bits in [
        f64::NAN.to_bits(),
        f64::INFINITY.to_bits(),
        f64::NEG_INFINITY.to_bits(),
        0x7ff0_0000_0000_0001,
    ] {
        let mut b = vec![131, 70];
        b.extend_from_slice(&bits.to_be_bytes());
        assert_eq!(fails_default(&b), (InvalidFloat, 1));
    }
    let neg_zero = [131, 70, 128, 0, 0, 0, 0, 0, 0, 0];
    assert_eq!(
        decode(&neg_zero, &SafePolicy::new())
            .unwrap()
            .as_f64()
            .map(f64::to_bits),
        Some((-0.0f64).to_bits())
    );
}

fn old_float(text: &str) -> Vec<u8> {
    let mut b = vec![131, 99];
    b.extend_from_slice(text.as_bytes());
    b.resize(33, 0);
    b
}

#[test]
fn old_floats_are_read_as_f64() {
    // eetf 0.12 reads FLOAT_EXT as f32, losing precision.
    let f = |text: &str| {
        decode(&old_float(text), &SafePolicy::new())
            .unwrap()
            .as_f64()
    };
    assert_eq!(f("1.00000000000000005551e-01"), Some(0.1));
    assert_eq!(
        f("-3.14159265358979311600e+00"),
        Some(-std::f64::consts::PI)
    );
    assert_eq!(fails_default(&old_float("nan")), (InvalidFloat, 1));
    assert_eq!(fails_default(&old_float("1e999")), (InvalidFloat, 1));
    assert_eq!(fails_default(&old_float("abc")), (InvalidFloat, 1));
    assert_eq!(fails_default(&old_float("")[..20]), (UnexpectedEof, 2));
}

#[test]
fn bad_bit_counts() {
    assert_eq!(
        fails_default(&[131, 77, 0, 0, 0, 1, 0, 255]),
        (InvalidBitCount, 6)
    );
    assert_eq!(
        fails_default(&[131, 77, 0, 0, 0, 1, 9, 255]),
        (InvalidBitCount, 6)
    );
    assert_eq!(
        fails_default(&[131, 77, 0, 0, 0, 0, 3]),
        (InvalidBitCount, 6)
    );
    let t = decode(&[131, 77, 0, 0, 0, 1, 3, 0b1010_0000], &SafePolicy::new()).unwrap();
    let Term::BitBinary(b) = t else {
        panic!("{t:?}")
    };
    assert_eq!((b.bytes(), b.last_bits()), (&[0b1010_0000][..], 3));
    // Eight bits of the last byte, or no bytes at all: a binary.
    assert!(matches!(
        decode(&[131, 77, 0, 0, 0, 1, 8, 7], &SafePolicy::new()).unwrap(),
        Term::Binary([7])
    ));
    assert!(matches!(
        decode(&[131, 77, 0, 0, 0, 0, 0], &SafePolicy::new()).unwrap(),
        Term::Binary([])
    ));
}

#[test]
fn duplicate_map_keys_whatever_their_encoding() {
    // %{"a" => 1, "a" => 2}
    let dup = [
        131, 116, 0, 0, 0, 2, 109, 0, 0, 0, 1, 97, 97, 1, 109, 0, 0, 0, 1, 97, 97, 2,
    ];
    assert_eq!(fails_default(&dup), (DuplicateMapKey, 14));
    // 'a' as ATOM_EXT and as SMALL_ATOM_UTF8_EXT
    assert_eq!(
        fails_default(&[131, 116, 0, 0, 0, 2, 100, 0, 1, 97, 97, 1, 119, 1, 97, 97, 2]),
        (DuplicateMapKey, 12)
    );
    // 1 as SMALL_INTEGER, INTEGER and SMALL_BIG
    assert_eq!(
        fails_default(&[131, 116, 0, 0, 0, 2, 97, 1, 106, 98, 0, 0, 0, 1, 106]),
        (DuplicateMapKey, 9)
    );
    assert_eq!(
        fails_default(&[131, 116, 0, 0, 0, 2, 110, 1, 0, 1, 106, 97, 1, 106]),
        (DuplicateMapKey, 11)
    );
    // "ab" as STRING_EXT and as LIST_EXT of integers
    let s = [
        131, 116, 0, 0, 0, 2, 107, 0, 2, 97, 98, 106, 108, 0, 0, 0, 2, 97, 97, 97, 98, 106, 106,
    ];
    assert_eq!(fails_default(&s), (DuplicateMapKey, 12));
    // {1, 2} twice, and 1 vs 1.0 (distinct keys under =:=).
    let t = [
        131, 116, 0, 0, 0, 2, 104, 2, 97, 1, 97, 2, 106, 104, 2, 97, 1, 97, 2, 106,
    ];
    assert_eq!(fails_default(&t), (DuplicateMapKey, 13));
    let mut f = vec![131, 116, 0, 0, 0, 2, 97, 1, 106, 70];
    f.extend_from_slice(&1.0f64.to_be_bytes());
    f.push(106);
    assert!(decode(&f, &SafePolicy::new()).is_ok());
}

#[test]
fn duplicate_keys_in_large_maps() {
    for n in [33u32, 100, 1000] {
        let mut m = vec![131, 116];
        m.extend_from_slice(&n.to_be_bytes());
        let mut dup_at = 0;
        for i in 0..n {
            if i == n - 1 {
                dup_at = m.len();
            }
            // The last key repeats key 7 (as an INTEGER instead of SMALL_INTEGER).
            let k = if i == n - 1 { 7 } else { i };
            m.push(98);
            m.extend_from_slice(&k.to_be_bytes());
            m.push(106);
        }
        assert_eq!(fails_default(&m), (DuplicateMapKey, dup_at), "n = {n}");
        // Without the duplicate it decodes, and every pair is there.
        let last = m.len() - 6;
        m[last + 1..last + 5].copy_from_slice(&n.to_be_bytes());
        let t = decode(&m, &SafePolicy::new()).unwrap();
        assert_eq!(t.as_map().unwrap().iter().count(), n as usize);
    }
}

// Without an allocator the duplicate check of a map over 32 keys is
// quadratic (documented); with one it sorts hashes.
#[cfg(feature = "alloc")]
#[test]
fn many_distinct_keys_are_quick() {
    // 200,000 keys: a quadratic check would take minutes.
    let n = 200_000u32;
    let mut m = vec![131, 116];
    m.extend_from_slice(&n.to_be_bytes());
    for i in 0..n {
        m.push(98);
        m.extend_from_slice(&i.to_be_bytes());
        m.push(106);
    }
    let t = decode(&m, &SafePolicy::new()).unwrap();
    assert_eq!(t.as_map().unwrap().len(), n as usize);
}

// ----- 7. trailing bytes -----

#[test]
fn trailing_bytes_rejected_or_reported() {
    let b = [131, 97, 1, 131, 97, 2];
    assert_eq!(fails_default(&b), (TrailingBytes, 3));
    let (t, used) = etf::decode_used(&b, &SafePolicy::new().strict(false)).unwrap();
    assert_eq!((t.as_i64(), used), (Some(1), 3));
    assert_eq!(etf::decode_used(&b[..3], &SafePolicy::new()).unwrap().1, 3);
}
