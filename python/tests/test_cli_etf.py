"""`phoenix-wire etf`, and terms inside `decode`: Elixir syntax and the JSON convention.

Terms come from the spec's examples and from the real Erlang runtime (`erl`),
and what `etf encode` writes is read back by `erl`.
"""

import json
import shutil
import subprocess

import pytest

from test_cli_decode import cli, records

from phoenix_wire import etf
from phoenix_wire.tools.etf import from_json, to_elixir, to_json

# The real Erlang runtime is part of the test setup (Debian's erlang-nox).
ERL = shutil.which("erl")


def erl_eval(body):
    """Runs an Erlang expression sequence that prints lines; returns them."""
    assert ERL is not None, "erl is not installed (apt-get install erlang-nox)"
    p = subprocess.run([ERL, "-noshell", "-eval", body + ", halt()."], capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout.decode("utf-8").splitlines()


# ---- the spec's examples (OTP 25 bytes) -------------------------------------------------
SPEC = [
    ("131,100,0,5,104,101,108,108,111", ":hello", {"$atom": "hello"}),
    ("131,98,255,255,255,255", "-1", -1),
    ("131,110,4,0,0,0,0,128", "2147483648", 2147483648),
    ("131,116,0,0,0,1,109,0,0,0,1,97,97,1", '%{"a" => 1}', {"a": 1}),
    (
        "131,116,0,0,0,1,109,0,0,0,1,97,108,0,0,0,3,97,1,70,64,4,0,0,0,0,0,0,100,0,3,102,111,111,106",
        '%{"a" => [1, 2.5, :foo]}',
        {"a": [1, 2.5, {"$atom": "foo"}]},
    ),
    ("131,108,0,0,0,1,97,1,97,2", "[1 | 2]", {"$improper": [[1], 2]}),
]


def test_spec_examples_decode_to_elixir_and_json():
    args = [s for s, _, _ in SPEC]
    status, out, err = cli("etf", "decode", *args)
    assert status == 0, err
    assert out.splitlines() == [e for _, e, _ in SPEC]
    status, out, err = cli("etf", "decode", "--json", *args)
    assert status == 0, err
    assert [json.loads(line) for line in out.splitlines()] == [j for _, _, j in SPEC]


def test_spec_examples_accept_hex_base64_and_erlang_binaries():
    data = bytes([131, 100, 0, 5]) + b"hello"
    import base64

    for arg in (data.hex(), base64.b64encode(data).decode(), "<<" + ", ".join(map(str, data)) + ">>"):
        assert cli("etf", "decode", arg)[1] == ":hello\n", arg


# ---- the real Erlang runtime ----------------------------------------------------------------
ERLANG_TERMS = [
    ('{ok, <<"hi">>, [1,2], #{<<"a">> => 1}}', '{:ok, "hi", [1, 2], %{"a" => 1}}'),
    ('[{a,1},{b,<<"x">>}]', '[a: 1, b: "x"]'),
    ('"abc"', '~c"abc"'),
    ("[1,2,300]", "[1, 2, 300]"),
    ("#{'__struct__' => 'Elixir.URI', host => <<\"x\">>}", '%URI{host: "x"}'),
    ("#{a => 1}", "%{a: 1}"),
    ("<<1,2,255>>", "<<1, 2, 255>>"),
    ("<<5:3>>", "<<5::size(3)>>"),
    ("'Elixir.Foo.Bar'", "Foo.Bar"),
    ("'hello world'", ':"hello world"'),
    ("[true, false, nil, undefined]", "[true, false, nil, :undefined]"),
    ("[1.0e20, -0.5, 0.1, 100.0]", "[1.0e20, -0.5, 0.1, 100.0]"),
    ("12345678901234567890", "12345678901234567890"),
    ("-12345678901234567890", "-12345678901234567890"),
    ("[1,2|3]", "[1, 2 | 3]"),
    ("{}", "{}"),
    ("[]", "[]"),
    ("#{}", "%{}"),
    ("<<>>", '""'),
    ('<<"line\\nbreak \\"q\\" #{x}">>', '"line\\nbreak \\"q\\" \\#{x}"'),
    ('<<"caf\\x{e9}"/utf8>>', '"café"'),
]


@pytest.mark.parametrize("compressed", [False, True])
def test_terms_written_by_erlang_print_as_elixir(compressed):
    opts = "[compressed]" if compressed else "[]"
    terms = list(ERLANG_TERMS)
    if compressed:
        # OTP compresses only when that saves space.
        terms.append(('{big, binary:copy(<<"ab">>, 300)}', '{:big, "' + "ab" * 300 + '"}'))
    body = ", ".join(f'io:format("~s~n", [binary:encode_hex(term_to_binary({src}, {opts}))])' for src, _ in terms)
    lines = erl_eval(body)
    assert len(lines) == len(terms)
    if compressed:
        assert lines[-1].startswith("8350")  # 131, 80: really compressed
    # A wide line: the layout itself is checked in test_printer_follows_inspect.
    status, out, err = cli(
        "etf", "decode", "--format", "hex", "--width", "100000", stdin=("\n".join(lines) + "\n").encode()
    )
    assert status == 0, err
    assert out.splitlines() == [want for _, want in terms]


JSON_FOR_ERLANG = [
    ('{"$tuple": [{"$atom": "ok"}, "hi", [1, 2.5], {"a": null}]}', '{ok,<<"hi">>,[1,2.5],#{<<"a">> => nil}}'),
    ('{"$charlist": "token"}', '"token"'),
    ('{"$map": [[1, true], [{"$atom": "k"}, false]]}', "#{1 => true,k => false}"),
    ('{"$improper": [[1, 2], 3]}', "[1,2|3]"),
    ('{"$base64": "/wA="}', "<<255,0>>"),
    ('{"$bits": ["oA==", 3]}', "<<5:3>>"),
    ("-9223372036854775809", "-9223372036854775809"),
    (
        '{"fedecks-device-id": "sim-1", "username": "demo"}',
        '#{<<"fedecks-device-id">> => <<"sim-1">>,<<"username">> => <<"demo">>}',
    ),
]


def test_erlang_reads_what_etf_encode_writes():
    status, out, err = cli("etf", "encode", "--deterministic", *[j for j, _ in JSON_FOR_ERLANG])
    assert status == 0, err
    hexes = out.split()
    assert len(hexes) == len(JSON_FOR_ERLANG)
    # io_lib:print with an unlimited line width: one line per term, binaries
    # shown as strings when printable, as `~p` does.
    body = ", ".join(
        f'io:format("~s~n", [io_lib:print(binary_to_term(binary:decode_hex(<<"{h}">>)), 1, 100000, -1)])' for h in hexes
    )
    got = erl_eval(body)
    # Compare without spaces: `=>` is written with spaces around it.
    assert [g.replace(" ", "") for g in got] == [e.replace(" ", "") for _, e in JSON_FOR_ERLANG]


# ---- JSON convention round trips -------------------------------------------------------------
ROUND_TRIP = [
    {"$tuple": [{"$atom": "reading"}, 7, {"temp": 21.5}]},
    {"$base64": "//79"},
    {"$map": [[1, "one"], [{"$tuple": []}, []]]},
    {"$improper": [[{"$atom": "a"}], {"$atom": "b"}]},
    {"$map": [["$atom", 1]]},  # a map whose only key is a tag name stays a map
    [None, True, False, 2**70, -1.5, "ü"],
]


def test_json_round_trips_through_the_term_format():
    args = [json.dumps(v) for v in ROUND_TRIP]
    status, out, err = cli("etf", "encode", *args)
    assert status == 0, err
    status, back, err = cli("etf", "decode", "--json", "--format", "hex", stdin=out.encode())
    assert status == 0, err
    assert [json.loads(line) for line in back.splitlines()] == ROUND_TRIP


def test_encode_outputs_and_options():
    assert cli("etf", "encode", '{"$atom": "hello"}', "--legacy-atoms")[1].strip() == "8364000568656c6c6f"
    assert cli("etf", "encode", '{"$atom": "hello"}', "--output", "bytes")[1].strip() == (
        "<<131, 119, 5, 104, 101, 108, 108, 111>>"
    )
    compressed = cli("etf", "encode", "--compressed", json.dumps("x" * 200))[1].strip()
    assert compressed.startswith("8350") and len(compressed) < 200
    assert cli("etf", "decode", compressed)[1].strip() == '"' + "x" * 200 + '"'


# ---- bad input ----------------------------------------------------------------------------------
def test_bad_terms_report_kind_and_offset_and_the_tool_carries_on():
    lines = [
        "8364000568656c6c6f",  # :hello
        "836cffffffff",  # a list claiming 4 G elements in 6 bytes
        "not hex or base64!",
        "8370000000",  # NEW_FUN: executable, never decoded
        "83610a",  # 10
    ]
    status, out, err = cli("etf", "decode", "--format", "auto", stdin=("\n".join(lines) + "\n").encode())
    assert status == 1
    assert out.splitlines() == [":hello", "10"]
    errs = err.splitlines()
    assert len(errs) == 3
    assert errs[0].startswith("error: <stdin>:2: ") and " at byte " in errs[0]
    assert errs[1].startswith("error: <stdin>:3: not base64")
    assert errs[2].startswith("error: <stdin>:4: ") and " at byte " in errs[2]


def test_bad_json_convention_names_the_path():
    status, out, err = cli("etf", "encode", '{"a": [{"$tuple": 5}]}', '{"$atom": "ok"}')
    assert status == 1
    assert out.strip() == "8377026f6b"
    assert "$tuple needs an array at .a[0].$tuple" in err


# ---- terms inside decode --------------------------------------------------------------------------
def test_decode_prints_fedecks_terms_and_term_payloads_in_elixir():
    token = etf.dumps((list(b"token"), b"abc.def"))
    payload = etf.dumps({"temp": 21.5})
    import phoenix_wire as pw

    frame = pw.encode_binary("1", "2", "device", "reading", payload)
    status, out, err = cli("decode", stdin=(token.hex() + "\n" + frame.hex() + "\n").encode())
    assert status == 0, err
    term_block, frame_block = out.split("\n\n")
    assert "Erlang term" in term_block and '{~c"token", "abc.def"}' in term_block
    assert 'term:\n  %{"temp" => 21.5}' in frame_block
    status, out, _ = cli("decode", "--json", stdin=(token.hex() + "\n" + frame.hex() + "\n").encode())
    term_rec, frame_rec = records(out)
    assert term_rec["type"] == "term" and term_rec["term"] == {"$tuple": [[116, 111, 107, 101, 110], "abc.def"]}
    assert frame_rec["payload_term"] == {"temp": 21.5}


# ---- the printer itself ---------------------------------------------------------------------------
def test_printer_follows_inspect():
    A = etf.Atom
    assert to_elixir([(A("a"), 1), (A("b?"), 2)]) == "[a: 1, b?: 2]"
    assert to_elixir({A("__struct__"): A("Elixir.MyApp.Device"), A("id"): 1}) == "%MyApp.Device{id: 1}"
    assert to_elixir({A("with space"): 1}) == '%{"with space": 1}'
    assert to_elixir({1: 2, A("a"): 3}) == "%{1 => 2, :a => 3}"
    assert to_elixir(A("Elixir")) == ":Elixir"
    assert to_elixir(A("+")) == ":+"
    assert to_elixir(b"\x00\x01") == "<<0, 1>>"
    assert to_elixir(b"tab\there") == '"tab\\there"'
    assert to_elixir([7, 8, 9]) == '~c"\\a\\b\\t"'
    assert to_elixir(1e-7) == "1.0e-7"
    wide = to_elixir({"k%d" % i: list(range(5)) for i in range(6)}, width=40)
    assert wide.splitlines()[0] == "%{" and wide.splitlines()[-1] == "}"
    assert '  "k0" => [0, 1, 2, 3, 4],' in wide.splitlines()


def test_json_convention_is_the_mock_admin_apis():
    # The mock's admin API and config use the same $-tags (phoenix_wire.mock.fedecks).
    from phoenix_wire.mock.fedecks import term_from_json, term_to_json

    for value in ({"$tuple": [{"$atom": "ok"}, "x"]}, {"$charlist": "ab"}, {"$base64": "/wA="}):
        ours = from_json(value)
        assert etf.dumps(ours) == etf.dumps(term_from_json(value)), value
        assert to_json(etf.loads(etf.dumps(ours))) == to_json(etf.loads(etf.dumps(term_from_json(value))))
    assert term_to_json(from_json({"$tuple": [{"$atom": "ok"}, 1]})) == {"$tuple": [{"$atom": "ok"}, 1]}
