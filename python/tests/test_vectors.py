"""Every case of tests/vectors/frames.json, through the Python API.

The same file drives the Rust tests, so both faces of the codec agree on
fields, error kinds (the Rust ErrorKind's Debug name) and byte offsets.
"""

import json

import pytest

import phoenix_wire as pw
from conftest import frame_bytes, load_vectors, vsn_of

VECTORS = load_vectors()
TEXT = VECTORS["text"]
BINARY = VECTORS["binary"]


def test_the_vector_file_is_not_empty():
    assert len(TEXT) >= 70 and len(BINARY) >= 15
    assert sum("error" in c for c in TEXT) >= 40


@pytest.mark.parametrize("case", [c for c in TEXT if "expect" in c], ids=lambda c: c["name"])
def test_text_vector_decodes(case):
    expect = case["expect"]
    vsn = vsn_of(case["vsn"])
    # The same frame given as str (what websocket libraries hand over for
    # text frames) and as UTF-8 bytes.
    for m in (pw.decode(case["frame"], vsn=vsn), pw.decode_text(frame_bytes(case), vsn=vsn)):
        assert m.join_ref == expect["join_ref"]
        assert type(m.join_ref) is type(expect["join_ref"])
        assert m.ref == expect["ref"]
        assert type(m.ref) is type(expect["ref"])
        assert m.topic == expect["topic"]
        assert m.event == expect["event"]
        assert m.payload == expect["payload"]
        assert json.loads(m.payload_raw) == expect["payload"]
        if "reply" in expect:
            assert m.status == expect["reply"]["status"]
            assert m.response == expect["reply"]["response"]
        elif m.event != "phx_reply":
            assert m.status is None and m.response is None


@pytest.mark.parametrize("case", [c for c in TEXT if "encoded" in c], ids=lambda c: c["name"])
def test_text_vector_reencodes_exactly(case):
    vsn = vsn_of(case["vsn"])
    m = pw.decode_text(frame_bytes(case), vsn=vsn)
    # Pre-encoded payload bytes are copied through as written.
    out = pw.encode(m.join_ref, m.ref, m.topic, m.event, m.payload_raw, vsn=vsn)
    assert json.loads(out) == json.loads(case["encoded"])
    if "\\u" not in case["frame"].split('"payload"')[0].split("{")[0]:
        assert out == case["encoded"]
    else:
        # Python hands over decoded strings, so an escaped topic, event or
        # ref comes back written as Phoenix writes it: raw UTF-8.
        assert "\\u00e9" not in out and "café" in out
    # Python objects are serialized the way Phoenix writes them; the vectors
    # hold Phoenix's compact output, so the decoded objects give it back.
    if json.dumps(m.payload, separators=(",", ":"), ensure_ascii=False) == m.payload_raw.decode():
        assert pw.encode(m.join_ref, m.ref, m.topic, m.event, m.payload, vsn=vsn) == case["encoded"]


@pytest.mark.parametrize("case", [c for c in TEXT if "error" in c], ids=lambda c: c["name"])
def test_text_vector_error(case):
    vsn = vsn_of(case["vsn"])
    with pytest.raises(pw.DecodeError) as info:
        pw.decode_text(frame_bytes(case), vsn=vsn)
    assert info.value.kind == case["error"]["kind"]
    assert info.value.offset == case["error"]["offset"]
    assert isinstance(info.value, ValueError)
    assert str(info.value).endswith(f"at byte {case['error']['offset']}")
    if "frame" in case:
        with pytest.raises(pw.DecodeError) as info:
            pw.decode(case["frame"], vsn=vsn)
        assert (info.value.kind, info.value.offset) == (case["error"]["kind"], case["error"]["offset"])


@pytest.mark.parametrize("case", [c for c in BINARY if "expect" in c], ids=lambda c: c["name"])
def test_binary_vector_decodes(case):
    expect = case["expect"]
    frame = bytes.fromhex(case["hex"])
    m = pw.decode(frame, direction=case["direction"])
    assert m.join_ref == expect["join_ref"]
    assert m.ref == expect["ref"]
    assert m.topic == expect["topic"]
    assert m.event == expect["event"]
    assert m.payload == bytes.fromhex(expect["payload_hex"])
    assert m.payload_raw == bytes.fromhex(expect["payload_hex"])
    assert m.status == expect.get("status")
    if "status" in expect:
        assert m.response == bytes.fromhex(expect["payload_hex"])
    else:
        assert m.response is None


@pytest.mark.parametrize("case", [c for c in BINARY if c.get("roundtrip")], ids=lambda c: c["name"])
def test_binary_vector_roundtrips(case):
    frame = bytes.fromhex(case["hex"])
    m = pw.decode(frame, direction=case["direction"])
    if m.event == "phx_reply" and case["direction"] == "to_client":
        out = pw.reply_binary(m.join_ref, m.ref, m.topic, m.status, m.payload)
    else:
        out = pw.encode_binary(m.join_ref, m.ref, m.topic, m.event, m.payload, direction=case["direction"])
    assert out == frame


@pytest.mark.parametrize("case", [c for c in BINARY if "error" in c], ids=lambda c: c["name"])
def test_binary_vector_error(case):
    with pytest.raises(pw.DecodeError) as info:
        pw.decode(bytes.fromhex(case["hex"]), direction=case["direction"])
    assert info.value.kind == case["error"]["kind"]
    assert info.value.offset == case["error"]["offset"]
