//! A zlib stream that inflates to 4 GiB: rejected with bounded memory.
//! In its own test binary so the peak RSS it reports is its own.
#![cfg(feature = "inflate")]

use phoenix_wire::etf::{self, SafePolicy};
use phoenix_wire::ErrorKind;

/// Deflate bits, least significant first.
struct Bits {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl Bits {
    fn put(&mut self, value: u64, count: u32) {
        self.acc |= value << self.n;
        self.n += count;
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }
    /// A Huffman code goes most significant bit first.
    fn code(&mut self, code: u64, len: u32) {
        let rev = (0..len).fold(0, |acc, i| acc << 1 | (code >> i) & 1);
        self.put(rev, len);
    }
}

/// `131, 80, Declared, zlib stream` inflating to one zero byte followed by
/// `matches` copies of 258 zeros: 13 bits per 258 bytes in a fixed-Huffman
/// block, so 4 GiB take 27 MB.
fn bomb(declared: u32, matches: u64) -> Vec<u8> {
    let mut b = Bits {
        out: vec![131, 80],
        acc: 0,
        n: 0,
    };
    b.out.extend_from_slice(&declared.to_be_bytes());
    b.out.extend_from_slice(&[0x78, 0x01]);
    b.put(1, 1); // final block
    b.put(1, 2); // fixed Huffman codes
    b.code(0x30, 8); // literal 0
    for _ in 0..matches {
        b.code(0b1100_0101, 8); // length code 285: 258 bytes
        b.code(0, 5); // distance code 0: 1 byte back
    }
    b.code(0, 7); // end of block
    b.put(0, 7);
    let total = 1 + 258 * matches;
    let adler = ((total % 65521) << 16 | 1) as u32;
    b.out.extend_from_slice(&adler.to_be_bytes());
    b.out
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn four_gib_bomb_is_rejected_with_bounded_memory() {
    // A small bomb first, to show the stream is what it claims: 1 + 258 * 4 bytes.
    let small = bomb(1 + 258 * 4, 4);
    let mut v = Vec::new();
    let e = etf::decode_compressed_vec(&small, &SafePolicy::new(), &mut v).unwrap_err();
    // It inflated in full (all zeros: tag 0 is unknown at offset 0).
    assert_eq!((e.kind(), e.offset()), (ErrorKind::UnknownTag(0), 0));
    assert_eq!(v.len(), 1 + 258 * 4);

    let matches = (u64::from(u32::MAX) - 1) / 258;
    let total = 1 + 258 * matches;
    assert!(total > (4 << 30) - 300, "{total} bytes");
    let before = peak_rss_kib();

    // Declaring the real size: refused before inflating anything.
    let honest = bomb(total as u32, matches);
    let input_kib = honest.len() as u64 / 1024;
    let mut buf = Vec::new();
    let e = etf::decode_compressed_vec(&honest, &SafePolicy::new(), &mut buf).unwrap_err();
    assert_eq!((e.kind(), e.offset()), (ErrorKind::InflateLimitExceeded, 2));
    assert_eq!(buf.capacity(), 0, "nothing reserved");

    // Declaring exactly the limit (16 MiB): inflation stops when the
    // declared size is full, then the size mismatch is reported.
    let limit = etf::DEFAULT_MAX_INFLATED_SIZE as u32;
    let mut liar = honest;
    liar[2..6].copy_from_slice(&limit.to_be_bytes());
    let e = etf::decode_compressed_vec(&liar, &SafePolicy::new(), &mut buf).unwrap_err();
    assert_eq!((e.kind(), e.offset()), (ErrorKind::InflatedSizeMismatch, 2));
    assert_eq!(buf.len(), limit as usize);

    // A caller who raises the limit but lends a 1 MiB buffer is protected too.
    let mut fixed = vec![0u8; 1 << 20];
    let p = SafePolicy::new().max_inflated_size(usize::MAX);
    liar[2..6].copy_from_slice(&(total as u32).to_be_bytes());
    let e = etf::decode_compressed(&liar, &p, &mut fixed).unwrap_err();
    assert_eq!((e.kind(), e.offset()), (ErrorKind::BufferFull, 2));

    let after = peak_rss_kib();
    eprintln!(
        "bomb: {total} bytes inflated size, {input_kib} KiB input; peak RSS {before} KiB before, {after} KiB after"
    );
    // The 27 MB input, a 16 MiB buffer and a 1 MiB one: far from 4 GiB.
    assert!(after < 128 * 1024, "peak RSS {after} KiB");
}
