"""The mock server: one endpoint port (sockets + admin API) and the auth service.

``MockServer`` is what tests use (``await server.start()`` on port 0, then
``await server.stop()``); :func:`run` is what ``phoenix-wire mock`` calls: it
prints the banner, serves until Ctrl-C or SIGTERM, then closes every socket with
1001 ("going away") and stops within a few seconds.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from typing import Any, Dict, Optional, Set

from . import admin, fedecks, microcontroller
from .auth import AuthService
from .channels import SOCKET_ROUTES
from .config import DEFAULTS, load
from .hub import Hub
from .phoenix import PhoenixSocket, vsn_major
from .transport import (
    MAX_HEAD,
    BadRequest,
    Request,
    Response,
    is_upgrade,
    read_request,
    upgrade,
    write_response,
)

log = logging.getLogger("phoenix_wire.mock")

SOCKET_PATH = "/socket/websocket"
MICROCONTROLLER_PATH = "/microcontrollers/websocket"
FEDECKS_PATH = "/fedecks/websocket"
_SECRET_WORDS = ("token", "key", "secret", "password", "auth")


def redact(params: Dict[str, str]) -> Dict[str, str]:
    """Connect params as shown by the admin API: anything secret-looking is hidden."""
    return {k: ("<redacted>" if any(w in k.lower() for w in _SECRET_WORDS) else v) for k, v in params.items()}


class MockServer:
    """The whole mock: construct with a config (see :mod:`.config`), then ``start()``."""

    def __init__(self, config: Optional[Dict[str, Any]] = None) -> None:
        self.config = config if config is not None else load()
        self.hub = Hub()
        secret = self.config["fedecks"]["secret"]
        self.fedecks_secret = secret.encode() if secret else os.urandom(32)
        self.auth_service: Optional[AuthService] = None
        self.auth_url = self.config["auth"]["url"]
        self.port = 0
        self.auth_port: Optional[int] = None
        self._server: Optional[asyncio.base_events.Server] = None
        self._tasks: Set[asyncio.Task] = set()

    @property
    def host(self) -> str:
        return self.config["endpoint"]["host"]

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    async def start(self) -> None:
        ep, auth = self.config["endpoint"], self.config["auth"]
        if auth["enabled"]:
            self.auth_service = AuthService(auth["keys"])
            self.auth_port = await self.auth_service.start(auth["host"], auth["port"])
            if not self.auth_url:
                self.auth_url = f"http://{auth['host']}:{self.auth_port}/api/auth"
        if not self.auth_url:
            self.auth_url = f"http://{auth['host']}:{auth['port']}/api/auth"
        try:
            self._server = await asyncio.start_server(self._handle, ep["host"], ep["port"], limit=2 * MAX_HEAD)
        except OSError:
            if self.auth_service is not None:
                await self.auth_service.stop()
            raise
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, close every socket with 1001, wait (bounded) for them to end."""
        if self._server is not None:
            self._server.close()
        for conn in list(self.hub.connections.values()):
            ws = getattr(conn, "ws", None)
            if ws is not None:
                ws.close(1001, "server shutting down")
        tasks = [t for t in self._tasks if not t.done()]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=1.0)
        if self._server is not None:
            await self._server.wait_closed()
        if self.auth_service is not None:
            await self.auth_service.stop()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            peer = writer.get_extra_info("peername")
            peer_s = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
            try:
                req = await asyncio.wait_for(read_request(reader, peer_s), 10.0)
            except BadRequest as exc:
                await write_response(writer, Response(exc.status, f"{exc}\n".encode()))
                return
            except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError):
                writer.close()
                return
            if req is None:
                writer.close()
                return
            await self._dispatch(req, reader, writer)
        except Exception:
            log.exception("connection handler failed")
            writer.close()
        finally:
            if task is not None:
                self._tasks.discard(task)

    async def _dispatch(self, req: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        path = req.path
        if path == "/admin" or path.startswith("/admin/"):
            await write_response(writer, admin.handle(self, req))
        elif path == SOCKET_PATH:
            await self._serve_socket(req, reader, writer)
        elif path == MICROCONTROLLER_PATH:
            await microcontroller.serve(self, req, reader, writer)
        elif path == FEDECKS_PATH:
            await fedecks.serve(self, req, reader, writer)
        elif path == "/" and not is_upgrade(req):
            await write_response(writer, Response(200, self.banner().encode()))
        else:
            await write_response(writer, Response(404, b"not found\n"))

    async def _serve_socket(self, req: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        ep = self.config["endpoint"]
        vsn = req.query.get("vsn", "1.0.0")
        reject = None if vsn_major(vsn) in (1, 2) else (403, f"unsupported vsn {vsn!r}")
        ws = await upgrade(
            req,
            reader,
            writer,
            max_size=ep["max_frame_size"],
            idle_timeout=ep["idle_timeout"],
            close_timeout=ep["close_timeout"],
            reject=reject,
        )
        if ws is None:
            return
        q = req.query
        wanted = q.get("identifier") or q.get("serial") or q.get("device_id") or None
        conn_id = self.hub.new_id("socket", wanted)
        sock = PhoenixSocket(self, ws, conn_id=conn_id, vsn=vsn, router=SOCKET_ROUTES, params=redact(q))
        await sock.serve()

    def banner(self) -> str:
        ep, auth, fed = self.config["endpoint"], self.config["auth"], self.config["fedecks"]
        ws, http = self.ws_url, self.http_url
        lines = [
            "phoenix-wire mock server",
            f"  Phoenix socket    {ws}{SOCKET_PATH}?vsn=2.0.0   (topics: device, console, room:*)",
            f"  Microcontrollers  {ws}{MICROCONTROLLER_PATH}   (header X-API-Key)",
            f"  Fedecks           {ws}{FEDECKS_PATH}   (header x-fedecks-auth)",
            "  Device ids        add &identifier=<id> to the socket URL (else socket-N)",
            f"  Admin API         {http}/admin/devices   (GET /admin lists the endpoints)",
            f"  Auth service      {self.auth_url}" + ("" if auth["enabled"] else "   (external)"),
        ]
        if auth["keys"] == DEFAULTS["auth"]["keys"]:
            keys = ", ".join(f"{k['key']} (controller {k['controller_id']})" for k in auth["keys"])
            lines.append(f"  Demo API keys     {keys}")
        else:
            lines.append(f"  API keys          {len(auth['keys'])} from the config file")
        if (fed["username"], fed["password"]) == (DEFAULTS["fedecks"]["username"], DEFAULTS["fedecks"]["password"]):
            lines.append(f"  Fedecks login     username {fed['username']!r}, password {fed['password']!r}")
        else:
            lines.append("  Fedecks login     from the config file")
        lines.append(
            f"  Idle timeout {ep['idle_timeout']:g} s, max frame {ep['max_frame_size']} bytes. Ctrl-C stops."
        )
        if ep["host"] not in ("127.0.0.1", "localhost", "::1") and not ep["admin_token"]:
            lines.append("  WARNING: the admin API is reachable from the network without a token"
                         " (set endpoint.admin_token)")
        return "\n".join(lines) + "\n"


def run(config: Dict[str, Any]) -> int:
    """Serve until Ctrl-C / SIGTERM; the exit status for the CLI."""

    async def main() -> int:
        server = MockServer(config)
        try:
            await server.start()
        except OSError as exc:
            print(f"phoenix-wire mock: cannot listen: {exc}", file=sys.stderr)
            return 1
        print(server.banner(), flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError):  # pragma: no cover - non-Unix
                pass
        try:
            await stop.wait()
        finally:
            print("phoenix-wire mock: shutting down", flush=True)
            await server.stop()
        return 0

    try:
        return asyncio.run(main())
    except KeyboardInterrupt:  # pragma: no cover - platforms without signal handlers
        return 0
