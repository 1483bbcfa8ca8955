"""What each kind of simulated device says (spec section 5).

A device connects, runs its `setup` (joins, or the Fedecks token exchange),
then on every tick sends its profile's message and, every keepalive
interval, its heartbeat. Requests that the server answers are timed from
send to answer; everything else only counts as sent.

- ``nerves-hub``: ``/socket/websocket?vsn=2.0.0``; joins ``device`` with
  firmware metadata and ``console``. NervesHub answers device events
  (``fwup_progress``, ``status_update``) with nothing, so each tick is a
  heartbeat round trip, with a ``fwup_progress`` every 5th tick and a
  ``status_update`` every 50th, as a device in the middle of an update sends
  them.
- ``microcontroller``: ``/microcontrollers/websocket`` (V1 objects, integer
  refs) with ``X-API-Key``; waits for ``metadata``, joins
  ``microcontroller:v1:<controller_id>``, and each tick uploads readings
  (answered ok). Heartbeats every keepalive interval.
- ``fedecks``: ``/fedecks/websocket`` with ``x-fedecks-auth``; asks for a
  token with ``'token_please'``, then each tick sends
  ``{:reading, n, %{"temp" => t}}`` (echoed by the server) or, every 10th,
  ``:ping`` (answered ``:pong``). Terms have no refs, so answers are matched
  in order. Keepalive is a websocket ping carrying the device id (timed
  as ``ws_ping``).
"""

from __future__ import annotations

import asyncio
import base64
import collections
import time
from typing import Any, Deque, Dict, List, Optional, Tuple
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import phoenix_wire as pw

__all__ = ["PROFILES", "Device", "SetupError", "build_url"]

_now = time.monotonic

# `'token_please'` as Fedecks clients send it: the charlist, tag 107 (STRING).
TOKEN_PLEASE = bytes([131, 107, 0, 12]) + b"token_please"
_TOKEN_CHARLIST = list(b"token")


class SetupError(Exception):
    """The device connected but could not get ready; `kind` names why."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


def build_url(base: str, path: str, query: Dict[str, str]) -> str:
    """`base` with the profile's path when it has none, and `query` added
    unless the URL already sets those keys."""
    parts = urlsplit(base)
    if parts.scheme not in ("ws", "wss"):
        raise ValueError(f"not a websocket URL (ws:// or wss://): {base}")
    have = dict(parse_qsl(parts.query, keep_blank_values=True))
    merged = list(parse_qsl(parts.query, keep_blank_values=True))
    merged += [(k, v) for k, v in query.items() if k not in have]
    url_path = parts.path if parts.path not in ("", "/") else path
    return urlunsplit((parts.scheme, parts.netloc, url_path, urlencode(merged), ""))


class Device:
    """One simulated device: the per-profile behaviour over a websocket.

    The runner owns the connection lifecycle; subclasses build the URL and
    headers, run `setup`, and say what a tick and a keepalive send.
    """

    profile = ""
    path = ""
    keepalive_default = 30.0

    def __init__(self, fleet: Any, index: int) -> None:
        self.fleet = fleet
        self.stats = fleet.stats
        self.opts = fleet.opts
        self.index = index
        self.name = f"sim-{index + 1:05d}"
        self.ws: Any = None
        self.ready = False  # connected and set up
        self.closing = False  # the simulator is closing the socket itself
        self.closed = False
        self.ticks = 0  # ticks sent so far
        self.interval = 0.0  # seconds between ticks, set by the runner
        self.keepalive_interval = 0.0

    # ---- profile hooks --------------------------------------------------------------
    def url(self) -> str:
        raise NotImplementedError

    def headers(self) -> List[Tuple[str, str]]:
        return []

    async def setup(self) -> None:
        """Get ready after the upgrade (joins, token); raise SetupError."""

    def tick(self, n: int) -> None:
        """Send the `n`-th scheduled message."""

    def keepalive(self) -> None:
        """Send a heartbeat."""

    def on_message(self, data: bytes, is_text: bool) -> None:
        """One message from the server (text as UTF-8 bytes)."""

    def expire(self, now: float, timeout: float) -> None:
        """Count requests unanswered for longer than `timeout` as errors."""

    def outstanding(self) -> int:
        return 0

    def abandon(self) -> None:
        """The connection ended: fail whatever still waits for an answer."""

    # ---- helpers ----------------------------------------------------------------------
    def _send_text(self, frame: str) -> None:
        self.ws.send_text(frame.encode())
        self.stats.on_send(_now())

    def _send_binary(self, data: bytes) -> None:
        self.ws.send_binary(data)
        self.stats.on_send(_now())


class PhoenixDevice(Device):
    """A Phoenix Channels client: refs, joins, phx_reply matching."""

    vsn = "2.0.0"
    int_refs = False

    def __init__(self, fleet: Any, index: int) -> None:
        super().__init__(fleet, index)
        self._ref = 0
        # ref -> (sent at, kind, future or None); dicts keep insertion (= send)
        # order, so the oldest requests are first when expiring.
        self.pending: Dict[Any, Tuple[float, str, Optional[asyncio.Future]]] = {}
        self.pushes: collections.Counter = collections.Counter()
        self._push_waiters: Dict[str, asyncio.Future] = {}
        self._early: Dict[str, Any] = {}  # pushes that arrived during setup, by event

    def _vsn_from(self, url: str) -> str:
        q = dict(parse_qsl(urlsplit(url).query))
        return q.get("vsn", "1.0.0")

    def next_ref(self) -> Any:
        self._ref += 1
        return self._ref if self.int_refs else str(self._ref)

    def push(
        self,
        topic: str,
        event: str,
        payload: Any,
        *,
        join_ref: Any = None,
        kind: str,
        reply: bool = True,
        ref: Any = None,
        waiter: Optional[asyncio.Future] = None,
    ) -> None:
        """Send a message; with `reply`, time its phx_reply (and hand it to `waiter`)."""
        ref = self.next_ref() if ref is None else ref
        frame = pw.encode(join_ref, ref, topic, event, payload, vsn=self.vsn)
        if reply:
            self.pending[ref] = (_now(), kind, waiter)
        self._send_text(frame)

    async def join(self, topic: str, params: Any) -> Any:
        ref = self.next_ref()
        fut = asyncio.get_running_loop().create_future()
        self.push(topic, "phx_join", params, join_ref=ref, ref=ref, kind="join", waiter=fut)
        try:
            status, response = await asyncio.wait_for(fut, self.opts.timeout)
        except asyncio.TimeoutError:
            raise SetupError("join_timeout") from None
        if status != "ok":
            raise SetupError("join_error")
        return response

    async def wait_push(self, event: str) -> Any:
        """The payload of the next `event` push (bounded by the timeout)."""
        if event in self._early:
            # It came with the handshake, before anyone waited for it.
            return self._early.pop(event)
        fut = self._push_waiters.setdefault(event, asyncio.get_running_loop().create_future())
        try:
            return await asyncio.wait_for(fut, self.opts.timeout)
        except asyncio.TimeoutError:
            raise SetupError(f"no_{event}") from None

    def on_message(self, data: bytes, is_text: bool) -> None:
        if is_text:
            msg = pw.decode_text(data, vsn=self.vsn)
        else:
            msg = pw.decode(data, vsn=self.vsn, direction="to_client")
        if msg.event == "phx_reply":
            entry = self.pending.pop(msg.ref, None)
            if entry is None:
                self.stats.on_error("unexpected_reply")
                return
            sent, kind, fut = entry
            now = _now()
            self.stats.on_round_trip(kind, now - sent, now)
            status = msg.status
            if fut is not None:
                if not fut.done():
                    fut.set_result((status, msg.response))
            elif status != "ok":
                self.stats.on_error(f"{kind}_reply_{status}")
            return
        event = msg.event
        self.pushes[event] += 1
        waiter = self._push_waiters.pop(event, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(msg.payload)
        elif event in ("phx_error", "phx_close"):
            self.stats.on_error(event)
        elif not self.ready:
            self._early[event] = msg.payload

    def expire(self, now: float, timeout: float) -> None:
        if not self.pending:
            return
        old = []
        for ref, (sent, _kind, _fut) in self.pending.items():
            if now - sent < timeout:
                break
            old.append(ref)
        for ref in old:
            _, kind, fut = self.pending.pop(ref)
            if fut is None:
                self.stats.on_error(f"{kind}_timeout")

    def outstanding(self) -> int:
        return len(self.pending)

    def abandon(self) -> None:
        for _, _, fut in self.pending.values():
            if fut is not None and not fut.done():
                fut.set_exception(SetupError("closed_during_setup"))
        for fut in self._push_waiters.values():
            if not fut.done():
                fut.set_exception(SetupError("closed_during_setup"))


class NervesHubDevice(PhoenixDevice):
    profile = "nerves-hub"
    path = "/socket/websocket"
    keepalive_default = 30.0

    def url(self) -> str:
        url = build_url(self.opts.url, self.path, {"vsn": "2.0.0", "serial": self.name})
        self.vsn = self._vsn_from(url)
        return url

    def firmware(self) -> Dict[str, Any]:
        return {
            "nerves_fw_uuid": f"00000000-0000-4000-8000-{self.index + 1:012d}",
            "nerves_fw_version": "1.2.3",
            "nerves_fw_product": "phoenix-wire-sim",
            "nerves_fw_platform": "rpi4",
            "nerves_fw_architecture": "aarch64",
            "nerves_fw_author": "phoenix-wire",
            "fwup_version": "1.10.2",
            "device_api_version": "2.3.0",
            "console_version": "2.0.0",
            "currently_downloading_uuid": None,
            "meta": {"firmware_validated": True, "firmware_auto_revert_detected": False},
        }

    async def setup(self) -> None:
        self.device_join = self._ref + 1
        await self.join("device", self.firmware())
        self.console_join = self._ref + 1
        await self.join("console", {})

    def tick(self, n: int) -> None:
        self.push("phoenix", "heartbeat", {}, kind="heartbeat")
        jr = self._join_ref(self.device_join)
        if n % 5 == 4:
            self.push("device", "fwup_progress", {"value": (n // 5) % 101}, join_ref=jr, kind="event", reply=False)
        if n % 50 == 49:
            self.push("device", "status_update", {"status": "updating"}, join_ref=jr, kind="event", reply=False)

    def _join_ref(self, n: int) -> Any:
        return n if self.int_refs else str(n)

    def keepalive(self) -> None:
        self.push("phoenix", "heartbeat", {}, kind="heartbeat")


class MicrocontrollerDevice(PhoenixDevice):
    profile = "microcontroller"
    path = "/microcontrollers/websocket"
    keepalive_default = 60.0
    int_refs = True

    def url(self) -> str:
        # The devices connect without `vsn`, which means V1 objects.
        url = build_url(self.opts.url, self.path, {})
        self.vsn = self._vsn_from(url)
        return url

    def headers(self) -> List[Tuple[str, str]]:
        return [("X-API-Key", self.opts.api_key)]

    async def setup(self) -> None:
        meta = await self.wait_push("metadata")
        if not isinstance(meta, dict) or "controller_id" not in meta:
            raise SetupError("bad_metadata")
        self.topic = f"microcontroller:v1:{meta['controller_id']}"
        self.join_ref = self._ref + 1
        await self.join(self.topic, {})

    def tick(self, n: int) -> None:
        readings = {
            f"sensor-{self.index + 1}": [
                {"type": "temperature", "value": f"{20 + (n % 50) / 10:.1f}"},
                {"type": "humidity", "value": str(40 + n % 20)},
            ]
        }
        self.push(self.topic, "upload_readings", readings, join_ref=self.join_ref, kind="upload_readings")

    def keepalive(self) -> None:
        self.push("phoenix", "heartbeat", {}, kind="heartbeat")


class FedecksDevice(Device):
    profile = "fedecks"
    path = "/fedecks/websocket"
    keepalive_default = 19.0

    def __init__(self, fleet: Any, index: int) -> None:
        super().__init__(fleet, index)
        from phoenix_wire import etf

        self.etf = etf
        self.atom_reading = etf.Atom("reading")
        self.ping_frame = etf.dumps(etf.Atom("ping"))
        # (sent at, kind, expected sequence number or None), answered in order.
        self.fifo: Deque[Tuple[float, str, Optional[int]]] = collections.deque()
        self.token: Optional[bytes] = None
        self._token_waiter: Optional[asyncio.Future] = None
        self.token_refreshes = 0
        self._pings: set = set()

    def url(self) -> str:
        return build_url(self.opts.url, self.path, {})

    def headers(self) -> List[Tuple[str, str]]:
        auth = {"fedecks-device-id": self.name, "username": self.opts.username, "password": self.opts.password}
        return [("x-fedecks-auth", base64.b64encode(self.etf.dumps(auth)).decode("ascii"))]

    async def setup(self) -> None:
        self._token_waiter = asyncio.get_running_loop().create_future()
        sent = _now()
        self._send_binary(TOKEN_PLEASE)
        try:
            await asyncio.wait_for(self._token_waiter, self.opts.timeout)
        except asyncio.TimeoutError:
            raise SetupError("no_token") from None
        now = _now()
        self.stats.on_round_trip("token", now - sent, now)

    def tick(self, n: int) -> None:
        if n % 10 == 9:
            self.fifo.append((_now(), "ping", None))
            self._send_binary(self.ping_frame)
            return
        term = (self.atom_reading, n, {"temp": 20.0 + (n % 50) / 10})
        self.fifo.append((_now(), "reading", n))
        self._send_binary(self.etf.dumps(term))

    def keepalive(self) -> None:
        # Fedecks clients ping with the device id and drop the connection
        # when no pong comes back; time it like any other round trip.
        sent = _now()
        waiter = self.ws.ping(self.name.encode())
        self.stats.on_send(sent)
        task = asyncio.get_running_loop().create_task(self._await_pong(waiter, sent))
        self._pings.add(task)
        task.add_done_callback(self._pings.discard)

    async def _await_pong(self, waiter: Any, sent: float) -> None:
        try:
            await asyncio.wait_for(waiter, self.opts.timeout)
        except asyncio.TimeoutError:
            self.stats.on_error("pong_timeout")
            return
        except Exception:  # the connection closed first; the reader counts that
            return
        now = _now()
        self.stats.on_round_trip("ws_ping", now - sent, now)

    def on_message(self, data: bytes, is_text: bool) -> None:
        if is_text:
            self.stats.on_error("unexpected_text_frame")
            return
        term = self.etf.loads(data)
        if isinstance(term, tuple) and len(term) == 2 and term[0] == _TOKEN_CHARLIST:
            self.token = term[1]
            if self._token_waiter is not None and not self._token_waiter.done():
                self._token_waiter.set_result(term[1])
            else:
                self.token_refreshes += 1
            return
        if not self.fifo:
            self.stats.on_error("unexpected_term")
            return
        sent, kind, seq = self.fifo.popleft()
        now = _now()
        if kind == "ping":
            ok = term == self.etf.Atom("pong")
        else:
            ok = isinstance(term, tuple) and len(term) == 3 and term[0] == self.atom_reading and term[1] == seq
        if not ok:
            self.stats.on_error(f"{kind}_wrong_answer")
            return
        self.stats.on_round_trip(kind, now - sent, now)

    def expire(self, now: float, timeout: float) -> None:
        while self.fifo and now - self.fifo[0][0] >= timeout:
            _, kind, _ = self.fifo.popleft()
            self.stats.on_error(f"{kind}_timeout")

    def outstanding(self) -> int:
        return len(self.fifo)

    def abandon(self) -> None:
        if self._token_waiter is not None and not self._token_waiter.done():
            self._token_waiter.set_exception(SetupError("closed_during_setup"))
        for task in list(self._pings):
            task.cancel()


PROFILES = {
    "nerves-hub": NervesHubDevice,
    "microcontroller": MicrocontrollerDevice,
    "fedecks": FedecksDevice,
}
