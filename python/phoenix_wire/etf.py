"""Erlang external term format, decoded safely and encoded by the Rust codec.

What Fedecks devices and servers put in binary websocket frames::

    >>> from phoenix_wire import etf
    >>> etf.loads(bytes([131, 104, 2, 100, 0, 5]) + b"token" + bytes([109, 0, 0, 0, 3]) + b"abc")
    (Atom('token'), b'abc')
    >>> etf.dumps({"fedecks-device-id": "nerves-1"}, atom_tags="legacy")[:8]
    b'\\x83t\\x00\\x00\\x00\\x01m\\x00'
    >>> etf.loads(etf.dumps([1, 2.5, None, True, Atom("ok"), (b"x",)]))
    [1, 2.5, None, True, Atom('ok'), (b'x',)]

Python and terms map as follows (``dumps`` left to right, ``loads`` right to
left):

====================================  ==========================================
Python                                Erlang term
====================================  ==========================================
``None``, ``True``, ``False``         atoms ``nil``, ``true``, ``false``
``int`` (any size)                    integer, bignum
``float`` (finite)                    float
``str``                               binary (UTF-8; an Elixir string)
``bytes``, ``bytearray``              binary (``loads`` gives ``bytes``, or
                                      ``str`` with ``binaries="str"``)
``tuple``                             tuple
``list``                              proper list (a charlist reads as ints)
``dict``                              map
:class:`Atom`                         atom
:class:`ImproperList`                 improper list ``[a, b | tail]``
:class:`BitBinary`                    bitstring
:class:`Pid`, :class:`Port`,          pid, port, reference (``loads`` only with
:class:`Reference`                    ``allow_pids=True`` or ``safe=False``)
====================================  ==========================================

``loads`` is safe by default: funs and exports are never accepted, atoms are
never interned (they are plain ``Atom`` strings) and can be restricted to an
allow-list, nesting and inflated sizes are bounded, and every error is a
:class:`DecodeError` with the codec's ``kind`` and byte ``offset``.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, List, Literal, Optional, Tuple, Union

from ._native import DecodeError, EncodeError
from ._native import etf as _native_etf

__all__ = [
    "Atom",
    "BitBinary",
    "DecodeError",
    "EncodeError",
    "ImproperList",
    "Pid",
    "Port",
    "Reference",
    "dumps",
    "loads",
]


class Atom(str):
    """An Erlang atom: a ``str`` that ``dumps`` writes as an atom.

    It is hashable and compares equal to its name (``Atom("ok") == "ok"``),
    so atom-keyed maps can be read with plain strings.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Atom({str.__repr__(self)})"


@dataclass
class ImproperList:
    """A list whose tail is not ``[]``: ``[*items | tail]``."""

    items: List[Any]
    tail: Any


@dataclass(frozen=True)
class BitBinary:
    """A bitstring: ``data``, of whose last byte only the high ``bits``
    (1..7) bits belong to the value."""

    data: bytes
    bits: int


@dataclass(frozen=True)
class Pid:
    """An Erlang process id."""

    node: Atom
    id: int
    serial: int
    creation: int


@dataclass(frozen=True)
class Port:
    """An Erlang port."""

    node: Atom
    id: int
    creation: int


@dataclass(frozen=True)
class Reference:
    """An Erlang reference: node, creation and one to five id words."""

    node: Atom
    creation: int
    ids: Tuple[int, ...]


_native_etf._register(Atom, ImproperList, BitBinary, Pid, Port, Reference)

if TYPE_CHECKING:

    def loads(
        data: Union[bytes, bytearray],
        *,
        safe: bool = True,
        atoms: Optional[Iterable[str]] = None,
        allow_pids: bool = False,
        binaries: Literal["bytes", "str"] = "bytes",
        max_depth: int = 128,
        max_inflated: int = 16 << 20,
    ) -> Any:
        """Decodes one term (version byte first; compressed terms too)."""

    def dumps(
        obj: Any,
        *,
        compressed: Union[bool, int] = False,
        atom_tags: Literal["utf8", "legacy"] = "utf8",
        deterministic: bool = False,
    ) -> bytes:
        """Encodes `obj` as one term, version byte first."""

else:
    # The Rust functions themselves: no Python frame per call.
    loads = _native_etf.loads
    dumps = _native_etf.dumps
