"""`.payload`'s fast paths against `json.loads`: the key cache (slots that
hold only words and the `str`, long keys compared against the `str`'s own
characters), reference counts taken inline, lists filled in place, the
scratch shared under the GIL (and its fallback when a conversion re-enters),
and every kind of value on random and mutated documents."""

import gc
import json
import math
import random
import struct
import sys
import tracemalloc

import phoenix_wire as pw


def frame_of(text):
    return '[null,null,"t","e",%s]' % text


def payload_of(text):
    return pw.decode(frame_of(text)).payload


def same(a, b):
    """Equal values of the same types all the way down; floats bit for bit."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return struct.pack("<d", a) == struct.pack("<d", b) or (math.isnan(a) and math.isnan(b))
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b


ALPHABETS = [
    "abcxyz019 _-:./",  # ASCII
    "abc\u00e9\u00fc\u00ff",  # Latin-1 (one byte per character in CPython)
    "ab\u20ac\u2028\ufffd\u4e2d",  # BMP (two bytes)
    "a\U0001f600\U0010ffff\u00e9",  # astral (four bytes)
    'a"\\\n\t\x01/\x7f',  # escaped when written
]


def random_str(rng, n=None):
    alphabet = rng.choice(ALPHABETS)
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 70) if n is None else n))


def random_number(rng):
    return rng.choice(
        [
            rng.randint(-(2**80), 2**80),
            rng.randint(-(10**18), 10**18),
            rng.randint(-300, 300),
            rng.uniform(-1e4, 1e4),
            round(rng.uniform(-2000, 2000), rng.randint(0, 6)),
            rng.random() * 10 ** rng.randint(-300, 300),
            -0.0,
        ]
    )


def random_doc(rng, depth):
    k = rng.random()
    if depth == 0 or k < 0.3:
        return rng.choice([None, True, False, random_number(rng), random_str(rng), random_str(rng, rng.randint(0, 16))])
    if k < 0.6:
        return [random_doc(rng, depth - 1) for _ in range(rng.randint(0, 6))]
    keys = [random_str(rng, rng.randint(0, 70)) for _ in range(rng.randint(0, 6))]
    return {key: random_doc(rng, depth - 1) for key in keys}


def test_random_documents_read_like_json_loads():
    rng = random.Random(41)
    for _ in range(1500):
        text = json.dumps(random_doc(rng, 4), ensure_ascii=rng.random() < 0.3)
        assert same(payload_of(text), json.loads(text)), text


def test_mutated_documents_read_like_json_loads_or_are_refused():
    # Bytes changed at random: whatever the codec accepts must read as
    # json.loads reads it; the rest is a typed error, never a crash.
    rng = random.Random(43)
    punctuation = '{}[],:"\\0123456789eE.-+ truefalsnl\u00e9\U0001f600'
    compared = 0
    for _ in range(3000):
        text = json.dumps(random_doc(rng, 3), ensure_ascii=False)
        chars = list(text)
        for _ in range(rng.randint(1, 3)):
            if chars:
                chars[rng.randrange(len(chars))] = rng.choice(punctuation)
        frame = frame_of("".join(chars))
        try:
            got = pw.decode(frame).payload
        except pw.DecodeError:
            continue
        # A mutation may end the payload early (a frame may carry extra
        # elements), so compare with the frame's fifth element.
        assert same(got, json.loads(frame)[4]), frame
        compared += 1
    assert compared > 300


def test_deep_nesting_reads_like_json_loads():
    for depth in (1, 2, 50, 100):
        text = "[" * depth + '{"k":[1,"v",{}]}' + "]" * depth
        assert same(payload_of(text), json.loads(text))
        text = '{"a":' * depth + "[]" + "}" * depth
        assert same(payload_of(text), json.loads(text))


def test_lists_of_every_small_length_and_nesting():
    for n in range(0, 70):
        items = [[i, "v%d" % i, [None] * (i % 3), {"k": [i] * (i % 4)}] for i in range(n)]
        text = json.dumps({"outer": items, "after": [n, [], [[]]]})
        got = payload_of(text)
        assert same(got, json.loads(text))
        assert all(type(x) is list for x in got["outer"])
    big = list(range(5000))
    assert payload_of(json.dumps(big)) == big


def test_long_keys_sharing_their_first_and_last_bytes_are_told_apart():
    # Keys of 17 to 64 bytes share their hash words when only the middle
    # differs; the cache must compare the rest against the cached str.
    keys = []
    for n in range(17, 66):
        for fill in ("x", "\u00e9", "\u20ac", "\U0001f600"):
            base = ("k" * 8) + fill * max(1, (n - 16) // len(fill.encode())) + ("z" * 8)
            keys.append(base)
            mid = len(base) // 2
            keys.append(base[:mid] + "Q" + base[mid + 1 :])
    text = json.dumps({k: i for i, k in enumerate(keys)}, ensure_ascii=False)
    for _ in range(3):
        got = payload_of(text)
        assert got == json.loads(text) and list(got) == list(json.loads(text))
    # As values too (short ones share the cache with keys).
    text = json.dumps(keys + [k[:16] for k in keys], ensure_ascii=False)
    for _ in range(2):
        assert payload_of(text) == json.loads(text)


def test_cached_strs_keep_balanced_reference_counts():
    text = json.dumps({"status": "ok", "a_much_longer_key_past_sixteen_bytes": ["ok", True, None, False]})
    first = payload_of(text)
    key, long_key = list(first)
    value = first["status"]
    before = [sys.getrefcount(o) for o in (key, long_key, value, True, False, None)]
    for _ in range(2000):
        got = payload_of(text)
        assert got == first
        del got
    after = [sys.getrefcount(o) for o in (key, long_key, value, True, False, None)]
    assert after[:3] == before[:3]
    # True/False/None are shared with the interpreter (and immortal from
    # 3.12): a leak or an extra release would move them by thousands.
    if sys.version_info < (3, 12):
        assert all(abs(a - b) < 100 for a, b in zip(after[3:], before[3:]))


def memory_growth(run, times):
    """Bytes traced memory grew by over `times` calls of `run`, after one
    call outside the count (which may fill caches) and a collection."""
    run()
    gc.collect()
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        for _ in range(times):
            run()
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()


def test_many_loads_do_not_grow_memory():
    rng = random.Random(47)
    texts = [json.dumps(random_doc(rng, 4), ensure_ascii=False) for _ in range(50)]
    frames = [frame_of(t) for t in texts]

    def run():
        for f in frames:
            pw.decode(f).payload

    for _ in range(20):  # fill the key cache first
        run()
    assert memory_growth(run, 50) < 64 * 1024


def test_a_conversion_reentered_from_a_collection_reads_correctly():
    # Each allocation may start a collection, whose callbacks (like
    # finalizers) can read another payload while the first is converted:
    # that one must go without the shared cache and stack, and neither
    # result may be disturbed.
    inner_text = json.dumps({"inner": [1, "two", [3.5, {"deep": "x" * 20}]]})
    outer_text = json.dumps({"records": [{"id": i, "name": "s-%05d" % i, "tags": ["a", "b", [i]]} for i in range(300)]})
    seen = []

    def callback(phase, info):
        if phase == "start" and len(seen) < 50:
            seen.append(payload_of(inner_text))

    old = gc.get_threshold()
    gc.callbacks.append(callback)
    gc.set_threshold(5)
    try:
        for _ in range(5):
            got = payload_of(outer_text)
            assert same(got, json.loads(outer_text))
    finally:
        gc.set_threshold(*old)
        gc.callbacks.remove(callback)
    assert seen, "no collection ran during the conversions"
    assert all(same(s, json.loads(inner_text)) for s in seen)


def test_numbers_of_every_length_read_alike_wherever_they_end():
    # Digits are read eight at a time while eight bytes are left in the
    # payload, one at a time at its very end: every length and position.
    rng = random.Random(53)
    for n in range(1, 26):
        for _ in range(6):
            whole = str(rng.randint(1, 9)) + "".join(rng.choice("0123456789") for _ in range(n - 1))
            frac = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 20)))
            for text in (whole, "-" + whole, whole + "." + frac, "-0." + frac, whole + "e-" + str(n), whole + "." + frac + "E+3"):
                expected = json.loads(text)
                assert same(payload_of(text), expected), text
                for tail in ("", "x", "xxxxxxx", "x" * 20):
                    doc = '[%s,"%s",%s]' % (text, tail, text)
                    assert same(payload_of(doc), json.loads(doc)), doc
                    doc = '{"k":%s}' % text
                    assert same(payload_of(doc), {"k": expected}), doc


def test_duplicate_keys_keep_the_last_value_and_leak_nothing():
    # A repeated key leaves the dict holding its first key object and
    # the last value: the references given up for the second pair (one of
    # them then the last) must still be released exactly once.
    long_key = "k" * 80  # past the cache: a fresh str every time
    escaped = "esc\\u00e9aped"
    texts = [
        '{"a":1,"a":[2],"a":"three"}',
        '{"%s":{"x":1},"%s":[1,2,3],"b":0}' % (long_key, long_key),
        '{"%s":"v1","%s":"v2"}' % (escaped, escaped),
        '[{"s":"dup","s":"dup"},{"s":"dup"}]',
    ]
    for t in texts:
        assert same(payload_of(t), json.loads(t))
    frames = [frame_of(t) for t in texts]

    def run():
        for f in frames:
            pw.decode(f).payload

    assert memory_growth(run, 3000) < 16 * 1024


def test_cached_strs_interned_by_the_caller_stay_correct():
    # Interning a cached key (as setattr or sys.intern do) makes it immortal
    # from 3.12: the inline reference counting must leave such counts alone.
    text = json.dumps({"phoenix_wire_interned_key_%d" % i: i for i in range(8)})
    first = payload_of(text)
    interned = [sys.intern(k) for k in first]
    counts = [sys.getrefcount(k) for k in interned]
    for _ in range(3000):
        assert payload_of(text) == first
    assert [sys.getrefcount(k) for k in interned] == counts
    assert all(k in payload_of(text) for k in interned)


def test_keys_remembered_by_place_follow_every_change_of_shape():
    # A key is first compared with the one last seen at its place (depth
    # and position): records that keep, swap, grow, shrink or nest their
    # keys, past the places kept (eight depths, sixteen keys), with keys
    # the cache can keep and ones it cannot, keys that start like the one
    # kept ("i", "id", "ida"), must all read as json.loads.
    rng = random.Random(61)
    names = ["id", "ida", "i", "", "a", "b", "x" * 16, "x" * 15 + "y", "y" * 17, "k" * 64, "k" * 65,
             "\u00e9t\u00e9", "\u00e9" * 12, "q\\u00e9", "p\\n"]

    def record(depth):
        keys = rng.sample(names, rng.randint(0, len(names)))
        if rng.random() < 0.3:
            keys += ["extra%d" % i for i in range(rng.randint(1, 20))]
        rec = {k: rng.randint(0, 9) for k in keys}
        if depth < 10 and rng.random() < 0.6:
            rec[rng.choice(names)] = record(depth + 1)
        return rec

    for _ in range(300):
        records = [record(0)] * rng.randint(1, 3) + [record(0) for _ in range(rng.randint(1, 4))]
        text = json.dumps(records)
        assert same(payload_of(text), json.loads(text)), text
    # Spellings json.dumps never writes: escapes of the kept key, and
    # whitespace where its closing quote would be looked for.
    for text in ('[{"id":1},{"id":2},{"\\u0069d":3},{"i\\u0064":4},{"id":5}]',
                 '[{"id":1},{"id" :2},{"id"\n:3},{ "id":4},{"idx":5},{"i":6},{"id":7}]',
                 '[{"ab":{"id":1}},{"ab":{"id":2,"ab":3}},{"ab":{"ab":[{"id":4}]}},{"ab":5}]'):
        assert same(payload_of(text), json.loads(text)), text


def test_keys_replaced_at_their_place_are_let_go():
    # Every object below has a new key at the same place, so each replaces
    # the one kept there (and churns the cache): a missed release would
    # keep 20,000 strs (over a megabyte) here. What does grow, by about
    # 65 KiB whatever the count, is allocator bookkeeping.
    frames = [frame_of('[{"fresh_key_%06d":1}]' % i) for i in range(4000)]

    def run():
        for f in frames:
            pw.decode(f).payload

    assert memory_growth(run, 5) < 128 * 1024


def test_short_strings_with_escapes_are_read_right_and_shared():
    # Escaped strings that decode to at most 16 bytes come from the cache
    # too: the same text gives the same object, and each is json.loads's.
    cases = ["a\\tb", "\\u00e9t\\u00e9", "q\\\"uote", "\\ud83d\\ude00x", "x" * 14 + "\\n",
             "x" * 15 + "\\n", "x" * 16 + "\\n", "\\u20ac" * 5, "\\u20ac" * 6, "\\\\" * 16, "\\\\" * 17]
    for c in cases:
        text = '["%s",{"%s":"%s"},"%s"]' % (c, c, c, c)
        got = payload_of(text)
        assert same(got, json.loads(text)), c
        if len(json.loads('"%s"' % c).encode()) <= 16:
            assert got[0] is got[2] is got[1][got[0]], c
            assert got[0] is payload_of('"%s"' % c), c


def test_integer_edges_read_as_json_loads():
    text = ("[-0,0,-0.0,0.0,1e2,1E2,-1e-2,17,-17,99999999,100000000,"
            "999999999999999999,-999999999999999999,1000000000000000000,"
            "-9223372036854775808,9223372036854775807,9223372036854775808,"
            "123456789012345678901234567890,1.5,2e0]")
    assert same(payload_of(text), json.loads(text))
    for t in text[1:-1].split(","):
        assert same(payload_of(t), json.loads(t)), t
        assert same(payload_of('{"n":%s}' % t), {"n": json.loads(t)}), t


WIDTH_EDGES = ["\x80", "\xe9", "\xff", "\u0100", "\u07ff", "\u0800", "\u20ac", "\ud7ff", "\ue000", "\uffff",
               "\U00010000", "\U0001f600", "\U0010ffff"]


def test_non_ascii_strs_are_made_at_their_narrowest_width():
    # Non-ASCII strs are written by the module at the width their widest
    # character needs: each must be the str CPython would make, down to its
    # size in memory (a wider one than needed compares unequal to CPython's
    # own in dicts), whether it is a value, a key past the cache, a topic or
    # a string with escapes.
    if not pw._native._layout_checks()["wide_writes"]:
        return
    rng = random.Random(71)
    texts = []
    for edge in WIDTH_EDGES:
        for n in (1, 2, 3, 17, 40, 70):
            for ascii_part in ("", "a", "x" * 20):
                chars = [edge] * n + list(ascii_part)
                rng.shuffle(chars)
                texts.append("".join(chars))
    for _ in range(300):
        texts.append("".join(rng.choice(WIDTH_EDGES + list("abc \u00e9")) for _ in range(rng.randint(2, 80))))
    for t in texts:
        for doc in (json.dumps([t, {t * 4: t}], ensure_ascii=False), json.dumps([t, {t * 4: t}])):
            got = payload_of(doc)
            want = json.loads(doc)
            assert got == want and list(got[1]) == list(want[1])
            for ours, theirs in ((got[0], want[0]), (next(iter(got[1])), next(iter(want[1])))):
                assert type(ours) is str and ours == theirs and hash(ours) == hash(theirs)
                assert sys.getsizeof(ours) == sys.getsizeof(theirs), (ascii(ours), sys.getsizeof(ours), sys.getsizeof(theirs))
                assert {theirs: 1}[ours] == 1 and ours.encode() == theirs.encode()
        topic = pw.decode(json.dumps([None, None, t, "e", {}], ensure_ascii=False)).topic
        assert topic == t and sys.getsizeof(topic) == sys.getsizeof(t)


def test_empty_object_payloads_are_fresh_dicts():
    # `{}` (heartbeats, most replies) skips the conversion's setup: each
    # read must still be a new dict of its own.
    first = payload_of("{}")
    first["changed"] = True
    again = payload_of("{}")
    assert again == {} and type(again) is dict and again is not first
    for text in ("{}", "{ }", " {} ", "[{}]", '{"a":{}}', "[]", '""', "0"):
        assert same(payload_of(text), json.loads(text)), text
    msg = pw.decode('[null,"2","phoenix","heartbeat",{}]')
    assert msg.payload is msg.payload  # cached on the message
