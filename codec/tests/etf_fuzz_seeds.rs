//! Every seed of the ETF fuzz targets (fuzz/seeds/etf_*), run through the
//! checks of `etf_decode`, plus named regressions for what fuzzing found.
// `Vec<u8>` is an output buffer only with `alloc`.
#![cfg(feature = "alloc")]

use std::path::Path;

use phoenix_wire::etf::{self, EncodeOptions, Encoder, SafePolicy, Term};

fn walk(t: &Term<'_>) -> usize {
    1 + match *t {
        Term::List(l) => {
            l.iter().map(|e| walk(&e)).sum::<usize>() + l.tail().map_or(0, |t| walk(&t))
        }
        Term::Tuple(tu) => tu.iter().map(|e| walk(&e)).sum(),
        Term::Map(m) => m.iter().map(|(k, v)| walk(&k) + walk(&v)).sum(),
        _ => 0,
    }
}

fn check(data: &[u8], policy: &SafePolicy<'_>) -> bool {
    match etf::decode_used(data, policy) {
        Ok((t, used)) => {
            assert!(used <= data.len());
            walk(&t);
            let copy = t;
            assert!(copy == t, "a term equals itself");
            for opts in [
                EncodeOptions::new(),
                EncodeOptions::new().legacy_atoms(true).sort_map_keys(true),
            ] {
                let mut out = Vec::new();
                let mut enc = Encoder::with_options(&mut out, opts);
                enc.version().unwrap();
                enc.term(&t).unwrap();
                assert!(etf::decode(&out, &policy.strict(true)).unwrap() == t);
            }
            true
        }
        Err(e) => {
            assert!(e.offset() <= data.len(), "{e} outside {} bytes", data.len());
            false
        }
    }
}

#[test]
fn every_seed_passes_the_decode_checks() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds");
    let (mut files, mut accepted) = (0, 0);
    for target in ["etf_decode", "etf_diff_eetf", "etf_roundtrip"] {
        for entry in std::fs::read_dir(root.join(target)).unwrap() {
            let data = std::fs::read(entry.unwrap().path()).unwrap();
            files += 1;
            let all = SafePolicy::new().allow_pids_ports_refs(true).strict(false);
            accepted += usize::from(check(&data, &all));
            check(
                &data,
                &SafePolicy::new().allow_atoms(&["ok", "token"]).max_depth(4),
            );
        }
    }
    assert!(
        files > 100 && accepted > 40,
        "{files} seeds, {accepted} accepted"
    );
}

/// Found by etf_diff_eetf: eetf reads `ATOM_EXT` bytes as UTF-8; they are
/// Latin-1, so `[0xc3, 0xa9]` is "Ã©", not "é".
#[test]
fn latin1_atoms_stay_latin1_where_eetf_reads_utf8() {
    for name in ["eetf-latin1-atom-as-utf8", "eetf-latin1-node-as-utf8"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fuzz/seeds/etf_diff_eetf")
            .join(name);
        let data = std::fs::read(path).unwrap();
        assert!(
            check(&data, &SafePolicy::new().allow_pids_ports_refs(true)),
            "{name}"
        );
    }
    let t = etf::decode(&[131, 100, 0, 2, 0xc3, 0xa9], &SafePolicy::new()).unwrap();
    assert_eq!(t.as_atom().unwrap().to_string(), "Ã©");
    assert!(t != etf::decode(&[131, 119, 2, 0xc3, 0xa9], &SafePolicy::new()).unwrap());
}
