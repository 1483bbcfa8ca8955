"""Helpers for driving the mock from tests and scripts (loopback, bounded waits).

>>> async def demo():
...     async with serve(idle_timeout=5) as server:
...         async with PhoenixClient(server.ws_url + "/socket/websocket?vsn=2.0.0") as c:
...             await c.send([None, "1", "phoenix", "heartbeat", {}])
...             return (await c.recv()).status
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Dict, Optional, Tuple

import phoenix_wire as pw
from websockets.asyncio.client import ClientConnection, connect

from .config import load
from .server import MockServer


@asynccontextmanager
async def serve(config: Optional[Dict[str, Any]] = None, **endpoint: Any) -> AsyncIterator[MockServer]:
    """A started server on 127.0.0.1 with ephemeral ports; ``endpoint`` keys override
    ``[endpoint]`` (e.g. ``idle_timeout=0.5``), ``config`` overrides anything."""
    overrides: Dict[str, Any] = {"endpoint": {"host": "127.0.0.1", "port": 0, **endpoint}, "auth": {"port": 0}}
    cfg = load(overrides=overrides)
    if config:
        from .config import merge

        cfg = merge(cfg, config)
    server = MockServer(cfg)
    await server.start()
    try:
        yield server
    finally:
        await server.stop(timeout=3.0)


class PhoenixClient:
    """A minimal Phoenix client over ``websockets``: sends frames, reads decoded ones."""

    def __init__(self, url: str, *, vsn: Optional[str] = None, headers: Any = None,
                 timeout: float = 3.0) -> None:
        self.url = url
        if vsn is None:
            vsn = "2.0.0" if "vsn=2" in url else "1.0.0"
        self.vsn = vsn
        self.headers = headers or {}
        self.timeout = timeout
        self.ws: Optional[ClientConnection] = None

    async def __aenter__(self) -> "PhoenixClient":
        self.ws = await asyncio.wait_for(
            connect(self.url, additional_headers=self.headers, max_size=None, open_timeout=self.timeout),
            self.timeout,
        )
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self.ws is not None
        await asyncio.wait_for(self.ws.close(), self.timeout)

    async def send(self, frame: Any) -> None:
        """Send a raw frame: ``str``/``bytes`` as is, a list as a V2 frame, a dict as V1."""
        assert self.ws is not None
        if isinstance(frame, list):
            frame = pw.encode(*frame[:5], vsn="2.0.0")
        elif isinstance(frame, dict):
            frame = pw.encode(frame.get("join_ref"), frame["ref"], frame["topic"], frame["event"],
                              frame["payload"], vsn="1.0.0")
        await self.ws.send(frame)

    async def recv_raw(self, timeout: Optional[float] = None) -> Any:
        assert self.ws is not None
        return await asyncio.wait_for(self.ws.recv(), timeout or self.timeout)

    async def recv(self, timeout: Optional[float] = None) -> Any:
        """The next frame, decoded with the client-side layouts."""
        return pw.decode(await self.recv_raw(timeout), vsn=self.vsn, direction="to_client")

    async def join(self, topic: str, payload: Any = None, join_ref: Any = "1") -> Any:
        await self.send([join_ref, join_ref, topic, "phx_join", payload if payload is not None else {}])
        return await self.recv()


async def http(method: str, url: str, body: Any = None, headers: Optional[Dict[str, str]] = None,
               timeout: float = 5.0) -> Tuple[int, Any]:
    """One HTTP request (JSON body in, JSON or text out), run in a thread with a timeout."""

    def call() -> Tuple[int, Any]:
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                status, raw, ctype = resp.status, resp.read(), resp.headers.get("Content-Type", "")
        except urllib.error.HTTPError as err:
            status, raw, ctype = err.code, err.read(), err.headers.get("Content-Type", "")
        return status, (json.loads(raw) if "json" in ctype else raw.decode())

    return await asyncio.wait_for(asyncio.to_thread(call), timeout + 1)
