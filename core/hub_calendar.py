"""A hub's owner push window and closed days, read from the database for the pure calendar.

`core.calendar` and `core.push_window` take plain values; this module looks them up: the hub's
`quiet_start` (the window closes) and `quiet_end` (it opens), and its HubClosedDay rows. A row
without a hub (the national account) gets the defaults: pushes 08:00-21:00 every day, and
national holidays only as closed days.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.calendar import (
    DAY_END,
    DAY_START,
    business_hours_between,
    is_business_day,
    next_business_day,
)
from core.db.models import Hub, HubClosedDay
from core.push_window import DEFAULT_WINDOW, PushWindow


@dataclass(frozen=True)
class HubCalendar:
    push_window: PushWindow = field(default_factory=PushWindow)
    """When owners may get pushes: every day alike, closed days included."""
    closed_days: frozenset[date] = field(default_factory=frozenset)
    """The hub's own closed days: they hold what needs its staff, not owners' pushes."""
    day_start: time = DAY_START
    day_end: time = DAY_END
    """The hub's business hours (its console setting), which escalation counts."""

    def next_push_time(self, moment: datetime) -> datetime:
        return self.push_window.next_at_or_after(moment)

    def is_business_day(self, day: date) -> bool:
        return is_business_day(day, self.closed_days)

    def next_business_day(self, day: date) -> date:
        return next_business_day(day, self.closed_days)

    def business_hours_between(self, start: datetime, end: datetime) -> float:
        return business_hours_between(start, end, self.closed_days, self.day_start, self.day_end)


DEFAULT_CALENDAR = HubCalendar()

CLOSED_DAYS_LOOKBACK = timedelta(days=400)
"""Closed days older than this do not matter to anything still waiting or being counted."""


async def hub_calendars(
    session: AsyncSession, hub_ids: Iterable[int], *, today: date
) -> dict[int, HubCalendar]:
    """The calendars of several hubs with two queries (hubs missing from the answer: default)."""
    wanted = sorted(set(hub_ids))
    if not wanted:
        return {}
    hubs = (
        await session.execute(
            select(
                Hub.id, Hub.quiet_start, Hub.quiet_end, Hub.business_day_start, Hub.business_day_end
            ).where(Hub.id.in_(wanted))
        )
    ).all()
    closed: dict[int, set[date]] = {hub_id: set() for hub_id in wanted}
    rows = await session.execute(
        select(HubClosedDay.hub_id, HubClosedDay.day).where(
            HubClosedDay.hub_id.in_(wanted), HubClosedDay.day >= today - CLOSED_DAYS_LOOKBACK
        )
    )
    for hub_id, day in rows.all():
        closed[hub_id].add(day)
    return {
        hub_id: HubCalendar(
            push_window=window_of(quiet_start, quiet_end),
            closed_days=frozenset(closed[hub_id]),
            day_start=day_start or DAY_START,
            day_end=day_end or DAY_END,
        )
        for hub_id, quiet_start, quiet_end, day_start, day_end in hubs
    }


def window_of(quiet_start: time | None, quiet_end: time | None) -> PushWindow:
    """A hub's push window from its columns: its quiet hours start when the window closes."""
    return PushWindow(
        opens=quiet_end or DEFAULT_WINDOW.opens, closes=quiet_start or DEFAULT_WINDOW.closes
    )


async def push_window(session: AsyncSession, hub_id: int | None) -> PushWindow:
    """The hub's owner push window (the default for no hub); one identity-mapped read."""
    hub = await session.get(Hub, hub_id) if hub_id is not None else None
    if hub is None:
        return DEFAULT_WINDOW
    return window_of(hub.quiet_start, hub.quiet_end)


async def hub_calendar(session: AsyncSession, hub_id: int | None, *, today: date) -> HubCalendar:
    if hub_id is None:
        return DEFAULT_CALENDAR
    return (await hub_calendars(session, [hub_id], today=today)).get(hub_id, DEFAULT_CALENDAR)
