"""Which consultation slots a hub can offer: pure functions over availability and bookings.

A slot is one hour starting on the hour, in Japan time, because that is how hubs run their
consultations (DOMAIN.md: typically about one hour, one CO). Everything here takes `now` and
plain values, so the rules (holidays, closed days, lead time, double bookings) are table
tested without a database or a clock.

Rules, in order of strength:
1. A hub's closed day (年末年始, 臨時休業) offers nothing, whatever the CO said.
2. A dated exception beats the weekly pattern: "available" with hours replaces the day's
   pattern (an extra Saturday, a shorter Tuesday); "unavailable" without hours is a day off,
   with hours it blocks only those hours.
3. A Japanese public holiday offers nothing from the weekly pattern (the hubs are closed),
   but a CO's explicit "available" exception for that day still counts.
4. Nothing earlier than `now + lead_time` (the hub needs time to prepare), nothing that
   overlaps an active booking of the same CO.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache

import holidays

from core.clock import JST, to_jst
from core.domain.enums import BookingMode
from core.routing.coordinators import RankedCo

SLOT_LENGTH = timedelta(minutes=60)
DEFAULT_LEAD_TIME = timedelta(hours=2)
"""An owner cannot book a slot starting sooner than this: the CO needs time to prepare."""


@dataclass(frozen=True, slots=True)
class WeeklyWindow:
    """A CO's recurring hours on one weekday (0 = Monday), local Japan time."""

    co_id: int
    weekday: int
    start: time
    end: time
    mode: BookingMode


@dataclass(frozen=True, slots=True)
class DayException:
    """One dated change to a CO's pattern (see the module rules)."""

    co_id: int
    day: date
    available: bool
    start: time | None = None
    end: time | None = None


@dataclass(frozen=True, slots=True)
class BusyPeriod:
    """An active booking of a CO: no slot of that CO may overlap it."""

    co_id: int
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True, slots=True, order=True)
class Slot:
    """A bookable hour; ordered by time, then CO, so lists sort the way owners read them."""

    starts_at: datetime
    co_id: int
    ends_at: datetime
    mode: BookingMode


@cache
def _jp_holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("JP", years=year)


def is_japanese_holiday(day: date) -> bool:
    """国民の祝日 and 振替休日, from the `holidays` package (updated with the law)."""
    return day in _jp_holidays(day.year)


def _local(day: date, moment: time) -> datetime:
    return datetime.combine(day, moment, tzinfo=JST).astimezone(UTC)


def _hours(day: date, start: time, end: time) -> Iterable[tuple[datetime, datetime]]:
    """Whole hours on the hour within [start, end) of one local day."""
    first = start.hour + (1 if (start.minute, start.second, start.microsecond) != (0, 0, 0) else 0)
    begin = _local(day, time(0)) + timedelta(hours=first)
    stop = _local(day, time(0)) + timedelta(hours=end.hour, minutes=end.minute)
    while begin + SLOT_LENGTH <= stop:
        yield begin, begin + SLOT_LENGTH
        begin += SLOT_LENGTH


def _mode_for(co_id: int, day: date, weekly: Sequence[WeeklyWindow]) -> BookingMode:
    """The mode of exception hours: the CO's usual mode that weekday, else their first one."""
    own = [w for w in weekly if w.co_id == co_id]
    for window in own:
        if window.weekday == day.weekday():
            return window.mode
    return own[0].mode if own else BookingMode.VISIT


def _windows_for_day(
    co_id: int,
    day: date,
    weekly: Sequence[WeeklyWindow],
    exceptions: Sequence[DayException],
    holiday: bool,
) -> tuple[list[tuple[time, time, BookingMode]], list[tuple[time, time]], bool]:
    """(open windows, blocked hours, whole day off) for one CO and one day."""
    extra = [e for e in exceptions if e.available and e.start is not None and e.end is not None]
    blocked = [e for e in exceptions if not e.available]
    if any(e.start is None or e.end is None for e in blocked):
        return [], [], True
    blocked_hours = [(e.start, e.end) for e in blocked if e.start is not None and e.end is not None]
    if extra:
        mode = _mode_for(co_id, day, weekly)
        windows = [
            (e.start, e.end, mode) for e in extra if e.start is not None and e.end is not None
        ]
        return windows, blocked_hours, False
    if holiday:
        return [], [], True
    pattern = [
        (w.start, w.end, w.mode) for w in weekly if w.co_id == co_id and w.weekday == day.weekday()
    ]
    return pattern, blocked_hours, False


def available_slots(
    *,
    now: datetime,
    first_day: date,
    last_day: date,
    weekly: Sequence[WeeklyWindow],
    exceptions: Sequence[DayException] = (),
    busy: Sequence[BusyPeriod] = (),
    closed_days: Iterable[date] = (),
    lead_time: timedelta = DEFAULT_LEAD_TIME,
    is_holiday: Callable[[date], bool] = is_japanese_holiday,
) -> list[Slot]:
    """Every free slot of the given COs between two local days (inclusive), by time."""
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    earliest = now.astimezone(UTC) + lead_time
    closed = frozenset(closed_days)
    co_ids = sorted({w.co_id for w in weekly} | {e.co_id for e in exceptions})
    busy_by_co: dict[int, list[BusyPeriod]] = {}
    for period in busy:
        busy_by_co.setdefault(period.co_id, []).append(period)
    by_co_day: dict[tuple[int, date], list[DayException]] = {}
    for exception in exceptions:
        by_co_day.setdefault((exception.co_id, exception.day), []).append(exception)

    slots: set[Slot] = set()
    day = first_day
    while day <= last_day:
        if day not in closed:
            holiday = is_holiday(day)
            for co_id in co_ids:
                windows, blocked, off = _windows_for_day(
                    co_id, day, weekly, by_co_day.get((co_id, day), []), holiday
                )
                if off:
                    continue
                blocked_utc = [(_local(day, s), _local(day, e)) for s, e in blocked]
                for start, end, mode in windows:
                    for begin, finish in _hours(day, start, end):
                        if begin < earliest:
                            continue
                        if any(
                            begin < b_end and b_start < finish for b_start, b_end in blocked_utc
                        ):
                            continue
                        if any(
                            begin < p.ends_at and p.starts_at < finish
                            for p in busy_by_co.get(co_id, ())
                        ):
                            continue
                        slots.add(Slot(begin, co_id, finish, mode))
        day += timedelta(days=1)
    return sorted(slots)


# -- which slots to offer --------------------------------------------------------------------

ASSIGNED_TIER = 0
COVERS_TIER = 1
GENERALIST_TIER = 2


def co_preferences(
    ranked: Sequence[RankedCo], assigned_co_id: int | None = None
) -> dict[int, tuple[int, int]]:
    """co_id → (tier, position) from the routing ranking, for `choose_offers`.

    The CO already on the case comes first (the owner keeps their CO when moving a booking),
    then those who cover the case's topics, then everyone else with room. COs the ranking
    left out (inactive, at capacity) get no entry and are therefore never offered.
    """
    preferences: dict[int, tuple[int, int]] = {}
    for position, entry in enumerate(ranked):
        co_id = int(entry.candidate.co_id)
        tier = COVERS_TIER if entry.covered_topics else GENERALIST_TIER
        preferences[co_id] = (tier, position)
    if assigned_co_id is not None:
        preferences[assigned_co_id] = (ASSIGNED_TIER, -1)
    return preferences


def choose_offers(
    slots: Sequence[Slot], preferences: Mapping[int, tuple[int, int]], limit: int
) -> list[Slot]:
    """The slots to show an owner: the best tier that has any, one CO per start time.

    Owners choose a time, not a CO, so two COs free at 14:00 would waste a quick-reply button;
    the better-ranked one gets it. Only the best tier present is offered, so a specialist's
    slots are not crowded out by a generalist's earlier ones.
    """
    known = [s for s in slots if s.co_id in preferences]
    if not known:
        return []
    best_tier = min(preferences[s.co_id][0] for s in known)
    best: dict[datetime, Slot] = {}
    for slot in known:
        if preferences[slot.co_id][0] != best_tier:
            continue
        current = best.get(slot.starts_at)
        if current is None or preferences[slot.co_id] < preferences[current.co_id]:
            best[slot.starts_at] = slot
    return [best[moment] for moment in sorted(best)][:limit]


def local_day(moment: datetime) -> date:
    """The Japan-time calendar day of a moment: the unit owners pick in the date picker."""
    return to_jst(moment).date()
