"""Retention: personal data of long-closed cases is erased nightly (invariant 8, APPI).

A case closed (or cancelled) more than `retention_days` ago (5 years by default, setting
RETENTION_DAYS: the period hubs keep consultation records) loses what identifies people:

* the case's free-text description, the consultations' advice notes, the owner's survey and
  review comments (stars and answers stay: they are the anonymous aggregates);
* the owner (Person): names, phone and e-mail blanked, `erased_at` set, their self-check
  answers and any conversation state deleted (as core.owners.onboarding.erase_person does),
  but only when none of their other cases is still open or within the period;
* the business's contact field (phone), on the same condition for the business's cases.

Rows stay, so every count (cases, consultations, businesses, satisfaction) is unchanged. Each
erased case gets one audit row (ids only); the audit row is also what marks the case done, so
the nightly job resumes where it stopped and never erases twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import (
    AuditLog,
    Business,
    Case,
    ChannelIdentity,
    ConsultationRecord,
    ConversationStateRow,
    CoReview,
    Person,
    SelfCheckResult,
    Survey,
    SurveyAnswer,
)
from core.domain.enums import ActorKind, CaseStatus

ERASED_ACTION = "retention.erased"
BATCH = 200
ENDED = (CaseStatus.CLOSED, CaseStatus.CANCELLED)
COMMENT_QUESTIONS = ("comment",)


@dataclass
class RetentionReport:
    cases: int = 0
    persons: int = 0
    businesses: int = 0


def _ended_at() -> ColumnElement[datetime]:
    return func.coalesce(Case.closed_at, Case.updated_at)


def _expired(cutoff: datetime) -> ColumnElement[bool]:
    return and_(Case.status.in_(ENDED), _ended_at() < cutoff)


def _not_done() -> ColumnElement[bool]:
    return ~exists().where(AuditLog.case_id == Case.id, AuditLog.action == ERASED_ACTION)


async def erase_expired(
    session: AsyncSession, *, now: datetime, retention: timedelta, limit: int | None = None
) -> RetentionReport:
    """Erase the personal data of every case past the period (in batches); one transaction.

    `limit` caps the cases handled in one call; the job calls again while there are more.
    """
    cutoff = now - retention
    report = RetentionReport()
    while limit is None or report.cases < limit:
        size = BATCH if limit is None else min(BATCH, limit - report.cases)
        query = select(Case).where(_expired(cutoff), _not_done()).order_by(Case.id).limit(size)
        if session.get_bind().dialect.name == "postgresql":
            # Two schedulers at once: each case is erased, and audited, by one of them.
            query = query.with_for_update(skip_locked=True, of=Case)
        cases = list(await session.scalars(query))
        if not cases:
            break
        for case in cases:
            await _erase_case(session, case, now=now, cutoff=cutoff, report=report)
        await session.flush()
        if len(cases) < size:
            break
    return report


async def _still_needed(session: AsyncSession, column: Any, value: int, cutoff: datetime) -> bool:
    """Whether another case of this person or business is open or within the period."""
    found = await session.scalar(
        select(Case.id)
        .where(column == value, or_(Case.status.not_in(ENDED), _ended_at() >= cutoff))
        .limit(1)
    )
    return found is not None


async def _erase_case(
    session: AsyncSession,
    case: Case,
    *,
    now: datetime,
    cutoff: datetime,
    report: RetentionReport,
) -> None:
    case.description = None
    await session.execute(
        update(ConsultationRecord)
        .where(ConsultationRecord.case_id == case.id)
        .values(advice_summary=None)
        .execution_options(synchronize_session=False)
    )
    consultations = select(ConsultationRecord.id).where(ConsultationRecord.case_id == case.id)
    await session.execute(
        update(CoReview)
        .where(CoReview.consultation_id.in_(consultations))
        .values(comment=None)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        delete(SurveyAnswer)
        .where(
            SurveyAnswer.survey_id.in_(select(Survey.id).where(Survey.case_id == case.id)),
            SurveyAnswer.question.in_(COMMENT_QUESTIONS),
        )
        .execution_options(synchronize_session=False)
    )
    person_erased = False
    if case.person_id is not None and not await _still_needed(
        session, Case.person_id, case.person_id, cutoff
    ):
        person_erased = await _erase_person(session, case.person_id, now=now)
    business_erased = False
    if case.business_id is not None and not await _still_needed(
        session, Case.business_id, case.business_id, cutoff
    ):
        business = await session.get(Business, case.business_id)
        if business is not None and business.phone is not None:
            business.phone = None
            business.updated_at = now
            business_erased = True
    session.add(
        AuditLog(
            at=now,
            actor_kind=ActorKind.SYSTEM,
            actor_id=None,
            action=ERASED_ACTION,
            case_id=case.id,
            hub_id=case.hub_id,
            details={
                "person_id": case.person_id if person_erased else None,
                "business_id": case.business_id if business_erased else None,
            },
        )
    )
    report.cases += 1
    report.persons += int(person_erased)
    report.businesses += int(business_erased)


async def _erase_person(session: AsyncSession, person_id: int, *, now: datetime) -> bool:
    person = await session.get(Person, person_id)
    if person is None:
        return False
    person.display_name = None
    person.family_name = None
    person.given_name = None
    person.phone = None
    person.email = None
    fresh = person.erased_at is None
    person.erased_at = person.erased_at or now
    identities = (
        await session.execute(
            select(
                ChannelIdentity.platform,
                ChannelIdentity.channel_id,
                ChannelIdentity.external_user_id,
            ).where(ChannelIdentity.person_id == person_id)
        )
    ).all()
    for platform, channel_id, user_id in identities:
        await session.execute(
            delete(ConversationStateRow).where(
                ConversationStateRow.platform == str(platform.value),
                ConversationStateRow.channel_id == channel_id,
                ConversationStateRow.user_id == user_id,
            )
        )
    await session.execute(delete(SelfCheckResult).where(SelfCheckResult.person_id == person_id))
    return fresh
