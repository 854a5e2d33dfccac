"""Retention: personal data is erased nightly once its period is over (invariant 8, APPI).

`run_retention` is the nightly job (scheduler, 02:00 Japan time). It works in batches, one
transaction each, so a run that meets 100,000 rows never holds them in one transaction, and a
run stopped half-way resumes where it stopped. What erasing means is core.erasure.

1. Cases: a case closed (or cancelled) more than `retention` ago (RETENTION_DAYS, five years
   by default: the period hubs keep consultation records) loses its free text
   (core.erasure.erase_cases): description, status-history notes, referral reasons and
   outcomes, booking places and online links, advice notes, survey and review comments, the
   payloads of the messages about it; its business's phone is blanked unless another case of
   the business is open or within the period. Each case gets one `retention.erased` audit
   row (ids only), which also marks it done.
2. People: anyone not erased yet and not active within the period is erased
   (core.erasure.erase_person, one `person.erased` audit row each): the owners of those
   cases, and people who never had a case (followed, consented, took a self-check and went).
   Active means a case open or ended within the period, a consent given or withdrawn, a LINE
   identity created, a dialog touched or a self-check taken within it. Only this step (and a
   deletion request) locks people, always before their cases; step 1 never locks people, so
   the two cannot wait for each other in a cycle.
3. Raw inbound events: a handled (done or ignored) inbox event older than
   `RAW_MESSAGE_RETENTION` (30 days) loses its payload (what was typed, hand-over forms) and
   its ordering key (a platform user id); a dead one, kept for replay, does so after
   `retention` and is marked ignored. The row stays: (platform, event_id) keeps
   recognising redeliveries.
4. Outgoing messages: one that is done (sent, failed or cancelled) loses its payload, its
   ordering key and, on LINE, its recipient (a user id) after `RAW_MESSAGE_RETENTION`, or on
   the first night when its LINE recipient is nobody we know any more (the confirmation sent
   after a deletion request).
   The row stays: its idempotency key stops the message being queued again, and a Slack
   card's channel and ts are how it is updated.

Rows stay, so every count (cases, consultations, businesses, satisfaction, stars) is unchanged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db.models import (
    AuditLog,
    Business,
    Case,
    ChannelIdentity,
    ConsentRecord,
    ConversationStateRow,
    InboxEvent,
    OutboxMessage,
    Person,
    SelfCheckResult,
)
from core.db.session import unit_of_work
from core.domain.enums import ActorKind, CaseStatus, InboxStatus, Platform
from core.erasure import (
    ERASED_KEY,
    OUTBOX_DONE,
    ErasureReason,
    erase_cases,
    erase_person,
    scrub_inbox,
    scrub_outbox,
)

ERASED_ACTION: Final = "retention.erased"
BATCH: Final = 200
"""Cases or people per transaction."""
SWEEP_BATCH: Final = 1000
"""Inbox or outbox rows per transaction."""
ENDED: Final = (CaseStatus.CLOSED, CaseStatus.CANCELLED)
RAW_MESSAGE_RETENTION: Final = timedelta(days=30)
"""How long raw inbound events (once handled) and outgoing messages (once done) keep their
payloads: long enough to look into a complaint, while what owners typed does not outlive its
use. Dead events keep theirs for replay, up to the retention period."""

Sessions = async_sessionmaker[AsyncSession]


@dataclass
class RetentionReport:
    cases: int = 0
    persons: int = 0
    businesses: int = 0
    inbox_events: int = 0
    outbox_messages: int = 0

    @property
    def total(self) -> int:
        """Cases, people and raw messages erased (businesses are part of their cases)."""
        return self.cases + self.persons + self.inbox_events + self.outbox_messages

    def as_dict(self) -> dict[str, int]:
        return {item.name: getattr(self, item.name) for item in fields(self)}


def _postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _ended_at() -> ColumnElement[datetime]:
    return func.coalesce(Case.closed_at, Case.updated_at)


def _expired(cutoff: datetime) -> ColumnElement[bool]:
    return and_(Case.status.in_(ENDED), _ended_at() < cutoff)


def _current(cutoff: datetime) -> ColumnElement[bool]:
    """A case still open, or ended within the period."""
    return or_(Case.status.not_in(ENDED), _ended_at() >= cutoff)


def _not_done() -> ColumnElement[bool]:
    return ~exists().where(AuditLog.case_id == Case.id, AuditLog.action == ERASED_ACTION)


def _active(cutoff: datetime) -> ColumnElement[bool]:
    """Whether the person (correlated to persons.id) did anything within the period."""
    person = Person.id
    return or_(
        exists().where(Case.person_id == person, _current(cutoff)),
        exists().where(
            ConsentRecord.person_id == person,
            or_(ConsentRecord.given_at >= cutoff, ConsentRecord.withdrawn_at >= cutoff),
        ),
        exists().where(ChannelIdentity.person_id == person, ChannelIdentity.created_at >= cutoff),
        exists().where(
            ChannelIdentity.person_id == person,
            ConversationStateRow.platform == Platform.LINE.value,
            ChannelIdentity.platform == Platform.LINE,
            ConversationStateRow.channel_id == ChannelIdentity.channel_id,
            ConversationStateRow.user_id == ChannelIdentity.external_user_id,
            ConversationStateRow.updated_at >= cutoff,
        ),
        exists().where(SelfCheckResult.person_id == person, SelfCheckResult.created_at >= cutoff),
    )


async def run_retention(
    sessions: Sessions,
    *,
    now: datetime,
    retention: timedelta,
    raw_retention: timedelta = RAW_MESSAGE_RETENTION,
) -> RetentionReport:
    """The nightly job: cases, then people, then raw inbox and outbox payloads (module
    docstring), each in batches of one transaction."""
    report = RetentionReport()
    while True:
        async with unit_of_work(sessions) as session:
            part = await erase_expired(session, now=now, retention=retention, limit=BATCH)
        report.cases += part.cases
        report.businesses += part.businesses
        if part.cases < BATCH:
            break
    after = 0
    while True:
        async with unit_of_work(sessions) as session:
            erased = await erase_inactive_people(
                session, now=now, retention=retention, limit=BATCH, after=after
            )
        report.persons += len(erased)
        if len(erased) < BATCH:
            break
        after = erased[-1]
    report.inbox_events = await _sweep(
        sessions, InboxEvent, _stale_inbox(now, retention, raw_retention), scrub_inbox
    )
    report.outbox_messages = await _sweep(
        sessions, OutboxMessage, _stale_outbox(now, raw_retention), scrub_outbox
    )
    return report


async def erase_expired(
    session: AsyncSession, *, now: datetime, retention: timedelta, limit: int | None = None
) -> RetentionReport:
    """Erase the personal data of every case past the period (in batches); one transaction.

    `limit` caps the cases handled in one call; `run_retention` calls again while there are
    more.
    """
    cutoff = now - retention
    report = RetentionReport()
    while limit is None or report.cases < limit:
        size = BATCH if limit is None else min(BATCH, limit - report.cases)
        query = select(Case).where(_expired(cutoff), _not_done()).order_by(Case.id).limit(size)
        if _postgres(session):
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


async def erase_inactive_people(
    session: AsyncSession,
    *,
    now: datetime,
    retention: timedelta,
    limit: int = BATCH,
    after: int = 0,
) -> list[int]:
    """Erase up to `limit` people (ids above `after`) not erased yet and not active within
    the period; answers their ids, in order."""
    cutoff = now - retention
    query = (
        select(Person.id)
        .where(Person.id > after, Person.erased_at.is_(None), ~_active(cutoff))
        .order_by(Person.id)
        .limit(limit)
    )
    if _postgres(session):
        # Another run holding some of them erases those; this one goes on past them.
        query = query.with_for_update(skip_locked=True, of=Person, key_share=True)
    erased = list(await session.scalars(query))
    for person_id in erased:
        await erase_person(session, person_id, now=now, reason=ErasureReason.RETENTION)
    return erased


async def _business_current(session: AsyncSession, business_id: int, cutoff: datetime) -> bool:
    found = await session.scalar(
        select(Case.id).where(Case.business_id == business_id, _current(cutoff)).limit(1)
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
    await erase_cases(session, [case.id])
    business_erased = False
    if case.business_id is not None and not await _business_current(
        session, case.business_id, cutoff
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
            details={"business_id": case.business_id if business_erased else None},
        )
    )
    report.cases += 1
    report.businesses += int(business_erased)


def _stale_inbox(
    now: datetime, retention: timedelta, raw_retention: timedelta
) -> ColumnElement[bool]:
    return or_(
        and_(
            InboxEvent.status.in_((InboxStatus.DONE, InboxStatus.IGNORED)),
            InboxEvent.received_at < now - raw_retention,
        ),
        and_(InboxEvent.status == InboxStatus.DEAD, InboxEvent.received_at < now - retention),
    )


def _stale_outbox(now: datetime, raw_retention: timedelta) -> ColumnElement[bool]:
    known = exists().where(
        ChannelIdentity.platform == Platform.LINE,
        ChannelIdentity.channel_id == OutboxMessage.channel_id,
        ChannelIdentity.external_user_id == OutboxMessage.recipient,
    )
    return and_(
        OutboxMessage.status.in_(OUTBOX_DONE),
        or_(
            OutboxMessage.created_at < now - raw_retention,
            # To an erased person (the answer to their request): nobody we know any more.
            and_(OutboxMessage.platform == Platform.LINE, ~known),
        ),
    )


async def _sweep(
    sessions: Sessions,
    model: type[InboxEvent] | type[OutboxMessage],
    stale: ColumnElement[bool],
    scrub: Callable[..., Awaitable[int]],
) -> int:
    """Erase the stale rows of one table, `SWEEP_BATCH` per transaction, in id order.

    Erased rows carry `ERASED_KEY` as their ordering key, so a run skips what earlier runs
    did; the rows still to do are those that aged past the cut-off since the last run.
    """
    after = 0
    erased = 0
    while True:
        async with unit_of_work(sessions) as session:
            query = (
                select(model.id)
                .where(model.id > after, model.ordering_key != ERASED_KEY, stale)
                .order_by(model.id)
                .limit(SWEEP_BATCH)
            )
            if _postgres(session):
                query = query.with_for_update(skip_locked=True)
            ids = list(await session.scalars(query))
            if not ids:
                break
            erased += await scrub(session, model.id.in_(ids))
        after = ids[-1]
        if len(ids) < SWEEP_BATCH:
            break
    return erased
