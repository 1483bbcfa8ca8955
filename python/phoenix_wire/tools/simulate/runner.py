"""Runs a fleet of simulated devices against one server URL, bounded in time.

Every device is one asyncio task on one loop: connect (at most
`connect_concurrency` handshakes at a time), set up, then one scheduler
sends every device's ticks and keepalives until the deadline, waits up to
`timeout` for outstanding answers, and the devices close.
The whole run is also capped as a unit, so nothing can outlive
``duration + 2 * timeout + close`` however the server behaves.
"""

from __future__ import annotations

import asyncio
import errno
import gc
import heapq
import itertools
import math
import random
import resource
import sys
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, TextIO, Tuple

from websockets.exceptions import InvalidHandshake

from phoenix_wire import DecodeError

from . import wsclient
from .profiles import PROFILES, Device, SetupError
from .progress import ProgressBar
from .stats import Stats

__all__ = ["Options", "Fleet", "simulate", "raise_open_files_limit"]

_now = time.monotonic
CLOSE_TIMEOUT = 2.0
# The scheduler sleeps at most this long, so a device that gets ready while
# it sleeps starts sending within this many seconds of its planned time.
SCHEDULER_SLICE = 0.02
TICK, KEEPALIVE = 0, 1


@dataclass
class Options:
    """What `phoenix-wire simulate` was asked to do."""

    url: str
    profile: str = "nerves-hub"
    devices: int = 10
    rate: float = 1.0  # messages per second per device
    duration: float = 10.0  # seconds of sending, from the start of the run
    timeout: float = 5.0  # connect, setup and answer timeout
    keepalive: Optional[float] = None  # seconds; None: the profile's default
    connect_concurrency: int = 32
    api_key: str = "demo-api-key"
    username: str = "demo"
    password: str = "demo-password"
    seed: Optional[int] = None


def raise_open_files_limit(needed: int) -> int:
    """Raises the soft open-files limit to `needed` (at most the hard limit);
    returns the limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


def _connect_error_kind(exc: BaseException) -> str:
    import websockets.exceptions as wse

    if isinstance(exc, asyncio.TimeoutError):
        return "connect_timeout"
    if isinstance(exc, wse.InvalidStatus):
        return f"http_{exc.response.status_code}"
    if isinstance(exc, ConnectionRefusedError):
        return "connect_refused"
    if isinstance(exc, OSError):
        name = errno.errorcode.get(exc.errno or 0, "")
        return f"connect_{name.lower() or 'oserror'}"
    if isinstance(exc, wse.InvalidHandshake):
        return "handshake_error"
    return f"connect_{type(exc).__name__}"


class Fleet:
    """The devices of one run and the clock they share."""

    def __init__(self, opts: Options, stats: Stats) -> None:
        if opts.profile not in PROFILES:
            raise ValueError(f"unknown profile {opts.profile!r} (one of {', '.join(PROFILES)})")
        self.opts = opts
        self.stats = stats
        self.random = random.Random(opts.seed)
        self.started = stats.started
        self.deadline = self.started + opts.duration
        self.devices: List[Device] = [PROFILES[opts.profile](self, i) for i in range(opts.devices)]
        # What the summary shows: the first device's URL with its own name
        # replaced, so it reads as the fleet's URL pattern.
        self.url = self.devices[0].url().replace(self.devices[0].name, "sim-NNNNN") if self.devices else ""

    async def run(self) -> None:
        if not self.devices:
            return
        sem = asyncio.Semaphore(max(1, self.opts.connect_concurrency))
        self._finished = asyncio.Event()
        # One scheduler sends for every device: a heap of (due time, seq,
        # device, what). A task per device sleeping between its ticks costs
        # a timer, a future and a task switch per message; here one sleep
        # serves every device that is due in the same few milliseconds.
        self._heap: List[Tuple[float, int, Device, int]] = []
        self._seq = itertools.count()
        scheduler = asyncio.ensure_future(self._schedule())
        tasks = [asyncio.ensure_future(self._device(d, sem)) for d in self.devices]
        cap = self.opts.duration + 2 * self.opts.timeout + CLOSE_TIMEOUT + 5.0
        _, stuck = await asyncio.wait(tasks, timeout=cap)
        for task in stuck:
            task.cancel()
        if stuck:
            self.stats.on_error("stuck_device_cancelled")
            await asyncio.wait(stuck, timeout=CLOSE_TIMEOUT)
        scheduler.cancel()
        await asyncio.wait([scheduler], timeout=CLOSE_TIMEOUT)

    async def _device(self, dev: Device, sem: asyncio.Semaphore) -> None:
        opts = self.opts
        stats = self.stats
        connected = False

        def on_message(data: bytes, is_text: bool) -> None:
            stats.received += 1
            try:
                dev.on_message(data, is_text)
            except DecodeError as exc:
                stats.on_error(f"decode_{exc.kind}")
            except Exception as exc:  # noqa: BLE001 - counted; must not escape into the transport
                stats.on_error(f"handler_{type(exc).__name__}")

        def on_close(code: Optional[int]) -> None:
            dev.closed = True
            if not dev.closing:
                stats.on_error(f"closed_by_server_{code}")
                stats.dropped += dev.ready
            dev.abandon()

        try:
            async with sem:
                remaining = self.deadline - _now()
                if remaining <= 0:
                    raise SetupError("not_connected_by_deadline")
                try:
                    dev.ws = await wsclient.connect(
                        dev.url(), dev.headers(), on_message, on_close=on_close, timeout=min(opts.timeout, remaining)
                    )
                except (OSError, asyncio.TimeoutError, InvalidHandshake) as exc:
                    stats.on_error(_connect_error_kind(exc))
                    return
            await dev.setup()
            connected = dev.ready = True
            stats.on_connected(_now())
            if stats.connected == len(self.devices):
                # Everything alive now (connections, parsers, devices) lives
                # until the end: keep it out of the cyclic GC's full passes,
                # which otherwise walk it all again and again mid-run.
                gc.freeze()
            self._start(dev)
            await self._finished.wait()
        except SetupError as exc:
            # A socket the server closed was counted by on_close already.
            if not (dev.closed and exc.kind == "closed_during_setup"):
                stats.on_error(exc.kind)
        except ConnectionError:
            if not dev.closed:
                stats.on_error("send_on_closed_socket")
        finally:
            if not connected:
                stats.failed += 1
            dev.closing = True
            if dev.ws is not None:
                await dev.ws.close(CLOSE_TIMEOUT)

    def _start(self, dev: Device) -> None:
        """Puts a ready device's first tick and keepalive on the schedule."""
        opts = self.opts
        dev.interval = 1.0 / opts.rate if opts.rate > 0 else math.inf
        keepalive = opts.keepalive if opts.keepalive is not None else dev.keepalive_default
        dev.keepalive_interval = keepalive if keepalive and keepalive > 0 else math.inf
        now = _now()
        # Random phases spread the fleet's messages evenly over time instead
        # of sending them in lockstep bursts.
        for what, interval in ((TICK, dev.interval), (KEEPALIVE, dev.keepalive_interval)):
            if interval != math.inf:
                at = now + self.random.uniform(0, interval)
                if at < self.deadline:
                    heapq.heappush(self._heap, (at, next(self._seq), dev, what))

    async def _schedule(self) -> None:
        heap, stats, timeout = self._heap, self.stats, self.opts.timeout
        try:
            while True:
                now = _now()
                if now >= self.deadline:
                    break
                while heap and heap[0][0] <= now:
                    at, _, dev, what = heapq.heappop(heap)
                    if dev.closed:
                        continue
                    try:
                        dev.expire(now, timeout)
                        if what == TICK:
                            dev.tick(dev.ticks)
                            dev.ticks += 1
                            at += dev.interval
                            if at < now - 1.0:
                                # Over a second behind: the simulator is
                                # saturated. Skip ahead rather than burst.
                                stats.lagged += 1
                                at = now
                        else:
                            dev.keepalive()
                            at += dev.keepalive_interval
                    except ConnectionError:
                        continue  # closed under us; on_close counted it
                    if at < self.deadline:
                        heapq.heappush(heap, (at, next(self._seq), dev, what))
                delay = heap[0][0] - _now() if heap else SCHEDULER_SLICE
                await asyncio.sleep(min(max(delay, 0.0), SCHEDULER_SLICE))
            stats.send_ended = self.deadline
            # Answers still on their way get up to `timeout` to arrive.
            end = _now() + timeout
            while _now() < end and any(d.outstanding() and not d.closed for d in self.devices):
                await asyncio.sleep(0.05)
            for dev in self.devices:
                dev.expire(math.inf, 0.0)
        finally:
            self._finished.set()


async def simulate(opts: Options, *, progress: Optional[TextIO] = None, force_progress: bool = False) -> Dict[str, Any]:
    """Runs the fleet and returns the summary (see :meth:`Stats.summary`)."""
    raise_open_files_limit(2 * opts.devices + 256)
    stats = Stats(opts.devices)
    fleet = Fleet(opts, stats)
    bar = ProgressBar(stats, opts.duration, progress if progress is not None else sys.stderr, force=force_progress)
    bar.start()
    try:
        await fleet.run()
    finally:
        await bar.stop()
    return stats.summary(
        profile=opts.profile,
        url=fleet.url,
        rate_per_device=opts.rate,
        duration_s=opts.duration,
    )
