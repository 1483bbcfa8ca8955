"""The glue's fast paths against slow references: numbers read straight
from their digits, floats written without ryu, strings copied without the
escaper, the key cache's word compare, and the pointer-walking writer on
subclasses (which must behave as before and run no Python code)."""

import collections
import decimal
import json
import math
import random
import struct
import sys

import pytest

import phoenix_wire as pw


def payload_of(text):
    return pw.decode('[null,null,"t","e",%s]' % text).payload


def encoded_payload(value):
    out = pw.encode(None, None, "t", "e", value)
    prefix = '[null,null,"t","e",'
    assert out.startswith(prefix) and out.endswith("]")
    return out[len(prefix) : -1]


def same_number(a, b):
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return struct.pack("<d", a) == struct.pack("<d", b) or (math.isnan(a) and math.isnan(b))
    return a == b


def random_number_text(rng):
    sign = rng.choice(["", "-"])
    int_digits = rng.randint(1, 25)
    whole = "0" if rng.random() < 0.2 else str(rng.randint(1, 9)) + "".join(rng.choice("0123456789") for _ in range(int_digits - 1))
    text = sign + whole
    if rng.random() < 0.6:
        text += "." + "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 20)))
    if rng.random() < 0.3:
        text += rng.choice("eE") + rng.choice(["", "+", "-"]) + str(rng.randint(0, 40 if rng.random() < 0.9 else 400))
    return text


EDGE_NUMBERS = [
    "0", "-0", "0.0", "-0.0", "0e5", "-0e-5", "1e22", "1e23", "-1e22", "9007199254740993", "9007199254740993.0",
    "123456789012345678", "999999999999999999", "1000000000000000000", "-999999999999999999",
    "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
    "123456789012345.0", "1234567890123456.0", "0.1", "0.30000000000000004", "2.2250738585072014e-308",
    "5e-324", "1.7976931348623157e308", "1e400", "-1e400", "1e-400", "4.35", "1234.567e-5", "-1234.567",
    "0.000000000000000000001", "100000000000000000000000", "1E+2", "12345678901234567890e-20",
]


def test_decoded_numbers_match_json_loads():
    rng = random.Random(5)
    texts = EDGE_NUMBERS + [random_number_text(rng) for _ in range(20000)]
    ours = payload_of("[" + ",".join(texts) + "]")
    for text, got in zip(texts, ours):
        assert same_number(got, json.loads(text)), text


def erlang_short(f):
    """float_to_binary(F, [short]) from Python's shortest repr digits."""
    if f == 0.0:
        return "-0.0" if math.copysign(1, f) < 0 else "0.0"
    sign, digits, exp = decimal.Decimal(repr(abs(f))).as_tuple()
    d = "".join(map(str, digits)).lstrip("0")
    first = exp + len("".join(map(str, digits))) - 1
    d = d.rstrip("0") or "0"
    n = len(d)
    e = str(first)
    sci_len = 1 + 1 + max(n - 1, 1) + 1 + len(e)
    place = first + 1
    plain_len = 2 + (-place) + n if place <= 0 else place + 2 if place >= n else n + 1
    if abs(f) < 2.0**53 and plain_len <= sci_len:
        if place <= 0:
            body = "0." + "0" * (-place) + d
        elif place >= n:
            body = d + "0" * (place - n) + ".0"
        else:
            body = d[:place] + "." + d[place:]
    else:
        body = d[0] + "." + (d[1:] or "0") + "e" + e
    return ("-" if f < 0 else "") + body


def random_floats(rng, n):
    out = [0.0, -0.0, 1.0, 0.1, 0.3, 4.35, 1e15, 1e16, 2.0**50, 2.0**50 - 1, 2.0**50 + 1, 2.0**52, 2.0**53,
           1125899906842623.5, 0.1 + 0.2, 1 / 3, 5e-324, 1.7976931348623157e308, 123456.0, 1e-7, 1e21, 1e22, 1e23]
    while len(out) < n:
        k = rng.random()
        if k < 0.4:
            # Readings with a few decimals, like the bench's telemetry.
            out.append(round(rng.uniform(-1e6, 1e6), rng.randint(0, 8)))
        elif k < 0.6:
            out.append(rng.randrange(-10**9, 10**9) / 10 ** rng.randint(0, 17))
        elif k < 0.8:
            out.append(rng.uniform(-1e3, 1e3) * 10 ** rng.randint(-30, 30))
        else:
            f = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
            if math.isfinite(f):
                out.append(f)
    return out


def assert_erlang_short(floats):
    """A list of `floats` is written with each in Erlang's short form, which
    reads back as the same float."""
    ours = encoded_payload(floats)[1:-1].split(",")
    assert len(ours) == len(floats)
    for f, text in zip(floats, ours):
        assert text == erlang_short(f), repr(f)
        assert float(text) == f


def test_floats_are_written_in_erlang_short_form():
    assert_erlang_short(random_floats(random.Random(9), 30000))


def decimal_floats(rng, n):
    """Floats read from short decimals at every scale and size: the writer's
    scaled fast path (below 2^50, up to 17 places) and the edges around it."""
    out = [2.0**49, 2.0**49 - 0.5, 2.0**50 - 1, 2.0**50 - 0.5, 2.0**50, 2.0**50 + 2, 1e15, 1e16, 1e17, 1e-17,
           1.5e-17, 1e-18, 123e-20, 9.999999999999999e-5, 0.1, 0.2, 0.7, 1e3, 1e4, 12e4, 1234.5e10, 5e-324,
           2.2250738585072014e-308, 1.7976931348623157e308, 100.0, 1000.0, 10000.0, 0.001, 0.0001, 1e-5]
    while len(out) < n:
        digits = rng.randint(1, 17)
        m = rng.randrange(10 ** (digits - 1), 10**digits)
        if rng.random() < 0.2:
            m *= 10 ** rng.randint(1, 6)
        out.append(float(f"{m}e{rng.randint(-24, 8)}"))
        out.append(math.nextafter(out[-1], math.inf))
    return [rng.choice((1, -1)) * f for f in out]


def test_decimal_floats_are_written_in_erlang_short_form():
    assert_erlang_short(decimal_floats(random.Random(21), 40000))


def test_direct_object_reads_are_on():
    # The fast paths read CPython's objects directly where a check at import
    # found the layout they expect (3.9 to 3.14 all have it); elsewhere they
    # turn themselves off and the slower calls give the same results. This
    # says so when a new CPython turns one off.
    from phoenix_wire import _native

    checks = _native._layout_checks()
    assert set(checks) == {"ascii_reads", "ascii_writes", "dict_reads", "float_list_reads", "gc_switch", "int_reads", "known_hash_sets", "presized_dicts", "wide_writes"}
    if (3, 9) <= sys.version_info[:2] <= (3, 14):
        # PyGC_Disable / PyGC_Enable exist from 3.10.
        assert checks.pop("gc_switch") == (sys.version_info >= (3, 10))
        assert all(checks.values()), checks


def test_dicts_of_every_table_kind_are_written_in_insertion_order():
    # Combined tables are read straight from memory: str-only keys (16-byte
    # entries from 3.11), other keys (24-byte), deleted entries anywhere,
    # index tables of 1, 2 and 4 bytes; split tables (an instance's
    # __dict__) and subclasses too. json.dumps walks them with the
    # interpreter's own iteration.
    class Record:
        def __init__(self, i):
            self.a, self.b, self.c = i, str(i), [i]

    def cases():
        for n in (0, 1, 5, 8, 200, 300, 5000, 70000):
            d = {f"k{i}": i for i in range(n)}
            yield d
            yield {i: str(i) for i in range(n)}
            for k in list(d)[:: max(1, n // 7)]:
                del d[k]
            yield d
            d["late"] = "added after the deletions"
            yield d
        mixed = {}
        for i in range(50):
            mixed[i] = i
            mixed[f"s{i}"] = i
        del mixed[0], mixed["s49"]
        yield mixed
        popped = {"a": 1, "b": 2, "c": 3}
        popped.popitem()
        popped["d"] = 4
        yield popped
        emptied = {"x": 1}
        del emptied["x"]
        yield emptied
        yield vars(Record(3))
        yield collections.OrderedDict((f"o{i}", i) for i in range(20))
        yield collections.defaultdict(list, {"b": [1], "a": []})
        yield {"nested": {"deleted": dict.fromkeys("abc")}, "records": [vars(Record(i)) for i in range(3)]}

    for d in cases():
        assert encoded_payload(d) == json.dumps(d, separators=(",", ":")), list(d)[:5]


def test_key_texts_are_right_on_every_hit_and_let_their_keys_go():
    # The text of a written key is kept by the key object's address (with a
    # reference, so the address is not reused while kept) and copied on the
    # next hit. Every length around the kept limit (32 bytes with the quotes
    # and colon), escapes, non-ASCII, and str subclasses (never kept).
    class Key(str):
        pass

    keys = ["k" * n for n in range(0, 36)] + ['q"uote', "back\\slash", "tab\t", "\u00e9t\u00e9", "\U0001f680" * 7]
    keys += [Key("sub"), Key("k" * 40)]
    doc = {k: i for i, k in enumerate(keys)}
    expected = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    for _ in range(3):
        assert encoded_payload(doc) == expected
        assert encoded_payload([doc, {keys[3]: [doc]}]) == "[%s,{%s:[%s]}]" % (expected, json.dumps(keys[3]), expected)
    # Fresh keys, dropped after each encode: kept texts are evicted, their
    # keys freed, and new keys may reuse the addresses.
    for i in range(3000):
        fresh = {f"fresh{i % 97}-{i}": i, "shared": [i]}
        assert encoded_payload(fresh) == json.dumps(fresh, separators=(",", ":"))
    old = "".join(["old", "key"])
    before = sys.getrefcount(old)
    encoded_payload({old: 1})
    assert sys.getrefcount(old) <= before + 1
    # Others kept alive meanwhile, so that they take other addresses (a
    # freed key's memory goes to the next new one, whose text lands in
    # the same set).
    others = ["".join(["other", str(i)]) for i in range(2000)]
    counts = [sys.getrefcount(k) for k in others]
    for k in others:
        encoded_payload({k: 1})
    del k
    assert sys.getrefcount(old) == before
    # At most the table's 128 entries hold a key.
    held = sum(a - b for a, b in zip([sys.getrefcount(k) for k in others], counts))
    assert 0 < held <= 128


def test_objects_read_alike_whatever_room_the_last_one_left():
    # Each object starts with room for as many keys as the last one finished
    # at its depth (up to 64): shapes that grow, shrink, pass 64 and 255
    # keys, nest past the eight depths that keep a size, and dicts that grow
    # after they were read.
    sizes = [0, 1, 5, 6, 7, 7, 2, 40, 3, 64, 65, 300, 6, 9, 0, 12]
    records = [{f"k{j}": [i, {f"n{m}": m for m in range(i % 9)}] for j in range(n)} for i, n in enumerate(sizes)]
    deep = {}
    for level in range(12):
        deep = {f"d{level}-{j}": j for j in range(level % 8)} | {"in": deep}
    doc = {"records": records, "deep": [deep, deep], "ints": [{i: i} for i in range(3)]}
    text = json.dumps(doc)
    for _ in range(2):
        got = payload_of(text)
        assert got == json.loads(text)
        assert [list(r) for r in got["records"]] == [list(r) for r in json.loads(text)["records"]]
    for r in got["records"]:
        r.update({f"more{j}": j for j in range(30)})
        del r["more3"]
        assert list(r)[-29:] == [f"more{j}" for j in range(30) if j != 3]


def test_large_payloads_convert_with_the_collector_held_and_restored():
    # From 3.10 a large payload is converted with automatic collections held
    # off (its containers cannot form a cycle); the collector's state is
    # restored, whatever it was, and collections that came due run after.
    import gc

    text = json.dumps([{"k": [i, {"n": i}], "v": str(i)} for i in range(2000)])
    starts = []

    def count(phase, info):
        if phase == "start":
            starts.append(info["generation"])

    old = gc.get_threshold()
    gc.callbacks.append(count)
    gc.set_threshold(10)
    try:
        got = payload_of(text)
        during = len(starts)
        [[] for _ in range(50)]  # allocations after it start what is due
        after = len(starts)
        gc.disable()
        assert payload_of(text) == got
        assert not gc.isenabled()
        gc.enable()
    finally:
        gc.callbacks.remove(count)
        gc.set_threshold(*old)
    assert got == json.loads(text)
    if sys.version_info >= (3, 10):
        # 6000 containers at a threshold of 10 would start hundreds.
        assert during <= 1 and after >= 1, (during, after)
    else:
        assert during > 100


def test_ints_are_written_like_str_at_every_length():
    # Digits are written straight into the output, two at a time from the
    # end: every length, both signs, the edges of i64 and beyond it, and
    # where the int's value stops being read from its one or two 30-bit
    # digits (2**30, 2**60).
    edges = [0, 1, 9, 10, 99, 100, 101, 2**30 - 1, 2**30, 2**31, 2**32, 2**53 + 1, 2**60 - 1, 2**60]
    edges += [2**60 + 1, 2**63 - 1, 2**63, 2**64, 10**30]
    values = []
    for k in range(0, 20):
        values += [10**k - 1, 10**k, 10**k + 1, 10**k * 7 + 3]
    rng = random.Random(23)
    values += [rng.randrange(10 ** rng.randint(0, 19)) for _ in range(20000)] + edges
    values += [-v for v in values] + [-(2**63), -(2**63) - 1]
    assert encoded_payload(values) == json.dumps(values, separators=(",", ":"))
    assert encoded_payload({v: v for v in values[:3000]}) == json.dumps({v: v for v in values[:3000]}, separators=(",", ":"))


def test_strings_are_escaped_wherever_the_special_byte_sits():
    for n in range(0, 40):
        for pos in range(n):
            for ch in ['"', "\\", "\n", "\x00", "\x1f", "\x7f", "é", "🚀", " ", "/"]:
                s = "a" * pos + ch + "b" * (n - pos - 1)
                expected = json.dumps(s, ensure_ascii=False)
                expected = expected.replace("\\u001f", "\\u001F")
                assert encoded_payload(s) == expected, (n, pos, ch)
                assert encoded_payload({s: s}) == "{%s:%s}" % (expected, expected)
        plain = "xyz" * n
        assert encoded_payload(plain[:n]) == '"%s"' % plain[:n]


def test_key_cache_tells_apart_keys_that_differ_anywhere():
    keys = ["", "\u00e9", "\u00e9k", "k\u00e9"]  # empty, and multi-byte under four bytes
    for n in range(1, 40):
        base = "k" * n
        keys.append(base)
        for pos in range(n):
            keys.append(base[:pos] + "j" + base[pos + 1 :])
    text = json.dumps({k: i for i, k in enumerate(keys)})
    for _ in range(3):
        assert payload_of(text) == json.loads(text)
    values = json.dumps(keys)
    assert payload_of(values) == keys


class LoudInt(int):
    calls = 0

    def __str__(self):
        LoudInt.calls += 1
        return "loud"

    __repr__ = __str__


class LoudFloat(float):
    def __repr__(self):
        raise AssertionError("float subclass repr called")

    __str__ = __repr__


class LoudStr(str):
    def __str__(self):
        raise AssertionError("str subclass __str__ called")


class LoudDict(dict):
    def items(self):
        raise AssertionError("dict subclass items called")

    def __iter__(self):
        raise AssertionError("dict subclass __iter__ called")


class LoudList(list):
    def __iter__(self):
        raise AssertionError("list subclass __iter__ called")


def test_subclasses_are_written_from_their_values_without_running_their_methods():
    LoudInt.calls = 0
    value = LoudDict(
        {
            LoudStr("s"): LoudList([LoudInt(2**70), LoudInt(-5), LoudFloat(1.5), LoudStr("x")]),
            LoudInt(7): collections.OrderedDict([("b", 1), ("a", (True, None))]),
            "t": collections.namedtuple("P", "x y")(1, 2),
        }
    )
    assert encoded_payload(value) == '{"s":[1180591620717411303424,-5,1.5,"x"],"7":{"b":1,"a":[true,null]},"t":[1,2]}'
    assert LoudInt.calls == 0


def test_random_documents_round_trip_with_floats():
    rng = random.Random(13)

    def doc(depth):
        k = rng.random()
        if depth == 0 or k < 0.3:
            return rng.choice([None, True, False, rng.randint(-(2**70), 2**70), rng.randint(-1000, 1000),
                               round(rng.uniform(-1e4, 1e4), rng.randint(0, 6)), rng.random() * 10 ** rng.randint(-20, 20),
                               "".join(rng.choice('ab"\\\n\x01é€😀') for _ in range(rng.randint(0, 30)))])
        if k < 0.65:
            return [doc(depth - 1) for _ in range(rng.randint(0, 6))]
        return {"".join(rng.choice("abcdéz\"") for _ in range(rng.randint(0, 20))): doc(depth - 1) for _ in range(rng.randint(0, 6))}

    for _ in range(2000):
        v = doc(4)
        text = encoded_payload(v)
        assert json.loads(text) == v
        assert payload_of(text) == v


@pytest.mark.parametrize("bad", ["\ud800", "a\udfff", {"\ud83d": 1}])
def test_lone_surrogates_still_refused_on_the_fast_path(bad):
    with pytest.raises(pw.EncodeError):
        pw.encode(None, None, "t", "e", [1, 2.5, {"k": bad}])


def test_escaped_strings_decode_like_json_loads():
    rng = random.Random(17)
    alphabet = 'ab"\\/\b\f\n\r\t\x00\x1f\x7fé€😀\U0010ffff\u2028\ufffd'
    strings = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(3000)]
    for ensure_ascii in (True, False):
        text = json.dumps({s: s for s in strings}, ensure_ascii=ensure_ascii)
        text = text.replace("/", "\\/")
        assert payload_of(text) == json.loads(text)
        # Envelope strings go through the same decoder.
        m = pw.decode(json.dumps([None, "r\\u00e9f", strings[1], strings[2], {}], ensure_ascii=ensure_ascii))
        assert (m.ref, m.topic, m.event) == ("r\\u00e9f", strings[1], strings[2])


def random_text(rng, n):
    # Mostly ASCII (the copied path), with some non-ASCII and escapes mixed in.
    pools = ["abcxyz019 _-:./", "abcé€😀", 'a"\\\n\t\x01']
    pool = rng.choice(pools)
    return "".join(rng.choice(pool) for _ in range(n))


def test_strings_made_by_copying_ascii_are_ordinary_strs():
    # ASCII strings are written straight into fresh str objects; they must
    # equal, hash and compare like strs CPython made, at every length
    # (0 and 1 take CPython's singletons), in payloads, envelopes and the
    # encoded frame itself.
    rng = random.Random(11)
    for n in list(range(0, 70)) + [200, 4097]:
        for _ in range(3):
            s = random_text(rng, n)
            value = {"k" * (n % 70 + 1): [s, {"nested": s}], "v": s}
            text = json.dumps(value, ensure_ascii=False)
            got = payload_of(text)
            assert got == json.loads(text)
            for t in (got["v"], got[next(iter(got))][0]):
                assert t == s and hash(t) == hash(s) and len(t) == len(s)
                assert t.isascii() == s.isascii() and t.encode() == s.encode()
                assert {s: 1}[t] == 1 and sys.intern(t) == s
            frame = pw.encode(s, None, s or "t", "e", value)
            assert frame == json.dumps([s, None, s or "t", "e", value], ensure_ascii=False, separators=(",", ":"))
            assert hash(frame) == hash(str(frame.encode(), "utf-8"))
            m = pw.decode(frame)
            assert (m.join_ref, m.topic, m.payload) == (s, s or "t", value)


class Text(str):
    """A str subclass: CPython never stores these in the compact layout."""


def test_strs_are_read_alike_however_they_were_made():
    # Compact ASCII strs are read straight from memory; everything else
    # (subclasses, non-ASCII of every width, legacy strings) through
    # CPython. Both must give the same text.
    base = "room:lobby-" + "x" * 40
    made = [
        base,
        base[3:20],
        "".join(["ro", "om"]),
        sys.intern("phx_" + "join"),
        base.encode().decode(),
        str(b"bytes-made", "ascii"),
        "%s-%d" % ("fmt", 7),
        Text("a subclass"),
        Text("ünïcödé subclass"),
        "latin1 é",
        "bmp €",
        "astral 😀",
        "",
        "x",
        "é",
    ]
    for s in made:
        payload = {s: [s, Text(s)], "k": s}
        frame = pw.encode(s, None, s, s, payload)
        assert frame == json.dumps([s, None, s, s, payload], ensure_ascii=False, separators=(",", ":"))
        assert pw.decode(Text(frame)) == pw.decode(frame) == pw.decode(frame.encode().decode())
        m = pw.decode(frame)
        assert (m.join_ref, m.topic, m.event, m.payload) == (s, s, s, json.loads(frame)[4])


def test_encode_errors_and_fast_paths_leak_nothing():
    # Every way the walk can fail keeps its error aside and raises it at the
    # end; neither that nor the direct reads of floats, lists and strs may
    # leak memory or references. (Raised from the fastcall glue, an error's
    # message string was once left in PyO3's queue of deferred decrefs:
    # about 85 bytes per failed call.)
    import tracemalloc

    deep = []
    for _ in range(600):
        deep = [deep]
    good = {"readings": [{"id": i, "v": i / 7, "s": "s-%d" % i, "k": [1, "é", None, 2**70]} for i in range(50)]}
    bad = [
        {"k": object()},
        {object(): 1},
        {"k": float("nan")},
        [1.5, float("-inf")],
        {"\ud800": 1},
        {"k": ["ok", "a\udfff"]},
        deep,
        {(1, 2): 3},
    ]
    watched = [good, good["readings"], *bad]
    before = [sys.getrefcount(v) for v in watched]

    def work():
        for _ in range(200):
            pw.encode(None, None, "t", "e", good)
            for b in bad:
                with pytest.raises(pw.EncodeError):
                    pw.encode(None, None, "t", "e", b)
            # Argument errors are raised by the same fastcall glue.
            with pytest.raises(TypeError):
                pw.encode(None, None, 5, "e", good)

    work()
    tracemalloc.start()
    try:
        snap = tracemalloc.take_snapshot()
        work()
        grown = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(snap, "filename"))
    finally:
        tracemalloc.stop()
    assert grown < 64 * 1024, grown
    assert [sys.getrefcount(v) for v in watched] == before
