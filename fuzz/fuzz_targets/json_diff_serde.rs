//! `json::validate(bytes, 127)` accepts exactly what serde_json accepts.
//!
//! The oracle (the same as in `codec/tests/json_differential.rs`):
//! accept iff
//! 1. `serde_json::from_slice::<&RawValue>` accepts the bytes: the grammar,
//!    UTF-8 and surrounding whitespace, but neither nesting nor surrogates
//!    (serde_json skips raw values without a depth limit and lets lone
//!    surrogates through, since they might be meant for a byte string), and
//! 2. `serde_json::from_str::<Value>` accepts the same document with every
//!    number replaced by `0`: strings decode with paired surrogates only,
//!    and at most 127 containers nest (serde_json's recursion limit of 128).
//!    Numbers are replaced because `Value` refuses numbers past f64's range
//!    (`1e400`), which RFC 8259 allows and so do we.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phoenix_wire::json;
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
});

fn serde_accepts(data: &[u8]) -> bool {
    if serde_json::from_slice::<&RawValue>(data).is_err() {
        return false;
    }
    let Ok(text) = core::str::from_utf8(data) else {
        return false;
    };
    serde_json::from_str::<serde_json::Value>(&zero_numbers(text)).is_ok()
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
