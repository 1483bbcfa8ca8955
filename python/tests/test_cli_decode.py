"""`phoenix-wire decode` against the shared conformance vectors."""

import base64
import json
import pathlib
import subprocess
import sys

import pytest

from conftest import frame_bytes, load_vectors, vsn_of

VECTORS = load_vectors()


def cli(*args, stdin=b"", timeout=60):
    """Runs `phoenix-wire ARGS` as a user would; returns (status, stdout, stderr)."""
    p = subprocess.run(
        [sys.executable, "-m", "phoenix_wire.cli", *args],
        input=stdin,
        capture_output=True,
        timeout=timeout,
        # Not python/: there the source tree (without the built extension)
        # would shadow the installed package.
        cwd=pathlib.Path(__file__).parent,
    )
    return p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8")


def records(stdout):
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def check_text_record(rec, case):
    if "error" in case:
        assert rec["ok"] is False, case["name"]
        assert rec["error"]["kind"] == case["error"]["kind"], case["name"]
        assert rec["error"]["offset"] == case["error"]["offset"], case["name"]
        return
    assert rec["ok"] is True, (case["name"], rec)
    exp = case["expect"]
    for key in ("join_ref", "ref", "topic", "event", "payload"):
        assert rec[key] == exp[key], (case["name"], key)
    if "reply" in exp:
        assert rec["status"] == exp["reply"]["status"], case["name"]
        assert rec["response"] == exp["reply"]["response"], case["name"]


@pytest.mark.parametrize("vsn", [1, 2])
def test_text_vectors_as_hex_lines(vsn):
    # Hex carries every vector, even frames with raw newlines or invalid
    # UTF-8; only the empty frame cannot be a line (blank lines are skipped).
    cases = [c for c in VECTORS["text"] if c["vsn"] == vsn and frame_bytes(c)]
    stdin = "".join(frame_bytes(c).hex() + "\n" for c in cases).encode()
    status, out, err = cli("decode", "--json", "--vsn", vsn_of(vsn), stdin=stdin)
    recs = records(out)
    assert len(recs) == len(cases)
    for rec, case in zip(recs, cases):
        check_text_record(rec, case)
    # The tool carried on after each bad frame and says so in its status.
    assert status == (1 if any("error" in c for c in cases) else 0)


def test_text_vectors_as_json_lines_with_guessed_vsn():
    # V1 frames are objects and V2 frames arrays, so without --vsn the tool
    # picks the version from the first character.
    cases = [
        c
        for c in VECTORS["text"]
        if "frame" in c
        and "\n" not in c["frame"]
        and "\r" not in c["frame"]
        and c["frame"].strip()[:1] in "[{"
        and c["frame"].strip()
        and not (c["vsn"] == 1 and c["frame"].strip().startswith("["))
        and not (c["vsn"] == 2 and c["frame"].strip().startswith("{"))
    ]
    assert len(cases) > 40
    stdin = "".join(c["frame"] + "\n" for c in cases).encode()
    _, out, _ = cli("decode", "--json", stdin=stdin)
    recs = records(out)
    assert len(recs) == len(cases)
    for rec, case in zip(recs, cases):
        assert rec["vsn"] == vsn_of(case["vsn"]), case["name"]
        check_text_record(rec, case)


def check_binary_record(rec, case):
    if "error" in case:
        assert rec["ok"] is False, case["name"]
        assert rec["error"]["kind"] == case["error"]["kind"], case["name"]
        assert rec["error"]["offset"] == case["error"]["offset"], case["name"]
        return
    exp = case["expect"]
    assert rec["ok"] is True, (case["name"], rec)
    for key in ("join_ref", "ref", "topic", "event"):
        assert rec[key] == exp[key], (case["name"], key)
    assert rec["payload_hex"] == exp["payload_hex"], case["name"]
    if "status" in exp:
        assert rec["status"] == exp["status"], case["name"]
        assert rec["kind"] == "reply"


@pytest.mark.parametrize("direction", ["to_server", "to_client"])
@pytest.mark.parametrize("notation", ["hex", "base64", "bytes"])
def test_binary_vectors(direction, notation):
    cases = [c for c in VECTORS["binary"] if c["direction"] == direction and c["hex"]]

    def write(data):
        if notation == "hex":
            return data.hex()
        if notation == "base64":
            return base64.b64encode(data).decode()
        return "<<" + ", ".join(map(str, data)) + ">>"

    stdin = "".join(write(bytes.fromhex(c["hex"])) + "\n" for c in cases).encode()
    status, out, _ = cli("decode", "--json", "--direction", direction, "--format", notation, stdin=stdin)
    recs = records(out)
    assert len(recs) == len(cases)
    for rec, case in zip(recs, cases):
        assert rec["direction"] == direction
        check_binary_record(rec, case)
    assert status == (1 if any("error" in c for c in cases) else 0)


def test_binary_direction_is_guessed_from_the_layout():
    by_name = {c["name"]: c for c in VECTORS["binary"]}
    names = [
        "client push (Phoenix suite)",
        "server push (Phoenix suite)",
        "reply (Phoenix suite)",
        "broadcast (Phoenix suite)",
        "JS client utf-8 headers",
    ]
    stdin = "".join(by_name[n]["hex"] + "\n" for n in names).encode()
    status, out, _ = cli("decode", "--json", stdin=stdin)
    assert status == 0
    recs = records(out)
    assert [r["direction"] for r in recs] == ["to_server", "to_client", "to_client", "to_client", "to_server"]
    assert [r["kind"] for r in recs] == ["push", "push", "reply", "broadcast", "push"]
    for rec, name in zip(recs, names):
        check_binary_record(rec, by_name[name])


def test_raw_files_one_frame_each(tmp_path):
    by_name = {c["name"]: c for c in VECTORS["binary"]}
    client = tmp_path / "push.bin"
    client.write_bytes(bytes.fromhex(by_name["client push (Phoenix suite)"]["hex"]))
    text = tmp_path / "frame.txt"
    # A raw text frame may span lines: --raw reads the whole file.
    text.write_bytes(b' \n[ null , "1" ,\t"t" , "e" , { "a" : [ 1 , 2 ] } ]\r\n ')
    bad = tmp_path / "bad.bin"
    bad.write_bytes(bytes.fromhex("00020305053132313233746f"))
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    status, out, _ = cli(
        "decode", "--raw", "--json", "--direction", "to_server", str(client), str(text), str(bad), str(empty)
    )
    assert status == 1
    recs = records(out)
    assert [r["source"] for r in recs] == [str(client), str(text), str(bad), str(empty)]
    assert recs[3]["error"]["kind"] == "UnexpectedEof" and recs[3]["error"]["offset"] == 0
    check_binary_record(recs[0], by_name["client push (Phoenix suite)"])
    assert recs[1]["payload"] == {"a": [1, 2]} and recs[1]["ref"] == "1"
    assert recs[2]["error"] == {"kind": "UnexpectedEof", "offset": 12, "message": recs[2]["error"]["message"]}


def test_readable_output_shows_envelope_payload_and_errors():
    stdin = (
        b"\n".join(
            [
                b'["1","1","room:lobby","phx_join",{"nested":{"list":[1,2]}}]',
                b"not a frame!",
                b'[null,null,"t","e",{"a":01}]',
                b"01020305023132313233746f7069636f6b656667",
                b'{"topic":"phoenix","event":"heartbeat","payload":{},"ref":0}',
            ]
        )
        + b"\n"
    )
    status, out, _ = cli("decode", stdin=stdin)
    assert status == 1
    blocks = out.split("\n\n")
    assert len(blocks) == 5
    join, junk, bad, reply, v1 = blocks
    assert 'topic:    "room:lobby"' in join and 'event:    "phx_join"' in join
    # The payload is indented JSON.
    assert '  {\n    "nested": {\n      "list": [\n        1,' in join
    assert "error BadInput" in junk
    assert "error InvalidNumber at byte 25" in bad
    # A caret under byte 25 of the frame.
    lines = bad.splitlines()
    frame_line = next(line for line in lines if line.strip().startswith("[null"))
    caret_line = lines[lines.index(frame_line) + 1]
    assert caret_line.index("^") - frame_line.index("[") == 25
    assert 'status:   "ok"' in reply and "response: 3 bytes" in reply and "65 66 67" in reply
    assert "ref:      0" in v1 and "V1 object" in v1


def test_bad_lines_do_not_stop_the_tool_and_only_they_fail():
    good = b'[null,"2","phoenix","heartbeat",{}]'
    stdin = b"\n".join([good, b"[]", b"\xff\xfe not utf-8 [", good, b"zz", good]) + b"\n"
    status, out, _ = cli("decode", "--json", stdin=stdin)
    assert status == 1
    recs = records(out)
    assert [r["ok"] for r in recs] == [True, False, False, True, False, True]
    assert recs[1]["error"]["kind"] == "TooFewElements"
    assert [r["source"] for r in recs] == [f"<stdin>:{n}" for n in range(1, 7)]
    # All good: status 0.
    assert cli("decode", stdin=good + b"\n")[0] == 0
