"""`etf.loads` on every encoding the codec accepts, written byte by byte
(non-canonical ones too: lists continued by lists or charlists, empty lists
in front of tails, old floats, bignums, pids), on their mutations and
truncations and at the depth limits: a value whose every part can be read
back, or a DecodeError, never anything else. And the tuples of large terms
that hold only atomic items are untracked by the garbage collector.

The differential tests of the one-pass (`etf.visit`) conversion against
this one are in the history (commit 889bf3b): that conversion was not
faster, so it was not kept."""

import gc
import random
import struct
import zlib

import pytest

from phoenix_wire import etf
from phoenix_wire.etf import Atom, BitBinary, ImproperList, Pid, Port, Reference


def canon(v):
    """A comparable form that keeps types apart (True is not 1, b"a" is not "a")."""
    t = type(v)
    if t in (list, tuple):
        return (t.__name__, [canon(x) for x in v])
    if t is dict:
        return ("dict", [(canon(k), canon(x)) for k, x in v.items()])
    if t is ImproperList:
        return ("improper", canon(v.items), canon(v.tail))
    if t is float:
        return ("float", repr(v))
    return (t.__name__, repr(v))


def outcome(data, **kw):
    try:
        return ("ok", canon(etf.loads(data, **kw)))
    except etf.DecodeError as e:
        assert isinstance(e.kind, str) and isinstance(e.offset, int), e
        return ("err", type(e).__name__, str(e), e.kind, e.offset)


def same(data, **kw):
    """Loads `data` twice (the second time from a bytearray): the same outcome."""
    got = outcome(data, **kw)
    assert got == outcome(bytearray(data), **kw), (data.hex(), kw)
    return got


# ----- a random writer of raw terms -----

ATOMS = [b"ok", b"error", b"true", b"false", b"nil", b"temperature", b"", b"caf\xc3\xa9", b"\xe9t\xe9"]


def atom(rng):
    name = rng.choice(ATOMS)
    kind = rng.randrange(4)
    if kind == 0:
        return bytes([119, len(name)]) + name  # SMALL_ATOM_UTF8
    if kind == 1:
        return bytes([118]) + struct.pack(">H", len(name)) + name  # ATOM_UTF8
    if kind == 2:
        return bytes([115, len(name)]) + name  # SMALL_ATOM (Latin-1)
    return bytes([100]) + struct.pack(">H", len(name)) + name  # ATOM (Latin-1)


def leaf(rng, pids):
    k = rng.randrange(16 if pids else 13)
    if k == 0:
        return bytes([97, rng.randrange(256)])
    if k == 1:
        return bytes([98]) + struct.pack(">i", rng.randrange(-(2**31), 2**31))
    if k == 2:
        return bytes([70]) + struct.pack(">d", rng.uniform(-1e9, 1e9))
    if k == 3:
        return bytes([99]) + (b"%.20e" % rng.uniform(-1e3, 1e3)).ljust(31, b"\0")
    if k == 4:
        return atom(rng)
    if k == 5:
        b = rng.choice([b"", b"abc", b"h\xc3\xa9", b"\xff\xfe", bytes(range(40))])
        return bytes([109]) + struct.pack(">I", len(b)) + b
    if k == 6:
        n = rng.randrange(0, 4)
        bits = rng.randrange(1, 9) if n else 0
        return bytes([77]) + struct.pack(">I", n) + bytes([bits]) + bytes(rng.randrange(256) for _ in range(n))
    if k == 7:
        return bytes([106])
    if k == 8:
        s = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 5)))
        return bytes([107]) + struct.pack(">H", len(s)) + s
    if k in (9, 10):
        n = rng.choice([0, 1, 8, 9, 16, 17, 40])
        mag = bytes(rng.randrange(256) for _ in range(n))
        if k == 9:
            return bytes([110, n, rng.randrange(2)]) + mag
        return bytes([111]) + struct.pack(">I", n) + bytes([rng.randrange(2)]) + mag
    if k in (11, 12):
        return bytes([104 if k == 11 else 116]) + (b"\0" if k == 11 else b"\0\0\0\0")  # {} and #{}
    node = atom(rng)
    if k == 13:
        return bytes([88]) + node + struct.pack(">III", 1, 2, 3)
    if k == 14:
        if rng.random() < 0.5:
            return bytes([89]) + node + struct.pack(">II", 4, 5)  # NEW_PORT
        return bytes([120]) + node + struct.pack(">QI", 4, 5)  # V4_PORT
    ids = rng.randrange(1, 4)
    return bytes([90]) + struct.pack(">H", ids) + node + struct.pack(">I", 7) + b"\0\0\0\1" * ids


def term(rng, depth, pids=False):
    if depth <= 0 or rng.random() < 0.35:
        return leaf(rng, pids)
    k = rng.randrange(7)
    n = rng.choice([1, 2, 2, 3, 4, 5, 7])
    items = b"".join(term(rng, depth - 1, pids) for _ in range(n))
    if k == 0:
        return bytes([104, n]) + items
    if k == 1:
        return bytes([105]) + struct.pack(">I", n) + items
    if k == 2:
        pairs = b"".join(term(rng, depth - 1, pids) + term(rng, depth - 1, pids) for _ in range(n))
        return bytes([116]) + struct.pack(">I", n) + pairs
    # Lists, with every kind of tail the codec accepts.
    tail_kind = rng.randrange(6)
    if tail_kind == 0:
        tail = bytes([106])
    elif tail_kind == 1:
        tail = term(rng, depth - 1, pids)  # improper: a leaf or a container
    elif tail_kind == 2:
        tail = term(rng, depth - 1, pids)
        tail = bytes([108, 0, 0, 0, 0]) + tail  # an empty list in front of the tail
    elif tail_kind == 3:
        s = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 3)))
        tail = bytes([107]) + struct.pack(">H", len(s)) + s  # continued by a charlist
    else:
        tail = term(rng, depth - 1, pids)
        if tail[0] != 108:
            tail = bytes([108]) + struct.pack(">I", 1) + tail + bytes([106])  # continued by a list
    return bytes([108]) + struct.pack(">I", n) + items + tail


def test_random_raw_terms_load_or_fail_cleanly():
    rng = random.Random(4)
    oks = 0
    for i in range(3000):
        data = bytes([131]) + term(rng, rng.randrange(1, 6), pids=i % 3 == 0)
        if same(data, safe=False)[0] == "ok":
            oks += 1
        same(data)
        same(data, binaries="str", allow_pids=True)
        same(data, atoms=["ok", "temperature"], allow_pids=True)
    # Most are valid (errors: duplicate keys, unhashable keys, bad UTF-8).
    assert oks > 1500


def test_mutated_and_truncated_terms_load_or_fail_cleanly():
    rng = random.Random(5)
    kinds = set()
    for _ in range(3000):
        data = bytearray(bytes([131]) + term(rng, rng.randrange(1, 5), pids=True))
        for _ in range(rng.randrange(1, 3)):
            data[rng.randrange(1, len(data))] = rng.randrange(256)
        if rng.random() < 0.3:
            data = data[: rng.randrange(1, len(data) + 1)]
        if rng.random() < 0.1:
            data += bytes([97, 1])
        result = same(bytes(data), allow_pids=True)
        if result[0] == "err":
            kinds.add(result[3])
    assert {"UnexpectedEof", "TrailingBytes", "DuplicateMapKey", "InvalidUtf8"} <= kinds, kinds


def test_lists_continued_by_lists_and_charlists_and_improper_tails():
    cases = {
        # [1 | [2, 3]]: one list of three.
        bytes([131, 108, 0, 0, 0, 1, 97, 1, 108, 0, 0, 0, 2, 97, 2, 97, 3, 106]): [1, 2, 3],
        # [1 | "ab"]: the charlist's bytes continue the list.
        bytes([131, 108, 0, 0, 0, 1, 97, 1, 107, 0, 2, 97, 98]): [1, 97, 98],
        # [1 | ""] is proper.
        bytes([131, 108, 0, 0, 0, 1, 97, 1, 107, 0, 0]): [1],
        # [1 | [] ++ 2]: an empty list in front of an improper tail.
        bytes([131, 108, 0, 0, 0, 1, 97, 1, 108, 0, 0, 0, 0, 97, 2]): ImproperList([1], 2),
        # [1 | {2}]: a container as the tail.
        bytes([131, 108, 0, 0, 0, 1, 97, 1, 104, 1, 97, 2]): ImproperList([1], (2,)),
        # [[1] | [[2] | 3]]
        bytes([131, 108, 0, 0, 0, 1, 108, 0, 0, 0, 1, 97, 1, 106, 108, 0, 0, 0, 1, 108, 0, 0, 0, 1, 97, 2, 106, 97, 3]): (
            ImproperList([[1], [2]], 3)
        ),
        # [] ++ [] ++ 5 at the top: just 5.
        bytes([131, 108, 0, 0, 0, 0, 108, 0, 0, 0, 0, 97, 5]): 5,
        # {[1 | <<"x">>], #{}}
        bytes([131, 104, 2, 108, 0, 0, 0, 1, 97, 1, 109, 0, 0, 0, 1, 120, 116, 0, 0, 0, 0]): (
            ImproperList([1], b"x"),
            {},
        ),
    }
    for data, want in cases.items():
        assert same(data) == ("ok", canon(want)), data.hex()


@pytest.mark.parametrize("depth", [1, 2, 5, 127, 128, 129, 255])
def test_depth_limits_of_every_container(depth):
    wraps = [
        (bytes([104, 1]), b""),  # {X}
        (bytes([108, 0, 0, 0, 1]), bytes([106])),  # [X]
        (bytes([116, 0, 0, 0, 1, 97, 1]), b""),  # #{1 => X}
        (bytes([108, 0, 0, 0, 1, 97, 1]), b""),  # [1 | X]
    ]
    for open_, close in wraps:
        data = bytes([131]) + open_ * depth + bytes([97, 7]) + close * depth
        assert same(data, max_depth=depth)[0] == "ok"
        assert same(data, max_depth=256)[0] == "ok"
        assert same(data, max_depth=depth - 1)[3] == "DepthLimitExceeded"
    # Nested as deep as allowed, the innermost value is there.
    v = etf.loads(bytes([131]) + bytes([104, 1]) * depth + bytes([97, 7]), max_depth=depth)
    for _ in range(depth):
        (v,) = v
    assert v == 7


def test_every_option_and_compressed_terms():
    rng = random.Random(6)
    for _ in range(300):
        body = term(rng, rng.randrange(1, 5), pids=True)
        packed = bytes([131, 80]) + struct.pack(">I", len(body)) + zlib.compress(body)
        for data in (bytes([131]) + body, packed):
            same(data, allow_pids=True)
            same(data, safe=False, binaries="str")
            same(data, max_inflated=len(body) - 1, allow_pids=True)


def test_codec_errors_come_before_conversion_errors():
    # An unhashable key, then a fun: the codec's error (the fun) wins.
    got = same(bytes([131, 104, 2, 116, 0, 0, 0, 1, 106, 97, 1, 112]))
    assert got[0] == "err" and got[3] == "ExecutableTerm"
    # An unhashable key alone: UnhashableMapKey, offset 0.
    got = same(bytes([131, 116, 0, 0, 0, 1, 108, 0, 0, 0, 1, 97, 1, 106, 97, 2]))
    assert got[0] == "err" and got[3:] == ("UnhashableMapKey", 0)
    dup = bytes([131, 116, 0, 0, 0, 2, 97, 1, 97, 2, 97, 1, 97, 3])
    assert same(dup)[3:] == ("DuplicateMapKey", 10)
    assert same(bytes([131, 104, 1, 97, 1, 97, 2]))[3:] == ("TrailingBytes", 5)


def test_rust_bad_input_corpus_fails_cleanly():
    from test_etf import rust_bad_input_cases

    cases = rust_bad_input_cases()
    assert len(cases) >= 20
    for data, policy, kind, offset in cases:
        assert same(data, **policy)[3:] == (kind, offset)


def test_python_values_round_trip():
    from test_etf import random_term

    rng = random.Random(8)
    for _ in range(500):
        v = random_term(rng, 5, pids=True)
        for data in (etf.dumps(v), etf.dumps(v, atom_tags="legacy", compressed=True)):
            assert same(data, allow_pids=True)[0] == "ok"


def test_objects_are_fresh_and_reference_counts_balance():
    import sys

    data = etf.dumps([(Atom("ok"), b"x", [1, 2], {"a": (1,)})] * 50)
    before = sys.gettotalrefcount() if hasattr(sys, "gettotalrefcount") else None
    for _ in range(100):
        a, b = etf.loads(data), etf.loads(data)
        assert a == b and a is not b and a[0][2] is not b[0][2]
    if before is not None:
        assert abs(sys.gettotalrefcount() - before) < 100
    assert isinstance(etf.loads(data)[0][0], Atom)


def test_pids_ports_refs_and_bitstrings_load_as_their_classes():
    data = bytes([131, 108, 0, 0, 0, 4])
    data += bytes([88, 119, 1, 110]) + struct.pack(">III", 1, 2, 3)
    data += bytes([120, 119, 1, 110]) + struct.pack(">QI", 4, 5)
    data += bytes([90, 0, 2, 119, 1, 110]) + struct.pack(">III", 7, 8, 9)
    data += bytes([77, 0, 0, 0, 1, 3, 0xE0, 106])
    got = etf.loads(data, allow_pids=True)
    assert [type(x) for x in got] == [Pid, Port, Reference, BitBinary]
    assert same(data, allow_pids=True)[0] == "ok"


# ----- tuples of atomic items in large terms are not tracked by the GC -----


def test_large_terms_untrack_their_tuples_of_atomic_items():
    inner = [(i, i * 0.5, Atom("ok"), b"x", str(i), True, None, 2**80) for i in range(1500)]
    mixed = [(i, [i]) for i in range(1500)]
    nested = [((i,),) for i in range(1500)]
    data = etf.dumps([inner, mixed, nested])
    assert len(data) >= 16 * 1024
    a, m, n = etf.loads(data, binaries="str")
    assert a == [(i, i * 0.5, "ok", "x", str(i), True, None, 2**80) for i in range(1500)]
    assert not any(gc.is_tracked(t) for t in a)
    # A tuple holding a list stays tracked (one holding only untracked
    # tuples may be untracked by CPython itself at its next collection).
    assert all(gc.is_tracked(t) for t in m)
    assert m == [(i, [i]) for i in range(1500)] and n == nested
    # The objects are whole: collections neither free nor break them.
    gc.collect()
    assert a[1499][0] == 1499 and m[3][1] == [3]


def test_small_terms_keep_their_tuples_tracked():
    t = etf.loads(etf.dumps((1, Atom("ok"))))
    assert t == (1, "ok") and gc.is_tracked(t)


def test_a_cycle_through_a_loaded_list_is_still_collected():
    import weakref

    class Box:
        pass

    data = etf.dumps([(i, i) for i in range(4000)] + [[1]])
    value = etf.loads(data)
    box = Box()
    box.value = value
    value[-1].append(box)  # a cycle: box -> value -> [1, box] -> box
    ref = weakref.ref(box)
    del box, value
    gc.collect()
    assert ref() is None
