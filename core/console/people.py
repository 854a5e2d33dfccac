"""The console's people: who a signed-in Slack user is, and the break-glass first HQ admin.

Sign-in proves a Slack user id and team id; what that person may do is read from our own
records on every request (core.staff), so deactivating a CO or changing a role takes effect
on the next click, not when a cookie expires.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.console.access import ConsoleRole, Principal
from core.db.models import AuditLog, Coordinator, Hub
from core.domain.enums import ActorKind, CoRole, HubKind
from core.staff import resolve_slack_user


async def principal_for(session: AsyncSession, team_id: str, user_id: str) -> Principal | None:
    """The console principal behind a Slack user, or None (not one of our people, or left).

    Partner staff who are not their organisation's admin have nothing to do in the console
    yet: they work in Slack, so they get None and a polite page.
    """
    staff = await resolve_slack_user(session, team_id, user_id)
    if staff is None:
        return None
    if staff.is_partner:
        if not staff.console_admin:
            return None
        return Principal(
            role=ConsoleRole.PARTNER_ADMIN,
            display_name=staff.display_name,
            partner_staff_id=staff.id,
            organisation_id=staff.organisation_id,
            locale=staff.locale,
        )
    hub = await session.get(Hub, staff.hub_id) if staff.hub_id is not None else None
    if hub is not None and hub.kind is HubKind.HQ and staff.console_admin:
        role = ConsoleRole.HQ
    elif staff.role == CoRole.CCO.value:
        role = ConsoleRole.CCO
    else:
        role = ConsoleRole.CO
    return Principal(
        role=role,
        display_name=staff.display_name,
        hub_id=staff.hub_id,
        coordinator_id=staff.id,
        locale=staff.locale,
    )


@dataclass(frozen=True)
class CreatedAdmin:
    coordinator_id: int
    created: bool
    """False when the person already existed and was made HQ admin (or already was)."""


class NoHqHub(LookupError):
    """The hubs are not seeded yet (`yorozu migrate` seeds them)."""


async def create_hq_admin(
    session: AsyncSession,
    *,
    slack_user_id: str,
    slack_team_id: str,
    name: str,
    now: datetime,
) -> CreatedAdmin:
    """Make the Slack user an HQ admin, creating them as a coordinator of the HQ hub.

    The way into a fresh install: from here HQ signs in and registers everyone else in the
    console. Capacity 0 keeps routing from assigning cases to an administrator. Idempotent:
    running it again for the same Slack user changes nothing but the flag.
    """
    hq = await session.scalar(select(Hub).where(Hub.kind == HubKind.HQ))
    if hq is None:
        raise NoHqHub("no HQ hub: run `yorozu migrate` first")
    existing = await session.scalar(
        select(Coordinator).where(
            Coordinator.slack_user_id == slack_user_id,
            Coordinator.slack_team_id == slack_team_id,
        )
    )
    if existing is not None:
        if existing.hub_id != hq.id:
            raise ValueError("this Slack user is a coordinator of another hub")
        changed = not (existing.console_admin and existing.active)
        existing.console_admin = True
        existing.active = True
        if changed:
            session.add(_audit(existing.id, hq.id, now, created=False))
        return CreatedAdmin(existing.id, created=False)
    admin = Coordinator(
        hub_id=hq.id,
        role=CoRole.CCO,
        name=name,
        slack_user_id=slack_user_id,
        slack_team_id=slack_team_id,
        capacity=0,
        console_admin=True,
        specialties=[],
        qualifications=[],
    )
    session.add(admin)
    await session.flush()
    session.add(_audit(admin.id, hq.id, now, created=True))
    return CreatedAdmin(admin.id, created=True)


def _audit(coordinator_id: int, hub_id: int, now: datetime, *, created: bool) -> AuditLog:
    return AuditLog(
        at=now,
        actor_kind=ActorKind.SYSTEM,
        actor_id=None,
        action="console.hq_admin_created" if created else "console.hq_admin_granted",
        hub_id=hub_id,
        details={"coordinator_id": coordinator_id, "via": "cli"},
    )
