//! Helpers shared by the ETF test binaries (`mod common;`) and the
//! `etf_decode` fuzz target.

use std::fmt::Write;

use phoenix_wire::etf::{self, Item, Reader, SafePolicy, Term};
use phoenix_wire::Error;

/// `etf::decode_used`, checked against `etf::visit` and `etf::reader` on the
/// same bytes: the same verdict, the same error kind and offset, and on
/// success, from `visit`, the same byte count and the terms `Term::walk`
/// yields, in the same order, and from the reader's items, the same term.
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
    match (&decoded, etf::reader(bytes, policy)) {
        (Ok((t, _)), Ok(mut r)) => {
            // The items make exactly one term; compared whole when shallow
            // enough for the (recursive) printers' stack.
            if nesting(r.clone(), bytes) <= 200 {
                let (mut want, mut got) = (String::new(), String::new());
                show(t, &mut want);
                let first = r.next().expect("a checked term has a first item");
                show_item(first, &mut r, &mut got);
                assert_eq!(got, want, "{bytes:?}");
            }
        }
        (Err(a), Err(b)) => assert_eq!((a.kind(), a.offset()), (b.kind(), b.offset()), "{bytes:?}"),
        (_, r) => panic!(
            "decode {decoded:?} but reader {:?} for {bytes:?}",
            r.map(|_| ())
        ),
    }
    decoded
}

/// How deeply the reader's items nest, checking that they make exactly one
/// term (every container's items there, none left over).
fn nesting(mut r: Reader<'_>, bytes: &[u8]) -> usize {
    let (mut pending, mut open, mut deepest) = (1usize, Vec::<usize>::new(), 0);
    while pending > 0 {
        pending -= 1;
        let inner = match r
            .next()
            .unwrap_or_else(|| panic!("items run out: {bytes:?}"))
        {
            Item::Tuple(n) => n,
            Item::Map(n) => 2 * n,
            Item::List(n) => n + 1,
            _ => 0,
        };
        while open.last() == Some(&0) {
            open.pop();
        }
        if let Some(left) = open.last_mut() {
            *left -= 1;
        }
        if inner > 0 {
            open.push(inner);
            deepest = deepest.max(open.len());
        }
        pending += inner;
    }
    assert!(
        r.is_done() && r.next().is_none(),
        "items left over: {bytes:?}"
    );
    deepest
}

/// A term in a form both views print alike: a list as its elements, a
/// tail that continues it (a list or charlist) merged in, `|tail` when it
/// is improper; a charlist as a list of integers; an empty list's
/// improper tail as the tail alone (as `decode` reads it).
fn show(t: &Term<'_>, out: &mut String) {
    match t {
        Term::Tuple(x) => {
            out.push('{');
            x.iter().for_each(|e| comma(out, |o| show(&e, o)));
            out.push('}');
        }
        Term::Map(m) => {
            out.push_str("#{");
            for (k, v) in m.iter() {
                comma(out, |o| show(&k, o));
                out.push_str("=>");
                show(&v, out);
            }
            out.push('}');
        }
        Term::List(l) => {
            out.push('[');
            l.iter().for_each(|e| comma(out, |o| show(&e, o)));
            if let Some(tail) = l.tail() {
                out.push('|');
                show(&tail, out);
            }
            out.push(']');
        }
        Term::Charlist(s) => {
            out.push('[');
            s.iter()
                .for_each(|&c| comma(out, |o| show(&Term::Int(c.into()), o)));
            out.push(']');
        }
        Term::Nil => out.push_str("[]"),
        leaf => write!(out, "{leaf:?}").unwrap(),
    }
}

/// [`show`] of the term that starts with `item`, read from `r`.
fn show_item(item: Item<'_>, r: &mut Reader<'_>, out: &mut String) {
    let next = |r: &mut Reader<'_>, out: &mut String| {
        let item = r.next().expect("a container's items are all there");
        show_item(item, r, out)
    };
    match item {
        Item::Tuple(n) => {
            out.push('{');
            (0..n).for_each(|_| comma(out, |o| next(r, o)));
            out.push('}');
        }
        Item::Map(n) => {
            out.push_str("#{");
            for _ in 0..n {
                comma(out, |o| next(r, o));
                out.push_str("=>");
                next(r, out);
            }
            out.push('}');
        }
        Item::List(n) => {
            let mut elements = String::new();
            let mut left = n;
            let tail = loop {
                (0..left).for_each(|_| comma(&mut elements, |o| next(r, o)));
                match r.next().expect("a list has a tail") {
                    Item::List(m) => left = m,
                    Item::Nil => break None,
                    Item::Other(o) => match o.term() {
                        Term::Charlist(s) => {
                            s.iter().for_each(|&c| {
                                comma(&mut elements, |o| show(&Term::Int(c.into()), o))
                            });
                            break None;
                        }
                        _ => break Some(Item::Other(o)),
                    },
                    improper => break Some(improper),
                }
            };
            match tail {
                Some(t) if elements.is_empty() => show_item(t, r, out),
                Some(t) => {
                    write!(out, "[{elements}|").unwrap();
                    show_item(t, r, out);
                    out.push(']');
                }
                None if elements.is_empty() => out.push_str("[]"),
                None => write!(out, "[{elements}]").unwrap(),
            }
        }
        Item::Int(v) => show(&Term::Int(v), out),
        Item::Float(v) => show(&Term::Float(v), out),
        Item::Atom(a) => show(&Term::Atom(a), out),
        Item::Binary(b) => show(&Term::Binary(b), out),
        Item::Nil => show(&Term::Nil, out),
        Item::Other(o) => {
            let t = o.term();
            assert!(
                !matches!(
                    t,
                    Term::Int(_) | Term::Float(_) | Term::Atom(_) | Term::Binary(_) | Term::Nil
                ),
                "a common leaf came as Other: {t:?}"
            );
            show(&t, out)
        }
    }
}

/// Runs `f` after a `,` unless `out` is at the start of a container or
/// after a map key's `=>`.
fn comma(out: &mut String, f: impl FnOnce(&mut String)) {
    if !matches!(out.chars().last(), None | Some('{' | '[' | '>')) {
        out.push(',');
    }
    f(out)
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
