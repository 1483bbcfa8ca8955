"""phoenix_wire.etf: the mapping, safety policies, bad input, and interop with
real Erlang (`erl`), erlang-py and erlpack in both directions."""

import math
import random
import shutil
import subprocess
import zlib

import pytest

from phoenix_wire import etf
from phoenix_wire.etf import Atom, BitBinary, ImproperList, Pid, Port, Reference

# ----- the mapping, on OTP 25's own bytes (shared/spec/etf.md) -----

OTP25 = [
    (Atom("hello"), [131, 100, 0, 5, *b"hello"]),
    (-1, [131, 98, 255, 255, 255, 255]),
    (2**31, [131, 110, 4, 0, 0, 0, 0, 128]),
    ({b"a": 1}, [131, 116, 0, 0, 0, 1, 109, 0, 0, 0, 1, 97, 97, 1]),
    (
        {b"a": [1, 2.5, Atom("foo")]},
        [131, 116, 0, 0, 0, 1, 109, 0, 0, 0, 1, 97, 108, 0, 0, 0, 3, 97, 1, 70, 64, 4, 0, 0, 0, 0, 0, 0,
         100, 0, 3, 102, 111, 111, 106],
    ),
    (ImproperList([1], 2), [131, 108, 0, 0, 0, 1, 97, 1, 97, 2]),
    (list(b"token_please"), [131, 107, 0, 12, *b"token_please"]),
    ((Atom("token"), b"t0k3n"), [131, 104, 2, 100, 0, 5, *b"token", 109, 0, 0, 0, 5, *b"t0k3n"]),
]


@pytest.mark.parametrize("value,data", OTP25, ids=lambda x: repr(x)[:40])
def test_otp25_terms(value, data):
    data = bytes(data)
    assert etf.loads(data) == value
    # Same bytes back with OTP 25's atom tags; strings-as-binaries aside,
    # charlists come back as lists of ints and are written as lists.
    if not (isinstance(value, list) and value and all(isinstance(c, int) for c in value)):
        assert etf.dumps(value, atom_tags="legacy") == data


def test_python_mapping():
    assert etf.loads(etf.dumps(None)) is None
    assert etf.loads(etf.dumps(True)) is True and etf.loads(etf.dumps(False)) is False
    assert etf.dumps("é") == bytes([131, 109, 0, 0, 0, 2, 0xC3, 0xA9])
    assert etf.loads(etf.dumps("é")) == "é".encode() and etf.loads(etf.dumps("é"), binaries="str") == "é"
    assert etf.loads(etf.dumps(b"\xff"), binaries="str") == b"\xff"  # not UTF-8: stays bytes
    assert etf.dumps(Atom("ok")) == bytes([131, 119, 2, *b"ok"])
    assert Atom("ok") == "ok" and hash(Atom("ok")) == hash("ok") and repr(Atom("ok")) == "Atom('ok')"
    assert etf.loads(etf.dumps([])) == [] and etf.loads(etf.dumps(())) == ()
    assert etf.loads(etf.dumps(bytearray(b"x"))) == b"x"
    for n in (0, 255, 256, -1, 2**31 - 1, -(2**31), 2**31, 2**63, -(2**63) - 1, 2**64, 10**100, -(10**100)):
        assert etf.loads(etf.dumps(n)) == n
    for f in (0.0, -0.0, 1.5, 1e300, 5e-324):
        back = etf.loads(etf.dumps(f))
        assert back == f and math.copysign(1, back) == math.copysign(1, f)
    assert etf.loads(etf.dumps(BitBinary(b"\xf0", 4))) == BitBinary(b"\xf0", 4)
    assert etf.loads(etf.dumps(ImproperList([1, 2], Atom("t")))) == ImproperList([1, 2], Atom("t"))
    assert etf.loads(etf.dumps(ImproperList([], 5))) == 5
    pid, port, ref = Pid(Atom("n@h"), 1, 2, 3), Port(Atom("n@h"), 7, 3), Reference(Atom("n@h"), 3, (1, 2, 3))
    assert etf.loads(etf.dumps([pid, port, ref]), allow_pids=True) == [pid, port, ref]


def test_deterministic_and_compressed_and_atom_tags():
    a = {b"b": 1, b"a": 2, Atom("z"): 3, 1: 4}
    b = {1: 4, Atom("z"): 3, b"a": 2, b"b": 1}
    assert etf.dumps(a) != etf.dumps(b)
    assert etf.dumps(a, deterministic=True) == etf.dumps(b, deterministic=True)
    big = {"readings": [{"v": i, "kind": "temperature"} for i in range(200)]}
    packed = etf.dumps(big, compressed=True)
    assert packed[:2] == bytes([131, 80]) and len(packed) < len(etf.dumps(big)) / 4
    assert etf.loads(packed) == etf.loads(etf.dumps(big))
    assert etf.dumps(big, compressed=0)[:2] == bytes([131, 80])
    assert etf.dumps(Atom("é"), atom_tags="legacy") == bytes([131, 100, 0, 1, 0xE9])
    assert etf.dumps(Atom("é")) == bytes([131, 119, 2, 0xC3, 0xA9])


def test_round_trips_random_values():
    rng = random.Random(5)
    for _ in range(2000):
        v = random_term(rng, 4)
        assert etf.loads(etf.dumps(v), allow_pids=True) == normalized(v)
        assert etf.loads(etf.dumps(v, compressed=True), allow_pids=True) == normalized(v)


# ----- policies -----


def test_atom_allow_list():
    data = etf.dumps((Atom("ok"), Atom("boom")))
    assert etf.loads(data, atoms=["ok", "boom"]) == (Atom("ok"), Atom("boom"))
    with pytest.raises(etf.DecodeError) as info:
        etf.loads(data, atoms=["ok"])
    assert (info.value.kind, info.value.offset) == ("AtomNotAllowed", 7)
    # true, false and nil are Python values and always allowed.
    assert etf.loads(etf.dumps([True, None]), atoms=[]) == [True, None]
    assert etf.loads(data, atoms=["ok"], safe=False) == (Atom("ok"), Atom("boom"))


def test_pids_ports_refs_only_when_allowed():
    data = etf.dumps(Pid(Atom("n@h"), 1, 2, 3))
    with pytest.raises(etf.DecodeError) as info:
        etf.loads(data)
    assert (info.value.kind, info.value.offset) == ("DisallowedTerm(88)", 1)
    assert etf.loads(data, allow_pids=True) == etf.loads(data, safe=False)


def test_funs_are_never_accepted():
    for tag in (112, 113, 117):
        for safe in (True, False):
            with pytest.raises(etf.DecodeError) as info:
                etf.loads(bytes([131, tag, 0, 0, 0, 0]), safe=safe)
            assert info.value.kind == "ExecutableTerm"


def test_depth_and_inflate_limits():
    deep = []
    for _ in range(100):
        deep = [deep]
    data = etf.dumps(deep)
    assert etf.loads(data) == deep
    with pytest.raises(etf.DecodeError) as info:
        etf.loads(data, max_depth=50)
    assert info.value.kind == "DepthLimitExceeded"
    million = bytes([131]) + bytes([104, 1]) * 1_000_000 + bytes([106])
    with pytest.raises(etf.DecodeError) as info:
        etf.loads(million)
    assert info.value.kind == "DepthLimitExceeded"
    packed = etf.dumps(b"\x00" * 100_000, compressed=True)
    assert len(packed) < 1000
    with pytest.raises(etf.DecodeError) as info:
        etf.loads(packed, max_inflated=50_000)
    assert info.value.kind == "InflateLimitExceeded"
    bomb = bytes([131, 80, 255, 255, 255, 255]) + zlib.compress(b"")
    with pytest.raises(etf.DecodeError) as info:
        etf.loads(bomb)
    assert (info.value.kind, info.value.offset) == ("InflateLimitExceeded", 2)


# ----- bad input (cases from codec/tests/etf_bad_input.rs) -----

BAD = [
    ([], "UnexpectedEof", 0),
    ([131], "UnexpectedEof", 1),
    ([130, 97, 1], "BadVersion(130)", 0),
    ([131, 68], "DistributionHeader", 1),
    ([131, 82, 0], "AtomCacheRef", 1),
    ([131, 104, 1, 82, 0], "AtomCacheRef", 3),
    ([131, 121, 0, 0, 0, 0], "LocalExt", 1),
    ([131, 104, 1, 68], "UnknownTag(68)", 3),
    ([131, 108, 255, 255, 255, 255], "UnexpectedEof", 2),
    ([131, 119, 3, 97, 0xFF, 98], "InvalidUtf8", 4),
    ([131, 97, 1, 0], "TrailingBytes", 3),
    ([131, 70, 0x7F, 0xF0, 0, 0, 0, 0, 0, 0], "InvalidFloat", 1),
]


@pytest.mark.parametrize("data,kind,offset", BAD, ids=lambda x: str(x)[:30])
def test_bad_input_kinds_and_offsets(data, kind, offset):
    with pytest.raises(etf.DecodeError) as info:
        etf.loads(bytes(data))
    assert isinstance(info.value, ValueError)
    assert info.value.kind.split(" ")[0] == kind or info.value.kind == kind, info.value.kind
    assert info.value.offset == offset


def rust_bad_input_cases():
    """The literal cases of codec/tests/etf_bad_input.rs: `fails(&[bytes],
    &policy), (Kind, offset)`, read from the Rust source so that the Python
    replay follows the Rust corpus as it grows."""
    import pathlib
    import re

    src = (pathlib.Path(__file__).resolve().parents[2] / "codec" / "tests" / "etf_bad_input.rs").read_text()
    pat = re.compile(
        r"fails(?:_default)?\(\s*&\[([^\]]*)\](?:,\s*&(\w+))?\s*\)\s*,\s*\(\s*(\w+(?:\(\w+\))?)\s*,\s*(\d+)\s*\)"
    )
    policies = {"": {}, "allow": {"allow_pids": True}, "lenient": {"safe": False}, "p": {"atoms": ["ok", "é"]}}
    cases = []
    for body, policy, kind, offset in pat.findall(src):
        items = [x.strip() for x in body.split(",") if x.strip()]
        try:
            data = bytes(ord(x[2]) if x.startswith("b'") else int(x, 0) for x in items)
        except ValueError:
            continue  # a case built from a loop variable
        if policy in policies and (policy != "p" or kind == "AtomNotAllowed"):
            cases.append((data, policies[policy], kind, int(offset)))
    return cases


def test_the_rust_bad_input_corpus_replays_with_the_same_kinds_and_offsets():
    cases = rust_bad_input_cases()
    assert len(cases) >= 20
    for data, policy, kind, offset in cases:
        with pytest.raises(etf.DecodeError) as info:
            etf.loads(data, **policy)
        assert (info.value.kind, info.value.offset) == (kind, offset), data


def test_duplicate_and_unhashable_map_keys():
    dup = bytes([131, 116, 0, 0, 0, 2, 97, 1, 97, 1, 97, 1, 97, 2])
    with pytest.raises(etf.DecodeError) as info:
        etf.loads(dup)
    assert info.value.kind == "DuplicateMapKey"
    listkey = bytes([131, 116, 0, 0, 0, 1, 108, 0, 0, 0, 1, 97, 1, 106, 97, 1])
    with pytest.raises(etf.DecodeError) as info:
        etf.loads(listkey)
    assert info.value.kind == "UnhashableMapKey"


def test_truncations_and_random_bytes_never_crash():
    rng = random.Random(9)
    samples = [etf.dumps(random_term(rng, 3)) for _ in range(200)]
    samples += [etf.dumps(random_term(rng, 3), compressed=True) for _ in range(50)]
    n = 0
    for data in samples:
        for cut in range(len(data)):
            with pytest.raises(etf.DecodeError) as info:
                etf.loads(data[:cut])
            assert 0 <= info.value.offset <= max(cut, 1 << 32)
            n += 1
    assert n > 5000
    for _ in range(20_000):
        data = bytes([131]) + rng.randbytes(rng.randrange(0, 24))
        try:
            etf.loads(data, safe=False)
        except etf.DecodeError as e:
            assert e.kind and e.offset >= 0
    for data in samples[:100]:
        for _ in range(50):
            b = bytearray(data)
            b[rng.randrange(1, len(b))] = rng.randrange(256)
            try:
                etf.loads(bytes(b), safe=False)
            except etf.DecodeError:
                pass


def test_unencodable_values():
    cycle = []
    cycle.append(cycle)
    for bad in (math.nan, math.inf, object(), {1, 2}, cycle, Atom("a" * 256), BitBinary(b"\x01", 9)):
        with pytest.raises(etf.EncodeError):
            etf.dumps(bad)
    with pytest.raises(ValueError):
        etf.dumps(1, atom_tags="utf16")
    with pytest.raises(ValueError):
        etf.dumps(1, compressed=10)
    with pytest.raises(TypeError):
        etf.loads("not bytes")


# ----- real Erlang -----

ERLANG_TERMS = r"""[
  ok, 'hello world', 'ünïcödé', '🚀', true, false, nil, undefined,
  0, 255, 256, -1, 2147483647, -2147483648, 2147483648, 1 bsl 64, -(1 bsl 64), 1 bsl 2000,
  1.5, -0.0, 1.0e300, 5.0e-324,
  <<>>, <<"binary">>, <<1:1>>, <<255, 3:2>>, "charlist", [], [1, 2, 3], [1 | 2], [a, b | c],
  {}, {ok, <<"t0k3n">>}, #{}, #{<<"fedecks-device-id">> => <<"nerves-1">>, <<"password">> => <<"x">>},
  #{a => 1, 1 => a, {t} => [x], <<"b">> => #{}}, lists:seq(1, 300), lists:duplicate(70000, 7),
  maps:from_list([{I, I * I} || I <- lists:seq(1, 40)]),
  list_to_pid("<0.42.0>"), list_to_ref("#Ref<0.1.2.3>"), list_to_port("#Port<0.7>"),
  {list_to_pid("<0.1.0>"), [list_to_ref("#Ref<0.3.2.1>")]}
]"""


def erl(script):
    exe = shutil.which("erl")
    assert exe, "erl (Erlang/OTP) is needed: .ci/run installs erlang-nox"
    out = subprocess.run([exe, "-noshell", "-eval", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_terms_from_erlang_round_trip_through_loads_and_dumps(tmp_path):
    # Erlang writes each term several ways (default, old float format,
    # compressed, deterministic); we load each and dump it back two ways;
    # Erlang checks that binary_to_term of ours =:= the original.
    theirs, ours = tmp_path / "theirs.hex", tmp_path / "ours.hex"
    erl(
        "Ts = %s, Opts = [[], [{minor_version, 0}], [compressed], [deterministic]],"
        "ok = file:write_file(\"%s\", lists:join(\"\\n\", "
        "[binary:encode_hex(term_to_binary(T, O)) || T <- Ts, O <- Opts])), halt()." % (ERLANG_TERMS, theirs)
    )
    hexes = theirs.read_text().split()
    assert len(hexes) % 4 == 0 and len(hexes) >= 4 * 40
    out = []
    for h in hexes:
        value = etf.loads(bytes.fromhex(h), safe=False)
        out.append(etf.dumps(value).hex())
        out.append(etf.dumps(value, atom_tags="legacy", deterministic=True, compressed=True).hex())
    ours.write_text("\n".join(out))
    verdict = erl(
        "Ts = %s, Opts = [[], [{minor_version, 0}], [compressed], [deterministic]],"
        "Expected = [T || T <- Ts, _ <- Opts, _ <- [a, b]],"
        "{ok, Bin} = file:read_file(\"%s\"),"
        "Ours = [binary_to_term(binary:decode_hex(H)) || H <- binary:split(Bin, <<\"\\n\">>, [global])],"
        "Bad = [{E, O} || {E, O} <- lists:zip(Expected, Ours), E =/= O],"
        "io:format(\"~p ~p\", [length(Ours), length(Bad)]), halt()." % (ERLANG_TERMS, ours)
    )
    assert verdict.split() == [str(2 * len(hexes)), "0"]


def test_our_terms_decode_in_erlang_and_come_back_equal(tmp_path):
    rng = random.Random(17)
    values = [random_term(rng, 4, pids=False) for _ in range(300)]
    ours, theirs = tmp_path / "ours.hex", tmp_path / "theirs.hex"
    ours.write_text("\n".join(etf.dumps(v).hex() for v in values))
    # OTP decodes ours and writes them again its own way; we read OTP's.
    erl(
        "{ok, Bin} = file:read_file(\"%s\"),"
        "Ts = [binary_to_term(binary:decode_hex(H)) || H <- binary:split(Bin, <<\"\\n\">>, [global])],"
        "ok = file:write_file(\"%s\", lists:join(\"\\n\", [binary:encode_hex(term_to_binary(T)) || T <- Ts])),"
        "halt()." % (ours, theirs)
    )
    back = theirs.read_text().split()
    assert len(back) == len(values)
    for v, h in zip(values, back):
        assert etf.loads(bytes.fromhex(h)) == normalized(v)


# ----- erlang-py and erlpack -----


def test_erlpack_reads_ours_and_we_read_erlpacks():
    import erlpack
    rng = random.Random(23)
    for _ in range(500):
        v = random_term(rng, 3, pids=False, bits=False, improper=False, big=False)
        theirs = erlpack.unpack(etf.dumps(v))
        assert from_erlpack(theirs) == normalized(v)
        packed = erlpack.pack(to_erlpack(erlpack, v))
        assert etf.loads(packed) == normalized(v)


def test_erlang_py_reads_ours_and_we_read_erlang_pys():
    import erlang

    rng = random.Random(29)
    for _ in range(500):
        v = random_term(rng, 3, pids=False)
        theirs = erlang.binary_to_term(etf.dumps(v))
        assert from_erlang_py(erlang, theirs) == normalized(v)
        assert etf.loads(erlang.term_to_binary(to_erlang_py(erlang, v))) == normalized(v)


# ----- helpers -----


def random_term(rng, depth, pids=True, bits=True, improper=True, big=True):
    kinds = ["int", "float", "atom", "bin", "str", "none", "bool"]
    kinds += ["big"] if big else []
    kinds += ["bits"] if bits else []
    kinds += ["pid"] if pids else []
    if depth > 0:
        kinds += ["list", "tuple", "dict"] * 2 + (["improper"] if improper else [])
    k = rng.choice(kinds)
    sub = lambda: random_term(rng, depth - 1, pids, bits, improper, big)  # noqa: E731
    if k == "int":
        return rng.choice([rng.randrange(256), rng.randint(-(2**31), 2**31 - 1)])
    if k == "big":
        return rng.choice([-1, 1]) * rng.randrange(2**31, 2**200)
    if k == "float":
        return rng.uniform(-1e9, 1e9)
    if k == "atom":
        return Atom(rng.choice(["ok", "error", "token", "ünï", "a_b", "x" * 30]))
    if k == "bin":
        return rng.randbytes(rng.randrange(10))
    if k == "str":
        return "".join(rng.choice("aé🚀 z") for _ in range(rng.randrange(6)))
    if k == "none":
        return None
    if k == "bool":
        return rng.random() < 0.5
    if k == "bits":
        return BitBinary(bytes([rng.randrange(256) & 0xE0]), 3)
    if k == "pid":
        return Pid(Atom("n@h"), rng.randrange(1000), 0, rng.randrange(4))
    if k == "list":
        return [sub() for _ in range(rng.randrange(5))]
    if k == "tuple":
        return tuple(sub() for _ in range(rng.randrange(4)))
    if k == "improper":
        return ImproperList([sub() for _ in range(1 + rng.randrange(3))], rng.choice([Atom("t"), 1, b"x"]))
    keys = [rng.choice([rng.randbytes(3), Atom("k%d" % rng.randrange(9)), rng.randrange(99)]) for _ in range(4)]
    return {key: sub() for key in keys}


def normalized(v):
    """What loads gives back for a value dumps wrote."""
    if isinstance(v, Atom):
        return v
    if isinstance(v, str):
        return v.encode()
    if isinstance(v, (bytes, bytearray)):
        return bytes(v)
    if isinstance(v, list):
        return [normalized(x) for x in v]
    if isinstance(v, tuple):
        return tuple(normalized(x) for x in v)
    if isinstance(v, dict):
        return {normalized(k): normalized(x) for k, x in v.items()}
    if isinstance(v, ImproperList):
        return ImproperList([normalized(x) for x in v.items], normalized(v.tail))
    return v


def from_erlpack(v):
    import erlpack

    if isinstance(v, erlpack.Atom):
        return Atom(str(v))
    if isinstance(v, list):
        return [from_erlpack(x) for x in v]
    if isinstance(v, tuple):
        return tuple(from_erlpack(x) for x in v)
    if isinstance(v, dict):
        return {from_erlpack(k): from_erlpack(x) for k, x in v.items()}
    return v


def to_erlpack(erlpack, v):
    if isinstance(v, Atom):
        return erlpack.Atom(str(v))
    if isinstance(v, str):
        return v.encode()
    if isinstance(v, list):
        return [to_erlpack(erlpack, x) for x in v]
    if isinstance(v, tuple):
        return tuple(to_erlpack(erlpack, x) for x in v)
    if isinstance(v, dict):
        return {to_erlpack(erlpack, k): to_erlpack(erlpack, x) for k, x in v.items()}
    if isinstance(v, BitBinary):
        raise AssertionError("erlpack has no bitstrings")
    return v


def from_erlang_py(erlang, v):
    if isinstance(v, erlang.OtpErlangAtom):
        name = v.value.decode("utf-8") if isinstance(v.value, bytes) else v.value
        return {"nil": None, "true": True, "false": False}.get(name, Atom(name))
    if isinstance(v, erlang.OtpErlangBinary):
        return bytes(v.value) if v.bits == 8 else BitBinary(bytes(v.value), v.bits)
    if isinstance(v, erlang.OtpErlangList):
        items = [from_erlang_py(erlang, x) for x in v.value]
        if v.improper:
            return ImproperList(items[:-1], items[-1])
        return items
    if isinstance(v, list):
        return [from_erlang_py(erlang, x) for x in v]
    if isinstance(v, tuple):
        return tuple(from_erlang_py(erlang, x) for x in v)
    if isinstance(v, dict):
        return {from_erlang_py(erlang, k): from_erlang_py(erlang, x) for k, x in v.items()}
    if isinstance(v, bytes):
        # erlang-py gives STRING_EXT (a list of bytes, as OTP writes it) as bytes.
        return list(v)
    return v


def to_erlang_py(erlang, v):
    if v is None:
        return erlang.OtpErlangAtom(b"nil")
    if isinstance(v, Atom):
        # A str name is written as a UTF-8 atom (bytes would be Latin-1).
        return erlang.OtpErlangAtom(str(v))
    if isinstance(v, str):
        return erlang.OtpErlangBinary(v.encode())
    if isinstance(v, bytes):
        return erlang.OtpErlangBinary(v)
    if isinstance(v, BitBinary):
        return erlang.OtpErlangBinary(v.data, v.bits)
    if isinstance(v, ImproperList):
        items = [to_erlang_py(erlang, x) for x in v.items] + [to_erlang_py(erlang, v.tail)]
        return erlang.OtpErlangList(items, improper=True)
    if isinstance(v, list):
        return [to_erlang_py(erlang, x) for x in v]
    if isinstance(v, tuple):
        return tuple(to_erlang_py(erlang, x) for x in v)
    if isinstance(v, dict):
        return {to_erlang_py(erlang, k): to_erlang_py(erlang, x) for k, x in v.items()}
    return v


def test_etf_docstring_examples_run():
    import doctest

    failures, tried = doctest.testmod(etf, verbose=False)
    assert tried >= 3 and failures == 0


def test_byte_lists_are_written_as_otp_writes_them():
    # term_to_binary("token") in Erlang; Fedecks' {'token', T} reply starts this way.
    assert etf.dumps([116, 111, 107, 101, 110]) == bytes.fromhex("836b0005746f6b656e")
    # A bool is an atom and 256 is no byte: general lists, as OTP writes them.
    assert etf.dumps([True, 1]) == bytes.fromhex("836c0000000277047472756561016a")
    assert etf.dumps([1, 256]) == bytes.fromhex("836c00000002610162000001006a")
    assert etf.loads(etf.dumps(list(range(256)))) == list(range(256))
