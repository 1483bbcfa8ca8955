"""The live progress line (stderr, only on a terminal) and the summary table."""

from __future__ import annotations

import asyncio
import shutil
import time
from typing import Any, Dict, Optional, TextIO

from .stats import Stats, percentile

__all__ = ["ProgressBar", "render_summary"]


class ProgressBar:
    """Redraws one status line a few times a second while the fleet runs.

    Draws nothing unless `stream` is a terminal, so logs and pipes stay clean.
    """

    def __init__(
        self, stats: Stats, duration: float, stream: TextIO, *, interval: float = 0.25, force: bool = False
    ) -> None:
        self.stats = stats
        self.duration = duration
        self.stream = stream
        self.interval = interval
        self.enabled = force or _isatty(stream)
        self._task: Optional[asyncio.Task] = None

    def start(self) -> None:
        if self.enabled:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        self._task = None
        self.stream.write("\r\x1b[2K")
        self.stream.flush()

    async def _run(self) -> None:
        while True:
            self.stream.write("\r\x1b[2K" + self.line())
            self.stream.flush()
            await asyncio.sleep(self.interval)

    def _p99(self) -> Optional[float]:
        # Sorting every redraw would cost O(n log n) on a growing list; the
        # tail of the last 2,000 samples is what a person watching wants.
        recent = sorted(self.stats.rtts[-2000:])
        return percentile(recent, 99)

    def line(self, now: Optional[float] = None) -> str:
        """The status line for the current counters."""
        s = self.stats
        now = time.monotonic() if now is None else now
        elapsed = now - s.started
        frac = min(1.0, elapsed / self.duration) if self.duration > 0 else 1.0
        width = shutil.get_terminal_size((100, 20)).columns
        p99 = self._p99()
        p99_text = f"{p99 * 1000:.1f}ms" if p99 is not None else "-"
        errors = sum(s.errors.values())
        info = (
            f" {elapsed:5.1f}/{self.duration:g}s  up {s.connected}/{s.devices}"
            f"  failed {s.failed}  sent {s.sent}  recv {s.received}"
            f"  rt/s {s.recent_rate(now):.0f}  p99 {p99_text}  errors {errors}"
        )
        # A fixed-width bar (narrower only on a narrow terminal) keeps the
        # numbers from jumping around as they grow.
        bar_width = max(10, min(20, width - len(info) - 3))
        filled = int(frac * bar_width)
        line = "[" + "#" * filled + "." * (bar_width - filled) + "]" + info
        return line[: max(10, width - 1)]


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _ms(v: Optional[float]) -> str:
    return "-" if v is None else f"{v:.2f} ms"


def _dist(d: Dict[str, Any]) -> str:
    if not d["count"]:
        return "-"
    return f"p50 {d['p50']:.2f} / p95 {d['p95']:.2f} / p99 {d['p99']:.2f} ms  ({d['count']} round trips)"


def render_summary(summary: Dict[str, Any]) -> str:
    """The end-of-run table for people (``--json`` prints `summary` itself)."""
    rtt = summary["rtt_ms"]
    steady = summary.get("round_trips_per_s_steady")
    rows = [
        ("profile", summary.get("profile", "")),
        ("url", summary.get("url", "")),
        ("devices", summary["devices"]),
        (
            "connected",
            f"{summary['connected']}"
            + (f"  (all in {summary['connect_s']:.2f} s)" if summary.get("connect_s") is not None else ""),
        ),
        ("failed", summary["failed"]),
        ("dropped", summary["dropped"]),
        ("messages sent", summary["messages_sent"]),
        ("messages received", summary["messages_received"]),
        (
            "round trips",
            f"{summary['round_trips']}  " + ", ".join(f"{k} {v}" for k, v in summary["round_trips_by_kind"].items()),
        ),
        (
            "round trips/s",
            f"{summary['round_trips_per_s']:.1f}"
            + (f"  (steady, all connected: {steady:.1f})" if steady is not None else ""),
        ),
        ("round trip p50", _ms(rtt["p50"])),
        ("round trip p95", _ms(rtt["p95"])),
        ("round trip p99", _ms(rtt["p99"])),
        ("round trip max", _ms(rtt["max"])),
        ("  all connected", _dist(summary["rtt_ms_steady"])),
        ("  setup (join/token)", _dist(summary["setup_rtt_ms"])),
        ("elapsed", f"{summary['elapsed_s']:.2f} s  (simulator CPU {summary['simulator_cpu_pct']}% of one core)"),
    ]
    if summary.get("ticks_late"):
        rows.append(("ticks late > 1 s", summary["ticks_late"]))
    errors = summary["errors"]
    if errors:
        rows.append(("errors", summary["error_count"]))
        rows.extend((f"  {kind}", count) for kind, count in errors.items())
    else:
        rows.append(("errors", "none"))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
