"""When the owner-facing promises come due: booking reminders, surveys, follow-ups (pure).

Times in the tables are Japan time; the functions answer aware UTC datetimes. Reminders go on
any day (holidays too), inside the owners' push window (08:00-21:00 by default): a reminder
whose ideal moment is outside it is planned earlier, never later. The whole calendar is
checked in tests/unit/test_reminder_calendar.py.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from core.clock import JST
from core.followups.planning import FollowupSettings, add_months, followups_to_plan
from core.push_window import PushWindow
from core.reminders.bookings import ReminderOffset, ReminderSettings, reminder_times
from core.surveys.planning import survey_due


def jst(month: int, day: int, hour: int, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=JST)


@pytest.mark.parametrize(
    ("starts", "now", "expected"),
    [
        # Thursday 14:00, booked on Tuesday: the day before at 10:00 and two hours before.
        (jst(6, 4, 14), jst(6, 2, 10), [("day_before", jst(6, 3, 10)), ("2h", jst(6, 4, 12))]),
        # Booked for tomorrow at 14:00 before 10:00 today: the day-before reminder still comes.
        (jst(6, 3, 14), jst(6, 2, 9), [("day_before", jst(6, 2, 10)), ("2h", jst(6, 3, 12))]),
        # Booked after 10:00 for tomorrow: the day-before reminder is past, only two hours before.
        (jst(6, 3, 14), jst(6, 2, 15), [("2h", jst(6, 3, 12))]),
        # Monday 20 July 2026 is Marine Day; the Sunday before is no business day: sent anyway.
        (jst(7, 20, 11), jst(7, 1, 10), [("day_before", jst(7, 19, 10)), ("2h", jst(7, 20, 9))]),
        # An early booking: two hours before falls at 07:30, before the window opens at 08:00,
        # so it goes at 20:00 the evening before (the day-before one was past at booking).
        (jst(6, 3, 9, 30), jst(6, 2, 15), [("2h", jst(6, 2, 20))]),
        # 09:00 on Wednesday booked on Monday: the day before at 10:00 and at 20:00.
        (jst(6, 3, 9), jst(6, 1, 15), [("day_before", jst(6, 2, 10)), ("2h", jst(6, 2, 20))]),
        # Booked at 08:30 for 09:00: too late for any reminder (the confirmation says so).
        (jst(6, 3, 9), jst(6, 3, 8, 30), []),
        # Booked at 19:30 for 09:00 tomorrow: 20:00 would come half an hour after booking.
        (jst(6, 3, 9), jst(6, 2, 19, 30), []),
        # Booked at 18:00 for 09:00 tomorrow: 20:00 tonight.
        (jst(6, 3, 9), jst(6, 2, 18), [("2h", jst(6, 2, 20))]),
        # Booked at 09:30 for 12:00: 10:00 is within an hour of the confirmation.
        (jst(6, 3, 12), jst(6, 3, 9, 30), []),
        # Across midnight and month: Monday 1 June 10:00 booked on Friday 29 May.
        (jst(6, 1, 10), jst(5, 29, 12), [("day_before", jst(5, 31, 10)), ("2h", jst(6, 1, 8))]),
        # Booked an hour before it starts: nothing to remind of.
        (jst(6, 2, 11), jst(6, 2, 10), []),
        # Exactly at the due moment: already due, not planned (the confirmation just went).
        (jst(6, 3, 14), jst(6, 2, 10), [("2h", jst(6, 3, 12))]),
    ],
)
def test_booking_reminders_come_the_day_before_and_two_hours_before(
    starts: datetime, now: datetime, expected: list[tuple[str, datetime]]
) -> None:
    got = [(offset.name, due) for offset, due in reminder_times(starts, now)]
    assert got == [(name, due.astimezone(UTC)) for name, due in expected]
    assert all(due.tzinfo is UTC for _name, due in got)


def test_a_hubs_own_window_moves_the_reminders_into_it() -> None:
    # A hub whose owners get pushes 12:00-18:00 only: 10:00 the day before moves to 17:00 two
    # days before; two hours before a 13:00 start (11:00) moves to 17:00 the day before, within
    # an hour of nothing else, so both stay.
    window = PushWindow(opens=time(12), closes=time(18))
    got = reminder_times(jst(6, 4, 13), jst(6, 1, 10), window=window)
    assert [(o.name, due) for o, due in got] == [
        ("day_before", jst(6, 2, 17).astimezone(UTC)),
        ("2h", jst(6, 3, 17).astimezone(UTC)),
    ]
    # Two reminders that meet in the same hour are one: the one nearer the start stays (here
    # the day-before one at 10:00; two hours before moved back to 09:30 the same morning).
    window = PushWindow(opens=time(9, 30), closes=time(10, 30))
    got = reminder_times(jst(6, 4, 9), jst(6, 1, 10), window=window)
    assert [(o.name, due) for o, due in got] == [("day_before", jst(6, 3, 10).astimezone(UTC))]


def test_reminder_offsets_are_a_setting() -> None:
    settings = ReminderSettings(
        offsets=(
            ReminderOffset("24h", before=timedelta(hours=24)),
            ReminderOffset("day_before", days_before=1, at=time(14, 0)),
            ReminderOffset("3d", days_before=3, at=time(18, 0)),
            ReminderOffset("10m", before=timedelta(minutes=10)),
        )
    )
    got = reminder_times(jst(6, 10, 14), jst(6, 2, 10), settings)
    # 24h and the day before at 14:00 are one moment: sent once; 10 minutes is too close.
    assert [(o.name, due) for o, due in got] == [
        ("3d", jst(6, 7, 18).astimezone(UTC)),
        ("24h", jst(6, 9, 14).astimezone(UTC)),
    ]


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"before": timedelta(hours=1), "days_before": 1, "at": time(9)}, {"days_before": 1}],
)
def test_a_reminder_offset_says_exactly_one_kind_of_when(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="reminder"):
        ReminderOffset("x", **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("held_on", "now", "closed", "expected"),
    [
        # Tuesday's consultation: Wednesday 10:00.
        (date(2026, 6, 2), jst(6, 2, 16), set(), jst(6, 3, 10)),
        # Friday's: Monday.
        (date(2026, 6, 5), jst(6, 5, 17), set(), jst(6, 8, 10)),
        # Friday 17 July: Monday 20 July is Marine Day, so Tuesday.
        (date(2026, 7, 17), jst(7, 17, 17), set(), jst(7, 21, 10)),
        # Golden Week: Friday 1 May to Thursday 7 May (3-6 May are holidays, 6th substitute).
        (date(2026, 5, 1), jst(5, 1, 17), set(), jst(5, 7, 10)),
        # The hub's own closed day counts too.
        (date(2026, 6, 2), jst(6, 2, 16), {date(2026, 6, 3)}, jst(6, 4, 10)),
        # Recorded late (Wednesday 11:00 for Monday): the next 10:00 on a business day.
        (date(2026, 6, 1), jst(6, 3, 11), set(), jst(6, 4, 10)),
        # Recorded the next morning before 10:00: still that day.
        (date(2026, 6, 1), jst(6, 2, 9, 30), set(), jst(6, 2, 10)),
    ],
)
def test_the_survey_goes_the_next_business_day_at_ten(
    held_on: date, now: datetime, closed: set[date], expected: datetime
) -> None:
    due = survey_due(held_on, now, closed)
    assert due == expected
    assert due.tzinfo is UTC


def test_the_survey_time_is_a_setting() -> None:
    assert survey_due(date(2026, 6, 2), jst(6, 2, 16), send_at=time(13, 30)) == jst(6, 3, 13, 30)


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2026, 11, 15), 3, date(2027, 2, 15)),
        (date(2026, 6, 2), 24, date(2028, 6, 2)),
        (date(2026, 3, 31), 6, date(2026, 9, 30)),
        (date(2026, 12, 1), 12, date(2027, 12, 1)),
    ],
)
def test_months_after_founding(day: date, months: int, expected: date) -> None:
    assert add_months(day, months) == expected


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # Founded 2 March: three months on is 2 June 10:00, inside the three-day horizon.
        (jst(6, 1, 10), [3]),
        # A week later it is still sent (grace 14 days).
        (jst(6, 9, 10), [3]),
        # Eighteen days late: not sent; nothing else is near.
        (jst(6, 20, 10), []),
        # Too early: planned only shortly before.
        (jst(5, 20, 10), []),
        # At two years.
        (jst(3, 1, 12, year=2028), [24]),
    ],
)
def test_followups_are_planned_shortly_before_and_not_long_after(
    now: datetime, expected: list[int]
) -> None:
    got = followups_to_plan(date(2026, 3, 2), (1, 3, 6, 12, 24), now)
    assert [m for m, _due in got] == expected
    for m, due in got:
        assert due == datetime.combine(add_months(date(2026, 3, 2), m), time(10), JST)


def test_followup_months_and_windows_are_settings() -> None:
    settings = FollowupSettings(horizon=timedelta(days=40), grace=timedelta(0))
    got = followups_to_plan(date(2026, 3, 2), (2, 3, 0, -1), jst(5, 1, 10), settings)
    assert [m for m, _ in got] == [2, 3]
