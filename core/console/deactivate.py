"""A coordinator or partner staff member leaves: history kept, work and access gone, politely.

Deactivating is the only way a CO leaves; nothing is deleted, because their consultations,
reviews and figures are the hub's record. From the moment it commits they get no new cases
(routing skips inactive COs), their open cases go back to the queue with a claim button
(core.coordinators.actions.reopen_cases_of), Slack answers them as someone not registered,
the console signs them out at their next click, and the hub's CCOs are told which cases
need a new CO.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.coordinators.actions import reopen_cases_of
from core.db.models import AuditLog, Coordinator, Hub, PartnerStaff
from core.domain.enums import ActorKind
from core.i18n import Text
from core.messages import OutgoingMessage
from core.notify import notify_cco
from core.queues.port import HubQueue


@dataclass(frozen=True)
class Deactivated:
    coordinator_id: int
    reopened: tuple[str, ...]
    """Numbers of the cases offered for reassignment."""
    changed: bool


async def set_active(
    session: AsyncSession,
    co: Coordinator,
    active: bool,
    *,
    actor_id: int | None,
    now: datetime,
    queue: HubQueue | None = None,
) -> Deactivated:
    """Deactivate (or bring back) a CO; idempotent."""
    if co.active == active:
        return Deactivated(co.id, (), changed=False)
    co.active = active
    reopened: tuple[str, ...] = ()
    if not active:
        cases = await reopen_cases_of(session, co, now=now, actor_id=actor_id, queue=queue)
        reopened = tuple(case.number for case in cases)
        hub = await session.get(Hub, co.hub_id)
        if hub is not None and reopened:
            note = Text(
                "console.deactivated.cco_note",
                name=co.name,
                count=len(reopened),
                numbers=tuple(Text("common.verbatim", value=n) for n in reopened),
            )
            await notify_cco(
                session,
                hub,
                OutgoingMessage(texts=(note,)),
                key=f"co:{co.id}:deactivated:{int(now.timestamp())}",
                now=now,
            )
    session.add(
        AuditLog(
            at=now,
            actor_kind=ActorKind.COORDINATOR if actor_id else ActorKind.SYSTEM,
            actor_id=actor_id,
            action="coordinator.deactivated" if not active else "coordinator.reactivated",
            hub_id=co.hub_id,
            details={"coordinator_id": co.id, "cases_reopened": len(reopened)},
        )
    )
    return Deactivated(co.id, reopened, changed=True)


async def set_staff_active(
    session: AsyncSession,
    staff: PartnerStaff,
    active: bool,
    *,
    actor_kind: ActorKind,
    actor_id: int | None,
    now: datetime,
) -> bool:
    """A partner organisation's staff member leaves (or comes back); idempotent.

    Like a CO's, their record and the cases they handed over stay: the referrals name them
    and the hub's figures count them. From the commit on, core.staff no longer knows them,
    so Slack answers their hand-over with the catalog's polite "not registered" refusal and
    no new hand-over is taken from them; the console's sign-in refuses them the same way.
    Answers whether anything changed."""
    if staff.active == active:
        return False
    staff.active = active
    session.add(
        AuditLog(
            at=now,
            actor_kind=actor_kind if actor_id else ActorKind.SYSTEM,
            actor_id=actor_id,
            action="partner_staff.deactivated" if not active else "partner_staff.reactivated",
            details={
                "partner_staff_id": staff.id,
                "organisation_id": staff.organisation_id,
                "changes": {"active": [not active, active]},
            },
        )
    )
    return True
