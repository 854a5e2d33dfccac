"""A hub's public information (拠点のご案内): checking what the CCO types, and reading it back.

Pure functions over plain values, shared by the console (which checks and stores a profile)
and the owners' answer (which shows it):

* phone numbers and postal codes are read as everything people type is (core.text: the
  same rules as owners' and partners' phone numbers, by `phonenumbers` in the JP region);
  a phone is stored as E.164 and shown in Japan's national format (`core.text.format_phone`),
  and the call button dials the E.164 form through a `tel:` address;
* web pages must be https (LINE opens them in its in-app browser, and an http page there
  warns the owner);
* opening hours are per weekday: a list of time ranges, an empty list for a closed weekday,
  or nothing at all when the hub has not said. Whether the hub is open *today* also honours
  its closed days and Japan's public holidays, as the rest of the calendar does
  (core.calendar: hubs are closed on public holidays).

Nothing here fills a gap: a value not given stays None and the answer leaves it out.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, time
from enum import StrEnum
from typing import Any, Final
from urllib.parse import urlsplit

from core.calendar import is_public_holiday
from core.text.normalize import normalize_postal_code, normalize_text, phone_e164

WEEKDAYS: Final = tuple(range(7))
"""Monday = 0, as date.weekday() counts."""
CLOSED_WORDS: Final = frozenset({"休", "休み", "休業", "定休", "定休日", "closed", "-", "×"})
MAX_URL: Final = 1000
_RANGE = re.compile(r"^(\d{1,2}):(\d{2})\s*[-~〜ー–]\s*(\d{1,2}):(\d{2})$")

Ranges = tuple[tuple[time, time], ...]


class ProblemKind(StrEnum):
    """Why a typed value was refused: the console names each in the catalog."""

    PHONE = "phone"
    URL = "url"
    POSTAL = "postal"
    LATITUDE = "latitude"
    LONGITUDE = "longitude"
    BOTH_COORDINATES = "both_coordinates"
    HOURS = "hours"


class Problem(ValueError):
    def __init__(self, kind: ProblemKind) -> None:
        super().__init__(kind.value)
        self.kind = kind


# -- checking what was typed ----------------------------------------------------------------


def parse_phone(typed: str) -> str | None:
    """A Japanese phone number as E.164 (+81...), or None when blank; Problem when wrong."""
    if not normalize_text(typed):
        return None
    e164 = phone_e164(typed)
    if e164 is None:
        raise Problem(ProblemKind.PHONE)
    return e164


def phone_uri(e164: str) -> str:
    """The call button's address: tel:+81312345678 (RFC 3966 without the visual separators)."""
    return "tel:" + e164


def parse_url(typed: str) -> str | None:
    """An https address with a host, or None when blank; Problem for anything else."""
    text = typed.strip()
    if not text:
        return None
    parts = urlsplit(text)
    if (
        parts.scheme.lower() != "https"
        or not parts.hostname
        or len(text) > MAX_URL
        or any(c.isspace() for c in text)
    ):
        raise Problem(ProblemKind.URL)
    return "https" + text[len(parts.scheme) :]


def parse_postal_code(typed: str) -> str | None:
    """123-4567 from 1234567, 〒123-4567 or full-width digits; None when blank."""
    if not normalize_text(typed):
        return None
    postal = normalize_postal_code(typed)
    if postal is None:
        raise Problem(ProblemKind.POSTAL)
    return postal


def parse_coordinates(latitude: str, longitude: str) -> tuple[float | None, float | None]:
    """Both or neither; latitude within ±90 and longitude within ±180 (decimal degrees)."""
    lat_text, lon_text = normalize_text(latitude), normalize_text(longitude)
    if not lat_text and not lon_text:
        return None, None
    if not lat_text or not lon_text:
        raise Problem(ProblemKind.BOTH_COORDINATES)
    lat = _number(lat_text, ProblemKind.LATITUDE)
    lon = _number(lon_text, ProblemKind.LONGITUDE)
    if not -90 <= lat <= 90:
        raise Problem(ProblemKind.LATITUDE)
    if not -180 <= lon <= 180:
        raise Problem(ProblemKind.LONGITUDE)
    return lat, lon


def _number(text: str, kind: ProblemKind) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise Problem(kind) from exc
    if value != value or value in (float("inf"), float("-inf")):
        raise Problem(kind)
    return value


def parse_hours(typed: str) -> Ranges | None:
    """One weekday's hours: "9:00-17:00", "9:00-12:00, 13:00-17:00", 休 (closed: an empty
    tuple), or blank (not known: None)."""
    text = normalize_text(typed).strip()
    if not text:
        return None
    if text.lower() in CLOSED_WORDS:
        return ()
    ranges: list[tuple[time, time]] = []
    for part in re.split(r"\s*[,、/]\s*", text):
        match = _RANGE.match(part)
        if match is None:
            raise Problem(ProblemKind.HOURS)
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
            raise Problem(ProblemKind.HOURS)
        start, end = time(h1, m1), time(23, 59) if h2 == 24 else time(h2, m2)
        if start >= end or (ranges and start < ranges[-1][1]):
            raise Problem(ProblemKind.HOURS)
        ranges.append((start, end))
    return tuple(ranges)


# -- stored form ----------------------------------------------------------------------------


def hours_to_json(hours: Mapping[int, Ranges]) -> dict[str, Any]:
    return {
        str(day): [[s.strftime("%H:%M"), e.strftime("%H:%M")] for s, e in ranges]
        for day, ranges in sorted(hours.items())
    }


def hours_from_json(stored: Mapping[str, Any] | None) -> dict[int, Ranges]:
    """The stored map read back; anything malformed counts as not known, never as closed."""
    hours: dict[int, Ranges] = {}
    for key, value in (stored or {}).items():
        if not (isinstance(key, str) and key.isdigit() and int(key) in WEEKDAYS):
            continue
        if not isinstance(value, list):
            continue
        try:
            hours[int(key)] = tuple(
                (time.fromisoformat(start), time.fromisoformat(end)) for start, end in value
            )
        except (TypeError, ValueError):
            continue
    return hours


def hours_text(ranges: Ranges) -> str:
    """9:00〜17:00, 13:00〜17:00 as typed in the console again ("" for closed is the
    caller's choice: see `typed_hours`)."""
    return ", ".join(f"{_hm(s)}-{_hm(e)}" for s, e in ranges)


def typed_hours(ranges: Ranges | None) -> str:
    """What the console shows in a weekday's field: blank (not known), 休 or the ranges."""
    if ranges is None:
        return ""
    return hours_text(ranges) if ranges else "休"


def _hm(moment: time) -> str:
    return f"{moment.hour}:{moment.minute:02d}"


def display_ranges(ranges: Ranges) -> str:
    """9:00〜12:00、13:00〜17:00: how owners read hours."""
    return "、".join(f"{_hm(s)}〜{_hm(e)}" for s, e in ranges)


# -- reading it for owners ------------------------------------------------------------------


class TodayKind(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Today:
    kind: TodayKind
    ranges: Ranges = ()


def today_status(
    hours: Mapping[int, Ranges], day: date, closed_days: Collection[date] = ()
) -> Today:
    """Open (with the day's hours), closed, or unknown (the hub has not said).

    A closed day of the hub and a public holiday are closed whatever the weekday's hours;
    a weekday the hub marked 休 is closed; a weekday left blank is unknown.
    """
    if day in closed_days or is_public_holiday(day):
        return Today(TodayKind.CLOSED)
    ranges = hours.get(day.weekday())
    if ranges is None:
        return Today(TodayKind.UNKNOWN)
    if not ranges:
        return Today(TodayKind.CLOSED)
    return Today(TodayKind.OPEN, ranges)


def weekly_groups(hours: Mapping[int, Ranges]) -> list[tuple[Sequence[int], Ranges]]:
    """Runs of consecutive weekdays with the same hours, for 月〜金 9:00〜17:00 lines;
    weekdays not known are left out (and break a run)."""
    groups: list[tuple[list[int], Ranges]] = []
    for day in WEEKDAYS:
        ranges = hours.get(day)
        if ranges is None:
            continue
        if groups and groups[-1][1] == ranges and groups[-1][0][-1] == day - 1:
            groups[-1][0].append(day)
        else:
            groups.append(([day], ranges))
    return [(tuple(days), ranges) for days, ranges in groups]
