"""One CO's profile and hours, as the CO keeps them (or their CCO does).

A CO knows their own week best: the days they see owners, the leave they take, the holiday
they work. What they write here is what owners are offered in LINE (core.booking reads the
same rows). The weekly pattern is written as on the CSV (`月 09:00-12:00 来所`, one per line);
exceptions one per line as `2026-08-13 休み` (a day off) or `2026-08-15 13:00-16:00` (other
hours that day). Past exceptions are history and stay as they were.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, Final

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.console import sheets
from core.console.co_import import MODE_NAMES, Slot, format_weekly, parse_weekly
from core.db.models import AuditLog, CoAvailabilityException, Coordinator, CoWeeklyAvailability
from core.domain.enums import ActorKind
from core.domain.topics import Specialty
from core.i18n import Text
from core.text.normalize import normalize_text

_OFF: Final = frozenset({"休み", "休", "off", "leave", "休暇"})
_EXCEPTION = re.compile(r"^(\d{4}-\d{1,2}-\d{1,2})\s*(.*)$")
_HOURS = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})(?:\s+(.*))?$")


ProfileForm = sheets.FieldForm


@dataclass(frozen=True)
class DayException:
    day: date
    available: bool
    start: time | None = None
    end: time | None = None
    note: str | None = None


async def current_profile(session: AsyncSession, co: Coordinator, today: date) -> dict[str, Any]:
    weekly = (
        await session.scalars(
            select(CoWeeklyAvailability).where(CoWeeklyAvailability.co_id == co.id)
        )
    ).all()
    exceptions = (
        await session.scalars(
            select(CoAvailabilityException)
            .where(CoAvailabilityException.co_id == co.id, CoAvailabilityException.day >= today)
            .order_by(CoAvailabilityException.day)
        )
    ).all()
    return {
        "name_kana": co.name_kana or "",
        "specialties": list(co.specialties),
        "qualifications": "、".join(co.qualifications),
        "self_introduction": co.self_introduction or "",
        "capacity": str(co.capacity),
        "weekly": format_weekly(
            [Slot(w.weekday, w.start_time, w.end_time, w.mode) for w in weekly], MODE_NAMES
        ),
        "exceptions": "\n".join(_format_exception(e) for e in exceptions),
    }


def _format_exception(row: CoAvailabilityException) -> str:
    if not row.available or row.start_time is None or row.end_time is None:
        text = f"{row.day.isoformat()} 休み"
    else:
        text = f"{row.day.isoformat()} {row.start_time:%H:%M}-{row.end_time:%H:%M}"
    return f"{text} {row.note}" if row.note else text


def read_profile(typed: dict[str, Any], *, today: date) -> ProfileForm:
    form = ProfileForm(typed=dict(typed))
    known = {s.value for s in Specialty}
    chosen = [s for s in typed.get("specialties", []) if s in known]
    form.values["specialties"] = chosen
    form.values["name_kana"] = normalize_text(str(typed.get("name_kana", ""))) or None
    quals = re.split(r"[、,]", normalize_text(str(typed.get("qualifications", ""))))
    form.values["qualifications"] = [q.strip() for q in quals if q.strip()]
    intro = str(typed.get("self_introduction", "")).strip()
    if len(intro) > 1000:
        form.errors["self_introduction"] = Text("console.import.error.too_long", limit=1000)
    form.values["self_introduction"] = intro or None
    capacity = normalize_text(str(typed.get("capacity", "")))
    if not capacity.isdigit() or not 1 <= int(capacity) <= 100:
        form.errors["capacity"] = Text("console.import.error.capacity")
    else:
        form.values["capacity"] = int(capacity)
    slots, problems = parse_weekly(normalize_text_lines(str(typed.get("weekly", ""))))
    if problems:
        form.errors["weekly"] = problems[0]
    form.values["weekly"] = slots
    exceptions, problem = parse_exceptions(str(typed.get("exceptions", "")), today=today)
    if problem is not None:
        form.errors["exceptions"] = problem
    form.values["exceptions"] = exceptions
    return form


def normalize_text_lines(value: str) -> str:
    """NFKC each line but keep the lines (normalize_text would fold them into one)."""
    return "\n".join(normalize_text(line) for line in value.splitlines())


def parse_exceptions(value: str, *, today: date) -> tuple[list[DayException], Text | None]:
    found: dict[date, DayException] = {}
    for line in (normalize_text(item) for item in value.splitlines()):
        if not line:
            continue
        match = _EXCEPTION.match(line)
        try:
            day = date.fromisoformat(_iso(match.group(1))) if match else None
        except ValueError:
            day = None
        if match is None or day is None:
            return [], Text("console.profile.error.exception", value=line)
        if day < today:
            return [], Text("console.profile.error.past", value=line)
        rest = match.group(2).strip()
        first = rest.split(" ", 1)[0] if rest else ""
        if first.lower() in _OFF or not rest:
            note = rest[len(first) :].strip() or None
            exception = DayException(day, available=False, note=note)
        else:
            hours = _HOURS.match(rest)
            if hours is None:
                return [], Text("console.profile.error.exception", value=line)
            try:
                start = time(int(hours.group(1)), int(hours.group(2)))
                end = time(int(hours.group(3)), int(hours.group(4)))
            except ValueError:
                return [], Text("console.profile.error.exception", value=line)
            if start >= end:
                return [], Text("console.profile.error.exception", value=line)
            exception = DayException(day, True, start, end, (hours.group(5) or "").strip() or None)
        if day in found:
            return [], Text("console.profile.error.twice", value=line)
        found[day] = exception
    return sorted(found.values(), key=lambda e: e.day), None


def _iso(text: str) -> str:
    year, month, day = text.split("-")
    return f"{int(year):04d}-{int(month):02d}-{int(day):02d}"


async def apply_profile(
    session: AsyncSession,
    co: Coordinator,
    form: ProfileForm,
    *,
    actor_id: int | None,
    may_set_capacity: bool,
    today: date,
    now: datetime,
) -> list[str]:
    """Apply a checked form; answers the names of the fields that changed (audited)."""
    if not form.ok:
        raise ValueError("apply_profile needs a form without errors")
    before = await current_profile(session, co, today)
    values = form.values
    co.name_kana = values["name_kana"]
    co.specialties = values["specialties"]
    co.qualifications = values["qualifications"]
    co.self_introduction = values["self_introduction"]
    if may_set_capacity:
        co.capacity = values["capacity"]
    await session.execute(delete(CoWeeklyAvailability).where(CoWeeklyAvailability.co_id == co.id))
    session.add_all(
        CoWeeklyAvailability(
            co_id=co.id, weekday=s.weekday, start_time=s.start, end_time=s.end, mode=s.mode
        )
        for s in values["weekly"]
    )
    await replace_exceptions(session, co, values["exceptions"], today=today)
    after = await current_profile(session, co, today)
    changed = sorted(key for key in after if after[key] != before[key])
    if changed:
        session.add(
            AuditLog(
                at=now,
                actor_kind=ActorKind.COORDINATOR if actor_id else ActorKind.SYSTEM,
                actor_id=actor_id,
                action="coordinator.profile_changed",
                hub_id=co.hub_id,
                details={"coordinator_id": co.id, "fields": changed},
            )
        )
    return changed


async def replace_exceptions(
    session: AsyncSession, co: Coordinator, exceptions: list[DayException], *, today: date
) -> None:
    """Today's and later exceptions become `exceptions`; past ones are history, kept."""
    await session.execute(
        delete(CoAvailabilityException).where(
            CoAvailabilityException.co_id == co.id, CoAvailabilityException.day >= today
        )
    )
    session.add_all(
        CoAvailabilityException(
            co_id=co.id,
            day=e.day,
            available=e.available,
            start_time=e.start,
            end_time=e.end,
            note=e.note,
        )
        for e in exceptions
    )
    await session.flush()
