//! `etf::visit` against `etf::decode` + `Term::walk`: on random terms, on
//! random corruptions of them, on deep nesting around the validator's
//! 16-level chunks, and on maps whose duplicate keys take the direct
//! comparison or the general one. Same verdict, same error kind and offset,
//! and on success the same terms in the same order.

use phoenix_wire::etf::{self, Encoder, SafePolicy, Term};
use phoenix_wire::ErrorKind;

mod common;

use common::Rng;

/// Runs both and asserts they agree (see `common`); returns whether the
/// bytes decoded.
fn agree(bytes: &[u8], policy: &SafePolicy<'_>) -> bool {
    common::decode_and_visit(bytes, policy).is_ok()
}

fn policies() -> [SafePolicy<'static>; 4] {
    static ALLOW: [&str; 4] = ["ok", "error", "nonode@nohost", "hé"];
    [
        SafePolicy::new(),
        SafePolicy::new().allow_pids_ports_refs(true).strict(false),
        SafePolicy::new().allow_atoms(&ALLOW).max_depth(5),
        SafePolicy::new()
            .allow_pids_ports_refs(true)
            .max_depth(etf::MAX_DEPTH_LIMIT),
    ]
}

const ATOMS: [&str; 6] = ["ok", "error", "hé", "nonode@nohost", "日本", ""];

/// A random term of every kind the encoder writes, up to `depth` levels.
fn term(r: &mut Rng, depth: u32, e: &mut Encoder<'_, Vec<u8>>) {
    let leaf = depth == 0 || r.below(3) > 0;
    let kind = if leaf { r.below(12) } else { 12 + r.below(5) };
    match kind {
        0 => e.int(r.below(300) as i64),
        1 => e.int(r.next() as i64),
        2 => e.int128(i128::from(r.next()) << 40),
        3 => e.float(r.below(1000) as f64 / 7.0),
        4 => e.atom(ATOMS[r.below(ATOMS.len() as u64) as usize]),
        5 => e.binary(&b"fedecks"[..r.below(8) as usize]),
        6 => e.bit_binary(&[0xff, 0xa0], 1 + r.below(7) as u8),
        7 => e.charlist(&b"token_please"[..r.below(13) as usize]),
        8 => e.nil(),
        9 => e.pid("nonode@nohost", 80, 1, 2),
        10 => e.port("nonode@nohost", r.next(), 3),
        11 => e.reference("nonode@nohost", 1, &[1, 2, 3][..1 + r.below(3) as usize]),
        12 => {
            let n = r.below(5) as usize;
            e.tuple_header(n).unwrap();
            for _ in 0..n {
                term(r, depth - 1, e);
            }
            Ok(())
        }
        13 => {
            // LARGE_TUPLE_EXT: past 255 elements.
            let n = 256 + r.below(4) as usize;
            e.tuple_header(n).unwrap();
            (0..n).try_for_each(|i| e.int(i as i64))
        }
        14 => {
            let n = 1 + r.below(4) as usize;
            e.list_header(n).unwrap();
            for _ in 0..n {
                term(r, depth - 1, e);
            }
            // Proper, improper, or continued by another list.
            term(r, depth - 1, e);
            Ok(())
        }
        15 => {
            // Keys are small integers 0..n (distinct) or a repeated one.
            let n = r.below(6) as usize;
            e.map_header(n).unwrap();
            let dup = r.below(4) == 0;
            for i in 0..n {
                e.int(if dup { 0 } else { i as i64 }).unwrap();
                term(r, depth - 1, e);
            }
            Ok(())
        }
        _ => {
            // An empty LIST_EXT: just its tail.
            e.list_header(0).unwrap();
            term(r, depth - 1, e);
            Ok(())
        }
    }
    .unwrap();
}

#[test]
fn random_terms_and_their_corruptions() {
    let mut r = Rng(0x5eed_cafe_f00d_0001);
    let (mut ok, mut bad) = (0, 0);
    for _ in 0..3000 {
        let mut bytes = Vec::new();
        let mut e = Encoder::new(&mut bytes);
        e.version().unwrap();
        let depth = r.below(7) as u32;
        term(&mut r, depth, &mut e);
        for p in &policies() {
            if agree(&bytes, p) {
                ok += 1;
            } else {
                bad += 1;
            }
        }
        // Corruptions: a changed byte, a truncation, an extra byte.
        for _ in 0..4 {
            let mut c = bytes.clone();
            let at = r.below(c.len() as u64) as usize;
            match r.below(3) {
                0 => c[at] = r.next() as u8,
                1 => c.truncate(at),
                _ => c.insert(at, r.next() as u8),
            }
            for p in &policies() {
                if agree(&c, p) {
                    ok += 1;
                } else {
                    bad += 1;
                }
            }
        }
    }
    // Both verdicts were exercised often.
    assert!(ok > 5000 && bad > 5000, "ok {ok}, bad {bad}");
}

#[test]
fn nesting_around_the_chunk_size_and_the_depth_limit() {
    for depth in [1usize, 15, 16, 17, 31, 32, 33, 127, 128, 129, 255, 256, 257] {
        // Tuples, lists and maps nested `depth` deep, a leaf innermost.
        for kind in 0..3 {
            let mut b = vec![131];
            for _ in 0..depth {
                match kind {
                    0 => b.extend_from_slice(&[104, 1]),
                    1 => b.extend_from_slice(&[108, 0, 0, 0, 1]),
                    _ => b.extend_from_slice(&[116, 0, 0, 0, 1, 97, 1]),
                }
            }
            b.extend_from_slice(&[97, 7]);
            if kind == 1 {
                b.extend(std::iter::repeat(106).take(depth));
            }
            for p in &policies() {
                let accepted = agree(&b, p);
                let limit = if p == &policies()[2] {
                    5
                } else if p == &policies()[3] {
                    etf::MAX_DEPTH_LIMIT
                } else {
                    etf::DEFAULT_MAX_DEPTH
                };
                assert_eq!(accepted, depth <= limit, "depth {depth} kind {kind}");
            }
        }
    }
}

#[test]
fn an_empty_list_ext_is_seen_as_its_tail_once() {
    // [] written as LIST_EXT of no elements with tail {1}, inside a tuple.
    let b = [131, 104, 1, 108, 0, 0, 0, 0, 104, 1, 97, 1];
    assert!(agree(&b, &SafePolicy::new()));
    let mut seen = Vec::new();
    etf::visit(&b, &SafePolicy::new(), |t| seen.push(t)).unwrap();
    assert_eq!(seen.len(), 3, "{seen:?}"); // {_}, {1}, 1
                                           // At the top, decode returns the tail itself.
    let top = [131, 108, 0, 0, 0, 0, 108, 0, 0, 0, 0, 106];
    assert!(agree(&top, &SafePolicy::new()));
    assert_eq!(
        etf::decode(&top, &SafePolicy::new())
            .unwrap()
            .walk()
            .count(),
        1
    );
}

/// The encodings a map key can take here, with how equal keys group.
fn key_forms() -> Vec<Vec<u8>> {
    vec![
        vec![109, 0, 0, 0, 1, b'a'],         // <<"a">>
        vec![109, 0, 0, 0, 1, b'b'],         // <<"b">>
        vec![77, 0, 0, 0, 1, 8, b'a'],       // <<"a">> as a bitstring
        vec![100, 0, 1, b'a'],               // 'a' (ATOM_EXT)
        vec![115, 1, b'a'],                  // 'a' (SMALL_ATOM_EXT)
        vec![118, 0, 1, b'a'],               // 'a' (ATOM_UTF8_EXT)
        vec![119, 1, b'a'],                  // 'a' (SMALL_ATOM_UTF8_EXT)
        vec![100, 0, 1, 0xe9],               // 'é' Latin-1
        vec![119, 2, 0xc3, 0xa9],            // 'é' UTF-8
        vec![97, 1],                         // 1
        vec![98, 0, 0, 0, 1],                // 1 as INTEGER_EXT
        vec![110, 1, 0, 1],                  // 1 as SMALL_BIG_EXT
        vec![97, 97],                        // 97
        vec![107, 0, 1, b'a'],               // "a" charlist
        vec![108, 0, 0, 0, 1, 97, 97, 106],  // [97]
        vec![106],                           // []
        vec![104, 1, 97, 1],                 // {1}
        vec![70, 63, 240, 0, 0, 0, 0, 0, 0], // 1.0
    ]
}

#[test]
fn duplicate_keys_match_term_equality() {
    let forms = key_forms();
    let mut r = Rng(0x5eed_0000_0000_0002);
    for round in 0..4000 {
        let n = 2 + r.below(if round % 2 == 0 { 6 } else { 40 }) as usize;
        let keys: Vec<usize> = (0..n)
            .map(|_| r.below(forms.len() as u64) as usize)
            .collect();
        // The map, and a tuple of the same keys to compare them by `==`.
        let mut map = vec![131, 116];
        map.extend_from_slice(&(n as u32).to_be_bytes());
        let mut at = Vec::new();
        let mut tuple = vec![131, 105];
        tuple.extend_from_slice(&(n as u32).to_be_bytes());
        for &k in &keys {
            at.push(map.len());
            map.extend_from_slice(&forms[k]);
            map.extend_from_slice(&[97, 0]);
            tuple.extend_from_slice(&forms[k]);
        }
        let t = etf::decode(&tuple, &SafePolicy::new()).unwrap();
        let ks: Vec<Term<'_>> = t.as_tuple().unwrap().iter().collect();
        let first_dup = (1..n).find(|&i| ks[..i].iter().any(|k| *k == ks[i]));
        let verdict = etf::decode(&map, &SafePolicy::new()).map(|_| ());
        match first_dup {
            None => assert!(verdict.is_ok(), "{keys:?}: {verdict:?}"),
            Some(i) => {
                let e = verdict.expect_err("a duplicate");
                assert_eq!(
                    (e.kind(), e.offset()),
                    (ErrorKind::DuplicateMapKey, at[i]),
                    "{keys:?}"
                );
            }
        }
        agree(&map, &SafePolicy::new());
    }
}

#[test]
fn errors_inside_a_tuple_of_leaves_are_where_they_are_alone() {
    // Each element corrupted, inside a tuple {A, B, ...} and alone: the
    // same error, at the same place relative to the element.
    let nan = [70, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0];
    let elements: [&[u8]; 6] = [
        &[97, 1],
        &[98, 0, 0, 1, 0],
        &[109, 0, 0, 0, 2, b'h', b'i'],
        &[70, 64, 4, 0, 0, 0, 0, 0, 0],
        &[119, 2, b'o', b'k'],
        &[106],
    ];
    let bad: [&[u8]; 5] = [
        &nan,
        &[119, 2, 0xff, b'k'],    // invalid UTF-8
        &[109, 0, 0, 0, 9, b'h'], // binary longer than what is left
        &[100, 1, 0, b'a'],       // ATOM_EXT declaring 256 bytes, 1 there
        &[112],                   // a fun
    ];
    for (i, &b) in bad.iter().enumerate() {
        let mut alone = vec![131];
        alone.extend_from_slice(b);
        let e = etf::decode(&alone, &SafePolicy::new()).unwrap_err();
        for before in 0..elements.len() {
            let mut t = vec![131, 104, (before + 2) as u8];
            for el in &elements[..before] {
                t.extend_from_slice(el);
            }
            let at = t.len();
            t.extend_from_slice(b);
            t.extend_from_slice(&[97, 0]);
            let got = etf::decode(&t, &SafePolicy::new()).unwrap_err();
            // A truncated element runs into the bytes after it: only its
            // kind is compared then.
            if i == 2 {
                assert!(!agree(&t, &SafePolicy::new()));
                continue;
            }
            assert_eq!(
                (got.kind(), got.offset()),
                (e.kind(), e.offset() - 1 + at),
                "bad #{i} after {before} elements"
            );
            assert!(!agree(&t, &SafePolicy::new()));
        }
    }
}

#[test]
fn errors_inside_a_small_map_of_leaves_are_where_they_are_alone() {
    // A bad key or value in a map of 1 to 5 pairs (the small ones are read
    // as they open), after some good pairs: the error it gives alone.
    let nan = [70, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0];
    let bad: [&[u8]; 3] = [&nan, &[119, 2, 0xc3, b'('], &[112]];
    for (i, &b) in bad.iter().enumerate() {
        let mut alone = vec![131];
        alone.extend_from_slice(b);
        let e = etf::decode(&alone, &SafePolicy::new()).unwrap_err();
        for pairs in 1..=5u8 {
            for bad_pair in 0..pairs {
                for as_key in [false, true] {
                    let mut m = vec![131, 116, 0, 0, 0, pairs];
                    let mut at = 0;
                    for k in 0..pairs {
                        if k == bad_pair && as_key {
                            at = m.len();
                            m.extend_from_slice(b);
                        } else {
                            m.extend_from_slice(&[109, 0, 0, 0, 1, b'a' + k]);
                        }
                        if k == bad_pair && !as_key {
                            at = m.len();
                            m.extend_from_slice(b);
                        } else {
                            m.extend_from_slice(&[97, k]);
                        }
                    }
                    let got = etf::decode(&m, &SafePolicy::new()).unwrap_err();
                    assert_eq!(
                        (got.kind(), got.offset()),
                        (e.kind(), e.offset() - 1 + at),
                        "bad #{i}, {pairs} pairs, pair {bad_pair}, key {as_key}"
                    );
                    assert!(!agree(&m, &SafePolicy::new()));
                }
            }
        }
    }
    // A duplicate is reported only once every pair is valid: here the NaN
    // after it comes first.
    let mut m = vec![131, 116, 0, 0, 0, 3, 97, 1, 97, 0, 97, 1, 97, 0, 97, 2];
    m.extend_from_slice(&nan);
    assert_eq!(
        etf::decode(&m, &SafePolicy::new()).unwrap_err().kind(),
        ErrorKind::InvalidFloat
    );
    m.truncate(16);
    m.extend_from_slice(&[97, 0]);
    let e = etf::decode(&m, &SafePolicy::new()).unwrap_err();
    assert_eq!((e.kind(), e.offset()), (ErrorKind::DuplicateMapKey, 10));
}

#[test]
fn small_maps_of_binary_and_atom_keys_find_the_first_duplicate() {
    // Maps of 1 to 4 pairs (read as they open) whose keys are mostly
    // binaries and atoms of one length, so only their bytes tell them
    // apart: the first key equal to an earlier one (by `==`) is the one
    // reported.
    let forms: [&[u8]; 14] = [
        &[109, 0, 0, 0, 3, b'k', b'e', b'y'],
        &[109, 0, 0, 0, 3, b'k', b'e', b'z'],
        &[109, 0, 0, 0, 3, b'j', b'e', b'y'],
        &[119, 3, b'k', b'e', b'y'],
        &[100, 0, 3, b'k', b'e', b'y'],
        &[100, 0, 3, b'k', b'e', b'z'],
        &[100, 0, 3, b'k', 0xe9, b'y'],
        &[118, 0, 4, b'k', 0xc3, 0xa9, b'y'],
        // Other leaves: equal across tags, or (floats) with other bytes.
        &[97, 1],
        &[98, 0, 0, 0, 1],
        &[70, 0, 0, 0, 0, 0, 0, 0, 0],
        &[70, 0x80, 0, 0, 0, 0, 0, 0, 0],
        &[106],
        &[119, 0],
    ];
    let mut r = Rng(0x5eed_0000_0000_0003);
    for _ in 0..3000 {
        let n = 1 + r.below(4) as usize;
        let mut map = vec![131, 116, 0, 0, 0, n as u8];
        let mut tuple = vec![131, 104, n as u8];
        let mut at = Vec::new();
        for _ in 0..n {
            let k = forms[r.below(forms.len() as u64) as usize];
            at.push(map.len());
            map.extend_from_slice(k);
            map.extend_from_slice(&[109, 0, 0, 0, 1, b'v']);
            tuple.extend_from_slice(k);
        }
        let t = etf::decode(&tuple, &SafePolicy::new()).unwrap();
        let ks: Vec<Term<'_>> = t.as_tuple().unwrap().iter().collect();
        let first_dup = (1..n).find(|&i| ks[..i].iter().any(|k| *k == ks[i]));
        let verdict = etf::decode(&map, &SafePolicy::new()).map(|_| ());
        match first_dup {
            None => assert!(verdict.is_ok(), "{map:?}: {verdict:?}"),
            Some(i) => {
                let e = verdict.expect_err("a duplicate");
                assert_eq!((e.kind(), e.offset()), (ErrorKind::DuplicateMapKey, at[i]));
            }
        }
        agree(&map, &SafePolicy::new());
    }
}

#[test]
fn the_outermost_term_obeys_the_depth_limit() {
    // The outermost term is read before any level is kept: a container
    // there is one level deep like any other.
    let none = SafePolicy::new().max_depth(0);
    let one = SafePolicy::new().max_depth(1);
    let leaf = [131, 97, 1];
    let tuple = [131, 104, 1, 97, 1];
    let map = [131, 116, 0, 0, 0, 1, 97, 1, 97, 2];
    let nested = [131, 104, 1, 104, 0];
    assert!(agree(&leaf, &none));
    for bytes in [&tuple[..], &map[..], &nested[..]] {
        let e = etf::visit(bytes, &none, |_| {}).unwrap_err();
        assert_eq!((e.kind(), e.offset()), (ErrorKind::DepthLimitExceeded, 1));
        assert!(!agree(bytes, &none));
    }
    assert!(agree(&tuple, &one));
    assert!(agree(&map, &one));
    let e = etf::visit(&nested, &one, |_| {}).unwrap_err();
    assert_eq!((e.kind(), e.offset()), (ErrorKind::DepthLimitExceeded, 3));
    assert!(!agree(&nested, &one));
}
