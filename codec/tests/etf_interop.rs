//! Interop with the real Erlang runtime (`escript` from Debian's erlang-nox):
//! OTP encodes thousands of random terms, we decode and re-encode them and
//! OTP checks `binary_to_term(Ours) =:= binary_to_term(Original)`; we encode
//! random terms and OTP compares them with the same terms built from Erlang
//! source text; and our safe verdicts with an allow-list match
//! `binary_to_term(B, [safe])` on a VM that knows exactly those atoms.
// `Vec<u8>` is an output buffer only with `alloc`.
#![cfg(feature = "alloc")]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use phoenix_wire::etf::{self, EncodeOptions, Encoder, SafePolicy, Term};
use phoenix_wire::ErrorKind;

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/interop/erlang/etf_interop.escript"
);

/// Runs the escript; fails loudly when Erlang is missing.
fn escript(args: &[&str]) -> String {
    let out = Command::new("escript").arg(SCRIPT).args(args).output().unwrap_or_else(|e| {
        panic!("cannot run `escript` ({e}): this test needs Erlang/OTP; install it with `apt-get install erlang-nox`")
    });
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "escript {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("pw-etf-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn file(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn write_all(path: &str, items: &[Vec<u8>]) {
    let mut data = Vec::new();
    for b in items {
        data.extend_from_slice(&(b.len() as u32).to_be_bytes());
        data.extend_from_slice(b);
    }
    std::fs::write(path, data).unwrap();
}

fn read_all(path: impl AsRef<Path>) -> Vec<Vec<u8>> {
    let data = std::fs::read(path).unwrap();
    let mut items = Vec::new();
    let mut rest = &data[..];
    while rest.len() >= 4 {
        let n = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
        items.push(rest[4..4 + n].to_vec());
        rest = &rest[4 + n..];
    }
    assert!(rest.is_empty());
    items
}

/// Decodes with everything a round trip needs allowed; inflates tag 80.
fn decode_any<'a>(bytes: &'a [u8], buf: &'a mut Vec<u8>) -> Result<Term<'a>, phoenix_wire::Error> {
    let policy = SafePolicy::new().allow_pids_ports_refs(true);
    #[cfg(feature = "inflate")]
    {
        etf::decode_compressed_vec(bytes, &policy, buf)
    }
    #[cfg(not(feature = "inflate"))]
    {
        let _ = buf;
        etf::decode(bytes, &policy)
    }
}

mod common;

use common::Rng;

/// `etf::visit` sees the terms `Term::walk` yields from the decoded view,
/// in the same order, and takes all the bytes.
fn visit_matches_walk(b: &[u8]) {
    let policy = SafePolicy::new().allow_pids_ports_refs(true);
    let (_, used) = common::decode_and_visit(b, &policy).unwrap_or_else(|e| panic!("{b:?}: {e}"));
    assert_eq!(used, b.len());
}

#[test]
fn otp_terms_round_trip_through_our_codec() {
    let dir = TempDir::new("fwd");
    let (orig, ours) = (dir.file("orig.bin"), dir.file("ours.bin"));
    escript(&["gen", "20240601", "1500", &orig]);
    let originals = read_all(&orig);
    assert!(originals.len() >= 3000, "{} terms", originals.len());

    let mut tags = [0usize; 256];
    let (mut compressed, mut kept) = (0, Vec::new());
    let mut reencoded = Vec::new();
    let mut buf = Vec::new();
    for (i, b) in originals.iter().enumerate() {
        if b[1] == 80 {
            compressed += 1;
            if cfg!(not(feature = "inflate")) {
                let e = etf::decode(b, &SafePolicy::new()).unwrap_err();
                assert_eq!(e.kind(), ErrorKind::UnsupportedCompression);
                continue;
            }
        }
        let t = decode_any(b, &mut buf).unwrap_or_else(|e| panic!("term #{i} {b:?}: {e}"));
        if b[1] != 80 {
            visit_matches_walk(b);
        }
        count_tags(b, &mut tags);
        // Alternate our encodings: OTP 26 atoms, OTP 25 atoms, sorted keys.
        let opts = match i % 3 {
            0 => EncodeOptions::new(),
            1 => EncodeOptions::new().legacy_atoms(true),
            _ => EncodeOptions::new().sort_map_keys(true),
        };
        let mut out = Vec::new();
        let mut enc = Encoder::with_options(&mut out, opts);
        enc.version().unwrap();
        enc.term(&t).unwrap();
        // Our own decoder agrees with itself, too.
        assert_eq!(
            etf::decode(&out, &SafePolicy::new().allow_pids_ports_refs(true)).unwrap(),
            t,
            "#{i}"
        );
        reencoded.push(out);
        kept.push(b.clone());
    }
    assert!(compressed > 200, "{compressed} compressed terms");
    // Every tag OTP writes for these terms showed up (uncompressed ones).
    for t in [
        70u8, 77, 88, 90, 97, 98, 100, 104, 105, 106, 107, 108, 109, 110, 111, 116, 118, 119,
    ] {
        assert!(tags[t as usize] > 0, "tag {t} never seen");
    }
    write_all(&orig, &kept);
    write_all(&ours, &reencoded);
    let verdict = escript(&["check", &orig, &ours]);
    assert_eq!(verdict.trim(), format!("ok {}", kept.len()));
}

/// Counts the tags of the (uncompressed) term in `b`, by a scan that
/// follows the structure (enough to know which forms OTP used).
fn count_tags(b: &[u8], tags: &mut [usize; 256]) {
    if b.get(1) == Some(&80) {
        return;
    }
    walk_tags(b, 1, tags);
}

fn walk_tags(b: &[u8], mut p: usize, tags: &mut [usize; 256]) -> usize {
    let t = b[p];
    tags[t as usize] += 1;
    p += 1;
    let u16at = |p: usize| u16::from_be_bytes([b[p], b[p + 1]]) as usize;
    let u32at = |p: usize| u32::from_be_bytes(b[p..p + 4].try_into().unwrap()) as usize;
    let atom = |p: usize| match b[p] {
        100 | 118 => p + 3 + u16at(p + 1),
        _ => p + 2 + b[p + 1] as usize,
    };
    match t {
        97 => p + 1,
        98 => p + 4,
        70 => p + 8,
        100 | 118 | 115 | 119 => atom(p - 1),
        109 => p + 4 + u32at(p),
        77 => p + 5 + u32at(p),
        106 => p,
        107 => p + 2 + u16at(p),
        110 => p + 2 + b[p] as usize,
        111 => p + 5 + u32at(p),
        88 => atom(p) + 12,
        89 => atom(p) + 8,
        120 => atom(p) + 12,
        90 => atom(p + 2) + 4 + 4 * u16at(p),
        104 | 105 | 108 | 116 => {
            let (n, mut q) = match t {
                104 => (b[p] as usize, p + 1),
                116 => (2 * u32at(p), p + 4),
                108 => (u32at(p) + 1, p + 4),
                _ => (u32at(p), p + 4),
            };
            for _ in 0..n {
                q = walk_tags(b, q, tags);
            }
            q
        }
        _ => panic!("unexpected tag {t}"),
    }
}

/// Writes a random term with our encoder and, in parallel, the Erlang
/// source text of the same term.
fn gen_term(r: &mut Rng, depth: u32, enc: &mut Encoder<'_, Vec<u8>>, src: &mut String) {
    let pick = if depth == 0 { r.below(11) } else { r.below(16) };
    match pick {
        0 => {
            let v = r.below(256) as i64;
            enc.int(v).unwrap();
            write!(src, "{v}").unwrap();
        }
        1 => {
            let v = r.next() as i64 >> r.below(63);
            enc.int(v).unwrap();
            write!(src, "{v}").unwrap();
        }
        2 => {
            let v = ((r.next() as i128) << 64 | r.next() as i128) >> r.below(60);
            enc.int128(v).unwrap();
            write!(src, "{v}").unwrap();
        }
        3 => {
            let mut mag: Vec<u8> = (0..1 + r.below(300)).map(|_| r.next() as u8).collect();
            mag.push(1);
            let neg = r.below(2) == 0;
            enc.big(neg, &mag).unwrap();
            // A base-16 literal, most significant byte first.
            let hex: String = mag.iter().rev().map(|b| format!("{b:02x}")).collect();
            write!(src, "{}16#{hex}", if neg { "-" } else { "" }).unwrap();
        }
        4 => {
            let v = f64::from_bits(r.next());
            let v = if v.is_finite() {
                v
            } else {
                r.below(1000) as f64 / 7.0
            };
            enc.float(v).unwrap();
            let text = format!("{v:e}");
            let text = if text.contains('.') {
                text
            } else {
                text.replacen('e', ".0e", 1)
            };
            write!(src, "({text})").unwrap();
        }
        5 | 6 => {
            let alphabet: &[char] = if pick == 5 {
                &['a', 'b', 'z', '_', 'Q', '9', '@']
            } else {
                &['é', 'ß', 'α', '☃', '日', '𝄞', 'x']
            };
            let name: String = (0..r.below(12))
                .map(|_| alphabet[r.below(alphabet.len() as u64) as usize])
                .collect();
            enc.atom(&name).unwrap();
            src.push('\'');
            for c in name.chars() {
                write!(src, "\\x{{{:x}}}", c as u32).unwrap();
            }
            src.push('\'');
        }
        7 => {
            let bytes: Vec<u8> = (0..r.below(20)).map(|_| r.next() as u8).collect();
            enc.binary(&bytes).unwrap();
            write!(src, "<<{}>>", join(bytes.iter())).unwrap();
        }
        8 => {
            let mut bytes: Vec<u8> = (0..1 + r.below(5)).map(|_| r.next() as u8).collect();
            let bits = 1 + r.below(7) as u8;
            let last = bytes.pop().unwrap() & (0xff << (8 - bits));
            bytes.push(last);
            enc.bit_binary(&bytes, bits).unwrap();
            let body = &bytes[..bytes.len() - 1];
            let sep = if body.is_empty() { "" } else { "," };
            write!(
                src,
                "<<{}{sep}{}:{bits}>>",
                join(body.iter()),
                last >> (8 - bits)
            )
            .unwrap();
        }
        9 => {
            let bytes: Vec<u8> = (0..r.below(30)).map(|_| r.next() as u8).collect();
            enc.charlist(&bytes).unwrap();
            write!(src, "[{}]", join(bytes.iter())).unwrap();
        }
        10 => {
            enc.nil().unwrap();
            src.push_str("[]");
        }
        11 | 12 => {
            let n = 1 + r.below(5) as usize;
            let improper = pick == 12;
            enc.list_header(n).unwrap();
            src.push('[');
            for i in 0..n {
                if i > 0 {
                    src.push(',');
                }
                gen_term(r, depth - 1, enc, src);
            }
            if improper {
                src.push('|');
                enc.binary(b"tail").unwrap();
                src.push_str("<<\"tail\">>");
            } else {
                enc.nil().unwrap();
            }
            src.push(']');
        }
        13 => {
            let n = if r.below(10) == 0 {
                256 + r.below(10) as usize
            } else {
                r.below(5) as usize
            };
            enc.tuple_header(n).unwrap();
            src.push('{');
            for i in 0..n {
                if i > 0 {
                    src.push(',');
                }
                gen_term(r, depth - 1, enc, src);
            }
            src.push('}');
        }
        _ => {
            // Distinct integer keys (so no duplicates), sometimes over 32.
            let n = if r.below(4) == 0 {
                33 + r.below(30)
            } else {
                r.below(6)
            };
            enc.map_header(n as usize).unwrap();
            src.push_str("#{");
            for i in 0..n {
                if i > 0 {
                    src.push(',');
                }
                let k = i as i64 * 1000 - 7;
                enc.int(k).unwrap();
                write!(src, "{k} => ").unwrap();
                gen_term(r, depth - 1, enc, src);
            }
            src.push('}');
        }
    }
}

fn join<'a>(it: impl Iterator<Item = &'a u8>) -> String {
    it.map(|b| b.to_string()).collect::<Vec<_>>().join(",")
}

#[test]
fn our_terms_decode_in_otp_as_their_source_text() {
    let dir = TempDir::new("rev");
    let path = dir.file("pairs.bin");
    let mut rng = Rng(0x0005_eed0_fe7f);
    let mut items = Vec::new();
    for i in 0..2000 {
        let mut out = Vec::new();
        let mut src = String::new();
        let opts = EncodeOptions::new().legacy_atoms(i % 2 == 0);
        let mut enc = Encoder::with_options(&mut out, opts);
        enc.version().unwrap();
        gen_term(&mut rng, 3, &mut enc, &mut src);
        // What we wrote, we read back as valid.
        etf::decode(&out, &SafePolicy::new()).unwrap_or_else(|e| panic!("{src}: {e}"));
        items.push(out);
        items.push(src.into_bytes());
    }
    write_all(&path, &items);
    assert_eq!(escript(&["reverse", &path]).trim(), "ok 2000");
}

#[test]
fn safe_verdicts_match_otp_on_a_vm_knowing_exactly_the_allowed_atoms() {
    let dir = TempDir::new("safe");
    let tag = std::process::id();
    // Known atoms are created in the checking VM first; fresh ones never are.
    let known: Vec<String> = (0..20)
        .map(|i| format!("pw_known_{i}_{tag}"))
        .chain(["pw_ké_été".to_string()])
        .collect();
    let fresh: Vec<String> = (0..20)
        .map(|i| format!("pw_fresh_{i}_{tag}"))
        .chain(["pw_fré_ßx".to_string()])
        .collect();
    let mut rng = Rng(42);
    let mut corpus = Vec::new();
    for i in 0..400 {
        let mut out = Vec::new();
        let mut enc =
            Encoder::with_options(&mut out, EncodeOptions::new().legacy_atoms(i % 3 == 0));
        enc.version().unwrap();
        let pick = |r: &mut Rng| -> &str {
            let list = if r.below(5) == 0 { &fresh } else { &known };
            &list[r.below(list.len() as u64) as usize]
        };
        let n = 1 + rng.below(4) as usize;
        enc.tuple_header(n).unwrap();
        for _ in 0..n {
            match rng.below(4) {
                0 => enc.pid(pick(&mut rng), 1, 0, 0).unwrap(),
                1 => {
                    enc.map_header(1).unwrap();
                    enc.atom(pick(&mut rng)).unwrap();
                    enc.binary(b"v").unwrap();
                }
                _ => enc.atom(pick(&mut rng)).unwrap(),
            }
        }
        corpus.push(out);
    }
    // Funs and exports, as OTP writes them.
    let funs_path = dir.file("funs.bin");
    escript(&["funs", &funs_path]);
    let funs = read_all(&funs_path);
    corpus.extend(funs.iter().cloned());

    let (known_path, corpus_path, out_path) = (
        dir.file("known.txt"),
        dir.file("corpus.bin"),
        dir.file("verdicts"),
    );
    std::fs::write(&known_path, known.join("\n")).unwrap();
    write_all(&corpus_path, &corpus);
    escript(&["safe", &known_path, &corpus_path, &out_path]);
    let otp = std::fs::read(&out_path).unwrap();
    assert_eq!(otp.len(), corpus.len());

    let allow: Vec<&str> = known.iter().map(String::as_str).collect();
    let policy = SafePolicy::new()
        .allow_atoms(&allow)
        .allow_pids_ports_refs(true);
    let (mut accepted, mut rejected) = (0, 0);
    for (i, b) in corpus[..corpus.len() - funs.len()].iter().enumerate() {
        let ours = etf::decode(b, &policy);
        assert_eq!(ours.is_ok(), otp[i] == b'1', "#{i} {b:?}: ours {ours:?}");
        if let Err(e) = ours {
            assert_eq!(e.kind(), ErrorKind::AtomNotAllowed);
            rejected += 1;
        } else {
            accepted += 1;
        }
    }
    assert!(
        accepted > 50 && rejected > 50,
        "{accepted} accepted, {rejected} rejected"
    );
    // Funs: always rejected by us, although OTP's `safe` accepts some.
    let otp_fun_verdicts = &otp[otp.len() - funs.len()..];
    assert!(
        otp_fun_verdicts.contains(&b'1'),
        "OTP accepted no fun: {otp_fun_verdicts:?}"
    );
    assert!(
        otp_fun_verdicts.contains(&b'0'),
        "fun no_such_module:f/3 must fail in OTP too"
    );
    for f in &funs {
        let e = etf::decode(f, &SafePolicy::new().allow_pids_ports_refs(true)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ExecutableTerm, "{f:?}");
    }
}
