"""A local Phoenix endpoint for device development: ``phoenix-wire mock``.

Serves the Phoenix Channels socket (NervesHub ``device``/``console``, ``room:*``),
the microcontroller socket (API key checked by the auth service), the Fedecks
socket (Erlang terms), and an admin HTTP API to drive the connected devices. All
frames are read and written by :mod:`phoenix_wire`. See :mod:`.server` to embed it.
"""

from .config import DEFAULTS, DEFAULTS_TOML, load
from .server import MockServer, run

__all__ = ["DEFAULTS", "DEFAULTS_TOML", "MockServer", "load", "run"]
