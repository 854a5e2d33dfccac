"""Which slots an owner is offered: hours, days off, holidays, closed days, lead time, bookings."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from core.booking.slots import (
    BusyPeriod,
    DayException,
    Slot,
    WeeklyWindow,
    available_slots,
    choose_offers,
    co_preferences,
    is_japanese_holiday,
)
from core.clock import JST, ManualClock, to_jst
from core.domain.enums import BookingMode
from core.domain.topics import Specialty, Topic
from core.routing.coordinators import CoCandidate, rank_coordinators

VISIT, ONLINE = BookingMode.VISIT, BookingMode.ONLINE
TUESDAY = date(2026, 6, 2)


def jst(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=JST).astimezone(UTC)


def starts(slots: list[Slot]) -> list[str]:
    """Slots as an owner reads them: 'MM-DD HH:MM co mode' in Japan time."""
    return [f"{to_jst(s.starts_at):%m-%d %H:%M} {s.co_id} {s.mode.value}" for s in slots]


def clock_at(day: date, hour: int, minute: int = 0) -> ManualClock:
    return ManualClock(jst(day, hour, minute))


def weekly(
    co_id: int, weekday: int, start: int, end: int, mode: BookingMode = VISIT
) -> WeeklyWindow:
    return WeeklyWindow(co_id, weekday, time(start), time(end), mode)


CASES = [
    pytest.param(
        dict(weekly=[weekly(1, 1, 9, 17)]),
        ["06-02 12:00 1 visit", "06-02 13:00 1 visit", "06-02 14:00 1 visit",
         "06-02 15:00 1 visit", "06-02 16:00 1 visit"],
        id="weekly hours from now plus the two-hour lead time, 60 minutes on the hour",
    ),
    pytest.param(
        dict(weekly=[WeeklyWindow(1, 1, time(13, 30), time(16, 0), ONLINE)]),
        ["06-02 14:00 1 online", "06-02 15:00 1 online"],
        id="a window starting at half past gives whole hours only",
    ),
    pytest.param(
        dict(weekly=[weekly(1, 1, 9, 17)], exceptions=[DayException(1, TUESDAY, False)]),
        [],
        id="a day off removes the whole day",
    ),
    pytest.param(
        dict(
            weekly=[weekly(1, 1, 9, 17)],
            exceptions=[DayException(1, TUESDAY, False, time(13), time(15))],
        ),
        ["06-02 12:00 1 visit", "06-02 15:00 1 visit", "06-02 16:00 1 visit"],
        id="unavailable hours block only those hours",
    ),
    pytest.param(
        dict(
            weekly=[weekly(1, 1, 9, 17)],
            exceptions=[DayException(1, TUESDAY, True, time(16), time(19))],
        ),
        ["06-02 16:00 1 visit", "06-02 17:00 1 visit", "06-02 18:00 1 visit"],
        id="other hours on a day replace the weekly pattern",
    ),
    pytest.param(
        dict(
            weekly=[weekly(1, 1, 9, 12, ONLINE)],
            exceptions=[DayException(1, date(2026, 6, 6), True, time(10), time(12))],
            days=5,
        ),
        ["06-06 10:00 1 online", "06-06 11:00 1 online"],
        id="an extra Saturday, in the CO's usual mode",
    ),
    pytest.param(
        dict(weekly=[weekly(1, 1, 9, 17)], busy=[(1, 14, 15)]),
        ["06-02 12:00 1 visit", "06-02 13:00 1 visit", "06-02 15:00 1 visit",
         "06-02 16:00 1 visit"],
        id="an active booking takes its hour",
    ),
    pytest.param(
        dict(weekly=[weekly(1, 1, 9, 17)], busy=[(1, 14.5, 15.5)]),
        ["06-02 12:00 1 visit", "06-02 13:00 1 visit", "06-02 16:00 1 visit"],
        id="a booking off the hour blocks both hours it overlaps",
    ),
    pytest.param(
        dict(weekly=[weekly(1, 1, 9, 17)], busy=[(2, 14, 15)]),
        ["06-02 12:00 1 visit", "06-02 13:00 1 visit", "06-02 14:00 1 visit",
         "06-02 15:00 1 visit", "06-02 16:00 1 visit"],
        id="another CO's booking does not matter",
    ),
    pytest.param(
        dict(weekly=[weekly(1, 1, 9, 17)], closed=[TUESDAY]),
        [],
        id="a closed day offers nothing",
    ),
    pytest.param(
        dict(
            weekly=[weekly(1, 1, 9, 17)],
            closed=[TUESDAY],
            exceptions=[DayException(1, TUESDAY, True, time(13), time(15))],
        ),
        [],
        id="a closed day beats a CO's extra hours",
    ),
    pytest.param(
        dict(weekly=[weekly(1, 1, 14, 16), weekly(2, 1, 14, 16, ONLINE)]),
        ["06-02 14:00 1 visit", "06-02 14:00 2 online", "06-02 15:00 1 visit",
         "06-02 15:00 2 online"],
        id="ordered by time, then CO",
    ),
    pytest.param(
        dict(weekly=[weekly(1, 0, 9, 12), weekly(1, 1, 9, 12)], now=(TUESDAY, 9, 30), days=7),
        ["06-08 09:00 1 visit", "06-08 10:00 1 visit", "06-08 11:00 1 visit",
         "06-09 09:00 1 visit", "06-09 10:00 1 visit", "06-09 11:00 1 visit"],
        id="only the future: today's hours within the lead time are gone",
    ),
    pytest.param(
        dict(weekly=[weekly(1, 1, 9, 17)], now=(TUESDAY, 14, 1)),
        [],
        id="lead time: 14:01 leaves nothing before 17:00",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("given", "expected"), CASES)
def test_available_slots(given: dict[str, object], expected: list[str]) -> None:
    now = given.get("now", (TUESDAY, 10))
    assert isinstance(now, tuple)
    clock = clock_at(*now)
    days = given.get("days", 0)
    assert isinstance(days, int)
    busy_spec = given.get("busy", [])
    assert isinstance(busy_spec, list)
    busy = [
        BusyPeriod(
            co,
            jst(TUESDAY, 0) + timedelta(hours=begin),
            jst(TUESDAY, 0) + timedelta(hours=end),
        )
        for co, begin, end in busy_spec
    ]
    slots = available_slots(
        now=clock.now(),
        first_day=TUESDAY,
        last_day=TUESDAY + timedelta(days=days),
        weekly=given["weekly"],  # type: ignore[arg-type]
        exceptions=given.get("exceptions", ()),  # type: ignore[arg-type]
        busy=busy,
        closed_days=given.get("closed", ()),  # type: ignore[arg-type]
    )
    assert starts(slots) == expected


def test_marine_day_offers_nothing_from_the_weekly_pattern() -> None:
    """2026-07-20 is 海の日 (a Monday): the hubs are closed, Tuesday is open again."""
    assert is_japanese_holiday(date(2026, 7, 20))
    assert not is_japanese_holiday(date(2026, 7, 21))
    clock = clock_at(date(2026, 7, 17), 18)
    slots = available_slots(
        now=clock.now(),
        first_day=date(2026, 7, 20),
        last_day=date(2026, 7, 21),
        weekly=[weekly(1, 0, 10, 12), weekly(1, 1, 10, 12)],
    )
    assert starts(slots) == ["07-21 10:00 1 visit", "07-21 11:00 1 visit"]


def test_a_co_who_offers_hours_on_a_holiday_can_be_booked_then() -> None:
    clock = clock_at(date(2026, 7, 17), 18)
    slots = available_slots(
        now=clock.now(),
        first_day=date(2026, 7, 20),
        last_day=date(2026, 7, 20),
        weekly=[weekly(1, 0, 10, 12, ONLINE)],
        exceptions=[DayException(1, date(2026, 7, 20), True, time(10), time(11))],
    )
    assert starts(slots) == ["07-20 10:00 1 online"]


def test_the_slots_move_on_with_the_clock() -> None:
    clock = clock_at(TUESDAY, 10)
    pattern = [weekly(1, 1, 9, 17)]

    def first() -> str:
        slots = available_slots(
            now=clock.now(), first_day=TUESDAY, last_day=TUESDAY, weekly=pattern
        )
        return starts(slots)[0]

    assert first() == "06-02 12:00 1 visit"
    clock.advance(timedelta(hours=2, minutes=30))
    assert first() == "06-02 15:00 1 visit"


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        available_slots(
            now=datetime(2026, 6, 2, 10),
            first_day=TUESDAY,
            last_day=TUESDAY,
            weekly=[weekly(1, 1, 9, 17)],
        )


# -- which slots are offered -------------------------------------------------------------------


def slot(co: int, hour: int, day: date = TUESDAY) -> Slot:
    return Slot(jst(day, hour), co, jst(day, hour + 1), VISIT)


def test_one_co_per_time_and_the_best_ranked_gets_it() -> None:
    slots = sorted([slot(1, 12), slot(2, 12), slot(2, 13), slot(1, 14)])
    chosen = choose_offers(slots, {1: (1, 1), 2: (1, 0)}, limit=8)
    assert starts(chosen) == ["06-02 12:00 2 visit", "06-02 13:00 2 visit", "06-02 14:00 1 visit"]


def test_specialists_are_offered_before_generalists_even_if_later() -> None:
    slots = sorted([slot(1, 12), slot(1, 13), slot(2, 15)])
    chosen = choose_offers(slots, {1: (2, 0), 2: (1, 1)}, limit=8)
    assert starts(chosen) == ["06-02 15:00 2 visit"]


def test_generalists_when_no_specialist_is_free() -> None:
    slots = sorted([slot(1, 12), slot(1, 13)])
    chosen = choose_offers(slots, {1: (2, 0), 2: (1, 1)}, limit=8)
    assert starts(chosen) == ["06-02 12:00 1 visit", "06-02 13:00 1 visit"]


def test_unranked_cos_are_never_offered_and_the_limit_holds() -> None:
    slots = sorted([*(slot(1, hour) for hour in range(9, 17)), slot(3, 9)])
    assert choose_offers(slots, {}, limit=8) == []
    assert len(choose_offers(slots, {1: (2, 0)}, limit=3)) == 3


def test_preferences_follow_routing_and_keep_the_assigned_co_first() -> None:
    def candidate(co_id: int, *specialties: Specialty, open_cases: int = 0) -> CoCandidate:
        return CoCandidate(
            co_id=str(co_id),
            hub_code="13",
            role="co",
            specialties=frozenset(specialties),
            open_cases=open_cases,
            capacity=5,
            next_free_slot=jst(TUESDAY, 12),
        )

    ranked = rank_coordinators(
        "13",
        frozenset({Topic.IT_DIGITAL}),
        [candidate(1, Specialty.FINANCE), candidate(2, Specialty.IT), candidate(3, open_cases=5)],
    )
    preferences = co_preferences(ranked)
    assert preferences[2][0] < preferences[1][0]
    assert 3 not in preferences  # at capacity
    assert co_preferences(ranked, assigned_co_id=1)[1] == (0, -1)
