"""The auth service (``GET /api/auth`` with ``X-API-Key``) and its client.

The service answers ``200 {"user_id", "location_id", "controller_id"}`` for a
configured key and ``401`` otherwise, like the development auth server the
microcontroller endpoint is deployed against. Keys are compared in constant time
and never logged.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from typing import Any, Dict, List, Optional
from urllib.parse import urlsplit

from .transport import BadRequest, Response, read_request, write_response

log = logging.getLogger("phoenix_wire.mock")


def lookup(keys: List[Dict[str, Any]], api_key: str) -> Optional[Dict[str, Any]]:
    """The identity of ``api_key`` (every key is compared, in constant time)."""
    found = None
    given = api_key.encode()
    for entry in keys:
        if hmac.compare_digest(given, str(entry["key"]).encode()):
            found = entry
    if found is None:
        return None
    return {k: found[k] for k in ("user_id", "location_id", "controller_id")}


class AuthService:
    """The HTTP auth service on its own port."""

    def __init__(self, keys: List[Dict[str, Any]]) -> None:
        self.keys = keys
        self.server: Optional[asyncio.base_events.Server] = None
        self.requests = 0

    async def start(self, host: str, port: int) -> int:
        self.server = await asyncio.start_server(self._handle, host, port, limit=32 * 1024)
        return self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            req = await asyncio.wait_for(read_request(reader), 10)
        except (BadRequest, asyncio.TimeoutError, ConnectionError, asyncio.IncompleteReadError) as exc:
            status = exc.status if isinstance(exc, BadRequest) else 400
            await write_response(writer, Response(status, b"bad request\n"))
            return
        if req is None:
            writer.close()
            return
        self.requests += 1
        await write_response(writer, self.answer(req.method, req.path, req.headers.get("X-API-Key")))

    def answer(self, method: str, path: str, api_key: Optional[str]) -> Response:
        if path != "/api/auth":
            return Response.json(404, {"error": "not found"})
        if method != "GET":
            return Response.json(405, {"error": "method not allowed"})
        identity = lookup(self.keys, api_key) if api_key else None
        if identity is None:
            return Response.json(401, {"error": "invalid api key"})
        return Response.json(200, identity)


class AuthError(Exception):
    """The auth service could not be asked (network, bad answer)."""


async def check_key(url: str, api_key: str, timeout: float) -> Optional[Dict[str, Any]]:
    """Ask the auth service at ``url`` about ``api_key``: the identity, or None on 401/403.

    A tiny HTTP/1.1 client (one GET, ``Connection: close``) so that the check needs
    nothing beyond asyncio; raises :class:`AuthError` when the service is unreachable
    or answers something unexpected.
    """
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise AuthError("auth url must be http://host:port/path")
    if any(c in api_key for c in "\r\n"):
        return None
    host, port = parts.hostname, parts.port or 80
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    request = (
        f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\nX-API-Key: {api_key}\r\n"
        "Accept: application/json\r\nConnection: close\r\n\r\n"
    ).encode()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        try:
            writer.write(request)
            raw = await asyncio.wait_for(reader.read(64 * 1024 + 1), timeout)
            while raw and len(raw) <= 64 * 1024:
                more = await asyncio.wait_for(reader.read(64 * 1024), timeout)
                if not more:
                    break
                raw += more
        finally:
            writer.close()
    except (OSError, asyncio.TimeoutError) as exc:
        raise AuthError(f"auth service unreachable: {type(exc).__name__}") from None
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split(b" ")
    try:
        status = int(status_line[1])
    except (IndexError, ValueError):
        raise AuthError("auth service sent a malformed response") from None
    if status in (401, 403):
        return None
    if status != 200:
        raise AuthError(f"auth service answered {status}")
    try:
        identity = json.loads(body)
    except ValueError:
        raise AuthError("auth service sent invalid JSON") from None
    if not isinstance(identity, dict) or "controller_id" not in identity:
        raise AuthError("auth service answer has no controller_id")
    return identity
