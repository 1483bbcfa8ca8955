"""Phoenix Channels socket semantics, as Phoenix 1.8's ``Phoenix.Socket`` has them.

Every frame is read and written by :mod:`phoenix_wire`. The rules (spec section 2):

- ``vsn`` 1.x speaks V1 objects, 2.x V2 arrays and V2 binary frames; any other vsn
  fails the connect (403, as Phoenix answers a refused connect).
- ``heartbeat`` on topic ``phoenix`` is answered before any channel lookup.
- ``phx_join`` runs the channel's join; the reply carries the join's join_ref and ref.
  An unknown topic gets ``{"reason": "unmatched topic"}`` with a null join_ref. A
  join on a joined topic closes the old channel (``phx_close`` with the old
  join_ref, written after the new join's reply, as Phoenix queues it) and joins anew.
- Any other event on an unjoined topic gets ``unmatched topic``, except
  ``phx_leave``, which gets an ok reply as in Phoenix.
- A message whose non-null join_ref differs from the channel's join_ref is stale and
  dropped without a reply (a null join_ref is accepted, as in Phoenix 1.8.12).
- ``phx_leave`` gets an ok reply, then ``[jr, jr, topic, "phx_close", {}]``.
- A channel that crashes sends ``[jr, jr, topic, "phx_error", {"reason":
  "channel_crash"}]`` (Phoenix 1.8.10+) and is gone.
- No frame for ``idle_timeout`` seconds closes the socket with 1002, as Bandit (Phoenix
  1.8's default adapter) does, with the reason "idle timeout".
- A frame the codec rejects closes only this connection: 1007 with the error kind
  and offset as the reason; a binary frame on a V1 socket closes with 1003.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Dict, Optional

import phoenix_wire as pw

from .hub import History
from .transport import TextMessage, WebSocket

log = logging.getLogger("phoenix_wire.mock")

# Frames larger than this are listed by the admin API without their payload.
HISTORY_PAYLOAD_MAX = 64 * 1024

# What a router returns for a topic: a factory making the channel handler, or None.
Router = Callable[[str], Optional[Callable[["PhoenixSocket", str], "ChannelHandler"]]]


class ChannelHandler:
    """Base class of the server side of one joined topic (Phoenix's channel process)."""

    def __init__(self, socket: "PhoenixSocket", topic: str) -> None:
        self.socket = socket
        self.topic = topic

    def join(self, params: Any) -> "tuple[str, Any]":
        """Return ``("ok", response)`` or ``("error", response)``; raising is a crash."""
        return "ok", {}

    def after_join(self) -> None:
        """Runs once the join reply is written (pushes go out after it)."""

    def handle_in(self, event: str, msg: Any) -> Any:
        """A client event on this topic; answer with ``self.reply`` or not at all.

        Plain functions keep the hot path free of coroutines; a handler that needs
        to wait may return an awaitable, which the connection then awaits."""

    def terminate(self, reason: str) -> None:
        """The channel is gone (leave, duplicate join, crash, disconnect)."""

    # Helpers for subclasses.
    def reply(self, msg: Any, status: str, response: Any) -> None:
        self.socket.reply(self.socket.channels[self.topic].join_ref, msg.ref, self.topic, status, response)

    def push(self, event: str, payload: Any) -> bool:
        return self.socket.push(self.topic, event, payload)


class Channel:
    """A joined topic: its join_ref and handler."""

    __slots__ = ("topic", "join_ref", "handler")

    def __init__(self, topic: str, join_ref: Any, handler: ChannelHandler) -> None:
        self.topic = topic
        self.join_ref = join_ref
        self.handler = handler


def vsn_major(vsn: str) -> Optional[int]:
    """The major version of a ``vsn`` connect parameter (absent means 1.0.0)."""
    parts = vsn.split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return None
    return int(parts[0])


class PhoenixSocket:
    """One client connection speaking Phoenix Channels."""

    def __init__(
        self,
        server: Any,
        ws: WebSocket,
        *,
        conn_id: str,
        vsn: str,
        router: Router,
        kind: str = "phoenix",
        params: Optional[Dict[str, str]] = None,
    ) -> None:
        self.server = server
        self.hub = server.hub
        self.ws = ws
        self.id = conn_id
        self.kind = kind
        self.vsn = vsn
        self.major = vsn_major(vsn) or 1
        self.router = router
        self.params = dict(params or {})
        self.params.pop("vsn", None)
        self.channels: Dict[str, Channel] = {}
        self.info: Dict[str, Any] = {}
        self.history = History(server.config["endpoint"]["history"])
        self.connected_at = time.time()
        self.received = 0
        self.sent = 0
        self.stale_dropped = 0

    # ---- lifecycle -------------------------------------------------------------
    async def serve(self) -> None:
        self.hub.add(self)
        log.info("%s connected: %s (vsn %s)", self.kind, self.id, self.vsn)
        try:
            await self.ws.run(self.on_message, self.on_idle)
        finally:
            for ch in list(self.channels.values()):
                self._drop(ch, "disconnect")
            self.hub.remove(self)
            log.info("%s disconnected: %s (close code %s)", self.kind, self.id, self.ws.close_code)

    def on_idle(self) -> None:
        log.info("%s %s: idle timeout, closing", self.kind, self.id)
        self.ws.close(1002, "idle timeout")  # what Bandit sends on a timeout

    def disconnect(self, reason: str) -> None:
        self.ws.close(1000, reason)

    # ---- sending -----------------------------------------------------------------
    def _send_text(self, frame: str) -> bool:
        ok = self.ws.send_text(frame)
        self.sent += ok
        return ok

    def _send_binary(self, frame: bytes) -> bool:
        ok = self.ws.send_binary(frame)
        self.sent += ok
        return ok

    def reply(self, join_ref: Any, ref: Any, topic: str, status: str, response: Any) -> bool:
        """Write a ``phx_reply``: JSON, or a binary reply (kind 1) for ``bytes`` on V2."""
        if isinstance(response, (bytes, bytearray, memoryview)):
            if self.major < 2:
                return False
            return self._send_binary(pw.reply_binary(join_ref, ref, topic, status, bytes(response)))
        return self._send_text(pw.reply(join_ref, ref, topic, status, response, vsn=self.vsn))

    def push_frame(self, join_ref: Any, ref: Any, topic: str, event: str, payload: Any) -> bool:
        """Write a server message; ``bytes`` payloads go as V2 binary frames."""
        if isinstance(payload, (bytes, bytearray, memoryview)):
            if self.major < 2:
                return False  # V1 has no binary frames (Phoenix's V1 serializer raises)
            frame = pw.encode_binary(join_ref, ref, topic, event, bytes(payload), direction="to_client")
            return self._send_binary(frame)
        return self._send_text(pw.encode(join_ref, ref, topic, event, payload, vsn=self.vsn))

    def push(self, topic: str, event: str, payload: Any) -> bool:
        """Push ``event`` on a joined topic (``[join_ref, null, topic, event, payload]``)."""
        ch = self.channels.get(topic)
        if ch is None:
            return False
        return self.push_frame(ch.join_ref, None, topic, event, payload)

    def deliver_broadcast(self, topic: str, event: str, payload: Any, frames: Dict[str, Any]) -> bool:
        """Send a broadcast frame, encoding it once per wire format for all members."""
        if topic not in self.channels:
            return False
        if isinstance(payload, (bytes, bytearray, memoryview)):
            if self.major < 2:
                return False
            frame = frames.get("bin")
            if frame is None:
                frame = frames["bin"] = pw.encode_binary(
                    None, None, topic, event, bytes(payload), direction="to_client"
                )
            return self._send_binary(frame)
        key = "v1" if self.major < 2 else "v2"
        frame = frames.get(key)
        if frame is None:
            frame = frames[key] = pw.broadcast(topic, event, payload, vsn=self.vsn)
        return self._send_text(frame)

    # ---- receiving -----------------------------------------------------------------
    def on_message(self, data: Any) -> Any:
        try:
            if isinstance(data, TextMessage):
                msg = pw.decode_text(bytes(data), vsn=self.vsn)
            elif self.major < 2:
                self.ws.close(1003, "binary frames need vsn 2.x")
                return None
            else:
                msg = pw.decode(data, vsn=self.vsn, direction="to_server")
        except pw.DecodeError as exc:
            reason = f"malformed frame: {exc.kind} at offset {exc.offset}"
            log.warning("%s %s: %s, closing", self.kind, self.id, reason)
            self.ws.close(1007, reason)
            return None
        self.received += 1
        if len(data) <= HISTORY_PAYLOAD_MAX:
            self.history.add("in", msg.topic, msg.event, lambda: msg.payload)
        else:  # big frames are not kept alive by the history
            self.history.add("in", msg.topic, msg.event, {"$omitted_bytes": len(data)})
        return self.handle(msg)

    def handle(self, msg: Any) -> Any:
        topic, event = msg.topic, msg.event
        if topic == "phoenix" and event == "heartbeat":
            self.reply(None, msg.ref, "phoenix", "ok", {})
            return
        ch = self.channels.get(topic)
        if event == "phx_join":
            self._join(msg, ch)
            return
        if ch is None:
            if event == "phx_leave":
                self.reply(msg.join_ref, msg.ref, topic, "ok", {})
            else:
                self.reply(None, msg.ref, topic, "error", {"reason": "unmatched topic"})
            return
        if ch.join_ref is not None and msg.join_ref is not None and msg.join_ref != ch.join_ref:
            self.stale_dropped += 1
            log.debug("%s %s: dropped stale message on %s", self.kind, self.id, topic)
            return
        if event == "phx_leave":
            self.reply(ch.join_ref, msg.ref, topic, "ok", {})
            self._drop(ch, "leave")
            self.push_frame(ch.join_ref, ch.join_ref, topic, "phx_close", {})
            return
        try:
            result = ch.handler.handle_in(event, msg)
        except Exception:
            log.exception("%s %s: channel %s crashed", self.kind, self.id, topic)
            self.crash(topic)
            return None
        if result is not None:
            return self._await_handler(topic, result)
        return None

    async def _await_handler(self, topic: str, result: Any) -> None:
        try:
            await result
        except Exception:
            log.exception("%s %s: channel %s crashed", self.kind, self.id, topic)
            self.crash(topic)

    def _join(self, msg: Any, existing: Optional[Channel]) -> None:
        topic = msg.topic
        if existing is not None:
            self._drop(existing, "duplicate join")
        factory = self.router(topic)
        if factory is None:
            self.reply(None, msg.ref, topic, "error", {"reason": "unmatched topic"})
        else:
            handler = factory(self, topic)
            try:
                status, response = handler.join(msg.payload)
            except Exception:
                log.exception("%s %s: join of %s crashed", self.kind, self.id, topic)
                status, response = "error", {"reason": "join crashed"}
            if status == "ok":
                self.channels[topic] = Channel(topic, msg.join_ref, handler)
                self.hub.subscribe(topic, self)
            self.reply(msg.join_ref, msg.ref, topic, status, response)
            if status == "ok":
                log.info("%s %s joined %s", self.kind, self.id, topic)
        if existing is not None:
            self.push_frame(existing.join_ref, existing.join_ref, topic, "phx_close", {})
        joined = self.channels.get(topic)
        if joined is not None and existing is not joined:
            joined.handler.after_join()

    def _drop(self, ch: Channel, reason: str) -> None:
        if self.channels.get(ch.topic) is ch:
            del self.channels[ch.topic]
        self.hub.unsubscribe(ch.topic, self)
        try:
            ch.handler.terminate(reason)
        except Exception:
            log.exception("%s %s: terminate of %s failed", self.kind, self.id, ch.topic)

    def crash(self, topic: str) -> bool:
        """Crash a channel as Phoenix reports it: ``phx_error`` and the topic is gone."""
        ch = self.channels.get(topic)
        if ch is None:
            return False
        self._drop(ch, "crash")
        self.push_frame(ch.join_ref, ch.join_ref, topic, "phx_error", {"reason": "channel_crash"})
        return True

    # ---- admin -------------------------------------------------------------------
    def describe(self) -> Dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "vsn": self.vsn,
            "path": self.ws.request.path,
            "params": self.params,
            "connected_at": round(self.connected_at, 3),
            "topics": {t: {"join_ref": c.join_ref} for t, c in self.channels.items()},
            "received": self.received,
            "sent": self.sent,
            "stale_dropped": self.stale_dropped,
            **self.info,
            "last_messages": self.history.export(),
        }

    def admin_push(self, body: Dict[str, Any]) -> Dict[str, Any]:
        """Push ``{"topic", "event", "payload"}`` (or ``"binary"``: base64) to this client."""
        import base64

        topic = body.get("topic")
        if topic is None:  # default: the device topic, or the only joined one
            joined = list(self.channels)
            topic = "device" if "device" in joined else (joined[0] if len(joined) == 1 else None)
        event = body.get("event")
        if not isinstance(topic, str) or not isinstance(event, str):
            raise ValueError("push needs string 'topic' and 'event'")
        if "binary" in body:
            payload: Any = base64.b64decode(body["binary"], validate=True)
        else:
            payload = body.get("payload", {})
        if topic not in self.channels:
            raise LookupError(f"topic {topic!r} is not joined by {self.id}")
        if not self.push(topic, event, payload):
            raise LookupError(f"could not push to {self.id} (closed, or binary on vsn 1)")
        self.history.add("out", topic, event, payload)
        return {"pushed": True, "topic": topic, "event": event}
