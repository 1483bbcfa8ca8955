"""What the server knows about its connections: ids, topic membership, history.

One :class:`Hub` per server. Connections register on connect and leave on
disconnect; channels subscribe their connection to topics so that broadcasts
(from ``room:*`` members or the admin API) reach every member.
"""

from __future__ import annotations

import base64
import itertools
import time
from collections import deque
from typing import Any, Deque, Dict, Iterable, List, Optional, Protocol, Set


class Connection(Protocol):
    """What the hub and the admin API need from a connection."""

    id: str
    kind: str

    def describe(self) -> Dict[str, Any]: ...

    def admin_push(self, body: Dict[str, Any]) -> Dict[str, Any]: ...

    def deliver_broadcast(self, topic: str, event: str, payload: Any, frames: Dict[str, Any]) -> bool: ...

    def disconnect(self, reason: str) -> None: ...


def jsonable(value: Any) -> Any:
    """A JSON-friendly view of a payload for the admin API (bytes as base64)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$base64": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


class History:
    """The last ``n`` messages of a connection, kept cheaply (converted when read)."""

    def __init__(self, n: int) -> None:
        self.items: Deque[tuple] = deque(maxlen=max(1, n))

    def add(self, direction: str, topic: Optional[str], event: Optional[str], payload: Any) -> None:
        self.items.append((time.time(), direction, topic, event, payload))

    def export(self) -> List[Dict[str, Any]]:
        out = []
        for at, direction, topic, event, payload in self.items:
            if callable(payload):
                try:
                    payload = payload()
                except Exception as exc:  # a payload that fails to decode is shown as such
                    payload = {"$error": str(exc)}
            out.append(
                {
                    "at": round(at, 3),
                    "direction": direction,
                    "topic": topic,
                    "event": event,
                    "payload": jsonable(payload),
                }
            )
        return out


class Hub:
    """Registry of live connections and topic subscriptions."""

    def __init__(self) -> None:
        self.connections: Dict[str, Connection] = {}
        self.topics: Dict[str, Set[Any]] = {}
        self.readings: Dict[str, List[Dict[str, Any]]] = {}
        self._seq = itertools.count(1)

    def new_id(self, kind: str, wanted: Optional[str]) -> str:
        """A unique connection id: ``wanted`` if free, else ``wanted~N`` or ``kind-N``."""
        n = next(self._seq)
        if wanted:
            if wanted not in self.connections:
                return wanted
            return f"{wanted}~{n}"
        return f"{kind}-{n}"

    def add(self, conn: Connection) -> None:
        self.connections[conn.id] = conn

    def remove(self, conn: Connection) -> None:
        if self.connections.get(conn.id) is conn:
            del self.connections[conn.id]

    def subscribe(self, topic: str, member: Any) -> None:
        self.topics.setdefault(topic, set()).add(member)

    def unsubscribe(self, topic: str, member: Any) -> None:
        members = self.topics.get(topic)
        if members is not None:
            members.discard(member)
            if not members:
                del self.topics[topic]

    def members(self, topic: str) -> Iterable[Any]:
        return list(self.topics.get(topic, ()))

    def broadcast(self, topic: str, event: str, payload: Any) -> int:
        """Send ``event`` to every member of ``topic``; returns how many got it.

        Frames are encoded once per wire format (``frames`` is a per-call cache the
        members fill and share), not once per member.
        """
        frames: Dict[str, Any] = {}
        delivered = 0
        for member in self.members(topic):
            if member.deliver_broadcast(topic, event, payload, frames):
                delivered += 1
        return delivered

    def store_readings(self, controller_id: str, readings: Any) -> None:
        log = self.readings.setdefault(controller_id, [])
        log.append({"at": round(time.time(), 3), "readings": readings})
        del log[:-1000]  # bounded: the newest 1000 uploads per controller
