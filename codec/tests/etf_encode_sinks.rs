//! The ETF encoder writes the same bytes into every kind of sink, whatever
//! room the sink has: [`Sink::put_pair`] (an atom's tag, length and name
//! written at once into a `Vec`'s or a `BufMut`'s spare memory) must agree
//! with a sink that only knows `put`, at every capacity around each write,
//! and a full sink must keep exactly what the piece-by-piece writes keep.
// `Vec<u8>` is an output buffer only with `alloc`.
#![cfg(feature = "alloc")]

use phoenix_wire::etf::{EncodeOptions, Encoder};
use phoenix_wire::{Error, ErrorKind, Sink, SliceSink};

/// A sink that only knows `put` (the default `put_pair` is two puts), and
/// refuses, writing nothing, a put past `cap` bytes: the reference.
struct PutOnly {
    out: Vec<u8>,
    cap: usize,
}

impl PutOnly {
    fn new(cap: usize) -> Self {
        PutOnly {
            out: Vec::new(),
            cap,
        }
    }
}

impl Sink for PutOnly {
    fn put(&mut self, bytes: &[u8]) -> phoenix_wire::Result<()> {
        if self.out.len() + bytes.len() > self.cap {
            return Err(Error::new(ErrorKind::BufferFull, self.out.len()));
        }
        self.out.extend_from_slice(bytes);
        Ok(())
    }
}

/// Atom names: every length up to 20 and the longest ones, ASCII, Latin-1
/// and other UTF-8, so every piece size of the short copy is written.
fn atom_names() -> Vec<String> {
    let mut names: Vec<String> = (0..=20)
        .map(|n| "abcdefghijklmnopqrstu"[..n].into())
        .collect();
    names.extend((250..=255).map(|n| "z".repeat(n)));
    names.extend(["ok", "é", "héllo", "日本", "token"].map(String::from));
    names
}

/// Writes a term with every write the encoder has, atoms of every length
/// among them.
fn write<S: Sink + ?Sized>(e: &mut Encoder<'_, S>) -> phoenix_wire::Result<()> {
    let names = atom_names();
    let bins: Vec<Vec<u8>> = (0..=40).chain([300]).map(|n| vec![n as u8; n]).collect();
    e.version()?;
    e.list_header(names.len() + bins.len() + 3)?;
    for name in &names {
        e.tuple_header(2)?;
        e.atom(name)?;
        e.bool(name.len() % 2 == 0)?;
    }
    for b in &bins {
        e.map_header(1)?;
        e.binary(b)?;
        e.float(b.len() as f64 * -0.5)?;
    }
    e.tuple_header(300)?; // LARGE_TUPLE
    for i in 0..300i64 {
        e.int(i * i * i * 1000 - 7)?;
    }
    e.int128(-(1 << 90))?;
    e.charlist(b"token_please")?;
    e.nil()
}

fn encode<S: Sink + ?Sized>(out: &mut S, legacy: bool) -> phoenix_wire::Result<()> {
    let mut e = Encoder::with_options(out, EncodeOptions::new().legacy_atoms(legacy));
    write(&mut e)
}

/// The reference bytes: written piece by piece into an unbounded sink.
fn reference(legacy: bool) -> Vec<u8> {
    let mut r = PutOnly::new(usize::MAX);
    encode(&mut r, legacy).unwrap();
    r.out
}

#[test]
fn vecs_of_every_capacity_give_the_reference_bytes() {
    for legacy in [false, true] {
        let want = reference(legacy);
        for cap in 0..=want.len() + 1 {
            let mut v = Vec::with_capacity(cap);
            encode(&mut v, legacy).unwrap();
            assert_eq!(v, want, "capacity {cap}");
            // After bytes already there, with the room left around each
            // write shifted by one.
            let mut v = Vec::with_capacity(cap);
            v.push(0xAB);
            encode(&mut v, legacy).unwrap();
            assert_eq!(v[0], 0xAB);
            assert_eq!(&v[1..], &want[..], "capacity {cap}, one byte in");
        }
        let dyn_sink: &mut dyn Sink = &mut Vec::new();
        encode(dyn_sink, legacy).unwrap();
    }
}

#[cfg(feature = "bytes")]
#[test]
fn bytes_mut_of_every_capacity_gives_the_reference_bytes() {
    for legacy in [false, true] {
        let want = reference(legacy);
        for cap in 0..=want.len() + 1 {
            let mut b = bytes::BytesMut::with_capacity(cap);
            encode(&mut b, legacy).unwrap();
            assert_eq!(&b[..], &want[..], "capacity {cap}");
        }
    }
}

/// A sink too small for the term: the same error as piece by piece, and
/// exactly the bytes the piece-by-piece writes before it kept, never a
/// partial pair or a byte of memory not written.
#[test]
fn full_sinks_keep_what_piece_by_piece_writes_keep() {
    for legacy in [false, true] {
        let want = reference(legacy);
        for size in 0..want.len() {
            let mut r = PutOnly::new(size);
            let r_err = encode(&mut r, legacy).unwrap_err();
            assert_eq!(r_err.kind(), ErrorKind::BufferFull);
            assert!(want.starts_with(&r.out));

            let mut storage = vec![0xEEu8; size + 8];
            let mut sink = SliceSink::new(&mut storage[..size]);
            let err = encode(&mut sink, legacy).unwrap_err();
            assert_eq!((err.kind(), err.offset()), (r_err.kind(), r_err.offset()));
            assert_eq!(sink.written(), &r.out[..], "slice of {size}");
            assert!(storage[size..].iter().all(|&x| x == 0xEE));

            #[cfg(feature = "bytes")]
            {
                use bytes::BufMut;
                let mut limited = bytes::BytesMut::new().limit(size);
                let err = encode(&mut limited, legacy).unwrap_err();
                assert_eq!(err.kind(), ErrorKind::BufferFull);
                assert_eq!(&limited.get_ref()[..], &r.out[..], "limit {size}");

                // A plain `&mut [u8]` is a `BufMut` too.
                let mut storage = vec![0xEEu8; size + 8];
                let mut rest: &mut [u8] = &mut storage[..size];
                let err = encode(&mut rest, legacy).unwrap_err();
                assert_eq!(err.kind(), ErrorKind::BufferFull);
                let written = size - rest.len();
                assert_eq!(&storage[..written], &r.out[..], "&mut [u8] of {size}");
                assert!(storage[size..].iter().all(|&x| x == 0xEE));
            }
        }
    }
}

#[test]
fn put_pair_is_put_then_put() {
    let mut v = Vec::new();
    v.put_pair(b"ab", b"").unwrap();
    v.put_pair(b"", b"cd").unwrap();
    v.put_pair(b"e", &[b'f'; 20]).unwrap();
    assert_eq!(v, [&b"abcde"[..], &[b'f'; 20]].concat());

    // A slice with room for the head only keeps the head, as two puts do.
    let mut storage = [0u8; 3];
    let mut sink = SliceSink::new(&mut storage);
    let err = sink.put_pair(b"xyz", b"w").unwrap_err();
    assert_eq!((err.kind(), err.offset()), (ErrorKind::BufferFull, 3));
    assert_eq!(sink.written(), b"xyz");
}
