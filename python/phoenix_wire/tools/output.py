"""Output helpers shared by the tools."""

from __future__ import annotations

import functools
import os
import sys
from typing import Callable

__all__ = ["survive_closed_pipe"]


def survive_closed_pipe(run: Callable[..., int]) -> Callable[..., int]:
    """Makes `phoenix-wire ... | head` end quietly when the reader goes away.

    Python reports a closed stdout as BrokenPipeError with a traceback, and
    again at exit when it flushes; point stdout at /dev/null and keep the
    exit status the shell expects for SIGPIPE.
    """

    @functools.wraps(run)
    def wrapper(*args, **kwargs) -> int:
        try:
            return run(*args, **kwargs)
        except BrokenPipeError:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return 141

    return wrapper
