"""The operator's side of an APPI request: find, export, correct and erase, each audited.

The `yorozu privacy` command and the console's privacy page call these. Every call writes
one audit row (`privacy.*`) with the operator, the person ids and counts: never a name, a
phone, an e-mail or what was exported (invariant 9). `preview_erasure` is the dry run: it
runs the erasure itself in a transaction of its own, reads what it did, rolls it back and
then writes only its audit row, so the list it answers is what a real run would change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db.models import (
    AuditLog,
    Booking,
    Case,
    CaseMessage,
    CaseStatusHistory,
    ChannelIdentity,
    ConsentRecord,
    ConsultationRecord,
    CoReview,
    InboxEvent,
    OutboxMessage,
    Person,
    Referral,
    SelfCheckResult,
    Survey,
    SurveyAnswer,
)
from core.db.session import unit_of_work
from core.domain.enums import ActorKind, OutboxStatus, Platform
from core.erasure import Erasure, ErasureReason, erase_person, same_human_rows
from core.privacy.export import PersonExport, export_person
from core.privacy.find import PersonMatch, Query, find_people
from core.privacy.slack import SlackErasure, SlackTarget
from core.surveys.planning import COMMENT_QUESTION

FOUND: Final = "privacy.found"
EXPORTED: Final = "privacy.exported"
CORRECTED: Final = "privacy.corrected"
ERASE_PREVIEWED: Final = "privacy.erase_previewed"
ERASED: Final = "privacy.erased"


@dataclass(frozen=True)
class Operator:
    """Who handles the request: a console user (a CO row: HQ or a CCO) or the command line."""

    kind: ActorKind = ActorKind.SYSTEM
    id: int | None = None
    via: str = "cli"
    """cli or console."""
    hub_id: int | None = None
    """The hub whose console page handled it (its audit log lists the row)."""


def audit(
    session: AsyncSession, operator: Operator, action: str, now: datetime, **details: Any
) -> None:
    session.add(
        AuditLog(
            at=now,
            actor_kind=operator.kind,
            actor_id=operator.id,
            action=action,
            case_id=None,
            hub_id=operator.hub_id,
            # Ids, kinds and counts only (invariant 9).
            details={"via": operator.via, **details},
        )
    )


async def find(
    session: AsyncSession, query: Query, *, operator: Operator, now: datetime
) -> list[PersonMatch]:
    matches = await find_people(session, query)
    asked = sorted(name for name, value in vars(query).items() if value)
    audit(session, operator, FOUND, now, by=asked, person_ids=[m.person_id for m in matches])
    await session.flush()
    return matches


async def export(
    session: AsyncSession, person_id: int, *, operator: Operator, now: datetime
) -> PersonExport:
    result = await export_person(session, person_id, now=now)
    audit(session, operator, EXPORTED, now, person_id=person_id, rows=result.counts)
    await session.flush()
    return result


# -- what an erasure changes -------------------------------------------------------------------


@dataclass
class ErasurePlan:
    """What erasing these people changes (or changed): row ids per table, Slack messages."""

    people: list[int]
    rows: dict[str, list[int]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    """Rows per kind, as core.erasure counts them."""
    slack: list[SlackTarget] = field(default_factory=list)
    coordinators: list[int] = field(default_factory=list)
    """The COs of their cases: their App Home lists the cases, so the shells (console, CLI)
    publish it again (bots.slack.home.queue_home_refresh; core speaks no Slack)."""
    dry_run: bool = True

    @property
    def slack_count(self) -> int:
        return len(self.slack)


async def _ids(session: AsyncSession, model: Any, *where: ColumnElement[bool]) -> list[int]:
    return sorted(set(await session.scalars(select(model.id).where(*where))))


async def rows_touched(session: AsyncSession, person_ids: Sequence[int]) -> dict[str, list[int]]:
    """The ids of the rows an erasure of these people blanks, deletes or cancels, by table
    (read before it runs; core.erasure says what it does with each)."""
    ids = sorted(set(person_ids))
    cases = await _ids(session, Case, Case.person_id.in_(ids))
    identities = list(
        await session.scalars(select(ChannelIdentity).where(ChannelIdentity.person_id.in_(ids)))
    )
    keys = [
        f"{identity.platform.value}:{identity.channel_id}:{identity.external_user_id}"[:200]
        for identity in identities
    ]
    users = [identity.external_user_id for identity in identities]
    surveys = await _ids(
        session, Survey, or_(Survey.person_id.in_(ids), Survey.case_id.in_(cases or [-1]))
    )
    rows: dict[str, list[int]] = {
        "persons": ids,
        "channel_identities": [identity.id for identity in identities],
        "consent_records": await _ids(
            session,
            ConsentRecord,
            ConsentRecord.person_id.in_(ids),
            ConsentRecord.withdrawn_at.is_(None),
        ),
        "cases": await _ids(
            session, Case, Case.id.in_(cases or [-1]), Case.description.is_not(None)
        ),
        "case_status_history": await _ids(
            session,
            CaseStatusHistory,
            CaseStatusHistory.case_id.in_(cases or [-1]),
            CaseStatusHistory.note.is_not(None),
        ),
        "case_messages": await _ids(
            session,
            CaseMessage,
            CaseMessage.case_id.in_(cases or [-1]),
            or_(CaseMessage.body.is_not(None), CaseMessage.attachment.is_not(None)),
        ),
        "bookings": await _ids(session, Booking, Booking.case_id.in_(cases or [-1])),
        "consultation_records": await _ids(
            session,
            ConsultationRecord,
            ConsultationRecord.case_id.in_(cases or [-1]),
            ConsultationRecord.advice_summary.is_not(None),
        ),
        "referrals": await _ids(
            session,
            Referral,
            Referral.case_id.in_(cases or [-1]),
            or_(Referral.reason.is_not(None), Referral.outcome.is_not(None)),
        ),
        "surveys": surveys,
        "survey_answers": await _ids(
            session,
            SurveyAnswer,
            SurveyAnswer.survey_id.in_(surveys or [-1]),
            SurveyAnswer.question == COMMENT_QUESTION,
        ),
        "co_reviews": await _ids(
            session,
            CoReview,
            CoReview.survey_id.in_(surveys or [-1]),
            CoReview.comment.is_not(None),
        ),
        "selfcheck_results": await _ids(
            session, SelfCheckResult, SelfCheckResult.person_id.in_(ids)
        ),
        "inbox_events": await _ids(session, InboxEvent, InboxEvent.ordering_key.in_(keys or [""]))
        if keys
        else [],
        "outbox_messages": await _ids(
            session,
            OutboxMessage,
            or_(
                OutboxMessage.case_id.in_(cases or [-1]),
                (OutboxMessage.platform == Platform.LINE)
                & OutboxMessage.recipient.in_(users or [""]),
                OutboxMessage.ordering_key.in_(keys or [""]),
            ),
            OutboxMessage.status != OutboxStatus.SENDING,
            OutboxMessage.ordering_key != "erased",
        ),
    }
    return {table: found for table, found in rows.items() if found}


async def _erase_all(
    session: AsyncSession,
    person_ids: Sequence[int],
    *,
    operator: Operator,
    now: datetime,
    slack: SlackErasure,
) -> ErasurePlan:
    plan = ErasurePlan(people=[])
    for person_id in sorted(set(person_ids)):
        done: Erasure | None = await erase_person(
            session,
            person_id,
            now=now,
            reason=ErasureReason.REQUEST,
            slack=slack,
            actor=(operator.kind, operator.id),
        )
        if done is None:
            raise LookupError(f"no person {person_id}")
        plan.people.extend(p for p in done.people if p not in plan.people)
        plan.slack.extend(done.slack)
        for kind, rows in done.counts.items():
            plan.counts[kind] = plan.counts.get(kind, 0) + rows
    plan.coordinators = sorted(
        {
            co
            for co in await session.scalars(
                select(Case.assigned_co_id).where(
                    Case.person_id.in_(plan.people or [-1]), Case.assigned_co_id.is_not(None)
                )
            )
            if co is not None
        }
    )
    return plan


async def _everyone(session: AsyncSession, person_ids: Sequence[int]) -> list[int]:
    """The people asked for and the same human's other rows (erase_person erases those too)."""
    everyone = set(person_ids)
    for person_id in person_ids:
        person = await session.get(Person, person_id)
        if person is not None and person.erased_at is None:
            everyone.update(await same_human_rows(session, person))
    return sorted(everyone)


async def preview_erasure(
    sessions: async_sessionmaker[AsyncSession],
    person_ids: Sequence[int],
    *,
    operator: Operator,
    now: datetime,
    slack: SlackErasure = SlackErasure.UPDATE,
) -> ErasurePlan:
    """The dry run: what `erase` would change. The erasure runs in a transaction of its own
    that is rolled back; then the audit row is written, alone, in another."""
    async with sessions() as session:
        try:
            rows = await rows_touched(session, await _everyone(session, person_ids))
            plan = await _erase_all(session, person_ids, operator=operator, now=now, slack=slack)
        finally:
            await session.rollback()
    plan.rows = rows
    async with unit_of_work(sessions) as session:
        audit(
            session,
            operator,
            ERASE_PREVIEWED,
            now,
            person_ids=plan.people,
            erased=dict(sorted(plan.counts.items())),
            slack_messages=plan.slack_count,
        )
    return plan


async def erase(
    session: AsyncSession,
    person_ids: Sequence[int],
    *,
    operator: Operator,
    now: datetime,
    slack: SlackErasure = SlackErasure.UPDATE,
) -> ErasurePlan:
    """消去 on the operator's word, in the caller's transaction: core.erasure for each person
    (one person.erased row each, with the operator as actor) and one privacy.erased row."""
    rows = await rows_touched(session, await _everyone(session, person_ids))
    plan = await _erase_all(session, person_ids, operator=operator, now=now, slack=slack)
    plan.rows = rows
    plan.dry_run = False
    audit(
        session,
        operator,
        ERASED,
        now,
        person_ids=plan.people,
        erased=dict(sorted(plan.counts.items())),
        slack_messages=plan.slack_count,
    )
    await session.flush()
    return plan
