"""Shared helpers: the repository's conformance vectors and paths."""

import json
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
VECTORS = ROOT / "tests" / "vectors" / "frames.json"


def load_vectors():
    with VECTORS.open(encoding="utf-8") as f:
        return json.load(f)


def vsn_of(n):
    """The `vsn` query value for a vector's major version number."""
    return f"{n}.0.0"


def frame_bytes(case):
    """A text vector's frame as UTF-8 bytes (frame_hex when not UTF-8)."""
    if "frame_hex" in case:
        return bytes.fromhex(case["frame_hex"])
    return case["frame"].encode("utf-8")


@pytest.fixture(scope="session")
def vectors():
    return load_vectors()
