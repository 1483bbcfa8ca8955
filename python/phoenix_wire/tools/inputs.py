"""Reading bytes that a person pasted: hex, base64 or an Erlang binary literal.

Captured frames and terms reach the tools as text lines copied from logs,
browser dev tools or `iex`, so one line may be hex (`00 02 03 ...`,
`0x0002...`), base64 (the long-poll transport and the Fedecks auth header use
standard base64), or an Erlang/Elixir binary such as `<<131, 100, 0, 1, 97>>`
or the spec's plain `131,100,0,1,97`.
"""

from __future__ import annotations

import base64
import binascii
import re

__all__ = ["FORMATS", "InputError", "parse_bytes", "guess_format"]

#: The names accepted by ``--format`` options (``auto`` guesses per line).
FORMATS = ("auto", "hex", "base64", "bytes")

_HEX_SEPARATORS = re.compile(r"[\s:_-]+")
_HEX = re.compile(r"[0-9a-fA-F]*")
_DECIMALS = re.compile(r"\s*\d+\s*(,\s*\d+\s*)*")
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]*={0,2}")


class InputError(ValueError):
    """A line that is none of the accepted byte notations."""


def guess_format(text: str) -> str:
    """Which notation `text` most likely uses: ``hex``, ``bytes`` or ``base64``.

    Hex wins over base64 because every even-length hex string is also valid
    base64, and people paste hex far more often; force ``base64`` when the
    guess is wrong.
    """
    stripped = text.strip()
    if stripped.startswith("<<") or (stripped and _DECIMALS.fullmatch(stripped) and "," in stripped):
        return "bytes"
    compact = _HEX_SEPARATORS.sub("", stripped)
    if compact[:2] in ("0x", "0X"):
        compact = compact[2:]
    if len(compact) % 2 == 0 and _HEX.fullmatch(compact):
        return "hex"
    return "base64"


def parse_bytes(text: str, fmt: str = "auto") -> bytes:
    """The bytes written in `text` using notation `fmt` (see :data:`FORMATS`).

    Raises :class:`InputError` with a short reason when the text is not
    valid in that notation.
    """
    if fmt == "auto":
        fmt = guess_format(text)
    stripped = text.strip()
    if fmt == "hex":
        compact = _HEX_SEPARATORS.sub("", stripped)
        if compact[:2] in ("0x", "0X"):
            compact = compact[2:]
        try:
            return bytes.fromhex(compact)
        except ValueError:
            raise InputError("not hex (need an even number of 0-9a-f digits)") from None
    if fmt == "base64":
        return _parse_base64(stripped)
    if fmt == "bytes":
        return _parse_decimal(stripped)
    raise InputError(f"unknown input format {fmt!r}")


def _parse_base64(text: str) -> bytes:
    compact = "".join(text.split())
    if not _BASE64.fullmatch(compact):
        raise InputError("not base64 (characters outside A-Z a-z 0-9 + / - _ =)")
    # Accept the URL-safe alphabet and missing padding: both turn up in logs.
    compact = compact.replace("-", "+").replace("_", "/").rstrip("=")
    compact += "=" * (-len(compact) % 4)
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise InputError("not base64 (bad length or padding)") from None


def _parse_decimal(text: str) -> bytes:
    inner = text
    if inner.startswith("<<"):
        if not inner.endswith(">>"):
            raise InputError("binary literal must end with >>")
        inner = inner[2:-2]
    if not inner.strip():
        return b""
    values = []
    for part in inner.split(","):
        part = part.strip()
        if not part.isdigit():
            raise InputError(f"not a byte: {part!r} (only decimal integers 0..255)")
        value = int(part)
        if value > 255:
            raise InputError(f"not a byte: {value} (only 0..255)")
        values.append(value)
    return bytes(values)
