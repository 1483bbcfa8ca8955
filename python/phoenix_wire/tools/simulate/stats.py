"""Counters and round-trip times of a simulated fleet, and their summary."""

from __future__ import annotations

import math
import resource
import time
from collections import Counter
from typing import Any, Dict, List, Optional, Sequence

__all__ = ["Stats", "percentile", "SETUP_KINDS"]

#: Round trips that belong to getting a device ready, not to its traffic.
SETUP_KINDS = frozenset({"join", "token"})


def percentile(sorted_values: Sequence[float], p: float) -> Optional[float]:
    """The nearest-rank `p`-th percentile (0 < p <= 100) of sorted values.

    Nearest rank never interpolates: the result is a time that was actually
    measured, and p100 is the maximum.
    """
    n = len(sorted_values)
    if n == 0:
        return None
    rank = max(1, math.ceil(p / 100.0 * n))
    return sorted_values[min(rank, n) - 1]


class Stats:
    """Everything the devices report; read by the progress bar and the summary.

    One asyncio loop writes it, so plain attributes need no locking.
    """

    def __init__(self, devices: int) -> None:
        self.devices = devices
        self.connected = 0  # devices that finished connect and setup (joins)
        self.failed = 0  # devices that never got there
        self.dropped = 0  # connected devices whose socket closed before the end
        self.sent = 0
        self.received = 0
        # Round trip times in seconds: the profile's messages and keepalives
        # (all of them, and those sent once every device was connected), and
        # the setup requests (joins, the Fedecks token), which queue behind
        # the connect storm and are reported apart.
        self.rtts: List[float] = []
        self.steady_rtts: List[float] = []
        self.setup_rtts: List[float] = []
        self.rtt_kinds: Counter = Counter()
        self.errors: Counter = Counter()
        self.per_second: Counter = Counter()  # round trips completed, by whole second of the run
        self.started = time.monotonic()
        self.all_connected_at: Optional[float] = None
        self.first_send: Optional[float] = None
        self.last_reply: Optional[float] = None
        self.send_ended: Optional[float] = None
        self.lagged = 0  # ticks the simulator sent late by more than a second
        self._cpu0 = _cpu_seconds()

    # ---- events -------------------------------------------------------------------
    def on_send(self, now: float) -> None:
        self.sent += 1
        if self.first_send is None:
            self.first_send = now

    def on_round_trip(self, kind: str, seconds: float, now: float) -> None:
        if kind in SETUP_KINDS:
            self.setup_rtts.append(seconds)
        else:
            self.rtts.append(seconds)
            if self.all_connected_at is not None and now - seconds >= self.all_connected_at:
                self.steady_rtts.append(seconds)
        self.rtt_kinds[kind] += 1
        self.last_reply = now
        self.per_second[int(now - self.started)] += 1

    def on_error(self, kind: str) -> None:
        self.errors[kind] += 1

    def on_connected(self, now: float) -> None:
        self.connected += 1
        if self.connected == self.devices:
            self.all_connected_at = now

    # ---- reading --------------------------------------------------------------------
    def recent_rate(self, now: float, window: int = 3) -> float:
        """Round trips per second over the last `window` whole seconds."""
        sec = int(now - self.started)
        total = sum(self.per_second.get(s, 0) for s in range(sec - window, sec))
        return total / window if sec >= window else (total / sec if sec else 0.0)

    def summary(self, **extra: Any) -> Dict[str, Any]:
        """The run as a JSON-ready dict (times in milliseconds)."""
        rtts = sorted(self.rtts)
        all_rtts = len(rtts) + len(self.setup_rtts)
        window = None
        if self.first_send is not None and self.last_reply is not None:
            window = max(self.last_reply - self.first_send, 1e-9)
        steady = self._steady_rate()
        cpu = _cpu_seconds() - self._cpu0
        elapsed = time.monotonic() - self.started
        return {
            **extra,
            "devices": self.devices,
            "connected": self.connected,
            "failed": self.failed,
            "dropped": self.dropped,
            "messages_sent": self.sent,
            "messages_received": self.received,
            "round_trips": all_rtts,
            "round_trips_by_kind": dict(sorted(self.rtt_kinds.items())),
            "round_trips_per_s": round(all_rtts / window, 1) if window else 0.0,
            "round_trips_per_s_steady": steady,
            "rtt_ms": _distribution(rtts),
            "rtt_ms_steady": _distribution(sorted(self.steady_rtts)),
            "setup_rtt_ms": _distribution(sorted(self.setup_rtts)),
            "errors": dict(sorted(self.errors.items())),
            "error_count": sum(self.errors.values()),
            "ticks_late": self.lagged,
            "connect_s": round(self.all_connected_at - self.started, 3) if self.all_connected_at else None,
            "elapsed_s": round(elapsed, 3),
            "simulator_cpu_s": round(cpu, 3),
            "simulator_cpu_pct": round(100.0 * cpu / elapsed, 1) if elapsed > 0 else None,
        }

    def _steady_rate(self) -> Optional[float]:
        """Mean round trips/s over the whole seconds when every device was connected."""
        if self.all_connected_at is None or self.send_ended is None:
            return None
        first = int(self.all_connected_at - self.started) + 1
        last = int(self.send_ended - self.started) - 1  # the last full second of sending
        if last < first:
            return None
        return round(sum(self.per_second.get(s, 0) for s in range(first, last + 1)) / (last - first + 1), 1)


def _distribution(sorted_seconds: List[float]) -> Dict[str, Any]:
    """Count, min, p50/p95/p99, max and mean of sorted times, in milliseconds."""

    def ms(v: Optional[float]) -> Optional[float]:
        return None if v is None else round(v * 1000.0, 3)

    v = sorted_seconds
    return {
        "count": len(v),
        "min": ms(v[0] if v else None),
        "p50": ms(percentile(v, 50)),
        "p95": ms(percentile(v, 95)),
        "p99": ms(percentile(v, 99)),
        "max": ms(v[-1] if v else None),
        "mean": ms(sum(v) / len(v) if v else None),
    }


def _cpu_seconds() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime
