"""Interop with the official Phoenix JS client (npm `phoenix`, pinned in
js/package.json): its own Serializer encodes messages that we decode, and
decodes frames that we encode; both directions are compared field by field.

`make test-python` runs `npm install` in python/tests/js first.
"""

import json
import pathlib
import shutil
import subprocess

import pytest

import phoenix_wire as pw

JS = pathlib.Path(__file__).parent / "js"

# (join_ref, ref, topic, event, payload); a bytes payload is binary.
MESSAGES = [
    (None, "2", "phoenix", "heartbeat", {}),
    ("1", "1", "room:lobby", "phx_join", {"token": "abc", "params": {"user": "alice"}}),
    ("3", "17", "room:lobby", "new_msg", {"body": "Deploying to the fleet", "sent_at": 1732170000123}),
    ("1", "1", "device", "phx_join", {"nerves_fw_uuid": "3c9f1f4e", "meta": {"firmware_validated": True}, "n": None}),
    ("4", "5", "room:café", "π", {"emoji": "🚀", "quote": '"', "nl": "a\nb", "slash": "a/b", "ctl": "\x01"}),
    ("4", "6", "t", "e", {"list": [1, -2, 3.5, 1e-7, 1e21, [], {}], "big": 2**53 - 1, "neg": -0.5}),
    ("4", "7", "t", "e", "a string payload"),
    ("4", "8", "t", "e", [1, "two", None, False]),
    ("0", "1", "t", "e", b"\x01"),
    ("🚀", "1", "room:café", "π", b"\xff\x00"),
    ("12", "123", "topic", "event", b"efg"),
    ("1", "9", "upload", "chunk", bytes(range(256)) * 4),
    ("1", "10", "t", "e", b""),
]


@pytest.fixture(scope="module", autouse=True)
def phoenix_js_client():
    """Installs the pinned `phoenix` package into js/node_modules if it is
    not there yet (`make test-python` does it before running pytest)."""
    if not (JS / "node_modules" / "phoenix").is_dir():
        npm = shutil.which("npm")
        assert npm, "npm is needed to install the Phoenix JS client"
        subprocess.run([npm, "install", "--no-audit", "--no-fund"], cwd=JS, check=True, timeout=300)


def run_js(request):
    node = shutil.which("node")
    assert node, "Node.js is needed for the interop test"
    out = subprocess.run(
        [node, str(JS / "serializer.js")],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(out.stdout)


def js_payload(p):
    return {"$hex": p.hex()} if isinstance(p, bytes) else p


def test_the_js_client_package_is_the_pinned_one():
    pkg = json.loads((JS / "node_modules" / "phoenix" / "package.json").read_text())
    assert pkg["version"].startswith("1.8.")


def test_frames_encoded_by_the_js_client_decode_to_the_same_fields():
    request = {
        "encode": [
            {"join_ref": jr, "ref": r, "topic": t, "event": e, "payload": js_payload(p)} for jr, r, t, e, p in MESSAGES
        ]
    }
    encoded = run_js(request)["encoded"]
    assert len(encoded) == len(MESSAGES)
    for (jr, r, t, e, p), frame in zip(MESSAGES, encoded):
        if isinstance(p, bytes):
            assert "hex" in frame
            m = pw.decode(bytes.fromhex(frame["hex"]), direction="to_server")
        else:
            assert "text" in frame
            m = pw.decode(frame["text"])
            # Same bytes as ours, too: JSON.stringify and Jason agree on
            # compact JSON, floats aside (see the last test).
            has_floats = isinstance(p, dict) and "list" in p
            if not has_floats:
                assert pw.encode(jr, r, t, e, p) == frame["text"]
        assert (m.join_ref, m.ref, m.topic, m.event) == (jr, r, t, e)
        assert m.payload == p
        assert m.status is None


def test_frames_we_encode_decode_in_the_js_client():
    frames = []
    expected = []
    for jr, r, t, e, p in MESSAGES:
        if isinstance(p, bytes):
            # The JS client reads server pushes (kind 0, no ref), replies
            # (kind 1) and broadcasts (kind 2). Empty header strings come back
            # as "" from its TextDecoder, not null.
            frames.append({"hex": pw.encode_binary(jr, None, t, e, p, direction="to_client").hex()})
            expected.append({"join_ref": jr, "ref": None, "topic": t, "event": e, "payload": js_payload(p)})
            frames.append({"hex": pw.reply_binary(jr, r, t, "ok", p).hex()})
            expected.append(
                {"join_ref": jr, "ref": r, "topic": t, "event": "phx_reply",
                 "payload": {"status": "ok", "response": js_payload(p)}}
            )
            frames.append({"hex": pw.encode_binary(None, None, t, e, p, direction="to_client").hex()})
            expected.append({"join_ref": None, "ref": None, "topic": t, "event": e, "payload": js_payload(p)})
        else:
            frames.append({"text": pw.encode(jr, r, t, e, p)})
            expected.append({"join_ref": jr, "ref": r, "topic": t, "event": e, "payload": p})
            frames.append({"text": pw.reply(jr, r, t, "error", p)})
            expected.append(
                {"join_ref": jr, "ref": r, "topic": t, "event": "phx_reply",
                 "payload": {"response": p, "status": "error"}}
            )
            frames.append({"text": pw.broadcast(t, e, p)})
            expected.append({"join_ref": None, "ref": None, "topic": t, "event": e, "payload": p})
    decoded = run_js({"decode": frames})["decoded"]
    assert len(decoded) == len(expected) == 3 * len(MESSAGES)
    for got, want in zip(decoded, expected):
        for field in ("join_ref", "ref", "topic", "event", "payload"):
            assert got[field] == want[field], (field, got, want)


@pytest.mark.parametrize("value,js_text", [(1e21, "1e+21"), (1e-7, "1e-7"), (3.5, "3.5"), (100.0, "100")])
def test_float_text_differs_from_js_but_reads_back_equal(value, js_text):
    # JSON.stringify and Jason print some floats differently; both read back
    # to the same number, which is all the interop needs.
    ours = pw.encode(None, None, "t", "e", [value])
    theirs = run_js({"encode": [{"join_ref": None, "ref": None, "topic": "t", "event": "e", "payload": [value]}]})
    text = theirs["encoded"][0]["text"]
    assert text == '[null,null,"t","e",[%s]]' % js_text
    assert pw.decode(text).payload == pw.decode(ours).payload == [value]
