//! Differential property tests: our validator and V1/V2 decoders against serde_json.
//!
//! The oracle (what serde_json accepts, and Phoenix's envelope rules on top)
//! is spelled out in `tests/oracle/serde_json.rs`, shared with the
//! `json_diff_serde` fuzz target.

use phoenix_wire::frame::{Decoder, Payload, Ref};
use phoenix_wire::json;
use phoenix_wire::Vsn;
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::value::RawValue;

#[path = "../../tests/oracle/serde_json.rs"]
mod oracle;
use oracle::{Members, ENVELOPE};

fn check_v1(data: &[u8]) -> Result<(), TestCaseError> {
    let ours = Decoder::new().max_depth(126).decode_text(data, Vsn::V1);
    let theirs = oracle::accepts_v1(data);
    prop_assert_eq!(
        ours.is_ok(),
        theirs,
        "ours {:?}, serde_json {} on {:?}",
        ours,
        theirs,
        String::from_utf8_lossy(data)
    );
    match ours {
        Ok(f) => {
            let Members(members) = serde_json::from_slice(data).unwrap();
            let get = |k: &str| members.iter().find(|(key, _)| key == k).map(|m| m.1.get());
            prop_assert_eq!(
                f.topic.to_cow(),
                serde_json::from_str::<String>(get("topic").unwrap()).unwrap()
            );
            prop_assert_eq!(
                f.event.to_cow(),
                serde_json::from_str::<String>(get("event").unwrap()).unwrap()
            );
            let Payload::Json(p) = f.payload else {
                return Err(TestCaseError::fail("a text frame without a JSON payload"));
            };
            prop_assert_eq!(p.raw(), get("payload").unwrap());
            prop_assert_eq!(
                f.join_ref.is_null(),
                get("join_ref").map_or(true, |r| r == "null")
            );
        }
        Err(e) => prop_assert!(e.offset() <= data.len(), "{e} past {} bytes", data.len()),
    }
    Ok(())
}

fn check_json(data: &[u8]) -> Result<(), TestCaseError> {
    let ours = json::validate(data, 127);
    let theirs = oracle::accepts(data);
    prop_assert_eq!(
        ours.is_ok(),
        theirs,
        "ours {:?}, serde_json {} on {:?}",
        ours,
        theirs,
        String::from_utf8_lossy(data)
    );
    if let Err(e) = ours {
        prop_assert!(e.offset() <= data.len(), "{e} past {} bytes", data.len());
    }
    Ok(())
}

fn check_v2(data: &[u8]) -> Result<(), TestCaseError> {
    let ours = Decoder::new().max_depth(126).decode_text(data, Vsn::V2);
    let theirs = oracle::accepts_v2(data);
    prop_assert_eq!(
        ours.is_ok(),
        theirs,
        "ours {:?}, serde_json {} on {:?}",
        ours,
        theirs,
        String::from_utf8_lossy(data)
    );
    let f = match ours {
        Ok(f) => f,
        Err(e) => {
            prop_assert!(e.offset() <= data.len(), "{e} past {} bytes", data.len());
            return Ok(());
        }
    };
    // Both read the same values.
    let elems: Vec<&RawValue> = serde_json::from_slice(data).unwrap();
    for (r, raw) in [(f.join_ref, elems[0].get()), (f.ref_, elems[1].get())] {
        match r {
            Ref::Null => prop_assert_eq!(raw, "null"),
            Ref::Int(v) => prop_assert_eq!(v, if raw == "-0" { 0 } else { raw.parse().unwrap() }),
            Ref::Str(s) => {
                prop_assert_eq!(s.to_cow(), serde_json::from_str::<String>(raw).unwrap())
            }
        }
    }
    let topic: String = serde_json::from_str(elems[2].get()).unwrap();
    let event: String = serde_json::from_str(elems[3].get()).unwrap();
    prop_assert_eq!(f.topic.to_cow(), topic);
    prop_assert_eq!(f.event.to_cow(), event);
    let Payload::Json(p) = f.payload else {
        return Err(TestCaseError::fail("a text frame without a JSON payload"));
    };
    prop_assert_eq!(p.raw(), elems[4].get());
    Ok(())
}

// ----- generators of valid JSON text -----

fn ws() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(vec![" ", "\t", "\n", "\r"]), 0..3)
        .prop_map(|v| v.concat())
}

/// Every shape of the number grammar: sign, zero or digits, fraction,
/// exponent with or without sign, and magnitudes past f64 and i64.
fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        "-?(0|[1-9][0-9]{0,24})(\\.[0-9]{1,20})?([eE][+-]?[0-9]{1,4})?",
        Just("-0".to_owned()),
        Just("1e400".to_owned()),
        Just("-1E-400".to_owned()),
        Just("9223372036854775807".to_owned()),
        Just("-9223372036854775808".to_owned()),
        Just("9223372036854775808".to_owned()),
        any::<i64>().prop_map(|v| v.to_string()),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| serde_json::to_string(&f).unwrap()),
    ]
}

fn hex4(unit: u16, upper: bool) -> String {
    if upper {
        format!("\\u{unit:04X}")
    } else {
        format!("\\u{unit:04x}")
    }
}

/// One piece of string content: a raw character, a short escape, a `\u`
/// escape of a BMP character or a surrogate pair.
fn string_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => any::<char>()
            .prop_filter("raw-safe", |c| !matches!(c, '"' | '\\' | '\0'..='\x1f'))
            .prop_map(String::from),
        1 => prop::sample::select(vec!["\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t"])
            .prop_map(String::from),
        1 => (any::<u16>(), any::<bool>())
            .prop_filter("not a surrogate", |(u, _)| !(0xD800..=0xDFFF).contains(u))
            .prop_map(|(u, up)| hex4(u, up)),
        1 => (0xD800u16..0xDC00, 0xDC00u16..0xE000, any::<bool>())
            .prop_map(|(hi, lo, up)| format!("{}{}", hex4(hi, up), hex4(lo, up))),
    ]
}

fn string() -> impl Strategy<Value = String> {
    prop::collection::vec(string_piece(), 0..6).prop_map(|p| format!("\"{}\"", p.concat()))
}

fn scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("false".to_owned()),
        number(),
        string(),
    ]
}

fn json() -> impl Strategy<Value = String> {
    scalar().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec((ws(), inner.clone(), ws()), 0..5).prop_map(|elems| {
                let body: Vec<String> = elems.into_iter().map(|(a, v, b)| a + &v + &b).collect();
                format!("[{}]", body.join(","))
            }),
            prop::collection::vec((ws(), string(), ws(), ws(), inner, ws()), 0..5).prop_map(
                |members| {
                    let body: Vec<String> = members
                        .into_iter()
                        .map(|(a, k, b, c, v, d)| format!("{a}{k}{b}:{c}{v}{d}"))
                        .collect();
                    format!("{{{}}}", body.join(","))
                }
            ),
        ]
    })
}

/// A document with surrounding whitespace.
fn document() -> impl Strategy<Value = String> {
    (ws(), json(), ws()).prop_map(|(a, v, b)| a + &v + &b)
}

/// Nesting around serde_json's limit: `n` containers, arrays or objects.
fn deep() -> impl Strategy<Value = String> {
    (
        118usize..136,
        prop::collection::vec(any::<bool>(), 136),
        scalar(),
    )
        .prop_map(|(n, kinds, leaf)| {
            let mut open = String::new();
            let mut close = String::new();
            for &object in &kinds[..n] {
                if object {
                    open.push_str("{\"k\":");
                    close.insert(0, '}');
                } else {
                    open.push('[');
                    close.insert(0, ']');
                }
            }
            open + &leaf + &close
        })
}

// ----- mutations -----

/// Bytes that matter to a JSON scanner, plus any byte at all.
fn mutation_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        3 => prop::sample::select(
            b"{}[],:\"\\ \t\n\r-+.eE0123456789tfnulrsauUdDcCFx/"
                .iter()
                .copied()
                .chain([0x00, 0x08, 0x0c, 0x1f, 0x7f, 0x80, 0xbf, 0xc3, 0xed, 0xf0, 0xff])
                .collect::<Vec<u8>>()
        ),
        1 => any::<u8>(),
    ]
}

#[derive(Debug, Clone)]
enum Mutation {
    Insert(prop::sample::Index, u8),
    Delete(prop::sample::Index),
    Replace(prop::sample::Index, u8),
    Truncate(prop::sample::Index),
    /// Inserts a `\u` escape of a lone or misordered surrogate.
    Surrogate(prop::sample::Index, u16),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<prop::sample::Index>(), mutation_byte()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        3 => any::<prop::sample::Index>().prop_map(Mutation::Delete),
        3 => (any::<prop::sample::Index>(), mutation_byte()).prop_map(|(i, b)| Mutation::Replace(i, b)),
        1 => any::<prop::sample::Index>().prop_map(Mutation::Truncate),
        1 => (any::<prop::sample::Index>(), 0xD800u16..0xE000).prop_map(|(i, u)| Mutation::Surrogate(i, u)),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        match m {
            Mutation::Insert(i, b) => bytes.insert(i.index(bytes.len() + 1), *b),
            Mutation::Delete(i) if !bytes.is_empty() => {
                bytes.remove(i.index(bytes.len()));
            }
            Mutation::Replace(i, b) if !bytes.is_empty() => {
                let at = i.index(bytes.len());
                bytes[at] = *b;
            }
            Mutation::Truncate(i) => bytes.truncate(i.index(bytes.len() + 1)),
            Mutation::Surrogate(i, u) => {
                let at = i.index(bytes.len() + 1);
                bytes.splice(at..at, format!("\\u{u:04x}").into_bytes());
            }
            _ => {}
        }
    }
    bytes
}

// ----- V2 frames -----

/// An element in a ref, topic or event position: mostly what fits, often
/// something that does not.
fn header_elem() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => Just("null".to_owned()),
        3 => string(),
        2 => number(),
        1 => prop::sample::select(vec!["true", "[]", "{}", "[\"1\"]", "{\"a\":1}"]).prop_map(String::from),
    ]
}

/// A ref: mostly null, a string or an integer, so that most frames decode.
fn ref_elem() -> BoxedStrategy<String> {
    prop_oneof![
        3 => Just("null".to_owned()),
        3 => string(),
        2 => any::<i64>().prop_map(|v| v.to_string()),
        2 => header_elem(),
    ]
    .boxed()
}

/// A topic or event: mostly a string.
fn name_elem() -> BoxedStrategy<String> {
    prop_oneof![6 => string(), 1 => header_elem()].boxed()
}

fn v2_frame() -> impl Strategy<Value = String> {
    (
        (ref_elem(), ref_elem(), name_elem(), name_elem()),
        prop::collection::vec((ws(), ws()), 4),
        (ws(), prop_oneof![7 => json(), 1 => deep()], ws()),
        prop::collection::vec((ws(), json(), ws()), 0..3),
        ws(),
        ws(),
    )
        .prop_map(
            |((j, r, t, e), spaces, (a, payload, b), extras, lead, trail)| {
                let mut elems: Vec<String> = [j, r, t, e]
                    .into_iter()
                    .zip(spaces)
                    .map(|(v, (a, b))| a + &v + &b)
                    .collect();
                elems.push(a + &payload + &b);
                elems.extend(extras.into_iter().map(|(a, v, b)| a + &v + &b));
                format!("{lead}[{}]{trail}", elems.join(","))
            },
        )
}

/// A V1 object: each envelope key mostly once, sometimes missing or twice,
/// sometimes with an escaped first letter; unknown keys; any order.
fn v1_frame() -> impl Strategy<Value = String> {
    let count = || prop_oneof![1 => Just(0usize), 16 => Just(1), 1 => Just(2)];
    let member = |i: usize| {
        let value = match i {
            2 => prop_oneof![7 => json(), 1 => deep()].boxed(),
            0 | 1 => name_elem(),
            _ => ref_elem(),
        };
        (any::<bool>(), ws(), ws(), value).prop_map(move |(escape, a, b, v)| {
            let key = ENVELOPE[i];
            let key = if escape {
                format!("\\u{:04x}{}", key.as_bytes()[0], &key[1..])
            } else {
                key.to_owned()
            };
            format!("{a}\"{key}\"{b}:{v}")
        })
    };
    let envelope: Vec<_> = (0..5).map(|i| (count(), member(i))).collect();
    let unknown = prop::collection::vec(
        (string(), json()).prop_map(|(k, v)| format!("{k}:{v}")),
        0..3,
    );
    (envelope, unknown, ws())
        .prop_flat_map(|(envelope, unknown, trail)| {
            let mut members = unknown;
            for (n, member) in envelope {
                members.extend(std::iter::repeat(member).take(n));
            }
            (Just(members).prop_shuffle(), Just(trail))
        })
        .prop_map(|(members, trail)| format!("{{{}}}{trail}", members.join(",")))
}

fn cases(n: u32) -> Config {
    Config {
        cases: n,
        failure_persistence: None,
        ..Config::default()
    }
}

// Case counts keep the whole file near ten seconds in a debug build.
proptest! {
    #![proptest_config(cases(3000))]

    #[test]
    fn valid_documents_agree(doc in document()) {
        check_json(doc.as_bytes())?;
        // Generated documents are valid, so both sides accepted.
        prop_assert!(json::validate(doc.as_bytes(), 127).is_ok(), "invalid: {}", doc);
    }

    #[test]
    fn mutated_documents_agree(doc in document(), ms in prop::collection::vec(mutation(), 2..5)) {
        check_json(&mutate(doc.into_bytes(), &ms))?;
    }

    #[test]
    fn single_mutations_agree(doc in document(), m in mutation()) {
        check_json(&mutate(doc.into_bytes(), &[m]))?;
    }
}

proptest! {
    #![proptest_config(cases(2000))]

    #[test]
    fn nesting_around_the_limit_agrees(doc in deep(), ms in prop::collection::vec(mutation(), 0..2)) {
        check_json(&mutate(doc.into_bytes(), &ms))?;
    }

    #[test]
    fn truncations_agree(doc in document(), at in any::<prop::sample::Index>()) {
        let bytes = doc.as_bytes();
        check_json(&bytes[..at.index(bytes.len() + 1)])?;
    }

    #[test]
    fn v2_frames_agree(frame in v2_frame()) {
        check_v2(frame.as_bytes())?;
    }

    #[test]
    fn v1_frames_agree(frame in v1_frame()) {
        check_v1(frame.as_bytes())?;
    }

    #[test]
    fn mutated_v1_frames_agree(frame in v1_frame(), ms in prop::collection::vec(mutation(), 1..4)) {
        check_v1(&mutate(frame.into_bytes(), &ms))?;
    }

    #[test]
    fn mutated_v2_frames_agree(frame in v2_frame(), ms in prop::collection::vec(mutation(), 1..4)) {
        check_v2(&mutate(frame.into_bytes(), &ms))?;
    }
}

/// The oracle itself, on the cases that make it subtle.
#[test]
fn oracle_edges() {
    for (doc, ok) in [
        ("1e400", true),
        ("[-1E-400, 0e999]", true),
        (r#""\ud83d\ude00""#, true),
        (r#""\ud83d""#, false),
        (r#""\ude00\ud83d""#, false),
        (r#""\ud83d\u0041""#, false),
        (r#"{"\udc00":1}"#, false),
        ("01", false),
        ("-", false),
        ("1.", false),
        (" [1] ", true),
        ("[1]x", false),
        ("\"\u{1}\"", false),
        ("\u{c}1", false),
    ] {
        assert_eq!(oracle::accepts(doc.as_bytes()), ok, "oracle on {doc}");
        assert_eq!(
            json::validate(doc.as_bytes(), 127).is_ok(),
            ok,
            "ours on {doc}"
        );
    }
    let nest = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    assert!(oracle::accepts(nest(127).as_bytes()));
    assert!(!oracle::accepts(nest(128).as_bytes()));
    assert!(json::validate(nest(127).as_bytes(), 127).is_ok());
    assert!(json::validate(nest(128).as_bytes(), 127).is_err());
    assert!(!oracle::accepts(b"\"\xff\""));
}

/// Found by `json_diff_serde`: `serde_json::Value` refuses this valid JSON
/// (its map visitor takes the key for serde_json's raw value token).
#[test]
fn oracle_ignores_serde_json_magic_key() {
    let doc = br#"[{"":{"$serde_json::private::RawValue":false}}]"#;
    assert!(serde_json::from_slice::<serde_json::Value>(doc).is_err());
    assert!(oracle::accepts(doc));
    assert_eq!(json::validate(doc, 127), Ok(()));
}
