//! Differential property tests: our validator and V1/V2 decoders against serde_json.
//!
//! # The oracle
//!
//! `json::validate(bytes, 127)` must accept exactly when
//! 1. `serde_json::from_slice::<&RawValue>(bytes)` accepts: the grammar,
//!    UTF-8 (checked on the raw slice) and surrounding whitespace. serde_json
//!    skips a raw value without a depth limit and lets lone surrogates
//!    through (they might be meant for a byte string), so it cannot judge
//!    those two; and
//! 2. serde_json reads the same document, with every number token replaced
//!    by `0`, through `deserialize_any` into [`Strict`] (a visitor that keeps
//!    nothing). Decoding strings and keys refuses lone and misordered
//!    surrogates, and the recursion limit of 128 allows at most 127 nested
//!    containers, hence our 127. Numbers are replaced because serde_json
//!    refuses numbers past f64's range (`1e400`), which RFC 8259 allows and
//!    so do we. `serde_json::Value` is not used: it reads an object keyed
//!    `$serde_json::private::RawValue` as a raw value token (found by the
//!    `json_diff_serde` fuzz target).
//!
//! A V2 text frame decodes exactly when serde_json reads the text as an
//! array of at least five raw values, passes the oracle above as a whole
//! (the envelope is one of the 127 levels, so our decoder gets a payload
//! limit of 126), elements 0 and 1 are `null`, a string or an integer in
//! `i64` range (`-0` included: serde_json reads it as the float -0.0, Phoenix
//! as the integer 0), and elements 2 and 3 are strings. A V1 text frame
//! decodes exactly when it passes the oracle, is an object, and its members
//! (read in order, duplicates kept, keys unescaped by serde_json) follow
//! Phoenix's V1 rules (see `serde_accepts_v1`).

use phoenix_wire::frame::{Decoder, Payload, Ref};
use phoenix_wire::json;
use phoenix_wire::Vsn;
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::value::RawValue;

// ----- the oracle -----

fn serde_accepts(data: &[u8]) -> bool {
    if serde_json::from_slice::<&RawValue>(data).is_err() {
        return false;
    }
    let Ok(text) = core::str::from_utf8(data) else {
        return false;
    };
    serde_json::from_str::<Strict>(&zero_numbers(text)).is_ok()
}

/// Any JSON value read through serde_json's `deserialize_any` and dropped:
/// strings and keys are decoded (refusing lone surrogates) and the
/// recursion limit applies. Not `serde_json::Value`, whose map visitor
/// treats the key `$serde_json::private::RawValue` as a raw value token and
/// so refuses `{"$serde_json::private::RawValue":false}`, valid JSON.
struct Strict;

impl<'de> serde::Deserialize<'de> for Strict {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = Strict;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Strict, E> {
        Ok(Strict)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Strict, E> {
        Ok(Strict)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Strict, E> {
        Ok(Strict)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Strict, E> {
        Ok(Strict)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Strict, E> {
        Ok(Strict)
    }
    fn visit_str<E>(self, _: &str) -> Result<Strict, E> {
        Ok(Strict)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut s: A) -> Result<Strict, A::Error> {
        while s.next_element::<Strict>()?.is_some() {}
        Ok(Strict)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Strict, A::Error> {
        while m.next_entry::<Strict, Strict>()?.is_some() {}
        Ok(Strict)
    }
}

/// `text` (already accepted by serde_json as a raw value) with every number
/// token replaced by `0`. Outside strings a number is a maximal run of
/// `-+.eE` and digits that starts with `-` or a digit.
fn zero_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped, mut in_number) = (false, false, false);
    for c in text.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        if in_number && matches!(c, '0'..='9' | '.' | 'e' | 'E' | '+' | '-') {
            continue;
        }
        in_number = false;
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '-' | '0'..='9' => {
                in_number = true;
                out.push('0');
            }
            _ => out.push(c),
        }
    }
    out
}

/// The ref rules: null, a string, or an integer that fits i64.
fn serde_ref(raw: &str) -> bool {
    raw == "null"
        || raw == "-0"
        || serde_json::from_str::<String>(raw).is_ok()
        || serde_json::from_str::<i64>(raw).is_ok()
}

fn serde_accepts_v2(data: &[u8]) -> bool {
    if !serde_accepts(data) {
        return false;
    }
    let Ok(elems) = serde_json::from_slice::<Vec<&RawValue>>(data) else {
        return false;
    };
    elems.len() >= 5
        && serde_ref(elems[0].get())
        && serde_ref(elems[1].get())
        && serde_json::from_str::<String>(elems[2].get()).is_ok()
        && serde_json::from_str::<String>(elems[3].get()).is_ok()
}

/// The members of a JSON object in order, duplicates kept.
struct Members<'a>(Vec<(String, &'a RawValue)>);

impl<'de> serde::Deserialize<'de> for Members<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = m.next_entry()? {
                    out.push(entry);
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// Phoenix's V1 rules on serde_json's reading: an object; `topic`, `event`,
/// `payload` and `ref` present, `join_ref` optional, none of them twice
/// (keys compared after unescaping), other keys ignored; topic and event
/// strings, refs by the ref rules.
fn serde_accepts_v1(data: &[u8]) -> bool {
    if !serde_accepts(data) {
        return false;
    }
    let Ok(Members(members)) = serde_json::from_slice::<Members>(data) else {
        return false;
    };
    let mut seen = [0usize; 5];
    for (key, value) in &members {
        let Some(i) = ENVELOPE.iter().position(|k| k == key) else {
            continue;
        };
        seen[i] += 1;
        let raw = value.get();
        let ok = match i {
            0 | 1 => serde_json::from_str::<String>(raw).is_ok(),
            2 => true,
            _ => serde_ref(raw),
        };
        if !ok || seen[i] > 1 {
            return false;
        }
    }
    seen[..4].iter().all(|&n| n == 1)
}

const ENVELOPE: [&str; 5] = ["topic", "event", "payload", "ref", "join_ref"];

fn check_v1(data: &[u8]) -> Result<(), TestCaseError> {
    let ours = Decoder::new().max_depth(126).decode_text(data, Vsn::V1);
    let theirs = serde_accepts_v1(data);
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
    let theirs = serde_accepts(data);
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
    let theirs = serde_accepts_v2(data);
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
        assert_eq!(serde_accepts(doc.as_bytes()), ok, "oracle on {doc}");
        assert_eq!(
            json::validate(doc.as_bytes(), 127).is_ok(),
            ok,
            "ours on {doc}"
        );
    }
    let nest = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    assert!(serde_accepts(nest(127).as_bytes()));
    assert!(!serde_accepts(nest(128).as_bytes()));
    assert!(json::validate(nest(127).as_bytes(), 127).is_ok());
    assert!(json::validate(nest(128).as_bytes(), 127).is_err());
    assert!(!serde_accepts(b"\"\xff\""));
}

/// Found by `json_diff_serde`: `serde_json::Value` refuses this valid JSON
/// (its map visitor takes the key for serde_json's raw value token).
#[test]
fn oracle_ignores_serde_json_magic_key() {
    let doc = br#"[{"":{"$serde_json::private::RawValue":false}}]"#;
    assert!(serde_json::from_slice::<serde_json::Value>(doc).is_err());
    assert!(serde_accepts(doc));
    assert_eq!(json::validate(doc, 127), Ok(()));
}
