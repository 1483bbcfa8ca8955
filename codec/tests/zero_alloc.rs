//! Decoding, lazy payload walks, reply views and encoding into a pre-sized
//! buffer allocate nothing: counted by a global allocator.
//!
//! The count is per thread, so the test harness's other threads do not
//! disturb it; everything measured runs on the test's own thread.

#![cfg(feature = "std")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use phoenix_wire::frame::{self, Direction, Frame, Payload};
use phoenix_wire::json::{Kind, RawJson};
use phoenix_wire::{SliceSink, Vsn};

struct Counting;

thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let before = ALLOCS.with(Cell::get);
    let r = f();
    (r, ALLOCS.with(Cell::get) - before)
}

/// Visits every value of a payload through the lazy iterators; returns a
/// digest so the work cannot be optimized away.
fn walk(v: RawJson<'_>, buf: &mut [u8]) -> usize {
    match v.kind() {
        Kind::Object => v
            .object()
            .unwrap()
            .map(|(k, v)| k.decoded_len() + k.chars().count() + walk(v, buf))
            .sum(),
        Kind::Array => v.array().unwrap().map(|v| walk(v, buf)).sum::<usize>() + 1,
        Kind::String => {
            let s = v.as_string().unwrap();
            s.unescape_into(buf).map_or(0, str::len) + usize::from(s == "x")
        }
        Kind::Number => v.as_f64().map_or(0, |f| f as usize % 7) + v.as_i64().map_or(0, |_| 1),
        Kind::Bool => usize::from(v.as_bool().unwrap()),
        Kind::Null => 1,
    }
}

const TEXT: &[(&[u8], Vsn)] = &[
    (br#"[null,"2","phoenix","heartbeat",{}]"#, Vsn::V2),
    (br#"{"topic":"phoenix","event":"heartbeat","payload":{},"ref":0}"#, Vsn::V1),
    (br#"[null,"2","phoenix","phx_reply",{"response":{},"status":"ok"}]"#, Vsn::V2),
    (
        br#"["1", "2", "room:caf\u00e9", "new_msg", {"body": "\ud83d\ude80", "n": [1, -2.5e3, true, null], "x": "x"}]"#,
        Vsn::V2,
    ),
    (
        br#"{"ref":"5","join_ref":"4","extra":{"x":[1]},"payload":{"a":{"b":[{"c":"d\n"}]}},"event":"ev","topic":"tp"}"#,
        Vsn::V1,
    ),
];

const BINARY: &[(&[u8], Direction)] = &[
    (
        b"\x00\x02\x03\x05\x05\x31\x32\x31\x32\x33topiceventefg",
        Direction::ToServer,
    ),
    (
        b"\x00\x02\x05\x05\x31\x32topiceventefg",
        Direction::ToClient,
    ),
    (
        b"\x01\x02\x03\x05\x02\x31\x32\x31\x32\x33topicokefg",
        Direction::ToClient,
    ),
    (b"\x02\x05\x05topiceventefg", Direction::ToClient),
];

#[test]
fn decode_walk_and_encode_allocate_nothing() {
    // Buffers are made before counting starts.
    let mut out = Vec::with_capacity(4096);
    let mut scratch = [0u8; 256];
    let mut fixed = [0u8; 4096];
    let bad: &[&[u8]] = &[
        b"[null,\"1\",\"t\",\"e\"]",
        b"{\"topic\":1}",
        b"[null,null,\"\\ud800\",\"e\",{}]",
    ];

    let (digest, count) = allocations(|| {
        let mut digest = 0usize;
        for &(bytes, vsn) in TEXT {
            let f = frame::decode_text(bytes, vsn).unwrap();
            let text = core::str::from_utf8(bytes).unwrap();
            digest += frame::decode_text_str(text, vsn).unwrap().topic.raw().len();
            let mut slot = core::mem::MaybeUninit::uninit();
            frame::decode_text_str_into(text, vsn, &mut slot).unwrap();
            // SAFETY: written by the Ok decode.
            digest += unsafe { slot.assume_init() }.event.raw().len();
            let Payload::Json(p) = f.payload else {
                unreachable!()
            };
            digest += walk(p, &mut scratch);
            digest += usize::from(f.topic == "room:café");
            digest += f.topic.unescape_into(&mut scratch).unwrap().len();
            if let Ok(r) = f.reply() {
                digest += usize::from(r.status.is_some());
            }
            for vsn in [Vsn::V1, Vsn::V2] {
                out.clear();
                f.encode_text(vsn, &mut out).unwrap();
                digest += out.len();
                let mut sink = SliceSink::new(&mut fixed);
                f.encode_text(vsn, &mut sink).unwrap();
                digest += sink.len();
            }
        }
        for &(bytes, dir) in BINARY {
            let f = frame::decode_binary(bytes, dir).unwrap();
            digest += f
                .reply()
                .map_or(0, |r| r.status.map_or(0, |s| s.raw().len()));
            out.clear();
            f.encode_binary(dir, &mut out).unwrap();
            digest += out.len();
        }
        for b in bad {
            digest += frame::decode_text(b, Vsn::V2).unwrap_err().offset();
            digest += frame::decode_text(b, Vsn::V1).unwrap_err().offset();
        }
        let reply = Frame {
            payload: Payload::Reply {
                status: "ok".into(),
                response: br#"{"a":1}"#,
            },
            ..Frame::new("t", "phx_reply", Payload::Binary(b""))
        };
        out.clear();
        reply.encode_text(Vsn::V2, &mut out).unwrap();
        reply.encode_binary(Direction::ToClient, &mut out).unwrap();
        digest + out.len()
    });
    assert!(digest > 0);
    assert_eq!(count, 0, "decode/walk/encode allocated {count} times");
}

#[test]
fn the_counter_counts() {
    // Guards against a counter that never moves.
    let (_v, count) = allocations(|| vec![1u8; 10]);
    assert_eq!(count, 1);
}
