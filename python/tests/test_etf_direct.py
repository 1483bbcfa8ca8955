"""`etf.loads`' direct reader (the common tags read straight from the
validated bytes) against the conversion of the codec's view, which it
falls back to for everything else (`_loads_slow` forces that path): random
raw terms of every encoding, their mutations and truncations, list tails of
every kind, atoms of every tag, errors half way, reference counts."""

import gc
import random
import struct
import sys
import tracemalloc

import pytest

from phoenix_wire import etf
from phoenix_wire._native import etf as native
from phoenix_wire.etf import Atom, BitBinary, ImproperList, Pid

ATOM_NAMES = ["ok", "true", "false", "nil", "a" * 255, "temperature", "", "x", "é", "Ã©", "ü", "日本"]


def atom(rng):
    """An atom in one of the four tags, or None if its name cannot use it."""
    name = rng.choice(ATOM_NAMES)
    tag = rng.choice([100, 115, 118, 119])
    if tag in (100, 115):
        try:
            raw = name.encode("latin-1")
        except UnicodeEncodeError:
            raw = name.encode("ascii", "replace")
    else:
        raw = name.encode()
    if tag in (115, 119):
        return bytes([tag, len(raw)]) + raw
    return bytes([tag]) + struct.pack(">H", len(raw)) + raw


def leaf(rng, rare):
    kinds = ["small", "int", "float", "atom", "binary", "nil", "string"]
    if rare:
        kinds += ["old_float", "small_big", "large_big", "bits", "pid"]
    k = rng.choice(kinds)
    if k == "small":
        return bytes([97, rng.randrange(256)])
    if k == "int":
        return b"b" + struct.pack(">i", rng.randrange(-(2**31), 2**31))
    if k == "float":
        return b"F" + struct.pack(">d", rng.uniform(-1e9, 1e9))
    if k == "atom":
        return atom(rng)
    if k == "binary":
        body = rng.choice([b"", b"abc", "é".encode(), b"\xff\xfe", bytes(range(40))])
        return b"m" + struct.pack(">I", len(body)) + body
    if k == "nil":
        return b"j"
    if k == "string":
        body = bytes(rng.randrange(256) for _ in range(rng.randrange(4)))
        return b"k" + struct.pack(">H", len(body)) + body
    if k == "old_float":
        return b"c" + (b"%.20e" % rng.uniform(-100, 100)).ljust(31, b"\0")
    if k == "small_big":
        n = rng.randrange(1, 12)
        return bytes([110, n, rng.randrange(2)]) + bytes(rng.randrange(256) for _ in range(n - 1)) + b"\x01"
    if k == "large_big":
        return bytes([111, 0, 0, 0, 9, 1]) + bytes(range(1, 10))
    if k == "bits":
        return bytes([77, 0, 0, 0, 2, rng.randrange(1, 9), 0xAB, 0xC0])
    return bytes([88, 119, 4]) + b"node" + struct.pack(">III", 1, 2, 3)


def tail(rng, depth, rare):
    k = rng.randrange(6)
    if k == 0:
        return b"k\x00\x02ab"  # a charlist continues the list
    if k == 1:
        return b"k\x00\x00"  # an empty charlist is []
    if k == 2:
        return b"l\x00\x00\x00\x01" + term(rng, depth + 1, rare) + tail(rng, depth + 1, rare)
    if k == 3:
        return b"l\x00\x00\x00\x00" + tail(rng, depth + 1, rare)  # no elements: just its tail
    if k == 4:
        return term(rng, depth + 1, rare)  # improper (or [] or a list)
    return b"j"


def term(rng, depth=0, rare=True):
    if depth > 5 or rng.random() < 0.45:
        return leaf(rng, rare)
    k = rng.choice(["small_tuple", "large_tuple", "map", "list", "list", "empty_list"])
    n = rng.randrange(5)
    items = b"".join(term(rng, depth + 1, rare) for _ in range(n))
    if k == "small_tuple":
        return bytes([104, n]) + items
    if k == "large_tuple":
        return b"i" + struct.pack(">I", n) + items
    if k == "map":
        # Distinct, hashable keys (duplicates and unhashable keys have tests
        # of their own).
        pairs = b"".join(b"b" + struct.pack(">i", i) + term(rng, depth + 1, rare) for i in range(n))
        return b"t" + struct.pack(">I", n) + pairs
    if k == "empty_list":
        return b"l\x00\x00\x00\x00" + term(rng, depth + 1, rare)
    return b"l" + struct.pack(">I", n) + items + tail(rng, depth, rare)


def same(a, b):
    """Equal with the same types all the way down (1 == 1.0 == True and
    Atom("x") == "x" in Python)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        keys_b = {k: k for k in b}
        return len(a) == len(b) and all(
            k in b and same(k, keys_b[k]) and same(v, b[k]) for k, v in a.items()
        )
    if isinstance(a, ImproperList):
        return same(a.items, b.items) and same(a.tail, b.tail)
    return a == b


def outcome(fn, data, **kw):
    try:
        return ("ok", fn(data, **kw))
    except etf.DecodeError as e:
        return ("err", e.kind, e.offset)


def check(data, allow_pids=True):
    for as_str in (False, True):
        fast = outcome(
            etf.loads, data, allow_pids=allow_pids, binaries="str" if as_str else "bytes"
        )
        slow = outcome(native._loads_slow, data, allow_pids=allow_pids, binaries_as_str=as_str)
        assert fast[0] == slow[0], (data, fast, slow)
        if fast[0] == "ok":
            assert same(fast[1], slow[1]), (data, fast, slow)
        else:
            assert fast == slow, data


@pytest.mark.parametrize("rare", [False, True], ids=["common-tags", "with-rare-tags"])
def test_random_terms_read_the_same_directly_and_through_the_view(rare):
    rng = random.Random(20261121 + rare)
    for _ in range(3000):
        check(b"\x83" + term(rng, rare=rare))


def test_mutations_and_truncations_fail_or_read_the_same():
    rng = random.Random(7)
    for _ in range(600):
        data = bytearray(b"\x83" + term(rng))
        check(bytes(data[: rng.randrange(1, len(data) + 1)]))
        for _ in range(3):
            data[rng.randrange(1, len(data))] = rng.randrange(256)
        check(bytes(data))


def test_compressed_terms_read_the_same():
    rng = random.Random(3)
    for _ in range(200):
        plain = etf.loads(b"\x83" + term(rng, rare=False))
        packed = etf.dumps(plain, compressed=True)
        check(packed)
        assert same(etf.loads(packed), plain)


LIST_TAILS = [
    # [1 | []]
    (b"l\x00\x00\x00\x01a\x01j", [1]),
    # [1 | "ab"]: a charlist tail continues the list
    (b"l\x00\x00\x00\x01a\x01k\x00\x02ab", [1, 97, 98]),
    # [1 | ""]: an empty STRING_EXT is []
    (b"l\x00\x00\x00\x01a\x01k\x00\x00", [1]),
    # [1 | [2 | [3]]]: list tails continue it
    (b"l\x00\x00\x00\x01a\x01l\x00\x00\x00\x01a\x02l\x00\x00\x00\x01a\x03j", [1, 2, 3]),
    # [1 | LIST_EXT 0 with tail [2]]
    (b"l\x00\x00\x00\x01a\x01l\x00\x00\x00\x00l\x00\x00\x00\x01a\x02j", [1, 2]),
    # [1 | 2] and [1, 2 | {}]
    (b"l\x00\x00\x00\x01a\x01a\x02", ImproperList([1], 2)),
    (b"l\x00\x00\x00\x01a\x01l\x00\x00\x00\x01a\x02h\x00", ImproperList([1, 2], ())),
    # A LIST_EXT of no elements is its tail: here {ok}, and []
    (b"l\x00\x00\x00\x00h\x01w\x02ok", (Atom("ok"),)),
    (b"l\x00\x00\x00\x00j", []),
]


@pytest.mark.parametrize("body,expected", LIST_TAILS)
def test_list_tails_of_every_kind(body, expected):
    assert same(etf.loads(b"\x83" + body), expected)
    check(b"\x83" + body)


def test_atoms_of_every_tag_and_the_builtin_ones():
    for name, value in [("true", True), ("false", False), ("nil", None), ("ok", Atom("ok"))]:
        raw = name.encode()
        for data in (
            bytes([100, 0, len(raw)]) + raw,
            bytes([115, len(raw)]) + raw,
            bytes([118, 0, len(raw)]) + raw,
            bytes([119, len(raw)]) + raw,
        ):
            got = etf.loads(b"\x83h\x01" + data)[0]
            assert got is value if value is None or isinstance(value, bool) else same(got, value)
    # Latin-1 bytes that are also UTF-8 are read as Latin-1 by the Latin-1 tags.
    assert etf.loads(b"\x83s\x02\xc3\xa9") == "Ã©" and etf.loads(b"\x83w\x02\xc3\xa9") == "é"
    assert etf.loads(b"\x83d\x00\x01\xe9") == "é"


def test_rare_tags_inside_common_containers_fall_back_whole():
    big = bytes([110, 9, 0]) + bytes(8) + b"\x01"  # 2**64
    pid = bytes([88, 119, 4]) + b"node" + struct.pack(">III", 1, 2, 3)
    bits = bytes([77, 0, 0, 0, 1, 3, 0xE0])
    data = b"\x83l\x00\x00\x00\x03" + b"h\x02w\x02okj" + big + pid + b"j"
    assert same(
        etf.loads(data, allow_pids=True),
        [(Atom("ok"), []), 2**64, Pid(Atom("node"), 1, 2, 3)],
    )
    assert etf.loads(b"\x83h\x02a\x01" + bits) == (1, BitBinary(b"\xe0", 3))
    # Not allowed: the codec refuses it before any reader runs.
    with pytest.raises(etf.DecodeError) as info:
        etf.loads(data)
    assert (info.value.kind, info.value.offset) == ("DisallowedTerm(88)", 25)


def test_unhashable_keys_and_errors_half_way_leak_nothing():
    # [<<"x"...>>, ..., #{[1] => 1}]: built elements are released.
    bad = b"\x83l\x00\x00\x00\x03" + (b"m\x00\x00\x00\x03abc" * 2) + b"t\x00\x00\x00\x01l\x00\x00\x00\x01a\x01ja\x01j"
    with pytest.raises(etf.DecodeError) as info:
        etf.loads(bad)
    assert info.value.kind == "UnhashableMapKey"
    good = etf.dumps([(Atom("ok"), i, b"x" * 40, [1.5, (i,)]) for i in range(50)])
    for _ in range(50):
        etf.loads(good)
        with pytest.raises(etf.DecodeError):
            etf.loads(bad)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(2000):
            etf.loads(good)
            with pytest.raises(etf.DecodeError):
                etf.loads(bad)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 64 * 1024


def test_shared_atoms_and_builtins_keep_their_reference_counts():
    data = etf.dumps([(Atom("ok"), True, None, [Atom("ok")]) for _ in range(100)])
    ok = etf.loads(data)[0][0]
    counts = lambda: (sys.getrefcount(ok), sys.getrefcount(True), sys.getrefcount(None))  # noqa: E731
    etf.loads(data)
    before = counts()
    for _ in range(200):
        etf.loads(data)
    after = counts()
    # True and None are immortal in newer Pythons; the cached atom is not.
    assert after[0] == before[0]
    assert after[1:] == before[1:] or sys.version_info >= (3, 12)
    kept = etf.loads(data)
    assert sys.getrefcount(ok) == before[0] + 200  # one per occurrence kept
    del kept
    assert sys.getrefcount(ok) == before[0]


def test_large_terms_untrack_atomic_tuples_only():
    # 16 KiB and more: tuples of leaves are untracked, the others are not.
    data = etf.dumps([(i, Atom("ok"), b"x") for i in range(2000)] + [([1],), ({b"k": 1},)])
    assert len(data) >= 16 * 1024
    got = etf.loads(data)
    assert not gc.is_tracked(got[0]) and gc.is_tracked(got[-1]) and gc.is_tracked(got[-2])
    assert gc.is_tracked(got)
    small = etf.loads(etf.dumps([(1, Atom("ok"))]))
    assert gc.is_tracked(small[0])


def test_large_terms_survive_collections_while_they_are_built():
    # Collections (and Python code in their callbacks) run while the lists
    # of a large term fill; the lists are tracked again once full.
    value = [[(i, Atom("ok"), [b"x", i * 0.5]) for i in range(700)] for _ in range(3)]
    data = etf.dumps(value)
    assert len(data) >= 16 * 1024
    seen = []

    def callback(phase, info):
        if phase == "start":
            seen.append(sum(1 for o in gc.get_objects() if type(o) is list and len(o) == 700))

    old = gc.get_threshold()
    gc.callbacks.append(callback)
    gc.set_threshold(50)
    try:
        got = etf.loads(data)
    finally:
        gc.set_threshold(*old)
        gc.callbacks.remove(callback)
    assert got == value and seen
    assert gc.is_tracked(got) and all(gc.is_tracked(inner) for inner in got)


def test_threads_and_reentrant_calls_share_the_atom_cache_safely():
    import threading

    term = etf.dumps([(Atom("n%d" % (i % 40)), i, [Atom("ok"), b"x"]) for i in range(400)])
    expected = etf.loads(term)
    inner = etf.dumps((Atom("inner"), [Atom("n1"), 2]))
    failures, calls = [], []

    def callback(phase, info):
        if phase == "start":
            calls.append(etf.loads(inner) == (Atom("inner"), [Atom("n1"), 2]))

    def work():
        for _ in range(150):
            if etf.loads(term) != expected:
                failures.append("mismatch")

    old = gc.get_threshold()
    interval = sys.getswitchinterval()
    gc.callbacks.append(callback)
    gc.set_threshold(100)
    sys.setswitchinterval(1e-5)
    try:
        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in threads)
    finally:
        sys.setswitchinterval(interval)
        gc.set_threshold(*old)
        gc.callbacks.remove(callback)
    assert not failures and calls and all(calls)


def test_map_keys_from_the_key_cache_are_right_and_shared():
    keys = [b"", b"a", b"ab", b"ba", b"username", b"usernamf", b"x" * 32, b"x" * 33, b"\xff\xfe", "é".encode()]
    # Many distinct keys: colliding slots must evict, never mix up.
    keys += [b"key_%d" % i for i in range(3000)]
    value = {k: i for i, k in enumerate(keys)}
    data = etf.dumps(value)
    for _ in range(2):
        got = etf.loads(data)
        assert same(got, value)
        as_str = etf.loads(data, binaries="str")
        expected = {(k.decode() if k != b"\xff\xfe" else k): i for i, k in enumerate(keys)}
        assert same(as_str, expected)
        check(data)
    # The same bytes as bytes and as str are different keys.
    small = etf.dumps({b"username": 1, b"password": 2})
    a, b = etf.loads(small), etf.loads(small, binaries="str")
    assert same(a, {b"username": 1, b"password": 2}) and same(b, {"username": 1, "password": 2})
    # Shared between calls: the same object, whose count only the kept
    # results hold.
    first = next(iter(etf.loads(small)))
    assert next(iter(etf.loads(small))) is first
    before = sys.getrefcount(first)
    for _ in range(100):
        etf.loads(small)
    assert sys.getrefcount(first) == before
    kept = [etf.loads(small) for _ in range(10)]
    assert sys.getrefcount(first) == before + 10
    del kept
    assert sys.getrefcount(first) == before
    # Values are never taken from the key cache.
    v = etf.loads(etf.dumps({b"k": b"username"}))[b"k"]
    assert v == b"username" and v is not first
