"""Erasure ends what is still planned for the person (issue 18).

Their upcoming bookings are cancelled: the slot is free again, the booking's reminders are
cancelled, a BOOKED case goes back to CLAIMED (the CO keeps it, as when an owner cancels)
and the CO is told in Slack through the outbox. Their planned surveys and follow-up check-ins
are cancelled (SurveyStatus.CANCELLED: never sent, so satisfaction does not move). The pushes
already queued to them are cancelled by core.erasure with their LINE identity.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.booking import repository
from core.db.models import Booking, Case, CaseStatusHistory, Coordinator, Survey
from core.domain.enums import (
    ACTIVE_BOOKING_STATUSES,
    ActorKind,
    CaseStatus,
    Platform,
    SurveyStatus,
    check_transition,
)
from core.i18n import Text
from core.messages import OutgoingMessage
from core.outbox import store as outbox
from core.reminders.bookings import cancel_booking_reminders

ERASED_REASON = "erased"


async def upcoming_bookings(
    session: AsyncSession, case_ids: Sequence[int], now: datetime
) -> list[Booking]:
    """Active bookings of these cases that have not ended yet, soonest first."""
    if not case_ids:
        return []
    return list(
        await session.scalars(
            select(Booking)
            .where(
                Booking.case_id.in_(sorted(set(case_ids))),
                Booking.status.in_(ACTIVE_BOOKING_STATUSES),
                Booking.ends_at > now,
            )
            .order_by(Booking.starts_at, Booking.id)
        )
    )


async def end_planned(
    session: AsyncSession, person_id: int, case_ids: Sequence[int], *, now: datetime
) -> dict[str, int]:
    """Cancel what was still to happen for the person; answers counts per kind."""
    from core.owners.booking import when_text  # owner texts; imported late (no cycle)

    counts = {"bookings_cancelled": 0, "reminders_cancelled": 0, "surveys_cancelled": 0}
    for booking in await upcoming_bookings(session, case_ids, now):
        await repository.release(session, booking, now=now)
        counts["bookings_cancelled"] += 1
        counts["reminders_cancelled"] += await cancel_booking_reminders(
            session, booking, reason=ERASED_REASON
        )
        case = await session.get(Case, booking.case_id)
        if (
            case is not None
            and case.status is CaseStatus.BOOKED
            and await repository.upcoming_for_case(session, case.id, now) is None
        ):
            check_transition(case.status, CaseStatus.CLAIMED)
            session.add(
                CaseStatusHistory(
                    case_id=case.id,
                    from_status=case.status,
                    to_status=CaseStatus.CLAIMED,
                    at=now,
                    actor_kind=ActorKind.SYSTEM,
                    actor_id=None,
                    note=f"booking {booking.id} cancelled: {ERASED_REASON}",
                )
            )
            case.status = CaseStatus.CLAIMED
            case.updated_at = now
        co = await session.get(Coordinator, booking.co_id)
        if co is not None and co.slack_user_id and case is not None:
            await outbox.add_message(
                session,
                platform=Platform.SLACK,
                channel_id=co.slack_team_id or "default",
                recipient=co.slack_user_id,
                kind="slack_message",
                message=OutgoingMessage(
                    texts=(
                        Text(
                            "privacy.booking_cancelled_co",
                            case=case.number,
                            when=when_text(booking.starts_at, booking.ends_at),
                        ),
                    )
                ),
                idempotency_key=f"booking:{booking.id}:erased:co",
                now=now,
                case_id=booking.case_id,
                hub_id=booking.hub_id,
            )
    await session.flush()
    result = await session.execute(
        update(Survey)
        .where(
            Survey.person_id == person_id,
            Survey.status == SurveyStatus.PLANNED,
        )
        .values(status=SurveyStatus.CANCELLED)
        .execution_options(synchronize_session=False)
    )
    counts["surveys_cancelled"] += int(getattr(result, "rowcount", 0) or 0)
    return counts
