"""Booking reminders over the whole calendar: the planner and the dispatcher's gate together.

Every day of the week, every Japanese public holiday of 2026 and 2027 (and the day after
each), and a hub's own closed days (年末年始); start times 09:00-18:00 every 30 minutes;
bookings made from 1 hour to 30 days ahead. For each booking the planner plans its reminders
into the owners' push window, and the gate judges each one with the clock at its due moment
and a minute later (a dispatcher polling). Whenever the window allows, every booking gets

* its day-before reminder on an earlier calendar day than the start,
* its same-day reminder at least 1 hour before the start,
* never two reminders within the same hour,
* and no reminder the gate would record as stale (a stale booking reminder is a defect).

"Whenever the window allows" is worked out here by brute force on a 30-minute grid, not by
the planner's own arithmetic: a moment is plannable when the window is open for the hour
after it (the planner's last call) and it is at least an hour after the booking.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta

import holidays
from hypothesis import given, settings
from hypothesis import strategies as st

from core.calendar import jst_at, jst_day
from core.clock import ManualClock
from core.outbox.gate import Drop, owner_push_verdict
from core.push_window import DEFAULT_WINDOW, LAST_CALL, PushWindow
from core.reminders.bookings import DEFAULT_REMINDERS, reminder_times

GRACE = timedelta(hours=24)
"""The dispatcher's default PUSH_GRACE_HOURS."""
POLL = timedelta(minutes=1)
HOUR = timedelta(hours=1)
GRID = timedelta(minutes=30)

HUB_CLOSED = [date(2026, 12, 29) + timedelta(days=n) for n in range(6)] + [
    date(2027, 12, 29) + timedelta(days=n) for n in range(6)
]


def start_days() -> list[date]:
    days = {date(2026, 6, 1) + timedelta(days=n) for n in range(14)}  # two of every weekday
    for year in (2026, 2027):
        for day in holidays.country_holidays("JP", years=year):
            days.update({day, day + timedelta(days=1)})
    days.update(HUB_CLOSED)
    days.update(day + timedelta(days=1) for day in HUB_CLOSED)
    return sorted(days)


START_TIMES = [time(9 + m // 60, m % 60) for m in range(0, 9 * 60 + 1, 30)]
LEADS = [HOUR + GRID * n for n in range(0, 95)] + [
    timedelta(days=d, hours=h) for d in range(2, 31) for h in (0, 7, 13)
]
"""1 hour to 48 hours ahead every 30 minutes, then each day to 30 days at three clock times."""


def bookings() -> Iterator[tuple[datetime, datetime]]:
    for day in start_days():
        for at in START_TIMES:
            start = jst_at(day, at)
            for lead in LEADS:
                yield start, start - lead


def plannable(window: PushWindow, moment: datetime) -> bool:
    return window.allows(moment) and window.allows(moment + LAST_CALL - timedelta(minutes=1))


def grid(start: datetime, end: datetime) -> Iterator[datetime]:
    moment = start
    while moment <= end:
        yield moment
        moment += GRID


def check(start: datetime, made: datetime, window: PushWindow, tally: Counter[str]) -> None:
    planned = reminder_times(start, made, DEFAULT_REMINDERS, window)
    clock = ManualClock(made)
    names = {offset.name: due for offset, due in planned}
    for _offset, due in planned:
        for lag in (timedelta(0), POLL):
            clock.set(due + lag)
            verdict = owner_push_verdict(
                now=clock.now(), due=due, stale_after=start, window=window, grace=GRACE
            )
            if isinstance(verdict, Drop):
                tally[verdict.reason] += 1
            assert verdict is None, (start, made, due, lag, verdict)
        assert due <= start - HOUR, (start, made, due)
        assert due >= made + HOUR, (start, made, due)
        tally["reminders"] += 1
    dues = sorted(names.values())
    assert all(b - a >= HOUR for a, b in itertools.pairwise(dues)), (start, made, dues)
    if "day_before" in names:
        assert jst_day(names["day_before"]) < jst_day(start), (start, made, names)

    # Whenever the window allows: brute force on the grid.
    first = made + HOUR
    ideal_day_before = jst_at(jst_day(start) - timedelta(days=1), time(10))
    if any(plannable(window, m) for m in grid(first, ideal_day_before)):
        assert "day_before" in names, (start, made, names)
    same_day_ideal = start - 2 * HOUR
    after_day_before = names.get("day_before", first - HOUR) + HOUR
    if any(plannable(window, m) for m in grid(max(first, after_day_before), same_day_ideal)):
        assert "2h" in names, (start, made, names)
    tally["bookings"] += 1


def test_every_booking_on_the_calendar_gets_its_reminders_and_none_goes_stale() -> None:
    tally: Counter[str] = Counter()
    for start, made in bookings():
        check(start, made, DEFAULT_WINDOW, tally)
    # The size of the table, for the closing note: `pytest -s` prints it.
    print(f"\nbookings checked {tally['bookings']}, reminders {tally['reminders']}", tally)
    assert tally["bookings"] > 250_000
    assert tally["stale"] == 0
    assert tally["missed"] == 0


@settings(max_examples=300, deadline=None)
@given(
    opens=st.integers(min_value=5 * 2, max_value=12 * 2),
    length=st.integers(min_value=4 * 2, max_value=16 * 2),
    day=st.sampled_from(start_days()),
    at=st.sampled_from(START_TIMES),
    lead=st.sampled_from(LEADS),
)
def test_a_hubs_own_window_keeps_the_same_promises(
    opens: int, length: int, day: date, at: time, lead: timedelta
) -> None:
    """Any daytime window of 4 to 16 hours opening between 05:00 and 12:00 (half hours)."""
    opening = time(opens // 2, 30 * (opens % 2))
    closing_minutes = (opens + length) * 30 % (24 * 60)
    window = PushWindow(opening, time(closing_minutes // 60, closing_minutes % 60))
    start = jst_at(day, at)
    tally: Counter[str] = Counter()
    check(start, start - lead, window, tally)
    assert tally["stale"] == 0
