"""`phoenix-wire decode`: print captured Phoenix frames readably.

Input is one frame per line: a JSON text frame (V1 object or V2 array), or
the bytes of a frame as hex, base64 or ``<<...>>`` (V2 binary frames, text
frames, V3 MessagePack with ``--vsn 3.0.0``, or a bare Erlang term as
Fedecks sends them). ``--raw`` reads each file as the bytes of one frame.

A line that fails to decode prints the error with its byte offset and the
tool goes on; the exit status is 1 when any line failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Iterator

from . import etf as etf_tools
from .output import survive_closed_pipe
from .inputs import FORMATS, InputError, parse_bytes

__all__ = ["Decoded", "decode_item", "add_arguments", "run", "hexdump"]

DIRECTIONS = ("auto", "to_client", "to_server")
_KINDS = {0: "push", 1: "reply", 2: "broadcast"}
ETF_VERSION = 131


@dataclass
class Decoded:
    """One input item after decoding: either a frame, a term, or an error."""

    source: str
    text: str | bytes
    type: str = ""  # "text", "binary", "term" or "" when the input was unreadable
    vsn: str | None = None
    direction: str | None = None
    direction_guessed: bool = False
    kind: str | None = None
    size: int = 0
    message: Any = None
    term: Any = None
    payload_term: Any = None
    payload_term_error: str | None = None
    error: dict | None = None
    frame_bytes: bytes | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None


def _pw():
    import phoenix_wire

    return phoenix_wire


def _error(e: BaseException) -> dict:
    kind = getattr(e, "kind", None) or type(e).__name__
    return {"kind": str(kind), "offset": getattr(e, "offset", None), "message": str(e)}


def _text_vsn(first: str, vsn: str) -> str:
    if vsn != "auto":
        return vsn
    # V1 frames are objects and V2 text frames are arrays, so the first
    # character tells them apart; an explicit --vsn overrides.
    return "1.0.0" if first == "{" else "2.0.0"


def _major(vsn: str) -> str:
    return vsn.split(".", 1)[0]


def decode_item(
    source: str, item: str | bytes, *, fmt: str = "auto", vsn: str = "auto", direction: str = "auto"
) -> Decoded:
    """Decodes one input line (str) or one raw frame (bytes)."""
    d = Decoded(source=source, text=item)
    if isinstance(item, str):
        stripped = item.strip()
        if fmt in ("auto", "text") and stripped[:1] in ("[", "{"):
            return _decode_text(d, stripped, vsn)
        if fmt == "text":
            return _decode_text(d, stripped, vsn)
        try:
            data = parse_bytes(stripped, fmt)
        except InputError as e:
            d.error = {"kind": "BadInput", "offset": None, "message": str(e)}
            return d
    else:
        data = item
    return _decode_bytes(d, data, vsn, direction)


def _decode_text(d: Decoded, text: str | bytes, vsn: str) -> Decoded:
    pw = _pw()
    first = text.lstrip()[:1] if isinstance(text, str) else text.lstrip()[:1].decode("latin-1")
    d.type = "text"
    d.vsn = _text_vsn(first, vsn)
    d.frame_bytes = text.encode("utf-8") if isinstance(text, str) else text
    d.size = len(d.frame_bytes)
    try:
        if isinstance(text, str):
            d.message = pw.decode(text, vsn=d.vsn)
        else:
            d.message = pw.decode_text(text, vsn=d.vsn)
        # Payloads decode lazily; touch them here so that a bad payload is
        # reported as this line's error rather than while printing.
        _ = d.message.payload
    except ValueError as e:
        d.error = _error(e)
    return d


def _decode_bytes(d: Decoded, data: bytes, vsn: str, direction: str) -> Decoded:
    pw = _pw()
    d.frame_bytes = data
    d.size = len(data)
    looks_text = data.lstrip()[:1] in (b"[", b"{", b"")
    if (vsn != "auto" and _major(vsn) == "1") or (looks_text and (vsn == "auto" or _major(vsn) == "2")):
        # V1 has no binary frames; otherwise a frame that starts like JSON
        # (no binary kind byte is '[' or '{') is a text frame's bytes.
        return _decode_text(d, data, vsn)
    if data[:1] == bytes([ETF_VERSION]) and vsn == "auto":
        # No Phoenix binary frame has kind 131: this is a bare term, as
        # Fedecks sends them.
        d.type = "term"
        try:
            d.term = etf_tools._etf().loads(data)
        except ValueError as e:
            d.error = _error(e)
        return d
    d.type = "binary"
    d.vsn = "2.0.0" if vsn == "auto" else vsn
    if _major(d.vsn) == "3":
        # MessagePack frames look the same in both directions.
        d.direction = None
        try:
            d.message = pw.decode(data, vsn=d.vsn)
            _ = d.message.payload
        except ValueError as e:
            d.error = _error(e)
        return d
    d.kind = _KINDS.get(data[0], f"unknown ({data[0]})") if data else None
    candidates = [direction]
    if direction == "auto":
        d.direction_guessed = True
        # Kinds 1 and 2 only travel to clients; kind 0 has a layout per
        # direction, so try the client's (it carries a ref) and fall back.
        candidates = ["to_client"] if data[:1] in (b"\x01", b"\x02") else ["to_server", "to_client"]
    first_error = None
    for cand in candidates:
        try:
            msg = pw.decode(data, vsn=d.vsn, direction=cand)
            _ = msg.payload
        except ValueError as e:
            first_error = first_error or e
            continue
        d.message, d.direction = msg, cand
        break
    if d.message is None:
        d.direction = candidates[0]
        d.error = _error(first_error)
        return d
    _decode_payload_term(d)
    return d


def _binary_payload(msg: Any) -> bytes | None:
    """The raw payload of a binary frame (the response, for replies)."""
    if msg.event == "phx_reply":
        resp = getattr(msg, "response", None)
        if isinstance(resp, (bytes, bytearray, memoryview)):
            return bytes(resp)
    payload = msg.payload
    if isinstance(payload, (bytes, bytearray, memoryview)):
        return bytes(payload)
    return None


def _decode_payload_term(d: Decoded) -> None:
    data = _binary_payload(d.message)
    if data and data[0] == ETF_VERSION:
        try:
            d.payload_term = etf_tools._etf().loads(data)
        except ValueError as e:
            d.payload_term_error = etf_tools.describe_error(e)


# ---------------------------------------------------------------------------
# Output


def hexdump(data: bytes, indent: str = "  ") -> str:
    """Offset, hex and printable ASCII, 16 bytes a line."""
    lines = []
    for off in range(0, len(data), 16):
        chunk = data[off : off + 16]
        hexes = " ".join(f"{b:02x}" for b in chunk[:8])
        if len(chunk) > 8:
            hexes += "  " + " ".join(f"{b:02x}" for b in chunk[8:])
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{indent}{off:04x}  {hexes:<49} {text}")
    return "\n".join(lines) if lines else f"{indent}(empty)"


def _js(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _indent(text: str, prefix: str = "  ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def _json_block(value: Any) -> str:
    return _indent(json.dumps(value, ensure_ascii=False, indent=2))


def _error_context(d: Decoded) -> str:
    """The input around the error offset with a caret under the byte."""
    offset = d.error.get("offset") if d.error else None
    data = d.frame_bytes
    if offset is None or data is None:
        return ""
    lo = max(0, offset - 30)
    hi = min(len(data), offset + 30)
    if d.type == "text":
        before = data[lo:offset].decode("utf-8", "replace")
        shown = data[lo:hi].decode("utf-8", "replace")
        # Control characters would break the caret alignment; show them
        # as the replacement glyph.
        clean = "".join(c if c.isprintable() else "\u2423" for c in shown)
        col = len(before)
        return f"  {'...' if lo else ''}{clean}{'...' if hi < len(data) else ''}\n  {' ' * (col + (3 if lo else 0))}^"
    lo = max(0, offset - 8)
    hi = min(len(data), offset + 8)
    hexes = " ".join(f"{b:02x}" for b in data[lo:hi])
    col = (offset - lo) * 3
    return f"  {'... ' if lo else ''}{hexes}{' ...' if hi < len(data) else ''}\n  {' ' * (col + (4 if lo else 0))}^"


def render_text(d: Decoded) -> str:
    """The readable form of one decoded item."""
    if d.error is not None:
        where = f" at byte {d.error['offset']}" if d.error.get("offset") is not None else ""
        head = f"--- {d.source}: error {d.error['kind']}{where}"
        if d.type:
            head += f" ({_describe_kind(d)})"
        lines = [head, f"  {d.error['message']}"]
        ctx = _error_context(d)
        if ctx:
            lines.append(ctx)
        return "\n".join(lines)
    if d.type == "term":
        return f"--- {d.source}: Erlang term, {d.size} bytes\n{_indent(etf_tools.to_elixir(d.term, width=78))}"
    m = d.message
    lines = [f"--- {d.source}: {_describe_kind(d)}, {d.size} bytes"]
    lines.append(f"join_ref: {_js(m.join_ref)}")
    lines.append(f"ref:      {_js(m.ref)}")
    lines.append(f"topic:    {_js(m.topic)}")
    lines.append(f"event:    {_js(m.event)}")
    binary_payload = _binary_payload(m) if d.type == "binary" else None
    is_reply = d.kind == "reply"
    if d.type == "binary" and binary_payload is not None:
        if is_reply:
            lines.append(f"status:   {_js(m.status)}")
        label = "response" if is_reply else "payload"
        lines.append(f"{label}: {len(binary_payload)} bytes")
        lines.append(hexdump(binary_payload))
        if d.payload_term is not None:
            lines.append("term:")
            lines.append(_indent(etf_tools.to_elixir(d.payload_term, width=78)))
        elif d.payload_term_error:
            lines.append(f"  (starts like a term but is not one: {d.payload_term_error})")
    elif m.event == "phx_reply" and isinstance(m.payload, dict) and "status" in m.payload:
        lines.append(f"status:   {_js(m.payload.get('status'))}")
        lines.append("response:")
        lines.append(_json_block(m.payload.get("response")))
    else:
        lines.append("payload:")
        lines.append(_json_block(m.payload))
    return "\n".join(lines)


def _describe_kind(d: Decoded) -> str:
    if d.type == "text":
        return f"text frame, vsn {d.vsn} ({'V1 object' if _major(d.vsn or '') == '1' else 'V2 array'})"
    if d.type == "term":
        return "Erlang term"
    if d.vsn and _major(d.vsn) == "3":
        return f"MessagePack frame, vsn {d.vsn}"
    guessed = ", guessed: use --direction" if d.direction_guessed and d.kind == "push" else ""
    return f"binary frame, {d.kind}, {d.direction}{guessed}"


def to_record(d: Decoded) -> dict:
    """The JSON-lines form of one decoded item."""
    rec: dict[str, Any] = {"source": d.source, "ok": d.ok, "type": d.type or None}
    if d.vsn:
        rec["vsn"] = d.vsn
    if d.direction:
        rec["direction"] = d.direction
    if d.kind:
        rec["kind"] = d.kind
    rec["size"] = d.size
    if d.error is not None:
        rec["error"] = d.error
        return rec
    if d.type == "term":
        rec["term"] = etf_tools.to_json(d.term)
        rec["elixir"] = etf_tools.to_elixir(d.term, width=10**9)
        return rec
    m = d.message
    rec.update(join_ref=m.join_ref, ref=m.ref, topic=m.topic, event=m.event)
    if d.type == "binary":
        data = _binary_payload(m)
        if d.kind == "reply":
            rec["status"] = m.status
            rec["response_hex"] = data.hex() if data is not None else None
        rec["payload_hex"] = data.hex() if data is not None else None
        if d.payload_term is not None:
            rec["payload_term"] = etf_tools.to_json(d.payload_term)
            rec["payload_elixir"] = etf_tools.to_elixir(d.payload_term, width=10**9)
    else:
        rec["payload"] = m.payload
        if m.event == "phx_reply" and isinstance(m.payload, dict) and "status" in m.payload:
            rec["status"] = m.payload.get("status")
            rec["response"] = m.payload.get("response")
    return rec


# ---------------------------------------------------------------------------
# The subcommand


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Registers the `decode` options."""
    parser.description = __doc__.strip().split("\n\n", 1)[1]
    parser.add_argument("files", nargs="*", help="files to read ('-' or none: stdin)")
    parser.add_argument("--raw", action="store_true", help="each file is the raw bytes of one frame")
    parser.add_argument(
        "--format",
        choices=("auto", "text") + FORMATS[1:],
        default="auto",
        help="how lines are written: JSON text, hex, base64 or <<...>> (default: guess per line)",
    )
    parser.add_argument(
        "--vsn",
        default="auto",
        help="protocol version, e.g. 1.0.0, 2.0.0, 3.0.0 (default: V1 for objects, V2 otherwise)",
    )
    parser.add_argument(
        "--direction",
        choices=DIRECTIONS,
        default="auto",
        help="layout of binary kind-0 frames (default: try to_server, then to_client)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object per line")


def _items(args: argparse.Namespace) -> Iterator[tuple[str, str | bytes]]:
    files = args.files or ["-"]
    for path in files:
        name = "<stdin>" if path == "-" else path
        if path == "-":
            yield from _from_stream(name, sys.stdin.buffer, args.raw)
        else:
            with open(path, "rb") as f:
                yield from _from_stream(name, f, args.raw)


def _from_stream(name: str, stream: BinaryIO, raw: bool) -> Iterator[tuple[str, str | bytes]]:
    if raw:
        yield name, stream.read()
        return
    for n, line in enumerate(stream, 1):
        line = line.rstrip(b"\r\n")
        if not line.strip():
            continue
        try:
            yield f"{name}:{n}", line.decode("utf-8")
        except UnicodeDecodeError:
            # Not UTF-8: hand the bytes to the decoder, which reports the
            # offset of the first bad byte.
            yield f"{name}:{n}", line


@survive_closed_pipe
def run(args: argparse.Namespace) -> int:
    """Decodes every input item; returns 1 if any failed."""
    failed = 0
    first = True
    for source, item in _items(args):
        d = decode_item(source, item, fmt=args.format, vsn=args.vsn, direction=args.direction)
        if not d.ok:
            failed += 1
        if args.json:
            print(json.dumps(to_record(d), ensure_ascii=False))
        else:
            if not first:
                print()
            print(render_text(d))
        first = False
    return 1 if failed else 0
