//! Helpers shared by the ETF test binaries (`mod common;`) and the
//! `etf_decode` fuzz target.

use phoenix_wire::etf::{self, SafePolicy, Term};
use phoenix_wire::Error;

/// `etf::decode_used`, checked against `etf::visit` on the same bytes: the
/// same verdict, the same error kind and offset, the same byte count, and
/// on success the terms `Term::walk` yields, in the same order.
pub fn decode_and_visit<'a>(
    bytes: &'a [u8],
    policy: &SafePolicy<'_>,
) -> Result<(Term<'a>, usize), Error> {
    let decoded = etf::decode_used(bytes, policy);
    let mut seen = Vec::new();
    let visited = etf::visit(bytes, policy, |t| seen.push(t));
    match (&decoded, &visited) {
        (Ok((t, used)), Ok(n)) => {
            assert_eq!(used, n, "{bytes:?}");
            let walked: Vec<Term<'_>> = t.walk().collect();
            assert_eq!(walked.len(), seen.len(), "{bytes:?}");
            for (i, (a, b)) in walked.iter().zip(&seen).enumerate() {
                assert!(same(a, b), "term #{i} of {bytes:?}: {a:?} vs {b:?}");
            }
        }
        (Err(a), Err(b)) => assert_eq!((a.kind(), a.offset()), (b.kind(), b.offset()), "{bytes:?}"),
        _ => panic!("decode {decoded:?} but visit {visited:?} for {bytes:?}"),
    }
    decoded
}

/// The same kind (so a list never passes for a charlist), the same value
/// for leaves and the same length for tuples and maps: the walk compares
/// their elements one by one anyway (`==` on maps is quadratic, too slow
/// for the 200,000-key map of the bad-input tests).
fn same(a: &Term<'_>, b: &Term<'_>) -> bool {
    match (a, b) {
        (Term::Tuple(x), Term::Tuple(y)) => x.len() == y.len(),
        (Term::Map(x), Term::Map(y)) => x.len() == y.len(),
        (Term::List(_), Term::List(_)) => true,
        _ => core::mem::discriminant(a) == core::mem::discriminant(b) && a == b,
    }
}

/// A small deterministic generator (xorshift64*): fixed seeds, repeatable
/// runs, no dependency.
#[allow(dead_code)] // Not every binary that includes this module draws numbers.
pub struct Rng(pub u64);

#[allow(dead_code)]
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
