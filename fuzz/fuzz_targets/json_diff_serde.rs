//! `json::validate(bytes, 127)` accepts exactly what serde_json accepts.
//!
//! The oracle lives in `tests/oracle/serde_json.rs` (shared with
//! `codec/tests/json_differential.rs`); in short, accept iff
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

#[path = "../../tests/oracle/serde_json.rs"]
mod oracle;

fuzz_target!(|data: &[u8]| {
    let ours = json::validate(data, 127);
    let theirs = oracle::accepts(data);
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
    assert_eq!(v2.is_ok(), oracle::accepts_v2(data), "V2: ours {v2:?}");
    let v1 = decoder.decode_text(data, Vsn::V1);
    assert_eq!(v1.is_ok(), oracle::accepts_v1(data), "V1: ours {v1:?}");
});
