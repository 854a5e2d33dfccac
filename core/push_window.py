"""The owners' push window: the hours of the day at which an owner may get a push (pure).

This is not the hub's business calendar. A reminder on Sunday evening for a Monday booking is
welcome, so the window is the same on every day of the week, holidays and the hub's closed
days included; the closed days govern what needs the hub's staff (escalations, CO DMs), not
what an owner is told (invariant 7 as issue 16 refined it). The default is 08:00-21:00 Japan
time; a hub changes it in its settings (`Hub.quiet_start` is when the window closes,
`Hub.quiet_end` when it opens).

Planners use the window to put a promised push inside it *before* it is written, earlier and
never later than its ideal moment (`latest_at_or_before`): a push that waits for the next
allowed moment can arrive after the event it announces, which is how 09:00 reminders were lost.
The dispatcher's gate uses `next_at_or_after` only for what was not planned (a push queued
by an answer at night, or one held up by downtime).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final

from core.clock import JST, to_jst

DEFAULT_OPENS: Final = time(8, 0)
DEFAULT_CLOSES: Final = time(21, 0)

LAST_CALL: Final = timedelta(hours=1)
"""A push moved out of the closed hours is planned this long before the window closes, so a
dispatcher busy with a backlog or a rate limit still has an hour to get it out inside it."""


def _at(day: date, moment: time) -> datetime:
    return datetime.combine(day, moment, tzinfo=JST)


@dataclass(frozen=True)
class PushWindow:
    """[opens, closes) in Japan time, every day; it may wrap midnight. Equal: always open."""

    opens: time = DEFAULT_OPENS
    closes: time = DEFAULT_CLOSES

    @property
    def always_open(self) -> bool:
        return self.opens == self.closes

    def allows(self, moment: datetime) -> bool:
        """Whether an owner may get a push at `moment` (any zone; judged in Japan time)."""
        if self.always_open:
            return True
        clock = to_jst(moment).time()
        if self.opens < self.closes:
            return self.opens <= clock < self.closes
        return clock >= self.opens or clock < self.closes

    def next_at_or_after(self, moment: datetime) -> datetime:
        """The earliest allowed moment at or after `moment`, in UTC."""
        if self.allows(moment):
            return moment.astimezone(UTC)
        local = to_jst(moment)
        opening = _at(local.date(), self.opens)
        if opening <= local:
            opening += timedelta(days=1)
        return opening.astimezone(UTC)

    def latest_at_or_before(self, moment: datetime, last_call: timedelta = LAST_CALL) -> datetime:
        """`moment` when allowed; else `last_call` before the most recent closing (not before
        that window opened), in UTC. Never later than `moment`."""
        if last_call <= timedelta(0):
            raise ValueError("the last call must come before the window closes")
        if self.allows(moment):
            return moment.astimezone(UTC)
        local = to_jst(moment)
        closing = _at(local.date(), self.closes)
        if closing > local:
            closing -= timedelta(days=1)
        opening = _at(closing.date(), self.opens)
        if opening >= closing:
            opening -= timedelta(days=1)
        return max(opening, closing - last_call).astimezone(UTC)


DEFAULT_WINDOW: Final = PushWindow()
