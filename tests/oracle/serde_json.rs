//! The serde_json oracle for the differential tests (included with
//! `#[path]` by `codec/tests/json_differential.rs` and the `json_diff_serde`
//! fuzz target, so both judge by the same rules).
//!
//! [`accepts`]: `json::validate(bytes, 127)` must accept exactly when
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
//! [`accepts_v2`]: a V2 text frame decodes exactly when serde_json reads the
//! text as an array of at least five raw values, passes [`accepts`] as a
//! whole (the envelope is one of the 127 levels, so our decoder gets a
//! payload limit of 126), elements 0 and 1 follow [`is_ref`] and elements 2
//! and 3 are strings. [`accepts_v1`]: a V1 text frame decodes exactly when
//! it passes [`accepts`], is an object, and its members (read in order,
//! duplicates kept, keys unescaped by serde_json) follow Phoenix's V1 rules.

use serde_json::value::RawValue;

/// Whether serde_json accepts `data` as one JSON value (see the module docs).
pub fn accepts(data: &[u8]) -> bool {
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
pub struct Strict;

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

/// Whether a raw JSON value is a string.
pub fn is_string(raw: &str) -> bool {
    serde_json::from_str::<String>(raw).is_ok()
}

/// The ref rules: null, a string, or an integer in `i64` range (`-0`
/// included: serde_json reads it as the float -0.0, Phoenix as the integer 0).
pub fn is_ref(raw: &str) -> bool {
    raw == "null" || raw == "-0" || is_string(raw) || serde_json::from_str::<i64>(raw).is_ok()
}

/// Whether `data` is a V2 frame by Phoenix's rules as serde_json reads it.
pub fn accepts_v2(data: &[u8]) -> bool {
    if !accepts(data) {
        return false;
    }
    let Ok(e) = serde_json::from_slice::<Vec<&RawValue>>(data) else {
        return false;
    };
    e.len() >= 5
        && is_ref(e[0].get())
        && is_ref(e[1].get())
        && is_string(e[2].get())
        && is_string(e[3].get())
}

/// The members of a JSON object in order, duplicates kept.
pub struct Members<'a>(pub Vec<(String, &'a RawValue)>);

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

/// The V1 envelope keys, in the order [`accepts_v1`] counts them.
pub const ENVELOPE: [&str; 5] = ["topic", "event", "payload", "ref", "join_ref"];

/// Phoenix's V1 rules on serde_json's reading: an object; `topic`, `event`,
/// `payload` and `ref` present, `join_ref` optional, none of them twice
/// (keys compared after unescaping), other keys ignored; topic and event
/// strings, refs by [`is_ref`].
pub fn accepts_v1(data: &[u8]) -> bool {
    if !accepts(data) {
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
        let ok = match i {
            0 | 1 => is_string(value.get()),
            2 => true,
            _ => is_ref(value.get()),
        };
        if !ok || seen[i] > 1 {
            return false;
        }
    }
    seen[..4].iter().all(|&n| n == 1)
}
