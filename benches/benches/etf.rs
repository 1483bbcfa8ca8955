//! Erlang term decode, encode and inflate, side by side with eetf (the
//! crate a Rust user would pick instead) and, for compressed terms, with
//! the inflater alone. Named `<group>/<impl>/<input>` for `ratios.py`.
//!
//! - `etf-decode`: ours is `etf::decode` plus a full walk of the view
//!   (every element of every container; every integer and float; every
//!   atom's and binary's borrowed bytes), against `eetf::Term::decode`,
//!   which builds its tree.
//! - `etf-decode-flat`: the same, walking with `Term::walk` (one pass in
//!   written order) instead of the nested iterators.
//! - `etf-decode-visit`: the same again in a single pass with `etf::visit`,
//!   which checks each term and hands it over (the terms `Term::walk`
//!   yields).
//! - `etf-encode`: each side writes the same term into a reused `Vec` from
//!   what a program would hold: ours through `Encoder` calls straight from
//!   Rust values (no tree), eetf from its already built `Term` tree (the
//!   time to build that tree is not counted, which favours eetf). The
//!   values ours reads are built beforehand too (the keyword list's
//!   entries are a static array); only the tuples' integers (`i`, `2 * i`)
//!   are computed in the timed loop. `floor` copies the encoded term into
//!   the same `Vec` (one `extend_from_slice`): no encoder can take less.
//! - `etf-inflate`: `etf::decode_compressed` (inflate, check, validate)
//!   against miniz_oxide inflating the same stream into the same buffer,
//!   and eetf decoding it.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use phoenix_wire::etf::{self, EncodeOptions, Encoder, SafePolicy, Term};
use phoenix_wire_benches::cpu_time::CpuTime;

struct Input {
    name: &'static str,
    /// Writes the term with our encoder (what the encode bench times).
    write: fn(&mut Vec<u8>),
    bytes: Vec<u8>,
}

impl Input {
    fn new(name: &'static str, write: fn(&mut Vec<u8>)) -> Input {
        let mut bytes = Vec::new();
        write(&mut bytes);
        Input { name, write, bytes }
    }
}

fn encoder(out: &mut Vec<u8>) -> Encoder<'_, Vec<u8>> {
    // The forms OTP 25 writes (ATOM_EXT), as a Fedecks server on OTP 25 would.
    let mut e = Encoder::with_options(out, EncodeOptions::new().legacy_atoms(true));
    e.version().unwrap();
    e
}

/// The auth map a Fedecks device sends.
fn auth(out: &mut Vec<u8>) {
    let mut e = encoder(out);
    e.map_header(3).unwrap();
    for (k, v) in [
        ("fedecks-device-id", "nerves-7f3a-9c21-4be8"),
        ("username", "marvin@heart-of-gold.example"),
        ("password", "correct horse battery staple"),
    ] {
        e.binary(k.as_bytes()).unwrap();
        e.binary(v.as_bytes()).unwrap();
    }
}

/// An opaque 300-byte token.
static TOKEN: [u8; 300] = {
    let mut t = [0u8; 300];
    let mut i = 0;
    while i < 300 {
        t[i] = ((i as u32).wrapping_mul(2_654_435_761) >> 24) as u8;
        i += 1;
    }
    t
};

/// The server's `{'token', <<300 bytes>>}` reply.
fn token(out: &mut Vec<u8>) {
    let mut e = encoder(out);
    e.tuple_header(2).unwrap();
    e.atom("token").unwrap();
    e.binary(&TOKEN).unwrap();
}

/// A reading's value: every fifth an uptime in seconds, the others floats.
#[derive(Clone, Copy)]
enum Reading {
    Int(i64),
    Float(f64),
}

/// The keyword list's entries, built once like eetf's `Term` (which its
/// encode bench walks): the timed loop only encodes them.
static READINGS: [(&str, Reading); 200] = {
    let keys = ["temperature", "humidity", "pressure", "voltage", "uptime"];
    let mut t = [("", Reading::Int(0)); 200];
    let mut i = 0;
    while i < 200 {
        let value = if i % 5 == 4 {
            Reading::Int(86_400 + i as i64 * 37)
        } else {
            Reading::Float(20.0 + i as f64 * 0.125)
        };
        t[i] = (keys[i % keys.len()], value);
        i += 1;
    }
    t
};

/// A 200-entry keyword list of sensor readings: `[temperature: 21.5, ...]`.
fn keyword(out: &mut Vec<u8>) {
    let mut e = encoder(out);
    e.list_header(READINGS.len()).unwrap();
    for &(key, value) in &READINGS {
        e.tuple_header(2).unwrap();
        e.atom(key).unwrap();
        match value {
            Reading::Int(v) => e.int(v).unwrap(),
            Reading::Float(v) => e.float(v).unwrap(),
        }
    }
    e.nil().unwrap();
}

/// 10,000 small tuples: `[{0, 0, :ok}, {1, 2, :ok}, ...]`.
fn tuples(out: &mut Vec<u8>) {
    let mut e = encoder(out);
    e.list_header(10_000).unwrap();
    for i in 0..10_000i64 {
        e.tuple_header(3).unwrap();
        e.int(i).unwrap();
        e.int(i * 2).unwrap();
        e.atom("ok").unwrap();
    }
    e.nil().unwrap();
}

/// About 1 MiB of readings (`{Seq, "sensor-N", Value}`), compressed as
/// `term_to_binary(T, [compressed])` does (zlib level 6).
fn compressed() -> (Vec<u8>, usize) {
    let mut plain = Vec::new();
    let mut e = encoder(&mut plain);
    let n = 30_000;
    e.list_header(n).unwrap();
    for i in 0..n {
        e.tuple_header(3).unwrap();
        e.int(i as i64).unwrap();
        e.binary(format!("sensor-{}", i % 64).as_bytes()).unwrap();
        e.float((i % 1000) as f64 * 0.01).unwrap();
    }
    e.nil().unwrap();
    let mut out = Vec::new();
    etf::compress(&plain, 6, &mut out).unwrap();
    (out, plain.len() - 1)
}

fn inputs() -> Vec<Input> {
    vec![
        Input::new("auth", auth),
        Input::new("token", token),
        Input::new("keyword-200", keyword),
        Input::new("tuples-10k", tuples),
    ]
}

/// Visits everything a consumer could read; returns a checksum so nothing
/// is optimized away.
fn walk(t: &Term<'_>) -> u64 {
    match *t {
        Term::Int(v) => v as u64,
        Term::Float(v) => v.to_bits(),
        Term::Atom(a) => a.raw().len() as u64,
        Term::Binary(b) | Term::Charlist(b) => b.len() as u64,
        Term::List(l) => {
            // The tail from the exhausted iterator: `List::tail` would walk again.
            let mut it = l.iter();
            let sum = it.by_ref().map(|e| walk(&e)).sum::<u64>();
            sum + it.tail().map_or(0, |t| walk(&t))
        }
        Term::Tuple(tu) => tu.iter().map(|e| walk(&e)).sum(),
        Term::Map(m) => m.iter().map(|(k, v)| walk(&k) ^ walk(&v)).sum(),
        _ => 1,
    }
}

fn policy() -> SafePolicy<'static> {
    SafePolicy::new().max_depth(etf::DEFAULT_MAX_DEPTH)
}

fn decode(c: &mut Criterion<CpuTime>) {
    let mut group = c.benchmark_group("etf-decode");
    for input in inputs() {
        let bytes = input.bytes.as_slice();
        // Both sides accept it and see the same term.
        let ours = etf::decode(bytes, &policy()).unwrap();
        let theirs = eetf::Term::decode(bytes).unwrap();
        let mut again = Vec::new();
        theirs.encode(&mut again).unwrap();
        assert_eq!(
            etf::decode(&again, &policy()).unwrap(),
            ours,
            "{}",
            input.name
        );

        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_with_input(BenchmarkId::new("ours", input.name), bytes, |b, bytes| {
            b.iter(|| walk(&etf::decode(black_box(bytes), &policy()).unwrap()))
        });
        group.bench_with_input(BenchmarkId::new("eetf", input.name), bytes, |b, bytes| {
            b.iter(|| eetf::Term::decode(black_box(bytes)).unwrap())
        });
    }
    group.finish();

    // The same, walking with `Term::walk`: one pass in written order.
    let mut group = c.benchmark_group("etf-decode-flat");
    for input in inputs() {
        let bytes = input.bytes.as_slice();
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_with_input(BenchmarkId::new("ours", input.name), bytes, |b, bytes| {
            b.iter(|| {
                let t = etf::decode(black_box(bytes), &policy()).unwrap();
                t.walk().map(|x| leaf(&x)).sum::<u64>()
            })
        });
        group.bench_with_input(BenchmarkId::new("eetf", input.name), bytes, |b, bytes| {
            b.iter(|| eetf::Term::decode(black_box(bytes)).unwrap())
        });
    }
    group.finish();

    // The same in one pass: `etf::visit` checks and hands over each term.
    let mut group = c.benchmark_group("etf-decode-visit");
    for input in inputs() {
        let bytes = input.bytes.as_slice();
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_with_input(BenchmarkId::new("ours", input.name), bytes, |b, bytes| {
            b.iter(|| {
                let mut sum = 0u64;
                etf::visit(black_box(bytes), &policy(), |x| sum += leaf(&x)).unwrap();
                sum
            })
        });
        group.bench_with_input(BenchmarkId::new("eetf", input.name), bytes, |b, bytes| {
            b.iter(|| eetf::Term::decode(black_box(bytes)).unwrap())
        });
    }
    group.finish();
}

/// What `walk` reads of one term, without descending.
fn leaf(t: &Term<'_>) -> u64 {
    match *t {
        Term::Int(v) => v as u64,
        Term::Float(v) => v.to_bits(),
        Term::Atom(a) => a.raw().len() as u64,
        Term::Binary(b) | Term::Charlist(b) => b.len() as u64,
        _ => 1,
    }
}

fn encode(c: &mut Criterion<CpuTime>) {
    let mut group = c.benchmark_group("etf-encode");
    for input in inputs() {
        let bytes = input.bytes.as_slice();
        let theirs = eetf::Term::decode(bytes).unwrap();
        let mut out = Vec::with_capacity(bytes.len() * 2);
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_with_input(
            BenchmarkId::new("ours", input.name),
            &input.write,
            |b, write| {
                b.iter(|| {
                    out.clear();
                    black_box(write)(&mut out);
                    out.len()
                })
            },
        );
        group.bench_with_input(BenchmarkId::new("eetf", input.name), &theirs, |b, t| {
            b.iter(|| {
                out.clear();
                black_box(t).encode(&mut out).unwrap();
                out.len()
            })
        });
        // The least any encoder must do: copy the term's bytes into the Vec.
        group.bench_with_input(BenchmarkId::new("floor", input.name), bytes, |b, bytes| {
            b.iter(|| {
                out.clear();
                out.extend_from_slice(black_box(bytes));
                out.len()
            })
        });
    }
    group.finish();
}

fn inflate(c: &mut Criterion<CpuTime>) {
    let (bytes, size) = compressed();
    let mut buf = vec![0u8; size];
    let t = etf::decode_compressed(&bytes, &policy(), &mut buf).unwrap();
    assert_eq!(t.as_list().unwrap().iter().count(), 30_000);
    let name = "compressed-1mib";
    let mut group = c.benchmark_group("etf-inflate");
    group.throughput(Throughput::Bytes(size as u64));
    group.bench_with_input(BenchmarkId::new("ours", name), &bytes, |b, bytes| {
        b.iter(|| {
            let t = etf::decode_compressed(black_box(bytes), &policy(), &mut buf).unwrap();
            matches!(t, Term::List(_))
        })
    });
    group.bench_with_input(BenchmarkId::new("miniz_oxide", name), &bytes, |b, bytes| {
        use miniz_oxide::inflate::core::{decompress, inflate_flags, DecompressorOxide};
        let flags = inflate_flags::TINFL_FLAG_PARSE_ZLIB_HEADER
            | inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF;
        b.iter(|| {
            let mut state = Box::<DecompressorOxide>::default();
            let (status, _, n) = decompress(&mut state, &black_box(bytes)[6..], &mut buf, 0, flags);
            assert_eq!((status, n), (miniz_oxide::inflate::TINFLStatus::Done, size));
        })
    });
    group.bench_with_input(BenchmarkId::new("eetf", name), &bytes, |b, bytes| {
        b.iter(|| eetf::Term::decode(black_box(&bytes[..])).unwrap())
    });
    group.finish();
    println!(
        "etf-inflate input: {} bytes compressed, {size} inflated",
        bytes.len()
    );
}

criterion_group! {
    name = benches;
    // CPU time of the bench thread: see `phoenix_wire_benches::cpu_time`.
    config = Criterion::default().with_measurement(CpuTime);
    targets = decode, encode, inflate
}
criterion_main!(benches);
