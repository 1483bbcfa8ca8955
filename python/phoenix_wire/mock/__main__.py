"""``python -m phoenix_wire.mock [options]``: the same as ``phoenix-wire mock``."""

import sys

from ..cli import main

sys.exit(main(["mock", *sys.argv[1:]]))
