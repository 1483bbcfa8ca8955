"""``/microcontrollers/websocket``: a Phoenix socket whose upgrade needs an API key.

The ``X-API-Key`` header is checked by an HTTP call to the auth service; a missing
or unknown key is refused at the upgrade with 401 (the socket never opens), an
unreachable auth service with 502. On connect the server sends ``metadata`` on
``microcontroller:<controller_id>`` (refs null, in the socket's vsn: V1 objects by
default, as the devices connect without ``vsn``), then the device joins
``microcontroller:v1:<controller_id>``, uploads readings and receives
``control_update`` pushes (sent through the admin API).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from .auth import AuthError, check_key
from .channels import MICROCONTROLLER_ROUTES
from .phoenix import PhoenixSocket, vsn_major
from .transport import Request, single_header, upgrade

log = logging.getLogger("phoenix_wire.mock")


async def serve(server: Any, req: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    cfg = server.config
    reject = None
    identity = None
    vsn = req.query.get("vsn", "1.0.0")
    api_key = single_header(req, "X-API-Key")
    if vsn_major(vsn) not in (1, 2):
        reject = (403, f"unsupported vsn {vsn!r}")
    elif not api_key:
        reject = (401, "missing X-API-Key header")
    else:
        try:
            identity = await check_key(server.auth_url, api_key, cfg["auth"]["timeout"])
        except AuthError as exc:
            log.warning("microcontroller upgrade from %s: %s", req.peer, exc)
            reject = (502, "auth service unavailable")
        if identity is None and reject is None:
            log.info("microcontroller upgrade from %s refused: invalid API key", req.peer)
            reject = (401, "invalid API key")
    ws = await upgrade(
        req,
        reader,
        writer,
        max_size=cfg["endpoint"]["max_frame_size"],
        idle_timeout=cfg["microcontroller"]["idle_timeout"],
        close_timeout=cfg["endpoint"]["close_timeout"],
        reject=reject,
    )
    if ws is None or identity is None:
        return
    controller_id = identity["controller_id"]
    conn_id = server.hub.new_id("microcontroller", f"microcontroller:{controller_id}")
    sock = PhoenixSocket(
        server, ws, conn_id=conn_id, vsn=vsn, router=MICROCONTROLLER_ROUTES, kind="microcontroller", params={}
    )
    sock.info["identity"] = identity
    sock.push_frame(None, None, f"microcontroller:{controller_id}", "metadata", identity)
    await sock.serve()
