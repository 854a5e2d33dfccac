"""Planning the satisfaction survey after each consultation (満足度アンケート).

After a consultation record, the owner is asked by default the next business day at 10:00
Japan time, and may answer for 7 days. A job finds consultation records without a survey,
a batch at a time (memory stays flat whatever their number), and writes for each one Survey
row (unique per consultation and kind) and its outbox push in one savepoint: two schedulers
racing meet at the unique keys and the loser's savepoint rolls back.

An owner who cannot be reached (erased, unfollowed, not on LINE) gets a cancelled survey, so
the record is not looked at again.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final

from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.calendar import jst_at, next_business_day
from core.db.models import Case, ConsultationRecord, Hub, HubClosedDay, Survey
from core.domain.enums import SatisfactionLevel, SurveyKind, SurveyStatus
from core.i18n import Text
from core.i18n.dates import jst_day
from core.messages import Action, OutgoingMessage
from core.owners import postbacks
from core.reminders.scheduled import add_planned_push, owner_address

RATE_ACTION: Final = "survey.rate"
KIND: Final = "survey"
"""The outbox kind of a survey push."""
SATISFACTION_QUESTION: Final = "satisfaction"
COMMENT_QUESTION: Final = "comment"

SCALE: Final[dict[int, SatisfactionLevel]] = {
    5: SatisfactionLevel.VERY_SATISFIED,
    4: SatisfactionLevel.SATISFIED,
    3: SatisfactionLevel.NEUTRAL,
    2: SatisfactionLevel.DISSATISFIED,
    1: SatisfactionLevel.VERY_DISSATISFIED,
}
"""The postback value `v` of each answer: 5 is 大変満足, shown first."""


@dataclass(frozen=True)
class SurveySettings:
    send_at: time = time(10, 0)
    """Japan time of day on the next business day after the consultation."""
    valid_for: timedelta = timedelta(days=7)
    """How long after it is due the survey may be answered."""
    priority: int = 50
    """After booking reminders (10), before follow-ups (90) in the push budget."""
    lookback: timedelta = timedelta(days=30)
    """Records created longer ago than this get no survey (nobody remembers by then)."""


DEFAULT_SURVEYS: Final = SurveySettings()


def survey_due(
    held_on: date,
    now: datetime,
    closed_days: Collection[date] = (),
    send_at: time = DEFAULT_SURVEYS.send_at,
) -> datetime:
    """When to ask (UTC): the first business day after the consultation at
    `send_at`, or, when the record came too late for that, the next such moment after now."""
    day = next_business_day(held_on, closed_days)
    due = jst_at(day, send_at)
    while due < now:
        day = next_business_day(day, closed_days)
        due = jst_at(day, send_at)
    return due.astimezone(UTC)


def survey_key(consultation_id: int) -> str:
    return f"survey:consultation:{consultation_id}"


def rating_message(survey_id: int, held_on: date) -> OutgoingMessage:
    """The push: the five-point scale as quick replies, best first."""
    return OutgoingMessage(
        texts=(
            Text("survey.intro", day=jst_day(held_on)),
            Text("survey.question"),
        ),
        choices=tuple(
            Action(
                Text(f"survey.level.{level.value}"),
                postbacks.encode(RATE_ACTION, s=survey_id, v=value),
            )
            for value, level in SCALE.items()
        ),
    )


async def _closed_days(session: AsyncSession, hub_id: int, start: date) -> set[date]:
    rows = await session.scalars(
        select(HubClosedDay.day).where(
            HubClosedDay.hub_id == hub_id,
            HubClosedDay.day >= start,
            HubClosedDay.day <= start + timedelta(days=60),
        )
    )
    return set(rows)


async def plan_survey(
    session: AsyncSession,
    record: ConsultationRecord,
    *,
    now: datetime,
    settings: SurveySettings = DEFAULT_SURVEYS,
    closed_days: Collection[date] | None = None,
) -> Survey | None:
    """Plan the record's survey in the caller's transaction; None if it has one already (or
    its case has no owner to ask)."""
    case = await session.get(Case, record.case_id)
    if case is None or case.person_id is None:
        return None
    if closed_days is None:
        closed_days = await _closed_days(session, record.hub_id, record.held_on)
    hub = await session.get(Hub, record.hub_id) if record.hub_id is not None else None
    send_at = (hub.survey_send_at if hub is not None else None) or settings.send_at
    due = survey_due(record.held_on, now, closed_days, send_at)
    address = await owner_address(session, case.person_id)
    try:
        async with session.begin_nested():
            survey = Survey(
                case_id=case.id,
                consultation_id=record.id,
                person_id=case.person_id,
                kind=SurveyKind.SATISFACTION,
                status=SurveyStatus.PLANNED if address is not None else SurveyStatus.CANCELLED,
                due_at=due,
                expires_at=due + settings.valid_for,
            )
            session.add(survey)
            await session.flush()
            if address is not None:
                row = await add_planned_push(
                    session,
                    address,
                    rating_message(survey.id, record.held_on),
                    kind=KIND,
                    key=survey_key(record.id),
                    due=due,
                    stale_after=due + settings.valid_for,
                    priority=settings.priority,
                    now=now,
                    case_id=case.id,
                    hub_id=record.hub_id,
                )
                if row is None:
                    raise _AlreadyPlanned
    except (IntegrityError, _AlreadyPlanned):
        return None
    return survey


class _AlreadyPlanned(Exception):
    """Rolls the savepoint back: another run planned this survey first."""


async def plan_surveys_batch(
    session: AsyncSession,
    *,
    now: datetime,
    after_id: int = 0,
    limit: int = 200,
    settings: SurveySettings = DEFAULT_SURVEYS,
) -> tuple[int, int | None]:
    """One batch: recent consultation records with id > after_id and no satisfaction survey.

    Answers (surveys planned, the last record id looked at, or None when there are no more).
    """
    has_survey = exists().where(
        Survey.consultation_id == ConsultationRecord.id,
        Survey.kind == SurveyKind.SATISFACTION,
    )
    records: Sequence[ConsultationRecord] = (
        await session.scalars(
            select(ConsultationRecord)
            .where(
                ConsultationRecord.id > after_id,
                ConsultationRecord.created_at >= now - settings.lookback,
                ~has_survey,
            )
            .order_by(ConsultationRecord.id)
            .limit(limit)
        )
    ).all()
    if not records:
        return 0, None
    planned = 0
    for record in records:
        survey = await plan_survey(session, record, now=now, settings=settings)
        planned += survey is not None and survey.status is SurveyStatus.PLANNED
    return planned, records[-1].id


async def expire_surveys(session: AsyncSession, *, now: datetime) -> int:
    """Planned or sent surveys past their expiry become expired (no longer counted)."""
    result = await session.execute(
        update(Survey)
        .where(
            Survey.status.in_((SurveyStatus.PLANNED, SurveyStatus.SENT)),
            Survey.expires_at.is_not(None),
            Survey.expires_at <= now,
        )
        .values(status=SurveyStatus.EXPIRED)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
