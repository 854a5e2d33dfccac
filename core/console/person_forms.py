"""One record at a time: the console's forms for a CO/CCO, a partner organisation, its staff.

A hub going live imports its sheet; after that people arrive one by one (a new CO in
October, a 経営指導員 replacing another), and a CCO should not have to build a one-row CSV
for it. These forms check each value with the very functions the CSV import uses
(co_import/staff_import/organisation_import.check_record) and write through the same
`write_row`, so a form, a sheet and `yorozu admin` can never disagree on what is valid.

What a form adds over a sheet row: a Slack user already registered as someone else is a
*duplicate person* (the sheet updates them; a form to add someone new must not silently
overwrite a colleague), a CO's exceptions to their week, and the active switch (which goes
through core.console.deactivate, so a CO switched off has their cases offered again).
Every save is one audit row with each changed field's old and new value.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.console import co_import, co_profile, organisation_import, staff_import
from core.console.deactivate import Deactivated, set_active, set_staff_active
from core.console.sheets import FieldForm
from core.console.slack_users import SlackUserDirectory, unknown_users
from core.db.models import Coordinator, PartnerOrganisation, PartnerStaff
from core.domain.enums import ActorKind
from core.i18n import Catalog, Text
from core.queues.port import HubQueue
from core.text.normalize import format_phone

CO_FIELDS = (
    "name",
    "name_kana",
    "role",
    "qualifications",
    "self_introduction",
    "slack_user_id",
    "email",
    "capacity",
    "weekly",
    "exceptions",
    "active",
)
STAFF_FIELDS = ("name", "title", "email", "phone", "slack_user_id", "admin", "active")


# -- a coordinator -------------------------------------------------------------------------


def blank_coordinator() -> dict[str, Any]:
    """A new CO's form: active, the import's default capacity, nothing else guessed."""
    return {name: "" for name in CO_FIELDS} | {
        "role": "co",
        "capacity": "15",
        "active": "1",
        "specialties": [],
    }


async def current_coordinator(
    session: AsyncSession, co: Coordinator, today: date
) -> dict[str, Any]:
    profile = await co_profile.current_profile(session, co, today)
    return {
        **profile,
        "name": co.name,
        "role": co.role.value,
        "slack_user_id": co.slack_user_id or "",
        "email": co.email or "",
        "active": "1" if co.active else "",
    }


def read_coordinator(
    typed: dict[str, Any], catalog: Catalog, *, today: date
) -> tuple[FieldForm, co_import.CoRow]:
    """The typed form as a sheet row (checked by the import's own rules) plus exceptions."""
    weekly = co_profile.normalize_text_lines(str(typed.get("weekly", "")))
    cells = {
        "name": str(typed.get("name", "")),
        "name_kana": str(typed.get("name_kana", "")),
        "role": str(typed.get("role", "")),
        "specialties": "、".join(str(s) for s in typed.get("specialties", [])),
        "qualifications": str(typed.get("qualifications", "")),
        "self_introduction": str(typed.get("self_introduction", "")),
        "slack_user_id": str(typed.get("slack_user_id", "")),
        "email": str(typed.get("email", "")),
        "capacity": str(typed.get("capacity", "")),
        "availability": "; ".join(line for line in weekly.splitlines() if line.strip()),
    }
    row = co_import.check_record(cells, catalog)
    form = FieldForm(typed=dict(typed))
    for field, problem in row.errors:
        form.errors.setdefault("weekly" if field == "availability" else field, problem)
    exceptions, wrong = co_profile.parse_exceptions(str(typed.get("exceptions", "")), today=today)
    if wrong is not None:
        form.errors["exceptions"] = wrong
    form.values["exceptions"] = exceptions
    form.values["active"] = typed.get("active") == "1"
    return form, row


async def check_coordinator(
    session: AsyncSession,
    form: FieldForm,
    row: co_import.CoRow,
    *,
    hub_id: int,
    team_id: str | None,
    editing: Coordinator | None,
    directory: SlackUserDirectory,
) -> None:
    """The checks that need the database and Slack, marked on the Slack user field."""
    user = row.slack_user_id
    if not user or "slack_user_id" in form.errors:
        return
    found = (
        await session.scalars(select(Coordinator).where(Coordinator.slack_user_id == user))
    ).all()
    others = [
        co
        for co in found
        if (team_id is None or co.slack_team_id in (team_id, None))
        and (editing is None or co.id != editing.id)
    ]
    if others:
        other = others[0]
        if other.hub_id == hub_id:
            form.errors["slack_user_id"] = Text("console.person.duplicate", name=other.name)
        else:
            form.errors["slack_user_id"] = Text("console.import.error.other_hub")
        return
    if editing is not None and editing.slack_user_id == user:
        return  # unchanged: asked when it was entered
    problems = await unknown_users(directory, team_id, [user])
    if user in problems:
        form.errors["slack_user_id"] = problems[user]


async def save_coordinator(
    session: AsyncSession,
    form: FieldForm,
    row: co_import.CoRow,
    *,
    hub_id: int,
    team_id: str | None,
    co: Coordinator | None,
    actor_id: int | None,
    today: date,
    now: datetime,
    queue: HubQueue | None = None,
) -> tuple[Coordinator, dict[str, list[Any]], Deactivated | None]:
    """Write a checked form: the CO, their week and exceptions, one audit row, and the
    active switch through set_active (which reopens a leaving CO's cases)."""
    if not form.ok:
        raise ValueError("save_coordinator needs a form without errors")
    before: dict[str, Any] = {}
    if co is not None:
        before = await co_import.snapshot(session, co)
        before["exceptions"] = (await co_profile.current_profile(session, co, today))["exceptions"]
    wanted_active = bool(form.values["active"])
    stays = co.active if co is not None else wanted_active
    co = await co_import.write_row(
        session, row, hub_id=hub_id, team_id=team_id, co=co, active=stays
    )
    await co_profile.replace_exceptions(session, co, form.values["exceptions"], today=today)
    after = await co_import.snapshot(session, co)
    after["exceptions"] = (await co_profile.current_profile(session, co, today))["exceptions"]
    changed = co_import.changes(before, after)
    if changed or not before:
        action = "coordinator.created" if not before else "coordinator.changed"
        session.add(co_import.audit_row(co, action, changed, actor_id=actor_id, now=now))
    switched = None
    if co.active != wanted_active:
        switched = await set_active(
            session, co, wanted_active, actor_id=actor_id, now=now, queue=queue
        )
        changed["active"] = [not wanted_active, wanted_active]
    return co, changed, switched


# -- a partner organisation's staff member ---------------------------------------------------


def blank_staff() -> dict[str, Any]:
    return {name: "" for name in STAFF_FIELDS} | {"active": "1"}


def current_staff(staff: PartnerStaff) -> dict[str, Any]:
    return {
        "name": staff.name,
        "title": staff.title or "",
        "email": staff.email or "",
        "phone": format_phone(staff.phone) if staff.phone else "",
        "slack_user_id": staff.slack_user_id or "",
        "admin": "1" if staff.console_admin else "",
        "active": "1" if staff.active else "",
    }


def read_staff(typed: dict[str, Any]) -> tuple[FieldForm, staff_import.StaffRow]:
    cells = {
        "name": str(typed.get("name", "")),
        "title": str(typed.get("title", "")),
        "email": str(typed.get("email", "")),
        "phone": str(typed.get("phone", "")),
        "slack_user_id": str(typed.get("slack_user_id", "")),
        "admin": "はい" if typed.get("admin") == "1" else "",
    }
    row = staff_import.check_record(cells)
    form = FieldForm(typed=dict(typed))
    for field, problem in row.errors:
        form.errors.setdefault(field, problem)
    form.values["active"] = typed.get("active") == "1"
    return form, row


async def check_staff(
    session: AsyncSession,
    form: FieldForm,
    row: staff_import.StaffRow,
    *,
    organisation: PartnerOrganisation,
    editing: PartnerStaff | None,
    directory: SlackUserDirectory,
) -> None:
    user = row.slack_user_id
    if not user or "slack_user_id" in form.errors:
        return
    others = [
        staff
        for staff in (
            await session.scalars(select(PartnerStaff).where(PartnerStaff.slack_user_id == user))
        ).all()
        if editing is None or staff.id != editing.id
    ]
    if others:
        other = others[0]
        if other.organisation_id == organisation.id:
            form.errors["slack_user_id"] = Text("console.person.duplicate", name=other.name)
        else:
            form.errors["slack_user_id"] = Text("console.import.error.other_organisation")
        return
    if editing is not None and editing.slack_user_id == user:
        return
    problems = await unknown_users(directory, organisation.slack_team_id, [user])
    if user in problems:
        form.errors["slack_user_id"] = problems[user]


async def save_staff(
    session: AsyncSession,
    form: FieldForm,
    row: staff_import.StaffRow,
    *,
    organisation: PartnerOrganisation,
    staff: PartnerStaff | None,
    actor_kind: ActorKind,
    actor_id: int | None,
    now: datetime,
) -> tuple[PartnerStaff, dict[str, list[Any]]]:
    if not form.ok:
        raise ValueError("save_staff needs a form without errors")
    before = staff_import.snapshot(staff) if staff is not None else {}
    wanted_active = bool(form.values["active"])
    stays = staff.active if staff is not None else wanted_active
    staff = await staff_import.write_row(session, row, organisation, staff=staff, active=stays)
    changed = co_import.changes(before, staff_import.snapshot(staff))
    if changed or not before:
        session.add(
            staff_import.audit_row(
                staff,
                "partner_staff.created" if not before else "partner_staff.changed",
                changed,
                actor_kind=actor_kind,
                actor_id=actor_id,
                now=now,
            )
        )
    if staff.active != wanted_active:
        await set_staff_active(
            session, staff, wanted_active, actor_kind=actor_kind, actor_id=actor_id, now=now
        )
        changed["active"] = [not wanted_active, wanted_active]
    return staff, changed


# -- a partner organisation -------------------------------------------------------------------

ORGANISATION_FIELDS = (
    "name",
    "kind",
    "prefecture",
    "municipality",
    "slack_channel_id",
    "slack_team_id",
)


def blank_organisation() -> dict[str, Any]:
    return {name: "" for name in ORGANISATION_FIELDS}


def current_organisation(org: PartnerOrganisation) -> dict[str, Any]:
    return {
        "name": org.name,
        "kind": org.kind.value,
        "prefecture": org.prefecture_code or "",
        "municipality": org.municipality or "",
        "slack_channel_id": org.slack_channel_id or "",
        "slack_team_id": org.slack_team_id or "",
    }


def read_organisation(
    typed: dict[str, Any], catalog: Catalog
) -> tuple[FieldForm, organisation_import.OrganisationRow]:
    cells = {name: str(typed.get(name, "")) for name in ORGANISATION_FIELDS}
    row = organisation_import.check_record(cells, catalog)
    form = FieldForm(typed=dict(typed))
    for field, problem in row.errors:
        form.errors.setdefault(field, problem)
    return form, row


async def check_organisation(
    session: AsyncSession,
    form: FieldForm,
    row: organisation_import.OrganisationRow,
    *,
    editing: PartnerOrganisation | None,
) -> None:
    """The same name in the same prefecture is the same organisation: edit that one."""
    if "name" in form.errors:
        return
    found = (
        await session.scalars(
            select(PartnerOrganisation).where(PartnerOrganisation.name == row.name)
        )
    ).all()
    if any(
        org.prefecture_code == row.prefecture_code and (editing is None or org.id != editing.id)
        for org in found
    ):
        form.errors["name"] = Text("console.person.duplicate_organisation")


async def save_organisation(
    session: AsyncSession,
    form: FieldForm,
    row: organisation_import.OrganisationRow,
    *,
    org: PartnerOrganisation | None,
    actor_id: int | None,
    now: datetime,
) -> tuple[PartnerOrganisation, dict[str, list[Any]]]:
    if not form.ok:
        raise ValueError("save_organisation needs a form without errors")
    before = organisation_import.snapshot(org) if org is not None else {}
    org = await organisation_import.write_row(session, row, org)
    changed = co_import.changes(before, organisation_import.snapshot(org))
    if changed or not before:
        action = "organisation.created" if not before else "organisation.changed"
        session.add(organisation_import.audit_row(org, action, changed, actor_id=actor_id, now=now))
    return org, changed
