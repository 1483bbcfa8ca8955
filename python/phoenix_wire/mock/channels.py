"""The channels the mock serves (spec section 5), and the topic routers.

``/socket/websocket``: NervesHub's ``device`` and ``console`` topics and generic
``room:*`` topics. ``/microcontrollers/websocket``: ``microcontroller:v1:<id>``.
As in the production servers, device events (``fwup_progress``, ``status_update``,
``rebooting``, console ``up``...) are recorded and get no reply; ``room:*`` events
are broadcast to every member and answered ok; ``upload_readings`` is stored and
answered ok.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Dict, List, Optional, Tuple

from .phoenix import ChannelHandler, PhoenixSocket

log = logging.getLogger("phoenix_wire.mock")

Factory = Callable[[PhoenixSocket, str], ChannelHandler]

DEVICE_EVENTS = ("fwup_progress", "status_update", "rebooting", "firmware_validated", "connection_types")


class DeviceChannel(ChannelHandler):
    """NervesHub ``device``: the join carries the firmware metadata."""

    def join(self, params: Any) -> Tuple[str, Any]:
        if not isinstance(params, dict):
            return "error", {"reason": "firmware metadata must be a JSON object"}
        self.socket.info["firmware"] = params
        cfg = self.socket.server.config["device"]
        return "ok", cfg["join_response"]

    def after_join(self) -> None:
        for item in self.socket.server.config["device"]["on_join"]:
            self.push(item["event"], item.get("payload", {}))

    def handle_in(self, event: str, msg: Any) -> None:
        state = self.socket.info.setdefault("device", {})
        if event in DEVICE_EVENTS:
            state[event] = msg.payload
        else:
            log.info("device %s: unhandled event %r", self.socket.id, event)


class ConsoleChannel(ChannelHandler):
    """NervesHub ``console``: ``up`` output is kept; ``dn``/``window_size`` come from the admin API."""

    def join(self, params: Any) -> Tuple[str, Any]:
        self.socket.info.setdefault("console", {"output": ""})
        return "ok", {}

    def handle_in(self, event: str, msg: Any) -> None:
        if event == "up" and isinstance(msg.payload, dict):
            console = self.socket.info.setdefault("console", {"output": ""})
            data = msg.payload.get("data")
            if isinstance(data, str):
                console["output"] = (console["output"] + data)[-4096:]


class RoomChannel(ChannelHandler):
    """``room:*``: every event is broadcast to all members (sender included) and answered ok.

    ``echo`` is answered with its own payload instead (a binary payload gets a
    binary reply, kind 1).
    """

    def join(self, params: Any) -> Tuple[str, Any]:
        if self.topic in self.socket.server.config["rooms"]["deny"]:
            return "error", {"reason": "unauthorized"}
        return "ok", {}

    def handle_in(self, event: str, msg: Any) -> None:
        payload = msg.payload
        if event == "echo":
            self.reply(msg, "ok", payload)
            return
        self.socket.hub.broadcast(self.topic, event, payload)
        self.reply(msg, "ok", {})


class MicrocontrollerChannel(ChannelHandler):
    """``microcontroller:v1:<controller_id>``: only the controller's own topic joins."""

    def join(self, params: Any) -> Tuple[str, Any]:
        own = self.socket.info.get("identity", {}).get("controller_id")
        if self.topic != f"microcontroller:v1:{own}":
            return "error", {"reason": "unauthorized"}
        return "ok", {}

    def handle_in(self, event: str, msg: Any) -> None:
        if event == "upload_readings":
            payload = msg.payload
            if not isinstance(payload, dict):
                self.reply(msg, "error", {"reason": "readings must be an object"})
                return
            # Keyed by controller, not by connection: reconnects keep one
            # bounded log, and a fleet of short connections cannot grow the
            # store (and the garbage collector's work) without limit.
            controller = f"microcontroller:{self.socket.info.get('identity', {}).get('controller_id')}"
            self.socket.hub.store_readings(controller, payload)
            self.socket.info["readings"] = self.socket.hub.readings[controller][-5:]
            self.reply(msg, "ok", {})
        else:
            self.reply(msg, "error", {"reason": f"unknown event {event}"})


def make_router(routes: List[Tuple[str, Factory]]) -> Callable[[str], Optional[Factory]]:
    """A Phoenix-style router: exact topics, or patterns ending in ``*`` (prefix match)."""
    exact: Dict[str, Factory] = {}
    prefixes: List[Tuple[str, Factory]] = []
    for pattern, factory in routes:
        if pattern.endswith("*"):
            prefixes.append((pattern[:-1], factory))
        else:
            exact[pattern] = factory

    def route(topic: str) -> Optional[Factory]:
        found = exact.get(topic)
        if found is not None:
            return found
        for prefix, factory in prefixes:
            if topic.startswith(prefix):
                return factory
        return None

    return route


SOCKET_ROUTES = make_router([("device", DeviceChannel), ("console", ConsoleChannel), ("room:*", RoomChannel)])
MICROCONTROLLER_ROUTES = make_router([("microcontroller:v1:*", MicrocontrollerChannel)])
