"""A hub's quiet hours and closed days, read from the database for the pure calendar.

`core.calendar` takes plain values; this module looks them up: the hub's `quiet_start`,
`quiet_end` and its HubClosedDay rows. A row without a hub (the national account) gets the
defaults: 21:00-09:00 and national holidays only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.calendar import (
    DEFAULT_QUIET_END,
    DEFAULT_QUIET_START,
    business_hours_between,
    is_business_day,
    next_allowed_push_time,
    next_business_day,
)
from core.db.models import Hub, HubClosedDay


@dataclass(frozen=True)
class HubCalendar:
    quiet_start: time = DEFAULT_QUIET_START
    quiet_end: time = DEFAULT_QUIET_END
    closed_days: frozenset[date] = field(default_factory=frozenset)

    def next_push_time(self, moment: datetime) -> datetime:
        return next_allowed_push_time(
            moment,
            quiet_start=self.quiet_start,
            quiet_end=self.quiet_end,
            closed_days=self.closed_days,
        )

    def is_business_day(self, day: date) -> bool:
        return is_business_day(day, self.closed_days)

    def next_business_day(self, day: date) -> date:
        return next_business_day(day, self.closed_days)

    def business_hours_between(self, start: datetime, end: datetime) -> float:
        return business_hours_between(start, end, self.closed_days)


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
            select(Hub.id, Hub.quiet_start, Hub.quiet_end).where(Hub.id.in_(wanted))
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
            quiet_start=quiet_start or DEFAULT_QUIET_START,
            quiet_end=quiet_end or DEFAULT_QUIET_END,
            closed_days=frozenset(closed[hub_id]),
        )
        for hub_id, quiet_start, quiet_end in hubs
    }


async def hub_calendar(session: AsyncSession, hub_id: int | None, *, today: date) -> HubCalendar:
    if hub_id is None:
        return DEFAULT_CALENDAR
    return (await hub_calendars(session, [hub_id], today=today)).get(hub_id, DEFAULT_CALENDAR)
