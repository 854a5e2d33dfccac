"""The owner-push gate's verdict on one planned push: go now, wait, or record why not (pure).

The dispatcher asks this of every owner push it claims; the planners' property test asks it
too, with a clock, so that what the planners promise and what the gate lets through are
checked together (tests/unit/test_reminder_calendar.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from core.push_window import PushWindow

STALE: Final = "stale"
"""Its moment has passed: a reminder that could only arrive after the booking's start."""
MISSED: Final = "missed"
"""Later than the grace (the dispatcher was down): too late to be worth sending."""


@dataclass(frozen=True)
class Wait:
    """Outside the push window: given back, due at `until`."""

    until: datetime


@dataclass(frozen=True)
class Drop:
    """Not sent; recorded as failed with this reason, counted and told to the CCO."""

    reason: Literal["stale", "missed"]


Verdict = Wait | Drop | None
"""None: the push may go now."""


def owner_push_verdict(
    *,
    now: datetime,
    due: datetime,
    stale_after: datetime | None,
    window: PushWindow,
    grace: timedelta,
) -> Verdict:
    if stale_after is not None and now >= stale_after:
        return Drop(STALE)
    if now - due > grace:
        return Drop(MISSED)
    allowed = window.next_at_or_after(now)
    if allowed <= now:
        return None
    if stale_after is not None and allowed >= stale_after:
        return Drop(STALE)
    return Wait(allowed)
