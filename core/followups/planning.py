"""Post-founding follow-ups (創業後フォローアップ): "その後いかがですか" at 1, 3, 6, 12, 24 months.

Every business with a founding date, or whose cases were about founding, is asked at the
months its hub configures (Hub.followup_months) after founding, or after its first
consultation when the founding was only planned. A job walks those businesses a batch at a
time and plans each check-in shortly before it is due (`horizon`), as a follow-up Survey row
plus its outbox push (priority 90: after booking reminders and surveys in the push budget),
keyed per (business, months) so it is planned once. A check-in more than `grace` overdue
(the scheduler was down, the business was recorded late) is not sent.
"""

from __future__ import annotations

import calendar as month_calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final

from sqlalchemy import String, cast, exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import Exists

from core.calendar import jst_at
from core.db.models import Business, Case, ConsultationRecord, Hub, OutboxMessage, Survey
from core.domain.enums import SurveyKind, SurveyStatus
from core.domain.topics import Topic
from core.i18n import Text
from core.messages import Action, OutgoingMessage
from core.owners import postbacks
from core.reminders.scheduled import add_planned_push, owner_address

ANSWER_ACTION: Final = "followup.answer"
KIND: Final = "followup"
"""The outbox kind of a follow-up push."""
QUESTION: Final = "followup"
ANSWERS: Final = ("fine", "unsure", "help")
DEFAULT_MONTHS: Final = (1, 3, 6, 12, 24)


@dataclass(frozen=True)
class FollowupSettings:
    send_at: time = time(10, 0)
    """Japan time of day on the due date."""
    horizon: timedelta = timedelta(days=3)
    """Planned this long before it is due (later changes to the business still count)."""
    grace: timedelta = timedelta(days=14)
    """Overdue by more than this: not sent at all."""
    valid_for: timedelta = timedelta(days=30)
    priority: int = 90


DEFAULT_FOLLOWUPS: Final = FollowupSettings()


@dataclass(frozen=True)
class Anchor:
    day: date
    founded: bool
    """True: the founding date; False: the first consultation (founding only planned)."""


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's end (31 Jan + 1 = 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, month_calendar.monthrange(year, month)[1]))


def followup_due(anchor: date, months: int, send_at: time = DEFAULT_FOLLOWUPS.send_at) -> datetime:
    return jst_at(add_months(anchor, months), send_at).astimezone(UTC)


def followups_to_plan(
    anchor: date,
    months: Sequence[int],
    now: datetime,
    settings: FollowupSettings = DEFAULT_FOLLOWUPS,
) -> list[tuple[int, datetime]]:
    """The check-ins to plan now, as (months, due): due within the horizon, not overdue by
    more than the grace."""
    planned: list[tuple[int, datetime]] = []
    for m in sorted({int(m) for m in months if int(m) > 0}):
        due = followup_due(anchor, m, settings.send_at)
        if now - settings.grace <= due <= now + settings.horizon:
            planned.append((m, due))
    return planned


def followup_key(business_id: int, months: int) -> str:
    return f"followup:business:{business_id}:{months}"


def followup_message(survey_id: int, months: int, *, founded: bool) -> OutgoingMessage:
    question = "followup.question_founded" if founded else "followup.question_consulted"
    return OutgoingMessage(
        texts=(Text(question, months=months),),
        choices=tuple(
            Action(
                Text(f"followup.answer.{value}"),
                postbacks.encode(ANSWER_ACTION, f=survey_id, v=value),
            )
            for value in ANSWERS
        ),
    )


def _about_founding() -> Exists:
    # Topics are a JSON list; its text contains the quoted value on both backends.
    return exists().where(
        Case.business_id == Business.id,
        cast(Case.topics, String).like(f'%"{Topic.FOUNDING.value}"%'),
    )


async def _anchor(session: AsyncSession, business: Business) -> Anchor | None:
    if business.founding_date is not None and not business.founding_planned:
        return Anchor(business.founding_date, founded=True)
    first: date | None = await session.scalar(
        select(func.min(ConsultationRecord.held_on))
        .join(Case, Case.id == ConsultationRecord.case_id)
        .where(Case.business_id == business.id)
    )
    return Anchor(first, founded=False) if first is not None else None


async def _latest_case(session: AsyncSession, business_id: int) -> Case | None:
    found: Case | None = await session.scalar(
        select(Case)
        .where(Case.business_id == business_id, Case.person_id.is_not(None))
        .order_by(Case.created_at.desc(), Case.id.desc())
        .limit(1)
    )
    return found


class _AlreadyPlanned(Exception):
    """Rolls the savepoint back: another run planned this check-in first."""


async def plan_business_followups(
    session: AsyncSession,
    business: Business,
    *,
    now: datetime,
    settings: FollowupSettings = DEFAULT_FOLLOWUPS,
    taken: set[str] | None = None,
) -> int:
    """Plan the business's check-ins that are due about now; answers how many are new."""
    anchor = await _anchor(session, business)
    if anchor is None:
        return 0
    case = await _latest_case(session, business.id)
    if case is None:
        return 0
    hub = await session.get(Hub, case.hub_id)
    months = (
        tuple(hub.followup_months) if hub is not None and hub.followup_months else DEFAULT_MONTHS
    )
    due_list = followups_to_plan(anchor.day, months, now, settings)
    if taken is None:
        keys = [followup_key(business.id, m) for m, _ in due_list]
        taken = set(
            await session.scalars(
                select(OutboxMessage.idempotency_key).where(OutboxMessage.idempotency_key.in_(keys))
            )
        )
    due_list = [(m, due) for m, due in due_list if followup_key(business.id, m) not in taken]
    if not due_list:
        return 0
    address = await owner_address(session, case.person_id)
    if address is None or case.person_id is None:
        return 0
    planned = 0
    for m, due in due_list:
        try:
            async with session.begin_nested():
                survey = Survey(
                    case_id=case.id,
                    consultation_id=None,
                    person_id=case.person_id,
                    kind=SurveyKind.FOLLOWUP,
                    status=SurveyStatus.PLANNED,
                    due_at=due,
                    expires_at=due + settings.valid_for,
                )
                session.add(survey)
                await session.flush()
                row = await add_planned_push(
                    session,
                    address,
                    followup_message(survey.id, m, founded=anchor.founded),
                    kind=KIND,
                    key=followup_key(business.id, m),
                    due=due,
                    stale_after=due + settings.valid_for,
                    priority=settings.priority,
                    now=now,
                    case_id=case.id,
                    hub_id=case.hub_id,
                )
                if row is None:
                    raise _AlreadyPlanned
        except (IntegrityError, _AlreadyPlanned):
            continue
        planned += 1
    return planned


async def plan_followups_batch(
    session: AsyncSession,
    *,
    now: datetime,
    after_id: int = 0,
    limit: int = 200,
    settings: FollowupSettings = DEFAULT_FOLLOWUPS,
) -> tuple[int, int | None]:
    """One batch of businesses with id > after_id that founded, plan to, or consulted about
    founding. Answers (check-ins planned, last business id looked at, or None when done)."""
    businesses: Sequence[Business] = (
        await session.scalars(
            select(Business)
            .where(
                Business.id > after_id,
                Business.merged_into_id.is_(None),
                or_(
                    Business.founding_date.is_not(None),
                    Business.founding_planned.is_(True),
                    _about_founding(),
                ),
            )
            .order_by(Business.id)
            .limit(limit)
        )
    ).all()
    if not businesses:
        return 0, None
    planned = 0
    for business in businesses:
        planned += await plan_business_followups(session, business, now=now, settings=settings)
    return planned, businesses[-1].id
