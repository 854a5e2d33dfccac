"""One log line for a burst of the same refusal, not one line per request.

The webhooks log what they refuse or cannot store: a forged signature, a commit that did
not come in time. Under a burst those come by the thousand a second, exactly when the
process has no time to spare: building and writing a log record cost more than the rest of
the refused request (issue 14), and a flood of forged requests would have flooded the logs
with it. So each kind of line is written at most once every `every` seconds, and the next
one says how many it stands for (`repeats`). The HTTP metrics still count every request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any


class BurstLog:
    def __init__(
        self,
        logger: logging.Logger,
        message: str,
        *,
        level: int = logging.ERROR,
        every: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._message = message
        self._level = level
        self._every = every
        self._clock = clock
        self._next = float("-inf")
        self._left_out = 0

    def __call__(self, **extra: Any) -> None:
        """Log this occurrence, or count it for the next line."""
        now = self._clock()
        if now < self._next:
            self._left_out += 1
            return
        repeats, self._left_out, self._next = self._left_out, 0, now + self._every
        self._logger.log(self._level, self._message, extra={**extra, "repeats": repeats})


__all__ = ["BurstLog"]
