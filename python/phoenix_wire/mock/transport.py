"""One TCP port for plain HTTP (the admin API, the auth service) and websockets.

Why not ``websockets.asyncio.server.serve``: its HTTP parser accepts only ``GET``
requests, so an admin API on the same port could not take a JSON body in a ``POST``.
Instead this module reads the request head itself (bounded: 16 KiB of head, 1 MiB of
body), answers plain HTTP requests directly, and hands websocket upgrades to
websockets' Sans-I/O :class:`websockets.server.ServerProtocol`, which keeps doing all
of RFC 6455: handshake validation, framing and masking, ping/pong, the closing
handshake and the message size limit (1009). What is left here is the small I/O
glue that Sans-I/O asks for: feed bytes in, write ``data_to_send()`` out, half-close
on ``SEND_EOF``, reassemble fragmented messages, and time out idle or half-closed
connections. After the upgrade the transport's protocol is swapped for a small
:class:`asyncio.Protocol` so that each message is handled straight from
``data_received``, the cheapest path asyncio offers.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple, Union
from urllib.parse import parse_qs, urlsplit

from websockets.datastructures import Headers
from websockets.frames import Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol

log = logging.getLogger("phoenix_wire.mock")

# websockets logs request headers (X-API-Key, x-fedecks-auth) at DEBUG level. Its
# logger is pinned to WARNING, so that no log configuration can make it print them
# (and so that it does not log every connection at INFO).
_wslog = logging.getLogger("phoenix_wire.mock.wsproto")
_wslog.setLevel(logging.WARNING)

MAX_HEAD = 16 * 1024
MAX_BODY = 1024 * 1024
# A client that lets this much pile up unread (e.g. under a broadcast storm) is dropped.
MAX_BUFFERED = 16 * 1024 * 1024

_REASONS = {
    200: "OK",
    201: "Created",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    426: "Upgrade Required",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


@dataclass
class Request:
    """An HTTP request head (and body, once read)."""

    method: str
    target: str
    path: str
    query: Dict[str, str]
    headers: Headers
    head: bytes
    body: bytes = b""
    peer: str = ""

    def json(self) -> Any:
        """The body as JSON (an empty body is ``{}``); ``ValueError`` if it is not JSON."""
        if not self.body.strip():
            return {}
        return json.loads(self.body)


@dataclass
class Response:
    """A plain HTTP response; ``json_body`` responses get ``application/json``."""

    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: List[Tuple[str, str]] = field(default_factory=list)

    @classmethod
    def json(cls, status: int, value: Any) -> "Response":
        data = json.dumps(value, ensure_ascii=False, indent=None).encode()
        return cls(status, data + b"\n", "application/json")

    def serialize(self) -> bytes:
        lines = [f"HTTP/1.1 {self.status} {_REASONS.get(self.status, 'Status')}"]
        lines.append(f"Content-Type: {self.content_type}")
        lines.append(f"Content-Length: {len(self.body)}")
        lines.append("Connection: close")
        lines.extend(f"{k}: {v}" for k, v in self.headers)
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


class BadRequest(Exception):
    """The request could not be read; carries the status to answer with."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def parse_head(head: bytes) -> Request:
    """Parse a request line and header fields (``head`` ends with CRLF CRLF)."""
    try:
        text = head.decode("latin-1")
    except UnicodeDecodeError as exc:  # latin-1 decodes anything; kept for clarity
        raise BadRequest(400, "undecodable request head") from exc
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadRequest(400, "malformed request line")
    method, target, _ = parts
    headers = Headers()
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise BadRequest(400, "malformed header field")
        headers[name] = value.strip()
    url = urlsplit(target)
    query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
    return Request(method.upper(), target, url.path or "/", query, headers, head)


async def read_request(reader: asyncio.StreamReader, peer: str = "") -> Optional[Request]:
    """Read one request head (and its body for non-GET methods); None on a silent EOF."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        raise BadRequest(400, "incomplete request head") from exc
    except asyncio.LimitOverrunError as exc:
        raise BadRequest(431, "request head too large") from exc
    if len(head) > MAX_HEAD:
        raise BadRequest(431, "request head too large")
    req = parse_head(head)
    req.peer = peer
    if req.method != "GET":
        if "Transfer-Encoding" in req.headers:
            raise BadRequest(400, "chunked bodies are not supported; send Content-Length")
        try:
            length = int(req.headers.get("Content-Length", "0"))
        except ValueError as exc:
            raise BadRequest(400, "bad Content-Length") from exc
        if length < 0 or length > MAX_BODY:
            raise BadRequest(413, "body too large")
        req.body = await reader.readexactly(length)
    return req


def single_header(req: Request, name: str) -> Optional[str]:
    """The value of a header sent exactly once; None when missing or repeated
    (a repeated credential header is refused rather than guessed at)."""
    values = req.headers.get_all(name)
    return values[0] if len(values) == 1 else None


def is_upgrade(req: Request) -> bool:
    """Whether the request asks for a websocket upgrade."""
    return req.headers.get("Upgrade", "").lower() == "websocket"


async def write_response(writer: asyncio.StreamWriter, resp: Response) -> None:
    """Write ``resp`` and close the connection."""
    try:
        writer.write(resp.serialize())
        await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


Message = Union[str, bytes]


class WebSocket:
    """A server websocket over a Sans-I/O protocol and an asyncio stream pair.

    Sending is synchronous (it queues bytes on the transport), so any task or
    callback can push to any connection; :meth:`run` serves the reading side.
    """

    def __init__(
        self,
        protocol: ServerProtocol,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        request: Request,
        *,
        idle_timeout: float,
        close_timeout: float,
    ) -> None:
        self.protocol = protocol
        self.reader = reader
        self.writer = writer
        self.request = request
        self.idle_timeout = idle_timeout
        self.close_timeout = close_timeout
        self._fragments: List[bytes] = []
        self._fragment_opcode: Optional[Opcode] = None
        self._closing_deadline: Optional[float] = None
        self._closed_by_us = False
        self._timer: Optional[asyncio.TimerHandle] = None
        self._last_rx = 0.0
        self._on_idle: Callable[[], None] = lambda: None
        self._on_message: Callable[[Message], Any] = lambda m: None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._done: Optional[asyncio.Future] = None

    @property
    def open(self) -> bool:
        return self.protocol.state is State.OPEN

    @property
    def close_code(self) -> Optional[int]:
        return self.protocol.close_code

    def _flush(self) -> None:
        for data in self.protocol.data_to_send():
            if self.writer.is_closing():
                return
            try:
                if data:
                    self.writer.write(data)
                elif self.writer.can_write_eof():
                    self.writer.write_eof()
            except (ConnectionError, OSError):  # the peer is gone; the read loop ends
                self.writer.close()
                return

    def send_text(self, data: Union[str, bytes]) -> bool:
        """Queue a text message; False when the socket is no longer open."""
        if self.protocol.state is not State.OPEN:
            return False
        self.protocol.send_text(data.encode() if isinstance(data, str) else data)
        self._flush()
        return True

    def send_binary(self, data: bytes) -> bool:
        """Queue a binary message; False when the socket is no longer open."""
        if self.protocol.state is not State.OPEN:
            return False
        self.protocol.send_binary(data)
        self._flush()
        return True

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Start the closing handshake (the reason is cut to the 123 bytes RFC 6455 allows)."""
        if self.protocol.state is not State.OPEN:
            return
        self._closed_by_us = True
        raw = reason.encode()[:123]
        self.protocol.send_close(code, raw.decode(errors="ignore"))
        self._flush()
        loop = asyncio.get_running_loop()
        self._closing_deadline = loop.time() + self.close_timeout
        if self._timer is not None:
            self._timer.cancel()
            self._timer = loop.call_at(self._closing_deadline, self._watchdog)

    def _watchdog(self) -> None:
        """Idle and closing timeouts, from one timer per connection.

        A timer instead of ``wait_for`` around every read: ``wait_for`` costs a task
        per read on Python < 3.12, which the fleet simulator's load makes visible.
        """
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self._closing_deadline is None and self.protocol.state is State.OPEN:
            idle_at = self._last_rx + self.idle_timeout
            if now < idle_at:
                self._timer = loop.call_at(idle_at, self._watchdog)
                return
            self._on_idle()
        if self._closing_deadline is None:
            self._closing_deadline = now + self.close_timeout
        if now >= self._closing_deadline:
            self.writer.transport.abort()  # the client never finished closing
            return
        self._timer = loop.call_at(self._closing_deadline, self._watchdog)

    async def run(
        self,
        on_message: Callable[[Message], Optional[Awaitable[None]]],
        on_idle: Callable[[], None],
    ) -> None:
        """Serve until the connection ends; every complete message goes to ``on_message``.

        Text messages arrive as :class:`TextMessage` (UTF-8 bytes, validated by the
        codec that decodes them), binary ones as ``bytes``. ``on_message`` runs
        synchronously, in order, straight from the transport's ``data_received``
        (no task, future or stream buffer per message: the mock's hot path); an
        awaitable it returns runs as a task of its own. ``on_idle`` runs when no data
        arrived for ``idle_timeout`` seconds; a closing handshake that the client does
        not finish within ``close_timeout`` seconds ends the connection.
        """
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._on_message = on_message
        self._on_idle = on_idle
        self._done = loop.create_future()
        self._last_rx = loop.time()
        self._timer = loop.call_at(self._last_rx + self.idle_timeout, self._watchdog)
        transport = self.writer.transport
        # The stream reader that read the request head may hold bytes of a client
        # that did not wait for the 101, or an EOF: they are handed over first.
        leftover = bytes(getattr(self.reader, "_buffer", b""))
        eof = bool(getattr(self.reader, "_eof", False))
        try:
            if transport.is_closing():
                return
            transport.set_protocol(_Feed(self))
            if leftover:
                self._data_received(leftover)
            if eof:
                self._eof_received()
            await self._done
        finally:
            self._timer.cancel()
            self.writer.close()

    def _finish(self) -> None:
        if not self._done.done():
            self._done.set_result(None)

    def _data_received(self, data: bytes) -> None:
        self._last_rx = self._loop.time()
        self.protocol.receive_data(data)
        for event in self.protocol.events_received():
            msg = self._assemble(event)
            # Messages that arrived before the client's close frame still count;
            # after our own close (a bad frame) nothing more is handled.
            if msg is None or self._closed_by_us:
                continue
            try:
                result = self._on_message(msg)
            except Exception:
                log.exception("message handler failed; closing the connection")
                self.close(1011, "internal error")
                continue
            if result is not None:
                asyncio.ensure_future(result)
        self._flush()
        if self.protocol.close_expected() and self._closing_deadline is None:
            self._closing_deadline = self._loop.time() + self.close_timeout
            if self._timer is not None:
                self._timer.cancel()
            self._timer = self._loop.call_at(self._closing_deadline, self._watchdog)
        if self.writer.transport.get_write_buffer_size() > MAX_BUFFERED:
            log.warning("client reads too slowly (%d bytes queued); dropping it", MAX_BUFFERED)
            self.writer.transport.abort()

    def _eof_received(self) -> None:
        self.protocol.receive_eof()
        self._flush()

    def _assemble(self, frame: Any) -> Optional[Message]:
        opcode = frame.opcode
        if opcode is Opcode.TEXT or opcode is Opcode.BINARY:
            if frame.fin:
                return TextMessage(frame.data) if opcode is Opcode.TEXT else bytes(frame.data)
            self._fragment_opcode = opcode
            self._fragments = [frame.data]
            return None
        if opcode is Opcode.CONT:
            self._fragments.append(frame.data)
            if not frame.fin:
                return None
            data = b"".join(self._fragments)
            self._fragments = []
            if self._fragment_opcode is Opcode.TEXT:
                return TextMessage(data)
            return data
        return None  # ping/pong/close are handled by the protocol


class _Feed(asyncio.Protocol):
    """The transport's protocol once the websocket is open: hands events to the socket."""

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws

    def data_received(self, data: bytes) -> None:
        self.ws._data_received(data)

    def eof_received(self) -> bool:
        self.ws._eof_received()
        return False  # let the transport close; connection_lost follows

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self.ws._finish()


class TextMessage(bytes):
    """The UTF-8 bytes of a text message (kept as bytes: the codec validates them)."""


def new_protocol(max_size: int) -> ServerProtocol:
    """A Sans-I/O server protocol without extensions (Phoenix's default: no compression)."""
    return ServerProtocol(max_size=max_size, logger=_wslog)


async def upgrade(
    req: Request,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    *,
    max_size: int,
    idle_timeout: float,
    close_timeout: float,
    reject: Optional[Tuple[int, str]] = None,
) -> Optional[WebSocket]:
    """Answer the upgrade (or reject it with ``reject=(status, text)``).

    Returns the open :class:`WebSocket`, or None after a rejection (the connection
    is then closed: a rejected client never gets an open socket).
    """
    protocol = new_protocol(max_size)
    protocol.receive_data(req.head)
    events = protocol.events_received()
    if not events:
        await write_response(writer, Response(400, b"bad websocket request\n"))
        return None
    ws_request = events[0]
    if reject is not None:
        response = protocol.reject(reject[0], reject[1] + "\n")
    else:
        response = protocol.accept(ws_request)
    protocol.send_response(response)
    ws = WebSocket(
        protocol, reader, writer, req, idle_timeout=idle_timeout, close_timeout=close_timeout
    )
    ws._flush()
    if response.status_code != 101:
        try:
            await writer.drain()
        except (ConnectionError, OSError):
            pass
        writer.close()
        return None
    return ws
