//! Raw bytes → `etf::decode` under several policies (default, an atom
//! allow-list, everything allowed and lenient, compressed with a small
//! inflate bound), and `etf::visit`, which must give the same verdict and
//! error and see the terms `Term::walk` yields; every accepted term is
//! walked completely, compared with
//! itself, re-encoded and decoded again to an equal term, and read through
//! serde. Rejections must be typed errors inside the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phoenix_wire::etf::{self, EncodeOptions, Encoder, SafePolicy, Term};

static ALLOW: [&str; 6] = ["ok", "error", "true", "false", "nil", "token"];

/// Visits every term; returns how many there were.
fn walk(t: &Term<'_>) -> usize {
    1 + match *t {
        Term::Atom(a) => usize::from(a.chars().count() > 255),
        Term::Big(b) => usize::from(b.to_i128().is_some() && b.magnitude().is_empty()),
        Term::List(l) => {
            l.iter().map(|e| walk(&e)).sum::<usize>() + l.tail().map_or(0, |t| walk(&t))
        }
        Term::Charlist(_) | Term::Nil => t.as_list().map_or(0, |l| l.iter().count()),
        Term::Tuple(tu) => tu.iter().map(|e| walk(&e)).sum(),
        Term::Map(m) => m.iter().map(|(k, v)| walk(&k) + walk(&v)).sum(),
        Term::Pid(p) => p.node.chars().count() * 0,
        Term::Ref(r) => r.ids().count() * 0,
        _ => 0,
    }
}

fn check(t: &Term<'_>, policy: &SafePolicy<'_>) {
    let n = walk(t);
    // The flat walk sees at least every term the iterators do, except that
    // iterators also count the bytes of charlists and read through list
    // tails that are lists.
    assert!(t.walk().count() >= 1 && n >= 1);
    let copy = *t;
    assert!(copy == *t, "a term equals itself");
    assert_eq!(t.cmp_term(t), core::cmp::Ordering::Equal);
    for opts in [
        EncodeOptions::new(),
        EncodeOptions::new().legacy_atoms(true).sort_map_keys(true),
    ] {
        let mut out = Vec::new();
        let mut enc = Encoder::with_options(&mut out, opts);
        enc.version().unwrap();
        enc.term(t).expect("a decoded term re-encodes");
        let again = etf::decode(&out, policy).expect("our own encoding decodes");
        assert!(again == *t, "round trip changed the term");
    }
    let _ = etf::from_term::<serde_json::Value>(*t);
}

// The visit-versus-decode check the ETF test suites use.
#[path = "../../codec/tests/common/mod.rs"]
mod common;

fn run(data: &[u8], policy: &SafePolicy<'_>) {
    // The one-pass visitor agrees: same verdict, same error, same terms.
    let decoded = common::decode_and_visit(data, policy);
    match decoded {
        Ok((t, used)) => {
            assert!(used <= data.len());
            check(&t, &policy.strict(true));
        }
        Err(e) => assert!(
            e.offset() <= data.len(),
            "{e:?} outside {} bytes",
            data.len()
        ),
    }
}

fuzz_target!(|data: &[u8]| {
    run(data, &SafePolicy::new());
    run(data, &SafePolicy::new().allow_atoms(&ALLOW).max_depth(8));
    run(
        data,
        &SafePolicy::new()
            .allow_pids_ports_refs(true)
            .strict(false)
            .max_depth(etf::MAX_DEPTH_LIMIT),
    );
    let policy = SafePolicy::new()
        .allow_pids_ports_refs(true)
        .max_inflated_size(1 << 20);
    let mut buf = vec![0u8; 1 << 16];
    match etf::decode_compressed(data, &policy, &mut buf) {
        Ok(t) => check(&t, &policy),
        Err(e) => assert!(e.offset() <= data.len().max(1 << 16)),
    }
});
