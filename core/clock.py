"""Time as a dependency.

Everything that asks "what time is it" takes a Clock, so tests and the emulator can move time
forward instead of sleeping, and so every stored time is an aware UTC datetime.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

JST = ZoneInfo("Asia/Tokyo")


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class ManualClock:
    """A clock that only moves when told to: for tests, the demo and the emulator."""

    current: datetime = field(default_factory=lambda: datetime(2026, 4, 1, 0, 0, tzinfo=UTC))

    def __post_init__(self) -> None:
        if self.current.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware datetime")
        self.current = self.current.astimezone(UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> datetime:
        self.current = self.current + delta
        return self.current

    def set(self, when: datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware datetime")
        self.current = when.astimezone(UTC)


class OffsetClock:
    """The system clock moved forward by an offset: the emulator's "skip ahead" control.

    Time keeps running (webhooks, leases and retries behave as in production) while the
    offset lets a person see tomorrow's reminders today. Only ever moves forward, because
    the service's records assume time does.
    """

    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        if offset < timedelta(0):
            raise ValueError("OffsetClock only moves forward")
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError("OffsetClock only moves forward")
        self.offset += delta
        return self.now()


def to_jst(moment: datetime) -> datetime:
    """Show a stored UTC time in Japan time (invariant 10)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(JST)


def fiscal_year(moment: datetime) -> int:
    """Japanese fiscal year (April to March) of a moment, judged in Japan time."""
    local = to_jst(moment)
    return local.year if local.month >= 4 else local.year - 1
