"""Hostile input through the Python API: nothing crashes, hangs or escapes
as anything but DecodeError (with an offset inside the input).

Replays the Rust suite's bad-input cases (codec/tests/bad_input.rs) with the
same expected kinds and offsets, the fuzz seed corpus, every truncation of
every vector, and seeded random and mutated bytes.
"""

import pathlib
import random

import pytest

import phoenix_wire as pw
from conftest import ROOT, frame_bytes, load_vectors

PREFIX = '[null,null,"t","e",'
DEFAULT_MAX_DEPTH = 128
VECTORS = load_vectors()
SEEDS = sorted((ROOT / "fuzz" / "seeds" / "frame_decode").glob("*"))


def touch(m):
    """Reads every field of a decoded message, and re-encodes it."""
    fields = (m.join_ref, m.ref, m.topic, m.event, m.payload, m.payload_raw, m.status, m.response)
    repr(m)
    assert m == m
    return fields


def survive(data):
    """Decodes `data` every way there is; returns how many ways succeeded."""
    ok = 0
    text = data.decode("utf-8", "surrogateescape")
    for vsn in ("1.0.0", "2.0.0"):
        try:
            touch(pw.decode_text(data, vsn=vsn))
            ok += 1
        except pw.DecodeError as e:
            assert 0 <= e.offset <= len(data), (data, e)
            assert isinstance(e.kind, str) and e.kind
        try:
            touch(pw.decode(text, vsn=vsn))
        except pw.DecodeError as e:
            assert 0 <= e.offset <= len(text.encode("utf-8", "surrogatepass"))
        except UnicodeEncodeError:
            # A str holding lone surrogates has no UTF-8 form: it never
            # reaches the codec.
            pass
    for direction in ("to_server", "to_client"):
        try:
            touch(pw.decode(data, direction=direction))
            ok += 1
        except pw.DecodeError as e:
            assert 0 <= e.offset <= len(data), (data, e)
    return ok


def nested(open_, n):
    return PREFIX + open_ * n


def test_a_million_nested_arrays_stop_at_the_limit():
    with pytest.raises(pw.DecodeError) as info:
        pw.decode(nested("[", 1_000_000))
    assert (info.value.kind, info.value.offset) == ("DepthLimitExceeded", len(PREFIX) + DEFAULT_MAX_DEPTH)


def test_a_million_nested_objects_stop_at_the_limit():
    with pytest.raises(pw.DecodeError) as info:
        pw.decode(nested('{"a":', 1_000_000))
    assert (info.value.kind, info.value.offset) == ("DepthLimitExceeded", len(PREFIX) + DEFAULT_MAX_DEPTH * 5)


def test_deep_but_allowed_nesting_converts_to_python():
    s = nested("[", DEFAULT_MAX_DEPTH) + "]" * DEFAULT_MAX_DEPTH + "]"
    p = pw.decode(s).payload
    depth = 0
    while isinstance(p, list) and p:
        p, depth = p[0], depth + 1
    assert depth == DEFAULT_MAX_DEPTH - 1 and p == []


def test_huge_inputs_of_one_byte_fail_fast():
    for b in range(256):
        data = bytes([b]) * 1_000_000
        for vsn in ("1.0.0", "2.0.0"):
            with pytest.raises(pw.DecodeError):
                pw.decode_text(data, vsn=vsn)


@pytest.mark.parametrize(
    "frame,direction",
    [
        (bytes([0, 255, 255, 255, 255]), "to_server"),
        (bytes([0, 255, 255, 255]), "to_client"),
        (bytes([1, 255, 255, 255, 255]), "to_client"),
        (bytes([2, 255, 255]), "to_client"),
    ],
)
def test_binary_lengths_past_the_end(frame, direction):
    with pytest.raises(pw.DecodeError) as info:
        pw.decode(frame, direction=direction)
    assert (info.value.kind, info.value.offset) == ("UnexpectedEof", len(frame))


def test_the_fuzz_seed_corpus_survives():
    assert len(SEEDS) >= 50
    decoded = sum(survive(p.read_bytes()) > 0 for p in SEEDS)
    # The corpus holds valid frames as well as broken ones.
    assert 0 < decoded < len(SEEDS)


def all_frames():
    for c in VECTORS["text"]:
        yield frame_bytes(c)
    for c in VECTORS["binary"]:
        yield bytes.fromhex(c["hex"])


def test_every_truncation_of_every_vector():
    n = 0
    for data in all_frames():
        for cut in range(len(data)):
            survive(data[:cut])
            n += 1
    assert n > 2000


def test_text_truncations_are_errors_with_offsets():
    for c in VECTORS["text"]:
        if "expect" not in c:
            continue
        data = frame_bytes(c)
        vsn = f"{c['vsn']}.0.0"
        for cut in range(len(data.rstrip())):
            with pytest.raises(pw.DecodeError) as info:
                pw.decode_text(data[:cut], vsn=vsn)
            assert info.value.offset <= cut


def test_random_bytes_never_crash():
    rng = random.Random(0x5EED)
    for _ in range(20_000):
        survive(rng.randbytes(rng.randrange(0, 64)))


def test_mutated_vectors_never_crash():
    rng = random.Random(42)
    frames = list(all_frames())
    interesting = b'[]{}",:\\0123456789-+.eEnulltruefalse \x00\xff\xc3\xa9'
    for _ in range(20_000):
        data = bytearray(rng.choice(frames))
        for _ in range(rng.randrange(1, 4)):
            op = rng.randrange(3)
            pos = rng.randrange(len(data) + 1)
            if op == 0 and data:
                del data[min(pos, len(data) - 1)]
            elif op == 1:
                data.insert(pos, rng.choice(interesting))
            elif data:
                data[min(pos, len(data) - 1)] = rng.randrange(256)
        survive(bytes(data))


def test_wrong_argument_types_are_type_errors():
    for bad in (None, 1, 1.5, [], bytearray(b"[]"), memoryview(b"[]")):
        with pytest.raises(TypeError):
            pw.decode(bad)
    with pytest.raises(TypeError):
        pw.decode_text("[]")
    with pytest.raises(ValueError):
        pw.decode("[]", vsn="9.0.0")
    with pytest.raises(ValueError):
        pw.decode(b"\x00", direction="sideways")
    with pytest.raises(ValueError):
        pw.decode(b"\x00", vsn="1.0.0")
