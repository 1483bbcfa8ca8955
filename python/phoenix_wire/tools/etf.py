"""`phoenix-wire etf`: Erlang terms in Elixir syntax, and terms <-> JSON.

Decoding and encoding are done by :mod:`phoenix_wire.etf`; this module only
prints terms the way `iex` would and maps them to and from JSON.

JSON convention (used by ``etf encode``, ``etf decode --json``,
``encode --payload-term`` and ``decode --json``; the mock server's admin API
and config use the same ``$`` tags)::

    null, true, false            nil, true, false (atoms)
    123, -4, 2.5                 integers (any size) and floats
    "text"                       a binary (an Elixir string)
    [1, 2]                       a proper list
    {"k": v, ...}                a map with binary keys
    {"$atom": "ok"}              :ok
    {"$tuple": [a, b]}           {a, b}
    {"$base64": "3q2+7w=="}      a binary given as base64 (for non-UTF-8 bytes)
    {"$charlist": "abc"}         ~c"abc" (a list of code points)
    {"$map": [[k, v], ...]}      a map with any keys
    {"$improper": [[a, b], t]}   [a, b | t]
    {"$bits": ["base64", n]}     a bitstring whose last byte has n used bits

An object is one of the tagged forms only when it has exactly one key and
that key is one of the tags above; every other object is a plain map. When
decoding, a binary that is not UTF-8 becomes ``$base64``, a map whose keys
are not all binaries (or a one-entry map whose key is a tag) becomes
``$map``, and a charlist becomes a plain list of integers (JSON cannot tell
them apart; Elixir's ``'abc' == [97, 98, 99]`` agrees). Pids, ports and
references (only with ``--allow-pids``) print as ``{"$repr": "#PID<...>"}``
and cannot be encoded back.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import math
import re
import sys
from typing import Any, Callable, Iterable

from .output import survive_closed_pipe
from .inputs import FORMATS, InputError, parse_bytes

__all__ = [
    "to_elixir",
    "to_json",
    "from_json",
    "TermJsonError",
    "add_arguments",
    "run",
]

TAGS = (
    "$atom",
    "$tuple",
    "$base64",
    "$charlist",
    "$map",
    "$improper",
    "$bits",
)


class TermJsonError(ValueError):
    """JSON that does not follow the term convention; `path` says where."""

    def __init__(self, message: str, path: str) -> None:
        super().__init__(f"{message} at {path or 'the top level'}")
        self.path = path


def _etf():
    # Imported on use so that the frame tools keep working on a build whose
    # etf part is missing, and `--help` never loads the native module.
    from phoenix_wire import etf

    return etf


# ---------------------------------------------------------------------------
# Elixir syntax


_IDENT = re.compile(r"[a-z_][a-zA-Z0-9_@]*[?!]?")
_ANY_CASE_IDENT = re.compile(r"[A-Za-z_][a-zA-Z0-9_@]*[?!]?")
_ALIAS = re.compile(r"Elixir(\.[A-Z][a-zA-Z0-9_]*)+")
_OPERATORS = frozenset(
    "+ - * / ++ -- < > <= >= == != === !== =~ && || ! & | <> <<>> .. ... "
    "|> <<< >>> ~~~ ^^^ \\\\ <- -> :: = ^ @ %{} {} % []".split()
)
_STRING_ESCAPES = {
    "\\": "\\\\",
    '"': '\\"',
    "\n": "\\n",
    "\t": "\\t",
    "\r": "\\r",
    "\x1b": "\\e",
    "\x07": "\\a",
    "\x08": "\\b",
    "\x0c": "\\f",
    "\x0b": "\\v",
    "\x00": "\\0",
}
# Elixir prints a list as a charlist when every element is one of these
# (List.ascii_printable?/1).
_CHARLIST_CODES = frozenset(range(32, 127)) | {7, 8, 9, 10, 11, 12, 13, 27}


def _atom_name(x: Any) -> str | None:
    """The name of an atom object, or None if `x` is not an atom."""
    etf = _etf()
    if isinstance(x, etf.Atom):
        name = getattr(x, "name", None)
        if isinstance(name, str):
            return str.__str__(name)
        # Atom is a str subclass: its own text, whatever __str__ says.
        return str.__str__(x) if isinstance(x, str) else str(x)
    return None


def _atom_literal(name: str) -> str:
    if name in ("true", "false", "nil"):
        return name
    if _ALIAS.fullmatch(name):
        return name[len("Elixir.") :]
    if _ANY_CASE_IDENT.fullmatch(name) or name in _OPERATORS:
        return ":" + name
    return ":" + _quote(name)


def _key_literal(name: str) -> str:
    """An atom written as a keyword key (`name: value`)."""
    if _IDENT.fullmatch(name) or _ANY_CASE_IDENT.fullmatch(name):
        return name + ":"
    return _quote(name) + ":"


def _quote(text: str, *, sigil: bool = False) -> str:
    out = []
    for ch in text:
        esc = _STRING_ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
        elif not ch.isprintable():
            out.append(f"\\u{{{ord(ch):X}}}")
        else:
            out.append(ch)
    body = "".join(out).replace("#{", "\\#{")
    return ("~c" if sigil else "") + '"' + body + '"'


def _printable_text(data: bytes) -> str | None:
    """The text of `data` if Elixir would print it as a string, else None."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    for ch in text:
        if ch not in _STRING_ESCAPES and not ch.isprintable():
            return None
    return text


def _float_literal(value: float) -> str:
    if not math.isfinite(value):
        # Terms cannot hold these (the decoder rejects them); show them
        # plainly rather than fail if a caller passes one in.
        return repr(value)
    text = repr(value)
    mantissa, _, exponent = text.partition("e")
    if "." not in mantissa:
        mantissa += ".0"
    if not exponent:
        return mantissa
    sign = "-" if exponent.startswith("-") else ""
    return f"{mantissa}e{sign}{exponent.lstrip('+-').lstrip('0') or '0'}"


def _improper_parts(x: Any) -> tuple[list, Any]:
    """The elements and the tail of an ImproperList."""
    for items_attr in ("elements", "items", "head", "list"):
        if hasattr(x, items_attr) and hasattr(x, "tail"):
            return list(getattr(x, items_attr)), x.tail
    raise TypeError(f"cannot read improper list {x!r}")


def _bits_parts(x: Any) -> tuple[bytes, int]:
    """The bytes and the used bits of the last byte of a BitBinary."""
    data = getattr(x, "data", None)
    if data is None:
        data = bytes(x)
    return bytes(data), int(x.bits)


class _Node:
    """A container ready for layout: open/close text and (prefix, child) items."""

    __slots__ = ("open", "items", "close")

    def __init__(self, open_: str, items: list[tuple[str, Any]], close: str) -> None:
        self.open = open_
        self.items = items
        self.close = close


def _structure(x: Any) -> str | _Node:
    """An atom of output (a finished literal) or a container node."""
    etf = _etf()
    if x is None:
        return "nil"
    if x is True:
        return "true"
    if x is False:
        return "false"
    name = _atom_name(x)
    if name is not None:
        return _atom_literal(name)
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        return _float_literal(x)
    if isinstance(x, str):
        return _quote(x)
    if isinstance(x, (bytes, bytearray, memoryview)):
        data = bytes(x)
        text = _printable_text(data)
        if text is not None:
            return _quote(text)
        return _Node("<<", [("", b) for b in data], ">>")
    bit_binary = getattr(etf, "BitBinary", None)
    if bit_binary is not None and isinstance(x, bit_binary):
        data, bits = _bits_parts(x)
        items: list[tuple[str, Any]] = [("", b) for b in data[:-1]]
        if data:
            items.append(("", _Raw(f"{data[-1] >> (8 - bits) if bits else 0}::size({bits})")))
        return _Node("<<", items, ">>")
    if isinstance(x, tuple):
        return _Node("{", [("", e) for e in x], "}")
    if isinstance(x, list):
        return _list_structure(x)
    improper = getattr(etf, "ImproperList", None)
    if improper is not None and isinstance(x, improper):
        elements, tail = _improper_parts(x)
        items = [("", e) for e in elements]
        if items:
            last_prefix, last = items[-1]
            items[-1] = (last_prefix, _Improper(last, tail))
        return _Node("[", items, "]")
    if isinstance(x, dict):
        return _map_structure(x)
    if isinstance(x, _Raw):
        return x.text
    if isinstance(x, _Improper):
        return _Node("", [("", x.last), ("| ", x.tail)], "")
    # Pids, ports and references (only decoded on request): Elixir's
    # #PID<...> shape, with the node name where iex shows a node number.
    return _identifier(x)


def _identifier(x: Any) -> str:
    kind = type(x).__name__
    node = getattr(x, "node", None)
    if kind == "Pid" and node is not None:
        return f"#PID<{node}.{x.id}.{x.serial}>"
    if kind == "Port" and node is not None:
        return f"#Port<{node}.{x.id}>"
    if kind == "Reference" and node is not None:
        return f"#Reference<{node}.{'.'.join(map(str, x.ids))}>"
    return repr(x)


class _Raw:
    """Text to print as is (a bitstring's last segment)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class _Improper:
    """The last element and tail of an improper list: `last | tail`."""

    __slots__ = ("last", "tail")

    def __init__(self, last: Any, tail: Any) -> None:
        self.last = last
        self.tail = tail


def _list_structure(x: list) -> str | _Node:
    if x and all(isinstance(e, int) and not isinstance(e, bool) and e in _CHARLIST_CODES for e in x):
        return _quote("".join(map(chr, x)), sigil=True)
    if x and all(isinstance(e, tuple) and len(e) == 2 and _atom_name(e[0]) is not None for e in x):
        return _Node("[", [(_key_literal(_atom_name(k)) + " ", v) for k, v in x], "]")
    return _Node("[", [("", e) for e in x], "]")


def _map_structure(x: dict) -> _Node:
    names = {k: _atom_name(k) for k in x}
    struct = None
    for k, n in names.items():
        if n == "__struct__":
            struct_name = _atom_name(x[k])
            if struct_name is not None and _ALIAS.fullmatch(struct_name):
                struct = struct_name[len("Elixir.") :]
    keys = [k for k in x if not (struct and names[k] == "__struct__")]
    if all(names[k] is not None for k in keys):
        items = [(_key_literal(names[k]) + " ", x[k]) for k in keys]
    else:
        items = [(_flat(k) + " => ", x[k]) for k in keys]
    return _Node(f"%{struct}{{" if struct else "%{", items, "}")


def _flat(x: Any) -> str:
    s = _structure(x)
    if isinstance(s, str):
        return s
    inner = ", ".join(prefix + _flat(child) for prefix, child in s.items)
    if s.open == "" and s.close == "":
        # `last | tail` inside a list.
        return " ".join(prefix + _flat(child) for prefix, child in s.items)
    return s.open + inner + s.close


def _layout(x: Any, indent: int, width: int) -> str:
    flat = _flat(x)
    s = _structure(x)
    if isinstance(s, str) or indent + len(flat) <= width or not s.items:
        return flat
    pad = " " * (indent + 2)
    if s.open == "" and s.close == "":
        return flat
    lines = [s.open]
    for i, (prefix, child) in enumerate(s.items):
        body = _layout(child, indent + 2 + len(prefix), width)
        comma = "," if i + 1 < len(s.items) else ""
        lines.append(pad + prefix + body + comma)
    lines.append(" " * indent + s.close)
    return "\n".join(lines)


def to_elixir(term: Any, *, width: int = 80) -> str:
    """`term` (as returned by ``phoenix_wire.etf.loads``) in Elixir syntax.

    Follows `inspect/2`: printable binaries as strings, others as
    ``<<...>>``; printable lists as ``~c"..."``; keyword lists and atom-keyed
    maps with ``key: value``; ``Elixir.Foo`` as ``Foo``; structs as
    ``%Foo{...}``. Anything longer than `width` is broken over lines.
    """
    return _layout(term, 0, width)


# ---------------------------------------------------------------------------
# JSON


_SPECIAL_ATOMS = {"true": True, "false": False, "nil": None}


def to_json(term: Any) -> Any:
    """`term` as JSON-ready Python objects, following the module's convention."""
    etf = _etf()
    if term is None or isinstance(term, (bool, int, float)):
        return term
    name = _atom_name(term)
    if name is not None:
        if name in _SPECIAL_ATOMS:
            return _SPECIAL_ATOMS[name]
        return {"$atom": name}
    if isinstance(term, str):
        return term
    if isinstance(term, (bytes, bytearray, memoryview)):
        data = bytes(term)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return {"$base64": base64.b64encode(data).decode("ascii")}
    bit_binary = getattr(etf, "BitBinary", None)
    if bit_binary is not None and isinstance(term, bit_binary):
        data, bits = _bits_parts(term)
        return {"$bits": [base64.b64encode(data).decode("ascii"), bits]}
    if isinstance(term, tuple):
        return {"$tuple": [to_json(e) for e in term]}
    if isinstance(term, list):
        return [to_json(e) for e in term]
    improper = getattr(etf, "ImproperList", None)
    if improper is not None and isinstance(term, improper):
        elements, tail = _improper_parts(term)
        return {"$improper": [[to_json(e) for e in elements], to_json(tail)]}
    if isinstance(term, dict):
        keys = [to_json(k) for k in term]
        plain = all(isinstance(k, str) for k in keys) and not (len(keys) == 1 and keys[0] in TAGS)
        if plain and len(set(keys)) == len(keys):
            return {k: to_json(v) for k, v in zip(keys, term.values())}
        return {"$map": [[k, to_json(v)] for k, v in zip(keys, term.values())]}
    return {"$repr": _identifier(term)}


def from_json(value: Any, path: str = "") -> Any:
    """The term (objects for ``phoenix_wire.etf.dumps``) that JSON `value` means.

    Raises :class:`TermJsonError` naming the JSON path of a malformed tag.
    """
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [from_json(e, f"{path}[{i}]") for i, e in enumerate(value)]
    if not isinstance(value, dict):
        raise TermJsonError(f"unsupported JSON value {type(value).__name__}", path)
    if len(value) == 1:
        ((tag, inner),) = value.items()
        if tag in TAGS:
            return _from_tag(tag, inner, f"{path}.{tag}")
    return {k: from_json(v, f"{path}.{k}") for k, v in value.items()}


def _from_tag(tag: str, inner: Any, path: str) -> Any:
    etf = _etf()
    if tag == "$atom":
        if not isinstance(inner, str):
            raise TermJsonError("$atom needs a string", path)
        return etf.Atom(inner)
    if tag == "$tuple":
        if not isinstance(inner, list):
            raise TermJsonError("$tuple needs an array", path)
        return tuple(from_json(e, f"{path}[{i}]") for i, e in enumerate(inner))
    if tag == "$base64":
        if not isinstance(inner, str):
            raise TermJsonError("$base64 needs a base64 string", path)
        try:
            return parse_bytes(inner, "base64")
        except InputError as e:
            raise TermJsonError(str(e), path) from None
    if tag == "$charlist":
        if not isinstance(inner, str):
            raise TermJsonError("$charlist needs a string", path)
        return [ord(c) for c in inner]
    if tag == "$map":
        if not isinstance(inner, list) or not all(isinstance(p, list) and len(p) == 2 for p in inner):
            raise TermJsonError("$map needs an array of [key, value] pairs", path)
        out = {}
        for i, (k, v) in enumerate(inner):
            key = from_json(k, f"{path}[{i}][0]")
            try:
                out[key] = from_json(v, f"{path}[{i}][1]")
            except TypeError:
                raise TermJsonError("this key cannot be a map key here (unhashable)", f"{path}[{i}][0]") from None
        return out
    if tag == "$improper":
        if not (isinstance(inner, list) and len(inner) == 2 and isinstance(inner[0], list) and inner[0]):
            raise TermJsonError("$improper needs [[elements...], tail] with at least one element", path)
        elements = [from_json(e, f"{path}[0][{i}]") for i, e in enumerate(inner[0])]
        return etf.ImproperList(elements, from_json(inner[1], f"{path}[1]"))
    if tag == "$bits":
        shape_ok = isinstance(inner, list) and len(inner) == 2
        if not (shape_ok and isinstance(inner[0], str) and isinstance(inner[1], int)):
            raise TermJsonError('$bits needs ["base64", used_bits]', path)
        try:
            data = parse_bytes(inner[0], "base64")
        except InputError as e:
            raise TermJsonError(str(e), path) from None
        return etf.BitBinary(data, inner[1])
    raise TermJsonError(f"unknown tag {tag}", path)


# ---------------------------------------------------------------------------
# The subcommand


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Registers `etf decode` and `etf encode`."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = __doc__[__doc__.index("JSON convention") :]
    sub = parser.add_subparsers(dest="etf_command", metavar="{decode,encode}")
    sub.required = True

    dec = sub.add_parser(
        "decode",
        help="external term format -> Elixir syntax or JSON",
        description="Decode external-term binaries (one per argument or input line, or a whole "
        "file with --raw) and print them in Elixir syntax, or as JSON with --json.",
    )
    dec.add_argument("data", nargs="*", help="terms as hex, base64 or <<131, ...>>; none: read --file or stdin")
    dec.add_argument("-f", "--file", help="read from this file ('-' for stdin)")
    dec.add_argument("--raw", action="store_true", help="the file holds one term as raw bytes")
    dec.add_argument("--format", choices=FORMATS, default="auto", help="how each line is written (default: guess)")
    dec.add_argument("--json", action="store_true", help="print JSON (see the convention below)")
    dec.add_argument("--unsafe", action="store_true", help="accept atoms and terms that safe mode rejects (never funs)")
    dec.add_argument("--allow-pids", action="store_true", help="accept pids, ports and references")
    dec.add_argument("--width", type=int, default=80, help="line width for Elixir output")

    enc = sub.add_parser(
        "encode",
        help="JSON -> external term format",
        description="Encode a JSON value (argument, or stdin lines) to the external term format.",
    )
    enc.add_argument("json", nargs="*", help="JSON values; none: one per stdin line")
    enc.add_argument(
        "--output",
        choices=("hex", "base64", "bytes", "raw"),
        default="hex",
        help="hex (default), base64, Erlang <<...>> or raw bytes on stdout",
    )
    enc.add_argument("--compressed", action="store_true", help="write a compressed term (tag 80)")
    enc.add_argument("--legacy-atoms", action="store_true", help="write atoms as OTP <= 25 does (tag 100)")
    enc.add_argument("--deterministic", action="store_true", help="sort map keys in Erlang term order")


def _lines(args: argparse.Namespace, values: list[str]) -> Iterable[tuple[str, str | bytes]]:
    """(where, text-or-bytes) for every input item."""
    if values:
        for i, v in enumerate(values, 1):
            yield f"arg {i}", v
        return
    path = getattr(args, "file", None) or "-"
    name = "<stdin>" if path == "-" else path
    if getattr(args, "raw", False):
        data = sys.stdin.buffer.read() if path == "-" else open(path, "rb").read()
        yield name, data
        return
    stream = sys.stdin if path == "-" else open(path, encoding="utf-8", errors="replace")
    with contextlib.nullcontext(stream) if path == "-" else stream:
        for n, line in enumerate(stream, 1):
            if line.strip():
                yield f"{name}:{n}", line


def loads_options(args: argparse.Namespace) -> dict:
    """The keyword arguments for ``etf.loads`` that the flags ask for."""
    return {"safe": not getattr(args, "unsafe", False), "allow_pids": getattr(args, "allow_pids", False)}


def _run_decode(args: argparse.Namespace, out: Callable[[str], None], err: Callable[[str], None]) -> int:
    etf = _etf()
    failed = 0
    for where, item in _lines(args, args.data):
        try:
            data = item if isinstance(item, bytes) else parse_bytes(item, args.format)
        except InputError as e:
            failed += 1
            err(f"{where}: {e}")
            continue
        try:
            term = etf.loads(data, **loads_options(args))
        except ValueError as e:
            failed += 1
            err(f"{where}: {describe_error(e)}")
            continue
        if args.json:
            out(json.dumps(to_json(term), ensure_ascii=False))
        else:
            out(to_elixir(term, width=args.width))
    return 1 if failed else 0


def describe_error(e: BaseException) -> str:
    """`kind at byte N: message` for a codec error, its text for anything else."""
    kind = getattr(e, "kind", None)
    offset = getattr(e, "offset", None)
    if kind is not None and offset is not None:
        return f"{kind} at byte {offset}: {e}"
    return str(e) or type(e).__name__


def format_bytes(data: bytes, output: str) -> str | bytes:
    """`data` written as hex, base64, an Erlang binary, or left raw."""
    if output == "hex":
        return data.hex()
    if output == "base64":
        return base64.b64encode(data).decode("ascii")
    if output == "bytes":
        return "<<" + ", ".join(map(str, data)) + ">>"
    return data


def _run_encode(args: argparse.Namespace, out: Callable[[str], None], err: Callable[[str], None]) -> int:
    etf = _etf()
    items = list(_lines(args, args.json))
    failed = 0
    for where, text in items:
        try:
            term = from_json(json.loads(text))
            data = etf.dumps(
                term,
                compressed=args.compressed,
                atom_tags="legacy" if args.legacy_atoms else "utf8",
                deterministic=args.deterministic,
            )
        except json.JSONDecodeError as e:
            failed += 1
            err(f"{where}: not JSON: {e.msg} at character {e.pos}")
            continue
        except (ValueError, TypeError) as e:
            failed += 1
            err(f"{where}: {describe_error(e)}")
            continue
        formatted = format_bytes(data, args.output)
        if isinstance(formatted, bytes):
            sys.stdout.buffer.write(formatted)
            sys.stdout.buffer.flush()
        else:
            out(formatted)
    return 1 if failed else 0


@survive_closed_pipe
def run(args: argparse.Namespace) -> int:
    """Runs `etf decode` or `etf encode`; returns the exit status."""

    def out(s: str) -> None:
        print(s, flush=False)

    def err(s: str) -> None:
        print(f"error: {s}", file=sys.stderr)

    if args.etf_command == "decode":
        return _run_decode(args, out, err)
    return _run_encode(args, out, err)
