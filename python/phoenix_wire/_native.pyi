"""Type stubs for the Rust extension `phoenix_wire._native` (frames)."""

from types import ModuleType
from typing import Any, Literal, Optional, Union, final

Ref = Union[str, int, None]
"""A join_ref or ref: JSON string, integer, or null."""

Json = Any
"""What `json.loads` returns: dict, list, str, int, float, bool or None."""

Vsn = str
"""A `vsn` query value such as "2.0.0"; only the major number (1 or 2) matters."""

Direction = Literal["to_client", "to_server"]

DEFAULT_VSN: str

etf: ModuleType
"""The Rust half of `phoenix_wire.etf` (use that module: it adds the types)."""

class DecodeError(ValueError):
    """A frame could not be decoded.

    `kind` is the codec's ErrorKind as Rust's Debug prints it (e.g.
    "TooFewElements", "MissingField(Ref)"); `offset` is the byte offset in the
    input (UTF-8 bytes for a str) where the problem was found.
    """

    kind: str
    offset: int

class EncodeError(ValueError):
    """A message could not be encoded.

    `kind` and `offset` are set when the codec refused the data (e.g.
    "TooLong", "InvalidNumber"), else None.
    """

    kind: Optional[str]
    offset: Optional[int]

@final
class Message:
    """A decoded Phoenix Channels message; fields are made on access."""

    @property
    def join_ref(self) -> Ref:
        """The ref of the join this message belongs to."""
    @property
    def ref(self) -> Ref:
        """The message's own ref (replies carry the ref they answer)."""
    @property
    def topic(self) -> str:
        """The topic, e.g. "room:lobby"."""
    @property
    def event(self) -> str:
        """The event, e.g. "phx_join"; binary replies read as "phx_reply"."""
    @property
    def payload(self) -> Union[Json, bytes]:
        """Python objects for a text frame (converted once, then cached);
        bytes for a binary frame (a binary reply's response bytes)."""
    @property
    def payload_raw(self) -> bytes:
        """The payload as it was on the wire: raw JSON text or binary bytes."""
    @property
    def status(self) -> Optional[str]:
        """A reply's status ("ok", "error", ...), else None."""
    @property
    def response(self) -> Union[Json, bytes, None]:
        """A reply's response (Python objects, or bytes for a binary reply),
        else None."""
    def __eq__(self, other: object) -> bool: ...
    __hash__: None  # type: ignore[assignment]

def decode(frame: Union[str, bytes], *, vsn: Vsn = "2.0.0", direction: Direction = "to_client") -> Message:
    """Decodes a text frame (str; V1 or V2 by `vsn`) or a V2 binary frame
    (bytes; layout by `direction`). Raises DecodeError."""

def decode_text(frame: bytes, *, vsn: Vsn = "2.0.0") -> Message:
    """Decodes a text frame given as UTF-8 bytes. Raises DecodeError."""

def encode(
    join_ref: Ref,
    ref: Ref,
    topic: str,
    event: str,
    payload: Union[Json, bytes],
    *,
    vsn: Vsn = "2.0.0",
) -> str:
    """Encodes a text frame; payload is Python objects or pre-encoded JSON
    bytes. Raises EncodeError."""

def encode_binary(
    join_ref: Ref,
    ref: Ref,
    topic: str,
    event: str,
    payload: Union[bytes, bytearray],
    *,
    direction: Direction = "to_server",
) -> bytes:
    """Encodes a V2 binary frame: a client push ("to_server"), or a server
    push or broadcast ("to_client"). Raises EncodeError."""

def reply(
    join_ref: Ref,
    ref: Ref,
    topic: str,
    status: str,
    response: Union[Json, bytes],
    *,
    vsn: Vsn = "2.0.0",
) -> str:
    """Encodes a phx_reply text frame. Raises EncodeError."""

def reply_binary(join_ref: Ref, ref: Ref, topic: str, status: str, response: Union[bytes, bytearray]) -> bytes:
    """Encodes a binary reply (V2 kind 1). Raises EncodeError."""

def broadcast(topic: str, event: str, payload: Union[Json, bytes], *, vsn: Vsn = "2.0.0") -> str:
    """Encodes a broadcast text frame (both refs null). Raises EncodeError."""
