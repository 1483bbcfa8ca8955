//! `json::validate(bytes, 127)` accepts exactly what serde_json accepts.
//!
//! The oracle (the same as in `codec/tests/json_differential.rs`):
//! accept iff
//! 1. `serde_json::from_slice::<&RawValue>` accepts the bytes: the grammar,
//!    UTF-8 and surrounding whitespace, but neither nesting nor surrogates
//!    (serde_json skips raw values without a depth limit and lets lone
//!    surrogates through, since they might be meant for a byte string), and
//! 2. serde_json reads the same document, every number replaced by `0`,
//!    through `deserialize_any` into `Strict` (keeps nothing): strings and
//!    keys decode with paired surrogates only, and at most 127 containers
//!    nest (serde_json's recursion limit of 128). Numbers are replaced
//!    because serde_json refuses numbers past f64's range (`1e400`), which
//!    RFC 8259 allows and so do we. Not `serde_json::Value`: it refuses
//!    `{"$serde_json::private::RawValue":false}` (a magic key), as this
//!    target found.
//!
//! The same input also goes to the V2 and V1 text decoders (payload limit
//! 126: the envelope is one of serde_json's 127 levels), which must accept
//! exactly what passes the oracle and Phoenix's envelope rules as read by
//! serde_json (the rules are spelled out in `codec/tests/json_differential.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use phoenix_wire::frame::Decoder;
use phoenix_wire::{json, Vsn};
use serde_json::value::RawValue;

fuzz_target!(|data: &[u8]| {
    let ours = json::validate(data, 127);
    let theirs = serde_accepts(data);
    match ours {
        Ok(()) => assert!(theirs, "we accept what serde_json refuses"),
        Err(e) => {
            assert!(!theirs, "we refuse ({e}) what serde_json accepts");
            assert!(e.offset() <= data.len(), "{e} past {} bytes", data.len());
        }
    }
    // RawJson validates with the same scanner and must agree, errors included.
    if let Ok(text) = core::str::from_utf8(data) {
        assert_eq!(
            json::RawJson::with_max_depth(text, 127).map(|_| ()),
            ours,
            "RawJson and validate differ"
        );
    }
    let decoder = Decoder::new().max_depth(126);
    let v2 = decoder.decode_text(data, Vsn::V2);
    assert_eq!(v2.is_ok(), theirs && serde_v2(data), "V2: ours {v2:?}");
    let v1 = decoder.decode_text(data, Vsn::V1);
    assert_eq!(v1.is_ok(), theirs && serde_v1(data), "V1: ours {v1:?}");
});

/// Refs: null, a string, or an integer in i64 range (`-0` is 0 to Phoenix;
/// serde_json reads it as the float -0.0).
fn serde_ref(raw: &str) -> bool {
    raw == "null"
        || raw == "-0"
        || serde_json::from_str::<String>(raw).is_ok()
        || serde_json::from_str::<i64>(raw).is_ok()
}

fn serde_string(raw: &str) -> bool {
    serde_json::from_str::<String>(raw).is_ok()
}

/// An array of at least five: two refs, topic and event strings.
fn serde_v2(data: &[u8]) -> bool {
    let Ok(e) = serde_json::from_slice::<Vec<&RawValue>>(data) else {
        return false;
    };
    e.len() >= 5
        && serde_ref(e[0].get())
        && serde_ref(e[1].get())
        && serde_string(e[2].get())
        && serde_string(e[3].get())
}

/// The members of an object in order, duplicates kept.
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

/// An object with topic, event, payload and ref once each, join_ref at most
/// once, other keys ignored.
fn serde_v1(data: &[u8]) -> bool {
    const ENVELOPE: [&str; 5] = ["topic", "event", "payload", "ref", "join_ref"];
    let Ok(Members(members)) = serde_json::from_slice::<Members>(data) else {
        return false;
    };
    let mut seen = [0usize; 5];
    for (key, value) in &members {
        let Some(i) = ENVELOPE.iter().position(|k| k == key) else {
            continue;
        };
        seen[i] += 1;
        let ok = match i {
            0 | 1 => serde_string(value.get()),
            2 => true,
            _ => serde_ref(value.get()),
        };
        if !ok || seen[i] > 1 {
            return false;
        }
    }
    seen[..4].iter().all(|&n| n == 1)
}

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

/// `text` (valid JSON) with every number token replaced by `0`.
fn zero_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    let mut in_number = false;
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
