"""Registering a partner organisation's staff from a CSV, as its admin or HQ does.

A 商工会's 経営指導員 can hand a case over in Slack only once they are known here; until
then Slack answers them 「まだ登録されていません」. Their admin (or HQ) uploads the list;
like the CO import, every row is checked before any is written, the file is all or nothing,
a Slack user already on another organisation is refused and one on this organisation is
updated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.console import sheets
from core.console.co_import import changes, mark_unknown_slack_users
from core.console.slack_users import SlackUserDirectory
from core.db.models import AuditLog, PartnerOrganisation, PartnerStaff
from core.domain.enums import ActorKind
from core.i18n import Text
from core.text.normalize import normalize_phone, normalize_text

COLUMNS: Final = {
    "name": "name",
    "氏名": "name",
    "title": "title",
    "役職": "title",
    "email": "email",
    "メールアドレス": "email",
    "phone": "phone",
    "電話番号": "phone",
    "slack_user_id": "slack_user_id",
    "slackユーザーid": "slack_user_id",
    "admin": "admin",
    "管理者": "admin",
}
YES: Final = frozenset({"はい", "yes", "y", "1", "true", "○", "◯"})
NO: Final = frozenset({"", "いいえ", "no", "n", "0", "false", "×"})
_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{6,}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass
class StaffRow(sheets.CheckedRow):
    """A partner organisation's staff member as the sheet gives them."""

    name: str = ""
    title: str | None = None
    email: str | None = None
    phone: str | None = None
    slack_user_id: str | None = None
    admin: bool = False


StaffReport = sheets.Report[StaffRow]


def read_staff(data: bytes) -> StaffReport:
    sheet = sheets.read_sheet(data, COLUMNS)
    if sheet.errors:
        return StaffReport([], sheet.errors)
    rows = [_check(line, cells) for line, cells in sheet.rows]
    first: dict[str, int] = {}
    for row in rows:
        if row.slack_user_id:
            seen = first.setdefault(row.slack_user_id, row.line)
            if seen != row.line:
                row.errors.append(
                    ("slack_user_id", Text("console.import.error.duplicate_in_file", line=seen))
                )
    return StaffReport(rows)


def _check(line: int, cells: dict[str, str]) -> StaffRow:
    row = StaffRow(line=line, cells=cells)
    read = {key: normalize_text(value) for key, value in cells.items()}
    row.name = read.get("name", "")
    if not row.name:
        row.errors.append(("name", Text("console.import.error.name_missing")))
    elif len(row.name) > 100:
        row.errors.append(("name", Text("console.import.error.too_long", limit=100)))
    row.title = read.get("title") or None
    email = read.get("email", "")
    if email and not _EMAIL.match(email):
        row.errors.append(("email", Text("console.import.error.email")))
    row.email = email or None
    phone = read.get("phone", "")
    if phone:
        row.phone = normalize_phone(phone)
        if row.phone is None:
            row.errors.append(("phone", Text("console.import.error.phone")))
    user = read.get("slack_user_id", "").upper()
    if not user:
        row.errors.append(("slack_user_id", Text("console.import.error.slack_user_missing")))
    elif not _SLACK_USER.match(user):
        row.errors.append(("slack_user_id", Text("console.import.error.slack_user")))
    row.slack_user_id = user or None
    admin = read.get("admin", "").lower()
    if admin not in YES | NO:
        row.errors.append(("admin", Text("console.import.error.yes_no")))
    row.admin = admin in YES
    return row


def check_record(cells: dict[str, str]) -> StaffRow:
    """One staff member as the console's form gives them, checked as a sheet row is."""
    return _check(0, cells)


async def check_against_organisation(
    session: AsyncSession,
    report: StaffReport,
    organisation: PartnerOrganisation,
    *,
    directory: SlackUserDirectory | None = None,
) -> None:
    """A Slack user already staff of another organisation, or one Slack does not know."""
    users = [row.slack_user_id for row in report.rows if row.slack_user_id]
    if not users:
        return
    if directory is not None:
        await mark_unknown_slack_users(directory, organisation.slack_team_id, report.rows)
    known = {
        staff.slack_user_id: staff
        for staff in (
            await session.scalars(select(PartnerStaff).where(PartnerStaff.slack_user_id.in_(users)))
        ).all()
    }
    for row in report.rows:
        staff = known.get(row.slack_user_id or "")
        if staff is None:
            continue
        if staff.organisation_id != organisation.id:
            row.errors.append(("slack_user_id", Text("console.import.error.other_organisation")))
        else:
            row.existing_id = staff.id


async def apply_staff(
    session: AsyncSession,
    report: StaffReport,
    organisation: PartnerOrganisation,
    *,
    actor_kind: ActorKind,
    actor_id: int | None,
    now: datetime,
    directory: SlackUserDirectory | None = None,
) -> StaffReport:
    """Write every row, or none when any has an error. Audited per person, old → new."""
    await check_against_organisation(session, report, organisation, directory=directory)
    if not report.ok:
        return report
    for row in report.rows:
        staff = await session.get(PartnerStaff, row.existing_id) if row.existing_id else None
        before = snapshot(staff) if staff is not None else {}
        staff = await write_row(session, row, organisation, staff=staff, active=True)
        session.add(
            audit_row(
                staff,
                "partner_staff.imported" if not before else "partner_staff.updated",
                changes(before, snapshot(staff)),
                actor_kind=actor_kind,
                actor_id=actor_id,
                now=now,
                line=row.line,
            )
        )
    report.written = True
    return report


async def write_row(
    session: AsyncSession,
    row: StaffRow,
    organisation: PartnerOrganisation,
    *,
    staff: PartnerStaff | None,
    active: bool,
) -> PartnerStaff:
    """Store one checked staff member (new when `staff` is None): the sheet's and the form's."""
    if staff is None:
        staff = PartnerStaff(
            organisation_id=organisation.id,
            slack_user_id=row.slack_user_id,
            slack_team_id=organisation.slack_team_id,
            name=row.name,
        )
        session.add(staff)
    staff.name = row.name
    staff.title = row.title
    staff.email = row.email
    staff.phone = row.phone
    staff.slack_user_id = row.slack_user_id
    staff.console_admin = row.admin
    staff.active = active
    await session.flush()
    return staff


def snapshot(staff: PartnerStaff) -> dict[str, Any]:
    return {
        "name": staff.name,
        "title": staff.title,
        "email": staff.email,
        "phone": staff.phone,
        "slack_user_id": staff.slack_user_id,
        "admin": staff.console_admin,
        "active": staff.active,
    }


def audit_row(
    staff: PartnerStaff,
    action: str,
    changed: dict[str, list[Any]],
    *,
    actor_kind: ActorKind,
    actor_id: int | None,
    now: datetime,
    line: int | None = None,
) -> AuditLog:
    details: dict[str, Any] = {
        "partner_staff_id": staff.id,
        "organisation_id": staff.organisation_id,
        "changes": changed,
    }
    if line is not None:
        details["line"] = line
    return AuditLog(
        at=now,
        actor_kind=actor_kind if actor_id else ActorKind.SYSTEM,
        actor_id=actor_id,
        action=action,
        details=details,
    )
