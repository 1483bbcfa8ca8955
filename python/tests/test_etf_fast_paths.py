"""The fast paths of phoenix_wire.etf: exact-type dispatch and borrowed items
in `dumps`, containers built in place and cached atoms in `loads`, the
no-keyword call path of both. Each is checked against a slower reference
(the keyword path, base types, erlpack/erlang-py) and on the edges where a
shortcut could go wrong: subclasses, sizes, mutation while encoding,
re-entrant calls, errors half way, reference counts."""

import collections
import enum
import gc
import sys

import pytest

from phoenix_wire import etf
from phoenix_wire.etf import Atom, ImproperList

# The peers' term builders, shared with the interop tests.
from test_etf import to_erlang_py, to_erlpack

# ----- dumps: exact types vs subclasses -----


class Str(str):
    pass


class Int(int):
    pass


class Float(float):
    pass


class Bytes(bytes):
    pass


class Tuple(tuple):
    pass


class List(list):
    pass


class Dict(dict):
    pass


class SubAtom(Atom):
    pass


class Color(enum.IntEnum):
    RED = 300


SUBCLASSED = [
    (Str("hé"), "hé"),
    (Int(7), 7),
    (Int(2**70), 2**70),
    (Float(2.5), 2.5),
    (Bytes(b"ab"), b"ab"),
    (Tuple((1, "x")), (1, "x")),
    (List([1, 2, 300]), [1, 2, 300]),
    (List([1, 2, 3]), [1, 2, 3]),
    (Dict({b"k": [1]}), {b"k": [1]}),
    (SubAtom("ok"), Atom("ok")),
    (Color.RED, 300),
    (collections.OrderedDict([(b"a", 1), (b"b", 2)]), {b"a": 1, b"b": 2}),
    (collections.namedtuple("P", "x y")(1, 2), (1, 2)),
]


@pytest.mark.parametrize("sub,base", SUBCLASSED, ids=lambda v: type(v).__name__)
def test_subclasses_encode_like_their_base_type(sub, base):
    assert etf.dumps(sub) == etf.dumps(base)
    assert etf.dumps(sub, atom_tags="legacy") == etf.dumps(base, atom_tags="legacy")
    # Nested inside exact containers too (the borrowed-item paths).
    assert etf.dumps([sub, (sub,), {b"k": sub}]) == etf.dumps([base, (base,), {b"k": base}])


def test_no_keyword_call_equals_the_keyword_call():
    values = [None, True, False, 0, -1, 255, 256, 2**31, -(2**63), 2**63, 1.5, "é", b"\x00", Atom("ok"),
              [], (), {}, [1, [2, (3, {b"k": Atom("v")})]], list(range(300)), [True, 1]]
    for v in values:
        assert etf.dumps(v) == etf.dumps(v, compressed=False, atom_tags="utf8", deterministic=False)
        data = etf.dumps(v)
        assert etf.loads(data) == etf.loads(data, safe=True, binaries="bytes")


def test_output_sizes_around_the_stack_buffer():
    # dumps writes into a 512-byte stack array, then moves to the heap;
    # every size around that edge, reached in one write or many, must give
    # exactly the bytes OTP would.
    for n in range(490, 540):
        assert etf.dumps(b"x" * n) == bytes([131, 109]) + n.to_bytes(4, "big") + b"x" * n
        small = [b"ab"] * n  # seven bytes per item: the edge falls mid-item
        data = etf.dumps(small)
        expected = bytes([131, 108]) + n.to_bytes(4, "big") + bytes([109, 0, 0, 0, 2, 97, 98]) * n + bytes([106])
        assert data == expected
        assert etf.dumps(small, deterministic=True) == data
        assert etf.loads(etf.dumps(small, compressed=True)) == small
    big = [(i, Atom("ok"), b"y" * (i % 700)) for i in range(3000)]
    assert etf.loads(etf.dumps(big)) == big
    assert etf.dumps(big, deterministic=True) == etf.dumps(big)


def test_integer_edges_take_the_right_form():
    for n in (0, 255, 256, -1, 2**31 - 1, -(2**31), 2**31, 2**63 - 1, -(2**63), 2**63, -(2**63) - 1, 2**64):
        data = etf.dumps(n)
        assert etf.loads(data) == n
        # An int subclass, and a non-exact path for the same value, agree.
        assert etf.dumps(Int(n)) == data
    assert etf.dumps(255) == bytes([131, 97, 255])
    assert etf.dumps(256) == bytes([131, 98, 0, 0, 1, 0])
    assert etf.dumps(2**63)[:3] == bytes([131, 110, 8])


def test_byte_lists_need_every_element_an_exact_small_int():
    assert etf.dumps([1, 2, 3])[:2] == bytes([131, 107])
    assert etf.dumps([1, 2, 256])[:2] == bytes([131, 108])  # last one is no byte
    assert etf.dumps([1, 2, Int(3)])[:2] == bytes([131, 108])  # not an exact int
    assert etf.dumps([1, True])[:2] == bytes([131, 108])  # a bool is an atom
    assert etf.dumps([1, -1])[:2] == bytes([131, 108])
    assert etf.dumps([0] * 65535)[:2] == bytes([131, 107])
    assert etf.dumps([0] * 65536)[:2] == bytes([131, 108])  # too long for STRING_EXT
    assert etf.loads(etf.dumps([0] * 65536)) == [0] * 65536


def test_depth_limit_and_cycles():
    ok = []
    for _ in range(127):
        ok = [ok]
    assert etf.loads(etf.dumps(ok)) == ok
    for make in (lambda x: [x], lambda x: (x,), lambda x: {b"k": x}, lambda x: ImproperList([x], 1)):
        deep = 1
        for _ in range(200):
            deep = make(deep)
        with pytest.raises(etf.EncodeError):
            etf.dumps(deep)
    d = {}
    d[b"self"] = d
    t = ([],)
    t[0].append(t)
    for cyclic in (d, t):
        with pytest.raises(etf.EncodeError):
            etf.dumps(cyclic)


class Evil(ImproperList):
    """Runs Python code while `dumps` reads it: clears a container that is
    being encoded, dropping the last reference to its items."""

    def __init__(self, victim):
        super().__init__([1], 2)
        self.victim = victim

    def __getattribute__(self, name):
        if name == "tail":
            v = object.__getattribute__(self, "victim")
            v.clear()
        return object.__getattribute__(self, name)


def test_containers_changed_while_encoding_fail_cleanly():
    for _ in range(50):
        victim = [[b"x" * 100, (1, [2])] for _ in range(3)]
        victim.insert(1, Evil(victim))
        with pytest.raises(etf.EncodeError, match="changed size"):
            etf.dumps(victim)
        victim = {b"a": 1, b"evil": None, b"z": [b"y" * 50]}
        victim[b"evil"] = Evil(victim)
        with pytest.raises(etf.EncodeError, match="changed size"):
            etf.dumps(victim)
        # The containers being written stay alive when their last other
        # reference goes: the inner list and tuple are still read after.
        victim = []
        victim.append([1, Evil(victim), b"z" * 100, [b"w" * 100]])
        victim.append((1, Evil(victim), b"z" * 100, [b"w" * 100]))
        with pytest.raises(etf.EncodeError, match="changed size"):
            etf.dumps(victim)
    gc.collect()


class EvilKey(ImproperList):
    """A hashable key whose encoding empties the dict holding it."""

    def __init__(self, victim):
        super().__init__([1], 2)
        self.victim = victim

    __hash__ = object.__hash__

    def __eq__(self, other):
        return self is other

    def __getattribute__(self, name):
        if name == "tail":
            object.__getattribute__(self, "victim").clear()
        return object.__getattribute__(self, name)


def test_a_dict_emptied_by_its_key_keeps_the_value_alive():
    for _ in range(50):
        victim = {}
        victim[EvilKey(victim)] = [b"v" * 100, (b"w" * 100,)]
        with pytest.raises(etf.EncodeError, match="changed size"):
            etf.dumps(victim)
    gc.collect()


def test_dumps_leaves_reference_counts_as_they_were():
    leaf = b"leaf-" * 10
    inner = [leaf, (leaf, Atom("ok")), {leaf: leaf}]
    obj = {b"k": inner, b"t": (inner, inner)}
    before = [sys.getrefcount(x) for x in (leaf, inner, obj)]
    for _ in range(1000):
        etf.dumps(obj)
        etf.dumps(obj, deterministic=True)
        with pytest.raises(etf.EncodeError):
            etf.dumps([inner, object()])
    assert [sys.getrefcount(x) for x in (leaf, inner, obj)] == before


# ----- loads: in-place containers, the atom cache, the fast call -----


def test_loads_matches_the_peers_on_generated_terms():
    erlpack = pytest.importorskip("erlpack")
    erlang = pytest.importorskip("erlang")
    values = [
        (Atom("token"), b"t" * 300),
        [(Atom("k%d" % (i % 7)), i * 1.5 if i % 2 else i) for i in range(500)],
        [(i, i * 2, Atom("ok")) for i in range(2000)],
        {b"a": [1, (2, [3, (Atom("x"),)]), {b"b": ()}], b"c": []},
        [[], [[]], [(), ((),)]],
    ]
    for v in values:
        data = etf.dumps(v, atom_tags="legacy")
        ours = etf.loads(data)
        assert ours == v
        assert etf.loads(erlpack.pack(to_erlpack(erlpack, v))) == v
        assert etf.loads(erlang.term_to_binary(to_erlang_py(erlang, v))) == v
        assert type(ours) is type(v)


def test_atoms_from_the_cache_are_equal_atoms_and_not_confused():
    names = ["ok", "error", "a" * 255, "ü", "é", "x", "y", "xy", "yx", "temperature", "temperaturf"]
    # Many distinct atoms: colliding slots must evict, never mix up.
    names += ["atom_%d" % i for i in range(3000)]
    for rounds in range(2):
        data = etf.dumps([Atom(n) for n in names])
        got = etf.loads(data)
        assert got == names and all(type(a) is Atom for a in got)
    # Latin-1 and UTF-8 tags for the same name are the same atom.
    latin1 = bytes([131, 100, 0, 1, 0xE9])
    utf8 = bytes([131, 119, 2, 0xC3, 0xA9])
    assert etf.loads(latin1) == etf.loads(utf8) == Atom("é")
    # A Latin-1 byte sequence that is also valid UTF-8 is a different atom.
    latin1_2 = bytes([131, 100, 0, 2, 0xC3, 0xA9])
    assert etf.loads(latin1_2) == Atom("Ã©") and etf.loads(utf8) == Atom("é")
    assert etf.loads(latin1_2) == Atom("Ã©")


def test_loads_is_reentrant_from_a_gc_callback():
    term = etf.dumps([(i, Atom("ok"), [b"x", (Atom("n%d" % i), 2.5)]) for i in range(300)])
    expected = etf.loads(term)
    inner = etf.dumps([(Atom("inner"), [1, 2, 3])] * 5)
    calls = []

    def callback(phase, info):
        if phase == "start":
            calls.append(etf.loads(inner))

    old = gc.get_threshold()
    gc.callbacks.append(callback)
    gc.set_threshold(1)
    try:
        for _ in range(5):
            assert etf.loads(term) == expected
    finally:
        gc.set_threshold(*old)
        gc.callbacks.remove(callback)
    assert calls and all(c == [(Atom("inner"), [1, 2, 3])] * 5 for c in calls)


def assert_failing_loads_keep_no_memory(data):
    """2000 `loads` of `data`, each raising DecodeError, leave the heap as it was."""
    gc.collect()
    blocks = sys.getallocatedblocks()
    for _ in range(2000):
        with pytest.raises(etf.DecodeError):
            etf.loads(data)
    gc.collect()
    assert sys.getallocatedblocks() - blocks < 1000


def test_errors_half_way_through_a_list_leak_nothing():
    # [big, ..., {[1]: 1}]: the list's elements are built before the
    # unhashable key fails the conversion.
    bad = bytearray(etf.dumps([b"x" * 1000] * 100 + [0]))
    # Replace the last element (SMALL_INTEGER 0, before the NIL) with a map
    # whose key is a list.
    assert bad[-3:] == bytes([97, 0, 106])
    bad[-3:] = bytes([116, 0, 0, 0, 1, 108, 0, 0, 0, 1, 97, 1, 106, 97, 1, 106])
    bad = bytes(bad)
    for _ in range(3):
        with pytest.raises(etf.DecodeError) as info:
            etf.loads(bad)
        assert info.value.kind == "UnhashableMapKey"
    # Memory: the same failure many times does not grow the heap.
    assert_failing_loads_keep_no_memory(bad)
    # And the next good call is not disturbed by what the failed one left.
    assert etf.loads(etf.dumps([1, [2, [3]]])) == [1, [2, [3]]]


def test_tuples_of_every_small_arity_and_large_ones():
    for n in (0, 1, 2, 3, 4, 5, 255, 256, 1000):
        t = tuple([Atom("a"), 2**40, b"b", 1.5, (), [n]][i % 6] for i in range(n))
        data = etf.dumps(t)
        assert etf.loads(data) == t and type(etf.loads(data)) is tuple
        assert etf.loads(data) == etf.loads(data, binaries="bytes")  # the keyword path
    # A failure in any slot of a 2- or 3-tuple is raised, and the slots
    # built before it are released.
    unhashable = bytes([116, 0, 0, 0, 1, 108, 0, 0, 0, 1, 97, 1, 106, 97, 1])  # {[1]: 1}
    leaf = bytes([109, 0, 0, 0, 3]) + b"abc"
    for arity in (2, 3):
        for bad in range(arity):
            items = [unhashable if i == bad else leaf for i in range(arity)]
            data = bytes([131, 104, arity]) + b"".join(items)
            with pytest.raises(etf.DecodeError) as info:
                etf.loads(data)
            assert info.value.kind == "UnhashableMapKey"
    assert_failing_loads_keep_no_memory(bytes([131, 104, 3]) + leaf + leaf + unhashable)


def test_loads_accepts_bytes_subclasses_and_bytearray_and_refuses_others():
    data = etf.dumps((Atom("ok"), [1, 2.5]))
    assert etf.loads(Bytes(data)) == etf.loads(bytearray(data)) == etf.loads(data)
    for bad in ("text", memoryview(data), None, 5):
        with pytest.raises(TypeError):
            etf.loads(bad)


def test_binaries_as_str_on_the_keyword_path():
    data = etf.dumps([b"ok", b"\xff", "é", (b"",)])
    assert etf.loads(data, binaries="str") == ["ok", b"\xff", "é", ("",)]
    assert etf.loads(data) == [b"ok", b"\xff", "é".encode(), (b"",)]
