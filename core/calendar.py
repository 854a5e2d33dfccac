"""Business days, quiet hours and business hours in Japan time: pure functions, table-tested.

Every function takes aware datetimes (any zone; judged in Japan time, invariant 10) or plain
dates that are Japan-time calendar days, and answers aware UTC datetimes. Nothing here reads a
clock or a database: callers pass `closed_days` (a hub's own closed days, HubClosedDay rows)
and the hub's quiet hours.

* A business day is a weekday that is neither a Japanese public holiday (the maintained
  `holidays` package, JP: substitute and citizens' holidays included) nor one of the hub's
  closed days.
* When owners may get a push is not a matter of business days: see core.push_window.
* Escalation counts business hours (09:00-17:00 on business days).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

import holidays

from core.clock import JST, to_jst

DAY_START = time(9, 0)
DAY_END = time(17, 0)

_MAX_DAYS = 400
"""No run of closed days is longer than this; a guard against a malformed closed-day list."""


@lru_cache(maxsize=64)
def _jp_holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("JP", years=year)


def is_public_holiday(day: date) -> bool:
    """A Japanese national holiday (祝日, 振替休日, 国民の休日)."""
    return day in _jp_holidays(day.year)


def holiday_name(day: date) -> str | None:
    found = _jp_holidays(day.year).get(day)
    return None if found is None else str(found)


def is_business_day(day: date, closed_days: Collection[date] = ()) -> bool:
    """A weekday that is no public holiday and not one of the hub's closed days."""
    return day.weekday() < 5 and not is_public_holiday(day) and day not in closed_days


def next_business_day(day: date, closed_days: Collection[date] = ()) -> date:
    """The first business day strictly after `day`."""
    candidate = day + timedelta(days=1)
    for _ in range(_MAX_DAYS):
        if is_business_day(candidate, closed_days):
            return candidate
        candidate += timedelta(days=1)
    raise ValueError("no business day within a year: check the closed days")


def business_day_on_or_after(day: date, closed_days: Collection[date] = ()) -> date:
    return day if is_business_day(day, closed_days) else next_business_day(day, closed_days)


def jst_at(day: date, at: time) -> datetime:
    """A Japan-time calendar day and time of day, as an aware datetime in Japan time."""
    return datetime.combine(day, at, tzinfo=JST)


def business_hours_between(
    start: datetime,
    end: datetime,
    closed_days: Collection[date] = (),
    day_start: time = DAY_START,
    day_end: time = DAY_END,
) -> float:
    """Hours of business time (day_start-day_end on business days, Japan time) in [start, end).

    Zero when `end` is not after `start`.
    """
    if end <= start:
        return 0.0
    local_start, local_end = to_jst(start), to_jst(end)
    total = timedelta()
    day = local_start.date()
    last = local_end.date()
    while day <= last:
        if is_business_day(day, closed_days):
            opens = max(local_start, jst_at(day, day_start))
            closes = min(local_end, jst_at(day, day_end))
            if closes > opens:
                total += closes - opens
        day += timedelta(days=1)
    return total.total_seconds() / 3600


def add_business_hours(
    start: datetime,
    hours: float,
    closed_days: Collection[date] = (),
    day_start: time = DAY_START,
    day_end: time = DAY_END,
) -> datetime:
    """The moment (UTC) at which `hours` business hours have passed since `start`."""
    remaining = timedelta(hours=hours)
    local = to_jst(start)
    for _ in range(_MAX_DAYS * 50):
        day = local.date()
        if is_business_day(day, closed_days):
            opens = max(local, jst_at(day, day_start))
            closes = jst_at(day, day_end)
            if closes > opens:
                if opens + remaining <= closes:
                    return (opens + remaining).astimezone(UTC)
                remaining -= closes - opens
        local = jst_at(day + timedelta(days=1), time(0, 0))
    raise ValueError("too many business hours to add")


def jst_day(moment: datetime) -> date:
    """The Japan-time calendar day of a moment."""
    return to_jst(moment).date()
