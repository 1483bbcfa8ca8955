"""`phoenix-wire encode`: build Phoenix frames from arguments or JSON.

Either give the parts as options::

    phoenix-wire encode --join-ref 1 --ref 1 --topic room:lobby --event phx_join --payload '{}'

or one frame per JSON argument (``-`` reads JSON lines from stdin), as a V2
array ``[join_ref, ref, topic, event, payload]`` or an object with those
keys (plus ``status`` to build a ``phx_reply`` whose response is the
payload; with ``--binary`` that is a kind-1 reply). For ``--binary`` the payload is bytes: a JSON string is taken as
UTF-8, or use ``payload_hex`` / ``payload_base64`` / ``payload_term`` (JSON
in the ``phoenix-wire etf`` convention, encoded as an Erlang term) in the
object form, or the ``--payload-hex`` / ``--payload-base64`` /
``--payload-term`` options.

Text frames print as text; binary frames as hex (``--output`` picks text,
hex, base64 as the long-poll transport carries them, or raw bytes).
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from typing import Any, Iterator

from . import etf as etf_tools
from .output import survive_closed_pipe
from .inputs import InputError, parse_bytes

__all__ = ["FrameSpec", "encode_frame", "add_arguments", "run"]

_FIELDS = ("join_ref", "ref", "topic", "event", "payload")


class SpecError(ValueError):
    """A frame description that cannot be encoded (before the codec sees it)."""


class FrameSpec:
    """The parts of one frame to encode."""

    __slots__ = ("join_ref", "ref", "topic", "event", "payload", "status")

    def __init__(self, join_ref: Any, ref: Any, topic: Any, event: Any, payload: Any, status: Any = None) -> None:
        self.join_ref = join_ref
        self.ref = ref
        self.topic = topic
        self.event = event
        self.payload = payload
        self.status = status


def _binary_payload(obj: dict, binary: bool) -> Any:
    """The payload from the object form, honouring payload_hex/base64/term."""
    given = [k for k in ("payload", "payload_hex", "payload_base64", "payload_term") if k in obj]
    if len(given) > 1:
        raise SpecError(f"give only one of {', '.join(given)}")
    if not given:
        return {} if not binary else b""
    key = given[0]
    value = obj[key]
    if key == "payload":
        return _as_bytes(value) if binary else value
    if not binary:
        raise SpecError(f"{key} needs --binary")
    if key == "payload_term":
        return etf_tools._etf().dumps(etf_tools.from_json(value))
    if not isinstance(value, str):
        raise SpecError(f"{key} must be a string")
    try:
        return parse_bytes(value, "hex" if key == "payload_hex" else "base64")
    except InputError as e:
        raise SpecError(f"{key}: {e}") from None


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    raise SpecError("a binary payload must be a string (UTF-8) or given as payload_hex/payload_base64/payload_term")


def spec_from_json(value: Any, binary: bool) -> FrameSpec:
    """A :class:`FrameSpec` from a JSON array or object."""
    if isinstance(value, list):
        if len(value) != 5:
            raise SpecError("a frame array needs exactly 5 elements: [join_ref, ref, topic, event, payload]")
        jr, ref, topic, event, payload = value
        return FrameSpec(jr, ref, topic, event, _as_bytes(payload) if binary else payload)
    if isinstance(value, dict):
        unknown = set(value) - set(_FIELDS) - {"status", "payload_hex", "payload_base64", "payload_term"}
        if unknown:
            raise SpecError(f"unknown keys: {', '.join(sorted(unknown))}")
        for key in ("topic",):
            if key not in value:
                raise SpecError(f"missing {key}")
        if "event" not in value and "status" not in value:
            raise SpecError("missing event")
        return FrameSpec(
            value.get("join_ref"),
            value.get("ref"),
            value["topic"],
            value.get("event", "phx_reply"),
            _binary_payload(value, binary),
            value.get("status"),
        )
    raise SpecError("a frame is a JSON array or object")


def encode_frame(
    spec: FrameSpec, *, vsn: str = "2.0.0", binary: bool = False, direction: str = "to_server"
) -> str | bytes:
    """The frame `spec` describes, encoded by ``phoenix_wire``."""
    import phoenix_wire as pw

    if spec.status is not None:
        if binary:
            # Replies only travel to clients; kind 1 carries the raw response.
            return pw.reply_binary(spec.join_ref, spec.ref, spec.topic, spec.status, spec.payload)
        return pw.reply(spec.join_ref, spec.ref, spec.topic, spec.status, spec.payload, vsn=vsn)
    if binary and vsn.split(".", 1)[0] != "3":
        return pw.encode_binary(spec.join_ref, spec.ref, spec.topic, spec.event, spec.payload, direction=direction)
    return pw.encode(spec.join_ref, spec.ref, spec.topic, spec.event, spec.payload, vsn=vsn)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Registers the `encode` options."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = __doc__.strip().split("\n\n", 1)[1]
    parser.add_argument(
        "frames", nargs="*", metavar="JSON", help="frames as JSON arrays or objects; '-' reads JSON lines from stdin"
    )
    parser.add_argument("--join-ref", help="join_ref (default: null)")
    parser.add_argument("--ref", help="ref (default: null)")
    parser.add_argument("--int-refs", action="store_true", help="write --join-ref/--ref as integers")
    parser.add_argument("--topic", help="topic")
    parser.add_argument("--event", help="event")
    parser.add_argument("--payload", help="payload as JSON (default {}); with --binary, its UTF-8 text")
    parser.add_argument("--payload-hex", help="binary payload as hex")
    parser.add_argument("--payload-base64", help="binary payload as base64")
    parser.add_argument("--payload-term", help="binary payload: this JSON encoded as an Erlang term")
    parser.add_argument("--status", help="build a phx_reply with this status; the payload is the response")
    parser.add_argument("--vsn", default="2.0.0", help="protocol version (default 2.0.0; 1.x writes V1 objects)")
    parser.add_argument("--binary", action="store_true", help="write a V2 binary frame (payload is bytes)")
    parser.add_argument(
        "--direction",
        choices=("to_server", "to_client"),
        default="to_server",
        help="binary layout: a client push (default) or a server push/broadcast",
    )
    parser.add_argument(
        "--output",
        choices=("text", "hex", "base64", "raw"),
        help="text (default for text frames), hex (default for binary), base64 or raw bytes",
    )


def _ref(value: str | None, as_int: bool) -> Any:
    if value is None or not as_int:
        return value
    try:
        return int(value)
    except ValueError:
        raise SpecError(f"--int-refs: {value!r} is not an integer") from None


def _spec_from_flags(args: argparse.Namespace) -> FrameSpec:
    if args.topic is None or (args.event is None and args.status is None):
        raise SpecError("give --topic and --event (or --status), or frames as JSON")
    obj: dict[str, Any] = {"topic": args.topic}
    if args.event is not None:
        obj["event"] = args.event
    if args.status is not None:
        obj["status"] = args.status
    if args.payload is not None:
        if args.binary:
            obj["payload"] = args.payload
        else:
            try:
                obj["payload"] = json.loads(args.payload)
            except json.JSONDecodeError as e:
                raise SpecError(f"--payload is not JSON: {e.msg} at character {e.pos}") from None
    for flag in ("payload_hex", "payload_base64"):
        if getattr(args, flag) is not None:
            obj[flag] = getattr(args, flag)
    if args.payload_term is not None:
        try:
            obj["payload_term"] = json.loads(args.payload_term)
        except json.JSONDecodeError as e:
            raise SpecError(f"--payload-term is not JSON: {e.msg} at character {e.pos}") from None
    spec = spec_from_json(obj, args.binary)
    spec.join_ref = _ref(args.join_ref, args.int_refs)
    spec.ref = _ref(args.ref, args.int_refs)
    return spec


def _json_items(frames: list[str]) -> Iterator[tuple[str, str]]:
    for i, arg in enumerate(frames, 1):
        if arg == "-":
            for n, line in enumerate(sys.stdin, 1):
                if line.strip():
                    yield f"<stdin>:{n}", line
        else:
            yield f"arg {i}", arg


def _write(frame: str | bytes, output: str | None) -> None:
    data = frame.encode("utf-8") if isinstance(frame, str) else frame
    if output is None:
        output = "text" if isinstance(frame, str) else "hex"
    if output == "text":
        if isinstance(frame, bytes):
            raise SpecError("a binary frame has no text form; use --output hex, base64 or raw")
        print(frame)
    elif output == "hex":
        print(data.hex())
    elif output == "base64":
        print(base64.b64encode(data).decode("ascii"))
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()


@survive_closed_pipe
def run(args: argparse.Namespace) -> int:
    """Encodes and prints each frame; returns 1 if any could not be built."""
    failed = 0
    kwargs = {"vsn": args.vsn, "binary": args.binary, "direction": args.direction}
    if not args.frames:
        try:
            _write(encode_frame(_spec_from_flags(args), **kwargs), args.output)
        except (ValueError, TypeError) as e:
            print(f"error: {etf_tools.describe_error(e)}", file=sys.stderr)
            return 1
        return 0
    for where, text in _json_items(args.frames):
        try:
            spec = spec_from_json(json.loads(text), args.binary)
            _write(encode_frame(spec, **kwargs), args.output)
        except json.JSONDecodeError as e:
            failed += 1
            print(f"error: {where}: not JSON: {e.msg} at character {e.pos}", file=sys.stderr)
        except (ValueError, TypeError) as e:
            failed += 1
            print(f"error: {where}: {etf_tools.describe_error(e)}", file=sys.stderr)
    return 1 if failed else 0
