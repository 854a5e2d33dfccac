"""Token buckets per destination (a LINE channel, a Slack channel), on an injected time source.

The limiter never sleeps: `try_acquire` takes a token or answers how many seconds until one
is available, and the dispatcher decides whether to wait or to give the row back. Tests pass a
time source that only moves when told to.

Why ours and not a library (issue 19): aiolimiter's `AsyncLimiter` waits inside `acquire`
on the event loop's clock, so it can neither answer "how long" without waiting nor run on a
test's clock; `limits` counts windows on `time.time()` in its storages, with no time source
to inject and no "blocked for N seconds" for a platform's Retry-After. We need all three:
a non-blocking answer with the wait, an injected clock, and `block` for Retry-After, plus
per-prefix rates. The caps are per dispatcher process by design (README, Scaling); a bucket
shared by replicas would need Redis or the database and is not what this is.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

TimeSource = Callable[[], float]
"""Seconds on a monotonic scale (time.monotonic, or a manual clock's timestamp)."""


@dataclass
class _Bucket:
    rate: float
    burst: float
    tokens: float
    updated: float
    blocked_until: float = 0.0

    def refill(self, now: float) -> None:
        elapsed = now - self.updated
        if elapsed > 0:
            self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
            self.updated = now


class RateLimiter:
    """One token bucket per key, created on first use with the rate its key's prefix has."""

    def __init__(
        self,
        *,
        time_source: TimeSource = time.monotonic,
        default_rate: float = 10.0,
        default_burst: float | None = None,
    ) -> None:
        self._time = time_source
        self._default = (default_rate, default_burst if default_burst is not None else default_rate)
        self._limits: dict[str, tuple[float, float]] = {}
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def configure(self, prefix: str, rate_per_second: float, burst: float | None = None) -> None:
        """Keys starting with `prefix` (longest prefix wins) get this rate and burst."""
        if rate_per_second <= 0:
            raise ValueError("rate_per_second must be positive")
        with self._lock:
            self._limits[prefix] = (
                rate_per_second,
                burst if burst is not None else rate_per_second,
            )
            for key in [k for k in self._buckets if k.startswith(prefix)]:
                del self._buckets[key]

    def _limit_for(self, key: str) -> tuple[float, float]:
        matches = [prefix for prefix in self._limits if key.startswith(prefix)]
        if not matches:
            return self._default
        return self._limits[max(matches, key=len)]

    def _bucket(self, key: str, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            rate, burst = self._limit_for(key)
            bucket = _Bucket(rate, max(1.0, burst), max(1.0, burst), now)
            self._buckets[key] = bucket
        bucket.refill(now)
        return bucket

    def try_acquire(self, key: str) -> float:
        """Take one token: 0.0 when granted, else the seconds until one will be available."""
        with self._lock:
            now = self._time()
            bucket = self._bucket(key, now)
            if now < bucket.blocked_until:
                return bucket.blocked_until - now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / bucket.rate

    def block(self, key: str, seconds: float) -> None:
        """The platform said wait (Retry-After): nothing for `key` for `seconds`."""
        with self._lock:
            now = self._time()
            bucket = self._bucket(key, now)
            bucket.blocked_until = max(bucket.blocked_until, now + max(0.0, seconds))
            bucket.tokens = 0.0
