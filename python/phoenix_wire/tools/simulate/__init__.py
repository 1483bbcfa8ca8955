"""`phoenix-wire simulate`: a fleet of simulated devices against a server.

Each device connects to URL (the profile's socket path is added when the URL
has none), sets up (joins, token), then sends its profile's messages at
``--rate`` messages per second per device until ``--duration`` seconds after
the start, heartbeating every ``--keepalive`` seconds, and times every
answered request (a push with a ref until its phx_reply; a Fedecks term until
its answer; a websocket ping until its pong). A progress line runs on stderr
when it is a terminal; the summary (connected, failed, messages, round trips
per second, p50/p95/p99, errors by kind) goes to stdout, as JSON with
``--json``. The exit status is 1 when any device failed or any error was
counted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from . import profiles as _profiles
from .profiles import PROFILES
from .progress import render_summary
from .runner import Options, simulate

__all__ = ["Options", "simulate", "add_arguments", "run"]


def _positive(kind):
    def parse(text: str):
        value = kind(text)
        if value < 0:
            raise argparse.ArgumentTypeError(f"must be >= 0: {text}")
        return value

    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Registers the `simulate` options."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = __doc__.strip().split("\n\n", 1)[1]
    parser.epilog = "Profiles:\n\n" + _profiles.__doc__.split("\n\n", 2)[2]
    parser.add_argument("url", help="server, e.g. ws://127.0.0.1:4000 (or a full socket URL)")
    parser.add_argument("--profile", choices=tuple(PROFILES), default="nerves-hub", help="device kind (nerves-hub)")
    parser.add_argument("--devices", type=_positive(int), default=10, help="how many devices (10)")
    parser.add_argument(
        "--rate", type=_positive(float), default=1.0, help="messages per second per device (1; 0: only keepalives)"
    )
    parser.add_argument("--duration", type=_positive(float), default=10.0, help="seconds of sending (10)")
    parser.add_argument(
        "--timeout", type=_positive(float), default=5.0, help="seconds to wait for a connect, a join or an answer (5)"
    )
    parser.add_argument(
        "--keepalive",
        type=_positive(float),
        help="heartbeat/ping interval in seconds (profile default: 30, 60 or 19; 0: none)",
    )
    # Handshakes in flight share the server's CPU: too many at once and all
    # of them get slow together (and time out) instead of each finishing fast.
    parser.add_argument(
        "--connect-concurrency", type=_positive(int), default=32, help="handshakes in flight at once (32)"
    )
    parser.add_argument("--api-key", default="demo-api-key", help="microcontroller X-API-Key (the mock's demo key)")
    parser.add_argument("--username", default="demo", help="Fedecks login (the mock's demo user)")
    parser.add_argument("--password", default="demo-password", help="Fedecks password")
    parser.add_argument("--seed", type=int, help="seed for the send-time jitter (reproducible schedules)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def options_from(args: argparse.Namespace) -> Options:
    """The runner options the parsed arguments describe."""
    return Options(
        url=args.url,
        profile=args.profile,
        devices=args.devices,
        rate=args.rate,
        duration=args.duration,
        timeout=args.timeout,
        keepalive=args.keepalive,
        connect_concurrency=max(1, args.connect_concurrency),
        api_key=args.api_key,
        username=args.username,
        password=args.password,
        seed=args.seed,
    )


def run(args: argparse.Namespace) -> int:
    """Runs the fleet, prints the summary; 1 if anything failed."""
    try:
        opts = options_from(args)
        summary = asyncio.run(simulate(opts))
    except ValueError as exc:
        print(f"phoenix-wire simulate: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("phoenix-wire simulate: interrupted", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(summary))
    else:
        print(render_summary(summary))
    bad = summary["failed"] or summary["error_count"] or summary["dropped"]
    return 1 if bad else 0
