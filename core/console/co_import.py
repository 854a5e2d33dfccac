"""Registering a hub's coordinators from a spreadsheet: every row checked before any is written.

A hub going live has its twenty or thirty COs in an Excel sheet already. The CCO saves it as
CSV and uploads it (or HQ runs `yorozu admin import-cos`); the same function reads it for
both. A dry run shows each row's problems, field by field, and writes nothing; the import
proper writes all rows or none. Headers may be Japanese (氏名, 役割, 専門分野, ...) or the
English column names; cells are read through the one NFKC normaliser, so full-width digits
and half-width kana typed in Excel read the same as anywhere else.

A row whose Slack user is already a CO of the same hub updates that CO (a second upload of a
corrected sheet is the normal way to fix it); one who belongs to another hub is an error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any, Final

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.console import sheets
from core.console.slack_users import SlackUserDirectory, unknown_users
from core.db.models import AuditLog, Coordinator, CoWeeklyAvailability
from core.domain.enums import ActorKind, BookingMode, CoRole
from core.domain.topics import Specialty
from core.i18n import Catalog, Text
from core.text.normalize import normalize_text

MAX_BYTES: Final = sheets.MAX_BYTES
decoded = sheets.decoded

COLUMNS: Final[Mapping[str, str]] = {
    "name": "name",
    "氏名": "name",
    "name_kana": "name_kana",
    "ふりがな": "name_kana",
    "role": "role",
    "役割": "role",
    "specialties": "specialties",
    "専門分野": "specialties",
    "qualifications": "qualifications",
    "資格": "qualifications",
    "self_introduction": "self_introduction",
    "自己紹介": "self_introduction",
    "slack_user_id": "slack_user_id",
    "slackユーザーid": "slack_user_id",
    "slack id": "slack_user_id",
    "email": "email",
    "メールアドレス": "email",
    "capacity": "capacity",
    "担当上限": "capacity",
    "availability": "availability",
    "相談可能時間": "availability",
}
"""Header (lower-cased, NFKC) to field. The Japanese ones are what the template sheet uses."""

ROLES: Final[Mapping[str, CoRole]] = {
    "co": CoRole.CO,
    "コーディネーター": CoRole.CO,
    "cco": CoRole.CCO,
    "チーフコーディネーター": CoRole.CCO,
}
WEEKDAYS: Final[Mapping[str, int]] = {
    **{day: i for i, day in enumerate("月火水木金土日")},
    **{day: i for i, day in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))},
}
MODES: Final[Mapping[str, BookingMode]] = {
    "来所": BookingMode.VISIT,
    "visit": BookingMode.VISIT,
    "オンライン": BookingMode.ONLINE,
    "online": BookingMode.ONLINE,
    "訪問": BookingMode.ONSITE,
    "onsite": BookingMode.ONSITE,
}
MODE_NAMES: Final = {
    BookingMode.VISIT: "来所",
    BookingMode.ONLINE: "オンライン",
    BookingMode.ONSITE: "訪問",
}
"""How a form writes each mode; MODES reads these (and English names) back."""
_SLOT = re.compile(r"^(\S+?)\s*(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})(?:\s+(\S+))?$")
_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{6,}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_LIST_SEPARATORS = re.compile(r"[、,;]\s*")
"""Not 「・」: labels such as IT・デジタル hold it."""


@dataclass(frozen=True)
class Slot:
    weekday: int
    start: time
    end: time
    mode: BookingMode


@dataclass
class CoRow(sheets.CheckedRow):
    """A CO as the sheet gives them."""

    name: str = ""
    name_kana: str | None = None
    role: CoRole = CoRole.CO
    specialties: list[str] = field(default_factory=list)
    qualifications: list[str] = field(default_factory=list)
    self_introduction: str | None = None
    slack_user_id: str | None = None
    email: str | None = None
    capacity: int = 15
    slots: list[Slot] = field(default_factory=list)


ImportReport = sheets.Report[CoRow]


def _specialty_labels(catalog: Catalog) -> dict[str, str]:
    labels: dict[str, str] = {}
    for specialty in Specialty:
        labels[specialty.value] = specialty.value
        for locale in catalog.locales:
            label = normalize_text(catalog.text(f"specialty.{specialty.value}", locale))
            labels[label.lower()] = specialty.value
    return labels


def read_sheet(data: bytes, catalog: Catalog) -> ImportReport:
    """Parse and check a CSV file of COs, without looking at the database."""
    sheet = sheets.read_sheet(data, COLUMNS)
    if sheet.errors:
        return ImportReport([], sheet.errors)
    labels = _specialty_labels(catalog)
    rows = [_check_row(line, cells, labels) for line, cells in sheet.rows]
    _check_duplicates(rows)
    return ImportReport(rows)


def check_record(cells: dict[str, str], catalog: Catalog) -> CoRow:
    """One CO as the console's form gives them, checked exactly as a sheet row is."""
    return _check_row(0, cells, _specialty_labels(catalog))


def _check_row(line: int, cells: dict[str, str], labels: Mapping[str, str]) -> CoRow:
    row = CoRow(line=line, cells=cells)
    read = {key: normalize_text(value) for key, value in cells.items()}
    row.name = read.get("name", "")
    if not row.name:
        row.errors.append(("name", Text("console.import.error.name_missing")))
    elif len(row.name) > 100:
        row.errors.append(("name", Text("console.import.error.too_long", limit=100)))
    row.name_kana = read.get("name_kana") or None
    role = read.get("role", "").lower()
    if role:
        if role not in ROLES:
            row.errors.append(("role", Text("console.import.error.role")))
        else:
            row.role = ROLES[role]
    for item in _split(read.get("specialties", "")):
        value = labels.get(item.lower())
        if value is None:
            row.errors.append(("specialties", Text("console.import.error.specialty", value=item)))
        elif value not in row.specialties:
            row.specialties.append(value)
    row.qualifications = _split(read.get("qualifications", ""))
    intro = cells.get("self_introduction", "").strip()
    row.self_introduction = intro or None
    user = read.get("slack_user_id", "").upper()
    if user:
        if not _SLACK_USER.match(user):
            row.errors.append(("slack_user_id", Text("console.import.error.slack_user")))
        row.slack_user_id = user
    else:
        row.errors.append(("slack_user_id", Text("console.import.error.slack_user_missing")))
    email = read.get("email", "")
    if email:
        if not _EMAIL.match(email):
            row.errors.append(("email", Text("console.import.error.email")))
        row.email = email
    capacity = read.get("capacity", "")
    if capacity:
        if not capacity.isdigit() or not 1 <= int(capacity) <= 100:
            row.errors.append(("capacity", Text("console.import.error.capacity")))
        else:
            row.capacity = int(capacity)
    _read_availability(row, read.get("availability", ""))
    return row


def _split(value: str) -> list[str]:
    return [item.strip() for item in _LIST_SEPARATORS.split(value) if item.strip()]


def _read_availability(row: CoRow, value: str) -> None:
    row.slots, problems = parse_weekly(value)
    row.errors.extend(("availability", problem) for problem in problems)


def parse_weekly(value: str) -> tuple[list[Slot], list[Text]]:
    """`月 09:00-12:00 来所; 水 13:00-17:00 オンライン` (or one per line): weekday, hours,
    optional mode (来所 when left out). Overlaps on one day are refused."""
    slots: list[Slot] = []
    problems: list[Text] = []
    for part in (item.strip() for item in re.split(r"[;\n]", value)):
        if not part:
            continue
        match = _SLOT.match(part)
        weekday = WEEKDAYS.get(_weekday_name(match.group(1))) if match else None
        mode = MODES.get((match.group(6) or "来所").lower()) if match else None
        hours = _hours(match) if match else None
        if weekday is None or mode is None or hours is None:
            problems.append(Text("console.import.error.slot", value=part))
            continue
        start, end = hours
        if any(o.weekday == weekday and o.start < end and start < o.end for o in slots):
            problems.append(Text("console.import.error.overlap", value=part))
            continue
        slots.append(Slot(weekday, start, end, mode))
    return slots, problems


def _hours(match: re.Match[str]) -> tuple[time, time] | None:
    try:
        start = time(int(match.group(2)), int(match.group(3)))
        end = time(int(match.group(4)), int(match.group(5)))
    except ValueError:
        return None
    return (start, end) if start < end else None


def format_weekly(slots: Sequence[Slot], mode_names: Mapping[BookingMode, str]) -> str:
    """The weekly pattern as the form shows it, one slot per line, Monday first."""
    days = "月火水木金土日"
    return "\n".join(
        f"{days[s.weekday]} {s.start:%H:%M}-{s.end:%H:%M} {mode_names[s.mode]}"
        for s in sorted(slots, key=lambda s: (s.weekday, s.start))
    )


def _weekday_name(word: str) -> str:
    """月, 月曜, 月曜日 and Mon all name Monday."""
    word = word.lower()
    for suffix in ("曜日", "曜"):
        if word.endswith(suffix) and len(word) > len(suffix):
            return word[: -len(suffix)]
    return word


def _check_duplicates(rows: Sequence[CoRow]) -> None:
    seen: dict[str, int] = {}
    for row in rows:
        if not row.slack_user_id:
            continue
        first = seen.setdefault(row.slack_user_id, row.line)
        if first != row.line:
            row.errors.append(
                ("slack_user_id", Text("console.import.error.duplicate_in_file", line=first))
            )


async def check_against_hub(
    session: AsyncSession,
    report: ImportReport,
    *,
    hub_id: int,
    team_id: str | None,
    directory: SlackUserDirectory | None = None,
) -> None:
    """The checks that need the database and Slack: a Slack user already a CO of another
    hub, or one Slack does not know (users.info)."""
    users = [row.slack_user_id for row in report.rows if row.slack_user_id]
    if not users:
        return
    if directory is not None:
        await mark_unknown_slack_users(directory, team_id, report.rows)
    known = (
        await session.scalars(select(Coordinator).where(Coordinator.slack_user_id.in_(users)))
    ).all()
    by_user = {
        co.slack_user_id: co
        for co in known
        if team_id is None or co.slack_team_id in (team_id, None)
    }
    for row in report.rows:
        co = by_user.get(row.slack_user_id or "")
        if co is None:
            continue
        if co.hub_id != hub_id:
            row.errors.append(("slack_user_id", Text("console.import.error.other_hub")))
        else:
            row.existing_id = co.id


async def apply_import(
    session: AsyncSession,
    report: ImportReport,
    *,
    hub_id: int,
    team_id: str | None,
    actor_id: int | None,
    now: datetime,
    directory: SlackUserDirectory | None = None,
) -> ImportReport:
    """Write every row, or none when any row has an error. Audited per CO, old → new."""
    await check_against_hub(session, report, hub_id=hub_id, team_id=team_id, directory=directory)
    if not report.ok:
        return report
    for row in report.rows:
        co = await session.get(Coordinator, row.existing_id) if row.existing_id else None
        before = await snapshot(session, co) if co is not None else {}
        co = await write_row(session, row, hub_id=hub_id, team_id=team_id, co=co, active=True)
        session.add(
            audit_row(
                co,
                "coordinator.imported" if not before else "coordinator.updated",
                changes(before, await snapshot(session, co)),
                actor_id=actor_id,
                now=now,
                line=row.line,
            )
        )
    report.written = True
    return report


async def write_row(
    session: AsyncSession,
    row: CoRow,
    *,
    hub_id: int,
    team_id: str | None,
    co: Coordinator | None,
    active: bool,
) -> Coordinator:
    """Store one checked CO (new when `co` is None): what the sheet and the form share.

    The weekly pattern is replaced only when the row says something about it, so a sheet
    without the column leaves each CO's hours as they kept them."""
    if co is None:
        co = Coordinator(hub_id=hub_id, slack_user_id=row.slack_user_id, slack_team_id=team_id)
        session.add(co)
    co.name = row.name
    co.name_kana = row.name_kana
    co.role = row.role
    co.specialties = list(row.specialties)
    co.qualifications = list(row.qualifications)
    co.self_introduction = row.self_introduction
    co.slack_user_id = row.slack_user_id
    co.email = row.email
    co.capacity = row.capacity
    co.active = active
    await session.flush()
    if row.slots or "availability" in row.cells:
        await session.execute(
            delete(CoWeeklyAvailability).where(CoWeeklyAvailability.co_id == co.id)
        )
        session.add_all(
            CoWeeklyAvailability(
                co_id=co.id,
                weekday=slot.weekday,
                start_time=slot.start,
                end_time=slot.end,
                mode=slot.mode,
            )
            for slot in row.slots
        )
        await session.flush()
    return co


async def snapshot(session: AsyncSession, co: Coordinator) -> dict[str, Any]:
    """A CO's registered fields as the audit log records them (before and after a change)."""
    weekly = (
        await session.scalars(
            select(CoWeeklyAvailability).where(CoWeeklyAvailability.co_id == co.id)
        )
    ).all()
    return {
        "name": co.name,
        "name_kana": co.name_kana,
        "role": co.role.value,
        "specialties": list(co.specialties),
        "qualifications": list(co.qualifications),
        "self_introduction": co.self_introduction,
        "slack_user_id": co.slack_user_id,
        "email": co.email,
        "capacity": co.capacity,
        "active": co.active,
        "weekly": format_weekly(
            [Slot(w.weekday, w.start_time, w.end_time, w.mode) for w in weekly], MODE_NAMES
        ),
    }


def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """{field: [old, new]} of what differs; a new record's old values are None."""
    return {
        key: [before.get(key), value]
        for key, value in after.items()
        if before.get(key) != value and (before or value not in (None, "", [], False))
    }


def audit_row(
    co: Coordinator,
    action: str,
    changed: dict[str, list[Any]],
    *,
    actor_id: int | None,
    now: datetime,
    line: int | None = None,
) -> AuditLog:
    details: dict[str, Any] = {"coordinator_id": co.id, "changes": changed}
    if line is not None:
        details["line"] = line
    return AuditLog(
        at=now,
        actor_kind=ActorKind.COORDINATOR if actor_id else ActorKind.SYSTEM,
        actor_id=actor_id,
        action=action,
        hub_id=co.hub_id,
        details=details,
    )


async def mark_unknown_slack_users(
    directory: SlackUserDirectory, team_id: str | None, rows: Sequence[sheets.CheckedRow]
) -> None:
    """Ask Slack about each well-formed id of the rows (CO or partner staff rows alike) and
    mark the field of the ones it does not know as a person."""
    wanted = [
        (row, user)
        for row in rows
        if (user := getattr(row, "slack_user_id", None))
        and not any(field == "slack_user_id" for field, _ in row.errors)
    ]
    problems = await unknown_users(directory, team_id, [user for _, user in wanted])
    for row, user in wanted:
        if user in problems:
            row.errors.append(("slack_user_id", problems[user]))
