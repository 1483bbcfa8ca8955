"""The ``phoenix-wire`` command.

Each subcommand is two functions, ``add_<name>_arguments(parser)`` and
``run_<name>(args) -> int``, registered in :data:`SUBCOMMANDS`; adding one
(``decode``, ``encode``, ``etf``, ``simulate``) means writing those two and adding
one row to the table.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Callable, List, NamedTuple, Optional, Sequence


class Subcommand(NamedTuple):
    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


# ---- mock -------------------------------------------------------------------------
def add_mock_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, metavar="FILE", help="TOML file overriding the embedded defaults")
    p.add_argument("--host", help="endpoint address (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="endpoint port (default 4000; 0 picks a free one)")
    p.add_argument("--auth-port", type=int, help="auth service port (default 5000)")
    p.add_argument("--no-auth-service", action="store_true", help="do not start the built-in auth service")
    p.add_argument("--idle-timeout", type=float, metavar="SECONDS", help="close sockets silent this long (60)")
    p.add_argument("--max-frame-size", type=int, metavar="BYTES", help="larger messages close with 1009 (1 MiB)")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.add_argument("--print-config", action="store_true", help="print the embedded default config and exit")


def run_mock(args: argparse.Namespace) -> int:
    from .mock import config as mock_config
    from .mock.server import run

    if args.print_config:
        sys.stdout.write(mock_config.DEFAULTS_TOML)
        return 0
    endpoint = {
        k: v
        for k, v in {
            "host": args.host,
            "port": args.port,
            "idle_timeout": args.idle_timeout,
            "max_frame_size": args.max_frame_size,
        }.items()
        if v is not None
    }
    auth = {}
    if args.auth_port is not None:
        auth["port"] = args.auth_port
    if args.no_auth_service:
        auth["enabled"] = False
    overrides = {k: v for k, v in {"endpoint": endpoint, "auth": auth}.items() if v}
    try:
        cfg = mock_config.load(args.config, overrides)
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"phoenix-wire mock: bad config: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()),
        format="%(asctime)s %(levelname)s %(message)s",
    )
    return run(cfg)


# ---- decode, encode, etf, simulate (modules in phoenix_wire.tools) ------------------
def _tool(name: str):
    # Imported on use: `phoenix-wire mock` should not load the tools.
    import importlib

    return importlib.import_module(f".tools.{name}", __package__)


def add_decode_arguments(p: argparse.ArgumentParser) -> None:
    _tool("decode").add_arguments(p)


def run_decode(args: argparse.Namespace) -> int:
    return _tool("decode").run(args)


def add_encode_arguments(p: argparse.ArgumentParser) -> None:
    _tool("encode").add_arguments(p)


def run_encode(args: argparse.Namespace) -> int:
    return _tool("encode").run(args)


def add_etf_arguments(p: argparse.ArgumentParser) -> None:
    _tool("etf").add_arguments(p)


def run_etf(args: argparse.Namespace) -> int:
    return _tool("etf").run(args)


def add_simulate_arguments(p: argparse.ArgumentParser) -> None:
    _tool("simulate").add_arguments(p)


def run_simulate(args: argparse.Namespace) -> int:
    return _tool("simulate").run(args)


SUBCOMMANDS: List[Subcommand] = [
    Subcommand("mock", "run the local mock server (Phoenix, microcontroller, Fedecks, admin API)",
               add_mock_arguments, run_mock),
    Subcommand("decode", "print captured frames (text, hex, base64, raw) readably or as JSON lines",
               add_decode_arguments, run_decode),
    Subcommand("encode", "build a frame (text or binary) from options or JSON",
               add_encode_arguments, run_encode),
    Subcommand("etf", "Erlang external term format <-> Elixir syntax / JSON",
               add_etf_arguments, run_etf),
    Subcommand("simulate", "run a fleet of simulated devices against a server and report round trips",
               add_simulate_arguments, run_simulate),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="phoenix-wire", description="Phoenix Channels wire tools")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for cmd in SUBCOMMANDS:
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help)
        cmd.add_arguments(p)
        p.set_defaults(_run=cmd.run)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    return args._run(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
