//! Differential against eetf 0.12: every input our decoder accepts (all
//! atoms, pids, ports and references allowed; compressed terms inflated up
//! to 1 MiB) must decode in eetf to the same term. eetf is only handed
//! inputs we accepted: those have every length inside the input, so eetf's
//! attacker-sized reservations and its panics on distribution headers are
//! out of reach; any panic left in eetf is caught and ignored (it is not
//! our bug). Known eetf differences are allowed for: FLOAT_EXT (99) read as
//! f32, Latin-1 atoms (100, 115) read as UTF-8.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phoenix_wire::etf::{self, SafePolicy, Term};

fn same(e: &eetf::Term, t: &Term<'_>) -> bool {
    use eetf::Term as E;
    match (e, t) {
        (E::FixInteger(i), _) => t.as_i64() == Some(i64::from(i.value)),
        (E::BigInteger(b), _) => {
            let (sign, mag) = b.value.to_bytes_le();
            let neg = sign == num_bigint_sign_minus();
            match t {
                Term::Int(v) => b.value == (*v).into(),
                Term::Big(x) => x.is_negative() == neg && x.magnitude() == &mag[..],
                _ => false,
            }
        }
        // eetf reads FLOAT_EXT as f32.
        (E::Float(f), Term::Float(x)) => f.value == *x || f.value == f64::from(*x as f32),
        (E::Atom(a), Term::Atom(x)) => atom_same(a, x),
        (E::Binary(b), Term::Binary(x)) => b.bytes == *x,
        (E::BitBinary(b), Term::Binary(x)) => {
            b.bytes == *x && (b.tail_bits_size == 8 || x.is_empty())
        }
        (E::BitBinary(b), Term::BitBinary(x)) => {
            let n = x.bytes().len();
            b.tail_bits_size == x.last_bits()
                && b.bytes.len() == n
                && b.bytes[..n - 1] == x.bytes()[..n - 1]
                && b.bytes[n - 1] == x.bytes()[n - 1] >> (8 - x.last_bits())
        }
        (E::List(_) | E::ByteList(_) | E::ImproperList(_), _) => same_list(e, t),
        (E::Tuple(tu), Term::Tuple(x)) => {
            tu.elements.len() == x.len()
                && tu.elements.iter().zip(x.iter()).all(|(e, v)| same(e, &v))
        }
        (E::Map(m), Term::Map(x)) => {
            m.map.len() == x.len()
                && x.iter()
                    .all(|(k, v)| m.map.iter().any(|(ek, ev)| same(ek, &k) && same(ev, &v)))
        }
        (E::Pid(p), Term::Pid(x)) => {
            atom_same(&p.node, &x.node)
                && (x.id, x.serial, x.creation) == (p.id, p.serial, p.creation)
        }
        (E::Port(p), Term::Port(x)) => {
            atom_same(&p.node, &x.node) && (x.id, x.creation) == (p.id, p.creation)
        }
        (E::Reference(r), Term::Ref(x)) => {
            atom_same(&r.node, &x.node)
                && x.creation == r.creation
                && x.ids().eq(r.id.iter().copied())
        }
        _ => false,
    }
}

/// eetf reads Latin-1 atoms (100, 115) as UTF-8.
fn atom_same(a: &eetf::Atom, x: &phoenix_wire::etf::Atom<'_>) -> bool {
    if x.is_latin1() {
        a.name.as_bytes() == x.raw()
    } else {
        *x == a.name.as_str()
    }
}

/// One element of an eetf list: a term, or a byte of a `ByteList`.
enum Elem<'e> {
    T(&'e eetf::Term),
    B(u8),
}

/// eetf keeps a list whose tail is a list as nested improper lists; we
/// iterate through such tails. Flatten eetf's side the same way.
fn flatten(mut e: &eetf::Term) -> (Vec<Elem<'_>>, Option<&eetf::Term>) {
    use eetf::Term as E;
    let mut items = Vec::new();
    loop {
        match e {
            E::List(l) => {
                items.extend(l.elements.iter().map(Elem::T));
                return (items, None);
            }
            E::ByteList(b) => {
                items.extend(b.bytes.iter().map(|&c| Elem::B(c)));
                return (items, None);
            }
            E::ImproperList(l) => {
                items.extend(l.elements.iter().map(Elem::T));
                e = &l.last;
            }
            other => return (items, Some(other)),
        }
    }
}

fn same_list(e: &eetf::Term, t: &Term<'_>) -> bool {
    let (items, tail) = flatten(e);
    if items.is_empty() {
        // A list of no elements is just its tail (or `[]`).
        return match tail {
            Some(x) => same(x, t),
            None => matches!(t, Term::Nil),
        };
    }
    let Some(l) = t.as_list() else { return false };
    let mut it = l.iter();
    let elems_match = items.iter().all(|item| match (item, it.next()) {
        (Elem::T(x), Some(v)) => same(x, &v),
        (Elem::B(c), Some(v)) => v.as_i64() == Some(i64::from(*c)),
        _ => false,
    });
    elems_match
        && it.next().is_none()
        && match (tail, it.tail()) {
            (None, None) => true,
            (Some(x), Some(v)) => same(x, &v),
            _ => false,
        }
}

fn num_bigint_sign_minus() -> num_bigint::Sign {
    num_bigint::Sign::Minus
}

fuzz_target!(|data: &[u8]| {
    let policy = SafePolicy::new()
        .allow_pids_ports_refs(true)
        .max_inflated_size(1 << 20);
    let mut buf = Vec::new();
    let Ok(ours) = etf::decode_compressed_vec(data, &policy, &mut buf) else {
        return;
    };
    // libfuzzer's panic hook aborts even inside catch_unwind: silence it
    // while eetf runs.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let theirs = std::panic::catch_unwind(|| eetf::Term::decode(data));
    std::panic::set_hook(hook);
    match theirs {
        Ok(Ok(e)) => assert!(same(&e, &ours), "eetf {e:?}\nours {ours:?}"),
        // eetf refuses some valid terms (e.g. atoms past 255 bytes of
        // UTF-8, maps whose keys it cannot hash), or panics: not ours to fix.
        Ok(Err(_)) | Err(_) => {}
    }
});
