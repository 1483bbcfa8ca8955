//! Inputs found by the fuzz targets in `fuzz/`, replayed as tests, and the
//! seed corpus replayed through every decoder.

use phoenix_wire::frame::{self, Frame, Payload};
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
