//! An arbitrary term → our encoder (OTP 26 or OTP 25 atom forms, keys
//! sorted or not) → decode → the same term, element for element; then the
//! decoded view re-encodes to bytes that decode equal again.
#![no_main]

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use phoenix_wire::etf::{self, EncodeOptions, Encoder, SafePolicy, Term};

#[derive(Debug)]
enum T {
    Int(i64),
    Wide(i128),
    Big(bool, Vec<u8>),
    Float(f64),
    Atom(String),
    Binary(Vec<u8>),
    Bits(Vec<u8>, u8),
    Chars(Vec<u8>),
    List(Vec<T>, Option<Box<T>>),
    Tuple(Vec<T>),
    Map(Vec<(T, T)>),
    Pid(String, u32, u32, u32),
    Ref(String, u32, Vec<u32>),
}

fn gen(u: &mut Unstructured<'_>, depth: u32) -> arbitrary::Result<T> {
    let kinds = if depth == 0 { 9 } else { 13 };
    Ok(match u.int_in_range(0..=kinds - 1)? {
        0 => T::Int(u.arbitrary()?),
        1 => T::Wide(u.arbitrary()?),
        2 => T::Big(u.arbitrary()?, u.arbitrary()?),
        3 => T::Float(
            u.arbitrary::<f64>()
                .map(|f| if f.is_finite() { f } else { 0.5 })?,
        ),
        4 => {
            let s: String = u.arbitrary()?;
            T::Atom(s.chars().take(255).collect())
        }
        5 => T::Binary(u.arbitrary()?),
        6 => T::Bits(u.arbitrary()?, u.int_in_range(1..=8)?),
        7 => T::Chars(u.arbitrary()?),
        8 => T::Pid(
            u.arbitrary::<String>()?.chars().take(20).collect(),
            u.arbitrary()?,
            u.arbitrary()?,
            u.arbitrary()?,
        ),
        9 => {
            let n = u.int_in_range(0..=6)?;
            let items = (0..n)
                .map(|_| gen(u, depth - 1))
                .collect::<Result<Vec<_>, _>>()?;
            let tail = if n > 0 && u.arbitrary()? {
                Some(Box::new(gen(u, depth - 1)?))
            } else {
                None
            };
            T::List(items, tail)
        }
        10 => T::Tuple(
            (0..u.int_in_range(0..=6)?)
                .map(|_| gen(u, depth - 1))
                .collect::<Result<_, _>>()?,
        ),
        11 => {
            // Distinct keys: integers tagged by position, then anything.
            let n = u.int_in_range(0..=40)?;
            let mut pairs = Vec::new();
            for i in 0..n {
                let v = if i < 6 { gen(u, depth - 1)? } else { T::Int(i) };
                pairs.push((T::Int(i * 7 - 3), v));
            }
            T::Map(pairs)
        }
        _ => T::Ref(
            u.arbitrary::<String>()?.chars().take(20).collect(),
            u.arbitrary()?,
            {
                let n = u.int_in_range(1..=5)?;
                (0..n).map(|_| u.arbitrary()).collect::<Result<_, _>>()?
            },
        ),
    })
}

fn write(t: &T, e: &mut Encoder<'_, Vec<u8>>) {
    match t {
        T::Int(v) => e.int(*v).unwrap(),
        T::Wide(v) => e.int128(*v).unwrap(),
        T::Big(neg, mag) => e.big(*neg, mag).unwrap(),
        T::Float(f) => e.float(*f).unwrap(),
        T::Atom(a) => e.atom(a).unwrap(),
        T::Binary(b) => e.binary(b).unwrap(),
        T::Bits(b, n) => e.bit_binary(b, *n).unwrap(),
        T::Chars(c) => e.charlist(c).unwrap(),
        T::List(items, tail) => {
            if !items.is_empty() {
                e.list_header(items.len()).unwrap();
                items.iter().for_each(|i| write(i, e));
            }
            match tail {
                Some(t) => write(t, e),
                None => e.nil().unwrap(),
            }
        }
        T::Tuple(items) => {
            e.tuple_header(items.len()).unwrap();
            items.iter().for_each(|i| write(i, e));
        }
        T::Map(pairs) => {
            e.map_header(pairs.len()).unwrap();
            for (k, v) in pairs {
                write(k, e);
                write(v, e);
            }
        }
        T::Pid(n, a, b, c) => e.pid(n, *a, *b, *c).unwrap(),
        T::Ref(n, c, ids) => e.reference(n, *c, ids).unwrap(),
    }
}

/// Whether the decoded view holds exactly the generated term.
fn same(t: &T, d: &Term<'_>) -> bool {
    let as_int = |neg: bool, mag: &[u8]| -> Option<i128> {
        let len = mag.iter().rposition(|&x| x != 0).map_or(0, |i| i + 1);
        if len > 15 {
            return None;
        }
        let m = mag[..len]
            .iter()
            .rev()
            .fold(0i128, |a, &x| a << 8 | i128::from(x));
        Some(if neg { -m } else { m })
    };
    match (t, d) {
        (T::Int(v), _) => d.as_i64() == Some(*v),
        (T::Wide(v), Term::Int(x)) => i128::from(*x) == *v,
        (T::Wide(v), Term::Big(b)) => b.to_i128() == Some(*v),
        (T::Big(neg, mag), Term::Int(x)) => as_int(*neg, mag) == Some(i128::from(*x)),
        (T::Big(neg, mag), Term::Big(b)) => {
            let len = mag.iter().rposition(|&x| x != 0).map_or(0, |i| i + 1);
            b.is_negative() == *neg && b.magnitude() == &mag[..len]
        }
        (T::Float(f), Term::Float(x)) => f == x,
        (T::Atom(a), Term::Atom(x)) => *x == a.as_str(),
        (T::Binary(b), Term::Binary(x)) => b == x,
        // Whole bytes, or no bytes, decode as a binary.
        (T::Bits(b, _), Term::Binary(x)) => b.is_empty() || *x == &b[..],
        (T::Bits(b, n), Term::BitBinary(x)) => {
            let mask = 0xffu8 << (8 - n);
            x.last_bits() == *n
                && x.bytes().len() == b.len()
                && x.bytes()[..b.len() - 1] == b[..b.len() - 1]
                && x.bytes()[b.len() - 1] == b[b.len() - 1] & mask
        }
        (T::Chars(c), _) if c.is_empty() => matches!(d, Term::Nil),
        (T::Chars(c), _) => d.as_list().is_some_and(|l| {
            l.iter()
                .map(|e| e.as_i64())
                .eq(c.iter().map(|&b| Some(i64::from(b))))
        }),
        (T::List(items, _), _) if items.is_empty() => matches!(d, Term::Nil),
        (T::List(items, tail), _) => {
            let Some(l) = d.as_list() else { return false };
            let mut it = l.iter();
            for item in items {
                match it.next() {
                    Some(x) if same(item, &x) => {}
                    _ => return false,
                }
            }
            // A tail that is itself a list continues the elements.
            match tail {
                None => it.next().is_none() && it.tail().is_none(),
                Some(t) if matches!(**t, T::List(..) | T::Chars(_)) => true,
                Some(t) => it.next().is_none() && it.tail().is_some_and(|x| same(t, &x)),
            }
        }
        (T::Tuple(items), Term::Tuple(x)) => {
            x.len() == items.len() && items.iter().zip(x.iter()).all(|(a, b)| same(a, &b))
        }
        (T::Map(pairs), Term::Map(m)) => {
            m.len() == pairs.len()
                && pairs
                    .iter()
                    .all(|(k, v)| m.iter().any(|(x, y)| same(k, &x) && same(v, &y)))
        }
        (T::Pid(n, a, b, c), Term::Pid(p)) => {
            p.node == n.as_str() && (p.id, p.serial, p.creation) == (*a, *b, *c)
        }
        (T::Ref(n, c, ids), Term::Ref(r)) => {
            r.node == n.as_str() && r.creation == *c && r.ids().eq(ids.iter().copied())
        }
        _ => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(term) = gen(&mut u, 4) else { return };
    let legacy = data.first().is_some_and(|b| b & 1 == 1);
    let mut out = Vec::new();
    let mut enc = Encoder::with_options(&mut out, EncodeOptions::new().legacy_atoms(legacy));
    enc.version().unwrap();
    write(&term, &mut enc);
    let policy = SafePolicy::new().allow_pids_ports_refs(true);
    let t = etf::decode(&out, &policy).unwrap_or_else(|e| panic!("{term:?} -> {out:?}: {e}"));
    assert!(same(&term, &t), "{term:?} decoded as {t:?}");
    let mut again = Vec::new();
    let mut enc = Encoder::with_options(
        &mut again,
        EncodeOptions::new()
            .sort_map_keys(!legacy)
            .legacy_atoms(!legacy),
    );
    enc.version().unwrap();
    enc.term(&t).unwrap();
    assert!(etf::decode(&again, &policy).unwrap() == t);
});
