//! Compressed terms (tag 80): bounds, size checks, nesting and corruption.
#![cfg(feature = "inflate")]

use phoenix_wire::etf::{self, SafePolicy, Term};
use phoenix_wire::ErrorKind::{self, *};

/// zlib-compresses `body` (a term without its version byte) under tag 80,
/// declaring `declared` bytes.
fn packed(body: &[u8], declared: u32) -> Vec<u8> {
    let mut plain = vec![131];
    plain.extend_from_slice(body);
    let mut out = Vec::new();
    etf::compress(&plain, 6, &mut out).unwrap();
    out[2..6].copy_from_slice(&declared.to_be_bytes());
    out
}

fn fails(bytes: &[u8], policy: &SafePolicy<'_>) -> (ErrorKind, usize) {
    let mut buf = vec![0u8; 1 << 16];
    let e = etf::decode_compressed(bytes, policy, &mut buf).expect_err("must be rejected");
    (e.kind(), e.offset())
}

const LIST: &[u8] = &[
    108, 0, 0, 0, 2, 97, 1, 109, 0, 0, 0, 3, b'a', b'b', b'c', 106,
];

#[test]
fn otp_compressed_term_decodes() {
    // term_to_binary(lists:duplicate(20, 7), [compressed]) on OTP 25.
    let otp = [
        131, 80, 0, 0, 0, 23, 120, 156, 203, 102, 16, 97, 199, 2, 0, 17, 22, 1, 12,
    ];
    let mut buf = [0u8; 23];
    let t = etf::decode_compressed(&otp, &SafePolicy::new(), &mut buf).unwrap();
    assert_eq!(t, Term::Charlist(&[7; 20]));
    // Uncompressed input passes through and borrows from the input.
    let t = etf::decode_compressed(&[131, 97, 5], &SafePolicy::new(), &mut []).unwrap();
    assert_eq!(t, Term::Int(5));
    let mut v = Vec::new();
    let input = packed(LIST, LIST.len() as u32);
    let t = etf::decode_compressed_vec(&input, &SafePolicy::new(), &mut v).unwrap();
    assert_eq!(t.as_list().unwrap().iter().count(), 2);
    assert_eq!(v.len(), LIST.len());
}

#[test]
fn declared_size_must_match() {
    // eetf 0.12 ignores the declared size.
    let n = LIST.len() as u32;
    assert_eq!(
        fails(&packed(LIST, n - 1), &SafePolicy::new()),
        (InflatedSizeMismatch, 2)
    );
    assert_eq!(
        fails(&packed(LIST, n + 1), &SafePolicy::new()),
        (InflatedSizeMismatch, 2)
    );
    assert_eq!(
        fails(&packed(LIST, 0), &SafePolicy::new()),
        (InflatedSizeMismatch, 2)
    );
}

#[test]
fn declared_size_bounded_by_policy_and_buffer() {
    let n = LIST.len();
    let p = SafePolicy::new().max_inflated_size(n - 1);
    assert_eq!(
        fails(&packed(LIST, n as u32), &p),
        (InflateLimitExceeded, 2)
    );
    let mut small = [0u8; 4];
    let e = etf::decode_compressed(&packed(LIST, n as u32), &SafePolicy::new(), &mut small)
        .unwrap_err();
    assert_eq!((e.kind(), e.offset()), (BufferFull, 2));
    assert_eq!(
        fails(&[131, 80, 0, 0, 1], &SafePolicy::new()),
        (UnexpectedEof, 2)
    );
}

#[test]
fn nested_compression_is_rejected() {
    // The inflated bytes are themselves a compressed term.
    let inner = packed(LIST, LIST.len() as u32);
    let outer = packed(&inner[1..], (inner.len() - 1) as u32);
    assert_eq!(
        fails(&outer, &SafePolicy::new()),
        (UnsupportedCompression, 0)
    );
    // Or a tuple holding tag 80.
    let body = [104, 1, 80, 0, 0, 0, 1, 97];
    assert_eq!(
        fails(&packed(&body, body.len() as u32), &SafePolicy::new()),
        (UnsupportedCompression, 2)
    );
}

#[test]
fn errors_inside_the_inflated_term_count_from_its_start() {
    let body = [104, 2, 97, 1, 112, 0, 0, 0, 0];
    assert_eq!(
        fails(&packed(&body, body.len() as u32), &SafePolicy::new()),
        (ExecutableTerm, 4)
    );
    // Inflated bytes after the term.
    let body = [97, 1, 97, 2];
    assert_eq!(
        fails(&packed(&body, 4), &SafePolicy::new()),
        (TrailingBytes, 2)
    );
}

#[test]
fn corrupt_truncated_and_trailing_streams() {
    let good = packed(LIST, LIST.len() as u32);
    // A bad zlib header, a flipped byte in the middle, a wrong checksum.
    let mut bad = good.clone();
    bad[6] = 0x77;
    assert_eq!(fails(&bad, &SafePolicy::new()).0, InvalidCompression);
    let mut bad = good.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0xff;
    assert_eq!(fails(&bad, &SafePolicy::new()).0, InvalidCompression);
    for cut in 6..good.len() {
        let (k, off) = fails(&good[..cut], &SafePolicy::new());
        assert!(
            matches!(k, UnexpectedEof | InvalidCompression),
            "cut {cut}: {k:?}"
        );
        assert!(off <= cut);
    }
    let mut trailing = good.clone();
    trailing.push(0);
    assert_eq!(
        fails(&trailing, &SafePolicy::new()),
        (TrailingBytes, good.len())
    );
    let mut buf = vec![0u8; 64];
    assert!(etf::decode_compressed(&trailing, &SafePolicy::new().strict(false), &mut buf).is_ok());
}

/// miniz_oxide's own verdict on a zlib stream with its checksum checked:
/// the status and how many bytes of `bytes` (the whole term) it used.
fn checked_inflate(bytes: &[u8], size: usize) -> (miniz_oxide::inflate::TINFLStatus, usize) {
    use miniz_oxide::inflate::core::{decompress, inflate_flags, DecompressorOxide};
    let flags = inflate_flags::TINFL_FLAG_PARSE_ZLIB_HEADER
        | inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF;
    let mut state = Box::<DecompressorOxide>::default();
    let mut out = vec![0u8; size];
    let (status, read_in, _) = decompress(&mut state, &bytes[6..], &mut out, 0, flags);
    (status, 6 + read_in)
}

#[test]
fn checksum_errors_are_the_ones_miniz_oxide_finds() {
    // The checksum is checked outside miniz_oxide: on streams corrupted
    // anywhere (the 4-byte checksum at the end most of the time), a
    // mismatch is reported exactly where miniz_oxide's own check reports
    // it, and nowhere else. The body is long enough for the SIMD paths.
    let mut body = vec![108, 0, 0, 3, 232];
    for i in 0..1000u32 {
        body.extend_from_slice(&[98]);
        body.extend_from_slice(&(i * 7919).to_be_bytes());
    }
    body.push(106);
    let good = packed(&body, body.len() as u32);
    let mut buf = vec![0u8; body.len()];
    assert!(etf::decode_compressed(&good, &SafePolicy::new(), &mut buf).is_ok());
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut mismatches = 0;
    for round in 0..3000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut bad = good.clone();
        let at = if round % 2 == 0 {
            bad.len() - 1 - (x % 4) as usize
        } else {
            6 + (x % (bad.len() - 6) as u64) as usize
        };
        bad[at] ^= 1 << ((x >> 32) % 8);
        let (status, used) = checked_inflate(&bad, body.len());
        let ours = etf::decode_compressed(&bad, &SafePolicy::new(), &mut buf);
        if status == miniz_oxide::inflate::TINFLStatus::Adler32Mismatch {
            mismatches += 1;
            let e = ours.expect_err("a bad checksum");
            assert_eq!(
                (e.kind(), e.offset()),
                (InvalidCompression, used),
                "byte {at}"
            );
        } else if let Err(e) = ours {
            // Otherwise a stream is invalid only when miniz_oxide fails too.
            assert!(
                e.kind() != InvalidCompression || (status as i32) < 0,
                "byte {at}: {e:?} but miniz_oxide says {status:?}"
            );
        }
    }
    assert!(mismatches > 1000, "{mismatches}");
}
