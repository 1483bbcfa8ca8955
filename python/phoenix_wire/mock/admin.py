"""The admin HTTP API on the endpoint's port, under ``/admin``. JSON in and out.

=======  ======================================  ==============================================
method   path                                    what
=======  ======================================  ==============================================
GET      /admin                                  summary: counts and this table's paths
GET      /admin/devices                          every connection: kind, vsn, topics, firmware,
                                                 last messages (``?kind=phoenix|microcontroller|
                                                 fedecks`` filters)
GET      /admin/devices/{id}                     one connection
POST     /admin/devices/{id}/push                Phoenix: ``{"topic", "event", "payload"}`` or
                                                 ``"binary"`` (base64); Fedecks: ``{"term"}``
                                                 (JSON convention), ``{"binary"}``, ``{"token":
                                                 true}``
POST     /admin/devices/{id}/crash               ``{"topic"}``: the channel crashes (phx_error)
POST     /admin/devices/{id}/disconnect          close the socket (``{"reason"}`` optional)
POST     /admin/broadcast                        ``{"topic", "event", "payload"|"binary"}`` to
                                                 every member; answers ``{"delivered": n}``
GET      /admin/topics                           topic -> member ids
GET      /admin/readings                         microcontroller readings by controller id
=======  ======================================  ==============================================

Errors are ``{"error": "..."}`` with 400 (bad JSON or fields), 401 (admin token
required), 404 (no such device or path), 405 or 409 (topic not joined).
"""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import Any, Dict
from urllib.parse import unquote

import phoenix_wire as pw

from .transport import Request, Response

PATHS = [
    "GET /admin/devices",
    "GET /admin/devices/{id}",
    "POST /admin/devices/{id}/push",
    "POST /admin/devices/{id}/crash",
    "POST /admin/devices/{id}/disconnect",
    "POST /admin/broadcast",
    "GET /admin/topics",
    "GET /admin/readings",
]


def _error(status: int, message: str) -> Response:
    return Response.json(status, {"error": message})


def handle(server: Any, req: Request) -> Response:
    """Answer one admin request."""
    token = server.config["endpoint"]["admin_token"]
    if token:
        given = req.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return _error(401, "admin token required (Authorization: Bearer ...)")
    parts = [unquote(p) for p in req.path.split("/")[2:] if p]
    body: Any = {}
    if req.method == "POST":
        try:
            body = req.json()
        except ValueError:
            return _error(400, "body is not JSON")
        if not isinstance(body, dict):
            return _error(400, "body must be a JSON object")
    elif req.method != "GET":
        return _error(405, f"{req.method} not allowed")
    try:
        return _route(server, req.method, parts, body, req.query)
    except (ValueError, binascii.Error, pw.EncodeError) as exc:  # bad fields, or a payload no frame can carry
        return _error(400, str(exc))
    except LookupError as exc:
        return _error(409, str(exc.args[0]) if exc.args else "conflict")


def _route(server: Any, method: str, parts: list, body: Dict[str, Any], query: Dict[str, str]) -> Response:
    hub = server.hub
    if not parts:
        if method != "GET":
            return _error(405, "use GET")
        kinds: Dict[str, int] = {}
        for conn in hub.connections.values():
            kinds[conn.kind] = kinds.get(conn.kind, 0) + 1
        return Response.json(200, {"connections": kinds, "topics": len(hub.topics), "paths": PATHS})
    head = parts[0]
    if head == "devices" and len(parts) == 1 and method == "GET":
        kind = query.get("kind")
        devices = [c.describe() for c in hub.connections.values() if kind in (None, c.kind)]
        return Response.json(200, {"devices": devices})
    if head == "devices" and len(parts) in (2, 3):
        conn = hub.connections.get(parts[1])
        if conn is None:
            return _error(404, f"no connected device {parts[1]!r}")
        action = parts[2] if len(parts) == 3 else None
        if action is None and method == "GET":
            return Response.json(200, conn.describe())
        if method != "POST":
            return _error(405, "use POST")
        if action == "push":
            return Response.json(200, conn.admin_push(body))
        if action == "crash":
            crash = getattr(conn, "crash", None)
            topic = body.get("topic")
            if crash is None or not isinstance(topic, str):
                raise ValueError("crash needs a Phoenix connection and a string 'topic'")
            if not crash(topic):
                raise LookupError(f"topic {topic!r} is not joined by {conn.id}")
            return Response.json(200, {"crashed": topic})
        if action == "disconnect":
            conn.disconnect(str(body.get("reason", "disconnected by admin")))
            return Response.json(200, {"disconnected": conn.id})
        return _error(404, f"unknown action {action!r}")
    if head == "broadcast" and len(parts) == 1:
        if method != "POST":
            return _error(405, "use POST")
        topic, event = body.get("topic"), body.get("event")
        if not isinstance(topic, str) or not isinstance(event, str):
            raise ValueError("broadcast needs string 'topic' and 'event'")
        if "binary" in body:
            payload: Any = base64.b64decode(body["binary"], validate=True)
        else:
            payload = body.get("payload", {})
        return Response.json(200, {"delivered": hub.broadcast(topic, event, payload)})
    if head == "topics" and len(parts) == 1 and method == "GET":
        topics = {t: sorted(m.id for m in members) for t, members in hub.topics.items()}
        return Response.json(200, {"topics": topics})
    if head == "readings" and len(parts) == 1 and method == "GET":
        return Response.json(200, {"readings": hub.readings})
    return _error(404, "no such admin path; GET /admin lists them")
