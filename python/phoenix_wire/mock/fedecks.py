"""``/fedecks/websocket``: Erlang terms over binary frames, as FedecksServer speaks them.

Upgrade: the ``x-fedecks-auth`` header is standard base64 of a safe external term,
a string-keyed map with ``"fedecks-device-id"`` and either ``"username"`` /
``"password"`` (checked against the config) or ``"fedecks-token"``. Values of 1024
characters or more, non-base64, unsafe terms, non-maps, maps without a device id,
wrong credentials and bad tokens are refused with 403, the answer Phoenix gives to
a refused connect. The header is never logged.

Tokens are ``base64url(JSON {"d": device_id, "e": expiry}) "." base64url(HMAC-SHA256)``
with the configured secret: opaque to the client, forgery-proof, and expiring.

After the upgrade: the charlist ``'token_please'`` gets ``{'token', T}`` (Elixir's
``'token'`` is a charlist too); a fresh token is pushed every ``token_refresh``
seconds. Binary frames starting with 131 are decoded safely (no funs, no atoms
outside the configured list) and answered from ``fedecks.answers``, else echoed or
ignored per ``default_reply``; anything that does not decode safely goes to the raw
handler (recorded, no answer). Text frames are ignored. Websocket pings are answered
by the protocol layer.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import logging
import time
from typing import Any, Dict, List, Optional, Tuple, Union

from phoenix_wire import DecodeError, etf

from .hub import History
from .transport import Request, TextMessage, WebSocket, single_header, upgrade

log = logging.getLogger("phoenix_wire.mock")

TOKEN_PLEASE = b"\x83k\x00\x0ctoken_please"
TOKEN_CHARLIST = list(b"token")


# ---- tokens -----------------------------------------------------------------------
def _b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _unb64url(data: bytes) -> bytes:
    return base64.urlsafe_b64decode(data + b"=" * (-len(data) % 4))


def make_token(secret: bytes, device_id: str, ttl: float, now: Optional[float] = None) -> bytes:
    """A signed token for ``device_id`` that expires ``ttl`` seconds from ``now``."""
    now = time.time() if now is None else now
    body = _b64url(json.dumps({"d": device_id, "e": int(now + ttl)}, separators=(",", ":")).encode())
    mac = hmac.new(secret, body, hashlib.sha256).digest()
    return body + b"." + _b64url(mac)


def verify_token(secret: bytes, token: Any, now: Optional[float] = None) -> Optional[str]:
    """The device id of a valid, unexpired token signed with ``secret``; else None."""
    if isinstance(token, str):
        token = token.encode()
    if not isinstance(token, (bytes, bytearray)) or token.count(b".") != 1:
        return None
    body, mac = bytes(token).split(b".")
    expected = _b64url(hmac.new(secret, body, hashlib.sha256).digest())
    if not hmac.compare_digest(mac, expected):
        return None
    try:
        claims = json.loads(_unb64url(body))
        device_id, expiry = claims["d"], claims["e"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None
    now = time.time() if now is None else now
    if not isinstance(device_id, str) or not isinstance(expiry, int) or expiry <= now:
        return None
    return device_id


# ---- JSON <-> term convention (admin API and config) -------------------------------
def term_from_json(value: Any) -> Any:
    """Build a term from JSON: ``{"$atom": "ok"}``, ``{"$tuple": [...]}``,
    ``{"$charlist": "abc"}``, ``{"$base64": "..."}`` (a binary); strings are binaries;
    other objects are maps with binary keys."""
    if isinstance(value, dict):
        if len(value) == 1:
            (key, inner), = value.items()
            if key == "$atom" and isinstance(inner, str):
                return etf.Atom(inner)
            if key == "$tuple" and isinstance(inner, list):
                return tuple(term_from_json(v) for v in inner)
            if key == "$charlist" and isinstance(inner, str):
                return [ord(c) for c in inner]
            if key == "$base64" and isinstance(inner, str):
                return base64.b64decode(inner, validate=True)
        return {term_from_json(k): term_from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [term_from_json(v) for v in value]
    if isinstance(value, str):
        return value.encode()
    return value


def term_to_json(term: Any) -> Any:
    """The inverse of :func:`term_from_json`, for showing terms in the admin API."""
    if isinstance(term, etf.Atom):
        return {"$atom": str(term)}
    if term is None or isinstance(term, (bool, int, float, str)):
        return term
    if isinstance(term, (bytes, bytearray)):
        try:
            return bytes(term).decode("utf-8")
        except UnicodeDecodeError:
            return {"$base64": base64.b64encode(bytes(term)).decode()}
    if isinstance(term, tuple):
        return {"$tuple": [term_to_json(v) for v in term]}
    if isinstance(term, list):
        return [term_to_json(v) for v in term]
    if isinstance(term, dict):
        items = [(term_to_json(k), term_to_json(v)) for k, v in term.items()]
        if all(isinstance(k, str) for k, _ in items):
            return dict(items)
        return {"$map": [[k, v] for k, v in items]}
    return {"$repr": repr(term)}


# ---- the upgrade -------------------------------------------------------------------
def parse_auth(value: Optional[str], atoms: List[str]) -> Union[Dict[Any, Any], str]:
    """The auth map from the header, or the reason it is refused."""
    if value is None:
        return "missing x-fedecks-auth header"
    if len(value) >= 1024:
        return "x-fedecks-auth too long"
    try:
        raw = base64.b64decode(value.encode("latin-1"), validate=True)
    except (binascii.Error, ValueError):
        return "x-fedecks-auth is not base64"
    try:
        auth = etf.loads(raw, safe=True, atoms=atoms, binaries="str")
    except (DecodeError, ValueError):
        return "x-fedecks-auth is not a safe term"
    if not isinstance(auth, dict):
        return "x-fedecks-auth is not a map"
    if not isinstance(auth.get("fedecks-device-id"), str):
        return "x-fedecks-auth has no device id"
    return auth


def authenticate(cfg: Dict[str, Any], secret: bytes, auth: Dict[Any, Any]) -> Optional[str]:
    """None when ``auth`` is accepted, else why not (without any secret in it)."""
    device_id = auth["fedecks-device-id"]
    if "fedecks-token" in auth:
        token_device = verify_token(secret, auth["fedecks-token"])
        if token_device is None:
            return "invalid or expired token"
        if token_device != device_id:
            return "token belongs to another device"
        return None
    user, password = auth.get("username"), auth.get("password")
    if not isinstance(user, str) or not isinstance(password, str):
        return "no credentials"
    ok_user = hmac.compare_digest(user.encode(), str(cfg["username"]).encode())
    ok_pass = hmac.compare_digest(password.encode(), str(cfg["password"]).encode())
    return None if ok_user and ok_pass else "wrong credentials"


async def serve(server: Any, req: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    cfg = server.config
    fcfg = cfg["fedecks"]
    auth = parse_auth(single_header(req, "x-fedecks-auth"), fcfg["atoms"])
    reason = auth if isinstance(auth, str) else authenticate(fcfg, server.fedecks_secret, auth)
    if reason is not None:
        log.info("fedecks upgrade from %s refused: %s", req.peer, reason)
    ws = await upgrade(
        req,
        reader,
        writer,
        max_size=cfg["endpoint"]["max_frame_size"],
        idle_timeout=cfg["endpoint"]["idle_timeout"],
        close_timeout=cfg["endpoint"]["close_timeout"],
        reject=(403, reason) if reason is not None else None,
    )
    if ws is None or isinstance(auth, str):
        return
    session = FedecksSession(server, ws, auth["fedecks-device-id"])
    await session.serve()


# ---- the session -------------------------------------------------------------------
class FedecksSession:
    """One Fedecks device connection."""

    kind = "fedecks"

    def __init__(self, server: Any, ws: WebSocket, device_id: str) -> None:
        self.server = server
        self.hub = server.hub
        self.ws = ws
        self.device_id = device_id
        self.id = server.hub.new_id("fedecks", device_id)
        cfg = server.config["fedecks"]
        self.cfg = cfg
        self.atoms = list(cfg["atoms"])
        self.answers: List[Tuple[Any, Any]] = [
            (term_from_json(a["when"]), term_from_json(a["reply"])) for a in cfg["answers"]
        ]
        self.history = History(server.config["endpoint"]["history"])
        self.connected_at = time.time()
        self.received = 0
        self.sent = 0
        self.raw = 0
        self.tokens_sent = 0

    async def serve(self) -> None:
        self.hub.add(self)
        log.info("fedecks connected: %s", self.id)
        refresher = asyncio.ensure_future(self._refresh())
        try:
            await self.ws.run(self.on_message, self.on_idle)
        finally:
            refresher.cancel()
            self.hub.remove(self)
            log.info("fedecks disconnected: %s (close code %s)", self.id, self.ws.close_code)

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(self.cfg["token_refresh"])
            self.send_token()

    def on_idle(self) -> None:
        self.ws.close(1002, "idle timeout")  # what Bandit sends on a timeout

    def disconnect(self, reason: str) -> None:
        self.ws.close(1000, reason)

    def _send_term(self, term: Any) -> bool:
        ok = self.ws.send_binary(etf.dumps(term))
        self.sent += ok
        return ok

    def send_token(self) -> bool:
        token = make_token(self.server.fedecks_secret, self.device_id, self.cfg["token_ttl"])
        self.tokens_sent += 1
        return self._send_term((TOKEN_CHARLIST, token))

    def on_message(self, data: Any) -> None:
        self.received += 1
        if isinstance(data, TextMessage):
            self.history.add("in", None, "text (ignored)", None)
            return
        if data == TOKEN_PLEASE:
            self.history.add("in", None, "token_please", None)
            self.send_token()
            return
        if data[:1] != b"\x83":
            self._raw(data, "not an external term")
            return
        try:
            term = etf.loads(data, safe=True, atoms=self.atoms)
        except (DecodeError, ValueError) as exc:  # DecodeError is a ValueError
            where = f"{getattr(exc, 'kind', type(exc).__name__)} at offset {getattr(exc, 'offset', '?')}"
            self._raw(data, where)
            return
        if term == list(b"token_please"):
            self.send_token()
            return
        self.history.add("in", None, "term", term_to_json(term))
        for when, reply in self.answers:
            if term == when:
                self._send_term(reply)
                return
        if self.cfg["default_reply"] == "echo":
            self._send_term(term)

    def _raw(self, data: bytes, why: str) -> None:
        self.raw += 1
        self.history.add("in", None, "raw", {"$base64": base64.b64encode(data[:256]).decode(), "error": why})
        log.info("fedecks %s: raw frame (%d bytes): %s", self.id, len(data), why)

    def deliver_broadcast(self, topic: str, event: str, payload: Any, frames: Dict[str, Any]) -> bool:
        return False

    def describe(self) -> Dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "device_id": self.device_id,
            "path": self.ws.request.path,
            "connected_at": round(self.connected_at, 3),
            "topics": {},
            "received": self.received,
            "sent": self.sent,
            "raw": self.raw,
            "tokens_sent": self.tokens_sent,
            "last_messages": self.history.export(),
        }

    def admin_push(self, body: Dict[str, Any]) -> Dict[str, Any]:
        """``{"term": <JSON convention>}``, ``{"binary": base64}`` or ``{"token": true}``."""
        if body.get("token"):
            self.send_token()
            return {"pushed": True, "token": True}
        if "binary" in body:
            data = base64.b64decode(body["binary"], validate=True)
            if not self.ws.send_binary(data):
                raise LookupError(f"{self.id} is closed")
            self.history.add("out", None, "binary", {"$base64": body["binary"]})
            return {"pushed": True, "bytes": len(data)}
        if "term" not in body:
            raise ValueError("push to a fedecks device needs 'term', 'binary' or 'token'")
        term = term_from_json(body["term"])
        if not self._send_term(term):
            raise LookupError(f"{self.id} is closed")
        self.history.add("out", None, "term", body["term"])
        return {"pushed": True}
