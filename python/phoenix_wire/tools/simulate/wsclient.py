"""A small websocket client for the simulator: websockets' Sans-I/O protocol
driven straight from an asyncio Protocol.

Why not ``websockets.asyncio.client``: a fleet of a thousand connections on
one core pays for every layer per message. The full client runs a reader
task per connection, takes an async lock and a context manager per send and
queues every message through an assembler. Here bytes arriving on the socket
go through websockets' parser (which still does all of RFC 6455: framing,
masking, ping/pong, the closing handshake, size limits) and each complete
message is handed to a callback synchronously; a send is a function call
that writes to the transport. With the runner's single scheduler and the
shared receive buffer below, the simulator's CPU per round trip against the
mock (1,000 devices, ~3,500 round trips/s, connects included) went from
about 108 us to about 63 us; most of what remains is send/recv syscalls.
"""

from __future__ import annotations

import asyncio
import ssl as ssl_module
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from websockets.client import ClientProtocol
from websockets.exceptions import InvalidStatus
from websockets.frames import Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.uri import parse_uri

__all__ = ["WSClient", "connect"]

OnMessage = Callable[[bytes, bool], None]


# One receive buffer for every connection: asyncio fills it and calls
# buffer_updated() synchronously on the loop's thread, and the bytes are
# copied out before the next read. With a plain Protocol, asyncio allocates
# a fresh 256 KiB bytes object per read; that malloc/mmap/munmap churn was
# a tenth of the simulator's CPU with 1,000 connections.
_RECV_BUFFER = bytearray(64 * 1024)
_RECV_VIEW = memoryview(_RECV_BUFFER)


class WSClient(asyncio.BufferedProtocol):
    """One client connection. Create it with :func:`connect`.

    `on_message(data, is_text)` gets every complete message (text as its
    UTF-8 bytes: the codec validates them); `on_close(code)` runs once when
    the connection is gone.
    """

    def __init__(
        self,
        protocol: ClientProtocol,
        on_message: OnMessage,
        on_close: Optional[Callable[[Optional[int]], None]] = None,
    ) -> None:
        self.protocol = protocol
        self.on_message = on_message
        self.on_close = on_close
        self.transport: Optional[asyncio.Transport] = None
        loop = asyncio.get_running_loop()
        self.handshake: asyncio.Future = loop.create_future()
        self.closed: asyncio.Future = loop.create_future()
        self._fragments: List[bytes] = []
        self._fragment_text = False
        self._pings: Dict[bytes, asyncio.Future] = {}
        self._abort_scheduled = False
        self._opened = False

    # ---- asyncio.Protocol ------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def get_buffer(self, sizehint: int) -> memoryview:
        return _RECV_VIEW

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(_RECV_BUFFER[:nbytes])

    def data_received(self, data: bytes) -> None:
        proto = self.protocol
        proto.receive_data(data)
        for event in proto.events_received():
            if isinstance(event, Response):
                self._handshake_done()
                continue
            self._frame(event)
        self._flush()

    def eof_received(self) -> Optional[bool]:
        self.protocol.receive_eof()
        self._flush()
        return None

    def connection_lost(self, exc: Optional[Exception]) -> None:
        if not self.handshake.done():
            self.handshake.set_exception(exc or ConnectionError("connection closed during the handshake"))
        for fut in self._pings.values():
            if not fut.done():
                fut.set_exception(ConnectionError("connection closed"))
        self._pings.clear()
        if not self.closed.done():
            self.closed.set_result(self.close_code)
        if self.on_close is not None and self._opened:
            # Only a socket that opened can be "closed": a refused or failed
            # handshake is reported by connect() instead.
            callback, self.on_close = self.on_close, None
            callback(self.close_code)

    # ---- incoming --------------------------------------------------------------------------
    def _handshake_done(self) -> None:
        if self.handshake.done():
            return
        exc = self.protocol.handshake_exc
        if exc is not None:
            self.handshake.set_exception(exc)
        else:
            self._opened = True
            self.handshake.set_result(None)

    def _frame(self, frame) -> None:
        opcode = frame.opcode
        if opcode is Opcode.TEXT or opcode is Opcode.BINARY:
            if frame.fin:
                # The parser unmasks into a bytearray; the codec reads bytes.
                self.on_message(bytes(frame.data), opcode is Opcode.TEXT)
            else:
                self._fragments = [bytes(frame.data)]
                self._fragment_text = opcode is Opcode.TEXT
        elif opcode is Opcode.CONT:
            self._fragments.append(bytes(frame.data))
            if frame.fin:
                data, self._fragments = b"".join(self._fragments), []
                self.on_message(data, self._fragment_text)
        elif opcode is Opcode.PONG:
            fut = self._pings.pop(bytes(frame.data), None)
            if fut is not None and not fut.done():
                fut.set_result(None)
        # PING is answered and CLOSE handled by the protocol itself.

    # ---- outgoing --------------------------------------------------------------------------
    def _flush(self) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        for data in self.protocol.data_to_send():
            if data:
                transport.write(data)
            elif transport.can_write_eof():
                transport.write_eof()
        if self.protocol.close_expected() and not self._abort_scheduled:
            # The closing handshake is done on our side; the server closes
            # TCP first, but never wait on it for long.
            self._abort_scheduled = True
            asyncio.get_running_loop().call_later(2.0, self._abort)

    def _abort(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.abort()

    @property
    def open(self) -> bool:
        return self.protocol.state is State.OPEN

    @property
    def close_code(self) -> Optional[int]:
        return self.protocol.close_code

    def send_text(self, data: bytes) -> None:
        """Sends a text message (`data` is UTF-8); raises ConnectionError once closed."""
        if self.protocol.state is not State.OPEN:
            raise ConnectionError("websocket is not open")
        self.protocol.send_text(data)
        self._flush()

    def send_binary(self, data: bytes) -> None:
        """Sends a binary message; raises ConnectionError once closed."""
        if self.protocol.state is not State.OPEN:
            raise ConnectionError("websocket is not open")
        self.protocol.send_binary(data)
        self._flush()

    def ping(self, data: bytes) -> asyncio.Future:
        """Sends a ping; the returned future completes when its pong arrives."""
        if self.protocol.state is not State.OPEN:
            raise ConnectionError("websocket is not open")
        fut = asyncio.get_running_loop().create_future()
        old = self._pings.pop(data, None)
        if old is not None and not old.done():
            old.cancel()
        self._pings[data] = fut
        self.protocol.send_ping(data)
        self._flush()
        return fut

    async def close(self, timeout: float = 2.0) -> None:
        """The closing handshake, then the TCP close; bounded by `timeout`."""
        if self.protocol.state is State.OPEN:
            self.protocol.send_close(1000)
            self._flush()
        try:
            await asyncio.wait_for(asyncio.shield(self.closed), timeout)
        except asyncio.TimeoutError:
            self._abort()


async def connect(
    url: str,
    headers: Sequence[Tuple[str, str]],
    on_message: OnMessage,
    *,
    on_close: Optional[Callable[[Optional[int]], None]] = None,
    timeout: float = 5.0,
    max_size: int = 2**20,
    user_agent: str = "phoenix-wire-simulate",
) -> WSClient:
    """Opens a websocket to `url` (and nowhere else: no proxies) with extra `headers`.

    Raises ``asyncio.TimeoutError``, ``OSError``, or websockets' handshake
    errors (``InvalidStatus`` carries the HTTP status of a refusal).
    """
    uri = parse_uri(url)
    protocol = ClientProtocol(uri, max_size=max_size)  # no extensions: no deflate
    client = WSClient(protocol, on_message, on_close)
    loop = asyncio.get_running_loop()
    ssl_ctx = ssl_module.create_default_context() if uri.secure else None

    async def handshake() -> None:
        await loop.create_connection(lambda: client, uri.host, uri.port, ssl=ssl_ctx)
        request = protocol.connect()
        request.headers["User-Agent"] = user_agent
        for name, value in headers:
            request.headers[name] = value
        protocol.send_request(request)
        client._flush()
        await client.handshake

    try:
        await asyncio.wait_for(handshake(), timeout)
    except BaseException:
        client._abort()
        raise
    return client


def status_of(exc: BaseException) -> Optional[int]:
    """The HTTP status of a refused upgrade, else None."""
    if isinstance(exc, InvalidStatus):
        return exc.response.status_code
    return None
