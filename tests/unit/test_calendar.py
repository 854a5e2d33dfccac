"""Business days and business hours in Japan time (tables); the push window has its own."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from core.calendar import (
    add_business_hours,
    business_hours_between,
    is_business_day,
    next_business_day,
)
from core.clock import JST

NEW_YEAR_CLOSED = (date(2025, 12, 29), date(2025, 12, 30), date(2025, 12, 31), date(2026, 1, 2))
"""A hub's 年末年始: 12/29 to 1/3 with 1/1 a national holiday and 1/3 a Saturday."""


def jst(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=JST)


@pytest.mark.parametrize(
    ("day", "closed", "expected"),
    [
        (date(2026, 6, 2), (), True),  # a Tuesday
        (date(2026, 6, 6), (), False),  # Saturday
        (date(2026, 6, 7), (), False),  # Sunday
        (date(2026, 1, 1), (), False),  # 元日
        (date(2026, 1, 2), (), True),  # not a national holiday (hubs close it themselves)
        (date(2026, 1, 2), (date(2026, 1, 2),), False),  # the hub's 年末年始
        (date(2026, 4, 29), (), False),  # 昭和の日
        (date(2026, 5, 4), (), False),  # みどりの日
        (date(2026, 5, 6), (), False),  # 振替休日 (5/3 fell on a Sunday)
        (date(2026, 5, 7), (), True),
        (date(2026, 9, 22), (), False),  # 国民の休日 between two holidays
        (date(2026, 6, 3), (date(2026, 6, 3),), False),  # a hub's 臨時休業
    ],
)
def test_is_business_day(day: date, closed: tuple[date, ...], expected: bool) -> None:
    assert is_business_day(day, closed) is expected


@pytest.mark.parametrize(
    ("day", "closed", "expected"),
    [
        (date(2026, 6, 2), (), date(2026, 6, 3)),
        (date(2026, 6, 5), (), date(2026, 6, 8)),  # Friday → Monday
        (date(2026, 4, 28), (), date(2026, 4, 30)),  # over 昭和の日
        (date(2026, 5, 1), (), date(2026, 5, 7)),  # Golden Week with its substitute holiday
        (
            date(2025, 12, 26),
            NEW_YEAR_CLOSED,
            date(2026, 1, 5),
        ),  # 年末年始: hub closed 12/29-1/2, 1/1 national, 1/3-4 weekend
    ],
)
def test_next_business_day(day: date, closed: tuple[date, ...], expected: date) -> None:
    assert next_business_day(day, closed) == expected


@pytest.mark.parametrize(
    ("start", "end", "closed", "hours"),
    [
        (jst(2026, 6, 2, 10), jst(2026, 6, 2, 12), (), 2.0),
        (jst(2026, 6, 2, 8), jst(2026, 6, 2, 10), (), 1.0),  # before opening counts nothing
        (jst(2026, 6, 2, 16), jst(2026, 6, 3, 10), (), 2.0),  # over the night
        (jst(2026, 6, 5, 16), jst(2026, 6, 8, 10), (), 2.0),  # over the weekend
        (jst(2026, 6, 2, 9), jst(2026, 6, 4, 9), (), 16.0),
        (jst(2026, 6, 2, 9), jst(2026, 6, 4, 9), (date(2026, 6, 3),), 8.0),
        (jst(2026, 4, 30, 16), jst(2026, 5, 7, 10), (), 10.0),  # Golden Week: 5/1 works
        (jst(2026, 6, 2, 12), jst(2026, 6, 2, 10), (), 0.0),
    ],
)
def test_business_hours_between(
    start: datetime, end: datetime, closed: tuple[date, ...], hours: float
) -> None:
    assert business_hours_between(start, end, closed) == pytest.approx(hours)


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        (jst(2026, 6, 2, 10), 4, jst(2026, 6, 2, 14)),
        (jst(2026, 6, 2, 16), 2, jst(2026, 6, 3, 10)),
        (jst(2026, 6, 5, 20), 8, jst(2026, 6, 8, 17)),
        (jst(2026, 5, 1, 12), 8, jst(2026, 5, 7, 12)),
    ],
)
def test_add_business_hours(start: datetime, hours: float, expected: datetime) -> None:
    moment = add_business_hours(start, hours)
    assert moment == expected
    assert business_hours_between(start, moment) == pytest.approx(hours)
