"""`phoenix-wire encode` against the shared conformance vectors."""

import base64
import json
import pathlib
import subprocess
import sys

import pytest

from conftest import load_vectors, vsn_of
from test_cli_decode import cli, records

VECTORS = load_vectors()


def _compact(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _reencodable(case):
    # `encoded` keeps a payload's raw JSON (e.g. with its whitespace); built
    # from Python objects, the tool writes compact JSON, so only compare the
    # vectors whose payload is written compactly.
    return "encoded" in case and _compact(case["expect"]["payload"]) in case["encoded"]


@pytest.mark.parametrize("vsn", [1, 2])
def test_text_vectors_from_json_objects(vsn):
    cases = [c for c in VECTORS["text"] if c["vsn"] == vsn and _reencodable(c)]
    assert cases
    lines = [json.dumps({k: c["expect"][k] for k in ("join_ref", "ref", "topic", "event", "payload")}) for c in cases]
    status, out, err = cli("encode", "--vsn", vsn_of(vsn), "-", stdin=("\n".join(lines) + "\n").encode())
    assert status == 0, err
    assert out.splitlines() == [c["encoded"] for c in cases]


def test_text_vectors_from_v2_arrays():
    cases = [c for c in VECTORS["text"] if c["vsn"] == 2 and _reencodable(c)]
    args = [json.dumps([c["expect"][k] for k in ("join_ref", "ref", "topic", "event", "payload")]) for c in cases]
    status, out, err = cli("encode", *args)
    assert status == 0, err
    assert out.splitlines() == [c["encoded"] for c in cases]


@pytest.mark.parametrize("case", [c for c in VECTORS["binary"] if c.get("roundtrip")], ids=lambda c: c["name"])
def test_binary_vectors_from_options(case):
    exp = case["expect"]
    args = [
        "encode",
        "--binary",
        "--direction",
        case["direction"],
        "--topic",
        exp["topic"],
        "--payload-hex",
        exp["payload_hex"],
    ]
    for flag, key in (("--join-ref", "join_ref"), ("--ref", "ref")):
        if exp[key] is not None:
            args += [flag, exp[key]]
    if "status" in exp:
        args += ["--status", exp["status"]]
    else:
        args += ["--event", exp["event"]]
    status, out, err = cli(*args)
    assert status == 0, err
    assert out.strip() == case["hex"]


def test_replies_and_refs_from_options():
    assert cli("encode", "--status", "ok", "--ref", "2", "--topic", "phoenix", "--payload", "{}")[1] == (
        '[null,"2","phoenix","phx_reply",{"response":{},"status":"ok"}]\n'
    )
    # Microcontroller firmware sends V1 objects with an integer ref.
    assert (
        cli("encode", "--vsn", "1.0.0", "--int-refs", "--ref", "0", "--topic", "phoenix", "--event", "heartbeat")[1]
        == '{"event":"heartbeat","payload":{},"ref":0,"topic":"phoenix"}\n'
    )


def test_output_notations_decode_back():
    frame_args = [
        "--binary",
        "--join-ref",
        "1",
        "--ref",
        "2",
        "--topic",
        "room:café",
        "--event",
        "π",
        "--payload-hex",
        "ff00",
    ]
    hex_out = cli("encode", *frame_args)[1].strip()
    b64_out = cli("encode", *frame_args, "--output", "base64")[1].strip()
    assert base64.b64decode(b64_out) == bytes.fromhex(hex_out)
    raw = subprocess.run(
        [sys.executable, "-m", "phoenix_wire.cli", "encode", *frame_args, "--output", "raw"],
        capture_output=True,
        timeout=60,
        cwd=pathlib.Path(__file__).parent,
    ).stdout
    assert raw == bytes.fromhex(hex_out)
    status, out, _ = cli("decode", "--json", "--direction", "to_server", stdin=(b64_out + "\n").encode())
    assert status == 0
    (rec,) = records(out)
    assert (rec["join_ref"], rec["ref"], rec["topic"], rec["event"], rec["payload_hex"]) == (
        "1",
        "2",
        "room:café",
        "π",
        "ff00",
    )


def test_errors_name_the_frame_and_the_rest_still_encode():
    stdin = (
        "\n".join(
            [
                '[null,"1","t","e",{}]',
                "not json",
                '[null,"1","t"]',
                json.dumps({"topic": "x" * 256, "event": "e", "payload": "p"}),
                '{"topic":"t","event":"e","payload":{"a":1},"bogus":1}',
                '["1","2","t","e",{"ok":true}]',
            ]
        )
        + "\n"
    )
    status, out, err = cli("encode", "--binary", "-", stdin=stdin.encode())
    # Binary: JSON payloads must be strings, the 256-byte topic is too long.
    assert status == 1
    assert "<stdin>:2: not JSON" in err
    assert "<stdin>:3:" in err and "5 elements" in err
    assert "<stdin>:4:" in err
    assert "<stdin>:5: unknown keys: bogus" in err
    status, out, err = cli("encode", "-", stdin=stdin.encode())
    assert status == 1
    assert out.splitlines() == [
        '[null,"1","t","e",{}]',
        '[null,null,"' + "x" * 256 + '","e","p"]',
        '["1","2","t","e",{"ok":true}]',
    ]
    assert "<stdin>:2" in err and "<stdin>:3" in err and "<stdin>:5" in err


def test_topic_longer_than_255_bytes_is_an_encode_error():
    status, out, err = cli("encode", "--binary", "--topic", "é" * 128, "--event", "e")
    assert status == 1 and out == ""
    assert "TooLong" in err


def test_missing_parts_are_usage_errors():
    status, _, err = cli("encode", "--event", "e")
    assert status == 1 and "--topic" in err
