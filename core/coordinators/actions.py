"""What a coordinator does with a case: claim, assign, transfer, record the outcome, hand back
to a partner (橋渡し) and ask another hub; and the other side's answers.

Each function runs in the caller's transaction (the inbox row's), writes the change, its
status history and audit rows, and queues every message it causes in the outbox, so a
retried event changes nothing twice and a crash loses nothing (invariants 2 and 4).

Claiming is atomic twice over: the hub queue's claim decides among racing COs when the case
is queued, and a conditional UPDATE on the case (assigned_co_id IS NULL) decides when it is
not, so there is exactly one winner with or without a queue.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.coordinators.cards import (
    SLACK_TEAM,
    case_rows,
    hub_name,
    moved_card_message,
    post_queue_card,
    postback,
    refresh_card,
    update_card,
)
from core.coordinators.outcome import Outcome
from core.db.models import (
    AuditLog,
    Booking,
    Business,
    Case,
    CaseStatusHistory,
    ConsentRecord,
    ConsultationRecord,
    Coordinator,
    Hub,
    PartnerOrganisation,
    PartnerStaff,
    Referral,
)
from core.domain.enums import (
    ActorKind,
    BookingStatus,
    CaseStatus,
    ConsentNotice,
    CoRole,
    HubKind,
    NextStep,
    Platform,
    ReferralDirection,
    ReferralStatus,
    check_transition,
)
from core.i18n import Text
from core.messages import Action, Card, OutgoingMessage
from core.outbox.store import add_message
from core.queues.port import MAX_PRIORITY, HubQueue, QueueEntry, QueueError, UnknownCase

ReferrerStep = Literal["claimed", "booked", "held", "handed_back", "closed"]
_CLAIMABLE = (CaseStatus.NEW, CaseStatus.QUEUED)
_A = ActorKind.COORDINATOR


class CaseActionError(Exception):
    """A request the rules refuse; `message` is what the person who asked is told."""

    def __init__(self, message: Text) -> None:
        super().__init__(message.key)
        self.message = message


@dataclass(frozen=True)
class ClaimOutcome:
    won: bool
    holder_co_id: int | None
    """The CO who holds the case after the attempt."""
    already_held: bool = False
    """The claimant held it before (a redelivered click): nothing new happened."""


# -- helpers -------------------------------------------------------------------------------


async def notify_referrer(
    session: AsyncSession,
    case_id: int,
    step: ReferrerStep,
    *,
    now: datetime,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Tell the partner who handed the case over (core.partners.status), when that exists.

    Imported late: the partner side is built alongside and a LINE case has no referrer.
    """
    try:
        module = importlib.import_module("core.partners.status")
    except ImportError:
        return
    notify: Any = getattr(module, "notify_referrer", None)
    if notify is not None:
        await notify(session, case_id, step, now=now, detail=detail)


async def _case(session: AsyncSession, case_id: int) -> Case:
    case = await session.get(Case, case_id)
    if case is None:
        raise CaseActionError(Text("coordinators.error.no_case"))
    return case


async def _co(session: AsyncSession, co_id: int) -> Coordinator:
    co = await session.get(Coordinator, co_id)
    if co is None or not co.active:
        raise CaseActionError(Text("coordinators.error.not_coordinator"))
    return co


async def _is_hq(session: AsyncSession, co: Coordinator) -> bool:
    hub = await session.get(Hub, co.hub_id)
    return hub is not None and hub.kind is HubKind.HQ


async def _check_same_hub(session: AsyncSession, co: Coordinator, case: Case) -> None:
    """A hub's people act only on that hub's cases; HQ acts on all (invariant 6)."""
    if co.hub_id != case.hub_id and not await _is_hq(session, co):
        raise CaseActionError(Text("coordinators.error.other_hub"))


async def _check_may_work(session: AsyncSession, co: Coordinator, case: Case) -> None:
    """The case's CO works it; the hub's CCO and HQ may step in."""
    await _check_same_hub(session, co, case)
    if case.assigned_co_id == co.id or co.role is CoRole.CCO or await _is_hq(session, co):
        return
    if case.assigned_co_id is None:
        raise CaseActionError(Text("coordinators.error.claim_first"))
    raise CaseActionError(Text("coordinators.error.not_yours"))


def _move(
    session: AsyncSession,
    case: Case,
    target: CaseStatus,
    *,
    now: datetime,
    actor_id: int | None,
    note: str | None = None,
    actor_kind: ActorKind = _A,
) -> None:
    """Change the status along the allowed transitions and write the history row."""
    previous = case.status
    if previous is not target:
        check_transition(previous, target)
        case.status = target
    case.updated_at = now
    session.add(
        CaseStatusHistory(
            case_id=case.id,
            from_status=previous,
            to_status=target,
            at=now,
            actor_kind=actor_kind,
            actor_id=actor_id,
            note=note,
        )
    )


def _audit(
    session: AsyncSession,
    action: str,
    *,
    now: datetime,
    case: Case,
    actor_id: int | None,
    actor_kind: ActorKind = _A,
    **details: Any,
) -> None:
    session.add(
        AuditLog(
            at=now,
            actor_kind=actor_kind,
            actor_id=actor_id,
            action=action,
            case_id=case.id,
            hub_id=case.hub_id,
            details=details,
        )
    )


def _stamp(now: datetime) -> int:
    return int(now.timestamp() * 1000)


async def _dm(
    session: AsyncSession,
    co: Coordinator,
    message: OutgoingMessage,
    *,
    now: datetime,
    key: str,
    case_id: int | None = None,
) -> None:
    """A direct message to a CO (a Slack user id as recipient opens the app's DM)."""
    if not co.slack_user_id:
        return
    await add_message(
        session,
        platform=Platform.SLACK,
        channel_id=co.slack_team_id or SLACK_TEAM,
        recipient=co.slack_user_id,
        message=message,
        kind="slack_message",
        idempotency_key=key,
        now=now,
        case_id=case_id,
        hub_id=co.hub_id,
    )


async def _business(session: AsyncSession, case: Case) -> Business | None:
    return await session.get(Business, case.business_id) if case.business_id else None


async def _refresh_card(session: AsyncSession, case: Case, *, now: datetime, suffix: str) -> None:
    """Show the card as the case now stands."""
    await refresh_card(session, case, now=now, suffix=suffix)


# -- claim and assign ------------------------------------------------------------------------


async def _take(
    session: AsyncSession,
    case: Case,
    co: Coordinator,
    *,
    now: datetime,
    queue: HubQueue | None,
    actor_id: int,
) -> ClaimOutcome:
    """The atomic part of a claim: the queue first when the case is queued, then the row."""
    if queue is not None:
        try:
            result = await queue.claim(case.id, co.id, now=now)
        except UnknownCase:
            result = None
        if result is not None and not result.won:
            return ClaimOutcome(won=False, holder_co_id=result.holder_co_id)
    previous = case.status
    changed: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
        update(Case)
        .where(
            Case.id == case.id,
            Case.assigned_co_id.is_(None),
            Case.status.in_(list(_CLAIMABLE)),
        )
        .values(assigned_co_id=co.id, status=CaseStatus.CLAIMED, claimed_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(case)
    if changed.rowcount != 1:
        if case.assigned_co_id == co.id:
            return ClaimOutcome(won=True, holder_co_id=co.id, already_held=True)
        return ClaimOutcome(won=False, holder_co_id=case.assigned_co_id)
    session.add(
        CaseStatusHistory(
            case_id=case.id,
            from_status=previous,
            to_status=CaseStatus.CLAIMED,
            at=now,
            actor_kind=_A,
            actor_id=actor_id,
            note=None if actor_id == co.id else f"assigned to coordinator {co.id}",
        )
    )
    return ClaimOutcome(won=True, holder_co_id=co.id)


async def _tell_taken(
    session: AsyncSession, case: Case, loser: Coordinator, holder_id: int | None, *, now: datetime
) -> None:
    holder = await session.get(Coordinator, holder_id) if holder_id else None
    text = (
        Text("coordinators.claim.taken", name=holder.name, number=case.number)
        if holder is not None
        else Text("coordinators.claim.unavailable", number=case.number)
    )
    await _dm(
        session,
        loser,
        OutgoingMessage(texts=(text,)),
        now=now,
        key=f"case:{case.id}:taken:{loser.id}:{_stamp(now)}",
        case_id=case.id,
    )


async def claim_case(
    session: AsyncSession,
    case_id: int,
    co_id: int,
    *,
    now: datetime,
    queue: HubQueue | None = None,
) -> ClaimOutcome:
    """A CO takes a waiting case (担当する, or 👀 on its card). One of any number wins.

    The winner's case is claimed, the card names them and the referrer hears of it; anyone
    else is told who has the case.
    """
    case = await _case(session, case_id)
    co = await _co(session, co_id)
    await _check_same_hub(session, co, case)
    outcome = await _take(session, case, co, now=now, queue=queue, actor_id=co.id)
    if not outcome.won:
        await _tell_taken(session, case, co, outcome.holder_co_id, now=now)
        return outcome
    if outcome.already_held:
        return outcome
    _audit(session, "case.claimed", now=now, case=case, actor_id=co.id, co_id=co.id)
    await _refresh_card(session, case, now=now, suffix=f"claimed:{co.id}")
    await notify_referrer(session, case.id, "claimed", now=now, detail={"co_id": co.id})
    return outcome


async def assign_case(
    session: AsyncSession,
    case_id: int,
    to_co_id: int,
    *,
    by_co_id: int,
    now: datetime,
    queue: HubQueue | None = None,
) -> ClaimOutcome:
    """Give the case to a CO of its hub (割り当て): a claim on their behalf, or a hand-over
    from the CO who holds it. The new holder gets a direct message."""
    case = await _case(session, case_id)
    by = await _co(session, by_co_id)
    to = await _co(session, to_co_id)
    await _check_same_hub(session, by, case)
    if to.hub_id != case.hub_id:
        raise CaseActionError(Text("coordinators.error.assignee_other_hub"))
    previous_holder = case.assigned_co_id
    if previous_holder is None:
        outcome = await _take(session, case, to, now=now, queue=queue, actor_id=by.id)
        if not outcome.won:
            await _tell_taken(session, case, by, outcome.holder_co_id, now=now)
            return outcome
        if outcome.already_held:
            return outcome
        await notify_referrer(session, case.id, "claimed", now=now, detail={"co_id": to.id})
    elif previous_holder == to.id:
        return ClaimOutcome(won=True, holder_co_id=to.id, already_held=True)
    else:
        if queue is not None:
            # Not queued (booked from LINE) or released meanwhile: the case row decides.
            with contextlib.suppress(QueueError):
                await queue.reassign(case.id, to.id, now=now)
        changed: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
            update(Case)
            .where(Case.id == case.id, Case.assigned_co_id == previous_holder)
            .values(assigned_co_id=to.id, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        await session.refresh(case)
        if changed.rowcount != 1:
            raise CaseActionError(Text("coordinators.error.changed_meanwhile"))
        session.add(
            CaseStatusHistory(
                case_id=case.id,
                from_status=case.status,
                to_status=case.status,
                at=now,
                actor_kind=_A,
                actor_id=by.id,
                note=f"reassigned from coordinator {previous_holder} to {to.id}",
            )
        )
    _audit(
        session,
        "case.assigned",
        now=now,
        case=case,
        actor_id=by.id,
        co_id=to.id,
        from_co_id=previous_holder,
    )
    await _refresh_card(session, case, now=now, suffix=f"assigned:{to.id}:{_stamp(now)}")
    if to.id != by.id:
        await _dm(
            session,
            to,
            OutgoingMessage(
                texts=(Text("coordinators.assign.to_you", name=by.name, number=case.number),)
            ),
            now=now,
            key=f"case:{case.id}:assigned:{to.id}:{_stamp(now)}",
            case_id=case.id,
        )
    return ClaimOutcome(won=True, holder_co_id=to.id)


# -- transfer --------------------------------------------------------------------------------


async def hub_by_code(session: AsyncSession, code: str) -> Hub:
    hub = await session.scalar(select(Hub).where(Hub.code == code, Hub.active.is_(True)))
    if hub is None:
        raise CaseActionError(Text("coordinators.error.no_hub"))
    return hub


async def transfer_case(
    session: AsyncSession,
    case_id: int,
    to_hub_code: str,
    *,
    by_co_id: int,
    now: datetime,
    queue: HubQueue | None = None,
    reason: str | None = None,
) -> Hub:
    """Move the case to another hub's (or HQ's) queue, unclaimed (他拠点・本部へ).

    The owner keeps their place in the wait (the queue keeps enqueued_at), the old card says
    where the case went and loses its buttons, and the target hub's channel gets a new card.
    """
    case = await _case(session, case_id)
    by = await _co(session, by_co_id)
    await _check_same_hub(session, by, case)
    if case.status not in _CLAIMABLE and case.status is not CaseStatus.CLAIMED:
        raise CaseActionError(Text("coordinators.error.cannot_transfer"))
    source = await session.get(Hub, case.hub_id)
    target = await hub_by_code(session, to_hub_code)
    if source is None or target.id == source.id:
        raise CaseActionError(Text("coordinators.error.same_hub"))
    if queue is not None:
        try:
            await queue.transfer(case.id, target.code)
        except UnknownCase:
            await queue.enqueue(
                QueueEntry(
                    case_id=case.id,
                    hub_code=target.code,
                    priority=min(case.priority, MAX_PRIORITY),
                    enqueued_at=case.created_at,
                )
            )
    business = await _business(session, case)
    await update_card(
        session,
        case.id,
        moved_card_message(case, business, target, now=now),
        now=now,
        suffix=f"moved:{target.code}:{_stamp(now)}",
    )
    released = case.assigned_co_id
    case.assigned_co_id = None
    case.claimed_at = None
    case.transferred_from_hub_id = source.id
    case.hub_id = target.id
    _move(
        session,
        case,
        CaseStatus.QUEUED,
        now=now,
        actor_id=by.id,
        note=f"transferred from hub {source.code} to {target.code}",
    )
    _audit(
        session,
        "case.transferred",
        now=now,
        case=case,
        actor_id=by.id,
        from_hub=source.code,
        to_hub=target.code,
        released_co_id=released,
        reason=reason,
    )
    await session.flush()
    await post_queue_card(session, case.id, now=now)
    return target


async def reopen_cases_of(
    session: AsyncSession,
    co: Coordinator,
    *,
    now: datetime,
    actor_id: int | None,
    queue: HubQueue | None = None,
) -> list[Case]:
    """Offer every open case a CO holds back to their hub's queue, for another CO to claim.

    Used when a CO leaves (deactivated in the console): their history stays theirs, but an
    owner must not wait on someone who is gone. Each card gets its claim button back. Cases
    the CO has already booked keep their booking; the CCO sees them in the returned list.
    """
    cases = (
        await session.scalars(
            select(Case)
            .where(
                Case.assigned_co_id == co.id,
                Case.status.in_([CaseStatus.CLAIMED, CaseStatus.BOOKED, CaseStatus.IN_SUPPORT]),
            )
            .order_by(Case.id)
        )
    ).all()
    hub = await session.get(Hub, co.hub_id)
    for case in cases:
        if queue is not None and hub is not None:
            try:
                await queue.release(case.id)
            except UnknownCase:
                await queue.enqueue(
                    QueueEntry(case.id, hub.code, min(case.priority, MAX_PRIORITY), case.created_at)
                )
            except QueueError:
                pass  # not held in the queue (booked straight from LINE): the row decides
        case.assigned_co_id = None
        case.claimed_at = None
        _move(
            session,
            case,
            CaseStatus.QUEUED,
            now=now,
            actor_id=actor_id,
            note=f"coordinator {co.id} left; offered for reassignment",
        )
        _audit(
            session, "case.reopened", now=now, case=case, actor_id=actor_id, released_co_id=co.id
        )
        await session.flush()
        await _refresh_card(session, case, now=now, suffix=f"reopened:{_stamp(now)}")
    return list(cases)


# -- outcome ---------------------------------------------------------------------------------


async def _organisation(session: AsyncSession, org_id: int | None) -> PartnerOrganisation | None:
    if org_id is None:
        return None
    org = await session.get(PartnerOrganisation, org_id)
    if org is None:
        raise CaseActionError(Text("coordinators.error.no_organisation"))
    return org


async def record_outcome(
    session: AsyncSession,
    case_id: int,
    co_id: int,
    outcome: Outcome,
    *,
    now: datetime,
    queue: HubQueue | None = None,
) -> ConsultationRecord:
    """Store a held consultation (the カルテ row the eight figures count) and move the case on.

    Counted for the hub that held it; a referral out becomes a Referral to the partner (with
    its accept button in their channel), the next step closes the case or keeps it in
    support, and the referrer hears that the consultation was held (and closed).
    """
    case = await _case(session, case_id)
    co = await _co(session, co_id)
    await _check_may_work(session, co, case)
    if case.status in _CLAIMABLE or case.status in (CaseStatus.CLOSED, CaseStatus.CANCELLED):
        raise CaseActionError(Text("coordinators.error.cannot_record"))
    referral_org = await _organisation(session, outcome.referral_org_id)
    await _organisation(session, outcome.co_attending_org_id)
    booking = await session.scalar(
        select(Booking)
        .where(
            Booking.case_id == case.id,
            Booking.status.in_([BookingStatus.CONFIRMED, BookingStatus.HELD]),
        )
        .order_by(Booking.starts_at.desc())
        .limit(1)
    )
    if booking is not None:
        booking.status = BookingStatus.COMPLETED
    record = ConsultationRecord(
        case_id=case.id,
        booking_id=booking.id if booking else None,
        co_id=co.id,
        hub_id=case.hub_id,
        held_on=outcome.held_on,
        started_at=booking.starts_at if booking else None,
        minutes=outcome.minutes,
        issues=list(outcome.issues),
        advice_summary=outcome.advice_summary,
        result_confirmed=outcome.result_confirmed,
        co_attending_org_id=outcome.co_attending_org_id,
        phase=outcome.phase,
        next_step=outcome.next_step,
        follow_up_on=outcome.follow_up_on,
        created_at=now,
    )
    session.add(record)
    case.phase = outcome.phase
    if referral_org is not None:
        referral = Referral(
            case_id=case.id,
            direction=ReferralDirection.TO_PARTNER,
            from_hub_id=case.hub_id,
            to_organisation_id=referral_org.id,
            reason=outcome.referral_reason,
            status=ReferralStatus.SENT,
            created_at=now,
            from_co_id=co.id,
        )
        session.add(referral)
        await session.flush()
        await _send_to_partner(session, referral, case, co, referral_org, now=now)
    closing = outcome.next_step is NextStep.CLOSE
    if closing:
        _move(session, case, CaseStatus.CLOSED, now=now, actor_id=co.id, note="outcome: close")
        case.closed_at = now
        if queue is not None:
            await queue.remove(case.id)
    elif case.status is not CaseStatus.IN_SUPPORT:
        _move(session, case, CaseStatus.IN_SUPPORT, now=now, actor_id=co.id, note="outcome")
    await session.flush()
    _audit(
        session,
        "consultation.recorded",
        now=now,
        case=case,
        actor_id=co.id,
        record_id=record.id,
        next_step=outcome.next_step.value,
    )
    await _refresh_card(session, case, now=now, suffix=f"record:{record.id}")
    await _dm(
        session,
        co,
        OutgoingMessage(texts=(Text("coordinators.outcome.recorded", number=case.number),)),
        now=now,
        key=f"record:{record.id}:recorded",
        case_id=case.id,
    )
    # Each consultation is news of its own (phase 2 has several): the record names the DM,
    # and its start time, when a booking gave one, dates it.
    held: dict[str, object] = {"record_id": record.id}
    if record.started_at is not None:
        held["held_at"] = record.started_at
    await notify_referrer(session, case.id, "held", now=now, detail=held)
    if closing:
        await notify_referrer(session, case.id, "closed", now=now)
    return record


# -- hand back to a partner (橋渡し) ------------------------------------------------------------


async def _handover_consented(session: AsyncSession, case: Case) -> bool:
    found = await session.scalar(
        select(ConsentRecord.id).where(
            ConsentRecord.case_id == case.id,
            ConsentRecord.notice == ConsentNotice.HANDOVER,
            ConsentRecord.given.is_(True),
            ConsentRecord.withdrawn_at.is_(None),
        )
    )
    return found is not None


async def _send_to_partner(
    session: AsyncSession,
    referral: Referral,
    case: Case,
    co: Coordinator,
    org: PartnerOrganisation,
    *,
    now: datetime,
) -> None:
    """The request in the partner's channel, with 受け入れる. Without the owner's hand-over
    consent the business is not named: the partner asks the CO, who asks the owner."""
    if not org.slack_channel_id:
        await _dm(
            session,
            co,
            OutgoingMessage(
                texts=(Text("coordinators.handback.no_channel", organisation=org.name),)
            ),
            now=now,
            key=f"referral:{referral.id}:no-channel",
            case_id=case.id,
        )
        return
    hub = await session.get(Hub, case.hub_id)
    business = await _business(session, case) if await _handover_consented(session, case) else None
    rows = case_rows(case, business)
    if business is None:
        rows = ((Text("card.label.business"), Text("card.withheld")), *rows[1:])
    rows += (
        (
            Text("card.label.from"),
            Text("card.from_value", hub=hub_name(hub) if hub else "-", name=co.name),
        ),
        (Text("card.label.reason"), Text("common.verbatim", value=referral.reason or "-")),
    )
    await add_message(
        session,
        platform=Platform.SLACK,
        channel_id=org.slack_team_id or SLACK_TEAM,
        recipient=org.slack_channel_id,
        message=OutgoingMessage(
            card=Card(
                title=Text("coordinators.handback.title", number=case.number),
                rows=rows,
                actions=(
                    Action(
                        Text("coordinators.handback.accept"),
                        postback("handback.accept", r=referral.id),
                    ),
                ),
                alt_text=Text("coordinators.handback.title", number=case.number),
            )
        ),
        kind="slack_message",
        idempotency_key=referral_key(referral.id),
        now=now,
        case_id=case.id,
        hub_id=case.hub_id,
    )


def referral_key(referral_id: int) -> str:
    """The outbox key of a referral's request message (its ts_ref for later updates)."""
    return f"referral:{referral_id}:request"


async def hand_back(
    session: AsyncSession,
    case_id: int,
    co_id: int,
    organisation_id: int,
    reason: str | None,
    *,
    now: datetime,
) -> Referral:
    """Hand the case to a partner for what it does best (マル経, 記帳指導, 労働保険, ...)."""
    case = await _case(session, case_id)
    co = await _co(session, co_id)
    await _check_may_work(session, co, case)
    org = await _organisation(session, organisation_id)
    assert org is not None
    referral = Referral(
        case_id=case.id,
        direction=ReferralDirection.TO_PARTNER,
        from_hub_id=case.hub_id,
        to_organisation_id=org.id,
        reason=(reason or "").strip() or None,
        status=ReferralStatus.SENT,
        created_at=now,
        from_co_id=co.id,
    )
    session.add(referral)
    if case.status is not CaseStatus.HANDED_BACK:
        try:
            _move(session, case, CaseStatus.HANDED_BACK, now=now, actor_id=co.id, note=org.name)
        except ValueError as error:
            raise CaseActionError(Text("coordinators.error.claim_first")) from error
    await session.flush()
    _audit(
        session,
        "case.handed_back",
        now=now,
        case=case,
        actor_id=co.id,
        referral_id=referral.id,
        organisation_id=org.id,
    )
    await _send_to_partner(session, referral, case, co, org, now=now)
    await _refresh_card(session, case, now=now, suffix=f"handback:{referral.id}")
    await notify_referrer(
        session, case.id, "handed_back", now=now, detail={"organisation_id": org.id}
    )
    return referral


async def _referral(
    session: AsyncSession, referral_id: int, direction: ReferralDirection
) -> tuple[Referral, Case]:
    referral = await session.get(Referral, referral_id)
    if referral is None or referral.direction is not direction:
        raise CaseActionError(Text("coordinators.error.no_referral"))
    return referral, await _case(session, referral.case_id)


async def _case_co(session: AsyncSession, case: Case) -> Coordinator | None:
    return await session.get(Coordinator, case.assigned_co_id) if case.assigned_co_id else None


async def accept_referral(
    session: AsyncSession, referral_id: int, staff_id: int, *, now: datetime
) -> Referral:
    """Partner staff accept a hand-back: the CO hears who took it; the request shows it."""
    referral, case = await _referral(session, referral_id, ReferralDirection.TO_PARTNER)
    staff = await session.get(PartnerStaff, staff_id)
    if staff is None or staff.organisation_id != referral.to_organisation_id:
        raise CaseActionError(Text("coordinators.error.not_that_organisation"))
    if referral.status is not ReferralStatus.SENT:
        return referral
    referral.status = ReferralStatus.ACCEPTED
    referral.accepted_at = now
    org = await session.get(PartnerOrganisation, staff.organisation_id)
    org_name = org.name if org else "-"
    _audit(
        session,
        "referral.accepted",
        now=now,
        case=case,
        actor_id=staff.id,
        actor_kind=ActorKind.PARTNER_STAFF,
        referral_id=referral.id,
    )
    co = await _case_co(session, case)
    if co is not None:
        await _dm(
            session,
            co,
            OutgoingMessage(
                texts=(
                    Text(
                        "coordinators.handback.accepted",
                        organisation=org_name,
                        name=staff.name,
                        number=case.number,
                    ),
                )
            ),
            now=now,
            key=f"referral:{referral.id}:accepted",
            case_id=case.id,
        )
    await _update_request(
        session,
        referral,
        OutgoingMessage(
            texts=(Text("coordinators.handback.accepted_by", name=staff.name, number=case.number),),
            choices=(
                Action(
                    Text("coordinators.handback.record_done"),
                    postback("handback.done", r=referral.id),
                ),
            ),
        ),
        now=now,
        suffix="accepted",
    )
    await _refresh_card(session, case, now=now, suffix=f"referral:{referral.id}:accepted")
    return referral


async def complete_referral(
    session: AsyncSession,
    referral_id: int,
    staff_id: int,
    outcome_text: str | None,
    *,
    now: datetime,
) -> Referral:
    """The partner records what they did: the referral is done and the CO is told."""
    referral, case = await _referral(session, referral_id, ReferralDirection.TO_PARTNER)
    staff = await session.get(PartnerStaff, staff_id)
    if staff is None or staff.organisation_id != referral.to_organisation_id:
        raise CaseActionError(Text("coordinators.error.not_that_organisation"))
    if referral.status is ReferralStatus.DONE:
        return referral
    referral.status = ReferralStatus.DONE
    referral.accepted_at = referral.accepted_at or now
    referral.completed_at = now
    referral.outcome = (outcome_text or "").strip() or None
    _audit(
        session,
        "referral.done",
        now=now,
        case=case,
        actor_id=staff.id,
        actor_kind=ActorKind.PARTNER_STAFF,
        referral_id=referral.id,
    )
    co = await _case_co(session, case)
    if co is not None:
        await _dm(
            session,
            co,
            OutgoingMessage(
                texts=(
                    Text(
                        "coordinators.handback.done",
                        name=staff.name,
                        number=case.number,
                        outcome=referral.outcome or "-",
                    ),
                )
            ),
            now=now,
            key=f"referral:{referral.id}:done",
            case_id=case.id,
        )
    await _update_request(
        session,
        referral,
        OutgoingMessage(texts=(Text("coordinators.handback.done_note", number=case.number),)),
        now=now,
        suffix="done",
    )
    await _refresh_card(session, case, now=now, suffix=f"referral:{referral.id}:done")
    return referral


async def _update_request(
    session: AsyncSession,
    referral: Referral,
    message: OutgoingMessage,
    *,
    now: datetime,
    suffix: str,
) -> None:
    from core.db.models import OutboxMessage
    from core.messages import encode_message
    from core.outbox.store import add_raw

    request = await session.scalar(
        select(OutboxMessage).where(OutboxMessage.idempotency_key == referral_key(referral.id))
    )
    if request is None:
        return
    await add_raw(
        session,
        platform=Platform.SLACK,
        channel_id=request.channel_id,
        recipient=request.recipient,
        payload={
            "channel": request.recipient,
            "ts_ref": request.idempotency_key,
            "messages": [encode_message(message)],
        },
        kind="slack_update",
        idempotency_key=f"{request.idempotency_key}:{suffix}",
        now=now,
        case_id=referral.case_id,
        hub_id=request.hub_id,
    )


# -- ask another hub ---------------------------------------------------------------------------


async def ask_hub(
    session: AsyncSession,
    case_id: int,
    co_id: int,
    to_hub_code: str,
    reason: str | None,
    *,
    now: datetime,
) -> Referral:
    """Ask another hub (or HQ) for a specialist this hub lacks; their queue channel gets the
    request with the case and a button to take it on."""
    case = await _case(session, case_id)
    co = await _co(session, co_id)
    await _check_may_work(session, co, case)
    target = await hub_by_code(session, to_hub_code)
    if target.id == case.hub_id:
        raise CaseActionError(Text("coordinators.error.same_hub"))
    referral = Referral(
        case_id=case.id,
        direction=ReferralDirection.TO_HUB,
        from_hub_id=case.hub_id,
        to_hub_id=target.id,
        reason=(reason or "").strip() or None,
        status=ReferralStatus.SENT,
        created_at=now,
        from_co_id=co.id,
    )
    session.add(referral)
    await session.flush()
    _audit(
        session,
        "referral.asked_hub",
        now=now,
        case=case,
        actor_id=co.id,
        referral_id=referral.id,
        to_hub=target.code,
    )
    if not target.slack_intake_channel_id:
        raise CaseActionError(Text("coordinators.error.hub_not_on_slack"))
    source = await session.get(Hub, case.hub_id)
    rows = (
        *case_rows(case, await _business(session, case)),
        (
            Text("card.label.from"),
            Text("card.from_value", hub=hub_name(source) if source else "-", name=co.name),
        ),
        (Text("card.label.reason"), Text("common.verbatim", value=referral.reason or "-")),
    )
    await add_message(
        session,
        platform=Platform.SLACK,
        channel_id=SLACK_TEAM,
        recipient=target.slack_intake_channel_id,
        message=OutgoingMessage(
            card=Card(
                title=Text("coordinators.askhub.title", number=case.number),
                rows=rows,
                actions=(
                    Action(
                        Text("coordinators.askhub.accept"), postback("askhub.accept", r=referral.id)
                    ),
                ),
                alt_text=Text("coordinators.askhub.title", number=case.number),
            )
        ),
        kind="slack_message",
        idempotency_key=referral_key(referral.id),
        now=now,
        case_id=case.id,
        hub_id=target.id,
    )
    return referral


async def accept_hub_request(
    session: AsyncSession, referral_id: int, co_id: int, *, now: datetime
) -> Referral:
    """A CO of the asked hub takes the request on; the asking CO hears who will help.

    The first to accept answers; a later click is told who already did.
    """
    referral, case = await _referral(session, referral_id, ReferralDirection.TO_HUB)
    co = await _co(session, co_id)
    if co.hub_id != referral.to_hub_id and not await _is_hq(session, co):
        raise CaseActionError(Text("coordinators.error.other_hub"))
    changed: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
        update(Referral)
        .where(Referral.id == referral.id, Referral.status == ReferralStatus.SENT)
        .values(status=ReferralStatus.ACCEPTED, accepted_at=now, answered_by_co_id=co.id)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(referral)
    if changed.rowcount != 1:
        holder_id = _answering_co(referral)
        if holder_id != co.id:
            await _tell_taken(session, case, co, holder_id, now=now)
        return referral
    hub = await session.get(Hub, co.hub_id)
    _audit(
        session,
        "referral.hub_accepted",
        now=now,
        case=case,
        actor_id=co.id,
        referral_id=referral.id,
    )
    asker = (
        await session.get(Coordinator, referral.from_co_id)
        if referral.from_co_id is not None
        else await _case_co(session, case)
    )
    if asker is not None:
        await _dm(
            session,
            asker,
            OutgoingMessage(
                texts=(
                    Text(
                        "coordinators.askhub.accepted",
                        hub=hub_name(hub) if hub else "-",
                        name=co.name,
                        number=case.number,
                    ),
                )
            ),
            now=now,
            key=f"referral:{referral.id}:accepted",
            case_id=case.id,
        )
    await _update_request(
        session,
        referral,
        OutgoingMessage(
            texts=(Text("coordinators.askhub.accepted_by", name=co.name, number=case.number),)
        ),
        now=now,
        suffix="accepted",
    )
    return referral


def _answering_co(referral: Referral) -> int | None:
    """Who answered a hub request."""
    return referral.answered_by_co_id
