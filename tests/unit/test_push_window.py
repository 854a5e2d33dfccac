"""The owners' push window (tables): the same every day, and moving a push earlier into it."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from core.clock import JST
from core.push_window import DEFAULT_WINDOW, PushWindow


def jst(month: int, day: int, hour: int = 0, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=JST)


@pytest.mark.parametrize(
    ("moment", "window", "expected"),
    [
        (jst(6, 2, 7, 59), DEFAULT_WINDOW, False),
        (jst(6, 2, 8), DEFAULT_WINDOW, True),
        (jst(6, 2, 20, 59), DEFAULT_WINDOW, True),
        (jst(6, 2, 21), DEFAULT_WINDOW, False),
        (jst(6, 7, 12), DEFAULT_WINDOW, True),  # a Sunday: owners' pushes are welcome
        (jst(1, 1, 12), DEFAULT_WINDOW, True),  # 元日 too
        (jst(6, 2, 23), PushWindow(time(20), time(2)), True),  # a window across midnight
        (jst(6, 2, 1, 59), PushWindow(time(20), time(2)), True),
        (jst(6, 2, 2), PushWindow(time(20), time(2)), False),
        (jst(6, 2, 3), PushWindow(time(9), time(9)), True),  # equal: always open
    ],
)
def test_allows(moment: datetime, window: PushWindow, expected: bool) -> None:
    assert window.allows(moment) is expected


@pytest.mark.parametrize(
    ("moment", "window", "expected"),
    [
        (jst(6, 2, 10), DEFAULT_WINDOW, jst(6, 2, 10)),
        (jst(6, 2, 21), DEFAULT_WINDOW, jst(6, 3, 8)),
        (jst(6, 3, 7, 30), DEFAULT_WINDOW, jst(6, 3, 8)),
        (jst(6, 6, 22), DEFAULT_WINDOW, jst(6, 7, 8)),  # Saturday night: Sunday morning
        (jst(6, 2, 3), PushWindow(time(20), time(2)), jst(6, 2, 20)),
        (jst(6, 2, 1), PushWindow(time(20), time(2)), jst(6, 2, 1)),
    ],
)
def test_next_at_or_after(moment: datetime, window: PushWindow, expected: datetime) -> None:
    got = window.next_at_or_after(moment)
    assert got == expected
    assert got.tzinfo is UTC
    assert window.allows(got)


@pytest.mark.parametrize(
    ("moment", "window", "expected"),
    [
        # Allowed: unchanged.
        (jst(6, 2, 10), DEFAULT_WINDOW, jst(6, 2, 10)),
        (jst(6, 2, 20, 30), DEFAULT_WINDOW, jst(6, 2, 20, 30)),
        # 07:00 (two hours before a 09:00 start): an hour before the evening's close, 20:00.
        (jst(6, 3, 7), DEFAULT_WINDOW, jst(6, 2, 20)),
        (jst(6, 3, 0, 30), DEFAULT_WINDOW, jst(6, 2, 20)),
        (jst(6, 2, 21), DEFAULT_WINDOW, jst(6, 2, 20)),
        # Across the month and on a Monday morning: Sunday evening.
        (jst(6, 1, 7), DEFAULT_WINDOW, jst(5, 31, 20)),
        # A window shorter than the last call: its opening.
        (jst(6, 2, 12), PushWindow(time(10), time(10, 30)), jst(6, 2, 10)),
        # A window across midnight, closed 02:00-20:00.
        (jst(6, 2, 10), PushWindow(time(20), time(2)), jst(6, 2, 1)),
    ],
)
def test_latest_at_or_before_is_never_later(
    moment: datetime, window: PushWindow, expected: datetime
) -> None:
    got = window.latest_at_or_before(moment)
    assert got == expected
    assert got <= moment
    assert window.allows(got)


def test_the_last_call_is_a_parameter_and_never_the_closing_itself() -> None:
    with pytest.raises(ValueError, match="last call"):
        DEFAULT_WINDOW.latest_at_or_before(jst(6, 3, 7), timedelta(0))
    assert DEFAULT_WINDOW.latest_at_or_before(jst(6, 3, 7), timedelta(minutes=30)) == jst(
        6, 2, 20, 30
    )
