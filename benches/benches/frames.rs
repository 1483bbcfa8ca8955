//! Phoenix frame decode and encode, side by side with the peers a user would
//! pick instead. Groups, impls and inputs are named so that
//! `benches/ratios.py` can turn criterion's estimates into a table of ratios:
//! `<group>/<impl>/<input>`.
//!
//! Every routine hands its result to `std::hint::black_box` by reference
//! and returns `()`: criterion 0.5's own `black_box` (applied to whatever a
//! routine returns) is a volatile read of the whole value, byte by byte,
//! which would charge each decoder for the size of its output struct rather
//! than for decoding.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use phoenix_wire::frame::{self, Frame};
use phoenix_wire::{Direction, Payload, Vsn};
use phoenix_wire_benches::cpu_time::CpuTime;
use phoenix_wire_benches::inputs::{self, Input};
use serde_json::value::RawValue;

/// serde_json's fastest borrowed form of a V2 frame. `&str` (rather than
/// `Cow<str>`) fails on header strings with escapes, which none of the inputs
/// have; it is the cheapest thing serde_json can do here, so it favours the peer.
type SerdeFrame<'a> = (
    Option<&'a str>,
    Option<&'a str>,
    &'a str,
    &'a str,
    &'a RawValue,
);

/// sonic-rs's equivalent: a lazily kept payload, validated while skipped.
type SonicFrame<'a> = (
    Option<&'a str>,
    Option<&'a str>,
    &'a str,
    &'a str,
    sonic_rs::LazyValue<'a>,
);

/// Checks once, outside the timings, that every peer accepts every input and
/// sees the same topic and payload as we do.
fn check_peers_agree(input: &Input) {
    let ours = frame::decode_text(&input.frame, Vsn::V2).expect("ours");
    let Payload::Json(payload) = ours.payload else {
        panic!("{}: not a JSON payload", input.name)
    };
    let serde: SerdeFrame = serde_json::from_slice(&input.frame).expect("serde_json");
    assert_eq!(ours.topic, serde.2);
    assert_eq!(payload.raw(), serde.4.get());
    let sonic: SonicFrame = sonic_rs::from_slice(&input.frame).expect("sonic_rs");
    assert_eq!(ours.topic, sonic.2);
    assert_eq!(payload.raw(), sonic.4.as_raw_str());
    let mut copy = input.frame.clone();
    let simd = simd_json::to_borrowed_value(&mut copy).expect("simd_json");
    assert!(simd_json::prelude::ValueAsArray::as_array(&simd).is_some_and(|a| a.len() == 5));
}

fn decode(c: &mut Criterion<CpuTime>) {
    let mut group = c.benchmark_group("frames-decode");
    for input in inputs::text() {
        check_peers_agree(&input);
        let bytes = input.frame.as_slice();
        group.throughput(Throughput::Bytes(bytes.len() as u64));

        group.bench_with_input(BenchmarkId::new("ours", input.name), bytes, |b, bytes| {
            b.iter(|| {
                let f = frame::decode_text(black_box(bytes), Vsn::V2).unwrap();
                black_box(&f);
            })
        });
        group.bench_with_input(
            BenchmarkId::new("serde_json", input.name),
            bytes,
            |b, bytes| {
                b.iter(|| {
                    let f: SerdeFrame = serde_json::from_slice(black_box(bytes)).unwrap();
                    black_box(&f);
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("sonic_rs", input.name),
            bytes,
            |b, bytes| {
                b.iter(|| {
                    let f: SonicFrame = sonic_rs::from_slice(black_box(bytes)).unwrap();
                    black_box(&f);
                })
            },
        );
        // simd-json parses in place, so each iteration first copies the frame
        // into a reused buffer (the copy is timed: a caller pays it too unless
        // it can give up its input). Its scratch buffers are reused as well.
        group.bench_with_input(
            BenchmarkId::new("simd_json", input.name),
            bytes,
            |b, bytes| {
                let mut buf = Vec::with_capacity(bytes.len());
                let mut buffers = simd_json::Buffers::new(bytes.len());
                b.iter(|| {
                    buf.clear();
                    buf.extend_from_slice(black_box(bytes));
                    let v =
                        simd_json::value::borrowed::to_value_with_buffers(&mut buf, &mut buffers)
                            .unwrap();
                    black_box(&v);
                })
            },
        );
        // What any decoder must at least do: look at every byte once and
        // check that the text is UTF-8.
        group.bench_with_input(BenchmarkId::new("floor", input.name), bytes, |b, bytes| {
            b.iter(|| {
                let bytes = black_box(bytes);
                let nul = memchr::memchr(0, bytes);
                black_box((nul, core::str::from_utf8(bytes).is_ok()));
            })
        });
    }
    group.finish();
}

fn decode_binary(c: &mut Criterion<CpuTime>) {
    let mut group = c.benchmark_group("frames-decode-binary");
    let bytes = inputs::binary_push();
    let f = frame::decode_binary(&bytes, Direction::ToServer).unwrap();
    assert_eq!(f.topic, "device:ws-0042");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_with_input(BenchmarkId::new("ours", "push"), &bytes[..], |b, bytes| {
        b.iter(|| {
            let f = frame::decode_binary(black_box(bytes), Direction::ToServer).unwrap();
            black_box(&f);
        })
    });
    // A binary payload is not text: the floor is one pass over the frame.
    group.bench_with_input(BenchmarkId::new("floor", "push"), &bytes[..], |b, bytes| {
        b.iter(|| {
            black_box(memchr::memchr(0xff, black_box(bytes)));
        })
    });
    group.finish();
}

fn encode(c: &mut Criterion<CpuTime>) {
    let mut group = c.benchmark_group("frames-encode");
    for input in inputs::text() {
        let f: Frame = frame::decode_text(&input.frame, Vsn::V2).unwrap();
        let serde: SerdeFrame = serde_json::from_slice(&input.frame).unwrap();
        // Both encoders must write the same bytes, which are the input's.
        let mut ours_out = Vec::new();
        f.encode_text(Vsn::V2, &mut ours_out).unwrap();
        let serde_out = serde_json::to_vec(&serde).unwrap();
        assert_eq!(ours_out, input.frame, "{}", input.name);
        assert_eq!(serde_out, input.frame, "{}", input.name);
        group.throughput(Throughput::Bytes(input.frame.len() as u64));

        group.bench_with_input(BenchmarkId::new("ours", input.name), &f, |b, f| {
            let mut out = Vec::with_capacity(input.frame.len());
            b.iter(|| {
                out.clear();
                black_box(f).encode_text(Vsn::V2, &mut out).unwrap();
                black_box(&out);
            })
        });
        group.bench_with_input(
            BenchmarkId::new("serde_json", input.name),
            &serde,
            |b, t| {
                let mut out = Vec::with_capacity(input.frame.len());
                b.iter(|| {
                    out.clear();
                    serde_json::to_writer(&mut out, black_box(t)).unwrap();
                    black_box(&out);
                })
            },
        );
        // What any encoder must at least do: copy the frame's bytes into the
        // reused buffer once (on the 64 KiB frame, nearly all of the time).
        group.bench_with_input(
            BenchmarkId::new("floor", input.name),
            &input.frame,
            |b, frame| {
                let mut out = Vec::with_capacity(frame.len());
                b.iter(|| {
                    out.clear();
                    out.extend_from_slice(black_box(frame));
                    black_box(&out);
                })
            },
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    // CPU time of the bench thread: see `phoenix_wire_benches::cpu_time`.
    config = Criterion::default().with_measurement(CpuTime);
    targets = decode, decode_binary, encode
}
criterion_main!(benches);
