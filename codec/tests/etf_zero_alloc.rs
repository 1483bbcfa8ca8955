//! Decode, iteration of every container kind, and encode into a pre-sized
//! buffer allocate nothing: counted by a global allocator in this binary.
// `Vec<u8>` is an output buffer only with `alloc`.
#![cfg(feature = "alloc")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use phoenix_wire::etf::{self, Encoder, SafePolicy, Term};
use phoenix_wire::SliceSink;

struct Counting;

// Per thread: the test harness runs tests in parallel, and another test's
// setup must not count against the one being measured.
thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

fn count() {
    let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: forwards to the system allocator; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        count();
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        count();
        System.realloc(p, l, n)
    }
}

#[global_allocator]
static A: Counting = Counting;

/// Allocations made by `f` on this thread.
fn allocs<R>(f: impl FnOnce() -> R) -> (usize, R) {
    let before = ALLOCS.with(Cell::get);
    let r = f();
    (ALLOCS.with(Cell::get) - before, r)
}

/// A term with every kind: map (string, atom and tuple keys), lists proper
/// and improper, charlist, tuple, large tuple, bignum, floats, bitstring,
/// Latin-1 atom, pid, port, reference.
fn sample() -> Vec<u8> {
    let mut out = Vec::new();
    let mut e = Encoder::new(&mut out);
    e.version().unwrap();
    e.map_header(8).unwrap();
    e.binary(b"fedecks-device-id").unwrap();
    e.binary(b"nerves-1234").unwrap();
    e.atom("list").unwrap();
    e.list_header(3).unwrap();
    e.int(1).unwrap();
    e.float(2.5).unwrap();
    e.atom("héllo").unwrap();
    e.nil().unwrap();
    e.atom("improper").unwrap();
    e.list_header(1).unwrap();
    e.int(-70000).unwrap();
    e.int(2).unwrap();
    e.tuple_header(2).unwrap();
    e.int(1).unwrap();
    e.int(2).unwrap();
    e.charlist(b"token_please").unwrap();
    e.atom("big").unwrap();
    e.int128(-(1i128 << 100)).unwrap();
    e.atom("large").unwrap();
    e.tuple_header(300).unwrap();
    for i in 0..300 {
        e.int(i).unwrap();
    }
    e.atom("bits").unwrap();
    e.bit_binary(&[0xff, 0xe0], 3).unwrap();
    e.atom("ids").unwrap();
    e.tuple_header(3).unwrap();
    e.pid("nonode@nohost", 80, 0, 0).unwrap();
    e.port("nonode@nohost", 3, 0).unwrap();
    e.reference("nonode@nohost", 0, &[1, 2, 3]).unwrap();
    out
}

/// Visits every term, counting them; recursion is fine for a test term.
fn walk(t: &Term<'_>) -> usize {
    1 + match *t {
        Term::List(l) => {
            l.iter().map(|e| walk(&e)).sum::<usize>() + l.tail().map_or(0, |t| walk(&t))
        }
        Term::Charlist(_) | Term::Nil => t.as_list().unwrap().iter().map(|e| walk(&e)).sum(),
        Term::Tuple(tu) => tu.iter().map(|e| walk(&e)).sum(),
        Term::Map(m) => m.iter().map(|(k, v)| walk(&k) + walk(&v)).sum(),
        // Reading the text is part of the walk; no atom here is empty.
        Term::Atom(a) => usize::from(a.chars().count() == 0),
        Term::Pid(p) => usize::from(p.node.chars().count() == 0),
        Term::Ref(r) => usize::from(r.ids().count() == 0),
        _ => 0,
    }
}

#[test]
fn decode_walk_and_encode_allocate_nothing() {
    let bytes = sample();
    let policy = SafePolicy::new().allow_pids_ports_refs(true);
    let mut out = Vec::with_capacity(bytes.len());
    let mut fixed = [0u8; 4096];
    let (n, (count, written)) = allocs(|| {
        let t = etf::decode(&bytes, &policy).unwrap();
        let count = walk(&t);
        assert!(t.walk().count() > 300);
        // Lookups, equality and Display of atoms without the heap, too.
        let m = t.as_map().unwrap();
        assert_eq!(
            m.get("fedecks-device-id").and_then(|v| v.as_str()),
            Some("nerves-1234")
        );
        assert!(m.get_atom("large").is_some());
        let copy = t;
        assert!(copy == t);
        etf::encode(&t, &mut out).unwrap();
        let mut sink = SliceSink::new(&mut fixed);
        etf::encode(&t, &mut sink).unwrap();
        (count, sink.len())
    });
    assert_eq!(n, 0, "allocations during decode + walk + encode");
    // map + its pairs: id 2, list 5, improper 4, {1,2} => charlist 16,
    // big 2, large 302, bits 2, ids 5.
    assert_eq!(count, 1 + 2 + 5 + 4 + 16 + 2 + 302 + 2 + 5);
    assert_eq!(out, bytes);
    assert_eq!(written, bytes.len());
}

#[test]
fn visit_allocates_nothing() {
    let bytes = sample();
    let policy = SafePolicy::new().allow_pids_ports_refs(true);
    let (n, (count, ints)) = allocs(|| {
        let (mut count, mut ints) = (0usize, 0i64);
        let used = etf::visit(&bytes, &policy, |t| {
            count += 1;
            ints += t.as_i64().unwrap_or(0);
        })
        .unwrap();
        assert_eq!(used, bytes.len());
        (count, ints)
    });
    assert_eq!(n, 0, "allocations during visit");
    let t = etf::decode(&bytes, &policy).unwrap();
    assert_eq!(count, t.walk().count());
    assert_eq!(ints, t.walk().filter_map(|t| t.as_i64()).sum::<i64>());
}

#[test]
fn latin1_atoms_and_allow_lists_allocate_nothing() {
    let latin1 = [131, 104, 2, 100, 0, 2, b'h', 0xe9, 115, 2, b'o', b'k'];
    let allow = ["hé", "ok"];
    let policy = SafePolicy::new().allow_atoms(&allow);
    let (n, s) = allocs(|| {
        let t = etf::decode(&latin1, &policy).unwrap();
        let a = t.as_tuple().unwrap().get(0).unwrap().as_atom().unwrap();
        let mut buf = [0u8; 8];
        let mut sink = SliceSink::new(&mut buf);
        etf::Encoder::new(&mut sink).term(&Term::Atom(a)).unwrap();
        (a == "hé", sink.len())
    });
    assert_eq!(n, 0);
    assert_eq!(s, (true, 5));
}

#[test]
fn errors_allocate_nothing() {
    let mut deep = vec![131];
    deep.extend(std::iter::repeat([104u8, 1]).take(10_000).flatten());
    let cases: [&[u8]; 5] = [
        &[131, 108, 255, 255, 255, 255],
        &[131, 68],
        &[131, 82, 0],
        &deep,
        &[131, 112],
    ];
    let (n, ()) = allocs(|| {
        for c in cases {
            assert!(etf::decode(c, &SafePolicy::new()).is_err());
            assert!(etf::visit(c, &SafePolicy::new(), |_| {}).is_err());
        }
    });
    assert_eq!(n, 0);
}

#[test]
fn the_counter_counts() {
    // Guards against a counter that never moves.
    let (n, v) = allocs(|| vec![0u8; 16]);
    assert_eq!((n, v.len()), (1, 16));
}
