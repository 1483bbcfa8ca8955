"""Configuration of the mock server: embedded defaults, overridden by a TOML file.

The defaults below are the whole configuration: ``phoenix-wire mock`` with no file
runs on them. A TOML file only lists what it changes; tables merge key by key, and
lists (``auth.keys``, ``fedecks.answers``) replace the default list as a whole.
``phoenix-wire mock --print-config`` prints these defaults as a starting point.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

DEFAULTS_TOML = """\
# phoenix-wire mock server: the embedded defaults. Copy, edit, pass with --config.

[endpoint]
host = "127.0.0.1"
port = 4000
# Seconds without any frame from a client before the server closes the socket
# (Phoenix's websocket timeout; NervesHub uses 180).
idle_timeout = 60.0
# Largest websocket message accepted; bigger ones close the connection with 1009.
max_frame_size = 1048576
# Seconds to wait for the client's half of a closing handshake.
close_timeout = 2.0
# Messages kept per connection for the admin API.
history = 20
# Optional bearer token for /admin/*; empty means no token (bind to loopback!).
admin_token = ""

[auth]
# The built-in auth service (GET /api/auth with X-API-Key).
enabled = true
host = "127.0.0.1"
port = 5000
# Where the microcontroller endpoint checks keys; empty means the built-in service.
url = ""
timeout = 5.0

[[auth.keys]]
key = "demo-api-key"
user_id = 1
location_id = 1
controller_id = 1

[[auth.keys]]
key = "demo-api-key-2"
user_id = 1
location_id = 1
controller_id = 2

[microcontroller]
# These devices heartbeat once a minute, so a 60 s timeout would race them.
idle_timeout = 90.0

[device]
# Join reply of the NervesHub `device` topic.
join_response = {}
# Events pushed right after a device joins, e.g. an `update` (empty: none).
on_join = []

[rooms]
# room:* topics whose joins are refused with {"reason": "unauthorized"}.
deny = []

[fedecks]
username = "demo"
password = "demo-password"
# HMAC-SHA256 key for tokens; empty means a random key per run (tokens then
# do not survive a restart of the mock).
secret = ""
token_ttl = 2419200.0
token_refresh = 10800.0
# Atoms that safe decoding accepts ("existing atoms"); others go to the raw handler.
atoms = ["ok", "error", "token", "ping", "pong", "hello", "reply", "status", "reading", "undefined"]
# What a term message gets back when no answer below matches: "echo" or "none".
default_reply = "echo"

# Term answers, with the JSON convention {"$atom": "x"}, {"$tuple": [...]},
# {"$charlist": "abc"}, {"$base64": "..."}; strings are binaries.
[[fedecks.answers]]
when = { "$atom" = "ping" }
reply = { "$atom" = "pong" }
"""


def _toml_loads(text: str) -> Dict[str, Any]:
    try:
        import tomllib  # Python 3.11+
    except ModuleNotFoundError:  # pragma: no cover - older interpreters
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ModuleNotFoundError as exc:
            raise RuntimeError("reading TOML needs Python 3.11+ or the tomli package") from exc
    return tomllib.loads(text)


DEFAULTS: Dict[str, Any] = _toml_loads(DEFAULTS_TOML)


def merge(base: Mapping[str, Any], override: Mapping[str, Any], where: str = "") -> Dict[str, Any]:
    """Return ``base`` with ``override`` applied: tables merge, other values replace.

    Unknown keys are errors, so a typo in a config file is reported instead of ignored.
    """
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        path = f"{where}{key}"
        if key not in out:
            raise ValueError(f"unknown config key {path!r}")
        if isinstance(out[key], dict) and out[key] and isinstance(value, dict):
            out[key] = merge(out[key], value, path + ".")
        else:
            out[key] = copy.deepcopy(value)
    return out


def load(path: Optional[Path] = None, overrides: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """The effective configuration: defaults, then the TOML file, then ``overrides``."""
    cfg = copy.deepcopy(DEFAULTS)
    if path is not None:
        cfg = merge(cfg, _toml_loads(Path(path).read_text(encoding="utf-8")))
    if overrides:
        cfg = merge(cfg, overrides)
    return cfg
