"""The Python API: field types, laziness and caching, equality, encoding
rules (Jason-compatible JSON), and every way encoding refuses input."""

import collections
import enum
import json
import math
import random
import shutil
import struct
import subprocess

import pytest

import phoenix_wire as pw

HEARTBEAT = '[null,"2","phoenix","heartbeat",{}]'


# ----- decoding -----


def test_refs_keep_their_json_type():
    m = pw.decode('[1,"2","t","e",{}]')
    assert (m.join_ref, m.ref) == (1, "2")
    assert pw.decode('[null,-9223372036854775808,"t","e",{}]').ref == -(2**63)
    m = pw.decode('{"topic":"phoenix","event":"heartbeat","payload":{},"ref":0}', vsn="1.0.0")
    assert m.ref == 0 and type(m.ref) is int and m.join_ref is None


def test_escaped_envelope_strings_are_decoded():
    m = pw.decode(r'["\ud83d\ude80","1","room:caf\u00e9","new\/msg",{}]')
    assert (m.join_ref, m.topic, m.event) == ("🚀", "room:café", "new/msg")


def test_payload_is_converted_once_and_cached():
    m = pw.decode('[null,null,"t","e",{"a":[1,2,{"b":null}]}]')
    assert m.payload is m.payload
    assert m.payload == {"a": [1, 2, {"b": None}]}
    r = pw.decode('[null,"1","t","phx_reply",{"status":"ok","response":{"x":[1]}}]')
    assert r.response is r.response and r.response == {"x": [1]}


def test_payload_raw_is_the_wire_text():
    m = pw.decode('[null,null,"t","e", {"a" : 1} ]')
    assert m.payload_raw == b'{"a" : 1}'
    assert pw.decode(b"\x02\x01\x01te\x00\xff", direction="to_client").payload_raw == b"\x00\xff"


def test_any_json_value_is_a_v1_payload():
    for raw, value in [('"m"', "m"), ("1", 1), ("null", None), ("[true,false]", [True, False])]:
        m = pw.decode('{"topic":"t","event":"e","payload":%s,"ref":null}' % raw, vsn="1.0.0")
        assert m.payload == value


def test_replies():
    m = pw.decode('[null,"2","phoenix","phx_reply",{"response":{},"status":"ok"}]')
    assert (m.status, m.response) == ("ok", {})
    m = pw.decode('[null,"2","t","phx_reply",{"status":"error"}]')
    assert (m.status, m.response) == ("error", None)
    m = pw.decode('[null,"2","t","phx_reply",[1]]')
    assert (m.status, m.response) == (None, None)
    m = pw.decode(bytes.fromhex("01020305023132313233746f7069636f6b656667"))
    assert (m.event, m.status, m.response, m.payload) == ("phx_reply", "ok", b"efg", b"efg")
    m = pw.decode(HEARTBEAT)
    assert (m.status, m.response) == (None, None)


def test_repr_and_equality():
    m = pw.decode(HEARTBEAT)
    assert repr(m) == "Message(join_ref=None, ref='2', topic='phoenix', event='heartbeat', payload={})"
    assert m == pw.decode_text(HEARTBEAT.encode())
    assert m == pw.decode('[null, "2", "phoenix", "heartbeat", { }]')
    assert m != pw.decode('[null,2,"phoenix","heartbeat",{}]')
    assert m != pw.decode('[null,"2","phoenix","heartbeat",{"a":1}]')
    assert m != HEARTBEAT and m != None  # noqa: E711
    r = pw.decode(bytes.fromhex("01020305023132313233746f7069636f6b656667"))
    assert repr(r).endswith("payload=b'efg', status='ok')")
    with pytest.raises(TypeError):
        hash(m)
    with pytest.raises(TypeError):
        pw.Message()


def test_message_type_is_final_read_only_and_not_constructible():
    m = pw.decode(HEARTBEAT)
    assert type(m) is pw.Message and isinstance(m, pw.Message)
    assert (pw.Message.__module__, pw.Message.__qualname__) == ("phoenix_wire", "Message")
    for name in ("join_ref", "ref", "topic", "event", "payload", "payload_raw", "status", "response"):
        assert getattr(pw.Message, name).__doc__, name
        with pytest.raises(AttributeError):
            setattr(m, name, 1)
    with pytest.raises(AttributeError):
        m.other = 1
    with pytest.raises(TypeError):
        type("Sub", (pw.Message,), {})
    with pytest.raises(TypeError):
        pw.Message.__new__(pw.Message)
    assert m.__eq__(HEARTBEAT) is NotImplemented and m.__ne__(m) is False
    with pytest.raises(TypeError):
        m < m  # noqa: B015


def test_json_payloads_match_json_loads():
    rng = random.Random(7)
    for _ in range(500):
        value = random_json(rng, 4)
        for text in (json.dumps(value), json.dumps(value, ensure_ascii=False, indent=1)):
            m = pw.decode('[null,null,"t","e",%s]' % text)
            assert m.payload == json.loads(text)


def test_numbers():
    m = pw.decode('[null,null,"t","e",[0,-0,1.5,-0.0,1e400,-1e400,1E2,123456789012345678901234567890,-9223372036854775809,5e-324]]')
    p = m.payload
    assert p[:4] == [0, 0, 1.5, -0.0] and math.copysign(1, p[3]) == -1
    assert p[4] == math.inf and p[5] == -math.inf and p[6] == 100.0 and type(p[6]) is float
    assert p[7] == 123456789012345678901234567890 and p[8] == -9223372036854775809
    assert p[9] == 5e-324


def test_duplicate_keys_keep_the_last_like_json_loads():
    text = '{"a":1,"b":2,"a":3}'
    assert pw.decode('[null,null,"t","e",%s]' % text).payload == json.loads(text)


def test_many_distinct_keys_through_the_key_cache():
    obj = {f"key{i}": i for i in range(5000)}
    obj.update({"é" * 10: 1, "x" * 65: 2, "": 3})
    m = pw.decode(pw.encode(None, None, "t", "e", obj))
    assert m.payload == obj and list(m.payload) == list(obj)
    assert pw.decode(pw.encode(None, None, "t", "e", obj)).payload == obj


def test_big_payloads():
    big = {"s": "x" * 1_000_000, "l": list(range(100_000))}
    m = pw.decode(pw.encode("1", "2", "t", "e", big))
    assert m.payload == big


# ----- encoding -----


def test_encode_v2_and_v1_byte_exact_with_phoenix():
    assert pw.encode(None, None, "t", "e", {"m": 1}) == '[null,null,"t","e",{"m":1}]'
    assert pw.encode(None, None, "t", "e", "m", vsn="1.0.0") == '{"event":"e","payload":"m","ref":null,"topic":"t"}'
    assert pw.encode(None, 0, "phoenix", "heartbeat", {}, vsn="1.0.0") == (
        '{"event":"heartbeat","payload":{},"ref":0,"topic":"phoenix"}'
    )
    assert pw.reply(None, None, "t", "ok", {"m": 1}) == (
        '[null,null,"t","phx_reply",{"response":{"m":1},"status":"ok"}]'
    )
    assert pw.reply("1", "3", "t", "error", b'{"reason":"join crashed"}', vsn="1.0.0") == (
        '{"event":"phx_reply","join_ref":"1","payload":{"response":{"reason":"join crashed"},"status":"error"},"ref":"3","topic":"t"}'
    )
    assert pw.broadcast("room:lobby", "new_msg", {"body": "hi"}) == '[null,null,"room:lobby","new_msg",{"body":"hi"}]'
    # An empty dict takes its own path (the codec's `{}`): every ref kind,
    # both versions, the same text as pre-encoded `{}` and as a dict
    # subclass, which takes the writer's path.
    for jr, ref in [(None, None), (None, "2"), ("1", 7), ("j\"1", "r\u00e9")]:
        for vsn in ("2.0.0", "1.0.0"):
            frame = pw.encode(jr, ref, "phoenix", "heartbeat", {}, vsn=vsn)
            assert frame == pw.encode(jr, ref, "phoenix", "heartbeat", b"{}", vsn=vsn)
            assert frame == pw.encode(jr, ref, "phoenix", "heartbeat", collections.OrderedDict(), vsn=vsn)
            assert pw.decode(frame, vsn=vsn).payload == {}
    assert pw.encode(None, "2", "phoenix", "heartbeat", {}) == '[null,"2","phoenix","heartbeat",{}]'


def test_encode_binary_layouts():
    assert pw.encode_binary("0", "1", "t", "e", b"\x01") == bytes.fromhex("00010101013031746501")
    assert pw.encode_binary("12", None, "topic", "event", b"efg", direction="to_client") == bytes.fromhex(
        "000205053132746f7069636576656e74656667"
    )
    assert pw.encode_binary(None, None, "topic", "event", bytearray(b"efg"), direction="to_client") == bytes.fromhex(
        "020505746f7069636576656e74656667"
    )
    assert pw.reply_binary("12", "123", "topic", "ok", b"efg") == bytes.fromhex(
        "01020305023132313233746f7069636f6b656667"
    )
    # Integer refs go on the wire as decimal text.
    assert pw.encode_binary(7, 8, "t", "e", b"") == bytes.fromhex("000101010137387465")


def test_python_objects_serialize_like_jason():
    rng = random.Random(11)
    for _ in range(500):
        value = random_json(rng, 4, floats=False)
        out = pw.encode(None, None, "t", "e", value)
        expected = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        # Jason writes control characters as \u00XX in upper case hex.
        assert out == '[null,null,"t","e",%s]' % upper_hex_escapes(expected)
        assert pw.decode(out).payload == value


def test_strings_escape_like_jason():
    out = pw.encode(None, None, "t", "e", "\"\\/\n\r\t\b\f\x00\x1f\x7fé🚀\u2028")
    assert out == r'[null,null,"t","e","\"\\/\n\r\t\b\f\u0000\u001F' + '\x7fé🚀\u2028"]'


def test_other_python_types():
    class Color(enum.IntEnum):
        RED = 1

    class Name(str):
        pass

    value = collections.OrderedDict([("b", (1, 2)), ("a", Color.RED), (3, Name("n")), (-(2**70), 2**70)])
    assert pw.encode(None, None, "t", "e", value) == (
        '[null,null,"t","e",{"b":[1,2],"a":1,"3":"n","-1180591620717411303424":1180591620717411303424}]'
    )


def test_floats_match_erlang_float_to_binary_short():
    erl = shutil.which("erl")
    assert erl, "erl (Erlang/OTP) is needed: .ci/run installs erlang-nox"
    rng = random.Random(3)
    floats = [0.0, -0.0, 1.0, 0.1, 100.0, 1000.0, 1e15, 1e16, 2.0**53, 2.0**53 - 1, 123456.0, 1e-4, 1e-5, 0.0025,
              5e-324, 1.7976931348623157e308, 1234567890123456.8, -2.5e-3]
    while len(floats) < 400:
        f = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
        if math.isfinite(f):
            floats.append(f)
    floats += [rng.uniform(-1e6, 1e6) for _ in range(100)] + [float(rng.randrange(10**9)) for _ in range(100)]
    ours = pw.encode(None, None, "t", "e", floats)[len('[null,null,"t","e",['):-2].split(",")
    # Erlang reads each float back from its exact bits and prints it with
    # float_to_binary(F, [short]), which is what Jason writes.
    bits = ",".join(str(struct.unpack("<q", struct.pack("<d", f))[0]) for f in floats)
    code = (
        "L = [%s], io:format(\"~s\", [lists:join(\",\", "
        "[float_to_binary(F, [short]) || B <- L, <<F/float>> <- [<<B:64/signed>>]])]), halt()." % bits
    )
    out = subprocess.run([erl, "-noshell", "-eval", code], capture_output=True, text=True, timeout=60, check=True)
    theirs = out.stdout.split(",")
    assert len(theirs) == len(floats)
    assert ours == theirs
    assert all(float(o) == f for o, f in zip(ours, floats))


# ----- refusals -----


@pytest.mark.parametrize(
    "payload",
    [math.nan, math.inf, -math.inf, {1, 2}, object(), {"a": b"bytes"}, {(1,): 1}, {None: 1},
     {True: 1}, "\ud800", {"\udc00": 1}, [1.5, complex(1, 2)]],
    ids=repr,
)
def test_unencodable_payloads_raise_encode_error(payload):
    with pytest.raises(pw.EncodeError) as info:
        pw.encode(None, None, "t", "e", payload)
    assert isinstance(info.value, ValueError)
    assert info.value.kind is None and info.value.offset is None


def test_cycles_and_deep_nesting_are_refused():
    cycle = []
    cycle.append(cycle)
    d = {}
    d["d"] = d
    for payload in (cycle, d, nest(129)):
        with pytest.raises(pw.EncodeError):
            pw.encode(None, None, "t", "e", payload)
    assert pw.decode(pw.encode(None, None, "t", "e", nest(128))).payload == nest(128)


def test_invalid_pre_encoded_json_names_kind_and_offset():
    with pytest.raises(pw.EncodeError) as info:
        pw.encode(None, None, "t", "e", b'{"a":01}')
    assert (info.value.kind, info.value.offset) == ("InvalidNumber", 6)
    with pytest.raises(pw.EncodeError) as info:
        pw.reply(None, None, "t", "ok", b"[1,")
    assert info.value.kind == "UnexpectedEof"
    with pytest.raises(pw.EncodeError) as info:
        pw.encode(None, None, "t", "e", b"\xff")
    assert info.value.kind == "InvalidUtf8"


def test_binary_header_limits():
    pw.encode_binary(None, None, "t" * 255, "e", b"")
    with pytest.raises(pw.EncodeError) as info:
        pw.encode_binary(None, None, "t" * 256, "e", b"")
    assert (info.value.kind, info.value.offset) == ("TooLong", 3)
    with pytest.raises(pw.EncodeError) as info:
        pw.encode_binary(None, "1", "t", "e", b"", direction="to_client")
    assert info.value.kind == "InvalidType(Ref)"


def test_bad_refs_and_arguments():
    with pytest.raises(pw.EncodeError):
        pw.encode(2**64, None, "t", "e", {})
    for bad in (True, 1.5, b"1", []):
        with pytest.raises(TypeError):
            pw.encode(bad, None, "t", "e", {})
    with pytest.raises(TypeError):
        pw.encode(None, None, 1, "e", {})
    with pytest.raises(TypeError):
        pw.encode_binary(None, None, "t", "e", {})
    with pytest.raises(ValueError):
        pw.encode(None, None, "t", "e", {}, vsn="3.0.0")
    with pytest.raises(UnicodeEncodeError):
        pw.encode(None, None, "\ud800", "e", {})


# ----- helpers -----


def nest(n):
    v = []
    for _ in range(n - 1):
        v = [v]
    return v


def upper_hex_escapes(s):
    out, i = [], 0
    while i < len(s):
        if s.startswith("\\u00", i):
            out.append("\\u00" + s[i + 4 : i + 6].upper())
            i += 6
        elif s[i] == "\\":
            out.append(s[i : i + 2])
            i += 2
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


ALPHABET = ["a", "é", "🚀", '"', "\\", "/", "\n", "\x00", "\x1f", "\x7f", " ", "\u2028", "key"]


def random_json(rng, depth, floats=True):
    kinds = ["null", "bool", "int", "bigint", "str"] + (["float"] if floats else [])
    if depth > 0:
        kinds += ["list", "dict"] * 2
    k = rng.choice(kinds)
    if k == "null":
        return None
    if k == "bool":
        return rng.random() < 0.5
    if k == "int":
        return rng.randint(-(2**63), 2**63 - 1)
    if k == "bigint":
        return rng.choice([-1, 1]) * rng.randrange(2**64, 2**200)
    if k == "float":
        return rng.uniform(-1e10, 1e10)
    if k == "str":
        return "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(8)))
    if k == "list":
        return [random_json(rng, depth - 1, floats) for _ in range(rng.randrange(5))]
    return {
        "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(6))): random_json(rng, depth - 1, floats)
        for _ in range(rng.randrange(5))
    }


# ----- packaging -----


def test_stubs_and_py_typed_ship_and_match_the_module():
    import ast
    import pathlib

    from phoenix_wire import _native

    pkg = pathlib.Path(pw.__file__).parent
    assert (pkg / "py.typed").is_file()
    tree = ast.parse((pkg / "_native.pyi").read_text())
    stubbed = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    stubbed |= {t.id for n in tree.body if isinstance(n, ast.AnnAssign) for t in [n.target]}
    runtime = {n for n in dir(_native) if not n.startswith("_")}
    assert runtime <= stubbed | {"Ref", "Json", "Vsn", "Direction"}
    assert runtime == set(pw.__all__) & runtime
    for name in ("decode", "decode_text", "encode", "encode_binary", "reply", "reply_binary", "broadcast", "Message"):
        assert name in stubbed and getattr(pw, name).__doc__
    assert pw.DecodeError.__doc__ and pw.EncodeError.__doc__ and pw.__doc__


def test_docstring_examples_run():
    import doctest

    failures, tried = doctest.testmod(pw, verbose=False)
    assert tried >= 3 and failures == 0


def test_argument_errors_name_the_argument():
    import inspect

    hb = HEARTBEAT
    cases = [
        (lambda: pw.decode(), "missing required argument 'frame'"),
        (lambda: pw.decode(hb, hb), "takes 1 positional argument but 2 were given"),
        (lambda: pw.decode(hb, vsn=1), "argument 'vsn' must be str"),
        (lambda: pw.decode(hb, x=1), "unexpected keyword argument 'x'"),
        (lambda: pw.encode(None, None, "t", "e"), "missing required argument 'payload'"),
        (lambda: pw.encode(None, None, 1, "e", {}), "argument 'topic' must be str"),
        (lambda: pw.encode(None, None, "t", "e", {}, ref=1), "multiple values for argument 'ref'"),
        (lambda: pw.decode_text("x"), "argument 'frame' must be bytes"),
    ]
    for call, message in cases:
        with pytest.raises(TypeError, match=message):
            call()
    # Keywords work for every parameter, and None means the default.
    assert pw.decode(frame=hb, vsn=None, direction=None) == pw.decode(hb)
    assert pw.encode(join_ref=None, ref="2", topic="phoenix", event="heartbeat", payload={}, vsn="2.0.0") == hb
    assert str(inspect.signature(pw.decode)) == "(frame, *, vsn='2.0.0', direction='to_client')"
    assert str(inspect.signature(pw.encode)) == "(join_ref, ref, topic, event, payload, *, vsn='2.0.0')"
