//! Inputs found by the fuzz targets in `fuzz/`, replayed as tests, and the
//! seed corpus replayed through every decoder.

use phoenix_wire::frame::{self, Direction, Frame, Payload};
use phoenix_wire::json::{self, RawJson};
use phoenix_wire::{ErrorKind, Vsn};

/// A reply whose response nests as deep as `validate` allows must still
/// decode after encoding: the `{"response":…}` wrapper adds one level.
#[test]
fn text_reply_at_the_depth_limit_round_trips() {
    // The deepest response the wrapper leaves room for.
    let depth = json::DEFAULT_MAX_DEPTH - 1;
    let response = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let f = Frame {
        payload: Payload::Reply {
            status: "ok".into(),
            response: response.as_bytes(),
        },
        ..Frame::new("t", "phx_reply", Payload::Json(RawJson::EMPTY_OBJECT))
    };
    let mut out = Vec::new();
    match f.encode_text(Vsn::V2, &mut out) {
        Ok(()) => {
            let back = frame::decode_text(&out, Vsn::V2).expect("our own reply decodes");
            assert_eq!(back.reply().unwrap().status.unwrap(), "ok");
        }
        Err(e) => panic!("a reply at the depth limit refused: {e}"),
    }
    // One level deeper is refused before anything is written.
    let deeper = format!("[{response}]");
    let f = Frame {
        payload: Payload::Reply {
            status: "ok".into(),
            response: deeper.as_bytes(),
        },
        ..f
    };
    out.clear();
    let e = f.encode_text(Vsn::V2, &mut out).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::DepthLimitExceeded);
    assert!(out.is_empty());
}

/// The seed corpus of a fuzz target: every file under `fuzz/seeds/<target>/`.
fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/seeds")
        .join(target);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                bytes,
            )
        })
        .collect();
    out.sort();
    out
}

/// What `frame_decode` checks, for each seed: offsets inside the input, and
/// every decoded frame re-encodes to bytes that decode to the same frame.
#[test]
fn frame_decode_seeds_replay() {
    let seeds = seeds("frame_decode");
    assert!(seeds.len() >= 90, "only {} seeds", seeds.len());
    let mut decoded = 0;
    for (name, data) in &seeds {
        for vsn in [Vsn::V1, Vsn::V2] {
            match frame::decode_text(data, vsn) {
                Ok(f) => {
                    decoded += 1;
                    let mut out = Vec::new();
                    f.encode_text(vsn, &mut out).unwrap();
                    assert_eq!(frame::decode_text(&out, vsn), Ok(f), "{name}");
                }
                Err(e) => assert!(e.offset() <= data.len(), "{name}: {e}"),
            }
        }
        for direction in [Direction::ToServer, Direction::ToClient] {
            match frame::decode_binary(data, direction) {
                Ok(f) => {
                    decoded += 1;
                    let mut out = Vec::new();
                    f.encode_binary(direction, &mut out).unwrap();
                    assert_eq!(frame::decode_binary(&out, direction), Ok(f), "{name}");
                }
                Err(e) => assert!(e.offset() <= data.len(), "{name}: {e}"),
            }
        }
    }
    // The valid frames among the vectors (38 when this was written).
    assert!(decoded >= 30, "only {decoded} seeds decode");
}

/// The `json_diff_serde` seeds: `validate` and `RawJson` agree, and errors
/// point inside the input.
#[test]
fn json_seeds_replay() {
    for (name, data) in seeds("json_diff_serde") {
        let valid = json::validate(&data, 127);
        if let Err(e) = valid {
            assert!(e.offset() <= data.len(), "{name}: {e}");
        }
        if let Ok(text) = std::str::from_utf8(&data) {
            let raw = RawJson::with_max_depth(text, 127).map(|_| ());
            assert_eq!(raw, valid, "{name}");
        }
    }
}
