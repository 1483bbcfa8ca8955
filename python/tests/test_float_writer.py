"""The float writer's fast path (shortest digits of m / 10^k, m < 2^50,
k <= 17, written from registers) against independent references, over the
whole range it takes and the edges around it: Erlang's short form built from
Python's own shortest repr (what `json.dumps` writes), the same decimal value
as `json.dumps`, and exact read-back."""

import decimal
import json
import math
import random
import struct

import pytest

import phoenix_wire as pw

from test_fast_paths import encoded_payload, erlang_short


def dumps_decimal(f):
    """The exact decimal `json.dumps` writes for `f` (Python's shortest repr)."""
    return decimal.Decimal(json.dumps(f, separators=(",", ":"), ensure_ascii=False))


def check(floats):
    ours = encoded_payload(floats)[1:-1].split(",")
    assert len(ours) == len(floats)
    for f, text in zip(floats, ours):
        assert text == erlang_short(f), repr(f)
        # The same shortest digits as json.dumps, only laid out as Erlang does.
        assert decimal.Decimal(text) == dumps_decimal(f), (repr(f), text)
        back = float(text)
        assert back == f and math.copysign(1, back) == math.copysign(1, f), (repr(f), text)


def with_neighbours(values):
    out = []
    for v in values:
        if math.isfinite(v):
            out += [v, math.nextafter(v, math.inf), math.nextafter(v, -math.inf)]
    return [x for x in out if math.isfinite(x)]


def test_every_power_of_two_and_its_neighbours():
    values = [math.ldexp(1.0, e) for e in range(-1074, 1024)]
    check(with_neighbours(values) + [-v for v in with_neighbours(values)])


def test_every_power_of_ten_and_its_neighbours():
    values = [float(f"1e{e}") for e in range(-323, 309)]
    check(with_neighbours(values) + [-v for v in with_neighbours(values)])


def test_each_digit_count_at_each_scale():
    # m / 10^k for m of 1 to 17 digits, k from 0 to 20, and m with 0 to 15
    # trailing zeros (the zero count is read from the low and high halves
    # of m's 16 digits, so both halves and their boundary are covered).
    rng = random.Random(44)
    floats = []
    for digits in range(1, 18):
        for k in range(0, 21):
            for zeros in (0, 1, 3, 7, 8, 9, 15):
                m = rng.randrange(10 ** (digits - 1), 10**digits) * 10**zeros
                floats.append(float(decimal.Decimal(m).scaleb(-k)))
    check(floats + [-f for f in floats])


def test_plain_and_scientific_boundaries():
    floats = [0.0, -0.0, 1e-5, 1e-4, 1.2e-4, 0.00012, 0.0012, 0.001234056, 0.0001234056, 1e-3, 0.1, 0.5, 1.0,
              10.0, 100.0, 1000.0, 1100.0, 12000.0, 123000.0, 1e15, 1e16, 1e17, 123.0, 1234.056, 0.01234056,
              2.0**50, 2.0**50 - 1, 2.0**50 + 1, 2.0**50 - 0.5, 2.0**49 + 0.5, 2.0**53, 2.0**53 - 1, 2.0**53 + 2,
              1125899906842623.8, 999999999999999.9, 9999999999999998.0, 1e-17, 1.5e-17, 9.5e-18, 1e-18,
              12345678901234567e-17, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 0.3, 0.1 + 0.2]
    check(floats + [-f for f in floats])


def test_integers_as_floats():
    rng = random.Random(7)
    values = [float(i) for i in range(0, 2100)]
    values += [float(rng.randrange(2**b)) for b in range(1, 64) for _ in range(20)]
    values += [float(2**53 + d) for d in range(-3, 4)] + [float(10**e + d) for e in range(1, 20) for d in (-1, 0, 1)]
    check(values + [-v for v in values])


def test_random_bit_patterns():
    rng = random.Random(12)
    floats = []
    while len(floats) < 50000:
        f = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
        if math.isfinite(f):
            floats.append(f)
    check(floats)


def test_random_readings():
    # Values like the telemetry bench's: a few decimals, scaled down.
    rng = random.Random(3)
    floats = []
    for _ in range(30000):
        whole, frac = rng.randrange(2000), rng.randrange(1000)
        text = f"{rng.choice(('', '-'))}{whole}.{frac:03}e-{rng.randrange(9)}"
        floats += [float(text), float(f"{frac}.{whole}"), round(rng.uniform(-1e6, 1e6), rng.randrange(10))]
    check(floats)


def test_floats_among_other_items_in_lists_and_dicts():
    # The writer stores whole 16-byte blocks past the end of each float's
    # text; whatever comes next must overwrite them exactly.
    rng = random.Random(5)
    items = []
    for i in range(3000):
        f = rng.choice([1234.056, -0.00012, 1e-7, 1000.0, 0.5, -1.234056e-5, 2.0**52, 7.0, 1e300])
        items.append({"v": f, "s": "x" * (i % 20), "n": i, "l": [f, None, f, "é", True], "f": -f})
    ours = encoded_payload(items)
    expected = json.dumps(items, separators=(",", ":"), ensure_ascii=False)
    assert json.loads(ours) == json.loads(expected)
    # Every float in the text is Erlang's form.
    for item, text in zip(items, ours[2:-2].split("},{")):
        f = item["v"]
        assert text == '"v":%s,"s":"%s","n":%d,"l":[%s,null,%s,"é",true],"f":%s' % (
            erlang_short(f), item["s"], item["n"], erlang_short(f), erlang_short(f), erlang_short(-f))


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_floats_are_refused(bad):
    for payload in ([1.5, bad], {"k": bad}, {"k": [0.25, {"x": bad}]}):
        with pytest.raises(pw.EncodeError, match="is not valid JSON"):
            pw.encode(None, None, "t", "e", payload)
