"""What became of a hand-over, told to the partner staff member who made it.

Partners say hand-overs stay shallow because they never hear back. Each step of the case
(claimed, booked, held, handed back, closed) is a direct message to the referrer, once per
step: the idempotency key is the case, the step and its detail, so a step repeated by a
retry or a double click is told once, while a booking moved to a new date is told again.

They see no more than the owner's hand-over consent allows: the case number, the business
name, the step, the CO's name and dates. Never the owner's description, contact details or
the CO's notes. Once the owner withdraws that consent, the referrer hears nothing more.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import to_jst
from core.db.models import (
    Booking,
    Business,
    Case,
    ConsentRecord,
    Coordinator,
    PartnerOrganisation,
    PartnerStaff,
)
from core.domain.enums import (
    ACTIVE_BOOKING_STATUSES,
    OPEN_CASE_STATUSES,
    CaseStatus,
    ConsentNotice,
    Platform,
)
from core.i18n import Text
from core.messages import OutgoingMessage
from core.outbox.store import add_message
from core.partners.handover import case_status_text, staff_channel


class ReferrerStep(StrEnum):
    CLAIMED = "claimed"
    """A CO took the case. detail: co_id (or co_name)."""
    BOOKED = "booked"
    """A consultation was booked. detail: starts_at (datetime or ISO string), or booking_id."""
    HELD = "held"
    """The consultation took place. detail: held_at (optional)."""
    HANDED_BACK = "handed_back"
    """Handed to a partner (橋渡し). detail: organisation_id (or organisation_name)."""
    CLOSED = "closed"


async def notify_referrer(
    session: AsyncSession,
    case_id: int,
    step: ReferrerStep | str,
    *,
    now: datetime,
    detail: Mapping[str, Any] | None = None,
) -> bool:
    """Queue the step's DM to the case's referring staff member, in the caller's transaction.

    True when a message was queued; False when there is nobody to tell (not a hand-over, no
    Slack id, consent withdrawn) or this step with this detail was told already.
    """
    step = ReferrerStep(step)
    detail = dict(detail or {})
    case = await session.get(Case, case_id)
    if case is None or case.referring_staff_id is None:
        return False
    staff = await session.get(PartnerStaff, case.referring_staff_id)
    if staff is None or not staff.slack_user_id:
        return False
    if not await handover_consent_holds(session, case_id):
        return False
    business = await session.get(Business, case.business_id) if case.business_id else None
    business_name = business.name if business else "-"
    body = await _step_text(session, case, step, detail, business_name)
    if body is None:
        return False
    row = await add_message(
        session,
        platform=Platform.SLACK,
        channel_id=staff_channel(staff),
        recipient=staff.slack_user_id,
        message=OutgoingMessage(texts=(body,)),
        kind="slack_message",
        idempotency_key=_key(case_id, step, detail),
        now=now,
        case_id=case.id,
        hub_id=case.hub_id,
    )
    return row is not None


async def handover_consent_holds(session: AsyncSession, case_id: int) -> bool:
    """Whether the owner's hand-over consent for this case is given and not withdrawn."""
    consent = await session.scalar(
        select(ConsentRecord.id).where(
            ConsentRecord.case_id == case_id,
            ConsentRecord.notice == ConsentNotice.HANDOVER,
            ConsentRecord.given.is_(True),
            ConsentRecord.withdrawn_at.is_(None),
        )
    )
    return consent is not None


def _key(case_id: int, step: ReferrerStep, detail: Mapping[str, Any]) -> str:
    canonical = json.dumps(detail, sort_keys=True, default=str, ensure_ascii=False)
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:16]
    return f"referrer:{case_id}:{step.value}:{digest}"


async def _step_text(
    session: AsyncSession,
    case: Case,
    step: ReferrerStep,
    detail: Mapping[str, Any],
    business: str,
) -> Text | None:
    common = {"number": case.number, "business": business}
    if step is ReferrerStep.CLAIMED:
        co_name = await _co_name(session, case, detail)
        return Text("partners.step.claimed", co=co_name, **common)
    if step is ReferrerStep.BOOKED:
        starts_at = await _starts_at(session, case, detail)
        if starts_at is None:
            return Text("partners.step.booked_undated", **common)
        return Text("partners.step.booked", when=when_text(starts_at), **common)
    if step is ReferrerStep.HELD:
        held_at = _as_datetime(detail.get("held_at"))
        if held_at is None:
            return Text("partners.step.held", **common)
        return Text("partners.step.held_on", when=when_text(held_at), **common)
    if step is ReferrerStep.HANDED_BACK:
        organisation = await _organisation_name(session, detail)
        return Text("partners.step.handed_back", organisation=organisation, **common)
    return Text("partners.step.closed", **common)


def when_text(moment: datetime) -> Text:
    """Like 6月3日(水) 14:00, in Japan time whatever is stored."""
    local = to_jst(moment)
    return Text("partners.when", start=local, weekday=Text(f"booking.weekday.{local.weekday()}"))


async def _co_name(session: AsyncSession, case: Case, detail: Mapping[str, Any]) -> str:
    co_id = detail.get("co_id") or case.assigned_co_id
    if co_id is not None:
        co = await session.get(Coordinator, int(co_id))
        if co is not None:
            return co.name
    return str(detail.get("co_name") or "-")


async def _starts_at(
    session: AsyncSession, case: Case, detail: Mapping[str, Any]
) -> datetime | None:
    given = _as_datetime(detail.get("starts_at"))
    if given is not None:
        return given
    booking_id = detail.get("booking_id")
    query = select(Booking.starts_at).where(Booking.case_id == case.id)
    if booking_id is not None:
        query = query.where(Booking.id == int(booking_id))
    else:
        query = query.where(Booking.status.in_(ACTIVE_BOOKING_STATUSES))
    starts_at: datetime | None = await session.scalar(
        query.order_by(Booking.starts_at.desc()).limit(1)
    )
    return starts_at


async def _organisation_name(session: AsyncSession, detail: Mapping[str, Any]) -> str:
    organisation_id = detail.get("organisation_id")
    if organisation_id is not None:
        organisation = await session.get(PartnerOrganisation, int(organisation_id))
        if organisation is not None:
            return organisation.name
    return str(detail.get("organisation_name") or "-")


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value)
    return None


# -- /yorozu status --------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenHandover:
    """One of the staff member's open hand-overs, as much as they may see."""

    case_id: int
    number: str
    business_name: str
    status: CaseStatus
    status_text: Text
    created_at: datetime
    co_name: str | None = None
    next_booking_at: datetime | None = None


async def open_handovers(session: AsyncSession, staff_id: int) -> list[OpenHandover]:
    """The staff member's hand-overs that are still open, newest first (consent permitting)."""
    rows: Sequence[tuple[Case, str | None, str | None]] = (
        (
            await session.execute(
                select(Case, Business.name, Coordinator.name)
                .outerjoin(Business, Business.id == Case.business_id)
                .outerjoin(Coordinator, Coordinator.id == Case.assigned_co_id)
                .where(Case.referring_staff_id == staff_id, Case.status.in_(OPEN_CASE_STATUSES))
                .order_by(Case.created_at.desc(), Case.id.desc())
            )
        )
        .tuples()
        .all()
    )
    result: list[OpenHandover] = []
    for case, business_name, co_name in rows:
        if not await handover_consent_holds(session, case.id):
            continue
        next_booking: datetime | None = await session.scalar(
            select(Booking.starts_at)
            .where(Booking.case_id == case.id, Booking.status.in_(ACTIVE_BOOKING_STATUSES))
            .order_by(Booking.starts_at)
            .limit(1)
        )
        result.append(
            OpenHandover(
                case_id=case.id,
                number=case.number,
                business_name=business_name or "-",
                status=case.status,
                status_text=case_status_text(case.status),
                created_at=case.created_at,
                co_name=co_name,
                next_booking_at=next_booking,
            )
        )
    return result
