"""Pieces shared by the LINE and Slack stand-ins: clock, token bucket, scripted faults."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def checked_clock(clock: Clock | None) -> Clock:
    """The injected clock, or the real one; the clock must answer aware datetimes."""
    if clock is None:
        return utc_now

    def wrapped() -> datetime:
        now = clock()
        if now.tzinfo is None:
            raise ValueError("the stand-in clock must return an aware datetime (UTC)")
        return now

    return wrapped


class TokenBucket:
    """A token bucket driven by an injected clock (so a frozen clock never refills it)."""

    def __init__(self, rate_per_second: float, burst: float, now: datetime) -> None:
        self.rate = float(rate_per_second)
        self.burst = float(burst)
        self.tokens = float(burst)
        self.updated = now

    def _refill(self, now: datetime) -> None:
        elapsed = (now - self.updated).total_seconds()
        if elapsed > 0:
            self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
            self.updated = now

    def take(self, now: datetime) -> float:
        """Take one token. Answers 0.0 when granted, else the seconds until one is available."""
        self._refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        if self.rate <= 0:
            return float("inf")
        return (1.0 - self.tokens) / self.rate


@dataclass
class ScriptedFault:
    remaining: int
    status: int
    body: Any
    path: str | None
    extra: dict[str, Any]

    def matches(self, path: str) -> bool:
        return self.path is None or self.path == path or path.endswith(self.path)


@dataclass
class ScriptedDelay:
    seconds: float
    remaining: int | None
    path: str | None

    def matches(self, path: str) -> bool:
        return self.path is None or self.path == path or path.endswith(self.path)


class FaultScript:
    """Thread-safe queue of scripted failures and delays."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[ScriptedFault] = []
        self._delays: list[ScriptedDelay] = []

    def add_fault(self, n: int, status: int, body: Any, path: str | None, **extra: Any) -> None:
        if n < 1:
            raise ValueError("n must be at least 1")
        with self._lock:
            self._faults.append(ScriptedFault(n, status, body, path, extra))

    def set_delay(self, seconds: float, count: int | None, path: str | None) -> None:
        with self._lock:
            if seconds <= 0:
                self._delays.clear()
                return
            self._delays.append(ScriptedDelay(seconds, count, path))

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self._delays.clear()

    def take_fault(self, path: str) -> ScriptedFault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(path):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def take_delay(self, path: str) -> float:
        with self._lock:
            for d in self._delays:
                if d.matches(path):
                    if d.remaining is not None:
                        d.remaining -= 1
                        if d.remaining <= 0:
                            self._delays.remove(d)
                    return d.seconds
        return 0.0
