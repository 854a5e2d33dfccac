"""Japan dates as people read them: 6月3日(水), 6月3日(水) 14:05, 12月1日〜7日.

One helper for every text that names a day, so an owner and a CO never see 06/03 in one
message and 6月3日(水) in the next. Stored times are UTC; each helper shows Japan time
(invariant 10). The results are `Text` values, rendered in the reader's language.
"""

from __future__ import annotations

from datetime import date, datetime

from core.clock import to_jst
from core.i18n.catalog import Text


def _day(value: date | datetime) -> date:
    return to_jst(value).date() if isinstance(value, datetime) else value


def weekday(value: date | datetime) -> Text:
    """月, 火, … (Mon, Tue, … in English) of the Japan day."""
    return Text(f"booking.weekday.{_day(value).weekday()}")


def jst_day(value: date | datetime) -> Text:
    """6月3日(水): a day, with its weekday."""
    day = _day(value)
    return Text("dates.day", value=day, weekday=weekday(day))


def jst_day_time(moment: datetime) -> Text:
    """6月3日(水) 14:05, in Japan time."""
    local = to_jst(moment)
    return Text("dates.day_time", value=local, weekday=weekday(local))


def jst_time(moment: datetime) -> Text:
    """14:05, in Japan time."""
    return Text("dates.time", value=to_jst(moment))


def jst_day_range(first: date, last: date) -> Text:
    """12月1日〜7日 within a month, 11月29日〜12月5日 across two, with the year only when the
    range crosses one (12月29日〜2027年1月4日)."""
    if first.year != last.year:
        return Text("dates.range_years", first=first, last=last)
    if first.month != last.month:
        return Text("dates.range_months", first=first, last=last)
    return Text("dates.range", first=first, last=last)
