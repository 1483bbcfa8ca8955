"""Phoenix Channels frames for Python, decoded and encoded by a Rust codec.

Decode what a websocket library hands over::

    >>> import phoenix_wire
    >>> m = phoenix_wire.decode('[null,"2","phoenix","heartbeat",{}]')
    >>> m.topic, m.event, m.ref, m.payload
    ('phoenix', 'heartbeat', '2', {})

A ``str`` is a text frame (V1 JSON object or V2 JSON array, by ``vsn``);
``bytes`` is a V2 binary frame (laid out for ``direction``). The frame is
validated once; fields become Python objects when read, and ``payload`` is
converted on first access and cached (``payload_raw`` is the wire bytes).

Encode the other way; payloads are Python objects (written as compact JSON,
as Phoenix's Jason would write them) or pre-encoded JSON ``bytes``::

    >>> phoenix_wire.reply(None, "2", "phoenix", "ok", {})
    '[null,"2","phoenix","phx_reply",{"response":{},"status":"ok"}]'
    >>> phoenix_wire.encode_binary("0", "1", "t", "e", b"\\x01")
    b'\\x00\\x01\\x01\\x01\\x0101te\\x01'

Bad input raises :class:`DecodeError` (a ``ValueError`` with ``.kind`` and
``.offset``); values that cannot be encoded raise :class:`EncodeError`.
"""

from ._native import (
    DEFAULT_VSN,
    DecodeError,
    EncodeError,
    Message,
    broadcast,
    decode,
    decode_text,
    encode,
    encode_binary,
    reply,
    reply_binary,
)
from . import etf

__all__ = [
    "DEFAULT_VSN",
    "DecodeError",
    "EncodeError",
    "Message",
    "broadcast",
    "decode",
    "decode_text",
    "encode",
    "encode_binary",
    "etf",
    "reply",
    "reply_binary",
]
