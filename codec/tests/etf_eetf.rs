//! Conversions between our `Term` and `eetf::Term` (feature `eetf`).
#![cfg(feature = "eetf")]

use phoenix_wire::etf::{self, Encoder, SafePolicy, Term};
use phoenix_wire::ErrorKind;

fn policy() -> SafePolicy<'static> {
    SafePolicy::new().allow_pids_ports_refs(true)
}

/// One of everything, as our encoder writes it.
fn sample() -> Vec<u8> {
    let mut out = Vec::new();
    let mut e = Encoder::new(&mut out);
    e.version().unwrap();
    e.tuple_header(14).unwrap();
    e.int(-70000).unwrap();
    e.int(1 << 40).unwrap();
    e.int128(-(1i128 << 100)).unwrap();
    e.float(-2.5).unwrap();
    e.atom("héllo").unwrap();
    e.binary(b"\x00bin").unwrap();
    e.bit_binary(&[0xff, 0xa0], 3).unwrap();
    e.nil().unwrap();
    e.charlist(b"abc").unwrap();
    e.list_header(2).unwrap();
    e.int(-1).unwrap();
    e.atom("x").unwrap();
    e.binary(b"tail").unwrap();
    e.map_header(2).unwrap();
    e.binary(b"k").unwrap();
    e.list_header(1).unwrap();
    e.int(300).unwrap();
    e.nil().unwrap();
    e.atom("k").unwrap();
    e.tuple_header(0).unwrap();
    e.pid("n@h", 1, 2, 3).unwrap();
    e.port("n@h", 1 << 40, 3).unwrap();
    e.reference("n@h", 3, &[1, 2, 3]).unwrap();
    out
}

#[test]
fn ours_to_eetf_and_back() {
    let bytes = sample();
    let ours = etf::decode(&bytes, &policy()).unwrap();
    let theirs = ours.to_eetf();
    // eetf writes it, we read it: the same term.
    let mut via_eetf = Vec::new();
    theirs.encode(&mut via_eetf).unwrap();
    assert_eq!(etf::decode(&via_eetf, &policy()).unwrap(), ours);
    // Our encoder writes the eetf tree: the same bytes as the original.
    let mut out = Vec::new();
    let mut enc = Encoder::new(&mut out);
    enc.version().unwrap();
    enc.eetf(&theirs).unwrap();
    assert_eq!(etf::decode(&out, &policy()).unwrap(), ours);
    // And eetf agrees with itself about what we wrote.
    assert_eq!(
        eetf::Term::decode(&out[..]).unwrap(),
        eetf::Term::decode(&via_eetf[..]).unwrap()
    );
}

#[test]
fn eetf_decoded_otp_bytes_reencode_equal() {
    // %{"a" => [1, 2.5, :foo]} from OTP 25.
    let otp = [
        131, 116, 0, 0, 0, 1, 109, 0, 0, 0, 1, 97, 108, 0, 0, 0, 3, 97, 1, 70, 64, 4, 0, 0, 0, 0,
        0, 0, 100, 0, 3, 102, 111, 111, 106,
    ];
    let e = eetf::Term::decode(&otp[..]).unwrap();
    let mut out = Vec::new();
    let mut enc = Encoder::new(&mut out);
    enc.version().unwrap();
    enc.eetf(&e).unwrap();
    assert_eq!(
        etf::decode(&out, &policy()).unwrap(),
        etf::decode(&otp, &policy()).unwrap()
    );
}

#[test]
fn eetf_funs_are_refused() {
    let f = eetf::Term::from(eetf::ExternalFun::from(("erlang", "node", 0)));
    let mut out = Vec::new();
    let e = Encoder::new(&mut out).eetf(&f).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ExecutableTerm);
    // Bytes eetf writes for it are refused by our decoder too.
    let mut bytes = Vec::new();
    f.encode(&mut bytes).unwrap();
    assert_eq!(
        etf::decode(&bytes, &policy()).unwrap_err().kind(),
        ErrorKind::ExecutableTerm
    );
    assert!(matches!(Term::Nil.to_eetf(), eetf::Term::List(l) if l.is_nil()));
}
